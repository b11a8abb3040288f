package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/routerd/routerd/api/routerd/v1"
	"github.com/routerd/routerd/internal/fib"
	"github.com/routerd/routerd/internal/rib"
)

// fakeBackend is a Backend with two interfaces and one named table.
type fakeBackend struct {
	mu        sync.Mutex
	reloads   int
	reloadErr error
	bgp       BGPBackend // nil: BGP is not configured
}

var testInterfaces = []Interface{
	{Index: 1, Name: "lo", AdminUp: true, OperState: "unknown", MTU: 65536, Addresses: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
	{Index: 2, Name: "eth0", AdminUp: true, OperState: "up", MTU: 1500, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")}},
	{Index: 3, Name: "eth1", AdminUp: true, OperState: "up", MTU: 9000, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 3}, Addresses: []netip.Prefix{netip.MustParsePrefix("2001:db8::10/64")}},
}

func (b *fakeBackend) Interfaces() ([]Interface, error) { return testInterfaces, nil }
func (b *fakeBackend) Tables() map[string]rib.Table     { return map[string]rib.Table{"blue": 100} }
func (b *fakeBackend) Reload() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reloads++
	return b.reloadErr
}
func (b *fakeBackend) BGP() BGPBackend { return b.bgp }
func (b *fakeBackend) Counters() []Counter {
	return []Counter{{Subsystem: "kernel", Name: "routes_installed", Value: 7}}
}

// testEnv is a server on a real Unix socket with a real RIB.
type testEnv struct {
	srv     *Server
	rib     *rib.RIB
	statics *rib.Source
	backend *fakeBackend
	socket  string
	client  pb.RouterdClient
}

// newTestEnv starts a server whose RIB holds connected routes on eth0 and
// eth1, static routes in main (one recursive) and a blackhole in table blue
// (100).
func newTestEnv(t testing.TB, mut func(*ServerConfig)) *testEnv {
	t.Helper()
	r := rib.New()
	r.SetLinkUp(2, true)
	r.SetLinkUp(3, true)
	conn := r.NewSource(rib.OriginConnected, "connected")
	must(t, conn.Apply([]rib.Route{
		{Table: rib.TableMain, Prefix: pfx("192.0.2.0/24"), NextHops: []rib.NextHop{{Ifindex: 2}}},
		{Table: rib.TableMain, Prefix: pfx("2001:db8::/64"), NextHops: []rib.NextHop{{Ifindex: 3}}},
	}, nil))
	static := r.NewSource(rib.OriginStatic, "static")
	must(t, static.Apply([]rib.Route{
		{Table: rib.TableMain, Prefix: pfx("10.0.0.0/8"), Distance: 1, NextHops: []rib.NextHop{{Gateway: addr("192.0.2.1")}}},
		{Table: rib.TableMain, Prefix: pfx("10.1.0.0/16"), Distance: 1, NextHops: []rib.NextHop{{Gateway: addr("192.0.2.2")}, {Gateway: addr("192.0.2.3")}}},
		{Table: rib.TableMain, Prefix: pfx("198.51.100.0/24"), Distance: 1, NextHops: []rib.NextHop{{Gateway: addr("10.0.0.5")}}},
		{Table: rib.TableMain, Prefix: pfx("2001:db8:1::/48"), Distance: 1, NextHops: []rib.NextHop{{Gateway: addr("2001:db8::1")}}},
		{Table: 100, Prefix: pfx("0.0.0.0/0"), Kind: rib.KindBlackhole, Distance: 1},
	}, nil))
	apiSrc := r.NewSource(rib.OriginAPI, "api")
	be := &fakeBackend{}
	dir := t.TempDir()
	cfg := ServerConfig{
		Socket:  filepath.Join(dir, "api.sock"),
		RIB:     r,
		Statics: apiSrc,
		Backend: be,
		Version: "test",
	}
	if mut != nil {
		mut(&cfg)
	}
	srv := NewServer(cfg)
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	cc, err := grpc.NewClient("unix://"+cfg.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testEnv{srv: srv, rib: r, statics: apiSrc, backend: be, socket: cfg.Socket, client: pb.NewRouterdClient(cc)}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *testEnv) list(t *testing.T, req *pb.ListRoutesRequest) ([]*pb.Route, error) {
	t.Helper()
	st, err := e.client.ListRoutes(ctxT(t), req)
	if err != nil {
		return nil, err
	}
	var out []*pb.Route
	for {
		r, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
}

func prefixes(rs []*pb.Route) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.GetTable()+" "+r.GetPrefix())
	}
	return out
}

func TestListRoutesFilters(t *testing.T) {
	e := newTestEnv(t, nil)
	all := []string{
		"main 10.0.0.0/8", "main 10.1.0.0/16", "main 192.0.2.0/24", "main 198.51.100.0/24",
		"main 2001:db8::/64", "main 2001:db8:1::/48", "blue 0.0.0.0/0",
	}
	ordered := append(all[6:7:7], all[:6]...) // by table number: blue (100) before main (254)
	tests := []struct {
		name string
		req  *pb.ListRoutesRequest
		want []string
		code codes.Code
	}{
		{"all", &pb.ListRoutesRequest{}, ordered, codes.OK},
		{"table main", &pb.ListRoutesRequest{Table: "main"}, all[:6], codes.OK},
		{"table by name", &pb.ListRoutesRequest{Table: "blue"}, all[6:], codes.OK},
		{"table by number", &pb.ListRoutesRequest{Table: "100"}, all[6:], codes.OK},
		{"exact prefix", &pb.ListRoutesRequest{Prefix: "10.0.0.0/8"}, all[:1], codes.OK},
		{"longer prefixes", &pb.ListRoutesRequest{Prefix: "10.0.0.0/8", LongerPrefixes: true}, all[:2], codes.OK},
		{"origin static", &pb.ListRoutesRequest{Origin: "static", Table: "main"}, []string{all[0], all[1], all[3], all[5]}, codes.OK},
		{"origin connected", &pb.ListRoutesRequest{Origin: "connected"}, []string{all[2], all[4]}, codes.OK},
		{"origin bgp", &pb.ListRoutesRequest{Origin: "bgp"}, nil, codes.OK},
		{"family 6", &pb.ListRoutesRequest{Family: 6}, all[4:6], codes.OK},
		{"family 4 main", &pb.ListRoutesRequest{Family: 4, Table: "main"}, all[:4], codes.OK},
		{"unknown table", &pb.ListRoutesRequest{Table: "red"}, nil, codes.InvalidArgument},
		{"bad prefix", &pb.ListRoutesRequest{Prefix: "10.0.0.0/33"}, nil, codes.InvalidArgument},
		{"longer without prefix", &pb.ListRoutesRequest{LongerPrefixes: true}, nil, codes.InvalidArgument},
		{"bad origin", &pb.ListRoutesRequest{Origin: "ospf"}, nil, codes.InvalidArgument},
		{"bad family", &pb.ListRoutesRequest{Family: 5}, nil, codes.InvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.list(t, tc.req)
			if status.Code(err) != tc.code {
				t.Fatalf("code %v (%v), want %v", status.Code(err), err, tc.code)
			}
			if err == nil && !slices.Equal(prefixes(got), tc.want) {
				t.Errorf("got %q\nwant %q", prefixes(got), tc.want)
			}
		})
	}
}

func TestRouteContents(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := ctxT(t)
	r, err := e.client.GetRoute(ctx, &pb.GetRouteRequest{Prefix: "198.51.100.0/24"})
	must(t, err)
	if len(r.Candidates) != 1 {
		t.Fatalf("candidates: %v", r.Candidates)
	}
	c := r.Candidates[0]
	want := &pb.Candidate{
		Source: "static", Origin: "static", Kind: "unicast", Distance: 1, Selected: true,
		Nexthops: []*pb.NextHop{{Gateway: "10.0.0.5", Weight: 1}},
		Resolved: []*pb.NextHop{{Gateway: "192.0.2.1", Interface: "eth0", Ifindex: 2, Weight: 1}},
	}
	if !proto.Equal(c, want) {
		t.Errorf("candidate\n got %v\nwant %v", c, want)
	}
	if r.InstallState != pb.InstallState_INSTALL_STATE_INSTALLED || r.Table != "main" || r.TableId != 254 {
		t.Errorf("route %v", r)
	}

	e.rib.SetInstallError(rib.Key{Table: rib.TableMain, Prefix: pfx("198.51.100.0/24")}, errors.New("file exists"))
	r, err = e.client.GetRoute(ctx, &pb.GetRouteRequest{Prefix: "198.51.100.0/24", Table: "254"})
	must(t, err)
	if r.InstallState != pb.InstallState_INSTALL_STATE_FAILED || r.InstallError != "file exists" {
		t.Errorf("after install error: %v %q", r.InstallState, r.InstallError)
	}

	_, err = e.client.GetRoute(ctx, &pb.GetRouteRequest{Prefix: "203.0.113.0/24"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("missing prefix: %v", err)
	}
	_, err = e.client.GetRoute(ctx, &pb.GetRouteRequest{Prefix: "10.0.0.1/8"})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "host bits") {
		t.Errorf("host bits: %v", err)
	}
}

func TestLookupRoute(t *testing.T) {
	e := newTestEnv(t, nil)
	tests := []struct {
		table, addr, want string
		code              codes.Code
	}{
		{"", "10.1.2.3", "10.1.0.0/16", codes.OK},
		{"", "10.2.0.1", "10.0.0.0/8", codes.OK},
		{"main", "192.0.2.77", "192.0.2.0/24", codes.OK},
		{"", "2001:db8:1:2::1", "2001:db8:1::/48", codes.OK},
		{"", "::ffff:10.1.0.1", "10.1.0.0/16", codes.OK},
		{"blue", "8.8.8.8", "0.0.0.0/0", codes.OK},
		{"", "8.8.8.8", "", codes.NotFound},
		{"", "10.0.0.300", "", codes.InvalidArgument},
		{"", "", "", codes.InvalidArgument},
		{"nosuch", "10.0.0.1", "", codes.InvalidArgument},
	}
	for _, tc := range tests {
		r, err := e.client.LookupRoute(ctxT(t), &pb.LookupRouteRequest{Table: tc.table, Address: tc.addr})
		if status.Code(err) != tc.code {
			t.Errorf("lookup %s in %q: %v, want %v", tc.addr, tc.table, err, tc.code)
			continue
		}
		if err == nil && r.Prefix != tc.want {
			t.Errorf("lookup %s: %s, want %s", tc.addr, r.Prefix, tc.want)
		}
	}
}

// TestLookupRouteFIB looks addresses up with a FIB beside the RIB, one
// that lags it: a prefix the RIB has withdrawn, and one it has added,
// not yet in the FIB. The FIB names the prefix that forwards; the RIB
// answers when the FIB has no route or names one the RIB no longer
// selects.
func TestLookupRouteFIB(t *testing.T) {
	w, err := fib.Create("", fib.Options{MainRootBits: 16, Nodes: 64, GroupSlots: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	must(t, w.SetGroup(1, []fib.NextHop{{Gateway: addr("192.0.2.1"), Ifindex: 2, Weight: 1}}))
	fwd := fib.Action{Kind: fib.Forward, Group: 1}
	for _, c := range []struct {
		table uint32
		p     string
		a     fib.Action
	}{
		{fib.MainTable, "10.0.0.0/8", fwd},
		{fib.MainTable, "10.1.2.0/24", fwd}, // withdrawn from the RIB, still in the FIB
		{fib.MainTable, "2001:db8:1::/48", fwd},
		{100, "0.0.0.0/0", fib.Action{Kind: fib.Blackhole}},
		// 10.1.0.0/16 and 192.0.2.0/24: in the RIB, not yet in the FIB.
	} {
		must(t, w.Insert(c.table, pfx(c.p), c.a))
	}
	must(t, w.Commit())
	e := newTestEnv(t, func(c *ServerConfig) { c.FIB = w })
	for _, tc := range []struct{ table, addr, want string }{
		{"", "10.2.0.1", "10.0.0.0/8"},
		{"", "10.1.9.9", "10.0.0.0/8"},         // the FIB forwards with the /8 until the /16 reaches it
		{"", "::ffff:10.1.9.9", "10.0.0.0/8"},  // unmapped, as without a FIB
		{"", "10.1.2.3", "10.1.0.0/16"},        // the FIB's /24 is gone from the RIB
		{"main", "192.0.2.77", "192.0.2.0/24"}, // not in the FIB at all
		{"", "2001:db8:1:2::1", "2001:db8:1::/48"},
		{"blue", "8.8.8.8", "0.0.0.0/0"},
	} {
		r, err := e.client.LookupRoute(ctxT(t), &pb.LookupRouteRequest{Table: tc.table, Address: tc.addr})
		if err != nil {
			t.Errorf("lookup %s in %q: %v", tc.addr, tc.table, err)
			continue
		}
		if r.Prefix != tc.want {
			t.Errorf("lookup %s in %q: %s, want %s", tc.addr, tc.table, r.Prefix, tc.want)
		}
	}
	_, err = e.client.LookupRoute(ctxT(t), &pb.LookupRouteRequest{Address: "8.8.8.8"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("lookup 8.8.8.8: %v, want not found", err)
	}
}

func TestAddDeleteRoutes(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := ctxT(t)
	d := uint32(200)
	resp, err := e.client.AddRoutes(ctx, &pb.AddRoutesRequest{Routes: []*pb.RouteSpec{
		{Prefix: "203.0.113.0/24", Nexthops: []*pb.NextHop{{Gateway: "192.0.2.1"}, {Gateway: "192.0.2.9", Interface: "eth0", Weight: 3}}},
		{Prefix: "10.0.0.0/8", Table: "blue", Kind: "unreachable", Distance: &d, Metric: 5},
		{Prefix: "2001:db8:2::/48", Nexthops: []*pb.NextHop{{Gateway: "fe80::1", Interface: "eth1"}}},
	}})
	must(t, err)
	if resp.Added != 3 {
		t.Errorf("added %d", resp.Added)
	}
	r, err := e.client.GetRoute(ctx, &pb.GetRouteRequest{Prefix: "203.0.113.0/24"})
	must(t, err)
	c := r.Candidates[0]
	if c.Origin != "api" || c.Distance != DefaultDistance || !c.Selected || len(c.Resolved) != 2 {
		t.Errorf("api route: %v", c)
	}
	r, err = e.client.GetRoute(ctx, &pb.GetRouteRequest{Prefix: "10.0.0.0/8", Table: "blue"})
	must(t, err)
	if c := r.Candidates[0]; c.Kind != "unreachable" || c.Distance != 200 || c.Metric != 5 {
		t.Errorf("unreachable route: %v", c)
	}

	// One unknown key: NOT_FOUND, and the other key stays.
	_, err = e.client.DeleteRoutes(ctx, &pb.DeleteRoutesRequest{Routes: []*pb.RouteKey{
		{Prefix: "203.0.113.0/24"}, {Prefix: "10.0.0.0/8"}, // a config static, not an API route
	}})
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "routes[1]") {
		t.Fatalf("delete with a non-API key: %v", err)
	}
	if len(e.statics.Routes()) != 3 {
		t.Fatalf("a refused delete changed the RIB: %v", e.statics.Routes())
	}
	del, err := e.client.DeleteRoutes(ctx, &pb.DeleteRoutesRequest{Routes: []*pb.RouteKey{
		{Prefix: "203.0.113.0/24"}, {Prefix: "10.0.0.0/8", Table: "100"}, {Prefix: "2001:db8:2::/48"},
	}})
	must(t, err)
	if del.Deleted != 3 || len(e.statics.Routes()) != 0 {
		t.Errorf("deleted %d, left %v", del.Deleted, e.statics.Routes())
	}
	if _, err := e.client.GetRoute(ctx, &pb.GetRouteRequest{Prefix: "203.0.113.0/24"}); status.Code(err) != codes.NotFound {
		t.Errorf("deleted route still there: %v", err)
	}
}

func TestAddRoutesInvalid(t *testing.T) {
	e := newTestEnv(t, nil)
	ok := &pb.RouteSpec{Prefix: "203.0.113.0/24", Nexthops: []*pb.NextHop{{Gateway: "192.0.2.1"}}}
	d0, d256 := uint32(0), uint32(256)
	tests := []struct {
		name string
		bad  *pb.RouteSpec
		want string
	}{
		{"bad gateway", &pb.RouteSpec{Prefix: "10.9.0.0/16", Nexthops: []*pb.NextHop{{Gateway: "10.0.0.300"}}}, `routes[1].nexthops[0].gateway: "10.0.0.300" is not an IP address`},
		{"bad prefix", &pb.RouteSpec{Prefix: "10.9.0.0/33", Nexthops: []*pb.NextHop{{Gateway: "192.0.2.1"}}}, `routes[1].prefix: "10.9.0.0/33" is not a prefix`},
		{"host bits", &pb.RouteSpec{Prefix: "10.9.0.1/16", Nexthops: []*pb.NextHop{{Gateway: "192.0.2.1"}}}, `routes[1].prefix: "10.9.0.1/16" has host bits set; the prefix is 10.9.0.0/16`},
		{"address as prefix", &pb.RouteSpec{Prefix: "10.9.0.1", Nexthops: []*pb.NextHop{{Gateway: "192.0.2.1"}}}, `did you mean 10.9.0.1/32`},
		{"missing prefix", &pb.RouteSpec{Nexthops: []*pb.NextHop{{Gateway: "192.0.2.1"}}}, `routes[1].prefix: missing`},
		{"v4 gateway for v6", &pb.RouteSpec{Prefix: "2001:db8:9::/48", Nexthops: []*pb.NextHop{{Gateway: "192.0.2.1"}}}, `routes[1].nexthops[0].gateway: IPv4 gateway 192.0.2.1 for IPv6 prefix 2001:db8:9::/48`},
		{"link-local without dev", &pb.RouteSpec{Prefix: "2001:db8:9::/48", Nexthops: []*pb.NextHop{{Gateway: "fe80::1"}}}, `routes[1].nexthops[0].interface: link-local gateway fe80::1 needs an interface`},
		{"unknown table", &pb.RouteSpec{Table: "red", Prefix: "10.9.0.0/16", Kind: "blackhole"}, `routes[1].table: unknown table "red"`},
		{"table zero", &pb.RouteSpec{Table: "0", Prefix: "10.9.0.0/16", Kind: "blackhole"}, `routes[1].table: table 0`},
		{"unknown interface", &pb.RouteSpec{Prefix: "10.9.0.0/16", Nexthops: []*pb.NextHop{{Interface: "eth9"}}}, `routes[1].nexthops[0].interface: unknown interface "eth9"`},
		{"no next hops", &pb.RouteSpec{Prefix: "10.9.0.0/16"}, `routes[1].nexthops: a unicast route needs at least one next hop`},
		{"empty next hop", &pb.RouteSpec{Prefix: "10.9.0.0/16", Nexthops: []*pb.NextHop{{}}}, `routes[1].nexthops[0]: needs a gateway, an interface or both`},
		{"next hops on blackhole", &pb.RouteSpec{Prefix: "10.9.0.0/16", Kind: "blackhole", Nexthops: []*pb.NextHop{{Gateway: "192.0.2.1"}}}, `routes[1].nexthops: a blackhole route has no next hops`},
		{"unknown kind", &pb.RouteSpec{Prefix: "10.9.0.0/16", Kind: "throw"}, `routes[1].kind: unknown kind "throw"`},
		{"distance 0", &pb.RouteSpec{Prefix: "10.9.0.0/16", Kind: "blackhole", Distance: &d0}, `routes[1].distance: 0 is outside 1..255`},
		{"distance 256", &pb.RouteSpec{Prefix: "10.9.0.0/16", Kind: "blackhole", Distance: &d256}, `routes[1].distance: 256 is outside 1..255`},
		{"weight", &pb.RouteSpec{Prefix: "10.9.0.0/16", Nexthops: []*pb.NextHop{{Gateway: "192.0.2.1", Weight: 300}}}, `routes[1].nexthops[0].weight: 300 is above 256`},
		{"duplicate key", &pb.RouteSpec{Prefix: "203.0.113.0/24", Kind: "blackhole"}, `routes[1]: 203.0.113.0/24 table main is also routes[0]`},
		{"duplicate next hop", &pb.RouteSpec{Prefix: "10.9.0.0/16", Nexthops: []*pb.NextHop{{Gateway: "192.0.2.1"}, {Gateway: "192.0.2.1"}}}, `routes[1].nexthops[1]: same next hop as nexthops[0]`},
		{"zone", &pb.RouteSpec{Prefix: "2001:db8:9::/48", Nexthops: []*pb.NextHop{{Gateway: "fe80::1%eth1"}}}, `has a zone`},
		{"multicast gateway", &pb.RouteSpec{Prefix: "10.9.0.0/16", Nexthops: []*pb.NextHop{{Gateway: "224.0.0.1"}}}, `multicast`},
		{"mapped gateway", &pb.RouteSpec{Prefix: "10.9.0.0/16", Nexthops: []*pb.NextHop{{Gateway: "::ffff:192.0.2.1"}}}, `IPv4-mapped`},
		{"wrong ifindex", &pb.RouteSpec{Prefix: "10.9.0.0/16", Nexthops: []*pb.NextHop{{Interface: "eth0", Ifindex: 3}}}, `routes[1].nexthops[0].ifindex`},
	}
	before, err := e.list(t, &pb.ListRoutesRequest{})
	must(t, err)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.AddRoutes(ctxT(t), &pb.AddRoutesRequest{Routes: []*pb.RouteSpec{ok, tc.bad}})
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v, want InvalidArgument", err)
			}
			if msg := status.Convert(err).Message(); !strings.Contains(msg, tc.want) {
				t.Errorf("message %q\nwant it to contain %q", msg, tc.want)
			}
			if n := len(e.statics.Routes()); n != 0 {
				t.Fatalf("a rejected batch left %d API routes in the RIB", n)
			}
		})
	}
	after, err := e.list(t, &pb.ListRoutesRequest{})
	must(t, err)
	if !slices.Equal(prefixes(before), prefixes(after)) {
		t.Errorf("RIB changed: %q -> %q", prefixes(before), prefixes(after))
	}
	if _, err := e.client.AddRoutes(ctxT(t), &pb.AddRoutesRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("empty request: %v", err)
	}
}

func TestWatchRoutes(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := e.client.WatchRoutes(ctx, &pb.WatchRoutesRequest{Table: "main"})
	must(t, err)
	var initial []string
	for {
		m, err := st.Recv()
		must(t, err)
		for _, r := range m.Routes {
			initial = append(initial, r.Prefix)
		}
		if m.Synced {
			break
		}
	}
	slices.Sort(initial)
	want := []string{"10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24", "198.51.100.0/24", "2001:db8:1::/48", "2001:db8::/64"}
	if !slices.Equal(initial, want) {
		t.Errorf("initial state %q, want %q", initial, want)
	}

	// A change after the marker.
	_, err = e.client.AddRoutes(ctx, &pb.AddRoutesRequest{Routes: []*pb.RouteSpec{{Prefix: "203.0.113.0/24", Nexthops: []*pb.NextHop{{Gateway: "192.0.2.1"}}}}})
	must(t, err)
	ev := nextRouteEvent(t, st)
	if ev.Prefix != "203.0.113.0/24" || !ev.Present || ev.Origin != "api" || len(ev.Nexthops) != 1 || ev.Nexthops[0].Interface != "eth0" {
		t.Errorf("add event: %v", ev)
	}
	// A change in another table is filtered out; a withdrawal arrives.
	_, err = e.client.AddRoutes(ctx, &pb.AddRoutesRequest{Routes: []*pb.RouteSpec{{Table: "blue", Prefix: "10.0.0.0/8", Kind: "blackhole"}}})
	must(t, err)
	_, err = e.client.DeleteRoutes(ctx, &pb.DeleteRoutesRequest{Routes: []*pb.RouteKey{{Prefix: "203.0.113.0/24"}}})
	must(t, err)
	ev = nextRouteEvent(t, st)
	if ev.Prefix != "203.0.113.0/24" || ev.Present {
		t.Errorf("withdraw event: %v", ev)
	}
	// Link down: the group of 10.0.0.0/8 (via 192.0.2.1 on eth0) stops
	// resolving; the routes come back as withdrawn.
	e.rib.SetLinkUp(2, false)
	seen := map[string]bool{}
	for !seen["10.0.0.0/8"] {
		m, err := st.Recv()
		must(t, err)
		for _, ev := range m.Routes {
			if ev.Present {
				t.Errorf("route still present after link down: %v", ev)
			}
			seen[ev.Prefix] = true
		}
	}
}

func nextRouteEvent(t *testing.T, st grpc.ServerStreamingClient[pb.WatchRoutesResponse]) *pb.RouteEvent {
	t.Helper()
	for {
		m, err := st.Recv()
		must(t, err)
		if len(m.Routes) > 0 {
			return m.Routes[0]
		}
	}
}

func TestWatchTooManySubscribers(t *testing.T) {
	e := newTestEnv(t, nil)
	var subs []*rib.Subscription
	for {
		s, err := e.rib.Subscribe("filler")
		if err != nil {
			break
		}
		subs = append(subs, s)
	}
	defer func() {
		for _, s := range subs {
			s.Close()
		}
	}()
	st, err := e.client.WatchRoutes(ctxT(t), &pb.WatchRoutesRequest{})
	must(t, err)
	if _, err := st.Recv(); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("watch with 64 subscribers: %v", err)
	}
}

func TestWatchEndsAtStop(t *testing.T) {
	e := newTestEnv(t, nil)
	st, err := e.client.WatchRoutes(ctxT(t), &pb.WatchRoutesRequest{})
	must(t, err)
	for {
		m, err := st.Recv()
		must(t, err)
		if m.Synced {
			break
		}
	}
	go e.srv.Stop()
	if _, err := st.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("watch at stop: %v", err)
	}
	if e.rib.Stats().Subscribers != 0 {
		t.Errorf("subscription left open")
	}
}

func TestStatusInterfacesReload(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := ctxT(t)
	st, err := e.client.GetStatus(ctx, &pb.GetStatusRequest{})
	must(t, err)
	if st.Version != "test" || st.Memory.RssBytes == 0 || st.Memory.HeapAllocBytes == 0 || st.Rib.Prefixes != 7 {
		t.Errorf("status: %v", st)
	}
	if len(st.Counters) != 1 || st.Counters[0].Value != 7 {
		t.Errorf("counters: %v", st.Counters)
	}
	var static uint64
	for _, c := range st.RouteCounts {
		if c.Table == "main" && c.Origin == "static" {
			static = c.Routes
		}
	}
	if static != 4 {
		t.Errorf("route counts: %v", st.RouteCounts)
	}

	ifs, err := e.client.ListInterfaces(ctx, &pb.ListInterfacesRequest{})
	must(t, err)
	if len(ifs.Interfaces) != 3 || ifs.Interfaces[1].Mac != "02:00:00:00:00:02" || ifs.Interfaces[2].Addresses[0] != "2001:db8::10/64" {
		t.Errorf("interfaces: %v", ifs.Interfaces)
	}

	_, err = e.client.Reload(ctx, &pb.ReloadRequest{})
	must(t, err)
	e.backend.mu.Lock()
	e.backend.reloadErr = errors.New("routerd.yaml:3: unknown key \"neighbour\"")
	e.backend.mu.Unlock()
	_, err = e.client.Reload(ctx, &pb.ReloadRequest{})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "unknown key") {
		t.Errorf("failed reload: %v", err)
	}
	if e.backend.reloads != 2 {
		t.Errorf("reloads %d", e.backend.reloads)
	}
}

func TestReadOnly(t *testing.T) {
	e := newTestEnv(t, nil)
	e.srv.SetReadOnly(true)
	_, err := e.client.AddRoutes(ctxT(t), &pb.AddRoutesRequest{Routes: []*pb.RouteSpec{{Prefix: "10.9.0.0/16", Kind: "blackhole"}}})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("write while read-only: %v", err)
	}
	if _, err := e.client.GetStatus(ctxT(t), &pb.GetStatusRequest{}); err != nil {
		t.Errorf("read while read-only: %v", err)
	}
	e.srv.SetReadOnly(false)
	_, err = e.client.AddRoutes(ctxT(t), &pb.AddRoutesRequest{Routes: []*pb.RouteSpec{{Prefix: "10.9.0.0/16", Kind: "blackhole"}}})
	must(t, err)
}

func TestSocketFile(t *testing.T) {
	e := newTestEnv(t, func(c *ServerConfig) { c.SocketMode = 0o640 })
	fi, err := os.Lstat(e.socket)
	must(t, err)
	if fi.Mode().Perm() != 0o640 || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("socket mode %v", fi.Mode())
	}
	// A second server on the same path refuses: the first answers.
	s2 := NewServer(ServerConfig{Socket: e.socket, RIB: e.rib, Backend: e.backend})
	if err := s2.Listen(); err == nil || !strings.Contains(err.Error(), "another routerd is answering") {
		t.Errorf("second server: %v", err)
	}
	e.srv.Stop()
	if _, err := os.Lstat(e.socket); !os.IsNotExist(err) {
		t.Errorf("socket left after Stop: %v", err)
	}
}

func TestStaleSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sock")
	// A stale socket: bound, then its listener gone without unlinking.
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	must(t, err)
	l.SetUnlinkOnClose(false)
	l.Close()
	s := NewServer(ServerConfig{Socket: path, RIB: rib.New(), Backend: &fakeBackend{}})
	must(t, s.Listen())
	s.Stop()

	// A regular file is never replaced.
	must(t, os.WriteFile(path, []byte("x"), 0o600))
	s = NewServer(ServerConfig{Socket: path, RIB: rib.New(), Backend: &fakeBackend{}})
	if err := s.Listen(); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: %v", err)
	}
}

func TestParseVmRSS(t *testing.T) {
	if got := parseVmRSS([]byte("Name:\tx\nVmRSS:\t  1234 kB\n")); got != 1234*1024 {
		t.Errorf("got %d", got)
	}
}
