package bgp

import (
	"encoding/binary"
	"net/netip"

	"github.com/routerd/routerd/internal/bgp/wire"
)

// Reason says which step of the decision process set the best path apart
// from the next candidate still in the running (for show bgp routes).
type Reason uint8

// Decision steps, in the order RFC 4271 §9.1.2.2 (and common practice)
// applies them.
const (
	ReasonOnly Reason = iota
	ReasonLocalPref
	ReasonLocal
	ReasonASPath
	ReasonOrigin
	ReasonMED
	ReasonEBGP
	ReasonIGPCost
	ReasonRouterID
	ReasonClusterList
	ReasonPeerAddress
)

var reasonNames = [...]string{"only path", "local-pref", "locally originated", "as-path length", "origin",
	"med", "ebgp over ibgp", "igp cost", "router id", "cluster list length", "peer address"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// candInfo is what the decision process needs of one usable path.
type candInfo struct {
	i        int // index of the path in its dest
	a        *wire.Attrs
	local    bool
	ebgp     bool
	igp      uint32
	routerID uint32
	peer     netip.Addr
	neighAS  uint32
}

func localPref(a *wire.Attrs) uint32 {
	if a.Present.Has(wire.AttrLocalPref) {
		return a.LocalPref
	}
	return 100
}

func med(a *wire.Attrs) uint32 {
	if a.Present.Has(wire.AttrMED) {
		return a.MED
	}
	return 0
}

func addr4(a netip.Addr) uint32 {
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// keepMin keeps the candidates with the smallest key.
func keepMin(cs []candInfo, key func(*candInfo) uint64) []candInfo {
	best := ^uint64(0)
	for i := range cs {
		best = min(best, key(&cs[i]))
	}
	out := cs[:0]
	for _, c := range cs {
		if key(&c) == best {
			out = append(out, c)
		}
	}
	return out
}

// decide eliminates candidates step by step as RFC 4271 §9.1.2.2 does,
// working on the whole set at each step (MED compared only within a
// neighbouring AS, unless alwaysMED), so that the result does not depend
// on the order paths arrived in. It returns the index of the best path and
// the step that decided, or -1.
func decide(cs []candInfo, alwaysMED bool) (int, Reason) {
	if len(cs) == 0 {
		return -1, ReasonOnly
	}
	if len(cs) == 1 {
		return cs[0].i, ReasonOnly
	}
	cs, r := eliminate(cs, alwaysMED, ReasonPeerAddress)
	return cs[0].i, r
}

// eliminate applies the decision steps up to and including last (or until
// one candidate is left) to cs, in place, and returns the candidates left
// and the last step applied.
func eliminate(cs []candInfo, alwaysMED bool, last Reason) ([]candInfo, Reason) {
	steps := []struct {
		r Reason
		f func([]candInfo) []candInfo
	}{
		{ReasonLocalPref, func(c []candInfo) []candInfo {
			return keepMin(c, func(x *candInfo) uint64 { return uint64(^localPref(x.a)) })
		}},
		{ReasonLocal, func(c []candInfo) []candInfo {
			return keepMin(c, func(x *candInfo) uint64 { return b2u(!x.local) })
		}},
		{ReasonASPath, func(c []candInfo) []candInfo {
			return keepMin(c, func(x *candInfo) uint64 { return uint64(x.a.ASPath.Length()) })
		}},
		{ReasonOrigin, func(c []candInfo) []candInfo {
			return keepMin(c, func(x *candInfo) uint64 { return uint64(x.a.Origin) })
		}},
		{ReasonMED, func(c []candInfo) []candInfo {
			if alwaysMED {
				return keepMin(c, func(x *candInfo) uint64 { return uint64(med(x.a)) })
			}
			// Per neighbouring AS, drop those above the group's lowest MED.
			lowest := map[uint32]uint32{}
			for _, x := range c {
				m := med(x.a)
				if l, ok := lowest[x.neighAS]; !ok || m < l {
					lowest[x.neighAS] = m
				}
			}
			out := c[:0]
			for _, x := range c {
				if med(x.a) == lowest[x.neighAS] {
					out = append(out, x)
				}
			}
			return out
		}},
		{ReasonEBGP, func(c []candInfo) []candInfo {
			return keepMin(c, func(x *candInfo) uint64 { return b2u(!x.ebgp) })
		}},
		{ReasonIGPCost, func(c []candInfo) []candInfo {
			return keepMin(c, func(x *candInfo) uint64 { return uint64(x.igp) })
		}},
		{ReasonRouterID, func(c []candInfo) []candInfo {
			return keepMin(c, func(x *candInfo) uint64 {
				if x.a.Present.Has(wire.AttrOriginatorID) {
					return uint64(addr4(x.a.OriginatorID))
				}
				return uint64(x.routerID)
			})
		}},
		{ReasonClusterList, func(c []candInfo) []candInfo {
			return keepMin(c, func(x *candInfo) uint64 { return uint64(x.a.ClusterList.Len()) })
		}},
		{ReasonPeerAddress, func(c []candInfo) []candInfo {
			// The lowest address; IPv4 before IPv6.
			best := c[0]
			for _, x := range c[1:] {
				if x.peer.Compare(best.peer) < 0 || (x.peer == best.peer && x.i < best.i) {
					best = x
				}
			}
			return append(c[:0], best)
		}},
	}
	for _, s := range steps {
		if s.r > last {
			return cs, last
		}
		cs = s.f(cs)
		if len(cs) == 1 {
			return cs, s.r
		}
	}
	return cs, last
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
