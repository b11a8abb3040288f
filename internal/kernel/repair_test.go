package kernel

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/routerd/routerd/internal/rib"
)

// startSync creates a programmer in the lab without running it: the test
// applies updates and link events itself, in an order it chooses.
func (l *lab) startSync(t *testing.T, cfg ProgrammerConfig) (*Programmer, *fakeReporter) {
	t.Helper()
	cfg.Logger = testLogger()
	var p *Programmer
	if err := l.ns.Do(func() (err error) { p, err = NewProgrammer(cfg); return }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	rep := &fakeReporter{}
	p.rep = rep
	p.feed = newFakeFeed() // for its Keys: apply is called directly
	if err := p.loadLinks(); err != nil {
		t.Fatal(err)
	}
	ks, err := p.loadKernel()
	if err != nil {
		t.Fatal(err)
	}
	p.ks = ks
	return p, rep
}

func (l *lab) route(t *testing.T, p string) string {
	t.Helper()
	return strings.Join(strings.Fields(l.ip(t, "route", "show", p)), " ")
}

// nhid returns the nexthop object a route uses, read from the kernel (the
// programmer's own maps belong to its goroutine).
func (l *lab) nhid(t *testing.T, p string) string {
	t.Helper()
	f := strings.Fields(l.route(t, p))
	for i := range f {
		if f[i] == "nhid" && i+1 < len(f) {
			return f[i+1]
		}
	}
	t.Fatalf("route %s uses no nexthop object: %q", p, f)
	return ""
}

func apply(t *testing.T, p *Programmer, u rib.Update) {
	t.Helper()
	if err := p.apply(&u); err != nil {
		t.Fatal(err)
	}
}

// TestProgrammerLinkDownWindow replays the window between the kernel
// flushing a link's objects and routes and the programmer reading that
// link's notification: the RIB moves the groups meanwhile. The replace of
// an object the kernel removed must bring its routes back.
func TestProgrammerLinkDownWindow(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	p, rep := l.startSync(t, ProgrammerConfig{Metric: 20, NexthopObjects: NexthopOn})
	v0a := rib.NextHop{Gateway: addr("10.0.0.2"), Ifindex: l.v0}
	v0b := rib.NextHop{Gateway: addr("10.0.0.3"), Ifindex: l.v0}
	w0a := rib.NextHop{Gateway: addr("10.1.0.2"), Ifindex: l.w0}
	w0b := rib.NextHop{Gateway: addr("10.1.0.3"), Ifindex: l.w0}
	apply(t, p, rib.Update{
		Groups: []rib.GroupChange{
			{ID: 1, NextHops: []rib.NextHop{v0a}},      // single object through v0
			{ID: 2, NextHops: []rib.NextHop{v0a, w0a}}, // ECMP across both links
			{ID: 3, NextHops: []rib.NextHop{v0a, v0b}}, // ECMP all through v0
			{ID: 4, NextHops: []rib.NextHop{w0a}},
		},
		Routes: []rib.RouteChange{
			routeChange(key("192.0.2.0/24"), static(1)),
			routeChange(key("192.0.2.128/25"), static(1)),
			routeChange(key("203.0.113.0/24"), static(2)),
			routeChange(key("100.64.0.0/10"), static(3)),
			routeChange(key("198.51.100.0/24"), static(4)),
		},
		Synced: true,
	})
	if n := countRoutes(l.routes(t, "196")); n != 5 {
		t.Fatalf("want 5 routes, got %q", l.routes(t, "196"))
	}

	l.ip(t, "link", "set", "v0", "down")
	if s := l.route(t, "192.0.2.0/24"); s != "" {
		t.Fatalf("the kernel kept a route through a link set down: %q", s)
	}
	// Not yet told of the link: the RIB moves groups 1 and 3 to w0 and
	// adds a route to group 1.
	apply(t, p, rib.Update{
		Groups: []rib.GroupChange{
			{ID: 1, NextHops: []rib.NextHop{w0a}},
			{ID: 3, NextHops: []rib.NextHop{w0a, w0b}},
		},
		Routes: []rib.RouteChange{routeChange(key("192.0.2.64/26"), static(1))},
	})
	for _, pf := range []string{"192.0.2.0/24", "192.0.2.128/25", "192.0.2.64/26"} {
		if s := l.route(t, pf); !strings.Contains(s, "via 10.1.0.2 dev w0") {
			t.Errorf("route %s of the moved group: %q", pf, s)
		}
	}
	if s := l.route(t, "100.64.0.0/10"); !strings.Contains(s, "10.1.0.2") || !strings.Contains(s, "10.1.0.3") {
		t.Errorf("route of the moved ECMP group: %q", s)
	}
	if n := p.m.Recreated.Load(); n != 2 {
		t.Errorf("recreated %d objects, want 2", n)
	}
	if n := p.m.RouteErrors.Load() + p.m.NexthopErrors.Load(); n != 0 || len(rep.errs) != 0 {
		t.Errorf("%d errors counted, reported %v", n, rep.errs)
	}

	// The link notification, late: nothing more to do for groups 1 and 3;
	// group 2 lost its v0 member and gets it back when v0 returns.
	if err := p.handleEvent(progEvent{ifindex: l.v0}); err != nil {
		t.Fatal(err)
	}
	if s := l.route(t, "203.0.113.0/24"); !strings.Contains(s, "via 10.1.0.2") || strings.Contains(s, "10.0.0.2") {
		t.Errorf("ECMP route with v0 down: %q", s)
	}
	l.ip(t, "link", "set", "v0", "up")
	if err := p.handleEvent(progEvent{ifindex: l.v0, up: true}); err != nil {
		t.Fatal(err)
	}
	if s := l.route(t, "203.0.113.0/24"); !strings.Contains(s, "10.1.0.2") || !strings.Contains(s, "10.0.0.2") {
		t.Errorf("ECMP route after v0 came back: %q", s)
	}
	if n := countRoutes(l.routes(t, "196")); n != 6 {
		t.Errorf("want 6 routes, got %q", l.routes(t, "196"))
	}
}

// TestProgrammerLinkRepair sets a link down and up under a running
// programmer: the kernel drops objects and routes through it silently, and
// the programmer brings them back.
func TestProgrammerLinkRepair(t *testing.T) {
	t.Parallel()
	for _, mode := range []NexthopMode{NexthopOn, NexthopOff} {
		t.Run(fmt.Sprint("nexthop-objects=", mode == NexthopOn), func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			p, feed, rep := l.start(t, ProgrammerConfig{Metric: 20, NexthopObjects: mode})
			v0 := rib.NextHop{Gateway: addr("10.0.0.2"), Ifindex: l.v0}
			w0 := rib.NextHop{Gateway: addr("10.1.0.2"), Ifindex: l.w0}
			feed.push(t, rib.Update{
				Groups: []rib.GroupChange{{ID: 1, NextHops: []rib.NextHop{v0}}, {ID: 2, NextHops: []rib.NextHop{v0, w0}}, {ID: 3, NextHops: []rib.NextHop{w0}}},
				Routes: []rib.RouteChange{
					routeChange(key("192.0.2.0/24"), static(1)),
					routeChange(key("192.0.2.128/25"), static(1)),
					routeChange(key("203.0.113.0/24"), static(2)),
					routeChange(key("198.51.100.0/24"), static(3)),
				},
				Synced: true,
			})
			before := l.routes(t, "196")
			objs := l.nexthops(t)

			l.ip(t, "link", "set", "v0", "down")
			if s := l.route(t, "192.0.2.0/24"); s != "" {
				t.Fatalf("the kernel kept a route through a link set down: %q", s)
			}
			l.ip(t, "link", "set", "v0", "up")
			eventually(t, "routes back", func() bool {
				got := l.routes(t, "196")
				return strings.Join(got, "\n") == strings.Join(before, "\n")
			})
			if mode == NexthopOn {
				eventually(t, "objects back", func() bool { return len(l.nexthops(t)) == len(objs) })
			}
			if s := l.route(t, "203.0.113.0/24"); !strings.Contains(s, "10.0.0.2") || !strings.Contains(s, "10.1.0.2") {
				t.Errorf("ECMP route: %q", s)
			}
			if n := p.m.RouteErrors.Load() + p.m.NexthopErrors.Load(); n != 0 {
				t.Errorf("%d errors", n)
			}
			if rep.get(key("192.0.2.0/24")) != nil {
				t.Errorf("route reported failing: %v", rep.get(key("192.0.2.0/24")))
			}
		})
	}
}

// TestProgrammerObjectDeleted deletes the programmer's objects behind its
// back (a top-level object, taking its routes along, and an ECMP member):
// both come back at once.
func TestProgrammerObjectDeleted(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	p, feed, _ := l.start(t, ProgrammerConfig{Metric: 20, NexthopObjects: NexthopOn})
	v0 := rib.NextHop{Gateway: addr("10.0.0.2"), Ifindex: l.v0}
	w0 := rib.NextHop{Gateway: addr("10.1.0.2"), Ifindex: l.w0}
	feed.push(t, rib.Update{
		Groups: []rib.GroupChange{{ID: 1, NextHops: []rib.NextHop{v0}}, {ID: 2, NextHops: []rib.NextHop{v0, w0}}},
		Routes: []rib.RouteChange{
			routeChange(key("192.0.2.0/24"), static(1)),
			routeChange(key("203.0.113.0/24"), static(2)),
		},
		Synced: true,
	})
	single := l.nhid(t, "192.0.2.0/24")
	// "id 2 group 3/4 proto 196": the second member goes via w0.
	grp := strings.Fields(l.ip(t, "nexthop", "show", "id", l.nhid(t, "203.0.113.0/24")))
	member := strings.Split(grp[3], "/")[1]
	before := l.routes(t, "196")
	l.ip(t, "nexthop", "del", "id", single)
	l.ip(t, "nexthop", "del", "id", member)
	_ = p
	eventually(t, "routes back", func() bool { return strings.Join(l.routes(t, "196"), "\n") == strings.Join(before, "\n") })
	eventually(t, "four objects", func() bool { return len(l.nexthops(t)) == 4 })
}

// TestProgrammerEventOverrun overruns the notification socket (a tiny
// receive buffer and a burst of other owners' nexthop objects) after the
// kernel state was changed in ways the programmer is not told about: the
// resync that follows repairs all of it.
func TestProgrammerEventOverrun(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	p, feed, _ := l.start(t, ProgrammerConfig{Metric: 20, NexthopObjects: NexthopOn, RcvBuf: 1024})
	v0 := rib.NextHop{Gateway: addr("10.0.0.2"), Ifindex: l.v0}
	w0 := rib.NextHop{Gateway: addr("10.1.0.2"), Ifindex: l.w0}
	feed.push(t, rib.Update{
		Groups: []rib.GroupChange{{ID: 1, NextHops: []rib.NextHop{v0}}, {ID: 2, NextHops: []rib.NextHop{w0}}},
		Routes: []rib.RouteChange{
			routeChange(key("192.0.2.0/24"), static(1)),
			routeChange(key("192.0.2.128/25"), static(1)),
			routeChange(key("198.51.100.0/24"), static(2)),
		},
		Synced: true,
	})
	want := l.routes(t, "196")
	// Unnoticed: a route deleted, an object's content replaced, a stale
	// route of our protocol added.
	l.ip(t, "route", "del", "192.0.2.128/25")
	l.ip(t, "nexthop", "replace", "id", l.nhid(t, "198.51.100.0/24"), "via", "10.0.0.2", "dev", "v0", "proto", "196")
	l.ip(t, "route", "add", "192.0.2.99/32", "via", "10.1.0.2", "proto", "196", "metric", "20")

	var sb strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&sb, "nexthop add id %d blackhole\n", 50000+i)
	}
	for i := range 3000 {
		fmt.Fprintf(&sb, "nexthop del id %d\n", 50000+i)
	}
	batch := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(batch, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	l.ip(t, "-batch", batch)
	eventually(t, "overrun and resync", func() bool {
		return p.m.Overruns.Load() > 0 && p.m.Resyncs.Load() > 0 &&
			strings.Join(l.routes(t, "196"), "\n") == strings.Join(want, "\n")
	})
	t.Logf("overruns %d, resyncs %d", p.m.Overruns.Load(), p.m.Resyncs.Load())
}

// TestProgrammerRequestOverrun overruns the request socket: with a tiny
// receive buffer, the kernel's answers to a batch of deletions that all
// fail (the routes were removed behind the programmer's back) do not fit;
// the answers are lost, and the resync finds the route that must come
// back.
func TestProgrammerRequestOverrun(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	p, feed, _ := l.start(t, ProgrammerConfig{Metric: 20, NexthopObjects: NexthopOn, reqRcvBuf: 1024})
	var rs, gone []rib.RouteChange
	var sb strings.Builder
	for i := range 400 {
		k := key(fmt.Sprintf("10.%d.%d.0/24", 100+i/250, i%250))
		rs = append(rs, routeChange(k, static(1)))
		gone = append(gone, routeChange(k, rib.Best{}))
		fmt.Fprintf(&sb, "route del %s proto 196 metric 20\n", k.Prefix)
	}
	rs = append(rs, routeChange(key("192.0.2.0/24"), static(1)))
	fmt.Fprintf(&sb, "route del 192.0.2.0/24 proto 196 metric 20\n")
	feed.push(t, rib.Update{
		Groups: []rib.GroupChange{{ID: 1, NextHops: []rib.NextHop{{Gateway: addr("10.0.0.2"), Ifindex: l.v0}}}},
		Routes: rs, Synced: true,
	})
	if n := countRoutes(l.routes(t, "196")); n != 401 {
		t.Fatalf("installed %d routes, want 401", n)
	}
	batch := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(batch, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	l.ip(t, "-batch", batch)
	feed.push(t, rib.Update{Routes: gone})
	if p.m.Overruns.Load() == 0 || p.m.Resyncs.Load() == 0 {
		t.Fatalf("overruns %d, resyncs %d", p.m.Overruns.Load(), p.m.Resyncs.Load())
	}
	wantLines(t, "routes", l.routes(t, "196"), "192.0.2.0/24 nhid 1 via 10.0.0.2 dev v0 metric 20")
}

// TestProgrammerNexthopLoss loses the next hop of a large group, as the RIB
// reports it: the group unresolved, then every route withdrawn, in several
// updates. The deleter drops the object while the withdrawals are read; by
// the time the feed sees everything applied, the kernel holds none of the
// routes.
func TestProgrammerNexthopLoss(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	p, feed, rep := l.start(t, ProgrammerConfig{Metric: 20, NexthopObjects: NexthopOn, MaxChanges: 4096})
	var add, del []rib.RouteChange
	for i := range 20000 {
		k := key(fmt.Sprintf("10.%d.%d.0/24", 100+i/250, i%250))
		add = append(add, routeChange(k, static(1)))
		del = append(del, routeChange(k, rib.Best{}))
	}
	chunks := func(first rib.Update, rs []rib.RouteChange) []rib.Update {
		var us []rib.Update
		for len(rs) > 0 {
			n := min(len(rs), 4096)
			us = append(us, rib.Update{Routes: rs[:n]})
			rs = rs[n:]
		}
		us[0].Groups, us[0].Synced = first.Groups, first.Synced
		return us
	}
	gw := []rib.NextHop{{Gateway: addr("10.0.0.2"), Ifindex: l.v0}}
	feed.push(t, chunks(rib.Update{Groups: []rib.GroupChange{{ID: 1, NextHops: gw}}, Synced: true}, add)...)
	if n := countRoutes(l.routes(t, "196")); n != 20000 {
		t.Fatalf("installed %d routes", n)
	}
	deleted := p.m.RoutesDeleted.Load()
	feed.push(t, chunks(rib.Update{Groups: []rib.GroupChange{{ID: 1}}}, del)...)
	if got := l.routes(t, "196"); len(got) != 0 {
		t.Fatalf("%d routes left when the feed saw everything applied", len(got))
	}
	if len(l.nexthops(t)) != 0 {
		t.Errorf("objects left: %q", l.nexthops(t))
	}
	if n := p.m.RoutesDeleted.Load() - deleted; n != 0 {
		t.Errorf("sent %d route deletes; the object's deletion takes the routes", n)
	}
	// And back: the group resolves again, the routes return.
	feed.push(t, chunks(rib.Update{Groups: []rib.GroupChange{{ID: 1, NextHops: gw}}}, add)...)
	if n := countRoutes(l.routes(t, "196")); n != 20000 || len(rep.errs) != 0 {
		t.Fatalf("restored %d routes, errors %v", n, rep.errs)
	}
}
