package bgp

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"testing"
	"unique"

	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/config"
	"github.com/routerd/routerd/internal/rib"
)

// BenchmarkLocRIBFullTable loads 1M IPv4 prefixes from one neighbour into
// the Loc-RIB and the RIB, in batches of 500 as UPDATEs would, with 5000
// distinct attribute sets, and reports the heap per route: Loc-RIB alone
// and all in (the RIB's own entries included).
func BenchmarkLocRIBFullTable(b *testing.B) {
	b.Run("locrib", func(b *testing.B) { benchFullTable(b, false) })
	b.Run("with-rib", func(b *testing.B) { benchFullTable(b, true) })
}

func benchFullTable(b *testing.B, toRIB bool) {
	const n = 1_000_000
	for range b.N {
		b.StopTimer()
		r := rib.New()
		r.SetLinkUp(1, true)
		c := r.NewSource(rib.OriginConnected, "c")
		_ = c.Apply([]rib.Route{{Table: rib.TableMain, Prefix: netip.MustParsePrefix("10.9.0.0/24"), NextHops: []rib.NextHop{{Ifindex: 1}}}}, nil)
		cfg := &config.BGP{AS: 65001, RouterID: netip.MustParseAddr("10.9.0.1"), Table: config.TableMain}
		s := New(cfg, &config.Policy{}, Options{RIB: r, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Distances: config.DefaultDistances})
		s.slots = append(s.slots, slotInfo{used: true, ebgp: true, addr: netip.MustParseAddr("10.9.0.2")})
		attrs := make([]unique.Handle[wire.Attrs], 5000)
		for i := range attrs {
			a := wire.Attrs{Origin: wire.OriginIGP, NextHop: netip.MustParseAddr("10.9.0.2"),
				ASPath: wire.MakeASPath(wire.ASSegment{Type: wire.ASSequence, ASNs: []uint32{65002, uint32(i), 3356}})}
			a.Present = a.Present.With(wire.AttrOrigin).With(wire.AttrASPath)
			attrs[i] = unique.Make(a)
		}
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		bt := &batch{}
		b.StartTimer()
		for i := 0; i < n; i++ {
			var ip [4]byte
			binary.BigEndian.PutUint32(ip[:], uint32(i)<<8|1<<30)
			p := wire.PrefixFrom(netip.PrefixFrom(netip.AddrFrom4(ip), 24))
			s.mu.Lock()
			s.setPath(p, firstPeerSlot, attrs[i%len(attrs)], bt)
			if i%500 == 499 {
				if !toRIB {
					bt.reset()
				}
				s.flush(bt)
			}
			s.mu.Unlock()
		}
		s.mu.Lock()
		s.flush(bt)
		s.mu.Unlock()
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/n, "heapB/route")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/route")
		runtime.KeepAlive(s)
	}
}
