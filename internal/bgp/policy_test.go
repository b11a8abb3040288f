package bgp

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unique"

	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/config"
)

// TestPolicyLargeCommunities checks matching on, adding and removing RFC
// 8092 large communities next to standard ones, as a route server's action
// communities use them.
func TestPolicyLargeCommunities(t *testing.T) {
	c, err := config.Parse("p.yaml", []byte(`router-id: 192.0.2.1
policy:
  community-lists:
    no-65003: ["65001:0:65003"]
    tagged: ["65001:7"]
  policies:
    export:
      - match: {community-list: no-65003}
        action: reject
      - match: {community-list: tagged}
        set: {community-add: ["65001:1:1", "65001:2"], community-remove: ["65001:9:9", "65001:7"]}
      - action: accept
`))
	if err != nil {
		t.Fatal(err)
	}
	pol := compilePolicy("export", &c.Policy)
	run := func(comms []wire.Community, large ...wire.LargeCommunity) (string, bool) {
		a := nhAttrs("10.9.0.2", 65002).Value()
		a.Communities = wire.MakeCommunities(comms...)
		a.LargeCommunities = wire.MakeLargeCommunities(large...)
		ev := newEvaluator(pol, env{localAS: 65001}, nil)
		out, ok := ev.eval(wire.MustParsePrefix("192.0.2.0/24"), unique.Make(a))
		if !ok {
			return "", false
		}
		v := out.Value()
		return strings.TrimSpace(v.Communities.String() + " " + largeString(v.LargeCommunities)), true
	}
	if _, ok := run(nil, wire.LargeCommunity{Global: 65001, Local1: 0, Local2: 65003}); ok {
		t.Error("a route with 65001:0:65003 was accepted")
	}
	if got, ok := run(nil, wire.LargeCommunity{Global: 65001, Local1: 0, Local2: 65004}); !ok || got != "65001:0:65004" {
		t.Errorf("untagged route: %q, %v", got, ok)
	}
	got, ok := run([]wire.Community{65001<<16 | 7, 65001<<16 | 8}, wire.LargeCommunity{Global: 65001, Local1: 9, Local2: 9},
		wire.LargeCommunity{Global: 65001, Local1: 1, Local2: 1})
	if want := "65001:8 65001:2 65001:1:1"; !ok || got != want {
		t.Errorf("tagged route: %q, %v; want %q", got, ok, want)
	}
}

func largeString(l wire.LargeCommunities) string {
	var parts []string
	for i := range l.Len() {
		parts = append(parts, l.At(i).String())
	}
	return strings.Join(parts, " ")
}

func ext(s string) wire.ExtCommunity {
	c, err := config.Parse("e.yaml", []byte("policy:\n  community-lists:\n    l: [\""+s+"\"]\n"))
	if err != nil {
		panic(err)
	}
	return wire.ExtCommunity(c.Policy.CommunityLists["l"].Extended[0])
}

func extString(l wire.ExtCommunities) string {
	var parts []string
	for i := range l.Len() {
		parts = append(parts, l.At(i).String())
	}
	return strings.Join(parts, " ")
}

// TestPolicyExtendedCommunities checks matching on, adding and removing
// RFC 4360 extended communities, alone and in lists mixed with standard
// and large communities.
func TestPolicyExtendedCommunities(t *testing.T) {
	c, err := config.Parse("p.yaml", []byte(`router-id: 192.0.2.1
policy:
  community-lists:
    vpn: ["rt:65001:100"]
    mixed: ["65001:7", "65001:1:1", "soo:65536:1"]
  policies:
    import:
      - match: {community-list: vpn}
        set: {local-pref: 300, community-add: ["rt:65001:100", "0x4004fde900000064"], community-remove: ["soo:65536:1", "65001:7"]}
        action: accept
      - match: {community-list: mixed}
        set: {local-pref: 200, community-add: ["rt:192.0.2.1:5", "65001:8"], community-remove: ["65001:1:1"]}
        action: accept
      - action: reject
`))
	if err != nil {
		t.Fatal(err)
	}
	pol := compilePolicy("import", &c.Policy)
	type route struct {
		comms []wire.Community
		large []wire.LargeCommunity
		ext   []string
	}
	tests := []struct {
		name string
		in   route
		ok   bool
		pref uint32
		want string // communities|large|extended
	}{
		{"no communities", route{}, false, 0, ""},
		{"another route target", route{ext: []string{"rt:65001:200", "soo:65001:100"}}, false, 0, ""},
		{"four-octet AS form of the same numbers", route{ext: []string{"0x0202 0000fde9 0064"}}, false, 0, ""},
		{"route target", route{ext: []string{"rt:65001:100"}}, true, 300, "||rt:65001:100 0x4004fde900000064"},
		{"route target and more", route{comms: []wire.Community{65001<<16 | 7}, ext: []string{"soo:65536:1", "rt:65001:200", "rt:65001:100"}},
			true, 300, "||rt:65001:200 rt:65001:100 0x4004fde900000064"},
		{"standard in the mixed list", route{comms: []wire.Community{65001<<16 | 7}}, true, 200, "65001:7 65001:8||rt:192.0.2.1:5"},
		{"large in the mixed list", route{large: []wire.LargeCommunity{{Global: 65001, Local1: 1, Local2: 1}}, ext: []string{"rt:192.0.2.1:5"}},
			true, 200, "65001:8||rt:192.0.2.1:5"},
		{"extended in the mixed list", route{ext: []string{"soo:65536:1"}}, true, 200, "65001:8||soo:65536:1 rt:192.0.2.1:5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := nhAttrs("10.9.0.2", 65002).Value()
			a.Communities = wire.MakeCommunities(tc.in.comms...)
			a.LargeCommunities = wire.MakeLargeCommunities(tc.in.large...)
			for _, e := range tc.in.ext {
				if strings.HasPrefix(e, "0x") {
					e = strings.ReplaceAll(e, " ", "")
				}
				a.ExtCommunities = a.ExtCommunities.Append(ext(e))
			}
			ev := newEvaluator(pol, env{localAS: 65001}, nil)
			out, ok := ev.eval(wire.MustParsePrefix("192.0.2.0/24"), unique.Make(a))
			if ok != tc.ok {
				t.Fatalf("accepted %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			v := out.Value()
			got := v.Communities.String() + "|" + largeString(v.LargeCommunities) + "|" + extString(v.ExtCommunities)
			if got != tc.want || v.LocalPref != tc.pref {
				t.Errorf("got %q local-pref %d, want %q %d", got, v.LocalPref, tc.want, tc.pref)
			}
		})
	}
}

// TestExtendedCommunityStringsAgree checks that the configuration and the
// wire package print every extended community alike, so what routerctl
// shows can be written in a policy.
func TestExtendedCommunityStringsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20000 {
		var b [8]byte
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if i%2 == 0 {
			b[0], b[1] = byte(rng.IntN(4)), byte(rng.IntN(5))
		}
		if i%8 == 0 {
			b[2], b[3] = 0, 0 // four-octet AS below 65536
		}
		cs, ws := config.ExtendedCommunity(b).String(), wire.ExtCommunity(b).String()
		if cs != ws {
			t.Fatalf("%x: config %q, wire %q", b, cs, ws)
		}
		if got := ext(ws); got != wire.ExtCommunity(b) {
			t.Fatalf("%x printed as %q reads back as %x", b, ws, got)
		}
	}
}

// TestExportNonTransitiveExtCommunities checks that routes exported to
// eBGP neighbours lose their non-transitive extended communities (RFC 4360
// §6) and keep the transitive ones, whether learned or local, that iBGP
// neighbours get both, and that an export policy may add a non-transitive
// one on purpose.
func TestExportNonTransitiveExtCommunities(t *testing.T) {
	s, _ := testSpeaker(t)
	c, err := config.Parse("p.yaml", []byte(`policy:
  policies:
    tag:
      - set: {community-add: ["0x4004fde900000001"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	s.pol = &c.Policy
	s.mu.Lock()
	defer s.mu.Unlock()
	plain := fakeSession(s, "10.9.0.11", 65011, config.PolicyAcceptAll)
	tagged := fakeSession(s, "10.9.0.12", 65012, "tag")
	ik := plain.groupKey()
	ik.ebgp, ik.opts.EBGP = false, false
	ibgp := s.newGroup(ik, plain)

	rt, soo, nt := ext("rt:65001:100"), ext("soo:65536:1"), ext("0x4004fde900000064")
	withMED := func(es ...wire.ExtCommunity) unique.Handle[wire.Attrs] {
		a := nhAttrs("10.9.0.2", 65002).Value()
		a.ExtCommunities = wire.MakeExtCommunities(es...)
		a.MED, a.Present = 5, a.Present.With(wire.AttrMED)
		return unique.Make(a)
	}
	fromEBGP := &slotInfo{used: true, ebgp: true, routerID: 2}
	local := &slotInfo{used: true, local: true}
	pfx := wire.MustParsePrefix("192.0.2.0/24")
	tests := []struct {
		name string
		g    *updGroup
		h    unique.Handle[wire.Attrs]
		src  *slotInfo
		want string
		med  bool
	}{
		{"eBGP learned", plain.g, withMED(nt, rt, nt, soo), fromEBGP, "rt:65001:100 soo:65536:1", false},
		{"eBGP learned, only non-transitive", plain.g, withMED(nt), fromEBGP, "", false},
		{"eBGP learned, only transitive", plain.g, withMED(rt), fromEBGP, "rt:65001:100", false},
		{"eBGP local", plain.g, withMED(nt, rt), local, "rt:65001:100", true},
		{"eBGP export policy adds one", tagged.g, withMED(nt, rt), fromEBGP, "rt:65001:100 0x4004fde900000001", false},
		{"iBGP", ibgp, withMED(nt, rt, soo), fromEBGP, "0x4004fde900000064 rt:65001:100 soo:65536:1", true},
		{"iBGP local", ibgp, withMED(nt), local, "0x4004fde900000064", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // the second time from the group's caches
				out, ok := tc.g.exportFrom(s, pfx, tc.h, tc.src)
				if !ok {
					t.Fatal("not exported")
				}
				v := out.Value()
				if got := extString(v.ExtCommunities); got != tc.want || v.Present.Has(wire.AttrMED) != tc.med {
					t.Errorf("extended communities %q, MED %v; want %q, %v", got, v.Present.Has(wire.AttrMED), tc.want, tc.med)
				}
			}
		})
	}
}
