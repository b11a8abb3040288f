package rib

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"sync"
)

// SourceID identifies a source within one RIB.
type SourceID uint16

// candidate is one source's offer for a key, packed: a million of them live
// in a full BGP table.
type candidate struct {
	group    GroupID
	metric   uint32
	src      SourceID
	kind     Kind
	distance uint8
	proto    uint8
}

type group struct {
	id       GroupID
	table    Table
	key      string
	def      []NextHop // as sources gave them, canonical order
	resolved []NextHop // empty: unresolved
	refs     int
	dirty    uint32
	recurse  bool // some next hop needs a longest-match lookup to resolve
}

type source struct {
	origin Origin
	name   string
}

// RIB is routerd's routing information base. All methods are safe for
// concurrent use; one mutex guards the state, and every method does bounded
// work per route under it.
type RIB struct {
	mu      sync.Mutex
	tables  map[Table]*table
	groups  map[GroupID]*group
	byKey   map[string]*group
	nextGID GroupID
	links   map[int32]bool
	sources []source
	subs    [maxSubscribers]*Subscription
	subMask uint32
	// groupLoss holds the subscribers that follow group loss (see
	// Subscription.GroupLoss): they learn from a GroupChange that the
	// routes of a group stopped or started forwarding, not per route.
	groupLoss uint32
	// excluded[o] holds the subscribers that do not want routes of origin
	// o; excluded[0] (no route) holds every subscriber with an exclusion.
	excluded [OriginIBGP + 1]uint32
	// lastGroup short-cuts interning for runs of routes with the same
	// single next hop, the shape of a BGP UPDATE's prefixes.
	lastGroup *group
	failed    map[Key]string
	keyBuf    []byte
	more      map[uint32][]candidate // by entry id: candidates after the first
	// Every entry has an id (entry.id), its key's ID in the index, also
	// the index of its bit in the subscribers' pending sets, reused once
	// every holder has let the key go. An entry without candidates stays,
	// as a tombstone, while some subscriber has it pending, so that a key
	// withdrawn and offered again is still one pending change.
	idx        *Index
	ents       ByID[entry]
	present    IDSet // IDs with an entry: the RIB holds a reference on each
	tombstones IDSet
	// IDs that routes brought (Route.ID) for keys new to the RIB in the
	// batch being applied: the RIB's references on them are taken in one
	// go (holdNew), before any is released.
	newRefs []uint32
}

// New returns an empty RIB.
func New() *RIB {
	return &RIB{
		tables: map[Table]*table{},
		groups: map[GroupID]*group{},
		byKey:  map[string]*group{},
		links:  map[int32]bool{},
		failed: map[Key]string{},
		more:   map[uint32][]candidate{},
		idx:    NewIndex(),
	}
}

// Index returns the RIB's key index, which a protocol shares to keep its
// own per-prefix state by the same IDs (see Index and Route.ID).
func (r *RIB) Index() *Index { return r.idx }

// Source is a handle through which one source offers and withdraws routes.
type Source struct {
	r  *RIB
	id SourceID
}

// NewSource registers a source. The name shows in route listings
// ("static", "api", "bgp 192.0.2.1").
func (r *RIB) NewSource(o Origin, name string) *Source {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sources = append(r.sources, source{origin: o, name: name})
	return &Source{r: r, id: SourceID(len(r.sources) - 1)}
}

// Origin returns the origin the source was registered with.
func (s *Source) Origin() Origin {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	return s.r.sources[s.id].origin
}

// ErrInvalidRoute wraps every validation failure of Apply and Replace.
var ErrInvalidRoute = errors.New("invalid route")

func validate(rt *Route) error {
	if !rt.Prefix.IsValid() {
		return fmt.Errorf("%w: invalid prefix", ErrInvalidRoute)
	}
	if rt.Table == 0 {
		return fmt.Errorf("%w: %s: table 0", ErrInvalidRoute, rt.Prefix)
	}
	rt.Prefix = rt.Prefix.Masked()
	if rt.Prefix.Addr().Is4In6() {
		return fmt.Errorf("%w: %s: IPv4-mapped prefix", ErrInvalidRoute, rt.Prefix)
	}
	if rt.Kind == 0 {
		rt.Kind = KindUnicast
	}
	if rt.Kind > KindProhibit {
		return fmt.Errorf("%w: %s: unknown kind %d", ErrInvalidRoute, rt.Prefix, rt.Kind)
	}
	if rt.Kind != KindUnicast {
		if len(rt.NextHops) != 0 {
			return fmt.Errorf("%w: %s: a %s route has no next hops", ErrInvalidRoute, rt.Prefix, rt.Kind)
		}
		return nil
	}
	if len(rt.NextHops) == 0 {
		return fmt.Errorf("%w: %s: unicast route without next hop", ErrInvalidRoute, rt.Prefix)
	}
	for _, nh := range rt.NextHops {
		if !nh.Gateway.IsValid() && nh.Ifindex == 0 {
			return fmt.Errorf("%w: %s: next hop with neither gateway nor interface", ErrInvalidRoute, rt.Prefix)
		}
		// An IPv4 prefix may use an IPv6 gateway (RFC 8950); the reverse does not exist.
		if nh.Gateway.IsValid() && nh.Gateway.Is4() && rt.Prefix.Addr().Is6() {
			return fmt.Errorf("%w: %s: IPv4 gateway %s for an IPv6 prefix", ErrInvalidRoute, rt.Prefix, nh.Gateway)
		}
		if nh.Weight > 256 {
			return fmt.Errorf("%w: %s: weight %d above 256", ErrInvalidRoute, rt.Prefix, nh.Weight)
		}
	}
	return nil
}

// Apply offers add and withdraws del for this source, as one batch. A route
// for a key the source already offers replaces its earlier offer. If any
// route is invalid, nothing is applied.
func (s *Source) Apply(add []Route, del []Key) error {
	for i := range add {
		if err := validate(&add[i]); err != nil {
			return err
		}
	}
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := r.newChangeSet()
	for i := range add {
		r.offer(s.id, &add[i], ch)
	}
	for _, k := range del {
		if k.Prefix.IsValid() {
			r.withdraw(s.id, k.Table, packPrefix(k.Prefix.Masked()), ch)
		}
	}
	r.settle(ch)
	r.holdNew()
	return nil
}

// Replace makes routes the complete set this source offers: keys it offered
// before and not now are withdrawn; unchanged routes cause no change at all,
// so a reload or a resynchronisation touches only the difference.
func (s *Source) Replace(routes []Route) error {
	seen := make(map[Key]bool, len(routes))
	for i := range routes {
		if err := validate(&routes[i]); err != nil {
			return err
		}
		k := Key{routes[i].Table, routes[i].Prefix}
		if seen[k] {
			return fmt.Errorf("%w: %s offered twice", ErrInvalidRoute, k)
		}
		seen[k] = true
	}
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := r.newChangeSet()
	for _, t := range r.tables {
		for k, e := range t.all() {
			if r.find(&e, s.id) >= 0 && !seen[Key{t.id, k.prefix()}] {
				r.withdraw(s.id, t.id, k, ch)
			}
		}
	}
	for i := range routes {
		r.offer(s.id, &routes[i], ch)
	}
	r.settle(ch)
	return nil
}

// Routes returns the routes this source offers now, in no particular order.
func (s *Source) Routes() []Route {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Route
	for _, t := range r.tables {
		for k, e := range t.all() {
			if i := r.find(&e, s.id); i >= 0 {
				out = append(out, r.routeOf(t.id, k, r.cand(&e, i)))
			}
		}
	}
	return out
}

// changeSet gathers what one batch touched, so that resolution and group
// validity are recomputed once per batch rather than once per route.
type changeSet struct {
	tables map[Table]bool // tables whose selection changed
	last   Table          // the table touch noted last (0: none); a batch is mostly one table
}

func (r *RIB) newChangeSet() *changeSet { return &changeSet{tables: map[Table]bool{}} }

// touch notes that the selection in table id changed.
func (ch *changeSet) touch(id Table) {
	if ch.last == id {
		return
	}
	ch.tables[id] = true
	ch.last = id
}

func (r *RIB) table(id Table) *table {
	t := r.tables[id]
	if t == nil {
		t = newTable(r, id)
		r.tables[id] = t
	}
	return t
}

// sel returns the index of e's selected candidate, -1 for none.
func (r *RIB) sel(e *entry) int {
	if e.n == 1 {
		if r.usable(r.cand(e, 0)) {
			return 0
		}
		return -1
	}
	if e.n == 0 {
		return -1
	}
	return int(e.best)
}

// bestOf is the selected route of e.
func (r *RIB) bestOf(e *entry) Best {
	b, parked := r.look(e)
	if parked {
		return Best{}
	}
	return b
}

// bestFor is the selected route of e as subscriber bit sees it: one that
// follows group loss also sees a parked route (below).
func (r *RIB) bestFor(e *entry, bit uint32) Best {
	b, parked := r.look(e)
	if parked && r.groupLoss&bit == 0 {
		return Best{}
	}
	return b
}

// look returns e's route as subscribers that follow group loss see it, and
// whether it is parked: no candidate is usable (all are unicast with their
// groups unresolved), and the one that would be selected if they all
// resolved stands for the key. A parked route is not selected (others see
// no route), but it comes back with its group without any change to e.
func (r *RIB) look(e *entry) (b Best, parked bool) {
	i := -1
	switch {
	case e.n == 1:
		i = 0
		parked = !r.usable(r.cand(e, 0))
	case e.n > 1:
		i = int(e.best)
		if i < 0 {
			i, parked = r.bestIgnoringGroups(e), true
		}
	}
	if i < 0 {
		return Best{}, false
	}
	c := r.cand(e, i)
	return Best{
		Origin:   r.sources[c.src].origin,
		Kind:     c.kind,
		Distance: c.distance,
		Metric:   c.metric,
		Group:    c.group,
		Proto:    c.proto,
	}, parked
}

func (r *RIB) offer(src SourceID, rt *Route, ch *changeSet) {
	t := r.table(rt.Table)
	k := packPrefix(rt.Prefix)
	c := candidate{src: src, kind: rt.Kind, distance: rt.Distance, metric: rt.Metric, proto: rt.Proto}
	if rt.Kind == KindUnicast {
		c.group = r.internGroup(rt.Table, rt.NextHops)
	}
	// A route from a protocol that keeps its table by the index's IDs
	// names its key's ID, and the RIB need not search the index.
	id := rt.ID
	if id == 0 {
		id, _ = r.idx.Find(t.id, k.mkey())
	}
	if id == 0 || !r.present.Has(id) {
		if rt.ID == 0 {
			id = r.idx.Take(t.id, k.mkey(), &r.present)
		} else {
			r.newRefs = append(r.newRefs, id)
		}
		r.present.Set(id)
		*r.ents.At(id) = entry{id: id, best: -1}
		t.n++
		t.lengths[b2i(k.v6)][k.bits]++
	}
	ep := r.ents.At(id)
	e := *ep
	if e.n == 0 {
		r.tombstones.Clear(e.id)
	}
	old, oldParked := r.look(&e)
	if i := r.find(&e, src); i >= 0 {
		if r.cand(&e, i) == c {
			r.releaseGroup(c.group) // the offer did not change; drop the extra reference
			return
		}
		r.releaseGroup(r.cand(&e, i).group)
		r.setCand(&e, i, c)
	} else {
		r.add(&e, c)
		if e.n == 2 {
			t.multi++
		}
	}
	r.reselect(t, k, &e, old, oldParked, ch)
	*ep = e
}

func (r *RIB) withdraw(src SourceID, tid Table, k pfx, ch *changeSet) {
	t := r.tables[tid]
	if t == nil {
		return
	}
	e, ok := t.get(k)
	if !ok {
		return
	}
	i := r.find(&e, src)
	if i < 0 {
		return
	}
	old, oldParked := r.look(&e)
	r.releaseGroup(r.cand(&e, i).group)
	r.remove(&e, i)
	if e.n == 1 {
		t.multi--
	}
	r.reselect(t, k, &e, old, oldParked, ch)
	r.store(t, k, e)
}

// store writes e back, or forgets the key once it has no candidates and every
// subscriber has seen it go.
func (r *RIB) store(t *table, k pfx, e entry) {
	if e.n == 0 {
		if r.pendingAnywhere(e.id) {
			r.tombstones.Set(e.id)
		} else {
			r.forget(t, k, e.id)
			return
		}
	}
	t.put(e)
}

func (r *RIB) forget(t *table, k pfx, id uint32) {
	r.holdNew()
	r.present.Clear(id)
	*r.ents.At(id) = entry{}
	t.n--
	t.lengths[b2i(k.v6)][k.bits]--
	r.idx.Release(IndexRef{t.id, k.mkey(), id})
	if len(r.failed) > 0 {
		delete(r.failed, Key{t.id, k.prefix()})
	}
}

// reap forgets the tombstone of key k (id) once no subscriber has it
// pending; Next and Close call it after clearing their bit.
func (r *RIB) reap(tid Table, k pfx, id uint32) {
	if r.pendingAnywhere(id) {
		return
	}
	r.tombstones.Clear(id)
	t := r.tables[tid]
	if e, ok := t.get(k); ok && e.n == 0 && e.id == id {
		r.forget(t, k, id)
	}
}

func (r *RIB) pendingAnywhere(id uint32) bool {
	for m := r.subMask; m != 0; m &= m - 1 {
		if r.subs[bits.TrailingZeros32(m)].pending.Has(id) {
			return true
		}
	}
	return false
}

// holdNew takes the RIB's references on the IDs of newRefs.
func (r *RIB) holdNew() {
	if len(r.newRefs) > 0 {
		r.idx.Hold(r.newRefs)
		r.newRefs = r.newRefs[:0]
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// usable reports whether a candidate may be selected: non-unicast always,
// unicast only while its group resolves.
func (r *RIB) usable(c candidate) bool {
	if c.kind != KindUnicast {
		return true
	}
	// Most calls are for the group just interned (a batch of routes with
	// one next hop); a group's id is never reused, so the one remembered
	// is either this group or not it.
	g := r.lastGroup
	if g == nil || g.id != c.group {
		g = r.groups[c.group]
	}
	return g != nil && len(g.resolved) > 0
}

// better orders candidates: distance, then metric, then origin, then source
// registration order, so the choice never depends on arrival order.
func (r *RIB) better(a, b candidate) bool {
	if a.distance != b.distance {
		return a.distance < b.distance
	}
	if a.metric != b.metric {
		return a.metric < b.metric
	}
	oa, ob := r.sources[a.src].origin, r.sources[b.src].origin
	if oa != ob {
		return oa < ob
	}
	return a.src < b.src
}

// selectBest returns the index of the best usable candidate, -1 if none.
func (r *RIB) selectBest(e *entry) int8 {
	best := int8(-1)
	for i := 0; i < int(e.n); i++ {
		c := r.cand(e, i)
		if r.usable(c) && (best < 0 || r.better(c, r.cand(e, int(best)))) {
			best = int8(i)
		}
	}
	return best
}

// bestIgnoringGroups returns the index of the candidate that would be
// selected if every group resolved.
func (r *RIB) bestIgnoringGroups(e *entry) int {
	best := 0
	for i := 1; i < int(e.n); i++ {
		if r.better(r.cand(e, i), r.cand(e, best)) {
			best = i
		}
	}
	return best
}

// reselect recomputes the selection of e (old and oldParked are what look
// said before the change) and marks e for every subscriber whose view of it
// changed: the selected route for most, the route parked or not for those
// that follow group loss.
func (r *RIB) reselect(t *table, k pfx, e *entry, old Best, oldParked bool, ch *changeSet) {
	if e.n > 1 {
		e.best = r.selectBest(e)
	} else {
		e.best = 0 // see entry: one candidate is selected while usable
	}
	b, parked := r.look(e)
	if b == old && parked == oldParked {
		return
	}
	// A subscriber that excludes both the old and the new origin (no route
	// counts as excluded for it) has nothing to learn from this change;
	// only a state it has pending is brought up to date.
	var tell, changed uint32
	if b != old {
		changed = r.groupLoss
		tell = r.groupLoss &^ (r.excluded[old.Origin] & r.excluded[b.Origin])
	}
	if oldParked {
		old = Best{}
	}
	now := b
	if parked {
		now = Best{}
	}
	if now != old {
		ch.touch(t.id)
		perRoute := r.subMask &^ r.groupLoss
		changed |= perRoute
		tell |= perRoute &^ (r.excluded[old.Origin] & r.excluded[now.Origin])
	}
	r.markRoute(t.id, k, e, b, parked, tell, changed)
}

// markRoute records e's new state (b and parked, as look returns them) for
// the subscribers in changed: one that has the key pending gets the pending
// state replaced (a slow subscriber sees each key once, in its latest
// state); of the others, those in tell get the key added to their list.
// The state is copied into the list so that Next need not look the key up
// again: on a full table that second lookup was a cache miss per route.
func (r *RIB) markRoute(tid Table, k pfx, e *entry, b Best, parked bool, tell, changed uint32) {
	for m := changed; m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		s := r.subs[i]
		sb := b
		if parked && r.groupLoss&(1<<i) == 0 {
			sb = Best{}
		}
		if s.pending.Has(e.id) {
			s.replace(e.id, sb)
			continue
		}
		if tell&(1<<i) == 0 {
			continue
		}
		s.pending.Set(e.id)
		s.routes.push(pendingRoute{key: k, table: tid, id: e.id, best: sb})
		s.notify()
	}
}

func (r *RIB) markGroup(g *group) {
	for m := r.subMask &^ g.dirty; m != 0; m &= m - 1 {
		s := r.subs[bits.TrailingZeros32(m)]
		s.groups = append(s.groups, g.id)
		s.notify()
	}
	g.dirty |= r.subMask
}

// groupKey is the canonical identity of a next-hop set in a table, packed
// into buf (reused by the caller; map lookups with string(buf) do not copy).
func groupKey(buf []byte, t Table, nhs []NextHop) []byte {
	buf = binary.BigEndian.AppendUint32(buf[:0], uint32(t))
	for _, nh := range nhs {
		buf = appendHopKey(buf, nh)
	}
	return buf
}

func appendHopKey(buf []byte, nh NextHop) []byte {
	a := nh.Gateway.As16()
	if nh.Gateway.Is4() {
		buf = append(buf, 4)
	} else if nh.Gateway.IsValid() {
		buf = append(buf, 6)
	} else {
		buf = append(buf, 0)
	}
	buf = append(buf, a[:]...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(nh.Ifindex))
	return binary.BigEndian.AppendUint16(buf, nh.Weight)
}

// internGroup returns the group for nhs in table t, creating and resolving it
// if new, and takes a reference.
func (r *RIB) internGroup(t Table, nhs []NextHop) GroupID {
	var def []NextHop
	if len(nhs) == 1 {
		// One next hop needs no sorting: normalise a copy of it by value
		// (a slice of it would escape and cost an allocation per route).
		nh := nhs[0]
		if nh.Weight == 0 {
			nh.Weight = 1
		}
		nh.Gateway = nh.Gateway.Unmap()
		if g := r.lastGroup; g != nil && g.refs > 0 && g.table == t && len(g.def) == 1 && g.def[0] == nh {
			g.refs++
			return g.id
		}
		r.keyBuf = appendHopKey(binary.BigEndian.AppendUint32(r.keyBuf[:0], uint32(t)), nh)
		if g := r.byKey[string(r.keyBuf)]; g != nil {
			g.refs++
			r.lastGroup = g
			return g.id
		}
		def = []NextHop{nh}
	} else {
		def = canonical(nhs) // a copy: the source's slice is not ours to keep
		r.keyBuf = groupKey(r.keyBuf, t, def)
		if g := r.byKey[string(r.keyBuf)]; g != nil {
			g.refs++
			r.lastGroup = g
			return g.id
		}
	}
	key := string(r.keyBuf)
	r.nextGID++
	if r.nextGID == 0 {
		r.nextGID = 1
	}
	g := &group{id: r.nextGID, table: t, key: key, def: def, refs: 1}
	for _, nh := range def {
		if nh.Ifindex == 0 {
			g.recurse = true
		}
	}
	g.resolved = r.resolve(g)
	r.groups[g.id] = g
	r.byKey[key] = g
	r.lastGroup = g
	r.markGroup(g)
	return g.id
}

func (r *RIB) releaseGroup(id GroupID) {
	if id == 0 {
		return
	}
	g := r.groups[id]
	if g == nil {
		return
	}
	g.refs--
	if g.refs > 0 {
		return
	}
	delete(r.groups, id)
	delete(r.byKey, g.key)
	for m := r.subMask; m != 0; m &= m - 1 {
		s := r.subs[bits.TrailingZeros32(m)]
		s.removed = append(s.removed, id)
		s.notify()
	}
}

// resolve computes the forwarding next hops of g from the links and the
// routes now selected.
func (r *RIB) resolve(g *group) []NextHop {
	var out []NextHop
	for _, nh := range g.def {
		if nh.Ifindex != 0 {
			if r.links[nh.Ifindex] {
				out = append(out, nh)
			}
			continue
		}
		c, ok := r.longestMatch(g.table, nh.Gateway, g.id)
		if !ok || c.kind != KindUnicast {
			continue
		}
		via := r.groups[c.group]
		if via == nil {
			continue
		}
		for _, v := range via.resolved {
			hop := NextHop{Gateway: v.Gateway, Ifindex: v.Ifindex, Weight: nh.Weight}
			if !hop.Gateway.IsValid() {
				hop.Gateway = nh.Gateway // the gateway is on the attached network
			}
			out = append(out, hop)
		}
	}
	return canonical(out)
}

// longestMatch finds the selected candidate covering a in table tid, also
// consulting main for numbered tables (connected routes live in main). It
// skips routes that resolve through group skip (a route must not resolve
// through itself) and BGP routes: next hops resolve through the routes
// below BGP (connected, static, kernel), never recursively through BGP,
// which is also what the BGP speaker assumes when it tracks its next hops.
func (r *RIB) longestMatch(tid Table, a netip.Addr, skip GroupID) (candidate, bool) {
	h := hostKey(a)
	var best candidate
	bestBits := -1
	try := func(t *table) {
		if t == nil {
			return
		}
		fam := b2i(h.v6)
		for bits := int(h.bits); bits > bestBits; bits-- {
			if t.lengths[fam][bits] == 0 {
				continue
			}
			e, ok := t.get(h.truncate(uint8(bits)))
			if !ok {
				continue
			}
			i := r.sel(&e)
			if i < 0 {
				continue
			}
			c := r.cand(&e, i)
			if (skip != 0 && c.group == skip) || r.sources[c.src].origin.BGP() {
				continue
			}
			best, bestBits = c, bits
			return
		}
	}
	try(r.tables[tid])
	if tid != TableMain {
		try(r.tables[TableMain])
	}
	return best, bestBits >= 0
}

// Resolution is how the RIB reaches a gateway.
type Resolution struct {
	Origin   Origin    // of the covering route
	Metric   uint32    // of the covering route: the IGP cost to the gateway
	NextHops []NextHop // forwarding next hops; shared, read-only
}

// ResolveNextHop tells how table t reaches gateway a, by the rule the RIB
// applies to every group: the longest selected non-BGP route covering a
// (numbered tables fall back to main). It is cheap enough to call per
// next hop from a protocol's next-hop tracking.
func (r *RIB) ResolveNextHop(t Table, a netip.Addr) (Resolution, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !a.IsValid() {
		return Resolution{}, false
	}
	c, ok := r.longestMatch(t, a, 0)
	if !ok {
		return Resolution{}, false
	}
	res := Resolution{Origin: r.sources[c.src].origin, Metric: c.metric}
	if c.kind != KindUnicast {
		return res, false
	}
	g := r.groups[c.group]
	if g == nil || len(g.resolved) == 0 {
		return res, false
	}
	for _, v := range g.resolved {
		if !v.Gateway.IsValid() {
			v.Gateway = a.Unmap()
		}
		res.NextHops = append(res.NextHops, v)
	}
	return res, true
}

// settle brings next-hop resolution up to date after a batch: recursive
// groups are resolved again until nothing moves (a chain of recursive routes
// settles in as many rounds as it is deep), and routes whose group became
// usable or unusable are selected again.
func (r *RIB) settle(ch *changeSet) {
	for round := 0; round < 16 && len(ch.tables) > 0; round++ {
		flipped := map[Table]map[GroupID]bool{}
		next := r.newChangeSet()
		for _, g := range r.groups {
			if !g.recurse || !(ch.tables[g.table] || ch.tables[TableMain]) {
				continue
			}
			r.reresolve(g, flipped, next)
		}
		ch.tables, ch.last = next.tables, 0
		r.reselectFlipped(flipped, ch)
	}
}

// reresolve recomputes g and records it in flipped if it went from usable
// to unusable or back. A changed group changes how its table forwards, so
// groups that resolve through its routes are looked at again in ch's round.
func (r *RIB) reresolve(g *group, flipped map[Table]map[GroupID]bool, ch *changeSet) {
	res := r.resolve(g)
	if slices.Equal(res, g.resolved) {
		return
	}
	was := len(g.resolved) > 0
	g.resolved = res
	ch.tables[g.table] = true
	r.markGroup(g)
	if was != (len(res) > 0) {
		if flipped[g.table] == nil {
			flipped[g.table] = map[GroupID]bool{}
		}
		flipped[g.table][g.id] = true
	}
}

// reselectFlipped brings entries up to date with groups that started or
// stopped resolving. An entry with one candidate needs no change (see entry)
// and subscribers that follow group loss learn of it from the GroupChange;
// the others are told per route. Entries with several candidates are
// selected again: another candidate may take over or give way. With neither
// kind of work to do the table is not walked at all.
func (r *RIB) reselectFlipped(flipped map[Table]map[GroupID]bool, ch *changeSet) {
	perRoute := r.subMask &^ r.groupLoss
	for tid, gs := range flipped {
		t := r.tables[tid]
		if t == nil || (t.multi == 0 && perRoute == 0) {
			continue
		}
		for k, e := range t.all() {
			if e.n == 1 {
				if perRoute == 0 || e.kind != KindUnicast || !gs[e.group] {
					continue
				}
				// Selected before and not now, or the reverse. The table's
				// forwarding changed, which reresolve already noted in ch.
				b, parked := r.look(&e)
				r.markRoute(tid, k, &e, b, parked, perRoute&^r.excluded[b.Origin], perRoute)
				continue
			}
			for i := 0; i < int(e.n); i++ {
				if gs[r.cand(&e, i).group] {
					// best still holds the choice made before the flip.
					old, oldParked := r.look(&e)
					r.reselect(t, k, &e, old, oldParked, ch)
					t.put(e)
					break
				}
			}
		}
	}
}

// SetLinkUp records whether an interface can forward. Next hops through a
// link that is down do not resolve.
func (r *RIB) SetLinkUp(ifindex int32, up bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if was, known := r.links[ifindex]; known && was == up {
		return
	}
	r.links[ifindex] = up
	flipped := map[Table]map[GroupID]bool{}
	ch := r.newChangeSet()
	for _, g := range r.groups {
		for _, nh := range g.def {
			if nh.Ifindex == ifindex {
				r.reresolve(g, flipped, ch)
				break
			}
		}
	}
	r.reselectFlipped(flipped, ch)
	r.settle(ch)
}

// SetInstallError records the kernel's verdict on a key: err nil means the
// route is installed as selected.
func (r *RIB) SetInstallError(k Key, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k.Prefix = k.Prefix.Masked()
	if err == nil {
		delete(r.failed, k)
		return
	}
	r.failed[k] = err.Error()
}

func (r *RIB) routeOf(tid Table, k pfx, c candidate) Route {
	rt := Route{Table: tid, Prefix: k.prefix(), Kind: c.kind, Distance: c.distance, Metric: c.metric, Proto: c.proto}
	if g := r.groups[c.group]; g != nil {
		rt.NextHops = g.def
	}
	return rt
}

// canonical returns nhs with weights defaulted, mapped addresses unmapped,
// sorted and without duplicates, so equal sets share one group.
func canonical(nhs []NextHop) []NextHop {
	out := make([]NextHop, len(nhs))
	copy(out, nhs)
	for i := range out {
		if out[i].Weight == 0 {
			out[i].Weight = 1
		}
		out[i].Gateway = out[i].Gateway.Unmap()
	}
	slices.SortFunc(out, func(a, b NextHop) int {
		if c := a.Gateway.Compare(b.Gateway); c != 0 {
			return c
		}
		return cmp.Compare(a.Ifindex, b.Ifindex)
	})
	return slices.CompactFunc(out, func(a, b NextHop) bool { return a.Gateway == b.Gateway && a.Ifindex == b.Ifindex })
}
