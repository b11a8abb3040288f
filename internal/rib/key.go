package rib

import (
	"encoding/binary"
	"net/netip"
)

// pfx is a prefix packed without pointers. A million netip.Prefix map keys
// would each carry a pointer for the garbage collector to scan; pfx carries
// none and is 24 bytes.
type pfx struct {
	hi, lo uint64
	bits   uint8
	v6     bool
}

func packPrefix(p netip.Prefix) pfx {
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		return pfx{hi: uint64(binary.BigEndian.Uint32(b[:])) << 32, bits: uint8(p.Bits())}
	}
	b := a.As16()
	return pfx{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:]), bits: uint8(p.Bits()), v6: true}
}

func (k pfx) prefix() netip.Prefix {
	if !k.v6 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(k.hi>>32))
		return netip.PrefixFrom(netip.AddrFrom4(b), int(k.bits))
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.PrefixFrom(netip.AddrFrom16(b), int(k.bits))
}

// truncate returns the covering prefix of length bits (bits <= k.bits).
func (k pfx) truncate(bits uint8) pfx {
	k.bits = bits
	switch {
	case bits == 0:
		k.hi, k.lo = 0, 0
	case bits < 64:
		k.hi &= ^uint64(0) << (64 - bits)
		k.lo = 0
	case bits == 64:
		k.lo = 0
	case bits < 128:
		k.lo &= ^uint64(0) << (128 - bits)
	}
	return k
}

// hostKey packs an address as a full-length prefix, the start of a
// longest-match walk.
func hostKey(a netip.Addr) pfx {
	a = a.Unmap()
	return packPrefix(netip.PrefixFrom(a, a.BitLen()))
}

// contains reports whether k covers the address packed as a host key h of the
// same family.
func (k pfx) contains(h pfx) bool {
	return k.v6 == h.v6 && h.truncate(k.bits) == k
}
