package main

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/api"
)

// fakeBGP is an api.BGPBackend with one established and one disabled
// neighbour and two Loc-RIB prefixes.
type fakeBGP struct {
	mu       sync.Mutex
	actions  []string
	deferral *api.BGPDeferral
}

var (
	peerA = netip.MustParseAddr("192.0.2.7")
	peerB = netip.MustParseAddr("2001:db8::9")
)

func (f *fakeBGP) Summary() api.BGPSummary {
	return api.BGPSummary{LocalAS: 65001, RouterID: netip.MustParseAddr("192.0.2.10"), Neighbors: []api.BGPNeighbor{
		{Address: peerA, AS: 65002, Description: "transit", Enabled: true, State: "established", SessionType: "ebgp",
			RemoteID: peerA, LocalAddr: netip.MustParseAddr("192.0.2.10"), HoldTime: 90 * time.Second,
			Families: []string{"ipv4-unicast"}, AS4: true, UpSince: time.Now().Add(-(3*time.Hour + 25*time.Minute + 7*time.Second)),
			PrefixesReceived: 12, PrefixesAccepted: 10, PrefixesAdvertised: 3, UpdatesIn: 8, UpdatesOut: 2, Import: "in", Export: "out",
			PrefixesAcceptedIPv6: 4, MaxPrefixesIPv4: 100,
			Capabilities:  []string{"multiprotocol: ipv4-unicast", "graceful restart: restart time 120 s, ipv4-unicast (forwarding preserved), N bit"},
			StaleFamilies: []string{"ipv6-unicast"}},
		{Address: peerB, AS: 65003, State: "idle", Flaps: 2, LastError: "administratively disabled", LastDown: time.Now().Add(-50 * time.Hour)},
	}, Deferral: f.deferral}
}

func (f *fakeBGP) Neighbor(a netip.Addr) (api.BGPNeighbor, error) {
	for _, n := range f.Summary().Neighbors {
		if n.Address == a {
			return n, nil
		}
	}
	return api.BGPNeighbor{}, api.ErrNoBGPNeighbor
}

func u32(v uint32) *uint32 { return &v }

var fakeRoutes = []api.BGPRoute{
	{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Reason: "as-path length", AdvertisedTo: []netip.Addr{peerB},
		Paths: []api.BGPPath{
			{Neighbor: peerA, Best: true, Usable: true, Origin: "igp", ASPath: "65002", NextHop: peerA, MED: u32(5), Communities: []string{"65002:100"}},
			{Local: "redistributed", Usable: true, Origin: "incomplete", ASPath: "65002 65010", NextHop: netip.MustParseAddr("192.0.2.1"), LocalPref: u32(100)},
		}},
	{Prefix: netip.MustParsePrefix("2001:db8:1::/48"), Reason: "only path",
		Paths: []api.BGPPath{{Local: "network", Best: true, Usable: true, Origin: "igp"}}},
}

func (f *fakeBGP) Routes(filter netip.Prefix, fn func(*api.BGPRoute) bool) {
	for i := range fakeRoutes {
		r := fakeRoutes[i]
		if filter.IsValid() && (filter.Addr().Is4() != r.Prefix.Addr().Is4() || r.Prefix.Bits() < filter.Bits() || !filter.Contains(r.Prefix.Addr())) {
			continue
		}
		if !fn(&r) {
			return
		}
	}
}

func (f *fakeBGP) AdjRoutes(a netip.Addr, advertised bool) ([]api.BGPRoute, error) {
	if _, err := f.Neighbor(a); err != nil {
		return nil, err
	}
	if a != peerA || !advertised {
		return nil, nil
	}
	return []api.BGPRoute{{Prefix: netip.MustParsePrefix("2001:db8:1::/48"), Paths: []api.BGPPath{
		{Best: true, Usable: true, Origin: "igp", ASPath: "65001", NextHop: netip.MustParseAddr("2001:db8::10"), LinkLocal: netip.MustParseAddr("fe80::10")},
	}}}, nil
}

func (f *fakeBGP) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actions = append(f.actions, s)
}

func (f *fakeBGP) Reset(a netip.Addr, kind api.BGPReset) error {
	if _, err := f.Neighbor(a); err != nil {
		return err
	}
	if a == peerB && kind != api.BGPResetHard {
		return errors.New("session is not established")
	}
	f.record("reset " + a.String() + " " + []string{"hard", "in", "out", "both"}[kind])
	return nil
}

func (f *fakeBGP) SetEnabled(a netip.Addr, on bool) error {
	if _, err := f.Neighbor(a); err != nil {
		return err
	}
	f.record("enable " + a.String() + " " + map[bool]string{true: "on", false: "off"}[on])
	return nil
}

func TestBGPExitCodes(t *testing.T) {
	f := &fakeBGP{}
	socket := startDaemonWith(t, backend{bgp: f})
	plain := startDaemon(t)
	tests := []struct {
		name   string
		socket string
		args   []string
		code   int
		stderr string
	}{
		{"summary", socket, []string{"show", "bgp", "summary"}, 0, ""},
		{"show bgp alone", socket, []string{"show", "bgp"}, 2, "show bgp what?"},
		{"neighbor", socket, []string{"show", "bgp", "neighbor", "192.0.2.7"}, 0, ""},
		{"all neighbors", socket, []string{"show", "bgp", "neighbors"}, 0, ""},
		{"unknown neighbor", socket, []string{"show", "bgp", "neighbor", "192.0.2.99"}, 5, "192.0.2.99 is not a BGP neighbor"},
		{"bad neighbor", socket, []string{"show", "bgp", "neighbor", "192.0.2"}, 2, `"192.0.2" is not an IP address`},
		{"received", socket, []string{"show", "bgp", "neighbor", "192.0.2.7", "received-routes"}, 0, ""},
		{"advertised", socket, []string{"show", "bgp", "neighbor", "192.0.2.7", "advertised-routes"}, 0, ""},
		{"adj of unknown", socket, []string{"show", "bgp", "neighbor", "192.0.2.99", "advertised-routes"}, 5, "not a BGP neighbor"},
		{"bad adj word", socket, []string{"show", "bgp", "neighbor", "192.0.2.7", "routes"}, 2, "use received-routes or advertised-routes"},
		{"routes", socket, []string{"show", "bgp", "routes"}, 0, ""},
		{"route exact", socket, []string{"show", "bgp", "routes", "10.0.0.0/8"}, 0, ""},
		{"route missing", socket, []string{"show", "bgp", "routes", "10.9.0.0/16"}, 5, "no BGP route for 10.9.0.0/16"},
		{"route longer missing", socket, []string{"show", "bgp", "routes", "10.9.0.0/16", "--longer"}, 5, "or a more specific prefix"},
		{"routes of unknown", socket, []string{"show", "bgp", "routes", "--neighbor", "192.0.2.99"}, 5, "not a BGP neighbor"},
		{"routes bad prefix", socket, []string{"show", "bgp", "routes", "10.0.0.1/8"}, 2, "10.0.0.1/8"},
		{"hard reset", socket, []string{"bgp", "reset", "192.0.2.7"}, 0, ""},
		{"soft out", socket, []string{"bgp", "reset", "192.0.2.7", "--soft", "out"}, 0, ""},
		{"soft, not established", socket, []string{"bgp", "reset", "2001:db8::9", "--soft", "in"}, 1, "session is not established"},
		{"bad soft", socket, []string{"bgp", "reset", "192.0.2.7", "--soft", "up"}, 2, `--soft "up"`},
		{"reset unknown", socket, []string{"bgp", "reset", "192.0.2.99"}, 5, "not a BGP neighbor"},
		{"disable", socket, []string{"bgp", "neighbor", "192.0.2.7", "disable"}, 0, ""},
		{"enable", socket, []string{"bgp", "neighbor", "192.0.2.7", "enable"}, 0, ""},
		{"enable unknown", socket, []string{"bgp", "neighbor", "192.0.2.99", "enable"}, 5, "not a BGP neighbor"},
		{"bad verb", socket, []string{"bgp", "neighbor", "192.0.2.7", "shut"}, 2, "use enable or disable"},
		{"not configured", plain, []string{"show", "bgp", "summary"}, 1, "BGP is not configured"},
		{"not configured reset", plain, []string{"bgp", "reset", "192.0.2.7"}, 1, "BGP is not configured"},
	}
	for _, tc := range tests {
		code, _, stderr := routerctl(t, tc.socket, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, code, stderr, tc.code, tc.stderr)
		}
	}
	f.mu.Lock()
	got := strings.Join(f.actions, "; ")
	f.mu.Unlock()
	if want := "reset 192.0.2.7 hard; reset 192.0.2.7 out; enable 192.0.2.7 off; enable 192.0.2.7 on"; got != want {
		t.Errorf("actions %q, want %q", got, want)
	}
}

func TestBGPSummaryOutput(t *testing.T) {
	socket := startDaemonWith(t, backend{bgp: &fakeBGP{}})
	code, out, _ := routerctl(t, socket, "show", "bgp", "summary")
	want := `BGP router identifier 192.0.2.10, local AS 65001, 2 neighbors

NEIGHBOR     AS     STATE            UP/DOWN   RECEIVED  ACCEPTED  ADVERTISED  DESCRIPTION
192.0.2.7    65002  established      03:25:07  12        10        3           transit
2001:db8::9  65003  idle (disabled)  2d02h     0         0         0           -
`
	if code != 0 || out != want {
		t.Errorf("exit %d, got\n%s\nwant\n%s", code, out, want)
	}
	code, out, _ = routerctl(t, socket, "-o", "json", "show", "bgp", "summary")
	var s struct {
		LocalAS   int `json:"local_as"`
		Neighbors []struct {
			Address          string `json:"address"`
			State            string `json:"state"`
			PrefixesAccepted string `json:"prefixes_accepted"`
		} `json:"neighbors"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != 0 || s.LocalAS != 65001 || len(s.Neighbors) != 2 ||
		s.Neighbors[0].State != "established" || s.Neighbors[0].PrefixesAccepted != "10" {
		t.Errorf("json %v %+v:\n%s", err, s, out)
	}
	// routerd restarted gracefully and waits for a neighbour's End-of-RIB.
	now := time.Now()
	socket = startDaemonWith(t, backend{bgp: &fakeBGP{deferral: &api.BGPDeferral{
		Since: now.Add(-42 * time.Second), Until: now.Add(78*time.Second + 500*time.Millisecond), WaitingFor: []netip.Addr{peerA}}}})
	_, out, _ = routerctl(t, socket, "show", "bgp", "summary")
	if line := "Graceful restart: tables held back for 00:00:42, at most 00:01:18 more, waiting for End-of-RIB from 192.0.2.7\n"; !strings.Contains(out, line) {
		t.Errorf("got\n%s\nwant the line\n%s", out, line)
	}
}

func TestBGPNeighborOutput(t *testing.T) {
	socket := startDaemonWith(t, backend{bgp: &fakeBGP{}})
	_, out, _ := routerctl(t, socket, "show", "bgp", "neighbor", "192.0.2.7")
	for _, s := range []string{
		`BGP neighbor 192.0.2.7, AS 65002 (ebgp), "transit"`,
		"  State:             established, up for 03:25:07 (since ",
		"  Hold time:         1m30s\n",
		"  Families:          ipv4-unicast\n",
		"  Policies:          import in, export out\n",
		"  Prefixes:          received 12, accepted 10, advertised 3\n",
		"  Prefix limits:     ipv4 6 of 100, ipv6 4 of none\n",
		"  Its capabilities:  multiprotocol: ipv4-unicast\n                     graceful restart: restart time 120 s, ipv4-unicast (forwarding preserved), N bit\n",
		"  Stale routes:      kept for ipv6-unicast (graceful restart or route refresh in progress)\n",
		"  UPDATE messages:   received 8, sent 2\n",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("neighbor lacks %q:\n%s", s, out)
		}
	}
	_, out, _ = routerctl(t, socket, "show", "bgp", "neighbor", "2001:db8::9")
	for _, s := range []string{"idle (disabled), down for 2d02h", "Last error:", "administratively disabled", "import (none)"} {
		if !strings.Contains(out, s) {
			t.Errorf("idle neighbor lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "Hold time") {
		t.Errorf("idle neighbor shows session details:\n%s", out)
	}
}

func TestBGPRoutesOutput(t *testing.T) {
	socket := startDaemonWith(t, backend{bgp: &fakeBGP{}})
	_, out, _ := routerctl(t, socket, "show", "bgp", "routes")
	want := `Codes: > best, * next hop resolves

    PREFIX           FROM           NEXT HOP   MED  LOCPRF  AS PATH      ORIGIN      COMMUNITIES  REASON          ADVERTISED TO
>*  10.0.0.0/8       192.0.2.7      192.0.2.7  5    -       65002        igp         65002:100    as-path length  2001:db8::9
*                    redistributed  192.0.2.1  -    100     65002 65010  incomplete  -            -               -
>*  2001:db8:1::/48  network        -          -    -       -            igp         -            only path       -
`
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	_, out, _ = routerctl(t, socket, "show", "bgp", "neighbor", "192.0.2.7", "advertised-routes")
	want = `PREFIX           NEXT HOP               MED  LOCPRF  AS PATH  ORIGIN  COMMUNITIES
2001:db8:1::/48  2001:db8::10,fe80::10  -    -       65001    igp     -
`
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	_, out, _ = routerctl(t, socket, "-o", "json", "show", "bgp", "routes", "10.0.0.0/8")
	var rs struct {
		Routes []struct {
			Prefix string `json:"prefix"`
			Reason string `json:"reason"`
			Paths  []struct {
				Neighbor string  `json:"neighbor"`
				Best     bool    `json:"best"`
				MED      *uint32 `json:"med"`
			} `json:"paths"`
			AdvertisedTo []string `json:"advertised_to"`
		} `json:"routes"`
	}
	if err := json.Unmarshal([]byte(out), &rs); err != nil || len(rs.Routes) != 1 || rs.Routes[0].Reason != "as-path length" ||
		len(rs.Routes[0].Paths) != 2 || !rs.Routes[0].Paths[0].Best || rs.Routes[0].Paths[0].MED == nil || rs.Routes[0].Paths[1].MED != nil {
		t.Errorf("json %v %+v:\n%s", err, rs, out)
	}
	_, out, _ = routerctl(t, socket, "-o", "json", "show", "bgp", "neighbor", "192.0.2.7", "received-routes")
	if strings.TrimSpace(out) != `{"routes": []}` {
		t.Errorf("empty received-routes: %q", out)
	}
}

func TestBGPCompletion(t *testing.T) {
	socket := startDaemonWith(t, backend{bgp: &fakeBGP{}})
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "show", "bgp", "neighbor", ""}, []string{"192.0.2.7\tAS65002 established transit", "2001:db8::9\tAS65003 idle"}},
		{[]string{"__complete", "show", "bgp", "neighbor", "192.0.2.7", ""}, []string{"received-routes", "advertised-routes"}},
		{[]string{"__complete", "bgp", "neighbor", "192.0.2.7", ""}, []string{"enable", "disable"}},
		{[]string{"__complete", "bgp", "reset", ""}, []string{"192.0.2.7\tAS65002 established transit", "2001:db8::9\tAS65003 idle"}},
		{[]string{"__complete", "bgp", "reset", "192.0.2.7", "--soft", ""}, []string{"in", "out", "both"}},
		{[]string{"__complete", "show", "bgp", "routes", "--neighbor", ""}, []string{"192.0.2.7\tAS65002 established transit", "2001:db8::9\tAS65003 idle"}},
		{[]string{"__complete", "show", "bgp", ""}, []string{
			"neighbor\tShow BGP neighbours in detail, or the routes received from or advertised to one",
			"routes\tShow the BGP Loc-RIB: every path per prefix, the best one and why",
			"summary\tShow every BGP neighbour: AS, state, up/down time and prefix counts"}},
	}
	for _, tc := range tests {
		code, out, _ := routerctl(t, socket, tc.args...)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "Completion") {
				got = append(got, l)
			}
		}
		if code != 0 || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%v: exit %d, got %q, want %q", tc.args, code, got, tc.want)
		}
	}
}

func TestAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "00:00:00", 59 * time.Second: "00:00:59", 3*time.Hour + 25*time.Minute + 7*time.Second: "03:25:07",
		24 * time.Hour: "1d00h", 50*time.Hour + 30*time.Minute: "2d02h", -time.Second: "00:00:00",
	} {
		if got := age(d); got != want {
			t.Errorf("age(%s) = %q, want %q", d, got, want)
		}
	}
}
