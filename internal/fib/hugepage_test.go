package fib

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	fr "github.com/routerd/routerd/pkg/fibreader"
	"golang.org/x/sys/unix"
)

// TestHugePages checks that the shared file's IPv4 root is in huge pages
// both in the writer's mapping and in a reader's (fibreader.Open), where
// the kernel can collapse shared memory (MADV_COLLAPSE, Linux 6.1).
func TestHugePages(t *testing.T) {
	path := fmt.Sprintf("/dev/shm/routerd-fib-test-huge-%d", os.Getpid())
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	defer w.Close()
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	r, err := fr.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tab, _ := r.Table(MainTable)
	tab.Lookup4(0x0a000001) // fault the reader's mapping in
	for i := 0; i < 1<<26; i += 4096 {
		tab.Lookup4(uint32(i) << 6)
	}
	pmd := pmdMapped(t, path)
	if len(pmd) != 2 {
		t.Fatalf("%d mappings of %s in /proc/self/smaps, want the writer's and the reader's", len(pmd), path)
	}
	if pmd[0] >= 64<<10 && pmd[1] >= 64<<10 {
		return
	}
	// Whether the kernel can collapse the root here at all (not before
	// Linux 6.1, nor with no huge page free): then 4 KiB pages are right.
	root := w.mem[w.lay.root4[0] : w.lay.root4[0]+4<<w.lay.bits4[0]]
	if err := unix.Madvise(root, unix.MADV_COLLAPSE); err != nil {
		t.Skipf("the kernel does not collapse the shared file into huge pages here (MADV_COLLAPSE: %v)", err)
	}
	t.Fatalf("huge pages map %d KiB of the writer's mapping and %d KiB of the reader's, want at least the 64 MiB IPv4 root in both (the kernel collapses it on request)", pmd[0], pmd[1])
}

// pmdMapped returns, for each mapping of path in this process, how many
// KiB of it huge pages map.
func pmdMapped(t *testing.T, path string) []int {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	var out []int
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 6 && strings.Contains(f[0], "-"):
			in = f[len(f)-1] == path
			if in {
				out = append(out, 0)
			}
		case in && len(f) == 3 && (f[0] == "ShmemPmdMapped:" || f[0] == "FilePmdMapped:"):
			kb, _ := strconv.Atoi(f[1])
			out[len(out)-1] += kb
		}
	}
	return out
}
