package bgp

import (
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
}
