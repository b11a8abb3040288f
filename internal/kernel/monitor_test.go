package kernel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/rib"
)

// fakeSource keeps what a RouteSource was offered, as the RIB would.
type fakeSource struct {
	mu     sync.Mutex
	routes map[rib.Key]rib.Route
}

func (s *fakeSource) Apply(add []rib.Route, del []rib.Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.routes == nil {
		s.routes = make(map[rib.Key]rib.Route)
	}
	for _, k := range del {
		delete(s.routes, k)
	}
	for _, r := range add {
		s.routes[rib.Key{Table: r.Table, Prefix: r.Prefix}] = r
	}
	return nil
}

func (s *fakeSource) Replace(routes []rib.Route) error {
	s.mu.Lock()
	s.routes = nil
	s.mu.Unlock()
	return s.Apply(routes, nil)
}

func (s *fakeSource) get(k rib.Key) (rib.Route, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.routes[k]
	return r, ok
}

func (s *fakeSource) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.routes)
}

type fakeLinks struct {
	mu sync.Mutex
	up map[int32]bool
}

func (f *fakeLinks) SetLinkUp(i int32, up bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.up == nil {
		f.up = make(map[int32]bool)
	}
	f.up[i] = up
}

func (f *fakeLinks) get(i int32) (bool, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	up, ok := f.up[i]
	return up, ok
}

// eventually polls cond (the monitor works asynchronously) for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startMonitor(t *testing.T, l *lab, cfg MonitorConfig) (*Monitor, *fakeSource, *fakeSource, *fakeLinks) {
	t.Helper()
	cfg.Logger = testLogger()
	var m *Monitor
	if err := l.ns.Do(func() (err error) { m, err = NewMonitor(cfg); return }); err != nil {
		t.Fatal(err)
	}
	conn, foreign, links := &fakeSource{}, &fakeSource{}, &fakeLinks{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, Sinks{Connected: conn, Foreign: foreign, Links: links}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("monitor Run: %v", err)
		}
		m.Close()
	})
	return m, conn, foreign, links
}

func TestMonitor(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.ip(t, "route", "add", "100.64.0.0/10", "via", "10.1.0.2", "proto", "static", "metric", "7")
	l.ip(t, "route", "add", "192.0.2.0/24", "via", "10.0.0.2", "proto", "196") // ours: not offered
	l.ip(t, "nexthop", "add", "id", "50", "via", "10.0.0.2", "dev", "v0")
	l.ip(t, "route", "add", "198.51.100.0/24", "nhid", "50", "proto", "bird", "table", "100")
	var changed sync.WaitGroup
	changed.Add(1)
	var once sync.Once
	m, conn, foreign, links := startMonitor(t, l, MonitorConfig{OnLinksChanged: func() { once.Do(changed.Done) }})
	changed.Wait()

	eventually(t, "connected routes", func() bool { return conn.len() == 3 })
	for _, p := range []string{"10.0.0.0/24", "2001:db8::/64", "10.1.0.0/24"} {
		r, ok := conn.get(key(p))
		if !ok || r.NextHops[0].Gateway.IsValid() || r.NextHops[0].Ifindex == 0 {
			t.Errorf("connected %s: %+v %v", p, r, ok)
		}
	}
	eventually(t, "foreign routes", func() bool { return foreign.len() == 2 })
	if r, _ := foreign.get(key("100.64.0.0/10")); r.Proto != 4 || r.Metric != 7 || r.NextHops[0].Gateway != addr("10.1.0.2") || r.NextHops[0].Ifindex != l.w0 {
		t.Errorf("foreign static route: %+v", r)
	}
	if r, ok := foreign.get(rib.Key{Table: 100, Prefix: pfx("198.51.100.0/24")}); !ok || r.Proto != 12 || r.NextHops[0].Gateway != addr("10.0.0.2") {
		t.Errorf("foreign route via nexthop object: %+v %v", r, ok)
	}
	if up, ok := links.get(l.v0); !ok || !up {
		t.Errorf("link v0 up: %v %v", up, ok)
	}
	if lk, ok := m.LinkByName("v0"); !ok || lk.Index != l.v0 || !lk.Up || len(lk.Addrs) < 2 || lk.MTU != 1500 || len(lk.HardwareAddr) != 6 {
		t.Errorf("LinkByName(v0) = %+v %v", lk, ok)
	}
	if n := len(m.Links()); n != 3 {
		t.Errorf("Links: %d", n)
	}

	// Addresses come and go.
	l.ip(t, "addr", "add", "203.0.113.1/24", "dev", "w0")
	eventually(t, "new connected route", func() bool { _, ok := conn.get(key("203.0.113.0/24")); return ok })
	l.ip(t, "addr", "del", "203.0.113.1/24", "dev", "w0")
	eventually(t, "connected route withdrawn", func() bool { _, ok := conn.get(key("203.0.113.0/24")); return !ok })

	// Link down withdraws its connected routes and the foreign routes the
	// kernel flushed with it; up brings connected routes back.
	l.ip(t, "link", "set", "v0", "down")
	eventually(t, "v0 down", func() bool { up, _ := links.get(l.v0); return !up })
	eventually(t, "v0 connected withdrawn", func() bool {
		_, a := conn.get(key("10.0.0.0/24"))
		_, b := conn.get(key("2001:db8::/64"))
		return !a && !b
	})
	eventually(t, "foreign route via v0 withdrawn", func() bool {
		_, ok := foreign.get(rib.Key{Table: 100, Prefix: pfx("198.51.100.0/24")})
		return !ok
	})
	l.ip(t, "link", "set", "v0", "up")
	eventually(t, "v0 connected back", func() bool { _, ok := conn.get(key("10.0.0.0/24")); return ok })
	if _, ok := foreign.get(key("100.64.0.0/10")); !ok {
		t.Error("foreign route via w0 lost")
	}
	l.ip(t, "route", "del", "100.64.0.0/10")
	eventually(t, "foreign route deleted", func() bool { return foreign.len() == 0 })
}

// TestMonitorOverrun forces ENOBUFS with a tiny receive buffer and a burst
// of route changes, and checks that the offered state ends up exact.
func TestMonitorOverrun(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	m, _, foreign, _ := startMonitor(t, l, MonitorConfig{RcvBuf: 1024})
	var sb strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&sb, "route add 10.%d.%d.0/24 via 10.1.0.2 proto static\n", 100+i/250, i%250)
	}
	for i := range 1000 { // and take a third of them away again
		fmt.Fprintf(&sb, "route del 10.%d.%d.0/24 proto static\n", 100+i/250, i%250)
	}
	batch := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(batch, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	l.ip(t, "-batch", batch)
	eventually(t, "2000 foreign routes", func() bool {
		return foreign.len() == 2000 && m.Metrics().Overruns.Load() > 0
	})
	if _, ok := foreign.get(key("10.100.0.0/24")); ok {
		t.Error("deleted route still offered")
	}
	t.Logf("overruns %d, resyncs %d", m.Metrics().Overruns.Load(), m.Metrics().Resyncs.Load())
}

// TestMonitorMultipathLinkFlap sets one link of foreign multipath routes
// down and up again: the kernel keeps the next hop through it marked dead
// and revives it silently, and the monitor offers the same.
func TestMonitorMultipathLinkFlap(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.ip(t, "-6", "addr", "add", "2001:db8:2::1/64", "dev", "w0", "nodad")
	l.ip(t, "route", "add", "100.64.0.0/10", "proto", "static", "nexthop", "via", "10.0.0.2", "dev", "v0", "nexthop", "via", "10.1.0.2", "dev", "w0", "weight", "3")
	l.ip(t, "-6", "route", "add", "2001:db8:99::/48", "proto", "static", "nexthop", "via", "2001:db8::2", "dev", "v0", "nexthop", "via", "2001:db8:2::2", "dev", "w0")
	_, _, foreign, _ := startMonitor(t, l, MonitorConfig{})
	k4, k6 := key("100.64.0.0/10"), key("2001:db8:99::/48")
	offered := func(k rib.Key) []rib.NextHop {
		r, _ := foreign.get(k)
		return r.NextHops
	}
	both := func() bool { return len(offered(k4)) == 2 && len(offered(k6)) == 2 }
	eventually(t, "both multipath routes with two next hops", both)
	full4, full6 := offered(k4), offered(k6)

	l.ip(t, "link", "set", "v0", "down")
	eventually(t, "next hops through v0 withdrawn", func() bool { return len(offered(k4)) == 1 && len(offered(k6)) == 1 })
	if nh := offered(k4)[0]; nh.Ifindex != l.w0 || nh.Weight != 1 {
		t.Errorf("IPv4 route with v0 down: %+v", nh)
	}
	if s := l.route(t, "100.64.0.0/10"); !strings.Contains(s, "dead") {
		t.Errorf("the kernel did not keep the dead next hop: %q", s)
	}

	l.ip(t, "link", "set", "v0", "up")
	eventually(t, "next hops through v0 offered again", both)
	if !sameNextHops(offered(k4), full4) || !sameNextHops(offered(k6), full6) {
		t.Errorf("after the flap: %+v %+v, before %+v %+v", offered(k4), offered(k6), full4, full6)
	}
	if s := l.route(t, "100.64.0.0/10"); strings.Contains(s, "dead") || !strings.Contains(s, "10.0.0.2") {
		t.Errorf("kernel route after the flap: %q", s)
	}
}

// TestMonitorDropsOwnRoutes checks that notifications of routerd's own
// routes never reach the monitor (the kernel drops them), while foreign
// routes still do, in both families and for deletions too.
func TestMonitorDropsOwnRoutes(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	m, _, foreign, _ := startMonitor(t, l, MonitorConfig{})
	var batch strings.Builder
	for i := range 200 {
		fmt.Fprintf(&batch, "route add 10.%d.%d.0/24 via 10.0.0.2 proto 196\n", 100+i/100, i%100)
		fmt.Fprintf(&batch, "route add 2001:db8:%x::/48 via 2001:db8::2 proto 196\n", 0x100+i)
	}
	for i := range 100 {
		fmt.Fprintf(&batch, "route del 10.100.%d.0/24 proto 196\n", i)
	}
	f := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(f, []byte(batch.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	before := m.m.Events.Load()
	l.ip(t, "-batch", f)
	l.ip(t, "route", "add", "198.18.0.0/15", "via", "10.0.0.2", "proto", "static")
	l.ip(t, "route", "add", "2001:db8:ffff::/48", "via", "2001:db8::2", "proto", "static")
	eventually(t, "the foreign routes", func() bool {
		_, ok4 := foreign.get(key("198.18.0.0/15"))
		_, ok6 := foreign.get(key("2001:db8:ffff::/48"))
		return ok4 && ok6
	})
	if n := m.m.Events.Load() - before; n > 20 {
		t.Errorf("%d notifications handled for 500 changes of own routes and 2 foreign routes", n)
	}
	if foreign.len() != 2 {
		t.Errorf("foreign routes: %d, want 2", foreign.len())
	}
}
