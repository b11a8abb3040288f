package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/routerd/routerd/internal/bgp"
	"github.com/routerd/routerd/internal/config"
	"github.com/routerd/routerd/internal/netns"
	"github.com/routerd/routerd/internal/rib"
)

// router is a running implementation under test.
type router interface {
	// pid is the process whose memory is measured (0: in-process).
	pid() int
	stop()
}

// impl starts one implementation in namespace b, writing its files to dir.
type impl struct {
	name  string
	start func(b *netns.NS, dir string, fib bool) (router, error)
}

// proc is a router process started by the benchmark, stopped by its PID.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) stop() {
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	live.Delete(p)
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startProc runs name in ns with output to dir/log. `ip netns exec` execs
// the command, so the PID is the router's own.
func startProc(ns *netns.NS, dir, log string, name string, args ...string) (*proc, error) {
	path := filepath.Join(dir, log)
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := ns.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), log: path}
	live.Store(p, true)
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// The four sessions every router has: tester and monitor, each over IPv4
// (IPv4 unicast) and IPv6 (IPv6 unicast) transport.
type neighbor struct {
	addr string
	as   int
	fam  string // ipv4 or ipv6
}

var neighbors = []neighbor{
	{testerV4.String(), testerAS, "ipv4"}, {testerV6.String(), testerAS, "ipv6"},
	{monitorV4.String(), monitorAS, "ipv4"}, {monitorV6.String(), monitorAS, "ipv6"},
}

func routerdConfig(dir string, fib bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "router-id: %s\nlog:\n  level: warn\napi:\n  socket: %s\nkernel:\n  enabled: %v\n",
		routerV4, filepath.Join(dir, "routerd.sock"), fib)
	fmt.Fprintf(&b, "bgp:\n  as: %d\n  neighbors:\n", routerAS)
	for _, n := range neighbors {
		fmt.Fprintf(&b, "    - {address: %s, as: %d, passive: true, import: accept, export: accept, families: [%s-unicast]}\n",
			n.addr, n.as, n.fam)
	}
	return b.String()
}

func startRouterd(bin string) func(*netns.NS, string, bool) (router, error) {
	return func(ns *netns.NS, dir string, fib bool) (router, error) {
		conf := filepath.Join(dir, "routerd.yaml")
		if err := os.WriteFile(conf, []byte(routerdConfig(dir, fib)), 0o644); err != nil {
			return nil, err
		}
		return startProc(ns, dir, "routerd.log", bin, "-config", conf)
	}
}

func birdConfig(fib bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "router id %s;\nprotocol device {}\n", routerV4)
	if fib {
		b.WriteString("protocol kernel k4 { ipv4 { export all; }; }\nprotocol kernel k6 { ipv6 { export all; }; }\n")
	}
	for i, n := range neighbors {
		local := routerV4
		if n.fam == "ipv6" {
			local = routerV6
		}
		fmt.Fprintf(&b, "protocol bgp n%d {\n  local %s as %d; neighbor %s as %d; passive on;\n  %s { import all; export all; };\n}\n",
			i, local, routerAS, n.addr, n.as, n.fam)
	}
	return b.String()
}

func startBird(ns *netns.NS, dir string, fib bool) (router, error) {
	conf := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(conf, []byte(birdConfig(fib)), 0o644); err != nil {
		return nil, err
	}
	return startProc(ns, dir, "bird.log", "bird", "-f", "-c", conf, "-s", filepath.Join(dir, "bird.ctl"),
		"-P", filepath.Join(dir, "bird.pid"))
}

func gobgpConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[global.config]\n  as = %d\n  router-id = %q\n  port = 179\n", routerAS, routerV4.String())
	for _, n := range neighbors {
		fmt.Fprintf(&b, "[[neighbors]]\n  [neighbors.config]\n    neighbor-address = %q\n    peer-as = %d\n", n.addr, n.as)
		b.WriteString("  [neighbors.transport.config]\n    passive-mode = true\n")
		fmt.Fprintf(&b, "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"%s-unicast\"\n", n.fam)
	}
	return b.String()
}

func startGoBGP(ns *netns.NS, dir string, _ bool) (router, error) {
	conf := filepath.Join(dir, "gobgpd.toml")
	if err := os.WriteFile(conf, []byte(gobgpConfig()), 0o644); err != nil {
		return nil, err
	}
	return startProc(ns, dir, "gobgpd.log", "gobgpd", "-f", conf, "-p", "-l", "warn",
		"--api-hosts", "127.0.0.1:50051", "--pprof-disable")
}

// inproc is routerd's BGP speaker and RIB running inside the benchmark
// process (for -cpuprofile / -memprofile): no daemon, no kernel.
type inproc struct {
	s *bgp.Speaker
	r *rib.RIB
}

func (p *inproc) pid() int { return 0 }

// settle packs the tables as the daemon does once a burst has settled,
// so that a heap profile shows what the daemon keeps.
func (p *inproc) settle() {
	p.r.Compact()
	p.s.Compact()
}
func (p *inproc) stop() { p.s.Stop("benchmark done", 5*time.Second) }

func startInproc(ns *netns.NS, dir string, _ bool) (router, error) {
	cfg, err := config.Parse("routerd.yaml", []byte(routerdConfig(dir, false)))
	if err != nil {
		return nil, err
	}
	r := rib.New()
	var ifindex int32
	if err := ns.Do(func() error {
		ifc, err := netInterface("t0")
		ifindex = int32(ifc)
		return err
	}); err != nil {
		return nil, err
	}
	r.SetLinkUp(ifindex, true)
	conn := r.NewSource(rib.OriginConnected, "connected")
	if err := conn.Apply([]rib.Route{
		{Table: rib.TableMain, Prefix: mustPrefix("10.0.0.0/24"), NextHops: []rib.NextHop{{Ifindex: ifindex}}},
		{Table: rib.TableMain, Prefix: mustPrefix("2001:db8::/64"), NextHops: []rib.NextHop{{Ifindex: ifindex}}},
	}, nil); err != nil {
		return nil, err
	}
	s := bgp.New(cfg.BGP, &cfg.Policy, bgp.Options{RIB: r, Distances: cfg.Distances, InNS: ns.Do,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.Start(context.Background()); err != nil {
		return nil, err
	}
	return &inproc{s: s, r: r}, nil
}
