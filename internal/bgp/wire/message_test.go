package wire

import (
	"bytes"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func wantErr(t *testing.T, err error, code, sub uint8, action Action) *Error {
	t.Helper()
	e, ok := AsError(err)
	if !ok {
		t.Fatalf("error %v, want *Error %d/%d", err, code, sub)
	}
	if e.Code != code || e.Subcode != sub || e.Action != action {
		t.Fatalf("error %v, want %d/%d %s", e, code, sub, action)
	}
	return e
}

func TestParseHeader(t *testing.T) {
	marker := strings.Repeat("ff", 16)
	tests := []struct {
		name     string
		msg      string
		max      int
		code     uint8
		sub      uint8
		data     []byte
		wantType MessageType
	}{
		{name: "keepalive", msg: marker + "0013 04", wantType: TypeKeepalive},
		{name: "bad marker", msg: strings.Repeat("ff", 15) + "fe 0013 04", code: 1, sub: 1},
		{name: "keepalive too long", msg: marker + "0014 04 00", code: 1, sub: 2, data: []byte{0, 0x14}},
		{name: "update too short", msg: marker + "0016 02", code: 1, sub: 2, data: []byte{0, 0x16}},
		{name: "length over 4096", msg: marker + "1001 02", code: 1, sub: 2, data: []byte{0x10, 0x01}},
		{name: "extended message update", msg: marker + "1001 02", max: MaxExtendedMessageLen, wantType: TypeUpdate},
		{name: "extended message open stays 4096", msg: marker + "1001 01", max: MaxExtendedMessageLen, code: 1, sub: 2, data: []byte{0x10, 0x01}},
		{name: "unknown type", msg: marker + "0013 07", code: 1, sub: 3, data: []byte{7}},
		{name: "type zero", msg: marker + "0013 00", code: 1, sub: 3, data: []byte{0}},
		{name: "truncated", msg: marker, code: 1, sub: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHeader(hexb(tt.msg), tt.max)
			if tt.code == 0 {
				if err != nil || h.Type != tt.wantType {
					t.Fatalf("got %v %v", h, err)
				}
				return
			}
			e := wantErr(t, err, tt.code, tt.sub, SessionReset)
			if !bytes.Equal(e.Data, tt.data) {
				t.Errorf("data %x, want %x", e.Data, tt.data)
			}
		})
	}
}

func TestReadMessage(t *testing.T) {
	stream := AppendKeepalive(nil)
	stream = RouteRefresh{Family: IPv6Unicast}.AppendMessage(stream)
	r := bytes.NewReader(stream)
	buf := make([]byte, MaxMessageLen)
	h, body, err := ReadMessage(r, buf, MaxMessageLen)
	if err != nil || h.Type != TypeKeepalive || len(body) != 0 {
		t.Fatalf("%v %v %v", h, body, err)
	}
	h, body, err = ReadMessage(r, buf, MaxMessageLen)
	if err != nil || h.Type != TypeRouteRefresh {
		t.Fatalf("%v %v", h, err)
	}
	if rr, err := DecodeRouteRefresh(body, nil); err != nil || rr.Family != IPv6Unicast {
		t.Fatalf("%v %v", rr, err)
	}
}

func fullOpen() *Open {
	o := NewOpen(4200000001, 90, netip.MustParseAddr("192.0.2.1"))
	o.Caps.Multiprotocol = []Family{IPv4Unicast, IPv6Unicast}
	o.Caps.RouteRefresh = true
	o.Caps.EnhancedRouteRefresh = true
	o.Caps.ExtendedMessage = true
	o.Caps.GracefulRestart = &GracefulRestart{Restarting: true, Notification: true, RestartTime: 120,
		Families: []GracefulRestartFamily{{IPv4Unicast, true}, {IPv6Unicast, false}}}
	o.Caps.ExtendedNextHop = []ExtendedNextHop{{IPv4Unicast, AFIIPv6}}
	o.Caps.Unknown = []RawCapability{{Code: 73, Value: []byte("\x04host\x00")}}
	return o
}

func decodeOpenMsg(t *testing.T, msg []byte) (*Open, error) {
	t.Helper()
	h, err := ParseHeader(msg, MaxMessageLen)
	if err != nil {
		t.Fatal(err)
	}
	if h.Type != TypeOpen || h.Length != len(msg) {
		t.Fatalf("header %+v for %d bytes", h, len(msg))
	}
	return DecodeOpen(msg[HeaderLen:])
}

func TestOpenRoundTrip(t *testing.T) {
	for _, n := range []int{0, 100} {
		o := fullOpen()
		for i := 0; i < n; i++ { // push past 255 bytes: RFC 9072 format
			o.Caps.Unknown = append(o.Caps.Unknown, RawCapability{Code: 200, Value: []byte{byte(i), 1}})
		}
		msg, err := o.AppendMessage(nil)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 && msg[HeaderLen+9] != 255 {
			t.Errorf("no extended optional parameters for %d bytes", len(msg))
		}
		got, err := decodeOpenMsg(t, msg)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, o) {
			t.Errorf("got %+v\nwant %+v", got, o)
		}
		if got.PeerAS() != 4200000001 || got.MyAS != ASTrans {
			t.Errorf("AS %d/%d", got.PeerAS(), got.MyAS)
		}
	}
}

// TestOpenVector decodes an OPEN written byte by byte from RFC 4271 §4.2,
// RFC 5492, RFC 4760, RFC 2918 and RFC 6793.
func TestOpenVector(t *testing.T) {
	body := hexb(`04 fde9 00b4 c0000202  16
		02 14  01 04 0001 00 01  01 04 0002 00 01  02 00  41 04 0000fde9`)
	o, err := DecodeOpen(body)
	if err != nil {
		t.Fatal(err)
	}
	want := &Open{Version: 4, MyAS: 65001, HoldTime: 180, ID: netip.MustParseAddr("192.0.2.2"),
		Caps: Capabilities{Multiprotocol: []Family{IPv4Unicast, IPv6Unicast}, RouteRefresh: true, HasAS4: true, AS4: 65001}}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v, want %+v", o, want)
	}
	if err := CheckPeerAS(o, 65001); err != nil {
		t.Error(err)
	}
	e := wantErr(t, CheckPeerAS(o, 65002), CodeOpen, SubBadPeerAS, SessionReset)
	if !bytes.Equal(e.Data, []byte{0xfd, 0xe9}) {
		t.Errorf("data %x", e.Data)
	}
	local := Capabilities{Multiprotocol: []Family{IPv6Unicast}, HasAS4: true, AS4: 1}
	if got := Negotiate(&local, &o.Caps, true); got != (Options{AS4: true, EBGP: true, Families: FamIPv6Unicast}) {
		t.Errorf("negotiated %+v", got)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		sub  uint8
		data []byte
	}{
		{"unsupported version", "03 fde9 00b4 c0000202 00", SubUnsupportedVersion, []byte{0, 4}},
		{"AS 0", "04 0000 00b4 c0000202 00", SubBadPeerAS, nil},
		{"AS4 capability 0 (RFC 7607)", "04 5ba0 00b4 c0000202 08 02 06 41 04 00000000", SubBadPeerAS, nil},
		{"identifier 0", "04 fde9 00b4 00000000 00", SubBadBGPIdentifier, nil},
		{"hold time 1", "04 fde9 0001 c0000202 00", SubUnacceptableHoldTime, nil},
		{"hold time 2", "04 fde9 0002 c0000202 00", SubUnacceptableHoldTime, nil},
		{"unsupported optional parameter", "04 fde9 00b4 c0000202 04 01 02 0000", SubUnsupportedOptParam, nil},
		{"parameters overrun", "04 fde9 00b4 c0000202 05 02 02 0200", 0, nil},
		{"capability overruns", "04 fde9 00b4 c0000202 04 02 02 4104", 0, nil},
		{"bad multiprotocol length", "04 fde9 00b4 c0000202 05 02 03 0101 00", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeOpen(hexb(tt.body))
			e := wantErr(t, err, CodeOpen, tt.sub, SessionReset)
			if !bytes.Equal(e.Data, tt.data) {
				t.Errorf("data %x, want %x", e.Data, tt.data)
			}
		})
	}
	t.Run("hold time 0 and 3 accepted", func(t *testing.T) {
		for _, b := range []string{"04 fde9 0000 c0000202 00", "04 fde9 0003 c0000202 00"} {
			if _, err := DecodeOpen(hexb(b)); err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("RFC 9072 extended parameters", func(t *testing.T) {
		o, err := DecodeOpen(hexb("04 fde9 00b4 c0000202 ff ff 0005 02 0002 0200"))
		if err != nil || !o.Caps.RouteRefresh {
			t.Fatal(o, err)
		}
	})
}

func TestNotification(t *testing.T) {
	n := Notification{Code: CodeUpdate, Subcode: SubMalformedASPath, Data: []byte{1, 2}}
	msg := n.AppendMessage(nil, 0)
	if !bytes.Equal(msg[HeaderLen-3:], hexb("0017 03 03 0b 0102")) {
		t.Fatalf("%x", msg)
	}
	got, err := DecodeNotification(msg[HeaderLen:])
	if err != nil || !reflect.DeepEqual(got, n) {
		t.Fatal(got, err)
	}
	if _, err := DecodeNotification([]byte{6}); err == nil {
		t.Error("1-byte NOTIFICATION accepted")
	}
	big := Notification{Code: 6, Data: make([]byte, 5000)}
	if l := len(big.AppendMessage(nil, MaxMessageLen)); l != MaxMessageLen {
		t.Errorf("truncated to %d", l)
	}
}

func TestHardReset(t *testing.T) {
	inner := NewShutdown(SubAdminReset, "rebooting")
	h := HardReset(inner)
	msg := h.AppendMessage(nil, 0)
	// Cease / Hard Reset, then the inner Cease / Administrative Reset
	// with its shutdown communication (RFC 8538 §3, RFC 9003).
	if !bytes.Equal(msg[HeaderLen:HeaderLen+5], hexb("06 09 06 04 09")) {
		t.Fatalf("%x", msg)
	}
	got, err := DecodeNotification(msg[HeaderLen:])
	if err != nil || !got.IsHardReset() {
		t.Fatal(got, err)
	}
	in, ok := got.Inner()
	if !ok || in.Code != CodeCease || in.Subcode != SubAdminReset {
		t.Fatalf("inner %v %v", in, ok)
	}
	if m, ok := in.ShutdownMessage(); !ok || m != "rebooting" {
		t.Errorf("inner communication %q %v", m, ok)
	}
	if s := got.String(); !strings.Contains(s, "hard reset") || !strings.Contains(s, `"rebooting"`) {
		t.Errorf("String: %s", s)
	}
	if _, ok := (Notification{Code: CodeCease, Subcode: SubHardReset, Data: []byte{6}}).Inner(); ok {
		t.Error("a hard reset with 1 byte of data has an inner notification")
	}
	if _, ok := inner.Inner(); ok {
		t.Error("an administrative reset has an inner notification")
	}
}

func TestShutdownCommunication(t *testing.T) {
	n := NewShutdown(SubAdminShutdown, "maintenance until 14:00, ticket 42")
	if !bytes.Equal(n.Data[:1], []byte{34}) {
		t.Errorf("length byte %d", n.Data[0])
	}
	msg, ok := n.ShutdownMessage()
	if !ok || msg != "maintenance until 14:00, ticket 42" {
		t.Errorf("%q %v", msg, ok)
	}
	long := NewShutdown(SubAdminReset, strings.Repeat("é", 200)) // 400 bytes
	if m, ok := long.ShutdownMessage(); !ok || len(m) != 254 {
		t.Errorf("truncated to %d bytes, ok %v", len(m), ok)
	}
	for name, d := range map[string][]byte{
		"overrun":      {10, 'a'},
		"invalid utf8": {2, 0xff, 0xfe},
		"empty data":   nil,
	} {
		if _, ok := (Notification{Code: CodeCease, Subcode: SubAdminShutdown, Data: d}).ShutdownMessage(); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, ok := (Notification{Code: CodeCease, Subcode: SubAdminShutdown, Data: []byte{0}}).ShutdownMessage(); !ok {
		t.Error("empty communication rejected")
	}
	if _, ok := (Notification{Code: CodeCease, Subcode: SubMaxPrefixes, Data: []byte{1, 'a'}}).ShutdownMessage(); ok {
		t.Error("communication on subcode 1")
	}
}

func TestRouteRefresh(t *testing.T) {
	for _, rr := range []RouteRefresh{{IPv4Unicast, RefreshNormal}, {IPv6Unicast, RefreshBoRR}, {IPv6Unicast, RefreshEoRR}} {
		msg := rr.AppendMessage(nil)
		if len(msg) != 23 {
			t.Fatalf("length %d", len(msg))
		}
		got, err := DecodeRouteRefresh(msg[HeaderLen:], msg)
		if err != nil || got != rr || !got.Known() {
			t.Errorf("%v %v", got, err)
		}
	}
	if rr, _ := DecodeRouteRefresh(hexb("0001 07 01"), nil); rr.Known() {
		t.Error("subtype 7 known")
	}
	msg := hexb(strings.Repeat("ff", 16) + "0018 05 0001 00 01 00")
	_, err := DecodeRouteRefresh(msg[HeaderLen:], msg)
	e := wantErr(t, err, CodeRouteRefresh, SubInvalidRouteRefreshLength, SessionReset)
	if !bytes.Equal(e.Data, msg) {
		t.Errorf("data %x", e.Data)
	}
}
