package rib

import (
	"iter"

	"github.com/routerd/routerd/internal/prefixmap"
)

// entry is the state of one key, stored by value in its table: the
// first candidate inline (most prefixes have one source), the selected
// candidate by index, and an id that names the key in the subscribers'
// pending sets and, for the few keys with more than one candidate, in
// RIB.more, which holds the others. The selected route is derived from the
// candidate rather than stored. The first candidate's fields are laid out
// with the entry's own so that an entry is 20 bytes without pointers: an
// IPv4 key with its entry takes 24 bytes in its table, and the collector
// does not scan the tables.
//
// An entry with one candidate selects it whenever it is usable (RIB.sel
// asks its group): best is not consulted then. A group that stops or starts
// resolving therefore changes no such entry, and a full table behind one
// next hop costs the RIB nothing per route when that next hop goes or comes
// back. Only entries with several candidates keep their choice in best.
type entry struct {
	// the first candidate (see candidate)
	group    GroupID
	metric   uint32
	id       uint32 // the key's bit in every subscriber's pending set
	src      SourceID
	kind     Kind
	distance uint8
	proto    uint8
	n        uint8 // number of candidates
	best     int8  // with n > 1: index of the selected candidate, -1 for none
}

// cand returns candidate i of e.
func (r *RIB) cand(e *entry, i int) candidate {
	if i == 0 {
		return candidate{group: e.group, metric: e.metric, src: e.src, kind: e.kind, distance: e.distance, proto: e.proto}
	}
	return r.more[e.id][i-1]
}

// setCand replaces candidate i of e.
func (r *RIB) setCand(e *entry, i int, c candidate) {
	if i == 0 {
		e.group, e.metric, e.src, e.kind, e.distance, e.proto = c.group, c.metric, c.src, c.kind, c.distance, c.proto
		return
	}
	r.more[e.id][i-1] = c
}

func (r *RIB) find(e *entry, src SourceID) int {
	if e.n > 0 && e.src == src {
		return 0
	}
	for i := 1; i < int(e.n); i++ {
		if r.more[e.id][i-1].src == src {
			return i
		}
	}
	return -1
}

func (r *RIB) add(e *entry, c candidate) {
	if e.n == 0 {
		r.setCand(e, 0, c)
	} else {
		r.more[e.id] = append(r.more[e.id], c)
	}
	e.n++
}

// remove deletes candidate i; the selection index is the caller's to redo.
func (r *RIB) remove(e *entry, i int) {
	last := int(e.n) - 1
	if i != last {
		r.setCand(e, i, r.cand(e, last))
	}
	if last == 1 {
		delete(r.more, e.id)
	} else if last > 1 {
		r.more[e.id] = r.more[e.id][:last-1]
	}
	e.n--
}

// table is one routing table: its keys and their IDs are in the RIB's
// Index (shared with the protocols' own tables), its entries in RIB.ents
// by ID. A key is the RIB's while it has an entry (RIB.present), which
// holds one reference on the key's ID.
type table struct {
	id      Table
	r       *RIB
	n       int         // keys with an entry
	lengths [2][129]int // keys per prefix length and family: longest-match walks skip empty lengths
	// multi counts entries with more than one candidate, the only ones
	// whose selection a group's resolution can move to another candidate:
	// with none and no subscriber wanting per-route news, a group that
	// flips needs no walk over the table.
	multi int
}

func newTable(r *RIB, id Table) *table { return &table{id: id, r: r} }

// mkey converts a pfx (the same fields) for the index.
func (k pfx) mkey() prefixmap.Key { return prefixmap.Key{Hi: k.hi, Lo: k.lo, Bits: k.bits, V6: k.v6} }

func fromMKey(k prefixmap.Key) pfx { return pfx{hi: k.Hi, lo: k.Lo, bits: k.Bits, v6: k.V6} }

func (t *table) get(k pfx) (entry, bool) {
	id, ok := t.r.idx.Find(t.id, k.mkey())
	if !ok || !t.r.present.Has(id) {
		return entry{}, false
	}
	return *t.r.ents.At(id), true
}

// put writes e back under its id.
func (t *table) put(e entry) { *t.r.ents.At(e.id) = e }

func (t *table) size() int { return t.n }

// all iterates over every entry in prefix order, IPv4 first; the loop
// body may put to the key it is given or delete it, nothing else.
func (t *table) all() iter.Seq2[pfx, entry] {
	return func(yield func(pfx, entry) bool) {
		t.r.idx.Walk(t.id, nil, t.r.present.Has, func(k prefixmap.Key, id uint32) bool {
			return yield(fromMKey(k), *t.r.ents.At(id))
		})
	}
}
