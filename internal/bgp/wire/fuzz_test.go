package wire

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// optionsFromByte maps a fuzz input byte to session options, so that every
// target explores 2- and 4-octet, internal and external sessions.
func optionsFromByte(b byte) Options {
	o := Options{AS4: b&1 != 0, EBGP: b&2 != 0, ExtendedMessage: b&4 != 0, ExtendedNextHop: b&8 != 0}
	if b&0x10 != 0 {
		o.Families |= FamIPv4Unicast
	}
	if b&0x20 != 0 {
		o.Families |= FamIPv6Unicast
	}
	if o.Families == 0 {
		o.Families = FamIPv4Unicast | FamIPv6Unicast
	}
	return o
}

// checkUpdateRoundTrip re-encodes a decoded UPDATE with the same options
// and checks that decoding that gives the same prefixes and attributes.
func checkUpdateRoundTrip(t *testing.T, o Options, u *Update) {
	t.Helper()
	wantAnn, wantWd := map[Prefix]Attrs{}, map[Prefix]bool{}
	for _, p := range u.Withdrawn {
		wantWd[p] = true
	}
	e := NewEncoder(o)
	stream := e.AppendWithdraw(nil, u.Withdrawn)
	var err error
	if len(u.NLRI) > 0 {
		a := u.Attrs.Value()
		for _, p := range u.NLRI {
			wantAnn[p] = a
		}
		if stream, err = e.AppendAnnounce(stream, &a, u.NLRI); err != nil {
			if strings.Contains(err.Error(), "do not fit") {
				return
			}
			t.Fatalf("encode NLRI: %v", err)
		}
	}
	if len(u.MPNLRI) > 0 {
		a := u.MPAttrs.Value()
		for _, p := range u.MPNLRI {
			wantAnn[p] = a
		}
		if stream, err = e.AppendAnnounce(stream, &a, u.MPNLRI); err != nil {
			if strings.Contains(err.Error(), "do not fit") {
				return
			}
			t.Fatalf("encode MP NLRI: %v", err)
		}
	}
	if u.EndOfRIB != (Family{}) {
		stream = AppendEndOfRIB(stream, u.EndOfRIB)
	}
	d := NewDecoder(o)
	gotAnn, gotWd := map[Prefix]Attrs{}, map[Prefix]bool{}
	var eor Family
	var v Update
	for _, m := range splitMessages(t, stream, o.MaxLen()) {
		if err := d.DecodeUpdate(m[HeaderLen:], &v); err != nil {
			t.Fatalf("re-decode %x: %v", m, err)
		}
		if len(v.Warnings) > 0 {
			t.Fatalf("re-decode %x: warnings %v", m, v.Warnings)
		}
		for _, p := range v.Withdrawn {
			gotWd[p] = true
		}
		for _, p := range v.NLRI {
			gotAnn[p] = v.Attrs.Value()
		}
		for _, p := range v.MPNLRI {
			gotAnn[p] = v.MPAttrs.Value()
		}
		if v.EndOfRIB != (Family{}) {
			eor = v.EndOfRIB
		}
	}
	if !reflect.DeepEqual(gotWd, wantWd) {
		t.Fatalf("withdrawn: got %v, want %v", gotWd, wantWd)
	}
	if !reflect.DeepEqual(gotAnn, wantAnn) {
		t.Fatalf("announced:\n got %+v\nwant %+v", gotAnn, wantAnn)
	}
	if eor != u.EndOfRIB && len(u.Withdrawn) == 0 {
		t.Fatalf("End-of-RIB %v, want %v", eor, u.EndOfRIB)
	}
}

// Seeds, shared by f.Add and the checked-in corpus.

func seedHeaders() [][]byte {
	o, _ := fullOpen().AppendMessage(nil)
	return [][]byte{
		AppendKeepalive(nil), o, AppendEndOfRIB(nil, IPv6Unicast),
		RouteRefresh{IPv4Unicast, RefreshBoRR}.AppendMessage(nil),
		hexb(strings.Repeat("ff", 16) + "0013 07"),
	}
}

func seedOpens() [][]byte {
	o, _ := fullOpen().AppendMessage(nil)
	big := fullOpen()
	for i := 0; i < 100; i++ {
		big.Caps.Unknown = append(big.Caps.Unknown, RawCapability{Code: 200, Value: []byte{byte(i)}})
	}
	b, _ := big.AppendMessage(nil)
	return [][]byte{o[HeaderLen:], b[HeaderLen:],
		hexb("04 fde9 00b4 c0000202 16 02 14 01 04 0001 00 01 01 04 0002 00 01 02 00 41 04 0000fde9"),
		hexb("03 fde9 00b4 c0000202 00")}
}

func seedUpdates() [][]byte {
	mp := attr(FlagOptional, AttrMPReach, hexb("0002 01 20 20010db8000000000000000000000001 fe800000000000000000000000000001 00 20 20010db8 30 20010db80001"))
	mp4 := attr(FlagOptional, AttrMPReach, hexb("0001 01 10 20010db8000000000000000000000001 00 18 c00002"))
	unreach := attr(FlagOptional, AttrMPUnreach, hexb("0002 01 40 20010db8ffff0000"))
	full := cat(aOriginIGP, aPath4, aNextHop,
		attr(FlagOptional, AttrMED, hexb("00000064")),
		attr(FlagTransitive, AttrLocalPref, hexb("000000c8")),
		attr(FlagTransitive, AttrAtomicAggregate, nil),
		attr(FlagOptional|FlagTransitive, AttrAggregator, hexb("0000fdea c0000209")),
		attr(FlagOptional|FlagTransitive, AttrCommunities, hexb("fde90064 ffffff01")),
		attr(FlagOptional, AttrOriginatorID, hexb("0a000001")),
		attr(FlagOptional, AttrClusterList, hexb("0a000002 0a000003")),
		attr(FlagOptional|FlagTransitive, AttrExtCommunities, hexb("0002fde9 00000064")),
		attr(FlagOptional|FlagTransitive, AttrLargeCommunities, hexb("0000fde9 00000001 00000002")),
		attr(FlagOptional|FlagTransitive, 99, hexb("abcd")))
	two := cat(aOriginIGP, attr(FlagTransitive, AttrASPath, hexb("03 01 fc00 02 03 fde9 5ba0 fdea 01 02 5ba0 0007")), aNextHop,
		attr(FlagOptional|FlagTransitive, AttrAggregator, hexb("5ba0 c0000209")),
		attr(FlagOptional|FlagTransitive, AttrAS4Path, hexb("02 03 0000fde9 fa56ea01 0000fdea 01 02 fa56ea02 00000007")),
		attr(FlagOptional|FlagTransitive, AttrAS4Aggregator, hexb("fa56ea03 c0000209")))
	return [][]byte{
		append([]byte{0x01}, updateBody(hexb("18 c63364"), full, nlri10)...),
		append([]byte{0x00}, updateBody(nil, two, nlri10)...),
		append([]byte{0x03}, updateBody(nil, cat(mp, unreach, aOriginIGP, aPath4), nil)...),
		append([]byte{0x09}, updateBody(nil, cat(mp4, aOriginIGP, aPath4), nil)...),
		append([]byte{0x01}, AppendEndOfRIB(nil, IPv6Unicast)[HeaderLen:]...),
		append([]byte{0x01}, hexb("0000 0000")...),
		append([]byte{0x01}, updateBody(hexb("08 0a"), nil, nil)...),
	}
}

// seedAttributes is one input per attribute: options, flags, type, value.
func seedAttributes() [][]byte {
	s := func(opts byte, flags uint8, t AttrType, v string) []byte {
		return append([]byte{opts, flags, byte(t)}, hexb(v)...)
	}
	return [][]byte{
		s(1, FlagTransitive, AttrOrigin, "02"),
		s(1, FlagTransitive, AttrASPath, "02 02 0000fde9 0000fdea 01 01 00000007"),
		s(0, FlagTransitive, AttrASPath, "02 02 fde9 fdea"),
		s(1, FlagTransitive, AttrNextHop, "c0000263"),
		s(1, FlagOptional, AttrMED, "00000064"),
		s(1, FlagTransitive, AttrLocalPref, "00000064"),
		s(1, FlagTransitive, AttrAtomicAggregate, ""),
		s(1, FlagOptional|FlagTransitive, AttrAggregator, "0000fdea c0000209"),
		s(0, FlagOptional|FlagTransitive, AttrAggregator, "5ba0 c0000209"),
		s(1, FlagOptional|FlagTransitive, AttrCommunities, "fde90064 ffffff01"),
		s(1, FlagOptional, AttrOriginatorID, "0a000001"),
		s(1, FlagOptional, AttrClusterList, "0a000002"),
		s(1, FlagOptional, AttrMPReach, "0002 01 10 20010db8000000000000000000000001 00 20 20010db8"),
		s(1, FlagOptional, AttrMPUnreach, "0002 01 20 20010db8"),
		s(1, FlagOptional|FlagTransitive, AttrExtCommunities, "0002fde9 00000064"),
		s(0, FlagOptional|FlagTransitive, AttrAS4Path, "02 01 fa56ea01"),
		s(0, FlagOptional|FlagTransitive, AttrAS4Aggregator, "fa56ea03 c0000209"),
		s(1, FlagOptional|FlagTransitive, AttrLargeCommunities, "0000fde9 00000001 00000002"),
		s(1, FlagOptional|FlagTransitive|FlagExtLength, 99, "abcd"),
	}
}

func seedCapabilities() [][]byte {
	o := fullOpen()
	b, _ := o.Caps.append(nil)
	return [][]byte{b, hexb("01 04 0001 00 01 41 04 0000fde9"), hexb("40 06 8078 0001 0180")}
}

func seedNotifications() [][]byte {
	return [][]byte{NewShutdown(SubAdminShutdown, "maintenance").AppendMessage(nil, 0)[HeaderLen:], hexb("0302 40 01 01 00"), hexb("06 04 ff 61")}
}

func seedRouteRefreshes() [][]byte {
	return [][]byte{hexb("0001 00 01"), hexb("0002 01 01"), hexb("0002 02 01"), hexb("0002 07 01")}
}

func addSeeds(f *testing.F, seeds [][]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
}

func FuzzHeader(f *testing.F) {
	addSeeds(f, seedHeaders())
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, max := range []int{MaxMessageLen, MaxExtendedMessageLen} {
			h, err := ParseHeader(b, max)
			if err != nil {
				if _, ok := AsError(err); !ok {
					t.Fatalf("untyped error %v", err)
				}
				continue
			}
			if h.Length < HeaderLen || h.Length > max {
				t.Fatalf("accepted length %d", h.Length)
			}
		}
	})
}

func FuzzOpen(f *testing.F) {
	addSeeds(f, seedOpens())
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := DecodeOpen(b)
		if err != nil {
			return
		}
		msg, err := o.AppendMessage(nil)
		if err != nil {
			return // e.g. more graceful restart families than one capability holds
		}
		o2, err := DecodeOpen(msg[HeaderLen:])
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(o, o2) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", o2, o)
		}
	})
}

func FuzzCapabilities(f *testing.F) {
	addSeeds(f, seedCapabilities())
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Capabilities
		if c.decode(b) != nil {
			return
		}
		enc, err := c.append(nil)
		if err != nil {
			return
		}
		var c2 Capabilities
		if err := c2.decode(enc); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", c2, c)
		}
	})
}

func FuzzNotification(f *testing.F) {
	addSeeds(f, seedNotifications())
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeNotification(b)
		if err != nil {
			return
		}
		n.ShutdownMessage()
		if in, ok := n.Inner(); ok {
			in.ShutdownMessage()
		}
		_ = n.String()
		msg := n.AppendMessage(nil, MaxExtendedMessageLen)
		n2, err := DecodeNotification(msg[HeaderLen:])
		if err != nil || !reflect.DeepEqual(n, n2) {
			t.Fatalf("round trip: %v %v", n2, err)
		}
	})
}

func FuzzRouteRefresh(f *testing.F) {
	addSeeds(f, seedRouteRefreshes())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRouteRefresh(b, nil)
		if err != nil {
			return
		}
		msg := r.AppendMessage(nil)
		r2, err := DecodeRouteRefresh(msg[HeaderLen:], msg)
		if err != nil || r != r2 {
			t.Fatalf("round trip: %v %v", r2, err)
		}
	})
}

func FuzzUpdate(f *testing.F) {
	addSeeds(f, seedUpdates())
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 1 {
			return
		}
		o := optionsFromByte(b[0])
		var u Update
		err := NewDecoder(o).DecodeUpdate(b[1:], &u)
		if err != nil {
			if _, ok := AsError(err); !ok {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		checkUpdateRoundTrip(t, o, &u)
	})
}

// FuzzAttribute puts one fuzzed attribute into an otherwise valid UPDATE,
// so that every attribute's decoding path is explored.
func FuzzAttribute(f *testing.F) {
	addSeeds(f, seedAttributes())
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 3 || len(b) > 3+MaxMessageLen {
			return
		}
		o := optionsFromByte(b[0])
		path := aPath2
		if o.AS4 {
			path = aPath4
		}
		a := attr(b[1], AttrType(b[2]), b[3:])
		var u Update
		err := NewDecoder(o).DecodeUpdate(updateBody(nil, cat(a, aOriginIGP, path, aNextHop), nlri10), &u)
		if err != nil {
			if _, ok := AsError(err); !ok {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		checkUpdateRoundTrip(t, o, &u)
	})
}

// TestWriteSeedCorpus writes the seeds above as the checked-in corpus under
// testdata/fuzz when WIRE_WRITE_CORPUS is set.
func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("WIRE_WRITE_CORPUS") == "" {
		t.Skip("set WIRE_WRITE_CORPUS=1 to rewrite testdata/fuzz seeds")
	}
	for name, seeds := range map[string][][]byte{
		"FuzzHeader": seedHeaders(), "FuzzOpen": seedOpens(), "FuzzCapabilities": seedCapabilities(),
		"FuzzNotification": seedNotifications(), "FuzzRouteRefresh": seedRouteRefreshes(),
		"FuzzUpdate": seedUpdates(), "FuzzAttribute": seedAttributes(),
	} {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
