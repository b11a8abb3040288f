package fib

import (
	"math/rand/v2"
	"testing"
)

// TestRuleSetLowHalves churns IPv6 prefixes longer than /64, whose low
// halves the prefix set keeps aside, beside prefixes without one: every
// member is found with its own leaf, deleted members are gone, and the
// side array is reused rather than grown.
func TestRuleSetLowHalves(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	var rs ruleSet
	type member struct {
		k    key
		l    int
		leaf uint32
	}
	var ms []member
	for i := 0; i < 3000; i++ {
		l := []int{32, 48, 64, 96, 127, 128}[i%6]
		k := key{rng.Uint64(), rng.Uint64()}.mask(l)
		leaf := uint32(l)<<23 | uint32(i+1)
		at, had := rs.find(k, l)
		if had {
			continue
		}
		rs.setAt(at, k, l, leaf)
		ms = append(ms, member{k, l, leaf})
	}
	check := func(live []member, gone []member) {
		t.Helper()
		for _, m := range live {
			if leaf, ok := rs.get(m.k, m.l); !ok || leaf != m.leaf {
				t.Fatalf("%x/%d: got %#x %v, want %#x", m.k, m.l, leaf, ok, m.leaf)
			}
		}
		for _, m := range gone {
			if _, ok := rs.get(m.k, m.l); ok {
				t.Fatalf("%x/%d: still there after delete", m.k, m.l)
			}
		}
	}
	check(ms, nil)
	sides := len(rs.los)
	if sides == 0 {
		t.Fatal("no low half kept aside")
	}
	for round := 0; round < 5; round++ {
		rng.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
		half := len(ms) / 2
		for _, m := range ms[:half] {
			at, ok := rs.find(m.k, m.l)
			if !ok {
				t.Fatalf("%x/%d not found for delete", m.k, m.l)
			}
			rs.delAt(at, m.k, m.l)
		}
		check(ms[half:], ms[:half])
		for _, m := range ms[:half] {
			at, _ := rs.find(m.k, m.l)
			rs.setAt(at, m.k, m.l, m.leaf)
		}
		check(ms, nil)
		if len(rs.los) != sides || len(rs.losFree) != 0 {
			t.Fatalf("round %d: %d low halves kept (%d free), want %d", round, len(rs.los), len(rs.losFree), sides)
		}
	}
}
