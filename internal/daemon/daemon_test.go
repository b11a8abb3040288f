package daemon

import (
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/config"
	"github.com/routerd/routerd/internal/rib"
)

func TestNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	for _, state := range []string{"READY=1", reloadingState(), "STOPPING=1"} {
		if err := notify(state); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(buf[:n]); got != state {
			t.Fatalf("service manager got %q, want %q", got, state)
		}
	}
	if !strings.HasPrefix(reloadingState(), "RELOADING=1\nMONOTONIC_USEC=") {
		t.Fatalf("reloading state %q", reloadingState())
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := notify("READY=1"); err != nil {
		t.Fatalf("without NOTIFY_SOCKET notify must do nothing: %v", err)
	}
}

func TestStaticRoutes(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`static:
  - prefix: 10.1.0.0/16
    via: [10.0.0.1, 10.0.0.2]
    dev: eth0
  - prefix: 10.2.0.0/16
    via: [10.0.0.1]
    dev: missing0
  - prefix: 192.0.2.0/24
    type: unreachable
    table: 100
`))
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]int32{"eth0": 7}
	rs := staticRoutes(cfg.Static, func(n string) (int32, bool) { i, ok := links[n]; return i, ok })
	if len(rs) != 3 {
		t.Fatalf("%d routes", len(rs))
	}
	if rs[0].NextHops[0].Ifindex != 7 || rs[0].NextHops[1].Gateway != netip.MustParseAddr("10.0.0.2") || rs[0].Distance != 1 {
		t.Errorf("ECMP route: %+v", rs[0])
	}
	if rs[1].NextHops[0].Ifindex != unknownIfindex {
		t.Errorf("missing interface must not resolve: %+v", rs[1])
	}
	if rs[2].Kind != rib.KindUnreachable || rs[2].Table != 100 || len(rs[2].NextHops) != 0 {
		t.Errorf("unreachable route: %+v", rs[2])
	}
	// The RIB accepts what the conversion makes, and the route through the
	// missing interface stays unselected.
	r := rib.New()
	r.SetLinkUp(7, true)
	if err := r.NewSource(rib.OriginStatic, "static").Replace(rs); err != nil {
		t.Fatal(err)
	}
	if e, _ := r.Get(rib.Key{Table: rib.TableMain, Prefix: netip.MustParsePrefix("10.2.0.0/16")}); e.Best.Valid() {
		t.Errorf("route via a missing interface selected: %+v", e)
	}
	if e, _ := r.Get(rib.Key{Table: rib.TableMain, Prefix: netip.MustParsePrefix("10.1.0.0/16")}); !e.Best.Valid() {
		t.Errorf("route via eth0 not selected: %+v", e)
	}
}
