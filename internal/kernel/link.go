package kernel

import (
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Link is a network interface as the monitor sees it.
type Link struct {
	Index        int32
	Name         string
	Up           bool   // administratively up with carrier (IFF_UP and IFF_LOWER_UP)
	Flags        uint32 // IFF_* flags
	OperState    OperState
	MTU          uint32
	HardwareAddr net.HardwareAddr
	Addrs        []netip.Prefix // addresses with their prefix length
}

// OperState is the RFC 2863 operational state (IF_OPER_*).
type OperState uint8

var operNames = [...]string{"unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"}

func (o OperState) String() string {
	if int(o) < len(operNames) {
		return operNames[o]
	}
	return "unknown"
}

func parseLink(b []byte) (l Link, ok bool) {
	if len(b) < ifinfomsgLen {
		return l, false
	}
	l.Index = int32(ne.Uint32(b[4:8]))
	l.Flags = ne.Uint32(b[8:12])
	l.Up = l.Flags&unix.IFF_UP != 0 && l.Flags&unix.IFF_LOWER_UP != 0
	forAttrs(b[ifinfomsgLen:], func(typ uint16, v []byte) {
		switch typ {
		case unix.IFLA_IFNAME:
			l.Name = cString(v)
		case unix.IFLA_MTU:
			if len(v) == 4 {
				l.MTU = ne.Uint32(v)
			}
		case unix.IFLA_OPERSTATE:
			if len(v) == 1 {
				l.OperState = OperState(v[0])
			}
		case unix.IFLA_ADDRESS:
			l.HardwareAddr = net.HardwareAddr(append([]byte(nil), v...))
		}
	})
	return l, l.Index != 0
}

// kaddr is an interface address as the kernel reports it.
type kaddr struct {
	Index  int32
	Prefix netip.Prefix // address with prefix length (not masked)
	Flags  uint32
}

func parseAddr(b []byte) (a kaddr, ok bool) {
	if len(b) < ifaddrmsgLen {
		return a, false
	}
	fam, plen := b[0], int(b[1])
	a.Flags = uint32(b[2])
	a.Index = int32(ne.Uint32(b[4:8]))
	var local, address netip.Addr
	forAttrs(b[ifaddrmsgLen:], func(typ uint16, v []byte) {
		switch typ {
		case unix.IFA_LOCAL:
			local = addrFrom(v)
		case unix.IFA_ADDRESS:
			address = addrFrom(v)
		case unix.IFA_FLAGS:
			if len(v) == 4 {
				a.Flags = ne.Uint32(v)
			}
		}
	})
	if fam != unix.AF_INET && fam != unix.AF_INET6 {
		return a, false
	}
	// IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on
	// point-to-point links.
	addr := local
	if !addr.IsValid() {
		addr = address
	}
	// The address must be of the message's family and the length fit it
	// (netip accepts a zero Addr with any length).
	if !addr.IsValid() || addr.Is4() != (fam == unix.AF_INET) || plen > addr.BitLen() {
		return a, false
	}
	a.Prefix = netip.PrefixFrom(addr, plen)
	return a, true
}
