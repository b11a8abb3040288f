package config

import (
	"fmt"
	"net/netip"

	"go.yaml.in/yaml/v3"
)

// RouteType is the kind of a static route.
type RouteType string

// Route types. Only unicast routes have next hops; the others drop the
// packet (blackhole silently, unreachable and prohibit with an ICMP error).
const (
	Unicast     RouteType = "unicast"
	Blackhole   RouteType = "blackhole"
	Unreachable RouteType = "unreachable"
	Prohibit    RouteType = "prohibit"
)

// Next hop weight limits (the kernel stores weight-1 in a byte).
const (
	MinWeight = 1
	MaxWeight = 256
)

// StaticRoute is one route from the static section, with its table
// resolved to a number and defaults filled in.
type StaticRoute struct {
	Prefix netip.Prefix
	Table  uint32
	Type   RouteType
	// Nexthops has at least one entry for a unicast route (more for ECMP)
	// and none for the other types.
	Nexthops []Nexthop
	Distance uint8
	// Metric orders routes of equal distance in the RIB (lower wins); it
	// is not the kernel priority, which is kernel.metric.
	Metric uint32
}

// Nexthop is one gateway of a route.
type Nexthop struct {
	// Via is the gateway, of the route's address family; the zero Addr
	// means the destination is directly attached to Dev.
	Via netip.Addr
	// Dev is the outgoing interface; empty means the kernel finds it
	// from Via.
	Dev    string
	Weight uint16 // MinWeight..MaxWeight
}

// RouteKey identifies a route: one table holds at most one route per
// prefix.
type RouteKey struct {
	Table  uint32
	Prefix netip.Prefix
}

// Key returns the table and prefix of r.
func (r StaticRoute) Key() RouteKey { return RouteKey{r.Table, r.Prefix} }

// Equal reports whether two routes are the same, next hops in the same
// order.
func (r StaticRoute) Equal(o StaticRoute) bool {
	if r.Prefix != o.Prefix || r.Table != o.Table || r.Type != o.Type ||
		r.Distance != o.Distance || r.Metric != o.Metric || len(r.Nexthops) != len(o.Nexthops) {
		return false
	}
	for i := range r.Nexthops {
		if r.Nexthops[i] != o.Nexthops[i] {
			return false
		}
	}
	return true
}

var staticKeys = []string{"prefix", "table", "type", "via", "dev", "nexthops", "distance", "metric"}

func decodeStatic(d *decoder, n *yaml.Node, c *Config) {
	if n == nil {
		return
	}
	items, _ := d.sequence(n, "static")
	type seenAt struct {
		index int
		line  int
	}
	seen := map[RouteKey]seenAt{}
	for i, item := range items {
		path := index("static", i)
		r, ok := d.staticRoute(item, path, c)
		if !ok {
			continue
		}
		if prev, dup := seen[r.Key()]; dup {
			d.errorf(item, path, "route %s in table %s is already defined by static[%d] at line %d", r.Prefix, tableString(r.Table, c.Tables), prev.index, prev.line)
			continue
		}
		seen[r.Key()] = seenAt{i, item.Line}
		c.Static = append(c.Static, r)
	}
}

// tableString names a table number for messages: "main (254)", "isp2 (100)".
func tableString(num uint32, tables map[string]uint32) string {
	if name := builtinTableName(num); name != "" {
		return fmt.Sprintf("%s (%d)", name, num)
	}
	for name, n := range tables {
		if n == num {
			return fmt.Sprintf("%s (%d)", name, num)
		}
	}
	return fmt.Sprint(num)
}

func (d *decoder) staticRoute(n *yaml.Node, path string, c *Config) (StaticRoute, bool) {
	r := StaticRoute{Table: TableMain, Type: Unicast, Distance: c.Distances.Static}
	m, ok := d.mapping(n, path, staticKeys)
	if !ok {
		return r, false
	}
	before := len(d.errs)
	if !d.require(m, path, "prefix") {
		return r, false
	}
	pv := m.get("prefix")
	r.Prefix, ok = d.prefix(pv, join(path, "prefix"))
	if !ok {
		// Without a prefix the next hops cannot be checked against its
		// family; still report what else is wrong with the entry.
		r.Prefix = netip.Prefix{}
	}
	if v := m.get("table"); v != nil {
		r.Table, _ = d.table(v, join(path, "table"), c.Tables)
	}
	if v := m.get("type"); v != nil {
		if s, ok := d.enum(v, join(path, "type"), "unicast", "blackhole", "unreachable", "prohibit"); ok {
			r.Type = RouteType(s)
		}
	}
	if v := m.get("distance"); v != nil {
		if x, ok := d.uint(v, join(path, "distance"), 0, 255); ok {
			r.Distance = uint8(x)
		}
	}
	if v := m.get("metric"); v != nil {
		if x, ok := d.uint(v, join(path, "metric"), 0, 1<<32-1); ok {
			r.Metric = uint32(x)
		}
	}

	via, dev, nhs := m.get("via"), m.get("dev"), m.get("nexthops")
	switch {
	case r.Type != Unicast:
		for _, k := range []string{"via", "dev", "nexthops"} {
			if v := m.get(k); v != nil {
				d.errorf(v, join(path, k), "a %s route has no next hops; remove %s", r.Type, k)
			}
		}
	case nhs != nil && (via != nil || dev != nil):
		bad := via
		if bad == nil {
			bad = dev
		}
		d.errorf(bad, path, "give next hops either as via/dev or as nexthops, not both")
	case nhs != nil:
		r.Nexthops = d.nexthopList(nhs, join(path, "nexthops"), r.Prefix)
	case via != nil || dev != nil:
		r.Nexthops = d.shortNexthops(via, dev, path, r.Prefix)
	default:
		d.errorf(n, path, "a unicast route needs a next hop: via, dev or nexthops (or a type such as blackhole)")
	}
	if r.Type == Unicast && len(d.errs) == before && len(r.Nexthops) == 0 {
		d.errorf(n, path, "a unicast route needs at least one next hop")
	}
	if len(d.errs) > before {
		return r, false
	}
	return r, true
}

// shortNexthops decodes "via: [a, b]" (or "via: a") with an optional
// "dev" shared by all gateways, or "dev" alone.
func (d *decoder) shortNexthops(via, dev *yaml.Node, path string, p netip.Prefix) []Nexthop {
	var ifname string
	devOK := true
	if dev != nil {
		ifname, devOK = d.ifname(dev, join(path, "dev"))
	}
	if via == nil {
		if !devOK {
			return nil
		}
		return []Nexthop{{Dev: ifname, Weight: MinWeight}}
	}
	vpath := join(path, "via")
	var gws []*yaml.Node
	var gwPaths []string
	if via.Kind == yaml.ScalarNode && !isNull(via) {
		gws, gwPaths = []*yaml.Node{via}, []string{vpath}
	} else {
		items, ok := d.sequence(via, vpath)
		if !ok {
			return nil
		}
		if len(items) == 0 {
			d.errorf(via, vpath, "empty list of gateways")
		}
		for i, it := range items {
			gws = append(gws, it)
			gwPaths = append(gwPaths, index(vpath, i))
		}
	}
	var out []Nexthop
	seen := map[netip.Addr]bool{}
	for i, gw := range gws {
		a, ok := d.gateway(gw, gwPaths[i], p, ifname)
		if !ok {
			continue
		}
		if seen[a] {
			d.errorf(gw, gwPaths[i], "gateway %s is listed twice", a)
			continue
		}
		seen[a] = true
		out = append(out, Nexthop{Via: a, Dev: ifname, Weight: MinWeight})
	}
	return out
}

// nexthopID is what makes two next hops of one route the same.
type nexthopID struct {
	via netip.Addr
	dev string
}

// nexthopList decodes the long form: a list of {via, dev, weight}.
func (d *decoder) nexthopList(n *yaml.Node, path string, p netip.Prefix) []Nexthop {
	items, ok := d.sequence(n, path)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.errorf(n, path, "empty list of next hops")
		return nil
	}
	var out []Nexthop
	seen := map[nexthopID]int{}
	for i, it := range items {
		ipath := index(path, i)
		m, ok := d.mapping(it, ipath, []string{"via", "dev", "weight"})
		if !ok {
			continue
		}
		nh := Nexthop{Weight: MinWeight}
		good := true
		if v := m.get("dev"); v != nil {
			nh.Dev, ok = d.ifname(v, join(ipath, "dev"))
			good = good && ok
		}
		if v := m.get("via"); v != nil {
			nh.Via, ok = d.gateway(v, join(ipath, "via"), p, nh.Dev)
			good = good && ok
		}
		if v := m.get("weight"); v != nil {
			w, ok := d.uint(v, join(ipath, "weight"), MinWeight, MaxWeight)
			nh.Weight = uint16(w)
			good = good && ok
		}
		if m.get("via") == nil && m.get("dev") == nil {
			d.errorf(it, ipath, "a next hop needs via, dev or both")
			continue
		}
		if !good {
			continue
		}
		id := nexthopID{nh.Via, nh.Dev}
		if j, dup := seen[id]; dup {
			d.errorf(it, ipath, "same next hop as %s", index(path, j))
			continue
		}
		seen[id] = i
		out = append(out, nh)
	}
	return out
}

// gateway parses a next-hop address and checks that it can be one for a
// route to p: same family, a unicast address that is not loopback, not the
// route's own single destination, and link-local only with an interface.
func (d *decoder) gateway(n *yaml.Node, path string, p netip.Prefix, dev string) (netip.Addr, bool) {
	a, ok := d.addr(n, path)
	if !ok {
		return a, false
	}
	fam := func(x netip.Addr) string {
		if x.Is4() {
			return "IPv4"
		}
		return "IPv6"
	}
	switch {
	case p.IsValid() && a.Is4() != p.Addr().Is4():
		d.errorf(n, path, "gateway %s is %s but prefix %s is %s", a, fam(a), p, fam(p.Addr()))
	case a.IsUnspecified():
		d.errorf(n, path, "gateway %s is the unspecified address; for a directly attached route give dev without via", a)
	case a.IsMulticast():
		d.errorf(n, path, "gateway %s is a multicast address", a)
	case a.IsLoopback():
		d.errorf(n, path, "gateway %s is a loopback address", a)
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		d.errorf(n, path, "gateway %s is the broadcast address", a)
	case a.Is6() && a.IsLinkLocalUnicast() && dev == "":
		d.errorf(n, path, "link-local gateway %s needs dev to say which link", a)
	case p.IsValid() && p.IsSingleIP() && p.Addr() == a:
		d.errorf(n, path, "gateway %s is the route's own destination", a)
	default:
		return a, true
	}
	return a, false
}
