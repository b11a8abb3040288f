package bgp

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
	"unique"

	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/config"
)

// Update groups. Established sessions whose UPDATEs would be the same
// bytes (same export policy, session options, eBGP/iBGP, route reflector
// client, next-hop-self and own next hops) share one update group: one
// export evaluation per changed prefix and one encoding of each UPDATE,
// whose bytes every member writes as they are.
//
// Export is eager: when the decision process changes a prefix's best path
// (under the speaker's lock, with the prefix's entry at hand) it runs each
// group's export policy, sets or clears the members' advertised bits in
// the entry, and appends an entry (prefix, attributes to announce or
// withdraw, members it is for) to the group's pending list. The Loc-RIB is
// not looked up again: the writers only encode and write.
//
// One member's writer at a time is the group's encoder: it takes the
// pending entries, encodes them outside the lock into pieces (bytes and
// the members they are for) and appends the pieces to the group's output,
// which each member's writer reads from its own position. Everything a
// single member needs (its initial table, a route refresh, End-of-RIB,
// BoRR/EoRR, a ROUTE-REFRESH of its own) goes through the same ordered
// pending list with only that member's bit, so a member that joins or
// re-syncs mid-stream gets its table after every older change and before
// every newer one.

// groupKey identifies the sessions whose UPDATEs are the same bytes.
type groupKey struct {
	export       string
	pol          *config.Policy // the policy section the export policy was compiled from
	ebgp         bool           // outside the AS or confederation
	confed       bool           // confederation-external (another member AS)
	localAS      uint32         // the AS prepended: bgp.as, or the confederation identifier for eBGP
	rrClient     bool
	nhSelf       bool
	self4, self6 netip.Addr
	opts         wire.Options
}

// Entry kinds.
const (
	entAnnounce = iota
	entWithdraw
	entEndOfRIB // End-of-RIB for fams
	entBoRR     // Beginning-of-Route-Refresh for fams
	entEoRR     // End-of-Route-Refresh for fams
	entRefresh  // a ROUTE-REFRESH request for fams
)

// outEntry is one change for some members of a group.
type outEntry struct {
	h    unique.Handle[wire.Attrs] // entAnnounce: the attributes as exported
	mask uint64                    // member bits
	p    wire.Prefix
	kind uint8
	fams wire.Families
}

// piece is encoded output for the members in mask.
type piece struct {
	mask    uint64
	b       []byte
	updates int
}

// updGroup is an update group. Its fields are guarded by the speaker's
// lock, except the encoder's scratch, which only the member that set
// encoding uses, outside the lock.
type updGroup struct {
	key     groupKey
	members [64]*session
	used    uint64 // member bits in use
	// retired holds the bits of members that left while an encoding was
	// in flight: the pieces it produces are stripped of them, and the bits
	// are free again afterwards.
	retired  uint64
	encoding bool
	ev       *evaluator
	// noMED maps attribute sets learned from neighbours to the same
	// without MED and without non-transitive extended communities, as
	// exported to eBGP neighbours (interning per prefix would cost a hash
	// of the whole set each time).
	noMED map[unique.Handle[wire.Attrs]]unique.Handle[wire.Attrs]
	// last memoises the latest export when the policy does not look at
	// prefixes: the prefixes of one UPDATE come one after the other.
	last    exportKey
	lastOut unique.Handle[wire.Attrs]
	lastOK  bool
	memo    bool // the export policy's results do not depend on the prefix
	pending []outEntry
	head    int // pending[:head] are taken
	out     []piece
	outBase uint64 // position of out[0]
	encoded uint64 // bytes encoded (benchmarks)
	// held is the bytes of out: what the slowest member has not read.
	held int

	// Encoder scratch.
	enc    *wire.Encoder
	work   []outEntry
	seen   map[wire.Prefix]struct{}
	runs   []annRun       // announcements by key, in first-seen order
	runIdx map[annKey]int // index in runs
	wds    map[uint64][]wire.Prefix
	bufs   map[uint64][]byte
}

type annKey struct {
	mask uint64
	h    unique.Handle[wire.Attrs]
	fam  wire.Family
}

// annRun is the prefixes an encoding announces with one key.
type annRun struct {
	k  annKey
	ps []wire.Prefix
}

// groupKey returns the key of the session's update group. Called with
// s.mu held.
func (ss *session) groupKey() groupKey {
	p := ss.p
	return groupKey{export: p.cfg.Export, pol: p.expPol, ebgp: ss.ebgp, confed: p.s.slots[p.slot].confed,
		localAS: p.s.cfg.LocalAS(p.cfg.AS), rrClient: p.cfg.RouteReflectorClient,
		nhSelf: p.cfg.NextHopSelf, self4: ss.self4, self6: ss.self6, opts: ss.opts}
}

// newGroup builds an empty group for key with ss's export policy.
func (s *Speaker) newGroup(key groupKey, ss *session) *updGroup {
	g := &updGroup{key: key, enc: wire.NewEncoder(key.opts), seen: map[wire.Prefix]struct{}{}, runIdx: map[annKey]int{},
		wds: map[uint64][]wire.Prefix{}, bufs: map[uint64][]byte{}}
	self := func(v6 bool) netip.Addr {
		if v6 {
			return key.self6
		}
		return key.self4
	}
	localAS := key.localAS
	g.ev = newEvaluator(ss.p.exp, env{localAS: localAS, confed: key.confed, self: key.self4}, func(a *wire.Attrs, v6 bool) {
		switch {
		case key.ebgp:
			// Confederation segments do not leave the confederation (RFC
			// 5065 §4.1); the identifier goes in front of what remains.
			a.ASPath = a.ASPath.WithoutConfed().Prepend(localAS, 1)
			a.Present = a.Present.With(wire.AttrASPath)
		case key.confed:
			// Our member AS in a leading AS_CONFED_SEQUENCE (RFC 5065
			// §5.3); otherwise as to an iBGP neighbour.
			a.ASPath = a.ASPath.PrependConfed(localAS, 1)
			a.Present = a.Present.With(wire.AttrASPath)
		}
		if !key.ebgp && !a.Present.Has(wire.AttrLocalPref) {
			a.LocalPref = defaultLocalPre
			a.Present = a.Present.With(wire.AttrLocalPref)
		}
		if !a.NextHop.IsValid() || key.ebgp || key.nhSelf {
			a.NextHop, a.LinkLocal = self(v6), netip.Addr{}
		}
	})
	g.ev.self6 = key.self6
	g.memo = ss.p.exp == nil || !ss.p.exp.prefix
	s.groups = append(s.groups, g)
	return g
}

// joinGroup puts an established session into the group of its key,
// creating one if none has a free member bit. Called with s.mu held.
func (s *Speaker) joinGroup(ss *session) {
	key := ss.groupKey()
	var g *updGroup
	for _, c := range s.groups {
		if c.key == key && c.used|c.retired != ^uint64(0) {
			g = c
			break
		}
	}
	if g == nil {
		g = s.newGroup(key, ss)
	}
	i := bits.TrailingZeros64(^(g.used | g.retired))
	g.members[i] = ss
	g.used |= 1 << i
	ss.g, ss.bit = g, uint8(i)
	ss.pos = g.outBase + uint64(len(g.out))
	ss.regroup = false
}

// leaveGroup takes a session out of its group; what was pending for it
// is dropped. Called with s.mu held.
func (s *Speaker) leaveGroup(ss *session) {
	g := ss.g
	if g == nil {
		return
	}
	bit := uint64(1) << ss.bit
	for i := g.head; i < len(g.pending); i++ {
		g.pending[i].mask &^= bit
	}
	s.dropMember(ss)
}

// dropMember frees ss's member bit. Called with s.mu held.
func (s *Speaker) dropMember(ss *session) {
	g := ss.g
	bit := uint64(1) << ss.bit
	g.members[ss.bit] = nil
	g.used &^= bit
	if g.encoding {
		g.retired |= bit
	}
	ss.g = nil
	s.dropEmptyGroup(g)
}

func (s *Speaker) dropEmptyGroup(g *updGroup) {
	if g.used == 0 && !g.encoding {
		s.groups = slices.DeleteFunc(s.groups, func(x *updGroup) bool { return x == g })
	}
}

// regroupNow moves ss into the group of its (changed) key, with whatever
// is pending for it: ss has read all of its group's output and no
// encoding is in flight. Called with s.mu held.
func (s *Speaker) regroupNow(ss *session) {
	old := ss.g
	oldBit := uint64(1) << ss.bit
	var moved []outEntry
	for i := old.head; i < len(old.pending); i++ {
		if e := &old.pending[i]; e.mask&oldBit != 0 {
			m := *e
			moved = append(moved, m)
			e.mask &^= oldBit
		}
	}
	s.dropMember(ss)
	s.joinGroup(ss)
	g := ss.g
	for _, e := range moved {
		e.mask = 1 << ss.bit
		g.pending = append(g.pending, e)
	}
}

// exportKey is what an export's result depends on besides the prefix.
type exportKey struct {
	h                     unique.Handle[wire.Attrs]
	routerID              uint32
	v6, valid             bool
	local, ebgp, rrClient bool
	confed                bool
}

// export returns the attributes of d's best path as the group's members
// get it (a member that is the path's source aside), or ok false.
// Called with s.mu held.
func (g *updGroup) export(s *Speaker, p wire.Prefix, d *dest) (unique.Handle[wire.Attrs], bool) {
	var zero unique.Handle[wire.Attrs]
	if d.flags&destHasBest == 0 || !g.key.opts.Families.Has(p.Family()) {
		return zero, false
	}
	src := &s.slots[d.slot0]
	if !g.memo {
		return g.exportFrom(s, p, s.attrs.handle(d.attr0), src)
	}
	h := s.attrs.handle(d.attr0)
	k := exportKey{h: h, routerID: src.routerID, v6: p.Is6(), valid: true, local: src.local, ebgp: src.ebgp, rrClient: src.rrClient, confed: src.confed}
	if k == g.last {
		return g.lastOut, g.lastOK
	}
	out, ok := g.exportFrom(s, p, h, src)
	g.last, g.lastOut, g.lastOK = k, out, ok
	return out, ok
}

// exportFrom is export for attributes h of a path from src.
func (g *updGroup) exportFrom(s *Speaker, p wire.Prefix, h unique.Handle[wire.Attrs], src *slotInfo) (unique.Handle[wire.Attrs], bool) {
	var zero unique.Handle[wire.Attrs]
	a := h.Value()
	ebgp := g.key.ebgp
	// NO_EXPORT stays inside the confederation, NO_EXPORT_SUBCONFED inside
	// the member AS (RFC 1997).
	if a.Communities.Has(wire.NoAdvertise) || (ebgp && a.Communities.Has(wire.NoExport)) ||
		((ebgp || g.key.confed) && a.Communities.Has(wire.NoExportSubconfed)) {
		return zero, false
	}
	if !src.local && !src.ebgp && !src.confed && !ebgp && !g.key.confed {
		// iBGP to iBGP: only as a route reflector (RFC 4456 §6).
		if !src.rrClient && !g.key.rrClient {
			return zero, false
		}
		if !a.Present.Has(wire.AttrOriginatorID) {
			a.OriginatorID = netip.AddrFrom4(u32bytes(src.routerID))
			a.Present = a.Present.With(wire.AttrOriginatorID)
		}
		a.ClusterList = a.ClusterList.Prepend(addr4(s.id))
		h = unique.Make(a)
	}
	// A MED learned from a neighbouring AS is not passed on to another
	// (RFC 4271 §5.1.4), nor a non-transitive extended community (RFC 4360
	// §6); an export policy may set either.
	switch {
	case !ebgp:
	case src.local:
		// Own routes keep their MED; they rarely carry extended
		// communities, so the result is not cached.
		if a.ExtCommunities.NonTransitive() {
			a.ExtCommunities = a.ExtCommunities.Remove(nonTransitive)
			h = unique.Make(a)
		}
	case a.Present.Has(wire.AttrMED) || a.ExtCommunities.NonTransitive():
		if out, ok := g.noMED[h]; ok {
			h = out
		} else {
			a.Present = a.Present.Without(wire.AttrMED)
			a.MED = 0
			a.ExtCommunities = a.ExtCommunities.Remove(nonTransitive)
			out = unique.Make(a)
			if g.noMED == nil || len(g.noMED) >= maxEvalCache {
				g.noMED = map[unique.Handle[wire.Attrs]]unique.Handle[wire.Attrs]{}
			}
			g.noMED[h] = out
			h = out
		}
	}
	out, ok := g.ev.eval(p, h)
	if !ok || !out.Value().NextHop.IsValid() {
		return zero, false
	}
	return out, true
}

func nonTransitive(e wire.ExtCommunity) bool { return !e.Transitive() }

// exportChange runs export for p, whose best path changed, in every
// group: the members' advertised bits in d change, and the groups get
// entries. Called with s.mu held; the caller stores d.
func (s *Speaker) exportChange(p wire.Prefix, d *dest, b *batch) {
	src := uint16(0xffff)
	if d.flags&destHasBest != 0 {
		src = d.slot0
	}
	for _, g := range s.groups {
		if g.used == 0 || !g.key.opts.Families.Has(p.Family()) {
			continue
		}
		if g.used&(g.used-1) == 0 {
			// One member, the source of the path and never advertised
			// it: nothing to do (a neighbour's own routes).
			m := g.members[bits.TrailingZeros64(g.used)].p.slot
			if bit := slotBit(m); m == src && bit != 0 && d.advertised()&bit == 0 {
				continue
			}
		}
		h, ok := g.export(s, p, d)
		adv := d.advertised()
		var ann, wd uint64
		for m := g.used; m != 0; m &= m - 1 {
			i := bits.TrailingZeros64(m)
			slot := g.members[i].p.slot
			bit := slotBit(slot)
			if ok && slot != src {
				ann |= 1 << i
				if bit != 0 && adv&bit == 0 {
					adv |= bit
					s.slots[slot].advertised++
				}
			} else if bit == 0 || adv&bit != 0 {
				wd |= 1 << i
				if bit != 0 {
					adv &^= bit
					s.slots[slot].advertised--
				}
			}
		}
		d.setAdvertised(adv)
		if ann != 0 {
			g.pending = append(g.pending, outEntry{p: p, kind: entAnnounce, mask: ann, h: h})
		}
		if wd != 0 {
			g.pending = append(g.pending, outEntry{p: p, kind: entWithdraw, mask: wd})
		}
		if ann|wd != 0 {
			b.exported = true
		}
	}
}

// kickGroups wakes the writers of every group with pending work.
// Called with s.mu held.
func (s *Speaker) kickGroups() {
	for _, g := range s.groups {
		if g.head < len(g.pending) {
			g.kickAll()
		}
	}
}

func (g *updGroup) kickAll() {
	for m := g.used; m != 0; m &= m - 1 {
		g.members[bits.TrailingZeros64(m)].kick()
	}
}

// syncWork reports whether ss has a table, End-of-RIB or EoRR to send.
func (ss *session) syncWork() bool {
	return !ss.regroup && (ss.syncFams != 0 || ss.syncing || ss.eorr != 0)
}

// hasWork reports whether the group has entries to encode.
func (g *updGroup) hasWork() bool {
	if g.head < len(g.pending) {
		return true
	}
	for m := g.used; m != 0; m &= m - 1 {
		if g.members[bits.TrailingZeros64(m)].syncWork() {
			return true
		}
	}
	return false
}

// maxKeptEntries bounds the queue arrays a group keeps between uses
// (10 MiB each); the daemon's trim after a burst lets go of them anyway.
const maxKeptEntries = 1 << 18

// take moves up to exportChunk pending entries to g.work, and, once
// nothing older is pending, a chunk of the members' table syncs. Called
// with s.mu held.
func (g *updGroup) take(s *Speaker) {
	n := min(len(g.pending)-g.head, exportChunk)
	if g.head == 0 && n == len(g.pending) {
		// All of it: the arrays change hands (encode cleared the work's),
		// nothing is copied, and neither grows again once both are large.
		g.work, g.pending = g.pending, g.work[:0]
	} else {
		g.work = append(g.work[:0], g.pending[g.head:g.head+n]...)
		g.head += n
		if g.head < len(g.pending) {
			if g.head >= len(g.pending)/2 {
				k := copy(g.pending, g.pending[g.head:])
				clear(g.pending[k:])
				g.pending, g.head = g.pending[:k], 0
			}
			return
		}
		clear(g.pending)
		if cap(g.pending) > maxKeptEntries {
			g.pending = nil
		}
		g.pending, g.head = g.pending[:0], 0
	}
	budget := exportChunk - n
	for m := g.used; m != 0 && budget > 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		if ss := g.members[i]; ss.syncWork() {
			budget = g.syncChunk(s, ss, budget)
		}
	}
}

// syncChunk exports up to budget prefixes of the table walk of ss into
// g.work, and its End-of-RIB and EoRR once the walk is done. Called with
// s.mu held.
func (g *updGroup) syncChunk(s *Speaker, ss *session, budget int) int {
	mask := uint64(1) << ss.bit
	slot := ss.p.slot
	bit := slotBit(slot)
	it := s.loc.All()
	if !ss.syncFrom0 {
		it = s.loc.After(ss.syncAfter)
	}
	n, done := 0, true
	for k, d := range it {
		if n == budget {
			done = false
			break
		}
		ss.syncAfter, ss.syncFrom0 = k, false
		p := locPrefix(k)
		if !ss.syncFams.Has(p.Family()) {
			continue
		}
		n++
		if d.flags&destHasBest != 0 && d.slot0 != slot {
			if h, ok := g.export(s, p, d); ok {
				g.work = append(g.work, outEntry{p: p, kind: entAnnounce, mask: mask, h: h})
				if adv := d.advertised(); bit != 0 && adv&bit == 0 {
					d.setAdvertised(adv | bit)
					s.slots[slot].advertised++
				}
				continue
			}
		}
		if adv := d.advertised(); adv&bit != 0 && bit != 0 {
			d.setAdvertised(adv &^ bit)
			s.slots[slot].advertised--
			g.work = append(g.work, outEntry{p: p, kind: entWithdraw, mask: mask})
			if d.unused() {
				s.loc.Delete(k, d) // allowed for the key the walk is at
			}
		}
	}
	if !done {
		return budget - n
	}
	ss.syncFams, ss.syncFrom0 = 0, false
	if ss.syncing {
		ss.syncing = false
		g.work = append(g.work, outEntry{kind: entEndOfRIB, mask: mask, fams: ss.opts.Families})
	}
	if ss.eorr != 0 {
		g.work = append(g.work, outEntry{kind: entEoRR, mask: mask, fams: ss.eorr})
		ss.eorr = 0
	}
	return budget - n
}

var families = []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast}

// encode turns g.work into pieces, in order: a prefix seen twice starts
// a new run, so that its later state is written after its earlier one.
// Runs without the speaker's lock, by the group's one encoder.
func (g *updGroup) encode(log func(string, ...any)) []piece {
	var pieces []piece
	// The prefixes of one UPDATE come one after the other with the same
	// key: the last run is tried before the map.
	last := -1
	flush := func() {
		for mask, ps := range g.wds {
			g.bufs[mask] = g.enc.AppendWithdraw(g.bufs[mask], ps)
			delete(g.wds, mask)
		}
		for i := range g.runs {
			r := &g.runs[i]
			a := r.k.h.Value()
			var err error
			g.bufs[r.k.mask], err = g.enc.AppendAnnounce(g.bufs[r.k.mask], &a, r.ps)
			if err != nil {
				log("cannot encode announcement", "err", err)
			}
			r.ps = r.ps[:0]
		}
		g.runs = g.runs[:0]
		clear(g.runIdx)
		last = -1
		for mask, b := range g.bufs {
			if len(b) > 0 {
				pieces = append(pieces, piece{mask: mask, b: b, updates: countUpdates(b)})
			}
			delete(g.bufs, mask)
		}
		clear(g.seen)
	}
	for _, e := range g.work {
		if e.mask == 0 {
			continue
		}
		switch e.kind {
		case entAnnounce, entWithdraw:
			if _, dup := g.seen[e.p]; dup {
				flush()
			}
			g.seen[e.p] = struct{}{}
			if e.kind == entWithdraw {
				g.wds[e.mask] = append(g.wds[e.mask], e.p)
			} else {
				k := annKey{e.mask, e.h, e.p.Family()}
				if last < 0 || g.runs[last].k != k {
					i, ok := g.runIdx[k]
					if !ok {
						i = len(g.runs)
						if i < cap(g.runs) {
							// Reuse the prefix array a former run left.
							g.runs = g.runs[:i+1]
							g.runs[i].k = k
						} else {
							g.runs = append(g.runs, annRun{k: k})
						}
						g.runIdx[k] = i
					}
					last = i
				}
				g.runs[last].ps = append(g.runs[last].ps, e.p)
			}
		default:
			flush()
			var b []byte
			for _, f := range families {
				if !e.fams.Has(f) {
					continue
				}
				switch e.kind {
				case entEndOfRIB:
					b = wire.AppendEndOfRIB(b, f)
				case entBoRR:
					b = wire.RouteRefresh{Family: f, Subtype: wire.RefreshBoRR}.AppendMessage(b)
				case entEoRR:
					b = wire.RouteRefresh{Family: f, Subtype: wire.RefreshEoRR}.AppendMessage(b)
				case entRefresh:
					b = wire.RouteRefresh{Family: f}.AppendMessage(b)
				}
			}
			if len(b) > 0 {
				pieces = append(pieces, piece{mask: e.mask, b: b, updates: countUpdates(b)})
			}
		}
	}
	flush()
	clear(g.work)
	if cap(g.work) > maxKeptEntries {
		g.work = nil
	}
	return pieces
}

// countUpdates counts the UPDATE messages in b.
func countUpdates(b []byte) int {
	n := 0
	for len(b) >= wire.HeaderLen {
		l := int(binary.BigEndian.Uint16(b[16:18]))
		if wire.MessageType(b[18]) == wire.TypeUpdate {
			n++
		}
		if l < wire.HeaderLen || l > len(b) {
			break
		}
		b = b[l:]
	}
	return n
}

// next does the session's share of its group's work and returns the
// output it is to write: as the group's encoder (when no other member
// is) it encodes a chunk of pending entries, then it reads the pieces for
// it from its position. more says work remains. A session that is no
// longer established gets ok false.
func (ss *session) next(bufs [][]byte) (out [][]byte, updates int, more, ok bool) {
	s := ss.p.s
	s.mu.Lock()
	if !ss.established {
		s.mu.Unlock()
		return bufs, 0, false, false
	}
	if ss.g == nil {
		// Held out of the groups during routerd's restart deferral.
		s.mu.Unlock()
		return bufs, 0, false, true
	}
	g := ss.g
	if !g.encoding && g.hasWork() {
		g.begin(s)
		s.mu.Unlock()
		pieces := g.encode(ss.p.log)
		s.mu.Lock()
		g.finish(s, pieces)
		if ss.g != g {
			// ss left meanwhile.
			s.mu.Unlock()
			return bufs, 0, false, ss.established
		}
	}
	end := g.outBase + uint64(len(g.out))
	bit := uint64(1) << ss.bit
	for _, pc := range g.out[ss.pos-g.outBase:] {
		if pc.mask&bit != 0 {
			bufs = append(bufs, pc.b)
			updates += pc.updates
		}
	}
	ss.pos = end
	g.trimOut()
	more = !g.encoding && g.hasWork()
	if ss.regroup && !g.encoding {
		s.regroupNow(ss)
		more = true
	}
	s.mu.Unlock()
	return bufs, updates, more, true
}

// begin makes the caller the group's encoder and takes its work. Called
// with s.mu held.
func (g *updGroup) begin(s *Speaker) {
	g.encoding = true
	g.take(s)
}

// finish appends what the encoder produced to the group's output, without
// the members that left meanwhile, and wakes the members. Called with
// s.mu held.
func (g *updGroup) finish(s *Speaker, pieces []piece) {
	for i := range pieces {
		pieces[i].mask &^= g.retired
		g.encoded += uint64(len(pieces[i].b))
	}
	g.retired = 0
	g.encoding = false
	g.out = append(g.out, pieces...)
	for _, pc := range pieces {
		g.held += len(pc.b)
	}
	if g.held > maxGroupBacklog {
		g.dropLaggards(s)
	}
	s.dropEmptyGroup(g)
	if len(pieces) > 0 || g.hasWork() {
		// Work left wakes the members too: the encoder may be gone.
		g.kickAll()
	}
}

// maxGroupBacklog bounds the encoded output a group keeps for members
// that have not read it (a variable for tests).
var maxGroupBacklog = 256 << 20

// dropLaggards ends the sessions of the members that have more than
// maxGroupBacklog of the group's output unread: a neighbour that stops
// reading (but keeps its session up) would otherwise make the group keep
// every change for it. They get Cease / Out of Resources (RFC 4486) and
// come back with a fresh table. Called with s.mu held.
func (g *updGroup) dropLaggards(s *Speaker) {
	for m := g.used; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		ss := g.members[i]
		if ss.overrun {
			continue
		}
		unread := 0
		for _, pc := range g.out[ss.pos-g.outBase:] {
			if pc.mask&(1<<i) != 0 {
				unread += len(pc.b)
			}
		}
		if unread <= maxGroupBacklog {
			continue
		}
		ss.overrun = true
		ss.p.log("neighbor does not read its updates: session closed", "unread_bytes", unread)
		n := wire.Notification{Code: wire.CodeCease, Subcode: wire.SubOutOfResources}
		// Not under the lock: the NOTIFICATION's write may wait for a
		// neighbour that does not read.
		go ss.close(&n)
	}
}

// trimOut drops the pieces every member has read.
func (g *updGroup) trimOut() {
	end := g.outBase + uint64(len(g.out))
	low := end
	for m := g.used; m != 0; m &= m - 1 {
		low = min(low, g.members[bits.TrailingZeros64(m)].pos)
	}
	drop := int(low - g.outBase)
	if drop == 0 {
		return
	}
	for _, pc := range g.out[:drop] {
		g.held -= len(pc.b)
	}
	n := copy(g.out, g.out[drop:])
	clear(g.out[n:])
	g.out = g.out[:n]
	g.outBase = low
}
