package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
	"unique"

	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/config"
	"github.com/routerd/routerd/internal/rib"
)

// Speaker is routerd's BGP speaker: its neighbours' sessions, the Loc-RIB
// with every neighbour's routes and the decision among them, and export.
// It is a source of the RIB (best routes, as eBGP or iBGP candidates) and a
// consumer of it (next-hop tracking and redistribution).
type Speaker struct {
	log      *slog.Logger
	rib      *rib.RIB
	ebgpSrc  *rib.Source
	ibgpSrc  *rib.Source
	distEBGP uint8
	distIBGP uint8
	inNS     func(func() error) error

	// mu guards everything below: configuration, neighbours, the Loc-RIB,
	// next hops and the change log. Work under it is bounded per route.
	mu sync.Mutex
	// ribMu orders the batches going to the RIB; it is taken with mu held
	// (never the other way round) and may outlive it (flushUnlock), or by
	// the RIB queue's applier without mu (rq).
	ribMu   sync.Mutex
	rq      ribQueue
	cfg     *config.BGP
	pol     *config.Policy
	id      netip.Addr
	peers   map[netip.Addr]*Peer
	slots   []slotInfo
	loc     locTable
	more    pathLists // the Loc-RIB's paths beyond each prefix's first
	attrs   attrTable // the Loc-RIB paths' attributes
	nhs     map[netip.Addr]*nexthop
	cands   []candInfo
	evBatch batch
	// groups are the update groups of the established sessions (group.go).
	groups []*updGroup
	// bestChanges counts best path changes (tests).
	bestChanges uint64
	redist      map[rib.Origin]bool
	// redistributed holds the prefixes offered from the RIB (static,
	// connected) with their origin.
	redistributed map[netip.Prefix]rib.Origin

	// restart is the speaker's own graceful restart (restart.go).
	restart restartState

	listeners []net.Listener
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	sub       *rib.Subscription
}

// Options are what the speaker needs from the daemon besides its section.
type Options struct {
	RIB       *rib.RIB
	Logger    *slog.Logger
	Distances config.Distances
	// InNS, when set, runs socket and interface operations (listen, dial,
	// interface lookups) inside another network namespace; tests use it.
	InNS func(func() error) error
	// Restarting says that routerd restarted with its forwarding state
	// preserved (its routes were found in the kernel) and
	// graceful-restart-preserve is set: the speaker advertises the R and F
	// bits and defers its tables and End-of-RIB to the neighbours until
	// every neighbour's End-of-RIB or the graceful restart time (RFC 4724
	// §4.1).
	Restarting bool
	// OnConverged, when set, is called once (in a goroutine of its own)
	// when that deferral ends, after the routes learned meanwhile reached
	// the RIB; not at all when the speaker is not restarting.
	OnConverged func()
}

// New builds a speaker for the bgp and policy sections; Start runs it.
func New(cfg *config.BGP, pol *config.Policy, o Options) *Speaker {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Speaker{
		log:           o.Logger,
		rib:           o.RIB,
		ebgpSrc:       o.RIB.NewSource(rib.OriginEBGP, "bgp"),
		ibgpSrc:       o.RIB.NewSource(rib.OriginIBGP, "bgp"),
		distEBGP:      o.Distances.EBGP,
		distIBGP:      o.Distances.IBGP,
		inNS:          o.InNS,
		cfg:           cfg,
		pol:           pol,
		id:            cfg.RouterID,
		peers:         map[netip.Addr]*Peer{},
		slots:         []slotInfo{{used: true, local: true}, {used: true, local: true}},
		nhs:           map[netip.Addr]*nexthop{},
		redist:        map[rib.Origin]bool{},
		redistributed: map[netip.Prefix]rib.Origin{},
		loc:           newLocTable(o.RIB.Index(), rib.Table(cfg.Table)),
	}
	s.rq.cond.L = &s.rq.mu
	s.restart.restarting = o.Restarting
	s.restart.onConverged = o.OnConverged
	if s.inNS == nil {
		s.inNS = func(f func() error) error { return f() }
	}
	for _, r := range cfg.Redistribute {
		if o, ok := rib.ParseOrigin(r); ok {
			s.redist[o] = true
		}
	}
	return s
}

// Start opens the listeners, subscribes to the RIB, originates the
// configured networks and starts every neighbour.
func (s *Speaker) Start(ctx context.Context) error {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.cfg.Listen {
		addrs := s.cfg.ListenAddresses
		if len(addrs) == 0 {
			addrs = []netip.Addr{netip.IPv6Unspecified()}
		}
		for _, a := range addrs {
			var l net.Listener
			err := s.inNS(func() (err error) {
				l, err = listen(a, s.cfg.ListenPort)
				return err
			})
			if err != nil {
				s.closeListeners()
				return fmt.Errorf("listen on %s: %w", net.JoinHostPort(a.String(), strconv.Itoa(int(s.cfg.ListenPort))), err)
			}
			s.listeners = append(s.listeners, l)
		}
	}
	// BGP's own routes need not come back: next hops never resolve through
	// them, and redistribution takes only other origins.
	sub, err := s.rib.Subscribe("bgp", rib.OriginEBGP, rib.OriginIBGP)
	if err != nil {
		s.closeListeners()
		return err
	}
	s.sub = sub
	s.mu.Lock()
	s.originateNetworks(nil)
	s.beginDeferral()
	for _, n := range s.cfg.Neighbors {
		s.addPeer(n)
	}
	s.checkDeferral()
	s.mu.Unlock()
	for _, l := range s.listeners {
		s.wg.Add(1)
		go s.accept(l)
	}
	s.startRIBQueue()
	s.wg.Add(1)
	go s.followRIB()
	s.log.Info("bgp: speaker started", "as", s.cfg.AS, "router_id", s.id, "neighbors", len(s.cfg.Neighbors))
	return nil
}

func (s *Speaker) closeListeners() {
	for _, l := range s.listeners {
		l.Close()
	}
}

// Stop sends Cease with the shutdown communication msg to every
// established neighbour, closes every session and waits up to wait for
// them; the RIB keeps no BGP route afterwards.
func (s *Speaker) Stop(msg string, wait time.Duration) {
	n := wire.NewShutdown(wire.SubAdminShutdown, msg)
	s.stop(&n, wait)
}

// StopForRestart is Stop for a graceful restart of routerd (RFC 4724):
// the sessions are closed without a NOTIFICATION, so that neighbours
// able to restart gracefully keep routerd's routes as stale until it is
// back. The RIB keeps no BGP route afterwards either: the caller stops
// what programs the kernel first.
func (s *Speaker) StopForRestart(wait time.Duration) {
	s.log.Info("bgp: closing the sessions without NOTIFICATION for a graceful restart")
	s.stop(nil, wait)
}

// stop closes every session, sending n to established ones when not nil.
func (s *Speaker) stop(n *wire.Notification, wait time.Duration) {
	s.mu.Lock()
	s.stopDeferral()
	peers := make([]*Peer, 0, len(s.peers))
	for _, p := range s.peers {
		peers = append(peers, p)
	}
	s.mu.Unlock()
	s.closeListeners()
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop(n)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		s.log.Warn("bgp: some sessions did not close in time")
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.stopRIBQueue()
	if s.sub != nil {
		s.sub.Close()
	}
	s.wg.Wait()
	_ = s.ebgpSrc.Replace(nil)
	_ = s.ibgpSrc.Replace(nil)
	// The RIB has applied everything: the Loc-RIB's index references go.
	s.mu.Lock()
	s.loc.releaseAll()
	s.mu.Unlock()
}

// Reconfigure applies a new bgp and policy section: neighbours added,
// changed (restarted) or removed, networks and redistribution updated;
// unchanged neighbours keep their sessions (their policies are applied to
// new routes; a soft reset re-applies them to old ones). A change of AS,
// router ID or listening sockets needs a restart of the speaker and is
// refused.
func (s *Speaker) Reconfigure(cfg *config.BGP, pol *config.Policy) error {
	s.mu.Lock()
	old := s.cfg
	if cfg.AS != old.AS || cfg.RouterID != old.RouterID || cfg.Listen != old.Listen || cfg.ListenPort != old.ListenPort ||
		!slices.Equal(cfg.ListenAddresses, old.ListenAddresses) || cfg.Table != old.Table {
		s.mu.Unlock()
		return errors.New("bgp as, router-id, listen settings or table changed: restart the speaker")
	}
	polChanged := !pol.Equal(s.pol)
	s.cfg = cfg
	if polChanged {
		// Kept otherwise: update groups key on it.
		s.pol = pol
	}
	if cfg.Multipath != old.Multipath {
		s.redecideAll()
	}
	s.originateNetworks(old.Networks)
	s.redist = map[rib.Origin]bool{}
	for _, r := range cfg.Redistribute {
		if o, ok := rib.ParseOrigin(r); ok {
			s.redist[o] = true
		}
	}
	s.applyRedistribution()
	want := map[netip.Addr]config.Neighbor{}
	for _, n := range cfg.Neighbors {
		want[n.Address] = n
	}
	var stop []*Peer
	for a, p := range s.peers {
		n, ok := want[a]
		switch {
		case !ok:
			stop = append(stop, p)
			delete(s.peers, a)
			s.log.Info("bgp: neighbor removed", "neighbor", a)
		case !n.Equal(p.cfg) || polChanged && (n.Import != "" || n.Export != "") || confedChanged(old, cfg, n):
			if sessionChanged(p.cfg, n) || confedChanged(old, cfg, n) {
				stop = append(stop, p)
				delete(s.peers, a)
				s.log.Info("bgp: neighbor changed; restarting its session", "neighbor", a)
			} else {
				policies := p.cfg.Import != n.Import || p.cfg.Export != n.Export || polChanged && (n.Import != "" || n.Export != "")
				p.cfg = n
				delete(want, a)
				if policies {
					p.setPolicies(s)
					p.requestSoftReset(s)
					s.log.Info("bgp: neighbor policies changed; soft reset", "neighbor", a)
				} else {
					s.log.Info("bgp: neighbor settings changed", "neighbor", a)
				}
			}
		default:
			delete(want, a)
		}
	}
	s.mu.Unlock()
	for _, p := range stop {
		n := wire.NewShutdown(wire.SubPeerDeconfigured, "routerd configuration changed")
		p.stop(&n)
	}
	s.mu.Lock()
	for _, n := range cfg.Neighbors {
		if _, ok := want[n.Address]; ok {
			s.addPeer(n)
		}
	}
	s.checkDeferral()
	s.mu.Unlock()
	return nil
}

// sessionChanged reports whether a neighbour change needs a new session
// (anything but its policies, description and prefix limits).
func sessionChanged(a, b config.Neighbor) bool {
	a.Import, a.Export, a.Description, a.MaxPrefixes = b.Import, b.Export, b.Description, b.MaxPrefixes
	return !a.Equal(b)
}

// allocSlot returns a free slot for a neighbour.
func (s *Speaker) allocSlot(p *Peer) uint16 {
	for i := firstPeerSlot; i < len(s.slots); i++ {
		if !s.slots[i].used {
			s.slots[i] = slotInfo{used: true, peer: p, addr: p.cfg.Address, as: p.cfg.AS}
			return uint16(i)
		}
	}
	s.slots = append(s.slots, slotInfo{used: true, peer: p, addr: p.cfg.Address, as: p.cfg.AS})
	return uint16(len(s.slots) - 1)
}

// addPeer creates and starts a neighbour. Called with s.mu held.
func (s *Speaker) addPeer(n config.Neighbor) {
	p := newPeer(s, n)
	p.slot = s.allocSlot(p)
	kind := p.kind()
	s.slots[p.slot].ebgp = kind == config.EBGP
	s.slots[p.slot].confed = kind == config.ConfedEBGP
	s.slots[p.slot].rrClient = n.RouteReflectorClient
	p.setPolicies(s)
	s.peers[n.Address] = p
	for _, l := range s.listeners {
		if n.Password != "" {
			if err := setMD5(l, n.Address, n.Password); err != nil {
				s.log.Error("bgp: cannot set the TCP-MD5 key on the listener", "neighbor", n.Address, "err", err)
			}
		}
	}
	if kind == config.EBGP && n.Import == "" {
		s.log.Warn("bgp: eBGP neighbor has no import policy: no routes will be accepted from it (RFC 8212)", "neighbor", n.Address)
	}
	if kind == config.EBGP && n.Export == "" {
		s.log.Warn("bgp: eBGP neighbor has no export policy: no routes will be announced to it (RFC 8212)", "neighbor", n.Address)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		p.run()
	}()
}

// releaseSlot frees a stopped neighbour's slot after dropping its paths.
func (s *Speaker) releaseSlot(slot uint16) {
	s.dropSlot(slot, 0)
	s.slots[slot] = slotInfo{}
}

// accept hands incoming connections to their neighbours.
func (s *Speaker) accept(l net.Listener) {
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("bgp: accept", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		ra := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
		s.mu.Lock()
		p := s.peers[ra]
		s.mu.Unlock()
		if p == nil {
			s.log.Info("bgp: connection from an unknown address refused", "remote", ra)
			c.Close()
			continue
		}
		p.incoming(c.(*net.TCPConn))
	}
}

// originateNetworks makes the configured networks the local origination
// set, withdrawing those of old that are gone. Called with s.mu held.
func (s *Speaker) originateNetworks(old []netip.Prefix) {
	b := &s.evBatch
	for _, p := range old {
		if !slices.Contains(s.cfg.Networks, p) {
			s.removePath(wire.PrefixFrom(p), slotNetworks, b)
		}
	}
	h := unique.Make(wire.Attrs{
		Present: wire.AttrMask(0).With(wire.AttrOrigin).With(wire.AttrASPath),
		Origin:  wire.OriginIGP,
	})
	for _, p := range s.cfg.Networks {
		s.setPath(wire.PrefixFrom(p), slotNetworks, h, b)
	}
	s.flush(b)
}

// followRIB reads the RIB's change feed: redistribution of static and
// connected routes, and next-hop tracking.
func (s *Speaker) followRIB() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.sub.C():
		}
		u := s.sub.Next(16384)
		recheck := len(u.Groups) > 0 || len(u.Removed) > 0
		type change struct {
			p netip.Prefix
			o rib.Origin
		}
		var redis []change
		s.mu.Lock()
		for _, rc := range u.Routes {
			o := rc.Best.Origin
			bgp := o == rib.OriginEBGP || o == rib.OriginIBGP
			if !bgp {
				recheck = true
			}
			if rc.Table != rib.Table(s.cfg.Table) {
				continue
			}
			// The speaker's own best paths come back through the feed: a
			// full table of them. Only a prefix that was redistributed
			// before has anything to undo.
			if bgp {
				if _, ok := s.redistributed[rc.Prefix]; !ok {
					continue
				}
			}
			redis = append(redis, change{rc.Prefix, o})
		}
		b := &s.evBatch
		for _, c := range redis {
			s.redistributeOne(c.p, c.o, b)
		}
		s.flush(b)
		if recheck {
			s.recheckNexthops()
		}
		s.mu.Unlock()
	}
}

var redistAttrs = unique.Make(wire.Attrs{
	Present: wire.AttrMask(0).With(wire.AttrOrigin).With(wire.AttrASPath),
	Origin:  wire.OriginIncomplete,
})

// redistributeOne records the RIB's best origin for p and originates or
// withdraws it as configured. Called with s.mu held.
func (s *Speaker) redistributeOne(p netip.Prefix, o rib.Origin, b *batch) {
	if o == rib.OriginStatic || o == rib.OriginConnected {
		if p.Addr().IsLinkLocalUnicast() || p.Addr().IsLoopback() || p.Addr().IsMulticast() {
			return
		}
		s.redistributed[p] = o
	} else {
		delete(s.redistributed, p)
	}
	if s.redist[o] {
		s.setPath(wire.PrefixFrom(p), slotRedistrib, redistAttrs, b)
	} else {
		s.removePath(wire.PrefixFrom(p), slotRedistrib, b)
	}
}

// applyRedistribution re-applies the redistribute setting to every known
// static and connected prefix. Called with s.mu held.
func (s *Speaker) applyRedistribution() {
	b := &s.evBatch
	for p, o := range s.redistributed {
		if s.redist[o] {
			s.setPath(wire.PrefixFrom(p), slotRedistrib, redistAttrs, b)
		} else {
			s.removePath(wire.PrefixFrom(p), slotRedistrib, b)
		}
	}
	s.flush(b)
}
