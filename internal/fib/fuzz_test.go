package fib

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// FuzzUpdates applies an arbitrary sequence of inserts and deletes (three
// bytes and an address per operation; a length byte of 255 makes an
// invalid prefix) to two small FIBs, one through Insert and Delete one by
// one and the other through Apply in batches (the first byte chooses the
// batch size), the first with IPv6 nodes lingering until the next Commit
// and the second without, and to the reference trie. Both FIBs must report the same
// errors and give the reference's answers around every prefix touched;
// finally everything is deleted and both tries must shrink back to their
// roots.
func FuzzUpdates(f *testing.F) {
	f.Add([]byte{0, 0, 8, 10, 0, 0, 0, 0, 25, 10, 0, 0, 128, 1, 8, 10, 0, 0, 0})
	f.Add([]byte{1, 2, 48, 0, 0, 0, 0, 2, 32, 0, 0, 0, 0, 2, 128, 1, 2, 3, 4, 3, 48, 0, 0, 0, 0})
	f.Add([]byte{6, 2, 48, 0, 0, 0, 0, 0, 3, 48, 0, 0, 0, 0, 0, 2, 255, 0, 0, 0, 0, 0, 2, 56, 0, 0, 0, 0, 0, 3, 40, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		o := Options{MaxTables: 2, Nodes: 256, GroupSlots: 64, Records: 256, MainRootBits: 8 + 8*int(data[0]&1), TableRootBits: 8}
		batchLen := 1 + int(data[0]>>1)
		var ws [2]*Writer
		for i := range ws {
			// The second writer's IPv6 nodes collapse at once, the
			// first's linger until the next Commit: both must answer
			// the same.
			o.Linger = []time.Duration{time.Nanosecond, -1}[i]
			w, err := Create("", o)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			for g := uint32(1); g <= 4; g++ {
				w.SetGroup(g, []NextHop{{Ifindex: int32(g)}})
			}
			ws[i] = w
		}
		w, wb := ws[0], ws[1]
		ref := newRefs()
		live := map[netip.Prefix]bool{}
		var touched []netip.Prefix
		var cs []Change
		for data = data[1:]; len(data) >= 7; data = data[7:] {
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
			if l == 255 {
				p = netip.Prefix{}
			}
			if op&1 == 0 {
				a := Action{Kind: Forward, Group: uint32(1 + op>>2%5)} // group 5 has no next hops
				if op>>2%8 >= 5 {
					a = Action{Kind: Kind(2 + op>>5%3)}
				}
				cs = append(cs, Change{Table: MainTable, Prefix: p, Action: a})
			} else {
				cs = append(cs, Change{Table: MainTable, Prefix: p, Delete: true})
			}
		}
		for len(cs) > 0 {
			batch := cs[:min(batchLen, len(cs))]
			cs = cs[len(batch):]
			errs := applyBoth(t, w, wb, batch)
			for i, c := range batch {
				p, err := c.Prefix, errs[i]
				if !p.IsValid() {
					if err == nil {
						t.Fatalf("change of an invalid prefix succeeded")
					}
					continue
				}
				touched = append(touched, p)
				if !c.Delete {
					// A full node pool refuses the insert, which must
					// then change nothing (the probes below check).
					if errors.Is(err, ErrFull) {
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					ref.insert(p, c.Action)
					live[p] = true
				} else {
					if live[p] != (err == nil) || (err != nil && !errors.Is(err, ErrNotFound)) {
						t.Fatalf("delete %v: %v (installed %v)", p, err, live[p])
					}
					ref.remove(p)
					delete(live, p)
				}
			}
		}
		probe := func() {
			for _, w := range ws {
				if err := w.Commit(); err != nil {
					t.Fatal(err)
				}
				checkCopies(t, w)
			}
			tab, _ := w.Reader().Table(MainTable)
			for _, p := range touched {
				a := p.Addr()
				for _, a := range []netip.Addr{a, lastAddr(p), a.Next(), a.Prev()} {
					if a.IsValid() {
						check(t, w, tab, ref, a)
						sameAnswers(t, w, wb, MainTable, a)
					}
				}
			}
		}
		probe()
		var all []Change
		for p := range live {
			all = append(all, Change{Table: MainTable, Prefix: p, Delete: true})
			ref.remove(p)
		}
		for i, err := range applyBoth(t, w, wb, all) {
			if err != nil {
				t.Fatalf("delete %v: %v", all[i].Prefix, err)
			}
		}
		probe()
		for _, w := range ws {
			if _, _, nodes := w.GroupStats(); nodes != 0 || w.comp.used != 0 {
				t.Fatalf("%d nodes, %d compressed words left after deleting every prefix", nodes, w.comp.used)
			}
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
