package kernel

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/routerd/routerd/internal/rib"
	"golang.org/x/sys/unix"
)

func TestProgrammer(t *testing.T) {
	for _, mode := range []NexthopMode{NexthopOn, NexthopOff} {
		t.Run(fmt.Sprint("nexthop-objects=", mode == NexthopOn), func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			p, feed, _ := l.start(t, ProgrammerConfig{Metric: 20, NexthopObjects: mode})
			if p.NexthopObjects() != (mode == NexthopOn) {
				t.Fatalf("NexthopObjects() = %v", p.NexthopObjects())
			}
			gw4 := rib.NextHop{Gateway: addr("10.0.0.2"), Ifindex: l.v0}
			gw6 := rib.NextHop{Gateway: addr("2001:db8::2"), Ifindex: l.v0}
			gwW := rib.NextHop{Gateway: addr("10.1.0.2"), Ifindex: l.w0}
			t100 := rib.Key{Table: 100, Prefix: pfx("198.51.100.0/24")}
			t1000 := rib.Key{Table: 1000, Prefix: pfx("2001:db8:1000::/48")}
			feed.push(t, rib.Update{
				Groups: []rib.GroupChange{
					{ID: 1, NextHops: []rib.NextHop{gw4}},
					{ID: 2, NextHops: []rib.NextHop{gw6}},
					{ID: 3, NextHops: []rib.NextHop{gw4, {Gateway: gwW.Gateway, Ifindex: l.w0, Weight: 3}}},
					{ID: 4, NextHops: []rib.NextHop{gw4}}, // same next hop, separate group
				},
				Routes: []rib.RouteChange{
					routeChange(key("192.0.2.0/24"), static(1)),
					routeChange(key("192.0.2.128/25"), static(4)),
					routeChange(key("2001:db8:a::/48"), static(2)),
					routeChange(key("203.0.113.0/24"), static(3)),
					routeChange(key("198.18.0.0/15"), rib.Best{Origin: rib.OriginStatic, Kind: rib.KindBlackhole}),
					routeChange(key("2001:db8:dead::/48"), rib.Best{Origin: rib.OriginStatic, Kind: rib.KindUnreachable}),
					routeChange(key("198.19.0.0/16"), rib.Best{Origin: rib.OriginAPI, Kind: rib.KindProhibit}),
					routeChange(t100, static(1)),
					routeChange(t1000, static(2)),
					// Not owned: never programmed.
					routeChange(key("192.0.2.64/26"), rib.Best{Origin: rib.OriginKernel, Kind: rib.KindUnicast, Group: 1}),
				},
				Synced: true,
			})
			got := l.routes(t, "196")
			t.Logf("routes:\n%s\nnexthops:\n%s", strings.Join(got, "\n"), strings.Join(l.nexthops(t), "\n"))
			has := func(sub ...string) {
				t.Helper()
				for _, line := range got {
					ok := true
					for _, s := range sub {
						ok = ok && strings.Contains(line, s)
					}
					if ok {
						return
					}
				}
				t.Errorf("no route line with %q in\n%s", sub, strings.Join(got, "\n"))
			}
			has("192.0.2.0/24", "via 10.0.0.2", "metric 20")
			has("192.0.2.128/25", "via 10.0.0.2")
			has("2001:db8:a::/48", "via 2001:db8::2")
			has("blackhole 198.18.0.0/15")
			has("unreachable 2001:db8:dead::/48")
			has("prohibit 198.19.0.0/16")
			has("198.51.100.0/24", "table 100", "via 10.0.0.2")
			has("2001:db8:1000::/48", "table 1000", "via 2001:db8::2")
			if n := countRoutes(got); n != 9 {
				t.Errorf("want 9 routes, got %d", n)
			}
			ecmp := l.ip(t, "route", "show", "203.0.113.0/24")
			if !strings.Contains(ecmp, "10.0.0.2") || !strings.Contains(ecmp, "10.1.0.2") || !strings.Contains(ecmp, "weight 3") {
				t.Errorf("ECMP route: %q", ecmp)
			}
			if mode == NexthopOn {
				if n := len(l.nexthops(t)); n != 6 { // 1, 2, 4, group 3 + 2 members
					t.Errorf("want 6 nexthop objects, got %d: %q", n, l.nexthops(t))
				}
			}

			// A group change moves its routes (and only them).
			sent := p.m.RoutesSent.Load()
			feed.push(t, rib.Update{Groups: []rib.GroupChange{{ID: 1, NextHops: []rib.NextHop{gwW}}}})
			if s := l.ip(t, "route", "show", "192.0.2.0/24"); !strings.Contains(s, "via 10.1.0.2") {
				t.Errorf("group 1 moved, route did not: %q", s)
			}
			if s := l.ip(t, "route", "show", "table", "100"); !strings.Contains(s, "via 10.1.0.2") {
				t.Errorf("group 1 moved, table 100 route did not: %q", s)
			}
			if s := l.ip(t, "route", "show", "192.0.2.128/25"); !strings.Contains(s, "via 10.0.0.2") {
				t.Errorf("group 4 moved with group 1: %q", s)
			}
			if mode == NexthopOn && p.m.RoutesSent.Load() != sent {
				t.Errorf("group change re-sent %d routes; the nexthop object should move them", p.m.RoutesSent.Load()-sent)
			}
			// ECMP to single and back: a new object, routes re-pointed.
			feed.push(t, rib.Update{Groups: []rib.GroupChange{{ID: 3, NextHops: []rib.NextHop{gw4}}}})
			if s := l.ip(t, "route", "show", "203.0.113.0/24"); !strings.Contains(s, "via 10.0.0.2") || strings.Contains(s, "10.1.0.2") {
				t.Errorf("ECMP group to single: %q", s)
			}
			feed.push(t, rib.Update{Groups: []rib.GroupChange{{ID: 3, NextHops: []rib.NextHop{gw4, gwW}}}})
			if s := l.ip(t, "route", "show", "203.0.113.0/24"); !strings.Contains(s, "10.0.0.2") || !strings.Contains(s, "10.1.0.2") {
				t.Errorf("single to ECMP: %q", s)
			}

			// Unresolved group: its routes leave the kernel; a later
			// withdrawal needs no message; resolution brings them back.
			feed.push(t, rib.Update{Groups: []rib.GroupChange{{ID: 1}}})
			if s := l.ip(t, "route", "show", "192.0.2.0/24"); s != "" {
				t.Errorf("unresolved group left route: %q", s)
			}
			if s := l.ip(t, "route", "show", "table", "100"); s != "" {
				t.Errorf("unresolved group left route: %q", s)
			}
			feed.push(t, rib.Update{Groups: []rib.GroupChange{{ID: 1, NextHops: []rib.NextHop{gw4}}}})
			if s := l.ip(t, "route", "show", "192.0.2.0/24"); !strings.Contains(s, "via 10.0.0.2") {
				t.Errorf("resolved group did not bring its route back: %q", s)
			}
			feed.push(t, rib.Update{Groups: []rib.GroupChange{{ID: 1}}})
			del := p.m.RoutesDeleted.Load()
			feed.push(t, rib.Update{Routes: []rib.RouteChange{routeChange(key("192.0.2.0/24"), rib.Best{}), routeChange(t100, rib.Best{})}})
			if mode == NexthopOn && p.m.RoutesDeleted.Load() != del {
				t.Errorf("withdrawing routes of an unresolved group sent %d deletes", p.m.RoutesDeleted.Load()-del)
			}

			// Withdrawals, a kind change and removal of groups.
			feed.push(t, rib.Update{
				Routes: []rib.RouteChange{
					routeChange(key("2001:db8:a::/48"), rib.Best{}),
					routeChange(t1000, rib.Best{Origin: rib.OriginStatic, Kind: rib.KindUnicast, Group: 2}),
					routeChange(key("198.18.0.0/15"), static(4)),
					routeChange(key("2001:db8:dead::/48"), rib.Best{Origin: rib.OriginKernel, Kind: rib.KindUnicast, Group: 2}),
				},
				Removed: []rib.GroupID{1},
			})
			got = l.routes(t, "196")
			for _, line := range got {
				if strings.Contains(line, "2001:db8:a::") || strings.Contains(line, "dead") || strings.Contains(line, "blackhole") {
					t.Errorf("route should be gone: %q", line)
				}
			}
			if s := l.ip(t, "route", "show", "198.18.0.0/15"); !strings.Contains(s, "via 10.0.0.2") {
				t.Errorf("blackhole to unicast: %q", s)
			}

			// Flush removes everything of ours.
			if err := l.ns.Do(func() error { return nil }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestProgrammerRejectedRoute(t *testing.T) {
	t.Parallel()
	for _, mode := range []NexthopMode{NexthopOn, NexthopOff} {
		l := newLab(t)
		p, feed, rep := l.start(t, ProgrammerConfig{Metric: 20, NexthopObjects: mode})
		good := rib.NextHop{Gateway: addr("10.0.0.2"), Ifindex: l.v0}
		// A gateway outside every connected prefix: the kernel refuses it.
		bad := rib.NextHop{Gateway: addr("192.168.77.1"), Ifindex: l.v0}
		var routes []rib.RouteChange
		for i := range 200 {
			routes = append(routes, routeChange(key(fmt.Sprintf("10.%d.%d.0/24", 100+i/100, i%100)), static(1)))
		}
		routes = append(routes[:100], append([]rib.RouteChange{routeChange(key("172.16.0.0/16"), static(2))}, routes[100:]...)...)
		feed.push(t, rib.Update{Groups: []rib.GroupChange{{ID: 1, NextHops: []rib.NextHop{good}}, {ID: 2, NextHops: []rib.NextHop{bad}}}, Routes: routes, Synced: true})
		err := rep.get(key("172.16.0.0/16"))
		var oe *OpError
		if !errors.As(err, &oe) {
			t.Fatalf("mode %d: rejected route not reported: %v", mode, err)
		}
		t.Logf("mode %d: kernel said %v", mode, err)
		if n := countRoutes(l.routes(t, "196")); n != 200 {
			t.Errorf("mode %d: want the other 200 routes installed, got %d", mode, n)
		}
		if p.m.RouteErrors.Load() == 0 || p.InstallFailures() != 1 {
			t.Errorf("mode %d: errors %d, failures %d", mode, p.m.RouteErrors.Load(), p.InstallFailures())
		}
		// The group gets fixed: the key recovers and is reported so.
		feed.push(t, rib.Update{Groups: []rib.GroupChange{{ID: 2, NextHops: []rib.NextHop{good}}}})
		if err := rep.get(key("172.16.0.0/16")); err != nil {
			t.Errorf("mode %d: recovered key still reported failing: %v", mode, err)
		}
		if s := l.ip(t, "route", "show", "172.16.0.0/16"); !strings.Contains(s, "10.0.0.2") {
			t.Errorf("mode %d: recovered route missing: %q", mode, s)
		}
		if rep.n > 3 {
			t.Errorf("mode %d: reporter called %d times", mode, rep.n)
		}
	}
}

func TestProgrammerReconcile(t *testing.T) {
	t.Parallel()
	for _, mode := range []NexthopMode{NexthopOn, NexthopOff} {
		l := newLab(t)
		// Leftovers of an earlier run, and another owner's route.
		l.ip(t, "route", "add", "192.0.2.0/24", "via", "10.0.0.2", "proto", "196", "metric", "20")    // stale
		l.ip(t, "route", "add", "198.51.100.0/24", "via", "10.0.0.2", "proto", "196", "metric", "20") // wrong gateway
		l.ip(t, "route", "add", "203.0.113.0/24", "via", "10.0.0.2", "proto", "196", "metric", "99")  // wrong metric
		l.ip(t, "-6", "route", "add", "2001:db8:5::/48", "via", "2001:db8::2", "proto", "196", "metric", "20")
		l.ip(t, "route", "add", "192.0.2.0/24", "via", "10.1.0.2", "proto", "static", "metric", "5") // foreign, same prefix
		l.ip(t, "route", "add", "100.64.0.0/10", "via", "10.1.0.2", "proto", "static")               // foreign
		l.ip(t, "nexthop", "add", "id", "7", "via", "10.0.0.2", "dev", "v0", "proto", "196")         // stale object
		l.ip(t, "route", "add", "100.65.0.0/16", "nhid", "7", "proto", "196", "metric", "20")
		foreignBefore := l.routes(t, "static")
		p, feed, _ := l.start(t, ProgrammerConfig{Metric: 20, NexthopObjects: mode})
		feed.push(t, rib.Update{
			Groups: []rib.GroupChange{{ID: 1, NextHops: []rib.NextHop{{Gateway: addr("10.1.0.2"), Ifindex: l.w0}}}},
			Routes: []rib.RouteChange{
				routeChange(key("198.51.100.0/24"), static(1)),
				routeChange(key("203.0.113.0/24"), static(1)),
				routeChange(key("10.99.0.0/16"), static(1)),
			},
			Synced: true,
		})
		got := l.routes(t, "196")
		if countRoutes(got) != 3 {
			t.Errorf("mode %d: want exactly the 3 desired routes, got %q", mode, got)
		}
		for _, line := range got {
			if !strings.Contains(line, "via 10.1.0.2") || !strings.Contains(line, "metric 20") {
				t.Errorf("mode %d: wrong route %q", mode, line)
			}
		}
		wantLines(t, "foreign routes", l.routes(t, "static"), foreignBefore...)
		if n := len(l.nexthops(t)); mode == NexthopOn && n != 1 || mode == NexthopOff && n != 0 {
			t.Errorf("mode %d: nexthop objects left: %q", mode, l.nexthops(t))
		}
		_ = p
	}
}

func TestProgrammerAdoptAndFlush(t *testing.T) {
	t.Parallel()
	for _, mode := range []NexthopMode{NexthopOn, NexthopOff} {
		l := newLab(t)
		gw := rib.NextHop{Gateway: addr("10.0.0.2"), Ifindex: l.v0}
		ecmp := []rib.NextHop{gw, {Gateway: addr("10.1.0.2"), Ifindex: l.w0, Weight: 2}}
		u := func() rib.Update {
			var rs []rib.RouteChange
			for i := range 500 {
				g := rib.GroupID(1 + i%2)
				rs = append(rs, routeChange(key(fmt.Sprintf("10.%d.%d.0/24", 100+i/250, i%250)), static(g)))
			}
			rs = append(rs, routeChange(key("2001:db8:77::/48"), rib.Best{Origin: rib.OriginStatic, Kind: rib.KindBlackhole}))
			return rib.Update{Groups: []rib.GroupChange{{ID: 1, NextHops: []rib.NextHop{gw}}, {ID: 2, NextHops: ecmp}}, Routes: rs, Synced: true}
		}
		var before, objs []string
		func() {
			l2 := *l
			_, feed, _ := l2.start(t, ProgrammerConfig{Metric: 20, NexthopObjects: mode})
			feed.push(t, u())
			before, objs = l.routes(t, "196"), l.nexthops(t)
			// One daemon at a time: a running programmer re-creates
			// objects another one deletes.
			l2.stop()
		}()
		// A restart of the same table (a new programmer, the group IDs of a
		// new RIB differ) sends nothing for routes.
		loaded := -1
		p, feed, _ := l.start(t, ProgrammerConfig{Metric: 20, NexthopObjects: mode, OnLoaded: func(n int) { loaded = n }})
		up := u()
		up.Groups[0].ID, up.Groups[1].ID = 11, 12
		for i := range up.Routes {
			if up.Routes[i].Best.Kind == rib.KindUnicast {
				up.Routes[i].Best.Group += 10
			}
		}
		feed.push(t, up)
		if n := p.m.RoutesSent.Load(); n != 0 {
			t.Errorf("mode %d: restart with an unchanged table sent %d routes", mode, n)
		}
		if n := p.m.NexthopsSent.Load() + p.m.NexthopsDeleted.Load() + p.m.RoutesDeleted.Load(); n != 0 {
			t.Errorf("mode %d: restart sent %d other messages", mode, n)
		}
		if n := p.m.RoutesAdopted.Load(); n != 501 {
			t.Errorf("mode %d: adopted %d routes, want 501", mode, n)
		}
		if loaded != 501 {
			t.Errorf("mode %d: OnLoaded reported %d own routes, want 501", mode, loaded)
		}
		wantLines(t, "routes after restart", l.routes(t, "196"), before...)
		wantLines(t, "objects after restart", l.nexthops(t), objs...)
		// Flush (after Run) removes everything of ours and nothing else.
		l.ip(t, "route", "add", "100.64.0.0/10", "via", "10.1.0.2", "proto", "static")
		l.stop()
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := l.routes(t, "196"); len(got) != 0 {
			t.Errorf("mode %d: routes after Flush: %q", mode, got)
		}
		if got := l.nexthops(t); len(got) != 0 {
			t.Errorf("mode %d: objects after Flush: %q", mode, got)
		}
		if got := l.routes(t, "static"); len(got) != 1 {
			t.Errorf("mode %d: foreign route touched by Flush: %q", mode, got)
		}
		_ = unix.AF_INET
	}
}

// countRoutes counts route lines, not the "nexthop" lines of ECMP routes.
func countRoutes(lines []string) int {
	n := 0
	for _, l := range lines {
		if !strings.HasPrefix(l, "nexthop ") {
			n++
		}
	}
	return n
}
