package bgp

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/routerd/routerd/internal/bgp/wire"
)

func attrs(lp uint32, path []uint32, origin wire.Origin, med uint32) *wire.Attrs {
	a := &wire.Attrs{Origin: origin, LocalPref: lp, MED: med}
	a.Present = a.Present.With(wire.AttrOrigin).With(wire.AttrLocalPref).With(wire.AttrMED).With(wire.AttrASPath)
	a.ASPath = wire.MakeASPath(wire.ASSegment{Type: wire.ASSequence, ASNs: path})
	return a
}

func TestDecideSteps(t *testing.T) {
	t.Parallel()
	p := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	tests := []struct {
		name string
		cs   []candInfo
		want int
		why  Reason
	}{
		{"local pref", []candInfo{
			{i: 0, a: attrs(100, []uint32{1}, 0, 0), peer: p("10.0.0.1")},
			{i: 1, a: attrs(200, []uint32{1, 2, 3}, 2, 0), peer: p("10.0.0.2")},
		}, 1, ReasonLocalPref},
		{"as path", []candInfo{
			{i: 0, a: attrs(100, []uint32{1, 2}, 0, 0), peer: p("10.0.0.1")},
			{i: 1, a: attrs(100, []uint32{3}, 2, 0), peer: p("10.0.0.2")},
		}, 1, ReasonASPath},
		{"origin", []candInfo{
			{i: 0, a: attrs(100, []uint32{1}, 2, 0), peer: p("10.0.0.1")},
			{i: 1, a: attrs(100, []uint32{3}, 0, 0), peer: p("10.0.0.2")},
		}, 1, ReasonOrigin},
		{"med same as", []candInfo{
			{i: 0, a: attrs(100, []uint32{1}, 0, 5), neighAS: 1, peer: p("10.0.0.1")},
			{i: 1, a: attrs(100, []uint32{1}, 0, 3), neighAS: 1, peer: p("10.0.0.2")},
		}, 1, ReasonMED},
		{"med other as ignored", []candInfo{
			{i: 0, a: attrs(100, []uint32{1}, 0, 5), neighAS: 1, peer: p("10.0.0.1"), ebgp: true},
			{i: 1, a: attrs(100, []uint32{2}, 0, 3), neighAS: 2, peer: p("10.0.0.2")},
		}, 0, ReasonEBGP},
		{"igp cost", []candInfo{
			{i: 0, a: attrs(100, []uint32{1}, 0, 0), neighAS: 1, igp: 10, peer: p("10.0.0.1")},
			{i: 1, a: attrs(100, []uint32{2}, 0, 0), neighAS: 2, igp: 5, peer: p("10.0.0.2")},
		}, 1, ReasonIGPCost},
		{"router id", []candInfo{
			{i: 0, a: attrs(100, []uint32{1}, 0, 0), routerID: 9, peer: p("10.0.0.1")},
			{i: 1, a: attrs(100, []uint32{2}, 0, 0), routerID: 3, peer: p("10.0.0.2")},
		}, 1, ReasonRouterID},
		{"peer address", []candInfo{
			{i: 0, a: attrs(100, []uint32{1}, 0, 0), routerID: 3, peer: p("10.0.0.9")},
			{i: 1, a: attrs(100, []uint32{2}, 0, 0), routerID: 3, peer: p("10.0.0.2")},
		}, 1, ReasonPeerAddress},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why := decide(append([]candInfo(nil), tc.cs...), false)
			if got != tc.want || why != tc.why {
				t.Errorf("decide = %d (%s), want %d (%s)", got, why, tc.want, tc.why)
			}
		})
	}
}

// TestDecideOrderIndependent checks the classic MED case that pairwise
// comparison gets wrong: the result must not depend on arrival order.
func TestDecideOrderIndependent(t *testing.T) {
	t.Parallel()
	base := []candInfo{
		{a: attrs(100, []uint32{1}, 0, 10), neighAS: 1, ebgp: true, routerID: 1, peer: netip.MustParseAddr("10.0.0.1")},
		{a: attrs(100, []uint32{2}, 0, 5), neighAS: 2, ebgp: true, routerID: 2, peer: netip.MustParseAddr("10.0.0.2")},
		{a: attrs(100, []uint32{1}, 0, 0), neighAS: 1, ebgp: true, routerID: 3, igp: 1, peer: netip.MustParseAddr("10.0.0.3")},
		{a: attrs(100, []uint32{2}, 0, 7), neighAS: 2, ebgp: true, routerID: 0, peer: netip.MustParseAddr("10.0.0.4")},
	}
	var want netip.Addr
	for n := 0; n < 200; n++ {
		cs := append([]candInfo(nil), base...)
		rand.Shuffle(len(cs), func(i, j int) { cs[i], cs[j] = cs[j], cs[i] })
		for i := range cs {
			cs[i].i = i
		}
		byIdx := append([]candInfo(nil), cs...)
		got, _ := decide(cs, false)
		if n == 0 {
			want = byIdx[got].peer
		} else if byIdx[got].peer != want {
			t.Fatalf("order %d chose %s, earlier %s", n, byIdx[got].peer, want)
		}
	}
}
