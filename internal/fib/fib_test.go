package fib

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/fulltable"
	fr "github.com/routerd/routerd/pkg/fibreader"
	"golang.org/x/sys/unix"
)

// refTrie is the deliberately naive reference: a binary trie, one node per bit.
type refTrie struct{ n []refNode }

type refNode struct {
	child [2]int32
	val   Action
	has   bool
}

func newRef() *refTrie { return &refTrie{n: make([]refNode, 1, 1<<16)} }

func bitAt(k key, i int) int {
	if i < 64 {
		return int(k.hi >> (63 - i) & 1)
	}
	return int(k.lo >> (127 - i) & 1)
}

func (t *refTrie) insert(k key, l int, a Action) {
	n := int32(0)
	for i := 0; i < l; i++ {
		b := bitAt(k, i)
		if t.n[n].child[b] == 0 {
			t.n = append(t.n, refNode{})
			t.n[n].child[b] = int32(len(t.n) - 1)
		}
		n = t.n[n].child[b]
	}
	t.n[n].val, t.n[n].has = a, true
}

func (t *refTrie) remove(k key, l int) {
	n := int32(0)
	for i := 0; i < l; i++ {
		n = t.n[n].child[bitAt(k, i)]
		if n == 0 {
			return
		}
	}
	t.n[n].has = false
}

func (t *refTrie) lookup(k key, max int) (Action, int, bool) {
	var best Action
	bl, ok := 0, false
	n := int32(0)
	for i := 0; ; i++ {
		if t.n[n].has {
			best, bl, ok = t.n[n].val, i, true
		}
		if i == max {
			break
		}
		n = t.n[n].child[bitAt(k, i)]
		if n == 0 {
			break
		}
	}
	return best, bl, ok
}

// refs holds one reference trie per family.
type refs struct{ v4, v6 *refTrie }

func newRefs() refs { return refs{newRef(), newRef()} }

func (r refs) of(p netip.Prefix) *refTrie {
	if p.Addr().Is4() {
		return r.v4
	}
	return r.v6
}

func (r refs) insert(p netip.Prefix, a Action) {
	r.of(p).insert(keyOf(p.Masked().Addr()), p.Bits(), a)
}
func (r refs) remove(p netip.Prefix) { r.of(p).remove(keyOf(p.Masked().Addr()), p.Bits()) }

func (r refs) lookup(a netip.Addr) (Action, int, bool) {
	if a.Is4() {
		return r.v4.lookup(keyOf(a), 32)
	}
	return r.v6.lookup(keyOf(a), 128)
}

// check compares the FIB with the reference for addr.
func check(t testing.TB, w *Writer, tab *fr.Table, r refs, addr netip.Addr) {
	t.Helper()
	want, bits, ok := r.lookup(addr)
	got := tab.LookupAddr(addr)
	if !ok {
		if got.Kind() != fr.NoRoute {
			t.Fatalf("%v: got %v/%d, want no route", addr, got.Kind(), got.Bits())
		}
		return
	}
	if got.Kind() != want.Kind || got.Bits() != bits {
		t.Fatalf("%v: got %v/%d, want %v/%d", addr, got.Kind(), got.Bits(), want.Kind, bits)
	}
	if want.Kind == Forward {
		if slot := w.groups[want.Group]; got.Slot() != slot {
			t.Fatalf("%v: got slot %d, want %d (group %d)", addr, got.Slot(), slot, want.Group)
		}
	}
}

// checkBatch compares the batch lookups of addrs (both families mixed, and
// the IPv6 ones raw) with single lookups, which check compares with the
// reference.
func checkBatch(t testing.TB, tab *fr.Table, addrs []netip.Addr) {
	t.Helper()
	out := make([]fr.Entry, len(addrs))
	tab.LookupAddrs(addrs, out)
	var raw []fr.Addr6
	var want6 []fr.Entry
	for i, a := range addrs {
		want := tab.LookupAddr(a)
		if out[i] != want {
			t.Fatalf("%v: LookupAddrs %v/%d, LookupAddr %v/%d", a, out[i].Kind(), out[i].Bits(), want.Kind(), want.Bits())
		}
		if a.Is6() {
			b := a.As16()
			raw = append(raw, fr.Addr6{Hi: binary.BigEndian.Uint64(b[:8]), Lo: binary.BigEndian.Uint64(b[8:])})
			want6 = append(want6, want)
		}
	}
	out = out[:len(raw)]
	// The walks from the root must agree with the shortcut ones.
	no := tab.WithoutShortcuts()
	for _, tb := range []*fr.Table{tab, no} {
		tb.Lookup6Batch(raw, out)
		for i := range raw {
			if out[i] != want6[i] {
				t.Fatalf("%x %x: Lookup6Batch %v/%d, LookupAddr %v/%d", raw[i].Hi, raw[i].Lo, out[i].Kind(), out[i].Bits(), want6[i].Kind(), want6[i].Bits())
			}
			if e := tb.Lookup6(raw[i].Hi, raw[i].Lo); e != want6[i] {
				t.Fatalf("%x %x: Lookup6 %v/%d, LookupAddr %v/%d", raw[i].Hi, raw[i].Lo, e.Kind(), e.Bits(), want6[i].Kind(), want6[i].Bits())
			}
		}
	}
	for _, a := range addrs {
		if e := no.LookupAddr(a); e != tab.LookupAddr(a) {
			t.Fatalf("%v: LookupAddr without shortcuts %v/%d, with %v/%d", a, e.Kind(), e.Bits(), tab.LookupAddr(a).Kind(), tab.LookupAddr(a).Bits())
		}
	}
}

func randAction(rng *rand.Rand) Action {
	if rng.IntN(10) == 0 {
		return Action{Kind: Kind(2 + rng.IntN(3))}
	}
	return Action{Kind: Forward, Group: uint32(1 + rng.IntN(50))}
}

func randPrefix(rng *rand.Rand, v6 bool) netip.Prefix {
	if !v6 {
		l := []int{0, 8, 12, 16, 19, 20, 22, 23, 24, 24, 24, 25, 26, 28, 30, 32}[rng.IntN(16)]
		if l == 0 && rng.IntN(30) != 0 {
			l = 8 // a default route rewrites every root entry; keep it rare
		}
		// Few top bytes so that prefixes nest.
		a := netip.AddrFrom4([4]byte{byte(10 + rng.IntN(4)), byte(rng.IntN(8)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		return netip.PrefixFrom(a, l).Masked()
	}
	l := []int{0, 16, 19, 24, 29, 32, 36, 40, 44, 48, 48, 48, 56, 64, 96, 127, 128}[rng.IntN(17)]
	var b [16]byte
	b[0], b[1], b[2] = 0x20, 0x01, byte(rng.IntN(4))
	for i := 3; i < 16; i++ {
		b[i] = byte(rng.IntN(256))
	}
	if rng.IntN(2) == 0 {
		b[4] = 0
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), l).Masked()
}

// addrIn picks an address inside p.
func addrIn(rng *rand.Rand, p netip.Prefix) netip.Addr {
	k := keyOf(p.Addr())
	r := key{rng.Uint64(), rng.Uint64()}
	l := p.Bits()
	full := key{^uint64(0), ^uint64(0)}.mask(l)
	k.hi |= r.hi &^ full.hi
	k.lo |= r.lo &^ full.lo
	if p.Addr().Is4() {
		v := uint32(k.hi >> 32)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(k.hi >> (56 - 8*i))
		b[8+i] = byte(k.lo >> (56 - 8*i))
	}
	return netip.AddrFrom16(b)
}

func setGroups(t testing.TB, w *Writer, n int) {
	for g := 1; g <= n; g++ {
		if err := w.SetGroup(uint32(g), []NextHop{{Gateway: netip.AddrFrom4([4]byte{192, 0, 2, byte(g)}), Ifindex: int32(g), Weight: 1}}); err != nil {
			t.Fatal(err)
		}
	}
}

// smallOpts is a small file whose IPv6 nodes linger until the next Commit
// (so that tests see every node collapsed after a Commit).
func smallOpts() Options {
	return Options{MainRootBits: 16, Nodes: 1 << 14, GroupSlots: 1024, Linger: time.Nanosecond}
}

func TestRandomDifferential(t *testing.T) {
	bitsList := []int{24, 16, 8}
	if testing.Short() {
		bitsList = []int{16} // -short (and -race -short): one root size
	}
	for _, mainBits := range bitsList {
		rng := rand.New(rand.NewPCG(uint64(mainBits), 7))
		o := smallOpts()
		o.MainRootBits = mainBits
		// A tiny shortcut table (collisions, full probe windows, deletes
		// that shift entries back) and none at all, besides the default.
		o.Shortcuts = map[int]int{24: 0, 16: 8, 8: -1}[mainBits]
		o.Shortcuts40 = map[int]int{24: 0, 16: 4, 8: -1}[mainBits]
		w, err := Create("", o)
		if err != nil {
			t.Fatal(err)
		}
		// Root size 8 runs without node indexes: every change walks from
		// the root, as in a writer whose node pool is too large to index.
		w.indexNodes = mainBits != 8
		setGroups(t, w, 50)
		ref := newRefs()
		var live []netip.Prefix
		for i := 0; i < 3000; i++ {
			p, a := randPrefix(rng, i%3 == 0), randAction(rng)
			if err := w.Insert(MainTable, p, a); err != nil {
				t.Fatal(err)
			}
			ref.insert(p, a)
			live = append(live, p)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		tab, _ := w.Reader().Table(MainTable)
		probe := func() {
			var batch []netip.Addr
			for i := 0; i < 20000; i++ {
				a, b := addrIn(rng, live[rng.IntN(len(live))]), addrIn(rng, randPrefix(rng, i%2 == 0))
				check(t, w, tab, ref, a)
				check(t, w, tab, ref, b)
				if batch = append(batch, a, b); len(batch) >= 74 {
					checkBatch(t, tab, batch)
					batch = batch[:0]
				}
			}
			checkBatch(t, tab, batch)
		}
		probe()
		// Random deletes and re-inserts.
		for round := 0; round < 4; round++ {
			rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
			for _, p := range live[:len(live)/2] {
				err := w.Delete(MainTable, p)
				if err != nil && !isNotFound(err) {
					t.Fatal(err)
				}
				ref.remove(p)
			}
			live = live[len(live)/2:]
			for i := 0; i < 1500; i++ {
				p, a := randPrefix(rng, i%3 == 0), randAction(rng)
				if err := w.Insert(MainTable, p, a); err != nil {
					t.Fatal(err)
				}
				ref.insert(p, a)
				live = append(live, p)
			}
			w.Commit()
			probe()
			checkShortcuts(t, w)
			if n := checkNodeIndex(t, w); n == 0 && w.indexNodes {
				t.Errorf("main bits %d: no node indexed", mainBits)
			}
			checkEnds(t, w)
		}
		// Delete everything: the trie must shrink back to its roots.
		for _, p := range live {
			w.Delete(MainTable, p)
			ref.remove(p)
		}
		w.Commit()
		probe()
		if _, _, nodes := w.GroupStats(); nodes != 0 || w.comp.used != 0 {
			t.Errorf("main bits %d: %d nodes, %d compressed words live after deleting every prefix", mainBits, nodes, w.comp.used)
		}
		if a, b := w.Prefixes(); a+b != 0 {
			t.Errorf("prefix count %d+%d after deleting all", a, b)
		}
		if n := checkNodeIndex(t, w); n != 0 {
			t.Errorf("main bits %d: %d nodes indexed after deleting every prefix", mainBits, n)
		}
		w.Close()
	}
}

// checkEnds verifies every IPv6 node's count of the prefixes that end in
// it by length against the installed prefixes.
func checkEnds(t testing.TB, w *Writer) {
	t.Helper()
	c := &w.comp
	for _, tb := range w.tables {
		tr := &tb.v6
		want := map[uint32][8]uint16{}
		for i := range tr.rules.slots {
			r := &tr.rules.slots[i]
			l := leafBits(r.leaf)
			if r.leaf == 0 || uint(l) <= tr.bits {
				continue
			}
			k := tr.rules.keyOf(r)
			e, d := tr.root[k.hi>>(64-tr.bits)], tr.bits
			for ; uint(l) > d+8; d += 8 {
				e = w.nodes[(e&(1<<31-1))*fr.NodeEntries+k.byteAt(d)]
			}
			n := e & (1<<31 - 1)
			if e&(1<<31) == 0 || !w.info[n].v6 || uint(w.info[n].depth) != d {
				t.Fatalf("table %d: %x/%d has no node at depth %d", tb.id, k, l, d)
			}
			x := want[n]
			x[uint(l)-d-1]++
			want[n] = x
		}
		for n := range w.info {
			if !w.info[n].v6 || w.tables[c.slot[n]] != tb {
				continue
			}
			if got := w.info[n].ends; got != want[uint32(n)] {
				t.Fatalf("table %d node %d (depth %d): ends %v, prefixes %v", tb.id, n, w.info[n].depth, got, want[uint32(n)])
			}
		}
	}
}

// checkNodeIndex verifies that the node indexes of every IPv6 trie hold
// exactly its live nodes at their depths, each under its key, and returns
// how many they hold.
func checkNodeIndex(t testing.TB, w *Writer) int {
	t.Helper()
	c := &w.comp
	total := 0
	for _, tb := range w.tables {
		tr := &tb.v6
		for i := range tr.deep {
			x := &tr.deep[i]
			n := 0
			for _, s := range x.slots {
				if s == 0 {
					continue
				}
				n++
				key, node := s>>nodeIndexBits, uint32(s&(1<<nodeIndexBits-1))-1
				if !w.info[node].v6 || uint(w.info[node].depth) != x.depth || w.info[node].key != key || w.tables[c.slot[node]] != tb {
					t.Fatalf("table %d depth-%d index: key %#x names node %d (IPv6 %v, depth %d, key %#x)", tb.id, x.depth, key, node, w.info[node].v6, w.info[node].depth, w.info[node].key)
				}
				if got, ok := x.get(key); !ok || got != node {
					t.Fatalf("table %d depth-%d index: key %#x not found from its home", tb.id, x.depth, key)
				}
			}
			if n != x.n {
				t.Fatalf("table %d depth-%d index: %d slots used, count says %d", tb.id, x.depth, n, x.n)
			}
			live := 0
			for node := range w.info {
				if w.info[node].v6 && uint(w.info[node].depth) == x.depth && w.tables[c.slot[node]] == tb {
					live++
				}
			}
			if live != n {
				t.Fatalf("table %d depth-%d index: %d nodes indexed, %d live", tb.id, x.depth, n, live)
			}
			total += n
		}
	}
	return total
}

// checkShortcuts verifies that every entry of the shortcut tables is the
// entry the published trie holds at its depth for its key (a link, or at
// depth 32 a leaf of 25 to 32 bits), and returns how many entries there
// are at depth 32 and at depth 40.
func checkShortcuts(t testing.TB, w *Writer) (n32, n40 int) {
	t.Helper()
	c := &w.comp
	var count [2]int
	for si := range c.sc {
		s := &c.sc[si]
		for i, sw := range s.slots {
			if sw == 0 {
				continue
			}
			count[si]++
			key, link := sw&fr.ShortcutKeyMask, fr.EncodeLink(uint32(sw>>40))
			if s.depth == 32 {
				key, link = sw&fr.ShortcutKeyMask32, uint32(sw>>32)
				if link&(1<<31) == 0 && leafBits(link) <= 24 {
					t.Fatalf("depth-32 shortcut slot %d: key %#x holds the leaf of a /%d", i, key, leafBits(link))
				}
			}
			hi := key << (64 - s.depth)
			tr := w.tables[0].v6
			e := tr.pub[hi>>(64-tr.bits)]
			d := uint32(tr.bits)
			for ; d < s.depth && e&(1<<31) != 0; d += 8 {
				e = compStep(c.pool, e, uint32(hi>>(56-d)&0xff))
			}
			if d != s.depth || e != link {
				t.Fatalf("depth-%d shortcut slot %d: key %#x -> %#x, the trie has %#x at depth %d", s.depth, i, key, link, e, d)
			}
			if h := fr.ShortcutHome(key, s.bits); (uint32(i)-h)&uint32(len(s.slots)-1) >= fr.ShortcutProbes {
				t.Fatalf("depth-%d shortcut slot %d: key %#x lies beyond the probe window of its home %d", s.depth, i, key, h)
			}
		}
	}
	return count[0], count[1]
}

// leafShortcutsMissing counts the own leaves of main-table depth-24 nodes
// (prefixes of 25 to 32 bits) whose /32 lacks its leaf in the depth-32
// shortcut table, and all of them. A leaf is left out only when its
// home's probe window was full when it was set.
func leafShortcutsMissing(w *Writer) (missing, all int) {
	c := &w.comp
	s := &c.sc[0]
	if s.slots == nil {
		return 0, 0
	}
	for n := range w.info {
		r := &w.info[n]
		if !r.v6 || r.depth != 24 || c.slot[n] != 0 || c.off[n] == 0 {
			continue
		}
		for i := uint32(0); i < fr.NodeEntries; i++ {
			e := w.nodes[uint32(n)*fr.NodeEntries+i]
			if e&(1<<31) != 0 || leafBits(e) <= 24 {
				continue
			}
			all++
			if key := r.key<<8 | uint64(i); s.get(key) != fr.ShortcutSlot32(key, e) {
				missing++
			}
		}
	}
	return missing, all
}

// compStep is one step of the published walk, for tests.
func compStep(pool []uint64, e, b uint32) uint32 {
	o := e & (1<<31 - 1)
	q := b >> 6
	rank := uint32(pool[o+4]>>(16*q)&0xffff) + uint32(bits.OnesCount64(pool[o+q]&(2<<(b&63)-1))) - 1
	return uint32(pool[o+fr.CompHeaderWords+rank/2] >> (32 * (rank & 1)))
}

func isNotFound(err error) bool { return err != nil && errorsIs(err, ErrNotFound) }

func loadFullTable(t testing.TB) []netip.Prefix { return fulltable.ForTest(t) }

func TestFullTableDifferential(t *testing.T) {
	ps := loadFullTable(t)
	w, err := Create("", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	setGroups(t, w, 50)
	rng := rand.New(rand.NewPCG(1, 2))
	ref := newRefs()
	acts := make([]Action, len(ps))
	for i, p := range ps {
		acts[i] = randAction(rng)
		if err := w.Insert(MainTable, p, acts[i]); err != nil {
			t.Fatal(err)
		}
		ref.insert(p, acts[i])
	}
	w.Commit()
	tab, _ := w.Reader().Table(MainTable)
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	probe := func() {
		var batch []netip.Addr
		for i := 0; i < n; i++ {
			in := addrIn(rng, ps[rng.IntN(len(ps))])
			check(t, w, tab, ref, in)
			var a netip.Addr
			if i%2 == 0 {
				a = netip.AddrFrom4([4]byte(randBytes(rng, 4)))
			} else {
				b := [16]byte(randBytes(rng, 16))
				b[0] = 0x20 | b[0]&0x1f
				a = netip.AddrFrom16(b)
			}
			check(t, w, tab, ref, a)
			if batch = append(batch, in, a); len(batch) >= 74 {
				checkBatch(t, tab, batch)
				batch = batch[:0]
			}
		}
		checkBatch(t, tab, batch)
	}
	probe()
	if n32, n40 := checkShortcuts(t, w); n32 < 10000 || n40 < 18000 {
		t.Errorf("only %d and %d shortcuts for the full table's nodes at depths 32 and 40", n32, n40)
	}
	// A leaf is left out when its home's probe window is full (33 of
	// 59,956 with the default table).
	if missing, all := leafShortcutsMissing(w); missing > all/500 || all < 40000 {
		t.Errorf("%d of the full table's %d /32 leaves missing from the depth-32 shortcut table", missing, all)
	}
	// Withdraw and re-announce 100k random prefixes.
	idx := rng.Perm(len(ps))[:100_000]
	for _, i := range idx {
		if err := w.Delete(MainTable, ps[i]); err != nil {
			t.Fatal(err)
		}
		ref.remove(ps[i])
	}
	w.Commit()
	probe()
	checkShortcuts(t, w)
	checkNodeIndex(t, w)
	checkEnds(t, w)
	for _, i := range idx[:50_000] {
		w.Insert(MainTable, ps[i], acts[i])
		ref.insert(ps[i], acts[i])
	}
	w.Commit()
	probe()
	if n32, n40 := checkShortcuts(t, w); n32 < 5000 || n40 < 9000 {
		t.Errorf("only %d and %d shortcuts for the full table's nodes at depths 32 and 40", n32, n40)
	}
	if missing, all := leafShortcutsMissing(w); missing > all/500 {
		t.Errorf("%d of %d /32 leaves missing from the depth-32 shortcut table after churn", missing, all)
	}
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// TestDemoFile publishes the full table at $FIB_DEMO (for trying routerctl
// fib and data-plane programs by hand) and leaves it there.
func TestDemoFile(t *testing.T) {
	path := os.Getenv("FIB_DEMO")
	if path == "" {
		t.Skip("set FIB_DEMO=/dev/shm/routerd-fib to publish the full table there")
	}
	w := buildFIB(t, path, loadFullTable(t))
	w.Insert(100, netip.MustParsePrefix("10.0.0.0/8"), Action{Kind: Blackhole})
	w.Commit()
	w.Close()
}

// TestCoverInIndexedNode withdraws a /48 whose cover, a /46, is hidden
// from the sibling walk: the /48s beside it make each sibling's first
// address match a /48, so the cover search must find the /46 in the
// prefix set, which it probes only if the node at depth 40 counts a /46
// ending in it. A wrong count yields the /44 beyond.
func TestCoverInIndexedNode(t *testing.T) {
	w, err := Create("", smallOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	setGroups(t, w, 8)
	for i, p := range []string{"2001:db8::/44", "2001:db8::/46", "2001:db8::/48", "2001:db8:3::/48", "2001:db8:2::/48"} {
		if err := w.Insert(MainTable, netip.MustParsePrefix(p), Action{Kind: Forward, Group: uint32(1 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Delete(MainTable, netip.MustParsePrefix("2001:db8:2::/48")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	checkEnds(t, w)
	if got := w.Lookup(MainTable, netip.MustParseAddr("2001:db8:2::1")); got.Prefix != netip.MustParsePrefix("2001:db8::/46") {
		t.Fatalf("after the withdraw, 2001:db8:2::1 goes to %v, want 2001:db8::/46", got.Prefix)
	}
}

// TestRefusedInsertLeavesNoNodes inserts prefixes deeper than the node
// pool allows: the insert fails with ErrFull, answers stay as they were,
// and the nodes it made on the way down go back to the pool, so that a
// shallower insert still finds room.
func TestRefusedInsertLeavesNoNodes(t *testing.T) {
	w, err := Create("", Options{MainRootBits: 8, TableRootBits: 8, Nodes: 4, GroupSlots: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	setGroups(t, w, 2)
	wide := netip.MustParsePrefix("2001::/16")
	if err := w.Insert(MainTable, wide, Action{Kind: Forward, Group: 1}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"2001:db8::/64", "10.1.2.3/32"} {
		deep := netip.MustParsePrefix(p)
		if err := w.Insert(MainTable, deep, Action{Kind: Forward, Group: 2}); !errors.Is(err, ErrFull) {
			t.Fatalf("insert %v into 3 nodes: %v, want ErrFull", deep, err)
		}
		if _, _, nodes := w.GroupStats(); nodes != 1 {
			t.Fatalf("after the refused insert of %v, %d nodes in use, want 1 (the /16's)", deep, nodes)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := w.Lookup(MainTable, netip.MustParseAddr("2001:db8::1")); got.Prefix != wide {
		t.Fatalf("2001:db8::1 goes to %v, want %v", got.Prefix, wide)
	}
	if err := w.Insert(MainTable, netip.MustParsePrefix("2001:db8::/24"), Action{Kind: Forward, Group: 2}); err != nil {
		t.Fatalf("a shallower insert after the refused ones: %v", err)
	}
}

// TestManyTables fills more than 256 tables, each with its own IPv6 and
// IPv4 routes, and checks that every table answers with its own: a node
// records its table's slot, which once wrapped at 256 and sent the
// republished nodes of table 256 to the main table's root.
func TestManyTables(t *testing.T) {
	const n = 300
	w, err := Create("", Options{MaxTables: n, MainRootBits: 8, TableRootBits: 8, Nodes: 4 * n * 8, GroupSlots: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	setGroups(t, w, 50)
	id := func(i int) uint32 { return MainTable + uint32(i) }
	p6 := func(i int) netip.Prefix {
		return netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i)}), 48)
	}
	p4 := func(i int) netip.Prefix {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
	}
	for i := 0; i < n; i++ {
		a := Action{Kind: Forward, Group: uint32(1 + i%50)}
		if err := w.Insert(id(i), p6(i), a); err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(id(i), p4(i), a); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	// A second batch changes the node below each IPv6 root entry, so that
	// it is republished while the root entry itself stays: its new link
	// goes into the root of the table the node records.
	wide := netip.MustParsePrefix("2002::/16")
	for i := 0; i < n; i++ {
		if err := w.Insert(id(i), wide, Action{Kind: Blackhole}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		tab, ok := w.Reader().Table(id(i))
		if !ok {
			t.Fatalf("table %d missing", id(i))
		}
		slot := w.groups[uint32(1+i%50)]
		for _, j := range []int{i, (i + 1) % n} {
			for _, p := range []netip.Prefix{p6(j), p4(j)} {
				got := tab.LookupAddr(p.Addr().Next())
				if j == i && (got.Kind() != Forward || got.Bits() != p.Bits() || got.Slot() != slot) {
					t.Fatalf("table %d, %v: got %v/%d slot %d, want forward/%d slot %d", id(i), p, got.Kind(), got.Bits(), got.Slot(), p.Bits(), slot)
				}
				if j != i && got.Bits() == p.Bits() {
					t.Fatalf("table %d sees %v of table %d: %v/%d", id(i), p, id(j), got.Kind(), got.Bits())
				}
			}
		}
		if got := tab.LookupAddr(netip.MustParseAddr("2002::1")); got.Kind() != fr.Blackhole || got.Bits() != 16 {
			t.Fatalf("table %d, %v: got %v/%d", id(i), wide, got.Kind(), got.Bits())
		}
	}
	checkNodeIndex(t, w)
}

func TestCreateErrors(t *testing.T) {
	for _, c := range []struct {
		name, path string
		opts       Options
	}{
		{"missing directory", "/nonexistent-routerd-dir/fib", Options{}},
		{"not a directory", "/dev/null/fib", Options{}},
		{"bad options", "", Options{MainRootBits: 12}},
		{"mode without owner write", "/dev/shm/routerd-fib-test-mode", Options{FileMode: 0o444}},
		{"mode not permissions", "/dev/shm/routerd-fib-test-mode", Options{FileMode: 0o644 | fs.ModeSetuid}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, err := Create(c.path, c.opts)
			if err == nil {
				w.Close()
				t.Fatal("Create succeeded")
			}
			t.Log(err)
		})
	}
}

// TestCompWordsFollowNodes: the compressed pool's default capacity grows
// with the node pool (fib.nodes is the one capacity knob for IPv6 nodes),
// within what a shortcut slot's offset reaches.
func TestCompWordsFollowNodes(t *testing.T) {
	for _, c := range []struct{ nodes, want int }{{0, 1 << 22}, {1 << 14, 1 << 22}, {1 << 19, 1 << 23}, {1 << 22, 1 << 24}} {
		o := Options{Nodes: c.nodes}
		if err := o.fill(); err != nil {
			t.Fatal(err)
		}
		if o.CompWords != c.want {
			t.Errorf("Nodes %d: CompWords %d, want %d", c.nodes, o.CompWords, c.want)
		}
	}
}

// TestFileModeAndGroup creates the file with a group and mode, as the
// fib section's group and mode ask, and checks them on the published
// file, whatever the umask.
func TestFileModeAndGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving the file to another group needs root")
	}
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	path := fmt.Sprintf("/dev/shm/routerd-fib-test-%d", os.Getpid())
	defer os.Remove(path)
	const gid = 65534
	w, err := Create(path, Options{MainRootBits: 8, Nodes: 16, GroupSlots: 16, FileMode: 0o640, GID: gid})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o777 != 0o640 || st.Gid != gid {
		t.Fatalf("%s: mode %04o group %d, want 0640 group %d", path, st.Mode&0o777, st.Gid, gid)
	}
}

// TestChurnBeyondGrace withdraws and re-announces the same prefixes many
// times within one grace period, with pools far smaller than the memory the
// churn frees: plain IPv6 nodes must come back at once (readers never see
// them) and the rest must be released early under pressure, instead of
// Insert or Commit failing with ErrFull. Answers stay right throughout.
func TestChurnBeyondGrace(t *testing.T) {
	for _, sc := range []int{0, 4} {
		t.Run(fmt.Sprintf("shortcuts=%d", sc), func(t *testing.T) { testChurnBeyondGrace(t, sc) })
	}
}

func testChurnBeyondGrace(t *testing.T, shortcuts int) {
	rng := rand.New(rand.NewPCG(3, 3))
	o := Options{MainRootBits: 16, Nodes: 1 << 10, GroupSlots: 256, Records: 1024, CompWords: 1 << 14, Grace: time.Hour, Shortcuts: shortcuts, Shortcuts40: shortcuts}
	w, err := Create("", o)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	setGroups(t, w, 50)
	ref := newRefs()
	var ps []netip.Prefix
	for i := 0; i < 300; i++ {
		p := randPrefix(rng, i%2 == 0)
		if p.Bits() < 16 {
			continue // keep the sweep of a short prefix out of it
		}
		ps = append(ps, p)
	}
	acts := make(map[netip.Prefix]Action)
	for _, p := range ps {
		a := randAction(rng)
		if err := w.Insert(MainTable, p, a); err != nil {
			t.Fatal(err)
		}
		ref.insert(p, a)
		acts[p] = a
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	tab, _ := w.Reader().Table(MainTable)
	for round := 0; round < 200; round++ {
		rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		half := ps[:len(ps)/2]
		for _, p := range half {
			if err := w.Delete(MainTable, p); err != nil && !isNotFound(err) {
				t.Fatalf("round %d: %v", round, err)
			}
			ref.remove(p)
		}
		if round%2 == 0 {
			// Half the rounds re-announce in the same batch, so that freed
			// nodes are reused before their old copies are published away.
			if err := w.Commit(); err != nil {
				t.Fatalf("round %d: %v (used %d, next %d, free %d, quarantined %d, nodes %d)", round, err, w.comp.used, w.comp.next, w.comp.freeWords, len(w.quar), w.nodeMem.used)
			}
		}
		for _, p := range half {
			a := acts[p]
			if rng.IntN(4) == 0 {
				a = randAction(rng)
				acts[p] = a
			}
			if err := w.Insert(MainTable, p, a); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			ref.insert(p, a)
		}
		if err := w.Commit(); err != nil {
			t.Fatalf("round %d: %v (used %d, next %d, free %d, quarantined %d, nodes %d, need %d)", round, err, w.comp.used, w.comp.next, w.comp.freeWords, len(w.quar), w.nodeMem.used, w.need())
		}
		for i := 0; i < 200; i++ {
			check(t, w, tab, ref, addrIn(rng, ps[rng.IntN(len(ps))]))
		}
		checkShortcuts(t, w)
	}
	if *w.hdr64(fr.OffReclaim) == 0 {
		t.Error("nothing was released early: the test no longer exercises the pressure")
	}
}
