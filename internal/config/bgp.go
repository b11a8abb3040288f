package config

import (
	"net/netip"
	"slices"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// BGP defaults.
const (
	DefaultBGPPort      = 179
	DefaultHoldTime     = 90 * time.Second
	DefaultConnectRetry = 120 * time.Second
	// DefaultRestartTime is the graceful restart time advertised to
	// neighbours (RFC 4724 §3), and the longest wait for a restarted
	// neighbour's End-of-RIB.
	DefaultRestartTime = 120 * time.Second
)

// BGP is the bgp section: the speaker's own AS and identity, what it
// originates, and its neighbours.
type BGP struct {
	AS       uint32     `key:"as"`
	RouterID netip.Addr `key:"router-id"` // defaults to the top-level router-id
	// Listen says whether the speaker accepts connections; ListenPort is the
	// TCP port (179) and ListenAddresses the addresses (all when empty).
	Listen          bool         `key:"listen"`
	ListenPort      uint16       `key:"listen-port"`
	ListenAddresses []netip.Addr `key:"listen-addresses"`
	// Table is the kernel table BGP routes go to.
	Table            uint32 `key:"table"`
	AlwaysCompareMED bool   `key:"always-compare-med"`
	// Multipath is the most next hops (equal paths) a BGP route gets in
	// the RIB; 1 is a single best path.
	Multipath uint8 `key:"multipath"`
	// GracefulRestart is the default of the neighbours' graceful-restart
	// (RFC 4724, helper side); RestartTime is the restart time advertised.
	GracefulRestart bool          `key:"graceful-restart"`
	RestartTime     time.Duration `key:"graceful-restart-time"`
	// GracefulRestartPreserve makes routerd a restarting speaker (RFC
	// 4724 §4.1): a shutdown keeps the kernel's BGP routes and closes the
	// sessions without a NOTIFICATION, the capability lists the families,
	// and a start that finds its routes in the kernel defers selection
	// output until every neighbour's End-of-RIB.
	GracefulRestartPreserve bool           `key:"graceful-restart-preserve"`
	Networks                []netip.Prefix `key:"networks"`
	// Redistribute lists the RIB origins announced as BGP routes:
	// "static", "connected".
	Redistribute []string `key:"redistribute"`
	// Confederation splits the AS into member ASes (RFC 5065); AS is then
	// this speaker's member AS.
	Confederation Confederation `key:"confederation"`
	Neighbors     []Neighbor    `key:"neighbors"`
}

// Confederation is an AS confederation (RFC 5065): Identifier is the AS
// the outside world sees, Members the member ASes of the other routers of
// the confederation (neighbours in one of them are confederation-external
// peers). The zero value is no confederation.
type Confederation struct {
	Identifier uint32   `key:"identifier"`
	Members    []uint32 `key:"members"`
}

// Equal reports whether two confederation settings are the same.
func (c Confederation) Equal(o Confederation) bool {
	return c.Identifier == o.Identifier && slices.Equal(c.Members, o.Members)
}

// SessionType says how a BGP session relates to the speaker's AS.
type SessionType uint8

// Session types.
const (
	// EBGP: a neighbour outside the AS (or the confederation).
	EBGP SessionType = iota
	// IBGP: a neighbour in the same AS (the same member AS).
	IBGP
	// ConfedEBGP: a neighbour in another member AS of the confederation.
	ConfedEBGP
)

func (t SessionType) String() string {
	switch t {
	case IBGP:
		return "ibgp"
	case ConfedEBGP:
		return "confed-ebgp"
	}
	return "ebgp"
}

// SessionType returns the type of a session with a neighbour in AS as.
func (b *BGP) SessionType(as uint32) SessionType {
	switch {
	case as == b.AS:
		return IBGP
	case b.Confederation.Identifier != 0 && slices.Contains(b.Confederation.Members, as):
		return ConfedEBGP
	}
	return EBGP
}

// LocalAS returns the AS the speaker presents to a neighbour in AS as:
// the confederation identifier to neighbours outside the confederation,
// its own (member) AS otherwise.
func (b *BGP) LocalAS(as uint32) uint32 {
	if b.Confederation.Identifier != 0 && b.SessionType(as) == EBGP {
		return b.Confederation.Identifier
	}
	return b.AS
}

// Neighbor is one configured BGP neighbour.
type Neighbor struct {
	Address      netip.Addr `key:"address"`
	AS           uint32     `key:"as"`
	Description  string     `key:"description"`
	Enabled      bool       `key:"enabled"`
	LocalAddress netip.Addr `key:"local-address"` // zero: chosen by the kernel
	Port         uint16     `key:"port"`
	Passive      bool       `key:"passive"`
	// Multihop is the TTL of outgoing packets for eBGP neighbours not
	// directly connected (0: 1 for eBGP, 255 for iBGP).
	Multihop uint8 `key:"multihop"`
	// TTLSecurity enables GTSM (RFC 5082): packets are sent with TTL 255
	// and accepted only with TTL >= 255 - (TTLSecurity - 1) hops.
	TTLSecurity  uint8         `key:"ttl-security"`
	Password     string        `key:"password"` // TCP-MD5 (RFC 2385)
	HoldTime     time.Duration `key:"hold-time"`
	ConnectRetry time.Duration `key:"connect-retry"`
	NextHopSelf  bool          `key:"next-hop-self"`
	Import       string        `key:"import"` // policy name; empty: none (RFC 8212 for eBGP)
	Export       string        `key:"export"`
	// Families lists "ipv4-unicast" and/or "ipv6-unicast".
	Families             []string `key:"families"`
	RouteReflectorClient bool     `key:"route-reflector-client"`
	// GracefulRestart advertises the graceful restart capability and
	// keeps the neighbour's routes as stale across its restarts (RFC
	// 4724 receiving speaker); defaults to bgp.graceful-restart.
	GracefulRestart bool `key:"graceful-restart"`
	// SoftReconfigInbound keeps the neighbour's routes before import
	// policy, so that a policy change is applied without ROUTE-REFRESH.
	SoftReconfigInbound bool `key:"soft-reconfiguration-inbound"`
	// MaxPrefixes limits the prefixes the neighbour may have accepted.
	MaxPrefixes MaxPrefixes `key:"max-prefixes"`
}

// MaxPrefixes limits the prefixes of each family a neighbour may have
// accepted by import policy; 0 is no limit. Going over ends the session
// with a Cease NOTIFICATION (Maximum Number of Prefixes Reached, RFC
// 4486) and drops its routes; the session comes back after Restart, or,
// when Restart is 0, on an operator's reset or enable.
type MaxPrefixes struct {
	IPv4    uint32        `key:"ipv4"`
	IPv6    uint32        `key:"ipv6"`
	Restart time.Duration `key:"restart"`
}

// Equal reports whether two neighbour configurations are the same.
func (n Neighbor) Equal(o Neighbor) bool {
	return n.Address == o.Address && n.AS == o.AS && n.Description == o.Description && n.Enabled == o.Enabled &&
		n.LocalAddress == o.LocalAddress && n.Port == o.Port && n.Passive == o.Passive && n.Multihop == o.Multihop &&
		n.TTLSecurity == o.TTLSecurity && n.Password == o.Password && n.HoldTime == o.HoldTime &&
		n.ConnectRetry == o.ConnectRetry && n.NextHopSelf == o.NextHopSelf && n.Import == o.Import &&
		n.Export == o.Export && slices.Equal(n.Families, o.Families) && n.RouteReflectorClient == o.RouteReflectorClient &&
		n.GracefulRestart == o.GracefulRestart && n.SoftReconfigInbound == o.SoftReconfigInbound &&
		n.MaxPrefixes == o.MaxPrefixes
}

// Equal reports whether two bgp sections are the same (nil is no section).
func (b *BGP) Equal(o *BGP) bool {
	if b == nil || o == nil {
		return b == o
	}
	return b.AS == o.AS && b.RouterID == o.RouterID && b.Listen == o.Listen && b.ListenPort == o.ListenPort &&
		slices.Equal(b.ListenAddresses, o.ListenAddresses) && b.Table == o.Table &&
		b.AlwaysCompareMED == o.AlwaysCompareMED && b.Multipath == o.Multipath &&
		b.GracefulRestart == o.GracefulRestart && b.RestartTime == o.RestartTime &&
		b.GracefulRestartPreserve == o.GracefulRestartPreserve && slices.Equal(b.Networks, o.Networks) &&
		slices.Equal(b.Redistribute, o.Redistribute) && b.Confederation.Equal(o.Confederation) &&
		slices.EqualFunc(b.Neighbors, o.Neighbors, Neighbor.Equal)
}

var bgpKeys = []string{"as", "router-id", "listen", "listen-port", "listen-addresses", "table",
	"always-compare-med", "multipath", "graceful-restart", "graceful-restart-time", "graceful-restart-preserve", "networks", "redistribute", "confederation", "neighbors"}

var neighborKeys = []string{"address", "as", "description", "enabled", "local-address", "port", "passive",
	"multihop", "ttl-security", "password", "hold-time", "connect-retry", "next-hop-self", "import", "export",
	"families", "route-reflector-client", "graceful-restart", "soft-reconfiguration-inbound", "max-prefixes"}

func decodeBGP(d *decoder, n *yaml.Node, c *Config) {
	if n == nil {
		return
	}
	b := &BGP{Listen: true, ListenPort: DefaultBGPPort, Table: TableMain, RouterID: c.RouterID,
		Multipath: 1, GracefulRestart: true, RestartTime: DefaultRestartTime}
	m, ok := d.mapping(n, "bgp", bgpKeys)
	if !ok {
		return
	}
	if d.require(m, "bgp", "as") {
		if x, ok := d.uint(m.get("as"), "bgp.as", 1, 1<<32-1); ok {
			b.AS = uint32(x)
		}
	}
	if v := m.get("router-id"); v != nil {
		if a, ok := d.addr(v, "bgp.router-id"); ok {
			if !a.Is4() || a.IsUnspecified() {
				d.errorf(v, "bgp.router-id", "%s is not a valid router ID (a non-zero IPv4 address)", a)
			} else {
				b.RouterID = a
			}
		}
	} else if !b.RouterID.IsValid() {
		d.errorf(n, "bgp", "no router ID: set router-id at the top or in bgp")
	}
	if v := m.get("listen"); v != nil {
		b.Listen, _ = d.boolean(v, "bgp.listen")
	}
	if v := m.get("listen-port"); v != nil {
		if x, ok := d.uint(v, "bgp.listen-port", 1, 65535); ok {
			b.ListenPort = uint16(x)
		}
	}
	if v := m.get("listen-addresses"); v != nil {
		items, _ := d.sequence(v, "bgp.listen-addresses")
		for i, it := range items {
			if a, ok := d.addr(it, index("bgp.listen-addresses", i)); ok {
				b.ListenAddresses = append(b.ListenAddresses, a)
			}
		}
	}
	if v := m.get("table"); v != nil {
		if t, ok := d.table(v, "bgp.table", c.Tables); ok {
			b.Table = t
		}
	}
	if v := m.get("always-compare-med"); v != nil {
		b.AlwaysCompareMED, _ = d.boolean(v, "bgp.always-compare-med")
	}
	if v := m.get("multipath"); v != nil {
		if x, ok := d.uint(v, "bgp.multipath", 1, 64); ok {
			b.Multipath = uint8(x)
		}
	}
	if v := m.get("graceful-restart"); v != nil {
		b.GracefulRestart, _ = d.boolean(v, "bgp.graceful-restart")
	}
	if v := m.get("graceful-restart-time"); v != nil {
		// 12 bits in the capability (RFC 4724 §3).
		if x, ok := d.seconds(v, "bgp.graceful-restart-time", 1, 4095); ok {
			b.RestartTime = x
		}
	}
	if v := m.get("graceful-restart-preserve"); v != nil {
		b.GracefulRestartPreserve, _ = d.boolean(v, "bgp.graceful-restart-preserve")
	}
	if v := m.get("networks"); v != nil {
		items, _ := d.sequence(v, "bgp.networks")
		seen := map[netip.Prefix]bool{}
		for i, it := range items {
			p, ok := d.prefix(it, index("bgp.networks", i))
			if !ok {
				continue
			}
			if seen[p] {
				d.errorf(it, index("bgp.networks", i), "%s is listed twice", p)
				continue
			}
			seen[p] = true
			b.Networks = append(b.Networks, p)
		}
	}
	if v := m.get("redistribute"); v != nil {
		items, _ := d.sequence(v, "bgp.redistribute")
		for i, it := range items {
			if s, ok := d.enum(it, index("bgp.redistribute", i), "static", "connected"); ok {
				if slices.Contains(b.Redistribute, s) {
					d.errorf(it, index("bgp.redistribute", i), "%s is listed twice", s)
					continue
				}
				b.Redistribute = append(b.Redistribute, s)
			}
		}
	}
	if v := m.get("confederation"); v != nil {
		d.confederation(v, b)
	}
	if v := m.get("neighbors"); v != nil {
		items, _ := d.sequence(v, "bgp.neighbors")
		seen := map[netip.Addr]int{}
		for i, it := range items {
			path := index("bgp.neighbors", i)
			nb, ok := d.neighbor(it, path, c, b)
			if !ok {
				continue
			}
			if prev, dup := seen[nb.Address]; dup {
				d.errorf(it, path, "neighbor %s is already defined by bgp.neighbors[%d]", nb.Address, prev)
				continue
			}
			seen[nb.Address] = i
			if id := b.Confederation.Identifier; id != 0 && nb.AS == id {
				d.errorf(it, join(path, "as"),
					"%d is the confederation identifier: a neighbour is in our member AS, another member AS or outside the confederation", id)
				continue
			}
			b.Neighbors = append(b.Neighbors, nb)
		}
	}
	c.BGP = b
}

// confederation reads bgp.confederation.
func (d *decoder) confederation(n *yaml.Node, b *BGP) {
	const path = "bgp.confederation"
	m, ok := d.mapping(n, path, []string{"identifier", "members"})
	if !ok {
		return
	}
	var c Confederation
	if v := m.get("identifier"); v != nil {
		if x, ok := d.uint(v, join(path, "identifier"), 1, 1<<32-1); ok {
			c.Identifier = uint32(x)
			if b.AS != 0 && c.Identifier == b.AS {
				d.errorf(v, join(path, "identifier"), "%d is bgp.as: the identifier is the confederation's AS, bgp.as this router's member AS, and they differ", x)
			}
		}
	}
	if v := m.get("members"); v != nil {
		items, _ := d.sequence(v, join(path, "members"))
		for i, it := range items {
			ip := index(join(path, "members"), i)
			x, ok := d.uint(it, ip, 1, 1<<32-1)
			if !ok {
				continue
			}
			as := uint32(x)
			switch {
			case slices.Contains(c.Members, as):
				d.errorf(it, ip, "%d is listed twice", as)
				continue
			case c.Identifier != 0 && as == c.Identifier:
				d.errorf(it, ip, "%d is the confederation identifier, not a member AS", as)
				continue
			}
			c.Members = append(c.Members, as)
		}
		if len(items) > 0 && m.get("identifier") == nil {
			d.errorf(n, path, "members without an identifier: set identifier, the AS the confederation shows to the outside")
		}
	}
	b.Confederation = c
}

// seconds reads a duration in whole seconds in [lo, hi].
func (d *decoder) seconds(n *yaml.Node, path string, lo, hi uint64) (time.Duration, bool) {
	x, ok := d.uint(n, path, lo, hi)
	return time.Duration(x) * time.Second, ok
}

func (d *decoder) neighbor(n *yaml.Node, path string, c *Config, b *BGP) (Neighbor, bool) {
	nb := Neighbor{Enabled: true, Port: DefaultBGPPort, HoldTime: DefaultHoldTime, ConnectRetry: DefaultConnectRetry,
		GracefulRestart: b.GracefulRestart}
	m, ok := d.mapping(n, path, neighborKeys)
	if !ok {
		return nb, false
	}
	before := len(d.errs)
	if !d.require(m, path, "address", "as") {
		return nb, false
	}
	nb.Address, _ = d.addr(m.get("address"), join(path, "address"))
	if x, ok := d.uint(m.get("as"), join(path, "as"), 1, 1<<32-1); ok {
		nb.AS = uint32(x)
	}
	if v := m.get("description"); v != nil {
		nb.Description, _ = d.str(v, join(path, "description"))
	}
	if v := m.get("enabled"); v != nil {
		nb.Enabled, _ = d.boolean(v, join(path, "enabled"))
	}
	if v := m.get("local-address"); v != nil {
		if a, ok := d.addr(v, join(path, "local-address")); ok {
			if nb.Address.IsValid() && a.Is4() != nb.Address.Is4() {
				d.errorf(v, join(path, "local-address"), "%s and neighbor address %s are of different families", a, nb.Address)
			}
			nb.LocalAddress = a
		}
	}
	if v := m.get("port"); v != nil {
		if x, ok := d.uint(v, join(path, "port"), 1, 65535); ok {
			nb.Port = uint16(x)
		}
	}
	if v := m.get("passive"); v != nil {
		nb.Passive, _ = d.boolean(v, join(path, "passive"))
	}
	if v := m.get("multihop"); v != nil {
		if x, ok := d.uint(v, join(path, "multihop"), 1, 255); ok {
			nb.Multihop = uint8(x)
		}
	}
	if v := m.get("ttl-security"); v != nil {
		if x, ok := d.uint(v, join(path, "ttl-security"), 1, 254); ok {
			nb.TTLSecurity = uint8(x)
			if m.get("multihop") != nil {
				d.errorf(v, join(path, "ttl-security"), "ttl-security and multihop exclude each other: with GTSM the TTL is always 255")
			}
		}
	}
	if v := m.get("password"); v != nil {
		if s, ok := d.str(v, join(path, "password")); ok {
			if len(s) > 80 {
				d.errorf(v, join(path, "password"), "TCP-MD5 keys are at most 80 bytes")
			}
			nb.Password = s
		}
	}
	if v := m.get("hold-time"); v != nil {
		if x, ok := d.seconds(v, join(path, "hold-time"), 0, 65535); ok {
			if x > 0 && x < 3*time.Second {
				d.errorf(v, join(path, "hold-time"), "hold time is 0 (no keepalives) or at least 3 seconds (RFC 4271)")
			}
			nb.HoldTime = x
		}
	}
	if v := m.get("connect-retry"); v != nil {
		if x, ok := d.seconds(v, join(path, "connect-retry"), 1, 65535); ok {
			nb.ConnectRetry = x
		}
	}
	if v := m.get("next-hop-self"); v != nil {
		nb.NextHopSelf, _ = d.boolean(v, join(path, "next-hop-self"))
	}
	for _, k := range []string{"import", "export"} {
		if v := m.get(k); v != nil {
			if s, ok := d.str(v, join(path, k)); ok {
				if !c.Policy.policyExists(s) {
					d.errorf(v, join(path, k), "unknown policy %q; define it under policy.policies or use accept or reject", s)
				}
				if k == "import" {
					nb.Import = s
				} else {
					nb.Export = s
				}
			}
		}
	}
	if v := m.get("families"); v != nil {
		items, _ := d.sequence(v, join(path, "families"))
		for i, it := range items {
			if s, ok := d.enum(it, index(join(path, "families"), i), "ipv4-unicast", "ipv6-unicast"); ok {
				if slices.Contains(nb.Families, s) {
					d.errorf(it, index(join(path, "families"), i), "%s is listed twice", s)
					continue
				}
				nb.Families = append(nb.Families, s)
			}
		}
		if len(items) == 0 {
			d.errorf(v, join(path, "families"), "at least one family")
		}
	} else {
		nb.Families = []string{"ipv4-unicast", "ipv6-unicast"}
	}
	if v := m.get("route-reflector-client"); v != nil {
		nb.RouteReflectorClient, _ = d.boolean(v, join(path, "route-reflector-client"))
	}
	if v := m.get("graceful-restart"); v != nil {
		nb.GracefulRestart, _ = d.boolean(v, join(path, "graceful-restart"))
	}
	if v := m.get("soft-reconfiguration-inbound"); v != nil {
		nb.SoftReconfigInbound, _ = d.boolean(v, join(path, "soft-reconfiguration-inbound"))
	}
	if v := m.get("max-prefixes"); v != nil {
		mp := join(path, "max-prefixes")
		mm, _ := d.mapping(v, mp, []string{"ipv4", "ipv6", "restart"})
		for _, k := range []struct {
			key string
			dst *uint32
		}{{"ipv4", &nb.MaxPrefixes.IPv4}, {"ipv6", &nb.MaxPrefixes.IPv6}} {
			if x := mm.get(k.key); x != nil {
				if u, ok := d.uint(x, join(mp, k.key), 1, 1<<32-1); ok {
					*k.dst = uint32(u)
				}
			}
		}
		if x := mm.get("restart"); x != nil {
			if t, ok := d.seconds(x, join(mp, "restart"), 0, 86400); ok {
				nb.MaxPrefixes.Restart = t
			}
		}
	}
	return nb, len(d.errs) == before
}

func marshalBGP(b *BGP) *yaml.Node {
	if b == nil {
		return nil
	}
	m := mapping("as", scalar(strconv.FormatUint(uint64(b.AS), 10)))
	if b.RouterID.IsValid() {
		add(m, "router-id", scalar(b.RouterID.String()))
	}
	add(m, "listen", scalar(strconv.FormatBool(b.Listen)))
	add(m, "listen-port", scalar(strconv.Itoa(int(b.ListenPort))))
	if len(b.ListenAddresses) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, a := range b.ListenAddresses {
			seq.Content = append(seq.Content, scalar(a.String()))
		}
		add(m, "listen-addresses", seq)
	}
	add(m, "table", scalar(strconv.FormatUint(uint64(b.Table), 10)))
	add(m, "always-compare-med", scalar(strconv.FormatBool(b.AlwaysCompareMED)))
	add(m, "multipath", scalar(strconv.Itoa(int(b.Multipath))))
	add(m, "graceful-restart", scalar(strconv.FormatBool(b.GracefulRestart)))
	add(m, "graceful-restart-time", scalar(strconv.Itoa(int(b.RestartTime/time.Second))))
	add(m, "graceful-restart-preserve", scalar(strconv.FormatBool(b.GracefulRestartPreserve)))
	if len(b.Networks) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, p := range b.Networks {
			seq.Content = append(seq.Content, scalar(p.String()))
		}
		add(m, "networks", seq)
	}
	if len(b.Redistribute) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, s := range b.Redistribute {
			seq.Content = append(seq.Content, scalar(s))
		}
		add(m, "redistribute", seq)
	}
	if c := b.Confederation; c.Identifier != 0 {
		cm := mapping("identifier", scalar(strconv.FormatUint(uint64(c.Identifier), 10)))
		if len(c.Members) > 0 {
			seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, as := range c.Members {
				seq.Content = append(seq.Content, scalar(strconv.FormatUint(uint64(as), 10)))
			}
			add(cm, "members", seq)
		}
		add(m, "confederation", cm)
	}
	if len(b.Neighbors) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, nb := range b.Neighbors {
			n := mapping(
				"address", scalar(nb.Address.String()),
				"as", scalar(strconv.FormatUint(uint64(nb.AS), 10)),
				"enabled", scalar(strconv.FormatBool(nb.Enabled)),
				"port", scalar(strconv.Itoa(int(nb.Port))),
				"passive", scalar(strconv.FormatBool(nb.Passive)),
				"hold-time", scalar(strconv.Itoa(int(nb.HoldTime/time.Second))),
				"connect-retry", scalar(strconv.Itoa(int(nb.ConnectRetry/time.Second))),
				"next-hop-self", scalar(strconv.FormatBool(nb.NextHopSelf)),
				"route-reflector-client", scalar(strconv.FormatBool(nb.RouteReflectorClient)),
				"graceful-restart", scalar(strconv.FormatBool(nb.GracefulRestart)),
				"soft-reconfiguration-inbound", scalar(strconv.FormatBool(nb.SoftReconfigInbound)),
			)
			if nb.Description != "" {
				add(n, "description", quoted(nb.Description))
			}
			if nb.LocalAddress.IsValid() {
				add(n, "local-address", scalar(nb.LocalAddress.String()))
			}
			if nb.Multihop > 0 {
				add(n, "multihop", scalar(strconv.Itoa(int(nb.Multihop))))
			}
			if nb.TTLSecurity > 0 {
				add(n, "ttl-security", scalar(strconv.Itoa(int(nb.TTLSecurity))))
			}
			if nb.Password != "" {
				add(n, "password", quoted(nb.Password))
			}
			if nb.Import != "" {
				add(n, "import", quoted(nb.Import))
			}
			if nb.Export != "" {
				add(n, "export", quoted(nb.Export))
			}
			if mp := nb.MaxPrefixes; mp != (MaxPrefixes{}) {
				mn := mapping()
				if mp.IPv4 > 0 {
					add(mn, "ipv4", scalar(strconv.FormatUint(uint64(mp.IPv4), 10)))
				}
				if mp.IPv6 > 0 {
					add(mn, "ipv6", scalar(strconv.FormatUint(uint64(mp.IPv6), 10)))
				}
				if mp.Restart > 0 {
					add(mn, "restart", scalar(strconv.Itoa(int(mp.Restart/time.Second))))
				}
				add(n, "max-prefixes", mn)
			}
			fs := &yaml.Node{Kind: yaml.SequenceNode}
			for _, f := range nb.Families {
				fs.Content = append(fs.Content, scalar(f))
			}
			add(n, "families", fs)
			seq.Content = append(seq.Content, n)
		}
		add(m, "neighbors", seq)
	}
	return m
}
