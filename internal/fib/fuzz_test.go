package fib

import (
	"errors"
	"net/netip"
	"testing"
)

// FuzzUpdates applies an arbitrary sequence of inserts and deletes (three
// bytes and an address per operation) to a small FIB and to the reference
// trie, then compares lookups around every prefix touched, and finally
// deletes everything and expects the trie to shrink back to its roots.
func FuzzUpdates(f *testing.F) {
	f.Add([]byte{0, 0, 8, 10, 0, 0, 0, 0, 25, 10, 0, 0, 128, 1, 8, 10, 0, 0, 0})
	f.Add([]byte{1, 2, 48, 0, 0, 0, 0, 2, 32, 0, 0, 0, 0, 2, 128, 1, 2, 3, 4, 3, 48, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		o := Options{MaxTables: 2, Nodes: 256, GroupSlots: 64, Records: 256, MainRootBits: 8 + 8*int(data[0]&1), TableRootBits: 8}
		w, err := Create("", o)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		for g := uint32(1); g <= 4; g++ {
			w.SetGroup(g, []NextHop{{Ifindex: int32(g)}})
		}
		ref := newRefs()
		live := map[netip.Prefix]bool{}
		var touched []netip.Prefix
		data = data[1:]
		for len(data) >= 7 {
			op, l := data[0], int(data[1])
			x := data[2:6]
			var p netip.Prefix
			if op&2 == 0 {
				p = netip.PrefixFrom(netip.AddrFrom4([4]byte(x)), l%33)
			} else {
				var b [16]byte
				b[0], b[1], b[2], b[3], b[5], b[15] = 0x20, 0x01, x[0], x[1], x[2], x[3]
				p = netip.PrefixFrom(netip.AddrFrom16(b), l%129)
			}
			p = p.Masked()
			data = data[7:]
			touched = append(touched, p)
			if op&1 == 0 {
				a := Action{Kind: Forward, Group: uint32(1 + op>>2%5)} // group 5 has no next hops
				if op>>2%8 >= 5 {
					a = Action{Kind: Kind(2 + op>>5%3)}
				}
				if err := w.Insert(MainTable, p, a); err != nil {
					t.Fatal(err)
				}
				ref.insert(p, a)
				live[p] = true
			} else {
				err := w.Delete(MainTable, p)
				if live[p] != (err == nil) || (err != nil && !errors.Is(err, ErrNotFound)) {
					t.Fatalf("delete %v: %v (installed %v)", p, err, live[p])
				}
				ref.remove(p)
				delete(live, p)
			}
		}
		w.Commit()
		tab, _ := w.Reader().Table(MainTable)
		probe := func() {
			for _, p := range touched {
				a := p.Addr()
				check(t, w, tab, ref, a)
				check(t, w, tab, ref, lastAddr(p))
				if n := a.Next(); n.IsValid() {
					check(t, w, tab, ref, n)
				}
				if n := a.Prev(); n.IsValid() {
					check(t, w, tab, ref, n)
				}
			}
		}
		probe()
		for p := range live {
			if err := w.Delete(MainTable, p); err != nil {
				t.Fatal(err)
			}
			ref.remove(p)
		}
		w.Commit()
		probe()
		if _, _, nodes := w.GroupStats(); nodes != 0 || w.comp.used != 0 {
			t.Fatalf("%d nodes, %d compressed words left after deleting every prefix", nodes, w.comp.used)
		}
	})
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
