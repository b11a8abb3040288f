package kernel

import "github.com/routerd/routerd/internal/rib"

// routeState is the programmer's per-route state (an entry: group, kind,
// installed) by the RIB's key ID (rib.RouteChange.ID), in chunks of
// stateChunk entries. Keys are not stored: the RIB holds them, and the
// rare walks over every route (a group rebuilt, a comparison with the
// kernel) find them through the feed (Feed.Keys). Five bytes a route;
// keyed by prefix in a map of its own the same state took about 16 (an
// IPv6 key alone is 16 bytes), the largest part of what the kernel side
// added to routerd's memory with a full table.
type routeState struct {
	chunks [][]entry
	n      int // entries set
}

const (
	stateChunkBits = 16
	stateChunk     = 1 << stateChunkBits
)

// ptr returns id's entry, or nil when it has none.
func (s *routeState) ptr(id uint32) *entry {
	c := int(id >> stateChunkBits)
	if c >= len(s.chunks) || s.chunks[c] == nil {
		return nil
	}
	e := &s.chunks[c][id&(stateChunk-1)]
	if *e == (entry{}) {
		return nil
	}
	return e
}

// entry returns id's entry, making a zero one (which the caller must set:
// a stored entry always has a kind) when it has none, and whether it had.
func (s *routeState) entry(id uint32) (*entry, bool) {
	c := int(id >> stateChunkBits)
	for c >= len(s.chunks) {
		s.chunks = append(s.chunks, nil)
	}
	if s.chunks[c] == nil {
		s.chunks[c] = make([]entry, stateChunk)
	}
	e := &s.chunks[c][id&(stateChunk-1)]
	if *e == (entry{}) {
		s.n++
		return e, false
	}
	return e, true
}

func (s *routeState) del(id uint32) {
	if e := s.ptr(id); e != nil {
		*e = entry{}
		s.n--
	}
}

func (s *routeState) len() int { return s.n }

// all calls yield with every route that has state, its key found through
// keys (Feed.Keys), until yield returns false. yield may change the entry
// and must not add or delete any.
func (s *routeState) all(keys func(func(rib.Key, uint32) bool), yield func(rib.Key, uint32, *entry) bool) {
	if s.n == 0 {
		return
	}
	keys(func(k rib.Key, id uint32) bool {
		if e := s.ptr(id); e != nil {
			return yield(k, id, e)
		}
		return true
	})
}

// compact drops chunks without entries.
func (s *routeState) compact() {
	for i, c := range s.chunks {
		if c == nil {
			continue
		}
		empty := true
		for j := range c {
			if c[j] != (entry{}) {
				empty = false
				break
			}
		}
		if empty {
			s.chunks[i] = nil
		}
	}
}
