package lab

// Default is the lab `routerlab up` builds: two hosts joined through a chain
// of three routers, with two parallel links between r1 and r2 so that ECMP
// shows, IPv4 and IPv6 everywhere, static routes only.
//
//	hA ── r1 ══ r2 ── r3 ── hB
//	10.1.0.0/24            10.3.0.0/24
//	2001:db8:1::/64        2001:db8:3::/64
func Default() Topology {
	return Topology{
		Nodes: []Node{
			{Name: "hA", HostRoutes: []string{"default via 10.1.0.1", "-6 default via 2001:db8:1::1"}},
			{Name: "r1", Router: true, Config: `static:
  - prefix: 10.3.0.0/24          # hB's network, over both links to r2 (ECMP)
    via: [10.0.12.2, 10.0.21.2]
  - prefix: 2001:db8:3::/64
    via: [2001:db8:12::2, 2001:db8:21::2]
  - prefix: 10.0.23.0/30         # r2-r3 link
    via: [10.0.12.2, 10.0.21.2]
  - prefix: 2001:db8:23::/64
    via: [2001:db8:12::2, 2001:db8:21::2]
  - prefix: 192.0.2.0/24         # documentation space: dropped here
    type: blackhole
`},
			{Name: "r2", Router: true, Config: `static:
  - prefix: 10.1.0.0/24
    via: [10.0.12.1, 10.0.21.1]
  - prefix: 2001:db8:1::/64
    via: [2001:db8:12::1, 2001:db8:21::1]
  - prefix: 10.3.0.0/24
    via: [10.0.23.2]
  - prefix: 2001:db8:3::/64
    via: [2001:db8:23::2]
`},
			{Name: "r3", Router: true, Config: `static:
  - prefix: 10.1.0.0/24
    via: [10.0.23.1]
  - prefix: 2001:db8:1::/64
    via: [2001:db8:23::1]
  - prefix: 10.0.12.0/30         # via hA's gateway: resolved recursively through 10.1.0.0/24
    via: [10.1.0.1]
`},
			{Name: "hB", HostRoutes: []string{"default via 10.3.0.1", "-6 default via 2001:db8:3::1"}},
		},
		Links: []Link{
			{A: "hA", AIf: "eth0", AAddrs: []string{"10.1.0.2/24", "2001:db8:1::2/64"},
				B: "r1", BIf: "lan0", BAddrs: []string{"10.1.0.1/24", "2001:db8:1::1/64"}},
			{A: "r1", AIf: "r2a", AAddrs: []string{"10.0.12.1/30", "2001:db8:12::1/64"},
				B: "r2", BIf: "r1a", BAddrs: []string{"10.0.12.2/30", "2001:db8:12::2/64"}},
			{A: "r1", AIf: "r2b", AAddrs: []string{"10.0.21.1/30", "2001:db8:21::1/64"},
				B: "r2", BIf: "r1b", BAddrs: []string{"10.0.21.2/30", "2001:db8:21::2/64"}},
			{A: "r2", AIf: "r3", AAddrs: []string{"10.0.23.1/30", "2001:db8:23::1/64"},
				B: "r3", BIf: "r2", BAddrs: []string{"10.0.23.2/30", "2001:db8:23::2/64"}},
			{A: "r3", AIf: "lan0", AAddrs: []string{"10.3.0.1/24", "2001:db8:3::1/64"},
				B: "hB", BIf: "eth0", BAddrs: []string{"10.3.0.2/24", "2001:db8:3::2/64"}},
		},
	}
}
