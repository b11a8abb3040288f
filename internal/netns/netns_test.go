package netns

import (
	"net/netip"
	"os"
	"strings"
	"testing"
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
