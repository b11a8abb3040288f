// Package netns creates and enters Linux network namespaces for routerd's
// tests, the lab and the benchmarks. A namespace made here is named and
// bind-mounted under /run/netns (the `ip netns add` convention), so
// `ip netns exec NAME ...` and `ip -n NAME ...` work on it too.
//
// Go code runs inside a namespace through Do, which pins the goroutine to an
// OS thread, switches that thread with setns(2) and switches it back
// afterwards. Sockets opened inside Do stay in the namespace for their whole
// life, so a netlink socket created there keeps talking to that namespace's
// kernel tables from any goroutine.
package netns

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Dir is where named namespaces are bind-mounted.
const Dir = "/run/netns"

// NS is a named network namespace.
type NS struct {
	Name string
}

// UniqueName returns prefix followed by the process id and random hex, short
// enough for interface-style names and unique across parallel tests and runs.
func UniqueName(prefix string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s%d-%s", prefix, os.Getpid(), hex.EncodeToString(b[:]))
}

// Create makes a new named namespace with `ip netns add` and brings its
// loopback interface up.
func Create(name string) (*NS, error) {
	if err := run("ip", "netns", "add", name); err != nil {
		return nil, err
	}
	ns := &NS{Name: name}
	if err := ns.Run("ip", "link", "set", "lo", "up"); err != nil {
		_ = ns.Delete()
		return nil, err
	}
	return ns, nil
}

// Path is the namespace's bind-mount path.
func (ns *NS) Path() string { return filepath.Join(Dir, ns.Name) }

// Delete removes the namespace; interfaces inside it (and veth peers outside
// it) go with it once no process or socket holds it.
func (ns *NS) Delete() error {
	if _, err := os.Stat(ns.Path()); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return run("ip", "netns", "delete", ns.Name)
}

// Do runs fn on a locked OS thread switched into the namespace, then switches
// the thread back. If switching back fails the thread is left locked, so the
// Go runtime discards it when the goroutine ends rather than reuse a thread in
// the wrong namespace.
func (ns *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	// A fresh goroutine keeps the caller's thread untouched even if it is
	// already locked for other reasons.
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: open own namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := os.Open(ns.Path())
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns %s: %w", ns.Name, err)
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns %s: setns: %w", ns.Name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- errors.Join(ferr, fmt.Errorf("netns %s: restore namespace: %w", ns.Name, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Command returns an exec.Cmd that runs name with args inside the namespace
// (through `ip netns exec`).
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Run runs a command inside the namespace and returns an error carrying its
// output if it fails.
func (ns *NS) Run(name string, args ...string) error {
	_, err := ns.Output(name, args...)
	return err
}

// Output runs a command inside the namespace and returns its standard output.
func (ns *NS) Output(name string, args ...string) (string, error) {
	cmd := ns.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("netns %s: %s %s: %w: %s", ns.Name, name,
			strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// IP runs `ip -n NS args...` (quicker than ip netns exec: no mount namespace).
func (ns *NS) IP(args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"-n", ns.Name}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("netns %s: ip %s: %w: %s", ns.Name,
			strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// Veth describes one end of a veth pair.
type Veth struct {
	NS    *NS            // namespace the end lives in
	Name  string         // interface name (at most 15 bytes)
	Addrs []netip.Prefix // addresses to add (IPv6 without duplicate address detection)
	Down  bool           // leave the interface down
}

// AddVeth creates a veth pair between a.NS and b.NS (which may be the same
// namespace), adds the addresses and brings both ends up.
func AddVeth(a, b Veth) error {
	if err := a.NS.Run("ip", "link", "add", a.Name, "type", "veth", "peer", "name", b.Name, "netns", b.NS.Name); err != nil {
		return err
	}
	for _, end := range []Veth{a, b} {
		for _, p := range end.Addrs {
			args := []string{"addr", "add", p.String(), "dev", end.Name}
			if p.Addr().Is6() {
				args = append(args, "nodad")
			}
			if _, err := end.NS.IP(args...); err != nil {
				return err
			}
		}
		if !end.Down {
			if _, err := end.NS.IP("link", "set", end.Name, "up"); err != nil {
				return err
			}
		}
	}
	return nil
}

// WaitIPv6 waits until IPv6 is up on the interface: it has a link-local
// address that is not tentative. The kernel reports a veth's carrier to
// the protocols with a delay of up to a second (link events are batched),
// and until then IPv6 has not joined the solicited-node groups of the
// interface's addresses, so neighbour solicitations for them go
// unanswered and the first packets through wait a whole retransmission
// (a second) for their next hop.
func (ns *NS) WaitIPv6(ifname string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		out, err := ns.IP("-6", "-o", "addr", "show", "dev", ifname, "scope", "link")
		if err != nil {
			return err
		}
		if strings.Contains(out, "fe80:") && !strings.Contains(out, "tentative") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("netns %s: %s has no usable IPv6 link-local address after %v", ns.Name, ifname, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
