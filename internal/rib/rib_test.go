package rib

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
)

var (
	p10   = netip.MustParsePrefix("10.0.0.0/24")
	p20   = netip.MustParsePrefix("10.20.0.0/16")
	p6    = netip.MustParsePrefix("2001:db8:20::/48")
	gw1   = netip.MustParseAddr("10.0.0.1")
	gw2   = netip.MustParseAddr("10.0.0.2")
	far   = netip.MustParseAddr("10.20.5.5")
	gw6   = netip.MustParseAddr("2001:db8::1")
	conn6 = netip.MustParsePrefix("2001:db8::/64")
)

// lab returns a RIB with link 1 up, 10.0.0.0/24 connected on it, and the
// sources tests use.
func lab(t *testing.T) (*RIB, *Source, *Source, *Source) {
	t.Helper()
	r := New()
	conn := r.NewSource(OriginConnected, "connected")
	static := r.NewSource(OriginStatic, "static")
	api := r.NewSource(OriginAPI, "api")
	r.SetLinkUp(1, true)
	must(t, conn.Apply([]Route{
		{Table: TableMain, Prefix: p10, NextHops: []NextHop{{Ifindex: 1}}},
		{Table: TableMain, Prefix: conn6, NextHops: []NextHop{{Ifindex: 1}}},
	}, nil))
	return r, conn, static, api
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func selected(t *testing.T, r *RIB, p netip.Prefix) (Candidate, []NextHop) {
	t.Helper()
	e, ok := r.Get(Key{TableMain, p})
	if !ok {
		t.Fatalf("%s: not in the RIB", p)
	}
	c, ok := e.Selected()
	if !ok {
		return Candidate{}, nil
	}
	return c, c.Resolved
}

func TestSelection(t *testing.T) {
	cases := []struct {
		name   string
		static Route
		api    Route
		want   Origin
	}{
		{"lower distance wins", Route{Distance: 5}, Route{Distance: 1}, OriginAPI},
		{"lower metric wins at equal distance", Route{Distance: 1, Metric: 10}, Route{Distance: 1, Metric: 5}, OriginAPI},
		{"origin order breaks a tie", Route{Distance: 1}, Route{Distance: 1}, OriginStatic},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _, static, api := lab(t)
			for _, x := range []struct {
				s  *Source
				rt Route
				gw netip.Addr
			}{{static, tc.static, gw1}, {api, tc.api, gw2}} {
				x.rt.Table, x.rt.Prefix, x.rt.NextHops = TableMain, p20, []NextHop{{Gateway: x.gw}}
				must(t, x.s.Apply([]Route{x.rt}, nil))
			}
			c, _ := selected(t, r, p20)
			if c.Origin != tc.want {
				t.Fatalf("selected %s, want %s", c.Origin, tc.want)
			}
		})
	}
}

func TestECMPAndRecursiveResolution(t *testing.T) {
	r, conn, static, _ := lab(t)
	must(t, static.Apply([]Route{
		{Table: TableMain, Prefix: p20, Distance: 1, NextHops: []NextHop{{Gateway: gw2}, {Gateway: gw1}}},
		// 192.0.2.0/24 via a gateway inside p20: resolves through p20's two paths.
		{Table: TableMain, Prefix: netip.MustParsePrefix("192.0.2.0/24"), Distance: 1, NextHops: []NextHop{{Gateway: far}}},
		{Table: TableMain, Prefix: p6, Distance: 1, NextHops: []NextHop{{Gateway: gw6}}},
	}, nil))
	_, nh := selected(t, r, p20)
	want := []NextHop{{Gateway: gw1, Ifindex: 1, Weight: 1}, {Gateway: gw2, Ifindex: 1, Weight: 1}}
	if !slices.Equal(nh, want) {
		t.Fatalf("p20 next hops %v, want %v", nh, want)
	}
	_, nh = selected(t, r, netip.MustParsePrefix("192.0.2.0/24"))
	if !slices.Equal(nh, want) {
		t.Fatalf("recursive next hops %v, want %v", nh, want)
	}
	_, nh = selected(t, r, p6)
	if !slices.Equal(nh, []NextHop{{Gateway: gw6, Ifindex: 1, Weight: 1}}) {
		t.Fatalf("IPv6 next hops %v", nh)
	}

	// The connected route goes: everything that resolved through it loses its route.
	must(t, conn.Apply(nil, []Key{{TableMain, p10}}))
	if c, _ := selected(t, r, p20); c.Selected {
		t.Fatalf("p20 still selected without a path to its gateways")
	}
	if c, _ := selected(t, r, netip.MustParsePrefix("192.0.2.0/24")); c.Selected {
		t.Fatalf("recursive route still selected")
	}
	// And returns.
	must(t, conn.Apply([]Route{{Table: TableMain, Prefix: p10, NextHops: []NextHop{{Ifindex: 1}}}}, nil))
	if _, nh = selected(t, r, netip.MustParsePrefix("192.0.2.0/24")); !slices.Equal(nh, want) {
		t.Fatalf("recursive route after return: %v", nh)
	}
}

func TestRecursiveFollowsMove(t *testing.T) {
	r, conn, static, _ := lab(t)
	r.SetLinkUp(2, true)
	must(t, conn.Apply([]Route{{Table: TableMain, Prefix: netip.MustParsePrefix("10.9.0.0/24"), NextHops: []NextHop{{Ifindex: 2}}}}, nil))
	must(t, static.Apply([]Route{
		{Table: TableMain, Prefix: p20, Distance: 1, NextHops: []NextHop{{Gateway: gw1}}},
		{Table: TableMain, Prefix: netip.MustParsePrefix("192.0.2.0/24"), Distance: 1, NextHops: []NextHop{{Gateway: far}}},
	}, nil))
	sub, err := r.Subscribe("test")
	must(t, err)
	defer sub.Close()
	drain(sub)
	// p20 now goes via 10.9.0.1 on link 2: the recursive route must follow,
	// as one group change and no route change.
	must(t, static.Apply([]Route{{Table: TableMain, Prefix: p20, Distance: 1, NextHops: []NextHop{{Gateway: netip.MustParseAddr("10.9.0.1")}}}}, nil))
	_, nh := selected(t, r, netip.MustParsePrefix("192.0.2.0/24"))
	if len(nh) != 1 || nh[0].Ifindex != 2 || nh[0].Gateway != netip.MustParseAddr("10.9.0.1") {
		t.Fatalf("recursive route did not follow: %v", nh)
	}
	u := drain(sub)
	for _, rc := range u.Routes {
		if rc.Prefix == netip.MustParsePrefix("192.0.2.0/24") {
			t.Fatalf("recursive route re-announced; its group should have moved instead")
		}
	}
}

func TestLinkDown(t *testing.T) {
	r, _, static, _ := lab(t)
	must(t, static.Apply([]Route{{Table: TableMain, Prefix: p20, NextHops: []NextHop{{Gateway: gw1, Ifindex: 1}}}}, nil))
	if c, _ := selected(t, r, p20); !c.Selected {
		t.Fatal("not selected with link up")
	}
	r.SetLinkUp(1, false)
	if c, _ := selected(t, r, p20); c.Selected {
		t.Fatal("selected with link down")
	}
	r.SetLinkUp(1, true)
	if c, _ := selected(t, r, p20); !c.Selected {
		t.Fatal("not selected after link up")
	}
}

func TestNonUnicastNeedsNoResolution(t *testing.T) {
	r, _, static, _ := lab(t)
	must(t, static.Apply([]Route{{Table: 100, Prefix: p20, Kind: KindBlackhole}}, nil))
	e, ok := r.Get(Key{100, p20})
	if !ok || e.Best.Kind != KindBlackhole {
		t.Fatalf("blackhole not selected: %+v", e)
	}
}

// drain empties a subscription and merges what it read.
func drain(s *Subscription) Update {
	var all Update
	for {
		u := s.Next(3)
		if u.Empty() {
			return all
		}
		all.Groups = append(all.Groups, u.Groups...)
		all.Routes = append(all.Routes, u.Routes...)
		all.Removed = append(all.Removed, u.Removed...)
		all.Synced = all.Synced || u.Synced
	}
}

func TestFeedCoalesces(t *testing.T) {
	r, _, static, _ := lab(t)
	sub, err := r.Subscribe("slow")
	must(t, err)
	defer sub.Close()
	u := drain(sub)
	if !u.Synced || len(u.Routes) != 2 {
		t.Fatalf("snapshot: synced=%v routes=%d, want the 2 connected routes", u.Synced, len(u.Routes))
	}
	// A flapping route: the slow consumer must see one change, the last state.
	for i := 0; i < 100; i++ {
		must(t, static.Apply([]Route{{Table: TableMain, Prefix: p20, Metric: uint32(i), NextHops: []NextHop{{Gateway: gw1}}}}, nil))
		if i%2 == 1 {
			must(t, static.Apply(nil, []Key{{TableMain, p20}}))
		}
	}
	must(t, static.Apply([]Route{{Table: TableMain, Prefix: p20, Metric: 7, NextHops: []NextHop{{Gateway: gw1}}}}, nil))
	u = drain(sub)
	if len(u.Routes) != 1 || u.Routes[0].Best.Metric != 7 {
		t.Fatalf("want one change with metric 7, got %+v", u.Routes)
	}
	if u.Synced {
		t.Fatal("Synced repeated after the snapshot")
	}
	// Withdrawn, then drained: the consumer sees the withdrawal and the group go.
	gid := u.Routes[0].Best.Group
	must(t, static.Apply(nil, []Key{{TableMain, p20}}))
	u = drain(sub)
	if len(u.Routes) != 1 || u.Routes[0].Best.Valid() {
		t.Fatalf("want one withdrawal, got %+v", u.Routes)
	}
	if !slices.Contains(u.Removed, gid) {
		t.Fatalf("group %d not removed: %v", gid, u.Removed)
	}
	if st := r.Stats(); st.Keys != 2 {
		t.Fatalf("withdrawn key still held after every subscriber saw it: %d keys", st.Keys)
	}
}

func TestFeedGroupsBeforeRoutes(t *testing.T) {
	r, _, static, _ := lab(t)
	sub, err := r.Subscribe("k")
	must(t, err)
	defer sub.Close()
	drain(sub)
	must(t, static.Apply([]Route{{Table: TableMain, Prefix: p20, NextHops: []NextHop{{Gateway: gw1}}}}, nil))
	u := sub.Next(10)
	if len(u.Routes) != 1 || len(u.Groups) != 1 || u.Groups[0].ID != u.Routes[0].Best.Group {
		t.Fatalf("want the group with the route that uses it: %+v", u)
	}
}

func TestReplaceTouchesOnlyTheDifference(t *testing.T) {
	r, _, static, _ := lab(t)
	a := Route{Table: TableMain, Prefix: p20, NextHops: []NextHop{{Gateway: gw1}}}
	b := Route{Table: TableMain, Prefix: netip.MustParsePrefix("10.30.0.0/16"), NextHops: []NextHop{{Gateway: gw1}}}
	c := Route{Table: TableMain, Prefix: netip.MustParsePrefix("10.40.0.0/16"), NextHops: []NextHop{{Gateway: gw2}}}
	must(t, static.Replace([]Route{a, b}))
	sub, err := r.Subscribe("k")
	must(t, err)
	defer sub.Close()
	drain(sub)
	must(t, static.Replace([]Route{a, c}))
	u := drain(sub)
	var got []netip.Prefix
	for _, rc := range u.Routes {
		got = append(got, rc.Prefix)
	}
	slices.SortFunc(got, func(x, y netip.Prefix) int { return x.Addr().Compare(y.Addr()) })
	if !slices.Equal(got, []netip.Prefix{b.Prefix, c.Prefix}) {
		t.Fatalf("changes %v, want only 10.30/16 (gone) and 10.40/16 (new)", got)
	}
}

func TestInvalidBatchChangesNothing(t *testing.T) {
	cases := []struct {
		name string
		rt   Route
	}{
		{"no next hop", Route{Table: TableMain, Prefix: p20}},
		{"IPv4 gateway for IPv6", Route{Table: TableMain, Prefix: p6, NextHops: []NextHop{{Gateway: gw1}}}},
		{"blackhole with next hop", Route{Table: TableMain, Prefix: p20, Kind: KindBlackhole, NextHops: []NextHop{{Gateway: gw1}}}},
		{"table zero", Route{Prefix: p20, NextHops: []NextHop{{Gateway: gw1}}}},
		{"empty next hop", Route{Table: TableMain, Prefix: p20, NextHops: []NextHop{{}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _, static, _ := lab(t)
			good := Route{Table: TableMain, Prefix: netip.MustParsePrefix("10.50.0.0/16"), NextHops: []NextHop{{Gateway: gw1}}}
			err := static.Apply([]Route{good, tc.rt}, nil)
			if !errors.Is(err, ErrInvalidRoute) {
				t.Fatalf("err = %v, want ErrInvalidRoute", err)
			}
			if _, ok := r.Get(Key{TableMain, good.Prefix}); ok {
				t.Fatal("the valid half of a rejected batch was applied")
			}
		})
	}
}

func TestLookup(t *testing.T) {
	r, _, static, _ := lab(t)
	must(t, static.Apply([]Route{
		{Table: TableMain, Prefix: netip.MustParsePrefix("0.0.0.0/0"), NextHops: []NextHop{{Gateway: gw1}}},
		{Table: TableMain, Prefix: p20, NextHops: []NextHop{{Gateway: gw2}}},
	}, nil))
	for addr, want := range map[string]string{
		"10.20.1.1": "10.20.0.0/16",
		"10.0.0.77": "10.0.0.0/24",
		"8.8.8.8":   "0.0.0.0/0",
	} {
		e, ok := r.Lookup(TableMain, netip.MustParseAddr(addr))
		if !ok || e.Prefix.String() != want {
			t.Errorf("lookup %s = %v (%v), want %s", addr, e.Prefix, ok, want)
		}
	}
	if _, ok := r.Lookup(TableMain, netip.MustParseAddr("2001:db9::1")); ok {
		t.Error("IPv6 lookup matched without an IPv6 default")
	}
}

func TestSelfResolutionRefused(t *testing.T) {
	r, _, static, _ := lab(t)
	// 10.20.0.0/16 via 10.20.0.1 can only resolve through itself.
	must(t, static.Apply([]Route{{Table: TableMain, Prefix: p20, NextHops: []NextHop{{Gateway: netip.MustParseAddr("10.20.0.1")}}}}, nil))
	if c, _ := selected(t, r, p20); c.Selected {
		t.Fatal("route resolved through itself")
	}
}

func TestInstallError(t *testing.T) {
	r, _, static, _ := lab(t)
	must(t, static.Apply([]Route{{Table: TableMain, Prefix: p20, NextHops: []NextHop{{Gateway: gw1}}}}, nil))
	r.SetInstallError(Key{TableMain, p20}, errors.New("network is unreachable"))
	if e, _ := r.Get(Key{TableMain, p20}); e.InstallError != "network is unreachable" {
		t.Fatalf("install error %q", e.InstallError)
	}
	r.SetInstallError(Key{TableMain, p20}, nil)
	if e, _ := r.Get(Key{TableMain, p20}); e.InstallError != "" {
		t.Fatalf("install error not cleared: %q", e.InstallError)
	}
}

func TestResolveNextHopSkipsBGP(t *testing.T) {
	r, _, static, _ := lab(t)
	bgp := r.NewSource(OriginEBGP, "bgp")
	must(t, static.Apply([]Route{{Table: TableMain, Prefix: netip.MustParsePrefix("10.20.0.0/16"), Metric: 7, NextHops: []NextHop{{Gateway: gw1}}}}, nil))
	// A more specific BGP route covers the gateway; resolution goes under it.
	must(t, bgp.Apply([]Route{{Table: TableMain, Prefix: netip.MustParsePrefix("10.20.5.0/24"), Distance: 20, NextHops: []NextHop{{Gateway: gw2}}}}, nil))
	res, ok := r.ResolveNextHop(TableMain, far)
	if !ok || res.Origin != OriginStatic || res.Metric != 7 || len(res.NextHops) != 1 || res.NextHops[0].Gateway != gw1 {
		t.Fatalf("ResolveNextHop(%s) = %+v, %v; want the static /16 via %s", far, res, ok, gw1)
	}
	res, ok = r.ResolveNextHop(TableMain, gw2)
	if !ok || res.Origin != OriginConnected || res.NextHops[0].Gateway != gw2 || res.NextHops[0].Ifindex != 1 {
		t.Fatalf("connected gateway: %+v, %v", res, ok)
	}
	// A route via a gateway only BGP covers does not resolve.
	must(t, static.Apply([]Route{{Table: TableMain, Prefix: netip.MustParsePrefix("192.0.2.0/24"), NextHops: []NextHop{{Gateway: netip.MustParseAddr("10.99.0.1")}}}}, nil))
	must(t, bgp.Apply([]Route{{Table: TableMain, Prefix: netip.MustParsePrefix("10.99.0.0/16"), Distance: 20, NextHops: []NextHop{{Gateway: gw2}}}}, nil))
	if c, _ := selected(t, r, netip.MustParsePrefix("192.0.2.0/24")); c.Selected {
		t.Fatal("a static route resolved recursively through BGP")
	}
}

func TestSubscribeExcludingOrigins(t *testing.T) {
	r, _, static, _ := lab(t)
	bgp := r.NewSource(OriginEBGP, "bgp")
	must(t, bgp.Apply([]Route{{Table: TableMain, Prefix: netip.MustParsePrefix("198.51.100.0/24"), Distance: 20, NextHops: []NextHop{{Gateway: gw1}}}}, nil))
	sub, err := r.Subscribe("bgp", OriginEBGP, OriginIBGP)
	must(t, err)
	defer sub.Close()
	if u := drain(sub); len(u.Routes) != 2 { // the two connected routes, not the BGP one
		t.Fatalf("snapshot: %+v", u.Routes)
	}
	// BGP-only changes are not reported...
	must(t, bgp.Apply([]Route{{Table: TableMain, Prefix: p20, Distance: 20, NextHops: []NextHop{{Gateway: gw1}}}}, nil))
	if u := drain(sub); len(u.Routes) != 0 {
		t.Fatalf("BGP route reported to a subscriber excluding BGP: %+v", u.Routes)
	}
	// ...but a static route taking over from BGP is, and so is BGP taking back.
	must(t, static.Apply([]Route{{Table: TableMain, Prefix: p20, Distance: 1, NextHops: []NextHop{{Gateway: gw2}}}}, nil))
	if u := drain(sub); len(u.Routes) != 1 || u.Routes[0].Best.Origin != OriginStatic {
		t.Fatalf("static over BGP: %+v", u.Routes)
	}
	must(t, static.Apply(nil, []Key{{TableMain, p20}}))
	if u := drain(sub); len(u.Routes) != 1 || u.Routes[0].Best.Origin != OriginEBGP {
		t.Fatalf("back to BGP: %+v", u.Routes)
	}
}
