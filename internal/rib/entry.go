package rib

import "iter"

// entry is the state of one key, stored by value in its table's map: the
// first candidate inline (most prefixes have one source), the selected
// candidate by index, and an id that names the key in the subscribers'
// pending sets and, for the few keys with more than one candidate, in
// RIB.more, which holds the others. The selected route is derived from the
// candidate rather than stored. An entry is 24 bytes without pointers: an
// IPv4 key with its entry is a 32-byte map slot, and the collector does not
// scan the tables.
//
// An entry with one candidate selects it whenever it is usable (RIB.sel
// asks its group): best is not consulted then. A group that stops or starts
// resolving therefore changes no such entry, and a full table behind one
// next hop costs the RIB nothing per route when that next hop goes or comes
// back. Only entries with several candidates keep their choice in best.
type entry struct {
	c0   candidate
	id   uint32 // the key's bit in every subscriber's pending set
	n    uint8  // number of candidates
	best int8   // with n > 1: index of the selected candidate, -1 for none
}

// at returns candidate i of e.
func (r *RIB) at(e *entry, i int) *candidate {
	if i == 0 {
		return &e.c0
	}
	return &r.more[e.id][i-1]
}

func (r *RIB) find(e *entry, src SourceID) int {
	for i := 0; i < int(e.n); i++ {
		if r.at(e, i).src == src {
			return i
		}
	}
	return -1
}

func (r *RIB) add(e *entry, c candidate) {
	if e.n == 0 {
		e.c0 = c
	} else {
		r.more[e.id] = append(r.more[e.id], c)
	}
	e.n++
}

// remove deletes candidate i; the selection index is the caller's to redo.
func (r *RIB) remove(e *entry, i int) {
	last := int(e.n) - 1
	if i != last {
		*r.at(e, i) = *r.at(e, last)
	}
	if last == 1 {
		delete(r.more, e.id)
	} else if last > 1 {
		r.more[e.id] = r.more[e.id][:last-1]
	}
	e.n--
}

// table holds one routing table's entries, IPv4 keyed by a packed 64-bit
// value (address and length) and IPv6 by pfx.
type table struct {
	id      Table
	v4      map[uint64]entry
	v6      map[pfx]entry
	lengths [2][129]int // keys per prefix length and family: longest-match walks skip empty lengths
	// multi counts entries with more than one candidate, the only ones
	// whose selection a group's resolution can move to another candidate:
	// with none and no subscriber wanting per-route news, a group that
	// flips needs no walk over the table.
	multi int
}

func newTable(id Table) *table {
	return &table{id: id, v4: map[uint64]entry{}, v6: map[pfx]entry{}}
}

func key4(k pfx) uint64 { return k.hi>>24 | uint64(k.bits) }

func unkey4(v uint64) pfx { return pfx{hi: (v &^ 0xff) << 24, bits: uint8(v)} }

func (t *table) get(k pfx) (entry, bool) {
	if k.v6 {
		e, ok := t.v6[k]
		return e, ok
	}
	e, ok := t.v4[key4(k)]
	return e, ok
}

func (t *table) put(k pfx, e entry) {
	if k.v6 {
		t.v6[k] = e
	} else {
		t.v4[key4(k)] = e
	}
}

func (t *table) del(k pfx) {
	if k.v6 {
		delete(t.v6, k)
	} else {
		delete(t.v4, key4(k))
	}
}

func (t *table) size() int { return len(t.v4) + len(t.v6) }

// all iterates over every entry; the loop body may put to the key it is
// given.
func (t *table) all() iter.Seq2[pfx, entry] {
	return func(yield func(pfx, entry) bool) {
		for k, e := range t.v4 {
			if !yield(unkey4(k), e) {
				return
			}
		}
		for k, e := range t.v6 {
			if !yield(k, e) {
				return
			}
		}
	}
}

// bitset is a set of entry ids, one bit each: a subscriber's pending keys
// cost 128 KiB for a full table, dense enough to stay in cache.
type bitset []uint64

func (b bitset) has(i uint32) bool {
	w := int(i >> 6)
	return w < len(b) && b[w]&(1<<(i&63)) != 0
}

func (b *bitset) set(i uint32) {
	w := int(i >> 6)
	if w >= len(*b) {
		*b = append(*b, make([]uint64, w+1-len(*b))...)
	}
	(*b)[w] |= 1 << (i & 63)
}

func (b bitset) clear(i uint32) {
	if w := int(i >> 6); w < len(b) {
		b[w] &^= 1 << (i & 63)
	}
}
