package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/routerd/routerd/test/lab"
)

// The transit lab: BIRD (AS 65002) — routerd r1 (AS 65001) — GoBGP (AS
// 65003), each in its own namespace.
//
//	bird 10.0.1.2, 2001:db8:1::2 ── r1 10.0.1.1, 2001:db8:1::1
//	r1 10.0.2.1 ── gobgp 10.0.2.2
const r1BGPConfig = `router-id: 10.0.1.1
static:
  - prefix: 10.9.9.0/24   # resolves the third-party next hop 10.9.9.9 BIRD gives 10.210.0.0/24
    via: [10.0.1.2]
policy:
  community-lists:
    bird-rt: ["rt:65002:200"]
  policies:
    from-bird:
      - match: {community-list: bird-rt}
        set: {local-pref: 250, community-add: ["soo:65001:1", "0x4004fde94b3ebc20"]}
        action: accept
      - action: accept
    to-gobgp:
      - set: {community-add: ["65001:7"]}
        action: accept
bgp:
  as: 65001
  networks: [10.100.0.0/24, 2001:db8:100::/48]
  neighbors:
    - address: 10.0.1.2
      as: 65002
      import: from-bird
      export: accept
      hold-time: 30
      connect-retry: 2
      families: [ipv4-unicast]
    - address: 2001:db8:1::2
      as: 65002
      import: accept
      export: accept
      hold-time: 30
      connect-retry: 2
      families: [ipv6-unicast]
    - address: 10.0.2.2
      as: 65003
      import: accept
      export: to-gobgp
      hold-time: 30
      connect-retry: 2
      families: [ipv4-unicast]
`

const birdConfig = `router id 10.0.1.2;
log stderr all;
protocol device {}
protocol static s4 { ipv4; route 10.200.0.0/24 unreachable; route 10.201.0.0/24 unreachable; route 10.210.0.0/24 unreachable; }
protocol static s6 { ipv6; route 2001:db8:200::/48 unreachable; }
filter addcomm {
  bgp_community.add((65002,100));
  if net = 10.210.0.0/24 then bgp_next_hop = 10.9.9.9;
  if net = 10.201.0.0/24 then bgp_ext_community.add((rt, 65002, 200));
  accept;
}
protocol bgp r4 {
  local 10.0.1.2 as 65002; neighbor 10.0.1.1 as 65001;
  hold time 30; connect retry time 2;
  ipv4 { import all; export filter addcomm; };
}
protocol bgp r6 {
  local 2001:db8:1::2 as 65002; neighbor 2001:db8:1::1 as 65001;
  hold time 30; connect retry time 2;
  ipv6 { import all; export filter addcomm; };
}
`

const gobgpConfig = `[global.config]
  as = 65003
  router-id = "10.0.2.2"
  port = 179
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.2.1"
    peer-as = 65001
  [neighbors.timers.config]
    connect-retry = 2
    hold-time = 30
    keepalive-interval = 10
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`

func transitLab(t *testing.T) *lab.Lab {
	t.Helper()
	return startLab(t, lab.Topology{
		Nodes: []lab.Node{
			{Name: "bird"},
			{Name: "r1", Router: true, Config: r1BGPConfig},
			{Name: "gobgp"},
		},
		Links: []lab.Link{
			{A: "bird", AIf: "r1", AAddrs: []string{"10.0.1.2/24", "2001:db8:1::2/64"},
				B: "r1", BIf: "bird", BAddrs: []string{"10.0.1.1/24", "2001:db8:1::1/64"}},
			{A: "r1", AIf: "gobgp", AAddrs: []string{"10.0.2.1/24"},
				B: "gobgp", BIf: "r1", BAddrs: []string{"10.0.2.2/24"}},
		},
	})
}

// TestBGPTransitBirdGoBGP runs routerd between real BIRD and GoBGP:
// sessions over IPv4 and IPv6, routes both ways with next hop, AS path and
// communities, transit, withdrawals, the kernel table, next-hop tracking
// on link down and a reload that removes a network.
func TestBGPTransitBirdGoBGP(t *testing.T) {
	needTool(t, "bird", "birdc", "gobgpd", "gobgp")
	l := transitLab(t)
	b := startBird(t, l.NS("bird"), birdConfig)
	g := startGoBGP(t, l.NS("gobgp"), gobgpConfig, 50051)

	b.protoUp(t, "r4", 20*time.Second)
	b.protoUp(t, "r6", 20*time.Second)
	g.neighborUp(t, "10.0.2.1", 20*time.Second)

	t.Run("bird routes in the kernel", func(t *testing.T) {
		r1 := l.NS("r1")
		waitKernelRoute(t, r1, "10.200.0.0/24", "via 10.0.1.2 dev bird", 10*time.Second)
		waitKernelRoute(t, r1, "10.201.0.0/24", "via 10.0.1.2 dev bird", 10*time.Second)
		waitKernelRoute(t, r1, "2001:db8:200::/48", "via 2001:db8:1::2 dev bird", 10*time.Second)
	})
	t.Run("networks to bird", func(t *testing.T) {
		waitFor(t, 10*time.Second, "10.100.0.0/24 at BIRD", func() (bool, string) {
			r := b.route("10.100.0.0/24")
			return strings.Contains(r, "BGP.as_path: 65001") && strings.Contains(r, "BGP.next_hop: 10.0.1.1"), r
		})
		waitFor(t, 10*time.Second, "2001:db8:100::/48 at BIRD", func() (bool, string) {
			r := b.route("2001:db8:100::/48")
			return strings.Contains(r, "BGP.as_path: 65001") && strings.Contains(r, "2001:db8:1::1"), r
		})
	})
	t.Run("transit bird to gobgp", func(t *testing.T) {
		waitFor(t, 10*time.Second, "10.200.0.0/24 at GoBGP", func() (bool, string) {
			r := g.route("ipv4", "10.200.0.0/24")
			return strings.Contains(r, "10.0.2.1") && strings.Contains(r, "65001 65002") &&
				strings.Contains(r, "65002:100") && strings.Contains(r, "65001:7"), r
		})
	})
	t.Run("extended communities", func(t *testing.T) {
		// BIRD tags 10.201.0.0/24 with a route target, which r1's import
		// policy matches: it adds a route origin and a non-transitive
		// community (link bandwidth), which r1 keeps but does not pass on
		// to GoBGP (another AS). BIRD itself sends no non-transitive ones
		// over eBGP.
		type path struct {
			LocalPref      *uint32  `json:"local_pref"`
			ExtCommunities []string `json:"ext_communities"`
		}
		show := func(prefix string) (path, string) {
			out, code := ctl(t, l, "r1", nil, "-o", "json", "show", "bgp", "routes", prefix)
			var rs struct {
				Routes []struct {
					Paths []path `json:"paths"`
				} `json:"routes"`
			}
			if err := json.Unmarshal([]byte(out), &rs); err != nil || code != 0 || len(rs.Routes) != 1 || len(rs.Routes[0].Paths) != 1 {
				return path{}, out
			}
			return rs.Routes[0].Paths[0], out
		}
		waitFor(t, 10*time.Second, "10.201.0.0/24 at r1 with local-pref 250", func() (bool, string) {
			p, out := show("10.201.0.0/24")
			return p.LocalPref != nil && *p.LocalPref == 250 &&
				strings.Join(p.ExtCommunities, " ") == "rt:65002:200 soo:65001:1 0x4004fde94b3ebc20", out
		})
		if p, out := show("10.200.0.0/24"); (p.LocalPref != nil && *p.LocalPref == 250) || len(p.ExtCommunities) != 0 {
			t.Errorf("10.200.0.0/24 without the route target:\n%s", out)
		}
		if out, code := ctl(t, l, "r1", nil, "show", "bgp", "routes", "10.201.0.0/24"); code != 0 ||
			!strings.Contains(out, "rt:65002:200 soo:65001:1 0x4004fde94b3ebc20") {
			t.Errorf("show bgp routes: exit %d:\n%s", code, out)
		}
		waitFor(t, 10*time.Second, "10.201.0.0/24 at GoBGP with the transitive extended communities only", func() (bool, string) {
			r, _ := g.cmd("global", "rib", "-a", "ipv4", "10.201.0.0/24", "-j")
			return strings.Contains(r, `{"type":16,"value":[{"type":0,"subtype":2,"value":"65002:200"},{"type":0,"subtype":3,"value":"65001:1"}]}`), r
		})
	})
	t.Run("transit gobgp to bird and withdrawal", func(t *testing.T) {
		if out, err := g.cmd("global", "rib", "add", "-a", "ipv4", "10.30.0.0/24", "community", "65003:3"); err != nil {
			t.Fatalf("gobgp global rib add: %v: %s", err, out)
		}
		waitKernelRoute(t, l.NS("r1"), "10.30.0.0/24", "via 10.0.2.2 dev gobgp", 10*time.Second)
		waitFor(t, 10*time.Second, "10.30.0.0/24 at BIRD", func() (bool, string) {
			r := b.route("10.30.0.0/24")
			return strings.Contains(r, "BGP.as_path: 65001 65003") && strings.Contains(r, "BGP.next_hop: 10.0.1.1") &&
				strings.Contains(r, "(65003,3)"), r
		})
		if out, err := g.cmd("global", "rib", "del", "-a", "ipv4", "10.30.0.0/24"); err != nil {
			t.Fatalf("gobgp global rib del: %v: %s", err, out)
		}
		waitKernelRoute(t, l.NS("r1"), "10.30.0.0/24", "", 10*time.Second)
		waitFor(t, 10*time.Second, "10.30.0.0/24 withdrawn at BIRD", func() (bool, string) {
			r := b.route("10.30.0.0/24")
			return r == "", r
		})
	})
	t.Run("bird withdraws", func(t *testing.T) {
		if out, err := b.cmd("disable s4"); err != nil {
			t.Fatalf("birdc disable s4: %v: %s", err, out)
		}
		waitKernelRoute(t, l.NS("r1"), "10.200.0.0/24", "", 10*time.Second)
		waitFor(t, 10*time.Second, "10.200.0.0/24 withdrawn at GoBGP", func() (bool, string) {
			r := g.route("ipv4", "10.200.0.0/24")
			return r == "", r
		})
		if out, err := b.cmd("enable s4"); err != nil {
			t.Fatalf("birdc enable s4: %v: %s", err, out)
		}
		waitKernelRoute(t, l.NS("r1"), "10.200.0.0/24", "via 10.0.1.2", 10*time.Second)
	})
	t.Run("next hop tracking", func(t *testing.T) {
		r1 := l.NS("r1")
		waitKernelRoute(t, r1, "10.210.0.0/24", "via 10.0.1.2 dev bird", 10*time.Second)
		// Without the static route, 10.9.9.9 no longer resolves: the route
		// stops being a candidate while the session stays up.
		noStatic := strings.Replace(r1BGPConfig, "  - prefix: 10.9.9.0/24", "  - prefix: 10.8.8.0/24", 1)
		if _, err := l.WriteConfig("r1", noStatic); err != nil {
			t.Fatal(err)
		}
		if err := l.Signal("r1", syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitKernelRoute(t, r1, "10.210.0.0/24", "", 10*time.Second)
		waitFor(t, 10*time.Second, "10.210.0.0/24 withdrawn at GoBGP", func() (bool, string) {
			r := g.route("ipv4", "10.210.0.0/24")
			return r == "", r
		})
		if r := kernelRoute(r1, "10.200.0.0/24"); !strings.Contains(r, "via 10.0.1.2") {
			t.Errorf("10.200.0.0/24 went with it: %q", r)
		}
		if _, err := l.WriteConfig("r1", r1BGPConfig); err != nil {
			t.Fatal(err)
		}
		if err := l.Signal("r1", syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitKernelRoute(t, r1, "10.210.0.0/24", "via 10.0.1.2 dev bird", 10*time.Second)
		waitFor(t, 10*time.Second, "10.210.0.0/24 back at GoBGP", func() (bool, string) {
			r := g.route("ipv4", "10.210.0.0/24")
			return r != "", r
		})
	})
	t.Run("reload removes a network, sessions stay", func(t *testing.T) {
		cfg := strings.Replace(r1BGPConfig, "networks: [10.100.0.0/24, 2001:db8:100::/48]", "networks: [2001:db8:100::/48]", 1)
		if _, err := l.WriteConfig("r1", cfg); err != nil {
			t.Fatal(err)
		}
		// Under load birdc can fail or catch BIRD mid-output: read the
		// protocol line until it is a whole Established one.
		before := b.established(t, "r6")
		if err := l.Signal("r1", syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "10.100.0.0/24 withdrawn at BIRD", func() (bool, string) {
			r := b.route("10.100.0.0/24")
			return r == "", r
		})
		after := b.established(t, "r6")
		if !sameSince(before, after) {
			t.Errorf("the IPv6 session changed across the reload:\n%s\n%s", before, after)
		}
	})
	t.Run("shutdown communication", func(t *testing.T) {
		if err := l.Stop("r1", syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "BIRD sees the shutdown message", func() (bool, string) {
			out, _ := b.cmd("show protocols all r4")
			return strings.Contains(out, "routerd shutting down") || strings.Contains(out, "Administrative shutdown"), out
		})
	})
	_ = os.Getpid
}

// sameSince reports whether two `show protocols` outputs of one BIRD
// protocol show it in the same state since the same time. BIRD converts
// the time of the change to wall-clock time each time it prints it, so
// the milliseconds may differ by one; a session that went down and came
// back is newer by far more than that.
func sameSince(a, b string) bool {
	sa, ta, oka := stateSince(a)
	sb, tb, okb := stateSince(b)
	if !oka || !okb {
		return a == b
	}
	d := ta.Sub(tb)
	return sa == sb && d < 5*time.Millisecond && d > -5*time.Millisecond
}

// stateSince returns the state and the time of the last state change
// from the last line of a `show protocols` output.
func stateSince(s string) (string, time.Time, bool) {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) < 5 {
		return "", time.Time{}, false
	}
	t, err := time.Parse("15:04:05.000", f[4])
	return f[3], t, err == nil
}

// TestBGPRouterdToRouterd peers two routerd instances over eBGP (IPv4 and
// IPv6 transport) and checks each one's networks and redistributed static
// routes in the other's kernel table, and traffic between their LANs.
func TestBGPRouterdToRouterd(t *testing.T) {
	cfg := func(id, as, peerAS, peer4, peer6, net4, net6, static string) string {
		return `router-id: ` + id + `
static:
  - prefix: ` + static + `
    type: blackhole
bgp:
  as: ` + as + `
  networks: [` + net4 + `, ` + net6 + `]
  redistribute: [static]
  neighbors:
    - {address: ` + peer4 + `, as: ` + peerAS + `, import: accept, export: accept, hold-time: 9, connect-retry: 2, families: [ipv4-unicast]}
    - {address: "` + peer6 + `", as: ` + peerAS + `, import: accept, export: accept, hold-time: 9, connect-retry: 2, families: [ipv6-unicast]}
`
	}
	l := startLab(t, lab.Topology{
		Nodes: []lab.Node{
			{Name: "hA", HostRoutes: []string{"default via 10.1.0.1", "-6 default via 2001:db8:a::1"}},
			{Name: "r1", Router: true, Config: cfg("10.0.12.1", "65001", "65002", "10.0.12.2", "2001:db8:12::2", "10.1.0.0/24", "2001:db8:a::/64", "192.0.2.0/24")},
			{Name: "r2", Router: true, Config: cfg("10.0.12.2", "65002", "65001", "10.0.12.1", "2001:db8:12::1", "10.2.0.0/24", "2001:db8:b::/64", "198.51.100.0/24")},
			{Name: "hB", HostRoutes: []string{"default via 10.2.0.1", "-6 default via 2001:db8:b::1"}},
		},
		Links: []lab.Link{
			{A: "hA", AIf: "eth0", AAddrs: []string{"10.1.0.2/24", "2001:db8:a::2/64"}, B: "r1", BIf: "lan", BAddrs: []string{"10.1.0.1/24", "2001:db8:a::1/64"}},
			{A: "r1", AIf: "r2", AAddrs: []string{"10.0.12.1/24", "2001:db8:12::1/64"}, B: "r2", BIf: "r1", BAddrs: []string{"10.0.12.2/24", "2001:db8:12::2/64"}},
			{A: "r2", AIf: "lan", AAddrs: []string{"10.2.0.1/24", "2001:db8:b::1/64"}, B: "hB", BIf: "eth0", BAddrs: []string{"10.2.0.2/24", "2001:db8:b::2/64"}},
		},
	})
	r1, r2 := l.NS("r1"), l.NS("r2")
	waitKernelRoute(t, r1, "10.2.0.0/24", "via 10.0.12.2 dev r2", 20*time.Second)
	waitKernelRoute(t, r1, "2001:db8:b::/64", "via 2001:db8:12::2 dev r2", 20*time.Second)
	waitKernelRoute(t, r1, "198.51.100.0/24", "via 10.0.12.2 dev r2", 20*time.Second)
	waitKernelRoute(t, r2, "10.1.0.0/24", "via 10.0.12.1 dev r1", 20*time.Second)
	waitKernelRoute(t, r2, "2001:db8:a::/64", "via 2001:db8:12::1 dev r1", 20*time.Second)
	waitKernelRoute(t, r2, "192.0.2.0/24", "via 10.0.12.1 dev r1", 20*time.Second)
	ping(t, l, "hA", "10.2.0.2")
	ping(t, l, "hA", "2001:db8:b::2")

	// r2 stops: its routes leave r1 at once (Cease, not the hold timer).
	if err := l.Stop("r2", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitKernelRoute(t, r1, "10.2.0.0/24", "", 3*time.Second)
	waitKernelRoute(t, r1, "2001:db8:b::/64", "", 3*time.Second)
}
