package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/netns"
)

// needTool skips the test when a peer implementation is not installed.
func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s is not installed (Debian: bird2 / gobgpd); BGP interoperability not tested", n)
		}
	}
}

// daemon is a peer process started by a test inside a namespace.
type daemon struct {
	cmd *exec.Cmd
	log string
}

// startProc runs name in ns with its output in logPath and stops it by PID
// when the test ends.
func startProc(t *testing.T, ns *netns.NS, logPath string, name string, args ...string) *daemon {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := ns.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	f.Close()
	d := &daemon{cmd: cmd, log: logPath}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("log of %s:\n%s", name, b)
		}
		// ip netns exec execs the command, so the PID is the daemon's own.
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	return d
}

// bird is a BIRD 2 instance in a namespace.
type bird struct {
	ns   *netns.NS
	dir  string
	sock string
	d    *daemon
	runs int
}

func startBird(t *testing.T, ns *netns.NS, config string) *bird {
	t.Helper()
	dir := t.TempDir()
	b := &bird{ns: ns, dir: dir, sock: filepath.Join(dir, "bird.ctl")}
	b.start(t, config)
	return b
}

// start runs BIRD with config and waits for its control socket; extra
// arguments go on its command line (-R: graceful restart recovery).
func (b *bird) start(t *testing.T, config string, extra ...string) {
	t.Helper()
	conf := filepath.Join(b.dir, "bird.conf")
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	b.runs++
	args := append([]string{"-f", "-c", conf, "-s", b.sock, "-P", filepath.Join(b.dir, "bird.pid")}, extra...)
	b.d = startProc(t, b.ns, filepath.Join(b.dir, fmt.Sprintf("bird%d.log", b.runs)), "bird", args...)
	waitFor(t, 10*time.Second, "bird control socket", func() (bool, string) {
		out, err := b.cmd("show status")
		return err == nil && strings.Contains(out, "Daemon is up"), out
	})
}

// kill ends BIRD with SIGKILL (by its PID): no NOTIFICATION, no withdrawal.
func (b *bird) kill(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(b.d.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = b.d.cmd.Wait()
}

func (b *bird) cmd(args string) (string, error) {
	out, err := b.ns.Command("birdc", append([]string{"-s", b.sock}, strings.Fields(args)...)...).CombinedOutput()
	return string(out), err
}

// protoUp waits until a BIRD protocol is Established.
func (b *bird) protoUp(t *testing.T, name string, within time.Duration) {
	t.Helper()
	waitFor(t, within, "BIRD protocol "+name+" established", func() (bool, string) {
		out, _ := b.cmd("show protocols " + name)
		return strings.Contains(out, "Established"), out
	})
}

// established waits until BIRD shows protocol name Established and
// returns its `show protocols` output.
func (b *bird) established(t *testing.T, name string) string {
	t.Helper()
	var out string
	waitFor(t, 10*time.Second, "BIRD protocol "+name+" line", func() (bool, string) {
		o, err := b.cmd("show protocols " + name)
		lines := strings.Split(strings.TrimSpace(o), "\n")
		last := strings.Fields(lines[len(lines)-1])
		out = o
		return err == nil && len(last) >= 6 && last[0] == name && last[5] == "Established", o
	})
	return out
}

// route returns BIRD's `show route PREFIX all` output ("" when absent).
func (b *bird) route(prefix string) string {
	out, _ := b.cmd("show route " + prefix + " all")
	if !strings.Contains(out, prefix) {
		return ""
	}
	return out
}

// gobgp is a GoBGP instance in a namespace.
type gobgp struct {
	ns   *netns.NS
	port int
}

func startGoBGP(t *testing.T, ns *netns.NS, config string, apiPort int) *gobgp {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "gobgpd.toml")
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &gobgp{ns: ns, port: apiPort}
	startProc(t, ns, filepath.Join(dir, "gobgpd.log"), "gobgpd", "-f", conf, "-p",
		"--api-hosts", fmt.Sprintf("127.0.0.1:%d", apiPort), "--pprof-disable")
	waitFor(t, 10*time.Second, "gobgpd API", func() (bool, string) {
		out, err := g.cmd("global")
		return err == nil, out
	})
	return g
}

func (g *gobgp) cmd(args ...string) (string, error) {
	argv := append([]string{"-u", "127.0.0.1", "-p", fmt.Sprint(g.port)}, args...)
	out, err := g.ns.Command("gobgp", argv...).CombinedOutput()
	return string(out), err
}

// neighborUp waits until GoBGP's session with addr is established.
func (g *gobgp) neighborUp(t *testing.T, addr string, within time.Duration) {
	t.Helper()
	waitFor(t, within, "GoBGP neighbor "+addr+" established", func() (bool, string) {
		out, _ := g.cmd("neighbor", addr)
		return strings.Contains(strings.ToLower(out), "bgp state = established"), out
	})
}

// route returns GoBGP's global RIB line(s) for prefix ("" when absent).
func (g *gobgp) route(family, prefix string) string {
	out, _ := g.cmd("global", "rib", "-a", family, prefix)
	if !strings.Contains(out, prefix) {
		return ""
	}
	return out
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for {
		ok, s := cond()
		if ok {
			if testing.Verbose() {
				t.Logf("%s: ok after %s: %.200q", what, within-time.Until(deadline), s)
			}
			return
		}
		last = s
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last:\n%s", within, what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kernelRoute returns `ip route show PREFIX proto 196` in ns, trimmed.
func kernelRoute(ns *netns.NS, prefix string) string {
	fam := "-4"
	if strings.Contains(prefix, ":") {
		fam = "-6"
	}
	out, _ := ns.IP(fam, "route", "show", prefix, "proto", "196")
	return strings.TrimSpace(out)
}

// waitKernelRoute waits until routerd's kernel route for prefix contains
// want (or, with want "", until there is none).
func waitKernelRoute(t *testing.T, ns *netns.NS, prefix, want string, within time.Duration) {
	t.Helper()
	waitFor(t, within, fmt.Sprintf("kernel route %s %q in %s", prefix, want, ns.Name), func() (bool, string) {
		r := kernelRoute(ns, prefix)
		if want == "" {
			return r == "", r
		}
		return strings.Contains(r, want), r
	})
}
