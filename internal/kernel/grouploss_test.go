package kernel

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/rib"
)

// ribFeed is a real RIB subscription that tells when the programmer came
// back for more with nothing left (everything applied).
type ribFeed struct {
	*rib.Subscription
	mu    sync.Mutex
	armed bool
	idle  chan struct{}
}

func (f *ribFeed) Next(max int) rib.Update {
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

// settle waits until the programmer has applied everything fn changed.
func (f *ribFeed) settle(t *testing.T, fn func() error) {
	t.Helper()
	f.mu.Lock()
	f.armed = true
	f.mu.Unlock()
	if err := fn(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.idle:
	case <-time.After(20 * time.Second):
		t.Fatal("programmer did not drain the feed")
	}
}

// TestGroupLossThroughRIB: a table behind a recursive next hop loses it
// and gets it back, through a real RIB. The programmer follows group loss:
// the loss costs one nexthop deletion and no route message (with nexthop
// objects), a key with another candidate moves to it, and the restore
// brings every route back.
func TestGroupLossThroughRIB(t *testing.T) {
	for _, mode := range []NexthopMode{NexthopOn, NexthopOff} {
		t.Run(fmt.Sprint("nexthop-objects=", mode == NexthopOn), func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			r := rib.New()
			r.SetLinkUp(l.v0, true)
			conn := r.NewSource(rib.OriginConnected, "connected")
			st := r.NewSource(rib.OriginStatic, "static")
			api := r.NewSource(rib.OriginAPI, "api")
			bgp := r.NewSource(rib.OriginEBGP, "bgp")
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(conn.Apply([]rib.Route{
				{Table: rib.TableMain, Prefix: pfx("10.0.0.0/24"), NextHops: []rib.NextHop{{Ifindex: l.v0}}},
				{Table: rib.TableMain, Prefix: pfx("2001:db8::/64"), NextHops: []rib.NextHop{{Ifindex: l.v0}}},
			}, nil))
			far4, far6 := addr("192.0.2.1"), addr("2001:db8:ffff::1")
			resolvers := []rib.Route{
				{Table: rib.TableMain, Prefix: pfx("192.0.2.1/32"), Distance: 1, NextHops: []rib.NextHop{{Gateway: addr("10.0.0.2")}}},
				{Table: rib.TableMain, Prefix: pfx("2001:db8:ffff::1/128"), Distance: 1, NextHops: []rib.NextHop{{Gateway: addr("2001:db8::2")}}},
			}
			resolverKeys := []rib.Key{{Table: rib.TableMain, Prefix: resolvers[0].Prefix}, {Table: rib.TableMain, Prefix: resolvers[1].Prefix}}
			must(st.Apply(resolvers, nil))

			var p *Programmer
			if err := l.ns.Do(func() (err error) {
				p, err = NewProgrammer(ProgrammerConfig{Metric: 20, NexthopObjects: mode, Logger: testLogger()})
				return
			}); err != nil {
				t.Fatal(err)
			}
			sub, err := r.Subscribe("kernel")
			must(err)
			defer sub.Close()
			feed := &ribFeed{Subscription: sub, idle: make(chan struct{}, 1)}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			feed.settle(t, func() error {
				go func() { done <- p.Run(ctx, feed, &fakeReporter{}) }()
				return nil
			})
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
				p.Close()
			}()

			var table []rib.Route
			for i := 0; i < 200; i++ {
				table = append(table, rib.Route{Table: rib.TableMain, Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i), 0}), 24), Distance: 20, NextHops: []rib.NextHop{{Gateway: far4}}})
			}
			for i := 0; i < 50; i++ {
				table = append(table, rib.Route{Table: rib.TableMain, Prefix: netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x10, byte(i)}), 48), Distance: 20, NextHops: []rib.NextHop{{Gateway: far6}}})
			}
			alt := pfx("198.51.100.0/24")
			table = append(table, rib.Route{Table: rib.TableMain, Prefix: alt, Distance: 20, NextHops: []rib.NextHop{{Gateway: far4}}})
			feed.settle(t, func() error {
				if err := bgp.Apply(table, nil); err != nil {
					return err
				}
				return api.Apply([]rib.Route{{Table: rib.TableMain, Prefix: alt, Distance: 200, NextHops: []rib.NextHop{{Gateway: addr("10.0.0.3")}}}}, nil)
			})
			if n := countRoutes(l.routes(t, "196")); n != 253 {
				t.Fatalf("installed %d routes, want 253 (251 BGP, 2 static)", n)
			}

			m := p.Metrics()
			sent, deleted, nhDeleted := m.RoutesSent.Load(), m.RoutesDeleted.Load(), m.NexthopsDeleted.Load()
			feed.settle(t, func() error { return st.Apply(nil, resolverKeys) })
			got := l.routes(t, "196")
			if len(got) != 1 || !strings.Contains(got[0], "198.51.100.0/24") || !strings.Contains(got[0], "via 10.0.0.3") {
				t.Fatalf("after the loss, want only the alternative route, got\n%s", strings.Join(got, "\n"))
			}
			if mode == NexthopOn {
				// The two resolver routes are deleted; the table goes with
				// its two objects, the alternative replaces the BGP route.
				if d := m.RoutesDeleted.Load() - deleted; d != 2 {
					t.Errorf("loss deleted %d routes one by one, want 2", d)
				}
				if d := m.NexthopsDeleted.Load() - nhDeleted; d < 2 {
					t.Errorf("loss deleted %d nexthop objects, want at least 2", d)
				}
				if d := m.RoutesSent.Load() - sent; d != 1 {
					t.Errorf("loss sent %d routes, want 1 (the alternative)", d)
				}
			}

			sent = m.RoutesSent.Load()
			feed.settle(t, func() error { return st.Apply(resolvers, nil) })
			got = l.routes(t, "196")
			if n := countRoutes(got); n != 253 {
				t.Fatalf("after the restore, %d routes, want 253", n)
			}
			for _, line := range got {
				if strings.Contains(line, "198.51.100.0/24") && !strings.Contains(line, "10.0.0.2") {
					t.Errorf("the alternative was not replaced by the BGP route: %q", line)
				}
			}
			if d := m.RoutesSent.Load() - sent; d != 253 {
				t.Errorf("restore sent %d routes, want 253", d)
			}

			// Lose it again and withdraw the table meanwhile: nothing is
			// left behind, and nothing comes back with the next hop.
			feed.settle(t, func() error { return st.Apply(nil, resolverKeys) })
			keys := make([]rib.Key, 0, len(table))
			for _, rt := range table {
				keys = append(keys, rib.Key{Table: rt.Table, Prefix: rt.Prefix})
			}
			feed.settle(t, func() error { return bgp.Apply(nil, keys) })
			feed.settle(t, func() error { return st.Apply(resolvers, nil) })
			got = l.routes(t, "196")
			if n := countRoutes(got); n != 3 {
				t.Fatalf("after withdrawing the parked table, want the 2 resolvers and the alternative, got\n%s", strings.Join(got, "\n"))
			}
			if n := m.Installed.Load(); n != 3 {
				t.Errorf("Installed = %d, want 3", n)
			}
		})
	}
}
