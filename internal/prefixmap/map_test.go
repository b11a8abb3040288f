package prefixmap

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// randKey returns a random key, biased towards few distinct buckets so
// that buckets grow, shrink and empty.
func randKey(r *rand.Rand) Key {
	if r.IntN(3) == 0 {
		var a [16]byte
		a[0], a[1] = 0x20, 0x01
		a[2], a[3] = 0x0d, byte(r.IntN(4))
		for i := 4; i < 16; i++ {
			a[i] = byte(r.IntN(256))
		}
		bits := []int{0, 16, 32, 33, 47, 48, 56, 64, 65, 96, 127, 128}[r.IntN(12)]
		return From(netip.PrefixFrom(netip.AddrFrom16(a), bits))
	}
	a := netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))})
	bits := []int{0, 1, 8, 15, 16, 17, 23, 24, 25, 31, 32}[r.IntN(11)]
	return From(netip.PrefixFrom(a, bits))
}

// check compares m with the reference map: lookups, lengths and the
// order of All.
func check(t *testing.T, m *Map[int], ref map[Key]int) {
	t.Helper()
	if m.Len() != len(ref) {
		t.Fatalf("Len %d, want %d", m.Len(), len(ref))
	}
	n4 := 0
	for k, v := range ref {
		if !k.V6 {
			n4++
		}
		if got, ok := m.Get(k); !ok || got != v {
			t.Fatalf("Get(%s) = %d, %v; want %d", k, got, ok, v)
		}
	}
	if m.Len4() != n4 || m.Len6() != len(ref)-n4 {
		t.Fatalf("Len4/Len6 %d/%d, want %d/%d", m.Len4(), m.Len6(), n4, len(ref)-n4)
	}
	var keys []Key
	for k, v := range m.All() {
		if ref[k] != *v {
			t.Fatalf("All: %s = %d, want %d", k, *v, ref[k])
		}
		keys = append(keys, k)
	}
	if len(keys) != len(ref) {
		t.Fatalf("All gave %d keys, want %d", len(keys), len(ref))
	}
	if !slices.IsSortedFunc(keys, Key.Compare) {
		t.Fatal("All is not in key order")
	}
}

func TestDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var m Map[int]
	ref := map[Key]int{}
	for round := range 20 {
		for range 3000 {
			k := randKey(r)
			switch r.IntN(4) {
			case 0, 1:
				v := r.Int()
				m.Put(k, v)
				ref[k] = v
			case 2:
				_, want := ref[k]
				if got := m.Delete(k); got != want {
					t.Fatalf("Delete(%s) = %v, want %v", k, got, want)
				}
				delete(ref, k)
			case 3:
				p, ok := m.Entry(k)
				if _, want := ref[k]; ok != want {
					t.Fatalf("Entry(%s) existed %v, want %v", k, ok, want)
				}
				*p++
				ref[k]++
			}
			if _, ok := ref[k]; (m.Ptr(k) != nil) != ok {
				t.Fatalf("Ptr(%s) presence wrong", k)
			}
		}
		check(t, &m, ref)
		if round%7 == 3 {
			m.Compact()
			check(t, &m, ref)
		}
		if round%5 == 4 {
			// Delete every other key, and change the rest, while iterating.
			i := 0
			for k, v := range m.All() {
				if i%2 == 0 {
					m.Delete(k)
					delete(ref, k)
				} else {
					*v += 7
					ref[k] += 7
				}
				i++
			}
			check(t, &m, ref)
		}
	}
	for k := range m.All() {
		m.Delete(k)
	}
	if m.Len() != 0 {
		t.Fatalf("after deleting all: Len %d", m.Len())
	}
	if n := leaves(&m.v4) + leaves(&m.v6); n != 0 {
		t.Fatalf("after deleting all: %d leaves stayed", n)
	}
}

func TestKeyRoundTrip(t *testing.T) {
	for _, s := range []string{"0.0.0.0/0", "10.1.2.0/24", "255.255.255.255/32", "::/0", "2001:db8::/32",
		"2001:db8:1:2:3:4:5:6/127", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "::ffff:10.0.0.0/104"} {
		p := netip.MustParsePrefix(s)
		k := From(p)
		if k.Prefix() != p {
			t.Errorf("%s -> %s", p, k.Prefix())
		}
		var m Map[string]
		m.Put(k, s)
		for got := range m.All() {
			if got != k {
				t.Errorf("%s: All gave %s (%+v, want %+v)", s, got, got, k)
			}
		}
	}
	if !From(netip.MustParsePrefix("10.0.0.0/8")).Contains(From(netip.MustParsePrefix("10.1.0.0/16"))) {
		t.Error("10/8 should contain 10.1/16")
	}
	if From(netip.MustParsePrefix("10.1.0.0/16")).Contains(From(netip.MustParsePrefix("10.0.0.0/8"))) {
		t.Error("10.1/16 should not contain 10/8")
	}
}

func TestAllStops(t *testing.T) {
	var m Map[int]
	for i := range 100 {
		m.Put(From4(uint32(i)<<8, 24), i)
		m.Put(From(netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 1, byte(i)}), 24)), i)
	}
	n := 0
	for range m.All() {
		if n++; n == 150 {
			break
		}
	}
	if n != 150 {
		t.Fatalf("stopped after %d", n)
	}
}

// leaves counts the leaves under n, and fails the test on an empty one.
func leaves[K leafKey, V any](n *node[K, V]) int {
	if n.kids == nil {
		if len(n.keys) == 0 {
			panic("empty leaf")
		}
		return 1
	}
	c := 0
	for _, k := range n.kids {
		if k != nil {
			c += leaves(k)
		}
	}
	return c
}

// TestBurst fills one /16 and one IPv6 /24 far beyond a leaf's size, in
// reverse order, and checks that the leaves burst and every key stays.
func TestBurst(t *testing.T) {
	var m Map[int]
	ref := map[Key]int{}
	for i := 4095; i >= 0; i-- {
		k4 := From4(0x0a010000|uint32(i)<<4, 28)
		k6 := From(netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 1, 0xd, byte(i >> 8), byte(i)}), 40))
		m.Put(k4, i)
		m.Put(k6, -i)
		ref[k4], ref[k6] = i, -i
	}
	check(t, &m, ref)
	if n := leaves(&m.v4); n < 4096/maxLeaf {
		t.Errorf("IPv4: %d leaves", n)
	}
	if n := leaves(&m.v6); n < 4096/maxLeaf {
		t.Errorf("IPv6: %d leaves", n)
	}
	// A leaf whose keys share their address cannot burst.
	var same Map[int]
	for bits := range 129 {
		same.Put(From(netip.PrefixFrom(netip.IPv6Unspecified(), bits)), bits)
	}
	if same.Len() != 129 || leaves(&same.v6) != 1 {
		t.Errorf("::/n: %d keys in %d leaves", same.Len(), leaves(&same.v6))
	}
}

// checkAfter compares After with the keys of All that sort after k.
func checkAfter(t *testing.T, m *Map[int], k Key) {
	t.Helper()
	var want, got []Key
	for x := range m.All() {
		if x.Compare(k) > 0 {
			want = append(want, x)
		}
	}
	for x := range m.After(k) {
		got = append(got, x)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("After(%s): %d keys, want %d", k, len(got), len(want))
	}
}

func TestAfter(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var m Map[int]
	for i := range 20000 {
		m.Put(randKey(r), i)
	}
	for range 300 {
		checkAfter(t, &m, randKey(r))
	}
	for k := range m.All() {
		if r.IntN(50) == 0 {
			checkAfter(t, &m, k)
		}
	}
	// Resuming after the last key seen visits every key once, while the
	// map changes in between (deletions behind and ahead of the cursor).
	var seen []Key
	var last Key
	started := false
	for {
		it := m.All()
		if started {
			it = m.After(last)
		}
		n := 0
		for k := range it {
			seen = append(seen, k)
			last, started = k, true
			if n++; n == 777 {
				break
			}
		}
		if n < 777 {
			break
		}
		m.Delete(randKey(r))
	}
	if !slices.IsSortedFunc(seen, Key.Compare) || len(slices.CompactFunc(slices.Clone(seen), func(a, b Key) bool { return a == b })) != len(seen) {
		t.Fatal("chunked walk out of order or repeated")
	}
	var empty Map[int]
	for range empty.After(From4(0, 0)) {
		t.Fatal("an empty map yielded a key")
	}
}
