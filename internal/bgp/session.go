package bgp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/config"
)

// exportChunk is the most prefixes a writer handles per hold of the
// speaker's lock.
const exportChunk = 16384

// session is an established BGP session: its reader runs in the
// connection's goroutine, its writer in one more.
type session struct {
	p        *Peer
	conn     *net.TCPConn
	wmu      sync.Mutex // serialises writes (writer, NOTIFICATIONs)
	opts     wire.Options
	hold     time.Duration
	remoteID netip.Addr
	remoteAS uint32
	caps     wire.Capabilities
	ebgp     bool
	local    netip.Addr
	self4    netip.Addr
	self6    netip.Addr
	kickc    chan struct{}
	closed   chan struct{}
	closeMu  sync.Once

	// Guarded by s.mu.
	established bool
	cursor      uint64
	sync        []wire.Prefix // prefixes still to send since establishment or a refresh
	syncing     bool          // End-of-RIB to send once sync is drained
	wantRefresh bool
	impEval     *evaluator
	expEval     *evaluator
	// noMED maps attribute sets to the same without MED, as exported to
	// eBGP neighbours (interning per prefix would cost a hash of the
	// whole set each time).
	noMED map[unique.Handle[wire.Attrs]]unique.Handle[wire.Attrs]

	updatesIn, updatesOut atomic.Uint64
	prefixesIn            atomic.Int64
}

func newSession(p *Peer, c *net.TCPConn, opts wire.Options, hold time.Duration, o *wire.Open, cfg config.Neighbor) *session {
	la := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	ss := &session{
		p: p, conn: c, opts: opts, hold: hold, remoteID: o.ID, remoteAS: o.PeerAS(), caps: o.Caps,
		ebgp: cfg.AS != p.s.cfg.AS, local: la, kickc: make(chan struct{}, 1), closed: make(chan struct{}),
	}
	var v4, v6 netip.Addr
	var ifx int
	_ = p.s.inNS(func() error {
		v4, v6, ifx = localSelf(la)
		return nil
	})
	ss.self4, ss.self6 = v4, v6
	p.ifindex.Store(int32(ifx))
	return ss
}

func (ss *session) kick() {
	select {
	case ss.kickc <- struct{}{}:
	default:
	}
}

// close sends n (if not nil) and closes the connection.
func (ss *session) close(n *wire.Notification) {
	ss.closeMu.Do(func() {
		if n != nil {
			ss.wmu.Lock()
			writeNotification(ss.conn, *n)
			ss.wmu.Unlock()
		}
		close(ss.closed)
		ss.conn.Close()
	})
}

// resync schedules every Loc-RIB prefix for export (a new session or a
// refresh). Called with s.mu held.
func (ss *session) resync() {
	s := ss.p.s
	ss.sync = ss.sync[:0]
	for p := range s.all() {
		ss.sync = append(ss.sync, p)
	}
	ss.cursor = s.base + uint64(len(s.changes))
	ss.syncing = true
	ss.kick()
}

// newEvaluators builds the session's policy evaluators. Called with s.mu
// held.
func (ss *session) newEvaluators() {
	p, s := ss.p, ss.p.s
	ss.impEval = newEvaluator(p.imp, env{localAS: s.cfg.AS}, nil)
	self := func(v6 bool) netip.Addr {
		if v6 {
			return ss.self6
		}
		return ss.self4
	}
	ebgp, nhSelf := ss.ebgp, p.cfg.NextHopSelf
	ss.expEval = newEvaluator(p.exp, env{localAS: s.cfg.AS, self: ss.self4}, func(a *wire.Attrs, v6 bool) {
		if ebgp {
			a.ASPath = a.ASPath.Prepend(s.cfg.AS, 1)
			a.Present = a.Present.With(wire.AttrASPath)
		} else if !a.Present.Has(wire.AttrLocalPref) {
			a.LocalPref = defaultLocalPre
			a.Present = a.Present.With(wire.AttrLocalPref)
		}
		if !a.NextHop.IsValid() || ebgp || nhSelf {
			a.NextHop, a.LinkLocal = self(v6), netip.Addr{}
		}
	})
	ss.expEval.self6 = ss.self6
}

// reader reads messages until the session ends.
func (ss *session) reader() error {
	s := ss.p.s
	max := ss.opts.MaxLen()
	buf := make([]byte, max)
	dec := wire.NewDecoder(ss.opts)
	var u wire.Update
	b := &batch{}
	for {
		if ss.hold > 0 {
			_ = ss.conn.SetReadDeadline(time.Now().Add(ss.hold))
		} else {
			_ = ss.conn.SetReadDeadline(time.Time{})
		}
		h, body, err := wire.ReadMessage(ss.conn, buf, max)
		if err != nil {
			select {
			case <-ss.closed:
				return errors.New("session closed")
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				ss.close(&wire.Notification{Code: wire.CodeHoldTimer})
				return errors.New("hold timer expired")
			}
			if we, ok := wire.AsError(err); ok {
				n := we.Notification()
				ss.close(&n)
				return fmt.Errorf("bad message: %w", err)
			}
			return err
		}
		switch h.Type {
		case wire.TypeKeepalive:
		case wire.TypeUpdate:
			ss.updatesIn.Add(1)
			err := dec.DecodeUpdate(body, &u)
			for _, w := range u.Warnings {
				ss.p.log("malformed attribute discarded (RFC 7606)", "err", w.Error())
			}
			if err != nil {
				we, _ := wire.AsError(err)
				switch {
				case we == nil || we.Action == wire.SessionReset || we.Action == wire.AFISAFIDisable:
					// AFI/SAFI disable is not implemented: reset (RFC 7606 §2 allows it).
					n := wire.Notification{Code: wire.CodeUpdate, Subcode: wire.SubMalformedAttrList}
					if we != nil {
						n = we.Notification()
					}
					ss.close(&n)
					return fmt.Errorf("malformed UPDATE: %w", err)
				case we.Action == wire.TreatAsWithdraw:
					ss.p.log("malformed UPDATE treated as withdraw (RFC 7606)", "err", err.Error(), "prefixes", len(u.Withdrawn))
				}
			}
			s.mu.Lock()
			ss.importUpdate(&u, b)
			s.flushUnlock(b)
		case wire.TypeNotification:
			n, _ := wire.DecodeNotification(body)
			ss.p.noteNotification(n)
			ss.close(nil)
			return fmt.Errorf("NOTIFICATION received: %s", n)
		case wire.TypeRouteRefresh:
			rr, err := wire.DecodeRouteRefresh(body, nil)
			if err != nil {
				continue
			}
			_ = rr
			s.mu.Lock()
			ss.resync()
			s.mu.Unlock()
		default:
			ss.close(&wire.Notification{Code: wire.CodeFSM, Subcode: 3})
			return fmt.Errorf("%s received in Established", h.Type)
		}
	}
}

// importUpdate applies a decoded UPDATE to the Loc-RIB. Called with s.mu
// held.
func (ss *session) importUpdate(u *wire.Update, b *batch) {
	s := ss.p.s
	slot := ss.p.slot
	n := int64(0)
	for _, w := range u.Withdrawn {
		s.removePath(w, slot, b)
	}
	n -= int64(len(u.Withdrawn))
	for _, set := range []struct {
		nlri []wire.Prefix
		h    unique.Handle[wire.Attrs]
	}{{u.NLRI, u.Attrs}, {u.MPNLRI, u.MPAttrs}} {
		if len(set.nlri) == 0 {
			continue
		}
		n += int64(len(set.nlri))
		if why := ss.loopCheck(set.h); why != "" {
			// RFC 4271 §9.1.2: a route with our own AS in its path is not
			// considered; withdraw any earlier one.
			for _, p := range set.nlri {
				s.removePath(p, slot, b)
			}
			continue
		}
		for _, p := range set.nlri {
			if !ss.opts.Families.Has(p.Family()) {
				continue
			}
			out, ok := ss.impEval.eval(p, set.h)
			if ok {
				s.setPath(p, slot, out, b)
			} else {
				s.removePath(p, slot, b)
			}
		}
	}
	ss.prefixesIn.Add(n)
}

// loopCheck returns why routes with attributes h are not accepted, or "".
func (ss *session) loopCheck(h unique.Handle[wire.Attrs]) string {
	s := ss.p.s
	a := h.Value()
	if a.ASPath.Contains(s.cfg.AS) {
		return "own AS in AS_PATH"
	}
	if !ss.ebgp {
		if a.Present.Has(wire.AttrOriginatorID) && a.OriginatorID == s.id {
			return "own ORIGINATOR_ID"
		}
		if a.ClusterList.Contains(addr4(s.id)) {
			return "own cluster ID in CLUSTER_LIST"
		}
	} else if first, ok := a.ASPath.First(); !ok || first != ss.remoteAS {
		return "AS_PATH does not start with the neighbor's AS"
	}
	return ""
}

// exportRoute returns the attributes of d's best path as announced on the
// session, or ok false when it is not announced. Called with s.mu held.
func (ss *session) exportRoute(p wire.Prefix, d *dest) (unique.Handle[wire.Attrs], bool) {
	var zero unique.Handle[wire.Attrs]
	if d.flags&destHasBest == 0 || !ss.opts.Families.Has(p.Family()) {
		return zero, false
	}
	s := ss.p.s
	best := d.at(0)
	if best.slot == ss.p.slot {
		return zero, false
	}
	src := &s.slots[best.slot]
	h := best.attrs
	a := h.Value()
	if a.Communities.Has(wire.NoAdvertise) || (ss.ebgp && (a.Communities.Has(wire.NoExport) || a.Communities.Has(wire.NoExportSubconfed))) {
		return zero, false
	}
	if !src.local && !src.ebgp && !ss.ebgp {
		// iBGP to iBGP: only as a route reflector (RFC 4456 §6).
		if !src.rrClient && !ss.p.cfg.RouteReflectorClient {
			return zero, false
		}
		if !a.Present.Has(wire.AttrOriginatorID) {
			a.OriginatorID = netip.AddrFrom4(u32bytes(src.routerID))
			a.Present = a.Present.With(wire.AttrOriginatorID)
		}
		a.ClusterList = a.ClusterList.Prepend(addr4(s.id))
		h = unique.Make(a)
	}
	if ss.ebgp && !src.local && a.Present.Has(wire.AttrMED) {
		// A MED learned from a neighbouring AS is not passed on to another
		// (RFC 4271 §5.1.4); an export policy may set one.
		if out, ok := ss.noMED[h]; ok {
			h = out
		} else {
			a.Present = a.Present.Without(wire.AttrMED)
			a.MED = 0
			out = unique.Make(a)
			if ss.noMED == nil || len(ss.noMED) >= maxEvalCache {
				ss.noMED = map[unique.Handle[wire.Attrs]]unique.Handle[wire.Attrs]{}
			}
			ss.noMED[h] = out
			h = out
		}
	}
	out, ok := ss.expEval.eval(p, h)
	if !ok {
		return zero, false
	}
	if !out.Value().NextHop.IsValid() {
		return zero, false
	}
	return out, true
}

func u32bytes(x uint32) [4]byte {
	return [4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)}
}

type groupKey struct {
	h   unique.Handle[wire.Attrs]
	fam wire.Family
}

// writer sends KEEPALIVEs and the session's share of the change log.
func (ss *session) writer() {
	keep := ss.hold / 3
	var tick <-chan time.Time
	if keep > 0 {
		t := time.NewTicker(keep)
		defer t.Stop()
		tick = t.C
	}
	enc := wire.NewEncoder(ss.opts)
	groups := map[groupKey][]wire.Prefix{}
	var withdraw []wire.Prefix
	var out []byte
	for {
		select {
		case <-ss.closed:
			return
		case <-tick:
			if err := ss.write(wire.AppendKeepalive(out[:0])); err != nil {
				return
			}
			continue
		case <-ss.kickc:
		}
		for {
			more, eor, refresh := ss.collect(groups, &withdraw)
			out = out[:0]
			if refresh {
				for _, f := range []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast} {
					if ss.opts.Families.Has(f) && ss.caps.RouteRefresh {
						out = wire.RouteRefresh{Family: f}.AppendMessage(out)
					}
				}
			}
			out = enc.AppendWithdraw(out, withdraw)
			for k, ps := range groups {
				a := k.h.Value()
				var err error
				out, err = enc.AppendAnnounce(out, &a, ps)
				if err != nil {
					ss.p.log("cannot encode announcement", "err", err)
				}
				delete(groups, k)
			}
			withdraw = withdraw[:0]
			if eor {
				for _, f := range []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast} {
					if ss.opts.Families.Has(f) {
						out = wire.AppendEndOfRIB(out, f)
					}
				}
			}
			if len(out) > 0 {
				if err := ss.write(out); err != nil {
					return
				}
				ss.updatesOut.Add(1)
			}
			if !more {
				break
			}
		}
		if cap(out) > 1<<20 {
			out = nil
		}
	}
}

func (ss *session) write(b []byte) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	d := ss.hold
	if d <= 0 {
		d = time.Minute
	}
	_ = ss.conn.SetWriteDeadline(time.Now().Add(d))
	_, err := ss.conn.Write(b)
	if err != nil {
		ss.conn.Close()
	}
	return err
}

// collect takes a chunk of work for the writer: prefixes from the initial
// sync or the change log, exported and grouped by attributes. It reports
// whether more remains, whether End-of-RIB is due, and whether a
// ROUTE-REFRESH is to be sent.
func (ss *session) collect(groups map[groupKey][]wire.Prefix, withdraw *[]wire.Prefix) (more, eor, refresh bool) {
	s := ss.p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ss.established {
		return false, false, false
	}
	refresh, ss.wantRefresh = ss.wantRefresh, false
	bit := slotBit(ss.p.slot)
	handle := func(p wire.Prefix, initial bool) {
		d, ok := s.get(p)
		if ok {
			if h, ok := ss.exportRoute(p, &d); ok {
				k := groupKey{h, p.Family()}
				groups[k] = append(groups[k], p)
				if d.adv&bit == 0 {
					d.adv |= bit
					s.put(p, d)
				}
				return
			}
		}
		if ok && d.adv&bit != 0 {
			d.adv &^= bit
			s.store(p, d)
			*withdraw = append(*withdraw, p)
		} else if bit == 0 && !initial {
			*withdraw = append(*withdraw, p)
		}
	}
	if len(ss.sync) > 0 {
		n := min(len(ss.sync), exportChunk)
		for _, p := range ss.sync[len(ss.sync)-n:] {
			handle(p, true)
		}
		ss.sync = ss.sync[:len(ss.sync)-n]
		if len(ss.sync) == 0 {
			ss.sync = nil
		}
		return true, false, refresh
	}
	if ss.syncing {
		ss.syncing = false
		eor = true
	}
	start := int(ss.cursor - s.base)
	end := min(len(s.changes), start+exportChunk)
	for _, p := range s.changes[start:end] {
		handle(p, false)
	}
	ss.cursor = s.base + uint64(end)
	more = end < len(s.changes)
	s.trimLog()
	return more, eor, refresh
}
