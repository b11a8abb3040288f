package daemon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/rib"
)

// TestSyncGate: the kernel programmer's feed passes the RIB's snapshot
// and changes but holds Synced back until release, and then signals and
// delivers it once.
func TestSyncGate(t *testing.T) {
	r := rib.New()
	r.SetLinkUp(1, true)
	src := r.NewSource(rib.OriginStatic, "static")
	route := func(p string) rib.Route {
		return rib.Route{Table: rib.TableMain, Prefix: netip.MustParsePrefix(p), NextHops: []rib.NextHop{{Ifindex: 1}}}
	}
	if err := src.Apply([]rib.Route{route("10.1.0.0/16")}, nil); err != nil {
		t.Fatal(err)
	}
	sub, err := r.Subscribe("kernel")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	g := newSyncGate(sub)
	defer g.close()
	wait := func(what string) {
		t.Helper()
		select {
		case <-g.C():
		case <-time.After(5 * time.Second):
			t.Fatalf("C not signalled: %s", what)
		}
	}

	wait("snapshot")
	u := g.Next(100)
	if len(u.Routes) != 1 || u.Synced {
		t.Fatalf("snapshot: %d routes, synced %v; want 1 route, Synced held", len(u.Routes), u.Synced)
	}
	if u := g.Next(100); !u.Empty() {
		t.Fatalf("second Next: %+v, want empty", u)
	}
	if err := src.Apply([]rib.Route{route("10.2.0.0/16")}, nil); err != nil {
		t.Fatal(err)
	}
	wait("change")
	if u := g.Next(100); len(u.Routes) != 1 || u.Synced {
		t.Fatalf("change: %d routes, synced %v", len(u.Routes), u.Synced)
	}
	g.release()
	g.release()
	wait("release")
	if u := g.Next(100); !u.Synced || len(u.Routes) != 0 {
		t.Fatalf("after release: %d routes, synced %v; want Synced", len(u.Routes), u.Synced)
	}
	if u := g.Next(100); !u.Empty() {
		t.Fatalf("after Synced: %+v, want empty", u)
	}
}
