package e2e

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/routerd/routerd/test/lab"
)

var r1Want = want{
	"main 10.3.0.0/24":      "10.0.12.2@r2a,10.0.21.2@r2b",
	"main 10.0.23.0/30":     "10.0.12.2@r2a,10.0.21.2@r2b",
	"main 2001:db8:3::/64":  "2001:db8:12::2@r2a,2001:db8:21::2@r2b",
	"main 2001:db8:23::/64": "2001:db8:12::2@r2a,2001:db8:21::2@r2b",
	"main 192.0.2.0/24":     "blackhole",
}

// TestLab builds the default lab: configured routes (IPv4, IPv6, ECMP,
// blackhole, recursive) reach each router's kernel table and traffic
// crosses three routers.
func TestLab(t *testing.T) {
	l := startLab(t, lab.Default())
	waitKernel(t, l.NS("r1"), r1Want)
	waitKernel(t, l.NS("r3"), want{
		"main 10.1.0.0/24":     "10.0.23.1@r2",
		"main 2001:db8:1::/64": "2001:db8:23::1@r2",
		"main 10.0.12.0/30":    "10.0.23.1@r2", // recursive: via 10.1.0.1, resolved through 10.1.0.0/24
	})
	ping(t, l, "hA", "10.3.0.2")
	ping(t, l, "hA", "2001:db8:3::2")

	out, code := ctl(t, l, "r1", nil, "show", "route", "10.3.0.0/24")
	if code != 0 || !strings.Contains(out, "10.0.12.2") || !strings.Contains(out, "10.0.21.2") {
		t.Fatalf("show route 10.3.0.0/24 (exit %d):\n%s", code, out)
	}
	out, code = ctl(t, l, "r1", nil, "show", "route", "lookup", "10.3.0.77")
	if code != 0 || !strings.Contains(out, "10.3.0.0/24") {
		t.Fatalf("lookup (exit %d):\n%s", code, out)
	}
}

// TestRuntimeRoutes adds and deletes a route through routerctl.
func TestRuntimeRoutes(t *testing.T) {
	l := startLab(t, lab.Default())
	waitKernel(t, l.NS("r1"), r1Want)
	out, code := ctl(t, l, "r1", nil, "route", "add", "198.51.100.0/24", "via", "10.0.12.2")
	if code != 0 {
		t.Fatalf("route add (exit %d): %s", code, out)
	}
	w := want{"main 198.51.100.0/24": "10.0.12.2@r2a"}
	for k, v := range r1Want {
		w[k] = v
	}
	waitKernel(t, l.NS("r1"), w)

	// Bad input changes nothing and exits 1 with the reason.
	out, code = ctl(t, l, "r1", nil, "route", "add", "2001:db8:99::/48", "via", "10.0.12.2")
	if code == 0 || !strings.Contains(strings.ToLower(out), "ipv") {
		t.Fatalf("route with a gateway of the wrong family accepted (exit %d): %s", code, out)
	}
	out, code = ctl(t, l, "r1", nil, "route", "del", "198.51.100.0/24")
	if code != 0 {
		t.Fatalf("route del (exit %d): %s", code, out)
	}
	waitKernel(t, l.NS("r1"), r1Want)
}

// TestNonOwnerRefused runs routerctl as nobody: reads need the configured
// group and writes the owner, so both are refused with exit code 4.
func TestNonOwnerRefused(t *testing.T) {
	l := startLab(t, lab.Default())
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	// nobody must be able to reach the socket file at all for the daemon's
	// check to be what refuses it: open the directory and socket to everyone.
	if err := os.Chmod(l.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(l.Routers["r1"].Socket, 0o666); err != nil {
		t.Fatal(err)
	}
	// The test binary lives in a temporary directory nobody can enter too.
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	nobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}
	out, code := ctl(t, l, "r1", nobody, "route", "add", "198.51.100.0/24", "via", "10.0.12.2")
	if code != 4 || !strings.Contains(strings.ToLower(out), "permission") {
		t.Fatalf("write as nobody: exit %d, want 4:\n%s", code, out)
	}
	waitKernel(t, l.NS("r1"), r1Want)
	out, code = ctl(t, l, "r1", nobody, "show", "route")
	if code != 4 {
		t.Fatalf("read as nobody without the group: exit %d, want 4:\n%s", code, out)
	}
}

// TestReloadAppliesDifference changes r1's file and sends SIGHUP: the added
// and removed routes change in the kernel, and nothing else is touched (a
// route monitor in the namespace sees only those two prefixes).
func TestReloadAppliesDifference(t *testing.T) {
	l := startLab(t, lab.Default())
	ns := l.NS("r1")
	waitKernel(t, ns, r1Want)

	mon := ns.Command("ip", "monitor", "route")
	var buf strings.Builder
	mon.Stdout = &buf
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mon.Process.Kill(); _ = mon.Wait() }()
	time.Sleep(300 * time.Millisecond) // let the monitor subscribe

	cfg := strings.Replace(lab.Default().Nodes[1].Config, `  - prefix: 192.0.2.0/24         # documentation space: dropped here
    type: blackhole
`, `  - prefix: 198.51.100.0/24
    via: [10.0.12.2]
`, 1)
	if _, err := l.WriteConfig("r1", cfg); err != nil {
		t.Fatal(err)
	}
	if err := l.Signal("r1", syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	w := want{}
	for k, v := range r1Want {
		w[k] = v
	}
	delete(w, "main 192.0.2.0/24")
	w["main 198.51.100.0/24"] = "10.0.12.2@r2a"
	waitKernel(t, ns, w)
	time.Sleep(300 * time.Millisecond)
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		// Only routerd's routes count; the kernel adds its own (IPv6
		// link-local) at any time.
		if line == "" || !strings.Contains(line, "proto 196") {
			continue
		}
		if !strings.Contains(line, "192.0.2.0/24") && !strings.Contains(line, "198.51.100.0/24") {
			t.Errorf("reload touched a route that did not change: %s", line)
		}
	}

	// An invalid file is refused and changes nothing.
	if _, err := l.WriteConfig("r1", "static:\n  - prefix: 10.9.0.0/33\n    via: [10.0.12.2]\n"); err != nil {
		t.Fatal(err)
	}
	if err := l.Signal("r1", syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	waitKernel(t, ns, w)
	log, _ := os.ReadFile(l.Routers["r1"].Log)
	if !strings.Contains(string(log), "r1.yaml:") {
		t.Errorf("refused reload did not name the file and line; log:\n%s", log)
	}
}

// TestKillAndRestart kills routerd with SIGKILL, adds a foreign route, and
// starts routerd with a different configuration: the kernel ends up equal to
// the new RIB, and the foreign route is untouched.
func TestKillAndRestart(t *testing.T) {
	l := startLab(t, lab.Default())
	ns := l.NS("r1")
	waitKernel(t, ns, r1Want)
	if err := l.Stop("r1", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.IP("route", "add", "203.0.113.0/24", "via", "10.0.12.2", "proto", "static"); err != nil {
		t.Fatal(err)
	}
	cfg := `static:
  - prefix: 10.3.0.0/24
    via: [10.0.21.2]
  - prefix: 2001:db8:3::/64
    via: [2001:db8:12::2, 2001:db8:21::2]
  - prefix: 100.64.0.0/10
    type: unreachable
`
	if err := l.Start("r1", cfg); err != nil {
		t.Fatal(err)
	}
	waitKernel(t, ns, want{
		"main 10.3.0.0/24":     "10.0.21.2@r2b",
		"main 2001:db8:3::/64": "2001:db8:12::2@r2a,2001:db8:21::2@r2b",
		"main 100.64.0.0/10":   "unreachable",
	})
	foreign := kernelRoutes(t, ns, "static")
	if r, ok := foreign["main 203.0.113.0/24"]; !ok || r.hops() != "10.0.12.2@r2a" {
		t.Fatalf("foreign route changed: %+v", foreign)
	}
	// And routerd shows it, read-only, with its owner's protocol.
	out, code := ctl(t, l, "r1", nil, "show", "route", "203.0.113.0/24")
	if code != 0 || !strings.Contains(out, "kernel") {
		t.Fatalf("foreign route not shown as kernel (exit %d):\n%s", code, out)
	}
}

// TestLinkDownUp takes one of r1's two links to r2 down and up: the ECMP
// routes shrink to the remaining link and grow back.
func TestLinkDownUp(t *testing.T) {
	l := startLab(t, lab.Default())
	ns := l.NS("r1")
	waitKernel(t, ns, r1Want)
	if _, err := ns.IP("link", "set", "r2b", "down"); err != nil {
		t.Fatal(err)
	}
	waitKernel(t, ns, want{
		"main 10.3.0.0/24":      "10.0.12.2@r2a",
		"main 10.0.23.0/30":     "10.0.12.2@r2a",
		"main 2001:db8:3::/64":  "2001:db8:12::2@r2a",
		"main 2001:db8:23::/64": "2001:db8:12::2@r2a",
		"main 192.0.2.0/24":     "blackhole",
	})
	ping(t, l, "hA", "10.3.0.2")
	if _, err := ns.IP("link", "set", "r2b", "up"); err != nil {
		t.Fatal(err)
	}
	waitKernel(t, ns, r1Want)
	ping(t, l, "hA", "2001:db8:3::2")
}

// TestBadConfigRefused: routerd does not start on an invalid file and says
// where the problem is.
func TestBadConfigRefused(t *testing.T) {
	skipUnlessRoot(t)
	dir := t.TempDir()
	path := dir + "/bad.yaml"
	if err := os.WriteFile(path, []byte("static:\n  - prefix: 10.0.0.1/8\n    via: [10.0.0.2]\n    colour: blue\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(routerd(), "-config", path).CombinedOutput()
	if err == nil {
		t.Fatalf("routerd started on a bad file:\n%s", out)
	}
	for _, s := range []string{"bad.yaml:2", "host bits", "bad.yaml:4", "colour"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("message lacks %q:\n%s", s, out)
		}
	}
}
