// Package prefixmap holds Map, a map from IP prefixes to values built for
// routing tables of a million prefixes: the key index that the RIB and
// the BGP Loc-RIB share (rib.Index) is one per table.
//
// A Go map spreads keys by hash, so a table that arrives in address order
// (from a BGP peer, a kernel dump, a file), as full tables often do, turns
// every insert into a cache and TLB miss in a map of tens of megabytes,
// and the map doubles when it grows. Map keeps prefixes in address order
// in small sorted arrays (leaves) under a 256-way trie indexed by address
// bytes: consecutive prefixes land in the same leaf, which stays in cache,
// and the arrays grow by a quarter, so a full table costs little more than
// its keys and values. A leaf that grows past maxLeaf keys bursts into 256
// children by the next address byte, which bounds the cost of an insert
// in the middle of a leaf when prefixes arrive in no order.
package prefixmap

import (
	"iter"
	"slices"
)

// maxLeaf is the most keys a leaf holds before it bursts (unless its
// keys all share their address and only differ in length).
const maxLeaf = 256

// Map maps prefixes (as Keys) to values of type V. The zero Map is empty
// and ready to use. A Map is not safe for concurrent use.
//
// Pointers that Ptr, Entry and All return point into the map's arrays:
// they stay valid until the next Put, Entry or Delete of the map.
type Map[V any] struct {
	// The roots are always inner nodes (their kids are allocated with
	// the first key), so that a leaf key need not hold the first
	// address byte: an IPv4 leaf key fits 32 bits.
	v4     node[k4, V]
	v6     node[k6, V]
	n4, n6 int
	a4     arena[k4, V]
	a6     arena[k6, V]
}

// node is an inner node (kids set) or a leaf: keys in order and their
// values at the same indexes. Keys apart from values keep the binary
// search within a few cache lines.
type node[K leafKey, V any] struct {
	kids *[256]*node[K, V]
	keys []K
	vals []V
}

// leafKey is a key within a leaf: the address without its first byte
// (the path to any leaf is at least one byte), then the length, so that
// the key's order is address order, then length.
type leafKey interface {
	comparable
	// at returns the address byte at depth d (d >= 1).
	at(d int) byte
}

// k4 is an IPv4 leaf key: address bytes 1–3, then the length.
type k4 uint32

func (k k4) at(d int) byte { return byte(k >> (8 * (4 - d))) }

func in4(k Key) k4 { return k4(uint32(k.Hi>>24)&0xffffff00 | uint32(k.Bits)) }

func key4(first byte, k k4) Key {
	return Key{Hi: uint64(first)<<56 | uint64(k&^0xff)<<24, Bits: uint8(k)}
}

// k6 is an IPv6 leaf key: address bits 8–71 in a, bits 72–127 then the
// length in b; (a, b) order is address order, then length.
type k6 struct{ a, b uint64 }

func (k k6) at(d int) byte {
	if d <= 8 {
		return byte(k.a >> (64 - 8*d))
	}
	return byte(k.b >> (8 + 8*(15-d)))
}

func in6(k Key) k6 { return k6{a: k.Hi<<8 | k.Lo>>56, b: k.Lo<<8 | uint64(k.Bits)} }

func key6(first byte, k k6) Key {
	return Key{Hi: uint64(first)<<56 | k.a>>8, Lo: k.a<<56 | k.b>>8, Bits: uint8(k.b), V6: true}
}

func cmp6(x, y k6) int {
	switch {
	case x.a < y.a:
		return -1
	case x.a > y.a:
		return 1
	case x.b < y.b:
		return -1
	case x.b > y.b:
		return 1
	}
	return 0
}

// byteAt returns k's address byte at depth d.
func byteAt(k Key, d int) byte {
	if d < 8 {
		return byte(k.Hi >> (56 - 8*d))
	}
	return byte(k.Lo >> (120 - 8*d))
}

// search4 returns where k is or would be in keys. Keys that arrive in
// order are appended, so the last key is tried first.
func search4(keys []k4, k k4) (int, bool) {
	if n := len(keys); n == 0 || keys[n-1] < k {
		return n, false
	}
	return slices.BinarySearch(keys, k)
}

func search6(keys []k6, k k6) (int, bool) {
	if n := len(keys); n == 0 || cmp6(keys[n-1], k) < 0 {
		return n, false
	}
	return slices.BinarySearchFunc(keys, k, cmp6)
}

// Len returns the number of keys.
func (m *Map[V]) Len() int { return m.n4 + m.n6 }

// Len4 returns the number of IPv4 keys.
func (m *Map[V]) Len4() int { return m.n4 }

// Len6 returns the number of IPv6 keys.
func (m *Map[V]) Len6() int { return m.n6 }

// leaf returns the leaf under root where k belongs and its slot in its
// parent, or nils when there is none.
func leaf[K leafKey, V any](root *node[K, V], k Key) (*node[K, V], **node[K, V]) {
	n := root
	var slot **node[K, V]
	for d := 0; n.kids != nil; d++ {
		slot = &n.kids[byteAt(k, d)]
		if n = *slot; n == nil {
			return nil, nil
		}
	}
	return n, slot
}

// Get returns k's value.
func (m *Map[V]) Get(k Key) (V, bool) {
	if p := m.Ptr(k); p != nil {
		return *p, true
	}
	var zero V
	return zero, false
}

// Ptr returns a pointer to k's value, or nil when k is absent.
func (m *Map[V]) Ptr(k Key) *V {
	if !k.V6 {
		if n, _ := leaf(&m.v4, k); n != nil {
			if i, ok := search4(n.keys, in4(k)); ok {
				return &n.vals[i]
			}
		}
		return nil
	}
	if n, _ := leaf(&m.v6, k); n != nil {
		if i, ok := search6(n.keys, in6(k)); ok {
			return &n.vals[i]
		}
	}
	return nil
}

// Put sets k's value.
func (m *Map[V]) Put(k Key, v V) {
	p, _ := m.Entry(k)
	*p = v
}

// Entry returns a pointer to k's value, adding k with the zero value
// when it is absent, and whether it was present.
func (m *Map[V]) Entry(k Key) (*V, bool) {
	if !k.V6 {
		return entry(&m.v4, &m.a4, &m.n4, k, in4(k), search4, 4)
	}
	return entry(&m.v6, &m.a6, &m.n6, k, in6(k), search6, 16)
}

// entry is Entry in one family's trie: ik is k as a leaf key, search the
// family's leaf search, maxDepth its address length in bytes.
func entry[K leafKey, V any](root *node[K, V], a *arena[K, V], count *int, k Key, ik K,
	search func([]K, K) (int, bool), maxDepth int) (*V, bool) {
	n, d := makeLeaf(root, k)
	i, ok := search(n.keys, ik)
	if !ok {
		n.insertAt(a, i, ik)
		*count++
		if len(n.keys) > maxLeaf {
			n.burst(a, d, maxDepth)
			n, _ = leaf(root, k)
			i, _ = search(n.keys, ik)
		}
	}
	return &n.vals[i], ok
}

// makeLeaf returns the leaf under root where k belongs, and its depth,
// creating it (and the root's kids) when missing.
func makeLeaf[K leafKey, V any](root *node[K, V], k Key) (*node[K, V], int) {
	if root.kids == nil {
		root.kids = new([256]*node[K, V])
	}
	n := root
	d := 0
	for ; n.kids != nil; d++ {
		slot := &n.kids[byteAt(k, d)]
		if *slot == nil {
			*slot = &node[K, V]{}
		}
		n = *slot
	}
	return n, d
}

// Delete removes k and reports whether it was present.
func (m *Map[V]) Delete(k Key) bool {
	if !k.V6 {
		n, slot := leaf(&m.v4, k)
		if n == nil {
			return false
		}
		i, ok := search4(n.keys, in4(k))
		if !ok {
			return false
		}
		if n.removeAt(&m.a4, i) {
			*slot = nil
		}
		m.n4--
		return true
	}
	n, slot := leaf(&m.v6, k)
	if n == nil {
		return false
	}
	i, ok := search6(n.keys, in6(k))
	if !ok {
		return false
	}
	if n.removeAt(&m.a6, i) {
		*slot = nil
	}
	m.n6--
	return true
}

// Compact packs every leaf's keys and values, per family, into one array
// of keys and one of values, each leaf a piece of exactly its length.
// After a bulk load the leaves keep up to a quarter of growth slack, and
// the arrays they outgrew on the way, of every size class, leave the heap
// in partly used spans that the runtime cannot return to the system; once
// every leaf lives in the two arrays, those spans are wholly free. A leaf
// that changes later moves to arrays of its own again (its piece stays
// unused until the next Compact), so a table that changes little keeps
// the benefit.
func (m *Map[V]) Compact() {
	compactRoot(&m.v4, m.n4)
	compactRoot(&m.v6, m.n6)
	// Every leaf is in the packed arrays now: the chunks are garbage.
	m.a4, m.a6 = arena[k4, V]{}, arena[k6, V]{}
}

func compactRoot[K leafKey, V any](root *node[K, V], n int) {
	if n == 0 {
		return
	}
	keys := make([]K, 0, n)
	vals := make([]V, 0, n)
	root.pack(&keys, &vals)
	var inner, leaves int
	root.count(&inner, &leaves)
	// Exact capacities: an append that grew an array would leave the
	// pointers taken so far in the old one.
	s := slab[K, V]{kids: make([][256]*node[K, V], 0, inner+1), nodes: make([]node[K, V], 0, leaves+inner)}
	root.kids = s.copyKids(root.kids)
}

// slab holds a packed trie's nodes and kids arrays in two arrays. The
// nodes were allocated one by one as the table grew, among the leaves'
// arrays of the same size classes; once the leaves are packed those
// arrays are garbage, and the scattered nodes would keep their spans,
// mostly empty, resident.
type slab[K leafKey, V any] struct {
	kids  [][256]*node[K, V]
	nodes []node[K, V]
}

// copyKids copies the subtree below kids into the slab and returns the
// copy of kids.
func (s *slab[K, V]) copyKids(kids *[256]*node[K, V]) *[256]*node[K, V] {
	s.kids = append(s.kids, [256]*node[K, V]{})
	c := &s.kids[len(s.kids)-1]
	for b, n := range kids {
		if n == nil {
			continue
		}
		s.nodes = append(s.nodes, *n)
		nc := &s.nodes[len(s.nodes)-1]
		if n.kids != nil {
			nc.kids = s.copyKids(n.kids)
		}
		c[b] = nc
	}
	return c
}

// count adds the inner nodes and leaves below n (n excluded) to inner
// and leaves.
func (n *node[K, V]) count(inner, leaves *int) {
	for _, c := range n.kids {
		switch {
		case c == nil:
		case c.kids != nil:
			*inner++
			c.count(inner, leaves)
		default:
			*leaves++
		}
	}
}

// pack moves n's leaves into the arrays behind keys and vals, which have
// room for all of them.
func (n *node[K, V]) pack(keys *[]K, vals *[]V) {
	if n.kids != nil {
		for _, c := range n.kids {
			if c != nil {
				c.pack(keys, vals)
			}
		}
		return
	}
	i, l := len(*keys), len(n.keys)
	*keys = append(*keys, n.keys...)
	*vals = append(*vals, n.vals...)
	n.keys = (*keys)[i : i+l : i+l]
	n.vals = (*vals)[i : i+l : i+l]
}

// All iterates over the map in key order (IPv4 first, by address, then
// length). The loop body may change the value it is given and may Delete
// its key; it must not add keys.
func (m *Map[V]) All() iter.Seq2[Key, *V] {
	return func(yield func(Key, *V) bool) {
		if m.v4.kids != nil {
			for first, n := range m.v4.kids {
				if n != nil && !n.walk(func(k k4, v *V) bool { return yield(key4(byte(first), k), v) }) {
					return
				}
			}
		}
		if m.v6.kids != nil {
			for first, n := range m.v6.kids {
				if n != nil && !n.walk(func(k k6, v *V) bool { return yield(key6(byte(first), k), v) }) {
					return
				}
			}
		}
	}
}

// After iterates, in key order, over the keys greater than k, with the
// same rules as All: a caller can go through a large map in chunks,
// resuming after the last key it saw, while the map changes in between.
func (m *Map[V]) After(k Key) iter.Seq2[Key, *V] {
	return func(yield func(Key, *V) bool) {
		if !k.V6 {
			ik := in4(k)
			if !walkAfter(&m.v4, k, 0, func(keys []k4) int {
				i, ok := search4(keys, ik)
				if ok {
					i++
				}
				return i
			}, func(first byte, lk k4, v *V) bool { return yield(key4(first, lk), v) }, 0) {
				return
			}
			// Every IPv6 key is greater than every IPv4 one.
			if m.v6.kids != nil {
				for first, n := range m.v6.kids {
					if n != nil && !n.walk(func(lk k6, v *V) bool { return yield(key6(byte(first), lk), v) }) {
						return
					}
				}
			}
			return
		}
		ik := in6(k)
		walkAfter(&m.v6, k, 0, func(keys []k6) int {
			i, ok := search6(keys, ik)
			if ok {
				i++
			}
			return i
		}, func(first byte, lk k6, v *V) bool { return yield(key6(first, lk), v) }, 0)
	}
}

// walkAfter calls yield for the keys under n (at depth d, under first
// address byte first) that sort after k: in the leaf on k's path from the
// index start returns, and every key of the kids beyond k's path. It
// reports whether yield always returned true.
func walkAfter[K leafKey, V any](n *node[K, V], k Key, d int, start func([]K) int, yield func(byte, K, *V) bool, first byte) bool {
	if n.kids == nil {
		for i := start(n.keys); i < len(n.keys); {
			lk := n.keys[i]
			if !yield(first, lk, &n.vals[i]) {
				return false
			}
			if i < len(n.keys) && n.keys[i] == lk {
				i++
			}
		}
		return true
	}
	b := byteAt(k, d)
	if d == 0 {
		first = b
	}
	if c := n.kids[b]; c != nil && !walkAfter(c, k, d+1, start, yield, first) {
		return false
	}
	for i := int(b) + 1; i < 256; i++ {
		c := n.kids[i]
		if c == nil {
			continue
		}
		f := first
		if d == 0 {
			f = byte(i)
		}
		if !c.walk(func(lk K, v *V) bool { return yield(f, lk, v) }) {
			return false
		}
	}
	return true
}

// walk calls yield for every key under n in order, and reports whether
// yield always returned true.
func (n *node[K, V]) walk(yield func(K, *V) bool) bool {
	if n.kids != nil {
		for _, c := range n.kids {
			if c != nil && !c.walk(yield) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(n.keys); {
		k := n.keys[i]
		if !yield(k, &n.vals[i]) {
			return false
		}
		// Unless the body deleted k, move on. A leaf emptied by the
		// body is cut from its parent; its keys are nil then.
		if i < len(n.keys) && n.keys[i] == k {
			i++
		}
	}
	return true
}

// burst turns a full leaf at depth d into an inner node whose kids split
// its keys by their address byte at depth d. Where every key has the same
// byte there, the leaf moves down a level first, until the keys differ
// (they do before maxDepth: keys that share their whole address differ
// only in length, and there are fewer lengths than maxLeaf).
func (n *node[K, V]) burst(a *arena[K, V], d, maxDepth int) {
	for ; d < maxDepth; d++ {
		kids := new([256]*node[K, V])
		if b := n.keys[0].at(d); n.keys[len(n.keys)-1].at(d) == b {
			// Sorted: first and last agree, so all do.
			kids[b] = &node[K, V]{keys: n.keys, vals: n.vals}
			n.kids, n.keys, n.vals = kids, nil, nil
			n = kids[b]
			continue
		}
		for i := 0; i < len(n.keys); {
			b := n.keys[i].at(d)
			j := i + 1
			for j < len(n.keys) && n.keys[j].at(d) == b {
				j++
			}
			c := j - i + (j-i)/4 + 1
			kids[b] = &node[K, V]{keys: append(a.keys.get(c), n.keys[i:j]...), vals: append(a.vals.get(c), n.vals[i:j]...)}
			i = j
		}
		a.keys.put(n.keys)
		a.vals.put(n.vals)
		n.kids, n.keys, n.vals = kids, nil, nil
		return
	}
}

// insertAt inserts key k with the zero value at index i.
func (n *node[K, V]) insertAt(a *arena[K, V], i int, k K) {
	l := len(n.keys)
	if l == cap(n.keys) {
		// Grow by half: a bulk load reallocates each leaf a few times
		// only, and Compact takes the slack away once it is over.
		n.realloc(a, l, l+l/2+2)
	}
	n.keys = n.keys[:l+1]
	copy(n.keys[i+1:], n.keys[i:l])
	n.keys[i] = k
	n.vals = n.vals[:l+1]
	copy(n.vals[i+1:], n.vals[i:l])
	var zero V
	n.vals[i] = zero
}

// removeAt removes index i and reports whether the leaf is now empty.
func (n *node[K, V]) removeAt(a *arena[K, V], i int) bool {
	l := len(n.keys) - 1
	if l == 0 {
		a.keys.put(n.keys)
		a.vals.put(n.vals)
		n.keys, n.vals = nil, nil
		return true
	}
	copy(n.keys[i:], n.keys[i+1:])
	n.keys = n.keys[:l]
	copy(n.vals[i:], n.vals[i+1:])
	var zero V
	n.vals[l] = zero // drop what the value referenced
	n.vals = n.vals[:l]
	if c := cap(n.keys); c > 8 && l < c/2 {
		n.realloc(a, l, l+l/4+1)
	}
	return false
}

// realloc moves the first l keys and values to arrays of capacity at
// least c from a (keys and values always have the same capacity) and
// gives the old ones back to a.
func (n *node[K, V]) realloc(a *arena[K, V], l, c int) {
	keys := a.keys.get(c)[:l]
	copy(keys, n.keys)
	vals := a.vals.get(c)[:l]
	copy(vals, n.vals)
	a.keys.put(n.keys)
	a.vals.put(n.vals)
	n.keys, n.vals = keys, vals
}
