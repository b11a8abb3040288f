package bgp

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/bgp/wire"
)

// grCaps is an IPv4 neighbour's capabilities with graceful restart.
func grCaps() wire.Capabilities {
	return wire.Capabilities{Multiprotocol: []wire.Family{wire.IPv4Unicast}, GracefulRestart: &wire.GracefulRestart{
		RestartTime: 30, Families: []wire.GracefulRestartFamily{{Family: wire.IPv4Unicast, ForwardingPreserved: true}}}}
}

// grFamily returns the F bit of IPv4 unicast in g and whether it is
// listed.
func grFamily(g *wire.GracefulRestart) (fwd, listed bool) {
	if g == nil {
		return false, false
	}
	for _, f := range g.Families {
		if f.Family == wire.IPv4Unicast {
			return f.ForwardingPreserved, true
		}
	}
	return false, false
}

// TestRestartingCapability checks the graceful restart capability with
// graceful-restart-preserve: after a start that preserved forwarding the
// R bit (during the deferral) and every family with the F bit; after a
// fresh start the families without F on the first session and with F on
// the next one (a session that ends leaves the kernel alone).
func TestRestartingCapability(t *testing.T) {
	cfg := harnessConfig("      families: [ipv4-unicast]\n", "  graceful-restart-preserve: true\n", "")

	t.Run("restarting", func(t *testing.T) {
		h := newHarnessWith(t, cfg, Options{Restarting: true})
		_, their := h.connect(grCaps())
		g := their.Caps.GracefulRestart
		if fwd, listed := grFamily(g); !g.Restarting || !fwd || !listed || !g.Notification {
			t.Errorf("capability %+v, want R, N and ipv4-unicast with F", g)
		}
	})
	t.Run("fresh start", func(t *testing.T) {
		h := newHarness(t, cfg)
		p, their := h.connect(grCaps())
		g := their.Caps.GracefulRestart
		if fwd, listed := grFamily(g); g.Restarting || fwd || !listed {
			t.Errorf("first session: capability %+v, want ipv4-unicast without F, no R", g)
		}
		p.c.Close()
		h.waitState(StateActive)
		_, their = h.connect(grCaps())
		g = their.Caps.GracefulRestart
		if fwd, listed := grFamily(g); g.Restarting || !fwd || !listed {
			t.Errorf("second session: capability %+v, want ipv4-unicast with F, no R", g)
		}
	})
	t.Run("restarting without preserve", func(t *testing.T) {
		h := newHarnessWith(t, harnessConfig("      families: [ipv4-unicast]\n", "", ""), Options{Restarting: true})
		_, their := h.connect(grCaps())
		if g := their.Caps.GracefulRestart; g == nil || g.Restarting || len(g.Families) != 0 {
			t.Errorf("capability %+v, want a receiving speaker's (no R, no families)", g)
		}
	})
}

// quiet reads from p for d and fails on an UPDATE: keepalives only.
func quiet(t *testing.T, p *scripted, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		_ = p.c.SetReadDeadline(end)
		h, _, err := wire.ReadMessage(p.c, p.buf, wire.MaxMessageLen)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if h.Type != wire.TypeKeepalive {
			t.Fatalf("%s received during the restart deferral", h.Type)
		}
	}
}

// table reads UPDATEs until End-of-RIB and returns the prefixes
// announced, sorted.
func table(t *testing.T, p *scripted) []string {
	t.Helper()
	dec := wire.NewDecoder(wire.Options{AS4: true, EBGP: true, Families: wire.FamIPv4Unicast})
	var u wire.Update
	var out []string
	for {
		body := p.readUntil(wire.TypeUpdate)
		if err := dec.DecodeUpdate(body, &u); err != nil {
			t.Fatal(err)
		}
		if u.EndOfRIB != (wire.Family{}) {
			slices.Sort(out)
			return out
		}
		for _, n := range u.NLRI {
			out = append(out, n.String())
		}
	}
}

// TestRestartingDeferral plays two neighbours of a restarting speaker
// (RFC 4724 §4.1): the first one's routes reach the RIB at once, but it
// gets no table and no End-of-RIB until the second one has sent its
// End-of-RIB; then both get the whole table and End-of-RIB, and
// OnConverged runs. With the second neighbour away, the graceful restart
// time ends the deferral.
func TestRestartingDeferral(t *testing.T) {
	second := "    - {address: 10.9.0.3, as: 65003, port: 1179, passive: true, hold-time: 9, import: accept, export: accept, families: [ipv4-unicast]}\n"
	enc := wire.NewEncoder(wire.Options{AS4: true, EBGP: true, Families: wire.FamIPv4Unicast})
	attrs3 := func() *wire.Attrs {
		a := peerAttrs("10.9.0.3")
		a.ASPath = wire.MakeASPath(wire.ASSegment{Type: wire.ASSequence, ASNs: []uint32{65003}})
		return a
	}
	setup := func(t *testing.T, bgpExtra string) (*harness, chan struct{}) {
		converged := make(chan struct{})
		h := newHarnessWith(t, harnessConfig("      families: [ipv4-unicast]\n"+second,
			"  graceful-restart-preserve: true\n"+bgpExtra, ""),
			Options{Restarting: true, OnConverged: func() { close(converged) }})
		if _, err := h.ns.IP("addr", "add", "10.9.0.3/24", "dev", "lo"); err != nil {
			t.Fatal(err)
		}
		return h, converged
	}

	t.Run("End-of-RIB", func(t *testing.T) {
		h, converged := setup(t, "")
		a, _ := h.connect(grCaps())
		a.announce(enc, peerAttrs("10.9.0.2"), "10.50.0.0/24")
		a.send(wire.AppendEndOfRIB(nil, wire.IPv4Unicast))
		waitRIB(t, h.r, "10.50.0.0/24", true)
		quiet(t, a, 700*time.Millisecond)
		select {
		case <-converged:
			t.Fatal("deferral ended with one neighbour's End-of-RIB missing")
		default:
		}
		if d := h.s.Deferral(); !d.Deferring || !slices.Equal(d.Waiting, []netip.Addr{netip.MustParseAddr("10.9.0.3")}) ||
			d.Limit.Sub(d.Since) != 120*time.Second {
			t.Errorf("during the deferral: %+v, want waiting for 10.9.0.3 for at most 120 s", d)
		}

		b, their := h.connectFrom("10.9.0.3", 65003, grCaps())
		if !their.Caps.GracefulRestart.Restarting {
			t.Errorf("second session during the deferral without the R bit")
		}
		b.announce(enc, attrs3(), "10.60.0.0/24")
		quiet(t, a, 300*time.Millisecond)
		b.send(wire.AppendEndOfRIB(nil, wire.IPv4Unicast))
		if got, want := table(t, a), []string{"10.60.0.0/24", "10.77.0.0/16"}; !slices.Equal(got, want) {
			t.Errorf("first neighbour's table %v, want %v", got, want)
		}
		if got, want := table(t, b), []string{"10.50.0.0/24", "10.77.0.0/16"}; !slices.Equal(got, want) {
			t.Errorf("second neighbour's table %v, want %v", got, want)
		}
		select {
		case <-converged:
		case <-time.After(5 * time.Second):
			t.Fatal("OnConverged not called")
		}
		if d := h.s.Deferral(); d.Deferring || d.Waiting != nil {
			t.Errorf("after the deferral: %+v", d)
		}
		// After the deferral, changes flow as usual.
		a.announce(enc, peerAttrs("10.9.0.2"), "10.51.0.0/24")
		body := b.readUntil(wire.TypeUpdate)
		var u wire.Update
		if err := wire.NewDecoder(wire.Options{AS4: true, EBGP: true, Families: wire.FamIPv4Unicast}).DecodeUpdate(body, &u); err != nil ||
			len(u.NLRI) != 1 || u.NLRI[0].String() != "10.51.0.0/24" {
			t.Errorf("change after the deferral: %+v %v", u.NLRI, err)
		}
		h.checkCounts()
	})

	t.Run("timer", func(t *testing.T) {
		h, converged := setup(t, "  graceful-restart-time: 2\n")
		start := time.Now()
		a, _ := h.connect(grCaps())
		a.announce(enc, peerAttrs("10.9.0.2"), "10.50.0.0/24")
		a.send(wire.AppendEndOfRIB(nil, wire.IPv4Unicast))
		quiet(t, a, time.Second)
		if got, want := table(t, a), []string{"10.77.0.0/16"}; !slices.Equal(got, want) {
			t.Errorf("table %v, want %v", got, want)
		}
		if d := time.Since(start); d < 1500*time.Millisecond || d > 5*time.Second {
			t.Errorf("table after %s, deferral limit 2 s", d)
		}
		select {
		case <-converged:
		case <-time.After(5 * time.Second):
			t.Fatal("OnConverged not called")
		}
		// A session after the deferral has no R bit.
		a.c.Close()
		h.waitState(StateActive)
		_, their := h.connect(grCaps())
		if g := their.Caps.GracefulRestart; g.Restarting {
			t.Errorf("R bit after the deferral")
		}
	})

	t.Run("neighbor without graceful restart", func(t *testing.T) {
		h, converged := setup(t, "")
		b, _ := h.connectFrom("10.9.0.3", 65003, wire.Capabilities{Multiprotocol: []wire.Family{wire.IPv4Unicast}})
		quiet(t, b, 300*time.Millisecond)
		a, _ := h.connect(grCaps())
		a.send(wire.AppendEndOfRIB(nil, wire.IPv4Unicast))
		if got := table(t, b); !slices.Equal(got, []string{"10.77.0.0/16"}) {
			t.Errorf("table %v", got)
		}
		table(t, a)
		<-converged
	})
}

// TestStopForRestart: a stop for a graceful restart closes the session
// without a NOTIFICATION (the neighbour keeps routerd's routes as stale);
// Stop sends the Cease.
func TestStopForRestart(t *testing.T) {
	cfg := harnessConfig("      families: [ipv4-unicast]\n", "  graceful-restart-preserve: true\n", "")
	for _, restart := range []bool{true, false} {
		h := newHarness(t, cfg)
		p, _ := h.connect(grCaps())
		if restart {
			h.s.StopForRestart(time.Second)
		} else {
			h.s.Stop("bye", time.Second)
		}
		var got []wire.MessageType
		for {
			_ = p.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			hd, _, err := wire.ReadMessage(p.c, p.buf, wire.MaxMessageLen)
			if err != nil {
				break
			}
			got = append(got, hd.Type)
		}
		if has := slices.Contains(got, wire.TypeNotification); has == restart {
			t.Errorf("restart %v: messages before the close %v", restart, got)
		}
	}
}
