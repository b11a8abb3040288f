package wire

import (
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

// TestInteropBIRD speaks to a real BIRD 2 (Debian's bird2) over loopback:
// extended messages (RFC 8654) with UPDATEs up to 65535 bytes, enhanced
// route refresh and graceful restart capabilities, IPv4 routes with an IPv6
// next hop (RFC 8950), and BIRD's own routes decoded here.
func TestInteropBIRD(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	bird, err1 := exec.LookPath("bird")
	birdc, err2 := exec.LookPath("birdc")
	if err1 != nil || err2 != nil {
		t.Skip("bird/birdc not installed (Debian package bird2)")
	}
	port := freePort(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "bird.ctl")
	conf := filepath.Join(dir, "bird.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`
router id 192.0.2.253;
log "%s" all;
protocol device {}
protocol static s4 { ipv4; route 198.51.100.0/24 blackhole { bgp_large_community.add((65000, 5, 6)); }; }
protocol static s6 { ipv6; route 2001:db8:99::/48 blackhole; }
protocol bgp peer {
	local 127.0.0.2 port %d as 65000;
	neighbor 127.0.0.1 as 4200000001;
	passive on;
	multihop;
	enable extended messages on;
	enable route refresh on;
	graceful restart on;
	ipv4 { import all; export all; next hop self; extended next hop on; };
	ipv6 { import all; export all; next hop address 2001:db8:fe::2; };
}
`, filepath.Join(dir, "bird.log"), port)), 0o644)
	cmd := exec.Command(bird, "-f", "-c", conf, "-s", sock, "-P", filepath.Join(dir, "bird.pid"))
	out, _ := os.Create(filepath.Join(dir, "bird.out"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			for _, f := range []string{"bird.out", "bird.log"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("%s:\n%s", f, b)
			}
		}
	})
	cli := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(birdc, append([]string{"-s", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("birdc %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	var c net.Conn
	var err error
	for i := 0; i < 100; i++ {
		if c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.2:%d", port)); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))

	open := NewOpen(4200000001, 90, netip.MustParseAddr("192.0.2.1"))
	open.Caps.Multiprotocol = []Family{IPv4Unicast, IPv6Unicast}
	open.Caps.RouteRefresh = true
	open.Caps.EnhancedRouteRefresh = true
	open.Caps.ExtendedMessage = true
	open.Caps.ExtendedNextHop = []ExtendedNextHop{{IPv4Unicast, AFIIPv6}}
	open.Caps.GracefulRestart = &GracefulRestart{RestartTime: 120, Families: []GracefulRestartFamily{{IPv4Unicast, false}, {IPv6Unicast, false}}}
	msg, err := open.AppendMessage(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(AppendKeepalive(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, MaxExtendedMessageLen)
	h, body, err := ReadMessage(c, buf, MaxMessageLen)
	if err != nil || h.Type != TypeOpen {
		t.Fatalf("%v %v", h, err)
	}
	peer, err := DecodeOpen(body)
	if err != nil {
		t.Fatal(err)
	}
	opts := Negotiate(&open.Caps, &peer.Caps, true)
	t.Logf("negotiated %+v with BIRD capabilities %+v, graceful restart %+v", opts, peer.Caps, peer.Caps.GracefulRestart)
	if !opts.ExtendedMessage || !opts.ExtendedNextHop || !opts.AS4 || !peer.Caps.EnhancedRouteRefresh || peer.Caps.GracefulRestart == nil {
		t.Fatalf("BIRD's OPEN: %+v", peer.Caps)
	}

	// 20000 IPv4 routes with an IPv4 next hop, 5000 with an IPv6 one, 5000
	// IPv6 routes, in UPDATEs of up to 65535 bytes.
	a := Attrs{
		Present:          AttrMask(0).With(AttrOrigin).With(AttrASPath),
		ASPath:           MakeASPath(ASSegment{ASSequence, []uint32{4200000001, 65010}}),
		NextHop:          netip.MustParseAddr("192.0.2.1"),
		LargeCommunities: MakeLargeCommunities(LargeCommunity{4200000001, 1, 2}),
	}
	a4v6 := a
	a4v6.NextHop = netip.MustParseAddr("2001:db8:ffff::1")
	var v4, v4b, v6 []Prefix
	for i := 0; i < 20000; i++ {
		v4 = append(v4, PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)))
	}
	for i := 0; i < 5000; i++ {
		v4b = append(v4b, PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte{11, byte(i >> 8), byte(i), 0}), 24)))
		v6 = append(v6, PrefixFrom(netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, byte(i >> 8), byte(i)}), 48)))
	}
	enc := NewEncoder(opts)
	var stream []byte
	for _, x := range []struct {
		a  *Attrs
		ps []Prefix
	}{{&a, v4}, {&a4v6, v4b}, {&a4v6, v6}} {
		if stream, err = enc.AppendAnnounce(stream, x.a, x.ps); err != nil {
			t.Fatal(err)
		}
	}
	big := 0
	for r := stream; len(r) > 0; {
		h, _ := ParseHeader(r, MaxExtendedMessageLen)
		big = max(big, h.Length)
		r = r[h.Length:]
	}
	stream = AppendEndOfRIB(stream, IPv4Unicast)
	stream = AppendEndOfRIB(stream, IPv6Unicast)
	if _, err := c.Write(stream); err != nil {
		t.Fatal(err)
	}

	dec := NewDecoder(opts)
	var u Update
	got := map[Prefix]Attrs{}
	eor := 0
	for (len(got) < 2 || eor < 2) && err == nil {
		var h Header
		h, body, err = ReadMessage(c, buf, opts.MaxLen())
		if err != nil {
			t.Fatalf("reading: %v (have %v)", err, got)
		}
		switch h.Type {
		case TypeKeepalive:
			c.Write(AppendKeepalive(nil))
		case TypeUpdate:
			if err := dec.DecodeUpdate(body, &u); err != nil || len(u.Warnings) > 0 {
				t.Fatalf("BIRD's UPDATE %x: %v %v", body, err, u.Warnings)
			}
			if u.EndOfRIB != (Family{}) {
				eor++
			}
			for _, p := range u.NLRI {
				got[p] = u.Attrs.Value()
			}
			for _, p := range u.MPNLRI {
				got[p] = u.MPAttrs.Value()
			}
		case TypeNotification:
			n, _ := DecodeNotification(body)
			t.Fatalf("BIRD sent %v", n)
		}
	}
	g4 := got[MustParsePrefix("198.51.100.0/24")]
	g6 := got[MustParsePrefix("2001:db8:99::/48")]
	if g4.ASPath.String() != "65000" || g4.LargeCommunities.Len() != 1 || g4.LargeCommunities.At(0) != (LargeCommunity{65000, 5, 6}) || g6.ASPath.String() != "65000" {
		t.Errorf("from BIRD: %v; %v", g4.String(), g6.String())
	}
	t.Logf("from BIRD: %v; %v", g4.String(), g6.String())

	var count string
	for i := 0; i < 50; i++ {
		count = cli("show", "route", "protocol", "peer", "count")
		if strings.Contains(count, "Total: 30000 of ") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(count, "Total: 30000 of ") {
		t.Errorf("BIRD's routes from us (largest UPDATE %d bytes):\n%s", big, count)
	}
	detail := cli("show", "route", "11.0.5.0/24", "all")
	for _, want := range []string{"2001:db8:ffff::1", "4200000001 65010", "(4200000001, 1, 2)"} {
		if !strings.Contains(detail, want) {
			t.Errorf("BIRD's view of 11.0.5.0/24 lacks %q:\n%s", want, detail)
		}
	}
	t.Logf("largest UPDATE %d bytes; BIRD: %sBIRD's view of an IPv4 route with an IPv6 next hop:\n%s", big, count, detail)

	// A ROUTE-REFRESH with BoRR/EoRR brackets comes back from BIRD.
	c.Write(RouteRefresh{Family: IPv4Unicast}.AppendMessage(nil))
	var subtypes []RefreshSubtype
	for len(subtypes) < 2 {
		h, body, err := ReadMessage(c, buf, opts.MaxLen())
		if err != nil {
			t.Fatalf("waiting for BoRR/EoRR: %v", err)
		}
		if h.Type == TypeRouteRefresh {
			rr, err := DecodeRouteRefresh(body, nil)
			if err != nil || rr.Family != IPv4Unicast {
				t.Fatalf("%v %v", rr, err)
			}
			subtypes = append(subtypes, rr.Subtype)
		}
	}
	if subtypes[0] != RefreshBoRR || subtypes[1] != RefreshEoRR {
		t.Errorf("route refresh subtypes %v", subtypes)
	}
	c.Write(NewShutdown(SubAdminShutdown, "interop test done").AppendMessage(nil, opts.MaxLen()))
}
