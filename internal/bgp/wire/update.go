package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"unique"
)

// Update is a decoded UPDATE message. Decode into one Update per session
// and reuse it: its slices keep their capacity, so that decoding allocates
// nothing per prefix.
type Update struct {
	// Withdrawn holds the prefixes of the Withdrawn Routes field and of
	// MP_UNREACH_NLRI, and, after a treat-as-withdraw error, every prefix
	// the UPDATE announced.
	Withdrawn []Prefix
	// NLRI holds the IPv4 prefixes of the NLRI field, reachable with Attrs.
	NLRI []Prefix
	// MPNLRI holds the prefixes of MP_REACH_NLRI, reachable with MPAttrs
	// (whose NextHop is the MP_REACH_NLRI next hop).
	MPNLRI []Prefix
	// Attrs and MPAttrs are the interned attributes of NLRI and MPNLRI;
	// zero handles when the list is empty.
	Attrs   unique.Handle[Attrs]
	MPAttrs unique.Handle[Attrs]
	// EndOfRIB is the family of an End-of-RIB marker (RFC 4724 §2), the
	// zero Family for any other UPDATE.
	EndOfRIB Family
	// Warnings lists the attributes that were discarded (RFC 7606
	// attribute discard) or ignored, for logging.
	Warnings []*Error
}

func (u *Update) reset() {
	u.Withdrawn = u.Withdrawn[:0]
	u.NLRI = u.NLRI[:0]
	u.MPNLRI = u.MPNLRI[:0]
	u.Attrs = unique.Handle[Attrs]{}
	u.MPAttrs = unique.Handle[Attrs]{}
	u.EndOfRIB = Family{}
	u.Warnings = u.Warnings[:0]
}

// withdrawAll applies treat-as-withdraw: every announced prefix becomes a
// withdrawal.
func (u *Update) withdrawAll() {
	u.Withdrawn = append(u.Withdrawn, u.NLRI...)
	u.Withdrawn = append(u.Withdrawn, u.MPNLRI...)
	u.NLRI = u.NLRI[:0]
	u.MPNLRI = u.MPNLRI[:0]
	u.Attrs = unique.Handle[Attrs]{}
	u.MPAttrs = unique.Handle[Attrs]{}
}

// Decoder decodes the UPDATEs of one session. It keeps a cache from the
// encoded attributes of recent UPDATEs to their interned Attrs, so that
// the common case (a peer sending the same attribute set again with other
// prefixes) decodes with no allocation at all. A Decoder is not safe for
// concurrent use.
type Decoder struct {
	opts Options
	// The attribute cache has two generations: lookups hit cache, then
	// old (promoting the entry); when cache holds cacheSize entries it
	// becomes old. Sets in use stay cached, others age out.
	cache, old map[string]cachedAttrs
	cacheSize  int
	key        []byte // cache key of the UPDATE being decoded
	buf        []byte // unknown transitive attributes being gathered
	pathBuf    []byte // AS_PATH widened from 2 octets
}

// keyHdr is the fixed-size head of a cache key: NLRI present, MPNLRI
// present, MP AFI (2), SAFI, next hop bit length, next hop (16),
// link-local next hop (16). The attributes follow it.
const keyHdr = 38

type cachedAttrs struct{ attrs, mp unique.Handle[Attrs] }

// DefaultCacheSize is the number of attribute sets a Decoder caches per
// generation, unless SetCacheSize says otherwise. An entry costs the
// encoded attributes plus about 60 bytes.
const DefaultCacheSize = 4096

// NewDecoder returns a Decoder for a session with options o.
func NewDecoder(o Options) *Decoder {
	return &Decoder{opts: o, cacheSize: DefaultCacheSize}
}

// SetCacheSize sets how many attribute sets the Decoder caches per
// generation (up to twice that in all); 0 disables the cache.
func (d *Decoder) SetCacheSize(n int) {
	d.cacheSize = max(n, 0)
	d.cache, d.old = nil, nil
}

func (d *Decoder) lookup(key []byte) (cachedAttrs, bool) {
	if c, ok := d.cache[string(key)]; ok {
		return c, true
	}
	c, ok := d.old[string(key)]
	if ok {
		d.store(key, c)
	}
	return c, ok
}

func (d *Decoder) store(key []byte, c cachedAttrs) {
	if d.cacheSize == 0 {
		return
	}
	if d.cache == nil || len(d.cache) >= d.cacheSize {
		d.old, d.cache = d.cache, make(map[string]cachedAttrs)
	}
	d.cache[string(key)] = c
}

// Options returns the session options the Decoder uses.
func (d *Decoder) Options() Options { return d.opts }

// mpAttr is a located MP_REACH_NLRI or MP_UNREACH_NLRI.
type mpAttr struct {
	flags uint8
	raw   []byte // the whole attribute, for error data
	val   []byte
}

// updateState collects the outcome of decoding one UPDATE.
type updateState struct {
	u        *Update
	worst    *Error
	withdraw bool // some error asked for treat-as-withdraw
}

// note records e: attribute discards become warnings, anything else is
// kept when it is the most severe so far.
func (s *updateState) note(e *Error) {
	if e.Action == AttributeDiscard {
		s.u.Warnings = append(s.u.Warnings, e)
		return
	}
	if e.Action == TreatAsWithdraw {
		s.withdraw = true
	}
	if s.worst == nil || e.Action < s.worst.Action {
		s.worst = e
	}
}

func attrErr(sub uint8, t AttrType, raw []byte, a Action, format string, args ...any) *Error {
	e := newError(CodeUpdate, sub, raw, a, format, args...)
	e.AttrType = t
	return e
}

// DecodeUpdate decodes an UPDATE body (the bytes after the header) into u,
// following RFC 7606. The error, when not nil, is an *Error:
//
//   - SessionReset: send its NOTIFICATION and close; u is meaningless.
//   - AFISAFIDisable: disable Error.Family (or reset the session); u holds
//     what was decoded for the other families and may be applied.
//   - TreatAsWithdraw: u.Withdrawn holds every prefix of the UPDATE
//     (withdrawals and announcements); apply it and log the error.
//
// Discarded attributes are reported in u.Warnings with a nil error. u's
// slices alias nothing in body, so body can be reused at once.
func (d *Decoder) DecodeUpdate(body []byte, u *Update) error {
	u.reset()
	s := updateState{u: u}
	if len(body) < 4 {
		return newError(CodeUpdate, SubMalformedAttrList, nil, SessionReset, "UPDATE of %d bytes", len(body))
	}
	wlen := int(binary.BigEndian.Uint16(body))
	if 4+wlen > len(body) {
		return newError(CodeUpdate, SubMalformedAttrList, nil, SessionReset, "withdrawn routes length %d overruns the message", wlen)
	}
	alen := int(binary.BigEndian.Uint16(body[2+wlen:]))
	if 4+wlen+alen > len(body) {
		return newError(CodeUpdate, SubMalformedAttrList, nil, SessionReset, "total path attribute length %d overruns the message", alen)
	}
	var err error
	if u.Withdrawn, err = appendNLRI(u.Withdrawn, body[2:2+wlen], false); err != nil {
		return newError(CodeUpdate, SubInvalidNetworkField, nil, SessionReset, "withdrawn routes: %v", err)
	}
	attrs := body[4+wlen : 4+wlen+alen]
	if u.NLRI, err = appendNLRI(u.NLRI, body[4+wlen+alen:], false); err != nil {
		return newError(CodeUpdate, SubInvalidNetworkField, nil, SessionReset, "NLRI: %v", err)
	}
	if len(body) == 4 {
		u.EndOfRIB = IPv4Unicast
		return nil
	}

	// Locate MP_REACH_NLRI and MP_UNREACH_NLRI and gather the other
	// attributes' bytes as the cache key.
	var reach, unreach mpAttr
	var framing error
	d.key = append(d.key[:0], make([]byte, keyHdr)...)
	for r := attrs; len(r) > 0; {
		fl := r[0]
		hl := 3
		if fl&FlagExtLength != 0 {
			hl = 4
		}
		if len(r) < hl {
			framing = errors.New("attribute header truncated")
			break
		}
		l := int(r[2])
		if hl == 4 {
			l = int(binary.BigEndian.Uint16(r[2:]))
		}
		if len(r) < hl+l {
			framing = fmt.Errorf("attribute %s overruns the attribute list", AttrType(r[1]))
			break
		}
		a := mpAttr{flags: fl, raw: r[:hl+l], val: r[hl : hl+l]}
		switch AttrType(r[1]) {
		case AttrMPReach:
			if reach.raw != nil {
				return attrErr(SubMalformedAttrList, AttrMPReach, nil, SessionReset, "MP_REACH_NLRI repeated")
			}
			reach = a
		case AttrMPUnreach:
			if unreach.raw != nil {
				return attrErr(SubMalformedAttrList, AttrMPUnreach, nil, SessionReset, "MP_UNREACH_NLRI repeated")
			}
			unreach = a
		default:
			d.key = append(d.key, a.raw...)
		}
		r = r[hl+l:]
	}

	if unreach.raw != nil && len(unreach.val) != 3 {
		if e := d.decodeMPUnreach(unreach, u); e != nil {
			s.note(e)
			if e.Action <= AFISAFIDisable && e.Family == (Family{}) {
				return e
			}
		}
	}
	if len(unreach.val) == 3 {
		// An empty MP_UNREACH_NLRI withdraws nothing whatever its family;
		// alone in an UPDATE it is an End-of-RIB marker.
		if wlen == 0 && len(u.NLRI) == 0 && len(d.key) == keyHdr && reach.raw == nil {
			u.EndOfRIB = Family{binary.BigEndian.Uint16(unreach.val), unreach.val[2]}
		}
	}
	var mpNH, mpLL netip.Addr
	var mpFam Family
	if reach.raw != nil {
		var e *Error
		mpFam, mpNH, mpLL, e = d.decodeMPReach(reach, u)
		if e != nil {
			s.note(e)
			if e.Action <= AFISAFIDisable && e.Family == (Family{}) {
				return e
			}
		}
	}
	if s.worst != nil && s.worst.Action == SessionReset {
		return s.worst
	}

	if framing != nil {
		// RFC 7606 §4: treat-as-withdraw, unless an MP_REACH_NLRI may hide
		// behind the error (§5.1 wants it located; with only IPv4 unicast
		// negotiated nothing can).
		if reach.raw == nil && unreach.raw == nil && d.opts.Families&^FamIPv4Unicast != 0 {
			return newError(CodeUpdate, SubMalformedAttrList, nil, SessionReset, "%v", framing)
		}
		s.note(newError(CodeUpdate, SubMalformedAttrList, nil, TreatAsWithdraw, "%v", framing))
		u.withdrawAll()
		return s.worst
	}
	if len(u.NLRI) == 0 && len(u.MPNLRI) == 0 {
		// No reachability: the other attributes mean nothing (RFC 7606 §5.2
		// has nothing to withdraw), so they are not decoded.
		return d.result(&s)
	}

	// The cache key: what else the outcome depends on, then the attributes.
	if len(u.NLRI) > 0 {
		d.key[0] = 1
	}
	if len(u.MPNLRI) > 0 {
		d.key[1] = 1
		binary.BigEndian.PutUint16(d.key[2:], mpFam.AFI)
		d.key[4] = mpFam.SAFI
		d.key[5] = byte(mpNH.BitLen())
		// As16 of an invalid address is all zeros; no allocation, unlike
		// AsSlice.
		*(*[16]byte)(d.key[6:22]) = mpNH.As16()
		*(*[16]byte)(d.key[22:38]) = mpLL.As16()
	}
	if c, ok := d.lookup(d.key); ok && s.worst == nil {
		u.Attrs, u.MPAttrs = c.attrs, c.mp
		if len(u.NLRI) == 0 {
			u.Attrs = unique.Handle[Attrs]{}
		}
		return nil
	}
	nw := len(u.Warnings)
	a, nh4 := d.decodeAttrs(attrs, &s)
	if s.worst != nil && s.worst.Action == SessionReset {
		return s.worst
	}
	if s.withdraw {
		u.withdrawAll()
		return s.worst
	}
	if len(u.NLRI) > 0 {
		a.NextHop, a.LinkLocal = nh4, netip.Addr{}
		u.Attrs = unique.Make(a)
	}
	if len(u.MPNLRI) > 0 {
		a.NextHop, a.LinkLocal = mpNH, mpLL
		u.MPAttrs = unique.Make(a)
	}
	if s.worst == nil && len(u.Warnings) == nw {
		d.store(d.key, cachedAttrs{u.Attrs, u.MPAttrs})
	}
	return d.result(&s)
}

func (d *Decoder) result(s *updateState) error {
	if s.worst == nil {
		return nil
	}
	if s.withdraw {
		s.u.withdrawAll()
	}
	return s.worst
}

// mpFamily checks the AFI/SAFI that starts an MP attribute: nil error and
// ok for a negotiated family this codec carries, a warning for others.
func (d *Decoder) mpFamily(a mpAttr, t AttrType) (Family, bool, *Error) {
	if len(a.val) < 3 {
		return Family{}, false, attrErr(SubAttrLength, t, a.raw, SessionReset, "%s of %d bytes", t, len(a.val))
	}
	f := Family{binary.BigEndian.Uint16(a.val), a.val[2]}
	if !d.opts.Families.Has(f) {
		return f, false, attrErr(SubOptionalAttr, t, nil, AttributeDiscard, "%s for family %s, not negotiated: ignored", t, f)
	}
	return f, true, nil
}

func (d *Decoder) decodeMPUnreach(a mpAttr, u *Update) *Error {
	f, ok, e := d.mpFamily(a, AttrMPUnreach)
	if !ok {
		return e
	}
	var err error
	if u.Withdrawn, err = appendNLRI(u.Withdrawn, a.val[3:], f == IPv6Unicast); err != nil {
		e := attrErr(SubOptionalAttr, AttrMPUnreach, a.raw, AFISAFIDisable, "MP_UNREACH_NLRI: %v", err)
		e.Family = f
		return e
	}
	return nil
}

// decodeMPReach parses MP_REACH_NLRI (RFC 4760 §3, RFC 2545, RFC 8950):
// prefixes go to u.MPNLRI.
func (d *Decoder) decodeMPReach(a mpAttr, u *Update) (f Family, nh, ll netip.Addr, e *Error) {
	f, ok, e := d.mpFamily(a, AttrMPReach)
	if !ok {
		return f, nh, ll, e
	}
	disable := func(format string, args ...any) *Error {
		u.MPNLRI = u.MPNLRI[:0]
		e := attrErr(SubOptionalAttr, AttrMPReach, a.raw, AFISAFIDisable, format, args...)
		e.Family = f
		return e
	}
	v := a.val[3:]
	if len(v) < 1 || len(v) < 2+int(v[0]) {
		return f, nh, ll, disable("MP_REACH_NLRI truncated")
	}
	n := int(v[0])
	h := v[1 : 1+n]
	switch {
	case n == 4 && f == IPv4Unicast:
		nh = netip.AddrFrom4([4]byte(h))
	case (n == 16 || n == 32) && (f == IPv6Unicast || d.opts.ExtendedNextHop):
		nh = netip.AddrFrom16([16]byte(h))
		if n == 32 {
			ll = netip.AddrFrom16([16]byte(h[16:]))
			if ll.IsUnspecified() {
				ll = netip.Addr{}
			}
		}
	default:
		return f, nh, ll, disable("next hop length %d for %s", n, f)
	}
	// v[1+n] is the reserved octet (once the SNPA count); ignored.
	var err error
	if u.MPNLRI, err = appendNLRI(u.MPNLRI, v[2+n:], f == IPv6Unicast); err != nil {
		return f, nh, ll, disable("MP_REACH_NLRI: %v", err)
	}
	if a.flags&(FlagOptional|FlagTransitive) != FlagOptional {
		return f, nh, ll, attrErr(SubAttrFlags, AttrMPReach, a.raw, TreatAsWithdraw, "MP_REACH_NLRI flags 0x%02x", a.flags)
	}
	if len(u.MPNLRI) > 0 && !validNextHop(nh) {
		return f, nh, ll, attrErr(SubInvalidNextHop, AttrMPReach, a.raw, TreatAsWithdraw, "next hop %v", nh)
	}
	return f, nh, ll, nil
}

// validNextHop rejects next hops that cannot be one: unspecified,
// multicast, and the IPv4 limited broadcast address.
func validNextHop(a netip.Addr) bool {
	return a.IsValid() && !a.IsUnspecified() && !a.IsMulticast() &&
		a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}
