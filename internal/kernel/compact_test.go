package kernel

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/routerd/routerd/internal/rib"
)

func TestPrefixMap(t *testing.T) {
	var m prefixMap[entry]
	keys := []rib.Key{
		key("10.0.0.0/8"), key("10.0.0.0/16"), key("192.0.2.0/24"),
		key("2001:db8::/32"), key("2001:db8::/48"), key("::/0"), key("0.0.0.0/0"),
		{Table: 100, Prefix: pfx("10.0.0.0/8")}, {Table: 1000, Prefix: pfx("2001:db8::/32")},
	}
	for i, k := range keys {
		m.set(k, mkEntry(rib.GroupID(1<<31+i), rib.KindUnicast, i%2 == 0))
	}
	check := func(what string) {
		t.Helper()
		if m.len() != len(keys) {
			t.Fatalf("%s: len %d, want %d", what, m.len(), len(keys))
		}
		for i, k := range keys {
			e, ok := m.get(k)
			if !ok || e.gid() != rib.GroupID(1<<31+i) || e.kind() != rib.KindUnicast || e.installed() != (i%2 == 0) {
				t.Fatalf("%s: %v = %v %v", what, k, e, ok)
			}
		}
		seen := 0
		for k, e := range m.all() {
			seen++
			if g, _ := m.get(k); g != *e {
				t.Fatalf("%s: all gave %v = %v, get %v", what, k, *e, g)
			}
		}
		if seen != len(keys) {
			t.Fatalf("%s: all gave %d keys", what, seen)
		}
	}
	check("set")
	m.set(key("198.51.100.0/24"), entry{})
	m.del(key("198.51.100.0/24"))
	m.del(key("203.0.113.0/24")) // absent
	m.del(rib.Key{Table: 7, Prefix: pfx("10.0.0.0/8")})
	check("changed")
	for _, k := range keys {
		m.del(k)
	}
	if m.len() != 0 {
		t.Fatalf("emptied: len %d", m.len())
	}
	for _, kind := range []rib.Kind{rib.KindUnicast, rib.KindBlackhole, rib.KindUnreachable, rib.KindProhibit} {
		for _, inst := range []bool{false, true} {
			e := mkEntry(0xfffffffe, kind, inst)
			if e.gid() != 0xfffffffe || e.kind() != kind || e.installed() != inst {
				t.Fatalf("mkEntry(%v, %v) = %v", kind, inst, e)
			}
		}
	}
}

func TestPendList(t *testing.T) {
	var l pendList
	for round := range 3 {
		n := pendChunk*(pendKeep+2) + round
		for i := range n {
			l.push(pending{aux: uint32(i), op: opNexthop})
		}
		if l.len() != n {
			t.Fatalf("len %d, want %d", l.len(), n)
		}
		for i := range n {
			if pd := l.at(i); pd.id() != uint32(i) {
				t.Fatalf("at(%d) = %d", i, pd.id())
			}
		}
		l.reset()
		if l.len() != 0 || len(l.chunks) != pendKeep {
			t.Fatalf("reset: len %d, %d chunks", l.len(), len(l.chunks))
		}
	}
	var b batch
	b.pend.push(pending{})
	k := rib.Key{Table: 1000, Prefix: pfx("2001:db8:1:2::/64")}
	mk := mkey(k.Prefix)
	pd := pending{hi: mk.Hi, lo: mk.Lo, bits: mk.Bits, v6: mk.V6, aux: uint32(k.Table), op: opRoute}
	if got := pd.routeKey(); got != k {
		t.Fatalf("routeKey %v, want %v", got, k)
	}
}

// TestProgrammerCompact packs the programmer's state while Run applies
// updates (the daemon's trimmer calls Compact from its own goroutine), and
// checks that the routes then move, fail, recover and go as before.
func TestProgrammerCompact(t *testing.T) {
	t.Parallel()
	for _, mode := range []NexthopMode{NexthopOn, NexthopOff} {
		t.Run(fmt.Sprint("nexthop-objects=", mode == NexthopOn), func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			p, feed, rep := l.start(t, ProgrammerConfig{Metric: 20, NexthopObjects: mode, MaxChanges: 100})
			gw4 := rib.NextHop{Gateway: addr("10.0.0.2"), Ifindex: l.v0}
			gw6 := rib.NextHop{Gateway: addr("2001:db8::2"), Ifindex: l.v0}
			gwW := rib.NextHop{Gateway: addr("10.1.0.2"), Ifindex: l.w0}
			var keys []rib.Key
			for i := range 600 {
				keys = append(keys, key(fmt.Sprintf("10.%d.%d.0/24", 100+i/200, i%200)))
			}
			for i := range 300 {
				keys = append(keys, rib.Key{Table: 100, Prefix: netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x40, byte(i >> 8), byte(i)}), 56)})
			}
			group := func(k rib.Key) rib.GroupID {
				if k.Prefix.Addr().Is4() {
					return 1
				}
				return 2
			}
			var us []rib.Update
			us = append(us, rib.Update{Groups: []rib.GroupChange{{ID: 1, NextHops: []rib.NextHop{gw4}}, {ID: 2, NextHops: []rib.NextHop{gw6}}}})
			for i := 0; i < len(keys); i += 100 {
				var rs []rib.RouteChange
				for _, k := range keys[i : i+100] {
					rs = append(rs, routeChange(k, static(group(k))))
				}
				us = append(us, rib.Update{Routes: rs})
			}
			us[len(us)-1].Synced = true

			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
						p.Compact()
					}
				}
			}()
			feed.push(t, us...)
			close(stop)
			wg.Wait()
			p.Compact()
			if n := countRoutes(l.routes(t, "196")); n != len(keys) {
				t.Fatalf("after install and compaction: %d routes, want %d", n, len(keys))
			}
			if v := p.m.Installed.Load(); v != int64(len(keys)) {
				t.Fatalf("Installed = %d", v)
			}

			// The table moves with its group, and comes back after a loss.
			feed.push(t, rib.Update{Groups: []rib.GroupChange{{ID: 1, NextHops: []rib.NextHop{gwW}}}})
			p.Compact()
			if s := l.ip(t, "route", "show", "10.101.7.0/24"); !strings.Contains(s, "via 10.1.0.2") {
				t.Fatalf("moved: %q", s)
			}
			feed.push(t, rib.Update{Groups: []rib.GroupChange{{ID: 1}}})
			p.Compact()
			if n := countRoutes(l.routes(t, "196")); n != 300 {
				t.Fatalf("after loss: %d routes, want 300", n)
			}
			feed.push(t, rib.Update{Groups: []rib.GroupChange{{ID: 1, NextHops: []rib.NextHop{gw4}}}})
			p.Compact()
			if n := countRoutes(l.routes(t, "196")); n != len(keys) {
				t.Fatalf("after restore: %d routes, want %d", n, len(keys))
			}

			// A rejected route is reported, and its recovery too.
			bad := key("10.200.0.0/24")
			feed.push(t, rib.Update{Groups: []rib.GroupChange{{ID: 9, NextHops: []rib.NextHop{{Gateway: addr("10.9.9.9"), Ifindex: l.v0}}}},
				Routes: []rib.RouteChange{routeChange(bad, static(9))}})
			p.Compact()
			if rep.get(bad) == nil || p.InstallFailures() != 1 {
				t.Fatalf("rejected route not reported: %v, %d failures", rep.get(bad), p.InstallFailures())
			}
			feed.push(t, rib.Update{Routes: []rib.RouteChange{routeChange(bad, static(1))}})
			if rep.get(bad) != nil || p.InstallFailures() != 0 {
				t.Fatalf("recovered route still failed: %v, %d failures", rep.get(bad), p.InstallFailures())
			}

			// Everything withdrawn.
			var rs []rib.RouteChange
			for _, k := range append(keys, bad) {
				rs = append(rs, routeChange(k, rib.Best{}))
			}
			feed.push(t, rib.Update{Routes: rs})
			p.Compact()
			if n := countRoutes(l.routes(t, "196")); n != 0 {
				t.Fatalf("after withdrawal: %d routes", n)
			}
			if v := p.m.Installed.Load(); v != 0 {
				t.Fatalf("Installed = %d", v)
			}
		})
	}
}
