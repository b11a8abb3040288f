package fib

import (
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	fr "github.com/routerd/routerd/pkg/fibreader"
)

// TestRepublish churns a few IPv6 /40 regions with many small commits, so
// that the same nodes are republished over and over: leaves of /41–/48
// changing runs of a depth-40 node, longer prefixes making links to
// depth-48 and depth-56 children appear and disappear (collapses, and
// freed nodes reused at once, elsewhere or in the same place), covers
// rewriting whole nodes, and children republished in the same Commit as
// their parents. After every Commit each published copy must decode to
// its plain node's entries (links to the children's current copies) and
// its run map, and lookups must match the reference.
func TestRepublish(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 40))
	o := smallOpts()
	o.Shortcuts, o.Shortcuts40 = 64, 64
	w, ref, tab := newTestFIB(t, o)

	// Four /40s: two in one /32 (siblings under one depth-32 node), one in
	// another /32 of the same /16, one in another /16.
	regions := [][5]byte{{0x20, 0x01, 0x0d, 0xb8, 0x10}, {0x20, 0x01, 0x0d, 0xb8, 0x11}, {0x20, 0x01, 0x0d, 0xb9, 0x00}, {0x2a, 0x02, 0x00, 0x01, 0x7f}}
	// Few distinct values below the /40, so that prefixes nest and
	// collide: byte 5 (the depth-40 entry) from 8 values, bytes 6 and 7
	// from 4.
	pick := func() netip.Prefix {
		var b [16]byte
		r := regions[rng.IntN(len(regions))]
		copy(b[:], r[:])
		b[5] = byte(rng.IntN(8) * 37)
		b[6] = byte(rng.IntN(4) * 64)
		b[7] = byte(rng.IntN(4))
		b[8] = byte(rng.IntN(2))
		var l int
		switch x := rng.IntN(20); {
		case x == 0:
			l = []int{32, 36, 40}[rng.IntN(3)] // covers: whole nodes change
		case x < 12:
			l = 41 + rng.IntN(8) // runs of the depth-40 node
		default:
			l = []int{49, 52, 56, 60, 64, 72}[rng.IntN(6)] // children
		}
		return netip.PrefixFrom(netip.AddrFrom16(b), l).Masked()
	}
	live := map[netip.Prefix]bool{}
	var list []netip.Prefix
	// insert installs p in the FIB and the reference and lists it once.
	insert := func(p netip.Prefix, a Action) {
		t.Helper()
		if err := w.Insert(MainTable, p, a); err != nil {
			t.Fatal(err)
		}
		ref.insert(p, a)
		if !live[p] {
			live[p] = true
			list = append(list, p)
		}
	}
	for step := 0; step < 4000; step++ {
		// A batch of 1 to 12 changes.
		for k := 1 + rng.IntN(12); k > 0; k-- {
			if len(list) > 0 && rng.IntN(5) < 2 {
				i := rng.IntN(len(list))
				p := list[i]
				list[i] = list[len(list)-1]
				list = list[:len(list)-1]
				delete(live, p)
				if err := w.Delete(MainTable, p); err != nil {
					t.Fatal(err)
				}
				ref.remove(p)
				continue
			}
			p, a := pick(), Action{Kind: Forward, Group: uint32(1 + rng.IntN(8))}
			if rng.IntN(8) == 0 {
				a = Action{Kind: Blackhole}
			}
			insert(p, a)
		}
		if rng.IntN(4) == 0 && len(list) > 0 {
			// A child and its parent in the same Commit: a change below
			// /48 and one of the /41–/48 run beside it.
			p := list[rng.IntN(len(list))]
			if p.Bits() > 48 {
				q := netip.PrefixFrom(p.Addr(), 44+rng.IntN(5)).Masked()
				a := Action{Kind: Forward, Group: uint32(1 + rng.IntN(8))}
				insert(q, a)
				insert(p, Action{Kind: Forward, Group: uint32(1 + rng.IntN(8))})
			}
		}
		commitChecked(t, w)
		for i := 0; i < 40; i++ {
			var a netip.Addr
			if i%2 == 0 && len(list) > 0 {
				a = addrIn(rng, list[rng.IntN(len(list))])
			} else {
				a = addrIn(rng, pick())
			}
			check(t, w, tab, ref, a)
		}
	}
	if testing.Verbose() {
		_, _, nodes := w.GroupStats()
		t.Logf("%d prefixes live, %d nodes", len(list), nodes)
	}
	// Everything withdrawn: every node and copy goes back.
	for _, p := range list {
		if err := w.Delete(MainTable, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, _, nodes := w.GroupStats(); nodes != 0 || w.comp.used != 0 {
		t.Errorf("%d nodes, %d compressed words live after deleting every prefix", nodes, w.comp.used)
	}
}

// checkCopies verifies that the published copy of every IPv6 node holds
// its plain node's entries, links as the children's current copies, and
// that its run map matches the entries.
func checkCopies(t testing.TB, w *Writer) {
	t.Helper()
	c := &w.comp
	for n := range w.info {
		if !w.info[n].v6 {
			continue
		}
		if w.info[n].dmark {
			t.Fatalf("node %d still marked after Commit", n)
		}
		o := c.off[n]
		if o == 0 {
			t.Fatalf("IPv6 node %d has no published copy after Commit", n)
		}
		plain := w.nodes[n*fr.NodeEntries : (n+1)*fr.NodeEntries]
		var runs [4]uint64
		for b := range plain {
			if b == 0 || plain[b] != plain[b-1] {
				runs[b>>6] |= 1 << (b & 63)
			}
			want := w.publishEntry(plain[b])
			if got := compStep(c.pool, fr.EncodeLink(o), uint32(b)); got != want {
				t.Fatalf("node %d (depth %d) entry %d: published %#x, plain %#x (published form %#x)", n, w.info[n].depth, b, got, plain[b], want)
			}
		}
		if w.info[n].m != runs {
			t.Fatalf("node %d: run map %x, from the entries %x", n, w.info[n].m, runs)
		}
		// The copy may have more run starts than the entries (see
		// setRuns), never fewer, and no more than copyDue allows.
		for q := range runs {
			if runs[q]&^c.pool[o+uint32(q)] != 0 {
				t.Fatalf("node %d: copy's run map %x lacks run starts of %x", n, c.pool[o:o+4], runs)
			}
		}
		extra := 0
		for q := range runs {
			extra += bits.OnesCount64(c.pool[o+uint32(q)] &^ runs[q])
		}
		if extra != int(w.info[n].extra) {
			t.Fatalf("node %d: copy has %d run starts the entries lack, its record says %d", n, extra, w.info[n].extra)
		}
		if w.copyDue(uint32(n)) {
			t.Fatalf("node %d: copy %x left with too many runs for the entries' %x", n, c.pool[o:o+4], runs)
		}
	}
}

// TestPatchRuns checks that a /48 withdrawn from a /40 of many and
// announced again is patched into the node's published copy, which stays
// where it is (with a run of the cover's value left where the /48 was),
// and that a copy left with more such runs than copyDue allows is
// compacted at the next Commit.
func TestPatchRuns(t *testing.T) {
	w, ref, tab := newTestFIB(t, smallOpts())
	insert := func(p netip.Prefix, g uint32) {
		t.Helper()
		if err := w.Insert(MainTable, p, Action{Kind: Forward, Group: g}); err != nil {
			t.Fatal(err)
		}
		ref.insert(p, Action{Kind: Forward, Group: g})
	}
	// 2001:db8:1000::/40 and 40 of its /48s, none beside another: 80 runs.
	slash48 := func(i int) netip.Prefix {
		return netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x10, byte(2 * i)}), 48)
	}
	insert(netip.MustParsePrefix("2001:db8:1000::/40"), 1)
	for i := range 40 {
		insert(slash48(i), uint32(2+i%3))
	}
	rng := rand.New(rand.NewPCG(4, 8))
	commit := func() {
		t.Helper()
		commitChecked(t, w)
		for i := range 40 {
			check(t, w, tab, ref, addrIn(rng, slash48(i)))
			check(t, w, tab, ref, addrIn(rng, netip.MustParsePrefix("2001:db8:1000::/40")))
		}
	}
	commit()
	n, ok := w.tables[0].v6.indexOf(40).get(0x20010db810)
	if !ok {
		t.Fatal("no indexed node for 2001:db8:1000::/40")
	}
	off := w.comp.off[n]
	runsOf := func() (runs, copyRuns int) {
		for q := range 4 {
			runs += bits.OnesCount64(w.info[n].m[q])
			copyRuns += bits.OnesCount64(w.comp.pool[w.comp.off[n]+uint32(q)])
		}
		return runs, copyRuns
	}
	// Withdrawn and announced again: patched both times.
	for _, del := range []bool{true, false} {
		if del {
			if err := w.Delete(MainTable, slash48(7)); err != nil {
				t.Fatal(err)
			}
			ref.remove(slash48(7))
		} else {
			insert(slash48(7), 4)
		}
		commit()
		if got := w.comp.off[n]; got != off {
			t.Fatalf("delete %v: the node got a new copy (%d, was %d), want its change patched", del, got, off)
		}
	}
	// Each withdrawal merges a /48's run into the cover's runs beside it:
	// 80 - 2k runs in the entries, 80 in the copy, which is compacted when
	// the extra 2k exceed the rest (the 21st).
	for k := 1; k <= 21; k++ {
		if err := w.Delete(MainTable, slash48(k)); err != nil {
			t.Fatal(err)
		}
		ref.remove(slash48(k))
		commit()
		runs, copyRuns := runsOf()
		if k < 21 && (w.comp.off[n] != off || copyRuns != 80 || runs != 80-2*k) {
			t.Fatalf("%d /48s withdrawn: copy at %d (was %d) with %d runs for %d, want it patched", k, w.comp.off[n], off, copyRuns, runs)
		}
		if k == 21 && (w.comp.off[n] == off || copyRuns != runs) {
			t.Fatalf("%d /48s withdrawn: copy at %d (was %d) with %d runs for %d, want a compact new copy", k, w.comp.off[n], off, copyRuns, runs)
		}
	}
}

// TestLinger checks that a /40's node emptied by the withdrawal of its only
// /48 stays linked, with its published copy, while it lingers: the /48's
// return is a store into the same copy. Once the linger period is over,
// the next Commit collapses it and lookups fall back to the /32.
func TestLinger(t *testing.T) {
	o := smallOpts()
	o.Linger = time.Hour
	w, ref, tab := newTestFIB(t, o)
	p32, p48 := netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("2001:db8:1000::/48")
	rng := rand.New(rand.NewPCG(1, 2))
	change := func(p netip.Prefix, g uint32) {
		t.Helper()
		if g == 0 {
			if err := w.Delete(MainTable, p); err != nil {
				t.Fatal(err)
			}
			ref.remove(p)
		} else {
			if err := w.Insert(MainTable, p, Action{Kind: Forward, Group: g}); err != nil {
				t.Fatal(err)
			}
			ref.insert(p, Action{Kind: Forward, Group: g})
		}
		commitChecked(t, w)
		checkNodeIndex(t, w)
		for range 20 {
			check(t, w, tab, ref, addrIn(rng, p48))
			check(t, w, tab, ref, addrIn(rng, p32))
		}
	}
	change(p32, 1)
	change(p48, 2)
	x := w.tables[0].v6.indexOf(40)
	n, ok := x.get(0x20010db810)
	if !ok {
		t.Fatal("no node for 2001:db8:1000::/40")
	}
	off := w.comp.off[n]
	_, _, nodes := w.GroupStats()
	for _, g := range []uint32{0, 3, 0} {
		change(p48, g)
		if m, ok := x.get(0x20010db810); !ok || m != n || w.comp.off[n] != off {
			t.Fatalf("after changing the /48 to group %d: node %d (indexed %v) copy %d, want node %d with copy %d", g, m, ok, w.comp.off[n], n, off)
		}
		if _, _, k := w.GroupStats(); k != nodes {
			t.Fatalf("%d nodes, want %d while the /40's node lingers", k, nodes)
		}
	}
	// The linger period over: the next Commit collapses the node and its
	// parents that held nothing else.
	w.opts.Linger = time.Nanosecond
	change(p32, 4)
	if _, ok := x.get(0x20010db810); ok {
		t.Fatal("the /40's node is still indexed after its linger period")
	}
	if _, _, k := w.GroupStats(); k >= nodes {
		t.Fatalf("%d nodes after the collapse, want fewer than %d", k, nodes)
	}
	if len(w.idle) != 0 {
		t.Fatalf("%d nodes still listed as lingering", len(w.idle))
	}
}

// newTestFIB makes an in-process FIB with options o and groups 1 to 8,
// closed when the test ends, with an empty reference and the main table's
// reader.
func newTestFIB(t *testing.T, o Options) (*Writer, refs, *fr.Table) {
	t.Helper()
	w, err := Create("", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	setGroups(t, w, 8)
	tab, _ := w.Reader().Table(MainTable)
	return w, newRefs(), tab
}

// TestLingerPoolLow checks that nodes lingering within a batch do not
// starve the inserts after them: when the node pool runs low, an insert
// collapses the idle nodes first (between changes, where no walk is
// under way).
func TestLingerPoolLow(t *testing.T) {
	o := smallOpts()
	o.Nodes, o.Linger = 64, time.Hour
	w, ref, tab := newTestFIB(t, o)
	rng := rand.New(rand.NewPCG(6, 4))
	// Each /48 in a /16 of its own takes nodes at depths 16, 24, 32 and
	// 40, which linger once it is withdrawn: 16 such flaps fill the pool.
	for i := range 100 {
		p := netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, byte(i), 0x0d, 0xb8, 0x10, 0x01}), 48)
		a := Action{Kind: Forward, Group: uint32(1 + i%8)}
		if err := w.Insert(MainTable, p, a); err != nil {
			t.Fatalf("flap %d: %v", i, err)
		}
		if err := w.Delete(MainTable, p); err != nil {
			t.Fatalf("flap %d: %v", i, err)
		}
	}
	last := netip.MustParsePrefix("2001:db8:1001::/48")
	if err := w.Insert(MainTable, last, Action{Kind: Forward, Group: 3}); err != nil {
		t.Fatal(err)
	}
	ref.insert(last, Action{Kind: Forward, Group: 3})
	commitChecked(t, w)
	checkNodeIndex(t, w)
	for range 100 {
		check(t, w, tab, ref, addrIn(rng, last))
		check(t, w, tab, ref, addrIn(rng, netip.MustParsePrefix("2000::/8")))
	}
}

// commitChecked commits w's batch and checks every published copy against
// its plain node (checkCopies).
func commitChecked(t *testing.T, w *Writer) {
	t.Helper()
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	checkCopies(t, w)
}
