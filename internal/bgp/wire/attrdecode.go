package wire

import (
	"encoding/binary"
	"net/netip"
)

// decodeAttrs decodes the path attributes other than MP_REACH_NLRI and
// MP_UNREACH_NLRI (already handled, and framing already checked), applying
// RFC 7606 §7 attribute by attribute. It returns the attributes and the
// NEXT_HOP value; errors go to s.
func (d *Decoder) decodeAttrs(b []byte, s *updateState) (Attrs, netip.Addr) {
	var a Attrs
	var nh4 netip.Addr
	var seen [4]uint64
	var as4Path ASPath
	var as4Agg Aggregator
	hasAS4Path, hasAS4Agg := false, false
	d.buf = d.buf[:0]
	asSize := 2
	if d.opts.AS4 {
		asSize = 4
	}
	reachV4 := len(s.u.NLRI) > 0
	for len(b) > 0 {
		fl := b[0]
		t := AttrType(b[1])
		hl, l := 3, int(b[2])
		if fl&FlagExtLength != 0 {
			hl, l = 4, int(binary.BigEndian.Uint16(b[2:]))
		}
		raw, v := b[:hl+l], b[hl:hl+l]
		b = b[hl+l:]
		if t == AttrMPReach || t == AttrMPUnreach {
			continue
		}
		// RFC 7606 §3(g): all but the first occurrence are discarded.
		if seen[t/64]&(1<<(t%64)) != 0 {
			s.note(attrErr(SubMalformedAttrList, t, nil, AttributeDiscard, "%s repeated: discarded", t))
			continue
		}
		seen[t/64] |= 1 << (t % 64)

		want, known := wantFlags[t]
		if !known {
			switch {
			case fl&FlagOptional == 0:
				s.note(attrErr(SubUnrecognizedWellKnown, t, raw, SessionReset, "unrecognized well-known attribute %d", t))
				return a, nh4
			case fl&FlagTransitive != 0:
				d.buf = appendAttrHeader(d.buf, fl|FlagPartial, t, len(v))
				d.buf = append(d.buf, v...)
			}
			// Unknown optional non-transitive attributes are dropped
			// (RFC 4271 §5).
			continue
		}
		// discard and withdraw build the RFC 7606 outcomes for t.
		discard := func(sub uint8, why string) {
			s.note(attrErr(sub, t, raw, AttributeDiscard, "%s %s: discarded", t, why))
		}
		withdraw := func(sub uint8, why string) {
			s.note(attrErr(sub, t, raw, TreatAsWithdraw, "%s %s", t, why))
		}
		if fl&(FlagOptional|FlagTransitive) != want {
			// RFC 7606 §3(c); attributes whose errors are handled by
			// discard keep that handling.
			switch t {
			case AttrAtomicAggregate, AttrAggregator, AttrAS4Path, AttrAS4Aggregator:
				discard(SubAttrFlags, "has wrong flags")
			default:
				withdraw(SubAttrFlags, "has wrong flags")
			}
			continue
		}
		switch t {
		case AttrOrigin: // RFC 7606 §7.1
			if l != 1 {
				withdraw(SubAttrLength, "has bad length")
			} else if v[0] > byte(OriginIncomplete) {
				withdraw(SubInvalidOrigin, "has an undefined value")
			} else {
				a.Origin = Origin(v[0])
				a.Present = a.Present.With(t)
			}
		case AttrASPath: // RFC 7606 §7.2, RFC 5065, RFC 7607
			var p ASPath
			var err error
			p, d.pathBuf, err = parseASPath(v, asSize, d.pathBuf)
			switch {
			case err != nil:
				withdraw(SubMalformedASPath, "is malformed: "+err.Error())
			case d.opts.EBGP && p.hasConfed():
				withdraw(SubMalformedASPath, "from an external peer holds confederation segments")
			case p.Contains(0):
				withdraw(SubMalformedASPath, "holds AS 0")
			default:
				a.ASPath = p
				a.Present = a.Present.With(t)
			}
		case AttrNextHop: // RFC 7606 §7.3
			// Without IPv4 NLRI the NEXT_HOP means nothing (RFC 4760 §3).
			bad := withdraw
			if !reachV4 {
				bad = discard
			}
			if l != 4 {
				bad(SubAttrLength, "has bad length")
			} else if ip := netip.AddrFrom4([4]byte(v)); !validNextHop(ip) {
				bad(SubInvalidNextHop, "is not a usable address")
			} else {
				nh4 = ip
			}
		case AttrMED: // RFC 7606 §7.4
			if l != 4 {
				withdraw(SubAttrLength, "has bad length")
			} else {
				a.MED = binary.BigEndian.Uint32(v)
				a.Present = a.Present.With(t)
			}
		case AttrLocalPref: // RFC 7606 §7.5
			if d.opts.EBGP {
				// Disregarded without a warning: some peers always
				// send it, and a warning would defeat the cache.
				break
			} else if l != 4 {
				withdraw(SubAttrLength, "has bad length")
			} else {
				a.LocalPref = binary.BigEndian.Uint32(v)
				a.Present = a.Present.With(t)
			}
		case AttrAtomicAggregate: // RFC 7606 §7.6
			if l != 0 {
				discard(SubAttrLength, "has bad length")
			} else {
				a.Present = a.Present.With(t)
			}
		case AttrAggregator: // RFC 7606 §7.7, RFC 7607
			if l != 2+asSize+2 {
				discard(SubAttrLength, "has bad length")
				break
			}
			var as uint32
			if asSize == 4 {
				as = binary.BigEndian.Uint32(v)
			} else {
				as = uint32(binary.BigEndian.Uint16(v))
			}
			if as == 0 {
				discard(SubOptionalAttr, "holds AS 0")
				break
			}
			a.Aggregator = Aggregator{AS: as, Addr: netip.AddrFrom4([4]byte(v[asSize:]))}
			a.Present = a.Present.With(t)
		case AttrCommunities: // RFC 7606 §7.8
			if l == 0 || l%4 != 0 {
				withdraw(SubAttrLength, "has bad length")
			} else {
				a.Communities = Communities{string(v)}
			}
		case AttrOriginatorID: // RFC 7606 §7.9
			if d.opts.EBGP {
				discard(SubOptionalAttr, "from an external peer")
			} else if l != 4 {
				withdraw(SubAttrLength, "has bad length")
			} else {
				a.OriginatorID = netip.AddrFrom4([4]byte(v))
				a.Present = a.Present.With(t)
			}
		case AttrClusterList: // RFC 7606 §7.10
			if d.opts.EBGP {
				discard(SubOptionalAttr, "from an external peer")
			} else if l == 0 || l%4 != 0 {
				withdraw(SubAttrLength, "has bad length")
			} else {
				a.ClusterList = ClusterList{string(v)}
			}
		case AttrExtCommunities: // RFC 7606 §7.14
			if l == 0 || l%8 != 0 {
				withdraw(SubAttrLength, "has bad length")
			} else {
				a.ExtCommunities = ExtCommunities{string(v)}
			}
		case AttrLargeCommunities: // RFC 8092 §6
			if l == 0 || l%12 != 0 {
				withdraw(SubAttrLength, "has bad length")
			} else {
				a.LargeCommunities = LargeCommunities{string(v)}
			}
		case AttrAS4Path: // RFC 6793 §6, RFC 7606 §7.2
			if d.opts.AS4 {
				discard(SubOptionalAttr, "from a 4-octet AS speaker")
				break
			}
			p, _, err := parseASPath(v, 4, nil)
			switch {
			case err != nil:
				discard(SubMalformedASPath, "is malformed: "+err.Error())
			case p.Contains(0):
				discard(SubMalformedASPath, "holds AS 0")
			default:
				as4Path, hasAS4Path = p, true
			}
		case AttrAS4Aggregator: // RFC 6793 §6
			switch {
			case d.opts.AS4:
				discard(SubOptionalAttr, "from a 4-octet AS speaker")
			case l != 8:
				discard(SubAttrLength, "has bad length")
			case binary.BigEndian.Uint32(v) == 0:
				discard(SubOptionalAttr, "holds AS 0")
			default:
				as4Agg = Aggregator{AS: binary.BigEndian.Uint32(v), Addr: netip.AddrFrom4([4]byte(v[4:]))}
				hasAS4Agg = true
			}
		}
		if s.worst != nil && s.worst.Action == SessionReset {
			return a, nh4
		}
	}
	if len(d.buf) > 0 {
		a.Unknown = RawAttrs{string(d.buf)}
	}

	// RFC 6793 §4.2.3: rebuild 4-octet information from a 2-octet speaker.
	// The rule on the aggregator applies only when both AGGREGATOR and
	// AS4_AGGREGATOR came: then an AGGREGATOR that is not AS_TRANS means
	// a 2-octet speaker aggregated the route after the AS4_* attributes
	// were made, so both are stale and AS_PATH alone is the path. An
	// AGGREGATOR of a 2-octet AS without AS4_AGGREGATOR is what a 4-octet
	// speaker sends for such an aggregator, beside a valid AS4_PATH. A
	// lone AS4_AGGREGATOR names no aggregator and is ignored.
	if !d.opts.AS4 {
		if hasAS4Agg && a.Present.Has(AttrAggregator) {
			if a.Aggregator.AS != ASTrans {
				hasAS4Path = false
			} else {
				a.Aggregator = as4Agg
			}
		}
		if hasAS4Path && a.Present.Has(AttrASPath) {
			a.ASPath = mergeAS4Path(a.ASPath, as4Path)
		}
	}

	// RFC 7606 §3(d): missing well-known mandatory attributes.
	// An attribute that was present but malformed is already reported.
	for _, t := range [...]AttrType{AttrOrigin, AttrASPath, AttrNextHop} {
		if seen[0]&(1<<t) != 0 || t == AttrNextHop && !reachV4 {
			continue
		}
		s.note(attrErr(SubMissingWellKnown, t, []byte{byte(t)}, TreatAsWithdraw, "missing well-known attribute %s", t))
	}
	return a, nh4
}
