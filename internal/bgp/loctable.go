package bgp

import (
	"iter"

	"github.com/routerd/routerd/internal/prefixmap"
	"github.com/routerd/routerd/internal/rib"
)

// locTable holds the Loc-RIB's dests by the keys' IDs in the RIB's Index
// (rib.Index), for the speaker's table. The prefix is searched for and
// inserted once, here, and its ID goes to the RIB with the best route
// (rib.Route.ID), which then finds its entry without a search of its own:
// with a map of its own the Loc-RIB and the RIB each searched and
// inserted every prefix of a full table, half of the CPU time of loading
// one. The index also gives the walks their address order.
//
// The table holds one index reference per dest. A dest deleted gives its
// reference back only after the batches already decided have reached the
// RIB (its ID may be in one of their routes): releases wait in release
// until the next batch is handed over (Speaker.handOver), and the RIB
// queue's applier makes them after applying that batch.
type locTable struct {
	idx     *rib.Index
	table   rib.Table
	held    rib.IDSet
	dests   rib.ByID[dest]
	n       int
	release []rib.IndexRef
}

func newLocTable(idx *rib.Index, t rib.Table) locTable {
	return locTable{idx: idx, table: t}
}

// Entry returns k's dest, adding k with a zero dest (its id set) when it
// is absent, and whether it was present.
func (l *locTable) Entry(k prefixmap.Key) (*dest, bool) {
	id := l.idx.Take(l.table, k, &l.held)
	d := l.dests.At(id)
	if l.held.Has(id) {
		return d, true
	}
	l.held.Set(id)
	*d = dest{id: id}
	l.n++
	return d, false
}

// Ptr returns k's dest, or nil when k is absent.
func (l *locTable) Ptr(k prefixmap.Key) *dest {
	id, ok := l.idx.Find(l.table, k)
	if !ok || !l.held.Has(id) {
		return nil
	}
	return l.dests.At(id)
}

// Get returns k's dest.
func (l *locTable) Get(k prefixmap.Key) (dest, bool) {
	if d := l.Ptr(k); d != nil {
		return *d, true
	}
	return dest{}, false
}

// Delete removes k, whose dest the caller has in d (a copy will do: its
// id names the entry); the reference goes with the next batch.
func (l *locTable) Delete(k prefixmap.Key, d *dest) {
	id := d.id
	if !l.held.Has(id) {
		return
	}
	l.held.Clear(id)
	*l.dests.At(id) = dest{}
	l.n--
	l.release = append(l.release, rib.IndexRef{Table: l.table, Key: k, ID: id})
}

// Len returns the number of prefixes.
func (l *locTable) Len() int { return l.n }

// All iterates over the dests in address order (IPv4 first). The loop
// body may change the dest it is given and may Delete its key; keys it
// adds may or may not be seen.
func (l *locTable) All() iter.Seq2[prefixmap.Key, *dest] { return l.after(nil) }

// After is All from the first key after k.
func (l *locTable) After(k prefixmap.Key) iter.Seq2[prefixmap.Key, *dest] { return l.after(&k) }

func (l *locTable) after(k *prefixmap.Key) iter.Seq2[prefixmap.Key, *dest] {
	return func(yield func(prefixmap.Key, *dest) bool) {
		l.idx.Walk(l.table, k, l.held.Has, func(k prefixmap.Key, id uint32) bool {
			return yield(k, l.dests.At(id))
		})
	}
}

// releaseAll gives back every reference, for a speaker that stops.
func (l *locTable) releaseAll() {
	for k, d := range l.All() {
		l.Delete(k, d)
	}
	l.idx.Release(l.release...)
	l.release = nil
}
