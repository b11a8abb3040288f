// Command bgp measures a BGP router in the middle: a tester speaker sends a
// full table (1,062,046 prefixes, IPv4 and IPv6) to the router under test,
// which re-advertises everything to a monitor speaker; the clock runs from
// the first UPDATE sent to the last prefix received. The same run measures
// routerd, BIRD 2 and GoBGP, each in fresh network namespaces, with the
// same tester and monitor (written here on routerd's wire codec, so that
// they cost the same for every router). Run it as root from the
// repository root:
//
//	go run ./bench/bgp [-runs 3] [-prefixes ../shared/data/fulltable-prefixes.txt.gz]
//	go run ./bench/bgp -impls routerd-inproc -runs 1 -cpuprofile cpu.out
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/netns"
)

var cpuprofile, memprofile, tracefile string

// heapProfile writes the heap in use, if asked.
func heapProfile() {
	if memprofile == "" {
		return
	}
	f, err := os.Create(memprofile)
	if err != nil {
		fatal(err)
	}
	runtime.GC()
	_ = pprof.WriteHeapProfile(f)
	f.Close()
}

// profile starts a CPU profile and an execution trace of one
// convergence, as asked, overwriting the last one's; the returned function
// stops them.
func profile() func() {
	stop := func() {}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatal(err)
		}
		stop = func() { pprof.StopCPUProfile(); f.Close() }
	}
	if tracefile != "" {
		f, err := os.Create(tracefile)
		if err != nil {
			fatal(err)
		}
		if err := trace.Start(f); err != nil {
			fatal(err)
		}
		prev := stop
		stop = func() { prev(); trace.Stop(); f.Close() }
	}
	return stop
}

// result is one measurement.
type result struct {
	conv      time.Duration
	peakKB    int64         // VmHWM
	beforeKB  int64         // VmRSS with sessions up, before the table
	afterKB   int64         // VmRSS a second after the router went idle after convergence
	settle    time.Duration // from convergence until the router went idle
	cpu       time.Duration
	updatesIn int64 // UPDATEs the monitor received
}

func (r result) bytesPerRoute(routes int) float64 {
	return float64(r.afterKB-r.beforeKB) * 1024 / float64(routes)
}

func main() {
	path := flag.String("prefixes", "../shared/data/fulltable-prefixes.txt.gz", "gzipped prefix list, one per line")
	runs := flag.Int("runs", 3, "measurements per implementation (the median is printed)")
	limit := flag.Int("limit", 0, "use only the first N prefixes (0: all)")
	impls := flag.String("impls", "routerd,bird,gobgp", "implementations to measure: routerd, bird, gobgp, routerd-inproc (the speaker inside this process, for profiles)")
	skipGoBGP := flag.Bool("skip-gobgp", false, "leave GoBGP out (it needs about a minute per run)")
	scenarios := flag.String("scenarios", "rib", "rib (no kernel programming) and/or fib (routerd and BIRD program the kernel)")
	sets := flag.Int("attrsets", 5000, "distinct attribute sets (AS path, communities, MED, origin) in the table")
	timeout := flag.Duration("timeout", 120*time.Second, "convergence timeout (GoBGP gets -gobgp-timeout)")
	gobgpTimeout := flag.Duration("gobgp-timeout", 300*time.Second, "convergence timeout for GoBGP")
	flag.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the convergence (the last run's; useful with routerd-inproc)")
	routerdBin := flag.String("routerd", "", "routerd binary to measure (default: go build ./cmd/routerd)")
	flag.StringVar(&tracefile, "trace", "", "write an execution trace of the convergence (the last run's; with routerd-inproc it shows where the speaker's goroutines wait)")
	flag.StringVar(&memprofile, "memprofile", "", "write a heap profile after convergence (the last run's; useful with routerd-inproc)")
	flag.Parse()
	if why := netns.Skip(); why != "" {
		fatal(why)
	}
	t, err := loadTable(*path, *limit)
	if err != nil {
		fatal(err)
	}
	enc, err := encode(t, *sets)
	if err != nil {
		fatal(err)
	}
	dir, err := os.MkdirTemp("", "routerd-bench-bgp-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)

	var list []impl
	for _, name := range strings.Split(*impls, ",") {
		switch name {
		case "routerd":
			bin := *routerdBin
			if bin == "" {
				bin = filepath.Join(dir, "routerd")
				if out, err := exec.Command("go", "build", "-o", bin, "./cmd/routerd").CombinedOutput(); err != nil {
					fatal(fmt.Sprintf("build routerd (run from the repository root): %v\n%s", err, out))
				}
			}
			list = append(list, impl{"routerd", startRouterd(bin)})
		case "routerd-inproc":
			list = append(list, impl{"routerd-inproc", startInproc})
		case "bird":
			list = append(list, impl{"bird", startBird})
		case "gobgp":
			if *skipGoBGP {
				continue
			}
			list = append(list, impl{"gobgp", startGoBGP})
		default:
			fatal("unknown implementation " + name)
		}
	}
	for _, im := range list {
		bin := map[string]string{"bird": "bird", "gobgp": "gobgpd"}[im.name]
		if bin != "" {
			if _, err := exec.LookPath(bin); err != nil {
				fatal(fmt.Sprintf("%s is not installed (Debian: bird2, gobgpd); -impls or -skip-gobgp leave it out", bin))
			}
		}
	}

	fmt.Printf("kernel %s, %d CPUs, %s; load average at start %s\n", kernelRelease(), runtime.NumCPU(), versions(list), loadavg())
	fmt.Printf("table: %d prefixes (%d IPv4, %d IPv6), %d attribute sets, %d UPDATEs from the tester (%.1f prefixes each)\n",
		t.len(), len(t.v4), len(t.v6), *sets, enc.updates, float64(t.len())/float64(enc.updates))
	fmt.Printf("%d runs each, median shown\n", *runs)

	for _, sc := range strings.Split(*scenarios, ",") {
		fib := sc == "fib"
		if sc != "rib" && sc != "fib" {
			fatal("unknown scenario " + sc)
		}
		all := map[string][]result{}
		var order []string
		for i := 0; i < *runs; i++ {
			// Implementations take turns within each run, so that load
			// from elsewhere on the machine spreads over all of them.
			for _, im := range list {
				if fib && im.name != "routerd" && im.name != "bird" {
					continue
				}
				if i == 0 {
					order = append(order, im.name)
				}
				to := *timeout
				if im.name == "gobgp" {
					to = *gobgpTimeout
				}
				r, err := measure(im, t, enc, dir, fib, to)
				if err != nil {
					fatal(fmt.Sprintf("%s (%s): %v", im.name, sc, err))
				}
				fmt.Fprintf(os.Stderr, "  %-14s %s run %d: %.2fs, peak %.0f MiB, %.0f B/route, cpu %.1fs, idle %.1fs later, %d UPDATEs to the monitor; load %s\n",
					im.name, sc, i+1, r.conv.Seconds(), float64(r.peakKB)/1024, r.bytesPerRoute(t.len()), r.cpu.Seconds(), r.settle.Seconds(), r.updatesIn, loadavg())
				all[im.name] = append(all[im.name], r)
			}
		}
		printTable(sc, order, all, t.len())
	}
	fmt.Printf("\nload average at end %s\n", loadavg())
}

func printTable(sc string, order []string, all map[string][]result, routes int) {
	med := map[string]result{}
	for n, rs := range all {
		med[n] = median(rs)
	}
	title := "RIB only (no kernel programming)"
	if sc == "fib" {
		title = "kernel FIB on (routerd kernel.enabled, BIRD kernel protocol export all)"
	}
	fmt.Printf("\n%s\n%-14s %10s %12s %10s %10s %9s %11s\n", title, "router", "converge s", "routes/s", "peak MiB", "B/route", "cpu s", "UPDATEs out")
	for _, n := range order {
		r := med[n]
		fmt.Printf("%-14s %10.2f %12.0f %10.0f %10.0f %9.1f %11d\n", n, r.conv.Seconds(), float64(routes)/r.conv.Seconds(),
			float64(r.peakKB)/1024, r.bytesPerRoute(routes), r.cpu.Seconds(), r.updatesIn)
	}
	rd, ok := med["routerd"]
	if !ok {
		return
	}
	for _, other := range []string{"bird", "gobgp"} {
		o, ok := med[other]
		if !ok {
			continue
		}
		fmt.Printf("routerd/%-6s time %.2fx, peak RSS %.2fx, B/route %.2fx\n", other, rd.conv.Seconds()/o.conv.Seconds(),
			float64(rd.peakKB)/float64(o.peakKB), rd.bytesPerRoute(routes)/o.bytesPerRoute(routes))
	}
}

// median takes the median of each figure on its own.
func median(rs []result) result {
	pick := func(f func(result) int64) int64 {
		v := make([]int64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	// B/route is taken from the run with the median after-before
	// difference, so that before and after stay a pair.
	byDiff := slices.Clone(rs)
	slices.SortFunc(byDiff, func(a, b result) int { return int((a.afterKB - a.beforeKB) - (b.afterKB - b.beforeKB)) })
	m := byDiff[len(byDiff)/2]
	return result{
		conv:      time.Duration(pick(func(r result) int64 { return int64(r.conv) })),
		peakKB:    pick(func(r result) int64 { return r.peakKB }),
		beforeKB:  m.beforeKB,
		afterKB:   m.afterKB,
		cpu:       time.Duration(pick(func(r result) int64 { return int64(r.cpu) })),
		updatesIn: pick(func(r result) int64 { return r.updatesIn }),
	}
}

// encoded is the tester's pre-encoded table per family.
type encoded struct {
	v4, v6  [][]byte
	updates int
}

func encode(t *table, n int) (*encoded, error) {
	e := &encoded{}
	var n4, n6 int
	var err error
	if len(t.v4) > 0 {
		if e.v4, n4, err = encodeTable(t.v4, attrSets(n, testerV4), wire.IPv4Unicast, 1); err != nil {
			return nil, err
		}
	}
	if len(t.v6) > 0 {
		if e.v6, n6, err = encodeTable(t.v6, attrSets(n, testerV6), wire.IPv6Unicast, 2); err != nil {
			return nil, err
		}
	}
	e.updates = n4 + n6
	return e, nil
}

// measure runs one implementation once in fresh namespaces.
func measure(im impl, t *table, enc *encoded, dir string, fib bool, timeout time.Duration) (res result, err error) {
	a, delA, err := createNS("rdbgpA")
	if err != nil {
		return res, err
	}
	defer delA()
	b, delB, err := createNS("rdbgpB")
	if err != nil {
		return res, err
	}
	defer delB()
	err = netns.AddVeth(
		netns.Veth{NS: a, Name: "r0", Addrs: []netip.Prefix{pfx(testerV4, 24), pfx(monitorV4, 24), pfx(testerV6, 64), pfx(monitorV6, 64)}},
		netns.Veth{NS: b, Name: "t0", Addrs: []netip.Prefix{pfx(routerV4, 24), pfx(routerV6, 64)}},
	)
	if err != nil {
		return res, err
	}
	rdir, err := os.MkdirTemp(dir, im.name+"-")
	if err != nil {
		return res, err
	}
	runtime.GC()
	rt, err := im.start(b, rdir, fib)
	if err != nil {
		return res, err
	}
	defer rt.stop()
	fail := func(err error) (result, error) {
		if p, ok := rt.(*proc); ok {
			return res, fmt.Errorf("%w\nlog tail of %s:\n%s", err, im.name, p.tail())
		}
		return res, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type sess struct {
		local, remote netip.Addr
		as            uint32
		fam           wire.Family
		p             *peer
	}
	ss := []*sess{
		{monitorV4, routerV4, monitorAS, wire.IPv4Unicast, nil}, {monitorV6, routerV6, monitorAS, wire.IPv6Unicast, nil},
		{testerV4, routerV4, testerAS, wire.IPv4Unicast, nil}, {testerV6, routerV6, testerAS, wire.IPv6Unicast, nil},
	}
	for _, s := range ss {
		s.p, err = dialPeer(ctx, a, s.local, s.remote, s.as, s.fam)
		if err != nil {
			return fail(err)
		}
		defer s.p.close()
	}
	c := newCounter(t)
	for _, s := range ss[:2] {
		go s.p.monitor(c)
	}
	for _, s := range ss[2:] {
		go s.p.drain()
	}
	// Let the sessions settle (End-of-RIB of the empty table, timers).
	time.Sleep(time.Second)
	pid := rt.pid()
	res.beforeKB = memKB(pid, "VmRSS")
	cpu0 := cpuTime(pid)

	stopProfile := profile()
	defer stopProfile()
	var startOnce sync.Once
	var start time.Time
	first := func() { startOnce.Do(func() { start = time.Now() }) }
	sendErr := make(chan error, 2)
	for i, chunks := range [][][]byte{enc.v4, enc.v6} {
		p := ss[2+i].p
		go func() { sendErr <- p.send(chunks, first) }()
	}
	// Sample the RSS while the table goes through, in case the process
	// hides its peak from VmHWM (it should not).
	stopSampling := make(chan struct{})
	var peakRSS int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if pid == 0 {
			return
		}
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			peakRSS = max(peakRSS, memKB(pid, "VmRSS"))
			select {
			case <-stopSampling:
				return
			case <-tk.C:
			}
		}
	}()
	deadline := time.After(timeout)
	sent := 0
	for sent < 2 {
		select {
		case err := <-sendErr:
			if err != nil {
				return fail(fmt.Errorf("tester: %w", err))
			}
			sent++
		case <-c.done:
			sent = 2
		case <-deadline:
			return fail(fmt.Errorf("tester still sending after %s", timeout))
		}
	}
	select {
	case <-c.done:
	case <-deadline:
		close(stopSampling)
		return fail(fmt.Errorf("monitor has %d of %d prefixes after %s (%d UPDATEs); first error: %v",
			c.n.Load(), c.want, timeout, c.updates.Load(), c.err()))
	}
	stopProfile()
	close(stopSampling)
	wg.Wait()
	if c.n.Load() != c.want {
		return fail(fmt.Errorf("monitor has %d of %d prefixes: %v", c.n.Load(), c.want, c.err()))
	}
	res.conv = time.Unix(0, c.doneAt.Load()).Sub(start)
	res.cpu = cpuTime(pid) - cpu0
	res.updatesIn = c.updates.Load()
	// The router may still be finishing (its RIB, the kernel's table,
	// End-of-RIB, buffers): B/route is taken a second after it is idle.
	if pid != 0 {
		res.settle = waitIdle(pid, 2*timeout)
	}
	time.Sleep(time.Second)
	res.afterKB = memKB(pid, "VmRSS")
	if st, ok := rt.(interface{ settle() }); ok {
		st.settle()
	}
	heapProfile()
	res.peakKB = max(memKB(pid, "VmHWM"), peakRSS)
	if p, ok := rt.(*proc); ok && p.exited() {
		return fail(fmt.Errorf("%s exited", im.name))
	}
	return res, nil
}

func pfx(a netip.Addr, bits int) netip.Prefix { return netip.PrefixFrom(a, bits) }

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func netInterface(name string) (int, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return 0, err
	}
	return ifc.Index, nil
}

// memKB reads a field (VmRSS, VmHWM) of /proc/PID/status in KiB; pid 0
// is this process, where the Go heap in use stands in (the benchmark's own
// tester and monitor live here too).
func memKB(pid int, field string) int64 {
	if pid == 0 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc / 1024)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// cpuTime is the user and system time of a process (utime + stime of
// /proc/PID/stat); pid 0 is this process.
// waitIdle waits until process pid uses less than 2 % of a CPU over half
// a second (or limit passes) and returns how long that took.
func waitIdle(pid int, limit time.Duration) time.Duration {
	const step = 500 * time.Millisecond
	start := time.Now()
	last := cpuTime(pid)
	for time.Since(start) < limit {
		time.Sleep(step)
		cur := cpuTime(pid)
		if cur-last < step/50 {
			return time.Since(start) - step
		}
		last = cur
	}
	return time.Since(start)
}

func cpuTime(pid int) time.Duration {
	p := "self"
	if pid != 0 {
		p = strconv.Itoa(pid)
	}
	b, err := os.ReadFile("/proc/" + p + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * time.Second / 100 // USER_HZ
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func kernelRelease() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

func versions(list []impl) string {
	var out []string
	for _, im := range list {
		switch im.name {
		case "bird":
			v, _ := exec.Command("bird", "--version").CombinedOutput()
			out = append(out, strings.TrimSpace(string(v)))
		case "gobgp":
			v, _ := exec.Command("gobgpd", "--version").CombinedOutput()
			out = append(out, strings.TrimSpace(string(v)))
		}
	}
	out = append(out, runtime.Version())
	return strings.Join(out, ", ")
}

// live holds the namespaces and processes in use, removed on SIGINT and
// SIGTERM too.
var live sync.Map

func init() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-c
		live.Range(func(k, _ any) bool {
			if p, ok := k.(*proc); ok {
				_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
			}
			return true
		})
		live.Range(func(k, _ any) bool {
			if ns, ok := k.(*netns.NS); ok {
				_ = ns.Delete()
			}
			return true
		})
		os.Exit(1)
	}()
}

func createNS(prefix string) (*netns.NS, func(), error) {
	ns, err := netns.Create(netns.UniqueName(prefix))
	if err != nil {
		return nil, nil, err
	}
	live.Store(ns, true)
	return ns, func() { _ = ns.Delete(); live.Delete(ns) }, nil
}

func fatal(v any) {
	fmt.Fprintln(os.Stderr, v)
	live.Range(func(k, _ any) bool {
		if p, ok := k.(*proc); ok {
			p.stop()
		}
		return true
	})
	live.Range(func(k, _ any) bool {
		if ns, ok := k.(*netns.NS); ok {
			_ = ns.Delete()
		}
		return true
	})
	os.Exit(1)
}
