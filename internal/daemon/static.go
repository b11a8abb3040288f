package daemon

import (
	"github.com/routerd/routerd/internal/config"
	"github.com/routerd/routerd/internal/rib"
)

// unknownIfindex marks a next hop whose interface does not exist (yet): the
// RIB never resolves it, so the route shows as inactive until the interface
// appears and the static routes are offered again.
const unknownIfindex = -1

var routeKinds = map[config.RouteType]rib.Kind{
	config.Unicast:     rib.KindUnicast,
	config.Blackhole:   rib.KindBlackhole,
	config.Unreachable: rib.KindUnreachable,
	config.Prohibit:    rib.KindProhibit,
}

// staticRoutes turns the configuration's static routes into RIB routes,
// naming interfaces by their current index.
func staticRoutes(routes []config.StaticRoute, ifindex func(name string) (int32, bool)) []rib.Route {
	out := make([]rib.Route, 0, len(routes))
	for _, s := range routes {
		rt := rib.Route{
			Table:    rib.Table(s.Table),
			Prefix:   s.Prefix,
			Kind:     routeKinds[s.Type],
			Distance: s.Distance,
			Metric:   s.Metric,
		}
		for _, nh := range s.Nexthops {
			hop := rib.NextHop{Gateway: nh.Via, Weight: nh.Weight}
			if nh.Dev != "" {
				hop.Ifindex = unknownIfindex
				if i, ok := ifindex(nh.Dev); ok {
					hop.Ifindex = i
				}
			}
			rt.NextHops = append(rt.NextHops, hop)
		}
		out = append(out, rt)
	}
	return out
}
