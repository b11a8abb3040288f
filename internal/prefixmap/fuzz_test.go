package prefixmap

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// FuzzOps runs a sequence of operations decoded from the input against a
// Map and a Go map, and compares them after every step.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 10, 0, 0, 0, 8, 1, 10, 0, 0, 0, 8})
	f.Add([]byte{0, 10, 1, 2, 0, 24, 0, 10, 1, 3, 0, 24, 2, 10, 1, 2, 0, 24, 3, 0, 0, 0, 0, 0})
	f.Add([]byte{4, 0x20, 0x01, 0x0d, 0xb8, 48, 0, 1, 2, 3, 4, 64, 5, 0x20, 1, 0xd, 0xb8, 48})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Map[uint32]
		ref := map[Key]uint32{}
		for step := uint32(0); len(data) >= 6; step++ {
			op, raw, bits := data[0], data[1:5], data[5]
			data = data[6:]
			var k Key
			if op&4 == 0 {
				a := netip.AddrFrom4([4]byte(raw))
				k = From(netip.PrefixFrom(a, int(bits%33)))
			} else {
				var b [16]byte
				copy(b[:4], raw)
				binary.BigEndian.PutUint32(b[12:], step%3)
				k = From(netip.PrefixFrom(netip.AddrFrom16(b), int(bits%129)))
			}
			switch op & 3 {
			case 0:
				m.Put(k, step)
				ref[k] = step
			case 1:
				_, want := ref[k]
				if m.Delete(k) != want {
					t.Fatalf("step %d: Delete(%s) disagrees", step, k)
				}
				delete(ref, k)
			case 2:
				for k2 := range m.All() {
					if k2.Bits%2 == 1 {
						m.Delete(k2)
						delete(ref, k2)
					}
				}
				m.Compact()
			case 3:
				v, ok := m.Get(k)
				if w, wok := ref[k]; ok != wok || v != w {
					t.Fatalf("step %d: Get(%s) = %d, %v; want %d, %v", step, k, v, ok, w, wok)
				}
			}
			if m.Len() != len(ref) {
				t.Fatalf("step %d: Len %d, want %d", step, m.Len(), len(ref))
			}
		}
		var prev Key
		first := true
		for k, v := range m.All() {
			if ref[k] != *v {
				t.Fatalf("All: %s = %d, want %d", k, *v, ref[k])
			}
			if !first && prev.Compare(k) >= 0 {
				t.Fatalf("All: %s after %s", k, prev)
			}
			prev, first = k, false
		}
	})
}
