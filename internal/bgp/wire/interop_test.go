package wire

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestInteropGoBGP speaks to a real GoBGP (Debian's gobgpd) over loopback
// with this codec: OPEN and capabilities both ways, routes announced by us
// (4-octet AS path, communities of three kinds, IPv6 with a link-local next
// hop) checked in GoBGP's RIB, routes announced by GoBGP decoded here, and
// a shutdown communication at the end.
func TestInteropGoBGP(t *testing.T) {
	t.Run("4-octet AS", func(t *testing.T) { interopGoBGP(t, 4200000001) })
	// Without the 4-octet AS capability: AS_TRANS and AS4_PATH both ways.
	t.Run("2-octet AS", func(t *testing.T) { interopGoBGP(t, 65001) })
}

func interopGoBGP(t *testing.T, myAS uint32) {
	if testing.Short() {
		t.Skip("short")
	}
	gobgpd, err1 := exec.LookPath("gobgpd")
	gobgp, err2 := exec.LookPath("gobgp")
	if err1 != nil || err2 != nil {
		t.Skip("gobgpd/gobgp not installed (Debian package gobgpd)")
	}
	bgpPort, apiPort := freePort(t), freePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "gobgpd.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`
[global.config]
  as = 65000
  router-id = "192.0.2.254"
  port = %d
  local-address-list = ["127.0.0.1"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.1"
    peer-as = %d
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
`, bgpPort, myAS)), 0o644)
	logf, _ := os.Create(filepath.Join(dir, "gobgpd.log"))
	cmd := exec.Command(gobgpd, "-f", conf, "-p", "--api-hosts", fmt.Sprintf("127.0.0.1:%d", apiPort), "--pprof-disable")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("gobgpd log:\n%s", b)
		}
	})
	cli := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(gobgp, append([]string{"-p", fmt.Sprint(apiPort)}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("gobgp %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	var c net.Conn
	var err error
	for i := 0; i < 100; i++ {
		if c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", bgpPort)); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))

	open := NewOpen(myAS, 90, netip.MustParseAddr("192.0.2.1"))
	open.Caps.HasAS4 = myAS > 0xffff
	open.Caps.Multiprotocol = []Family{IPv4Unicast, IPv6Unicast}
	open.Caps.RouteRefresh = true
	msg, err := open.AppendMessage(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(AppendKeepalive(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, MaxMessageLen)
	h, body, err := ReadMessage(c, buf, MaxMessageLen)
	if err != nil || h.Type != TypeOpen {
		t.Fatalf("%v %v", h, err)
	}
	peer, err := DecodeOpen(body)
	if err != nil {
		t.Fatal(err)
	}
	opts := Negotiate(&open.Caps, &peer.Caps, true)
	if peer.PeerAS() != 65000 || !peer.Caps.HasAS4 || opts.AS4 != (myAS > 0xffff) || !peer.Caps.hasMP(IPv6Unicast) || peer.ID != netip.MustParseAddr("192.0.2.254") {
		t.Fatalf("GoBGP's OPEN: %+v", peer)
	}
	t.Logf("negotiated %+v with GoBGP capabilities %+v", opts, peer.Caps)

	// Our routes.
	a := Attrs{
		Present:          AttrMask(0).With(AttrOrigin).With(AttrASPath).With(AttrMED).With(AttrAggregator),
		ASPath:           MakeASPath(ASSegment{ASSequence, []uint32{myAS, 65010, 4200000002}}),
		MED:              50,
		NextHop:          netip.MustParseAddr("192.0.2.1"),
		Communities:      MakeCommunities(65010<<16|7, GracefulShutdown),
		ExtCommunities:   MakeExtCommunities(ExtCommunity{0x00, 0x02, 0xfd, 0xf2, 0, 0, 0, 9}),
		LargeCommunities: MakeLargeCommunities(LargeCommunity{4200000001, 1, 2}),
		Aggregator:       Aggregator{4200000003, netip.MustParseAddr("192.0.2.3")},
		Unknown:          MakeRawAttrs(RawAttr{FlagOptional | FlagTransitive, 250, "hi"}),
	}
	var v4, v6 []Prefix
	for i := 0; i < 3000; i++ {
		v4 = append(v4, PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)))
	}
	for i := 0; i < 1000; i++ {
		v6 = append(v6, PrefixFrom(netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, byte(i >> 8), byte(i)}), 48)))
	}
	a6 := a
	a6.NextHop, a6.LinkLocal = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::1")
	enc := NewEncoder(opts)
	var out []byte
	if out, err = enc.AppendAnnounce(out, &a, v4); err != nil {
		t.Fatal(err)
	}
	if out, err = enc.AppendAnnounce(out, &a6, v6); err != nil {
		t.Fatal(err)
	}
	out = enc.AppendWithdraw(out, v4[2990:])
	out = AppendEndOfRIB(out, IPv4Unicast)
	out = AppendEndOfRIB(out, IPv6Unicast)
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}

	// GoBGP's routes, then read until both of them arrived.
	cli("global", "rib", "-a", "ipv4", "add", "198.51.100.0/24", "origin", "egp", "community", "65000:1", "large-community", "65000:3:4", "med", "5",
		"aspath", "4200000009,65020", "aggregator", "4200000008:192.0.2.8")
	cli("global", "rib", "-a", "ipv6", "add", "2001:db8:99::/48")
	dec := NewDecoder(opts)
	var u Update
	got := map[Prefix]Attrs{}
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < 2 && time.Now().Before(deadline) {
		h, body, err := ReadMessage(c, buf, opts.MaxLen())
		if err != nil {
			t.Fatalf("reading: %v (have %v)", err, got)
		}
		switch h.Type {
		case TypeKeepalive:
			c.Write(AppendKeepalive(nil))
		case TypeUpdate:
			if err := dec.DecodeUpdate(body, &u); err != nil || len(u.Warnings) > 0 {
				t.Fatalf("GoBGP's UPDATE %x: %v %v", body, err, u.Warnings)
			}
			for _, p := range u.NLRI {
				got[p] = u.Attrs.Value()
			}
			for _, p := range u.MPNLRI {
				got[p] = u.MPAttrs.Value()
			}
		case TypeNotification:
			n, _ := DecodeNotification(body)
			t.Fatalf("GoBGP sent %v", n)
		}
	}
	g4 := got[MustParsePrefix("198.51.100.0/24")]
	if g4.ASPath.String() != "65000 4200000009 65020" || g4.Origin != OriginEGP ||
		g4.Aggregator != (Aggregator{4200000008, netip.MustParseAddr("192.0.2.8")}) || !g4.Communities.Has(65000<<16|1) ||
		g4.LargeCommunities.Len() != 1 || g4.LargeCommunities.At(0) != (LargeCommunity{65000, 3, 4}) || !g4.NextHop.Is4() {
		t.Errorf("IPv4 route from GoBGP: %v", g4.String())
	}
	g6 := got[MustParsePrefix("2001:db8:99::/48")]
	if g6.ASPath.String() != "65000" || !g6.NextHop.IsValid() {
		t.Errorf("IPv6 route from GoBGP: %v", g6.String())
	}
	t.Logf("from GoBGP: %v: %v; %v: %v", "198.51.100.0/24", g4.String(), "2001:db8:99::/48", g6.String())

	// Ours, as GoBGP stored them.
	var rib4, rib6 string
	for i := 0; i < 50; i++ {
		rib4 = cli("neighbor", "127.0.0.1", "adj-in", "-a", "ipv4")
		rib6 = cli("neighbor", "127.0.0.1", "adj-in", "-a", "ipv6")
		if strings.Count(rib4, "/24 ") >= 2990 && strings.Count(rib6, "/48 ") >= 1000 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := strings.Count(rib4, "/24 "); n != 2990 {
		t.Errorf("GoBGP holds %d of our IPv4 routes, want 2990", n)
	}
	if n := strings.Count(rib6, "/48 "); n != 1000 {
		t.Errorf("GoBGP holds %d of our IPv6 routes, want 1000", n)
	}
	detail := cli("neighbor", "127.0.0.1", "adj-in", "-a", "ipv4", "10.0.5.0/24")
	for _, want := range []string{fmt.Sprintf("%d 65010 4200000002", myAS), "4200000003", "65010:7", "planned-shut", "4200000001:1:2", "{Med: 50}", "PARTIAL|TRANSITIVE|OPTIONAL, Type: BGPAttrType(250)", "192.0.2.1"} {
		if !strings.Contains(detail, want) {
			t.Errorf("GoBGP's view of 10.0.5.0/24 lacks %q:\n%s", want, detail)
		}
	}
	detail6 := cli("neighbor", "127.0.0.1", "adj-in", "-a", "ipv6", "2001:db8:5::/48")
	if !strings.Contains(detail6, "2001:db8::1") {
		t.Errorf("GoBGP's view of 2001:db8:5::/48:\n%s", detail6)
	}
	t.Logf("GoBGP's view of two of our routes:\n%s%s", detail, detail6)

	// Shutdown communication.
	c.Write(NewShutdown(SubAdminShutdown, "interop test done").AppendMessage(nil, 0))
	for i := 0; i < 50; i++ {
		if b, _ := os.ReadFile(logf.Name()); bytes.Contains(b, []byte(`Communicated-Reason="interop test done"`)) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Error("GoBGP did not log the shutdown communication")
}
