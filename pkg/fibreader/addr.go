package fibreader

import (
	"encoding/binary"
	"net/netip"
	"unsafe"
)

// Converting a netip.Addr with As4/As16 costs about 10 ns, as much as a
// whole IPv4 lookup, and spoils the overlap of the lookups' memory reads.
// netip.Addr holds the address as two big-endian uint64 halves and a zone
// handle; when a self-check at start-up confirms that layout, the
// conversion reads the halves directly (about 1 ns). Otherwise (a future Go
// release changed the layout) it falls back to As4/As16.

type addrRep struct {
	hi, lo uint64
	z      unsafe.Pointer
}

var zone4, zone6, addrFast = checkAddrLayout()

// addrSized reports whether a netip.Addr is as large as addrRep: only then
// may a lookup read its words through an addrRep before the layout check
// has said whether they mean what addrRep says.
const addrSized = unsafe.Sizeof(netip.Addr{}) == unsafe.Sizeof(addrRep{})

// noZone never equals a netip.Addr's zone handle.
var noZone byte

func checkAddrLayout() (z4, z6 unsafe.Pointer, ok bool) {
	no := unsafe.Pointer(&noZone)
	if unsafe.Sizeof(netip.Addr{}) != unsafe.Sizeof(addrRep{}) {
		return no, no, false
	}
	a4 := netip.AddrFrom4([4]byte{192, 0, 2, 1})
	a6 := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 9: 1, 11: 2, 13: 3, 15: 4})
	b4, b6 := netip.AddrFrom4([4]byte{10, 1, 2, 3}), netip.IPv6Loopback()
	r4, r6 := (*addrRep)(unsafe.Pointer(&a4)), (*addrRep)(unsafe.Pointer(&a6))
	s4, s6 := (*addrRep)(unsafe.Pointer(&b4)), (*addrRep)(unsafe.Pointer(&b6))
	z := netip.MustParseAddr("fe80::1%eth0")
	rz := (*addrRep)(unsafe.Pointer(&z))
	if r4.hi != 0 || r4.lo != 0xffff_c000_0201 || s4.lo != 0xffff_0a01_0203 ||
		r6.hi != 0x2001_0db8_0000_0000 || r6.lo != 0x0001_0002_0003_0004 || s6.lo != 1 ||
		r4.z == nil || r4.z != s4.z || r6.z != s6.z || r4.z == r6.z || rz.z == r6.z || rz.z == r4.z {
		return no, no, false
	}
	return r4.z, r6.z, true
}

// rawAddr splits addr into the raw lookup form: v4 is 4 or 6 for the
// family, 0 for the zero Addr. A zoned IPv6 address is looked up without
// its zone.
func rawAddr(addr *netip.Addr) (v4 uint32, hi, lo uint64, fam int) {
	if addrFast {
		r := (*addrRep)(unsafe.Pointer(addr))
		switch r.z {
		case zone4:
			return uint32(r.lo), 0, 0, 4
		case zone6:
			return 0, r.hi, r.lo, 6
		}
	}
	switch {
	case addr.Is4():
		b := addr.As4()
		return binary.BigEndian.Uint32(b[:]), 0, 0, 4
	case addr.Is6():
		b := addr.As16()
		return 0, binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), 6
	}
	return 0, 0, 0, 0
}

// AddrFastPath reports whether netip.Addr values are converted by reading
// their fields directly (true on the Go releases this package knows).
func AddrFastPath() bool { return addrFast }
