package rib

import (
	"net/netip"
	"testing"

	"github.com/routerd/routerd/internal/prefixmap"
)

func mk(s string) prefixmap.Key { return prefixmap.From(netip.MustParsePrefix(s)) }

// TestIndexReferences checks that a key keeps its ID while any holder
// has a reference, goes with the last one, and that its ID is reused.
func TestIndexReferences(t *testing.T) {
	x := NewIndex()
	var mine, theirs IDSet
	a := x.Take(254, mk("192.0.2.0/24"), &mine)
	mine.Set(a)
	if a == 0 {
		t.Fatal("ID 0 handed out")
	}
	if again := x.Take(254, mk("192.0.2.0/24"), &mine); again != a {
		t.Fatalf("second take by the same holder: ID %d, want %d", again, a)
	}
	if x.refs[a] != 1 {
		t.Fatalf("refs %d after two takes by one holder, want 1", x.refs[a])
	}
	if b := x.Take(254, mk("192.0.2.0/24"), &theirs); b != a {
		t.Fatalf("other holder: ID %d, want %d", b, a)
	}
	theirs.Set(a)
	other := x.Take(100, mk("192.0.2.0/24"), &mine) // same prefix, other table
	if other == a {
		t.Fatal("two tables' keys share an ID")
	}
	x.Release(IndexRef{254, mk("192.0.2.0/24"), a})
	if id, ok := x.Find(254, mk("192.0.2.0/24")); !ok || id != a {
		t.Fatalf("key gone while a holder has it: %d %v", id, ok)
	}
	x.Release(IndexRef{254, mk("192.0.2.0/24"), a})
	if _, ok := x.Find(254, mk("192.0.2.0/24")); ok {
		t.Fatal("key kept after its last reference")
	}
	if c := x.Take(254, mk("198.51.100.0/24"), &IDSet{}); c != a {
		t.Fatalf("freed ID not reused: got %d, want %d", c, a)
	}
	x.Hold([]uint32{a})
	x.Release(IndexRef{254, mk("198.51.100.0/24"), a})
	if _, ok := x.Find(254, mk("198.51.100.0/24")); !ok {
		t.Fatal("Hold's reference not counted")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a reference released twice went unnoticed")
		}
	}()
	x.Release(IndexRef{254, mk("198.51.100.0/24"), a}, IndexRef{254, mk("198.51.100.0/24"), a})
}

// TestIndexWalk walks more keys than a chunk, with a filter, releasing
// keys as it goes.
func TestIndexWalk(t *testing.T) {
	x := NewIndex()
	none := &IDSet{}
	n := keysChunk*2 + 17
	ids := map[uint32]netip.Prefix{}
	for i := range n {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
		ids[x.Take(254, prefixmap.From(p), none)] = p
	}
	x.Take(254, mk("2001:db8::/32"), none)
	odd := func(id uint32) bool { return id%2 == 1 }
	var last prefixmap.Key
	seen := 0
	x.Walk(254, nil, odd, func(k prefixmap.Key, id uint32) bool {
		if seen > 0 && !last.V6 && !k.V6 && k.Hi <= last.Hi {
			t.Fatalf("out of order: %v after %v", k, last)
		}
		if id%2 != 1 {
			t.Fatalf("filter not applied: %d", id)
		}
		if p, ok := ids[id]; ok && prefixmap.From(p) != k {
			t.Fatalf("ID %d is %v, walk says %v", id, p, k)
		}
		x.Release(IndexRef{254, k, id}) // allowed for the key the walk is at
		last = k
		seen++
		return true
	})
	want := (n + 1 + 1) / 2 // IDs 1..n+1, odd ones
	if seen != want {
		t.Fatalf("walk saw %d keys, want %d", seen, want)
	}
	if got := x.Len(254); got != n+1-want {
		t.Fatalf("%d keys left, want %d", got, n+1-want)
	}
}

// TestRouteIDs offers routes that name their key's ID, the way a protocol
// that keeps its table by the index does, and checks that the RIB keeps
// them under that ID, that another source offering the same prefix by
// value lands on the same entry, and that the key leaves the index only
// when both the protocol and the RIB have let it go, also when a route is
// offered and withdrawn in one batch.
func TestRouteIDs(t *testing.T) {
	r, _, static, api := lab(t)
	x := r.Index()
	var proto IDSet // the protocol's held IDs
	take := func(p netip.Prefix) uint32 {
		id := x.Take(TableMain, prefixmap.From(p), &proto)
		proto.Set(id)
		return id
	}
	sub, err := r.Subscribe("ids")
	must(t, err)
	t.Cleanup(sub.Close)
	id := take(p20)
	must(t, api.Apply([]Route{{Table: TableMain, Prefix: p20, NextHops: []NextHop{{Gateway: gw1}}, ID: id}}, nil))
	if _, ok := r.Get(Key{TableMain, p20}); !ok {
		t.Fatal("route offered by ID not found by prefix")
	}
	must(t, static.Apply([]Route{{Table: TableMain, Prefix: p20, Distance: 1, NextHops: []NextHop{{Gateway: gw2}}}}, nil))
	e, _ := r.Get(Key{TableMain, p20})
	if len(e.Candidates) != 2 {
		t.Fatalf("by value and by ID on different entries: %+v", e)
	}
	told := false
	for u := sub.Next(100); !u.Empty(); u = sub.Next(100) {
		for _, rc := range u.Routes {
			if rc.Key.Prefix == p20 {
				if rc.ID != id {
					t.Fatalf("subscriber told ID %d, want %d", rc.ID, id)
				}
				told = true
			}
		}
	}
	if !told {
		t.Fatal("subscriber not told")
	}
	must(t, static.Apply(nil, []Key{{TableMain, p20}}))
	must(t, api.Apply(nil, []Key{{TableMain, p20}}))
	for u := sub.Next(100); !u.Empty(); u = sub.Next(100) {
	}
	if _, ok := r.Get(Key{TableMain, p20}); ok {
		t.Fatal("route still there")
	}
	if got, ok := x.Find(TableMain, prefixmap.From(p20)); !ok || got != id {
		t.Fatal("key gone while the protocol holds it")
	}
	x.Release(IndexRef{TableMain, prefixmap.From(p20), id})
	proto.Clear(id)
	if _, ok := x.Find(TableMain, prefixmap.From(p20)); ok {
		t.Fatal("key kept after both holders let it go")
	}
	// Offered by ID and withdrawn in one batch: the RIB's reference is
	// taken before it is released.
	id = take(p6)
	must(t, api.Apply([]Route{{Table: TableMain, Prefix: p6, NextHops: []NextHop{{Gateway: gw6}}, ID: id}}, []Key{{TableMain, p6}}))
	for u := sub.Next(100); !u.Empty(); u = sub.Next(100) {
	}
	x.Release(IndexRef{TableMain, prefixmap.From(p6), id})
	if _, ok := x.Find(TableMain, prefixmap.From(p6)); ok {
		t.Fatal("key kept after an offer and withdrawal in one batch")
	}
}
