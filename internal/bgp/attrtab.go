package bgp

import (
	"net/netip"
	"unique"

	"github.com/routerd/routerd/internal/bgp/wire"
)

// attrID names a set of path attributes in the speaker's attrTable; 0 is
// no set. The Loc-RIB refers to attributes by ID rather than by handle so
// that its per-prefix state holds no pointer: the garbage collector never
// scans it, and moving it (prefixmap inserts) needs no write barriers.
type attrID uint32

// attrTable interns the attribute sets the Loc-RIB's paths use, counting
// references so that an ID is freed (and reused) with its last path.
// Guarded by the speaker's mu.
type attrTable struct {
	ids  map[unique.Handle[wire.Attrs]]attrID
	sets []attrSet // by ID; sets[0] is unused
	free []attrID
	// copies holds each set's h.Value() at a fixed place, in chunks of
	// attrChunk by ID: allocated one by one, these copies (224 bytes
	// each) landed among the garbage a table load makes in that size
	// class, and each kept its mostly empty span resident afterwards.
	copies [][]wire.Attrs
	// The prefixes of one UPDATE share their attributes: the last set
	// interned is remembered.
	last   unique.Handle[wire.Attrs]
	lastID attrID
}

const attrChunk = 256

type attrSet struct {
	h    unique.Handle[wire.Attrs]
	a    *wire.Attrs // h.Value(), so that readers need not copy it
	nh   *nexthop    // the tracked state of a.NextHop
	refs uint32
}

// ref returns h's ID and counts one more reference to it; fresh reports
// a set new to the table, whose next hop the caller is to track.
func (t *attrTable) ref(h unique.Handle[wire.Attrs]) (id attrID, fresh bool) {
	if t.lastID != 0 && h == t.last {
		t.sets[t.lastID].refs++
		return t.lastID, false
	}
	id, ok := t.ids[h]
	if !ok {
		fresh = true
		if n := len(t.free); n > 0 {
			id = t.free[n-1]
			t.free = t.free[:n-1]
		} else {
			if len(t.sets) == 0 {
				t.sets = append(t.sets, attrSet{})
			}
			id = attrID(len(t.sets))
			t.sets = append(t.sets, attrSet{})
		}
		if int(id/attrChunk) == len(t.copies) {
			t.copies = append(t.copies, make([]wire.Attrs, attrChunk))
		}
		a := &t.copies[id/attrChunk][id%attrChunk]
		*a = h.Value()
		t.sets[id] = attrSet{h: h, a: a}
		if t.ids == nil {
			t.ids = map[unique.Handle[wire.Attrs]]attrID{}
		}
		t.ids[h] = id
	}
	t.sets[id].refs++
	t.last, t.lastID = h, id
	return id, fresh
}

// unref drops one reference to id and, when that was the last, frees it
// and returns its next hop for the caller to stop tracking.
func (t *attrTable) unref(id attrID) (freed bool, nh netip.Addr) {
	s := &t.sets[id]
	if s.refs--; s.refs > 0 {
		return false, netip.Addr{}
	}
	nh = s.a.NextHop
	delete(t.ids, s.h)
	*s.a = wire.Attrs{} // its strings may go
	*s = attrSet{}
	t.free = append(t.free, id)
	if t.lastID == id {
		t.lastID = 0
	}
	return true, nh
}

// refAttrs is attrTable.ref for a path: a set new to the table starts
// tracking its next hop. Tracking by set rather than by path keeps the
// per-prefix work free of next-hop map lookups.
func (s *Speaker) refAttrs(h unique.Handle[wire.Attrs]) attrID {
	id, fresh := s.attrs.ref(h)
	if fresh {
		set := &s.attrs.sets[id]
		set.nh = s.trackNH(set.a.NextHop, 1)
	}
	return id
}

// unrefAttrs is attrTable.unref for a path.
func (s *Speaker) unrefAttrs(id attrID) {
	if freed, nh := s.attrs.unref(id); freed {
		s.trackNH(nh, -1)
	}
}

// handle returns id's handle.
func (t *attrTable) handle(id attrID) unique.Handle[wire.Attrs] { return t.sets[id].h }

// get returns id's attributes; the caller must not change them.
func (t *attrTable) get(id attrID) *wire.Attrs { return t.sets[id].a }
