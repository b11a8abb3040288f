package bgp

import (
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
