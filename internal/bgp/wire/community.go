package wire

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Community is an RFC 1997 community: AS in the high 16 bits, value low.
type Community uint32

// Well-known communities (IANA "BGP Well-known Communities").
const (
	GracefulShutdown  Community = 0xFFFF0000 // RFC 8326
	AcceptOwn         Community = 0xFFFF0001 // RFC 7611
	LLGRStale         Community = 0xFFFF0006 // RFC 9494
	NoLLGR            Community = 0xFFFF0007 // RFC 9494
	Blackhole         Community = 0xFFFF029A // RFC 7999
	NoExport          Community = 0xFFFFFF01 // RFC 1997
	NoAdvertise       Community = 0xFFFFFF02 // RFC 1997
	NoExportSubconfed Community = 0xFFFFFF03 // RFC 1997
	NoPeer            Community = 0xFFFFFF04 // RFC 3765
)

var communityNames = map[Community]string{
	GracefulShutdown: "graceful-shutdown", AcceptOwn: "accept-own",
	LLGRStale: "llgr-stale", NoLLGR: "no-llgr", Blackhole: "blackhole",
	NoExport: "no-export", NoAdvertise: "no-advertise",
	NoExportSubconfed: "no-export-subconfed", NoPeer: "no-peer",
}

func (c Community) String() string {
	if n, ok := communityNames[c]; ok {
		return n
	}
	return fmt.Sprintf("%d:%d", uint32(c)>>16, uint32(c)&0xffff)
}

// Communities is an immutable, comparable list of communities in wire
// order (packed 4 bytes each).
type Communities struct{ s string }

// MakeCommunities builds a list.
func MakeCommunities(cs ...Community) Communities {
	b := make([]byte, 0, 4*len(cs))
	for _, c := range cs {
		b = binary.BigEndian.AppendUint32(b, uint32(c))
	}
	return Communities{string(b)}
}

// Len returns the number of communities.
func (c Communities) Len() int { return len(c.s) / 4 }

// At returns the i-th community.
func (c Communities) At(i int) Community { return Community(asAt(c.s, i)) }

// Has reports whether x is in the list.
func (c Communities) Has(x Community) bool {
	for i := 0; i < c.Len(); i++ {
		if c.At(i) == x {
			return true
		}
	}
	return false
}

// Append returns the list with cs added at the end (those already present
// are not repeated).
func (c Communities) Append(cs ...Community) Communities {
	b := []byte(c.s)
	for _, x := range cs {
		if !c.Has(x) {
			b = binary.BigEndian.AppendUint32(b, uint32(x))
			c = Communities{string(b)}
		}
	}
	return Communities{string(b)}
}

func (c Communities) String() string {
	var b strings.Builder
	for i := 0; i < c.Len(); i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(c.At(i).String())
	}
	return b.String()
}

// ExtCommunity is an RFC 4360 extended community, as its 8 wire bytes.
type ExtCommunity [8]byte

// Type returns the type octet (high) and subtype octet (low).
func (e ExtCommunity) Type() (typ, subtype uint8) { return e[0], e[1] }

// Transitive reports whether the community may cross an AS boundary: the
// type octet's non-transitive bit (0x40, RFC 4360 §2) is clear.
func (e ExtCommunity) Transitive() bool { return e[0]&0x40 == 0 }

// String returns a route target or route origin as rt:AS:value or
// soo:AS:value (the two-octet AS form of RFC 4360 §3.1 and the four-octet
// one of RFC 5668 with an AS above 65535), rt:A.B.C.D:value (IPv4
// address specific, §3.2), and any other community, or a four-octet AS
// form with an AS below 65536, as 0x and its 16 hex digits: each form
// names exactly one community, so the text can be written back in a
// configuration.
func (e ExtCommunity) String() string {
	var kind string
	switch e[1] {
	case 0x02:
		kind = "rt"
	case 0x03:
		kind = "soo"
	}
	if kind != "" {
		switch e[0] {
		case 0x00:
			return fmt.Sprintf("%s:%d:%d", kind, binary.BigEndian.Uint16(e[2:]), binary.BigEndian.Uint32(e[4:]))
		case 0x01:
			return fmt.Sprintf("%s:%d.%d.%d.%d:%d", kind, e[2], e[3], e[4], e[5], binary.BigEndian.Uint16(e[6:]))
		case 0x02:
			if as := binary.BigEndian.Uint32(e[2:]); as > 0xffff {
				return fmt.Sprintf("%s:%d:%d", kind, as, binary.BigEndian.Uint16(e[6:]))
			}
		}
	}
	return fmt.Sprintf("0x%x", e[:])
}

// ExtCommunities is an immutable, comparable list of extended communities.
type ExtCommunities struct{ s string }

// MakeExtCommunities builds a list.
func MakeExtCommunities(es ...ExtCommunity) ExtCommunities {
	b := make([]byte, 0, 8*len(es))
	for _, e := range es {
		b = append(b, e[:]...)
	}
	return ExtCommunities{string(b)}
}

// Len returns the number of extended communities.
func (e ExtCommunities) Len() int { return len(e.s) / 8 }

// At returns the i-th extended community.
func (e ExtCommunities) At(i int) ExtCommunity {
	return ExtCommunity([]byte(e.s[8*i : 8*i+8]))
}

// Has reports whether x is in the list.
func (e ExtCommunities) Has(x ExtCommunity) bool {
	for i := 0; i < e.Len(); i++ {
		if e.s[8*i:8*i+8] == string(x[:]) {
			return true
		}
	}
	return false
}

// Append returns the list with es added at the end (those already present
// are not repeated).
func (e ExtCommunities) Append(es ...ExtCommunity) ExtCommunities {
	for _, x := range es {
		if !e.Has(x) {
			e = ExtCommunities{e.s + string(x[:])}
		}
	}
	return e
}

// Remove returns the list without the communities for which drop is true,
// the same list (no copy) when there are none.
func (e ExtCommunities) Remove(drop func(ExtCommunity) bool) ExtCommunities {
	var b []byte
	for i := 0; i < e.Len(); i++ {
		x := e.At(i)
		switch {
		case drop(x):
			if b == nil {
				b = append(make([]byte, 0, len(e.s)-8), e.s[:8*i]...)
			}
		case b != nil:
			b = append(b, x[:]...)
		}
	}
	if b == nil {
		return e
	}
	return ExtCommunities{string(b)}
}

// NonTransitive reports whether the list holds a non-transitive
// community.
func (e ExtCommunities) NonTransitive() bool {
	for i := 0; i < e.Len(); i++ {
		if e.s[8*i]&0x40 != 0 {
			return true
		}
	}
	return false
}

// LargeCommunity is an RFC 8092 large community.
type LargeCommunity struct{ Global, Local1, Local2 uint32 }

func (l LargeCommunity) String() string {
	return fmt.Sprintf("%d:%d:%d", l.Global, l.Local1, l.Local2)
}

// LargeCommunities is an immutable, comparable list of large communities.
type LargeCommunities struct{ s string }

// MakeLargeCommunities builds a list.
func MakeLargeCommunities(ls ...LargeCommunity) LargeCommunities {
	b := make([]byte, 0, 12*len(ls))
	for _, l := range ls {
		b = binary.BigEndian.AppendUint32(b, l.Global)
		b = binary.BigEndian.AppendUint32(b, l.Local1)
		b = binary.BigEndian.AppendUint32(b, l.Local2)
	}
	return LargeCommunities{string(b)}
}

// Len returns the number of large communities.
func (l LargeCommunities) Len() int { return len(l.s) / 12 }

// At returns the i-th large community.
func (l LargeCommunities) At(i int) LargeCommunity {
	s := l.s[12*i:]
	return LargeCommunity{asAt(s, 0), asAt(s, 1), asAt(s, 2)}
}

// Has reports whether x is in the list.
func (l LargeCommunities) Has(x LargeCommunity) bool {
	for i := 0; i < l.Len(); i++ {
		if l.At(i) == x {
			return true
		}
	}
	return false
}

// Append returns the list with ls added at the end (those already present
// are not repeated).
func (l LargeCommunities) Append(ls ...LargeCommunity) LargeCommunities {
	for _, x := range ls {
		if !l.Has(x) {
			b := []byte(l.s)
			b = binary.BigEndian.AppendUint32(b, x.Global)
			b = binary.BigEndian.AppendUint32(b, x.Local1)
			b = binary.BigEndian.AppendUint32(b, x.Local2)
			l = LargeCommunities{string(b)}
		}
	}
	return l
}

// ClusterList is an immutable, comparable RFC 4456 CLUSTER_LIST.
type ClusterList struct{ s string }

// MakeClusterList builds a list of cluster IDs.
func MakeClusterList(ids ...uint32) ClusterList {
	b := make([]byte, 0, 4*len(ids))
	for _, id := range ids {
		b = binary.BigEndian.AppendUint32(b, id)
	}
	return ClusterList{string(b)}
}

// Len returns the number of cluster IDs (used by the decision process,
// RFC 4456 §9).
func (c ClusterList) Len() int { return len(c.s) / 4 }

// At returns the i-th cluster ID.
func (c ClusterList) At(i int) uint32 { return asAt(c.s, i) }

// Contains reports whether id is in the list (reflection loop detection).
func (c ClusterList) Contains(id uint32) bool {
	for i := 0; i < c.Len(); i++ {
		if c.At(i) == id {
			return true
		}
	}
	return false
}

// Prepend returns the list with id in front, as a route reflector sends it.
func (c ClusterList) Prepend(id uint32) ClusterList {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(c.s)), id)
	return ClusterList{string(append(b, c.s...))}
}
