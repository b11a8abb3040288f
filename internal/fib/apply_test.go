package fib

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// applyBoth makes cs on one writer through Insert and Delete, one by one,
// and on the other through Apply, fails unless both report the same
// errors for the same changes, and returns the errors.
func applyBoth(t testing.TB, one, batch *Writer, cs []Change) []error {
	t.Helper()
	want := make([]error, len(cs))
	for i, c := range cs {
		if c.Delete {
			want[i] = one.Delete(c.Table, c.Prefix)
		} else {
			want[i] = one.Insert(c.Table, c.Prefix, c.Action)
		}
	}
	got := make([]error, len(cs))
	last := -1
	batch.Apply(cs, func(i int, err error) {
		if i <= last || i >= len(cs) {
			t.Fatalf("failure reported for change %d after %d (batch of %d)", i, last, len(cs))
		}
		if err == nil {
			t.Fatalf("change %d: failure reported with a nil error", i)
		}
		last, got[i] = i, err
	})
	for i := range cs {
		if (want[i] == nil) != (got[i] == nil) || (want[i] != nil && want[i].Error() != got[i].Error()) ||
			errors.Is(want[i], ErrNotFound) != errors.Is(got[i], ErrNotFound) {
			t.Fatalf("change %d (%+v): Insert/Delete: %v, Apply: %v", i, cs[i], want[i], got[i])
		}
	}
	return want
}

// sameAnswers fails unless both writers answer the same for addr in table
// (the same kind, prefix length and group).
func sameAnswers(t testing.TB, a, b *Writer, table uint32, addr netip.Addr) {
	t.Helper()
	ra, rb := a.Lookup(table, addr), b.Lookup(table, addr)
	if ra.Kind != rb.Kind || ra.Prefix != rb.Prefix || ra.Group != rb.Group {
		t.Fatalf("table %d %v: one by one %v %v group %d, Apply %v %v group %d", table, addr, ra.Kind, ra.Prefix, ra.Group, rb.Kind, rb.Prefix, rb.Group)
	}
}

// TestApplyDifferential applies random batches through Apply and the same
// changes one by one through Insert and Delete, and expects the same
// errors, the same answers and the same bookkeeping; the main table is
// also checked against the reference trie. The batches mix inserts,
// replacements, deletes of installed and absent prefixes, several changes
// of one prefix, nested prefixes (so that a change alters nodes the
// warming of a later one in the chunk walked), invalid prefixes and
// actions, and a second table that an insert in the batch creates.
func TestApplyDifferential(t *testing.T) {
	rounds := 40
	if testing.Short() {
		rounds = 10
	}
	for _, mainBits := range []int{16, 8} {
		rng := rand.New(rand.NewPCG(uint64(mainBits), 11))
		o := smallOpts()
		o.MainRootBits = mainBits
		one, err := Create("", o)
		if err != nil {
			t.Fatal(err)
		}
		batch, err := Create("", o)
		if err != nil {
			t.Fatal(err)
		}
		setGroups(t, one, 50)
		setGroups(t, batch, 50)
		ref := newRefs()
		var live, touched []netip.Prefix
		pick := func() netip.Prefix {
			if len(live) > 0 && rng.IntN(3) == 0 {
				return live[rng.IntN(len(live))]
			}
			return randPrefix(rng, rng.IntN(2) == 0)
		}
		for round := 0; round < rounds; round++ {
			n := rng.IntN(3 * applyChunk)
			if round == 0 {
				n = 2000 // a loaded table first
			}
			cs := make([]Change, 0, n)
			for len(cs) < n {
				c := Change{Table: MainTable, Prefix: pick()}
				switch r := rng.IntN(100); {
				case r < 40:
					c.Action = randAction(rng)
				case r < 75:
					c.Delete = true
				case r < 80: // the same prefix again at once: replaced or withdrawn
					if len(cs) > 0 {
						c = cs[len(cs)-1]
						c.Delete = !c.Delete
						c.Action = randAction(rng)
					}
				case r < 83:
					c.Prefix = netip.Prefix{}
					c.Delete = rng.IntN(2) == 0
				case r < 85:
					c.Prefix = netip.PrefixFrom(netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 10}), 120)
				case r < 87:
					c.Action = Action{Kind: 9}
				case r < 90:
					c.Table = 7 // created by the first insert into it
					c.Delete = rng.IntN(2) == 0
					c.Action = randAction(rng)
				default:
					c.Action = Action{Kind: Forward, Group: 1 + uint32(rng.IntN(3))}
				}
				cs = append(cs, c)
			}
			applyBoth(t, one, batch, cs)
			for _, c := range cs {
				if !c.Prefix.IsValid() || c.Prefix.Addr().Is4In6() {
					continue
				}
				touched = append(touched, c.Prefix)
				if c.Table != MainTable {
					continue
				}
				if c.Delete {
					ref.remove(c.Prefix)
				} else if c.Action.Kind >= Forward && c.Action.Kind <= Prohibit {
					ref.insert(c.Prefix, c.Action)
					live = append(live, c.Prefix)
				}
			}
			if err := one.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := batch.Commit(); err != nil {
				t.Fatal(err)
			}
			if round%4 == 3 || round == rounds-1 {
				tab, _ := batch.Reader().Table(MainTable)
				tabOne, _ := one.Reader().Table(MainTable)
				for _, p := range touched {
					for _, a := range []netip.Addr{p.Addr(), lastAddr(p), addrIn(rng, p)} {
						check(t, one, tabOne, ref, a)
						check(t, batch, tab, ref, a)
						sameAnswers(t, one, batch, MainTable, a)
						sameAnswers(t, one, batch, 7, a)
					}
				}
				touched = touched[:0]
			}
			v4a, v6a := one.Prefixes()
			v4b, v6b := batch.Prefixes()
			ga, ra, na := one.GroupStats()
			gb, rb, nb := batch.GroupStats()
			if v4a != v4b || v6a != v6b || ga != gb || ra != rb || na != nb || one.comp.used != batch.comp.used {
				t.Fatalf("round %d: one by one %d+%d prefixes, %d groups, %d records, %d nodes, %d words; Apply %d+%d, %d, %d, %d, %d",
					round, v4a, v6a, ga, ra, na, one.comp.used, v4b, v6b, gb, rb, nb, batch.comp.used)
			}
		}
		one.Close()
		batch.Close()
	}
}

func TestApplyClosed(t *testing.T) {
	w, err := Create("", smallOpts())
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	var n int
	w.Apply([]Change{{Table: MainTable, Prefix: netip.MustParsePrefix("10.0.0.0/8")}, {Table: MainTable, Prefix: netip.MustParsePrefix("10.0.0.0/8"), Delete: true}},
		func(i int, err error) {
			if i != n || !errors.Is(err, ErrClosed) {
				t.Errorf("change %d: %v", i, err)
			}
			n++
		})
	if n != 2 {
		t.Errorf("%d failures reported, want 2", n)
	}
	w.Apply(nil, nil) // nothing to do, no callback needed
}
