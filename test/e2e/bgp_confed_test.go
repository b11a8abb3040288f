package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/routerd/routerd/test/lab"
)

// The confederation lab: routerd r1 is member AS 65101 of confederation
// 65100. BIRD c1 (10.0.1.2) is member AS 65102 of the same
// confederation; BIRD x1 (10.0.2.2, AS 64999) is outside it.
const confedR1Config = `router-id: 10.0.1.1
bgp:
  as: 65101
  confederation: {identifier: 65100, members: [65102]}
  neighbors:
    - {address: 10.0.1.2, as: 65102, next-hop-self: true, hold-time: 30, connect-retry: 1, families: [ipv4-unicast]}
    - {address: 10.0.2.2, as: 64999, import: accept, export: accept, hold-time: 30, connect-retry: 1, families: [ipv4-unicast]}
`

const confedC1Config = `router id 10.0.1.2;
log stderr all;
protocol device {}
protocol static s4 { ipv4; route 10.210.0.0/24 unreachable; }
protocol bgp r1 {
  local 10.0.1.2 as 65102; neighbor 10.0.1.1 as 65101;
  confederation 65100; confederation member yes;
  hold time 30; connect retry time 1;
  ipv4 { import all; export all; };
}
`

const confedX1Config = `router id 10.0.2.2;
log stderr all;
protocol device {}
protocol static s4 { ipv4; route 10.220.0.0/24 unreachable; }
protocol bgp r1 {
  local 10.0.2.2 as 64999; neighbor 10.0.2.1 as 65100;
  hold time 30; connect retry time 1;
  ipv4 { import all; export all; };
}
`

// TestBGPConfederationBird checks routerd inside a confederation against
// BIRD: the member of another member AS gets outside routes behind our
// member AS in a confederation sequence, with LOCAL_PREF; the outside
// neighbour sees the confederation as AS 65100, with no confederation
// segments; routerd keeps the member's confederation sequence and shows
// the session types.
func TestBGPConfederationBird(t *testing.T) {
	needTool(t, "bird", "birdc")
	l := startLab(t, lab.Topology{
		Nodes: []lab.Node{{Name: "c1"}, {Name: "x1"}, {Name: "r1", Router: true, Config: confedR1Config}},
		Links: []lab.Link{
			{A: "c1", AIf: "r1", AAddrs: []string{"10.0.1.2/24"}, B: "r1", BIf: "c1", BAddrs: []string{"10.0.1.1/24"}},
			{A: "x1", AIf: "r1", AAddrs: []string{"10.0.2.2/24"}, B: "r1", BIf: "x1", BAddrs: []string{"10.0.2.1/24"}},
		},
	})
	c1 := startBird(t, l.NS("c1"), confedC1Config)
	x1 := startBird(t, l.NS("x1"), confedX1Config)
	c1.protoUp(t, "r1", 20*time.Second)
	x1.protoUp(t, "r1", 20*time.Second)

	// The outside neighbour: the member's route with the identifier as the
	// whole path, next hop r1.
	waitFor(t, 10*time.Second, "10.210.0.0/24 at x1 with AS path 65100", func() (bool, string) {
		r := x1.route("10.210.0.0/24")
		return regexp.MustCompile(`BGP\.as_path: 65100\n`).MatchString(r) && strings.Contains(r, "BGP.next_hop: 10.0.2.1"), r
	})
	// The member: x1's route behind our member AS in a confederation
	// sequence, with LOCAL_PREF.
	waitFor(t, 10*time.Second, "10.220.0.0/24 at c1 with AS path (65101) 64999", func() (bool, string) {
		r := c1.route("10.220.0.0/24")
		return regexp.MustCompile(`BGP\.as_path: \(65101\) 64999\n`).MatchString(r) &&
			strings.Contains(r, "BGP.local_pref: 100"), r
	})

	// routerd keeps the member's confederation sequence.
	out, code := ctl(t, l, "r1", nil, "-o", "json", "show", "bgp", "routes", "10.210.0.0/24")
	var rs struct {
		Routes []struct {
			Paths []struct {
				ASPath string `json:"as_path"`
			} `json:"paths"`
		} `json:"routes"`
	}
	if err := json.Unmarshal([]byte(out), &rs); err != nil || code != 0 || len(rs.Routes) != 1 || len(rs.Routes[0].Paths) != 1 ||
		rs.Routes[0].Paths[0].ASPath != "(65102)" {
		t.Errorf("show bgp routes 10.210.0.0/24: exit %d, want AS path (65102):\n%s", code, out)
	}
	if out, code := ctl(t, l, "r1", nil, "show", "bgp", "summary"); code != 0 || strings.Count(out, "established") != 2 {
		t.Errorf("show bgp summary: exit %d:\n%s", code, out)
	}
}
