package kernel

import (
	"net/netip"

	"github.com/routerd/routerd/internal/rib"
	"golang.org/x/sys/unix"
)

// nhGroupMember is one entry of a kernel nexthop group.
type nhGroupMember struct {
	ID     uint32
	Weight uint16 // 1..256
}

// kobject is a kernel nexthop object as dumped.
type kobject struct {
	ID        uint32
	Protocol  uint8
	Family    uint8
	Gateway   netip.Addr
	Ifindex   int32
	Group     []nhGroupMember // non-empty for a group object
	Blackhole bool
}

// appendNexthop appends an RTM_NEWNEXTHOP for a single next hop. A
// device-only next hop is created as IPv6 so that routes of both families
// can use it (the kernel refuses IPv4 objects for IPv6 routes).
func (m *msgBuf) appendNexthop(seq uint32, flags uint16, id uint32, proto uint8, nh rib.NextHop) {
	start := m.begin(unix.RTM_NEWNEXTHOP, unix.NLM_F_REQUEST|flags, seq)
	fam := uint8(unix.AF_INET6)
	if nh.Gateway.Is4() {
		fam = unix.AF_INET
	}
	m.b = append(m.b, fam, 0, proto, 0, 0, 0, 0, 0)
	m.attrU32(unix.NHA_ID, id)
	m.attrU32(unix.NHA_OIF, uint32(nh.Ifindex))
	if nh.Gateway.Is4() {
		a := nh.Gateway.As4()
		m.attr(unix.NHA_GATEWAY, a[:])
	} else if nh.Gateway.Is6() {
		a := nh.Gateway.As16()
		m.attr(unix.NHA_GATEWAY, a[:])
	}
	m.end(start)
}

// appendNexthopGroup appends an RTM_NEWNEXTHOP for a group object.
func (m *msgBuf) appendNexthopGroup(seq uint32, flags uint16, id uint32, proto uint8, members []nhGroupMember) {
	start := m.begin(unix.RTM_NEWNEXTHOP, unix.NLM_F_REQUEST|flags, seq)
	m.b = append(m.b, unix.AF_UNSPEC, 0, proto, 0, 0, 0, 0, 0)
	m.attrU32(unix.NHA_ID, id)
	v := make([]byte, 0, 8*len(members))
	for _, mb := range members {
		w := mb.Weight
		if w == 0 {
			w = 1
		}
		v = ne.AppendUint32(v, mb.ID)
		v = append(v, uint8(w-1), uint8((w-1)>>8), 0, 0)
	}
	m.attr(unix.NHA_GROUP, v)
	m.end(start)
}

func (m *msgBuf) appendDelNexthop(seq uint32, id uint32) {
	start := m.begin(unix.RTM_DELNEXTHOP, unix.NLM_F_REQUEST, seq)
	m.b = append(m.b, unix.AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0)
	m.attrU32(unix.NHA_ID, id)
	m.end(start)
}

func parseNexthop(b []byte) (o kobject, ok bool) {
	if len(b) < nhmsgLen {
		return o, false
	}
	o.Family, o.Protocol = b[0], b[2]
	forAttrs(b[nhmsgLen:], func(typ uint16, v []byte) {
		switch typ {
		case unix.NHA_ID:
			if len(v) == 4 {
				o.ID = ne.Uint32(v)
			}
		case unix.NHA_OIF:
			if len(v) == 4 {
				o.Ifindex = int32(ne.Uint32(v))
			}
		case unix.NHA_GATEWAY:
			o.Gateway = addrFrom(v)
		case unix.NHA_BLACKHOLE:
			o.Blackhole = true
		case unix.NHA_GROUP:
			o.Group = o.Group[:0] // the last attribute counts
			for len(v) >= 8 {
				// struct nexthop_grp: id, weight-1 (low byte), weight-1
				// (high byte, 6.12+); 65536 does not fit and is clamped.
				w := uint32(v[4]) | uint32(v[5])<<8 + 1
				o.Group = append(o.Group, nhGroupMember{ID: ne.Uint32(v[0:4]), Weight: uint16(min(w, 0xffff))})
				v = v[8:]
			}
		}
	})
	return o, o.ID != 0
}

// nexthopDumpRequest asks for every nexthop object.
func nexthopDumpRequest() []byte { return make([]byte, nhmsgLen) }
