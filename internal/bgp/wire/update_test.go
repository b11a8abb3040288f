package wire

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

var (
	optsIBGP4 = Options{AS4: true, Families: FamIPv4Unicast | FamIPv6Unicast}
	optsEBGP4 = Options{AS4: true, EBGP: true, Families: FamIPv4Unicast | FamIPv6Unicast}
	optsEBGP2 = Options{EBGP: true, Families: FamIPv4Unicast | FamIPv6Unicast}
)

func prefixes(ss ...string) []Prefix {
	var out []Prefix
	for _, s := range ss {
		out = append(out, MustParsePrefix(s))
	}
	return out
}

// TestUpdateVector decodes an UPDATE written byte by byte from RFC 4271
// §4.3 with attributes of RFC 1997, RFC 4360 and RFC 8092.
func TestUpdateVector(t *testing.T) {
	body := updateBody(hexb("18 c63364"), cat( // withdraw 198.51.100/24
		aOriginIGP, aPath4, aNextHop,
		attr(FlagOptional, AttrMED, hexb("00000064")),
		attr(FlagTransitive, AttrLocalPref, hexb("000000c8")),
		attr(FlagTransitive, AttrAtomicAggregate, nil),
		attr(FlagOptional|FlagTransitive, AttrAggregator, hexb("0000fdea c0000209")),
		attr(FlagOptional|FlagTransitive, AttrCommunities, hexb("fde90064 ffffff01")),
		attr(FlagOptional, AttrOriginatorID, hexb("0a000001")),
		attr(FlagOptional, AttrClusterList, hexb("0a000002 0a000003")),
		attr(FlagOptional|FlagTransitive, AttrExtCommunities, hexb("0002fde9 00000064")),
		attr(FlagOptional|FlagTransitive, AttrLargeCommunities, hexb("0000fde9 00000001 00000002")),
		attr(FlagOptional|FlagTransitive, 99, hexb("abcd")), // unknown transitive: kept
		attr(FlagOptional, 98, hexb("abcd")),                // unknown non-transitive: dropped
	), nlri10)
	var u Update
	if err := NewDecoder(optsIBGP4).DecodeUpdate(body, &u); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.Withdrawn, prefixes("198.51.100.0/24")) || !slices.Equal(u.NLRI, prefixes("10.0.0.0/8", "172.16.0.0/16")) {
		t.Fatalf("withdrawn %v nlri %v", u.Withdrawn, u.NLRI)
	}
	a := u.Attrs.Value()
	want := Attrs{
		Present:          AttrMask(0).With(AttrOrigin).With(AttrASPath).With(AttrMED).With(AttrLocalPref).With(AttrAtomicAggregate).With(AttrAggregator).With(AttrOriginatorID),
		Origin:           OriginIGP,
		ASPath:           MakeASPath(ASSegment{ASSequence, []uint32{65001, 65002}}),
		MED:              100,
		LocalPref:        200,
		Aggregator:       Aggregator{65002, netip.MustParseAddr("192.0.2.9")},
		OriginatorID:     netip.MustParseAddr("10.0.0.1"),
		NextHop:          netip.MustParseAddr("192.0.2.1"),
		Communities:      MakeCommunities(65001<<16|100, NoExport),
		ExtCommunities:   MakeExtCommunities(ExtCommunity{0, 2, 0xfd, 0xe9, 0, 0, 0, 0x64}),
		LargeCommunities: MakeLargeCommunities(LargeCommunity{65001, 1, 2}),
		ClusterList:      MakeClusterList(0x0a000002, 0x0a000003),
		Unknown:          MakeRawAttrs(RawAttr{FlagOptional | FlagTransitive, 99, "\xab\xcd"}),
	}
	if a != want {
		t.Errorf("attrs\n got %+v\nwant %+v", a, want)
	}
	if got := a.Unknown.All()[0].Flags; got&FlagPartial == 0 {
		t.Errorf("unknown attribute flags %02x without Partial", got)
	}
	const str = "origin=igp as-path=[65001 65002] next-hop=192.0.2.1 med=100 local-pref=200 atomic-aggregate=true aggregator=65002,192.0.2.9 communities=[65001:100 no-export] ext-communities=rt:65001:100 large-communities=65001:1:2 originator-id=10.0.0.1 cluster-list=10.0.0.2,10.0.0.3 attr99=abcd"
	if s := a.String(); s != str {
		t.Errorf("String\n got %s\nwant %s", s, str)
	}
	if !a.Communities.Has(NoExport) || a.ASPath.String() != "65001 65002" || a.ASPath.Length() != 2 {
		t.Errorf("accessors: %v %q", a.Communities, a.ASPath)
	}
	// The same attributes with other prefixes come from the cache as the
	// same handle.
	var u2 Update
	d := NewDecoder(optsIBGP4)
	d.DecodeUpdate(body, &u2)
	h := u2.Attrs
	d.DecodeUpdate(body, &u2)
	if u2.Attrs != h || h != u.Attrs {
		t.Error("attributes not shared")
	}
}

func TestUpdateMPReach(t *testing.T) {
	mp := attr(FlagOptional, AttrMPReach, hexb(`0002 01 20
		20010db8000000000000000000000001 fe800000000000000000000000000001 00
		20 20010db8  30 20010db80001`))
	unreach := attr(FlagOptional, AttrMPUnreach, hexb("0002 01 40 20010db8ffff0000"))
	var u Update
	err := NewDecoder(optsEBGP4).DecodeUpdate(updateBody(nil, cat(mp, unreach, aOriginIGP, aPath4), nil), &u)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.MPNLRI, prefixes("2001:db8::/32", "2001:db8:1::/48")) || !slices.Equal(u.Withdrawn, prefixes("2001:db8:ffff::/64")) {
		t.Fatalf("%v %v", u.MPNLRI, u.Withdrawn)
	}
	a := u.MPAttrs.Value()
	if a.NextHop != netip.MustParseAddr("2001:db8::1") || a.LinkLocal != netip.MustParseAddr("fe80::1") {
		t.Errorf("next hops %v %v", a.NextHop, a.LinkLocal)
	}
	// RFC 8950: IPv4 NLRI with an IPv6 next hop, only when negotiated.
	v4 := attr(FlagOptional, AttrMPReach, hexb("0001 01 10 20010db8000000000000000000000001 00 18 c00002"))
	body := updateBody(nil, cat(v4, aOriginIGP, aPath4), nil)
	err = NewDecoder(optsEBGP4).DecodeUpdate(body, &u)
	e := wantErr(t, err, CodeUpdate, SubOptionalAttr, AFISAFIDisable)
	if e.Family != IPv4Unicast || len(u.MPNLRI) != 0 {
		t.Errorf("family %v, nlri %v", e.Family, u.MPNLRI)
	}
	o := optsEBGP4
	o.ExtendedNextHop = true
	if err := NewDecoder(o).DecodeUpdate(body, &u); err != nil || !slices.Equal(u.MPNLRI, prefixes("192.0.2.0/24")) || !u.MPAttrs.Value().NextHop.Is6() {
		t.Fatalf("%v %v", u.MPNLRI, err)
	}
}

// TestUpdateVectorExtendedLength decodes the path attributes of the
// example in RFC 6396 Appendix A (as corrected by erratum 6640, with the
// AFI/SAFI and reserved octet an UPDATE carries put back): AS_PATH with the
// extended length bit, MP_REACH_NLRI with a global and a link-local next
// hop.
func TestUpdateVectorExtendedLength(t *testing.T) {
	attrs := hexb(`40 01 01 00  50 02 00 0e 02 03 00 00 fb f0 00 00 fb ff 00 00 fb f6
		80 0e 2a 00 02 01 20 20 01 0d b8 00 0d 00 ff 00 00 00 00 00 00 01 87
		fe 80 00 00 00 00 00 00 02 12 f2 ff fe 9f 1b 00 00  20 20 01 0d b8`)
	var u Update
	if err := NewDecoder(optsEBGP4).DecodeUpdate(updateBody(nil, attrs, nil), &u); err != nil {
		t.Fatal(err)
	}
	a := u.MPAttrs.Value()
	if !slices.Equal(u.MPNLRI, prefixes("2001:db8::/32")) || a.ASPath.String() != "64496 64511 64502" ||
		a.NextHop != netip.MustParseAddr("2001:db8:d:ff::187") || a.LinkLocal != netip.MustParseAddr("fe80::212:f2ff:fe9f:1b00") {
		t.Errorf("%v %v", u.MPNLRI, a.String())
	}
}

func TestEncoderRejects(t *testing.T) {
	e := NewEncoder(optsIBGP4)
	ok := Attrs{Present: AttrMask(0).With(AttrOrigin).With(AttrASPath), NextHop: netip.MustParseAddr("192.0.2.1")}
	v4 := prefixes("10.0.0.0/8")
	for name, tc := range map[string]struct {
		a  Attrs
		ps []Prefix
	}{
		"no ORIGIN":                      {Attrs{Present: AttrMask(0).With(AttrASPath), NextHop: ok.NextHop}, v4},
		"no AS_PATH":                     {Attrs{Present: AttrMask(0).With(AttrOrigin), NextHop: ok.NextHop}, v4},
		"no next hop":                    {Attrs{Present: ok.Present}, v4},
		"IPv6 prefix, IPv4 next hop":     {ok, prefixes("2001:db8::/32")},
		"IPv6 next hop without RFC 8950": {Attrs{Present: ok.Present, NextHop: netip.MustParseAddr("2001:db8::1")}, v4},
		"mixed families":                 {ok, prefixes("10.0.0.0/8", "2001:db8::/32")},
	} {
		if out, err := e.AppendAnnounce([]byte("x"), &tc.a, tc.ps); err == nil || string(out) != "x" {
			t.Errorf("%s: %v, %d bytes", name, err, len(out))
		}
	}
}

func TestEndOfRIB(t *testing.T) {
	d := NewDecoder(optsIBGP4)
	var u Update
	for _, f := range []Family{IPv4Unicast, IPv6Unicast} {
		msg := AppendEndOfRIB(nil, f)
		if err := d.DecodeUpdate(msg[HeaderLen:], &u); err != nil || u.EndOfRIB != f {
			t.Errorf("%v: %v %v", f, u.EndOfRIB, err)
		}
	}
	d.DecodeUpdate(updateBody(hexb("08 0a"), nil, nil), &u)
	if u.EndOfRIB != (Family{}) {
		t.Error("withdrawal taken for End-of-RIB")
	}
}

// TestRFC7606 has one case per rule of RFC 7606 (and of the RFCs it
// updates) that the decoder implements.
func TestRFC7606(t *testing.T) {
	mpReach6 := attr(FlagOptional, AttrMPReach, hexb("0002 01 10 20010db8000000000000000000000001 00 20 20010db8"))
	tests := []struct {
		name    string
		opts    Options
		body    []byte
		action  Action // SessionReset etc.; AttributeDiscard means a warning and no error
		sub     uint8
		data    []byte
		noError bool // no error and no warning expected
	}{
		{name: "§3(c) ORIGIN flags conflict: treat-as-withdraw",
			body:   updateBody(nil, cat(attr(FlagOptional|FlagTransitive, AttrOrigin, []byte{0}), aPath4, aNextHop), nlri10),
			action: TreatAsWithdraw, sub: SubAttrFlags, data: hexb("c0 01 01 00")},
		{name: "§3(c) AGGREGATOR flags conflict: discard",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagTransitive, AttrAggregator, hexb("0000fdea c0000209"))), nlri10),
			action: AttributeDiscard, sub: SubAttrFlags},
		{name: "§3(d) missing ORIGIN: treat-as-withdraw",
			body:   updateBody(nil, cat(aPath4, aNextHop), nlri10),
			action: TreatAsWithdraw, sub: SubMissingWellKnown, data: []byte{1}},
		{name: "§3(d) missing AS_PATH: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, aNextHop), nlri10),
			action: TreatAsWithdraw, sub: SubMissingWellKnown, data: []byte{2}},
		{name: "§3(d) missing NEXT_HOP with IPv4 NLRI: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, aPath4), nlri10),
			action: TreatAsWithdraw, sub: SubMissingWellKnown, data: []byte{3}},
		{name: "§3(d) NEXT_HOP not needed with only MP_REACH_NLRI",
			body: updateBody(nil, cat(mpReach6, aOriginIGP, aPath4), nil), noError: true},
		{name: "§3(d) no attributes with NLRI: treat-as-withdraw",
			body:   updateBody(nil, nil, nlri10),
			action: TreatAsWithdraw, sub: SubMissingWellKnown},
		{name: "§3(g) MP_REACH_NLRI twice: session reset",
			body:   updateBody(nil, cat(mpReach6, mpReach6, aOriginIGP, aPath4), nil),
			action: SessionReset, sub: SubMalformedAttrList},
		{name: "§3(g) other attribute twice: later ones discarded",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagTransitive, AttrOrigin, []byte{2})), nlri10),
			action: AttributeDiscard, sub: SubMalformedAttrList},
		{name: "§4 attribute overruns the attribute list, IPv4 only: treat-as-withdraw",
			opts:   Options{AS4: true, Families: FamIPv4Unicast},
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, hexb("c0 63 05 01")), nlri10),
			action: TreatAsWithdraw, sub: SubMalformedAttrList},
		{name: "§4 attribute header truncated after MP_REACH_NLRI: treat-as-withdraw",
			body:   updateBody(nil, cat(mpReach6, aOriginIGP, hexb("40")), nil),
			action: TreatAsWithdraw, sub: SubMalformedAttrList},
		{name: "§5.1 attribute overruns before any MP attribute: session reset",
			body:   updateBody(nil, cat(aOriginIGP, hexb("40 02 ff 00")), nlri10),
			action: SessionReset, sub: SubMalformedAttrList},
		{name: "§5.2 no reachable NLRI: attributes ignored",
			body: updateBody(hexb("08 0a"), cat(attr(FlagTransitive, AttrOrigin, []byte{7})), nil), noError: true},
		{name: "§5.3 NLRI prefix length over 32: session reset",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop), hexb("21 0a000000 00")),
			action: SessionReset, sub: SubInvalidNetworkField},
		{name: "§5.3 NLRI overruns: session reset",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop), hexb("18 0a00")),
			action: SessionReset, sub: SubInvalidNetworkField},
		{name: "§5.3 withdrawn prefix overruns: session reset",
			body:   updateBody(hexb("20 0a"), nil, nil),
			action: SessionReset, sub: SubInvalidNetworkField},
		{name: "§5.3 MP_REACH_NLRI prefix over 128: AFI/SAFI disable",
			body:   updateBody(nil, cat(attr(FlagOptional, AttrMPReach, hexb("0002 01 10 20010db8000000000000000000000001 00 81")), aOriginIGP, aPath4), nil),
			action: AFISAFIDisable, sub: SubOptionalAttr},
		{name: "§5.3 MP_UNREACH_NLRI overruns: AFI/SAFI disable",
			body:   updateBody(nil, attr(FlagOptional, AttrMPUnreach, hexb("0002 01 40 2001")), nil),
			action: AFISAFIDisable, sub: SubOptionalAttr},
		{name: "§7.1 ORIGIN bad length: treat-as-withdraw",
			body:   updateBody(nil, cat(attr(FlagTransitive, AttrOrigin, []byte{0, 0}), aPath4, aNextHop), nlri10),
			action: TreatAsWithdraw, sub: SubAttrLength},
		{name: "§7.1 ORIGIN undefined value: treat-as-withdraw",
			body:   updateBody(nil, cat(attr(FlagTransitive, AttrOrigin, []byte{3}), aPath4, aNextHop), nlri10),
			action: TreatAsWithdraw, sub: SubInvalidOrigin},
		{name: "§7.2 AS_PATH segment overrun: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, attr(FlagTransitive, AttrASPath, hexb("02 03 0000fde9")), aNextHop), nlri10),
			action: TreatAsWithdraw, sub: SubMalformedASPath},
		{name: "§7.2 AS_PATH zero-length segment: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, attr(FlagTransitive, AttrASPath, hexb("02 00")), aNextHop), nlri10),
			action: TreatAsWithdraw, sub: SubMalformedASPath},
		{name: "§7.2 AS_PATH unknown segment type: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, attr(FlagTransitive, AttrASPath, hexb("05 01 0000fde9")), aNextHop), nlri10),
			action: TreatAsWithdraw, sub: SubMalformedASPath},
		{name: "RFC 5065 confederation segment from external peer: treat-as-withdraw",
			opts:   optsEBGP4,
			body:   updateBody(nil, cat(aOriginIGP, attr(FlagTransitive, AttrASPath, hexb("03 01 0000fde9")), aNextHop), nlri10),
			action: TreatAsWithdraw, sub: SubMalformedASPath},
		{name: "RFC 5065 confederation segment from internal peer: accepted",
			body: updateBody(nil, cat(aOriginIGP, attr(FlagTransitive, AttrASPath, hexb("03 01 0000fde9")), aNextHop), nlri10), noError: true},
		{name: "RFC 7607 AS 0 in AS_PATH: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, attr(FlagTransitive, AttrASPath, hexb("02 01 00000000")), aNextHop), nlri10),
			action: TreatAsWithdraw, sub: SubMalformedASPath},
		{name: "§7.3 NEXT_HOP bad length: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, attr(FlagTransitive, AttrNextHop, hexb("c00002"))), nlri10),
			action: TreatAsWithdraw, sub: SubAttrLength},
		{name: "RFC 4271 §6.3 NEXT_HOP multicast: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, attr(FlagTransitive, AttrNextHop, hexb("e0000001"))), nlri10),
			action: TreatAsWithdraw, sub: SubInvalidNextHop},
		{name: "§7.4 MED bad length: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagOptional, AttrMED, hexb("000001"))), nlri10),
			action: TreatAsWithdraw, sub: SubAttrLength},
		{name: "§7.5 LOCAL_PREF from external peer: disregarded",
			opts: optsEBGP4,
			body: updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagTransitive, AttrLocalPref, hexb("00000064"))), nlri10), noError: true},
		{name: "§7.5 LOCAL_PREF bad length from internal peer: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagTransitive, AttrLocalPref, hexb("0064"))), nlri10),
			action: TreatAsWithdraw, sub: SubAttrLength},
		{name: "§7.6 ATOMIC_AGGREGATE bad length: discarded",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagTransitive, AttrAtomicAggregate, []byte{1})), nlri10),
			action: AttributeDiscard, sub: SubAttrLength},
		{name: "§7.7 AGGREGATOR bad length: discarded",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagOptional|FlagTransitive, AttrAggregator, hexb("fdea c0000209"))), nlri10),
			action: AttributeDiscard, sub: SubAttrLength},
		{name: "RFC 7607 AGGREGATOR AS 0: discarded",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagOptional|FlagTransitive, AttrAggregator, hexb("00000000 c0000209"))), nlri10),
			action: AttributeDiscard, sub: SubOptionalAttr},
		{name: "§7.8 COMMUNITIES length not a multiple of 4: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagOptional|FlagTransitive, AttrCommunities, hexb("fde900"))), nlri10),
			action: TreatAsWithdraw, sub: SubAttrLength},
		{name: "§7.8 COMMUNITIES empty: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagOptional|FlagTransitive, AttrCommunities, nil)), nlri10),
			action: TreatAsWithdraw, sub: SubAttrLength},
		{name: "§7.9 ORIGINATOR_ID bad length: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagOptional, AttrOriginatorID, hexb("0a00"))), nlri10),
			action: TreatAsWithdraw, sub: SubAttrLength},
		{name: "RFC 4456 ORIGINATOR_ID from external peer: discarded",
			opts:   optsEBGP4,
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagOptional, AttrOriginatorID, hexb("0a000001"))), nlri10),
			action: AttributeDiscard, sub: SubOptionalAttr},
		{name: "§7.10 CLUSTER_LIST length not a multiple of 4: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagOptional, AttrClusterList, hexb("0a0000"))), nlri10),
			action: TreatAsWithdraw, sub: SubAttrLength},
		{name: "§7.11 MP_REACH_NLRI next hop length inconsistent: AFI/SAFI disable",
			body:   updateBody(nil, cat(attr(FlagOptional, AttrMPReach, hexb("0002 01 04 c0000201 00 20 20010db8")), aOriginIGP, aPath4), nil),
			action: AFISAFIDisable, sub: SubOptionalAttr},
		{name: "§7.11 MP_REACH_NLRI truncated before AFI/SAFI: session reset",
			body:   updateBody(nil, cat(attr(FlagOptional, AttrMPReach, hexb("0002")), aOriginIGP, aPath4), nil),
			action: SessionReset, sub: SubAttrLength},
		{name: "RFC 4760 MP_REACH_NLRI of a family not negotiated: ignored",
			opts:   Options{AS4: true, Families: FamIPv4Unicast},
			body:   updateBody(nil, cat(mpReach6, aOriginIGP, aPath4), nil),
			action: AttributeDiscard, sub: SubOptionalAttr},
		{name: "§7.14 EXTENDED_COMMUNITIES length not a multiple of 8: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagOptional|FlagTransitive, AttrExtCommunities, hexb("0002fde900000064 00"))), nlri10),
			action: TreatAsWithdraw, sub: SubAttrLength},
		{name: "RFC 8092 LARGE_COMMUNITY length not a multiple of 12: treat-as-withdraw",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagOptional|FlagTransitive, AttrLargeCommunities, hexb("0000fde9 00000001"))), nlri10),
			action: TreatAsWithdraw, sub: SubAttrLength},
		{name: "RFC 6793 AS4_PATH malformed: discarded",
			opts:   optsEBGP2,
			body:   updateBody(nil, cat(aOriginIGP, aPath2, aNextHop, attr(FlagOptional|FlagTransitive, AttrAS4Path, hexb("02 02 0000fde9"))), nlri10),
			action: AttributeDiscard, sub: SubMalformedASPath},
		{name: "RFC 6793 AS4_PATH from a 4-octet speaker: discarded",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagOptional|FlagTransitive, AttrAS4Path, hexb("02 01 0000fde9"))), nlri10),
			action: AttributeDiscard, sub: SubOptionalAttr},
		{name: "RFC 6793 AS4_AGGREGATOR bad length: discarded",
			opts:   optsEBGP2,
			body:   updateBody(nil, cat(aOriginIGP, aPath2, aNextHop, attr(FlagOptional|FlagTransitive, AttrAS4Aggregator, hexb("0000fde9"))), nlri10),
			action: AttributeDiscard, sub: SubAttrLength},
		{name: "RFC 4271 unrecognized well-known attribute: session reset",
			body:   updateBody(nil, cat(aOriginIGP, aPath4, aNextHop, attr(FlagTransitive, 99, []byte{1})), nlri10),
			action: SessionReset, sub: SubUnrecognizedWellKnown, data: hexb("40 63 01 01")},
		{name: "RFC 4271 total attribute length overruns the message: session reset",
			body:   hexb("0000 0010 40 01 01 00"),
			action: SessionReset, sub: SubMalformedAttrList},
		{name: "RFC 4271 withdrawn length overruns the message: session reset",
			body:   hexb("0010 0000"),
			action: SessionReset, sub: SubMalformedAttrList},
		{name: "RFC 4271 §4.3 host bits set: cleared, not an error",
			body: updateBody(nil, cat(aOriginIGP, aPath4, aNextHop), hexb("09 0aff")), noError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			if o == (Options{}) {
				o = optsIBGP4
			}
			var u Update
			err := NewDecoder(o).DecodeUpdate(tt.body, &u)
			if tt.noError {
				if err != nil || len(u.Warnings) > 0 {
					t.Fatalf("error %v, warnings %v", err, u.Warnings)
				}
				return
			}
			var e *Error
			if tt.action == AttributeDiscard {
				if err != nil || len(u.Warnings) != 1 {
					t.Fatalf("error %v, warnings %v", err, u.Warnings)
				}
				e = u.Warnings[0]
				if e.Action != AttributeDiscard || tt.sub != 0 && e.Subcode != tt.sub {
					t.Fatalf("warning %v", e)
				}
				if len(u.NLRI)+len(u.MPNLRI) > 0 && u.Attrs == u.MPAttrs {
					t.Errorf("no attributes for the NLRI")
				}
				return
			}
			e = wantErr(t, err, CodeUpdate, tt.sub, tt.action)
			if tt.data != nil && !bytes.Equal(e.Data, tt.data) {
				t.Errorf("data %x, want %x", e.Data, tt.data)
			}
			if tt.action == TreatAsWithdraw {
				if len(u.NLRI) > 0 || len(u.MPNLRI) > 0 || len(u.Withdrawn) == 0 {
					t.Errorf("treat-as-withdraw left nlri %v mp %v withdrawn %v", u.NLRI, u.MPNLRI, u.Withdrawn)
				}
			}
		})
	}
}

func TestTreatAsWithdrawKeepsPrefixes(t *testing.T) {
	mp := attr(FlagOptional, AttrMPReach, hexb("0002 01 10 20010db8000000000000000000000001 00 20 20010db8"))
	body := updateBody(hexb("08 0b"), cat(mp, attr(FlagTransitive, AttrOrigin, []byte{9}), aPath4, aNextHop), nlri10)
	var u Update
	err := NewDecoder(optsIBGP4).DecodeUpdate(body, &u)
	wantErr(t, err, CodeUpdate, SubInvalidOrigin, TreatAsWithdraw)
	want := prefixes("11.0.0.0/8", "10.0.0.0/8", "172.16.0.0/16", "2001:db8::/32")
	if !slices.Equal(u.Withdrawn, want) {
		t.Errorf("withdrawn %v, want %v", u.Withdrawn, want)
	}
}

func TestAS4TowardsTwoOctetSpeaker(t *testing.T) {
	a := Attrs{
		Present:    AttrMask(0).With(AttrOrigin).With(AttrASPath).With(AttrAggregator),
		ASPath:     MakeASPath(ASSegment{ASConfedSequence, []uint32{64512}}, ASSegment{ASSequence, []uint32{65001, 4200000001, 65002}}, ASSegment{ASSet, []uint32{4200000002, 7}}),
		Aggregator: Aggregator{4200000003, netip.MustParseAddr("192.0.2.9")},
		NextHop:    netip.MustParseAddr("192.0.2.1"),
	}
	o := Options{Families: FamIPv4Unicast}
	msg, err := NewEncoder(o).AppendAnnounce(nil, &a, prefixes("10.0.0.0/8"))
	if err != nil {
		t.Fatal(err)
	}
	// The 2-octet AS_PATH carries AS_TRANS, AS4_PATH the real numbers
	// without the confederation segment, AGGREGATOR AS_TRANS.
	for _, want := range [][]byte{
		hexb("40 02 12  03 01 fc00  02 03 fde9 5ba0 fdea  01 02 5ba0 0007"),
		hexb("c0 11 18  02 03 0000fde9 fa56ea01 0000fdea  01 02 fa56ea02 00000007"),
		hexb("c0 07 06 5ba0 c0000209"),
		hexb("c0 12 08 fa56ea03 c0000209"),
	} {
		if !bytes.Contains(msg, want) {
			t.Errorf("message %x lacks %x", msg, want)
		}
	}
	var u Update
	if err := NewDecoder(o).DecodeUpdate(msg[HeaderLen:], &u); err != nil {
		t.Fatal(err)
	}
	if got := u.Attrs.Value(); got != a {
		t.Errorf("merged\n got %+v %v\nwant %+v %v", got, got.ASPath, a, a.ASPath)
	}
}

func TestAS4Merge(t *testing.T) {
	seq := func(as ...uint32) ASSegment { return ASSegment{ASSequence, as} }
	tests := []struct {
		name      string
		path, as4 ASPath
		want      string
	}{
		{"AS4_PATH covers the tail", MakeASPath(seq(1, 2, 23456, 23456)), MakeASPath(seq(4200000001, 4200000002)), "1 2 4200000001 4200000002"},
		{"AS4_PATH longer than AS_PATH: ignored", MakeASPath(seq(1)), MakeASPath(seq(4200000001, 4200000002)), "1"},
		{"AS4_PATH confederation segment dropped", MakeASPath(seq(1, 23456)), MakeASPath(ASSegment{ASConfedSequence, []uint32{9}}, seq(1, 4200000001)), "1 4200000001"},
		{"confederation segment kept in place", MakeASPath(seq(1), ASSegment{ASConfedSequence, []uint32{2}}, seq(23456)), MakeASPath(seq(1, 4200000001)), "1 (2) 4200000001"},
		{"shapes differ: RFC 6793 rule", MakeASPath(seq(1, 23456, 3)), MakeASPath(ASSegment{ASSet, []uint32{4200000001, 3}}), "1 23456 {4200000001,3}"},
		{"set counts one", MakeASPath(seq(1, 23456), ASSegment{ASSet, []uint32{3, 4}}), MakeASPath(seq(4200000001), ASSegment{ASSet, []uint32{3, 4}}), "1 4200000001 {3,4}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mergeAS4Path(tt.path, tt.as4).String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	// RFC 6793 §4.2.3: AGGREGATOR and AS4_AGGREGATOR together, the
	// AGGREGATOR not AS_TRANS, void AS4_PATH; AGGREGATOR alone does not.
	agg := func(as string) []byte { return attr(FlagOptional|FlagTransitive, AttrAggregator, hexb(as+" c0000209")) }
	as4Agg := attr(FlagOptional|FlagTransitive, AttrAS4Aggregator, hexb("fa56ea03 c0000209"))
	as4Path := attr(FlagOptional|FlagTransitive, AttrAS4Path, hexb("02 02 0000fde9 fa56ea01"))
	for _, tt := range []struct {
		name       string
		attrs      [][]byte
		path       string
		aggregator uint32
	}{
		{"AGGREGATOR of a 2-octet AS alone: AS4_PATH merged", [][]byte{agg("fdea"), as4Path}, "65001 4200000001", 65002},
		{"both, AGGREGATOR not AS_TRANS: AS4_* ignored", [][]byte{agg("fdea"), as4Agg, as4Path}, "65001 65002", 65002},
		{"both, AGGREGATOR AS_TRANS: AS4_* taken", [][]byte{agg("5ba0"), as4Agg, as4Path}, "65001 4200000001", 4200000003},
		{"AS4_AGGREGATOR alone: ignored, AS4_PATH merged", [][]byte{as4Agg, as4Path}, "65001 4200000001", 0},
	} {
		body := updateBody(nil, cat(append([][]byte{aOriginIGP, aPath2, aNextHop}, tt.attrs...)...), nlri10)
		var u Update
		if err := NewDecoder(optsEBGP2).DecodeUpdate(body, &u); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		a := u.Attrs.Value()
		if p := a.ASPath.String(); p != tt.path || a.Aggregator.AS != tt.aggregator {
			t.Errorf("%s: path %q aggregator %d, want %q %d", tt.name, p, a.Aggregator.AS, tt.path, tt.aggregator)
		}
	}
}

func TestASPathAccessors(t *testing.T) {
	p := MakeASPath(ASSegment{ASConfedSequence, []uint32{64512, 64513}}, ASSegment{ASSequence, []uint32{65001, 65002}}, ASSegment{ASSet, []uint32{1, 2}})
	if p.Length() != 3 || p.Contains(7) || !p.Contains(64513) {
		t.Errorf("length %d", p.Length())
	}
	if _, ok := p.First(); ok {
		t.Error("first AS of a path starting with a confederation segment")
	}
	if _, ok := p.Origin(); ok {
		t.Error("origin AS of a path ending in a set")
	}
	q := MakeASPath(ASSegment{ASSequence, []uint32{65002, 65003}}).Prepend(65001, 2)
	if q.String() != "65001 65001 65002 65003" {
		t.Errorf("prepended %q", q)
	}
	if f, _ := q.First(); f != 65001 {
		t.Errorf("first %d", f)
	}
	if o, _ := q.Origin(); o != 65003 {
		t.Errorf("origin %d", o)
	}
	long := make([]uint32, 600)
	if n := len(MakeASPath(ASSegment{ASSequence, long}).Segments()); n != 3 {
		t.Errorf("600 ASes in %d segments", n)
	}
	if s := p.String(); s != "(64512 64513) 65001 65002 {1,2}" {
		t.Errorf("%q", s)
	}
}

// decodeStream decodes every UPDATE of stream and returns the announced
// prefixes with their attributes and the withdrawn ones.
func decodeStream(t testing.TB, d *Decoder, stream []byte) (map[Prefix]Attrs, map[Prefix]bool, int) {
	t.Helper()
	ann, wd := map[Prefix]Attrs{}, map[Prefix]bool{}
	var u Update
	msgs := splitMessages(t, stream, d.Options().MaxLen())
	for _, m := range msgs {
		if err := d.DecodeUpdate(m[HeaderLen:], &u); err != nil {
			t.Fatalf("decode: %v", err)
		}
		for _, p := range u.NLRI {
			ann[p] = u.Attrs.Value()
		}
		for _, p := range u.MPNLRI {
			ann[p] = u.MPAttrs.Value()
		}
		for _, p := range u.Withdrawn {
			wd[p] = true
		}
	}
	return ann, wd, len(msgs)
}

func TestPacking(t *testing.T) {
	var v4, v6 []Prefix
	for i := 0; i < 20000; i++ {
		v4 = append(v4, PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)))
		v6 = append(v6, PrefixFrom(netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0xd, 0xb8, byte(i >> 8), byte(i)}), 48)))
	}
	base := Attrs{
		Present:     AttrMask(0).With(AttrOrigin).With(AttrASPath).With(AttrMED),
		ASPath:      MakeASPath(ASSegment{ASSequence, []uint32{65001, 4200000001}}),
		MED:         5,
		Communities: MakeCommunities(NoExport, Blackhole),
	}
	for _, ext := range []bool{false, true} {
		t.Run(fmt.Sprintf("extended=%v", ext), func(t *testing.T) {
			o := Options{AS4: true, ExtendedMessage: ext, ExtendedNextHop: true, Families: FamIPv4Unicast | FamIPv6Unicast}
			e := NewEncoder(o)
			a4, a6, a4v6 := base, base, base
			a4.NextHop = netip.MustParseAddr("192.0.2.1")
			a6.NextHop, a6.LinkLocal = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::1")
			a4v6.NextHop = netip.MustParseAddr("2001:db8::2")
			var stream []byte
			var err error
			for _, x := range []struct {
				a *Attrs
				p []Prefix
			}{{&a4, v4[:10000]}, {&a6, v6}, {&a4v6, v4[10000:]}} {
				if stream, err = e.AppendAnnounce(stream, x.a, x.p); err != nil {
					t.Fatal(err)
				}
			}
			stream = e.AppendWithdraw(stream, append(slices.Clone(v4[:5]), v6[:7]...))
			stream = AppendEndOfRIB(stream, IPv6Unicast)
			ann, wd, n := decodeStream(t, NewDecoder(o), stream)
			if len(ann) != 40000 || len(wd) != 12 {
				t.Fatalf("%d announced, %d withdrawn", len(ann), len(wd))
			}
			for i := 0; i < 20000; i++ {
				want := a4
				if i >= 10000 {
					want = a4v6
				}
				if ann[v4[i]] != want || ann[v6[i]] != a6 {
					t.Fatalf("prefix %d: %+v", i, ann[v4[i]])
				}
			}
			// Full messages: 20000 /24s at 4 bytes and 20000 /48s at 7
			// bytes fill 20+36 UPDATEs of 4096 bytes or 2+3 of 65535; add
			// two withdrawals and the End-of-RIB.
			limit := 59
			if ext {
				limit = 8
			}
			if n > limit {
				t.Errorf("%d messages", n)
			}
		})
	}
}

func TestDecodeAllocations(t *testing.T) {
	a := Attrs{Present: AttrMask(0).With(AttrOrigin).With(AttrASPath), ASPath: MakeASPath(ASSegment{ASSequence, []uint32{1, 2, 3}}),
		Communities: MakeCommunities(1, 2, 3)}
	var v4, v6 []Prefix
	for i := 0; i < 500; i++ {
		v4 = append(v4, PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)))
		v6 = append(v6, PrefixFrom(netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, byte(i >> 8), byte(i)}), 48)))
	}
	for _, tc := range []struct {
		name string
		nh   string
		ps   []Prefix
	}{{"IPv4", "192.0.2.1", v4}, {"IPv6", "2001:db8::1", v6}} {
		t.Run(tc.name, func(t *testing.T) {
			a.NextHop = netip.MustParseAddr(tc.nh)
			msg, err := NewEncoder(optsIBGP4).AppendAnnounce(nil, &a, tc.ps)
			if err != nil {
				t.Fatal(err)
			}
			d := NewDecoder(optsIBGP4)
			var u Update
			body := msg[HeaderLen:]
			d.DecodeUpdate(body, &u)
			allocs := testing.AllocsPerRun(100, func() {
				if err := d.DecodeUpdate(body, &u); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per UPDATE of %d prefixes", allocs, len(u.NLRI)+len(u.MPNLRI))
			}
		})
	}
}
