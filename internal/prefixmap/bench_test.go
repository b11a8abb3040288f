package prefixmap

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/routerd/routerd/internal/fulltable"
)

// value is the size of the RIB's and the Loc-RIB's per-prefix state.
type value struct{ a, b, c, d uint64 }

func fullKeys(b *testing.B, shuffle bool) []Key {
	ps := fulltable.ForTest(b)
	keys := make([]Key, len(ps))
	for i, p := range ps {
		keys[i] = From(p)
	}
	if shuffle {
		rand.New(rand.NewPCG(1, 1)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	}
	return keys
}

func heap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkFullTable inserts the full table (in the file's order, which is
// address order, and shuffled) into a Map and, for comparison, into Go
// maps keyed the way the RIB keyed them before (IPv4 as a uint64, IPv6 as
// Key), then looks every prefix up again.
func BenchmarkFullTable(b *testing.B) {
	for _, order := range []string{"sorted", "shuffled"} {
		keys := fullKeys(b, order == "shuffled")
		b.Run("prefixmap/"+order, func(b *testing.B) {
			for b.Loop() {
				before := heap()
				var m Map[value]
				for _, k := range keys {
					p, _ := m.Entry(k)
					p.a = 1
				}
				b.ReportMetric(float64(heap()-before)/float64(len(keys)), "heapB/prefix")
				for _, k := range keys {
					if m.Ptr(k) == nil {
						b.Fatal("lost", k)
					}
				}
				runtime.KeepAlive(&m)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(keys)), "ns/prefix")
		})
		b.Run("gomap/"+order, func(b *testing.B) {
			for b.Loop() {
				before := heap()
				m4, m6 := map[uint64]value{}, map[Key]value{}
				for _, k := range keys {
					if k.V6 {
						m6[k] = value{a: 1}
					} else {
						m4[k.Hi>>24|uint64(k.Bits)] = value{a: 1}
					}
				}
				b.ReportMetric(float64(heap()-before)/float64(len(keys)), "heapB/prefix")
				for _, k := range keys {
					var ok bool
					if k.V6 {
						_, ok = m6[k]
					} else {
						_, ok = m4[k.Hi>>24|uint64(k.Bits)]
					}
					if !ok {
						b.Fatal("lost", k)
					}
				}
				runtime.KeepAlive(m4)
				runtime.KeepAlive(m6)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(keys)), "ns/prefix")
		})
	}
}

// BenchmarkUpdates inserts the full table the way bench/bgp's tester
// sends it: every prefix gets one of 5000 attribute sets (a skewed
// choice, in runs of 1-6 neighbouring prefixes), and each set's prefixes
// go out together in address order, about 110 per UPDATE; so the table
// arrives as a series of sparse ascending sweeps over the address space,
// each putting a few keys into the middle of many leaves.
func BenchmarkUpdates(b *testing.B) {
	keys := fullKeys(b, false)
	r := rand.New(rand.NewPCG(1, 7))
	z := rand.NewZipf(r, 1.2, 8, 4999)
	groups := make([][]Key, 5000)
	var order []int
	for i := 0; i < len(keys); {
		run := 1 + r.IntN(6)
		s := int(z.Uint64())
		if groups[s] == nil {
			order = append(order, s)
		}
		for ; run > 0 && i < len(keys); run-- {
			groups[s] = append(groups[s], keys[i])
			i++
		}
	}
	var sweep []Key
	for _, s := range order {
		sweep = append(sweep, groups[s]...)
	}
	for b.Loop() {
		var m Map[[20]byte]
		for _, k := range sweep {
			p, _ := m.Entry(k)
			p[0] = 1
		}
		if m.Len() != len(keys) {
			b.Fatal("lost keys")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(keys)), "ns/prefix")
}
