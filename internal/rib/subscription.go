package rib

import (
	"errors"
	"math/bits"
	"slices"

	"github.com/routerd/routerd/internal/prefixmap"
)

// pendingRoute is a key a subscriber has yet to see, with the state it
// will see (48 bytes, no pointers for the collector to scan).
type pendingRoute struct {
	key   pfx
	table Table
	id    uint32
	best  Best
}

// Subscription is one consumer's view of the change feed. The RIB keeps, per
// subscription, only the set of keys and groups changed since the last drain
// (a bit per key in a pending set, and one list element per changed key
// holding its state), never a log of every change: a consumer that falls
// behind sees each prefix once, in its latest state.
type Subscription struct {
	r       *RIB
	name    string
	bit     uint32
	c       chan struct{}
	routes  queue
	pending IDSet // ids of the keys in routes
	// latest holds the state of keys that changed again while pending:
	// it overrides the state in their list element. Keys change once
	// between drains far more often than twice, so this stays small.
	latest  map[uint32]Best
	groups  []GroupID
	removed []GroupID
	synced  bool
	started bool // Next was called
}

// queue is a subscription's list of pending keys, in chunks. When a source
// offers a full table faster than the consumer drains it, the list holds
// much of the table: growing one slice (new array, copy, fresh pages) cost
// as much as the RIB's own work per route, chunks cost nothing of the kind,
// and the few kept for reuse spare the allocation while a consumer keeps
// pace.
type queue struct {
	chunks [][]pendingRoute
	head   int // next element of chunks[0]
	spare  [][]pendingRoute
}

const (
	chunkLen    = 4096 // elements (192 KiB)
	spareChunks = 4
)

func (q *queue) push(pr pendingRoute) {
	n := len(q.chunks)
	if n == 0 || len(q.chunks[n-1]) == chunkLen {
		var c []pendingRoute
		if k := len(q.spare); k > 0 {
			c, q.spare = q.spare[k-1], q.spare[:k-1]
		} else {
			c = make([]pendingRoute, 0, chunkLen)
		}
		q.chunks = append(q.chunks, c)
		n++
	}
	q.chunks[n-1] = append(q.chunks[n-1], pr)
}

// len returns how many elements are queued.
func (q *queue) len() int {
	switch len(q.chunks) {
	case 0:
		return 0
	case 1:
		return len(q.chunks[0]) - q.head
	}
	return len(q.chunks[0]) - q.head + (len(q.chunks)-2)*chunkLen + len(q.chunks[len(q.chunks)-1])
}

// pop removes the first element; the queue must not be empty.
func (q *queue) pop() pendingRoute {
	c := q.chunks[0]
	pr := c[q.head]
	q.head++
	if q.head == len(c) {
		// Drained: recycle the chunk (also the last one, which push would
		// otherwise go on filling behind head).
		if len(q.spare) < spareChunks {
			q.spare = append(q.spare, c[:0])
		}
		q.chunks[0] = nil
		q.chunks = q.chunks[1:]
		if len(q.chunks) == 0 {
			q.chunks = nil
		}
		q.head = 0
	}
	return pr
}

// all iterates over the queued elements.
func (q *queue) all(yield func(pendingRoute) bool) {
	for i, c := range q.chunks {
		if i == 0 {
			c = c[q.head:]
		}
		for _, pr := range c {
			if !yield(pr) {
				return
			}
		}
	}
}

// replace sets the state a pending key will be reported with.
func (s *Subscription) replace(id uint32, b Best) {
	if s.latest == nil {
		s.latest = map[uint32]Best{}
	}
	s.latest[id] = b
}

// maxSubscribers bounds the open subscriptions: each is one bit in every
// group and in the RIB's masks (a 32-bit word), and has a pending set of
// one bit per key.
const maxSubscribers = 32

// ErrTooManySubscribers is returned when maxSubscribers subscriptions are open.
var ErrTooManySubscribers = errors.New("rib: too many subscribers (32)")

// Subscribe opens a subscription. Its first updates carry every group and
// every selected route the RIB holds (the update that completes that
// snapshot has Synced set); then come changes.
//
// Routes of the excluded origins are left out: a key whose selected route
// goes from one excluded origin (or none) to another is not reported, while
// one that goes from an excluded origin to another origin, or back, is. BGP
// subscribes excluding its own origins, so a full table it offers does not
// come back to it.
func (r *RIB) Subscribe(name string, exclude ...Origin) (*Subscription, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.subMask == ^uint32(0) {
		return nil, ErrTooManySubscribers
	}
	i := bits.TrailingZeros32(^r.subMask)
	s := &Subscription{r: r, name: name, bit: 1 << i, c: make(chan struct{}, 1)}
	r.subs[i] = s
	r.subMask |= s.bit
	if len(exclude) > 0 {
		r.excluded[0] |= s.bit
		for _, o := range exclude {
			if int(o) < len(r.excluded) && o != 0 {
				r.excluded[o] |= s.bit
			}
		}
	}
	for _, g := range r.groups {
		s.groups = append(s.groups, g.id)
		g.dirty |= s.bit
	}
	for _, t := range r.tables {
		for k, e := range t.all() {
			b := r.bestOf(&e)
			if !b.Valid() || r.excluded[b.Origin]&s.bit != 0 {
				continue // nothing to tell a newcomer about this key
			}
			s.pending.Set(e.id)
			s.routes.push(pendingRoute{key: k, table: t.id, id: e.id, best: b})
		}
	}
	s.notify()
	return s, nil
}

// ErrAlreadyStarted is returned by GroupLoss after the first Next.
var ErrAlreadyStarted = errors.New("rib: subscription already drained")

// GroupLoss makes the subscription follow group loss: when a group stops
// resolving, a key left without a usable candidate keeps being reported
// with a route (it is parked, not selected: its only candidate, or the one
// that would win were every group resolved), and the GroupChange without
// next hops is the news that all such routes stopped forwarding; the
// GroupChange with next hops when the group resolves again brings them back.
// A table behind one lost next hop is then one group change instead of a
// withdrawal per route, and nothing per route when it comes back. A key is
// still reported per route when another candidate takes over, or when the
// parked candidate is not the one selected before. Other subscribers see
// parked routes as withdrawn, route by route. The kernel programmer follows
// group loss: the kernel drops every route of a deleted nexthop object by
// itself.
//
// Call it before the first Next.
func (s *Subscription) GroupLoss() error {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.groupLoss&s.bit != 0 {
		return nil
	}
	if s.started {
		return ErrAlreadyStarted
	}
	r.groupLoss |= s.bit
	// The snapshot Subscribe took left parked routes out (and changes since
	// may have reported them withdrawn).
	for _, t := range r.tables {
		for k, e := range t.all() {
			if b, parked := r.look(&e); parked && r.excluded[b.Origin]&s.bit == 0 {
				r.markRoute(t.id, k, &e, b, true, s.bit, s.bit)
			}
		}
	}
	return nil
}

func (s *Subscription) notify() {
	select {
	case s.c <- struct{}{}:
	default:
	}
}

// C is signalled when the subscription has something to drain.
func (s *Subscription) C() <-chan struct{} { return s.c }

// Next drains at most max route changes (and every pending group change).
// It returns an empty Update when nothing is pending. If more remains, C is
// signalled again.
func (s *Subscription) Next(max int) Update {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	s.started = true
	// A signal raised before this call is answered by it, so that C is
	// signalled afterwards only for changes that came later (or what this
	// call left): a consumer that finds C signalled after an update has
	// more to read. The kernel programmer relies on it: it goes on without
	// waiting for its own work in flight only while C says more is coming,
	// and an empty Next tells its feed that everything is applied.
	select {
	case <-s.c:
	default:
	}
	var u Update
	for _, id := range s.groups {
		if g := r.groups[id]; g != nil && g.dirty&s.bit != 0 {
			g.dirty &^= s.bit
			u.Groups = append(u.Groups, GroupChange{ID: g.id, NextHops: g.resolved})
		}
	}
	s.groups = s.groups[:0]
	if n := min(max, s.routes.len()); n > 0 {
		u.Routes = make([]RouteChange, 0, n)
	}
	for n := 0; n < max && len(s.routes.chunks) > 0; n++ {
		d := s.routes.pop()
		s.pending.Clear(d.id)
		b := d.best
		if len(s.latest) > 0 {
			if l, ok := s.latest[d.id]; ok {
				b = l
				delete(s.latest, d.id)
			}
		}
		if r.tombstones.Has(d.id) {
			r.reap(d.table, d.key, d.id)
		}
		u.Routes = append(u.Routes, RouteChange{Key: Key{d.table, d.key.prefix()}, Best: b, ID: d.id})
	}
	if len(s.routes.chunks) > 0 {
		s.notify()
		return u
	}
	s.latest = nil // empty now; a map does not give back what it grew to
	u.Removed, s.removed = s.removed, nil
	if !s.synced {
		s.synced = true
		u.Synced = true
	}
	return u
}

// Keys calls yield with every key the RIB holds (those whose last route
// a subscriber has yet to be told went included) and its ID, table by
// table in address order, until yield returns false. It holds the RIB's
// lock for keysChunk keys at a time, never while yield runs, so a walk
// over a full table neither stalls the sources nor stops yield from
// taking its time. Keys added or removed during the walk may be missed
// or seen; a key the subscriber holds state for (it was told of a route
// and not yet of the route's end) stays, with its ID, until the
// subscriber drains that end, so a walk from the subscriber's goroutine
// sees each such key once.
func (s *Subscription) Keys(yield func(Key, uint32) bool) {
	r := s.r
	buf := make([]KeyID, 0, keysChunk)
	r.mu.Lock()
	ids := make([]Table, 0, len(r.tables))
	for id := range r.tables {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	slices.Sort(ids)
	for _, tid := range ids {
		var after prefixmap.Key
		for first := true; ; first = false {
			r.mu.Lock()
			buf = r.idx.Chunk(tid, after, first, keysChunk, buf[:0])
			n := len(buf)
			if n > 0 {
				after = buf[n-1].Key
			}
			// Keys of the protocols' tables that the RIB does not hold.
			buf = slices.DeleteFunc(buf, func(kv KeyID) bool { return !r.present.Has(kv.ID) })
			r.mu.Unlock()
			for _, x := range buf {
				if !yield(Key{tid, x.Key.Prefix()}, x.ID) {
					return
				}
			}
			if n < keysChunk {
				break
			}
		}
	}
}

const keysChunk = 4096

// Close ends the subscription and releases what it held.
func (s *Subscription) Close() {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.subs[bits.TrailingZeros32(s.bit)] != s {
		return // closed already (its bit may belong to a newer subscription)
	}
	for _, g := range r.groups {
		g.dirty &^= s.bit
	}
	r.subMask &^= s.bit
	r.groupLoss &^= s.bit
	for i := range r.excluded {
		r.excluded[i] &^= s.bit
	}
	r.subs[bits.TrailingZeros32(s.bit)] = nil
	// Tombstones that only this subscriber still had pending.
	for d := range s.routes.all {
		if r.tombstones.Has(d.id) {
			r.reap(d.table, d.key, d.id)
		}
	}
	s.routes, s.pending, s.latest, s.groups, s.removed = queue{}, nil, nil, nil, nil
}
