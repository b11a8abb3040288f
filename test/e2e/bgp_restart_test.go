package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/routerd/routerd/test/lab"
)

// The graceful restart lab: BIRD (AS 65002, graceful restart on) — routerd
// r1 (AS 65001).
const grR1Config = `router-id: 10.0.1.1
bgp:
  as: 65001
  graceful-restart-time: 60
  neighbors:
    - {address: 10.0.1.2, as: 65002, import: accept, export: accept, hold-time: 30, connect-retry: 1, families: [ipv4-unicast]}
`

func grBirdConfig(routes string) string {
	return `router id 10.0.1.2;
log stderr all;
protocol device {}
protocol static s4 { ipv4; ` + routes + ` }
protocol bgp r4 {
  local 10.0.1.2 as 65002; neighbor 10.0.1.1 as 65001;
  hold time 30; connect retry time 1;
  graceful restart on; graceful restart time 30;
  ipv4 { import all; export all; };
}
`
}

// TestBGPGracefulRestartBird kills BIRD (SIGKILL: no NOTIFICATION) and
// checks that routerd keeps its routes in the kernel while it is away,
// then restarts it in graceful restart recovery with one route fewer: the
// route it sends again stays, the one it no longer has is swept at its
// End-of-RIB.
func TestBGPGracefulRestartBird(t *testing.T) {
	needTool(t, "bird", "birdc")
	l := startLab(t, lab.Topology{
		Nodes: []lab.Node{{Name: "bird"}, {Name: "r1", Router: true, Config: grR1Config}},
		Links: []lab.Link{{A: "bird", AIf: "r1", AAddrs: []string{"10.0.1.2/24"}, B: "r1", BIf: "bird", BAddrs: []string{"10.0.1.1/24"}}},
	})
	r1 := l.NS("r1")
	b := startBird(t, l.NS("bird"), grBirdConfig("route 10.200.0.0/24 unreachable; route 10.201.0.0/24 unreachable;"))
	b.protoUp(t, "r4", 20*time.Second)
	waitKernelRoute(t, r1, "10.200.0.0/24", "via 10.0.1.2 dev bird", 10*time.Second)
	waitKernelRoute(t, r1, "10.201.0.0/24", "via 10.0.1.2 dev bird", 10*time.Second)

	routerdLog := func() string {
		out, _ := os.ReadFile(l.Routers["r1"].Log)
		return string(out)
	}
	b.kill(t)
	waitFor(t, 10*time.Second, "routerd keeps BIRD's routes as stale", func() (bool, string) {
		lg := routerdLog()
		return strings.Contains(lg, "keeping the neighbor's routes as stale"), lg
	})
	for _, p := range []string{"10.200.0.0/24", "10.201.0.0/24"} {
		if r := kernelRoute(r1, p); !strings.Contains(r, "via 10.0.1.2") {
			t.Errorf("%s left the kernel while BIRD restarts: %q", p, r)
		}
	}

	b.start(t, grBirdConfig("route 10.200.0.0/24 unreachable;"), "-R")
	b.protoUp(t, "r4", 20*time.Second)
	waitKernelRoute(t, r1, "10.201.0.0/24", "", 20*time.Second)
	if r := kernelRoute(r1, "10.200.0.0/24"); !strings.Contains(r, "via 10.0.1.2") {
		t.Errorf("10.200.0.0/24 lost across the restart: %q", r)
	}
	if lg := routerdLog(); !strings.Contains(lg, "why=End-of-RIB") {
		t.Errorf("stale routes not swept at End-of-RIB:\n%s", lg)
	}
}
