package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/routerd/routerd/test/lab"
)

// The multipath lab: two BIRD routers of AS 65002 (b1 10.0.1.2, b2
// 10.0.3.2) announce the same prefix to routerd r1 (AS 65001,
// multipath 2).
const mpR1Config = `router-id: 10.0.1.1
bgp:
  as: 65001
  multipath: 2
  neighbors:
    - {address: 10.0.1.2, as: 65002, import: accept, export: accept, hold-time: 30, connect-retry: 1, families: [ipv4-unicast]}
    - {address: 10.0.3.2, as: 65002, import: accept, export: accept, hold-time: 30, connect-retry: 1, families: [ipv4-unicast]}
`

func mpBirdConfig(self, routes string) string {
	peer := strings.Replace(self, ".2", ".1", 1)
	return `router id ` + self + `;
log stderr all;
protocol device {}
protocol static s4 { ipv4; ` + routes + ` }
protocol bgp r4 {
  local ` + self + ` as 65002; neighbor ` + peer + ` as 65001;
  hold time 30; connect retry time 1;
  ipv4 { import all; export all; };
}
`
}

// TestBGPMultipathBird checks that equal routes from two neighbours of
// one AS become one kernel route with two next hops, and one again when
// one neighbour withdraws.
func TestBGPMultipathBird(t *testing.T) {
	needTool(t, "bird", "birdc")
	l := startLab(t, lab.Topology{
		Nodes: []lab.Node{{Name: "b1"}, {Name: "b2"}, {Name: "r1", Router: true, Config: mpR1Config}},
		Links: []lab.Link{
			{A: "b1", AIf: "r1", AAddrs: []string{"10.0.1.2/24"}, B: "r1", BIf: "b1", BAddrs: []string{"10.0.1.1/24"}},
			{A: "b2", AIf: "r1", AAddrs: []string{"10.0.3.2/24"}, B: "r1", BIf: "b2", BAddrs: []string{"10.0.3.1/24"}},
		},
	})
	r1 := l.NS("r1")
	b1 := startBird(t, l.NS("b1"), mpBirdConfig("10.0.1.2", "route 10.200.0.0/24 unreachable; route 10.201.0.0/24 unreachable;"))
	b2 := startBird(t, l.NS("b2"), mpBirdConfig("10.0.3.2", "route 10.200.0.0/24 unreachable;"))
	b1.protoUp(t, "r4", 20*time.Second)
	b2.protoUp(t, "r4", 20*time.Second)
	hops := func(prefix string) string {
		r, ok := kernelRoutes(t, r1, "196")["main "+prefix]
		if !ok {
			return ""
		}
		return r.hops()
	}
	waitFor(t, 10*time.Second, "10.200.0.0/24 with two next hops", func() (bool, string) {
		h := hops("10.200.0.0/24")
		return h == "10.0.1.2@b1,10.0.3.2@b2", h
	})
	if h := hops("10.201.0.0/24"); h != "10.0.1.2@b1" {
		t.Errorf("10.201.0.0/24 (one neighbour) has next hops %q", h)
	}
	if out, err := b2.cmd("disable s4"); err != nil {
		t.Fatalf("birdc disable s4: %v: %s", err, out)
	}
	waitFor(t, 10*time.Second, "10.200.0.0/24 with one next hop", func() (bool, string) {
		h := hops("10.200.0.0/24")
		return h == "10.0.1.2@b1", h
	})
}
