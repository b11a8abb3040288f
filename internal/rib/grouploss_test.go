package rib

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// mirror is a consumer's state built from the feed alone: the routes it was
// given and the groups' next hops. A subscriber that follows group loss
// treats a route whose group has no next hops as not forwarding.
type mirror struct {
	routes map[Key]Best
	groups map[GroupID][]NextHop
}

func newMirror() *mirror {
	return &mirror{routes: map[Key]Best{}, groups: map[GroupID][]NextHop{}}
}

func (m *mirror) apply(u Update) {
	for _, g := range u.Groups {
		m.groups[g.ID] = g.NextHops
	}
	for _, rc := range u.Routes {
		if rc.Best.Valid() {
			m.routes[rc.Key] = rc.Best
		} else {
			delete(m.routes, rc.Key)
		}
	}
	for _, id := range u.Removed {
		delete(m.groups, id)
	}
}

func (m *mirror) drain(s *Subscription, max int) Update {
	var all Update
	for u := s.Next(max); !u.Empty(); u = s.Next(max) {
		m.apply(u)
		all.Groups = append(all.Groups, u.Groups...)
		all.Routes = append(all.Routes, u.Routes...)
		all.Removed = append(all.Removed, u.Removed...)
	}
	return all
}

// forwarding is what the consumer would program: routes whose group (if
// any) has next hops, with those next hops.
func (m *mirror) forwarding() map[Key]string {
	out := map[Key]string{}
	for k, b := range m.routes {
		if b.Group != 0 {
			nhs, ok := m.groups[b.Group]
			if !ok || len(nhs) == 0 {
				continue
			}
			out[k] = fmt.Sprint(b, nhs)
			continue
		}
		out[k] = fmt.Sprint(b, []NextHop(nil))
	}
	return out
}

// ribForwarding is the same from the RIB's own selection.
func ribForwarding(r *RIB) map[Key]string {
	out := map[Key]string{}
	for _, e := range r.List(Filter{}) {
		if !e.Best.Valid() {
			continue
		}
		var nhs []NextHop
		if e.Best.Group != 0 {
			nhs = r.NextHops(e.Best.Group)
			if len(nhs) == 0 {
				panic(fmt.Sprintf("%s selected with an unresolved group", e.Key))
			}
		}
		out[e.Key] = fmt.Sprint(e.Best, nhs)
	}
	return out
}

func sameForwarding(t *testing.T, who string, got, want map[Key]string) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s: %s: has %q, RIB selects %q", who, k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s: forwards %q, RIB selects nothing", who, k, g)
		}
	}
}

// groupIn returns the change of group id in u (the only one: a subscriber
// sees each group once per drain).
func groupIn(u Update, id GroupID) ([]NextHop, bool) {
	var nhs []NextHop
	n := 0
	for _, g := range u.Groups {
		if g.ID == id {
			nhs = g.NextHops
			n++
		}
	}
	return nhs, n == 1
}

var (
	far1   = netip.MustParseAddr("192.0.2.1")
	far1rt = Route{Table: TableMain, Prefix: netip.MustParsePrefix("192.0.2.1/32"), Distance: 1, NextHops: []NextHop{{Gateway: gw1}}}
	pAlt   = netip.MustParsePrefix("198.51.100.0/24")
	pBH    = netip.MustParsePrefix("203.0.113.0/24")
)

// groupLossLab has a BGP source with routes via far1 (resolved by a static
// /32), one of which has an API alternative via a connected gateway, and
// one a blackhole alternative with a worse distance.
func groupLossLab(t *testing.T) (r *RIB, static, api, bgp *Source, table []Route) {
	r, _, static, api = lab(t)
	bgp = r.NewSource(OriginEBGP, "bgp")
	must(t, static.Apply([]Route{far1rt}, nil))
	for i := 0; i < 50; i++ {
		table = append(table, Route{Table: TableMain, Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i), 0}), 24), Distance: 20, NextHops: []NextHop{{Gateway: far1}}})
	}
	table = append(table,
		Route{Table: TableMain, Prefix: pAlt, Distance: 20, NextHops: []NextHop{{Gateway: far1}}},
		Route{Table: TableMain, Prefix: pBH, Distance: 20, NextHops: []NextHop{{Gateway: far1}}},
	)
	must(t, bgp.Apply(table, nil))
	must(t, api.Apply([]Route{
		{Table: TableMain, Prefix: pAlt, Distance: 200, NextHops: []NextHop{{Gateway: gw2}}},
		{Table: TableMain, Prefix: pBH, Distance: 250, Kind: KindBlackhole},
	}, nil))
	return r, static, api, bgp, table
}

func subscribe(t *testing.T, r *RIB, name string, groupLoss bool) (*Subscription, *mirror) {
	t.Helper()
	s, err := r.Subscribe(name)
	must(t, err)
	t.Cleanup(s.Close)
	if groupLoss {
		must(t, s.GroupLoss())
	}
	m := newMirror()
	m.drain(s, 7)
	return s, m
}

func TestGroupLossWithAndWithoutAlternatives(t *testing.T) {
	r, static, _, _, table := groupLossLab(t)
	kern, km := subscribe(t, r, "kernel", true)
	fib, fm := subscribe(t, r, "fib", false)
	sameForwarding(t, "kernel", km.forwarding(), ribForwarding(r))
	sameForwarding(t, "fib", fm.forwarding(), ribForwarding(r))
	gid := km.routes[Key{TableMain, table[0].Prefix}].Group

	// The /32 resolving far1 goes: every BGP route's group is unresolved.
	must(t, static.Apply(nil, []Key{{TableMain, far1rt.Prefix}}))
	u := km.drain(kern, 7)
	if len(u.Groups) != 1 || u.Groups[0].ID != gid || len(u.Groups[0].NextHops) != 0 {
		t.Fatalf("kernel: want group %d unresolved, got %+v", gid, u.Groups)
	}
	// Per route: the /32 itself, and the two keys whose alternative takes
	// over; nothing for the 50 routes that have no alternative.
	got := map[netip.Prefix]Best{}
	for _, rc := range u.Routes {
		got[rc.Prefix] = rc.Best
	}
	if len(got) != 3 || got[far1rt.Prefix].Valid() || got[pAlt].Origin != OriginAPI || got[pBH].Kind != KindBlackhole {
		t.Fatalf("kernel: route changes %+v", u.Routes)
	}
	if u := fm.drain(fib, 7); len(u.Routes) != 53 {
		t.Fatalf("fib: want 53 route changes (50 withdrawn, 2 alternatives, the /32), got %d", len(u.Routes))
	}
	want := ribForwarding(r)
	if len(want) != 4 { // 2 connected, 2 alternatives
		t.Fatalf("RIB forwards %d keys after the loss: %v", len(want), want)
	}
	sameForwarding(t, "kernel", km.forwarding(), want)
	sameForwarding(t, "fib", fm.forwarding(), want)
	if e, _ := r.Get(Key{TableMain, table[0].Prefix}); e.Best.Valid() || e.Candidates[0].Selected {
		t.Fatalf("a route of an unresolved group is selected: %+v", e)
	}
	if _, ok := r.Lookup(TableMain, netip.MustParseAddr("172.16.0.1")); ok {
		t.Fatal("lookup matched a route of an unresolved group")
	}

	// Restore: the group resolves again and everything comes back.
	must(t, static.Apply([]Route{far1rt}, nil))
	u = km.drain(kern, 7)
	if nhs, ok := groupIn(u, gid); !ok || len(nhs) != 1 {
		t.Fatalf("kernel: want group %d resolved, got %+v", gid, u.Groups)
	}
	if len(u.Routes) != 3 {
		t.Fatalf("kernel: want 3 route changes on restore, got %+v", u.Routes)
	}
	if u := fm.drain(fib, 7); len(u.Routes) != 53 {
		t.Fatalf("fib: want 53 route changes on restore, got %d", len(u.Routes))
	}
	want = ribForwarding(r)
	if len(want) != 55 {
		t.Fatalf("RIB forwards %d keys after the restore", len(want))
	}
	sameForwarding(t, "kernel", km.forwarding(), want)
	sameForwarding(t, "fib", fm.forwarding(), want)
}

// A subscriber that falls behind sees a loss and the restore that follows
// as nothing at all (for the routes) and the group's latest resolution.
func TestGroupLossCoalescedWithRestore(t *testing.T) {
	r, static, _, _, _ := groupLossLab(t)
	kern, km := subscribe(t, r, "kernel", true)
	fib, fm := subscribe(t, r, "fib", false)
	must(t, static.Apply(nil, []Key{{TableMain, far1rt.Prefix}}))
	must(t, static.Apply([]Route{far1rt}, nil))
	gid := km.routes[Key{TableMain, netip.MustParsePrefix("172.16.0.0/24")}].Group
	u := km.drain(kern, 5)
	if nhs, ok := groupIn(u, gid); !ok || len(nhs) != 1 {
		t.Fatalf("kernel: want group %d once, resolved: %+v", gid, u.Groups)
	}
	for _, rc := range u.Routes {
		if rc.Prefix != far1rt.Prefix && rc.Prefix != pAlt && rc.Prefix != pBH {
			t.Errorf("kernel: change for %s", rc.Prefix)
		}
	}
	fm.drain(fib, 5)
	want := ribForwarding(r)
	if len(want) != 55 {
		t.Fatalf("RIB forwards %d keys", len(want))
	}
	sameForwarding(t, "kernel", km.forwarding(), want)
	sameForwarding(t, "fib", fm.forwarding(), want)

	// And the other way round: restore drained, then a loss not yet.
	must(t, static.Apply(nil, []Key{{TableMain, far1rt.Prefix}}))
	must(t, static.Apply([]Route{far1rt}, nil))
	must(t, static.Apply(nil, []Key{{TableMain, far1rt.Prefix}}))
	km.drain(kern, 5)
	fm.drain(fib, 5)
	want = ribForwarding(r)
	sameForwarding(t, "kernel", km.forwarding(), want)
	sameForwarding(t, "fib", fm.forwarding(), want)
}

// Routes offered, changed and withdrawn while their group is unresolved:
// a subscriber following group loss gets them parked, the others nothing,
// and both are right once the group resolves.
func TestGroupLossChangesWhileUnresolved(t *testing.T) {
	r, static, api, bgp, table := groupLossLab(t)
	kern, km := subscribe(t, r, "kernel", true)
	fib, fm := subscribe(t, r, "fib", false)
	must(t, static.Apply(nil, []Key{{TableMain, far1rt.Prefix}}))
	km.drain(kern, 4)
	fm.drain(fib, 4)

	pNew := netip.MustParsePrefix("172.17.0.0/16")
	must(t, bgp.Apply([]Route{{Table: TableMain, Prefix: pNew, Distance: 20, NextHops: []NextHop{{Gateway: far1}}}},
		[]Key{{TableMain, table[1].Prefix}}))
	// The alternative goes: the BGP route is left alone, parked.
	must(t, api.Apply(nil, []Key{{TableMain, pAlt}}))
	if u := fm.drain(fib, 4); len(u.Routes) != 1 || u.Routes[0].Prefix != pAlt || u.Routes[0].Best.Valid() {
		t.Fatalf("fib: want only %s withdrawn, got %+v", pAlt, u.Routes)
	}
	u := km.drain(kern, 4)
	got := map[netip.Prefix]Best{}
	for _, rc := range u.Routes {
		got[rc.Prefix] = rc.Best
	}
	if len(got) != 3 || got[pNew].Origin != OriginEBGP || got[table[1].Prefix].Valid() || got[pAlt].Origin != OriginEBGP {
		t.Fatalf("kernel: want %s parked, %s withdrawn, %s back to the parked BGP route; got %+v", pNew, table[1].Prefix, pAlt, u.Routes)
	}
	sameForwarding(t, "kernel", km.forwarding(), ribForwarding(r))
	sameForwarding(t, "fib", fm.forwarding(), ribForwarding(r))

	must(t, static.Apply([]Route{far1rt}, nil))
	km.drain(kern, 4)
	fm.drain(fib, 4)
	want := ribForwarding(r)
	if _, ok := want[Key{TableMain, pNew}]; !ok {
		t.Fatalf("%s not selected after the restore", pNew)
	}
	sameForwarding(t, "kernel", km.forwarding(), want)
	sameForwarding(t, "fib", fm.forwarding(), want)
}

// A subscriber that follows group loss from the start also gets, in its
// snapshot, routes already parked; it cannot switch once it has drained.
func TestGroupLossSnapshot(t *testing.T) {
	r, static, _, _, _ := groupLossLab(t)
	must(t, static.Apply(nil, []Key{{TableMain, far1rt.Prefix}}))
	kern, km := subscribe(t, r, "kernel", true)
	if n := len(km.routes); n != 54 { // 2 connected, 50 parked, 2 alternatives
		t.Fatalf("snapshot has %d routes, want 54", n)
	}
	_, fm := subscribe(t, r, "fib", false)
	if n := len(fm.routes); n != 4 {
		t.Fatalf("snapshot has %d routes, want 4", n)
	}
	if err := kern.GroupLoss(); err != nil {
		t.Fatalf("GroupLoss again: %v", err)
	}
	late, err := r.Subscribe("late")
	must(t, err)
	defer late.Close()
	late.Next(10)
	if err := late.GroupLoss(); !errors.Is(err, ErrAlreadyStarted) {
		t.Fatalf("GroupLoss after Next: %v", err)
	}
	must(t, static.Apply([]Route{far1rt}, nil))
	km.drain(kern, 10)
	sameForwarding(t, "kernel", km.forwarding(), ribForwarding(r))
}

// Random offers, withdrawals, resolver and link flaps with consumers
// draining at random moments: both kinds of subscriber always end up
// forwarding exactly what the RIB selects.
func TestGroupLossRandom(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 2))
		r, _, static, api := lab(t)
		bgp := r.NewSource(OriginEBGP, "bgp")
		far2 := netip.MustParseAddr("198.18.0.1")
		far2rt := Route{Table: TableMain, Prefix: netip.MustParsePrefix("198.18.0.0/24"), Distance: 1, NextHops: []NextHop{{Gateway: gw2}}}
		gws := []netip.Addr{far1, far2, gw1}
		subs := []*Subscription{}
		ms := []*mirror{}
		for i, gl := range []bool{true, false, true} {
			s, m := subscribe(t, r, fmt.Sprint("s", i), gl)
			subs, ms = append(subs, s), append(ms, m)
		}
		for step := 0; step < 400; step++ {
			switch n := rng.IntN(20); {
			case n == 0:
				must(t, static.Apply([]Route{far1rt}, nil))
			case n == 1:
				must(t, static.Apply(nil, []Key{{TableMain, far1rt.Prefix}}))
			case n == 2:
				must(t, static.Apply([]Route{far2rt}, nil))
			case n == 3:
				must(t, static.Apply(nil, []Key{{TableMain, far2rt.Prefix}}))
			case n == 4:
				r.SetLinkUp(1, rng.IntN(4) != 0)
			case n < 8:
				i := rng.IntN(len(subs))
				ms[i].drain(subs[i], 1+rng.IntN(8))
			default:
				src := bgp
				dist := uint8(20)
				if rng.IntN(3) == 0 {
					src, dist = api, uint8(10+rng.IntN(200))
				}
				p := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(rng.IntN(16)), 0}), 24)
				if rng.IntN(4) == 0 {
					must(t, src.Apply(nil, []Key{{TableMain, p}}))
					continue
				}
				rt := Route{Table: TableMain, Prefix: p, Distance: dist, NextHops: []NextHop{{Gateway: gws[rng.IntN(len(gws))]}}}
				if rng.IntN(10) == 0 {
					rt.NextHops = append(rt.NextHops, NextHop{Gateway: gws[rng.IntN(len(gws))]})
				}
				if rng.IntN(15) == 0 {
					rt.Kind, rt.NextHops = KindUnreachable, nil
				}
				must(t, src.Apply([]Route{rt}, nil))
			}
		}
		want := ribForwarding(r)
		for i, s := range subs {
			ms[i].drain(s, 3)
			sameForwarding(t, fmt.Sprintf("seed %d subscriber %d", seed, i), ms[i].forwarding(), want)
		}
		if t.Failed() {
			return
		}
	}
}

// A key with two candidates whose groups are both lost is parked too, with
// the candidate that would win were every group resolved: the kernel hears
// no route change if that one was selected before (both next hops lost at
// once, or the better one last), and gets its routes back with the group.
func TestGroupLossAllCandidatesLost(t *testing.T) {
	r, _, static, api := lab(t)
	bgp := r.NewSource(OriginEBGP, "bgp")
	far2 := netip.MustParseAddr("198.18.0.1")
	far2rt := Route{Table: TableMain, Prefix: netip.MustParsePrefix("198.18.0.0/24"), Distance: 1, NextHops: []NextHop{{Gateway: gw2}}}
	must(t, static.Apply([]Route{far1rt, far2rt}, nil))
	var keys []Key
	for i := 0; i < 20; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i), 0}), 24)
		keys = append(keys, Key{TableMain, p})
		must(t, bgp.Apply([]Route{{Table: TableMain, Prefix: p, Distance: 20, NextHops: []NextHop{{Gateway: far1}}}}, nil))
		must(t, api.Apply([]Route{{Table: TableMain, Prefix: p, Distance: 30, NextHops: []NextHop{{Gateway: far2}}}}, nil))
	}
	kern, km := subscribe(t, r, "kernel", true)
	fib, fm := subscribe(t, r, "fib", false)
	check := func(what string, wantKernelRoutes int, wantForwarding int) {
		t.Helper()
		u := km.drain(kern, 6)
		n := 0
		for _, rc := range u.Routes {
			if rc.Prefix.Bits() == 24 && rc.Prefix.Addr().As4()[1] == 16 {
				n++
			}
		}
		if n != wantKernelRoutes {
			t.Errorf("%s: kernel got %d route changes for the table, want %d: %+v", what, n, wantKernelRoutes, u.Routes)
		}
		fm.drain(fib, 6)
		want := ribForwarding(r)
		if len(want) != wantForwarding {
			t.Errorf("%s: RIB forwards %d keys, want %d", what, len(want), wantForwarding)
		}
		sameForwarding(t, what+": kernel", km.forwarding(), want)
		sameForwarding(t, what+": fib", fm.forwarding(), want)
	}
	both := []Key{{TableMain, far1rt.Prefix}, {TableMain, far2rt.Prefix}}
	// Both lost at once: the BGP routes, selected before, are parked.
	must(t, static.Apply(nil, both))
	check("both lost", 0, 2)
	if b := km.routes[keys[0]]; b.Origin != OriginEBGP {
		t.Fatalf("%s parked as %+v, want the BGP route (it would win)", keys[0], b)
	}
	// far2 back: every key moves to the API route, route by route.
	must(t, static.Apply([]Route{far2rt}, nil))
	check("far2 back", 20, 2+1+20)
	// far1 back: back to BGP, route by route.
	must(t, static.Apply([]Route{far1rt}, nil))
	check("far1 back", 20, 2+2+20)
	// The better next hop lost first (to the API routes), then the other
	// (parked on BGP, which would win): route by route both times.
	must(t, static.Apply(nil, both[:1]))
	check("far1 lost", 20, 2+1+20)
	must(t, static.Apply(nil, both[1:]))
	check("far2 lost", 20, 2)
	// far1 back: the parked BGP routes come back with their group alone.
	must(t, static.Apply([]Route{far1rt}, nil))
	check("far1 back again", 0, 2+1+20)
}
