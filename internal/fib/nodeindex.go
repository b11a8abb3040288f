package fib

import (
	"math/bits"

	fr "github.com/routerd/routerd/pkg/fibreader"
)

// nodeIndex finds the writer's plain IPv6 nodes at one depth (32 or 40)
// of one trie by their key, the address bits above them.
//
// A change of a prefix longer than that depth then starts below the root:
// most IPv6 prefixes are /48s, whose change walked five levels of 1 KiB
// nodes spread over tens of MiB (root, depths 16, 24, 32 and 40), one
// cache miss after another. From the index it is one probe and the node.
// Deletes find their covering prefix from the same node.
//
// It is private to the writer (readers have their own shortcut tables in
// the file) and sized to its content: open addressing with linear probing
// and backward-shift deletion, one word per slot.
type nodeIndex struct {
	slots []uint64 // key<<nodeIndexBits | node+1; 0 is empty
	mask  uint64
	shift uint // 64 - log2(len(slots))
	n     int
	depth uint
}

// nodeIndexBits is the width of a slot's node field: a key has at most
// 40 bits. A writer with more nodes than the field holds keeps no index
// (changes walk from the root, which is only slower).
const nodeIndexBits = 24

// indexDepths are the depths of a trie's node indexes: the depths of the
// readers' shortcut tables, where most IPv6 prefixes end (/32, and /41 to
// /48 in nodes at depth 40).
var indexDepths = [...]uint{32, 40}

func indexable(nodes int) bool { return nodes < 1<<nodeIndexBits }

func (x *nodeIndex) home(key uint64) uint64 { return key * 0x9E3779B97F4A7C15 >> x.shift }

// get returns the node with key.
func (x *nodeIndex) get(key uint64) (uint32, bool) {
	if x.n == 0 {
		return 0, false
	}
	for i := x.home(key); ; i = (i + 1) & x.mask {
		s := x.slots[i]
		if s == 0 {
			return 0, false
		}
		if s>>nodeIndexBits == key {
			return uint32(s&(1<<nodeIndexBits-1)) - 1, true
		}
	}
}

// add records node n under key, replacing any node the key had.
func (x *nodeIndex) add(key uint64, n uint32) {
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
	v := key<<nodeIndexBits | uint64(n+1)
	for i := x.home(key); ; i = (i + 1) & x.mask {
		s := x.slots[i]
		if s == 0 {
			x.slots[i] = v
			x.n++
			return
		}
		if s>>nodeIndexBits == key {
			x.slots[i] = v
			return
		}
	}
}

// remove drops key and moves later slots of its probe run back into the
// hole, so that no key lies beyond an empty slot and churn leaves no
// tombstones.
func (x *nodeIndex) remove(key uint64) {
	if x.n == 0 {
		return
	}
	hole := x.home(key)
	for ; ; hole = (hole + 1) & x.mask {
		s := x.slots[hole]
		if s == 0 {
			return
		}
		if s>>nodeIndexBits == key {
			break
		}
	}
	for k := (hole + 1) & x.mask; ; k = (k + 1) & x.mask {
		s := x.slots[k]
		if s == 0 {
			break
		}
		// The slot at k may fill the hole if the hole is not before its
		// home (cyclically).
		if home := x.home(s >> nodeIndexBits); (k-home)&x.mask >= (k-hole)&x.mask {
			x.slots[hole] = s
			hole = k
		}
	}
	x.slots[hole] = 0
	x.n--
}

func (x *nodeIndex) grow() {
	old := x.slots
	size := max(1024, 2*len(old))
	x.slots, x.mask, x.n = make([]uint64, size), uint64(size-1), 0
	x.shift = uint(64 - bits.TrailingZeros(uint(size)))
	for _, s := range old {
		if s != 0 {
			x.add(s>>nodeIndexBits, uint32(s&(1<<nodeIndexBits-1))-1)
		}
	}
}

// start finds the deepest indexed node above k/l on its path: the walk of
// a change of k/l can begin there, at depth d.
func (tr *trie) start(k key, l int) (node uint32, d uint, ok bool) {
	for i := len(tr.deep) - 1; i >= 0; i-- {
		x := &tr.deep[i]
		if uint(l) <= x.depth {
			continue
		}
		if n, ok := x.get(k.hi >> (64 - x.depth)); ok {
			return n, x.depth, true
		}
	}
	return 0, 0, false
}

// indexOf is the index of the nodes at depth d, or nil if that depth has
// none.
func (tr *trie) indexOf(d uint) *nodeIndex {
	for i := range tr.deep {
		if tr.deep[i].depth == d {
			return &tr.deep[i]
		}
	}
	return nil
}

// linkOf is the entry that links IPv6 node n: in its parent node or in
// its trie's root.
func (w *Writer) linkOf(tr *trie, n uint32) *uint32 {
	c := &w.comp
	if p := c.parent[n]; p >= 0 {
		return &w.nodes[uint32(p)*fr.NodeEntries+uint32(c.pos[n])]
	}
	return &tr.root[c.pos[n]]
}
