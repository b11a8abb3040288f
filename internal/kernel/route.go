package kernel

import (
	"net/netip"
	"slices"

	"github.com/routerd/routerd/internal/rib"
	"golang.org/x/sys/unix"
)

// kindType maps a route kind to the kernel's RTN_* type.
func kindType(k rib.Kind) uint8 {
	switch k {
	case rib.KindBlackhole:
		return unix.RTN_BLACKHOLE
	case rib.KindUnreachable:
		return unix.RTN_UNREACHABLE
	case rib.KindProhibit:
		return unix.RTN_PROHIBIT
	}
	return unix.RTN_UNICAST
}

// typeKind is the inverse of kindType; zero for types routerd does not model.
func typeKind(t uint8) rib.Kind {
	switch t {
	case unix.RTN_UNICAST:
		return rib.KindUnicast
	case unix.RTN_BLACKHOLE:
		return rib.KindBlackhole
	case unix.RTN_UNREACHABLE:
		return rib.KindUnreachable
	case unix.RTN_PROHIBIT:
		return rib.KindProhibit
	}
	return 0
}

func family(p netip.Prefix) uint8 {
	if p.Addr().Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// routeHeader appends an rtmsg for a route in table t.
func (m *msgBuf) routeHeader(p netip.Prefix, t rib.Table, proto, scope, typ uint8) {
	tb := uint8(t)
	if t > 255 {
		tb = unix.RT_TABLE_COMPAT
	}
	m.b = append(m.b, family(p), uint8(p.Bits()), 0, 0, tb, proto, scope, typ, 0, 0, 0, 0)
	if p.Addr().Is4() {
		a := p.Addr().As4()
		m.attr(unix.RTA_DST, a[:])
	} else {
		a := p.Addr().As16()
		m.attr(unix.RTA_DST, a[:])
	}
	if t > 255 {
		m.attrU32(unix.RTA_TABLE, uint32(t))
	}
}

// gatewayAttr appends a gateway: RTA_GATEWAY in the route's own family,
// RTA_VIA for an IPv6 gateway of an IPv4 route.
func (m *msgBuf) gatewayAttr(routeV4 bool, gw netip.Addr) {
	switch {
	case !gw.IsValid():
	case gw.Is4() && routeV4:
		a := gw.As4()
		m.attr(unix.RTA_GATEWAY, a[:])
	case gw.Is6() && !routeV4:
		a := gw.As16()
		m.attr(unix.RTA_GATEWAY, a[:])
	default:
		var v []byte
		if gw.Is4() {
			a := gw.As4()
			v = append(ne.AppendUint16(nil, unix.AF_INET), a[:]...)
		} else {
			a := gw.As16()
			v = append(ne.AppendUint16(nil, unix.AF_INET6), a[:]...)
		}
		m.attr(rtaVia, v)
	}
}

// appendRoute appends an RTM_NEWROUTE (create or replace) message. nhid is
// used when non-zero; otherwise nhs are inlined (RTA_MULTIPATH for several).
func (m *msgBuf) appendRoute(seq uint32, k rib.Key, kind rib.Kind, proto uint8, prio, nhid uint32, nhs []rib.NextHop) {
	start := m.begin(unix.RTM_NEWROUTE, unix.NLM_F_REQUEST|unix.NLM_F_CREATE|unix.NLM_F_REPLACE, seq)
	scope := uint8(unix.RT_SCOPE_UNIVERSE)
	if kind == rib.KindUnicast && nhid == 0 && len(nhs) == 1 && !nhs[0].Gateway.IsValid() {
		scope = unix.RT_SCOPE_LINK
	}
	m.routeHeader(k.Prefix, k.Table, proto, scope, kindType(kind))
	m.attrU32(unix.RTA_PRIORITY, prio)
	if kind == rib.KindUnicast {
		v4 := k.Prefix.Addr().Is4()
		switch {
		case nhid != 0:
			m.attrU32(rtaNHID, nhid)
		case len(nhs) == 1:
			m.gatewayAttr(v4, nhs[0].Gateway)
			m.attrU32(unix.RTA_OIF, uint32(nhs[0].Ifindex))
		case len(nhs) > 1:
			mp := m.nestStart(unix.RTA_MULTIPATH)
			for _, nh := range nhs {
				off := len(m.b)
				w := nh.Weight
				if w == 0 {
					w = 1
				}
				m.b = ne.AppendUint16(m.b, 0) // rtnh_len, set below
				m.b = append(m.b, 0, uint8(w-1))
				m.b = ne.AppendUint32(m.b, uint32(nh.Ifindex))
				m.gatewayAttr(v4, nh.Gateway)
				ne.PutUint16(m.b[off:], uint16(len(m.b)-off))
			}
			m.nestEnd(mp)
		}
	}
	m.end(start)
}

// appendDelRoute appends an RTM_DELROUTE that matches only a route of our
// protocol and priority.
func (m *msgBuf) appendDelRoute(seq uint32, k rib.Key, proto uint8, prio uint32) {
	start := m.begin(unix.RTM_DELROUTE, unix.NLM_F_REQUEST, seq)
	m.routeHeader(k.Prefix, k.Table, proto, unix.RT_SCOPE_NOWHERE, 0)
	m.attrU32(unix.RTA_PRIORITY, prio)
	m.end(start)
}

// kroute is a route as the kernel reports it.
type kroute struct {
	Key      rib.Key
	Protocol uint8
	Type     uint8
	Priority uint32
	NHID     uint32
	NextHops []rib.NextHop // inline next hops; empty with NHID
	Dead     []rib.NextHop // inline next hops the kernel holds dead (link down)
}

func addrFrom(b []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	return a
}

func viaAddr(v []byte) netip.Addr {
	if len(v) < 2 {
		return netip.Addr{}
	}
	return addrFrom(v[2:])
}

// parseRoute decodes an RTM_NEWROUTE/RTM_DELROUTE payload. ok is false for
// families other than IPv4 and IPv6 and for malformed messages.
func parseRoute(b []byte) (r kroute, ok bool) {
	if len(b) < rtmsgLen {
		return r, false
	}
	fam, dlen := b[0], int(b[1])
	if fam != unix.AF_INET && fam != unix.AF_INET6 {
		return r, false
	}
	r.Key.Table = rib.Table(b[4])
	r.Protocol, r.Type = b[5], b[7]
	var dst netip.Addr
	var gw netip.Addr
	var oif int32
	forAttrs(b[rtmsgLen:], func(typ uint16, v []byte) {
		switch typ {
		case unix.RTA_DST:
			dst = addrFrom(v)
		case unix.RTA_TABLE:
			if len(v) == 4 {
				r.Key.Table = rib.Table(ne.Uint32(v))
			}
		case unix.RTA_PRIORITY:
			if len(v) == 4 {
				r.Priority = ne.Uint32(v)
			}
		case rtaNHID:
			if len(v) == 4 {
				r.NHID = ne.Uint32(v)
			}
		case unix.RTA_GATEWAY:
			gw = addrFrom(v)
		case rtaVia:
			gw = viaAddr(v)
		case unix.RTA_OIF:
			if len(v) == 4 {
				oif = int32(ne.Uint32(v))
			}
		case unix.RTA_MULTIPATH:
			r.NextHops, r.Dead = parseMultipath(v)
		}
	})
	if !dst.IsValid() {
		if fam == unix.AF_INET {
			dst = netip.IPv4Unspecified()
		} else {
			dst = netip.IPv6Unspecified()
		}
	}
	if dst.Is4() != (fam == unix.AF_INET) {
		return r, false // RTA_DST of the other family
	}
	p, err := dst.Prefix(dlen)
	if err != nil {
		return r, false
	}
	r.Key.Prefix = p
	if r.NHID != 0 {
		// With a nexthop object the kernel also reports the resolved
		// gateway and device; the object is the truth.
		r.NextHops, r.Dead = nil, nil
	} else if len(r.NextHops) == 0 && len(r.Dead) == 0 && (gw.IsValid() || oif != 0) {
		r.NextHops = []rib.NextHop{{Gateway: gw, Ifindex: oif, Weight: 1}}
	} else if len(r.NextHops) == 1 {
		r.NextHops[0].Weight = 1 // a lone next hop's weight means nothing
	}
	return r, true
}

// parseMultipath decodes RTA_MULTIPATH: the next hops in use, and those the
// kernel keeps marked dead (RTNH_F_DEAD: their link is down; the kernel
// revives them when it comes back up, without a notification).
func parseMultipath(b []byte) (nhs, dead []rib.NextHop) {
	for len(b) >= rtnexthopLen {
		l := int(ne.Uint16(b[0:2]))
		if l < rtnexthopLen || l > len(b) {
			break
		}
		nh := rib.NextHop{Weight: uint16(b[3]) + 1, Ifindex: int32(ne.Uint32(b[4:8]))}
		forAttrs(b[rtnexthopLen:l], func(typ uint16, v []byte) {
			switch typ {
			case unix.RTA_GATEWAY:
				nh.Gateway = addrFrom(v)
			case rtaVia:
				nh.Gateway = viaAddr(v)
			}
		})
		switch {
		case !nh.Gateway.IsValid() && nh.Ifindex == 0:
			// Neither gateway nor device: nothing to forward to.
		case b[2]&unix.RTNH_F_DEAD != 0:
			dead = append(dead, nh)
		default:
			nhs = append(nhs, nh)
		}
		if align(l) >= len(b) {
			break
		}
		b = b[align(l):]
	}
	sortNextHops(nhs)
	sortNextHops(dead)
	return nhs, dead
}

// sortNextHops puts next hops in a canonical order for comparisons.
func sortNextHops(nhs []rib.NextHop) {
	slices.SortFunc(nhs, func(a, b rib.NextHop) int {
		if c := a.Gateway.Compare(b.Gateway); c != 0 {
			return c
		}
		return int(a.Ifindex) - int(b.Ifindex)
	})
}

// sameNextHops compares two next-hop sets regardless of order; a zero
// weight counts as 1.
func sameNextHops(a, b []rib.NextHop) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = canonical(a), canonical(b)
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func canonical(nhs []rib.NextHop) []rib.NextHop {
	c := slices.Clone(nhs)
	for i := range c {
		if c[i].Weight == 0 {
			c[i].Weight = 1
		}
	}
	sortNextHops(c)
	return c
}

// routeDumpRequest is an rtmsg asking for every route of a family (0 for
// both) and, with strict checking, of one protocol (0 for all).
func routeDumpRequest(fam, proto uint8) []byte {
	return []byte{fam, 0, 0, 0, 0, proto, 0, 0, 0, 0, 0, 0}
}
