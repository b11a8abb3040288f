package bgp

import (
	"cmp"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/config"
)

// NeighborStatus is a neighbour as operators see it (show bgp summary,
// show bgp neighbor).
type NeighborStatus struct {
	Address     netip.Addr
	AS          uint32
	Description string
	Enabled     bool
	// Type is ebgp, ibgp or confed-ebgp (another member AS of our
	// confederation).
	Type  config.SessionType
	State State
	// Set while established.
	RemoteID    netip.Addr
	LocalAddr   netip.Addr
	HoldTime    time.Duration
	Families    []wire.Family
	AS4         bool
	UpSince     time.Time
	PrefixesIn  int64 // paths accepted from the neighbour now in the Loc-RIB
	UpdatesIn   uint64
	UpdatesOut  uint64
	Flaps       int
	LastError   string
	LastDown    time.Time
	LastNotifIn string
	Import      string
	Export      string
	MaxPrefixes config.MaxPrefixes // as configured
	// Capabilities describes what the neighbour advertised in its OPEN,
	// one capability per element, as operators read it ("graceful
	// restart: restart time 120 s, ipv4-unicast (forwarding preserved),
	// N bit"). Set while established.
	Capabilities []string
	// Stale lists the families whose paths from the neighbour are kept
	// as stale now (graceful restart, enhanced route refresh).
	Stale []wire.Family
}

// ErrNoNeighbor is returned for an address that is not a configured
// neighbour.
var ErrNoNeighbor = errors.New("no such BGP neighbor")

// Neighbors returns every neighbour's status, ordered by address.
func (s *Speaker) Neighbors() []NeighborStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]NeighborStatus, 0, len(s.peers))
	for _, p := range s.peers {
		out = append(out, s.status(p))
	}
	slices.SortFunc(out, func(a, b NeighborStatus) int { return a.Address.Compare(b.Address) })
	return out
}

// Neighbor returns one neighbour's status.
func (s *Speaker) Neighbor(addr netip.Addr) (NeighborStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[addr.Unmap()]
	if p == nil {
		return NeighborStatus{}, false
	}
	return s.status(p), true
}

func (s *Speaker) status(p *Peer) NeighborStatus {
	st := NeighborStatus{
		Address: p.cfg.Address, AS: p.cfg.AS, Description: p.cfg.Description, Enabled: p.enabled, Type: p.kind(),
		State: p.State(), Flaps: p.stats.flaps, LastError: p.stats.lastError, LastDown: p.stats.lastDown,
		LastNotifIn: p.stats.lastNotifIn, Import: p.cfg.Import, Export: p.cfg.Export, MaxPrefixes: p.cfg.MaxPrefixes,
	}
	if ss := p.sess; ss != nil && ss.established {
		st.RemoteID, st.LocalAddr, st.HoldTime, st.AS4 = ss.remoteID, ss.local, ss.hold, ss.opts.AS4
		st.UpSince = p.stats.upSince
		st.Families = familyList(ss.opts.Families)
		st.UpdatesIn, st.UpdatesOut = ss.updatesIn.Load(), ss.updatesOut.Load()
		st.Capabilities = describeCaps(&ss.caps)
	}
	st.Stale = familyList(p.stale)
	st.PrefixesIn = int64(p.received())
	return st
}

// Identity returns the speaker's AS number and BGP identifier.
func (s *Speaker) Identity() (as uint32, routerID netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.AS, s.id
}

// PrefixCounts is how many of a neighbour's paths the Loc-RIB holds and to
// how many prefixes it is advertised.
type PrefixCounts struct {
	Accepted     int
	AcceptedIPv6 int // of Accepted
	Advertised   int
}

// PrefixCounts returns every neighbour's counts, kept exact as routes
// change (no walk of the Loc-RIB). Advertised counts are kept for the
// first 62 neighbours' slots only (the advertised bits), 0 beyond.
func (s *Speaker) PrefixCounts() map[netip.Addr]PrefixCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[netip.Addr]PrefixCounts, len(s.peers))
	for a, p := range s.peers {
		si := &s.slots[p.slot]
		out[a] = PrefixCounts{Accepted: si.accepted, AcceptedIPv6: si.accepted6, Advertised: si.advertised}
	}
	return out
}

// countPrefixes counts every slot's paths and advertised prefixes in one
// walk of the Loc-RIB, as the kept counters should have them; for tests.
func (s *Speaker) countPrefixes() (acc, adv []int) {
	acc = make([]int, len(s.slots))
	adv = make([]int, len(s.slots))
	for _, d := range s.all() {
		for _, pt := range d.paths(&s.more) {
			acc[pt.slot]++
		}
		for m := d.advertised(); m != 0; m &= m - 1 {
			if i := bits.TrailingZeros64(m); i < len(adv) {
				adv[i]++
			}
		}
	}
	return acc, adv
}

// PathView is one path of a Loc-RIB entry.
type PathView struct {
	From   netip.Addr // neighbour; invalid for the speaker's own routes
	Local  string     // "network" or "redistributed" for own routes
	Attrs  wire.Attrs
	Usable bool // its next hop resolves
	Best   bool
}

// RouteView is one Loc-RIB entry: its paths, best first, and the decision
// step that made the best one win.
type RouteView struct {
	Prefix     netip.Prefix
	Paths      []PathView
	Reason     Reason
	Advertised []netip.Addr // neighbours it is advertised to
}

// LocRIB calls fn with each Loc-RIB entry (within filter when it is
// valid: that prefix and more specific ones), in prefix order, until fn
// returns false. It holds the speaker's lock while collecting, not while
// calling fn.
func (s *Speaker) LocRIB(filter netip.Prefix, fn func(RouteView) bool) {
	s.mu.Lock()
	var keys []wire.Prefix
	for p, d := range s.all() {
		if d.empty() {
			continue
		}
		np := p.Netip()
		if filter.IsValid() && !(filter.Addr().Is4() == np.Addr().Is4() && np.Bits() >= filter.Bits() && filter.Contains(np.Addr())) {
			continue
		}
		keys = append(keys, p)
	}
	slices.SortFunc(keys, func(a, b wire.Prefix) int {
		x, y := a.Netip(), b.Netip()
		if c := x.Addr().Compare(y.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(x.Bits(), y.Bits())
	})
	views := make([]RouteView, 0, len(keys))
	for _, p := range keys {
		d, _ := s.get(p)
		views = append(views, s.view(p, &d))
	}
	s.mu.Unlock()
	for _, v := range views {
		if !fn(v) {
			return
		}
	}
}

func (s *Speaker) view(p wire.Prefix, d *dest) RouteView {
	v := RouteView{Prefix: p.Netip()}
	for i, pt := range d.paths(&s.more) {
		pv := PathView{Attrs: *s.attrs.get(pt.attr), Usable: s.usable(&pt), Best: i == 0 && d.flags&destHasBest != 0}
		switch pt.slot {
		case slotNetworks:
			pv.Local = "network"
		case slotRedistrib:
			pv.Local = "redistributed"
		default:
			pv.From = s.slots[pt.slot].addr
		}
		v.Paths = append(v.Paths, pv)
	}
	if d.flags&destHasBest != 0 && d.multi() {
		_, v.Reason = decide(s.candidates(d), s.cfg.AlwaysCompareMED)
	}
	for i := firstPeerSlot; i < len(s.slots) && i < maxAdvertBits; i++ {
		if d.advertised()&(1<<i) != 0 && s.slots[i].used {
			v.Advertised = append(v.Advertised, s.slots[i].addr)
		}
	}
	return v
}

// AdjIn returns the routes received from a neighbour: before import
// policy with soft-reconfiguration inbound (Best marks those accepted),
// else the routes accepted, after import policy.
func (s *Speaker) AdjIn(addr netip.Addr) ([]RouteView, error) {
	return s.adj(addr, true)
}

// AdjOut returns the routes advertised to a neighbour, with the
// attributes as sent.
func (s *Speaker) AdjOut(addr netip.Addr) ([]RouteView, error) {
	return s.adj(addr, false)
}

func (s *Speaker) adj(addr netip.Addr, in bool) ([]RouteView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[addr.Unmap()]
	if p == nil {
		return nil, ErrNoNeighbor
	}
	var out []RouteView
	if in && p.adjIn != nil {
		for k, e := range p.adjIn {
			d, _ := s.get(k)
			out = append(out, RouteView{Prefix: k.Netip(), Paths: []PathView{{From: addr, Attrs: e.attrs.Value(),
				Usable: s.nexthopUsable(p.slot, e.attrs.Value().NextHop), Best: d.find(&s.more, p.slot) >= 0}}})
		}
		sortViews(out)
		return out, nil
	}
	bit := slotBit(p.slot)
	for k, d := range s.all() {
		if in {
			for _, pt := range d.paths(&s.more) {
				if pt.slot == p.slot {
					out = append(out, RouteView{Prefix: k.Netip(), Paths: []PathView{{From: addr, Attrs: *s.attrs.get(pt.attr), Usable: s.usable(&pt)}}})
				}
			}
			continue
		}
		ss := p.sess
		if ss == nil || !ss.established || d.advertised()&bit == 0 {
			continue
		}
		if h, ok := ss.exportRoute(k, d); ok {
			out = append(out, RouteView{Prefix: k.Netip(), Paths: []PathView{{Attrs: h.Value(), Usable: true, Best: true}}})
		}
	}
	sortViews(out)
	return out, nil
}

func sortViews(out []RouteView) {
	slices.SortFunc(out, func(a, b RouteView) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits())
	})
}

// Soft selects a soft reset's direction; SoftNone is a hard reset.
type Soft uint8

// Reset kinds.
const (
	SoftNone Soft = iota
	SoftIn        // ask the neighbour to send its routes again (ROUTE-REFRESH)
	SoftOut       // send every route to the neighbour again
	SoftBoth
)

// Reset resets a neighbour's session: a hard reset closes it with an
// Administrative Reset Cease; a soft one keeps it and refreshes routes.
func (s *Speaker) Reset(addr netip.Addr, soft Soft) error {
	s.mu.Lock()
	p := s.peers[addr.Unmap()]
	if p == nil {
		s.mu.Unlock()
		return ErrNoNeighbor
	}
	if soft != SoftNone {
		defer s.mu.Unlock()
		ss := p.sess
		if ss == nil || !ss.established {
			return errors.New("session is not established")
		}
		if soft == SoftOut || soft == SoftBoth {
			ss.resync()
		}
		if soft == SoftIn || soft == SoftBoth {
			p.softIn()
		}
		return nil
	}
	s.mu.Unlock()
	p.post(evReset{hard: true})
	return nil
}

// SetEnabled enables or disables (Administrative Shutdown) a neighbour
// until the next configuration reload that changes it.
func (s *Speaker) SetEnabled(addr netip.Addr, on bool) error {
	s.mu.Lock()
	p := s.peers[addr.Unmap()]
	s.mu.Unlock()
	if p == nil {
		return ErrNoNeighbor
	}
	p.post(evEnable{on: on})
	return nil
}

// describeCaps lists the capabilities of an OPEN as operators read them.
func describeCaps(c *wire.Capabilities) []string {
	var out []string
	if len(c.Multiprotocol) > 0 {
		fs := make([]string, len(c.Multiprotocol))
		for i, f := range c.Multiprotocol {
			fs[i] = f.String()
		}
		out = append(out, "multiprotocol: "+strings.Join(fs, ", "))
	}
	if c.HasAS4 {
		out = append(out, fmt.Sprintf("4-octet AS: %d", c.AS4))
	}
	if c.RouteRefresh {
		out = append(out, "route refresh")
	}
	if c.EnhancedRouteRefresh {
		out = append(out, "enhanced route refresh")
	}
	if c.ExtendedMessage {
		out = append(out, "extended messages")
	}
	for _, e := range c.ExtendedNextHop {
		nh := fmt.Sprintf("afi %d", e.NextHopAFI)
		switch e.NextHopAFI {
		case 1:
			nh = "ipv4"
		case 2:
			nh = "ipv6"
		}
		out = append(out, fmt.Sprintf("extended next hop: %s with %s next hops", e.NLRI, nh))
	}
	if g := c.GracefulRestart; g != nil {
		s := fmt.Sprintf("graceful restart: restart time %d s", g.RestartTime)
		for _, f := range g.Families {
			s += ", " + f.Family.String()
			if f.ForwardingPreserved {
				s += " (forwarding preserved)"
			}
		}
		if len(g.Families) == 0 {
			s += ", no families (receiving speaker only)"
		}
		if g.Restarting {
			s += ", restarting (R bit)"
		}
		if g.Notification {
			s += ", N bit"
		}
		out = append(out, s)
	}
	for _, u := range c.Unknown {
		out = append(out, fmt.Sprintf("unknown capability %d (%d bytes)", u.Code, len(u.Value)))
	}
	return out
}
