package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/routerd/routerd/test/lab"
)

// TestBGPMaxPrefixesBird checks a prefix limit against BIRD: BIRD announces
// five routes to a neighbour allowing three; routerd ends the session
// with Cease / Maximum Number of Prefixes Reached, which BIRD reports,
// keeps none of the routes, and shows why; once BIRD announces three, the
// session comes back after the restart time with all three.
func TestBGPMaxPrefixesBird(t *testing.T) {
	needTool(t, "bird", "birdc")
	const r1Config = `router-id: 10.0.1.1
bgp:
  as: 65001
  neighbors:
    - {address: 10.0.1.2, as: 65002, import: accept, export: accept, hold-time: 30, connect-retry: 1,
       families: [ipv4-unicast], max-prefixes: {ipv4: 3, restart: 3}}
`
	five := "route 10.210.0.0/24 unreachable; route 10.210.1.0/24 unreachable; route 10.210.2.0/24 unreachable; " +
		"route 10.210.3.0/24 unreachable; route 10.210.4.0/24 unreachable;"
	l := startLab(t, lab.Topology{
		Nodes: []lab.Node{{Name: "b1"}, {Name: "r1", Router: true, Config: r1Config}},
		Links: []lab.Link{
			{A: "b1", AIf: "r1", AAddrs: []string{"10.0.1.2/24"}, B: "r1", BIf: "b1", BAddrs: []string{"10.0.1.1/24"}},
		},
	})
	r1 := l.NS("r1")
	birdConfig := func(routes string) string {
		return `router id 10.0.1.2;
log stderr all;
protocol device {}
protocol static s4 { ipv4; ` + routes + ` }
protocol bgp r4 {
  local 10.0.1.2 as 65002; neighbor 10.0.1.1 as 65001;
  hold time 30; connect retry time 1; error wait time 1, 2;
  ipv4 { import all; export all; };
}
`
	}
	b1 := startBird(t, l.NS("b1"), birdConfig(five))
	waitFor(t, 20*time.Second, "BIRD told the maximum was reached", func() (bool, string) {
		out, _ := b1.cmd("show protocols all r4")
		return strings.Contains(out, "Maximum number of prefixes reached"), out
	})
	waitFor(t, 10*time.Second, "routerd without the routes, saying why", func() (bool, string) {
		out, _ := ctl(t, l, "r1", nil, "show", "bgp", "neighbor", "10.0.1.2")
		return kernelRoute(r1, "10.210.0.0/24") == "" && strings.Contains(out, "maximum prefixes exceeded") &&
			strings.Contains(out, "ipv4 0 of 3"), out
	})

	// Two routes fewer: after the restart time the session comes back.
	three := "route 10.210.0.0/24 unreachable; route 10.210.1.0/24 unreachable; route 10.210.2.0/24 unreachable;"
	if err := os.WriteFile(filepath.Join(b1.dir, "bird.conf"), []byte(birdConfig(three)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := b1.cmd("configure"); err != nil || !strings.Contains(out, "Reconfigured") {
		t.Fatalf("birdc configure: %v: %s", err, out)
	}
	b1.protoUp(t, "r4", 20*time.Second)
	waitKernelRoute(t, r1, "10.210.2.0/24", "via 10.0.1.2 dev b1", 10*time.Second)
}
