package wire

import (
	"math/rand"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"unique"

	"github.com/routerd/routerd/internal/fulltable"
)

// fullTable is a full Internet table announced as a realistic UPDATE
// stream: runs of 1-12 consecutive prefixes (as a peer's table walk
// produces them) share one of 4000 attribute sets, picked with a Zipf
// distribution so that a few sets carry many routes.
type fullTable struct {
	prefixes []Prefix
	sets     []Attrs // IPv4 next hop
	sets6    []Attrs // the same with an IPv6 next hop
	runs     []tableRun
	stream   []byte
	msgs     int
}

type tableRun struct {
	set int
	ps  []Prefix
}

var (
	tableOnce sync.Once
	table     *fullTable
	tableErr  error
)

func loadFullTable(tb testing.TB) *fullTable {
	tb.Helper()
	tableOnce.Do(func() { table, tableErr = buildFullTable() })
	if tableErr != nil {
		tb.Skipf("full table unavailable: %v", tableErr)
	}
	return table
}

func buildFullTable() (*fullTable, error) {
	path, err := fulltable.Path()
	if err != nil {
		return nil, err
	}
	ps, err := fulltable.Load(path, 0)
	if err != nil {
		return nil, err
	}
	t := &fullTable{}
	for _, p := range ps {
		t.prefixes = append(t.prefixes, PrefixFrom(p))
	}
	r := rand.New(rand.NewSource(1))
	const nsets = 4000
	pool := make([]uint32, 3000)
	for i := range pool {
		if i%4 == 0 {
			pool[i] = 131072 + uint32(r.Intn(300000)) // 4-octet ASes
		} else {
			pool[i] = 1 + uint32(r.Intn(64000))
		}
	}
	for i := 0; i < nsets; i++ {
		path := []uint32{64500}
		for n := 1 + r.Intn(6); n > 0; n-- {
			path = append(path, pool[r.Intn(len(pool))])
		}
		a := Attrs{
			Present: AttrMask(0).With(AttrOrigin).With(AttrASPath),
			Origin:  Origin(r.Intn(3) / 2 * 2), // mostly IGP, some INCOMPLETE
			ASPath:  MakeASPath(ASSegment{ASSequence, path}),
			NextHop: netip.MustParseAddr("192.0.2.1"),
		}
		if r.Intn(3) == 0 {
			a.Present = a.Present.With(AttrMED)
			a.MED = uint32(r.Intn(1000))
		}
		var cs []Community
		for n := r.Intn(7); n > 0; n-- {
			cs = append(cs, Community(64500<<16|r.Intn(3000)))
		}
		a.Communities = MakeCommunities(cs...)
		if r.Intn(4) == 0 {
			a.LargeCommunities = MakeLargeCommunities(LargeCommunity{64500, 1, uint32(r.Intn(100))})
		}
		t.sets = append(t.sets, a)
		a.NextHop, a.LinkLocal = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::1")
		t.sets6 = append(t.sets6, a)
	}
	zipf := rand.NewZipf(r, 1.2, 8, nsets-1)
	for i := 0; i < len(t.prefixes); {
		k := 1 + r.Intn(12)
		j := i
		for j < len(t.prefixes) && j-i < k && t.prefixes[j].Is6() == t.prefixes[i].Is6() {
			j++
		}
		t.runs = append(t.runs, tableRun{set: int(zipf.Uint64()), ps: t.prefixes[i:j]})
		i = j
	}
	e := NewEncoder(benchOpts)
	for _, run := range t.runs {
		a := &t.sets[run.set]
		if run.ps[0].Is6() {
			a = &t.sets6[run.set]
		}
		if t.stream, err = e.AppendAnnounce(t.stream, a, run.ps); err != nil {
			return nil, err
		}
		t.msgs++
	}
	return t, nil
}

var benchOpts = Options{AS4: true, EBGP: true, Families: FamIPv4Unicast | FamIPv6Unicast}

// TestFullTable checks, on the real table, that every prefix comes back
// from the decoder with its attribute set, and that routes share the
// interned attributes.
func TestFullTable(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	ft := loadFullTable(t)
	ann, _, n := decodeStream(t, NewDecoder(benchOpts), ft.stream)
	if n != ft.msgs || len(ann) != len(ft.prefixes) {
		t.Fatalf("%d messages (want %d), %d prefixes (want %d)", n, ft.msgs, len(ann), len(ft.prefixes))
	}
	for _, run := range ft.runs {
		want := ft.sets[run.set]
		if run.ps[0].Is6() {
			want = ft.sets6[run.set]
		}
		for _, p := range run.ps {
			if ann[p] != want {
				t.Fatalf("%v: %+v, want %+v", p, ann[p], want)
			}
		}
	}
	handles := map[unique.Handle[Attrs]]bool{}
	d := NewDecoder(benchOpts)
	var u Update
	for _, m := range splitMessages(t, ft.stream, MaxMessageLen) {
		d.DecodeUpdate(m[HeaderLen:], &u)
		handles[u.Attrs], handles[u.MPAttrs] = true, true
	}
	t.Logf("%d prefixes in %d UPDATEs (%d bytes), %d distinct interned attribute sets",
		len(ft.prefixes), ft.msgs, len(ft.stream), len(handles)-1)
}

// benchDecode decodes the whole table stream per iteration; a fresh
// Decoder each time (cold attribute cache) unless warm.
func benchDecode(b *testing.B, warm bool) {
	ft := loadFullTable(b)
	msgs := splitMessages(b, ft.stream, MaxMessageLen)
	d := NewDecoder(benchOpts)
	var u Update
	if warm {
		// Room for all the table's sets, decoded once before timing.
		d.SetCacheSize(1 << 14)
		for _, m := range msgs {
			d.DecodeUpdate(m[HeaderLen:], &u)
		}
	}
	var ms0, ms1 runtime.MemStats
	b.ResetTimer()
	runtime.ReadMemStats(&ms0)
	for b.Loop() {
		if !warm {
			d = NewDecoder(benchOpts)
		}
		for _, m := range msgs {
			if _, err := ParseHeader(m, MaxMessageLen); err != nil {
				b.Fatal(err)
			}
			if err := d.DecodeUpdate(m[HeaderLen:], &u); err != nil {
				b.Fatal(err)
			}
		}
	}
	runtime.ReadMemStats(&ms1)
	n := float64(b.N) * float64(len(ft.prefixes))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/prefix")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/n, "allocs/prefix")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(b.N)/float64(len(msgs)), "allocs/update")
}

// BenchmarkDecodeFullTable decodes 1,062,046 prefixes in ~180k UPDATEs as
// a new session does (empty attribute cache).
func BenchmarkDecodeFullTable(b *testing.B) { benchDecode(b, false) }

// BenchmarkDecodeFullTableWarm is the same with the session's attribute
// cache large enough for, and already holding, the table's attribute sets
// (a route refresh): the steady state, with no allocation at all.
func BenchmarkDecodeFullTableWarm(b *testing.B) { benchDecode(b, true) }

// BenchmarkEncodeFullTable encodes the table in the same runs as the
// stream the decoder reads: many small UPDATEs.
func BenchmarkEncodeFullTable(b *testing.B) {
	ft := loadFullTable(b)
	e := NewEncoder(benchOpts)
	buf := make([]byte, 0, len(ft.stream)+MaxMessageLen)
	var err error
	for b.Loop() {
		buf = buf[:0]
		for _, run := range ft.runs {
			a := &ft.sets[run.set]
			if run.ps[0].Is6() {
				a = &ft.sets6[run.set]
			}
			if buf, err = e.AppendAnnounce(buf, a, run.ps); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ft.prefixes)), "ns/prefix")
}

// BenchmarkEncodePacked encodes the table grouped by attribute set, as an
// adj-RIB-out does: each set's prefixes packed into as few UPDATEs as fit.
func BenchmarkEncodePacked(b *testing.B) {
	ft := loadFullTable(b)
	groups := make([][]Prefix, 2*len(ft.sets))
	for _, run := range ft.runs {
		g := 2 * run.set
		if run.ps[0].Is6() {
			g++
		}
		groups[g] = append(groups[g], run.ps...)
	}
	e := NewEncoder(benchOpts)
	buf := make([]byte, 0, len(ft.stream)+MaxMessageLen)
	msgs := 0
	var err error
	for b.Loop() {
		buf = buf[:0]
		for g, ps := range groups {
			a := &ft.sets[g/2]
			if g%2 == 1 {
				a = &ft.sets6[g/2]
			}
			if buf, err = e.AppendAnnounce(buf, a, ps); err != nil {
				b.Fatal(err)
			}
		}
	}
	for r := buf; len(r) > 0; msgs++ {
		h, _ := ParseHeader(r, MaxMessageLen)
		r = r[h.Length:]
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ft.prefixes)), "ns/prefix")
	b.ReportMetric(float64(msgs), "updates")
	b.ReportMetric(float64(len(ft.prefixes))/float64(msgs), "prefixes/update")
}

// BenchmarkDecodePacked decodes the packed stream (full UPDATEs).
func BenchmarkDecodePacked(b *testing.B) {
	ft := loadFullTable(b)
	e := NewEncoder(benchOpts)
	var stream []byte
	groups := map[int][]Prefix{}
	for _, run := range ft.runs {
		g := 2 * run.set
		if run.ps[0].Is6() {
			g++
		}
		groups[g] = append(groups[g], run.ps...)
	}
	for g, ps := range groups {
		a := &ft.sets[g/2]
		if g%2 == 1 {
			a = &ft.sets6[g/2]
		}
		stream, _ = e.AppendAnnounce(stream, a, ps)
	}
	msgs := splitMessages(b, stream, MaxMessageLen)
	var u Update
	for b.Loop() {
		d := NewDecoder(benchOpts)
		for _, m := range msgs {
			if err := d.DecodeUpdate(m[HeaderLen:], &u); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ft.prefixes)), "ns/prefix")
}
