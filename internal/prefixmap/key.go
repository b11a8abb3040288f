package prefixmap

import (
	"encoding/binary"
	"net/netip"
)

// Key is an IP prefix packed without pointers: the address in Hi (IPv4 in
// its top 32 bits) and Lo, masked to Bits. A million netip.Prefix values
// would each carry a pointer for the garbage collector to scan; a Key
// carries none. Keys order by family, then address, then length, which
// puts a prefix right before the prefixes it covers.
type Key struct {
	Hi, Lo uint64
	Bits   uint8
	V6     bool
}

// From packs p, masking host bits. An IPv4-mapped IPv6 prefix stays IPv6.
func From(p netip.Prefix) Key {
	p = p.Masked()
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		return From4(binary.BigEndian.Uint32(b[:]), uint8(p.Bits()))
	}
	b := a.As16()
	return From16(&b, uint8(p.Bits()))
}

// From4 packs an IPv4 prefix given as a host-order address and a length
// (at most 32); host bits must be zero.
func From4(addr uint32, bits uint8) Key {
	return Key{Hi: uint64(addr) << 32, Bits: bits}
}

// From16 packs an IPv6 prefix given as its 16 address bytes and a length
// (at most 128); host bits must be zero.
func From16(addr *[16]byte, bits uint8) Key {
	return Key{Hi: binary.BigEndian.Uint64(addr[:8]), Lo: binary.BigEndian.Uint64(addr[8:]), Bits: bits, V6: true}
}

// Host packs an address as a full-length prefix: the start of a
// longest-match walk.
func Host(a netip.Addr) Key {
	a = a.Unmap()
	return From(netip.PrefixFrom(a, a.BitLen()))
}

// Addr4 returns an IPv4 key's address in host order.
func (k Key) Addr4() uint32 { return uint32(k.Hi >> 32) }

// Prefix unpacks k.
func (k Key) Prefix() netip.Prefix {
	if !k.V6 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], k.Addr4())
		return netip.PrefixFrom(netip.AddrFrom4(b), int(k.Bits))
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.Hi)
	binary.BigEndian.PutUint64(b[8:], k.Lo)
	return netip.PrefixFrom(netip.AddrFrom16(b), int(k.Bits))
}

// String formats k as its prefix.
func (k Key) String() string { return k.Prefix().String() }

// Truncate returns the prefix of length bits (at most k.Bits) that covers k.
func (k Key) Truncate(bits uint8) Key {
	k.Bits = bits
	switch {
	case bits == 0:
		k.Hi, k.Lo = 0, 0
	case bits < 64:
		k.Hi &= ^uint64(0) << (64 - bits)
		k.Lo = 0
	case bits == 64:
		k.Lo = 0
	case bits < 128:
		k.Lo &= ^uint64(0) << (128 - bits)
	}
	return k
}

// Contains reports whether k covers o (same family, o no shorter, o's
// address inside k).
func (k Key) Contains(o Key) bool {
	return k.V6 == o.V6 && o.Bits >= k.Bits && o.Truncate(k.Bits) == k
}

// Compare orders keys: IPv4 before IPv6, then by address, then by length.
func (k Key) Compare(o Key) int {
	switch {
	case k.V6 != o.V6:
		if o.V6 {
			return -1
		}
		return 1
	case k.Hi != o.Hi:
		if k.Hi < o.Hi {
			return -1
		}
		return 1
	case k.Lo != o.Lo:
		if k.Lo < o.Lo {
			return -1
		}
		return 1
	case k.Bits != o.Bits:
		if k.Bits < o.Bits {
			return -1
		}
		return 1
	}
	return 0
}
