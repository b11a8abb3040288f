// Package rib holds routerd's routing information base: the candidate routes
// every source offers, per kernel routing table, the best route chosen among
// them, the next-hop groups those routes forward through (resolved
// recursively through the RIB itself), and the coalescing change feed that
// consumers (kernel programmer, shared-memory FIB, API watchers, BGP) read.
//
// Sources and consumers never meet: a source calls Apply or Replace with a
// batch; a consumer holds a Subscription and drains Updates at its own pace.
// A consumer that falls behind sees only the latest state of each prefix.
package rib

import (
	"fmt"
	"net/netip"
)

// Table is a kernel routing table number.
type Table uint32

// Well-known kernel table numbers.
const (
	TableDefault Table = 253
	TableMain    Table = 254
	TableLocal   Table = 255
)

func (t Table) String() string {
	switch t {
	case TableMain:
		return "main"
	case TableDefault:
		return "default"
	case TableLocal:
		return "local"
	}
	return fmt.Sprintf("%d", uint32(t))
}

// Origin is the kind of source a route came from.
type Origin uint8

// Origins, in the order used to break ties between equal distance and metric.
const (
	OriginConnected Origin = iota + 1
	OriginKernel           // a route another program put in the kernel; read-only
	OriginStatic           // static route from the configuration file
	OriginAPI              // static route added at run time through the API
	OriginEBGP
	OriginIBGP
)

var originNames = [...]string{"", "connected", "kernel", "static", "api", "ebgp", "ibgp"}

func (o Origin) String() string {
	if int(o) < len(originNames) && o != 0 {
		return originNames[o]
	}
	return fmt.Sprintf("origin(%d)", uint8(o))
}

// ParseOrigin is the inverse of Origin.String; "bgp" is not an origin.
func ParseOrigin(s string) (Origin, bool) {
	for i, n := range originNames {
		if i > 0 && n == s {
			return Origin(i), true
		}
	}
	return 0, false
}

// BGP reports whether routes of this origin come from BGP.
func (o Origin) BGP() bool { return o == OriginEBGP || o == OriginIBGP }

// Owned reports whether routerd itself programs routes of this origin into
// the kernel. Connected routes are the kernel's own and foreign kernel routes
// belong to other programs.
func (o Origin) Owned() bool { return o != OriginConnected && o != OriginKernel }

// Kind says what the kernel does with a packet that matches the route.
type Kind uint8

// Route kinds; the numbering is routerd's own, not the kernel's RTN_*.
const (
	KindUnicast Kind = iota + 1
	KindBlackhole
	KindUnreachable
	KindProhibit
)

var kindNames = [...]string{"", "unicast", "blackhole", "unreachable", "prohibit"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// NextHop is one path of a route: a gateway, an interface, or both. A source
// may leave Ifindex zero and let the RIB resolve the gateway; resolved next
// hops always carry the interface.
type NextHop struct {
	Gateway netip.Addr // invalid for a directly attached route
	Ifindex int32
	Weight  uint16 // ECMP weight, 1..256; 0 means 1
}

func (n NextHop) String() string {
	s := ""
	if n.Gateway.IsValid() {
		s = "via " + n.Gateway.String()
	}
	if n.Ifindex != 0 {
		if s != "" {
			s += " "
		}
		s += fmt.Sprintf("ifindex %d", n.Ifindex)
	}
	if n.Weight > 1 {
		s += fmt.Sprintf(" weight %d", n.Weight)
	}
	return s
}

// Route is a candidate a source offers for one prefix in one table.
type Route struct {
	Table    Table
	Prefix   netip.Prefix // masked; the RIB masks it if the source did not
	Kind     Kind         // zero means KindUnicast
	Distance uint8        // administrative distance; lower wins
	Metric   uint32       // lower wins among equal distance
	NextHops []NextHop    // unicast only; several means ECMP
	// Proto is the kernel rtm_protocol of a foreign kernel route (OriginKernel),
	// so operators see who owns it. Zero otherwise.
	Proto uint8
	// ID, if not zero, is the key's ID in the RIB's Index, from a source
	// that keeps its own table by those IDs and holds a reference on it
	// until the route is applied; the RIB then need not look the key up.
	ID uint32
}

// Key identifies a prefix in a table.
type Key struct {
	Table  Table
	Prefix netip.Prefix
}

func (k Key) String() string { return k.Prefix.String() + " table " + k.Table.String() }
