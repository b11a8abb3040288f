package rib

import (
	"sync"

	"github.com/routerd/routerd/internal/prefixmap"
)

// Index names every key (table and prefix) that the RIB or a protocol's
// own table holds with a dense ID, shared by all of them. The RIB keeps
// its entries by ID, and so does the BGP speaker its Loc-RIB: a prefix
// learned over BGP is searched for and inserted once, by the speaker,
// which hands the ID to the RIB with the route, instead of once in the
// Loc-RIB's map and again in the RIB's. Those two searches and inserts
// were half of routerd's CPU time loading a full table.
//
// Each holder (the RIB, a speaker) takes one reference on an ID while it
// keeps state under it; the key and its ID go when the last is released,
// and the ID is reused. A holder may release a reference only once no
// work it queued for another holder still names the ID: the speaker
// therefore hands its releases to the RIB queue with its batches (see
// bgp's batch.release), so that an ID in a route on its way to the RIB is
// never given to another key meanwhile.
//
// An Index is safe for concurrent use. Its lock is held only inside its
// methods, which call nothing outside.
type Index struct {
	mu     sync.Mutex
	tables map[Table]*prefixmap.Map[uint32]
	// refs counts references by ID (ID 0 is never handed out). A holder
	// has one at a time, but releases waiting for the RIB queue still
	// count: a prefix flapping thousands of times between two batches
	// the RIB applies takes as many, hence 32 bits.
	refs []uint32
	free []uint32
	// The table looked up last: nearly every call is for the same one.
	lastT Table
	lastM *prefixmap.Map[uint32]
}

// IndexRef names a reference to release: the key and its ID.
type IndexRef struct {
	Table Table
	Key   prefixmap.Key
	ID    uint32
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{tables: map[Table]*prefixmap.Map[uint32]{}, refs: make([]uint32, 1)}
}

// Take returns the ID of key k of table t, adding the key if it is new,
// and takes a reference for the caller unless the caller's set held
// has the ID already.
func (x *Index) Take(t Table, k prefixmap.Key, held *IDSet) uint32 {
	x.mu.Lock()
	p, ok := x.table(t, true).Entry(k)
	if !ok {
		*p = x.newID()
	}
	id := *p
	if !ok || !held.Has(id) {
		x.refs[id]++
	}
	x.mu.Unlock()
	return id
}

// table returns t's map (nil if it has none and create is false).
// Called with x.mu held.
func (x *Index) table(t Table, create bool) *prefixmap.Map[uint32] {
	if x.lastM != nil && x.lastT == t {
		return x.lastM
	}
	m := x.tables[t]
	if m == nil {
		if !create {
			return nil
		}
		m = new(prefixmap.Map[uint32])
		x.tables[t] = m
	}
	x.lastT, x.lastM = t, m
	return m
}

func (x *Index) newID() uint32 {
	if n := len(x.free); n > 0 {
		id := x.free[n-1]
		x.free = x.free[:n-1]
		return id
	}
	x.refs = append(x.refs, 0)
	return uint32(len(x.refs) - 1)
}

// Hold takes one more reference on each of ids, which the caller knows
// to be live: another holder's reference keeps each of them while the
// call runs.
func (x *Index) Hold(ids []uint32) {
	if len(ids) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, id := range ids {
		x.refs[id]++
	}
}

// Find returns the ID of key k of table t, if some holder has it.
func (x *Index) Find(t Table, k prefixmap.Key) (uint32, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	m := x.table(t, false)
	if m == nil {
		return 0, false
	}
	return m.Get(k)
}

// Release drops one reference on each of refs; a key whose last
// reference goes is forgotten and its ID freed.
func (x *Index) Release(refs ...IndexRef) {
	if len(refs) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, r := range refs {
		if x.refs[r.ID] == 0 {
			panic("rib: index reference released twice")
		}
		if x.refs[r.ID]--; x.refs[r.ID] == 0 {
			x.table(r.Table, false).Delete(r.Key)
			x.free = append(x.free, r.ID)
		}
	}
}

// KeyID is a key of a table and its ID.
type KeyID struct {
	Key prefixmap.Key
	ID  uint32
}

// Chunk appends to buf up to max keys of table t in address order (IPv4
// first), starting after key after unless first is set, and returns it.
// Fewer than max keys means the walk is complete. Walking a large table
// chunk by chunk holds the lock for one chunk at a time, and the caller
// may change the table between chunks.
func (x *Index) Chunk(t Table, after prefixmap.Key, first bool, max int, buf []KeyID) []KeyID {
	x.mu.Lock()
	defer x.mu.Unlock()
	m := x.table(t, false)
	if m == nil {
		return buf
	}
	seq := m.All()
	if !first {
		seq = m.After(after)
	}
	n := 0
	for k, id := range seq {
		buf = append(buf, KeyID{k, *id})
		if n++; n == max {
			break
		}
	}
	return buf
}

// Compact packs the index's maps (see prefixmap.Map.Compact).
func (x *Index) Compact() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, m := range x.tables {
		m.Compact()
	}
}

// Len returns the number of keys of table t.
func (x *Index) Len(t Table) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	if m := x.table(t, false); m != nil {
		return m.Len()
	}
	return 0
}

// Walk calls yield for every key of table t after key after (from the
// first if after is nil) that keep reports as the caller's, in address
// order, reading the index keysChunk keys per hold of its lock. keep and
// yield run without the lock; yield may release the reference of the key
// it is given.
func (x *Index) Walk(t Table, after *prefixmap.Key, keep func(uint32) bool, yield func(prefixmap.Key, uint32) bool) {
	buf := make([]KeyID, 0, keysChunk)
	var from prefixmap.Key
	first := after == nil
	if after != nil {
		from = *after
	}
	for ; ; first = false {
		buf = x.Chunk(t, from, first, keysChunk, buf[:0])
		for _, kv := range buf {
			if keep(kv.ID) && !yield(kv.Key, kv.ID) {
				return
			}
		}
		if len(buf) < keysChunk {
			return
		}
		from = buf[len(buf)-1].Key
	}
}

// ByID holds a value per key ID, in chunks allocated as IDs reach them:
// state kept by ID rather than in a map by prefix costs its own size per
// key, and IDs are dense.
type ByID[T any] struct {
	chunks [][]T
}

const byIDChunkBits = 12

// At returns id's value, making room for it.
func (s *ByID[T]) At(id uint32) *T {
	c := int(id >> byIDChunkBits)
	for c >= len(s.chunks) {
		s.chunks = append(s.chunks, nil)
	}
	if s.chunks[c] == nil {
		s.chunks[c] = make([]T, 1<<byIDChunkBits)
	}
	return &s.chunks[c][id&(1<<byIDChunkBits-1)]
}

// IDSet is a set of key IDs, one bit each: a subscriber's pending keys
// cost 128 KiB for a full table, dense enough to stay in cache.
type IDSet []uint64

// Has reports whether i is in the set.
func (b IDSet) Has(i uint32) bool {
	w := int(i >> 6)
	return w < len(b) && b[w]&(1<<(i&63)) != 0
}

// Set adds i.
func (b *IDSet) Set(i uint32) {
	w := int(i >> 6)
	if w >= len(*b) {
		*b = append(*b, make([]uint64, w+1-len(*b))...)
	}
	(*b)[w] |= 1 << (i & 63)
}

// Clear removes i.
func (b IDSet) Clear(i uint32) {
	if w := int(i >> 6); w < len(b) {
		b[w] &^= 1 << (i & 63)
	}
}
