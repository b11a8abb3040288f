package bgp

import (
	"cmp"
	"encoding/binary"
	"iter"
	"net/netip"
	"slices"
	"unique"

	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/prefixmap"
	"github.com/routerd/routerd/internal/rib"
)

// Slots 0 and 1 of the peer table are the speaker itself: routes from the
// configuration's networks and redistributed routes. Neighbours start at 2.
const (
	slotNetworks    = 0
	slotRedistrib   = 1
	firstPeerSlot   = 2
	maxAdvertBits   = 64
	destHasBest     = 1 << 0
	destBestInRIB   = 1 << 1 // the best path is offered to the RIB
	destBestIsIBGP  = 1 << 2 // ... through the iBGP source
	destMultipath   = 1 << 3 // ... with more than one next hop
	defaultLocalPre = 100
)

// path is one neighbour's (post-import-policy) route for a prefix: 8
// bytes, the attributes by ID in the speaker's attrTable.
type path struct {
	attr  attrID
	slot  uint16
	flags uint8
}

// Path flags.
const (
	// pathStale: kept from a session that went down gracefully (RFC 4724)
	// or from before a route refresh (RFC 7313 BoRR), to be removed unless
	// the neighbour sends it again before its End-of-RIB (EoRR).
	pathStale = 1 << 0
)

func (pt path) stale() bool { return pt.flags&pathStale != 0 }

// same reports whether two paths are the same route (flags aside).
func (pt path) same(o path) bool { return pt.attr == o.attr && pt.slot == o.slot }

// dest is the state of one prefix in 20 bytes and no pointer: its paths,
// best first when flags has destHasBest, the first inline (most prefixes
// have one) and the others in a list of the speaker's pathLists, and the
// neighbours (by slot bit) it was advertised to. The number of paths is
// not stored: attr0 is 0 without paths (attribute IDs start at 1), and
// a list holds the paths after the first.
type dest struct {
	adv   [2]uint32 // slot bit set: advertised to that neighbour (slots < 64); two words keep dest 4-aligned
	attr0 attrID    // the first path's attributes, 0 for no path
	more  uint32    // paths 1..n-1: list more-1 of the pathLists; 0 while n <= 1
	slot0 uint16
	flags uint8  // dest flags, and destStale0 for the first path's pathStale
	id    uint32 // the prefix's ID in the RIB's index (see locTable)
}

// destStale0 is the first path's pathStale flag, kept in dest.flags.
const destStale0 = 1 << 7

// pathLists holds the paths beyond the first of the prefixes that have
// several (a route server's, or a router's with several peers), indexed
// by dest.more-1.
type pathLists struct {
	lists [][]path
	free  []uint32
}

// advertised returns the slot bits the prefix was advertised to.
func (d *dest) advertised() uint64 { return uint64(d.adv[0]) | uint64(d.adv[1])<<32 }

// setAdvertised replaces the slot bits.
func (d *dest) setAdvertised(m uint64) { d.adv = [2]uint32{uint32(m), uint32(m >> 32)} }

// empty reports whether d has no path; multi whether it has more than one.
func (d *dest) empty() bool { return d.attr0 == 0 }
func (d *dest) multi() bool { return d.more != 0 }

// npaths returns the number of paths.
func (d *dest) npaths(pl *pathLists) int {
	switch {
	case d.empty():
		return 0
	case !d.multi():
		return 1
	}
	return 1 + len(pl.lists[d.more-1])
}

// first returns path 0 (the best one when d has a best).
func (d *dest) first() path {
	var f uint8
	if d.flags&destStale0 != 0 {
		f = pathStale
	}
	return path{attr: d.attr0, slot: d.slot0, flags: f}
}

// at returns path i.
func (d *dest) at(pl *pathLists, i int) path {
	if i == 0 {
		return d.first()
	}
	return pl.lists[d.more-1][i-1]
}

// set replaces path i.
func (d *dest) set(pl *pathLists, i int, pt path) {
	if i == 0 {
		d.attr0, d.slot0 = pt.attr, pt.slot
		d.flags &^= destStale0
		if pt.stale() {
			d.flags |= destStale0
		}
		return
	}
	pl.lists[d.more-1][i-1] = pt
}

// find returns the index of slot's path, or -1.
func (d *dest) find(pl *pathLists, slot uint16) int {
	if !d.empty() && d.slot0 == slot {
		return 0
	}
	if d.more != 0 {
		for i, pt := range pl.lists[d.more-1] {
			if pt.slot == slot {
				return i + 1
			}
		}
	}
	return -1
}

// add appends a path.
func (d *dest) add(pl *pathLists, pt path) {
	switch {
	case d.empty():
		d.set(pl, 0, pt)
	case d.more == 0:
		if n := len(pl.free); n > 0 {
			d.more = pl.free[n-1]
			pl.free = pl.free[:n-1]
		} else {
			pl.lists = append(pl.lists, nil)
			d.more = uint32(len(pl.lists))
		}
		pl.lists[d.more-1] = append(pl.lists[d.more-1][:0], pt)
	default:
		pl.lists[d.more-1] = append(pl.lists[d.more-1], pt)
	}
}

// remove deletes path i, moving the last path into its place.
func (d *dest) remove(pl *pathLists, i int) {
	last := d.npaths(pl) - 1
	if i != last {
		d.set(pl, i, d.at(pl, last))
	}
	if last > 0 {
		l := pl.lists[d.more-1]
		pl.lists[d.more-1] = l[:last-1]
		if last == 1 {
			if cap(l) > 4 {
				pl.lists[d.more-1] = nil // a list that grew large goes
			}
			pl.free = append(pl.free, d.more)
			d.more = 0
		}
	} else {
		d.attr0, d.slot0 = 0, 0
		d.flags &^= destStale0
	}
}

// paths returns the paths in order.
func (d *dest) paths(pl *pathLists) iter.Seq2[int, path] {
	return func(yield func(int, path) bool) {
		for i := range d.npaths(pl) {
			if !yield(i, d.at(pl, i)) {
				return
			}
		}
	}
}

// The Loc-RIB holds dests by the prefixes' IDs in the RIB's key index
// (locTable); locKey is the index's key of a prefix.

// locKey packs p for the Loc-RIB.
func locKey(p wire.Prefix) prefixmap.Key {
	a, bits := p.Bytes()
	if p.Is6() {
		return prefixmap.From16(&a, bits)
	}
	return prefixmap.From4(binary.BigEndian.Uint32(a[:4]), bits)
}

// locPrefix unpacks a Loc-RIB key.
func locPrefix(k prefixmap.Key) wire.Prefix {
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], k.Hi)
	binary.BigEndian.PutUint64(a[8:], k.Lo)
	return wire.PrefixFromBytes(a, k.Bits, k.V6)
}

// get returns p's dest (the zero dest when p is unknown).
func (s *Speaker) get(p wire.Prefix) (dest, bool) { return s.loc.Get(locKey(p)) }

// Compact packs the Loc-RIB's arrays (see rib.RIB.Compact) and lets go of
// the buffers a burst of UPDATEs grew: the batches kept for reuse and the
// update groups' emptied queues. The daemon calls it once a burst has
// settled.
func (s *Speaker) Compact() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.groups {
		if g.head == len(g.pending) {
			g.pending, g.head = nil, 0
		}
		if !g.encoding {
			// The encoder's arrays, emptied after each use.
			g.work, g.runs = nil, nil
			g.seen = map[wire.Prefix]struct{}{}
		}
		g.ev.forget()
		g.noMED = nil
		g.last, g.lastOut, g.lastOK = exportKey{}, unique.Handle[wire.Attrs]{}, false
	}
	for _, p := range s.peers {
		if ss := p.sess; ss != nil && ss.impEval != nil {
			ss.impEval.forget()
		}
	}
	s.rq.mu.Lock()
	s.rq.free = nil
	s.rq.mu.Unlock()
}

// locLen returns the number of prefixes in the Loc-RIB.
func (s *Speaker) locLen() int { return s.loc.Len() }

// all iterates over the Loc-RIB in prefix order, IPv4 first, giving each
// dest in place: the loop body may change it and may delete its prefix,
// nothing else.
func (s *Speaker) all() iter.Seq2[wire.Prefix, *dest] {
	return func(yield func(wire.Prefix, *dest) bool) {
		for k, d := range s.loc.All() {
			if !yield(locPrefix(k), d) {
				return
			}
		}
	}
}

// slotInfo is what the decision process and export need to know of a
// slot's neighbour; kept under the speaker's lock.
type slotInfo struct {
	// accepted counts the slot's paths in the Loc-RIB, advertised the
	// prefixes whose adv bit is set for the slot.
	accepted   int
	accepted6  int // of accepted, IPv6 (for per-family prefix limits)
	advertised int
	used       bool
	local      bool
	ebgp       bool // outside the AS (or confederation)
	confed     bool // in another member AS of the confederation
	rrClient   bool
	addr       netip.Addr
	routerID   uint32
	as         uint32
	peer       *Peer
}

// batch gathers one UPDATE's (or one event's) effect on the RIB and the
// change log, to be applied as one batch.
type batch struct {
	add [2][]rib.Route // eBGP, iBGP
	del [2][]rib.Key
	// exported says update groups got entries: their writers are woken
	// at the flush.
	exported bool
	// nhs backs the routes' one-element NextHops slices, so that a batch
	// allocates nothing per route once it has grown (the RIB copies next
	// hops into its own groups).
	nhs []rib.NextHop
	// delAt indexes del by source and key. rib.Source.Apply offers before
	// it withdraws, so a key withdrawn and then offered again within one
	// batch (a flap, or a prefix both withdrawn and announced in one
	// UPDATE) must lose its withdrawal, or the RIB would end without it.
	delAt map[srcKey]int
	// release holds the Loc-RIB's index references to give back once the
	// RIB has applied the batch (see locTable).
	release []rib.IndexRef
}

type srcKey struct {
	src int
	k   rib.Key
}

// withdraw adds a withdrawal of k from source src.
func (b *batch) withdraw(src int, k rib.Key) {
	if b.delAt == nil {
		b.delAt = map[srcKey]int{}
	}
	b.delAt[srcKey{src, k}] = len(b.del[src])
	b.del[src] = append(b.del[src], k)
}

// offer adds route r from source src, dropping a withdrawal of its key
// earlier in the batch.
func (b *batch) offer(src int, r rib.Route) {
	if len(b.delAt) > 0 {
		sk := srcKey{src, rib.Key{Table: r.Table, Prefix: r.Prefix}}
		if i, ok := b.delAt[sk]; ok {
			d := b.del[src]
			last := len(d) - 1
			if i != last {
				d[i] = d[last]
				b.delAt[srcKey{src, d[i]}] = i
			}
			b.del[src] = d[:last]
			delete(b.delAt, sk)
		}
	}
	b.add[src] = append(b.add[src], r)
}

func (b *batch) size() int { return len(b.add[0]) + len(b.add[1]) + len(b.del[0]) + len(b.del[1]) }

func (b *batch) reset() {
	for i := range b.add {
		clear(b.add[i]) // drop the NextHops references into nhs
		b.add[i] = b.add[i][:0]
		b.del[i] = b.del[i][:0]
	}
	b.exported = false
	b.nhs = b.nhs[:0]
	clear(b.delAt)
	b.release = b.release[:0]
}

// nexthops returns a one-element next hop list backed by the batch.
func (b *batch) nexthops(nh rib.NextHop) []rib.NextHop {
	if len(b.nhs) == cap(b.nhs) {
		// A new array: the routes already in the batch keep the old one.
		b.nhs = make([]rib.NextHop, 0, max(64, 2*cap(b.nhs)))
	}
	b.nhs = append(b.nhs, nh)
	n := len(b.nhs)
	return b.nhs[n-1 : n : n]
}

// nexthop is the tracked state of one BGP next hop.
type nexthop struct {
	ok     bool
	metric uint32
	refs   int
}

// trackNH returns the state of next hop a, looking it up in the RIB the
// first time. Called with s.mu held.
func (s *Speaker) trackNH(a netip.Addr, delta int) *nexthop {
	n := s.nhs[a]
	if n == nil {
		n = &nexthop{}
		n.ok, n.metric = s.resolveNH(a)
		s.nhs[a] = n
	}
	n.refs += delta
	if n.refs <= 0 && delta < 0 {
		delete(s.nhs, a)
	}
	return n
}

// resolveNH reports whether the RIB can forward to a and at what cost. A
// next hop covered only by a BGP route does not resolve (no recursion
// through BGP itself).
func (s *Speaker) resolveNH(a netip.Addr) (bool, uint32) {
	if !a.IsValid() {
		return false, 0
	}
	if a.Is6() && a.IsLinkLocalUnicast() {
		return true, 0 // resolved on the session's interface
	}
	// The RIB's own rule: the longest non-BGP route covering a, numbered
	// tables falling back to main; its metric is the IGP cost.
	res, ok := s.rib.ResolveNextHop(rib.Table(s.cfg.Table), a)
	if !ok {
		return false, 0
	}
	return true, res.Metric
}

// setPath adds or replaces slot's path for p and runs the decision.
func (s *Speaker) setPath(p wire.Prefix, slot uint16, h unique.Handle[wire.Attrs], b *batch) {
	pl := &s.more
	// One search: dp stays valid as nothing else changes the Loc-RIB
	// before d is written back.
	dp, _ := s.loc.Entry(locKey(p))
	d := *dp
	id := s.refAttrs(h)
	old, had := d.best()
	if i := d.find(pl, slot); i >= 0 {
		pt := d.at(pl, i)
		if pt.attr == id {
			s.unrefAttrs(id)
			if pt.stale() {
				pt.flags &^= pathStale
				d.set(pl, i, pt)
				*dp = d
			}
			return
		}
		d.set(pl, i, path{attr: id, slot: slot})
		s.decideDest(p, &d, old, had, b)
		*dp = d
		s.unrefAttrs(pt.attr) // after the decision, which compares with old
		return
	}
	s.slots[slot].accepted++
	if p.Is6() {
		s.slots[slot].accepted6++
	}
	d.add(pl, path{attr: id, slot: slot})
	s.decideDest(p, &d, old, had, b)
	*dp = d
}

// removePath withdraws slot's path for p.
func (s *Speaker) removePath(p wire.Prefix, slot uint16, b *batch) {
	k := locKey(p)
	dp := s.loc.Ptr(k)
	if dp == nil {
		return
	}
	d := *dp
	i := d.find(&s.more, slot)
	if i < 0 {
		return
	}
	s.removeAt(p, &d, i, b)
	if d.unused() {
		s.loc.Delete(k, &d)
	} else {
		*dp = d
	}
}

// unused reports whether d can go: no path, advertised to no one, not in
// the RIB.
func (d *dest) unused() bool {
	return d.empty() && d.adv == [2]uint32{} && d.flags&destBestInRIB == 0
}

// dropIfUnused forgets p once its dest d is unused; in a walk of all,
// for the prefix the walk is at.
func (s *Speaker) dropIfUnused(p wire.Prefix, d *dest) {
	if d.unused() {
		s.loc.Delete(locKey(p), d)
	}
}

// usable reports whether a path may be selected: its next hop resolves.
func (s *Speaker) usable(pt *path) bool {
	return pt.slot < firstPeerSlot || s.attrs.sets[pt.attr].nh.ok
}

// nexthopUsable reports whether a path from slot with next hop nh may be
// selected.
func (s *Speaker) nexthopUsable(slot uint16, nh netip.Addr) bool {
	if slot < firstPeerSlot {
		return true
	}
	n := s.nhs[nh]
	return n != nil && n.ok
}

// candidates fills s.cands with the usable paths of d.
func (s *Speaker) candidates(d *dest) []candInfo {
	cs := s.cands[:0]
	for i, pt := range d.paths(&s.more) {
		if !s.usable(&pt) {
			continue
		}
		si := &s.slots[pt.slot]
		set := &s.attrs.sets[pt.attr]
		a := set.a
		c := candInfo{i: i, a: a, local: si.local, ebgp: si.ebgp, routerID: si.routerID, peer: si.addr}
		if !si.local {
			c.igp = set.nh.metric
		}
		c.neighAS, _ = a.ASPath.NeighborAS()
		cs = append(cs, c)
	}
	s.cands = cs
	return cs
}

// decideDest selects the best path of d, moves it first, and records the
// change in the RIB batch and the change log. oldBest and hadBest are
// d.best() from before the caller changed d's paths.
func (s *Speaker) decideDest(p wire.Prefix, d *dest, oldBest path, hadBest bool, b *batch) {
	best := -1
	if !d.empty() && !d.multi() {
		if p0 := d.first(); s.usable(&p0) {
			best = 0
		}
	} else if d.multi() {
		best, _ = decide(s.candidates(d), s.cfg.AlwaysCompareMED)
	}
	if best > 0 {
		b0 := d.at(&s.more, best)
		d.set(&s.more, best, d.first())
		d.set(&s.more, 0, b0)
	}
	hasBest := best >= 0
	if hasBest {
		d.flags |= destHasBest
	} else {
		d.flags &^= destHasBest
	}
	changed := hadBest != hasBest || hasBest && !oldBest.same(d.first())
	// With multipath, a change of any path may change the next hops.
	multi := d.flags&destMultipath != 0 || s.cfg.Multipath > 1 && d.multi()
	if !changed && !multi {
		return
	}
	s.toRIB(p, d, b)
	if changed {
		s.bestChanges++
		if len(s.groups) > 0 {
			s.exportChange(p, d, b)
		}
	}
}

// best returns the best path, if d has one. Callers take it before they
// change d's paths, for decideDest to tell whether the best changed.
func (d *dest) best() (path, bool) {
	if d.flags&destHasBest == 0 || d.empty() {
		return path{}, false
	}
	return d.first(), true
}

// toRIB offers the best path of d to the RIB, or withdraws it.
func (s *Speaker) toRIB(p wire.Prefix, d *dest, b *batch) {
	key := rib.Key{Table: rib.Table(s.cfg.Table), Prefix: p.Netip()}
	wasIn := d.flags&destBestInRIB != 0
	wasI := 0
	if d.flags&destBestIsIBGP != 0 {
		wasI = 1
	}
	if d.flags&destHasBest == 0 || d.slot0 < firstPeerSlot {
		if wasIn {
			b.withdraw(wasI, key)
			d.flags &^= destBestInRIB | destBestIsIBGP
		}
		return
	}
	pt := d.first()
	si := &s.slots[pt.slot]
	src := 0
	dist := s.distEBGP
	if !si.ebgp {
		src, dist = 1, s.distIBGP
	}
	var nhs []rib.NextHop
	d.flags &^= destMultipath
	if s.cfg.Multipath > 1 && d.multi() {
		if nhs = s.multipathHops(d, int(s.cfg.Multipath)); nhs != nil {
			d.flags |= destMultipath
		}
	}
	if nhs == nil {
		nhs = b.nexthops(s.hop(pt))
	}
	if wasIn && wasI != src {
		b.withdraw(wasI, key)
	}
	b.offer(src, rib.Route{Table: key.Table, Prefix: key.Prefix, Distance: dist, NextHops: nhs, ID: d.id})
	d.flags |= destBestInRIB
	if src == 1 {
		d.flags |= destBestIsIBGP
	} else {
		d.flags &^= destBestIsIBGP
	}
}

// hop is the RIB next hop of a neighbour's path.
func (s *Speaker) hop(pt path) rib.NextHop {
	a := s.attrs.get(pt.attr)
	nh := rib.NextHop{Gateway: a.NextHop, Weight: 1} // canonical: the RIB need not copy it
	if si := &s.slots[pt.slot]; a.NextHop.Is6() && a.NextHop.IsLinkLocalUnicast() && si.peer != nil {
		nh.Ifindex = si.peer.ifindex.Load()
	}
	return nh
}

// multipathHops returns the next hops of up to max paths of d equal to
// its best one (path 0), in address order, or nil when there is only one
// such next hop. Equal means the decision process does not tell them
// apart before the router ID step (LOCAL_PREF, AS_PATH length, ORIGIN,
// MED, eBGP/iBGP, IGP cost) and, for eBGP paths, they come from the same
// neighbouring AS. Paths with the same next hop count once.
func (s *Speaker) multipathHops(d *dest, max int) []rib.NextHop {
	cs := s.candidates(d)
	if len(cs) < 2 {
		return nil
	}
	best := -1
	for j := range cs {
		if cs[j].i == 0 {
			best = j
		}
	}
	if best < 0 {
		return nil
	}
	b := cs[best]
	eq, _ := eliminate(cs, s.cfg.AlwaysCompareMED, ReasonIGPCost)
	hops := make([]rib.NextHop, 0, min(len(eq), max))
	hops = append(hops, s.hop(d.first()))
	for _, c := range eq {
		if len(hops) == max {
			break
		}
		if c.i == 0 || c.ebgp != b.ebgp || b.ebgp && c.neighAS != b.neighAS {
			continue
		}
		h := s.hop(d.at(&s.more, c.i))
		if !slices.Contains(hops, h) {
			hops = append(hops, h)
		}
	}
	if len(hops) < 2 {
		return nil
	}
	// In address order, so that the RIB sees the same group whichever
	// path is best.
	slices.SortFunc(hops, func(x, y rib.NextHop) int {
		if c := x.Gateway.Compare(y.Gateway); c != 0 {
			return c
		}
		return cmp.Compare(x.Ifindex, y.Ifindex)
	})
	return hops
}

// flush applies a batch to the RIB and wakes the writers of established
// sessions. Called with s.mu held.
func (s *Speaker) flush(b *batch) {
	s.handOver(b)
	s.drainRIBQueue()
	s.ribMu.Lock()
	s.apply(b)
	s.ribMu.Unlock()
}

// flushUnlock is flush for a caller that is done with the Loc-RIB: it
// releases s.mu before the RIB work, so that the decision for the next
// UPDATE and the writers' export run while the RIB takes this batch.
// Batches still reach the RIB in the order they were decided: ribMu is
// taken before s.mu is released.
func (s *Speaker) flushUnlock(b *batch) {
	s.handOver(b)
	s.ribMu.Lock()
	s.mu.Unlock()
	s.apply(b)
	s.ribMu.Unlock()
}

// handOver readies b to leave for the RIB: it takes the Loc-RIB's index
// releases made so far, and wakes the writers of the update groups that
// got entries. Called with s.mu held.
func (s *Speaker) handOver(b *batch) {
	// The Loc-RIB's releases go with the batch, after everything decided
	// so far (see locTable).
	b.release = append(b.release, s.loc.release...)
	s.loc.release = s.loc.release[:0]
	if b.exported {
		s.kickGroups()
	}
}

// apply hands a batch to the RIB and empties it. Called with ribMu held.
func (s *Speaker) apply(b *batch) {
	for i, src := range []*rib.Source{s.ebgpSrc, s.ibgpSrc} {
		if len(b.add[i]) > 0 || len(b.del[i]) > 0 {
			if err := src.Apply(b.add[i], b.del[i]); err != nil {
				s.log.Error("bgp: RIB refused a batch", "err", err)
			}
		}
	}
	s.loc.idx.Release(b.release...)
	b.reset()
}

// recheckNexthops looks every tracked next hop up again and runs the
// decision for the prefixes whose paths use one that changed. Called with
// s.mu held.
func (s *Speaker) recheckNexthops() {
	changed := map[netip.Addr]bool{}
	for a, n := range s.nhs {
		ok, m := s.resolveNH(a)
		if ok != n.ok || m != n.metric {
			n.ok, n.metric = ok, m
			changed[a] = true
			s.log.Info("bgp: next hop changed", "nexthop", a, "reachable", ok, "metric", m)
		}
	}
	if len(changed) == 0 {
		return
	}
	b := &s.evBatch
	for p, d := range s.all() {
		hit := false
		for _, pt := range d.paths(&s.more) {
			if pt.slot >= firstPeerSlot && changed[s.attrs.get(pt.attr).NextHop] {
				hit = true
				break
			}
		}
		if hit {
			old, had := d.best()
			s.decideDest(p, d, old, had, b)
			if len(b.add[0])+len(b.add[1])+len(b.del[0])+len(b.del[1]) > 8192 {
				s.flush(b)
			}
		}
	}
	s.flush(b)
}

// dropSlot removes every path of slot (a session that went down) and its
// advertised bits; paths of the families in keep stay, marked stale
// (graceful restart).
func (s *Speaker) dropSlot(slot uint16, keep wire.Families) {
	b := &s.evBatch
	bit := slotBit(slot)
	for p, d := range s.all() {
		d.setAdvertised(d.advertised() &^ bit)
		if i := d.find(&s.more, slot); i >= 0 {
			if keep.Has(p.Family()) {
				pt := d.at(&s.more, i)
				pt.flags |= pathStale
				d.set(&s.more, i, pt)
			} else {
				s.removeAt(p, d, i, b)
			}
		}
		s.dropIfUnused(p, d)
		if b.size() > 8192 {
			s.flush(b)
		}
	}
	s.slots[slot].advertised = 0
	s.flush(b)
}

// removeAt removes path i of d (p's dest) and runs the decision; the
// caller drops d if it is unused.
func (s *Speaker) removeAt(p wire.Prefix, d *dest, i int, b *batch) {
	old, had := d.best()
	pt := d.at(&s.more, i)
	s.slots[pt.slot].accepted--
	if p.Is6() {
		s.slots[pt.slot].accepted6--
	}
	d.remove(&s.more, i)
	s.decideDest(p, d, old, had, b)
	s.unrefAttrs(pt.attr) // after the decision, which compares with old
}

// markStale marks slot's paths of the families in fams stale (a route
// refresh begins, RFC 7313).
func (s *Speaker) markStale(slot uint16, fams wire.Families) {
	for p, d := range s.all() {
		if !fams.Has(p.Family()) {
			continue
		}
		if i := d.find(&s.more, slot); i >= 0 {
			pt := d.at(&s.more, i)
			if !pt.stale() {
				pt.flags |= pathStale
				d.set(&s.more, i, pt)
			}
		}
	}
}

// sweepStale removes slot's stale paths of the families in fams and
// returns how many went.
func (s *Speaker) sweepStale(slot uint16, fams wire.Families) int {
	b := &s.evBatch
	n := 0
	for p, d := range s.all() {
		if !fams.Has(p.Family()) {
			continue
		}
		if i := d.find(&s.more, slot); i >= 0 && d.at(&s.more, i).stale() {
			s.removeAt(p, d, i, b)
			s.dropIfUnused(p, d)
			n++
			if b.size() > 8192 {
				s.flush(b)
			}
		}
	}
	s.flush(b)
	return n
}

// redecideAll runs the decision again for every prefix with several
// paths (multipath setting changed).
func (s *Speaker) redecideAll() {
	b := &s.evBatch
	for p, d := range s.all() {
		if d.multi() || d.flags&destMultipath != 0 {
			if d.flags&destHasBest != 0 {
				s.toRIB(p, d, b)
			}
			if b.size() > 8192 {
				s.flush(b)
			}
		}
	}
	s.flush(b)
}

func slotBit(slot uint16) uint64 {
	if slot >= maxAdvertBits {
		return 0
	}
	return 1 << slot
}
