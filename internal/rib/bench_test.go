package rib

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"testing"

	"github.com/routerd/routerd/internal/fulltable"
)

// BenchmarkFullTable offers the full table in batches of 1000 through one
// source with eight next hops, drained by one subscriber, and reports the
// cost per route and the heap the RIB holds per route.
func BenchmarkFullTable(b *testing.B) {
	prefixes := fulltable.ForTest(b)
	gws4 := []netip.Addr{}
	gws6 := []netip.Addr{}
	for i := 1; i <= 8; i++ {
		gws4 = append(gws4, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}))
		gws6 = append(gws6, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)}))
	}
	batch := make([]Route, 0, 1000)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		r := New()
		r.SetLinkUp(1, true)
		conn := r.NewSource(OriginConnected, "connected")
		_ = conn.Apply([]Route{
			{Table: TableMain, Prefix: netip.MustParsePrefix("10.0.0.0/24"), NextHops: []NextHop{{Ifindex: 1}}},
			{Table: TableMain, Prefix: netip.MustParsePrefix("2001:db8::/64"), NextHops: []NextHop{{Ifindex: 1}}},
		}, nil)
		src := r.NewSource(OriginEBGP, "bench")
		sub, _ := r.Subscribe("consumer")
		for i, p := range prefixes {
			gw := gws4[i%8]
			if p.Addr().Is6() {
				gw = gws6[i%8]
			}
			batch = append(batch, Route{Table: TableMain, Prefix: p, Distance: 20, NextHops: []NextHop{{Gateway: gw}}})
			if len(batch) == cap(batch) || i == len(prefixes)-1 {
				if err := src.Apply(batch, nil); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
				for u := sub.Next(4096); !u.Empty(); u = sub.Next(4096) {
				}
			}
		}
		b.StopTimer()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(prefixes)), "heapB/route")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(prefixes)), "ns/route")
		runtime.KeepAlive(r)
		sub.Close()
		b.StartTimer()
	}
}

// TestConcurrentFeed applies random batches from two goroutines while a
// consumer drains; at the end, the consumer's view must equal the RIB.
func TestConcurrentFeed(t *testing.T) {
	r, _, static, api := lab(t)
	sub, err := r.Subscribe("mirror")
	must(t, err)
	defer sub.Close()
	view := map[Key]Best{}
	done := make(chan struct{})
	var consumer sync.WaitGroup
	consumer.Add(1)
	go func() {
		defer consumer.Done()
		for {
			select {
			case <-sub.C():
			case <-done:
				for u := sub.Next(64); !u.Empty(); u = sub.Next(64) {
					apply(view, u)
				}
				return
			}
			for u := sub.Next(64); !u.Empty(); u = sub.Next(64) {
				apply(view, u)
			}
		}
	}()
	var writers sync.WaitGroup
	for w, s := range []*Source{static, api} {
		writers.Add(1)
		go func() {
			defer writers.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; i < 300; i++ {
				var add []Route
				var del []Key
				for j := 0; j < 20; j++ {
					p := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(rng.IntN(8)), 0}), 24)
					if rng.IntN(3) == 0 {
						del = append(del, Key{TableMain, p})
						continue
					}
					gw := gw1
					if rng.IntN(2) == 0 {
						gw = gw2
					}
					add = append(add, Route{Table: TableMain, Prefix: p, Distance: uint8(rng.IntN(3)), NextHops: []NextHop{{Gateway: gw}}})
				}
				// A batch must not name a key twice in add; keep the last.
				seen := map[netip.Prefix]int{}
				var dedup []Route
				for _, rt := range add {
					if k, ok := seen[rt.Prefix]; ok {
						dedup[k] = rt
						continue
					}
					seen[rt.Prefix] = len(dedup)
					dedup = append(dedup, rt)
				}
				if err := s.Apply(dedup, del); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	writers.Wait()
	close(done)
	consumer.Wait()
	for _, e := range r.List(Filter{}) {
		if e.Best != view[e.Key] {
			t.Errorf("%s: consumer has %+v, RIB has %+v", e.Key, view[e.Key], e.Best)
		}
		delete(view, e.Key)
	}
	for k, b := range view {
		if b.Valid() {
			t.Errorf("%s: consumer still has a route the RIB withdrew", k)
		}
	}
}

func apply(view map[Key]Best, u Update) {
	for _, rc := range u.Routes {
		view[rc.Key] = rc.Best
	}
}

// BenchmarkNextHopLoss measures the RIB's side of a whole table losing its
// next hop and getting it back, drained by one subscriber: per-route (as the
// FIB writer, BGP and API watchers read the feed: every key withdrawn, then
// offered again) and group-loss (as the kernel programmer reads it: one
// group change each way).
func BenchmarkNextHopLoss(b *testing.B) {
	prefixes := fulltable.ForTest(b)
	for _, groupLoss := range []bool{false, true} {
		name := "per-route"
		if groupLoss {
			name = "group-loss"
		}
		b.Run(name, func(b *testing.B) {
			for n := 0; n < b.N; n++ {
				b.StopTimer()
				r := New()
				r.SetLinkUp(1, true)
				conn := r.NewSource(OriginConnected, "connected")
				connected := []Route{
					{Table: TableMain, Prefix: netip.MustParsePrefix("10.0.0.0/24"), NextHops: []NextHop{{Ifindex: 1}}},
					{Table: TableMain, Prefix: netip.MustParsePrefix("2001:db8::/64"), NextHops: []NextHop{{Ifindex: 1}}},
				}
				_ = conn.Apply(connected, nil)
				src := r.NewSource(OriginEBGP, "bench")
				batch := make([]Route, 0, len(prefixes))
				for _, p := range prefixes {
					gw := netip.MustParseAddr("10.0.0.1")
					if p.Addr().Is6() {
						gw = netip.MustParseAddr("2001:db8::1")
					}
					batch = append(batch, Route{Table: TableMain, Prefix: p, Distance: 20, NextHops: []NextHop{{Gateway: gw}}})
				}
				_ = src.Apply(batch, nil)
				sub, _ := r.Subscribe("consumer")
				if groupLoss {
					_ = sub.GroupLoss()
				}
				for u := sub.Next(1 << 14); !u.Empty(); u = sub.Next(1 << 14) {
				}
				b.StartTimer()
				_ = conn.Apply(nil, []Key{{TableMain, connected[0].Prefix}, {TableMain, connected[1].Prefix}})
				for u := sub.Next(1 << 14); !u.Empty(); u = sub.Next(1 << 14) {
				}
				_ = conn.Apply(connected, nil)
				for u := sub.Next(1 << 14); !u.Empty(); u = sub.Next(1 << 14) {
				}
				b.StopTimer()
				sub.Close()
				b.StartTimer()
			}
		})
	}
}
