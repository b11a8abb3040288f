package wire

import (
	"encoding/binary"
	"fmt"
)

// Capability codes (IANA "Capability Codes").
const (
	CapMultiprotocol        uint8 = 1  // RFC 4760
	CapRouteRefresh         uint8 = 2  // RFC 2918
	CapExtendedNextHop      uint8 = 5  // RFC 8950
	CapExtendedMessage      uint8 = 6  // RFC 8654
	CapGracefulRestart      uint8 = 64 // RFC 4724
	CapAS4                  uint8 = 65 // RFC 6793
	CapEnhancedRouteRefresh uint8 = 70 // RFC 7313
)

// Capabilities is what a speaker advertises in its OPEN (RFC 5492).
// Capabilities this codec does not know are kept in Unknown, in order.
type Capabilities struct {
	// Multiprotocol lists the advertised AFI/SAFIs, in order. A speaker
	// that advertises none implicitly speaks only IPv4 unicast.
	Multiprotocol        []Family
	RouteRefresh         bool
	EnhancedRouteRefresh bool
	ExtendedMessage      bool
	// HasAS4 says the 4-octet AS capability was present; AS4 is its value.
	HasAS4 bool
	AS4    uint32
	// GracefulRestart is nil when the capability was absent.
	GracefulRestart *GracefulRestart
	// ExtendedNextHop lists RFC 8950 tuples: NLRI family and next hop AFI.
	ExtendedNextHop []ExtendedNextHop
	Unknown         []RawCapability
}

// GracefulRestart is the graceful restart capability (RFC 4724 §3).
type GracefulRestart struct {
	Restarting   bool   // R bit: the sender has restarted
	Notification bool   // N bit (RFC 8538): graceful restart also on NOTIFICATION
	RestartTime  uint16 // seconds, 12 bits
	Families     []GracefulRestartFamily
}

// GracefulRestartFamily is one family entry of the graceful restart
// capability.
type GracefulRestartFamily struct {
	Family
	ForwardingPreserved bool // F bit
}

// ExtendedNextHop is one tuple of the extended next hop capability: routes
// of NLRI may carry a next hop of NextHopAFI.
type ExtendedNextHop struct {
	NLRI       Family
	NextHopAFI uint16
}

// RawCapability is a capability this codec does not interpret.
type RawCapability struct {
	Code  uint8
	Value []byte
}

// decodeCapabilities parses the value of a Capabilities optional parameter
// and adds what it holds to c.
func (c *Capabilities) decode(b []byte) error {
	for len(b) > 0 {
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			return fmt.Errorf("capability overruns its parameter")
		}
		code, v := b[0], b[2:2+int(b[1])]
		b = b[2+len(v):]
		bad := func() error { return fmt.Errorf("capability %d has bad length %d", code, len(v)) }
		switch code {
		case CapMultiprotocol:
			if len(v) != 4 {
				return bad()
			}
			c.Multiprotocol = append(c.Multiprotocol, Family{binary.BigEndian.Uint16(v), v[3]})
		case CapRouteRefresh:
			if len(v) != 0 {
				return bad()
			}
			c.RouteRefresh = true
		case CapEnhancedRouteRefresh:
			if len(v) != 0 {
				return bad()
			}
			c.EnhancedRouteRefresh = true
		case CapExtendedMessage:
			if len(v) != 0 {
				return bad()
			}
			c.ExtendedMessage = true
		case CapAS4:
			if len(v) != 4 {
				return bad()
			}
			c.HasAS4 = true
			c.AS4 = binary.BigEndian.Uint32(v)
		case CapGracefulRestart:
			if len(v) < 2 || (len(v)-2)%4 != 0 {
				return bad()
			}
			g := &GracefulRestart{
				Restarting:   v[0]&0x80 != 0,
				Notification: v[0]&0x40 != 0,
				RestartTime:  binary.BigEndian.Uint16(v) & 0x0fff,
			}
			for r := v[2:]; len(r) >= 4; r = r[4:] {
				g.Families = append(g.Families, GracefulRestartFamily{
					Family:              Family{binary.BigEndian.Uint16(r), r[2]},
					ForwardingPreserved: r[3]&0x80 != 0,
				})
			}
			c.GracefulRestart = g
		case CapExtendedNextHop:
			if len(v)%6 != 0 {
				return bad()
			}
			for r := v; len(r) >= 6; r = r[6:] {
				safi := binary.BigEndian.Uint16(r[2:])
				if safi > 255 {
					continue // SAFIs are one octet everywhere else; ignore
				}
				c.ExtendedNextHop = append(c.ExtendedNextHop, ExtendedNextHop{
					NLRI:       Family{binary.BigEndian.Uint16(r), uint8(safi)},
					NextHopAFI: binary.BigEndian.Uint16(r[4:]),
				})
			}
		default:
			c.Unknown = append(c.Unknown, RawCapability{Code: code, Value: append([]byte{}, v...)})
		}
	}
	return nil
}

// append appends the encoding of every capability in c.
func (c *Capabilities) append(dst []byte) ([]byte, error) {
	for _, f := range c.Multiprotocol {
		dst = append(dst, CapMultiprotocol, 4, byte(f.AFI>>8), byte(f.AFI), 0, f.SAFI)
	}
	if c.RouteRefresh {
		dst = append(dst, CapRouteRefresh, 0)
	}
	if c.EnhancedRouteRefresh {
		dst = append(dst, CapEnhancedRouteRefresh, 0)
	}
	if c.ExtendedMessage {
		dst = append(dst, CapExtendedMessage, 0)
	}
	if c.HasAS4 {
		dst = append(dst, CapAS4, 4)
		dst = binary.BigEndian.AppendUint32(dst, c.AS4)
	}
	if g := c.GracefulRestart; g != nil {
		if len(g.Families) > 63 {
			return dst, fmt.Errorf("graceful restart capability with %d families", len(g.Families))
		}
		flags := g.RestartTime & 0x0fff
		if g.Restarting {
			flags |= 0x8000
		}
		if g.Notification {
			flags |= 0x4000
		}
		dst = append(dst, CapGracefulRestart, byte(2+4*len(g.Families)))
		dst = binary.BigEndian.AppendUint16(dst, flags)
		for _, f := range g.Families {
			var fl byte
			if f.ForwardingPreserved {
				fl = 0x80
			}
			dst = append(dst, byte(f.AFI>>8), byte(f.AFI), f.SAFI, fl)
		}
	}
	if n := len(c.ExtendedNextHop); n > 0 {
		if n > 42 {
			return dst, fmt.Errorf("extended next hop capability with %d tuples", n)
		}
		dst = append(dst, CapExtendedNextHop, byte(6*n))
		for _, e := range c.ExtendedNextHop {
			dst = binary.BigEndian.AppendUint16(dst, e.NLRI.AFI)
			dst = binary.BigEndian.AppendUint16(dst, uint16(e.NLRI.SAFI))
			dst = binary.BigEndian.AppendUint16(dst, e.NextHopAFI)
		}
	}
	for _, u := range c.Unknown {
		if len(u.Value) > 255 {
			return dst, fmt.Errorf("capability %d value of %d bytes", u.Code, len(u.Value))
		}
		dst = append(dst, u.Code, byte(len(u.Value)))
		dst = append(dst, u.Value...)
	}
	return dst, nil
}

// hasMP reports whether c advertises f, counting the implicit IPv4 unicast
// of a speaker that advertises no multiprotocol capability.
func (c *Capabilities) hasMP(f Family) bool {
	if len(c.Multiprotocol) == 0 {
		return f == IPv4Unicast
	}
	for _, g := range c.Multiprotocol {
		if g == f {
			return true
		}
	}
	return false
}

func (c *Capabilities) hasExtNH(f Family, afi uint16) bool {
	for _, e := range c.ExtendedNextHop {
		if e.NLRI == f && e.NextHopAFI == afi {
			return true
		}
	}
	return false
}

// Negotiate returns the codec options for a session whose local OPEN
// carried local and whose peer's carried remote: a capability is in effect
// when both sides advertised it. ebgp says whether the peer is external.
func Negotiate(local, remote *Capabilities, ebgp bool) Options {
	o := Options{
		AS4:             local.HasAS4 && remote.HasAS4,
		ExtendedMessage: local.ExtendedMessage && remote.ExtendedMessage,
		EBGP:            ebgp,
		ExtendedNextHop: local.hasExtNH(IPv4Unicast, AFIIPv6) && remote.hasExtNH(IPv4Unicast, AFIIPv6),
	}
	for _, f := range []Family{IPv4Unicast, IPv6Unicast} {
		if local.hasMP(f) && remote.hasMP(f) {
			o.Families |= FamilyBit(f)
		}
	}
	return o
}
