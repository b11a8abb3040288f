package rib

import (
	"net/netip"
	"testing"
	"unsafe"
)

// A key withdrawn while a slow subscriber has it pending stays as a
// tombstone until that subscriber has seen it go (or closes); its id is
// then reused without confusing anyone's pending set.
func TestFeedTombstones(t *testing.T) {
	r, _, static, _ := lab(t)
	fast, fm := subscribe(t, r, "fast", false)
	slow, sm := subscribe(t, r, "slow", false)
	routes := func(n int, metric uint32) []Route {
		var out []Route
		for i := 0; i < n; i++ {
			out = append(out, Route{Table: TableMain, Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i), 0}), 24), Metric: metric, NextHops: []NextHop{{Gateway: gw1}}})
		}
		return out
	}
	keys := func(n int) []Key {
		var out []Key
		for _, rt := range routes(n, 0) {
			out = append(out, Key{rt.Table, rt.Prefix})
		}
		return out
	}
	must(t, static.Apply(routes(10, 1), nil))
	fm.drain(fast, 4)
	sm.drain(slow, 4)
	must(t, static.Apply(nil, keys(10)))
	fm.drain(fast, 4)
	if st := r.Stats(); st.Keys != 12 {
		t.Fatalf("%d keys: the withdrawn ones must stay while slow has them pending", st.Keys)
	}
	// Offered again before slow drained: still one change each for slow.
	must(t, static.Apply(routes(5, 2), nil))
	if u := sm.drain(slow, 4); len(u.Routes) != 10 {
		t.Fatalf("slow: %d changes, want 10", len(u.Routes))
	}
	fm.drain(fast, 4)
	if st := r.Stats(); st.Keys != 7 {
		t.Fatalf("%d keys after everyone drained, want 7", st.Keys)
	}
	// Ids of the 5 forgotten keys are reused by new keys.
	more := []Route{}
	for i := 0; i < 5; i++ {
		more = append(more, Route{Table: TableMain, Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 17, byte(i), 0}), 24), NextHops: []NextHop{{Gateway: gw1}}})
	}
	must(t, static.Apply(more, keys(5)))
	fm.drain(fast, 4)
	slow.Close()
	if st := r.Stats(); st.Keys != 7 {
		t.Fatalf("%d keys after slow closed, want 7", st.Keys)
	}
	want := ribForwarding(r)
	sameForwarding(t, "fast", fm.forwarding(), want)
	again, am := subscribe(t, r, "again", false)
	am.drain(again, 3)
	sameForwarding(t, "again", am.forwarding(), want)
}

func TestQueue(t *testing.T) {
	var q queue
	next, popped := uint32(0), uint32(0)
	check := func() {
		t.Helper()
		if q.len() != int(next-popped) {
			t.Fatalf("len %d, want %d", q.len(), next-popped)
		}
		i := popped
		for pr := range q.all {
			if pr.id != i {
				t.Fatalf("all: %d, want %d", pr.id, i)
			}
			i++
		}
		if i != next {
			t.Fatalf("all stopped at %d, want %d", i, next)
		}
	}
	for round, n := range []int{1, chunkLen - 1, 1, 3 * chunkLen, 5, chunkLen} {
		for i := 0; i < n; i++ {
			q.push(pendingRoute{id: next})
			next++
		}
		check()
		// Drain all but a few (odd rounds: everything).
		keep := uint32(3 * (round % 2))
		for next-popped > keep {
			if pr := q.pop(); pr.id != popped {
				t.Fatalf("pop %d, want %d", pr.id, popped)
			}
			popped++
		}
		check()
	}
	if len(q.spare) > spareChunks {
		t.Fatalf("%d spare chunks kept", len(q.spare))
	}
}

// The layout of entry is what a full table costs: keep it at 20 bytes,
// without pointers.
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(entry{}); n != 20 {
		t.Fatalf("entry is %d bytes, want 20", n)
	}
}

// C is signalled after Next only for what Next left or what came later.
func TestFeedSignal(t *testing.T) {
	r, _, static, _ := lab(t)
	sub, err := r.Subscribe("s")
	must(t, err)
	defer sub.Close()
	signalled := func() bool {
		select {
		case <-sub.C():
			return true
		default:
			return false
		}
	}
	drain(sub)
	// Several changes in one batch raise C more than once; one Next that
	// takes them all leaves it clear.
	must(t, static.Apply([]Route{
		{Table: TableMain, Prefix: p20, NextHops: []NextHop{{Gateway: gw1}}},
		{Table: TableMain, Prefix: p6, NextHops: []NextHop{{Gateway: gw6}}},
	}, nil))
	if u := sub.Next(10); len(u.Routes) != 2 {
		t.Fatalf("want both routes: %+v", u.Routes)
	}
	if signalled() {
		t.Fatal("C signalled with nothing left")
	}
	must(t, static.Apply(nil, []Key{{TableMain, p20}, {TableMain, p6}}))
	if u := sub.Next(1); len(u.Routes) != 1 {
		t.Fatalf("want one route: %+v", u.Routes)
	}
	if !signalled() {
		t.Fatal("C not signalled with one change left")
	}
	if u := sub.Next(1); len(u.Routes) != 1 || signalled() {
		t.Fatalf("want the last change and C clear: %+v", u.Routes)
	}
}

// TestSubscriptionKeys: the IDs a subscriber is given with its changes are
// the ones Keys walks, every key once in table and address order, across
// the walk's chunks; a withdrawn key the subscriber has not drained keeps
// its ID, and a drained one leaves.
func TestSubscriptionKeys(t *testing.T) {
	r, _, static, _ := lab(t)
	sub, err := r.Subscribe("keys")
	must(t, err)
	t.Cleanup(sub.Close)
	var routes []Route
	for i := 0; i < 3*keysChunk+17; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
		routes = append(routes, Route{Table: TableMain, Prefix: p, NextHops: []NextHop{{Gateway: gw1}}})
	}
	routes = append(routes, Route{Table: 100, Prefix: netip.MustParsePrefix("172.16.0.0/16"), NextHops: []NextHop{{Gateway: gw1}}})
	must(t, static.Apply(routes, nil))
	given := map[Key]uint32{}
	drain := func() {
		for u := sub.Next(1 << 20); !u.Empty(); u = sub.Next(1 << 20) {
			for _, rc := range u.Routes {
				given[rc.Key] = rc.ID
			}
		}
	}
	drain()
	walk := func() map[Key]uint32 {
		seen := map[Key]uint32{}
		var last Key
		sub.Keys(func(k Key, id uint32) bool {
			if _, dup := seen[k]; dup {
				t.Fatalf("%v walked twice", k)
			}
			if last.Prefix.IsValid() && (k.Table < last.Table || k.Table == last.Table && k.Prefix.Addr().Less(last.Prefix.Addr())) {
				t.Fatalf("%v after %v", k, last)
			}
			seen[k], last = id, k
			return true
		})
		return seen
	}
	// The lab's own routes (connected, static) are walked too.
	seen := walk()
	for _, rt := range routes {
		k := Key{rt.Table, rt.Prefix}
		id, ok := seen[k]
		if !ok || id != given[k] {
			t.Fatalf("%v: walked %v with ID %d, given ID %d", k, ok, id, given[k])
		}
	}
	if len(seen) != len(given) {
		t.Fatalf("walked %d keys, given %d", len(seen), len(given))
	}
	// Withdrawn but not drained: still there with its ID.
	gone := Key{routes[5].Table, routes[5].Prefix}
	must(t, static.Apply(nil, []Key{gone}))
	if id, ok := walk()[gone]; !ok || id != given[gone] {
		t.Fatalf("undrained withdrawn key: walked %v with ID %d, want ID %d", ok, id, given[gone])
	}
	drain()
	if _, ok := walk()[gone]; ok {
		t.Fatal("a drained withdrawn key is still walked")
	}
	n := 0
	sub.Keys(func(Key, uint32) bool { n++; return n < 10 })
	if n != 10 {
		t.Fatalf("the walk went on after yield returned false: %d calls", n)
	}
}
