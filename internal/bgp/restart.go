package bgp

import (
	"log/slog"
	"net/netip"
	"slices"
	"time"
	"unique"

	"github.com/routerd/routerd/internal/bgp/wire"
)

// Graceful restart, receiving speaker side (RFC 4724 §4.2), and the stale
// marking of enhanced route refresh (RFC 7313 §4), which works the same
// way: a neighbour's paths of some families are marked stale (a bit in the
// path, see pathStale), the paths it sends again lose the mark, and at its
// End-of-RIB (End-of-Route-Refresh), or when a timer runs out, the paths
// still marked go. Both run under the speaker's lock.

// adjEntry is one route of a neighbour's pre-policy Adj-RIB-In
// (soft-reconfiguration inbound).
type adjEntry struct {
	attrs unique.Handle[wire.Attrs]
	stale bool
}

// gracefulFamilies returns the families whose routes are kept when the
// session ss ends: those the neighbour listed in its graceful restart
// capability, if it sent one with a non-zero restart time, graceful
// restart is on for the neighbour and the session ended without a
// NOTIFICATION (a hold timer expiry counts as no NOTIFICATION: the
// neighbour that restarts never sees it). Called with s.mu held.
func (p *Peer) gracefulFamilies(ss *session) (wire.Families, time.Duration) {
	g := ss.caps.GracefulRestart
	if !p.cfg.GracefulRestart || g == nil || g.RestartTime == 0 || ss.noGR.Load() {
		return 0, 0
	}
	var keep wire.Families
	for _, f := range g.Families {
		keep |= wire.FamilyBit(f.Family)
	}
	return keep & ss.opts.Families &^ ss.disabled, time.Duration(g.RestartTime) * time.Second
}

// sessionLost drops the neighbour's paths and advertised bits, except
// the paths of the families in keep, which stay stale until the neighbour
// is back with its End-of-RIB or restart passes. Called with s.mu held.
func (p *Peer) sessionLost(keep wire.Families, restart time.Duration) {
	s := p.s
	s.dropSlot(p.slot, keep)
	p.markMaps(keep, true)
	p.stale = keep
	if keep == 0 {
		p.stopStaleTimer()
		return
	}
	p.log("graceful restart: keeping the neighbor's routes as stale", "families", familiesString(keep),
		"routes", s.slots[p.slot].accepted, "restart_time", restart)
	p.startStaleTimer(restart, "restart time expired")
}

// sessionBack applies RFC 4724 §4.2 to a re-established session ss:
// stale families the neighbour no longer lists with the forwarding state
// bit (or at all) are swept at once; the others wait for End-of-RIB, at
// most the configured restart time. Called with s.mu held.
func (p *Peer) sessionBack(ss *session) {
	if p.stale == 0 {
		return
	}
	var keep wire.Families
	if g := ss.caps.GracefulRestart; g != nil && p.cfg.GracefulRestart {
		for _, f := range g.Families {
			if f.ForwardingPreserved {
				keep |= wire.FamilyBit(f.Family)
			}
		}
		if g.Restarting {
			p.log("graceful restart: the neighbor restarted (R bit)")
		}
	}
	keep &= ss.opts.Families
	if drop := p.stale &^ keep; drop != 0 {
		p.sweep(drop, "forwarding state not preserved")
	}
	if p.stale != 0 {
		p.startStaleTimer(p.s.cfg.RestartTime, "no End-of-RIB in time")
	}
}

// beginRefresh marks the paths of the families in fams stale: the
// neighbour announced that it sends them all again (BoRR). Called with
// s.mu held.
func (p *Peer) beginRefresh(fams wire.Families) {
	p.s.markStale(p.slot, fams)
	p.markMaps(fams, false)
	p.stale |= fams
	p.startStaleTimer(max(p.s.cfg.RestartTime, 5*time.Minute), "no End-of-Route-Refresh in time")
}

// sweep removes the stale paths of the families in fams. Called with s.mu
// held.
func (p *Peer) sweep(fams wire.Families, why string) {
	fams &= p.stale
	if fams == 0 {
		return
	}
	n := p.s.sweepStale(p.slot, fams)
	for k, e := range p.adjIn {
		if e.stale && fams.Has(k.Family()) {
			delete(p.adjIn, k)
		}
	}
	for k, stale := range p.rejected {
		if stale && fams.Has(k.Family()) {
			delete(p.rejected, k)
		}
	}
	p.stale &^= fams
	if p.stale == 0 {
		p.stopStaleTimer()
	}
	p.log("stale routes removed", "why", why, "families", familiesString(fams), "routes", n)
}

// markMaps marks the entries of the families in fams of the pre-policy
// maps (rejected prefixes, Adj-RIB-In) stale; with others, entries of the
// other families go. Called with s.mu held.
func (p *Peer) markMaps(fams wire.Families, others bool) {
	for k, e := range p.adjIn {
		switch {
		case fams.Has(k.Family()):
			e.stale = true
			p.adjIn[k] = e
		case others:
			delete(p.adjIn, k)
		}
	}
	for k := range p.rejected {
		switch {
		case fams.Has(k.Family()):
			p.rejected[k] = true
		case others:
			delete(p.rejected, k)
		}
	}
}

// startStaleTimer (re)starts the timer that sweeps every stale path when
// it fires. Called with s.mu held.
func (p *Peer) startStaleTimer(d time.Duration, why string) {
	p.stopStaleTimer()
	gen := p.staleGen
	s := p.s
	p.staleTimer = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if p.staleGen == gen {
			p.sweep(p.stale, why)
		}
	})
}

// stopStaleTimer stops the stale timer; a callback already running does
// nothing. Called with s.mu held.
func (p *Peer) stopStaleTimer() {
	p.staleGen++
	if p.staleTimer != nil {
		p.staleTimer.Stop()
		p.staleTimer = nil
	}
}

// disableFamily stops taking routes of family f on session ss (RFC 4760
// §7, RFC 7606 AFI/SAFI disable) and withdraws the neighbour's routes of
// it. Called with s.mu held.
func (p *Peer) disableFamily(ss *session, f wire.Family) {
	bit := wire.FamilyBit(f)
	if bit == 0 || ss.disabled&bit != 0 {
		return
	}
	ss.disabled |= bit
	s := p.s
	// Marked stale and swept: the same walk as a restart's.
	s.markStale(p.slot, bit)
	p.markMaps(bit, false)
	p.stale |= bit
	p.sweep(bit, "family disabled after a malformed UPDATE")
	// Its End-of-RIB will not count any more.
	p.endOfRIB(bit)
}

// Graceful restart, restarting speaker side (RFC 4724 §4.1), with
// graceful-restart-preserve: routerd's own routes stayed in the kernel
// across its restart (the daemon found them), so the capability carries
// the R bit and each family with the F bit, and the speaker defers its
// output to the neighbours: a session that comes up during the deferral
// stays out of the update groups (it receives, and its keepalives go
// out, but no table, no End-of-RIB and no changes), until every enabled
// neighbour has sent End-of-RIB for the families of its session, or
// established without the capability or with the R bit set itself, or
// the graceful restart time since the start runs out. Then the sessions
// join their groups and get the table and End-of-RIB as any new
// session does. Routes learned meanwhile reach the RIB as they arrive:
// the kernel programmer adopts those it finds in the kernel unchanged
// and, held by the daemon, deletes what was not learned again only once
// the deferral ended (OnConverged).

// restartState is the speaker's own restart.
type restartState struct {
	// restarting: set at New from Options.Restarting.
	restarting bool
	// deferring: the deferral runs; preserved: forwarding state was
	// preserved across this start (the F bit on the first sessions).
	deferring, preserved bool
	began                time.Time
	timer                *time.Timer
	// eor holds the families whose End-of-RIB an established session
	// still owes; done the neighbours the deferral no longer waits for.
	eor         map[*Peer]wire.Families
	done        map[*Peer]bool
	onConverged func()
}

// RestartDeferral is the state of the speaker's own graceful restart.
type RestartDeferral struct {
	Deferring bool      // tables to the neighbours are held back
	Since     time.Time // when the deferral began
	Limit     time.Time // when it ends at the latest
	// Waiting lists the enabled neighbours whose End-of-RIB (or session)
	// the deferral still waits for.
	Waiting []netip.Addr
}

// Deferral returns the state of the restart deferral.
func (s *Speaker) Deferral() RestartDeferral {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &s.restart
	if !r.deferring {
		return RestartDeferral{}
	}
	d := RestartDeferral{Deferring: true, Since: r.began, Limit: r.began.Add(s.cfg.RestartTime)}
	for a, p := range s.peers {
		if p.enabled && !r.done[p] {
			d.Waiting = append(d.Waiting, a)
		}
	}
	slices.SortFunc(d.Waiting, netip.Addr.Compare)
	return d
}

// beginDeferral starts the deferral when the speaker is restarting.
// Called with s.mu held, before the neighbours start.
func (s *Speaker) beginDeferral() {
	r := &s.restart
	if !r.restarting || !s.cfg.GracefulRestartPreserve {
		return
	}
	r.deferring, r.preserved, r.began = true, true, time.Now()
	r.eor, r.done = map[*Peer]wire.Families{}, map[*Peer]bool{}
	limit := s.cfg.RestartTime
	r.timer = time.AfterFunc(limit, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.restart.deferring {
			s.endDeferral("graceful restart time passed", slog.LevelWarn)
		}
	})
	s.log.Info("bgp: graceful restart: routerd restarted with its forwarding state preserved; "+
		"tables to the neighbors deferred until their End-of-RIB", "neighbors", len(s.cfg.Neighbors), "limit", limit)
}

// stopDeferral ends the deferral without output: the speaker stops.
// Called with s.mu held.
func (s *Speaker) stopDeferral() {
	r := &s.restart
	if r.timer != nil {
		r.timer.Stop()
	}
	r.deferring = false
	if f := r.onConverged; f != nil {
		r.onConverged = nil
		go f()
	}
}

// holdSession registers a session that came up with the deferral and
// reports whether it is held out of the update groups: true while the
// deferral runs. Called with s.mu held.
func (p *Peer) holdSession(ss *session) bool {
	r := &p.s.restart
	if !r.deferring {
		return false
	}
	g := ss.caps.GracefulRestart
	fams := ss.opts.Families &^ ss.disabled
	switch {
	case !p.cfg.GracefulRestart || g == nil:
		// RFC 4724 §4.1: neighbours without the capability are not
		// waited for.
		r.done[p] = true
		p.log("graceful restart: neighbor without graceful restart: not waited for")
	case g.Restarting:
		// It restarted too and waits for our End-of-RIB.
		r.done[p] = true
		p.log("graceful restart: neighbor restarting too (R bit): not waited for")
	case fams == 0:
		r.done[p] = true
	default:
		delete(r.done, p)
		r.eor[p] = fams
		p.log("graceful restart: deferring the table to the neighbor until its End-of-RIB", "families", familiesString(fams))
	}
	return true
}

// endOfRIB notes the neighbour's End-of-RIB for the families in fams for
// the deferral. Called with s.mu held.
func (p *Peer) endOfRIB(fams wire.Families) {
	r := &p.s.restart
	w, ok := r.eor[p]
	if !r.deferring || !ok {
		return
	}
	if w &^= fams; w != 0 {
		r.eor[p] = w
		return
	}
	delete(r.eor, p)
	r.done[p] = true
	p.s.checkDeferral()
}

// checkDeferral ends the deferral once no enabled neighbour is waited
// for. Called with s.mu held.
func (s *Speaker) checkDeferral() {
	r := &s.restart
	if !r.deferring {
		return
	}
	for _, p := range s.peers {
		if p.enabled && !r.done[p] {
			return
		}
	}
	s.endDeferral("End-of-RIB from every neighbor", slog.LevelInfo)
}

// endDeferral ends the deferral: the held sessions join their update
// groups and get the table and End-of-RIB; once the routes learned so
// far are in the RIB, OnConverged is called. Called with s.mu held.
func (s *Speaker) endDeferral(why string, level slog.Level) {
	r := &s.restart
	r.deferring = false
	if r.timer != nil {
		r.timer.Stop()
	}
	var waited []string
	sessions := 0
	for _, p := range s.peers {
		if p.enabled && !r.done[p] {
			waited = append(waited, p.cfg.Address.String())
		}
		if ss := p.sess; ss != nil && ss.established && ss.g == nil {
			s.joinGroup(ss)
			ss.resync()
			sessions++
		}
	}
	r.eor, r.done = nil, nil
	s.log.Log(s.ctx, level, "bgp: graceful restart: deferral ended; sending tables and End-of-RIB",
		"why", why, "after", time.Since(r.began).Round(time.Millisecond), "sessions", sessions, "not_waited_for", waited)
	s.drainRIBQueue()
	if f := r.onConverged; f != nil {
		r.onConverged = nil
		go f()
	}
}

// restartCaps completes the graceful restart capability c for a
// restarting speaker (graceful-restart-preserve): every family of the
// session, with the F bit when routerd's forwarding state was preserved
// (this start found its routes in the kernel, or the neighbour had a
// session with this run of routerd before: a session that ends does not
// touch the kernel), and the R bit during the deferral.
func (p *Peer) restartCaps(c *wire.Capabilities) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.cfg.GracefulRestartPreserve {
		return
	}
	g := c.GracefulRestart
	fwd := s.restart.preserved || !p.stats.upSince.IsZero()
	g.Restarting = s.restart.deferring
	fams := c.Multiprotocol
	if len(fams) == 0 {
		fams = []wire.Family{wire.IPv4Unicast}
	}
	for _, f := range fams {
		g.Families = append(g.Families, wire.GracefulRestartFamily{Family: f, ForwardingPreserved: fwd})
	}
}
