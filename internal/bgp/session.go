package bgp

import (
	"bufio"
	"encoding/binary"
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
	"github.com/routerd/routerd/internal/prefixmap"
)

// exportChunk is the most prefixes a writer handles per hold of the
// speaker's lock.
const exportChunk = 16384

// readBuffer is the size of a session reader's input buffer, and
// readerBatch the most route changes a reader gathers over several
// UPDATEs that have already arrived before it hands them on.
const (
	readBuffer  = 64 << 10
	readerBatch = 4096
)

// readAhead reports whether br holds a whole message.
func readAhead(br *bufio.Reader) bool {
	if br.Buffered() < wire.HeaderLen {
		return false
	}
	h, err := br.Peek(wire.HeaderLen)
	if err != nil {
		return false
	}
	return br.Buffered() >= int(h[16])<<8|int(h[17])
}

// session is an established BGP session: its reader runs in the
// connection's goroutine, its writer in one more.
type session struct {
	p    *Peer
	conn *net.TCPConn
	// limitWarned: the 90 % warning of max-prefixes was logged (IPv4, IPv6).
	limitWarned [2]bool
	// overrun: closed for not reading its updates (dropLaggards).
	overrun  bool
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
	// enhanced: enhanced route refresh (RFC 7313) negotiated.
	enhanced bool
	// noGR is set once a NOTIFICATION was sent or received that ends the
	// session without a graceful restart (see gracefulAfter).
	noGR atomic.Bool
	// nbit: both sides sent the graceful restart capability's N bit
	// (RFC 8538), so a NOTIFICATION other than a Hard Reset keeps the
	// neighbour's routes as stale too.
	nbit bool

	// Guarded by s.mu.
	established bool
	// g is the session's update group, bit its member bit there, pos its
	// read position in the group's output. regroup asks the writer to move
	// the session to the group of its changed key once it has read what
	// its group encoded.
	g       *updGroup
	bit     uint8
	pos     uint64
	regroup bool
	// The table to send (since establishment or a refresh) is walked in
	// the Loc-RIB's order by a cursor, not copied into a list: a full
	// table's session costs no memory for it. syncFams are the families
	// still to send, syncAfter the last prefix sent (unless syncFrom0).
	syncFams  wire.Families
	syncAfter prefixmap.Key
	syncFrom0 bool
	syncing   bool          // End-of-RIB to send once the walk is done
	eorr      wire.Families // End-of-Route-Refresh to send once the walk is done
	// disabled holds the families ignored after an RFC 7606 AFI/SAFI
	// disable; the reader's own, read under s.mu by others.
	disabled wire.Families
	impEval  *evaluator

	updatesIn, updatesOut atomic.Uint64
}

func newSession(p *Peer, c *net.TCPConn, opts wire.Options, hold time.Duration, o *wire.Open, cfg config.Neighbor) *session {
	la := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	ss := &session{
		p: p, conn: c, opts: opts, hold: hold, remoteID: o.ID, remoteAS: o.PeerAS(), caps: o.Caps,
		ebgp: p.s.cfg.SessionType(cfg.AS) == config.EBGP, local: la, kickc: make(chan struct{}, 1), closed: make(chan struct{}),
		enhanced: o.Caps.EnhancedRouteRefresh,
		nbit:     cfg.GracefulRestart && o.Caps.GracefulRestart != nil && o.Caps.GracefulRestart.Notification,
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

// close sends n (if not nil) and closes the connection. With the N bit
// negotiated, the Cease subcodes that mean "forget this session's routes"
// go out as a Hard Reset (RFC 8538 §5).
func (ss *session) close(n *wire.Notification) {
	if n != nil && ss.nbit && hardResetCease(*n) {
		h := wire.HardReset(*n)
		n = &h
	}
	if n != nil && !ss.gracefulAfter(*n, true) {
		ss.noGR.Store(true)
	}
	ss.closeMu.Do(func() {
		if n != nil && ss.conn != nil {
			ss.wmu.Lock()
			writeNotification(ss.conn, *n)
			ss.wmu.Unlock()
		}
		close(ss.closed)
		if ss.conn != nil { // tests' sessions have none
			ss.conn.Close()
		}
	})
}

// resync schedules every Loc-RIB prefix for export, then End-of-RIB (a
// new session or a soft reset out). Called with s.mu held.
func (ss *session) resync() {
	ss.syncFams, ss.syncFrom0 = 0, false
	if ss.p.s.locLen() > 0 {
		// An empty Loc-RIB has nothing to walk: what arrives later comes
		// as changes (and a walk would send it twice).
		ss.syncFams, ss.syncFrom0 = wire.FamIPv4Unicast|wire.FamIPv6Unicast, true
	}
	ss.syncing = true
	ss.kick()
}

// refresh answers a ROUTE-REFRESH for the families in fams: their
// prefixes are sent again, between BoRR and EoRR when enhanced route
// refresh is negotiated. Called with s.mu held.
func (ss *session) refresh(fams wire.Families) {
	// A walk under way starts over: what it sent already goes again, as a
	// refresh asks.
	if ss.p.s.locLen() > 0 {
		ss.syncFams |= fams
		ss.syncFrom0 = true
	}
	if ss.enhanced {
		ss.mark(entBoRR, fams)
		ss.eorr |= fams
	}
	ss.kick()
}

// mark queues a message of kind for the families in fams behind what is
// pending for the session. Called with s.mu held.
func (ss *session) mark(kind uint8, fams wire.Families) {
	if g := ss.g; g != nil && fams != 0 {
		g.pending = append(g.pending, outEntry{kind: kind, mask: 1 << ss.bit, fams: fams})
		ss.kick()
	}
}

// restartable reports whether the neighbour can restart gracefully on
// this session. Called from the peer's goroutine.
func (ss *session) restartable() bool {
	s := ss.p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	keep, _ := ss.p.gracefulFamilies(ss)
	return keep != 0
}

// newEvaluators builds the session's import policy evaluator; a changed
// export policy moves the session to another update group. Called with
// s.mu held.
func (ss *session) newEvaluators() {
	p, s := ss.p, ss.p.s
	ss.impEval = newEvaluator(p.imp, env{localAS: s.cfg.AS}, nil)
	if ss.g != nil && ss.g.key != ss.groupKey() {
		ss.regroup = true
		ss.kick()
	}
}

// reader reads messages until the session ends.
func (ss *session) reader() error {
	s := ss.p.s
	max := ss.opts.MaxLen()
	buf := make([]byte, max)
	dec := wire.NewDecoder(ss.opts)
	var u wire.Update
	b := &batch{}
	// Buffered, a full table's UPDATEs take one read system call per
	// buffer rather than two per message, and the reader can tell that
	// the next message is already here (readAhead).
	br := bufio.NewReaderSize(ss.conn, readBuffer)
	defer func() {
		// Routes gathered over UPDATEs that had already arrived reach
		// the RIB even when the session ends at the next message; the
		// session's paths are dropped only after the reader returns.
		if b.size() > 0 || b.exported {
			s.mu.Lock()
			s.flush(b)
			s.mu.Unlock()
		}
	}()
	for {
		if br.Buffered() == 0 {
			// The hold timer runs from the last data received.
			if ss.hold > 0 {
				_ = ss.conn.SetReadDeadline(time.Now().Add(ss.hold))
			} else {
				_ = ss.conn.SetReadDeadline(time.Time{})
			}
		}
		h, body, err := wire.ReadMessage(br, buf, max)
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
			var disable wire.Family
			if err != nil {
				we, _ := wire.AsError(err)
				switch {
				case we != nil && we.Action == wire.AFISAFIDisable && wire.FamilyBit(we.Family) != 0:
					ss.p.log("malformed UPDATE: family disabled for the rest of the session (RFC 7606)", "family", we.Family, "err", err.Error())
					disable = we.Family
				case we == nil || we.Action <= wire.AFISAFIDisable:
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
			if disable != (wire.Family{}) {
				ss.p.disableFamily(ss, disable)
			}
			ss.importUpdate(&u, b)
			if f := u.EndOfRIB; f != (wire.Family{}) {
				s.flush(b)
				ss.p.sweep(wire.FamilyBit(f), "End-of-RIB")
				ss.p.endOfRIB(wire.FamilyBit(f))
			}
			if err := ss.checkLimits(); err != nil {
				s.flush(b)
				s.mu.Unlock()
				return err
			}
			if b.size() < readerBatch && readAhead(br) {
				// The next UPDATE is already here: let it join this
				// batch, so that the RIB, the writers and the lock see
				// one handover per few thousand routes, not one per
				// message. The batch goes at the latest when the input
				// pauses.
				s.mu.Unlock()
				continue
			}
			b = s.flushAsync(b)
		case wire.TypeNotification:
			n, _ := wire.DecodeNotification(body)
			ss.p.noteNotification(n)
			if !ss.gracefulAfter(n, false) {
				ss.noGR.Store(true)
			}
			ss.close(nil)
			return fmt.Errorf("NOTIFICATION received: %s", n)
		case wire.TypeRouteRefresh:
			rr, err := wire.DecodeRouteRefresh(body, buf[:wire.HeaderLen+len(body)])
			if err != nil {
				// RFC 7313 §5: ROUTE-REFRESH Message Error, Invalid Message Length.
				we, _ := wire.AsError(err)
				n := we.Notification()
				ss.close(&n)
				return fmt.Errorf("bad ROUTE-REFRESH: %w", err)
			}
			fam := wire.FamilyBit(rr.Family)
			if !rr.Known() || fam == 0 || !ss.opts.Families.Has(rr.Family) {
				// Unknown subtypes and families not negotiated are ignored
				// (RFC 7313 §5, RFC 2918 §4).
				continue
			}
			s.mu.Lock()
			switch rr.Subtype {
			case wire.RefreshNormal:
				ss.refresh(fam)
			case wire.RefreshBoRR:
				if ss.enhanced && ss.disabled&fam == 0 {
					ss.p.beginRefresh(fam)
				}
			case wire.RefreshEoRR:
				if ss.enhanced {
					ss.p.sweep(fam, "End-of-Route-Refresh")
				}
			}
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
	p := ss.p
	fams := ss.opts.Families &^ ss.disabled
	for _, w := range u.Withdrawn {
		if fams.Has(w.Family()) {
			p.withdraw(w, b)
		}
	}
	for _, set := range []struct {
		nlri []wire.Prefix
		h    unique.Handle[wire.Attrs]
	}{{u.NLRI, u.Attrs}, {u.MPNLRI, u.MPAttrs}} {
		if len(set.nlri) == 0 {
			continue
		}
		// RFC 4271 §9.1.2: a route with our own AS in its path is not
		// considered; it withdraws any earlier one.
		loopFree := p.loopCheck(set.h) == ""
		for _, pfx := range set.nlri {
			if fams.Has(pfx.Family()) {
				p.announce(ss.impEval, pfx, set.h, loopFree, b)
			}
		}
	}
}

// errMaxPrefixes ends a session whose neighbour went over a prefix limit.
var errMaxPrefixes = errors.New("maximum prefixes exceeded")

// checkLimits enforces the neighbour's max-prefixes: over a family's limit
// the session ends with Cease / Maximum Number of Prefixes Reached, the
// data holding the family and the limit (RFC 4486 §4); at 90 % it warns
// once per session. Called with s.mu held.
func (ss *session) checkLimits() error {
	p := ss.p
	lim := p.cfg.MaxPrefixes
	if lim.IPv4 == 0 && lim.IPv6 == 0 {
		return nil
	}
	si := &p.s.slots[p.slot]
	for i, f := range []struct {
		fam wire.Family
		n   int
		max uint32
	}{{wire.IPv4Unicast, si.accepted - si.accepted6, lim.IPv4}, {wire.IPv6Unicast, si.accepted6, lim.IPv6}} {
		switch {
		case f.max == 0:
		case f.n > int(f.max):
			data := binary.BigEndian.AppendUint16(nil, f.fam.AFI)
			data = append(data, f.fam.SAFI)
			data = binary.BigEndian.AppendUint32(data, f.max)
			p.log("maximum prefixes exceeded: session closed", "family", f.fam, "limit", f.max, "accepted", f.n,
				"restart", lim.Restart)
			ss.close(&wire.Notification{Code: wire.CodeCease, Subcode: wire.SubMaxPrefixes, Data: data})
			return fmt.Errorf("%w: %d %s prefixes accepted, limit %d", errMaxPrefixes, f.n, f.fam, f.max)
		case !ss.limitWarned[i] && uint64(f.n)*10 >= uint64(f.max)*9:
			ss.limitWarned[i] = true
			p.log("prefixes near the maximum", "family", f.fam, "limit", f.max, "accepted", f.n)
		}
	}
	return nil
}

// withdraw removes the neighbour's route for pfx. Called with s.mu held.
func (p *Peer) withdraw(pfx wire.Prefix, b *batch) {
	p.s.removePath(pfx, p.slot, b)
	if p.adjIn != nil {
		delete(p.adjIn, pfx)
	} else if len(p.rejected) > 0 {
		delete(p.rejected, pfx)
	}
}

// announce applies the neighbour's route for pfx with attributes h
// through import policy ev. Called with s.mu held.
func (p *Peer) announce(ev *evaluator, pfx wire.Prefix, h unique.Handle[wire.Attrs], loopFree bool, b *batch) {
	if p.adjIn != nil {
		p.adjIn[pfx] = adjEntry{attrs: h}
	}
	if loopFree {
		if out, ok := ev.eval(pfx, h); ok {
			p.s.setPath(pfx, p.slot, out, b)
			if len(p.rejected) > 0 {
				delete(p.rejected, pfx)
			}
			return
		}
	}
	p.s.removePath(pfx, p.slot, b)
	if p.rejected != nil {
		p.rejected[pfx] = false
	}
}

// loopCheck returns why routes with attributes h are not accepted, or "".
func (p *Peer) loopCheck(h unique.Handle[wire.Attrs]) string {
	s := p.s
	a := h.Value()
	if reason := s.ownASInPath(a.ASPath); reason != "" {
		return reason
	}
	kind := p.kind()
	if kind != config.EBGP {
		if a.Present.Has(wire.AttrOriginatorID) && a.OriginatorID == s.id {
			return "own ORIGINATOR_ID"
		}
		if a.ClusterList.Contains(addr4(s.id)) {
			return "own cluster ID in CLUSTER_LIST"
		}
	}
	switch kind {
	case config.EBGP:
		if first, ok := a.ASPath.First(); !ok || first != p.cfg.AS {
			return "AS_PATH does not start with the neighbor's AS"
		}
	case config.ConfedEBGP:
		if first, ok := a.ASPath.FirstConfed(); !ok || first != p.cfg.AS {
			return "AS_PATH does not start with the neighbor's member AS in an AS_CONFED_SEQUENCE"
		}
	}
	return ""
}

// received returns how many prefixes the neighbour announces now (stale
// ones included), before import policy. Called with s.mu held.
func (p *Peer) received() int {
	if p.adjIn != nil {
		return len(p.adjIn)
	}
	return p.s.slots[p.slot].accepted + len(p.rejected)
}

// reimport applies the import policy again to the pre-policy routes of a
// neighbour with soft-reconfiguration inbound; stale routes wait for the
// neighbour's refresh. Called with s.mu held.
func (p *Peer) reimport() {
	s := p.s
	ev := newEvaluator(p.imp, env{localAS: s.cfg.AS}, nil)
	b := &s.evBatch
	loop := map[unique.Handle[wire.Attrs]]bool{}
	for pfx, e := range p.adjIn {
		if e.stale {
			continue
		}
		free, ok := loop[e.attrs]
		if !ok {
			free = p.loopCheck(e.attrs) == ""
			loop[e.attrs] = free
		}
		p.announce(ev, pfx, e.attrs, free, b)
		if b.size() > 8192 {
			s.flush(b)
		}
	}
	s.flush(b)
}

// exportRoute returns the attributes of d's best path as announced on the
// session, or ok false when it is not announced. Called with s.mu held.
func (ss *session) exportRoute(p wire.Prefix, d *dest) (unique.Handle[wire.Attrs], bool) {
	var zero unique.Handle[wire.Attrs]
	if ss.g == nil || d.flags&destHasBest == 0 || d.slot0 == ss.p.slot {
		return zero, false
	}
	return ss.g.export(ss.p.s, p, d)
}

func u32bytes(x uint32) [4]byte {
	return [4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)}
}

// writer sends KEEPALIVEs and the session's share of its update group's
// output.
func (ss *session) writer() {
	keep := ss.hold / 3
	var tick <-chan time.Time
	if keep > 0 {
		t := time.NewTicker(keep)
		defer t.Stop()
		tick = t.C
	}
	var bufs [][]byte
	for {
		select {
		case <-ss.closed:
			return
		case <-tick:
			if err := ss.write([][]byte{wire.AppendKeepalive(nil)}); err != nil {
				return
			}
			continue
		case <-ss.kickc:
		}
		for {
			out, updates, more, ok := ss.next(bufs[:0])
			if !ok {
				return
			}
			if len(out) > 0 {
				if err := ss.write(out); err != nil {
					return
				}
				ss.updatesOut.Add(uint64(updates))
			}
			clear(out)
			bufs = out
			if !more {
				break
			}
		}
	}
}

func (ss *session) write(b [][]byte) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	d := ss.hold
	if d <= 0 {
		d = time.Minute
	}
	_ = ss.conn.SetWriteDeadline(time.Now().Add(d))
	nb := net.Buffers(b)
	_, err := nb.WriteTo(ss.conn)
	if err != nil {
		ss.conn.Close()
	}
	return err
}

// gracefulAfter reports whether the session may still end in a graceful
// restart (the neighbour's routes kept as stale) after NOTIFICATION n was
// sent (sent true) or received. Without the N bit only a hold timer
// expiry we sent qualifies: the neighbour that restarted never sees it.
// With the N bit every NOTIFICATION but a Hard Reset does (RFC 8538 §4).
func (ss *session) gracefulAfter(n wire.Notification, sent bool) bool {
	if ss.nbit {
		return !n.IsHardReset()
	}
	return sent && n.Code == wire.CodeHoldTimer
}

// hardResetCease reports whether RFC 8538 §5 has n sent as a Hard Reset
// once the N bit is negotiated: the Cease subcodes after which the
// neighbour must not keep our routes (prefix limit, administrative
// shutdown, reset, de-configuration). Other Cease subcodes (collision,
// connection rejected, configuration change, out of resources) and the
// other codes leave graceful restart to do its work.
func hardResetCease(n wire.Notification) bool {
	if n.Code != wire.CodeCease {
		return false
	}
	switch n.Subcode {
	case wire.SubMaxPrefixes, wire.SubAdminShutdown, wire.SubPeerDeconfigured, wire.SubAdminReset:
		return true
	}
	return false
}
