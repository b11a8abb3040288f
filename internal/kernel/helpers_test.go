package kernel

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/netns"
	"github.com/routerd/routerd/internal/rib"
)

// fakeFeed hands out queued updates one per Next and reports when the
// programmer came back for more with nothing queued (everything applied).
type fakeFeed struct {
	mu   sync.Mutex
	q    []rib.Update
	c    chan struct{}
	idle chan struct{}
}

// testIDs numbers the keys the tests use, as a RIB numbers its keys (a
// key keeps its ID; these are never reused), for all tests at once.
var testIDs struct {
	sync.Mutex
	m    map[rib.Key]uint32
	keys []rib.Key
}

func keyID(k rib.Key) uint32 {
	testIDs.Lock()
	defer testIDs.Unlock()
	id, ok := testIDs.m[k]
	if !ok {
		if testIDs.m == nil {
			testIDs.m = map[rib.Key]uint32{}
		}
		id = uint32(len(testIDs.keys))
		testIDs.m[k] = id
		testIDs.keys = append(testIDs.keys, k)
	}
	return id
}

// Keys walks every key numbered so far, in ID order (those of other
// tests too: the programmer has state for its own only).
func (f *fakeFeed) Keys(yield func(rib.Key, uint32) bool) {
	testIDs.Lock()
	keys := slices.Clone(testIDs.keys)
	testIDs.Unlock()
	for i, k := range keys {
		if !yield(k, uint32(i)) {
			return
		}
	}
}

func newFakeFeed() *fakeFeed {
	return &fakeFeed{c: make(chan struct{}, 1), idle: make(chan struct{}, 1)}
}

func (f *fakeFeed) C() <-chan struct{} { return f.c }

func (f *fakeFeed) Next(int) rib.Update {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.q) == 0 {
		select {
		case f.idle <- struct{}{}:
		default:
		}
		return rib.Update{}
	}
	u := f.q[0]
	f.q = f.q[1:]
	if len(f.q) > 0 {
		// As rib.Subscription does: C is signalled while more remains.
		select {
		case f.c <- struct{}{}:
		default:
		}
	}
	return u
}

// push queues updates and waits until the programmer has applied them.
func (f *fakeFeed) push(t *testing.T, us ...rib.Update) {
	t.Helper()
	f.mu.Lock()
	select {
	case <-f.idle:
	default:
	}
	for _, u := range us {
		for i := range u.Routes {
			u.Routes[i].ID = keyID(u.Routes[i].Key)
		}
	}
	f.q = append(f.q, us...)
	f.mu.Unlock()
	select {
	case f.c <- struct{}{}:
	default:
	}
	select {
	case <-f.idle:
	case <-time.After(20 * time.Second):
		t.Fatal("programmer did not drain the feed")
	}
}

type fakeReporter struct {
	mu   sync.Mutex
	errs map[rib.Key]error
	n    int
}

func (r *fakeReporter) SetInstallError(k rib.Key, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.errs == nil {
		r.errs = make(map[rib.Key]error)
	}
	r.n++
	if err == nil {
		delete(r.errs, k)
	} else {
		r.errs[k] = err
	}
}

func (r *fakeReporter) get(k rib.Key) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errs[k]
}

func testLogger() *slog.Logger {
	if os.Getenv("KERNEL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// lab is a namespace with veth v0 (10.0.0.1/24, 2001:db8::1/64) and w0
// (10.1.0.1/24) whose peers v1 (.2) and w1 (.2) live in a second namespace.
type lab struct {
	ns     *netns.NS
	v0, w0 int32
	stop   func() // stops the programmer last started (Close waits for cleanup)
}

func newLab(t *testing.T) *lab {
	t.Helper()
	ns := netns.New(t, "rdk")
	peer := netns.New(t, "rdp")
	if err := netns.AddVeth(
		netns.Veth{NS: ns, Name: "v0", Addrs: []netip.Prefix{pfx("10.0.0.1/24"), pfx("2001:db8::1/64")}},
		netns.Veth{NS: peer, Name: "v1", Addrs: []netip.Prefix{pfx("10.0.0.2/24"), pfx("2001:db8::2/64")}},
	); err != nil {
		t.Fatal(err)
	}
	if err := netns.AddVeth(
		netns.Veth{NS: ns, Name: "w0", Addrs: []netip.Prefix{pfx("10.1.0.1/24")}},
		netns.Veth{NS: peer, Name: "w1", Addrs: []netip.Prefix{pfx("10.1.0.2/24")}},
	); err != nil {
		t.Fatal(err)
	}
	l := &lab{ns: ns}
	l.v0 = l.ifindex(t, "v0")
	l.w0 = l.ifindex(t, "w0")
	return l
}

func (l *lab) ifindex(t *testing.T, name string) int32 {
	t.Helper()
	out, err := l.ns.IP("-o", "link", "show", name)
	if err != nil {
		t.Fatal(err)
	}
	var n int32
	for _, c := range out {
		if c == ':' {
			break
		}
		n = n*10 + int32(c-'0')
	}
	return n
}

func (l *lab) ip(t *testing.T, args ...string) string {
	t.Helper()
	out, err := l.ns.IP(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// routes lists the routes of a protocol ("ip route show" lines, sorted,
// without trailing blanks), IPv4 and IPv6, all tables.
func (l *lab) routes(t *testing.T, proto string) []string {
	t.Helper()
	var out []string
	for _, fam := range []string{"-4", "-6"} {
		s := l.ip(t, fam, "route", "show", "table", "all", "proto", proto)
		for _, line := range strings.Split(s, "\n") {
			line = strings.Join(strings.Fields(line), " ")
			if line != "" {
				out = append(out, line)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (l *lab) nexthops(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(l.ip(t, "nexthop", "show"), "\n") {
		if line = strings.Join(strings.Fields(line), " "); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// start creates a programmer inside the namespace and runs it.
func (l *lab) start(t *testing.T, cfg ProgrammerConfig) (*Programmer, *fakeFeed, *fakeReporter) {
	t.Helper()
	cfg.Logger = testLogger()
	var p *Programmer
	if err := l.ns.Do(func() (err error) { p, err = NewProgrammer(cfg); return }); err != nil {
		t.Fatal(err)
	}
	feed, rep := newFakeFeed(), &fakeReporter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, feed, rep) }()
	var once sync.Once
	l.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	stop := l.stop
	t.Cleanup(func() {
		stop()
		p.Close()
	})
	return p, feed, rep
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

func key(s string) rib.Key { return rib.Key{Table: rib.TableMain, Prefix: pfx(s)} }

func static(g rib.GroupID) rib.Best {
	return rib.Best{Origin: rib.OriginStatic, Kind: rib.KindUnicast, Group: g}
}

func routeChange(k rib.Key, b rib.Best) rib.RouteChange {
	return rib.RouteChange{Key: k, Best: b, ID: keyID(k)}
}

func wantLines(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got  %q\n want %q", what, got, want)
	}
}
