package bgp

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/config"
	"github.com/routerd/routerd/internal/netns"
	"github.com/routerd/routerd/internal/rib"
)

// scripted is a hand-driven BGP peer for FSM tests.
type scripted struct {
	t   *testing.T
	c   net.Conn
	buf []byte
}

func (p *scripted) send(b []byte) {
	p.t.Helper()
	if _, err := p.c.Write(b); err != nil {
		p.t.Fatalf("scripted peer write: %v", err)
	}
}

func (p *scripted) read() (wire.MessageType, []byte) {
	p.t.Helper()
	_ = p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	h, body, err := wire.ReadMessage(p.c, p.buf, wire.MaxMessageLen)
	if err != nil {
		p.t.Fatalf("scripted peer read: %v", err)
	}
	return h.Type, body
}

// readUntil reads messages until one of type want arrives.
func (p *scripted) readUntil(want wire.MessageType) []byte {
	p.t.Helper()
	for {
		typ, body := p.read()
		if typ == want {
			return body
		}
	}
}

func waitRIB(t *testing.T, r *rib.RIB, prefix string, present bool) {
	t.Helper()
	k := rib.Key{Table: rib.TableMain, Prefix: netip.MustParsePrefix(prefix)}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		e, ok := r.Get(k)
		has := ok && e.Best.Valid() && e.Best.Origin == rib.OriginEBGP
		if has == present {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s in the RIB: want present=%v", prefix, present)
}

// TestSessionScripted drives a passive session from a scripted peer: OPEN
// and KEEPALIVE exchange, an UPDATE into the RIB, End-of-RIB, an RFC 7606
// treat-as-withdraw that keeps the session, and hold timer expiry.
func TestSessionScripted(t *testing.T) {
	ns := netns.New(t, "bgpt")
	for _, a := range []string{"10.9.0.1/24", "10.9.0.2/24"} {
		if _, err := ns.IP("addr", "add", a, "dev", "lo"); err != nil {
			t.Fatal(err)
		}
	}
	r := rib.New()
	r.SetLinkUp(1, true)
	conn := r.NewSource(rib.OriginConnected, "connected")
	if err := conn.Apply([]rib.Route{{Table: rib.TableMain, Prefix: netip.MustParsePrefix("10.9.0.0/24"), NextHops: []rib.NextHop{{Ifindex: 1}}}}, nil); err != nil {
		t.Fatal(err)
	}
	cfg := &config.BGP{
		AS: 65001, RouterID: netip.MustParseAddr("10.9.0.1"), Listen: true, ListenPort: 1179,
		ListenAddresses: []netip.Addr{netip.MustParseAddr("10.9.0.1")}, Table: config.TableMain,
		Networks: []netip.Prefix{netip.MustParsePrefix("10.77.0.0/16")},
		Neighbors: []config.Neighbor{{
			Address: netip.MustParseAddr("10.9.0.2"), AS: 65002, Enabled: true, Port: 1179, Passive: true,
			HoldTime: 3 * time.Second, ConnectRetry: time.Second, Import: "accept", Export: "accept",
			Families: []string{"ipv4-unicast"},
		}},
	}
	s := New(cfg, &config.Policy{}, Options{RIB: r, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Distances: config.DefaultDistances, InNS: ns.Do})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop("test over", time.Second)

	var c net.Conn
	err := ns.Do(func() (err error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("10.9.0.2")}, Timeout: 5 * time.Second}
		c, err = d.Dial("tcp", "10.9.0.1:1179")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := &scripted{t: t, c: c, buf: make([]byte, wire.MaxMessageLen)}
	o := wire.NewOpen(65002, 3, netip.MustParseAddr("10.9.0.2"))
	o.Caps.Multiprotocol = []wire.Family{wire.IPv4Unicast}
	if their := p.handshake(o); their.PeerAS() != 65001 || their.HoldTime != 3 {
		t.Fatalf("OPEN %+v", their)
	}

	opts := wire.Options{AS4: true, EBGP: true, Families: wire.FamIPv4Unicast}
	enc := wire.NewEncoder(opts)
	a := wire.Attrs{Origin: wire.OriginIGP, NextHop: netip.MustParseAddr("10.9.0.2"),
		ASPath: wire.MakeASPath(wire.ASSegment{Type: wire.ASSequence, ASNs: []uint32{65002}})}
	a.Present = a.Present.With(wire.AttrOrigin).With(wire.AttrASPath)
	up, err := enc.AppendAnnounce(nil, &a, []wire.Prefix{wire.MustParsePrefix("10.50.0.0/24"), wire.MustParsePrefix("10.51.0.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	p.send(up)
	waitRIB(t, r, "10.50.0.0/24", true)
	waitRIB(t, r, "10.51.0.0/24", true)

	// The speaker announces its network with itself as next hop and its AS
	// prepended, then End-of-RIB.
	dec := wire.NewDecoder(opts)
	var u wire.Update
	gotNet := false
	for !gotNet {
		body := p.readUntil(wire.TypeUpdate)
		if err := dec.DecodeUpdate(body, &u); err != nil {
			t.Fatal(err)
		}
		for _, n := range u.NLRI {
			if n.String() == "10.77.0.0/16" {
				gotNet = true
				v := u.Attrs.Value()
				if v.NextHop != netip.MustParseAddr("10.9.0.1") || v.ASPath.String() != "65001" {
					t.Errorf("network announced with next hop %s, AS path %s", v.NextHop, v.ASPath)
				}
			}
			if n.String() == "10.50.0.0/24" {
				t.Errorf("route sent back to the neighbor it came from")
			}
		}
	}

	// ORIGIN 7 is malformed: treat-as-withdraw (RFC 7606 §7.1); the session stays.
	bad := a
	bad.Origin = 7
	up, err = enc.AppendAnnounce(nil, &bad, []wire.Prefix{wire.MustParsePrefix("10.50.0.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	p.send(up)
	waitRIB(t, r, "10.50.0.0/24", false)
	waitRIB(t, r, "10.51.0.0/24", true)
	p.send(wire.AppendKeepalive(nil))

	// Silence: the 3 s hold timer expires and the speaker says so.
	start := time.Now()
	n, err := wire.DecodeNotification(p.readUntil(wire.TypeNotification))
	if err != nil || n.Code != wire.CodeHoldTimer {
		t.Fatalf("got %v (%v), want hold timer expired", n, err)
	}
	if d := time.Since(start); d < 2*time.Second || d > 5*time.Second {
		t.Errorf("hold timer expired after %s", d)
	}
	waitRIB(t, r, "10.51.0.0/24", false)
}
