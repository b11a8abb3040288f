package wire

import (
	"math/rand"
	"net/netip"
	"testing"
	"unsafe"
)

func TestPrefixSize(t *testing.T) {
	if s := unsafe.Sizeof(Prefix{}); s != 18 {
		t.Errorf("Prefix is %d bytes", s)
	}
	if (Prefix{}).IsValid() || !MustParsePrefix("0.0.0.0/0").IsValid() {
		t.Error("zero Prefix and default route confused")
	}
}

// TestNLRIAgainstNetip decodes random NLRI, with garbage in the host bits
// and prefixes both in the middle and at the end of the field, and checks
// each against netip's own masking; then re-encodes it.
func TestNLRIAgainstNetip(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, v6 := range []bool{false, true} {
		size := 4
		if v6 {
			size = 16
		}
		for i := 0; i < 2000; i++ {
			var field []byte
			var want []netip.Prefix
			for k := 1 + r.Intn(5); k > 0; k-- {
				bits := r.Intn(8*size + 1)
				raw := make([]byte, size)
				r.Read(raw)
				n := (bits + 7) / 8
				field = append(field, byte(bits))
				field = append(field, raw[:n]...)
				clear(raw[n:])
				a, _ := netip.AddrFromSlice(raw)
				want = append(want, netip.PrefixFrom(a, bits).Masked())
			}
			got, err := appendNLRI(nil, field, v6)
			if err != nil || len(got) != len(want) {
				t.Fatalf("%x: %v %v", field, got, err)
			}
			var enc, encTight []byte
			for j, p := range got {
				if p.Netip() != want[j] || PrefixFrom(want[j]) != p {
					t.Fatalf("%x: prefix %d is %v, want %v", field, j, p, want[j])
				}
				enc = appendPrefix(enc, p)
				encTight = appendPrefix(make([]byte, 0, p.wireLen()), p)
				if len(encTight) != p.wireLen() {
					t.Fatalf("encoding of %v is %d bytes", p, len(encTight))
				}
			}
			again, err := appendNLRI(nil, enc, v6)
			if err != nil || len(again) != len(got) {
				t.Fatalf("re-decode %x: %v", enc, err)
			}
			for j := range got {
				if again[j] != got[j] {
					t.Fatalf("re-decoded %v, want %v", again[j], got[j])
				}
			}
		}
	}
}
