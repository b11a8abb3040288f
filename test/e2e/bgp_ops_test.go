package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/netns"
	"github.com/routerd/routerd/test/lab"
)

// opsRouter is the configuration of one side of the operations lab: one
// eBGP neighbour, one network, metrics on 127.0.0.1:9190 in its namespace.
func opsRouter(id, as, peer, peerAS, network string) string {
	return `router-id: ` + id + `
metrics:
  listen: 127.0.0.1:9190
bgp:
  as: ` + as + `
  networks: [` + network + `]
  neighbors:
    - {address: ` + peer + `, as: ` + peerAS + `, description: peer-` + peerAS + `, import: accept, export: accept, hold-time: 9, connect-retry: 1, families: [ipv4-unicast]}
`
}

// neighborJSON is what the test reads of `show bgp neighbor X -o json`
// (uint64 fields are strings in protobuf's JSON).
type neighborJSON struct {
	State              string `json:"state"`
	Enabled            bool   `json:"enabled"`
	PrefixesReceived   string `json:"prefixes_received"`
	PrefixesAccepted   string `json:"prefixes_accepted"`
	PrefixesAdvertised string `json:"prefixes_advertised"`
	UpdatesSent        string `json:"updates_sent"`
	Flaps              int    `json:"flaps"`
}

func bgpNeighbor(t *testing.T, l *lab.Lab, node, addr string) neighborJSON {
	t.Helper()
	out, code := ctl(t, l, node, nil, "-o", "json", "show", "bgp", "neighbor", addr)
	var n neighborJSON
	if code != 0 {
		t.Fatalf("show bgp neighbor %s on %s: exit %d: %s", addr, node, code, out)
	}
	if err := json.Unmarshal([]byte(out), &n); err != nil {
		t.Fatalf("show bgp neighbor %s on %s: %v: %s", addr, node, err, out)
	}
	return n
}

// waitState waits until node's session with addr is in state.
func waitState(t *testing.T, l *lab.Lab, node, addr, state string, within time.Duration) neighborJSON {
	t.Helper()
	var n neighborJSON
	waitFor(t, within, fmt.Sprintf("%s: neighbor %s %s", node, addr, state), func() (bool, string) {
		n = bgpNeighbor(t, l, node, addr)
		return n.State == state, fmt.Sprintf("%+v", n)
	})
	return n
}

// scrape fetches /metrics from addr inside ns.
func scrape(t *testing.T, ns *netns.NS, addr string) string {
	t.Helper()
	var body strings.Builder
	err := ns.Do(func() error {
		// Dialled on this locked thread, so inside the namespace.
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			body.WriteString(sc.Text() + "\n")
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatalf("metrics from %s in %s: %v", addr, ns.Name, err)
	}
	return body.String()
}

// metricValue returns the value of the sample whose name and labels are
// exactly series, or -1.
func metricValue(body, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

// TestBGPOperations peers two routerd instances over eBGP and drives them
// the way an operator would: routerctl's BGP summary, neighbour detail,
// Loc-RIB with reasons and advertised routes, disable and enable, hard and
// soft resets, and the BGP metrics.
func TestBGPOperations(t *testing.T) {
	l := startLab(t, lab.Topology{
		Nodes: []lab.Node{
			{Name: "r1", Router: true, Config: opsRouter("10.0.12.1", "65001", "10.0.12.2", "65002", "10.1.0.0/24")},
			{Name: "r2", Router: true, Config: opsRouter("10.0.12.2", "65002", "10.0.12.1", "65001", "10.2.0.0/24")},
		},
		Links: []lab.Link{
			{A: "r1", AIf: "r2", AAddrs: []string{"10.0.12.1/24"}, B: "r2", BIf: "r1", BAddrs: []string{"10.0.12.2/24"}},
		},
	})
	r1 := l.NS("r1")
	waitKernelRoute(t, r1, "10.2.0.0/24", "via 10.0.12.2 dev r2", 20*time.Second)

	t.Run("summary", func(t *testing.T) {
		waitFor(t, 10*time.Second, "summary with prefix counts", func() (bool, string) {
			out, code := ctl(t, l, "r1", nil, "show", "bgp", "summary")
			ok := code == 0 && strings.Contains(out, "BGP router identifier 10.0.12.1, local AS 65001, 1 neighbors") &&
				regexp.MustCompile(`(?m)^10\.0\.12\.2\s+65002\s+established\s+\d\d:\d\d:\d\d\s+1\s+1\s+1\s+peer-65002$`).MatchString(out)
			return ok, out
		})
		n := bgpNeighbor(t, l, "r1", "10.0.12.2")
		if n.PrefixesReceived != "1" || n.PrefixesAccepted != "1" || n.PrefixesAdvertised != "1" || !n.Enabled {
			t.Errorf("neighbor JSON %+v", n)
		}
		if out, code := ctl(t, l, "r1", nil, "show", "bgp", "neighbor", "10.0.12.99"); code != 5 || !strings.Contains(out, "10.0.12.99 is not a BGP neighbor") {
			t.Errorf("unknown neighbor: exit %d: %s", code, out)
		}
	})

	t.Run("routes", func(t *testing.T) {
		out, code := ctl(t, l, "r1", nil, "show", "bgp", "routes")
		if code != 0 ||
			!regexp.MustCompile(`(?m)^>\*\s+10\.2\.0\.0/24\s+10\.0\.12\.2\s+10\.0\.12\.2\s+.*\s65002\s+igp\s+.*only path\s+-$`).MatchString(out) ||
			!regexp.MustCompile(`(?m)^>\*\s+10\.1\.0\.0/24\s+network\s+.*only path\s+10\.0\.12\.2$`).MatchString(out) {
			t.Errorf("show bgp routes: exit %d:\n%s", code, out)
		}
		out, code = ctl(t, l, "r1", nil, "-o", "json", "show", "bgp", "routes", "10.2.0.0/24")
		var rs struct {
			Routes []struct {
				Prefix string `json:"prefix"`
				Reason string `json:"reason"`
				Paths  []struct {
					Neighbor string `json:"neighbor"`
					Best     bool   `json:"best"`
					ASPath   string `json:"as_path"`
					NextHop  string `json:"next_hop"`
				} `json:"paths"`
			} `json:"routes"`
		}
		if err := json.Unmarshal([]byte(out), &rs); err != nil || code != 0 || len(rs.Routes) != 1 || rs.Routes[0].Reason != "only path" ||
			len(rs.Routes[0].Paths) != 1 || !rs.Routes[0].Paths[0].Best || rs.Routes[0].Paths[0].Neighbor != "10.0.12.2" ||
			rs.Routes[0].Paths[0].ASPath != "65002" || rs.Routes[0].Paths[0].NextHop != "10.0.12.2" {
			t.Errorf("JSON route: %v exit %d:\n%s", err, code, out)
		}
		if out, code := ctl(t, l, "r1", nil, "show", "bgp", "routes", "10.3.0.0/24"); code != 5 {
			t.Errorf("absent prefix: exit %d: %s", code, out)
		}
	})

	t.Run("adj-RIBs", func(t *testing.T) {
		out, code := ctl(t, l, "r1", nil, "show", "bgp", "neighbor", "10.0.12.2", "advertised-routes")
		if code != 0 || !regexp.MustCompile(`(?m)^10\.1\.0\.0/24\s+10\.0\.12\.1\s+-\s+-\s+65001\s+igp`).MatchString(out) || strings.Contains(out, "10.2.0.0/24") {
			t.Errorf("advertised-routes: exit %d:\n%s", code, out)
		}
		out, code = ctl(t, l, "r1", nil, "show", "bgp", "neighbor", "10.0.12.2", "received-routes")
		if code != 0 || !regexp.MustCompile(`(?m)^10\.2\.0\.0/24\s+10\.0\.12\.2\s+-\s+-\s+65002\s+igp`).MatchString(out) {
			t.Errorf("received-routes: exit %d:\n%s", code, out)
		}
	})

	t.Run("disable and enable", func(t *testing.T) {
		if out, code := ctl(t, l, "r1", nil, "bgp", "neighbor", "10.0.12.2", "disable"); code != 0 {
			t.Fatalf("disable: exit %d: %s", code, out)
		}
		n := waitState(t, l, "r1", "10.0.12.2", "idle", 5*time.Second)
		if n.Enabled {
			t.Errorf("disabled neighbor shows enabled: %+v", n)
		}
		out, _ := ctl(t, l, "r1", nil, "show", "bgp", "summary")
		if !strings.Contains(out, "idle (disabled)") {
			t.Errorf("summary after disable:\n%s", out)
		}
		// The peer sees the Cease at once and r1 withdraws the peer's route.
		waitFor(t, 5*time.Second, "r2 sees the session down", func() (bool, string) {
			n := bgpNeighbor(t, l, "r2", "10.0.12.1")
			return n.State != "established", n.State
		})
		waitKernelRoute(t, r1, "10.2.0.0/24", "", 5*time.Second)

		if out, code := ctl(t, l, "r1", nil, "bgp", "neighbor", "10.0.12.2", "enable"); code != 0 {
			t.Fatalf("enable: exit %d: %s", code, out)
		}
		waitState(t, l, "r1", "10.0.12.2", "established", 20*time.Second)
		waitKernelRoute(t, r1, "10.2.0.0/24", "via 10.0.12.2 dev r2", 10*time.Second)
	})

	t.Run("soft reset out", func(t *testing.T) {
		before := waitState(t, l, "r1", "10.0.12.2", "established", 10*time.Second)
		if out, code := ctl(t, l, "r1", nil, "bgp", "reset", "10.0.12.2", "--soft", "out"); code != 0 || !strings.Contains(out, "soft reset (out) of 10.0.12.2 started") {
			t.Fatalf("soft reset: exit %d: %s", code, out)
		}
		// The routes go out again in new UPDATEs over the same session.
		waitFor(t, 5*time.Second, "UPDATEs sent again", func() (bool, string) {
			n := bgpNeighbor(t, l, "r1", "10.0.12.2")
			a, _ := strconv.Atoi(n.UpdatesSent)
			b, _ := strconv.Atoi(before.UpdatesSent)
			return a > b, fmt.Sprintf("before %+v now %+v", before, n)
		})
		after := bgpNeighbor(t, l, "r1", "10.0.12.2")
		if after.State != "established" || after.Flaps != before.Flaps {
			t.Errorf("a soft reset changed the session: before %+v after %+v", before, after)
		}
	})

	t.Run("hard reset", func(t *testing.T) {
		before := waitState(t, l, "r1", "10.0.12.2", "established", 10*time.Second)
		if out, code := ctl(t, l, "r1", nil, "bgp", "reset", "10.0.12.2"); code != 0 {
			t.Fatalf("reset: exit %d: %s", code, out)
		}
		waitFor(t, 20*time.Second, "session back after a hard reset", func() (bool, string) {
			n := bgpNeighbor(t, l, "r1", "10.0.12.2")
			return n.State == "established" && n.Flaps > before.Flaps, fmt.Sprintf("%+v", n)
		})
		if out, code := ctl(t, l, "r1", nil, "bgp", "reset", "10.0.12.99", "--soft", "in"); code != 5 {
			t.Errorf("reset of an unknown neighbor: exit %d: %s", code, out)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		waitState(t, l, "r1", "10.0.12.2", "established", 10*time.Second)
		var body string
		want := map[string]func(float64) bool{
			`routerd_bgp_neighbors{state="established"}`:               func(v float64) bool { return v == 1 },
			`routerd_bgp_neighbors{state="idle"}`:                      func(v float64) bool { return v == 0 },
			`routerd_bgp_session_established{neighbor="10.0.12.2"}`:    func(v float64) bool { return v == 1 },
			`routerd_bgp_prefixes_received{neighbor="10.0.12.2"}`:      func(v float64) bool { return v == 1 },
			`routerd_bgp_prefixes_accepted{neighbor="10.0.12.2"}`:      func(v float64) bool { return v == 1 },
			`routerd_bgp_prefixes_advertised{neighbor="10.0.12.2"}`:    func(v float64) bool { return v == 1 },
			`routerd_bgp_updates_received_total{neighbor="10.0.12.2"}`: func(v float64) bool { return v >= 1 },
			`routerd_bgp_updates_sent_total{neighbor="10.0.12.2"}`:     func(v float64) bool { return v >= 1 },
			`routerd_bgp_session_flaps_total{neighbor="10.0.12.2"}`:    func(v float64) bool { return v >= 2 }, // disable and hard reset
			`routerd_rib_selected_routes{origin="ebgp",table="main"}`:  func(v float64) bool { return v == 1 },
		}
		waitFor(t, 10*time.Second, "BGP metrics", func() (bool, string) {
			body = scrape(t, r1, "127.0.0.1:9190")
			for s, ok := range want {
				if !ok(metricValue(body, s)) {
					return false, s + " = " + strconv.FormatFloat(metricValue(body, s), 'g', -1, 64)
				}
			}
			return true, ""
		})
	})
}
