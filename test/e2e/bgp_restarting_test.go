package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/routerd/routerd/test/lab"
)

// grPreserveConfig is r1 as a restarting speaker that originates networks.
func grPreserveConfig(networks string) string {
	return `router-id: 10.0.1.1
bgp:
  as: 65001
  graceful-restart-time: 60
  graceful-restart-preserve: true
  networks: [` + networks + `]
  neighbors:
    - {address: 10.0.1.2, as: 65002, import: accept, export: accept, hold-time: 30, connect-retry: 1, families: [ipv4-unicast]}
`
}

// TestBGPGracefulRestartRouterd restarts routerd (SIGTERM, start again)
// with graceful-restart-preserve next to BIRD with graceful restart on:
// the routes learned from BIRD stay in the kernel while routerd is down
// and while it comes up, BIRD keeps routerd's routes as stale, and once
// BIRD's End-of-RIB ended routerd's deferral the kernel holds exactly
// what BIRD sends now, and BIRD exactly what routerd sends now.
func TestBGPGracefulRestartRouterd(t *testing.T) {
	needTool(t, "bird", "birdc")
	l := startLab(t, lab.Topology{
		Nodes: []lab.Node{{Name: "bird"}, {Name: "r1", Router: true, Config: grPreserveConfig("10.98.0.0/24, 10.99.0.0/24")}},
		Links: []lab.Link{{A: "bird", AIf: "r1", AAddrs: []string{"10.0.1.2/24"}, B: "r1", BIf: "bird", BAddrs: []string{"10.0.1.1/24"}}},
	})
	r1 := l.NS("r1")
	// BIRD traces its protocol events, graceful restart among them.
	birdConf := strings.Replace(grBirdConfig("route 10.200.0.0/24 unreachable; route 10.201.0.0/24 unreachable;"),
		"graceful restart on;", "graceful restart on; debug { states, events };", 1)
	b := startBird(t, l.NS("bird"), birdConf)
	b.protoUp(t, "r4", 20*time.Second)
	waitKernelRoute(t, r1, "10.200.0.0/24", "via 10.0.1.2 dev bird", 10*time.Second)
	waitKernelRoute(t, r1, "10.201.0.0/24", "via 10.0.1.2 dev bird", 10*time.Second)
	for _, p := range []string{"10.98.0.0/24", "10.99.0.0/24"} {
		waitFor(t, 10*time.Second, "BIRD has "+p, func() (bool, string) { r := b.route(p); return r != "", r })
	}
	logPath := l.Routers["r1"].Log
	routerdLog := func() string {
		out, _ := os.ReadFile(logPath)
		return string(out)
	}
	birdLog := func() string {
		out, _ := os.ReadFile(filepath.Join(b.dir, "bird1.log"))
		return string(out)
	}
	kept := func(when string) {
		t.Helper()
		for _, p := range []string{"10.200.0.0/24", "10.201.0.0/24"} {
			if r := kernelRoute(r1, p); !strings.Contains(r, "via 10.0.1.2") {
				t.Errorf("%s: %s not in the kernel: %q", when, p, r)
			}
		}
	}

	if err := l.Stop("r1", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopLog, _ := os.ReadFile(logPath)
	if !strings.Contains(string(stopLog), "without NOTIFICATION") {
		t.Errorf("routerd did not close its sessions for a graceful restart:\n%s", stopLog)
	}
	// While routerd is away BIRD keeps its routes (stale), and the kernel
	// keeps BIRD's; BIRD no longer has 10.201.0.0/24 when routerd is back.
	for i := range 5 {
		kept("routerd down")
		for _, p := range []string{"10.98.0.0/24", "10.99.0.0/24"} {
			if b.route(p) == "" {
				t.Errorf("routerd down (%d): BIRD dropped routerd's %s", i, p)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, err := os.ReadFile(filepath.Join(b.dir, "bird.conf")); err == nil {
		conf := strings.Replace(string(out), " route 10.201.0.0/24 unreachable;", "", 1)
		if err := os.WriteFile(filepath.Join(b.dir, "bird.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := b.cmd("configure"); err != nil {
		t.Fatalf("birdc configure: %v %s", err, out)
	}
	kept("BIRD reconfigured")

	// Back with one network fewer: the kernel keeps BIRD's routes while
	// routerd comes up and defers; at BIRD's End-of-RIB the deferral ends,
	// 10.201.0.0/24 (not sent again) leaves the kernel, and routerd's
	// End-of-RIB makes BIRD drop 10.98.0.0/24.
	before := len(routerdLog())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 40; i++ {
			for _, p := range []string{"10.200.0.0/24"} {
				if r := kernelRoute(r1, p); !strings.Contains(r, "via 10.0.1.2") {
					t.Errorf("routerd starting (%d): %s not in the kernel: %q", i, p, r)
				}
			}
			time.Sleep(25 * time.Millisecond)
		}
	}()
	if err := l.Start("r1", grPreserveConfig("10.99.0.0/24")); err != nil {
		t.Fatal(err)
	}
	<-done
	waitFor(t, 30*time.Second, "routerd's deferral ends at BIRD's End-of-RIB", func() (bool, string) {
		lg := routerdLog()[before:]
		return strings.Contains(lg, "deferral ended") && strings.Contains(lg, `why="End-of-RIB from every neighbor"`), lg
	})
	lg := routerdLog()[before:]
	for _, want := range []string{"own routes found in the kernel", "restarted with its forwarding state preserved"} {
		if !strings.Contains(lg, want) {
			t.Errorf("routerd log lacks %q:\n%s", want, lg)
		}
	}
	waitKernelRoute(t, r1, "10.201.0.0/24", "", 10*time.Second)
	if r := kernelRoute(r1, "10.200.0.0/24"); !strings.Contains(r, "via 10.0.1.2") {
		t.Errorf("10.200.0.0/24 lost across the restart: %q", r)
	}
	waitFor(t, 10*time.Second, "BIRD drops routerd's stale 10.98.0.0/24", func() (bool, string) {
		return b.route("10.98.0.0/24") == "", b.route("10.98.0.0/24")
	})
	if b.route("10.99.0.0/24") == "" {
		t.Errorf("BIRD lost routerd's 10.99.0.0/24")
	}
	if bl := strings.ToLower(birdLog()); !strings.Contains(bl, "graceful restart") {
		t.Errorf("BIRD did not log a graceful restart:\n%s", bl)
	}
}
