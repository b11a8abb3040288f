package rib

import (
	"cmp"
	"net/netip"
	"slices"
)

// Candidate is one source's offer for a key, as shown to operators.
type Candidate struct {
	Source   string
	Origin   Origin
	Route    Route     // as offered (next hops unresolved)
	Resolved []NextHop // forwarding next hops; empty if unresolved
	Selected bool
}

// Entry is the RIB's view of one key: every candidate, best first.
type Entry struct {
	Key
	Best         Best
	Candidates   []Candidate
	InstallError string // the kernel's reason if the selected route was rejected
}

// Selected returns the selected candidate, if any.
func (e *Entry) Selected() (Candidate, bool) {
	for _, c := range e.Candidates {
		if c.Selected {
			return c, true
		}
	}
	return Candidate{}, false
}

func (r *RIB) view(tid Table, k pfx, e *entry) Entry {
	out := Entry{Key: Key{tid, k.prefix()}, Best: r.bestOf(e)}
	out.InstallError = r.failed[out.Key]
	for i := 0; i < int(e.n); i++ {
		c := r.cand(e, i)
		v := Candidate{
			Source: r.sources[c.src].name,
			Origin: r.sources[c.src].origin,
			Route:  r.routeOf(tid, k, c),
		}
		if g := r.groups[c.group]; g != nil {
			v.Resolved = g.resolved
		}
		v.Selected = i == r.sel(e)
		out.Candidates = append(out.Candidates, v)
	}
	// Selected first, then the order selection would take.
	slices.SortStableFunc(out.Candidates, func(a, b Candidate) int {
		if a.Selected != b.Selected {
			if a.Selected {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(a.Route.Distance, b.Route.Distance); c != 0 {
			return c
		}
		return cmp.Compare(a.Route.Metric, b.Route.Metric)
	})
	return out
}

// Get returns the entry for a key.
func (r *RIB) Get(k Key) (Entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tables[k.Table]
	if t == nil || !k.Prefix.IsValid() {
		return Entry{}, false
	}
	pk := packPrefix(k.Prefix.Masked())
	e, ok := t.get(pk)
	if !ok || e.n == 0 {
		return Entry{}, false
	}
	return r.view(k.Table, pk, &e), true
}

// Filter selects entries for List. Zero fields match everything.
type Filter struct {
	Table Table
	// Prefix with Longer unset selects exactly that prefix; with Longer set,
	// it and every more specific prefix.
	Prefix netip.Prefix
	Longer bool
	Origin Origin // only entries with a candidate of this origin
	Family int    // 4 or 6; 0 for both
}

func (f *Filter) match(tid Table, k pfx, e *entry, r *RIB) bool {
	if e.n == 0 || (f.Table != 0 && f.Table != tid) {
		return false
	}
	if (f.Family == 4 && k.v6) || (f.Family == 6 && !k.v6) {
		return false
	}
	if f.Prefix.IsValid() {
		fk := packPrefix(f.Prefix.Masked())
		if f.Longer {
			if fk.v6 != k.v6 || k.bits < fk.bits || k.truncate(fk.bits) != fk {
				return false
			}
		} else if fk != k {
			return false
		}
	}
	if f.Origin != 0 {
		for i := 0; i < int(e.n); i++ {
			if r.sources[r.cand(e, i).src].origin == f.Origin {
				return true
			}
		}
		return false
	}
	return true
}

// List returns the entries that match f, ordered by table, family, address
// and prefix length.
func (r *RIB) List(f Filter) []Entry {
	var out []Entry
	r.Walk(f, func(e Entry) bool {
		out = append(out, e)
		return true
	})
	return out
}

// walkChunk is how many entries Walk renders per hold of the lock: long
// enough to amortise it, short enough that sources are not held up while a
// client reads a full table.
const walkChunk = 1024

// Walk calls fn with each entry that matches f, in List's order, until fn
// returns false. It holds only the matching keys (not their entries) for the
// whole walk and releases the RIB between chunks, so listing a full table
// neither stalls the sources nor builds every entry at once. An entry that
// changes during the walk is shown in its state when its chunk is rendered;
// one that disappears is skipped.
func (r *RIB) Walk(f Filter, fn func(Entry) bool) {
	type hit struct {
		t Table
		k pfx
	}
	var hits []hit
	r.mu.Lock()
	for tid, t := range r.tables {
		if f.Table != 0 && f.Table != tid {
			continue
		}
		if f.Prefix.IsValid() && !f.Longer {
			k := packPrefix(f.Prefix.Masked())
			if e, ok := t.get(k); ok && f.match(tid, k, &e, r) {
				hits = append(hits, hit{tid, k})
			}
			continue
		}
		for k, e := range t.all() {
			if f.match(tid, k, &e, r) {
				hits = append(hits, hit{tid, k})
			}
		}
	}
	r.mu.Unlock()
	slices.SortFunc(hits, func(a, b hit) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return comparePfx(a.k, b.k)
	})
	chunk := make([]Entry, 0, min(len(hits), walkChunk))
	for len(hits) > 0 {
		n := min(len(hits), walkChunk)
		chunk = chunk[:0]
		r.mu.Lock()
		for _, h := range hits[:n] {
			if t := r.tables[h.t]; t != nil {
				if e, ok := t.get(h.k); ok && e.n > 0 {
					chunk = append(chunk, r.view(h.t, h.k, &e))
				}
			}
		}
		r.mu.Unlock()
		hits = hits[n:]
		for _, e := range chunk {
			if !fn(e) {
				return
			}
		}
	}
}

func comparePfx(a, b pfx) int {
	if a.v6 != b.v6 {
		if a.v6 {
			return 1
		}
		return -1
	}
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	if c := cmp.Compare(a.lo, b.lo); c != 0 {
		return c
	}
	return cmp.Compare(a.bits, b.bits)
}

// Lookup returns the selected route that forwards addr in table t, as the
// kernel's longest-prefix match would (main is also consulted for numbered
// tables only when resolving next hops, not here).
func (r *RIB) Lookup(t Table, addr netip.Addr) (Entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tb := r.tables[t]
	if tb == nil || !addr.IsValid() {
		return Entry{}, false
	}
	h := hostKey(addr)
	fam := b2i(h.v6)
	for bits := int(h.bits); bits >= 0; bits-- {
		if tb.lengths[fam][bits] == 0 {
			continue
		}
		k := h.truncate(uint8(bits))
		if e, ok := tb.get(k); ok && r.sel(&e) >= 0 {
			return r.view(t, k, &e), true
		}
	}
	return Entry{}, false
}

// NextHops returns the resolved next hops of a group.
func (r *RIB) NextHops(id GroupID) []NextHop {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.groups[id]; g != nil {
		return g.resolved
	}
	return nil
}

// Count is the number of routes one origin has in one table.
type Count struct {
	Table    Table
	Origin   Origin
	Routes   int // candidates offered
	Selected int // of which selected as best
}

// Counts returns route counts per table and origin, ordered.
func (r *RIB) Counts() []Count {
	r.mu.Lock()
	defer r.mu.Unlock()
	type tk struct {
		t Table
		o Origin
	}
	m := map[tk]*Count{}
	for tid, t := range r.tables {
		for _, e := range t.all() {
			for i := 0; i < int(e.n); i++ {
				o := r.sources[r.cand(&e, i).src].origin
				c := m[tk{tid, o}]
				if c == nil {
					c = &Count{Table: tid, Origin: o}
					m[tk{tid, o}] = c
				}
				c.Routes++
			}
			if i := r.sel(&e); i >= 0 {
				c := m[tk{tid, r.sources[r.cand(&e, i).src].origin}]
				if c != nil {
					c.Selected++
				}
			}
		}
	}
	out := make([]Count, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Count) int {
		if c := cmp.Compare(a.Table, b.Table); c != 0 {
			return c
		}
		return cmp.Compare(a.Origin, b.Origin)
	})
	return out
}

// Stats is a summary of the RIB's size.
type Stats struct {
	Keys, Groups, Subscribers, InstallErrors int
}

// Stats returns sizes.
func (r *RIB) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{Groups: len(r.groups), InstallErrors: len(r.failed)}
	for _, t := range r.tables {
		s.Keys += t.size()
	}
	for m := r.subMask; m != 0; m &= m - 1 {
		s.Subscribers++
	}
	return s
}
