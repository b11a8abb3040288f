package rib

import (
	"fmt"
	"net/netip"
	"testing"
)

// TestCompact checks that packing the tables changes nothing a reader
// sees, and that the RIB takes changes afterwards as before.
func TestCompact(t *testing.T) {
	r, _, static, _ := lab(t)
	var routes []Route
	for i := range 2000 {
		routes = append(routes,
			Route{Table: TableMain, Prefix: netip.MustParsePrefix(fmt.Sprintf("198.%d.%d.0/24", 18+i/256, i%256)), NextHops: []NextHop{{Gateway: gw1}}},
			Route{Table: 100, Prefix: netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", i)), Kind: KindBlackhole})
	}
	must(t, static.Apply(routes, nil))
	listing := func() []string {
		var out []string
		r.Walk(Filter{}, func(e Entry) bool {
			c, _ := e.Selected()
			out = append(out, fmt.Sprintf("%d %s %v", e.Key.Table, e.Key.Prefix, c.Resolved))
			return true
		})
		return out
	}
	before := listing()
	r.Compact()
	after := listing()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("the listing changed:\n%v\n%v", before[:5], after[:5])
	}
	must(t, static.Apply([]Route{{Table: TableMain, Prefix: netip.MustParsePrefix("198.18.0.128/25"), NextHops: []NextHop{{Gateway: gw2}}}},
		[]Key{{TableMain, netip.MustParsePrefix("198.18.1.0/24")}}))
	if _, ok := r.Get(Key{TableMain, netip.MustParsePrefix("198.18.1.0/24")}); ok {
		t.Error("a route withdrawn after Compact stayed")
	}
	if e, ok := r.Lookup(TableMain, netip.MustParseAddr("198.18.0.200")); !ok || e.Key.Prefix.Bits() != 25 {
		t.Errorf("longest match after Compact: %+v, %v", e.Key, ok)
	}
	if got := len(listing()); got != len(before) {
		t.Errorf("%d entries after one added and one withdrawn, want %d", got, len(before))
	}
}
