package api

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"testing"

	pb "github.com/routerd/routerd/api/routerd/v1"
	"github.com/routerd/routerd/internal/rib"
)

// BenchmarkListRoutes streams a table of 100,000 routes through the API
// per iteration; routes/s is the figure to watch.
func BenchmarkListRoutes(b *testing.B) {
	const n = 100_000
	e := newBenchEnv(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		st, err := e.client.ListRoutes(context.Background(), &pb.ListRoutesRequest{Table: "main"})
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for {
			_, err := st.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			got++
		}
		if got < n {
			b.Fatalf("got %d routes", got)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "routes/s")
}

func newBenchEnv(b *testing.B, n int) *testEnv {
	b.Helper()
	e := newTestEnv(b, nil)
	src := e.rib.NewSource(rib.OriginEBGP, "bgp 192.0.2.1")
	routes := make([]rib.Route, 0, n)
	for i := range n {
		a := netip.AddrFrom4([4]byte{byte(20 + i>>16), byte(i >> 8), byte(i), 0})
		routes = append(routes, rib.Route{Table: rib.TableMain, Prefix: netip.PrefixFrom(a, 24), Distance: 20,
			NextHops: []rib.NextHop{{Gateway: netip.MustParseAddr("192.0.2.1")}}})
	}
	if err := src.Apply(routes, nil); err != nil {
		b.Fatal(err)
	}
	return e
}
