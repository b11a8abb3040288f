// Package lab builds routerd labs: network namespaces joined by veth pairs,
// a routerd in each router namespace with its own configuration, socket and
// log. The `routerlab` command and the end-to-end tests share it.
package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/routerd/routerd/internal/netns"
)

// Node is one namespace of a lab. A router runs routerd with Config; a host
// only gets the routes in HostRoutes (as `ip route add` arguments).
type Node struct {
	Name       string
	Router     bool
	Config     string   // routerd YAML; the lab adds api.socket
	HostRoutes []string // e.g. "default via 10.1.0.1"
}

// Link is a veth pair between two nodes.
type Link struct {
	A, B           string // node names
	AIf, BIf       string // interface names
	AAddrs, BAddrs []string
}

// Topology is what a lab is built from.
type Topology struct {
	Nodes []Node
	Links []Link
}

// Router is a running routerd inside a lab namespace.
type Router struct {
	Node   string `json:"node"`
	NS     string `json:"netns"`
	PID    int    `json:"pid"`
	Config string `json:"config"`
	Socket string `json:"socket"`
	Log    string `json:"log"`
}

// Lab is a built lab. Its state is kept in Dir/lab.json so that another
// process (`routerlab down`) can tear it down.
type Lab struct {
	Dir        string             `json:"dir"`
	Namespaces map[string]string  `json:"namespaces"` // node name -> netns name
	Routers    map[string]*Router `json:"routers"`
	Routerd    string             `json:"routerd"`
	nss        map[string]*netns.NS
}

// Up builds topo: namespaces named prefix-node, links, addresses, host
// routes, forwarding on routers, and a routerd (the binary at routerd) per
// router. On any failure it removes what it made.
func Up(topo Topology, dir, prefix, routerd string) (l *Lab, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	l = &Lab{Dir: dir, Namespaces: map[string]string{}, Routers: map[string]*Router{}, Routerd: routerd, nss: map[string]*netns.NS{}}
	defer func() {
		if err != nil {
			l.Down()
			l = nil
		}
	}()
	for _, n := range topo.Nodes {
		name := prefix + "-" + n.Name
		ns, err := netns.Create(name)
		if err != nil {
			return l, err
		}
		l.nss[n.Name] = ns
		l.Namespaces[n.Name] = name
		if err := l.save(); err != nil {
			return l, err
		}
		// No duplicate address detection: a link-local address stays
		// tentative for a second otherwise, and neighbour discovery with it.
		for _, s := range []string{"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"} {
			if err := ns.Run("sysctl", "-qw", s); err != nil {
				return l, err
			}
		}
		if n.Router {
			for _, s := range []string{"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
				// Routers keep IPv6 addresses across a link flap, as IPv4 does.
				"net.ipv6.conf.all.keep_addr_on_down=1", "net.ipv6.conf.default.keep_addr_on_down=1"} {
				if err := ns.Run("sysctl", "-qw", s); err != nil {
					return l, err
				}
			}
		}
	}
	for _, lk := range topo.Links {
		a, b := l.nss[lk.A], l.nss[lk.B]
		if a == nil || b == nil {
			return l, fmt.Errorf("link %s-%s: unknown node", lk.A, lk.B)
		}
		aa, err := prefixes(lk.AAddrs)
		if err != nil {
			return l, err
		}
		ba, err := prefixes(lk.BAddrs)
		if err != nil {
			return l, err
		}
		if err := netns.AddVeth(netns.Veth{NS: a, Name: lk.AIf, Addrs: aa}, netns.Veth{NS: b, Name: lk.BIf, Addrs: ba}); err != nil {
			return l, err
		}
	}
	// Routers start on links where IPv6 already works, as on a real
	// network; otherwise the first IPv6 packets wait a second for their
	// next hop (see netns.WaitIPv6).
	for _, lk := range topo.Links {
		for _, end := range []struct{ ns, ifname string }{{lk.A, lk.AIf}, {lk.B, lk.BIf}} {
			if err := l.nss[end.ns].WaitIPv6(end.ifname, 5*time.Second); err != nil {
				return l, err
			}
		}
	}
	for _, n := range topo.Nodes {
		for _, r := range n.HostRoutes {
			// "-6 default via ..." puts the family flag where ip wants it.
			args := strings.Fields(r)
			var fam []string
			if len(args) > 0 && (args[0] == "-4" || args[0] == "-6") {
				fam, args = []string{args[0]}, args[1:]
			}
			if _, err := l.nss[n.Name].IP(append(append(fam, "route", "add"), args...)...); err != nil {
				return l, err
			}
		}
	}
	for _, n := range topo.Nodes {
		if n.Router {
			if err := l.Start(n.Name, n.Config); err != nil {
				return l, err
			}
		}
	}
	return l, nil
}

func prefixes(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// NS returns the namespace of a node.
func (l *Lab) NS(node string) *netns.NS {
	if ns := l.nss[node]; ns != nil {
		return ns
	}
	if name, ok := l.Namespaces[node]; ok {
		return &netns.NS{Name: name}
	}
	return nil
}

// WriteConfig writes a router's configuration file, adding the lab's socket
// path, and returns its path.
func (l *Lab) WriteConfig(node, config string) (string, error) {
	sock := filepath.Join(l.Dir, node+".sock")
	path := filepath.Join(l.Dir, node+".yaml")
	full := fmt.Sprintf("api:\n  socket: %s\n%s", sock, config)
	return path, os.WriteFile(path, []byte(full), 0o644)
}

// Start writes the node's configuration and starts routerd in its
// namespace, waiting until its API socket answers.
func (l *Lab) Start(node, config string) error {
	ns := l.NS(node)
	if ns == nil {
		return fmt.Errorf("start: unknown node %s", node)
	}
	path, err := l.WriteConfig(node, config)
	if err != nil {
		return err
	}
	logPath := filepath.Join(l.Dir, node+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := ns.Command(l.Routerd, "-config", path)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a terminal's Ctrl-C on `routerlab up` must not
	// take the lab's daemons down.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start routerd in %s: %w", ns.Name, err)
	}
	r := &Router{Node: node, NS: ns.Name, PID: cmd.Process.Pid, Config: path, Socket: filepath.Join(l.Dir, node+".sock"), Log: logPath}
	l.Routers[node] = r
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := l.save(); err != nil {
		return err
	}
	deadline := time.After(20 * time.Second)
	for {
		if c, err := dialUnix(r.Socket); err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("routerd in %s exited (%v):\n%s", ns.Name, err, log)
		case <-deadline:
			return fmt.Errorf("routerd in %s: no API socket at %s after 20s (log %s)", ns.Name, r.Socket, logPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Signal sends sig to a node's routerd.
func (l *Lab) Signal(node string, sig syscall.Signal) error {
	r := l.Routers[node]
	if r == nil {
		return fmt.Errorf("no routerd on %s", node)
	}
	return syscall.Kill(r.PID, sig)
}

// Stop sends sig to a node's routerd and waits up to 15 s for it to exit.
func (l *Lab) Stop(node string, sig syscall.Signal) error {
	r := l.Routers[node]
	if r == nil {
		return nil
	}
	if err := syscall.Kill(r.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	for i := 0; i < 300; i++ {
		if !alive(r.PID) {
			delete(l.Routers, node)
			return l.save()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("routerd %d in %s did not exit", r.PID, r.NS)
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// Down stops every routerd (SIGTERM, then SIGKILL) and removes the
// namespaces. It continues past errors and returns the first.
func (l *Lab) Down() error {
	var first error
	for node, r := range l.Routers {
		if err := l.Stop(node, syscall.SIGTERM); err != nil {
			_ = syscall.Kill(r.PID, syscall.SIGKILL)
			if first == nil {
				first = err
			}
		}
	}
	for node, name := range l.Namespaces {
		ns := l.NS(node)
		if ns == nil {
			ns = &netns.NS{Name: name}
		}
		if err := ns.Delete(); err != nil && first == nil {
			first = err
		}
	}
	l.Namespaces = map[string]string{}
	_ = os.Remove(filepath.Join(l.Dir, "lab.json"))
	return first
}

func (l *Lab) save() error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(l.Dir, "lab.json"), b, 0o644)
}

// Load reads the state a lab saved in dir.
func Load(dir string) (*Lab, error) {
	b, err := os.ReadFile(filepath.Join(dir, "lab.json"))
	if err != nil {
		return nil, err
	}
	l := &Lab{nss: map[string]*netns.NS{}}
	if err := json.Unmarshal(b, l); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "lab.json"), err)
	}
	return l, nil
}

// Exec runs a command inside a node's namespace and returns its combined output.
func (l *Lab) Exec(node string, name string, args ...string) (string, error) {
	ns := l.NS(node)
	if ns == nil {
		return "", fmt.Errorf("unknown node %s", node)
	}
	cmd := ns.Command(name, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
