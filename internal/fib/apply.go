package fib

import (
	"net/netip"

	fr "github.com/routerd/routerd/pkg/fibreader"
)

// Change is one route change of a batch for Apply: an insert (or
// replacement) of Prefix in Table with Action, or with Delete set a
// withdrawal of it.
type Change struct {
	Table  uint32
	Prefix netip.Prefix
	Action Action // ignored when Delete is set
	Delete bool
}

// applyChunk is how many changes Apply warms before it makes them: enough
// independent cache misses to keep the memory system busy, few enough
// that the lines they bring stay in L1/L2 until the changes are made.
const applyChunk = 64

// applyItem is a change of the chunk being applied: where it goes (from
// famOf) and how far the warming walk got.
type applyItem struct {
	tr   *trie
	k    key
	l    int
	err  error
	rule *rule                     // home slot of k/l in the prefix set
	next *rule                     // two slots on: the next line, where probes and deletes often go on
	root *uint32                   // root entry of k's path
	ix   [len(indexDepths)]*uint64 // home slots of k's nodes in the node indexes
	up   *rule                     // deletes: home slot of k/(l-1), which cover may probe
	e    uint32                    // entry the walk reached
	d    uint                      // address bits fixed by that entry's position
	node uint32                    // the node holding e, +1 (0: e is a root entry)
}

// Apply makes the changes of cs in order, with the same effect and the
// same errors as calling Insert and Delete for each: a change that fails
// (an invalid prefix, a delete of a prefix that is not installed, a full
// pool) is reported to failed, if not nil, with its index in cs, changes
// nothing (like a failed Insert or Delete) and does not stop the others.
// As with Insert, IPv6 changes become visible to readers at Commit.
//
// The changes of a batch are independent, so their cache misses can
// overlap: Apply takes them in chunks, first reads for every change of a
// chunk the home slot of its prefix in the writer's prefix set and the
// root entry of its path, then walks all their paths through the plain
// nodes one level at a time, and only then makes them one by one, with
// their lines in cache. One change by itself would wait for each of these
// misses in turn. The warming reads only: what a change of the chunk
// alters is read again when the next one is made.
func (w *Writer) Apply(cs []Change, failed func(i int, err error)) {
	for base := 0; base < len(cs); base += applyChunk {
		chunk := cs[base:min(base+applyChunk, len(cs))]
		items := w.applyItems[:len(chunk)]
		w.warm(chunk, items)
		for i := range chunk {
			c, it := &chunk[i], &items[i]
			err := it.err
			if err == nil {
				if c.Delete {
					err = w.delete(it.tr, it.k, it.l)
				} else {
					err = w.insert(it.tr, it.k, it.l, c.Action)
				}
			}
			if err != nil && failed != nil {
				op := "insert"
				if c.Delete {
					op = "delete"
				}
				failed(base+i, changeError(op, c.Table, c.Prefix, err))
			}
			// No references kept past the call.
			it.tr, it.err, it.rule, it.next, it.up, it.root, it.ix = nil, nil, nil, nil, nil, nil, [len(indexDepths)]*uint64{}
		}
	}
}

// warm resolves the changes of a chunk (famOf, in order, so that tables
// an insert creates exist for the changes after it, as they would one by
// one) and reads what making them will read first.
func (w *Writer) warm(chunk []Change, items []applyItem) {
	for i := range chunk {
		c, it := &chunk[i], &items[i]
		it.tr, it.k, it.l, it.err = w.famOf(c.Table, c.Prefix, !c.Delete)
		it.rule, it.up, it.root, it.e, it.d, it.node, it.ix = nil, nil, nil, 0, 0, 0, [len(indexDepths)]*uint64{}
		if tr := it.tr; it.err == nil && tr != nil {
			if rs := &tr.rules; len(rs.slots) > 0 {
				h := hashKey(it.k, it.l) & rs.mask
				it.rule, it.next = &rs.slots[h], &rs.slots[(h+2)&rs.mask]
				if u := it.l - 1; c.Delete && u > shortMax && rs.present[u/64]&(1<<(u%64)) != 0 {
					it.up = &rs.slots[hashKey(it.k.mask(u), u)&rs.mask]
				}
			}
			it.root = &tr.root[it.k.hi>>(64-tr.bits)]
			it.d = tr.bits
			for j := range tr.deep {
				if x := &tr.deep[j]; x.n > 0 && uint(it.l) > x.depth {
					it.ix[j] = &x.slots[x.home(it.k.hi>>(64-x.depth))]
				}
			}
		}
	}
	// The loads, in loops of their own: with famOf's work between them
	// the reorder window held only one or two of them at a time, and the
	// misses followed each other (chunks of 64 cost 229 ns per change
	// against 256 ns one at a time; in loops of their own 123 ns). The
	// loads of a loop do not depend on each other.
	var acc uint32
	for i := range items {
		if r := items[i].rule; r != nil {
			acc += r.leaf + items[i].next.leaf
		}
		if r := items[i].up; r != nil {
			acc += r.leaf
		}
		for _, s := range items[i].ix {
			if s != nil {
				acc += uint32(*s)
			}
		}
	}
	// The walk starts at the deepest indexed node on the path, as the
	// change's will, or at the root.
	for i := range items {
		if it := &items[i]; it.root != nil {
			if n, d, ok := it.tr.start(it.k, it.l); ok {
				it.e, it.d = 1<<31|n, d
			} else {
				it.e = *it.root
			}
		}
	}
	// One level of every change's path per pass: the loads of a pass
	// depend on the previous pass, not on each other.
	for more := true; more; {
		more = false
		for i := range items {
			it := &items[i]
			if it.e&(1<<31) == 0 || uint(it.l) <= it.d {
				continue
			}
			n := it.e & (1<<31 - 1)
			it.e = w.nodes[n*fr.NodeEntries+it.k.byteAt(it.d)]
			it.d += 8
			it.node = n + 1
			more = true
		}
	}
	// What a store into the last node reads and writes beside the entry:
	// its bookkeeping, one line.
	for i := range items {
		if n := items[i].node; n != 0 {
			acc += uint32(w.info[n-1].own)
		}
	}
	w.warmSink += acc
}
