package fibreader_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/fib"
	"github.com/routerd/routerd/pkg/fibreader"
	"golang.org/x/sys/unix"
)

// small is a FIB small enough for fuzzing and corrupting by hand.
var small = fib.Options{MaxTables: 2, MaxPaths: 2, Nodes: 12, GroupSlots: 8, Records: 16, MainRootBits: 8, TableRootBits: 8, CompWords: 64}

func buildSmall(t testing.TB, path string, opts fib.Options) *fib.Writer {
	t.Helper()
	w, err := fib.Create(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.SetGroup(7, []fib.NextHop{{Gateway: netip.MustParseAddr("192.0.2.1"), Ifindex: 3, Weight: 1}, {Gateway: netip.MustParseAddr("fe80::1"), Ifindex: 4, Weight: 2}}))
	must(w.SetGroup(8, []fib.NextHop{{Ifindex: 5}}))
	for _, r := range []struct {
		p string
		a fib.Action
	}{
		{"0.0.0.0/0", fib.Action{Kind: fib.Forward, Group: 8}},
		{"10.0.0.0/8", fib.Action{Kind: fib.Forward, Group: 7}},
		{"10.1.2.0/24", fib.Action{Kind: fib.Blackhole}},
		{"10.1.2.128/25", fib.Action{Kind: fib.Forward, Group: 8}},
		{"2001:db8::/32", fib.Action{Kind: fib.Forward, Group: 7}},
		{"2001:db8:1::/48", fib.Action{Kind: fib.Prohibit}},
	} {
		must(w.Insert(fib.MainTable, netip.MustParsePrefix(r.p), r.a))
	}
	must(w.Insert(100, netip.MustParsePrefix("192.168.0.0/16"), fib.Action{Kind: fib.Unreachable}))
	must(w.Commit())
	return w
}

func TestLookup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fib")
	w := buildSmall(t, path, fib.Options{MainRootBits: 16})
	defer w.Close()
	r, err := fibreader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, c := range []struct {
		addr, prefix string
		kind         fibreader.Kind
		group        uint32
		nhs          int
	}{
		{"10.9.9.9", "10.0.0.0/8", fibreader.Forward, 7, 2},
		{"10.1.2.3", "10.1.2.0/24", fibreader.Blackhole, 0, 0},
		{"10.1.2.200", "10.1.2.128/25", fibreader.Forward, 8, 1},
		{"8.8.8.8", "0.0.0.0/0", fibreader.Forward, 8, 1},
		{"2001:db8:1::5", "2001:db8:1::/48", fibreader.Prohibit, 0, 0},
		{"2001:db8:2::5", "2001:db8::/32", fibreader.Forward, 7, 2},
		{"2002::1", "", fibreader.NoRoute, 0, 0},
	} {
		res := r.Lookup(netip.MustParseAddr(c.addr))
		got := ""
		if res.Prefix.IsValid() {
			got = res.Prefix.String()
		}
		if res.Kind != c.kind || got != c.prefix || res.Group != c.group || len(res.NextHops) != c.nhs {
			t.Errorf("%s: got %v %q group %d %v", c.addr, res.Kind, got, res.Group, res.NextHops)
		}
	}
	res := r.Lookup(netip.MustParseAddr("10.9.9.9"))
	if nh := res.NextHops[1]; nh.Gateway != netip.MustParseAddr("fe80::1") || nh.Ifindex != 4 || nh.Weight != 2 {
		t.Errorf("next hop decoded as %+v", nh)
	}
	if res := r.LookupTable(100, netip.MustParseAddr("192.168.3.4")); res.Kind != fibreader.Unreachable {
		t.Errorf("table 100: %+v", res)
	}
	st := r.Stats()
	if st.Prefixes4 != 5 || st.Prefixes6 != 2 || st.State != fibreader.StateLive || st.Generation != 1 || len(st.Tables) != 2 {
		t.Errorf("stats %+v", st)
	}
	if err := r.Check(time.Minute); err != nil {
		t.Errorf("Check: %v", err)
	}
	w.Close()
	if err := r.Check(0); !errors.Is(err, fibreader.ErrWriterClosed) {
		t.Errorf("Check after Close = %v", err)
	}
	// The answers stay valid after the writer closed.
	if res := r.Lookup(netip.MustParseAddr("10.9.9.9")); res.Group != 7 {
		t.Errorf("after close: %+v", res)
	}
}

func TestOpenBadFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fib")
	w := buildSmall(t, path, small)
	w.Close()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	patch := func(off int, v uint32) []byte {
		b := append([]byte(nil), good...)
		b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		return b
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"text", []byte("this is not a forwarding table\n")},
		{"zeros", make([]byte, 8192)},
		{"bad magic", patch(fibreader.OffMagic, 0x12345678)},
		{"other version", patch(fibreader.OffVersion, fibreader.Version+1)},
		{"version 1 (before the shortcut table)", patch(fibreader.OffVersion, 1)},
		{"version 2 (one shortcut table)", patch(fibreader.OffVersion, 2)},
		{"shortcut table not a power of two", patch(fibreader.OffShortcutLen, 3)},
		{"shortcut table outside", patch(fibreader.OffShortcutLen, 1<<24)},
		{"depth-40 shortcut table not a power of two", patch(fibreader.OffShortcut40Len, 6)},
		{"depth-40 shortcut table outside", patch(fibreader.OffShortcut40Len, 1<<24)},
		{"depth-40 shortcut table misaligned", patch(fibreader.OffShortcut40, 520)},
		{"compressed pool too large for shortcuts", patch(fibreader.OffCompWords, 1<<25)},
		{"truncated", good[:len(good)/2]},
		{"truncated header", good[:100]},
		{"size mismatch", append(append([]byte(nil), good...), make([]byte, 4096)...)},
		{"node pool outside", patch(fibreader.OffNodeCount, 1<<20)},
		{"misaligned section", patch(fibreader.OffGroupDir, 516)},
		{"record size", patch(fibreader.OffRecordSize, 12)},
		{"state", patch(fibreader.OffState, 99)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, "bad")
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := fibreader.Open(p)
			if err == nil {
				r.Close()
				t.Fatal("opened a bad file")
			}
			if !errors.Is(err, fibreader.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if strings.Contains(c.name, "version") && !strings.Contains(err.Error(), "format version") {
				t.Fatalf("error %q does not name the format version", err)
			}
			t.Log(err)
		})
	}
	if _, err := fibreader.Open(filepath.Join(dir, "missing")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// alignedCopy places data in a page-aligned mapping, as mmap would.
func alignedCopy(t testing.TB, data []byte) []byte {
	n := max(len(data), 1)
	m, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(m) })
	copy(m, data)
	return m[:len(data)]
}

// FuzzFromBytes feeds arbitrary files to the validator and, when one is
// accepted, looks addresses up in every table: nothing may panic.
func FuzzFromBytes(f *testing.F) {
	f.Add([]byte("RTDFIB\x00\x00"))
	if os.Getenv("FIB_WRITE_CORPUS") != "" {
		w := buildSmall(f, filepath.Join(f.TempDir(), "fib"), small)
		b := append([]byte(nil), w.Reader().Bytes()...)
		w.Close()
		writeCorpus(f, "FuzzFromBytes", "small", b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := fibreader.FromBytes(alignedCopy(t, data))
		if err != nil {
			return
		}
		_ = r.Stats()
		for _, id := range r.Tables() {
			tab, ok := r.Table(id)
			if !ok {
				continue
			}
			for _, s := range []string{"10.1.2.200", "0.0.0.0", "255.255.255.255", "2001:db8:1::5", "::", "ffff::1", "::ffff:10.1.2.200", "fe80::1%eth0"} {
				a := netip.MustParseAddr(s)
				e := tab.LookupAddr(a)
				r.Group(e, nil)
				r.LookupTable(id, a)
			}
			out := make([]fibreader.Entry, 3)
			tab.Lookup4Batch([]uint32{0, 1 << 31, 0x0a010280}, out)
			tab.Lookup6Batch([]fibreader.Addr6{{}, {Hi: 0x20010db800010000}, {Hi: ^uint64(0), Lo: 1}}, out)
		}
	})
}

func writeCorpus(t testing.TB, fuzz, name string, data []byte) {
	dir := filepath.Join("testdata", "fuzz", fuzz)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Example opens the FIB that routerd publishes and resolves an address.
func Example() {
	// Set up: a writer publishes a small table (routerd does this).
	dir, _ := os.MkdirTemp("", "fibexample")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "routerd-fib")
	w, _ := fib.Create(path, fib.Options{MainRootBits: 16})
	w.SetGroup(1, []fib.NextHop{{Gateway: netip.MustParseAddr("192.0.2.1"), Ifindex: 2, Weight: 1}})
	w.Insert(fib.MainTable, netip.MustParsePrefix("198.51.100.0/24"), fib.Action{Kind: fib.Forward, Group: 1})
	w.Commit()
	defer w.Close()

	// A data-plane program.
	r, err := fibreader.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	res := r.Lookup(netip.MustParseAddr("198.51.100.7"))
	fmt.Println(res.Kind, res.Prefix, res.NextHops[0].Gateway, res.NextHops[0].Ifindex)

	// The packet path: raw addresses, results cached by group slot.
	main, _ := r.Table(254)
	e := main.Lookup4(0xc6336407) // 198.51.100.7
	_, nhs, _ := r.Group(e, nil)
	fmt.Println(e.Kind(), e.Bits(), nhs[0].Gateway)
	// Output:
	// forward 198.51.100.0/24 192.0.2.1 2
	// forward 24 192.0.2.1
}

func TestRawAddr(t *testing.T) {
	if !fibreader.AddrFastPath() {
		t.Log("netip.Addr layout not recognised; using As4/As16")
	}
	path := filepath.Join(t.TempDir(), "fib")
	w := buildSmall(t, path, small)
	defer w.Close()
	tab, _ := w.Reader().Table(fib.MainTable)
	for _, s := range []string{"10.1.2.200", "10.1.2.3", "8.8.8.8", "2001:db8:1::5", "2001:db8:2::5", "fe80::1%eth0", "::ffff:10.1.2.3"} {
		a := netip.MustParseAddr(s)
		var want fibreader.Entry
		if a.Is4() {
			b := a.As4()
			want = tab.Lookup4(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
		} else {
			b := a.As16()
			var hi, lo uint64
			for i := 0; i < 8; i++ {
				hi, lo = hi<<8|uint64(b[i]), lo<<8|uint64(b[8+i])
			}
			want = tab.Lookup6(hi, lo)
		}
		out := make([]fibreader.Entry, 1)
		tab.LookupAddrs([]netip.Addr{a}, out)
		if got := tab.LookupAddr(a); got != want || out[0] != want {
			t.Errorf("%s: LookupAddr %v/%d, LookupAddrs %v/%d, want %v/%d", s, got.Kind(), got.Bits(), out[0].Kind(), out[0].Bits(), want.Kind(), want.Bits())
		}
	}
	if e := tab.LookupAddr(netip.Addr{}); e != 0 {
		t.Errorf("zero Addr: %v", e)
	}
}
