package fib

import (
	"fmt"
	"math/bits"
	"net/netip"
	"sync/atomic"
	"unsafe"

	fr "github.com/routerd/routerd/pkg/fibreader"
)

// table is one routing table: an IPv4 and an IPv6 trie in the file plus
// the writer's record of installed prefixes.
type table struct {
	id  uint32
	dir uint64 // byte offset of its directory entry
	v4  trie
	v6  trie
}

// trie is one family of one table. The file holds the lookup structure; the
// rules maps hold the installed prefixes by length, which the writer needs
// only to find the covering prefix when one is deleted.
type trie struct {
	root    []uint32 // IPv4: in the file; IPv6: the writer's private root
	v6      bool
	slot    int
	pub     []uint32 // IPv6: the published root in the file
	dirty   []uint32 // IPv6: root entries changed since the last Commit
	dmark   []bool
	bits    uint // root stride
	maxBits int
	rules   ruleSet
	count   int
	// IPv6: the plain nodes at depths 32 and 40 by key, where changes
	// start their walk (none if the node pool is too large to index).
	deep []nodeIndex
}

// key is an address left-aligned in 128 bits (IPv4 in the top 32 bits).
type key struct{ hi, lo uint64 }

func keyOf(a netip.Addr) key {
	if a.Is4() {
		b := a.As4()
		return key{hi: uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32}
	}
	b := a.As16()
	var k key
	for i := 0; i < 8; i++ {
		k.hi = k.hi<<8 | uint64(b[i])
		k.lo = k.lo<<8 | uint64(b[8+i])
	}
	return k
}

func (k key) mask(l int) key {
	switch {
	case l == 0:
		return key{}
	case l < 64:
		return key{hi: k.hi &^ (1<<(64-l) - 1)}
	case l == 64:
		return key{hi: k.hi}
	case l < 128:
		return key{k.hi, k.lo &^ (1<<(128-l) - 1)}
	}
	return k
}

// byteAt is the 8-bit chunk starting at bit d (a multiple of 8).
func (k key) byteAt(d uint) uint32 {
	if d < 64 {
		return uint32(k.hi >> (56 - d) & 0xff)
	}
	return uint32(k.lo >> (120 - d) & 0xff)
}

func leafBits(e uint32) int { return int(e >> 23 & 0xff) }

// ownEntry is 1 if e, in a node at depth d, is a link or the leaf of a
// prefix that ends inside the node.
func ownEntry(e uint32, d uint) int {
	if e&(1<<31) != 0 || (e != 0 && uint(leafBits(e)) > d) {
		return 1
	}
	return 0
}

// table returns the table with id, creating it if create is set.
func (w *Writer) table(id uint32, create bool) (*table, error) {
	// Changes come in runs of one table; tables are never removed.
	if t := w.last; t != nil && t.id == id {
		return t, nil
	}
	if t := w.byID[id]; t != nil {
		w.last = t
		return t, nil
	}
	if !create {
		return nil, nil
	}
	// The main table takes slot 0 (the one with the DIR-24-8 root).
	slot := len(w.tables)
	if id != MainTable && slot == 0 {
		return nil, fmt.Errorf("fib: main table must be created first")
	}
	if slot >= w.opts.MaxTables {
		return nil, fmt.Errorf("fib: table %d: all %d table slots in use: %w", id, w.opts.MaxTables, ErrFull)
	}
	l := &w.lay
	t := &table{id: id, dir: l.tableDir + uint64(slot)*fr.TableEntrySize}
	t.v4 = trie{root: w.words[l.root4[slot]/4 : l.root4[slot]/4+1<<l.bits4[slot]], bits: uint(l.bits4[slot]), maxBits: 32}
	t.v6 = trie{root: make([]uint32, 1<<l.bits6), pub: w.words[l.root6[slot]/4 : l.root6[slot]/4+1<<l.bits6],
		dmark: make([]bool, 1<<l.bits6), v6: true, bits: uint(l.bits6), maxBits: 128}
	t.v4.slot, t.v6.slot = slot, slot
	if w.indexNodes {
		for _, d := range indexDepths {
			t.v6.deep = append(t.v6.deep, nodeIndex{depth: d})
		}
	}
	*w.hdr32(int(t.dir)) = id
	*w.hdr64(int(t.dir) + 8) = l.root4[slot]
	*w.hdr64(int(t.dir) + 16) = l.root6[slot]
	// The flags word is stored last: a reader sees the table only when its
	// directory entry is complete.
	atomic.StoreUint32(w.hdr32(int(t.dir)+4), 1|uint32(l.bits4[slot])<<8|uint32(l.bits6)<<16)
	w.tables = append(w.tables, t)
	w.byID[id] = t
	return t, nil
}

func (w *Writer) famOf(id uint32, p netip.Prefix, create bool) (*trie, key, int, error) {
	if w.closed {
		return nil, key{}, 0, ErrClosed
	}
	if !p.IsValid() {
		return nil, key{}, 0, fmt.Errorf("fib: invalid prefix %v", p)
	}
	if p.Addr().Is4In6() {
		return nil, key{}, 0, fmt.Errorf("fib: IPv4-mapped prefix %v not allowed", p)
	}
	t, err := w.table(id, create)
	if err != nil || t == nil {
		return nil, key{}, 0, err
	}
	tr := &t.v4
	if p.Addr().Is6() {
		tr = &t.v6
	}
	return tr, keyOf(p.Masked().Addr()), p.Bits(), nil
}

// Insert installs (or replaces) the route for p in table.
func (w *Writer) Insert(table uint32, p netip.Prefix, a Action) error {
	tr, k, l, err := w.famOf(table, p, true)
	if err == nil {
		err = w.insert(tr, k, l, a)
	}
	if err != nil {
		return changeError("insert", table, p, err)
	}
	return nil
}

// insert is Insert of k/l into tr, found by famOf.
func (w *Writer) insert(tr *trie, k key, l int, a Action) error {
	// Nodes lingering since the last Commit give way when the pool runs
	// low; here, between changes, none of them is on a walk.
	if len(w.idle) > 0 && w.nodeMem.low() {
		w.collapseIdle(w.lastCommit, true)
	}
	var slot uint32
	switch a.Kind {
	case Forward:
		s, err := w.slotFor(a.Group)
		if err != nil {
			return err
		}
		slot = s
	case Blackhole, Unreachable, Prohibit:
	default:
		return fmt.Errorf("unknown action kind %d", a.Kind)
	}
	leaf := fr.EncodeLeaf(l, a.Kind, slot)
	at, had := tr.rules.find(k, l)
	old := tr.rules.slots[at].leaf
	if had && old == leaf {
		return nil
	}
	w.cur = tr
	added := 1
	if had {
		added = 0
	}
	if err := w.write(tr, k, l, leaf, false, added); err != nil {
		if !had {
			w.dropSlotRef(leaf, 0)
		}
		return err
	}
	tr.rules.setAt(at, k, l, leaf)
	if a.Kind == Forward {
		w.slotInf[slot].refs++
	}
	if had {
		w.dropSlotRef(old, 1)
	} else {
		tr.count++
		if tr.maxBits == 32 {
			w.prefixes4++
		} else {
			w.prefixes6++
		}
	}
	return nil
}

// dropSlotRef releases n references a leaf held on its group slot (n = 0
// only checks whether an unreferenced slot made for a failed insert can go).
func (w *Writer) dropSlotRef(leaf uint32, n int32) {
	if fr.Entry(leaf).Kind() != Forward {
		return
	}
	s := fr.Entry(leaf).Slot()
	w.slotInf[s].refs -= n
	w.dropSlotIfUnused(s)
}

// Delete withdraws the route for p from table. Addresses it covered fall
// back to the covering prefix, if any.
func (w *Writer) Delete(table uint32, p netip.Prefix) error {
	tr, k, l, err := w.famOf(table, p, false)
	if err == nil {
		err = w.delete(tr, k, l)
	}
	if err != nil {
		return changeError("delete", table, p, err)
	}
	return nil
}

// changeError names the change that failed.
func changeError(op string, table uint32, p netip.Prefix, err error) error {
	return fmt.Errorf("%s %v table %d: %w", op, p, table, err)
}

// delete is Delete of k/l from tr, found by famOf (nil: no such table).
func (w *Writer) delete(tr *trie, k key, l int) error {
	if tr == nil {
		return ErrNotFound
	}
	at, ok := tr.rules.find(k, l)
	if !ok {
		return ErrNotFound
	}
	old := tr.rules.slots[at].leaf
	w.cur = tr
	if err := w.write(tr, k, l, w.cover(tr, k, l), true, -1); err != nil {
		return err
	}
	tr.rules.delAt(at, k, l)
	tr.count--
	if tr.maxBits == 32 {
		w.prefixes4--
	} else {
		w.prefixes6--
	}
	w.dropSlotRef(old, 1)
	return nil
}

// cover finds the leaf of the longest installed prefix shorter than l that
// contains k/l (0 if none), mostly from the table itself. Walking up from
// j = l: if k/j (j < l) is installed, it is the answer; otherwise look up
// the sibling of k/j, the other half of k/(j-1). If the sibling's longest
// match is shorter than j (or there is none), it is the answer, because a
// prefix no longer than j-1 covers k/j exactly when it covers the sibling.
// Only a sibling with more-specifics of its own sends the walk one level
// up. The sibling shares k's path through the trie, so its lookup is
// mostly cache hits, and a short cover is found in a few steps instead of
// one hash probe per installed length in between.
func (w *Writer) cover(tr *trie, k key, l int) uint32 {
	rs := &tr.rules
	// The indexed nodes on k's path count the prefixes that end in them by
	// length: k/j is looked for only if some prefix of length j ends in
	// the node at j's depth. A /48 withdrawn from a /40 full of /48s
	// otherwise probed the prefix set for most lengths from /47 up (2.3
	// probes, each a cache miss, per /48 of the full table). Siblings
	// below the deepest of these nodes are walked from it (as tr.start
	// would find it: the indexes go by increasing depth).
	var ends [len(indexDepths)]*[8]uint16
	var node uint32
	var start uint
	indexed := false
	for i := range tr.deep {
		if x := &tr.deep[i]; uint(l) > x.depth {
			if n, ok := x.get(k.hi >> (64 - x.depth)); ok {
				ends[i] = &w.info[n].ends
				node, start, indexed = n, x.depth, true
			}
		}
	}
	for j := l; j >= 0; j-- {
		if j < l && rs.present[j/64]&(1<<(j%64)) != 0 && (j > shortMax || rs.hasShort(k, j)) && tr.mayEnd(&ends, j) {
			if e, ok := rs.get(k.mask(j), j); ok {
				return e
			}
		}
		if j == 0 {
			break
		}
		sib := k.mask(j)
		if i := uint(j - 1); i < 64 {
			sib.hi ^= 1 << (63 - i)
		} else {
			sib.lo ^= 1 << (127 - i)
		}
		e, d := tr.root[sib.hi>>(64-tr.bits)], tr.bits
		if indexed && uint(j) > start {
			e, d = 1<<31|node, start
		}
		for ; e&(1<<31) != 0; d += 8 {
			e = w.nodes[(e&(1<<31-1))*fr.NodeEntries+sib.byteAt(d)]
		}
		if e == 0 || leafBits(e) < j {
			return e
		}
	}
	return 0
}

// mayEnd reports whether a prefix of length j may end in the node of k's
// path that holds such prefixes' entries, from the counts of the indexed
// nodes found by cover (ends). A missing indexed node ends none: a prefix
// ending there would keep it alive.
func (tr *trie) mayEnd(ends *[len(indexDepths)]*[8]uint16, j int) bool {
	for i := range tr.deep {
		if d := tr.deep[i].depth; uint(j) > d && uint(j) <= d+8 {
			return ends[i] != nil && ends[i][uint(j)-d-1] != 0
		}
	}
	return true
}

// write applies an insert (val is the new leaf; entries of prefixes no
// longer than l are overwritten) or a delete (val is the covering leaf;
// entries of exactly length l are overwritten) of k/l. added (1 for a new
// prefix, -1 for a delete, 0 for a replacement) goes to the count of
// prefixes of length l ending in the IPv6 node that holds its entries.
func (w *Writer) write(tr *trie, k key, l int, val uint32, del bool, added int) error {
	R := tr.bits
	if uint(l) <= R {
		// A short prefix rewrites a range of root entries (65,536 for an
		// IPv4 /8): leaves are decided and stored here, without two calls
		// per entry.
		start := uint32(k.hi >> (64 - R))
		root := tr.root[start : start+uint32(1)<<(R-uint(l))]
		for i, e := range root {
			if e&(1<<31) != 0 {
				w.rewrite(&root[i], R, l, val, del)
			} else if replaces(e, l, val, del) {
				w.storeRoot(tr, start+uint32(i), val)
			}
		}
		return nil
	}
	var path [16]struct {
		p     *uint32
		node  uint32
		d     uint
		fresh bool // made by this call
	}
	np := 0
	p := &tr.root[k.hi>>(64-R)]
	d := R
	// From an indexed node on the path if there is one: its link is found
	// only if it collapses (p nil in the path).
	node, start, indexed := tr.start(k, l)
	if indexed {
		p, d = nil, start
	}
	for {
		if !indexed {
			fresh := *p&(1<<31) == 0
			var err error
			if node, err = w.ensureNode(p, d); err != nil {
				// The nodes this call made hold the old answers (and a
				// link to the next one): collapse them again, deepest
				// first, so that a refused insert leaves no node behind.
				for i := np - 1; i >= 0 && path[i].fresh; i-- {
					if w.info[path[i].node].own == 0 {
						w.collapseNow(path[i].p, path[i].node)
					}
				}
				return err
			}
			path[np].fresh = fresh
		} else {
			path[np].fresh = false
		}
		indexed = false
		path[np].p, path[np].node, path[np].d = p, node, d
		np++
		b := k.byteAt(d)
		if uint(l) <= d+8 {
			n := uint32(1) << (d + 8 - uint(l))
			base := node * fr.NodeEntries
			for i := b; i < b+n; i++ {
				w.rewrite(&w.nodes[base+i], d+8, l, val, del)
			}
			if w.info[node].v6 {
				w.info[node].ends[uint(l)-d-1] += uint16(added)
			}
			break
		}
		p = &w.nodes[node*fr.NodeEntries+b]
		d += 8
	}
	if del {
		for i := np - 1; i >= 0; i-- {
			if !w.collapse(path[i].p, path[i].node, path[i].d) {
				return nil
			}
		}
		// The walk began at an indexed node, which collapsed: its parents
		// may now collapse too.
		for n := path[0].node; path[0].p == nil; {
			par := w.comp.parent[n]
			if par < 0 {
				break
			}
			n = uint32(par)
			if !w.collapse(nil, n, uint(w.info[n].depth)) {
				break
			}
		}
	}
	return nil
}

// rewrite updates one entry whose range lies inside the prefix being
// changed; depth is the number of address bits the entry's position fixes.
func (w *Writer) rewrite(p *uint32, depth uint, l int, val uint32, del bool) {
	e := *p
	if e&(1<<31) != 0 {
		node := e & (1<<31 - 1)
		if w.info[node].v6 {
			w.rewriteCovered(node, depth, l, val, del)
		} else {
			base := node * fr.NodeEntries
			for i := uint32(0); i < fr.NodeEntries; i++ {
				w.rewrite(&w.nodes[base+i], depth+8, l, val, del)
			}
		}
		if del {
			w.collapse(p, node, depth)
		}
		return
	}
	if replaces(e, l, val, del) {
		w.store(p, val)
	}
}

// rewriteCovered is rewrite of every entry of IPv6 node n (at depth d),
// which the changing prefix covers whole. The node's entries that are not
// its own all hold one leaf, the longest prefix of d bits or fewer that
// covers the node, so the change replaces all of them or none, with a
// leaf that is not its own either. Its own count, its prefixes by length
// and its run map stay as they are (a run never holds own and other
// entries together), and the entries are written without store's
// bookkeeping for each: a /32 withdrawn over a node full of /48s went
// through store for each of its hundreds of entries. The changed runs are
// patched into the node's copy: every run of the copy, whose starts may be
// more than the map's (see setRuns), that starts with a changed entry.
func (w *Writer) rewriteCovered(n uint32, d uint, l int, val uint32, del bool) {
	ent := (*[fr.NodeEntries]uint32)(w.nodes[n*fr.NodeEntries:])
	changed := false
	for i, e := range ent {
		switch {
		case e&(1<<31) != 0:
			w.rewrite(&ent[i], d+8, l, val, del)
		case ownEntry(e, d) == 0 && replaces(e, l, val, del):
			ent[i] = val
			changed = true
		}
	}
	if !changed {
		return
	}
	w.markNode(n)
	o := w.comp.off[n]
	if w.info[n].reshaped || o == 0 {
		return // a new copy at Commit
	}
	base := n * fr.NodeEntries
	pm := w.comp.pool[o : o+4]
	for q, m := range pm {
		for ; m != 0; m &= m - 1 {
			if i := uint32(q)<<6 | uint32(bits.TrailingZeros64(m)); ent[i] == val {
				w.comp.patches = append(w.comp.patches, base+i)
			}
		}
	}
}

// replaces reports whether a change of a prefix of length l (an insert of
// leaf val, or a delete falling back to val) rewrites the leaf entry e in
// its range: an insert overwrites leaves of prefixes no longer than l, a
// delete those of exactly l. An entry that already holds val is left
// alone: storing it again would mark its node for republishing though no
// reader could see a difference.
func replaces(e uint32, l int, val uint32, del bool) bool {
	if del {
		return e != 0 && leafBits(e) == l
	}
	return (e == 0 || leafBits(e) <= l) && e != val
}

// ensureNode makes the entry at p a link to a node and returns the node.
// A new node is filled with the entry's old leaf before it is linked.
func (w *Writer) ensureNode(p *uint32, d uint) (uint32, error) {
	e := *p
	if e&(1<<31) != 0 {
		return e & (1<<31 - 1), nil
	}
	n, ok := w.nodeMem.get()
	if !ok {
		return 0, fmt.Errorf("node pool of %d nodes: %w", w.opts.Nodes, ErrFull)
	}
	if err := w.reserve(&w.resNodes, w.lay.nodePool+uint64(n+1)*fr.NodeEntries*4, w.lay.recPool); err != nil {
		w.nodeMem.used--
		w.nodeMem.put(n)
		return 0, err
	}
	// The old leaf covers the whole node: none of its entries is the
	// node's own yet. Filled 8 bytes at a time (half the stores; the node
	// is usually not in cache).
	s := (*[fr.NodeEntries / 2]uint64)(unsafe.Pointer(&w.nodes[n*fr.NodeEntries]))
	e2 := uint64(e) | uint64(e)<<32
	for i := range s {
		s[i] = e2
	}
	if int(n) >= len(w.info) {
		w.info = append(w.info, make([]nodeInfo, int(n)+1-len(w.info)+len(w.info)/4)...)
	}
	w.info[n] = nodeInfo{depth: uint8(d)}
	w.newNode(p, n)
	w.store(p, fr.EncodeLink(n))
	return n, nil
}

// collapse replaces the link at p by a leaf when node (at depth d) holds
// one leaf everywhere from a prefix that covers the whole node, and
// quarantines the node. It reports whether it did. An IPv6 node lingers
// instead (see Options.Linger): it is listed in idle and collapses at a
// later Commit, unless it holds an entry of its own again by then.
func (w *Writer) collapse(p *uint32, node uint32, d uint) bool {
	r := &w.info[node]
	if r.own != 0 {
		return false
	}
	if r.v6 && w.opts.Linger > 0 {
		if !r.idle {
			r.idle = true
			w.idle = append(w.idle, idleNode{node, w.lastCommit})
		}
		return false
	}
	return w.collapseNow(p, node)
}

// idleNode is a lingering IPv6 node and the Commit time it became idle
// by (see collapse).
type idleNode struct {
	node uint32
	at   int64
}

// collapseIdle collapses the lingering nodes whose time is up (all of
// them if all is set) and still hold one leaf everywhere, and the parents
// that then hold one leaf everywhere: they have had nothing of their own
// since their child lingered. A node that flapped back to idle within one
// linger period keeps its first time and may collapse early, which costs
// only the next announcement a new node.
func (w *Writer) collapseIdle(now int64, all bool) {
	k := 0
	for ; k < len(w.idle); k++ {
		it := w.idle[k]
		if !all && now-it.at < int64(w.opts.Linger) {
			break
		}
		n := it.node
		r := &w.info[n]
		if !r.idle {
			continue
		}
		r.idle = false
		if !r.v6 || r.own != 0 {
			continue
		}
		c := &w.comp
		w.cur = &w.tables[c.slot[n]].v6
		par := c.parent[n]
		w.collapseNow(nil, n)
		for par >= 0 && w.info[par].own == 0 {
			next := c.parent[par]
			w.collapseNow(nil, uint32(par))
			par = next
		}
	}
	if k == len(w.idle) {
		w.idle = w.idle[:0]
	} else {
		w.idle = w.idle[k:]
	}
}

// collapseNow is collapse of a node whose entries are all one leaf.
func (w *Writer) collapseNow(p *uint32, node uint32) bool {
	if p == nil {
		p = w.linkOf(w.cur, node) // an IPv6 node the walk began at
	}
	w.store(p, w.nodes[node*fr.NodeEntries])
	if w.freeNode(node) {
		w.nodeMem.used--
		w.nodeMem.put(node)
	} else {
		w.quarantine(qNode, node)
	}
	return true
}
