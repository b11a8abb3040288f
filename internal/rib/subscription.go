package rib

import (
	"errors"
	"math/bits"
)

type dirtyRoute struct {
	table Table
	key   pfx
}

// Subscription is one consumer's view of the change feed. The RIB keeps, per
// subscription, only the set of keys and groups changed since the last drain
// (a bit in each entry and one list entry per changed key), never a log of
// every change: a consumer that falls behind sees each prefix once, in its
// latest state.
type Subscription struct {
	r       *RIB
	name    string
	bit     uint32
	c       chan struct{}
	routes  []dirtyRoute
	head    int
	groups  []GroupID
	removed []GroupID
	synced  bool
	started bool // Next was called
}

// maxSubscribers bounds the open subscriptions: each is one bit in every
// entry.
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
			if b := r.bestOf(&e); !b.Valid() || r.excluded[b.Origin]&s.bit != 0 {
				continue // nothing to tell a newcomer about this key
			}
			e.dirty |= s.bit
			t.put(k, e)
			s.routes = append(s.routes, dirtyRoute{t.id, k})
		}
	}
	s.notify()
	return s, nil
}

// ErrAlreadyStarted is returned by GroupLoss after the first Next.
var ErrAlreadyStarted = errors.New("rib: subscription already drained")

// GroupLoss makes the subscription follow group loss: when a group stops
// resolving, a key whose only candidate uses that group keeps being reported
// with that route (it is parked, not selected), and the GroupChange without
// next hops is the news that all such routes stopped forwarding; the
// GroupChange with next hops when the group resolves again brings them back.
// A table behind one lost next hop is then one group change instead of a
// withdrawal per route, and nothing per route when it comes back. A key
// with several candidates is still reported per route when another
// candidate takes over or none is left. Other subscribers see parked routes
// as withdrawn, route by route. The kernel programmer follows group loss:
// the kernel drops every route of a deleted nexthop object by itself.
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
	// The snapshot Subscribe took left parked routes out.
	for _, t := range r.tables {
		for k, e := range t.all() {
			if b, parked := r.look(&e); parked && e.dirty&s.bit == 0 && r.excluded[b.Origin]&s.bit == 0 {
				r.markRoute(t.id, k, &e, s.bit)
				t.put(k, e)
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
	var u Update
	for _, id := range s.groups {
		if g := r.groups[id]; g != nil && g.dirty&s.bit != 0 {
			g.dirty &^= s.bit
			u.Groups = append(u.Groups, GroupChange{ID: g.id, NextHops: g.resolved})
		}
	}
	s.groups = s.groups[:0]
	for n := 0; n < max && s.head < len(s.routes); s.head++ {
		d := s.routes[s.head]
		t := r.tables[d.table]
		e, ok := t.get(d.key)
		if !ok || e.dirty&s.bit == 0 {
			continue
		}
		e.dirty &^= s.bit
		u.Routes = append(u.Routes, RouteChange{Key: Key{d.table, d.key.prefix()}, Best: r.bestFor(&e, s.bit)})
		r.store(t, d.key, e)
		n++
	}
	if s.head < len(s.routes) {
		s.notify()
		return u
	}
	if cap(s.routes) > 1<<16 {
		s.routes = nil // do not hold a full table's worth of list after the initial load
	} else {
		s.routes = s.routes[:0]
	}
	s.head = 0
	u.Removed, s.removed = s.removed, nil
	if !s.synced {
		s.synced = true
		u.Synced = true
	}
	return u
}

// Close ends the subscription and releases what it held.
func (s *Subscription) Close() {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.subMask&s.bit == 0 {
		return
	}
	for _, d := range s.routes[s.head:] {
		t := r.tables[d.table]
		if e, ok := t.get(d.key); ok && e.dirty&s.bit != 0 {
			e.dirty &^= s.bit
			r.store(t, d.key, e)
		}
	}
	for _, g := range r.groups {
		g.dirty &^= s.bit
	}
	s.routes, s.groups, s.removed = nil, nil, nil
	r.subMask &^= s.bit
	r.groupLoss &^= s.bit
	for i := range r.excluded {
		r.excluded[i] &^= s.bit
	}
	r.subs[bits.TrailingZeros32(s.bit)] = nil
}
