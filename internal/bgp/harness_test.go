package bgp

import (
	"context"
	"encoding/binary"
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

// harness is a started speaker (AS 65001, 10.9.0.1 port 1179, in a
// namespace of its own) with one passive eBGP neighbour 10.9.0.2 (AS
// 65002) that tests play with scripted peers.
type harness struct {
	t   *testing.T
	ns  *netns.NS
	r   *rib.RIB
	s   *Speaker
	cfg *config.Config
}

// harnessConfig is the speaker's configuration; extra is appended to the
// neighbour's entry, policy to the top.
func harnessConfig(extra, bgpExtra, policy string) string {
	return `router-id: 10.9.0.1
` + policy + `
bgp:
  as: 65001
  listen-port: 1179
  listen-addresses: [10.9.0.1]
  networks: [10.77.0.0/16]
` + bgpExtra + `
  neighbors:
    - address: 10.9.0.2
      as: 65002
      port: 1179
      passive: true
      hold-time: 9
      import: accept
      export: accept
` + extra
}

func newHarness(t *testing.T, yaml string) *harness {
	t.Helper()
	return newHarnessWith(t, yaml, Options{})
}

// newHarnessWith is newHarness with the speaker's options o (RIB,
// logger, distances and namespace are filled in).
func newHarnessWith(t *testing.T, yaml string, o Options) *harness {
	t.Helper()
	ns := netns.New(t, "bgpt")
	for _, args := range [][]string{
		{"addr", "add", "10.9.0.1/24", "dev", "lo"},
		{"addr", "add", "10.9.0.2/24", "dev", "lo"},
		{"-6", "addr", "add", "2001:db8:9::1/64", "dev", "lo", "nodad"},
	} {
		if _, err := ns.IP(args...); err != nil {
			t.Fatal(err)
		}
	}
	c, err := config.Parse("t.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	r := rib.New()
	r.SetLinkUp(1, true)
	conn := r.NewSource(rib.OriginConnected, "connected")
	if err := conn.Apply([]rib.Route{
		{Table: rib.TableMain, Prefix: netip.MustParsePrefix("10.9.0.0/24"), NextHops: []rib.NextHop{{Ifindex: 1}}},
		{Table: rib.TableMain, Prefix: netip.MustParsePrefix("2001:db8:9::/64"), NextHops: []rib.NextHop{{Ifindex: 1}}},
	}, nil); err != nil {
		t.Fatal(err)
	}
	o.RIB, o.Logger, o.Distances, o.InNS = r, slog.New(slog.NewTextHandler(io.Discard, nil)), config.DefaultDistances, ns.Do
	s := New(c.BGP, &c.Policy, o)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop("test over", time.Second) })
	return &harness{t: t, ns: ns, r: r, s: s, cfg: c}
}

// connect opens a session as 10.9.0.2 with the given capabilities
// (multiprotocol as listed) and returns the peer and the speaker's OPEN.
func (h *harness) connect(caps wire.Capabilities) (*scripted, *wire.Open) {
	h.t.Helper()
	return h.connectFrom("10.9.0.2", 65002, caps)
}

// dial connects from local (an address of the harness's namespace) to
// the speaker, retrying while it is not listening yet; the connection
// closes with the test.
func (h *harness) dial(local string) net.Conn {
	h.t.Helper()
	t := h.t
	var c net.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := h.ns.Do(func() (err error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
			c, err = d.Dial("tcp", "10.9.0.1:1179")
			return err
		})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// handshake sends o, reads routerd's OPEN and returns it, and exchanges
// KEEPALIVEs.
func (p *scripted) handshake(o *wire.Open) *wire.Open {
	p.t.Helper()
	msg, err := o.AppendMessage(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(msg)
	typ, body := p.read()
	if typ != wire.TypeOpen {
		p.t.Fatalf("got %s, want OPEN", typ)
	}
	their, err := wire.DecodeOpen(body)
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(wire.AppendKeepalive(nil))
	p.readUntil(wire.TypeKeepalive)
	return their
}

// connectFrom is connect for the neighbour at address local (an address of
// the harness's namespace) in AS as.
func (h *harness) connectFrom(local string, as uint32, caps wire.Capabilities) (*scripted, *wire.Open) {
	h.t.Helper()
	t := h.t
	c := h.dial(local)
	p := &scripted{t: t, c: c, buf: make([]byte, wire.MaxMessageLen)}
	o := wire.NewOpen(as, 9, netip.MustParseAddr(local))
	o.Caps = caps
	o.Caps.HasAS4, o.Caps.AS4 = true, as
	their := p.handshake(o)
	h.waitFor("neighbor "+local+" established", func() bool {
		n, _ := h.s.Neighbor(netip.MustParseAddr(local))
		return n.State == StateEstablished
	})
	return p, their
}

// waitState waits until the neighbour is in state st.
func (h *harness) waitState(st State) {
	h.t.Helper()
	h.waitFor("neighbor "+st.String(), func() bool {
		n, _ := h.s.Neighbor(netip.MustParseAddr("10.9.0.2"))
		return n.State == st
	})
}

func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ribHops returns the next hops of the RIB's eBGP route for prefix, nil
// when there is none.
func (h *harness) ribHops(prefix string) []rib.NextHop {
	return ribHops(h.r, prefix)
}

func ribHops(r *rib.RIB, prefix string) []rib.NextHop {
	e, ok := r.Get(rib.Key{Table: rib.TableMain, Prefix: netip.MustParsePrefix(prefix)})
	if !ok || e.Best.Origin != rib.OriginEBGP {
		return nil
	}
	c, ok := e.Selected()
	if !ok {
		return nil
	}
	return c.Route.NextHops
}

// checkCounts compares the speaker's kept counters with a walk of the
// Loc-RIB.
func (h *harness) checkCounts() {
	h.t.Helper()
	checkSpeakerCounts(h.t, h.s)
}

// peerAttrs are attributes from AS 65002 with next hop nh.
func peerAttrs(nh string) *wire.Attrs {
	a := &wire.Attrs{Origin: wire.OriginIGP, NextHop: netip.MustParseAddr(nh),
		ASPath: wire.MakeASPath(wire.ASSegment{Type: wire.ASSequence, ASNs: []uint32{65002}})}
	a.Present = a.Present.With(wire.AttrOrigin).With(wire.AttrASPath)
	return a
}

// announce sends an UPDATE for prefixes with attrs a.
func (p *scripted) announce(enc *wire.Encoder, a *wire.Attrs, prefixes ...string) {
	p.t.Helper()
	var ps []wire.Prefix
	for _, s := range prefixes {
		ps = append(ps, wire.MustParsePrefix(s))
	}
	b, err := enc.AppendAnnounce(nil, a, ps)
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(b)
}

// rawUpdate builds an UPDATE from encoded path attributes and IPv4 NLRI.
func rawUpdate(attrs []byte, nlri []byte) []byte {
	b := make([]byte, 16, 64)
	for i := range b {
		b[i] = 0xff
	}
	b = append(b, 0, 0, byte(wire.TypeUpdate), 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(attrs)))
	b = append(b, attrs...)
	b = append(b, nlri...)
	binary.BigEndian.PutUint16(b[16:], uint16(len(b)))
	return b
}
