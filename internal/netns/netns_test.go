package netns

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func TestNamespaceVethAndDo(t *testing.T) {
	t.Parallel()
	a := New(t, "nsa")
	b := New(t, "nsb")
	err := AddVeth(
		Veth{NS: a, Name: "va", Addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("2001:db8::1/64")}},
		Veth{NS: b, Name: "vb", Addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.2/24")}},
	)
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.IP("-br", "addr", "show", "va")
	if err != nil || !strings.Contains(out, "192.0.2.1/24") || !strings.Contains(out, "2001:db8::1/64") {
		t.Fatalf("addresses in a: %q %v", out, err)
	}
	if out, err := b.IP("-br", "link", "show", "vb"); err != nil || !strings.Contains(out, "UP") {
		t.Fatalf("peer in b: %q %v", out, err)
	}
	if out, err := a.Output("cat", "/proc/net/route"); err != nil || !strings.Contains(out, "va") {
		t.Fatalf("command inside a: %q %v", out, err)
	}
	host, _ := os.Readlink("/proc/self/ns/net")
	var inside string
	if err := a.Do(func() error {
		inside, _ = os.Readlink("/proc/thread-self/ns/net")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if inside == host || inside == "" {
		t.Fatalf("Do ran in %q, host namespace is %q", inside, host)
	}
	after, _ := os.Readlink("/proc/thread-self/ns/net")
	if after != host {
		t.Fatalf("namespace not restored: %q != %q", after, host)
	}
}

// TestWaitIPv6 checks that after WaitIPv6 the first IPv6 packet across a new
// veth gets its answer: the peer answers the first neighbour solicitation.
// ping's -c 1 and -W 1 make the test fail when the answer comes only after
// the kernel's one-second retransmission.
func TestWaitIPv6(t *testing.T) {
	t.Parallel()
	a := New(t, "nsa")
	b := New(t, "nsb")
	for _, ns := range []*NS{a, b} {
		if err := ns.Run("sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"); err != nil {
			t.Fatal(err)
		}
	}
	err := AddVeth(
		Veth{NS: a, Name: "va", Addrs: []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")}},
		Veth{NS: b, Name: "vb", Addrs: []netip.Prefix{netip.MustParsePrefix("2001:db8::2/64")}},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, end := range []struct {
		ns     *NS
		ifname string
	}{{a, "va"}, {b, "vb"}} {
		if err := end.ns.WaitIPv6(end.ifname, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := a.Output("ping", "-6", "-n", "-c", "1", "-W", "1", "2001:db8::2"); err != nil {
		t.Fatalf("first ping after WaitIPv6: %v\n%s", err, out)
	}
	// An interface that is down never gets there; the error names it.
	if err := a.Run("ip", "link", "add", "vdown", "type", "veth", "peer", "name", "vdown2"); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitIPv6("vdown", 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "vdown") {
		t.Fatalf("WaitIPv6 on a down interface: %v", err)
	}
}
