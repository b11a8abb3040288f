package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Encoder builds the UPDATEs of one session (or of every session that
// shares its Options and export policy: its output bytes can be written to
// each of them). It packs as many prefixes as fit into each message. An
// Encoder is not safe for concurrent use.
type Encoder struct {
	opts  Options
	attrs []byte
	nh    [32]byte
}

// NewEncoder returns an Encoder for sessions with options o.
func NewEncoder(o Options) *Encoder { return &Encoder{opts: o} }

// Options returns the session options the Encoder uses.
func (e *Encoder) Options() Options { return e.opts }

var errMixedFamilies = errors.New("prefixes of different families in one announcement")

// AppendAnnounce appends UPDATE messages announcing prefixes, all of one
// family, with attributes a: the attributes are encoded once and each
// message is filled with prefixes up to the session's maximum size. IPv4
// prefixes with an IPv4 next hop go in the NLRI field with NEXT_HOP; IPv6
// prefixes, and IPv4 prefixes with an IPv6 next hop (RFC 8950, when
// Options.ExtendedNextHop), go in MP_REACH_NLRI, placed first (RFC 7606
// §5.1). On error dst is returned unchanged.
func (e *Encoder) AppendAnnounce(dst []byte, a *Attrs, prefixes []Prefix) ([]byte, error) {
	if len(prefixes) == 0 {
		return dst, nil
	}
	fam := prefixes[0].Family()
	for _, p := range prefixes[1:] {
		if p.afi != prefixes[0].afi {
			return dst, errMixedFamilies
		}
	}
	if fam == (Family{}) {
		return dst, errors.New("invalid prefix")
	}
	if !a.Present.Has(AttrOrigin) || !a.Present.Has(AttrASPath) {
		return dst, errors.New("attributes lack ORIGIN or AS_PATH")
	}
	max := e.opts.MaxLen()
	orig := len(dst)
	var err error
	if fam == IPv4Unicast && a.NextHop.Is4() {
		if e.attrs, err = a.appendAttrs(e.attrs[:0], &e.opts, true); err != nil {
			return dst, err
		}
		if HeaderLen+4+len(e.attrs)+5 > max {
			return dst, fmt.Errorf("path attributes of %d bytes do not fit in a message", len(e.attrs))
		}
		for len(prefixes) > 0 {
			start := len(dst)
			dst = slices.Grow(dst, min(max, HeaderLen+4+len(e.attrs)+17*len(prefixes))+17)
			dst = appendHeader(dst, TypeUpdate)
			dst = append(dst, 0, 0)
			dst = binary.BigEndian.AppendUint16(dst, uint16(len(e.attrs)))
			dst = append(dst, e.attrs...)
			for len(prefixes) > 0 && len(dst)-start+prefixes[0].wireLen() <= max {
				dst = appendPrefix(dst, prefixes[0])
				prefixes = prefixes[1:]
			}
			dst = finishMessage(dst, start)
		}
		return dst, nil
	}

	switch {
	case fam == IPv6Unicast && a.NextHop.Is6():
	case fam == IPv4Unicast && a.NextHop.Is6() && e.opts.ExtendedNextHop:
	default:
		return dst, fmt.Errorf("next hop %v for %s", a.NextHop, fam)
	}
	*(*[16]byte)(e.nh[:16]) = a.NextHop.As16()
	nh := e.nh[:16]
	if a.LinkLocal.Is6() {
		*(*[16]byte)(e.nh[16:]) = a.LinkLocal.As16()
		nh = e.nh[:32]
	}
	if e.attrs, err = a.appendAttrs(e.attrs[:0], &e.opts, false); err != nil {
		return dst, err
	}
	// header, withdrawn length, attribute length, MP_REACH_NLRI header
	// (extended length), AFI, SAFI, next hop length, next hop, reserved.
	fixed := HeaderLen + 4 + 4 + 3 + 1 + len(nh) + 1 + len(e.attrs)
	if fixed+17 > max {
		return dst[:orig], fmt.Errorf("path attributes of %d bytes do not fit in a message", len(e.attrs))
	}
	for len(prefixes) > 0 {
		n, size := 0, 0
		for n < len(prefixes) && fixed+size+prefixes[n].wireLen() <= max {
			size += prefixes[n].wireLen()
			n++
		}
		start := len(dst)
		dst = slices.Grow(dst, fixed+size+17)
		dst = appendHeader(dst, TypeUpdate)
		dst = append(dst, 0, 0)
		mpLen := 3 + 1 + len(nh) + 1 + size
		dst = binary.BigEndian.AppendUint16(dst, uint16(4+mpLen+len(e.attrs)))
		dst = append(dst, FlagOptional|FlagExtLength, byte(AttrMPReach))
		dst = binary.BigEndian.AppendUint16(dst, uint16(mpLen))
		dst = binary.BigEndian.AppendUint16(dst, fam.AFI)
		dst = append(dst, fam.SAFI, byte(len(nh)))
		dst = append(dst, nh...)
		dst = append(dst, 0)
		for _, p := range prefixes[:n] {
			dst = appendPrefix(dst, p)
		}
		prefixes = prefixes[n:]
		dst = append(dst, e.attrs...)
		dst = finishMessage(dst, start)
	}
	return dst, nil
}

// AppendWithdraw appends UPDATE messages withdrawing prefixes: IPv4 ones
// in the Withdrawn Routes field, IPv6 ones in MP_UNREACH_NLRI, each message
// filled up to the session's maximum size.
func (e *Encoder) AppendWithdraw(dst []byte, prefixes []Prefix) []byte {
	max := e.opts.MaxLen()
	// IPv4: header, withdrawn length, prefixes, attribute length 0.
	for i := 0; i < len(prefixes); {
		if prefixes[i].Family() != IPv4Unicast {
			i++
			continue
		}
		start := len(dst)
		dst = appendHeader(dst, TypeUpdate)
		dst = append(dst, 0, 0)
		for ; i < len(prefixes) && len(dst)-start+2+prefixes[i].wireLen() <= max; i++ {
			if prefixes[i].Family() == IPv4Unicast {
				dst = appendPrefix(dst, prefixes[i])
			}
		}
		binary.BigEndian.PutUint16(dst[start+HeaderLen:], uint16(len(dst)-start-HeaderLen-2))
		dst = append(dst, 0, 0)
		dst = finishMessage(dst, start)
	}
	// IPv6: header, withdrawn length 0, attribute length, MP_UNREACH_NLRI.
	for i := 0; i < len(prefixes); {
		if prefixes[i].Family() != IPv6Unicast {
			i++
			continue
		}
		start := len(dst)
		dst = appendHeader(dst, TypeUpdate)
		dst = append(dst, 0, 0, 0, 0, FlagOptional|FlagExtLength, byte(AttrMPUnreach), 0, 0)
		dst = binary.BigEndian.AppendUint16(dst, AFIIPv6)
		dst = append(dst, SAFIUnicast)
		for ; i < len(prefixes) && len(dst)-start+prefixes[i].wireLen() <= max; i++ {
			if prefixes[i].Family() == IPv6Unicast {
				dst = appendPrefix(dst, prefixes[i])
			}
		}
		alen := len(dst) - start - HeaderLen - 4
		binary.BigEndian.PutUint16(dst[start+HeaderLen+2:], uint16(alen))
		binary.BigEndian.PutUint16(dst[start+HeaderLen+6:], uint16(alen-4))
		dst = finishMessage(dst, start)
	}
	return dst
}

// AppendEndOfRIB appends the End-of-RIB marker of family f (RFC 4724 §2):
// an empty UPDATE for IPv4 unicast, else an UPDATE holding only an empty
// MP_UNREACH_NLRI.
func AppendEndOfRIB(dst []byte, f Family) []byte {
	start := len(dst)
	dst = appendHeader(dst, TypeUpdate)
	if f == IPv4Unicast {
		dst = append(dst, 0, 0, 0, 0)
	} else {
		dst = append(dst, 0, 0, 0, 6, FlagOptional, byte(AttrMPUnreach), 3, byte(f.AFI>>8), byte(f.AFI), f.SAFI)
	}
	return finishMessage(dst, start)
}
