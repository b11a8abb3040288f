package bgp

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/bgp/wire"
)

// TestMaxPrefixes checks a neighbour's prefix limit against a scripted
// peer: at the limit the session stays; one prefix over it ends with
// Cease / Maximum Number of Prefixes Reached naming the family and the
// limit (RFC 4486), the routes go, a new connection is refused until the
// restart time has passed, and then the session comes back.
func TestMaxPrefixes(t *testing.T) {
	h := newHarness(t, harnessConfig("      max-prefixes: {ipv4: 3, restart: 2}\n", "", ""))
	caps := wire.Capabilities{Multiprotocol: []wire.Family{wire.IPv4Unicast}}
	p, _ := h.connect(caps)
	enc := wire.NewEncoder(wire.Options{AS4: true, EBGP: true, Families: wire.FamIPv4Unicast})
	a := peerAttrs("10.9.0.2")
	p.announce(enc, a, "10.60.0.0/24", "10.60.1.0/24", "10.60.2.0/24")
	waitRIB(t, h.r, "10.60.2.0/24", true)
	// The same prefixes again and a withdrawal and announcement keep the
	// count at the limit.
	p.announce(enc, a, "10.60.0.0/24")
	p.send(enc.AppendWithdraw(nil, []wire.Prefix{wire.MustParsePrefix("10.60.1.0/24")}))
	p.announce(enc, a, "10.60.3.0/24")
	waitRIB(t, h.r, "10.60.3.0/24", true)
	if st := h.s.peers[netip.MustParseAddr("10.9.0.2")].State(); st != StateEstablished {
		t.Fatalf("at the limit: %s", st)
	}

	p.announce(enc, a, "10.60.4.0/24")
	n, err := wire.DecodeNotification(p.readUntil(wire.TypeNotification))
	if err != nil || n.Code != wire.CodeCease || n.Subcode != wire.SubMaxPrefixes {
		t.Fatalf("got %v (%v), want Cease / Maximum Number of Prefixes Reached", n, err)
	}
	if len(n.Data) != 7 || binary.BigEndian.Uint16(n.Data) != 1 || n.Data[2] != 1 || binary.BigEndian.Uint32(n.Data[3:]) != 3 {
		t.Errorf("NOTIFICATION data %x, want AFI 1, SAFI 1, limit 3", n.Data)
	}
	waitRIB(t, h.r, "10.60.0.0/24", false)
	h.waitState(StateIdle)
	h.checkCounts()

	// Held: a connection is refused with Cease / Connection Rejected.
	var c net.Conn
	if err := h.ns.Do(func() (err error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("10.9.0.2")}, Timeout: 5 * time.Second}
		c, err = d.Dial("tcp", "10.9.0.1:1179")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	refused := &scripted{t: t, c: c, buf: make([]byte, wire.MaxMessageLen)}
	n, err = wire.DecodeNotification(refused.readUntil(wire.TypeNotification))
	c.Close()
	if err != nil || n.Code != wire.CodeCease || n.Subcode != wire.SubConnectionRejected {
		t.Fatalf("while held: got %v (%v), want Cease / Connection Rejected", n, err)
	}

	// After the restart time the neighbour may connect again.
	time.Sleep(2 * time.Second)
	p, _ = h.connect(caps)
	p.announce(enc, a, "10.60.5.0/24")
	waitRIB(t, h.r, "10.60.5.0/24", true)
}
