package wire

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Prefix is an IPv4 or IPv6 unicast prefix in a compact, pointer-free form:
// 18 bytes against netip.Prefix's 32, and no pointer, so the garbage
// collector never scans a slice of a million of them. The address is stored
// masked to its length, so equal prefixes compare equal with ==, and Prefix
// can be a map key. Convert with [PrefixFrom] and [Prefix.Netip].
type Prefix struct {
	addr [16]byte // IPv4 in the first 4 bytes
	bits uint8
	afi  uint8 // 0 for the zero (invalid) Prefix, else AFIIPv4 or AFIIPv6
}

// PrefixFrom converts p (an IPv4-mapped IPv6 prefix stays IPv6), masking
// host bits. It returns the zero Prefix when p is invalid.
func PrefixFrom(p netip.Prefix) Prefix {
	if !p.IsValid() {
		return Prefix{}
	}
	p = p.Masked()
	a := p.Addr()
	var q Prefix
	if a.Is4() {
		b := a.As4()
		copy(q.addr[:4], b[:])
		q.afi = uint8(AFIIPv4)
	} else {
		q.addr = a.As16()
		q.afi = uint8(AFIIPv6)
	}
	q.bits = uint8(p.Bits())
	return q
}

// PrefixFromBytes builds a prefix from its address bytes (IPv4 in the
// first four) and length, as [Prefix.Bytes] returns them. The caller
// guarantees a valid length and a masked address: this is for tables that
// store prefixes in their own packed form.
func PrefixFromBytes(addr [16]byte, bits uint8, v6 bool) Prefix {
	p := Prefix{addr: addr, bits: bits, afi: uint8(AFIIPv4)}
	if v6 {
		p.afi = uint8(AFIIPv6)
	}
	return p
}

// Bytes returns p's address bytes (IPv4 in the first four, the rest zero)
// and length.
func (p Prefix) Bytes() ([16]byte, uint8) { return p.addr, p.bits }

// MustParsePrefix parses s as a prefix and panics on error; for tests and
// constants.
func MustParsePrefix(s string) Prefix {
	p := PrefixFrom(netip.MustParsePrefix(s))
	if !p.IsValid() {
		panic("wire: invalid prefix " + s)
	}
	return p
}

// IsValid reports whether p was built from a valid prefix.
func (p Prefix) IsValid() bool { return p.afi != 0 }

// Is6 reports whether p is an IPv6 prefix.
func (p Prefix) Is6() bool { return p.afi == uint8(AFIIPv6) }

// Bits returns the prefix length.
func (p Prefix) Bits() int { return int(p.bits) }

// Family returns the unicast family of p.
func (p Prefix) Family() Family {
	switch p.afi {
	case uint8(AFIIPv4):
		return IPv4Unicast
	case uint8(AFIIPv6):
		return IPv6Unicast
	}
	return Family{}
}

// Addr returns the prefix's (masked) address.
func (p Prefix) Addr() netip.Addr {
	switch p.afi {
	case uint8(AFIIPv4):
		return netip.AddrFrom4([4]byte(p.addr[:4]))
	case uint8(AFIIPv6):
		return netip.AddrFrom16(p.addr)
	}
	return netip.Addr{}
}

// Netip returns p as a netip.Prefix.
func (p Prefix) Netip() netip.Prefix {
	if p.afi == 0 {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(p.Addr(), int(p.bits))
}

func (p Prefix) String() string { return p.Netip().String() }

// Compare orders prefixes: IPv4 before IPv6, then by address, then by
// length. It returns -1, 0 or +1.
func (p Prefix) Compare(q Prefix) int {
	if p.afi != q.afi {
		return cmp.Compare(p.afi, q.afi)
	}
	if c := bytes.Compare(p.addr[:], q.addr[:]); c != 0 {
		return c
	}
	return cmp.Compare(p.bits, q.bits)
}

// wireLen is the length of p's NLRI encoding.
func (p Prefix) wireLen() int { return 1 + (int(p.bits)+7)/8 }

// appendPrefix appends the NLRI encoding of p (RFC 4271 §4.3).
func appendPrefix(dst []byte, p Prefix) []byte {
	l := len(dst)
	if cap(dst)-l >= 17 {
		// Store the whole address (fixed size, no memmove), then keep
		// only the significant bytes.
		dst = dst[:l+17]
		dst[l] = p.bits
		*(*[16]byte)(dst[l+1:]) = p.addr
		return dst[:l+p.wireLen()]
	}
	dst = append(dst, p.bits)
	return append(dst, p.addr[:(int(p.bits)+7)/8]...)
}

var (
	errPrefixLength  = errors.New("prefix length exceeds the address size")
	errPrefixOverrun = errors.New("prefix overruns its field")
)

// appendNLRI decodes a field of NLRI-encoded prefixes and appends them to
// dst. Trailing host bits are irrelevant on the wire (RFC 4271 §4.3) and are
// cleared here. It fails when a length exceeds the family's address size or
// the field does not end exactly after the last prefix (RFC 7606 §5.3).
func appendNLRI(dst []Prefix, b []byte, v6 bool) ([]Prefix, error) {
	max := 32
	if v6 {
		max = 128
	}
	for len(b) > 0 {
		bits := int(b[0])
		if bits > max {
			return dst, fmt.Errorf("%w: /%d", errPrefixLength, bits)
		}
		n := (bits + 7) / 8
		if len(b) < 1+n {
			return dst, errPrefixOverrun
		}
		afi := uint8(AFIIPv4)
		if v6 {
			afi = uint8(AFIIPv6)
		}
		p := Prefix{bits: uint8(bits), afi: afi}
		switch {
		case !v6 && len(b) >= 5:
			// Load a whole address and mask it: no per-byte loop, no
			// memmove, and host bits cleared in passing.
			v := binary.BigEndian.Uint32(b[1:]) &^ (^uint32(0) >> bits)
			binary.BigEndian.PutUint32(p.addr[:4], v)
		case v6 && len(b) >= 17:
			hi := binary.BigEndian.Uint64(b[1:])
			lo := binary.BigEndian.Uint64(b[9:])
			if bits < 64 {
				hi &^= ^uint64(0) >> bits
				lo = 0
			} else {
				lo &^= ^uint64(0) >> (bits - 64)
			}
			binary.BigEndian.PutUint64(p.addr[:8], hi)
			binary.BigEndian.PutUint64(p.addr[8:], lo)
		default: // the last prefixes of the field
			copy(p.addr[:n], b[1:1+n])
			if r := bits % 8; r != 0 {
				p.addr[n-1] &= ^byte(0xff >> r)
			}
		}
		dst = append(dst, p)
		b = b[1+n:]
	}
	return dst, nil
}
