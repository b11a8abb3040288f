package api

import (
	"fmt"
	"net/netip"
	"strings"

	pb "github.com/routerd/routerd/api/routerd/v1"
	"github.com/routerd/routerd/internal/rib"
)

// FieldError is invalid API input: the field (as a path into the request,
// "routes[2].nexthops[0].gateway") and what is wrong with it.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// maxNextHops bounds the next hops of one route (the kernel's own limit on
// a multipath route is of the same order).
const maxNextHops = 256

// parsePrefix reads a prefix given by an operator: canonical (no host bits),
// not an IPv4-mapped IPv6 prefix.
func parsePrefix(field, s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, fieldErr(field, "missing")
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if a, aerr := netip.ParseAddr(s); aerr == nil {
			return netip.Prefix{}, fieldErr(field, "%q is an address, not a prefix; did you mean %s/%d?", s, a.WithZone(""), a.BitLen())
		}
		return netip.Prefix{}, fieldErr(field, "%q is not a prefix (address/length)", s)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fieldErr(field, "%s is an IPv4-mapped IPv6 prefix; write IPv4 prefixes in IPv4 form", p)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fieldErr(field, "%q has host bits set; the prefix is %s", s, m)
	}
	return p, nil
}

// parseAddress reads an address to look up.
func parseAddress(field, s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, fieldErr(field, "missing")
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fieldErr(field, "%q is not an IP address", s)
	}
	return a.Unmap(), nil
}

func parseKind(field, s string) (rib.Kind, error) {
	switch s {
	case "", "unicast":
		return rib.KindUnicast, nil
	case "blackhole":
		return rib.KindBlackhole, nil
	case "unreachable":
		return rib.KindUnreachable, nil
	case "prohibit":
		return rib.KindProhibit, nil
	}
	return 0, fieldErr(field, "unknown kind %q (unicast, blackhole, unreachable, prohibit)", s)
}

func parseGateway(field, s string, p netip.Prefix) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fieldErr(field, "%q is not an IP address", s)
	}
	switch {
	case a.Zone() != "":
		return netip.Addr{}, fieldErr(field, "%q has a zone; give the interface in the interface field", s)
	case a.Is4In6():
		return netip.Addr{}, fieldErr(field, "%s is an IPv4-mapped IPv6 address; write it as %s", a, a.Unmap())
	case a.IsUnspecified():
		return netip.Addr{}, fieldErr(field, "%s is not a gateway (unspecified address)", a)
	case a.IsMulticast():
		return netip.Addr{}, fieldErr(field, "%s is not a gateway (multicast address)", a)
	case a.Is4() && p.Addr().Is6():
		return netip.Addr{}, fieldErr(field, "IPv4 gateway %s for IPv6 prefix %s", a, p)
	}
	return a, nil
}

// routesFromRequest validates a whole AddRoutes request and returns the
// routes to offer. On error nothing may be applied; the error is a
// *FieldError.
func routesFromRequest(req *pb.AddRoutesRequest, n *names) ([]rib.Route, error) {
	if len(req.GetRoutes()) == 0 {
		return nil, fieldErr("routes", "no routes given")
	}
	out := make([]rib.Route, 0, len(req.GetRoutes()))
	seen := make(map[rib.Key]int, len(req.GetRoutes()))
	for i, spec := range req.GetRoutes() {
		f := fmt.Sprintf("routes[%d]", i)
		if spec == nil {
			return nil, fieldErr(f, "missing")
		}
		t, err := n.parseTable(spec.GetTable(), rib.TableMain)
		if err != nil {
			return nil, fieldErr(f+".table", "%v", err)
		}
		p, err := parsePrefix(f+".prefix", spec.GetPrefix())
		if err != nil {
			return nil, err
		}
		k := rib.Key{Table: t, Prefix: p}
		if j, dup := seen[k]; dup {
			return nil, fieldErr(f, "%s table %s is also routes[%d]; give each prefix once per request", p, n.tableName(t), j)
		}
		seen[k] = i
		kind, err := parseKind(f+".kind", spec.GetKind())
		if err != nil {
			return nil, err
		}
		rt := rib.Route{Table: t, Prefix: p, Kind: kind, Distance: DefaultDistance, Metric: spec.GetMetric()}
		if spec.Distance != nil {
			d := spec.GetDistance()
			if d < 1 || d > 255 {
				return nil, fieldErr(f+".distance", "%d is outside 1..255", d)
			}
			rt.Distance = uint8(d)
		}
		nhs := spec.GetNexthops()
		if kind != rib.KindUnicast {
			if len(nhs) > 0 {
				return nil, fieldErr(f+".nexthops", "a %s route has no next hops", kind)
			}
			out = append(out, rt)
			continue
		}
		if len(nhs) == 0 {
			return nil, fieldErr(f+".nexthops", "a unicast route needs at least one next hop (a gateway, an interface or both)")
		}
		if len(nhs) > maxNextHops {
			return nil, fieldErr(f+".nexthops", "%d next hops; at most %d", len(nhs), maxNextHops)
		}
		rt.NextHops = make([]rib.NextHop, 0, len(nhs))
		for j, nh := range nhs {
			hf := fmt.Sprintf("%s.nexthops[%d]", f, j)
			h, err := nextHopFromPB(hf, nh, p, n)
			if err != nil {
				return nil, err
			}
			for m, o := range rt.NextHops {
				if o.Gateway == h.Gateway && o.Ifindex == h.Ifindex {
					return nil, fieldErr(hf, "same next hop as nexthops[%d]", m)
				}
			}
			rt.NextHops = append(rt.NextHops, h)
		}
		out = append(out, rt)
	}
	return out, nil
}

func nextHopFromPB(f string, nh *pb.NextHop, p netip.Prefix, n *names) (rib.NextHop, error) {
	var h rib.NextHop
	if nh == nil || (nh.GetGateway() == "" && nh.GetInterface() == "" && nh.GetIfindex() == 0) {
		return h, fieldErr(f, "needs a gateway, an interface or both")
	}
	if nh.GetGateway() != "" {
		gw, err := parseGateway(f+".gateway", nh.GetGateway(), p)
		if err != nil {
			return h, err
		}
		h.Gateway = gw
	}
	switch {
	case nh.GetInterface() != "":
		idx, err := n.ifIndex(nh.GetInterface())
		if err != nil {
			return h, fieldErr(f+".interface", "%v", err)
		}
		if nh.GetIfindex() != 0 && uint32(idx) != nh.GetIfindex() {
			return h, fieldErr(f+".ifindex", "%d is not the index of interface %q (%d)", nh.GetIfindex(), nh.GetInterface(), idx)
		}
		h.Ifindex = idx
	case nh.GetIfindex() != 0:
		if nh.GetIfindex() > 1<<31-1 || n.ifName(int32(nh.GetIfindex())) == "" {
			return h, fieldErr(f+".ifindex", "no interface has index %d", nh.GetIfindex())
		}
		h.Ifindex = int32(nh.GetIfindex())
	}
	if h.Gateway.Is6() && h.Gateway.IsLinkLocalUnicast() && h.Ifindex == 0 {
		return h, fieldErr(f+".interface", "link-local gateway %s needs an interface", h.Gateway)
	}
	if w := nh.GetWeight(); w > 256 {
		return h, fieldErr(f+".weight", "%d is above 256", w)
	} else if w > 0 {
		h.Weight = uint16(w)
	}
	return h, nil
}

// keysFromRequest validates a DeleteRoutes request.
func keysFromRequest(req *pb.DeleteRoutesRequest, n *names) ([]rib.Key, error) {
	if len(req.GetRoutes()) == 0 {
		return nil, fieldErr("routes", "no routes given")
	}
	out := make([]rib.Key, 0, len(req.GetRoutes()))
	seen := make(map[rib.Key]int, len(req.GetRoutes()))
	for i, rk := range req.GetRoutes() {
		f := fmt.Sprintf("routes[%d]", i)
		t, err := n.parseTable(rk.GetTable(), rib.TableMain)
		if err != nil {
			return nil, fieldErr(f+".table", "%v", err)
		}
		p, err := parsePrefix(f+".prefix", rk.GetPrefix())
		if err != nil {
			return nil, err
		}
		k := rib.Key{Table: t, Prefix: p}
		if j, dup := seen[k]; dup {
			return nil, fieldErr(f, "%s table %s is also routes[%d]", p, n.tableName(t), j)
		}
		seen[k] = i
		out = append(out, k)
	}
	return out, nil
}

// parseOrigin reads an origin filter; "bgp" stands for both BGP origins and
// is returned as ok with o zero and bgp set.
func parseOrigin(field, s string) (o rib.Origin, bgp bool, err error) {
	if s == "" {
		return 0, false, nil
	}
	if s == "bgp" {
		return 0, true, nil
	}
	if o, ok := rib.ParseOrigin(strings.ToLower(s)); ok {
		return o, false, nil
	}
	return 0, false, fieldErr(field, "unknown origin %q (connected, kernel, static, api, ebgp, ibgp, bgp)", s)
}

func parseFamily(field string, f uint32) (int, error) {
	switch f {
	case 0, 4, 6:
		return int(f), nil
	}
	return 0, fieldErr(field, "%d is not a family (4, 6, or 0 for both)", f)
}
