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
goals=$(mktemp)
trap 'rm -f "$out" "$goals"' EXIT
go version
# The machine is shared: record the load the figures were taken under.
uptime
go test ./internal/fib/ -run '^$' -bench 'Lookup|Parallel' -benchtime 3000000x -count "$count" | tee "$out"
go test ./internal/fib/ -run '^$' -bench 'Update' -benchtime 200000x -count "$count" | tee -a "$out"
go test ./internal/fib/ -run '^$' -bench 'Build|SecondProcess' -benchtime 1x -count 1 | tee -a "$out"
uptime

echo
echo "== median ns/op, then median CPU ns/op of the benchmark's thread, and speed-up against bart.Fast (same address set) =="
grep '^Benchmark' "$out" | awk -v goalfile="$goals" '
{
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i++) {
		if ($(i+1) == "ns/op") v[name] = v[name] " " $i
		if ($(i+1) == "cpu-ns/op") c[name] = c[name] " " $i
		if ($(i+1) ~ /^(self|other)-.*-ns$/) proc[$(i+1)] = $i
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
		if (n ~ /Update/) { base = n; sub(/fib-(apply-)?/, "bartFast-", base); sub(/-nolinger$/, "", base) }
		line = sprintf("%-52s %10.2f ns/op %s", n, med[n], ratio(med, n, base))
		if (n in cmed) line = line sprintf(" %10.2f cpu-ns/op %s", cmed[n], ratio(cmed, n, base))
		print line
	}
	# The goals of issue 4, from the same medians, so that each run
	# says which it met.
	goals()
}
function goal(what, ok, detail) {
	printf "%-58s %-4s %s\n", what, ok ? "met" : "NOT", detail > goalfile
}
function speedup(n,    b) {
	b = n; sub(/\/[^\/]*$/, "/bartFast", b)
	return (n in med && b in med && med[n] > 0) ? med[b] / med[n] : 0
}
function goals(    p, q, ok, detail) {
	print "== goals of issue 4 (wall-time medians of this run) ==" > goalfile
	p = "BenchmarkLookup/v4in/"
	goal("IPv4 >= 15x bart.Fast, raw", speedup(p "fib-raw") >= 15, sprintf("%.1fx", speedup(p "fib-raw")))
	goal("IPv4 >= 8x bart.Fast, netip.Addr (single)", speedup(p "fib-addr") >= 8, sprintf("%.1fx", speedup(p "fib-addr")))
	goal("IPv4 >= 8x bart.Fast, netip.Addr (batch)", speedup(p "fib-batch-addr") >= 8, sprintf("%.1fx", speedup(p "fib-batch-addr")))
	p = "BenchmarkLookup/v6in/"
	goal("IPv6 >= 4x bart.Fast, single raw", speedup(p "fib-raw") >= 4, sprintf("%.1fx", speedup(p "fib-raw")))
	goal("IPv6 >= 8x bart.Fast, batched raw", speedup(p "fib-batch-raw") >= 8, sprintf("%.1fx", speedup(p "fib-batch-raw")))
	for (q = 1; q <= 2; q++) {
		p = (q == 1) ? "BenchmarkUpdate/v4-ge24/" : "BenchmarkUpdate/v6-ge48/"
		goal(p "fib-apply-{insert,delete} < 500 ns", med[p "fib-apply-insert"] < 500 && med[p "fib-apply-delete"] < 500, sprintf("%.0f / %.0f ns", med[p "fib-apply-insert"], med[p "fib-apply-delete"]))
		goal(p "fib-{insert,delete} < 500 ns", med[p "fib-insert"] < 500 && med[p "fib-delete"] < 500, sprintf("%.0f / %.0f ns", med[p "fib-insert"], med[p "fib-delete"]))
	}
	# The same without nodes lingering (Options.Linger negative): every
	# re-announcement finds the nodes its withdrawal emptied collapsed.
	p = "BenchmarkUpdate/v6-ge48/"
	goal(p "fib-{insert,delete}-nolinger < 500 ns", med[p "fib-insert-nolinger"] < 500 && med[p "fib-delete-nolinger"] < 500, sprintf("%.0f / %.0f ns", med[p "fib-insert-nolinger"], med[p "fib-delete-nolinger"]))
	ok = 1; detail = ""
	for (q in proc) if (q ~ /^other-/) {
		p = q; sub(/^other-/, "self-", p)
		if (proc[q] > 1.1 * proc[p]) ok = 0
		detail = detail sprintf(" %s %.1f/%.1f", substr(q, 7, length(q) - 9), proc[p], proc[q])
	}
	if (detail != "") goal("second process within 10 % (ns here/there)", ok, detail)
}' | sort
echo
cat "$goals"
