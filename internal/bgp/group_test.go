package bgp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
	"unique"

	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/config"
)

// fakeSession adds an eBGP neighbour with an established session that
// has no connection: tests call next for what its writer would write.
// Called with s.mu held.
func fakeSession(s *Speaker, addr string, as uint32, export string) *session {
	p := newPeer(s, config.Neighbor{Address: netip.MustParseAddr(addr), AS: as, Import: config.PolicyAcceptAll, Export: export})
	p.slot = s.allocSlot(p)
	s.slots[p.slot].ebgp = p.ebgp()
	p.setPolicies(s)
	s.peers[p.cfg.Address] = p
	return establishFake(p)
}

// establishFake gives p a new established session (no connection).
// Called with s.mu held.
func establishFake(p *Peer) *session {
	s := p.s
	ss := &session{p: p, opts: wire.Options{AS4: true, EBGP: true, Families: wire.FamIPv4Unicast | wire.FamIPv6Unicast},
		ebgp: true, self4: netip.MustParseAddr("10.9.0.1"), self6: netip.MustParseAddr("2001:db8:9::1"),
		kickc: make(chan struct{}, 1), closed: make(chan struct{})}
	s.slots[p.slot].routerID = addr4(p.cfg.Address)
	p.sess = ss
	ss.newEvaluators()
	ss.established = true
	s.joinGroup(ss)
	ss.resync()
	return ss
}

// downFake ends a fake session as sessionDown does.
func downFake(ss *session) {
	s := ss.p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.established = false
	s.leaveGroup(ss)
	ss.p.sess = nil
	ss.p.sessionLost(0, 0)
}

// drain returns what the session's writer would write until no work is
// left for it, at most max rounds (0: all).
func drain(t testing.TB, ss *session, max int) []byte {
	t.Helper()
	var out []byte
	for i := 0; max == 0 || i < max; i++ {
		bufs, _, more, ok := ss.next(nil)
		if !ok {
			t.Fatal("session not established")
		}
		for _, b := range bufs {
			out = append(out, b...)
		}
		if !more {
			break
		}
	}
	return out
}

// adjOut is a neighbour's view of what it was sent: routes and
// End-of-RIB markers.
type adjOut struct {
	routes map[wire.Prefix]unique.Handle[wire.Attrs]
	eor    int
}

func (a *adjOut) apply(t *testing.T, b []byte, opts wire.Options) {
	t.Helper()
	if a.routes == nil {
		a.routes = map[wire.Prefix]unique.Handle[wire.Attrs]{}
	}
	dec := wire.NewDecoder(opts)
	r := bytes.NewReader(b)
	buf := make([]byte, wire.MaxMessageLen)
	var u wire.Update
	for r.Len() > 0 {
		h, body, err := wire.ReadMessage(r, buf, wire.MaxMessageLen)
		if err != nil {
			t.Fatal(err)
		}
		if h.Type != wire.TypeUpdate {
			continue
		}
		if err := dec.DecodeUpdate(body, &u); err != nil {
			t.Fatal(err)
		}
		if u.EndOfRIB != (wire.Family{}) {
			a.eor++
		}
		for _, p := range u.Withdrawn {
			delete(a.routes, p)
		}
		for _, p := range u.NLRI {
			a.routes[p] = u.Attrs
		}
		for _, p := range u.MPNLRI {
			a.routes[p] = u.MPAttrs
		}
	}
}

// check compares what ss's neighbour holds with the Loc-RIB's export to
// it.
func (a *adjOut) check(t *testing.T, name string, ss *session) {
	t.Helper()
	s := ss.p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[wire.Prefix]unique.Handle[wire.Attrs]{}
	for p, d := range s.all() {
		if h, ok := ss.exportRoute(p, d); ok {
			want[p] = h
		}
	}
	bad := 0
	for p, h := range want {
		got, ok := a.routes[p]
		switch {
		case !ok:
			if bad++; bad < 5 {
				t.Errorf("%s: %s not advertised, want %v", name, p, h.Value())
			}
		case got != h:
			if bad++; bad < 5 {
				t.Errorf("%s: %s: got %v, want %v", name, p, got.Value(), h.Value())
			}
		}
	}
	for p := range a.routes {
		if _, ok := want[p]; !ok {
			if bad++; bad < 5 {
				t.Errorf("%s: %s advertised, not in the export", name, p)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d differences (%d routes held, %d exported)", name, bad, len(a.routes), len(want))
	}
}

func testPrefix(i int) wire.Prefix {
	if i%5 == 4 {
		var a [16]byte
		a[0], a[1] = 0x20, 0x01
		binary.BigEndian.PutUint32(a[4:], uint32(i))
		return wire.PrefixFrom(netip.PrefixFrom(netip.AddrFrom16(a), 48))
	}
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], uint32(i)<<8|1<<30)
	return wire.PrefixFrom(netip.PrefixFrom(netip.AddrFrom4(a), 24))
}

// changeRoutes applies n random changes from slot 2 (and some from
// other, listed slots) in batches of 100.
func changeRoutes(s *Speaker, rng *rand.Rand, n, space int, slots []uint16, sets []unique.Handle[wire.Attrs]) {
	b := &batch{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range n {
		p := testPrefix(rng.IntN(space))
		slot := uint16(2)
		if len(slots) > 0 && rng.IntN(4) == 0 {
			slot = slots[rng.IntN(len(slots))]
		}
		if rng.IntN(5) == 0 {
			s.removePath(p, slot, b)
		} else {
			s.setPath(p, slot, sets[rng.IntN(len(sets))], b)
		}
		if i%100 == 99 {
			s.flush(b)
		}
	}
	s.flush(b)
}

func attrSets(n int) []unique.Handle[wire.Attrs] {
	out := make([]unique.Handle[wire.Attrs], n)
	for i := range out {
		a := wire.Attrs{Origin: wire.OriginIGP, NextHop: netip.MustParseAddr("10.9.0.2"),
			ASPath: wire.MakeASPath(wire.ASSegment{Type: wire.ASSequence, ASNs: []uint32{65002, uint32(100 + i%7), 3356}})}
		a.Present = a.Present.With(wire.AttrOrigin).With(wire.AttrASPath)
		if i%3 == 0 {
			a.MED = uint32(i)
			a.Present = a.Present.With(wire.AttrMED)
		}
		out[i] = unique.Make(a)
	}
	return out
}

// TestUpdateGroupSharedBytes checks that two neighbours with the same
// export policy share a group and receive the same bytes, read at
// different paces, and that a neighbour with another policy has its own
// group; every neighbour ends up with exactly the export of the Loc-RIB.
func TestUpdateGroupSharedBytes(t *testing.T) {
	s, _ := testSpeaker(t)
	s.pol = &config.Policy{Policies: map[string][]config.PolicyTerm{
		"med": {{Set: config.PolicySet{MED: new(uint32(7))}, Action: config.ActionAccept}},
	}}
	s.mu.Lock()
	a := fakeSession(s, "10.9.0.11", 65011, config.PolicyAcceptAll)
	b := fakeSession(s, "10.9.0.12", 65012, config.PolicyAcceptAll)
	c := fakeSession(s, "10.9.0.13", 65013, "med")
	s.mu.Unlock()
	if a.g != b.g || a.g == c.g || len(s.groups) != 2 {
		t.Fatalf("groups: a %p b %p c %p, %d groups", a.g, b.g, c.g, len(s.groups))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	sets := attrSets(20)
	var outA, outB []byte
	var viewA, viewB, viewC adjOut
	for round := range 20 {
		changeRoutes(s, rng, 2000, 5000, nil, sets)
		outA = append(outA, drain(t, a, 0)...)
		if round%3 == 0 {
			outB = append(outB, drain(t, b, 0)...)
		}
		viewC.apply(t, drain(t, c, 1), c.opts)
	}
	outA = append(outA, drain(t, a, 0)...)
	outB = append(outB, drain(t, b, 0)...)
	viewC.apply(t, drain(t, c, 0), c.opts)
	if !bytes.Equal(outA, outB) {
		t.Errorf("a and b received different bytes (%d and %d)", len(outA), len(outB))
	}
	viewA.apply(t, outA, a.opts)
	viewB.apply(t, outB, b.opts)
	viewA.check(t, "a", a)
	viewB.check(t, "b", b)
	viewC.check(t, "c", c)
	for _, v := range []*adjOut{&viewA, &viewB, &viewC} {
		if v.eor != 2 {
			t.Errorf("%d End-of-RIB markers, want 2", v.eor)
		}
	}
	if u := viewC.routes; len(u) > 0 {
		for _, h := range u {
			if !h.Value().Present.Has(wire.AttrMED) || h.Value().MED != 7 {
				t.Errorf("c got %v, want MED 7", h.Value())
			}
			break
		}
	}
	checkSpeakerCounts(t, s)
}

// TestUpdateGroupJoinLeave changes routes while neighbours join a group
// mid-stream, leave it (session down) and come back, and move to another
// group (export policy changed); some routes come from group members
// themselves (not sent back to them). Each ends up with exactly the
// export of the Loc-RIB.
func TestUpdateGroupJoinLeave(t *testing.T) {
	s, _ := testSpeaker(t)
	s.pol = &config.Policy{Policies: map[string][]config.PolicyTerm{
		"all": {{Action: config.ActionAccept}},
	}}
	rng := rand.New(rand.NewPCG(3, 4))
	sets := attrSets(30)
	s.mu.Lock()
	a := fakeSession(s, "10.9.0.11", 65011, config.PolicyAcceptAll)
	s.mu.Unlock()
	views := map[*session]*adjOut{a: {}}
	read := func(ss *session, max int) {
		views[ss].apply(t, drain(t, ss, max), ss.opts)
	}
	slots := []uint16{a.p.slot}
	changeRoutes(s, rng, 5000, 8000, slots, sets)
	read(a, 1)

	// b joins while a lags behind.
	s.mu.Lock()
	b := fakeSession(s, "10.9.0.12", 65012, config.PolicyAcceptAll)
	s.mu.Unlock()
	views[b] = &adjOut{}
	slots = append(slots, b.p.slot)
	for range 5 {
		changeRoutes(s, rng, 1000, 8000, slots, sets)
		read(b, 2)
		read(a, 1)
	}
	if a.g != b.g {
		t.Fatal("a and b are in different groups")
	}

	// a goes down mid-stream and comes back.
	downFake(a)
	changeRoutes(s, rng, 1000, 8000, slots[1:], sets)
	s.mu.Lock()
	a = establishFake(a.p)
	s.mu.Unlock()
	views[a] = &adjOut{}
	for range 5 {
		changeRoutes(s, rng, 1000, 8000, slots, sets)
		read(a, 1)
		read(b, 1)
	}

	// b's export policy changes (same routes, another group).
	s.mu.Lock()
	b.p.cfg.Export = "all"
	b.p.setPolicies(s)
	b.p.requestSoftReset(s)
	s.mu.Unlock()
	// More than one chunk pending: b moves with what is left.
	changeRoutes(s, rng, 3*exportChunk/2, 8000, slots, sets)
	read(b, 1)
	for range 5 {
		changeRoutes(s, rng, 1000, 8000, slots, sets)
		read(a, 1)
		read(b, 1)
	}
	if a.g == b.g {
		t.Error("b still shares a's group after its export policy changed")
	}
	read(a, 0)
	read(b, 0)
	views[a].check(t, "a", a)
	views[b].check(t, "b", b)
	if len(views[a].routes) < 1000 || len(views[b].routes) < 1000 {
		t.Errorf("a holds %d routes, b %d: too few for a test", len(views[a].routes), len(views[b].routes))
	}
	checkSpeakerCounts(t, s)
}

// TestUpdateGroupLeaveWhileEncoding takes a member out, and brings its
// neighbour back, while another member encodes: the pieces in flight are
// not for the new session, whose bit is not the old one's, and it ends up
// with exactly the export.
func TestUpdateGroupLeaveWhileEncoding(t *testing.T) {
	s, _ := testSpeaker(t)
	rng := rand.New(rand.NewPCG(5, 6))
	sets := attrSets(10)
	s.mu.Lock()
	a := fakeSession(s, "10.9.0.11", 65011, config.PolicyAcceptAll)
	b := fakeSession(s, "10.9.0.12", 65012, config.PolicyAcceptAll)
	s.mu.Unlock()
	va, vb := &adjOut{}, &adjOut{}
	changeRoutes(s, rng, 3000, 4000, nil, sets)
	va.apply(t, drain(t, a, 0), a.opts)
	vb.apply(t, drain(t, b, 0), b.opts)
	changeRoutes(s, rng, 3000, 4000, nil, sets)

	g := a.g
	s.mu.Lock()
	g.begin(s) // a encodes, entries for b in flight
	s.mu.Unlock()
	oldBit := b.bit
	downFake(b)
	s.mu.Lock()
	b = establishFake(b.p)
	s.mu.Unlock()
	if b.g == g && b.bit == oldBit {
		t.Fatal("the bit of a member that left is reused while an encoding is in flight")
	}
	pieces := g.encode(a.p.log)
	s.mu.Lock()
	g.finish(s, pieces)
	s.mu.Unlock()
	vb = &adjOut{}
	changeRoutes(s, rng, 3000, 4000, nil, sets)
	va.apply(t, drain(t, a, 0), a.opts)
	vb.apply(t, drain(t, b, 0), b.opts)
	va.check(t, "a", a)
	vb.check(t, "b", b)
	if vb.eor != 2 {
		t.Errorf("new session of b: %d End-of-RIB markers, want 2", vb.eor)
	}
	checkSpeakerCounts(t, s)
}

// checkSpeakerCounts compares the advertised counters with a walk of the
// Loc-RIB.
func checkSpeakerCounts(t *testing.T, s *Speaker) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	acc, adv := s.countPrefixes()
	for i := range s.slots {
		if s.slots[i].accepted != acc[i] || i < maxAdvertBits && s.slots[i].advertised != adv[i] {
			t.Errorf("slot %d: counters accepted %d advertised %d, Loc-RIB has %d and %d", i,
				s.slots[i].accepted, s.slots[i].advertised, acc[i], adv[i])
		}
	}
	if err := s.checkRefs(); err != nil {
		t.Error(err)
	}
	// Every dest is under its own prefix's ID in the RIB's index.
	n := 0
	for p, d := range s.all() {
		n++
		if id, ok := s.loc.idx.Find(s.loc.table, locKey(p)); !ok || id != d.id {
			t.Errorf("%s: dest has ID %d, the index %d (%v)", p, d.id, id, ok)
		}
	}
	if n != s.loc.Len() {
		t.Errorf("walk found %d dests, the Loc-RIB counts %d", n, s.loc.Len())
	}
}

// BenchmarkUpdateGroupExport exports 100,000 prefixes to N neighbours
// whose writers keep up, with one export policy (one group: encoded
// once) and with N policies that are the same but named differently (N
// groups: encoded N times). encodedB/prefix is the UPDATE bytes encoded,
// writtenB/prefix what all the neighbours' writers write.
func BenchmarkUpdateGroupExport(b *testing.B) {
	for _, n := range []int{1, 4, 16} {
		for _, same := range []bool{true, false} {
			name := fmt.Sprintf("distinct-policies-%d", n)
			if same {
				name = fmt.Sprintf("same-policy-%d", n)
			}
			b.Run(name, func(b *testing.B) { benchGroups(b, n, same) })
		}
	}
}

func benchGroups(b *testing.B, n int, same bool) {
	const prefixes = 100_000
	sets := attrSets(50)
	var encoded, written int
	for range b.N {
		b.StopTimer()
		s, _ := testSpeaker(&testing.T{})
		s.pol = &config.Policy{Policies: map[string][]config.PolicyTerm{}}
		for i := range n {
			s.pol.Policies[fmt.Sprintf("p%d", i)] = []config.PolicyTerm{{Action: config.ActionAccept}}
		}
		var sessions []*session
		s.mu.Lock()
		for i := range n {
			exp := "p0"
			if !same {
				exp = fmt.Sprintf("p%d", i)
			}
			sessions = append(sessions, fakeSession(s, fmt.Sprintf("10.9.0.%d", 20+i), uint32(65100+i), exp))
		}
		s.mu.Unlock()
		for _, ss := range sessions {
			drain(b, ss, 0) // End-of-RIB
		}
		b.StartTimer()
		bt := &batch{}
		for i := range prefixes {
			s.mu.Lock()
			s.setPath(testPrefix(i), 2, sets[(i/40)%len(sets)], bt)
			if i%500 == 499 || i == prefixes-1 {
				s.flush(bt)
				s.mu.Unlock()
				for _, ss := range sessions {
					written += len(drain(b, ss, 0))
				}
				continue
			}
			s.mu.Unlock()
		}
		b.StopTimer()
		for _, g := range s.groups {
			encoded += int(g.encoded)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(encoded)/float64(b.N)/prefixes, "encodedB/prefix")
	b.ReportMetric(float64(written)/float64(b.N)/prefixes, "writtenB/prefix")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/prefixes, "ns/prefix")
}

// TestGroupDropsLaggard checks that a member that does not read is closed
// once the group's unread output passes the limit, and that the member
// that reads goes on.
func TestGroupDropsLaggard(t *testing.T) {
	defer func(old int) { maxGroupBacklog = old }(maxGroupBacklog)
	maxGroupBacklog = 512 << 10
	s, _ := testSpeaker(t)
	s.mu.Lock()
	a := fakeSession(s, "10.9.0.11", 65011, config.PolicyAcceptAll)
	b := fakeSession(s, "10.9.0.12", 65012, config.PolicyAcceptAll)
	s.mu.Unlock()
	if a.g != b.g {
		t.Fatal("a and b are not in one group")
	}
	rng := rand.New(rand.NewPCG(3, 3))
	sets := attrSets(20)
	for range 20 {
		changeRoutes(s, rng, 2000, 50000, nil, sets)
		drain(t, a, 0)
	}
	select {
	case <-b.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the member that does not read was not closed")
	}
	s.mu.Lock()
	over := b.overrun
	s.mu.Unlock()
	if !over {
		t.Error("b not marked overrun")
	}
	select {
	case <-a.closed:
		t.Error("the member that reads was closed too")
	default:
	}
	// Once b's session is down, what only it had left unread goes.
	downFake(b)
	drain(t, a, 0)
	s.mu.Lock()
	held := a.g.held
	s.mu.Unlock()
	if held != 0 {
		t.Errorf("group still holds %d bytes with its only member up to date", held)
	}
}
