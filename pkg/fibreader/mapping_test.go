package fibreader_test

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/routerd/routerd/pkg/fibreader"
)

// TestMapAligned checks that Map places the file at a HugePage-aligned
// address (where huge pages of the file map whole) and that the mapping
// is the file: shared both ways, released by Unmap.
func TestMapAligned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fib")
	const size = 3<<20 + 4096 + 100 // not a multiple of a page
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 3 {
		m, err := fibreader.Map(f, size, true)
		if err != nil {
			t.Fatal(err)
		}
		if a := uintptr(unsafe.Pointer(&m[0])); a%fibreader.HugePage != 0 || len(m) != size {
			t.Fatalf("mapped at %#x, %d bytes: want an address aligned to %d and %d bytes", a, len(m), fibreader.HugePage, size)
		}
		m[size-1]++
		if err := fibreader.Unmap(m); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b[size-1] != 3 {
		t.Fatalf("last byte %d after three writes through the mapping, want 3", b[size-1])
	}
	r, err := fibreader.Map(f, size, false)
	if err != nil {
		t.Fatal(err)
	}
	if r[size-1] != 3 {
		t.Fatalf("read-only mapping sees %d, want 3", r[size-1])
	}
	fibreader.Unmap(r)
}
