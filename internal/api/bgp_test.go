package api

import (
	"errors"
	"io"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/routerd/routerd/api/routerd/v1"
)

// fakeBGP is a BGPBackend with two neighbours (one established) and three
// Loc-RIB entries; it records resets and enable changes.
type fakeBGP struct {
	mu      sync.Mutex
	resets  []string
	enabled map[netip.Addr]bool
}

var (
	bgpPeerUp   = addr("192.0.2.7")
	bgpPeerDown = addr("2001:db8::9")
	bgpUpSince  = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
)

func u32(v uint32) *uint32 { return &v }

func (f *fakeBGP) neighbors() []BGPNeighbor {
	f.mu.Lock()
	defer f.mu.Unlock()
	up := BGPNeighbor{
		Address: bgpPeerUp, AS: 65002, Description: "transit", Enabled: true, State: "established",
		RemoteID: addr("192.0.2.7"), LocalAddr: addr("192.0.2.10"), HoldTime: 90 * time.Second,
		Families: []string{"ipv4-unicast"}, AS4: true, UpSince: bgpUpSince,
		PrefixesReceived: 3, PrefixesAccepted: 2, PrefixesAdvertised: 1, UpdatesIn: 5, UpdatesOut: 4, Flaps: 1,
		Import: "in", Export: "out", SessionType: "confed-ebgp",
		Capabilities: []string{"route refresh"}, StaleFamilies: []string{"ipv6-unicast"},
	}
	down := BGPNeighbor{Address: bgpPeerDown, AS: 65003, Enabled: true, State: "active", LastError: "connection refused"}
	if on, ok := f.enabled[bgpPeerDown]; ok {
		down.Enabled = on
	}
	return []BGPNeighbor{up, down}
}

func (f *fakeBGP) Summary() BGPSummary {
	return BGPSummary{LocalAS: 65001, RouterID: addr("192.0.2.10"), Neighbors: f.neighbors(),
		Deferral: &BGPDeferral{Since: bgpUpSince, Until: bgpUpSince.Add(2 * time.Minute), WaitingFor: []netip.Addr{bgpPeerDown}}}
}

func (f *fakeBGP) Neighbor(a netip.Addr) (BGPNeighbor, error) {
	for _, n := range f.neighbors() {
		if n.Address == a {
			return n, nil
		}
	}
	return BGPNeighbor{}, ErrNoBGPNeighbor
}

var fakeLocRIB = []BGPRoute{
	{Prefix: pfx("10.0.0.0/8"), Reason: "only path", AdvertisedTo: []netip.Addr{bgpPeerDown},
		Paths: []BGPPath{{Neighbor: bgpPeerUp, Best: true, Usable: true, Origin: "igp", ASPath: "65002", NextHop: addr("192.0.2.7"),
			MED: u32(10), Communities: []string{"65002:100", "no-export"}}}},
	{Prefix: pfx("10.1.0.0/16"), Reason: "as-path length",
		Paths: []BGPPath{
			{Local: "network", Best: true, Usable: true, Origin: "igp", LocalPref: u32(100)},
			{Neighbor: bgpPeerUp, Usable: true, Origin: "igp", ASPath: "65002 65010", NextHop: addr("192.0.2.7")},
		}},
	{Prefix: pfx("2001:db8:1::/48"), Reason: "only path",
		Paths: []BGPPath{{Local: "redistributed", Best: true, Usable: true, Origin: "incomplete"}}},
}

func (f *fakeBGP) Routes(filter netip.Prefix, fn func(*BGPRoute) bool) {
	for i := range fakeLocRIB {
		r := fakeLocRIB[i]
		if filter.IsValid() && !(filter.Addr().Is4() == r.Prefix.Addr().Is4() && r.Prefix.Bits() >= filter.Bits() && filter.Contains(r.Prefix.Addr())) {
			continue
		}
		if !fn(&r) {
			return
		}
	}
}

func (f *fakeBGP) AdjRoutes(a netip.Addr, advertised bool) ([]BGPRoute, error) {
	switch {
	case a == bgpPeerUp && !advertised:
		return []BGPRoute{
			{Prefix: pfx("10.0.0.0/8"), Paths: []BGPPath{{Neighbor: a, Usable: true, ASPath: "65002"}}},
			{Prefix: pfx("10.1.0.0/16"), Paths: []BGPPath{{Neighbor: a, Usable: true, ASPath: "65002 65010"}}},
		}, nil
	case a == bgpPeerUp:
		return []BGPRoute{{Prefix: pfx("10.1.0.0/16"), Paths: []BGPPath{{Best: true, Usable: true, ASPath: "65001", NextHop: addr("192.0.2.10")}}}}, nil
	case a == bgpPeerDown:
		return nil, nil
	}
	return nil, ErrNoBGPNeighbor
}

func (f *fakeBGP) Reset(a netip.Addr, kind BGPReset) error {
	if _, err := f.Neighbor(a); err != nil {
		return err
	}
	if a == bgpPeerDown && kind != BGPResetHard {
		return errors.New("session is not established")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resets = append(f.resets, a.String()+"/"+[]string{"hard", "in", "out", "both"}[kind])
	return nil
}

func (f *fakeBGP) SetEnabled(a netip.Addr, on bool) error {
	if _, err := f.Neighbor(a); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.enabled == nil {
		f.enabled = map[netip.Addr]bool{}
	}
	f.enabled[a] = on
	return nil
}

// newBGPEnv is a test server whose backend has fakeBGP (or no BGP, nil).
func newBGPEnv(t *testing.T, f *fakeBGP) *testEnv {
	return newTestEnv(t, func(c *ServerConfig) {
		if f != nil {
			c.Backend.(*fakeBackend).bgp = f
		}
	})
}

func recvAll(st grpc.ServerStreamingClient[pb.BGPRoute], err error) ([]*pb.BGPRoute, error) {
	if err != nil {
		return nil, err
	}
	var out []*pb.BGPRoute
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

func bgpPrefixes(rs []*pb.BGPRoute) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.GetPrefix())
	}
	return out
}

func TestBGPNotConfigured(t *testing.T) {
	e := newBGPEnv(t, nil)
	ctx := ctxT(t)
	calls := map[string]func() error{
		"ListBGPNeighbors": func() error { _, err := e.client.ListBGPNeighbors(ctx, &pb.ListBGPNeighborsRequest{}); return err },
		"GetBGPNeighbor": func() error {
			_, err := e.client.GetBGPNeighbor(ctx, &pb.GetBGPNeighborRequest{Neighbor: "192.0.2.7"})
			return err
		},
		"ListBGPRoutes": func() error {
			_, err := recvAll(e.client.ListBGPRoutes(ctx, &pb.ListBGPRoutesRequest{}))
			return err
		},
		"ListBGPAdjRoutes": func() error {
			_, err := recvAll(e.client.ListBGPAdjRoutes(ctx, &pb.ListBGPAdjRoutesRequest{Neighbor: "192.0.2.7", Direction: "received"}))
			return err
		},
		"ResetBGPNeighbor": func() error {
			_, err := e.client.ResetBGPNeighbor(ctx, &pb.ResetBGPNeighborRequest{Neighbor: "192.0.2.7"})
			return err
		},
		"SetBGPNeighborEnabled": func() error {
			_, err := e.client.SetBGPNeighborEnabled(ctx, &pb.SetBGPNeighborEnabledRequest{Neighbor: "192.0.2.7"})
			return err
		},
	}
	for name, call := range calls {
		err := call()
		if status.Code(err) != codes.FailedPrecondition || status.Convert(err).Message() != "BGP is not configured" {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestBGPListAndGetNeighbors(t *testing.T) {
	e := newBGPEnv(t, &fakeBGP{})
	ctx := ctxT(t)
	resp, err := e.client.ListBGPNeighbors(ctx, &pb.ListBGPNeighborsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetLocalAs() != 65001 || resp.GetRouterId() != "192.0.2.10" || len(resp.GetNeighbors()) != 2 {
		t.Fatalf("summary %v", resp)
	}
	if d := resp.GetRestartDeferral(); !d.GetSince().AsTime().Equal(bgpUpSince) || !d.GetUntil().AsTime().Equal(bgpUpSince.Add(2*time.Minute)) ||
		!slices.Equal(d.GetWaitingFor(), []string{bgpPeerDown.String()}) {
		t.Errorf("restart deferral %v", d)
	}
	up := resp.GetNeighbors()[0]
	if up.GetAddress() != "192.0.2.7" || up.GetPeerAs() != 65002 || up.GetState() != "established" ||
		up.GetPrefixesReceived() != 3 || up.GetPrefixesAccepted() != 2 || up.GetPrefixesAdvertised() != 1 ||
		up.GetUpdatesReceived() != 5 || up.GetUpdatesSent() != 4 || up.GetFlaps() != 1 ||
		up.GetHoldTime().AsDuration() != 90*time.Second || !up.GetUpSince().AsTime().Equal(bgpUpSince) ||
		!slices.Equal(up.GetFamilies(), []string{"ipv4-unicast"}) || !up.GetFourOctetAs() ||
		up.GetImportPolicy() != "in" || up.GetExportPolicy() != "out" || up.GetRemoteId() != "192.0.2.7" ||
		up.GetSessionType() != "confed-ebgp" || !slices.Equal(up.GetCapabilities(), []string{"route refresh"}) ||
		!slices.Equal(up.GetStaleFamilies(), []string{"ipv6-unicast"}) {
		t.Errorf("established neighbor %v", up)
	}
	down := resp.GetNeighbors()[1]
	if down.GetState() != "active" || down.GetUpSince() != nil || down.GetHoldTime() != nil || down.GetRemoteId() != "" ||
		down.GetLastError() != "connection refused" {
		t.Errorf("down neighbor %v", down)
	}

	n, err := e.client.GetBGPNeighbor(ctx, &pb.GetBGPNeighborRequest{Neighbor: "2001:db8::9"})
	if err != nil || n.GetPeerAs() != 65003 {
		t.Errorf("get: %v %v", n, err)
	}
	_, err = e.client.GetBGPNeighbor(ctx, &pb.GetBGPNeighborRequest{Neighbor: "192.0.2.99"})
	if status.Code(err) != codes.NotFound || status.Convert(err).Message() != "192.0.2.99 is not a BGP neighbor" {
		t.Errorf("unknown neighbor: %v", err)
	}
	_, err = e.client.GetBGPNeighbor(ctx, &pb.GetBGPNeighborRequest{Neighbor: "192.0.2"})
	if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != `neighbor: "192.0.2" is not an IP address` {
		t.Errorf("bad address: %v", err)
	}
}

func TestBGPListRoutes(t *testing.T) {
	e := newBGPEnv(t, &fakeBGP{})
	ctx := ctxT(t)
	tests := []struct {
		name string
		req  *pb.ListBGPRoutesRequest
		want []string
		code codes.Code
	}{
		{"all", &pb.ListBGPRoutesRequest{}, []string{"10.0.0.0/8", "10.1.0.0/16", "2001:db8:1::/48"}, codes.OK},
		{"exact", &pb.ListBGPRoutesRequest{Prefix: "10.0.0.0/8"}, []string{"10.0.0.0/8"}, codes.OK},
		{"longer", &pb.ListBGPRoutesRequest{Prefix: "10.0.0.0/8", LongerPrefixes: true}, []string{"10.0.0.0/8", "10.1.0.0/16"}, codes.OK},
		{"exact miss", &pb.ListBGPRoutesRequest{Prefix: "10.2.0.0/16"}, nil, codes.OK},
		{"from neighbor", &pb.ListBGPRoutesRequest{Neighbor: "192.0.2.7"}, []string{"10.0.0.0/8", "10.1.0.0/16"}, codes.OK},
		{"from idle neighbor", &pb.ListBGPRoutesRequest{Neighbor: "2001:db8::9"}, nil, codes.OK},
		{"unknown neighbor", &pb.ListBGPRoutesRequest{Neighbor: "192.0.2.99"}, nil, codes.NotFound},
		{"bad prefix", &pb.ListBGPRoutesRequest{Prefix: "10.0.0.1/8"}, nil, codes.InvalidArgument},
		{"longer without prefix", &pb.ListBGPRoutesRequest{LongerPrefixes: true}, nil, codes.InvalidArgument},
	}
	for _, tc := range tests {
		rs, err := recvAll(e.client.ListBGPRoutes(ctx, tc.req))
		if status.Code(err) != tc.code || !slices.Equal(bgpPrefixes(rs), tc.want) {
			t.Errorf("%s: %v %v; want %v %v", tc.name, bgpPrefixes(rs), err, tc.want, tc.code)
		}
	}
	rs, err := recvAll(e.client.ListBGPRoutes(ctx, &pb.ListBGPRoutesRequest{Prefix: "10.0.0.0/8", LongerPrefixes: true}))
	if err != nil || len(rs) != 2 {
		t.Fatal(rs, err)
	}
	r := rs[0]
	p := r.GetPaths()[0]
	if r.GetReason() != "only path" || !slices.Equal(r.GetAdvertisedTo(), []string{"2001:db8::9"}) ||
		p.GetNeighbor() != "192.0.2.7" || !p.GetBest() || p.GetAsPath() != "65002" || p.GetNextHop() != "192.0.2.7" ||
		p.Med == nil || p.GetMed() != 10 || p.LocalPref != nil || !slices.Equal(p.GetCommunities(), []string{"65002:100", "no-export"}) {
		t.Errorf("10.0.0.0/8: %v", r)
	}
	r = rs[1]
	if r.GetReason() != "as-path length" || len(r.GetPaths()) != 2 || r.GetPaths()[0].GetLocal() != "network" ||
		r.GetPaths()[0].GetNeighbor() != "" || r.GetPaths()[0].GetLocalPref() != 100 || r.GetPaths()[1].GetBest() {
		t.Errorf("10.1.0.0/16: %v", r)
	}
}

func TestBGPAdjRoutes(t *testing.T) {
	e := newBGPEnv(t, &fakeBGP{})
	ctx := ctxT(t)
	tests := []struct {
		name      string
		neighbor  string
		direction string
		want      []string
		code      codes.Code
	}{
		{"received", "192.0.2.7", "received", []string{"10.0.0.0/8", "10.1.0.0/16"}, codes.OK},
		{"advertised", "192.0.2.7", "advertised", []string{"10.1.0.0/16"}, codes.OK},
		{"none", "2001:db8::9", "advertised", nil, codes.OK},
		{"unknown neighbor", "192.0.2.99", "received", nil, codes.NotFound},
		{"bad direction", "192.0.2.7", "sent", nil, codes.InvalidArgument},
		{"no neighbor", "", "received", nil, codes.InvalidArgument},
	}
	for _, tc := range tests {
		rs, err := recvAll(e.client.ListBGPAdjRoutes(ctx, &pb.ListBGPAdjRoutesRequest{Neighbor: tc.neighbor, Direction: tc.direction}))
		if status.Code(err) != tc.code || !slices.Equal(bgpPrefixes(rs), tc.want) {
			t.Errorf("%s: %v %v; want %v %v", tc.name, bgpPrefixes(rs), err, tc.want, tc.code)
		}
	}
}

func TestBGPResetAndEnable(t *testing.T) {
	f := &fakeBGP{}
	e := newBGPEnv(t, f)
	ctx := ctxT(t)
	tests := []struct {
		name     string
		neighbor string
		soft     string
		code     codes.Code
	}{
		{"hard", "192.0.2.7", "", codes.OK},
		{"soft in", "192.0.2.7", "in", codes.OK},
		{"soft out", "192.0.2.7", "out", codes.OK},
		{"soft both", "192.0.2.7", "both", codes.OK},
		{"soft, not established", "2001:db8::9", "out", codes.FailedPrecondition},
		{"unknown neighbor", "192.0.2.99", "", codes.NotFound},
		{"bad soft", "192.0.2.7", "sideways", codes.InvalidArgument},
	}
	for _, tc := range tests {
		_, err := e.client.ResetBGPNeighbor(ctx, &pb.ResetBGPNeighborRequest{Neighbor: tc.neighbor, Soft: tc.soft})
		if status.Code(err) != tc.code {
			t.Errorf("%s: %v; want %v", tc.name, err, tc.code)
		}
	}
	f.mu.Lock()
	got := slices.Clone(f.resets)
	f.mu.Unlock()
	if want := []string{"192.0.2.7/hard", "192.0.2.7/in", "192.0.2.7/out", "192.0.2.7/both"}; !slices.Equal(got, want) {
		t.Errorf("resets %v, want %v", got, want)
	}

	if _, err := e.client.SetBGPNeighborEnabled(ctx, &pb.SetBGPNeighborEnabledRequest{Neighbor: "2001:db8::9", Enabled: false}); err != nil {
		t.Fatal(err)
	}
	n, err := e.client.GetBGPNeighbor(ctx, &pb.GetBGPNeighborRequest{Neighbor: "2001:db8::9"})
	if err != nil || n.GetEnabled() {
		t.Errorf("after disable: %v %v", n, err)
	}
	if _, err := e.client.SetBGPNeighborEnabled(ctx, &pb.SetBGPNeighborEnabledRequest{Neighbor: "192.0.2.99", Enabled: true}); status.Code(err) != codes.NotFound {
		t.Errorf("enable unknown: %v", err)
	}

	// Writes stop when the daemon shuts down; reads go on.
	e.srv.SetReadOnly(true)
	if _, err := e.client.ResetBGPNeighbor(ctx, &pb.ResetBGPNeighborRequest{Neighbor: "192.0.2.7"}); status.Code(err) != codes.Unavailable {
		t.Errorf("reset while read-only: %v", err)
	}
	if _, err := e.client.ListBGPNeighbors(ctx, &pb.ListBGPNeighborsRequest{}); err != nil {
		t.Errorf("summary while read-only: %v", err)
	}
}

// TestBGPMethodAccess checks that every BGP method of the service is
// classified, reads as read and the rest as write.
func TestBGPMethodAccess(t *testing.T) {
	reads := map[string]bool{"ListBGPNeighbors": true, "GetBGPNeighbor": true, "ListBGPRoutes": true, "ListBGPAdjRoutes": true}
	seen := 0
	for _, m := range pb.Routerd_ServiceDesc.Methods {
		seen += checkAccess(t, m.MethodName, reads)
	}
	for _, s := range pb.Routerd_ServiceDesc.Streams {
		seen += checkAccess(t, s.StreamName, reads)
	}
	if seen != 6 {
		t.Errorf("%d BGP methods in the service, want 6", seen)
	}
	a := &authorizer{group: &account{id: 500}}
	member := PeerCred{UID: 1002, GID: 500}
	for m, read := range map[string]bool{"ListBGPRoutes": true, "ResetBGPNeighbor": false, "SetBGPNeighborEnabled": false} {
		full := "/routerd.v1.Routerd/" + m
		err := a.check(member, full, methodAccess[full])
		if (err == nil) != read {
			t.Errorf("group member calling %s: %v", m, err)
		}
	}
}

func checkAccess(t *testing.T, name string, reads map[string]bool) int {
	t.Helper()
	if !slices.Contains([]string{"ListBGPNeighbors", "GetBGPNeighbor", "ListBGPRoutes", "ListBGPAdjRoutes", "ResetBGPNeighbor", "SetBGPNeighborEnabled"}, name) {
		return 0
	}
	full := "/routerd.v1.Routerd/" + name
	need, ok := methodAccess[full]
	if !ok {
		t.Errorf("%s is not in methodAccess", name)
	}
	if want := map[bool]Access{true: AccessRead, false: AccessWrite}[reads[name]]; need != want {
		t.Errorf("%s needs %v, want %v", name, need, want)
	}
	return 1
}
