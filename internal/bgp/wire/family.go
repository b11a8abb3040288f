package wire

import "fmt"

// AFI values (IANA Address Family Numbers).
const (
	AFIIPv4 uint16 = 1
	AFIIPv6 uint16 = 2
)

// SAFI values.
const (
	SAFIUnicast uint8 = 1
)

// Family is an address family and subsequent address family (AFI/SAFI).
type Family struct {
	AFI  uint16
	SAFI uint8
}

// The families this codec carries routes for.
var (
	IPv4Unicast = Family{AFIIPv4, SAFIUnicast}
	IPv6Unicast = Family{AFIIPv6, SAFIUnicast}
)

func (f Family) String() string {
	switch f {
	case IPv4Unicast:
		return "ipv4-unicast"
	case IPv6Unicast:
		return "ipv6-unicast"
	}
	return fmt.Sprintf("afi%d-safi%d", f.AFI, f.SAFI)
}

// Families is a set of the families whose NLRI this codec decodes.
type Families uint8

// Members of Families.
const (
	FamIPv4Unicast Families = 1 << iota
	FamIPv6Unicast
)

// FamilyBit returns the set holding only f, or 0 when this codec does not
// carry routes of f.
func FamilyBit(f Family) Families {
	switch f {
	case IPv4Unicast:
		return FamIPv4Unicast
	case IPv6Unicast:
		return FamIPv6Unicast
	}
	return 0
}

// Has reports whether f is in s.
func (s Families) Has(f Family) bool {
	b := FamilyBit(f)
	return b != 0 && s&b != 0
}
