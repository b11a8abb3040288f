package api

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/routerd/routerd/api/routerd/v1"
	"github.com/routerd/routerd/internal/rib"
)

// fuzzNames knows table blue (100) and interfaces eth0 (2) and eth1 (3).
func fuzzNames() *names {
	n := &names{}
	n.setTables(map[string]rib.Table{"blue": 100})
	n.ifByName = map[string]int32{"lo": 1, "eth0": 2, "eth1": 3}
	n.ifByIdx = map[int32]string{1: "lo", 2: "eth0", 3: "eth1"}
	return n
}

// FuzzAddRoutesRequest feeds arbitrary wire bytes through the decoding and
// validation of AddRoutes: it must never panic, reject only with a
// FieldError, and whatever it accepts the RIB must accept too.
func FuzzAddRoutesRequest(f *testing.F) {
	d := uint32(20)
	for _, req := range []*pb.AddRoutesRequest{
		{Routes: []*pb.RouteSpec{{Prefix: "10.0.0.0/8", Nexthops: []*pb.NextHop{{Gateway: "192.0.2.1"}}}}},
		{Routes: []*pb.RouteSpec{{Prefix: "2001:db8::/32", Table: "blue", Distance: &d, Nexthops: []*pb.NextHop{{Gateway: "fe80::1", Interface: "eth1", Weight: 2}}}}},
		{Routes: []*pb.RouteSpec{{Prefix: "0.0.0.0/0", Kind: "blackhole"}, {Prefix: "0.0.0.0/0", Kind: "prohibit"}}},
		{Routes: []*pb.RouteSpec{{Prefix: "10.0.0.0/8", Nexthops: []*pb.NextHop{{Gateway: "10.0.0.300"}}}}},
	} {
		b, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	n := fuzzNames()
	f.Fuzz(func(t *testing.T, b []byte) {
		var req pb.AddRoutesRequest
		if proto.Unmarshal(b, &req) != nil {
			return
		}
		routes, err := routesFromRequest(&req, n)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error without a field: %v", err)
			}
			return
		}
		r := rib.New()
		if err := r.NewSource(rib.OriginAPI, "api").Apply(routes, nil); err != nil {
			t.Fatalf("validated routes rejected by the RIB: %v\nrequest %v", err, &req)
		}
	})
}
