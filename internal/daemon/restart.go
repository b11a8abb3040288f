package daemon

import (
	"sync"

	"github.com/routerd/routerd/internal/config"
	"github.com/routerd/routerd/internal/rib"
)

// Graceful restart as the restarting speaker (bgp.graceful-restart-preserve,
// RFC 4724 §4.1), the daemon's part. At shutdown the kernel programmer and
// the FIB stop before BGP, so that BGP's routes leaving the RIB never reach
// the kernel, and BGP closes its sessions without a NOTIFICATION. At start
// the kernel programmer reports how many of routerd's own routes it found
// in the kernel; with some, routerd restarted with its forwarding state
// preserved, and BGP starts restarting (R and F bits, deferral). Until the
// deferral ends, the programmer's feed holds back the RIB's Synced: the
// programmer adopts what BGP learns again and only then deletes the own
// routes nobody claimed.

// preserving reports whether cfg asks for graceful restart preservation
// and it can work: BGP configured, routes programmed into the kernel and
// kept there at shutdown.
func preserving(cfg *config.Config) bool {
	return cfg.BGP != nil && cfg.BGP.GracefulRestartPreserve && cfg.Kernel.Enabled &&
		cfg.Kernel.OnShutdown == config.ShutdownKeep
}

// syncGate is the kernel programmer's feed while BGP may still be learning
// preserved routes again: the subscription's updates pass, but Synced
// (after which the programmer deletes every own route the RIB did not
// claim) is held back until release; the first update after it that
// leaves nothing pending carries it. Keys and GroupLoss are the
// subscription's.
type syncGate struct {
	*rib.Subscription
	c        chan struct{}
	released chan struct{}
	stop     chan struct{}
	relOnce  sync.Once
	stopOnce sync.Once
	held     bool // Synced withheld; Next's goroutine only
}

func newSyncGate(sub *rib.Subscription) *syncGate {
	g := &syncGate{Subscription: sub, c: make(chan struct{}, 1), released: make(chan struct{}), stop: make(chan struct{})}
	go g.forward()
	return g
}

// forward signals C for the subscription's signals and for the release.
func (g *syncGate) forward() {
	rel := g.released
	for {
		select {
		case <-g.Subscription.C():
		case <-rel:
			rel = nil
		case <-g.stop:
			return
		}
		select {
		case g.c <- struct{}{}:
		default:
		}
	}
}

// C is signalled when Next has something to return.
func (g *syncGate) C() <-chan struct{} { return g.c }

// Next is the subscription's Next with Synced held back until release.
func (g *syncGate) Next(max int) rib.Update {
	// As the subscription does: a signal raised before this call is
	// answered by it.
	select {
	case <-g.c:
	default:
	}
	u := g.Subscription.Next(max)
	if u.Synced {
		u.Synced, g.held = false, true
	}
	if g.held && g.isReleased() && len(u.Routes) < max {
		u.Synced, g.held = true, false
	}
	return u
}

func (g *syncGate) isReleased() bool {
	select {
	case <-g.released:
		return true
	default:
		return false
	}
}

// release lets Synced through; it may be called more than once.
func (g *syncGate) release() { g.relOnce.Do(func() { close(g.released) }) }

// close ends the forwarding goroutine.
func (g *syncGate) close() { g.stopOnce.Do(func() { close(g.stop) }) }
