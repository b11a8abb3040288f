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
// stays in cache. Published nodes are never changed in place except for a
// link to a republished child (one word); a changed node is written anew
// and switched in with one store to its parent, and the old copy goes
// through the quarantine like any freed memory. IPv6 changes become
// visible to readers at Commit.

const (
	compMinWords = fr.CompHeaderWords + 1 // one run
	compMaxWords = fr.CompHeaderWords + fr.NodeEntries/2
)

type compState struct {
	v6     []bool   // node belongs to an IPv6 trie
	parent []int32  // parent node, -1 when the parent is the root
	pos    []uint16 // entry index in the parent (or the root)
	slot   []uint8  // table slot, to find the root
	off    []uint32 // published copy (word offset), 0 if none
	words  []uint8  // its size - compMinWords
	dmark  []bool
	dirty  [17][]uint32 // nodes changed since the last Commit, by depth/8
	freed  []uint32     // nodes freed since the last Commit with a published copy
	pool   []uint64     // the compressed pool in the file
	next   uint32       // first never-used word
	free   [compMaxWords - compMinWords + 1][]uint32
	used   uint64 // words in live copies
}

func (w *Writer) initComp() {
	n := w.opts.Nodes
	c := &w.comp
	c.v6, c.parent, c.pos = make([]bool, n), make([]int32, n), make([]uint16, n)
	c.slot, c.off, c.words, c.dmark = make([]uint8, n), make([]uint32, n), make([]uint8, n), make([]bool, n)
	c.pool = unsafe.Slice((*uint64)(unsafe.Pointer(&w.mem[w.lay.compPool])), w.opts.CompWords)
	c.next = 8 // offset 0 means "none"
}

func (w *Writer) markNode(n uint32) {
	if !w.comp.dmark[n] {
		w.comp.dmark[n] = true
		d := w.nodeDepth[n] / 8
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
func (w *Writer) newNode(p *uint32, n uint32) {
	c := &w.comp
	c.v6[n], c.off[n] = false, 0
	if off := uintptr(unsafe.Pointer(p)) - uintptr(unsafe.Pointer(&w.nodes[0])); off < uintptr(len(w.nodes))*4 {
		par := uint32(off / (fr.NodeEntries * 4))
		if !c.v6[par] {
			return
		}
		c.v6[n], c.parent[n], c.pos[n], c.slot[n] = true, int32(par), uint16(off/4%fr.NodeEntries), c.slot[par]
	} else if t := w.cur; t != nil && t.v6 {
		c.v6[n], c.parent[n], c.slot[n] = true, -1, uint8(t.slot)
		c.pos[n] = uint16((uintptr(unsafe.Pointer(p)) - uintptr(unsafe.Pointer(&t.root[0]))) / 4)
	} else {
		return
	}
	w.markNode(n)
}

// freeNode notes an IPv6 node unlinked by a collapse: its published copy
// goes to the quarantine once the parent is republished.
func (w *Writer) freeNode(n uint32) {
	c := &w.comp
	if !c.v6[n] {
		return
	}
	c.v6[n] = false
	if c.off[n] != 0 {
		c.freed = append(c.freed, n)
	}
}

func (w *Writer) compAlloc(words int) (uint32, error) {
	c := &w.comp
	k := words - compMinWords
	if l := len(c.free[k]); l > 0 {
		o := c.free[k][l-1]
		c.free[k] = c.free[k][:l-1]
		return o, nil
	}
	if int(c.next)+words > len(c.pool) {
		return 0, fmt.Errorf("compressed node pool of %d words: %w", len(c.pool), ErrFull)
	}
	o := c.next
	if err := w.reserve(&w.resComp, w.lay.compPool+uint64(o+uint32(words))*8, w.lay.size); err != nil {
		return 0, err
	}
	c.next += uint32(words)
	return o, nil
}

func (w *Writer) compRelease(o uint32, words uint8) {
	w.comp.used -= uint64(words) + compMinWords
	w.quar = append(w.quar, quarItem{kind: qComp, idx: o, size: words, at: nowNanos()})
}

// publishEntry turns a private entry into its published form.
func (w *Writer) publishEntry(e uint32) uint32 {
	if e&(1<<31) != 0 {
		return fr.EncodeLink(w.comp.off[e&(1<<31-1)])
	}
	return e
}

// compress writes a new published copy of node n and returns its offset.
func (w *Writer) compress(n uint32) (uint32, int, error) {
	src := w.nodes[n*fr.NodeEntries : (n+1)*fr.NodeEntries]
	var bm [4]uint64
	var runs [fr.NodeEntries]uint32
	r := 0
	for i, e := range src {
		if i == 0 || e != src[i-1] {
			bm[i>>6] |= 1 << (i & 63)
			runs[r] = w.publishEntry(e)
			r++
		}
	}
	words := fr.CompHeaderWords + (r+1)/2
	o, err := w.compAlloc(words)
	if err != nil {
		return 0, 0, err
	}
	dst := w.comp.pool[o : o+uint32(words)]
	b1 := uint64(bits.OnesCount64(bm[0]))
	b2 := b1 + uint64(bits.OnesCount64(bm[1]))
	b3 := b2 + uint64(bits.OnesCount64(bm[2]))
	copy(dst, bm[:])
	dst[4] = b1<<16 | b2<<32 | b3<<48
	for i := 0; i < r; i += 2 {
		v := uint64(runs[i])
		if i+1 < r {
			v |= uint64(runs[i+1]) << 32
		}
		dst[fr.CompHeaderWords+i/2] = v
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

// publish6 republishes the IPv6 nodes and root entries changed since the
// last Commit, children before parents.
func (w *Writer) publish6() error {
	c := &w.comp
	p32 := w.pool32()
	for d := len(c.dirty) - 1; d >= 0; d-- {
		if err := w.publishDepth(c.dirty[d], p32); err != nil {
			return err
		}
		c.dirty[d] = c.dirty[d][:0]
	}
	for _, t := range w.tables {
		v := &t.v6
		for _, i := range v.dirty {
			v.dmark[i] = false
			atomic.StoreUint32(&v.pub[i], w.publishEntry(v.root[i]))
		}
		v.dirty = v.dirty[:0]
	}
	for _, n := range c.freed {
		w.compRelease(c.off[n], c.words[n])
		c.off[n] = 0
	}
	c.freed = c.freed[:0]
	return nil
}

// publishDepth republishes the changed nodes of one depth.
func (w *Writer) publishDepth(dirty []uint32, p32 []uint32) error {
	c := &w.comp
	for _, n := range dirty {
		c.dmark[n] = false
		if !c.v6[n] {
			continue // freed in this batch
		}
		o, words, err := w.compress(n)
		if err != nil {
			return err
		}
		old, oldWords := c.off[n], c.words[n]
		c.off[n], c.words[n] = o, uint8(words-compMinWords)
		// A parent that is not itself republished gets the new link in place.
		if par := c.parent[n]; par >= 0 {
			if !c.dmark[par] && c.off[par] != 0 {
				atomic.StoreUint32(&p32[w.runSlot(c.off[par], c.pos[n])], fr.EncodeLink(o))
			}
		} else if t := &w.tables[c.slot[n]].v6; !t.dmark[c.pos[n]] {
			atomic.StoreUint32(&t.pub[c.pos[n]], fr.EncodeLink(o))
		}
		if old != 0 {
			w.compRelease(old, oldWords)
		}
	}
	return nil
}
