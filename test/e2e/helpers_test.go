package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/netns"
	"github.com/routerd/routerd/test/lab"
)

// startLab builds topo under a unique prefix and removes it when the test ends.
func startLab(t *testing.T, topo lab.Topology) *lab.Lab {
	t.Helper()
	skipUnlessRoot(t)
	l, err := lab.Up(topo, t.TempDir(), netns.UniqueName("e2"), routerd())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for node, r := range l.Routers {
				out, _ := exec.Command("cat", r.Log).Output()
				rib, _ := exec.Command(routerctl(), "--socket", r.Socket, "show", "route").CombinedOutput()
				kern, _ := l.NS(node).IP("route", "show", "table", "all")
				nh, _ := l.NS(node).IP("nexthop")
				t.Logf("routerd on %s: log:\n%s\nRIB:\n%s\nkernel:\n%s\nnexthops:\n%s", node, out, rib, kern, nh)
			}
		}
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	return l
}

// kroute is one kernel route as `ip -j route` shows it, reduced to what the
// tests compare.
type kroute struct {
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Protocol string `json:"protocol"`
	Type     string `json:"type"`
	Table    string `json:"table"`
	NHID     int    `json:"nhid"`
	Nexthops []struct {
		Gateway string `json:"gateway"`
		Dev     string `json:"dev"`
	} `json:"nexthops"`
}

// hops renders the next hops sorted, e.g. "10.0.12.2@r2a,10.0.21.2@r2b".
func (r kroute) hops() string {
	var hs []string
	if r.Gateway != "" || (r.Dev != "" && len(r.Nexthops) == 0) {
		hs = append(hs, r.Gateway+"@"+r.Dev)
	}
	for _, nh := range r.Nexthops {
		hs = append(hs, nh.Gateway+"@"+nh.Dev)
	}
	slices.Sort(hs)
	return strings.Join(hs, ",")
}

// kernelRoutes returns the routes of one protocol ("196" for routerd's, or
// a name like "static") in a namespace, both families, all tables but
// local, keyed by "table dst".
func kernelRoutes(t *testing.T, ns *netns.NS, proto string) map[string]kroute {
	t.Helper()
	out := map[string]kroute{}
	for _, fam := range []string{"-4", "-6"} {
		js, err := ns.IP(fam, "-j", "route", "show", "table", "all", "proto", proto)
		if err != nil {
			t.Fatal(err)
		}
		var rs []kroute
		if strings.TrimSpace(js) != "" {
			if err := json.Unmarshal([]byte(js), &rs); err != nil {
				t.Fatalf("ip -j route: %v\n%s", err, js)
			}
		}
		// Routes through a nexthop object list its members only in `ip nexthop`.
		nhs := nexthops(t, ns)
		for _, r := range rs {
			if r.Table == "local" {
				continue
			}
			if r.Table == "" {
				r.Table = "main"
			}
			if r.NHID != 0 && r.Gateway == "" && len(r.Nexthops) == 0 {
				r.Nexthops = nhs[r.NHID]
			}
			if r.Type == "" {
				r.Type = "unicast"
			}
			out[r.Table+" "+r.Dst] = r
		}
	}
	return out
}

type nhobj struct {
	ID      int    `json:"id"`
	Gateway string `json:"gateway"`
	Dev     string `json:"dev"`
	Group   []struct {
		ID int `json:"id"`
	} `json:"group"`
}

func nexthops(t *testing.T, ns *netns.NS) map[int][]struct {
	Gateway string `json:"gateway"`
	Dev     string `json:"dev"`
} {
	t.Helper()
	js, err := ns.IP("-j", "nexthop", "show")
	if err != nil {
		t.Fatal(err)
	}
	var objs []nhobj
	if strings.TrimSpace(js) != "" {
		if err := json.Unmarshal([]byte(js), &objs); err != nil {
			t.Fatalf("ip -j nexthop: %v\n%s", err, js)
		}
	}
	byID := map[int]nhobj{}
	for _, o := range objs {
		byID[o.ID] = o
	}
	type hop = struct {
		Gateway string `json:"gateway"`
		Dev     string `json:"dev"`
	}
	out := map[int][]hop{}
	for _, o := range objs {
		if len(o.Group) == 0 {
			out[o.ID] = []hop{{o.Gateway, o.Dev}}
			continue
		}
		for _, m := range o.Group {
			out[o.ID] = append(out[o.ID], hop{byID[m.ID].Gateway, byID[m.ID].Dev})
		}
	}
	return out
}

// want is an expected kernel route: key "table dst" -> sorted hops, or the
// route type for non-unicast routes.
type want map[string]string

// waitKernel waits until routerd's routes in ns are exactly w.
func waitKernel(t *testing.T, ns *netns.NS, w want) {
	t.Helper()
	var got map[string]string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		got = map[string]string{}
		for k, r := range kernelRoutes(t, ns, "196") {
			if r.Type != "unicast" {
				got[k] = r.Type
			} else {
				got[k] = r.hops()
			}
		}
		if fmt.Sprint(got) == fmt.Sprint(map[string]string(w)) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: routerd's kernel routes\n got: %v\nwant: %v", ns.Name, got, w)
}

// ctl runs routerctl against a lab router, optionally through extra argv
// prefix (e.g. setpriv ...), and returns output and exit code.
func ctl(t *testing.T, l *lab.Lab, node string, prefix []string, args ...string) (string, int) {
	t.Helper()
	argv := append(append([]string{}, prefix...), routerctl(), "--socket", l.Routers[node].Socket)
	argv = append(argv, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	return string(out), code
}

func ping(t *testing.T, l *lab.Lab, from, to string) {
	t.Helper()
	out, err := l.Exec(from, "ping", "-c", "2", "-i", "0.2", "-W", "2", to)
	if err != nil {
		t.Fatalf("ping %s from %s: %v\n%s", to, from, err, out)
	}
}
