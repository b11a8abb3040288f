package e2e

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/routerd/routerd/test/lab"
)

// twoRouters is a small topology for daemon behaviour: r1 with a link to r2
// and a static route through it; r2 runs routerd with nothing configured.
func twoRouters(r1Extra, r1Static string) lab.Topology {
	return lab.Topology{
		Nodes: []lab.Node{
			{Name: "r1", Router: true, Config: r1Extra + `static:
  - prefix: 10.50.0.0/16
    via: [10.0.12.2]
  - prefix: 2001:db8:50::/48
    via: [2001:db8:12::2]
` + r1Static},
			{Name: "r2", Router: true, Config: ""},
		},
		Links: []lab.Link{{A: "r1", AIf: "r2", AAddrs: []string{"10.0.12.1/30", "2001:db8:12::1/64"},
			B: "r2", BIf: "r1", BAddrs: []string{"10.0.12.2/30", "2001:db8:12::2/64"}}},
	}
}

var twoWant = want{"main 10.50.0.0/16": "10.0.12.2@r2", "main 2001:db8:50::/48": "2001:db8:12::2@r2"}

func waitLog(t *testing.T, path, needle string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), needle) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("log %s never showed %q:\n%s", path, needle, b)
}

// TestShutdownKeepAndFlush: SIGTERM with on-shutdown keep leaves routerd's
// routes in the kernel; with flush it removes every one of them.
func TestShutdownKeepAndFlush(t *testing.T) {
	l := startLab(t, twoRouters("", ""))
	ns := l.NS("r1")
	waitKernel(t, ns, twoWant)
	if err := l.Stop("r1", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitKernel(t, ns, twoWant) // kept
	if err := l.Start("r1", "kernel:\n  on-shutdown: flush\n"+twoRouters("", "").Nodes[0].Config); err != nil {
		t.Fatal(err)
	}
	waitKernel(t, ns, twoWant) // adopted
	log, _ := os.ReadFile(l.Routers["r1"].Log)
	if !strings.Contains(string(log), "adopted_routes=2") {
		t.Errorf("restart did not adopt the two kept routes:\n%s", log)
	}
	if err := l.Stop("r1", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitKernel(t, ns, want{}) // flushed
	if out, _ := ns.IP("nexthop", "show", "proto", "196"); strings.TrimSpace(out) != "" {
		t.Errorf("nexthop objects left after flush:\n%s", out)
	}
}

// TestSignalsAndMetrics: SIGUSR1 writes the state summary, SIGUSR2 toggles
// debug logging, and the metrics listener serves route counts.
func TestSignalsAndMetrics(t *testing.T) {
	l := startLab(t, twoRouters("metrics:\n  listen: 127.0.0.1:9188\n", ""))
	waitKernel(t, l.NS("r1"), twoWant)
	logPath := l.Routers["r1"].Log
	if err := l.Signal("r1", syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logPath, "msg=state")
	waitLog(t, logPath, "origin=static candidates=2 selected=2")
	if err := l.Signal("r1", syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logPath, "level=DEBUG")

	body := scrape(t, l.NS("r1"), "127.0.0.1:9188")
	for _, s := range []string{
		`routerd_rib_selected_routes{origin="static",table="main"} 2`,
		`routerd_kernel_operations_total{op="route_add"}`,
		`routerd_process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("metrics lack %s", s)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
}

// TestFIBRefusesToStart: routerd does not start when it cannot make its
// shared-memory FIB as configured, and says why, before it touches the
// kernel.
func TestFIBRefusesToStart(t *testing.T) {
	l := startLab(t, twoRouters("", ""))
	if err := l.Stop("r1", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	base := twoRouters("", "").Nodes[0].Config
	for _, c := range []struct{ fib, want string }{
		{"fib:\n  path: /nonexistent-routerd-dir/fib\n", "fib: cannot create /nonexistent-routerd-dir/fib"},
		{"fib:\n  path: /dev/shm/routerd-e2e-nogroup\n  group: no-such-group-routerd\n", `fib.group: group "no-such-group-routerd"`},
	} {
		err := l.Start("r1", c.fib+base)
		if err == nil {
			t.Fatalf("routerd started with %q", c.fib)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("routerd with %q: %v\nwant the reason %q", c.fib, err, c.want)
		}
	}
	if _, err := os.Stat("/dev/shm/routerd-e2e-nogroup"); err == nil {
		os.Remove("/dev/shm/routerd-e2e-nogroup")
		t.Errorf("a refused start left its FIB file behind")
	}
}

// TestKernelRejectsRoute: a route the kernel refuses (a gateway that is not
// on the named interface's network) is reported as not installed with the
// kernel's reason, and the rest of the batch is installed.
func TestKernelRejectsRoute(t *testing.T) {
	l := startLab(t, twoRouters("", `  - prefix: 10.77.0.0/16
    via: [192.0.2.99]
    dev: r2
`))
	waitKernel(t, l.NS("r1"), twoWant)
	out, code := ctl(t, l, "r1", nil, "show", "route", "10.77.0.0/16")
	if code != 0 || !strings.Contains(out, ">!") || !strings.Contains(out, "! kernel: ") {
		t.Fatalf("rejected route not marked with the kernel's reason (exit %d):\n%s", code, out)
	}
	t.Logf("show route of the rejected route:\n%s", out)
}

// TestSharedMemoryFIB: with fib.path set, routerd publishes its selected
// routes in shared memory, and routerctl reads them straight from the file
// (no daemon round trip), following changes made through the API. The
// file has the group and mode the configuration asks for, and the
// daemon's counters and metrics report the FIB feed.
func TestSharedMemoryFIB(t *testing.T) {
	path := "/dev/shm/" + strings.ReplaceAll(t.Name(), "/", "_") + fmt.Sprint(os.Getpid())
	t.Cleanup(func() { os.Remove(path) })
	const gid = 65534
	l := startLab(t, twoRouters(fmt.Sprintf("fib:\n  path: %s\n  group: \"%d\"\n  max-tables: 4\nmetrics:\n  listen: 127.0.0.1:9189\n", path, gid), ""))
	waitKernel(t, l.NS("r1"), twoWant)
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o777 != 0o640 || st.Gid != gid {
		t.Errorf("%s: mode %04o group %d, want 0640 (the default with a group) and group %d", path, st.Mode&0o777, st.Gid, gid)
	}
	fib := func(args ...string) (string, int) {
		t.Helper()
		return ctl(t, l, "r1", nil, append([]string{"fib", "--fib", path}, args...)...)
	}
	var out string
	var code int
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if out, code = fib("lookup", "10.50.3.4", "2001:db8:50::1"); code == 0 &&
			strings.Contains(out, "10.0.12.2") && strings.Contains(out, "2001:db8:12::2") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code != 0 || !strings.Contains(out, "10.0.12.2") || !strings.Contains(out, "2001:db8:12::2") {
		t.Fatalf("fib lookup (exit %d):\n%s", code, out)
	}
	// From here (another namespace than r1's) the next hops' interfaces
	// are shown by index; inside r1's namespace by name.
	if !strings.Contains(out, "dev ifindex ") || !strings.Contains(out, "runs in another network namespace") {
		t.Errorf("fib lookup outside the writer's namespace does not show interface indexes with a note:\n%s", out)
	}
	if in, code := ctl(t, l, "r1", []string{"ip", "netns", "exec", l.NS("r1").Name}, "fib", "--fib", path, "lookup", "10.50.3.4"); code != 0 || !strings.Contains(in, "via 10.0.12.2 dev r2") || strings.Contains(in, "another network namespace") {
		t.Errorf("fib lookup in the writer's namespace (exit %d):\n%s", code, in)
	}
	if out, code = fib("stats"); code != 0 || !strings.Contains(out, "Generation") || !strings.Contains(out, "of 4 slots") {
		t.Fatalf("fib stats (exit %d):\n%s", code, out)
	}
	if out, code = ctl(t, l, "r1", nil, "show", "route", "lookup", "10.50.3.4"); code != 0 || !strings.Contains(out, "10.50.0.0/16") {
		t.Fatalf("show route lookup (exit %d):\n%s", code, out)
	}
	if out, code = ctl(t, l, "r1", nil, "show", "status"); code != 0 || !strings.Contains(out, "fib") || !strings.Contains(out, "change_errors") {
		t.Errorf("show status lacks the FIB counters (exit %d):\n%s", code, out)
	}
	body := scrape(t, l.NS("r1"), "127.0.0.1:9189")
	for _, m := range []string{`routerd_fib_errors_total{op="route"} 0`, `routerd_fib_capacity{pool="tables"} 4`, `routerd_fib_prefixes{family="ipv6"}`} {
		if !strings.Contains(body, m) {
			t.Errorf("metrics lack %s", m)
		}
	}
	// A runtime blackhole more specific than the static route shows at once.
	if out, code = ctl(t, l, "r1", nil, "route", "add", "10.50.3.0/24", "blackhole"); code != 0 {
		t.Fatalf("route add (exit %d): %s", code, out)
	}
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if out, code = fib("lookup", "10.50.3.4"); code == 0 && strings.Contains(out, "blackhole") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("blackhole not in the FIB (exit %d):\n%s", code, out)
}
