// Command kernel measures how fast a full routing table goes into the Linux
// kernel, is moved to another next hop and is removed again, three ways in
// the same run: routerd's path (a real RIB feeding the kernel programmer), a
// minimal raw-netlink loop (the floor: nexthop objects, many routes per
// sendmsg, no per-route ACK) and `ip -batch`. Every measurement runs in a
// fresh network namespace. Run it as root from the repository root:
//
//	go run ./bench/kernel [-runs 3] [-prefixes ../shared/data/fulltable-prefixes.txt.gz]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/routerd/routerd/internal/fulltable"
	"github.com/routerd/routerd/internal/kernel"
	"github.com/routerd/routerd/internal/netns"
	"github.com/routerd/routerd/internal/rib"
)

const metric = 20

// memprofile is where the routerd way writes its heap profile, if set.
var memprofile string

var (
	gw4a, gw4b = netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	gw6a, gw6b = netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("2001:db8::3")
)

// phases are the measured steps, in the order they run: install the table,
// move it to another gateway (one nexthop change), lose its next hop (the
// nexthop object goes and the kernel drops every route at once), restore
// it (the next hop resolves again: every route is sent again), remove it
// (every prefix withdrawn).
type phases struct{ install, move, loss, restore, remove span }

// span is one measured step: wall-clock time, and the CPU time the process
// (and its children, for the ip way) used meanwhile, user and system. The
// kernel's work on a netlink request runs inside the sender's sendmsg, so
// it is counted as system time. On a machine shared with other jobs the
// wall-clock time depends on how often the thread gets a CPU; the CPU time
// much less.
type span struct{ wall, cpu time.Duration }

type clock struct {
	start time.Time
	cpu   time.Duration
}

func cpuNow() time.Duration {
	var d time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		_ = syscall.Getrusage(who, &ru)
		d += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return d
}

func startClock() clock { return clock{time.Now(), cpuNow()} }

func (c clock) stop() span { return span{time.Since(c.start), cpuNow() - c.cpu} }

func main() {
	path := flag.String("prefixes", "../shared/data/fulltable-prefixes.txt.gz", "gzipped prefix list, one per line")
	runs := flag.Int("runs", 3, "measurements per way (the median is printed)")
	limit := flag.Int("limit", 0, "use only the first N prefixes (0: all)")
	ways := flag.String("ways", "routerd,programmer,raw,ip", "which ways to measure (programmer: the kernel package fed pre-built updates, no RIB)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run")
	flag.StringVar(&memprofile, "memprofile", "", "write heap profiles of the routerd way (first run): FILE with the table installed and packed as the daemon packs it, FILE.install when the RIB has the whole table (the programmer's backlog at its longest)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if why := netns.Skip(); why != "" {
		fmt.Fprintln(os.Stderr, why)
		os.Exit(1)
	}
	prefixes, err := fulltable.Load(*path, *limit)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	v4 := 0
	for _, p := range prefixes {
		if p.Addr().Is4() {
			v4++
		}
	}
	fmt.Printf("kernel %s, %d CPUs, %d prefixes (%d IPv4, %d IPv6), %d runs each, median shown\n",
		kernelRelease(), runtime.NumCPU(), len(prefixes), v4, len(prefixes)-v4, *runs)

	// Ways take turns within each run, so that load from elsewhere on the
	// machine spreads over all of them rather than one.
	order := strings.Split(*ways, ",")
	all := map[string][]phases{}
	var mem string
	for i := 0; i < *runs; i++ {
		for _, w := range order {
			var ph phases
			var err error
			switch w {
			case "routerd":
				var m string
				ph, m, err = inLab(func(l *lab) (phases, string, error) { return benchRouterd(l, prefixes) })
				if mem == "" {
					mem = m
				}
			case "programmer":
				ph, _, err = inLab(func(l *lab) (phases, string, error) { p, err := benchProgrammer(l, prefixes); return p, "", err })
			case "raw":
				ph, _, err = inLab(func(l *lab) (phases, string, error) { p, err := benchRaw(l, prefixes); return p, "", err })
			case "ip":
				ph, _, err = inLab(func(l *lab) (phases, string, error) { p, err := benchIP(l, prefixes); return p, "", err })
			default:
				err = fmt.Errorf("unknown way %q", w)
			}
			if err != nil {
				pprof.StopCPUProfile()
				fmt.Fprintf(os.Stderr, "%s: %v\n", w, err)
				os.Exit(1)
			}
			fmt.Fprintf(os.Stderr, "  %-10s run %d: install %.2fs (cpu %.2fs) move %.3fs (%.3fs) loss %.3fs (%.3fs) restore %.2fs (%.2fs) remove %.2fs (%.2fs)\n", w, i+1,
				ph.install.wall.Seconds(), ph.install.cpu.Seconds(), ph.move.wall.Seconds(), ph.move.cpu.Seconds(),
				ph.loss.wall.Seconds(), ph.loss.cpu.Seconds(), ph.restore.wall.Seconds(), ph.restore.cpu.Seconds(),
				ph.remove.wall.Seconds(), ph.remove.cpu.Seconds())
			all[w] = append(all[w], ph)
		}
	}
	results := map[string]phases{}
	for w, ph := range all {
		results[w] = median(ph)
	}
	floor, hasFloor := results["raw"]
	for _, kind := range []string{"wall-clock", "CPU (user+system, the kernel's work included)"} {
		get := func(s span) time.Duration {
			if kind == "wall-clock" {
				return s.wall
			}
			return s.cpu
		}
		fmt.Printf("\n%s seconds, median\n%-10s %9s %7s  %8s %7s  %8s %7s  %9s %7s  %9s %7s\n", kind, "way",
			"install", "vs raw", "move", "vs raw", "loss", "vs raw", "restore", "vs raw", "remove", "vs raw")
		for _, w := range order {
			r := results[w]
			ratio := func(d, f span) string {
				if !hasFloor || get(f) == 0 {
					return "-"
				}
				return fmt.Sprintf("%.2fx", get(d).Seconds()/get(f).Seconds())
			}
			fmt.Printf("%-10s %9.2f %7s  %8.3f %7s  %8.3f %7s  %9.2f %7s  %9.2f %7s\n", w,
				get(r.install).Seconds(), ratio(r.install, floor.install),
				get(r.move).Seconds(), ratio(r.move, floor.move),
				get(r.loss).Seconds(), ratio(r.loss, floor.loss),
				get(r.restore).Seconds(), ratio(r.restore, floor.restore),
				get(r.remove).Seconds(), ratio(r.remove, floor.remove))
		}
	}
	if mem != "" {
		fmt.Println("\n" + mem)
	}
}

// median takes the median of wall-clock and of CPU time separately.
func median(all []phases) phases {
	pick := func(f func(phases) span) span {
		ws := make([]time.Duration, len(all))
		cs := make([]time.Duration, len(all))
		for i, p := range all {
			ws[i], cs[i] = f(p).wall, f(p).cpu
		}
		slices.Sort(ws)
		slices.Sort(cs)
		return span{ws[len(ws)/2], cs[len(cs)/2]}
	}
	return phases{
		install: pick(func(p phases) span { return p.install }),
		move:    pick(func(p phases) span { return p.move }),
		loss:    pick(func(p phases) span { return p.loss }),
		restore: pick(func(p phases) span { return p.restore }),
		remove:  pick(func(p phases) span { return p.remove }),
	}
}

func kernelRelease() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

// lab is a namespace with veth v0 (10.0.0.1/24, 2001:db8::1/64) whose peer
// lives in a second namespace (so the gateways are not local addresses).
type lab struct {
	ns, peer *netns.NS
	ifindex  int32
}

// live holds the namespaces in use, removed on SIGINT/SIGTERM too.
var live sync.Map

func init() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-c
		live.Range(func(k, _ any) bool { _ = k.(*netns.NS).Delete(); return true })
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

func inLab(fn func(*lab) (phases, string, error)) (phases, string, error) {
	ns, del, err := createNS("rdbench")
	if err != nil {
		return phases{}, "", err
	}
	defer del()
	peer, delPeer, err := createNS("rdpeer")
	if err != nil {
		return phases{}, "", err
	}
	defer delPeer()
	err = netns.AddVeth(
		netns.Veth{NS: ns, Name: "v0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24"), netip.MustParsePrefix("2001:db8::1/64")}},
		netns.Veth{NS: peer, Name: "v1", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24"), netip.MustParsePrefix("2001:db8::2/64")}},
	)
	if err != nil {
		return phases{}, "", err
	}
	out, err := ns.IP("-o", "link", "show", "v0")
	if err != nil {
		return phases{}, "", err
	}
	idx, err := strconv.Atoi(strings.SplitN(out, ":", 2)[0])
	if err != nil {
		return phases{}, "", err
	}
	runtime.GC()
	return fn(&lab{ns: ns, peer: peer, ifindex: int32(idx)})
}

// idleFeed wraps a RIB subscription and tells when the programmer came back
// for more after everything was drained.
type idleFeed struct {
	*rib.Subscription
	mu    sync.Mutex
	armed bool
	idle  chan struct{}
}

func (f *idleFeed) Next(max int) rib.Update {
	u := f.Subscription.Next(max)
	if u.Empty() {
		f.mu.Lock()
		if f.armed {
			f.armed = false
			f.idle <- struct{}{}
		}
		f.mu.Unlock()
	}
	return u
}

// wait runs fn (which changes the RIB) and waits until the programmer has
// applied everything that followed.
func (f *idleFeed) wait(fn func() error) (span, error) {
	// Armed before fn: a programmer done with fn's changes before fn
	// returned must still be seen. It calls Next only when C announces
	// something (and C answers only changes not yet drained), so nothing
	// earlier can pass for the end of this step.
	f.mu.Lock()
	f.armed = true
	f.mu.Unlock()
	start := startClock()
	if err := fn(); err != nil {
		return span{}, err
	}
	select {
	case <-f.idle:
	case <-time.After(5 * time.Minute):
		return span{}, fmt.Errorf("programmer did not finish")
	}
	return start.stop(), nil
}

type nopReporter struct{ n int }

func (r *nopReporter) SetInstallError(k rib.Key, err error) {
	if err != nil {
		r.n++
	}
}

// benchRouterd drives the daemon's path: routes from a static source with
// recursive gateways (192.0.2.1 and 2001:db8:ffff::1) resolved through one
// static route each, so that moving that route is one next-hop change.
func benchRouterd(l *lab, prefixes []netip.Prefix) (phases, string, error) {
	var ph phases
	r := rib.New()
	r.SetLinkUp(l.ifindex, true)
	conn := r.NewSource(rib.OriginConnected, "connected")
	if err := conn.Apply([]rib.Route{
		{Table: rib.TableMain, Prefix: netip.MustParsePrefix("10.0.0.0/24"), NextHops: []rib.NextHop{{Ifindex: l.ifindex}}},
		{Table: rib.TableMain, Prefix: netip.MustParsePrefix("2001:db8::/64"), NextHops: []rib.NextHop{{Ifindex: l.ifindex}}},
	}, nil); err != nil {
		return ph, "", err
	}
	st := r.NewSource(rib.OriginStatic, "static")
	rec4, rec6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8:ffff::1")
	via := func(g4, g6 netip.Addr) []rib.Route {
		return []rib.Route{
			{Table: rib.TableMain, Prefix: netip.PrefixFrom(rec4, 32), Distance: 1, NextHops: []rib.NextHop{{Gateway: g4}}},
			{Table: rib.TableMain, Prefix: netip.PrefixFrom(rec6, 128), Distance: 1, NextHops: []rib.NextHop{{Gateway: g6}}},
		}
	}
	if err := st.Apply(via(gw4a, gw6a), nil); err != nil {
		return ph, "", err
	}
	bgp := r.NewSource(rib.OriginEBGP, "bgp")
	var p *kernel.Programmer
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := l.ns.Do(func() (err error) {
		p, err = kernel.NewProgrammer(kernel.ProgrammerConfig{Metric: metric, Logger: log})
		return err
	}); err != nil {
		return ph, "", err
	}
	defer p.Close()
	sub, err := r.Subscribe("kernel")
	if err != nil {
		return ph, "", err
	}
	defer sub.Close()
	feed := &idleFeed{Subscription: sub, idle: make(chan struct{}, 1)}
	rep := &nopReporter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, feed, rep) }()
	defer func() { cancel(); <-done }()
	if _, err := feed.wait(func() error { return nil }); err != nil {
		return ph, "", err
	}

	var ms0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	debug.FreeOSMemory() // the prefix list's garbage must not count as freed later
	rss0 := rssKB()
	peak := watchPeak()
	routes := make([]rib.Route, 0, 10000)
	ph.install, err = feed.wait(func() error {
		for i := 0; i < len(prefixes); {
			routes = routes[:0]
			for ; i < len(prefixes) && len(routes) < cap(routes); i++ {
				gw := rec4
				if prefixes[i].Addr().Is6() {
					gw = rec6
				}
				routes = append(routes, rib.Route{Table: rib.TableMain, Prefix: prefixes[i], Distance: 20,
					NextHops: []rib.NextHop{{Gateway: gw}}})
			}
			if err := bgp.Apply(routes, nil); err != nil {
				return err
			}
		}
		// The table is in the RIB and the programmer's backlog is at its
		// longest: what is live now is the install's transient.
		if memprofile != "" {
			runtime.GC()
			return writeHeapProfile(memprofile + ".install")
		}
		return nil
	})
	if err != nil {
		return ph, "", err
	}
	if rep.n > 0 {
		return ph, "", fmt.Errorf("%d routes rejected", rep.n)
	}
	peakHeap, peakRSS := peak()
	var ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	// Then packed as the daemon packs its tables once a burst settles
	// (internal/daemon/memtrim.go).
	debug.FreeOSMemory()
	r.Compact()
	p.Compact()
	debug.FreeOSMemory()
	var ms2 runtime.MemStats
	runtime.ReadMemStats(&ms2)
	perRoute := func(b uint64) float64 { return float64(b) / float64(len(prefixes)) }
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	mem := fmt.Sprintf("routerd with %d routes installed (RIB + programmer, over the heap before):\n"+
		"  heap after GC %.1f MiB (%.0f B/route); packed %.1f MiB (%.0f B/route)\n"+
		"  during install: heap objects peak %.1f MiB (%.0f B/route), RSS peak +%.1f MiB; RSS packed +%.1f MiB (%.0f B/route)",
		len(prefixes), mib(ms1.HeapAlloc-ms0.HeapAlloc), perRoute(ms1.HeapAlloc-ms0.HeapAlloc),
		mib(ms2.HeapAlloc-ms0.HeapAlloc), perRoute(ms2.HeapAlloc-ms0.HeapAlloc),
		mib(peakHeap-ms0.HeapAlloc), perRoute(peakHeap-ms0.HeapAlloc),
		float64(int64(peakRSS)-int64(rss0))/1024, float64(int64(rssKB())-int64(rss0))/1024, float64(1024*(int64(rssKB())-int64(rss0)))/float64(len(prefixes)))
	if memprofile != "" {
		if err := writeHeapProfile(memprofile); err != nil {
			return ph, "", err
		}
		memprofile = ""
	}

	sent := p.Metrics().RoutesSent.Load()
	ph.move, err = feed.wait(func() error { return st.Apply(via(gw4b, gw6b), nil) })
	if err != nil {
		return ph, "", err
	}
	if n := p.Metrics().RoutesSent.Load() - sent; n > 10 {
		return ph, "", fmt.Errorf("move sent %d routes", n)
	}
	if err := moved(l, prefixes[len(prefixes)/2]); err != nil {
		return ph, "", err
	}
	// Next-hop loss: the routes resolving the table's gateways go, so its
	// groups go unresolved and the programmer deletes their objects.
	recKeys := []rib.Key{{Table: rib.TableMain, Prefix: netip.PrefixFrom(rec4, 32)}, {Table: rib.TableMain, Prefix: netip.PrefixFrom(rec6, 128)}}
	ph.loss, err = feed.wait(func() error { return st.Apply(nil, recKeys) })
	if err != nil {
		return ph, "", err
	}
	if err := check(l, 0); err != nil {
		return ph, "", fmt.Errorf("after next-hop loss: %w", err)
	}
	ph.restore, err = feed.wait(func() error { return st.Apply(via(gw4b, gw6b), nil) })
	if err != nil {
		return ph, "", err
	}
	if err := moved(l, prefixes[len(prefixes)/3]); err != nil {
		return ph, "", fmt.Errorf("after restore: %w", err)
	}
	keys := make([]rib.Key, 0, 10000)
	ph.remove, err = feed.wait(func() error {
		for i := 0; i < len(prefixes); {
			keys = keys[:0]
			for ; i < len(prefixes) && len(keys) < cap(keys); i++ {
				keys = append(keys, rib.Key{Table: rib.TableMain, Prefix: prefixes[i]})
			}
			if err := bgp.Apply(nil, keys); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ph, "", err
	}
	if err := check(l, 2); err != nil { // the two recursive-gateway routes remain
		return ph, "", err
	}
	return ph, mem, nil
}

// rssKB returns the process's VmRSS in kB.
func rssKB() uint64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			if f := strings.Fields(line); len(f) > 1 {
				n, _ := strconv.ParseUint(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

// watchPeak samples the heap's objects (live and not yet collected) and
// the RSS every 10 ms until the returned function is called, which
// returns their peaks: the transient a burst costs, which the figures
// after GC do not show.
func watchPeak() func() (heap, rssKB uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	stop, done := make(chan struct{}), make(chan struct{})
	var heap, rss uint64
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			heap = max(heap, sample[0].Value.Uint64())
			rss = max(rss, rssKB())
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		close(stop)
		<-done
		return heap, rss
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// moved checks that a sample route now goes through the second gateway.
func moved(l *lab, p netip.Prefix) error {
	out, err := l.ns.IP("route", "show", p.String(), "metric", strconv.Itoa(metric))
	if err != nil {
		return err
	}
	if !strings.Contains(out, gw4b.String()) && !strings.Contains(out, gw6b.String()) {
		return fmt.Errorf("route %s did not move: %q", p, out)
	}
	return nil
}

// check counts the routes of metric 20 left in the namespace.
func check(l *lab, want int) error {
	n := 0
	for _, fam := range []string{"-4", "-6"} {
		out, err := l.ns.IP(fam, "route", "show", "metric", strconv.Itoa(metric))
		if err != nil {
			return err
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.TrimSpace(line) != "" && !strings.HasPrefix(strings.TrimSpace(line), "nexthop") {
				n++
			}
		}
	}
	if n != want {
		return fmt.Errorf("%d routes left in the kernel, want %d", n, want)
	}
	return nil
}

// benchIP times `ip -batch` for the three phases.
func benchIP(l *lab, prefixes []netip.Prefix) (phases, error) {
	var ph phases
	dir, err := os.MkdirTemp("", "rdbench")
	if err != nil {
		return ph, err
	}
	defer os.RemoveAll(dir)
	write := func(name string, fn func(w *bufio.Writer)) (string, error) {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			return "", err
		}
		w := bufio.NewWriter(f)
		fn(w)
		if err := w.Flush(); err != nil {
			return "", err
		}
		return path, f.Close()
	}
	install, err := write("install", func(w *bufio.Writer) {
		fmt.Fprintf(w, "nexthop add id 1 via %s dev v0\nnexthop add id 2 via %s dev v0\n", gw4a, gw6a)
		for _, p := range prefixes {
			id := 1
			if p.Addr().Is6() {
				id = 2
			}
			fmt.Fprintf(w, "route add %s nhid %d metric %d\n", p, id, metric)
		}
	})
	if err != nil {
		return ph, err
	}
	move, err := write("move", func(w *bufio.Writer) {
		fmt.Fprintf(w, "nexthop replace id 1 via %s dev v0\nnexthop replace id 2 via %s dev v0\n", gw4b, gw6b)
	})
	if err != nil {
		return ph, err
	}
	loss, err := write("loss", func(w *bufio.Writer) {
		fmt.Fprintf(w, "nexthop del id 1\nnexthop del id 2\n")
	})
	if err != nil {
		return ph, err
	}
	restore, err := write("restore", func(w *bufio.Writer) {
		fmt.Fprintf(w, "nexthop add id 1 via %s dev v0\nnexthop add id 2 via %s dev v0\n", gw4b, gw6b)
		for _, p := range prefixes {
			id := 1
			if p.Addr().Is6() {
				id = 2
			}
			fmt.Fprintf(w, "route add %s nhid %d metric %d\n", p, id, metric)
		}
	})
	if err != nil {
		return ph, err
	}
	remove, err := write("remove", func(w *bufio.Writer) {
		for _, p := range prefixes {
			fmt.Fprintf(w, "route del %s metric %d\n", p, metric)
		}
	})
	if err != nil {
		return ph, err
	}
	for _, step := range []struct {
		file string
		d    *span
	}{{install, &ph.install}, {move, &ph.move}, {loss, &ph.loss}, {restore, &ph.restore}, {remove, &ph.remove}} {
		cmd := exec.Command("ip", "-n", l.ns.Name, "-batch", step.file)
		start := startClock()
		if out, err := cmd.CombinedOutput(); err != nil {
			return ph, fmt.Errorf("ip -batch: %w: %s", err, out)
		}
		*step.d = start.stop()
	}
	return ph, check(l, 0)
}
