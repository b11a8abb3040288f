package fib

import (
	"fmt"
	"math/bits"
	"sync/atomic"
	"unsafe"

	fr "github.com/routerd/routerd/pkg/fibreader"
)

// IPv6 tries are kept by the writer as plain 256-entry nodes (in the node
// pool) under a private root, and published for readers as compressed
// nodes: a 256-bit map of where runs of equal entries start, the run
// counts before each 64-entry quarter, and one entry per run. The full
// table's IPv6 part shrinks from 37 MiB of nodes to about 3 MiB, which
// stays in cache. A published node changes in place one word at a time
// only: a link to a republished child, or a run's new value when the
// node's run starts stayed or only went away (see setRuns). Otherwise a
// changed node is written anew and switched in with one store to its
// parent, and the old copy goes through the quarantine like any freed
// memory. IPv6 changes become visible to readers at Commit.

const (
	compMinWords = fr.CompHeaderWords + 1 // one run
	compMaxWords = fr.CompHeaderWords + fr.NodeEntries/2
)

type compState struct {
	parent []int32      // parent node, -1 when the parent is the root
	pos    []uint16     // entry index in the parent (or the root)
	slot   []uint16     // table slot, to find the root
	off    []uint32     // published copy (word offset), 0 if none
	words  []uint8      // its size - compMinWords
	dirty  [17][]uint32 // nodes changed since the last Commit, by depth/8
	// Entries (indexes into the node pool) changed since the last Commit
	// in nodes that are not reshaped (see setRuns). Each is a new value
	// for one run of the published copy, stored there in place (one
	// atomic word, as for a link to a republished child): a change inside
	// a node of many runs (a /40 full of /48s) rewrote the whole copy,
	// half a KiB, for one word.
	patches []uint32
	// Published copies replaced or freed since the last complete
	// publication: of nodes collapsed (whose index may already be reused;
	// plain IPv6 nodes are private to the writer) and of nodes
	// republished (whose parent may link the old copy until the parent is
	// republished too, later in publish6). They go to the quarantine only
	// when publish6 completes, so everything in the quarantine is always
	// unlinked and may be released early under pressure. A publish6 that
	// fails (ErrFull) keeps them for the next one.
	freed []compCopy
	pool  []uint64 // the compressed pool in the file
	next  uint32   // first never-used word
	free  [compMaxWords - compMinWords + 1][]uint32
	// Words in the free lists, for the writer's pressure test (see
	// Writer.pressed).
	freeWords uint64
	quarWords uint64 // words of copies in the quarantine
	used      uint64 // words in live copies

	// The main table's shortcut tables for depths 32 and 40.
	sc [2]scTable
}

// scTable is one shortcut table in the file (see fr.ShortcutHome).
type scTable struct {
	slots   []uint64 // nil if none
	bits    uint     // log2(len(slots))
	depth   uint32
	keyMask uint64 // the key's bits in a slot
	// Keys of nodes freed since the last Commit: their entries go at its
	// start, before anything they link is quarantined.
	del []uint64
	// Depth 32: the /32s whose entry in their depth-24 node became or
	// stopped being the node's own (a leaf of a prefix of 25 to 32 bits,
	// or a link) since the last Commit, which then sets or removes their
	// leaves (see leafShortcuts).
	leafKeys []uint64
}

// nodeInfo is the writer's bookkeeping of one node, in one 64-byte line
// (an array of them starts on a 64-byte boundary: every Go size class
// that can hold one is a multiple of 64 bytes): a store into the node and
// its republication read most of it, and in separate arrays each field
// was a cache miss of its own (a /48 change read five lines).
type nodeInfo struct {
	// IPv6: where runs of equal entries start (bit i set where entry i
	// differs from entry i-1), kept up to date by every store, so that
	// publishing the node visits its runs instead of reading all 256
	// entries (1 KiB, usually not in cache).
	m [4]uint64
	// IPv6: the address bits above the node's entries (the top depth
	// bits; below depth 64 only their low 64, but keys are read only at
	// depths 32 and 40), which name it in a shortcut table and a node
	// index.
	key uint64
	// IPv6: the number of installed prefixes of each length
	// depth+1..depth+8 that end in the node (their entries are the
	// node's), for the cover search (Writer.cover).
	ends [8]uint16
	// How many of the node's entries are its own (see store).
	own int16
	// The address bits the node's position fixes.
	depth uint8
	// The node belongs to an IPv6 trie.
	v6 bool
	// IPv6: changed since the last Commit (listed in compState.dirty).
	dmark bool
	// IPv6: the run map gained a run start that the node's published
	// copy lacks: the node needs a new copy. Otherwise its changed entries
	// are patched into the copy it has (see setRuns and
	// compState.patches).
	reshaped bool
	// IPv6, not reshaped: how many run starts the published copy has
	// that the run map lacks.
	extra uint8
	// IPv6: listed in Writer.idle, lingering (see Options.Linger).
	idle bool
}

// A field added to nodeInfo must leave it in one line: this fails to
// compile otherwise.
var _ [64 - unsafe.Sizeof(nodeInfo{})]byte

type compCopy struct {
	off   uint32
	words uint8
}

func (w *Writer) initComp() {
	n := w.opts.Nodes
	c := &w.comp
	c.parent, c.pos = make([]int32, n), make([]uint16, n)
	c.slot, c.off, c.words = make([]uint16, n), make([]uint32, n), make([]uint8, n)
	c.pool = unsafe.Slice((*uint64)(unsafe.Pointer(&w.mem[w.lay.compPool])), w.opts.CompWords)
	c.next = 8 // offset 0 means "none"
	for i := range c.sc {
		s := &c.sc[i]
		s.depth = 32 + 8*uint32(i)
		s.keyMask = fr.ShortcutKeyMask
		if s.depth == 32 {
			s.keyMask = fr.ShortcutKeyMask32
		}
		if n := w.lay.shortcuts[i]; n > 0 {
			s.slots = unsafe.Slice((*uint64)(unsafe.Pointer(&w.mem[w.lay.shortcut[i]])), n)
			s.bits = uint(bits.TrailingZeros64(n))
		}
	}
}

// shortcutKey finds the shortcut table of node n and its key there if n
// is a main-table node at the depth of one.
func (w *Writer) shortcutKey(n uint32) (*scTable, uint64, bool) {
	c := &w.comp
	d := uint32(w.info[n].depth)
	// The depth (in the node's record, already read) first: the table
	// slot is another array, read only for nodes at 32 and 40.
	if d < 32 || d > 40 || d%8 != 0 || c.slot[n] != 0 {
		return nil, 0, false
	}
	s := &c.sc[(d-32)/8]
	if s.slots == nil {
		return nil, 0, false
	}
	return s, w.info[n].key, true
}

// set points key's shortcut at the compressed node at off.
func (s *scTable) set(key uint64, off uint32) {
	if s.depth == 32 {
		s.put(key, fr.ShortcutSlot32(key, fr.EncodeLink(off)))
	} else {
		s.put(key, fr.ShortcutSlot(key, off))
	}
}

// put stores the slot word sw for key, adding it if there is room within
// ShortcutProbes slots of its home (otherwise lookups of key walk from the
// root, which is only slower).
func (s *scTable) put(key, sw uint64) {
	mask := uint32(len(s.slots) - 1)
	i := fr.ShortcutHome(key, s.bits)
	for k := uint32(0); k < fr.ShortcutProbes; k++ {
		j := (i + k) & mask
		if w := s.slots[j]; w == 0 || w&s.keyMask == key {
			atomic.StoreUint64(&s.slots[j], sw)
			return
		}
	}
}

// get returns key's slot word, 0 if it has none.
func (s *scTable) get(key uint64) uint64 {
	if j, ok := s.slotOf(key); ok {
		return s.slots[j]
	}
	return 0
}

// slotOf finds the slot that holds key, within the probe window of its
// home and before an empty slot.
func (s *scTable) slotOf(key uint64) (uint32, bool) {
	mask := uint32(len(s.slots) - 1)
	i := fr.ShortcutHome(key, s.bits)
	for k := uint32(0); k < fr.ShortcutProbes; k++ {
		j := (i + k) & mask
		w := s.slots[j]
		if w == 0 {
			break
		}
		if w&s.keyMask == key {
			return j, true
		}
	}
	return 0, false
}

// remove removes key's shortcut and shifts later entries of the probe
// run back into the hole, so that no present key lies beyond an empty
// slot. A reader probing meanwhile may miss a moved key (and walk from the
// root) but never finds a wrong one: each slot is one atomic word.
func (s *scTable) remove(key uint64) {
	mask := uint32(len(s.slots) - 1)
	hole, ok := s.slotOf(key)
	if !ok {
		return
	}
	for k, n := (hole+1)&mask, 0; n < len(s.slots); k, n = (k+1)&mask, n+1 {
		w := s.slots[k]
		if w == 0 {
			break
		}
		// The entry at k may fill the hole if the hole is not before its
		// home (cyclically): it then moves closer to its home.
		if home := fr.ShortcutHome(w&s.keyMask, s.bits); (k-home)&mask >= (k-hole)&mask {
			atomic.StoreUint64(&s.slots[hole], w)
			hole = k
		}
	}
	atomic.StoreUint64(&s.slots[hole], 0)
}

func (w *Writer) markNode(n uint32) {
	if !w.info[n].dmark {
		w.info[n].dmark = true
		d := w.info[n].depth / 8
		w.comp.dirty[d] = append(w.comp.dirty[d], n)
	}
}

func (t *trie) markRoot(i uint32) {
	if !t.dmark[i] {
		t.dmark[i] = true
		t.dirty = append(t.dirty, i)
	}
}

// newNode records where node n hangs (p is the entry about to link it).
// ensureNode has just reset n's record (not IPv6 until this says so).
func (w *Writer) newNode(p *uint32, n uint32) {
	c := &w.comp
	c.off[n] = 0
	if off := uintptr(unsafe.Pointer(p)) - uintptr(unsafe.Pointer(&w.nodes[0])); off < uintptr(len(w.nodes))*4 {
		par := uint32(off / (fr.NodeEntries * 4))
		if !w.info[par].v6 {
			return
		}
		w.info[n].v6, c.parent[n], c.pos[n], c.slot[n] = true, int32(par), uint16(off/4%fr.NodeEntries), c.slot[par]
	} else if t := w.cur; t != nil && t.v6 {
		w.info[n].v6, c.parent[n], c.slot[n] = true, -1, uint16(t.slot)
		c.pos[n] = uint16((uintptr(unsafe.Pointer(p)) - uintptr(unsafe.Pointer(&t.root[0]))) / 4)
	} else {
		return
	}
	// A node at depth d is linked from an entry fixing address bits up to
	// d: its key is its parent's key followed by that entry's index.
	key := uint64(c.pos[n])
	if par := c.parent[n]; par >= 0 {
		key |= w.info[par].key << 8
	}
	r := &w.info[n]
	r.m, r.key, r.ends, r.reshaped = [4]uint64{1}, key, [8]uint16{}, true // a new node holds one leaf everywhere
	w.markNode(n)
	if x := w.tables[c.slot[n]].v6.indexOf(uint(w.info[n].depth)); x != nil {
		x.add(key, n)
	}
}

// setRuns updates node n's run map after its entry i changed (whether i
// and i+1 start runs). A run start the map gains that the node's published
// copy lacks marks the node reshaped: it needs a new copy at Commit. One
// it loses does not: the copy then has two runs of one value where the
// entries have one run, which no lookup can tell apart, and the change is
// patched into the copy in place (see copyDue). So a /48 withdrawn from a
// /40 costs Commit one store instead of a new copy of the node (and its
// parent's link, its shortcut, the old copy's quarantine), and so does
// its return. Invariant: a node that is not reshaped has a copy whose run
// starts include all of the map's.
func (w *Writer) setRuns(n, i uint32) {
	r := &w.info[n]
	e := w.nodes[n*fr.NodeEntries : (n+1)*fr.NodeEntries]
	m := &r.m
	j := min(i+1, fr.NodeEntries-1)
	a, b := m[i>>6], m[j>>6]
	if i > 0 {
		if e[i] != e[i-1] {
			m[i>>6] |= 1 << (i & 63)
		} else {
			m[i>>6] &^= 1 << (i & 63)
		}
	}
	if j := i + 1; j < fr.NodeEntries {
		if e[j] != e[i] {
			m[j>>6] |= 1 << (j & 63)
		} else {
			m[j>>6] &^= 1 << (j & 63)
		}
	}
	if r.reshaped {
		return
	}
	// The starts gained and lost, once if i and i+1 share a word.
	add, del := m[i>>6]&^a, a&^m[i>>6]
	add2, del2 := m[j>>6]&^b, b&^m[j>>6]
	if i>>6 == j>>6 {
		add2, del2 = 0, 0
	}
	if add|add2 != 0 {
		// A gained start is in the copy only if the copy has starts the
		// map lacks, and then only the copy's header tells.
		o := w.comp.off[n]
		if r.extra == 0 || o == 0 || add&^w.comp.pool[o+i>>6] != 0 || add2&^w.comp.pool[o+j>>6] != 0 {
			r.reshaped = true
			return
		}
	}
	r.extra += uint8(bits.OnesCount64(del) + bits.OnesCount64(del2) - bits.OnesCount64(add) - bits.OnesCount64(add2))
}

// copyDue reports whether changed node n gets a new copy at Commit rather
// than having its changes patched into the one it has: it is reshaped (or
// has none), or more than half of its copy's runs (and more than 8) only
// repeat the value before them, run starts its entries no longer have:
// the copy is compacted, so that churn does not leave lookups reading
// copies larger than their nodes need.
func (w *Writer) copyDue(n uint32) bool {
	r := &w.info[n]
	if r.reshaped || w.comp.off[n] == 0 {
		return true
	}
	runs := bits.OnesCount64(r.m[0]) + bits.OnesCount64(r.m[1]) + bits.OnesCount64(r.m[2]) + bits.OnesCount64(r.m[3])
	return int(r.extra) > max(8, runs)
}

// freeNode notes an IPv6 node unlinked by a collapse: its published copy
// goes to the quarantine once the parent is republished. It reports
// whether n was an IPv6 node: readers never see plain IPv6 nodes (they
// walk the published copies), so such a node needs no grace period and
// goes straight back to the pool, still warm in cache. Without that, a
// withdraw/announce cycle faster than the grace period took a fresh node
// from the pool for every re-announced prefix, and sustained churn
// exhausted the pool.
func (w *Writer) freeNode(n uint32) bool {
	c := &w.comp
	if !w.info[n].v6 {
		return false
	}
	if s, key, ok := w.shortcutKey(n); ok {
		s.del = append(s.del, key)
	}
	if x := w.tables[c.slot[n]].v6.indexOf(uint(w.info[n].depth)); x != nil {
		x.remove(w.info[n].key)
	}
	w.info[n].v6 = false
	// A stale entry in a dirty list is skipped at publication (see
	// publishDepth), even if n is reused before then.
	w.info[n].dmark = false
	if c.off[n] != 0 {
		c.freed = append(c.freed, compCopy{c.off[n], c.words[n]})
		c.off[n] = 0
	}
	return true
}

func (w *Writer) compAlloc(words int) (uint32, error) {
	c := &w.comp
	k := words - compMinWords
	if l := len(c.free[k]); l > 0 {
		o := c.free[k][l-1]
		c.free[k] = c.free[k][:l-1]
		c.freeWords -= uint64(words)
		return o, nil
	}
	if int(c.next)+words > len(c.pool) {
		// Split a larger free copy rather than fail: after heavy churn the
		// free lists hold most of the pool, in whatever sizes were freed.
		// A remainder too small to hold a node is not split off.
		for j := k + 1; j < len(c.free); j++ {
			rest := j - k
			if l := len(c.free[j]); l > 0 && rest >= compMinWords {
				o := c.free[j][l-1]
				c.free[j] = c.free[j][:l-1]
				c.free[rest-compMinWords] = append(c.free[rest-compMinWords], o+uint32(words))
				c.freeWords -= uint64(words)
				return o, nil
			}
		}
		if len(w.quar) > 0 {
			// Free lists too fragmented for this size: release the whole
			// quarantine early (all of it is unlinked, see freed) and try
			// again.
			w.releaseFirst(len(w.quar))
			return w.compAlloc(words)
		}
		return 0, fmt.Errorf("compressed node pool of %d words: %w", len(c.pool), ErrFull)
	}
	o := c.next
	if err := w.reserve(&w.resComp, w.lay.compPool+uint64(o+uint32(words))*8, w.lay.size); err != nil {
		return 0, err
	}
	c.next += uint32(words)
	return o, nil
}

func (w *Writer) compRelease(o uint32, words uint8, at int64) {
	w.comp.used -= uint64(words) + compMinWords
	w.comp.quarWords += uint64(words) + compMinWords
	w.quar = append(w.quar, quarItem{kind: qComp, idx: o, size: words, at: at})
}

// publishEntry turns a private entry into its published form.
func (w *Writer) publishEntry(e uint32) uint32 {
	if e&(1<<31) != 0 {
		return fr.EncodeLink(w.comp.off[e&(1<<31-1)])
	}
	return e
}

// compress writes a new published copy of node n and returns its offset.
// It reads only the first entry of each run, found from the node's run map.
func (w *Writer) compress(n uint32) (uint32, int, error) {
	src := w.nodes[n*fr.NodeEntries : (n+1)*fr.NodeEntries]
	bm := &w.info[n].m
	b1 := uint64(bits.OnesCount64(bm[0]))
	b2 := b1 + uint64(bits.OnesCount64(bm[1]))
	b3 := b2 + uint64(bits.OnesCount64(bm[2]))
	r := int(b3) + bits.OnesCount64(bm[3])
	words := fr.CompHeaderWords + (r+1)/2
	o, err := w.compAlloc(words)
	if err != nil {
		return 0, 0, err
	}
	dst := w.comp.pool[o : o+uint32(words)]
	dst[0], dst[1], dst[2], dst[3] = bm[0], bm[1], bm[2], bm[3]
	dst[4] = b1<<16 | b2<<32 | b3<<48
	// The runs' entries as uint32 pairs, written as whole words (readers
	// never see this copy before it is linked).
	k := fr.CompHeaderWords
	var half uint64
	odd := false
	for q, m := range bm {
		for ; m != 0; m &= m - 1 {
			v := uint64(w.publishEntry(src[q<<6|bits.TrailingZeros64(m)]))
			if odd {
				dst[k] = half | v<<32
				k++
			} else {
				half = v
			}
			odd = !odd
		}
	}
	if odd {
		dst[k] = half
	}
	w.comp.used += uint64(words)
	return o, words, nil
}

// runSlot is the uint32 index, in the pool, of entry b's run in the
// published node at o.
func (w *Writer) runSlot(o uint32, b uint16) uint32 {
	p := w.comp.pool[o:]
	q := b >> 6
	rank := uint32(p[4]>>(16*q)&0xffff) + uint32(bits.OnesCount64(p[q]&(2<<(b&63)-1))) - 1
	return 2*(o+fr.CompHeaderWords) + rank
}

func (w *Writer) pool32() []uint32 {
	return unsafe.Slice((*uint32)(unsafe.Pointer(&w.comp.pool[0])), len(w.comp.pool)*2)
}

// need is the number of words the copies of the nodes changed since the
// last Commit will take.
func (w *Writer) need() uint64 {
	c := &w.comp
	var n uint64
	for _, l := range c.dirty {
		for _, i := range l {
			if w.info[i].dmark && w.info[i].v6 && w.copyDue(i) {
				m := &w.info[i].m
				r := bits.OnesCount64(m[0]) + bits.OnesCount64(m[1]) + bits.OnesCount64(m[2]) + bits.OnesCount64(m[3])
				n += uint64(fr.CompHeaderWords + (r+1)/2)
			}
		}
	}
	return n
}

// mayNeed bounds need from above without reading the nodes: each node
// changed since the last Commit takes at most a copy of the largest size.
// Commit computes need (a pass over every changed node, most of them no
// longer in cache) only when the bound does not fit.
func (c *compState) mayNeed() uint64 {
	var n int
	for _, l := range c.dirty {
		n += len(l)
	}
	return uint64(n) * compMaxWords
}

// room is the number of words the pool can still hand out.
func (c *compState) room() uint64 { return uint64(len(c.pool)) - uint64(c.next) + c.freeWords }

// publish6 republishes the IPv6 nodes and root entries changed since the
// last Commit, children before parents. Replaced copies are quarantined
// with the time now (one clock read per Commit, not one per node).
func (w *Writer) publish6(now int64) error {
	c := &w.comp
	// Shortcuts of freed nodes go first: until their parents are
	// republished below, the walk from the root still finds the old
	// copies, and those are quarantined only at the end.
	for i := range c.sc {
		s := &c.sc[i]
		for _, k := range s.del {
			s.remove(k)
		}
		s.del = s.del[:0]
	}
	p32 := w.pool32()
	for d := len(c.dirty) - 1; d >= 0; d-- {
		if err := w.publishDepth(d, c.dirty[d], p32, now); err != nil {
			return err
		}
		c.dirty[d] = c.dirty[d][:0]
	}
	// Every node now has a copy whose run starts include its run map's:
	// a patch stores its entry's value into its run there (into a copy
	// made in this Commit, the value is already there). Links in patches go to
	// children published above; copies they replace are quarantined
	// below.
	for _, i := range c.patches {
		if n := i / fr.NodeEntries; w.info[n].v6 && c.off[n] != 0 {
			atomic.StoreUint32(&p32[w.runSlot(c.off[n], uint16(i%fr.NodeEntries))], w.publishEntry(w.nodes[i]))
		}
	}
	c.patches = c.patches[:0]
	for _, t := range w.tables {
		v := &t.v6
		for _, i := range v.dirty {
			v.dmark[i] = false
			atomic.StoreUint32(&v.pub[i], w.publishEntry(v.root[i]))
		}
		v.dirty = v.dirty[:0]
	}
	w.leafShortcuts()
	for _, f := range c.freed {
		w.compRelease(f.off, f.words, now)
	}
	c.freed = c.freed[:0]
	return nil
}

// leafShortcuts brings the depth-32 shortcuts of the /32s in leafKeys in
// line with the trie just published: a /32 whose depth-24 node holds a
// leaf of its own for it (a prefix of 25 to 32 bits covers it, and no
// longer one lies inside) gets that leaf, so that its lookups end at the
// probe instead of walking two nodes from the root (15 % of lookups of
// addresses inside the full table's IPv6 prefixes: its /32s and /29s).
// Any other /32 loses a leaf it had; a link there is a node's shortcut,
// which publishDepth keeps. Readers that still find an old leaf during
// the Commit get the old answer for a prefix that is changing.
func (w *Writer) leafShortcuts() {
	s := &w.comp.sc[0]
	if len(s.leafKeys) == 0 {
		return
	}
	tr := &w.tables[0].v6
	for _, k32 := range s.leafKeys {
		k := key{hi: k32 << 32}
		e, d := tr.root[k.hi>>(64-tr.bits)], tr.bits
		for ; d < 32 && e&(1<<31) != 0; d += 8 {
			e = w.nodes[(e&(1<<31-1))*fr.NodeEntries+k.byteAt(d)]
		}
		switch {
		case d == 32 && e&(1<<31) == 0 && leafBits(e) > 24:
			s.put(k32, fr.ShortcutSlot32(k32, e))
		case d == 32 && e&(1<<31) != 0:
			// A node's link, set when the node was published.
		default:
			if sw := s.get(k32); sw != 0 && sw>>32&(1<<31) == 0 {
				s.remove(k32)
			}
		}
	}
	// A full load notes every /32 once (60k keys); churn, a few.
	if cap(s.leafKeys) > 4096 {
		s.leafKeys = nil
	} else {
		s.leafKeys = s.leafKeys[:0]
	}
}

// publishDepth republishes the changed nodes of depth d*8.
func (w *Writer) publishDepth(d int, dirty []uint32, p32 []uint32, now int64) error {
	c := &w.comp
	for _, n := range dirty {
		// Skipped: nodes freed in this batch (unmarked), and entries left
		// by a node freed and reused at another depth (it is listed there
		// too and must wait for its children's copies).
		if !w.info[n].dmark || !w.info[n].v6 || int(w.info[n].depth/8) != d {
			continue
		}
		if !w.copyDue(n) {
			w.info[n].dmark = false // its changes are patched into its copy
			continue
		}
		o, words, err := w.compress(n)
		if err != nil {
			// The nodes not yet republished keep their marks (and their
			// old copies stay linked): a later Commit retries them.
			return err
		}
		w.info[n].dmark, w.info[n].reshaped, w.info[n].extra = false, false, 0
		old, oldWords := c.off[n], c.words[n]
		c.off[n], c.words[n] = o, uint8(words-compMinWords)
		if s, key, ok := w.shortcutKey(n); ok {
			s.set(key, o)
		}
		// A parent that does not get a new copy (unchanged, or only
		// patched) gets the new link in place.
		if par := c.parent[n]; par >= 0 {
			if c.off[par] != 0 && (!w.info[par].dmark || !w.info[par].reshaped) {
				atomic.StoreUint32(&p32[w.runSlot(c.off[par], c.pos[n])], fr.EncodeLink(o))
			}
		} else if t := &w.tables[c.slot[n]].v6; !t.dmark[c.pos[n]] {
			atomic.StoreUint32(&t.pub[c.pos[n]], fr.EncodeLink(o))
		}
		if old != 0 {
			c.freed = append(c.freed, compCopy{old, oldWords})
		}
	}
	return nil
}
