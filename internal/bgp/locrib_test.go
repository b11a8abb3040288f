package bgp

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"unique"
	"unsafe"

	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/config"
	"github.com/routerd/routerd/internal/rib"
)

// testSpeaker is a speaker with two eBGP neighbour slots (2 and 3) on a
// connected subnet, not started: the Loc-RIB and the RIB only.
func testSpeaker(t testing.TB) (*Speaker, *rib.RIB) {
	t.Helper()
	r := rib.New()
	r.SetLinkUp(1, true)
	c := r.NewSource(rib.OriginConnected, "c")
	if err := c.Apply([]rib.Route{{Table: rib.TableMain, Prefix: netip.MustParsePrefix("10.9.0.0/24"), NextHops: []rib.NextHop{{Ifindex: 1}}}}, nil); err != nil {
		t.Fatal(err)
	}
	cfg := &config.BGP{AS: 65001, RouterID: netip.MustParseAddr("10.9.0.1"), Table: config.TableMain}
	s := New(cfg, &config.Policy{}, Options{RIB: r, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Distances: config.DefaultDistances})
	s.slots = append(s.slots,
		slotInfo{used: true, ebgp: true, addr: netip.MustParseAddr("10.9.0.2"), routerID: 2},
		slotInfo{used: true, ebgp: true, addr: netip.MustParseAddr("10.9.0.3"), routerID: 3})
	return s, r
}

func nhAttrs(nh string, path ...uint32) unique.Handle[wire.Attrs] {
	a := wire.Attrs{Origin: wire.OriginIGP, NextHop: netip.MustParseAddr(nh),
		ASPath: wire.MakeASPath(wire.ASSegment{Type: wire.ASSequence, ASNs: path})}
	a.Present = a.Present.With(wire.AttrOrigin).With(wire.AttrASPath)
	return unique.Make(a)
}

// TestBestPathChanges checks that every change of the best path reaches
// the RIB and the change log: new attributes on the best path, and the
// withdrawal of the best path of a prefix that has another.
func TestBestPathChanges(t *testing.T) {
	s, r := testSpeaker(t)
	p := wire.MustParsePrefix("192.0.2.0/24")
	gw := func() netip.Addr {
		t.Helper()
		e, ok := r.Lookup(rib.TableMain, netip.MustParseAddr("192.0.2.1"))
		if !ok || e.Best.Origin != rib.OriginEBGP {
			return netip.Addr{}
		}
		c, _ := e.Selected()
		return c.Route.NextHops[0].Gateway
	}
	step := func(name string, f func(b *batch), wantGW string, wantLog int) {
		t.Helper()
		s.mu.Lock()
		n := s.bestChanges
		b := &batch{}
		f(b)
		s.flush(b)
		got := int(s.bestChanges - n)
		s.mu.Unlock()
		want := netip.Addr{}
		if wantGW != "" {
			want = netip.MustParseAddr(wantGW)
		}
		if g := gw(); g != want {
			t.Errorf("%s: RIB gateway %v, want %v", name, g, want)
		}
		if got != wantLog {
			t.Errorf("%s: %d change log entries, want %d", name, got, wantLog)
		}
	}
	step("first path", func(b *batch) { s.setPath(p, 2, nhAttrs("10.9.0.2", 65002), b) }, "10.9.0.2", 1)
	step("same again", func(b *batch) { s.setPath(p, 2, nhAttrs("10.9.0.2", 65002), b) }, "10.9.0.2", 0)
	step("new attributes on the best path", func(b *batch) { s.setPath(p, 2, nhAttrs("10.9.0.5", 65002), b) }, "10.9.0.5", 1)
	step("longer second path", func(b *batch) { s.setPath(p, 3, nhAttrs("10.9.0.3", 65003, 1, 2), b) }, "10.9.0.5", 0)
	step("best withdrawn", func(b *batch) { s.removePath(p, 2, b) }, "10.9.0.3", 1)
	step("shorter path back", func(b *batch) { s.setPath(p, 2, nhAttrs("10.9.0.2", 65002), b) }, "10.9.0.2", 1)
	step("best neighbour down", func(b *batch) { s.dropSlot(2, 0) }, "10.9.0.3", 1)
	step("last path withdrawn", func(b *batch) { s.removePath(p, 3, b) }, "", 1)
}

// TestLocRIBView checks the operator's view of the Loc-RIB: every prefix
// of both families in order, paths best first, and the deciding step.
func TestLocRIBView(t *testing.T) {
	s, _ := testSpeaker(t)
	b := &batch{}
	s.mu.Lock()
	s.setPath(wire.MustParsePrefix("192.0.2.0/24"), 2, nhAttrs("10.9.0.2", 65002, 1, 2), b)
	s.setPath(wire.MustParsePrefix("192.0.2.0/24"), 3, nhAttrs("10.9.0.3", 65003), b)
	s.setPath(wire.MustParsePrefix("10.1.0.0/16"), 2, nhAttrs("10.9.0.2", 65002), b)
	s.setPath(wire.MustParsePrefix("2001:db8:1::/48"), 3, nhAttrs("10.9.0.3", 65003), b)
	s.flush(b)
	s.mu.Unlock()
	var got []RouteView
	s.LocRIB(netip.Prefix{}, func(v RouteView) bool { got = append(got, v); return true })
	want := []string{"10.1.0.0/16", "192.0.2.0/24", "2001:db8:1::/48"}
	if len(got) != len(want) {
		t.Fatalf("LocRIB has %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, v := range got {
		if v.Prefix.String() != want[i] {
			t.Errorf("entry %d is %s, want %s", i, v.Prefix, want[i])
		}
	}
	v := got[1]
	if len(v.Paths) != 2 || !v.Paths[0].Best || v.Paths[0].From != netip.MustParseAddr("10.9.0.3") || v.Reason != ReasonASPath {
		t.Errorf("192.0.2.0/24: %+v", v)
	}
	got = got[:0]
	s.LocRIB(netip.MustParsePrefix("2001:db8::/32"), func(v RouteView) bool { got = append(got, v); return true })
	if len(got) != 1 || got[0].Prefix.String() != "2001:db8:1::/48" {
		t.Errorf("LocRIB within 2001:db8::/32: %+v", got)
	}
}

// TestMultipath checks the next hops offered with multipath 2: equal
// paths from one neighbouring AS give two, a path from another AS or a
// longer one gives one, and a third equal path does not exceed the limit.
func TestMultipath(t *testing.T) {
	s, r := testSpeaker(t)
	s.cfg.Multipath = 2
	s.slots = append(s.slots, slotInfo{used: true, ebgp: true, addr: netip.MustParseAddr("10.9.0.4"), routerID: 4})
	p := wire.MustParsePrefix("192.0.2.0/24")
	hops := func() string {
		var out []string
		for _, h := range ribHops(r, "192.0.2.0/24") {
			out = append(out, h.Gateway.String())
		}
		return strings.Join(out, ",")
	}
	step := func(name string, f func(b *batch), want string) {
		t.Helper()
		s.mu.Lock()
		b := &batch{}
		f(b)
		s.flush(b)
		s.mu.Unlock()
		if got := hops(); got != want {
			t.Errorf("%s: next hops %q, want %q", name, got, want)
		}
	}
	step("one path", func(b *batch) { s.setPath(p, 2, nhAttrs("10.9.0.2", 65002), b) }, "10.9.0.2")
	step("other AS", func(b *batch) { s.setPath(p, 3, nhAttrs("10.9.0.3", 65003), b) }, "10.9.0.2")
	step("same AS", func(b *batch) { s.setPath(p, 3, nhAttrs("10.9.0.3", 65002), b) }, "10.9.0.2,10.9.0.3")
	step("third equal, limit 2", func(b *batch) { s.setPath(p, 4, nhAttrs("10.9.0.4", 65002), b) }, "10.9.0.2,10.9.0.3")
	step("longer path", func(b *batch) { s.setPath(p, 3, nhAttrs("10.9.0.3", 65002, 1), b) }, "10.9.0.2,10.9.0.4")
	step("best withdrawn", func(b *batch) { s.removePath(p, 2, b) }, "10.9.0.4")
	step("best back", func(b *batch) { s.setPath(p, 2, nhAttrs("10.9.0.2", 65002), b) }, "10.9.0.2,10.9.0.4")
	step("multipath off", func(b *batch) {
		s.cfg.Multipath = 1
		s.redecideAll()
	}, "10.9.0.2")
}

// TestLocRIBChurn applies random announcements, withdrawals, sessions
// going down (gracefully or not) and stale sweeps over a few prefixes,
// neighbours and attribute sets, checking after each step the kept
// counters, attribute references and index IDs against a walk of the
// Loc-RIB and the RIB's routes against the Loc-RIB, and at the end that
// nothing is left once every path is gone, in the index either.
func TestLocRIBChurn(t *testing.T) {
	s, _ := testSpeaker(t)
	s.slots = append(s.slots, slotInfo{used: true, ebgp: true, addr: netip.MustParseAddr("10.9.0.4"), routerID: 4})
	r := rand.New(rand.NewPCG(3, 4))
	var prefixes []wire.Prefix
	for i := range 40 {
		prefixes = append(prefixes, wire.MustParsePrefix(fmt.Sprintf("198.51.%d.0/24", i)),
			wire.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", i)))
	}
	// Next hops of each prefix's family (the RIB refuses an IPv4 gateway
	// for an IPv6 prefix, and with it the whole batch).
	var sets, sets6 []unique.Handle[wire.Attrs]
	for i := range 6 {
		sets = append(sets, nhAttrs(fmt.Sprintf("10.9.0.%d", 2+i%3), 65002, uint32(i)))
		sets6 = append(sets6, nhAttrs(fmt.Sprintf("2001:db8:9::%d", 2+i%3), 65002, uint32(i)))
	}
	conn := s.rib.NewSource(rib.OriginConnected, "c6")
	if err := conn.Apply([]rib.Route{{Table: rib.TableMain, Prefix: netip.MustParsePrefix("2001:db8:9::/64"), NextHops: []rib.NextHop{{Ifindex: 1}}}}, nil); err != nil {
		t.Fatal(err)
	}
	for step := range 3000 {
		s.mu.Lock()
		b := &batch{}
		slot := uint16(2 + r.IntN(3))
		switch k := r.IntN(20); {
		case k < 11:
			p := prefixes[r.IntN(len(prefixes))]
			set := sets[r.IntN(len(sets))]
			if p.Is6() {
				set = sets6[r.IntN(len(sets6))]
			}
			s.setPath(p, slot, set, b)
		case k < 18:
			s.removePath(prefixes[r.IntN(len(prefixes))], slot, b)
		case k == 18:
			s.dropSlot(slot, wire.Families(r.IntN(4)))
		default:
			s.sweepStale(slot, wire.Families(3))
		}
		s.flush(b)
		// The RIB has a prefix's route exactly when the Loc-RIB says so.
		for _, p := range prefixes {
			d, ok := s.get(p)
			_, inRIB := s.rib.Get(rib.Key{Table: rib.TableMain, Prefix: p.Netip()})
			if want := ok && d.flags&destBestInRIB != 0; inRIB != want {
				t.Errorf("%s: in the RIB %v, the Loc-RIB says %v", p, inRIB, want)
			}
		}
		s.mu.Unlock()
		if step%500 == 499 {
			s.Compact()
		}
		checkSpeakerCounts(t, s)
		if t.Failed() {
			t.Fatalf("after step %d", step)
		}
	}
	s.mu.Lock()
	for slot := uint16(2); slot < 5; slot++ {
		s.dropSlot(slot, 0)
	}
	n, nsets, lists := s.locLen(), s.attrs.len(), len(s.more.lists)-len(s.more.free)
	s.mu.Unlock()
	if n != 0 || nsets != 0 || lists != 0 {
		t.Errorf("with every path gone: %d prefixes, %d attribute sets, %d path lists left", n, nsets, lists)
	}
	// The releases of the last deletes go with the next batch; then the
	// index holds only the RIB's connected routes.
	s.mu.Lock()
	s.flush(&batch{})
	s.mu.Unlock()
	if n := s.rib.Index().Len(rib.TableMain); n != 2 {
		t.Errorf("with every path gone: %d keys left in the index, want the 2 connected routes'", n)
	}
}

// TestWithdrawAndOfferInOneBatch checks that a prefix withdrawn and
// announced again before its batch reaches the RIB ends in the RIB (the
// RIB applies a batch's offers before its withdrawals), and that one
// announced and then withdrawn ends out of it.
func TestWithdrawAndOfferInOneBatch(t *testing.T) {
	s, r := testSpeaker(t)
	p := wire.MustParsePrefix("192.0.2.0/24")
	q := wire.MustParsePrefix("198.51.100.0/24")
	inRIB := func(pfx wire.Prefix) bool {
		_, ok := r.Get(rib.Key{Table: rib.TableMain, Prefix: pfx.Netip()})
		return ok
	}
	s.mu.Lock()
	b := &batch{}
	s.setPath(p, 2, nhAttrs("10.9.0.2", 65002), b)
	s.flush(b)
	s.removePath(p, 2, b)
	s.setPath(p, 2, nhAttrs("10.9.0.2", 65002, 7), b)
	s.setPath(q, 2, nhAttrs("10.9.0.2", 65002), b)
	s.removePath(q, 2, b)
	s.flush(b)
	s.mu.Unlock()
	if !inRIB(p) {
		t.Error("withdrawn and announced again in one batch: not in the RIB")
	}
	if inRIB(q) {
		t.Error("announced and withdrawn in one batch: still in the RIB")
	}
}

// TestDestSize keeps the Loc-RIB's per-prefix state at 24 bytes (20 of
// paths and flags, 4 of the index ID the RIB gets with the route): a full
// table has a million of them.
func TestDestSize(t *testing.T) {
	if n := unsafe.Sizeof(dest{}); n != 24 {
		t.Errorf("dest is %d bytes, want 24", n)
	}
}

// TestIndexIDsThroughQueue flaps a few prefixes through the RIB queue, as
// a session's reader does (batches handed over while the applier runs),
// so that dests are deleted and made again, and their IDs released and
// taken, while routes naming those IDs wait in the queue. The RIB must end
// with exactly the Loc-RIB's best routes, each under its prefix's ID, and
// the index with no key once everything is withdrawn.
func TestIndexIDsThroughQueue(t *testing.T) {
	s, r := testSpeaker(t)
	sub, err := r.Subscribe("ids")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	s.startRIBQueue()
	rnd := rand.New(rand.NewPCG(5, 6))
	var prefixes []wire.Prefix
	for i := range 8 {
		prefixes = append(prefixes, wire.MustParsePrefix(fmt.Sprintf("203.0.113.%d/32", i)))
	}
	set := nhAttrs("10.9.0.2", 65002)
	b := &batch{}
	for range 20000 {
		s.mu.Lock()
		p := prefixes[rnd.IntN(len(prefixes))]
		if rnd.IntN(2) == 0 {
			s.setPath(p, 2, set, b)
		} else {
			s.removePath(p, 2, b)
		}
		if rnd.IntN(8) == 0 {
			b = s.flushAsync(b) // unlocks s.mu
		} else {
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	s.flush(b)
	s.mu.Unlock()
	ids := map[netip.Prefix]uint32{}
	for u := sub.Next(1 << 20); !u.Empty(); u = sub.Next(1 << 20) {
		for _, rc := range u.Routes {
			if rc.Best.Valid() {
				ids[rc.Key.Prefix] = rc.ID
			} else {
				delete(ids, rc.Key.Prefix)
			}
		}
	}
	s.mu.Lock()
	for _, p := range prefixes {
		d, ok := s.get(p)
		id, inRIB := ids[p.Netip()]
		if want := ok && d.flags&destBestInRIB != 0; inRIB != want {
			t.Errorf("%s: in the RIB %v, the Loc-RIB says %v", p, inRIB, want)
		} else if inRIB && id != d.id {
			t.Errorf("%s: the RIB has it under ID %d, the Loc-RIB under %d", p, id, d.id)
		}
		s.removePath(p, 2, b)
	}
	s.flush(b)
	s.mu.Unlock()
	s.stopRIBQueue()
	s.wg.Wait()
	for u := sub.Next(1 << 20); !u.Empty(); u = sub.Next(1 << 20) {
	}
	if n := r.Index().Len(rib.TableMain); n != 1 {
		t.Errorf("everything withdrawn: %d keys in the index, want the connected route's", n)
	}
}
