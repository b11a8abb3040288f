package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// AttrType is a path attribute type code.
type AttrType uint8

// Path attribute type codes (IANA "BGP Path Attributes").
const (
	AttrOrigin           AttrType = 1
	AttrASPath           AttrType = 2
	AttrNextHop          AttrType = 3
	AttrMED              AttrType = 4
	AttrLocalPref        AttrType = 5
	AttrAtomicAggregate  AttrType = 6
	AttrAggregator       AttrType = 7
	AttrCommunities      AttrType = 8
	AttrOriginatorID     AttrType = 9
	AttrClusterList      AttrType = 10
	AttrMPReach          AttrType = 14
	AttrMPUnreach        AttrType = 15
	AttrExtCommunities   AttrType = 16
	AttrAS4Path          AttrType = 17
	AttrAS4Aggregator    AttrType = 18
	AttrLargeCommunities AttrType = 32
)

var attrNames = map[AttrType]string{
	AttrOrigin: "ORIGIN", AttrASPath: "AS_PATH", AttrNextHop: "NEXT_HOP",
	AttrMED: "MULTI_EXIT_DISC", AttrLocalPref: "LOCAL_PREF",
	AttrAtomicAggregate: "ATOMIC_AGGREGATE", AttrAggregator: "AGGREGATOR",
	AttrCommunities: "COMMUNITIES", AttrOriginatorID: "ORIGINATOR_ID",
	AttrClusterList: "CLUSTER_LIST", AttrMPReach: "MP_REACH_NLRI",
	AttrMPUnreach: "MP_UNREACH_NLRI", AttrExtCommunities: "EXTENDED_COMMUNITIES",
	AttrAS4Path: "AS4_PATH", AttrAS4Aggregator: "AS4_AGGREGATOR",
	AttrLargeCommunities: "LARGE_COMMUNITY",
}

func (t AttrType) String() string {
	if n, ok := attrNames[t]; ok {
		return n
	}
	return fmt.Sprintf("attribute(%d)", uint8(t))
}

// Attribute flag bits (RFC 4271 §4.3).
const (
	FlagOptional   uint8 = 0x80
	FlagTransitive uint8 = 0x40
	FlagPartial    uint8 = 0x20
	FlagExtLength  uint8 = 0x10
)

// wantFlags is the Optional and Transitive bits each known attribute must
// carry.
var wantFlags = map[AttrType]uint8{
	AttrOrigin:           FlagTransitive,
	AttrASPath:           FlagTransitive,
	AttrNextHop:          FlagTransitive,
	AttrMED:              FlagOptional,
	AttrLocalPref:        FlagTransitive,
	AttrAtomicAggregate:  FlagTransitive,
	AttrAggregator:       FlagOptional | FlagTransitive,
	AttrCommunities:      FlagOptional | FlagTransitive,
	AttrOriginatorID:     FlagOptional,
	AttrClusterList:      FlagOptional,
	AttrMPReach:          FlagOptional,
	AttrMPUnreach:        FlagOptional,
	AttrExtCommunities:   FlagOptional | FlagTransitive,
	AttrAS4Path:          FlagOptional | FlagTransitive,
	AttrAS4Aggregator:    FlagOptional | FlagTransitive,
	AttrLargeCommunities: FlagOptional | FlagTransitive,
}

// Origin is the ORIGIN attribute's value.
type Origin uint8

// ORIGIN values.
const (
	OriginIGP        Origin = 0
	OriginEGP        Origin = 1
	OriginIncomplete Origin = 2
)

func (o Origin) String() string {
	switch o {
	case OriginIGP:
		return "igp"
	case OriginEGP:
		return "egp"
	case OriginIncomplete:
		return "incomplete"
	}
	return fmt.Sprintf("origin(%d)", uint8(o))
}

// Aggregator is the AGGREGATOR attribute (with its 4-octet AS, merged from
// AS4_AGGREGATOR on 2-octet sessions).
type Aggregator struct {
	AS   uint32
	Addr netip.Addr
}

// AttrMask has bit 1<<t set for each attribute type t that is present.
type AttrMask uint64

// Has reports whether t is in m.
func (m AttrMask) Has(t AttrType) bool { return t < 64 && m&(1<<t) != 0 }

// With returns m with t added.
func (m AttrMask) With(t AttrType) AttrMask { return m | 1<<t }

// Without returns m with t removed.
func (m AttrMask) Without(t AttrType) AttrMask { return m &^ (1 << t) }

// Attrs is a decoded set of path attributes. It is comparable and holds
// its variable-length parts as immutable packed strings, so that routes
// with the same attributes share one copy through unique.Make: the decoder
// returns unique.Handle[Attrs] values, and policy builds a modified copy and
// interns it again.
//
// Present says which of ORIGIN, AS_PATH, MED, LOCAL_PREF,
// ATOMIC_AGGREGATE, AGGREGATOR and ORIGINATOR_ID are present; the list
// attributes are present when non-empty, and the next hop when valid.
type Attrs struct {
	Present      AttrMask
	Origin       Origin
	ASPath       ASPath
	MED          uint32
	LocalPref    uint32
	Aggregator   Aggregator
	OriginatorID netip.Addr
	// NextHop is the NEXT_HOP (IPv4 NLRI field) or the MP_REACH_NLRI next
	// hop (global address for IPv6), and LinkLocal the optional IPv6
	// link-local next hop.
	NextHop          netip.Addr
	LinkLocal        netip.Addr
	Communities      Communities
	ExtCommunities   ExtCommunities
	LargeCommunities LargeCommunities
	ClusterList      ClusterList
	// Unknown holds unrecognised optional transitive attributes as they
	// will be re-sent: Partial bit set (RFC 4271 §5).
	Unknown RawAttrs
}

// Has reports whether the attribute of type t is present.
func (a *Attrs) Has(t AttrType) bool {
	switch t {
	case AttrNextHop:
		return a.NextHop.IsValid()
	case AttrCommunities:
		return a.Communities.Len() > 0
	case AttrExtCommunities:
		return a.ExtCommunities.Len() > 0
	case AttrLargeCommunities:
		return a.LargeCommunities.Len() > 0
	case AttrClusterList:
		return a.ClusterList.Len() > 0
	}
	return a.Present.Has(t)
}

// String formats the attributes for logs and the CLI.
func (a *Attrs) String() string {
	var b strings.Builder
	sep := func(k string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
	}
	if a.Present.Has(AttrOrigin) {
		sep("origin")
		b.WriteString(a.Origin.String())
	}
	if a.Present.Has(AttrASPath) {
		sep("as-path")
		fmt.Fprintf(&b, "[%s]", a.ASPath)
	}
	if a.NextHop.IsValid() {
		sep("next-hop")
		b.WriteString(a.NextHop.String())
		if a.LinkLocal.IsValid() {
			b.WriteString("," + a.LinkLocal.String())
		}
	}
	if a.Present.Has(AttrMED) {
		sep("med")
		fmt.Fprint(&b, a.MED)
	}
	if a.Present.Has(AttrLocalPref) {
		sep("local-pref")
		fmt.Fprint(&b, a.LocalPref)
	}
	if a.Present.Has(AttrAtomicAggregate) {
		sep("atomic-aggregate")
		b.WriteString("true")
	}
	if a.Present.Has(AttrAggregator) {
		sep("aggregator")
		fmt.Fprintf(&b, "%d,%s", a.Aggregator.AS, a.Aggregator.Addr)
	}
	if a.Communities.Len() > 0 {
		sep("communities")
		fmt.Fprintf(&b, "[%s]", a.Communities)
	}
	if n := a.ExtCommunities.Len(); n > 0 {
		sep("ext-communities")
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(a.ExtCommunities.At(i).String())
		}
	}
	if n := a.LargeCommunities.Len(); n > 0 {
		sep("large-communities")
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(a.LargeCommunities.At(i).String())
		}
	}
	if a.Present.Has(AttrOriginatorID) {
		sep("originator-id")
		b.WriteString(a.OriginatorID.String())
	}
	if n := a.ClusterList.Len(); n > 0 {
		sep("cluster-list")
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			var id [4]byte
			binary.BigEndian.PutUint32(id[:], a.ClusterList.At(i))
			b.WriteString(netip.AddrFrom4(id).String())
		}
	}
	for _, u := range a.Unknown.All() {
		sep(fmt.Sprintf("attr%d", u.Type))
		fmt.Fprintf(&b, "%x", u.Value)
	}
	return b.String()
}

// RawAttrs is an immutable, comparable list of encoded path attributes.
type RawAttrs struct{ s string }

// RawAttr is one attribute of a RawAttrs.
type RawAttr struct {
	Flags uint8
	Type  AttrType
	Value string
}

// Len returns the number of attributes.
func (r RawAttrs) Len() int {
	n := 0
	r.each(func(RawAttr) bool { n++; return true })
	return n
}

// All returns the attributes (allocates).
func (r RawAttrs) All() []RawAttr {
	var out []RawAttr
	r.each(func(a RawAttr) bool { out = append(out, a); return true })
	return out
}

func (r RawAttrs) each(f func(RawAttr) bool) {
	s := r.s
	for len(s) >= 3 {
		fl, t, hl, l := s[0], s[1], 3, int(s[2])
		if fl&FlagExtLength != 0 {
			hl, l = 4, int(s[2])<<8|int(s[3])
		}
		if !f(RawAttr{Flags: fl, Type: AttrType(t), Value: s[hl : hl+l]}) {
			return
		}
		s = s[hl+l:]
	}
}

// MakeRawAttrs builds a list from attributes, setting the Partial bit on
// each and the extended length bit where needed.
func MakeRawAttrs(as ...RawAttr) RawAttrs {
	var b []byte
	for _, a := range as {
		b = appendAttrHeader(b, a.Flags|FlagPartial, a.Type, len(a.Value))
		b = append(b, a.Value...)
	}
	return RawAttrs{string(b)}
}

// appendAttrHeader appends an attribute header, with the extended length
// bit set exactly when the value exceeds 255 bytes.
func appendAttrHeader(dst []byte, flags uint8, t AttrType, n int) []byte {
	flags &^= FlagExtLength | 0x0f
	if n > 255 {
		return append(dst, flags|FlagExtLength, byte(t), byte(n>>8), byte(n))
	}
	return append(dst, flags, byte(t), byte(n))
}

// appendAttrs appends the encoding of a's attributes for a session with
// options o, in type code order. NEXT_HOP is included when nextHop4 (IPv4
// NLRI field), MP_REACH_NLRI never. Towards a 2-octet speaker AS numbers
// above 65535 become AS_TRANS and AS4_PATH/AS4_AGGREGATOR carry them (RFC
// 6793 §4.2.2); towards an external peer LOCAL_PREF, ORIGINATOR_ID and
// CLUSTER_LIST are left out, and so are confederation segments of AS_PATH.
func (a *Attrs) appendAttrs(dst []byte, o *Options, nextHop4 bool) ([]byte, error) {
	if a.Present.Has(AttrOrigin) {
		dst = append(dst, FlagTransitive, byte(AttrOrigin), 1, byte(a.Origin))
	}
	asSize := 2
	if o.AS4 {
		asSize = 4
	}
	if a.Present.Has(AttrASPath) {
		// Confederation segments never leave the confederation (RFC 5065
		// §4.1).
		n := a.ASPath.wireLen(asSize, o.EBGP)
		if n > 0xffff {
			return dst, fmt.Errorf("AS_PATH of %d bytes", n)
		}
		dst = appendAttrHeader(dst, FlagTransitive, AttrASPath, n)
		dst = a.ASPath.appendWire(dst, asSize, o.EBGP)
	}
	if nextHop4 {
		if !a.NextHop.Is4() {
			return dst, fmt.Errorf("NEXT_HOP %v is not IPv4", a.NextHop)
		}
		nh := a.NextHop.As4()
		dst = append(dst, FlagTransitive, byte(AttrNextHop), 4)
		dst = append(dst, nh[:]...)
	}
	if a.Present.Has(AttrMED) {
		dst = append(dst, FlagOptional, byte(AttrMED), 4)
		dst = binary.BigEndian.AppendUint32(dst, a.MED)
	}
	if a.Present.Has(AttrLocalPref) && !o.EBGP {
		dst = append(dst, FlagTransitive, byte(AttrLocalPref), 4)
		dst = binary.BigEndian.AppendUint32(dst, a.LocalPref)
	}
	if a.Present.Has(AttrAtomicAggregate) {
		dst = append(dst, FlagTransitive, byte(AttrAtomicAggregate), 0)
	}
	wideAgg := false
	if a.Present.Has(AttrAggregator) {
		if !a.Aggregator.Addr.Is4() {
			return dst, fmt.Errorf("AGGREGATOR address %v is not IPv4", a.Aggregator.Addr)
		}
		ip := a.Aggregator.Addr.As4()
		if o.AS4 {
			dst = append(dst, FlagOptional|FlagTransitive, byte(AttrAggregator), 8)
			dst = binary.BigEndian.AppendUint32(dst, a.Aggregator.AS)
		} else {
			as := a.Aggregator.AS
			if as > 0xffff {
				as, wideAgg = ASTrans, true
			}
			dst = append(dst, FlagOptional|FlagTransitive, byte(AttrAggregator), 6)
			dst = binary.BigEndian.AppendUint16(dst, uint16(as))
		}
		dst = append(dst, ip[:]...)
	}
	if n := len(a.Communities.s); n > 0 {
		dst = appendAttrHeader(dst, FlagOptional|FlagTransitive, AttrCommunities, n)
		dst = append(dst, a.Communities.s...)
	}
	if a.Present.Has(AttrOriginatorID) && !o.EBGP {
		if !a.OriginatorID.Is4() {
			return dst, fmt.Errorf("ORIGINATOR_ID %v is not IPv4", a.OriginatorID)
		}
		id := a.OriginatorID.As4()
		dst = append(dst, FlagOptional, byte(AttrOriginatorID), 4)
		dst = append(dst, id[:]...)
	}
	if n := len(a.ClusterList.s); n > 0 && !o.EBGP {
		dst = appendAttrHeader(dst, FlagOptional, AttrClusterList, n)
		dst = append(dst, a.ClusterList.s...)
	}
	if n := len(a.ExtCommunities.s); n > 0 {
		dst = appendAttrHeader(dst, FlagOptional|FlagTransitive, AttrExtCommunities, n)
		dst = append(dst, a.ExtCommunities.s...)
	}
	if !o.AS4 && a.Present.Has(AttrASPath) && a.ASPath.needsAS4() {
		n := a.ASPath.wireLen(4, true)
		dst = appendAttrHeader(dst, FlagOptional|FlagTransitive, AttrAS4Path, n)
		dst = a.ASPath.appendWire(dst, 4, true)
	}
	if wideAgg {
		ip := a.Aggregator.Addr.As4()
		dst = append(dst, FlagOptional|FlagTransitive, byte(AttrAS4Aggregator), 8)
		dst = binary.BigEndian.AppendUint32(dst, a.Aggregator.AS)
		dst = append(dst, ip[:]...)
	}
	if n := len(a.LargeCommunities.s); n > 0 {
		dst = appendAttrHeader(dst, FlagOptional|FlagTransitive, AttrLargeCommunities, n)
		dst = append(dst, a.LargeCommunities.s...)
	}
	dst = append(dst, a.Unknown.s...)
	return dst, nil
}
