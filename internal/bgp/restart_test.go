package bgp

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/config"

	"github.com/routerd/routerd/internal/bgp/wire"
)

// TestGracefulRestartHelper plays a neighbour that restarts gracefully
// (RFC 4724): its routes stay while it is away, the ones it sends again
// before End-of-RIB stay, the others are swept; a restart without the
// forwarding state bit, a NOTIFICATION and the restart timer remove them.
func TestGracefulRestartHelper(t *testing.T) {
	h := newHarness(t, harnessConfig("      families: [ipv4-unicast]\n", "  graceful-restart-time: 77\n", ""))
	opts := wire.Options{AS4: true, EBGP: true, Families: wire.FamIPv4Unicast}
	enc := wire.NewEncoder(opts)
	gr := func(restarting, fwd bool, secs uint16) wire.Capabilities {
		return wire.Capabilities{Multiprotocol: []wire.Family{wire.IPv4Unicast}, GracefulRestart: &wire.GracefulRestart{
			Restarting: restarting, RestartTime: secs,
			Families: []wire.GracefulRestartFamily{{Family: wire.IPv4Unicast, ForwardingPreserved: fwd}}}}
	}
	nb := netip.MustParseAddr("10.9.0.2")
	received := func() int64 { n, _ := h.s.Neighbor(nb); return n.PrefixesIn }

	p, their := h.connect(gr(false, false, 30))
	if g := their.Caps.GracefulRestart; g == nil || g.RestartTime != 77 || g.Restarting || len(g.Families) != 0 {
		t.Fatalf("speaker's graceful restart capability %+v, want restart time 77, helper only", g)
	}
	if !their.Caps.EnhancedRouteRefresh {
		t.Errorf("speaker does not advertise enhanced route refresh")
	}
	p.announce(enc, peerAttrs("10.9.0.2"), "10.50.0.0/24", "10.51.0.0/24")
	p.announce(enc, peerAttrs("10.9.0.2"), "10.50.0.0/24") // again: counted once
	waitRIB(t, h.r, "10.50.0.0/24", true)
	waitRIB(t, h.r, "10.51.0.0/24", true)
	if n := received(); n != 2 {
		t.Errorf("prefixes received %d, want 2", n)
	}

	// The connection drops (the neighbour's process died): routes stay.
	p.c.Close()
	h.waitState(StateActive)
	h.checkCounts()
	if h.ribHops("10.50.0.0/24") == nil || h.ribHops("10.51.0.0/24") == nil {
		t.Fatal("routes left the RIB when a graceful restart capable neighbour went down")
	}

	// Back with R and F set: 10.50 is refreshed, 10.51 not; End-of-RIB
	// sweeps 10.51.
	p, _ = h.connect(gr(true, true, 30))
	waitRIB(t, h.r, "10.51.0.0/24", true)
	p.announce(enc, peerAttrs("10.9.0.2"), "10.50.0.0/24")
	p.send(wire.AppendEndOfRIB(nil, wire.IPv4Unicast))
	waitRIB(t, h.r, "10.51.0.0/24", false)
	waitRIB(t, h.r, "10.50.0.0/24", true)
	h.checkCounts()
	if n := received(); n != 1 {
		t.Errorf("prefixes received %d after the sweep, want 1", n)
	}

	// Back without the forwarding state bit: stale routes go at once.
	p.c.Close()
	h.waitState(StateActive)
	waitRIB(t, h.r, "10.50.0.0/24", true)
	p, _ = h.connect(gr(true, false, 30))
	waitRIB(t, h.r, "10.50.0.0/24", false)

	// A NOTIFICATION ends the session without graceful restart.
	p.announce(enc, peerAttrs("10.9.0.2"), "10.52.0.0/24")
	waitRIB(t, h.r, "10.52.0.0/24", true)
	p.send(wire.NewShutdown(wire.SubAdminShutdown, "bye").AppendMessage(nil, wire.MaxMessageLen))
	waitRIB(t, h.r, "10.52.0.0/24", false)
	h.waitState(StateActive)

	// The restart timer (the neighbour's 1 s) removes what did not come back.
	p, _ = h.connect(gr(false, false, 1))
	p.announce(enc, peerAttrs("10.9.0.2"), "10.53.0.0/24")
	waitRIB(t, h.r, "10.53.0.0/24", true)
	p.c.Close()
	h.waitState(StateActive)
	start := time.Now()
	waitRIB(t, h.r, "10.53.0.0/24", false)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stale routes removed after %s, restart time 1 s", d)
	}
	h.checkCounts()
	if n := received(); n != 0 {
		t.Errorf("prefixes received %d at the end, want 0", n)
	}
}

// TestGracefulRestartNotification plays a neighbour that sets the N bit
// (RFC 8538): a NOTIFICATION it sends keeps its routes as stale, a Hard
// Reset does not, and routerd's own administrative reset goes out as a
// Hard Reset carrying the Administrative Reset.
func TestGracefulRestartNotification(t *testing.T) {
	h := newHarness(t, harnessConfig("      families: [ipv4-unicast]\n", "  graceful-restart-time: 77\n", ""))
	enc := wire.NewEncoder(wire.Options{AS4: true, EBGP: true, Families: wire.FamIPv4Unicast})
	gr := func(nbit bool) wire.Capabilities {
		return wire.Capabilities{Multiprotocol: []wire.Family{wire.IPv4Unicast}, GracefulRestart: &wire.GracefulRestart{
			Notification: nbit, RestartTime: 30,
			Families: []wire.GracefulRestartFamily{{Family: wire.IPv4Unicast, ForwardingPreserved: true}}}}
	}
	nb := netip.MustParseAddr("10.9.0.2")

	p, their := h.connect(gr(true))
	if g := their.Caps.GracefulRestart; g == nil || !g.Notification {
		t.Fatalf("speaker's graceful restart capability %+v, want the N bit", g)
	}
	p.announce(enc, peerAttrs("10.9.0.2"), "10.70.0.0/24")
	waitRIB(t, h.r, "10.70.0.0/24", true)
	st, _ := h.s.Neighbor(nb)
	if want := "graceful restart: restart time 30 s, ipv4-unicast (forwarding preserved), N bit"; !slices.Contains(st.Capabilities, want) {
		t.Errorf("neighbor capabilities %q, want %q among them", st.Capabilities, want)
	}

	// A Cease other than Hard Reset: the routes stay, stale.
	p.send(wire.Notification{Code: wire.CodeCease, Subcode: wire.SubOutOfResources}.AppendMessage(nil, wire.MaxMessageLen))
	h.waitState(StateActive)
	h.checkCounts()
	if h.ribHops("10.70.0.0/24") == nil {
		t.Fatal("routes left the RIB after a NOTIFICATION with the N bit negotiated")
	}
	if st, _ := h.s.Neighbor(nb); !slices.Equal(st.Stale, []wire.Family{wire.IPv4Unicast}) || st.Capabilities != nil {
		t.Errorf("while the neighbour restarts: stale %v, capabilities %q", st.Stale, st.Capabilities)
	}

	// Back; a Hard Reset removes them.
	p, _ = h.connect(gr(true))
	p.announce(enc, peerAttrs("10.9.0.2"), "10.70.0.0/24")
	p.send(wire.AppendEndOfRIB(nil, wire.IPv4Unicast))
	p.send(wire.HardReset(wire.NewShutdown(wire.SubAdminReset, "")).AppendMessage(nil, wire.MaxMessageLen))
	waitRIB(t, h.r, "10.70.0.0/24", false)
	h.waitState(StateActive)

	// routerd's reset: a Hard Reset with the Administrative Reset inside,
	// and the neighbour's routes go.
	p, _ = h.connect(gr(true))
	p.announce(enc, peerAttrs("10.9.0.2"), "10.71.0.0/24")
	waitRIB(t, h.r, "10.71.0.0/24", true)
	if err := h.s.Reset(nb, SoftNone); err != nil {
		t.Fatal(err)
	}
	n, err := wire.DecodeNotification(p.readUntil(wire.TypeNotification))
	in, ok := n.Inner()
	if err != nil || !n.IsHardReset() || !ok || in.Code != wire.CodeCease || in.Subcode != wire.SubAdminReset {
		t.Fatalf("got %v (%v), want Cease / Hard Reset of Cease / Administrative Reset", n, err)
	}
	waitRIB(t, h.r, "10.71.0.0/24", false)

	// Without the N bit on the neighbour's side, a NOTIFICATION ends the
	// session without graceful restart, and the reset is no Hard Reset.
	h.waitState(StateActive)
	p, _ = h.connect(gr(false))
	p.announce(enc, peerAttrs("10.9.0.2"), "10.72.0.0/24")
	waitRIB(t, h.r, "10.72.0.0/24", true)
	p.send(wire.Notification{Code: wire.CodeCease, Subcode: wire.SubOutOfResources}.AppendMessage(nil, wire.MaxMessageLen))
	waitRIB(t, h.r, "10.72.0.0/24", false)
	h.waitState(StateActive)
	p, _ = h.connect(gr(false))
	if err := h.s.Reset(nb, SoftNone); err != nil {
		t.Fatal(err)
	}
	n, err = wire.DecodeNotification(p.readUntil(wire.TypeNotification))
	if err != nil || n.Code != wire.CodeCease || n.Subcode != wire.SubAdminReset {
		t.Fatalf("without the N bit: got %v (%v), want Cease / Administrative Reset", n, err)
	}
	h.checkCounts()
}

// TestGracefulRestartOff: with graceful-restart false the capability is
// not sent and a neighbour's routes go with its session.
func TestGracefulRestartOff(t *testing.T) {
	h := newHarness(t, harnessConfig("      families: [ipv4-unicast]\n      graceful-restart: false\n", "", ""))
	enc := wire.NewEncoder(wire.Options{AS4: true, EBGP: true, Families: wire.FamIPv4Unicast})
	p, their := h.connect(wire.Capabilities{Multiprotocol: []wire.Family{wire.IPv4Unicast}, GracefulRestart: &wire.GracefulRestart{
		RestartTime: 30, Families: []wire.GracefulRestartFamily{{Family: wire.IPv4Unicast, ForwardingPreserved: true}}}})
	if their.Caps.GracefulRestart != nil {
		t.Errorf("graceful restart capability sent: %+v", their.Caps.GracefulRestart)
	}
	p.announce(enc, peerAttrs("10.9.0.2"), "10.50.0.0/24")
	waitRIB(t, h.r, "10.50.0.0/24", true)
	p.c.Close()
	waitRIB(t, h.r, "10.50.0.0/24", false)
}

// TestAFISAFIDisable sends an UPDATE whose IPv6 MP_REACH_NLRI is malformed
// (RFC 7606 AFI/SAFI disable): the neighbour's IPv6 routes go and later
// ones are ignored, its IPv4 routes and the session stay.
func TestAFISAFIDisable(t *testing.T) {
	h := newHarness(t, harnessConfig("", "", ""))
	opts := wire.Options{AS4: true, EBGP: true, Families: wire.FamIPv4Unicast | wire.FamIPv6Unicast}
	enc := wire.NewEncoder(opts)
	p, _ := h.connect(wire.Capabilities{Multiprotocol: []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast}})
	p.announce(enc, peerAttrs("10.9.0.2"), "10.50.0.0/24")
	p.announce(enc, peerAttrs("2001:db8:9::2"), "2001:db8:50::/48", "2001:db8:51::/48")
	waitRIB(t, h.r, "10.50.0.0/24", true)
	waitRIB(t, h.r, "2001:db8:50::/48", true)
	waitRIB(t, h.r, "2001:db8:51::/48", true)

	// ORIGIN IGP, AS_PATH 65002, MP_REACH_NLRI IPv6 with a 5-byte next hop.
	attrs := []byte{0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xea,
		0x80, 14, 3 + 1 + 5 + 1 + 7, 0, 2, 1, 5, 1, 2, 3, 4, 5, 0, 48, 0x20, 0x01, 0x0d, 0xb8, 0, 0x52}
	p.send(rawUpdate(attrs, nil))
	waitRIB(t, h.r, "2001:db8:50::/48", false)
	waitRIB(t, h.r, "2001:db8:51::/48", false)
	p.announce(enc, peerAttrs("2001:db8:9::2"), "2001:db8:53::/48")
	p.announce(enc, peerAttrs("10.9.0.2"), "10.51.0.0/24")
	waitRIB(t, h.r, "10.51.0.0/24", true)
	if h.ribHops("2001:db8:53::/48") != nil {
		t.Error("an IPv6 route was taken after the family was disabled")
	}
	waitRIB(t, h.r, "10.50.0.0/24", true)
	if n, _ := h.s.Neighbor(netip.MustParseAddr("10.9.0.2")); n.State != StateEstablished || n.PrefixesIn != 2 {
		t.Errorf("neighbor %s with %d prefixes, want established with 2", n.State, n.PrefixesIn)
	}
	h.checkCounts()
}

// TestEnhancedRouteRefresh: a ROUTE-REFRESH is answered with BoRR, the
// routes and EoRR; the neighbour's own BoRR ... EoRR sweeps what it did
// not send again; a ROUTE-REFRESH of a bad length is NOTIFICATION 7/1.
func TestEnhancedRouteRefresh(t *testing.T) {
	h := newHarness(t, harnessConfig("      families: [ipv4-unicast]\n", "", ""))
	opts := wire.Options{AS4: true, EBGP: true, Families: wire.FamIPv4Unicast}
	enc := wire.NewEncoder(opts)
	dec := wire.NewDecoder(opts)
	p, _ := h.connect(wire.Capabilities{Multiprotocol: []wire.Family{wire.IPv4Unicast}, RouteRefresh: true, EnhancedRouteRefresh: true})
	// The initial table ends with End-of-RIB.
	var u wire.Update
	for {
		if err := dec.DecodeUpdate(p.readUntil(wire.TypeUpdate), &u); err != nil {
			t.Fatal(err)
		}
		if u.EndOfRIB == wire.IPv4Unicast {
			break
		}
	}
	p.send(wire.RouteRefresh{Family: wire.IPv4Unicast}.AppendMessage(nil))
	var seq []string
	for len(seq) == 0 || seq[len(seq)-1] != "eorr" {
		typ, body := p.read()
		switch typ {
		case wire.TypeRouteRefresh:
			rr, err := wire.DecodeRouteRefresh(body, nil)
			if err != nil || rr.Family != wire.IPv4Unicast {
				t.Fatalf("ROUTE-REFRESH %+v: %v", rr, err)
			}
			seq = append(seq, map[wire.RefreshSubtype]string{wire.RefreshBoRR: "borr", wire.RefreshEoRR: "eorr", wire.RefreshNormal: "rr"}[rr.Subtype])
		case wire.TypeUpdate:
			if err := dec.DecodeUpdate(body, &u); err != nil {
				t.Fatal(err)
			}
			for _, n := range u.NLRI {
				seq = append(seq, n.String())
			}
		}
	}
	if len(seq) != 3 || seq[0] != "borr" || seq[1] != "10.77.0.0/16" {
		t.Errorf("answer to ROUTE-REFRESH: %v, want borr 10.77.0.0/16 eorr", seq)
	}

	p.announce(enc, peerAttrs("10.9.0.2"), "10.50.0.0/24", "10.51.0.0/24")
	waitRIB(t, h.r, "10.51.0.0/24", true)
	p.send(wire.RouteRefresh{Family: wire.IPv4Unicast, Subtype: wire.RefreshBoRR}.AppendMessage(nil))
	p.announce(enc, peerAttrs("10.9.0.2"), "10.50.0.0/24")
	p.send(wire.RouteRefresh{Family: wire.IPv4Unicast, Subtype: wire.RefreshEoRR}.AppendMessage(nil))
	waitRIB(t, h.r, "10.51.0.0/24", false)
	waitRIB(t, h.r, "10.50.0.0/24", true)
	h.checkCounts()

	bad := wire.RouteRefresh{Family: wire.IPv4Unicast}.AppendMessage(nil)
	bad = append(bad, 0)
	bad[17]++
	p.send(bad)
	n, err := wire.DecodeNotification(p.readUntil(wire.TypeNotification))
	if err != nil || n.Code != wire.CodeRouteRefresh || n.Subcode != wire.SubInvalidRouteRefreshLength {
		t.Errorf("got %v (%v), want NOTIFICATION 7/1", n, err)
	}
}

// TestSoftReconfigInbound: with soft-reconfiguration inbound the routes
// import policy rejects are kept, shown as received, and accepted by a
// new policy without ROUTE-REFRESH.
func TestSoftReconfigInbound(t *testing.T) {
	pol := `policy:
  prefix-lists:
    only50: [10.50.0.0/24]
  policies:
    in:
      - match: {prefix-list: only50}
        action: accept
`
	yaml := harnessConfig("      families: [ipv4-unicast]\n      soft-reconfiguration-inbound: true\n", "", pol)
	yaml = replaceOnce(t, yaml, "      import: accept\n", "      import: in\n")
	h := newHarness(t, yaml)
	enc := wire.NewEncoder(wire.Options{AS4: true, EBGP: true, Families: wire.FamIPv4Unicast})
	p, _ := h.connect(wire.Capabilities{Multiprotocol: []wire.Family{wire.IPv4Unicast}, RouteRefresh: true})
	p.announce(enc, peerAttrs("10.9.0.2"), "10.50.0.0/24", "10.51.0.0/24")
	waitRIB(t, h.r, "10.50.0.0/24", true)
	nb := netip.MustParseAddr("10.9.0.2")
	in, err := h.s.AdjIn(nb)
	if err != nil || len(in) != 2 || !in[0].Paths[0].Best || in[1].Paths[0].Best {
		t.Fatalf("received routes %+v (%v), want 10.50 accepted and 10.51 not", in, err)
	}
	if n, _ := h.s.Neighbor(nb); n.PrefixesIn != 2 || h.s.PrefixCounts()[nb].Accepted != 1 {
		t.Errorf("received %d accepted %d, want 2 and 1", n.PrefixesIn, h.s.PrefixCounts()[nb].Accepted)
	}
	// Import policy accept: 10.51 comes from the kept routes.
	c2 := *h.cfg.BGP
	c2.Neighbors = append([]config.Neighbor(nil), c2.Neighbors...)
	c2.Neighbors[0].Import = "accept"
	if err := h.s.Reconfigure(&c2, &h.cfg.Policy); err != nil {
		t.Fatal(err)
	}
	waitRIB(t, h.r, "10.51.0.0/24", true)
	h.checkCounts()
	p.send(wire.AppendKeepalive(nil))
	// No ROUTE-REFRESH was asked for: the next message is a KEEPALIVE or
	// an UPDATE, read until the speaker's keepalive.
	for {
		typ, _ := p.read()
		if typ == wire.TypeRouteRefresh {
			t.Fatal("ROUTE-REFRESH sent despite soft-reconfiguration inbound")
		}
		if typ == wire.TypeKeepalive {
			break
		}
	}
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	i := strings.Index(s, old)
	if i < 0 {
		t.Fatalf("%q not in %q", old, s)
	}
	return s[:i] + new + s[i+len(old):]
}
