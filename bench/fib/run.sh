#!/bin/sh
# Benchmarks the shared-memory FIB beside bart (Fast and Table) on the full
# table, in one run, and prints the ratios against bart.Fast.
#
#   bench/fib/run.sh [count]     (default 3 runs of each benchmark; the
#                                 table shows the median)
#
# Needs ../shared/data/fulltable-prefixes.txt.gz (see DESIGN.md).
set -eu
cd "$(dirname "$0")/../.."
count=${1:-3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go version
# The machine is shared: record the load the figures were taken under.
uptime
go test ./internal/fib/ -run '^$' -bench 'Lookup|Parallel' -benchtime 3000000x -count "$count" | tee "$out"
go test ./internal/fib/ -run '^$' -bench 'Update' -benchtime 200000x -count "$count" | tee -a "$out"
go test ./internal/fib/ -run '^$' -bench 'Build|SecondProcess' -benchtime 1x -count 1 | tee -a "$out"
uptime

echo
echo "== median ns/op, then median CPU ns/op of the benchmark's thread, and speed-up against bart.Fast (same address set) =="
grep '^Benchmark' "$out" | awk '
{
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i++) {
		if ($(i+1) == "ns/op") v[name] = v[name] " " $i
		if ($(i+1) == "cpu-ns/op") c[name] = c[name] " " $i
	}
}
function median(s,    k, a, i, j, t) {
	k = split(substr(s, 2), a, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
function ratio(m, n, base) {
	if ((base in m) && base != n && m[n] > 0) return sprintf("%6.1fx", m[base] / m[n])
	return "       "
}
END {
	for (n in v) med[n] = median(v[n])
	for (n in c) cmed[n] = median(c[n])
	for (n in med) {
		base = n; sub(/\/[^\/]*$/, "/bartFast", base)
		# fib-delete, fib-apply-delete (the batch API) … against bartFast-delete
		if (n ~ /Update/) { base = n; sub(/fib-(apply-)?/, "bartFast-", base) }
		line = sprintf("%-52s %10.2f ns/op %s", n, med[n], ratio(med, n, base))
		if (n in cmed) line = line sprintf(" %10.2f cpu-ns/op %s", cmed[n], ratio(cmed, n, base))
		print line
	}
}' | sort
