package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/routerd/routerd/api/routerd/v1"
	"github.com/routerd/routerd/internal/api"
	"github.com/routerd/routerd/internal/rib"
)

// backend is the test daemon's Backend; bgp nil means BGP is not
// configured.
type backend struct{ bgp api.BGPBackend }

func (backend) Interfaces() ([]api.Interface, error) {
	return []api.Interface{
		{Index: 1, Name: "lo", AdminUp: true, OperState: "unknown", MTU: 65536, Addresses: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")}},
		{Index: 2, Name: "eth0", AdminUp: true, OperState: "up", MTU: 1500, MAC: []byte{2, 0, 0, 0, 0, 2}, Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")}},
	}, nil
}
func (backend) Tables() map[string]rib.Table { return map[string]rib.Table{"blue": 100} }
func (backend) Reload() error                { return nil }
func (backend) Counters() []api.Counter      { return nil }
func (b backend) BGP() api.BGPBackend        { return b.bgp }

// startDaemon serves the API on a socket in a temporary directory with a
// RIB holding a connected network, two statics (one recursive) and a route
// the kernel refused.
func startDaemon(t *testing.T) string {
	t.Helper()
	return startDaemonWith(t, backend{})
}

// startDaemonWith is startDaemon with the given backend.
func startDaemonWith(t *testing.T, be backend) string {
	t.Helper()
	r := rib.New()
	r.SetLinkUp(2, true)
	c := r.NewSource(rib.OriginConnected, "connected")
	s := r.NewSource(rib.OriginStatic, "static")
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	if err := c.Apply([]rib.Route{{Table: rib.TableMain, Prefix: p("192.0.2.0/24"), NextHops: []rib.NextHop{{Ifindex: 2}}}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply([]rib.Route{
		{Table: rib.TableMain, Prefix: p("10.0.0.0/8"), Distance: 1, NextHops: []rib.NextHop{{Gateway: a("192.0.2.1")}, {Gateway: a("192.0.2.2")}}},
		{Table: rib.TableMain, Prefix: p("198.51.100.0/24"), Distance: 1, Metric: 10, NextHops: []rib.NextHop{{Gateway: a("10.0.0.5")}}},
		{Table: 100, Prefix: p("0.0.0.0/0"), Kind: rib.KindBlackhole, Distance: 1},
	}, nil); err != nil {
		t.Fatal(err)
	}
	r.SetInstallError(rib.Key{Table: rib.TableMain, Prefix: p("198.51.100.0/24")}, errNetUnreach{})
	socket := filepath.Join(t.TempDir(), "api.sock")
	srv := api.NewServer(api.ServerConfig{Socket: socket, RIB: r, Statics: r.NewSource(rib.OriginAPI, "api"), Backend: be, Version: "1.2.3"})
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = srv.Serve(context.Background())
		close(done)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return socket
}

type errNetUnreach struct{}

func (errNetUnreach) Error() string { return "network is unreachable" }

func routerctl(t *testing.T, socket string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"--socket", socket}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	socket := startDaemon(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"show route", []string{"show", "route"}, 0, ""},
		{"exact prefix", []string{"show", "route", "10.0.0.0/8"}, 0, ""},
		{"prefix not in RIB", []string{"show", "route", "203.0.113.0/24"}, 5, "no route for 203.0.113.0/24 in table main"},
		{"longer", []string{"show", "route", "10.0.0.0/7", "--longer"}, 0, ""},
		{"lookup", []string{"show", "route", "lookup", "10.9.9.9"}, 0, ""},
		{"lookup miss", []string{"show", "route", "lookup", "8.8.8.8"}, 5, "no route to 8.8.8.8 in table main"},
		{"address as argument", []string{"show", "route", "8.8.8.8"}, 5, "no route to 8.8.8.8"},
		{"lookup bad address", []string{"show", "route", "lookup", "8.8.8"}, 2, `"8.8.8" is not an IP address`},
		{"unknown table", []string{"show", "route", "--table", "red"}, 2, `unknown table "red"`},
		{"unknown command", []string{"show", "routes"}, 2, `unknown command "routes"`},
		{"unknown flag", []string{"show", "route", "--tabel", "x"}, 2, "unknown flag: --tabel"},
		{"bad output", []string{"-o", "yaml", "show", "status"}, 2, `-o "yaml"`},
		{"too many args", []string{"show", "status", "x"}, 2, "unknown command"},
		{"route add", []string{"route", "add", "203.0.113.0/24", "via", "192.0.2.1", "dev", "eth0"}, 0, ""},
		{"route add bad gateway", []string{"route", "add", "203.0.114.0/24", "via", "10.0.0.300"}, 2, `routes[0].nexthops[0].gateway: "10.0.0.300" is not an IP address`},
		{"route add unknown dev", []string{"route", "add", "203.0.114.0/24", "dev", "eth9"}, 2, `unknown interface "eth9"`},
		{"route add nowhere", []string{"route", "add", "203.0.114.0/24"}, 2, "say where to"},
		{"route del not added", []string{"route", "del", "10.0.0.0/8"}, 5, "not a route added through the API"},
		{"route del", []string{"route", "del", "203.0.113.0/24"}, 0, ""},
		{"reload", []string{"reload"}, 0, ""},
		{"interfaces", []string{"show", "interfaces"}, 0, ""},
		{"status", []string{"show", "status"}, 0, ""},
	}
	for _, tc := range tests {
		code, _, stderr := routerctl(t, socket, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, code, stderr, tc.code, tc.stderr)
		}
	}
}

func TestNotRunning(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := routerctl(t, filepath.Join(dir, "none.sock"), "show", "route")
	if code != exitUnreachable || !strings.Contains(stderr, "routerd is not running (no socket at ") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

func TestShowRouteTable(t *testing.T) {
	socket := startDaemon(t)
	code, out, _ := routerctl(t, socket, "show", "route")
	if code != 0 {
		t.Fatal(code)
	}
	want := `Codes: > selected, * installed in the kernel, ! rejected by the kernel

    PREFIX           PROTOCOL   DIST/METRIC  NEXT HOP
>*  10.0.0.0/8       static     1/0          via 192.0.2.1 dev eth0
                                             via 192.0.2.2 dev eth0
>*  192.0.2.0/24     connected  0/0          dev eth0
>!  198.51.100.0/24  static     1/10         via 10.0.0.5 (recursive)
                                               via 192.0.2.1 dev eth0
                                               via 192.0.2.2 dev eth0
                                             ! kernel: network is unreachable
`
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	code, out, _ = routerctl(t, socket, "show", "route", "--table", "all", "--family", "4")
	if code != 0 || !strings.Contains(out, "TABLE") || !strings.Contains(out, "blue   0.0.0.0/0") || !strings.Contains(out, "blackhole") {
		t.Errorf("all tables:\n%s", out)
	}
}

func TestShowRouteJSON(t *testing.T) {
	socket := startDaemon(t)
	code, out, _ := routerctl(t, socket, "-o", "json", "show", "route", "--table", "all")
	if code != 0 {
		t.Fatal(code)
	}
	var doc struct {
		Routes []struct {
			Table      string `json:"table"`
			Prefix     string `json:"prefix"`
			State      string `json:"install_state"`
			Candidates []struct {
				Origin   string `json:"origin"`
				Selected bool   `json:"selected"`
				Resolved []struct {
					Gateway   string `json:"gateway"`
					Interface string `json:"interface"`
				} `json:"resolved"`
			} `json:"candidates"`
		} `json:"routes"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(doc.Routes) != 4 || doc.Routes[0].Table != "blue" || doc.Routes[1].Prefix != "10.0.0.0/8" {
		t.Fatalf("routes: %+v", doc.Routes)
	}
	if c := doc.Routes[1].Candidates[0]; c.Origin != "static" || !c.Selected || len(c.Resolved) != 2 || c.Resolved[0].Interface != "eth0" {
		t.Errorf("candidate: %+v", c)
	}
	if doc.Routes[3].State != "INSTALL_STATE_FAILED" {
		t.Errorf("state %q", doc.Routes[3].State)
	}
	// An empty result is still one JSON document.
	code, out, _ = routerctl(t, socket, "-o", "json", "show", "route", "--protocol", "ebgp")
	if code != 0 || strings.TrimSpace(out) != `{"routes": []}` {
		t.Errorf("empty: %d %q", code, out)
	}
}

func TestShowStatusAndInterfaces(t *testing.T) {
	socket := startDaemon(t)
	_, out, _ := routerctl(t, socket, "show", "status")
	for _, s := range []string{"routerd 1.2.3", "Memory: RSS ", "RIB: 4 prefixes", "TABLE  ORIGIN", "main   static     2       2"} {
		if !strings.Contains(out, s) {
			t.Errorf("status lacks %q:\n%s", s, out)
		}
	}
	_, out, _ = routerctl(t, socket, "show", "interfaces")
	want := `INDEX  NAME  ADMIN  OPER     MTU    MAC                ADDRESSES
1      lo    up     unknown  65536  -                  127.0.0.1/8
                                                       ::1/128
2      eth0  up     up       1500   02:00:00:00:00:02  192.0.2.10/24
`
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	_, out, _ = routerctl(t, socket, "-o", "json", "show", "status")
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil || st["version"] != "1.2.3" {
		t.Errorf("status JSON %v: %s", err, out)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWatchRoutes(t *testing.T) {
	socket := startDaemon(t)
	for _, format := range []string{"table", "json"} {
		t.Run(format, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out, errb syncBuffer
			done := make(chan int)
			go func() {
				done <- run(ctx, []string{"--socket", socket, "-o", format, "watch", "routes", "--table", "main"}, &out, &errb)
			}()
			marker := "initial state complete: 3 routes"
			if format == "json" {
				marker = `{"type":"synced"}`
			}
			waitFor(t, &out, marker)
			if code, _, stderr := routerctl(t, socket, "route", "add", "203.0.113.0/24", "blackhole"); code != 0 {
				t.Fatal(stderr)
			}
			waitFor(t, &out, "203.0.113.0/24")
			if _, _, stderr := routerctl(t, socket, "route", "del", "203.0.113.0/24"); stderr != "" {
				t.Fatal(stderr)
			}
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("exit %d: %s", code, errb.String())
			}
			if format == "json" {
				for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
					var v map[string]any
					if err := json.Unmarshal([]byte(line), &v); err != nil || v["type"] == nil {
						t.Errorf("line %q: %v", line, err)
					}
				}
			}
		})
	}
}

func waitFor(t *testing.T, b *syncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", s, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestParseRouteSpec(t *testing.T) {
	tests := []struct {
		words []string
		want  *pb.RouteSpec
		err   string
	}{
		{[]string{"via", "192.0.2.1"}, &pb.RouteSpec{Prefix: "P", Nexthops: []*pb.NextHop{{Gateway: "192.0.2.1"}}}, ""},
		{[]string{"via", "fe80::1", "dev", "eth0", "via", "fe80::2", "dev", "eth1", "weight", "3"},
			&pb.RouteSpec{Prefix: "P", Nexthops: []*pb.NextHop{{Gateway: "fe80::1", Interface: "eth0"}, {Gateway: "fe80::2", Interface: "eth1", Weight: 3}}}, ""},
		{[]string{"dev", "eth0", "dev", "eth1"}, &pb.RouteSpec{Prefix: "P", Nexthops: []*pb.NextHop{{Interface: "eth0"}, {Interface: "eth1"}}}, ""},
		{[]string{"blackhole"}, &pb.RouteSpec{Prefix: "P", Kind: "blackhole"}, ""},
		{[]string{"via"}, nil, `"via" needs a gateway address`},
		{[]string{"weight", "2"}, nil, "give it after a next hop"},
		{[]string{"via", "192.0.2.1", "weight", "0"}, nil, "a number 1..256"},
		{[]string{"blackhole", "via", "192.0.2.1"}, nil, "a blackhole route has no next hops"},
		{[]string{"blackhole", "prohibit"}, nil, "one or the other"},
		{[]string{"gateway", "192.0.2.1"}, nil, `unexpected "gateway"`},
		{nil, nil, "say where to"},
	}
	for _, tc := range tests {
		got, err := parseRouteSpec("P", tc.words)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want %q", tc.words, err, tc.err)
			}
			continue
		}
		if err != nil || !proto.Equal(got, tc.want) {
			t.Errorf("%q: %v %v", tc.words, got, err)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
	}
}
