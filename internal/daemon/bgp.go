package daemon

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/routerd/routerd/internal/api"
	"github.com/routerd/routerd/internal/bgp"
	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/config"
)

// bgpSpeaker is the daemon's handle on the BGP speaker; it holds nil when
// the configuration has no bgp section. Start, reload and shutdown replace
// it while API calls and metric scrapes read it, hence the atomic pointer.
type bgpSpeaker struct{ p atomic.Pointer[bgp.Speaker] }

func (h *bgpSpeaker) get() *bgp.Speaker  { return h.p.Load() }
func (h *bgpSpeaker) set(s *bgp.Speaker) { h.p.Store(s) }

// startBGP starts the BGP speaker when the configuration has a bgp section.
func (d *Daemon) startBGP(ctx context.Context) error {
	if d.cfg.BGP == nil {
		return nil
	}
	return d.runSpeaker(ctx, d.cfg)
}

// runSpeaker starts a speaker for cfg and, once it runs, makes it the
// daemon's.
func (d *Daemon) runSpeaker(ctx context.Context, cfg *config.Config) error {
	s := d.newSpeaker(cfg)
	if err := s.Start(ctx); err != nil {
		return err
	}
	d.bgp.set(s)
	return nil
}

// newSpeaker builds a speaker for cfg; only the first one after a start
// that found routerd's routes in the kernel starts restarting.
func (d *Daemon) newSpeaker(cfg *config.Config) *bgp.Speaker {
	restarting := d.restarting
	d.restarting = false
	if !restarting {
		d.releaseGate()
	}
	return bgp.New(cfg.BGP, &cfg.Policy, bgp.Options{
		RIB:         d.rib,
		Logger:      d.log.With("component", "bgp"),
		Distances:   cfg.Distances,
		Restarting:  restarting,
		OnConverged: d.releaseGate,
	})
}

// releaseGate lets the kernel programmer delete the own routes the RIB
// does not claim (restart.go).
func (d *Daemon) releaseGate() {
	if d.gate != nil {
		d.gate.release()
	}
}

// stopBGP sends Cease to every neighbour and stops the speaker; it runs
// after API writes stop and before the kernel routes are kept or flushed.
// For a graceful restart (the kernel programmer stopped already) the
// sessions close without a NOTIFICATION.
func (d *Daemon) stopBGP(restart bool) {
	s := d.bgp.get()
	if s == nil {
		return
	}
	d.bgp.set(nil)
	if restart {
		s.StopForRestart(2 * time.Second)
	} else {
		s.Stop("routerd shutting down", 2*time.Second)
	}
	d.releaseGate()
}

// reloadBGP applies the difference between two validated configurations
// to the speaker: neighbours added, changed or removed, the others untouched.
func (d *Daemon) reloadBGP(old, next *config.Config) error {
	s := d.bgp.get()
	switch {
	case next.BGP == nil && s == nil:
		return nil
	case next.BGP == nil:
		d.stopBGP(false)
		return nil
	case s == nil:
		return d.runSpeaker(context.Background(), next)
	}
	if next.BGP.Equal(old.BGP) && next.Policy.Equal(&old.Policy) {
		return nil
	}
	if err := s.Reconfigure(next.BGP, &next.Policy); err != nil {
		// AS, router ID or listeners changed: every session restarts.
		d.log.Info("bgp: restarting the speaker", "reason", err)
		d.stopBGP(false)
		return d.runSpeaker(context.Background(), next)
	}
	return nil
}

// bgpBackend answers the API's BGP calls from the speaker.
type bgpBackend struct{ s *bgp.Speaker }

func (b bgpBackend) Summary() api.BGPSummary {
	as, id := b.s.Identity()
	counts := b.s.PrefixCounts()
	ns := b.s.Neighbors()
	out := api.BGPSummary{LocalAS: as, RouterID: id, Neighbors: make([]api.BGPNeighbor, len(ns))}
	if d := b.s.Deferral(); d.Deferring {
		out.Deferral = &api.BGPDeferral{Since: d.Since, Until: d.Limit, WaitingFor: d.Waiting}
	}
	for i := range ns {
		out.Neighbors[i] = neighborToAPI(&ns[i], counts[ns[i].Address])
	}
	return out
}

func (b bgpBackend) Neighbor(a netip.Addr) (api.BGPNeighbor, error) {
	n, ok := b.s.Neighbor(a)
	if !ok {
		return api.BGPNeighbor{}, api.ErrNoBGPNeighbor
	}
	return neighborToAPI(&n, b.s.PrefixCounts()[n.Address]), nil
}

func (b bgpBackend) Routes(filter netip.Prefix, fn func(*api.BGPRoute) bool) {
	b.s.LocRIB(filter, func(v bgp.RouteView) bool {
		r := routeToAPI(&v, true)
		return fn(&r)
	})
}

func (b bgpBackend) AdjRoutes(a netip.Addr, advertised bool) ([]api.BGPRoute, error) {
	var vs []bgp.RouteView
	var err error
	if advertised {
		vs, err = b.s.AdjOut(a)
	} else {
		vs, err = b.s.AdjIn(a)
	}
	if err != nil {
		return nil, apiErr(err)
	}
	out := make([]api.BGPRoute, len(vs))
	for i := range vs {
		out[i] = routeToAPI(&vs[i], false)
	}
	return out, nil
}

var resetKinds = [...]bgp.Soft{
	api.BGPResetHard:     bgp.SoftNone,
	api.BGPResetSoftIn:   bgp.SoftIn,
	api.BGPResetSoftOut:  bgp.SoftOut,
	api.BGPResetSoftBoth: bgp.SoftBoth,
}

func (b bgpBackend) Reset(a netip.Addr, kind api.BGPReset) error {
	if int(kind) >= len(resetKinds) {
		return errors.New("unknown reset kind")
	}
	return apiErr(b.s.Reset(a, resetKinds[kind]))
}

func (b bgpBackend) SetEnabled(a netip.Addr, on bool) error {
	return apiErr(b.s.SetEnabled(a, on))
}

// apiErr maps the speaker's unknown-neighbour error to the API's.
func apiErr(err error) error {
	if errors.Is(err, bgp.ErrNoNeighbor) {
		return api.ErrNoBGPNeighbor
	}
	return err
}

func neighborToAPI(n *bgp.NeighborStatus, c bgp.PrefixCounts) api.BGPNeighbor {
	out := api.BGPNeighbor{
		Address: n.Address, AS: n.AS, Description: n.Description, Enabled: n.Enabled, State: n.State.String(),
		RemoteID: n.RemoteID, LocalAddr: n.LocalAddr, HoldTime: n.HoldTime, AS4: n.AS4, UpSince: n.UpSince,
		PrefixesReceived: uint64(max(n.PrefixesIn, 0)), PrefixesAccepted: uint64(c.Accepted), PrefixesAdvertised: uint64(c.Advertised),
		UpdatesIn: n.UpdatesIn, UpdatesOut: n.UpdatesOut, Flaps: n.Flaps,
		LastError: n.LastError, LastDown: n.LastDown, LastNotification: n.LastNotifIn,
		Import: n.Import, Export: n.Export, SessionType: n.Type.String(),
		PrefixesAcceptedIPv6: uint64(c.AcceptedIPv6), MaxPrefixesIPv4: n.MaxPrefixes.IPv4, MaxPrefixesIPv6: n.MaxPrefixes.IPv6,
	}
	for _, f := range n.Families {
		out.Families = append(out.Families, f.String())
	}
	out.Capabilities = n.Capabilities
	for _, f := range n.Stale {
		out.StaleFamilies = append(out.StaleFamilies, f.String())
	}
	return out
}

// routeToAPI converts a speaker's route view; Loc-RIB views carry the
// decision's reason and the neighbours the route is advertised to.
func routeToAPI(v *bgp.RouteView, locRIB bool) api.BGPRoute {
	r := api.BGPRoute{Prefix: v.Prefix, Paths: make([]api.BGPPath, len(v.Paths))}
	best := false
	for i := range v.Paths {
		r.Paths[i] = pathToAPI(&v.Paths[i])
		best = best || v.Paths[i].Best
	}
	if locRIB {
		if best {
			r.Reason = v.Reason.String()
		}
		r.AdvertisedTo = v.Advertised
	}
	return r
}

func pathToAPI(p *bgp.PathView) api.BGPPath {
	a := &p.Attrs
	out := api.BGPPath{
		Neighbor: p.From, Local: p.Local, Best: p.Best, Usable: p.Usable,
		NextHop: a.NextHop, LinkLocal: a.LinkLocal, OriginatorID: a.OriginatorID,
		AtomicAggregate: a.Present.Has(wire.AttrAtomicAggregate),
	}
	if a.Present.Has(wire.AttrOrigin) {
		out.Origin = a.Origin.String()
	}
	if a.Present.Has(wire.AttrASPath) {
		out.ASPath = a.ASPath.String()
	}
	if a.Present.Has(wire.AttrMED) {
		out.MED = &a.MED
	}
	if a.Present.Has(wire.AttrLocalPref) {
		out.LocalPref = &a.LocalPref
	}
	if a.Present.Has(wire.AttrAggregator) {
		out.Aggregator = strconv.FormatUint(uint64(a.Aggregator.AS), 10) + " " + a.Aggregator.Addr.String()
	}
	for i := range a.Communities.Len() {
		out.Communities = append(out.Communities, a.Communities.At(i).String())
	}
	for i := range a.LargeCommunities.Len() {
		out.LargeCommunities = append(out.LargeCommunities, a.LargeCommunities.At(i).String())
	}
	for i := range a.ExtCommunities.Len() {
		out.ExtCommunities = append(out.ExtCommunities, a.ExtCommunities.At(i).String())
	}
	for i := range a.ClusterList.Len() {
		out.ClusterList = append(out.ClusterList, netip.AddrFrom4(u32be(a.ClusterList.At(i))).String())
	}
	return out
}

func u32be(x uint32) [4]byte { return [4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)} }
