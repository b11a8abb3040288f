package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/routerd/routerd/internal/fib"
	"github.com/routerd/routerd/internal/rib"
)

// TestFIBFeedRefused feeds a FIB with room for one table routes of two:
// the main table's go in, the other table's are refused. Every refusal is
// counted, the log gets one line for the lot (not one per route), naming
// the first refused route and how to make room, and the FIB keeps
// serving the routes it took.
func TestFIBFeedRefused(t *testing.T) {
	w, err := fib.Create("", fib.Options{MaxTables: 1, MainRootBits: 8, TableRootBits: 8, Nodes: 64, GroupSlots: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r := rib.New()
	sub, err := r.Subscribe("fib")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var m fibMetrics
	// Read only after the feed has returned (done is closed after its
	// last write).
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		followFIB(ctx, w, sub, &m, log)
	}()

	const n = 300
	var routes []rib.Route
	for i := 0; i < n; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
		routes = append(routes,
			rib.Route{Table: rib.TableMain, Prefix: p, Kind: rib.KindBlackhole, Distance: 1},
			rib.Route{Table: 100, Prefix: p, Kind: rib.KindBlackhole, Distance: 1})
	}
	src := r.NewSource(rib.OriginStatic, "static")
	if err := src.Apply(routes, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for m.Changes.Load()+m.ChangeErrors.Load() < 2*n {
		if time.Now().After(deadline) {
			t.Fatalf("feed made %d changes and refused %d of %d", m.Changes.Load(), m.ChangeErrors.Load(), 2*n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done

	if got, refused := m.Changes.Load(), m.ChangeErrors.Load(); got != n || refused != n {
		t.Errorf("changes %d, refused %d; want %d and %d", got, refused, n, n)
	}
	if m.Commits.Load() == 0 || m.CommitErrors.Load() != 0 {
		t.Errorf("commits %d, commit errors %d", m.Commits.Load(), m.CommitErrors.Load())
	}
	// One line at the first refusal, and the rest summed up at exit (the
	// feed may take the routes in one batch or several).
	out := logs.String()
	var lines []string
	total := 0
	for _, l := range strings.Split(out, "\n") {
		if !strings.Contains(l, "changes refused") {
			continue
		}
		lines = append(lines, l)
		var k int
		if _, err := fmt.Sscanf(l[strings.Index(l, "refused=")+len("refused="):], "%d", &k); err != nil {
			t.Fatalf("log line without a count: %s", l)
		}
		total += k
		for _, want := range []string{"table 100", "raise fib.nodes, fib.max-tables or fib.groups"} {
			if !strings.Contains(l, want) {
				t.Errorf("log line lacks %q: %s", want, l)
			}
		}
	}
	if len(lines) == 0 || len(lines) > 2 || total != n {
		t.Errorf("%d log lines counting %d refused changes, want one or two lines (one per %v, one at exit) counting %d:\n%s", len(lines), total, fibLogEvery, n, out)
	}
	if got := w.Lookup(fib.MainTable, netip.MustParseAddr("10.0.5.1")); got.Kind != fib.Blackhole {
		t.Errorf("main table lookup: %v, want blackhole", got.Kind)
	}
}
