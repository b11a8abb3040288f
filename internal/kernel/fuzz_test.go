package kernel

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"github.com/routerd/routerd/internal/rib"
	"golang.org/x/sys/unix"
)

// Everything the kernel sends is outside input: these targets feed the
// decoders arbitrary bytes. Their seed corpora under testdata/fuzz/ are real
// kernel messages captured by TestCaptureFuzzSeeds (seeds_test.go).
//
//	go test -run '^$' -fuzz '^FuzzParseRoute$' -fuzztime 20s ./internal/kernel/

// within reports whether sub lies inside b's bytes.
func within(sub, b []byte) bool {
	if len(sub) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	s, e := uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&b[0]))+uintptr(len(b))
	p := uintptr(unsafe.Pointer(&sub[0]))
	return p >= s && p+uintptr(len(sub)) <= e
}

// naiveMessages is the obvious reading of a datagram, the reference the
// parser must agree with.
func naiveMessages(b []byte) (types []uint16, lens []int, bad bool) {
	off := 0
	for len(b)-off >= 16 {
		l := int(uint32(b[off]) | uint32(b[off+1])<<8 | uint32(b[off+2])<<16 | uint32(b[off+3])<<24)
		if isBigEndian {
			l = int(uint32(b[off+3]) | uint32(b[off+2])<<8 | uint32(b[off+1])<<16 | uint32(b[off])<<24)
		}
		if l < 16 || l > len(b)-off {
			return types, lens, true
		}
		types = append(types, ne.Uint16(b[off+4:]))
		lens = append(lens, l-16)
		off += (l + 3) / 4 * 4
	}
	return types, lens, false
}

var isBigEndian = ne.Uint16([]byte{0, 1}) == 1

func FuzzParseMessages(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var types []uint16
		var lens []int
		err := parseMessages(b, func(m message) error {
			if !within(m.Data, b) {
				t.Fatalf("message data outside the datagram")
			}
			types = append(types, m.Type)
			lens = append(lens, len(m.Data))
			return nil
		})
		wt, wl, bad := naiveMessages(b)
		if bad != (err != nil) {
			t.Fatalf("malformed: parser %v, reference %v", err, bad)
		}
		if len(types) != len(wt) {
			t.Fatalf("%d messages, reference %d", len(types), len(wt))
		}
		for i := range types {
			if types[i] != wt[i] || lens[i] != wl[i] {
				t.Fatalf("message %d: type %d len %d, reference %d %d", i, types[i], lens[i], wt[i], wl[i])
			}
		}
		// A callback error stops the walk at once.
		stop := errors.New("stop")
		n := 0
		if err := parseMessages(b, func(message) error { n++; return stop }); len(wt) > 0 && (err != stop || n != 1) {
			t.Fatalf("walk did not stop: %v after %d", err, n)
		}
	})
}

func FuzzDumpReply(f *testing.F) {
	f.Add([]byte{}, uint32(1))
	f.Fuzz(func(t *testing.T, b []byte, seq uint32) {
		got := 0
		done, _, err := dumpReply(b, seq, func(m message) error {
			got++
			if m.Seq != seq {
				t.Fatalf("message of seq %d handed to dump %d", m.Seq, seq)
			}
			switch m.Type {
			case unix.NLMSG_DONE, unix.NLMSG_ERROR, unix.NLMSG_NOOP, unix.NLMSG_OVERRUN:
				t.Fatalf("control message %d handed to the dump callback", m.Type)
			}
			if !within(m.Data, b) {
				t.Fatal("message data outside the datagram")
			}
			return nil
		})
		var oe *OpError
		if err != nil && !errors.Is(err, errMalformed) && !errors.As(err, &oe) && !strings.HasPrefix(err.Error(), "netlink") {
			t.Fatalf("unexpected error %v", err)
		}
		if err != nil && oe != nil && !done {
			t.Fatal("an error message must end the dump")
		}
		// Every data message of the dump up to its end, and nothing after.
		want, end := 0, false
		_ = parseMessages(b, func(m message) error {
			if m.Seq != seq || end {
				return nil
			}
			switch m.Type {
			case unix.NLMSG_DONE, unix.NLMSG_ERROR:
				end = true
			case unix.NLMSG_NOOP, unix.NLMSG_OVERRUN:
			default:
				want++
			}
			return nil
		})
		if err == nil && (got != want || done != end) {
			t.Fatalf("handed %d messages (done %v), want %d (done %v)", got, done, want, end)
		}
	})
}

func FuzzParseError(f *testing.F) {
	f.Add([]byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, b []byte, flags uint16) {
		seq, err := parseError(message{Type: unix.NLMSG_ERROR, Flags: flags, Seq: 7, Data: b})
		if len(b) < nlmsgerrLen {
			if err == nil || seq != 7 {
				t.Fatalf("short error message accepted: %v %d", err, seq)
			}
			return
		}
		if seq != ne.Uint32(b[12:16]) {
			t.Fatalf("seq %d, want the echoed request's %d", seq, ne.Uint32(b[12:16]))
		}
		code := int32(ne.Uint32(b[0:4]))
		if code == 0 {
			if err != nil {
				t.Fatalf("ACK returned %v", err)
			}
			return
		}
		var oe *OpError
		if !errors.As(err, &oe) {
			t.Fatalf("error %v is not an OpError", err)
		}
		if oe.Errno != unix.Errno(-code) {
			t.Fatalf("errno %d, want %d", oe.Errno, -code)
		}
		if strings.IndexByte(oe.Message, 0) >= 0 || len(oe.Message) > len(b) {
			t.Fatalf("bad extended ack message %q", oe.Message)
		}
		_ = oe.Error()
	})
}

func FuzzParseRoute(f *testing.F) {
	f.Add(make([]byte, rtmsgLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := parseRoute(b)
		if !ok {
			return
		}
		p := r.Key.Prefix
		if !p.IsValid() || p != p.Masked() {
			t.Fatalf("prefix %v not valid and masked", p)
		}
		if p.Addr().Is4() != (b[0] == unix.AF_INET) || p.Bits() != int(b[1]) {
			t.Fatalf("prefix %v does not match family %d / length %d", p, b[0], b[1])
		}
		if r.NHID != 0 && len(r.NextHops) > 0 {
			t.Fatalf("inline next hops with object %d", r.NHID)
		}
		for _, nh := range append(r.NextHops, r.Dead...) {
			if nh.Weight == 0 || nh.Gateway.Zone() != "" || (!nh.Gateway.IsValid() && nh.Ifindex == 0) {
				t.Fatalf("bad next hop %+v", nh)
			}
		}
		kind := typeKind(r.Type)
		if kind == 0 {
			return
		}
		// What we parsed, we can send and read back the same.
		var mb msgBuf
		nhs := r.NextHops
		if kind != rib.KindUnicast {
			nhs = nil
		}
		mb.appendRoute(1, r.Key, kind, r.Protocol, r.Priority, r.NHID, nhs)
		var back kroute
		n := 0
		if err := parseMessages(mb.b, func(m message) error {
			n++
			back, ok = parseRoute(m.Data)
			return nil
		}); err != nil || n != 1 || !ok {
			t.Fatalf("re-encoded route does not parse: %v %d %v", err, n, ok)
		}
		if back.Key != r.Key || back.Type != r.Type || back.Protocol != r.Protocol || back.Priority != r.Priority {
			t.Fatalf("round trip: %+v, then %+v", r, back)
		}
		if kind == rib.KindUnicast && (back.NHID != r.NHID || !sameNextHops(back.NextHops, nhs)) {
			t.Fatalf("round trip next hops: %+v %#v, then %+v %#v", r.NHID, nhs, back.NHID, back.NextHops)
		}
	})
}

func FuzzParseLink(f *testing.F) {
	f.Add(make([]byte, ifinfomsgLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, ok := parseLink(b)
		if !ok {
			return
		}
		if l.Index == 0 || strings.IndexByte(l.Name, 0) >= 0 || len(l.HardwareAddr) > len(b) {
			t.Fatalf("bad link %+v", l)
		}
		if l.Up != (l.Flags&unix.IFF_UP != 0 && l.Flags&unix.IFF_LOWER_UP != 0) {
			t.Fatalf("Up %v with flags %#x", l.Up, l.Flags)
		}
		_ = l.OperState.String()
		if len(l.HardwareAddr) > 0 && within(l.HardwareAddr, b) {
			t.Fatal("hardware address aliases the receive buffer")
		}
	})
}

func FuzzParseAddr(f *testing.F) {
	f.Add(make([]byte, ifaddrmsgLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok := parseAddr(b)
		if !ok {
			return
		}
		if !a.Prefix.IsValid() || a.Prefix.Bits() != int(b[1]) || a.Prefix.Addr().Is4() != (b[0] == unix.AF_INET) {
			t.Fatalf("address %v does not match family %d / length %d", a.Prefix, b[0], b[1])
		}
		if a.Prefix.Addr().Zone() != "" {
			t.Fatalf("zone in %v", a.Prefix)
		}
	})
}

func FuzzParseNexthop(f *testing.F) {
	f.Add(make([]byte, nhmsgLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, ok := parseNexthop(b)
		if !ok {
			return
		}
		if o.ID == 0 {
			t.Fatal("object without id accepted")
		}
		for _, m := range o.Group {
			if m.Weight == 0 {
				t.Fatalf("group member %d with weight 0", m.ID)
			}
		}
		// Round trip through the encoder.
		var mb msgBuf
		switch {
		case len(o.Group) > 0:
			mb.appendNexthopGroup(1, 0, o.ID, o.Protocol, o.Group)
		case !o.Blackhole && o.Gateway.IsValid():
			mb.appendNexthop(1, 0, o.ID, o.Protocol, rib.NextHop{Gateway: o.Gateway, Ifindex: o.Ifindex})
		default:
			return
		}
		var back kobject
		_ = parseMessages(mb.b, func(m message) error { back, ok = parseNexthop(m.Data); return nil })
		if len(o.Group) > 0 {
			// A group's own gateway and device mean nothing; the encoder
			// leaves them out.
			o.Gateway, o.Ifindex = netip.Addr{}, 0
		}
		if !ok || back.ID != o.ID || back.Protocol != o.Protocol || back.Gateway != o.Gateway ||
			back.Ifindex != o.Ifindex || len(back.Group) != len(o.Group) {
			t.Fatalf("round trip: %+v, then %+v", o, back)
		}
		for i := range o.Group {
			if back.Group[i] != o.Group[i] {
				t.Fatalf("round trip member %d: %+v, then %+v", i, o.Group[i], back.Group[i])
			}
		}
	})
}

// FuzzProgrammerEvents feeds the programmer's notification decoding.
func FuzzProgrammerEvents(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, e := range progEvents(b, nil) {
			if e.overrun || (e.nhDel == 0) == (e.ifindex == 0) {
				t.Fatalf("bad event %+v", e)
			}
		}
	})
}

// FuzzMonitorHandle feeds two notification datagrams through the monitor's
// state (links, addresses, objects, foreign routes) and checks what it
// offers.
func FuzzMonitorHandle(f *testing.F) {
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, b1, b2 []byte) {
		conn, foreign, links := &fakeSource{}, &fakeSource{}, &fakeLinks{}
		m := &Monitor{
			cfg: MonitorConfig{Protocol: DefaultProtocol}, log: testLogger(), m: new(MonitorMetrics),
			links: make(map[int32]*Link), foreign: make(map[rib.Key][]froute),
			nexthops: make(map[uint32]kobject), connected: make(map[rib.Key]rib.Route),
			sinks: Sinks{Connected: conn, Foreign: foreign, Links: links},
		}
		for _, b := range [][]byte{b1, b2} {
			err := m.handle(bytes.Clone(b))
			if err != nil && !errors.Is(err, errMalformed) {
				t.Fatalf("handle: %v", err)
			}
		}
		check := func(what string, s *fakeSource) {
			for k, r := range s.routes {
				if !k.Prefix.IsValid() || k.Prefix != k.Prefix.Masked() || k.Prefix != r.Prefix || k.Table != r.Table {
					t.Fatalf("%s route %v: %+v", what, k, r)
				}
				if r.Kind == rib.KindUnicast && len(r.NextHops) == 0 {
					t.Fatalf("%s unicast route %v without next hops", what, k)
				}
			}
		}
		check("connected", conn)
		check("foreign", foreign)
		for k, fs := range m.foreign {
			if len(fs) == 0 {
				t.Fatalf("empty foreign entry %v", k)
			}
		}
	})
}
