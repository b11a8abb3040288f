package api

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/routerd/routerd/api/routerd/v1"
	"github.com/routerd/routerd/internal/rib"
	"github.com/routerd/routerd/pkg/fibreader"
)

// service implements pb.RouterdServer.
type service struct {
	pb.UnimplementedRouterdServer
	rib      *rib.RIB
	statics  *rib.Source
	backend  Backend
	fib      FIB
	version  string
	started  time.Time
	stopping <-chan struct{}

	writeMu sync.Mutex // one write at a time: check-then-apply stays atomic
}

// invalid turns a validation error into INVALID_ARGUMENT.
func invalid(err error) error {
	return status.Error(codes.InvalidArgument, err.Error())
}

// ListRoutes streams matching entries one message each; a full table is
// never one message.
func (s *service) ListRoutes(req *pb.ListRoutesRequest, stream grpc.ServerStreamingServer[pb.Route]) error {
	n := newNames(s.backend)
	var f rib.Filter
	var err error
	if f.Table, err = n.parseTable(req.GetTable(), 0); err != nil {
		return invalid(fieldErr("table", "%v", err))
	}
	if req.GetPrefix() != "" {
		if f.Prefix, err = parsePrefix("prefix", req.GetPrefix()); err != nil {
			return invalid(err)
		}
		f.Longer = req.GetLongerPrefixes()
	} else if req.GetLongerPrefixes() {
		return invalid(fieldErr("longer_prefixes", "needs a prefix"))
	}
	var bgp bool
	if f.Origin, bgp, err = parseOrigin("origin", req.GetOrigin()); err != nil {
		return invalid(err)
	}
	if f.Family, err = parseFamily("family", req.GetFamily()); err != nil {
		return invalid(err)
	}
	ctx := stream.Context()
	var sendErr error
	i := 0
	s.rib.Walk(f, func(e rib.Entry) bool {
		if bgp && !hasBGP(&e) {
			return true
		}
		if i++; i%1024 == 0 && ctx.Err() != nil {
			sendErr = status.FromContextError(ctx.Err()).Err()
			return false
		}
		if err := stream.Send(entryToPB(&e, n)); err != nil {
			sendErr = err
			return false
		}
		return true
	})
	return sendErr
}

func hasBGP(e *rib.Entry) bool {
	for _, c := range e.Candidates {
		if c.Origin == rib.OriginEBGP || c.Origin == rib.OriginIBGP {
			return true
		}
	}
	return false
}

// GetRoute returns one entry.
func (s *service) GetRoute(_ context.Context, req *pb.GetRouteRequest) (*pb.Route, error) {
	n := newNames(s.backend)
	t, err := n.parseTable(req.GetTable(), rib.TableMain)
	if err != nil {
		return nil, invalid(fieldErr("table", "%v", err))
	}
	p, err := parsePrefix("prefix", req.GetPrefix())
	if err != nil {
		return nil, invalid(err)
	}
	e, ok := s.rib.Get(rib.Key{Table: t, Prefix: p})
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no route for %s in table %s", p, n.tableName(t))
	}
	return entryToPB(&e, n), nil
}

// LookupRoute does the kernel's longest match among selected routes.
func (s *service) LookupRoute(_ context.Context, req *pb.LookupRouteRequest) (*pb.Route, error) {
	n := newNames(s.backend)
	t, err := n.parseTable(req.GetTable(), rib.TableMain)
	if err != nil {
		return nil, invalid(fieldErr("table", "%v", err))
	}
	a, err := parseAddress("address", req.GetAddress())
	if err != nil {
		return nil, invalid(err)
	}
	if e, ok := s.lookupFIB(t, a); ok {
		return entryToPB(&e, n), nil
	}
	e, ok := s.rib.Lookup(t, a)
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no route to %s in table %s", a, n.tableName(t))
	}
	return entryToPB(&e, n), nil
}

// lookupFIB finds the route that forwards a in table t through the FIB:
// one lookup there for the prefix, then that prefix's entry from the RIB,
// instead of the RIB's probe of every installed length under its lock. It
// fails when there is no FIB, the FIB has no route, or the RIB no longer
// selects the route the FIB names (the FIB follows the RIB a batch of
// changes behind); the RIB's own longest match answers then. While the FIB
// is behind, the answer is the route the data plane forwards with.
func (s *service) lookupFIB(t rib.Table, a netip.Addr) (rib.Entry, bool) {
	if s.fib == nil {
		return rib.Entry{}, false
	}
	r := s.fib.Lookup(uint32(t), a)
	if r.Kind == fibreader.NoRoute || !r.Prefix.IsValid() {
		return rib.Entry{}, false
	}
	e, ok := s.rib.Get(rib.Key{Table: t, Prefix: r.Prefix})
	if !ok {
		return rib.Entry{}, false
	}
	if _, sel := e.Selected(); !sel {
		return rib.Entry{}, false
	}
	return e, true
}

// AddRoutes validates the whole batch, then offers it in one Apply.
func (s *service) AddRoutes(_ context.Context, req *pb.AddRoutesRequest) (*pb.AddRoutesResponse, error) {
	if s.statics == nil {
		return nil, status.Error(codes.Unimplemented, "runtime static routes are not enabled in this daemon")
	}
	n := newNames(s.backend)
	routes, err := routesFromRequest(req, n)
	if err != nil {
		return nil, invalid(err)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.statics.Apply(routes, nil); err != nil {
		if errors.Is(err, rib.ErrInvalidRoute) {
			return nil, invalid(err)
		}
		return nil, status.Errorf(codes.Internal, "RIB: %v", err)
	}
	return &pb.AddRoutesResponse{Added: uint32(len(routes))}, nil
}

// DeleteRoutes withdraws runtime statics; every key must be one.
func (s *service) DeleteRoutes(_ context.Context, req *pb.DeleteRoutesRequest) (*pb.DeleteRoutesResponse, error) {
	if s.statics == nil {
		return nil, status.Error(codes.Unimplemented, "runtime static routes are not enabled in this daemon")
	}
	n := newNames(s.backend)
	keys, err := keysFromRequest(req, n)
	if err != nil {
		return nil, invalid(err)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	have := map[rib.Key]bool{}
	for _, r := range s.statics.Routes() {
		have[rib.Key{Table: r.Table, Prefix: r.Prefix}] = true
	}
	for i, k := range keys {
		if !have[k] {
			return nil, status.Errorf(codes.NotFound, "routes[%d]: %s table %s is not a route added through the API; nothing was deleted", i, k.Prefix, n.tableName(k.Table))
		}
	}
	if err := s.statics.Apply(nil, keys); err != nil {
		return nil, status.Errorf(codes.Internal, "RIB: %v", err)
	}
	return &pb.DeleteRoutesResponse{Deleted: uint32(len(keys))}, nil
}

// ListInterfaces returns the backend's interfaces.
func (s *service) ListInterfaces(context.Context, *pb.ListInterfacesRequest) (*pb.ListInterfacesResponse, error) {
	ifs, err := s.backend.Interfaces()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "interfaces: %v", err)
	}
	out := &pb.ListInterfacesResponse{Interfaces: make([]*pb.Interface, len(ifs))}
	for i, f := range ifs {
		p := &pb.Interface{
			Index:     uint32(f.Index),
			Name:      f.Name,
			AdminUp:   f.AdminUp,
			OperState: f.OperState,
			Mtu:       f.MTU,
		}
		if len(f.MAC) > 0 {
			p.Mac = f.MAC.String()
		}
		for _, a := range f.Addresses {
			p.Addresses = append(p.Addresses, a.String())
		}
		out.Interfaces[i] = p
	}
	return out, nil
}

// GetStatus reports version, uptime, route counts and memory.
func (s *service) GetStatus(context.Context, *pb.GetStatusRequest) (*pb.Status, error) {
	n := newNames(s.backend)
	st := &pb.Status{
		Version:    s.version,
		StartTime:  timestamppb.New(s.started),
		Uptime:     durationpb.New(time.Since(s.started).Truncate(time.Second)),
		Pid:        uint32(os.Getpid()),
		Goroutines: uint32(runtime.NumGoroutine()),
	}
	for _, c := range s.rib.Counts() {
		st.RouteCounts = append(st.RouteCounts, &pb.RouteCount{
			Table:    n.tableName(c.Table),
			TableId:  uint32(c.Table),
			Origin:   c.Origin.String(),
			Routes:   uint64(c.Routes),
			Selected: uint64(c.Selected),
		})
	}
	rs := s.rib.Stats()
	st.Rib = &pb.RIBStats{
		Prefixes:      uint64(rs.Keys),
		NexthopGroups: uint64(rs.Groups),
		Subscribers:   uint64(rs.Subscribers),
		InstallErrors: uint64(rs.InstallErrors),
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st.Memory = &pb.Memory{
		RssBytes:       selfRSS(),
		HeapAllocBytes: ms.HeapAlloc,
		HeapSysBytes:   ms.HeapSys,
		GoSysBytes:     ms.Sys,
		GcCycles:       ms.NumGC,
	}
	for _, c := range s.backend.Counters() {
		st.Counters = append(st.Counters, &pb.Counter{Subsystem: c.Subsystem, Name: c.Name, Value: c.Value})
	}
	return st, nil
}

// selfRSS returns VmRSS of this process in bytes, 0 if unknown.
func selfRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseVmRSS(b)
}

func parseVmRSS(b []byte) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("VmRSS:")) {
			continue
		}
		f := bytes.Fields(line[len("VmRSS:"):])
		if len(f) == 0 {
			return 0
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0
		}
		return kb * 1024
	}
	return 0
}

// Reload asks the daemon to reload its configuration.
func (s *service) Reload(context.Context, *pb.ReloadRequest) (*pb.ReloadResponse, error) {
	if err := s.backend.Reload(); err != nil {
		if _, ok := status.FromError(err); ok {
			return nil, err
		}
		return nil, status.Errorf(codes.FailedPrecondition, "reload: %v; the running configuration is unchanged", err)
	}
	return &pb.ReloadResponse{}, nil
}

var errStopping = status.Error(codes.Unavailable, "routerd is shutting down")

// WatchRoutes streams the selected routes through one RIB subscription.
func (s *service) WatchRoutes(req *pb.WatchRoutesRequest, stream grpc.ServerStreamingServer[pb.WatchRoutesResponse]) error {
	n := newNames(s.backend)
	table, err := n.parseTable(req.GetTable(), 0)
	if err != nil {
		return invalid(fieldErr("table", "%v", err))
	}
	family, err := parseFamily("family", req.GetFamily())
	if err != nil {
		return invalid(err)
	}
	name := "api watch"
	if p, ok := callerFrom(stream.Context()); ok {
		name = fmt.Sprintf("api watch (uid %d pid %d)", p.UID, p.PID)
	}
	sub, err := s.rib.Subscribe(name)
	if errors.Is(err, rib.ErrTooManySubscribers) {
		return status.Error(codes.ResourceExhausted, "too many route watchers are open; try again later")
	}
	if err != nil {
		return status.Errorf(codes.Internal, "subscribe: %v", err)
	}
	defer sub.Close()
	w := watcher{names: n, table: table, family: family, groups: map[rib.GroupID][]rib.NextHop{}, shown: map[rib.GroupID]bool{}}
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.stopping:
			return errStopping
		case <-sub.C():
		}
		u := sub.Next(watchBatch)
		if msg := w.convert(&u); msg != nil {
			if err := stream.Send(msg); err != nil {
				return err
			}
		}
		if u.Synced {
			if err := stream.Send(&pb.WatchRoutesResponse{Synced: true}); err != nil {
				return err
			}
		}
	}
}

// watchBatch is how many route changes one drain takes, and so the most
// route events in one message.
const watchBatch = 1024

// watcher turns RIB updates into stream messages. It keeps every group's
// resolution (groups are far fewer than routes) so that route events carry
// their next hops, and which groups it has shown, so that group events go
// only to a client that has seen a route using the group.
type watcher struct {
	names  *names
	table  rib.Table
	family int
	groups map[rib.GroupID][]rib.NextHop
	shown  map[rib.GroupID]bool
}

func (w *watcher) convert(u *rib.Update) *pb.WatchRoutesResponse {
	msg := &pb.WatchRoutesResponse{}
	for _, g := range u.Groups {
		w.groups[g.ID] = g.NextHops
		if w.shown[g.ID] {
			msg.Groups = append(msg.Groups, &pb.GroupEvent{Group: uint32(g.ID), Nexthops: nextHopsToPB(g.NextHops, w.names)})
		}
	}
	for _, rc := range u.Routes {
		if w.table != 0 && rc.Table != w.table {
			continue
		}
		if (w.family == 4 && !rc.Prefix.Addr().Is4()) || (w.family == 6 && rc.Prefix.Addr().Is4()) {
			continue
		}
		ev := &pb.RouteEvent{
			Table:   w.names.tableName(rc.Table),
			TableId: uint32(rc.Table),
			Prefix:  rc.Prefix.String(),
			Present: rc.Best.Valid(),
		}
		if b := rc.Best; b.Valid() {
			ev.Origin = b.Origin.String()
			ev.Kind = kindName(b.Kind)
			ev.Distance = uint32(b.Distance)
			ev.Metric = b.Metric
			ev.KernelProtocol = uint32(b.Proto)
			if b.Group != 0 {
				ev.Group = uint32(b.Group)
				ev.Nexthops = nextHopsToPB(w.groups[b.Group], w.names)
				w.shown[b.Group] = true
			}
		}
		msg.Routes = append(msg.Routes, ev)
	}
	for _, id := range u.Removed {
		delete(w.groups, id)
		delete(w.shown, id)
	}
	if len(msg.Groups) == 0 && len(msg.Routes) == 0 {
		return nil
	}
	return msg
}
