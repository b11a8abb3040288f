package bgp

import (
	"net/netip"
	"testing"

	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/config"
	"github.com/routerd/routerd/internal/rib"
)

// confedConfig: routerd is member AS 65101 of confederation 65100 (with
// member 65102), with a confederation-external neighbour 10.9.0.2 (AS
// 65102, no policies), an eBGP neighbour 10.9.0.3 (AS 64999) and an iBGP
// neighbour 10.9.0.4 (AS 65101, no policies).
const confedConfig = `router-id: 10.9.0.1
bgp:
  as: 65101
  confederation: {identifier: 65100, members: [65102]}
  listen-port: 1179
  listen-addresses: [10.9.0.1]
  networks: [10.77.0.0/16]
  neighbors:
    - {address: 10.9.0.2, as: 65102, port: 1179, passive: true, hold-time: 30, families: [ipv4-unicast]}
    - {address: 10.9.0.3, as: 64999, port: 1179, passive: true, hold-time: 30, import: accept, export: accept, families: [ipv4-unicast]}
    - {address: 10.9.0.4, as: 65101, port: 1179, passive: true, hold-time: 30, families: [ipv4-unicast]}
`

// confedPeer is a scripted neighbour of the confederation harness.
type confedPeer struct {
	*scripted
	open *wire.Open // the speaker's OPEN
	enc  *wire.Encoder
	dec  *wire.Decoder
	seen map[string]wire.Attrs // prefixes announced to it
}

func newConfedHarness(t *testing.T) *harness {
	h := newHarness(t, confedConfig)
	for _, a := range []string{"10.9.0.3/32", "10.9.0.4/32"} {
		if _, err := h.ns.IP("addr", "add", a, "dev", "lo"); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// connectAs opens a session from addr as AS as with BGP identifier id.
// ebgp is how the peer sees the session (outside the confederation).
func (h *harness) connectAs(addr string, as uint32, id string, ebgp bool) *confedPeer {
	t := h.t
	t.Helper()
	c := h.dial(addr)
	p := &confedPeer{scripted: &scripted{t: t, c: c, buf: make([]byte, wire.MaxMessageLen)}, seen: map[string]wire.Attrs{}}
	o := wire.NewOpen(as, 30, netip.MustParseAddr(id))
	o.Caps.Multiprotocol = []wire.Family{wire.IPv4Unicast}
	p.open = p.handshake(o)
	h.waitFor(addr+" established", func() bool {
		n, _ := h.s.Neighbor(netip.MustParseAddr(addr))
		return n.State == StateEstablished
	})
	opts := wire.Options{AS4: true, EBGP: ebgp, Families: wire.FamIPv4Unicast}
	p.enc, p.dec = wire.NewEncoder(opts), wire.NewDecoder(opts)
	return p
}

// route waits for an announcement of prefix (or its withdrawal when a
// later UPDATE withdraws it) and returns its attributes.
func (p *confedPeer) route(prefix string) wire.Attrs {
	p.t.Helper()
	for {
		if a, ok := p.seen[prefix]; ok {
			return a
		}
		var u wire.Update
		if err := p.dec.DecodeUpdate(p.readUntil(wire.TypeUpdate), &u); err != nil {
			p.t.Fatalf("UPDATE: %v", err)
		}
		for _, n := range u.NLRI {
			p.seen[n.String()] = u.Attrs.Value()
		}
	}
}

// attrsWith builds attributes with the given path, next hop, LOCAL_PREF
// and MED (0: absent).
func attrsWith(nh string, path wire.ASPath, lp, med uint32) *wire.Attrs {
	a := &wire.Attrs{Origin: wire.OriginIGP, NextHop: netip.MustParseAddr(nh), ASPath: path}
	a.Present = a.Present.With(wire.AttrOrigin).With(wire.AttrASPath)
	if lp != 0 {
		a.LocalPref, a.Present = lp, a.Present.With(wire.AttrLocalPref)
	}
	if med != 0 {
		a.MED, a.Present = med, a.Present.With(wire.AttrMED)
	}
	return a
}

func seq(as ...uint32) wire.ASSegment  { return wire.ASSegment{Type: wire.ASSequence, ASNs: as} }
func cseq(as ...uint32) wire.ASSegment { return wire.ASSegment{Type: wire.ASConfedSequence, ASNs: as} }

// locPaths returns the Loc-RIB's paths for prefix and the reason of its
// best one.
func (h *harness) locPaths(prefix string) ([]PathView, Reason) {
	var paths []PathView
	var reason Reason
	pfx := netip.MustParsePrefix(prefix)
	h.s.LocRIB(pfx, func(v RouteView) bool {
		if v.Prefix == pfx {
			paths, reason = v.Paths, v.Reason
		}
		return true
	})
	return paths, reason
}

// TestConfedOpen: the OPEN (My AS and the 4-octet AS capability) carries
// the confederation identifier to an eBGP neighbour and the member AS to
// confederation-external and iBGP neighbours; the neighbours' session
// types show in their status.
func TestConfedOpen(t *testing.T) {
	h := newConfedHarness(t)
	for _, tc := range []struct {
		addr, id string
		as, want uint32
		ebgp     bool
		typ      config.SessionType
	}{
		{"10.9.0.2", "10.9.0.2", 65102, 65101, false, config.ConfedEBGP},
		{"10.9.0.3", "10.9.0.3", 64999, 65100, true, config.EBGP},
		{"10.9.0.4", "10.9.0.4", 65101, 65101, false, config.IBGP},
	} {
		p := h.connectAs(tc.addr, tc.as, tc.id, tc.ebgp)
		if uint32(p.open.MyAS) != tc.want || p.open.PeerAS() != tc.want {
			t.Errorf("%s: OPEN My AS %d, 4-octet AS %d; want %d", tc.addr, p.open.MyAS, p.open.PeerAS(), tc.want)
		}
		if n, _ := h.s.Neighbor(netip.MustParseAddr(tc.addr)); n.Type != tc.typ {
			t.Errorf("%s: session type %s, want %s", tc.addr, n.Type, tc.typ)
		}
	}
}

// TestConfedExport: what each kind of neighbour gets of routes from the
// others: a confederation-external neighbour our member AS prepended in
// an AS_CONFED_SEQUENCE with LOCAL_PREF, MED and NEXT_HOP kept; an eBGP
// neighbour the path without confederation segments behind the
// identifier, no LOCAL_PREF, next hop self; an iBGP neighbour the path
// as it came.
func TestConfedExport(t *testing.T) {
	h := newConfedHarness(t)
	confed := h.connectAs("10.9.0.2", 65102, "10.9.0.2", false)
	out := h.connectAs("10.9.0.3", 64999, "10.9.0.3", true)
	ibgp := h.connectAs("10.9.0.4", 65101, "10.9.0.4", false)

	confed.announce(confed.enc, attrsWith("10.9.0.2", wire.MakeASPath(cseq(65102), seq(64500)), 150, 7), "10.61.0.0/24")
	out.announce(out.enc, attrsWith("10.9.0.3", wire.MakeASPath(seq(64999, 64600)), 0, 5), "10.62.0.0/24")
	ibgp.announce(ibgp.enc, attrsWith("10.9.0.4", wire.MakeASPath(), 120, 3), "10.63.0.0/24")

	type want struct {
		path string
		lp   uint32 // 0: absent
		med  uint32 // 0: absent
		nh   string
	}
	check := func(name string, p *confedPeer, prefix string, w want) {
		t.Helper()
		a := p.route(prefix)
		lp, med := uint32(0), uint32(0)
		if a.Present.Has(wire.AttrLocalPref) {
			lp = a.LocalPref
		}
		if a.Present.Has(wire.AttrMED) {
			med = a.MED
		}
		if got := (want{a.ASPath.String(), lp, med, a.NextHop.String()}); got != w {
			t.Errorf("%s gets %s with %+v, want %+v", name, prefix, got, w)
		}
	}
	check("confed", confed, "10.62.0.0/24", want{"(65101) 64999 64600", 100, 5, "10.9.0.3"})
	check("confed", confed, "10.63.0.0/24", want{"(65101)", 120, 3, "10.9.0.4"})
	check("confed", confed, "10.77.0.0/16", want{"(65101)", 100, 0, "10.9.0.1"})
	check("ebgp", out, "10.61.0.0/24", want{"65100 64500", 0, 0, "10.9.0.1"})
	check("ebgp", out, "10.63.0.0/24", want{"65100", 0, 0, "10.9.0.1"})
	check("ebgp", out, "10.77.0.0/16", want{"65100", 0, 0, "10.9.0.1"})
	check("ibgp", ibgp, "10.61.0.0/24", want{"(65102) 64500", 150, 7, "10.9.0.2"})
	check("ibgp", ibgp, "10.62.0.0/24", want{"64999 64600", 100, 5, "10.9.0.3"})
}

// TestConfedImport: a route with confederation segments from an eBGP
// neighbour is treated as withdrawn (RFC 5065 §5, RFC 7606 §7.2) and the
// session stays; from a confederation-external neighbour, paths holding
// our member AS in a confederation segment or the identifier elsewhere
// are loops, and its paths must start with its member AS in an
// AS_CONFED_SEQUENCE.
func TestConfedImport(t *testing.T) {
	h := newConfedHarness(t)
	confed := h.connectAs("10.9.0.2", 65102, "10.9.0.2", false)
	out := h.connectAs("10.9.0.3", 64999, "10.9.0.3", true)

	out.announce(out.enc, attrsWith("10.9.0.3", wire.MakeASPath(seq(64999)), 0, 0), "10.64.0.0/24")
	h.waitFor("10.64.0.0/24 accepted", func() bool { ps, _ := h.locPaths("10.64.0.0/24"); return len(ps) == 1 })
	// The scripted peer's encoder leaves confederation segments out
	// towards an external peer; one for an internal peer keeps them.
	inside := wire.NewEncoder(wire.Options{AS4: true, Families: wire.FamIPv4Unicast})
	out.announce(inside, attrsWith("10.9.0.3", wire.MakeASPath(seq(64999), cseq(65102)), 0, 0), "10.64.0.0/24")
	h.waitFor("10.64.0.0/24 withdrawn", func() bool { ps, _ := h.locPaths("10.64.0.0/24"); return len(ps) == 0 })
	if n, _ := h.s.Neighbor(netip.MustParseAddr("10.9.0.3")); n.State != StateEstablished {
		t.Errorf("eBGP neighbour %s after confederation segments, want established", n.State)
	}

	for _, tc := range []struct {
		prefix string
		path   wire.ASPath
		ok     bool
	}{
		{"10.65.0.0/24", wire.MakeASPath(cseq(65102, 65101), seq(64500)), false},
		{"10.66.0.0/24", wire.MakeASPath(cseq(65102), seq(64500, 65100)), false},
		{"10.67.0.0/24", wire.MakeASPath(seq(64500)), false},
		{"10.68.0.0/24", wire.MakeASPath(cseq(65102), seq(65101)), true},
	} {
		confed.announce(confed.enc, attrsWith("10.9.0.2", tc.path, 0, 0), tc.prefix)
	}
	// A last route marks that the ones before it were handled.
	confed.announce(confed.enc, attrsWith("10.9.0.2", wire.MakeASPath(cseq(65102)), 0, 0), "10.69.0.0/24")
	h.waitFor("10.69.0.0/24", func() bool { ps, _ := h.locPaths("10.69.0.0/24"); return len(ps) == 1 })
	for _, tc := range []struct {
		prefix string
		ok     bool
	}{{"10.65.0.0/24", false}, {"10.66.0.0/24", false}, {"10.67.0.0/24", false}, {"10.68.0.0/24", true}} {
		if ps, _ := h.locPaths(tc.prefix); (len(ps) == 1) != tc.ok {
			t.Errorf("%s: %d paths in the Loc-RIB, want accepted %v", tc.prefix, len(ps), tc.ok)
		}
	}
}

// TestConfedDecision: an eBGP route wins over confederation-external and
// iBGP ones at the eBGP step; a confederation-external route is internal
// there (RFC 5065 §5.3), so against an iBGP one the router ID decides;
// MEDs compare by the first AS outside the confederation; the
// confederation-external best route goes to the RIB as iBGP.
func TestConfedDecision(t *testing.T) {
	h := newConfedHarness(t)
	confed := h.connectAs("10.9.0.2", 65102, "10.9.9.9", false)
	out := h.connectAs("10.9.0.3", 64999, "10.9.0.3", true)
	ibgp := h.connectAs("10.9.0.4", 65101, "10.9.0.4", false)

	const pfx = "10.70.0.0/24"
	confed.announce(confed.enc, attrsWith("10.9.0.2", wire.MakeASPath(cseq(65102), seq(64998, 1)), 0, 0), pfx)
	ibgp.announce(ibgp.enc, attrsWith("10.9.0.4", wire.MakeASPath(seq(64997, 1)), 0, 0), pfx)
	out.announce(out.enc, attrsWith("10.9.0.3", wire.MakeASPath(seq(64999, 1)), 0, 0), pfx)
	best := func(n int) (netip.Addr, Reason) {
		var ps []PathView
		var r Reason
		h.waitFor(pfx+" paths", func() bool { ps, r = h.locPaths(pfx); return len(ps) == n })
		return ps[0].From, r
	}
	if from, r := best(3); from != netip.MustParseAddr("10.9.0.3") || r != ReasonEBGP {
		t.Errorf("three paths: best from %s by %s, want 10.9.0.3 by %s", from, r, ReasonEBGP)
	}
	out.send(out.enc.AppendWithdraw(nil, []wire.Prefix{wire.MustParsePrefix(pfx)}))
	if from, r := best(2); from != netip.MustParseAddr("10.9.0.4") || r != ReasonRouterID {
		t.Errorf("confed and iBGP: best from %s by %s, want 10.9.0.4 by %s", from, r, ReasonRouterID)
	}
	ibgp.send(ibgp.enc.AppendWithdraw(nil, []wire.Prefix{wire.MustParsePrefix(pfx)}))
	best(1)
	h.waitFor("the confederation route in the RIB as iBGP", func() bool {
		e, ok := h.r.Get(rib.Key{Table: rib.TableMain, Prefix: netip.MustParsePrefix(pfx)})
		return ok && e.Best.Valid() && e.Best.Origin == rib.OriginIBGP
	})

	// The same neighbouring AS 64999 behind confederation segments or
	// not: the lower MED wins although the router ID would not.
	const pfx2 = "10.72.0.0/24"
	confed.announce(confed.enc, attrsWith("10.9.0.2", wire.MakeASPath(cseq(65102), seq(64999)), 0, 5), pfx2)
	ibgp.announce(ibgp.enc, attrsWith("10.9.0.4", wire.MakeASPath(seq(64999)), 0, 10), pfx2)
	var ps []PathView
	var r Reason
	h.waitFor(pfx2+" paths", func() bool { ps, r = h.locPaths(pfx2); return len(ps) == 2 })
	if ps[0].From != netip.MustParseAddr("10.9.0.2") || r != ReasonMED {
		t.Errorf("MED: best from %s by %s, want 10.9.0.2 by %s", ps[0].From, r, ReasonMED)
	}
}

// TestConfedReload: a new confederation identifier ends the eBGP
// neighbour's session (it saw the old one in our OPEN) and leaves the
// confederation-external one alone.
func TestConfedReload(t *testing.T) {
	h := newConfedHarness(t)
	h.connectAs("10.9.0.2", 65102, "10.9.0.2", false)
	out := h.connectAs("10.9.0.3", 64999, "10.9.0.3", true)
	c, err := config.Parse("t.yaml", []byte(replaceOnce(t, confedConfig, "identifier: 65100", "identifier: 65200")))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.s.Reconfigure(c.BGP, &c.Policy); err != nil {
		t.Fatal(err)
	}
	n, err := wire.DecodeNotification(out.readUntil(wire.TypeNotification))
	if err != nil || n.Code != wire.CodeCease {
		t.Fatalf("eBGP neighbour got %v (%v), want a Cease", n, err)
	}
	if st, _ := h.s.Neighbor(netip.MustParseAddr("10.9.0.2")); st.State != StateEstablished || st.Flaps != 0 {
		t.Errorf("confederation-external neighbour %s with %d flaps, want established, untouched", st.State, st.Flaps)
	}
	// The eBGP neighbour now sees the new identifier.
	out = h.connectAs("10.9.0.3", 64999, "10.9.0.3", true)
	if out.open.PeerAS() != 65200 {
		t.Errorf("OPEN after the reload with AS %d, want 65200", out.open.PeerAS())
	}
}
