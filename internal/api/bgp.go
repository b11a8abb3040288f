package api

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/routerd/routerd/api/routerd/v1"
)

// BGPBackend is the BGP speaker as the API sees it. The daemon implements
// it on top of internal/bgp; the types below are plain values, so that
// this package does not depend on the speaker's internals (and tests fake
// it in a few lines). Every method must be safe for concurrent use.
type BGPBackend interface {
	// Summary returns the speaker's identity and every neighbour, ordered
	// by address.
	Summary() BGPSummary
	// Neighbor returns one neighbour, or ErrNoBGPNeighbor.
	Neighbor(addr netip.Addr) (BGPNeighbor, error)
	// Routes calls fn with each Loc-RIB entry, within filter when it is
	// valid (that prefix and every more specific one), ordered by address
	// and prefix length, until fn returns false.
	Routes(filter netip.Prefix, fn func(*BGPRoute) bool)
	// AdjRoutes returns the routes received from (after import policy) or
	// advertised to a neighbour, ordered as Routes; ErrNoBGPNeighbor for an
	// unknown one.
	AdjRoutes(addr netip.Addr, advertised bool) ([]BGPRoute, error)
	// Reset resets a neighbour's session (BGPResetHard) or refreshes its
	// routes (the soft kinds). ErrNoBGPNeighbor for an unknown neighbour;
	// any other error means the reset could not be done in the session's
	// state and reaches the caller as FAILED_PRECONDITION.
	Reset(addr netip.Addr, kind BGPReset) error
	// SetEnabled enables or disables a neighbour; ErrNoBGPNeighbor for an
	// unknown one.
	SetEnabled(addr netip.Addr, on bool) error
}

// ErrNoBGPNeighbor is what a BGPBackend returns for an address that is not
// a configured neighbour.
var ErrNoBGPNeighbor = errors.New("no such BGP neighbor")

// BGPReset is the kind of a neighbour reset.
type BGPReset uint8

// Reset kinds.
const (
	BGPResetHard    BGPReset = iota // close the session with a Cease
	BGPResetSoftIn                  // ask the neighbour to send its routes again
	BGPResetSoftOut                 // send every route to the neighbour again
	BGPResetSoftBoth
)

// BGPSummary is the speaker's identity and its neighbours.
type BGPSummary struct {
	LocalAS   uint32
	RouterID  netip.Addr
	Neighbors []BGPNeighbor
	// Set during the restart deferral (graceful restart, restarting
	// side): since when, until when at the latest, and the neighbours
	// whose End-of-RIB it waits for.
	Deferral *BGPDeferral
}

// BGPDeferral is the state of routerd's own graceful restart.
type BGPDeferral struct {
	Since, Until time.Time
	WaitingFor   []netip.Addr
}

// BGPNeighbor is one configured neighbour and its session.
type BGPNeighbor struct {
	Address     netip.Addr
	AS          uint32
	Description string
	Enabled     bool
	State       string // "idle", "connect", "active", "opensent", "openconfirm", "established"
	// Set while established.
	RemoteID  netip.Addr
	LocalAddr netip.Addr
	HoldTime  time.Duration
	Families  []string // "ipv4-unicast", "ipv6-unicast"
	AS4       bool
	UpSince   time.Time
	// Prefix counts: announced minus withdrawn (before policy), in the
	// Loc-RIB (after policy), advertised to the neighbour.
	PrefixesReceived   uint64
	PrefixesAccepted   uint64
	PrefixesAdvertised uint64
	// Accepted IPv6 prefixes (of PrefixesAccepted) and the limits per
	// family (0: none).
	PrefixesAcceptedIPv6             uint64
	MaxPrefixesIPv4, MaxPrefixesIPv6 uint32
	UpdatesIn                        uint64
	UpdatesOut                       uint64
	Flaps                            int
	LastError                        string
	LastDown                         time.Time
	LastNotification                 string   // the last NOTIFICATION received
	Import, Export                   string   // policy names
	SessionType                      string   // "ebgp", "ibgp", "confed-ebgp"
	Capabilities                     []string // the neighbour's OPEN, as text
	StaleFamilies                    []string // routes kept as stale now
}

// BGPPath is one path of a BGP route, its attributes in text form.
type BGPPath struct {
	Neighbor         netip.Addr // invalid for the speaker's own routes
	Local            string     // "network" or "redistributed" for own routes
	Best             bool
	Usable           bool
	Origin           string // "igp", "egp", "incomplete"; empty if absent
	ASPath           string
	NextHop          netip.Addr
	LinkLocal        netip.Addr
	MED              *uint32 // nil if absent
	LocalPref        *uint32 // nil if absent
	Communities      []string
	LargeCommunities []string
	ExtCommunities   []string
	AtomicAggregate  bool
	Aggregator       string
	OriginatorID     netip.Addr
	ClusterList      []string
}

// BGPRoute is one prefix with its paths, best first.
type BGPRoute struct {
	Prefix       netip.Prefix
	Paths        []BGPPath
	Reason       string       // decision step that made the best path win; empty if none is best
	AdvertisedTo []netip.Addr // Loc-RIB entries only
}

var errNoBGP = status.Error(codes.FailedPrecondition, "BGP is not configured")

// bgp returns the BGP backend or the FAILED_PRECONDITION error to return.
func (s *service) bgp() (BGPBackend, error) {
	if b := s.backend.BGP(); b != nil {
		return b, nil
	}
	return nil, errNoBGP
}

// bgpErr turns a BGPBackend error about neighbour a into a status.
func bgpErr(a netip.Addr, err error) error {
	if errors.Is(err, ErrNoBGPNeighbor) {
		return status.Errorf(codes.NotFound, "%s is not a BGP neighbor", a)
	}
	return status.Errorf(codes.FailedPrecondition, "neighbor %s: %v", a, err)
}

// ListBGPNeighbors returns the summary.
func (s *service) ListBGPNeighbors(context.Context, *pb.ListBGPNeighborsRequest) (*pb.ListBGPNeighborsResponse, error) {
	b, err := s.bgp()
	if err != nil {
		return nil, err
	}
	sum := b.Summary()
	out := &pb.ListBGPNeighborsResponse{LocalAs: sum.LocalAS, RouterId: addrString(sum.RouterID)}
	if d := sum.Deferral; d != nil {
		rd := &pb.RestartDeferral{Since: timeToPB(d.Since), Until: timeToPB(d.Until)}
		for _, a := range d.WaitingFor {
			rd.WaitingFor = append(rd.WaitingFor, a.String())
		}
		out.RestartDeferral = rd
	}
	for i := range sum.Neighbors {
		out.Neighbors = append(out.Neighbors, neighborToPB(&sum.Neighbors[i]))
	}
	return out, nil
}

// GetBGPNeighbor returns one neighbour.
func (s *service) GetBGPNeighbor(_ context.Context, req *pb.GetBGPNeighborRequest) (*pb.BGPNeighbor, error) {
	b, err := s.bgp()
	if err != nil {
		return nil, err
	}
	a, err := parseAddress("neighbor", req.GetNeighbor())
	if err != nil {
		return nil, invalid(err)
	}
	n, err := b.Neighbor(a)
	if err != nil {
		return nil, bgpErr(a, err)
	}
	return neighborToPB(&n), nil
}

// ListBGPRoutes streams the Loc-RIB.
func (s *service) ListBGPRoutes(req *pb.ListBGPRoutesRequest, stream grpc.ServerStreamingServer[pb.BGPRoute]) error {
	b, err := s.bgp()
	if err != nil {
		return err
	}
	var filter netip.Prefix
	if req.GetPrefix() != "" {
		if filter, err = parsePrefix("prefix", req.GetPrefix()); err != nil {
			return invalid(err)
		}
	} else if req.GetLongerPrefixes() {
		return invalid(fieldErr("longer_prefixes", "needs a prefix"))
	}
	var from netip.Addr
	if req.GetNeighbor() != "" {
		if from, err = parseAddress("neighbor", req.GetNeighbor()); err != nil {
			return invalid(err)
		}
		if _, err := b.Neighbor(from); err != nil {
			return bgpErr(from, err)
		}
	}
	exact := filter.IsValid() && !req.GetLongerPrefixes()
	ctx := stream.Context()
	var sendErr error
	i := 0
	b.Routes(filter, func(r *BGPRoute) bool {
		if exact && r.Prefix != filter {
			return true
		}
		if from.IsValid() && !hasPathFrom(r, from) {
			return true
		}
		if i++; i%1024 == 0 && ctx.Err() != nil {
			sendErr = status.FromContextError(ctx.Err()).Err()
			return false
		}
		if err := stream.Send(bgpRouteToPB(r)); err != nil {
			sendErr = err
			return false
		}
		return true
	})
	return sendErr
}

func hasPathFrom(r *BGPRoute, a netip.Addr) bool {
	for i := range r.Paths {
		if r.Paths[i].Neighbor == a {
			return true
		}
	}
	return false
}

// ListBGPAdjRoutes streams a neighbour's received or advertised routes.
func (s *service) ListBGPAdjRoutes(req *pb.ListBGPAdjRoutesRequest, stream grpc.ServerStreamingServer[pb.BGPRoute]) error {
	b, err := s.bgp()
	if err != nil {
		return err
	}
	a, err := parseAddress("neighbor", req.GetNeighbor())
	if err != nil {
		return invalid(err)
	}
	var advertised bool
	switch req.GetDirection() {
	case "received":
	case "advertised":
		advertised = true
	default:
		return invalid(fieldErr("direction", "%q: use received or advertised", req.GetDirection()))
	}
	routes, err := b.AdjRoutes(a, advertised)
	if err != nil {
		return bgpErr(a, err)
	}
	ctx := stream.Context()
	for i := range routes {
		if i%1024 == 1023 && ctx.Err() != nil {
			return status.FromContextError(ctx.Err()).Err()
		}
		if err := stream.Send(bgpRouteToPB(&routes[i])); err != nil {
			return err
		}
	}
	return nil
}

var resetKinds = map[string]BGPReset{"": BGPResetHard, "in": BGPResetSoftIn, "out": BGPResetSoftOut, "both": BGPResetSoftBoth}

// ResetBGPNeighbor resets a session or refreshes its routes.
func (s *service) ResetBGPNeighbor(_ context.Context, req *pb.ResetBGPNeighborRequest) (*pb.ResetBGPNeighborResponse, error) {
	b, err := s.bgp()
	if err != nil {
		return nil, err
	}
	a, err := parseAddress("neighbor", req.GetNeighbor())
	if err != nil {
		return nil, invalid(err)
	}
	kind, ok := resetKinds[req.GetSoft()]
	if !ok {
		return nil, invalid(fieldErr("soft", "%q: use in, out, both, or empty for a hard reset", req.GetSoft()))
	}
	if err := b.Reset(a, kind); err != nil {
		return nil, bgpErr(a, err)
	}
	return &pb.ResetBGPNeighborResponse{}, nil
}

// SetBGPNeighborEnabled enables or disables a neighbour.
func (s *service) SetBGPNeighborEnabled(_ context.Context, req *pb.SetBGPNeighborEnabledRequest) (*pb.SetBGPNeighborEnabledResponse, error) {
	b, err := s.bgp()
	if err != nil {
		return nil, err
	}
	a, err := parseAddress("neighbor", req.GetNeighbor())
	if err != nil {
		return nil, invalid(err)
	}
	if err := b.SetEnabled(a, req.GetEnabled()); err != nil {
		return nil, bgpErr(a, err)
	}
	return &pb.SetBGPNeighborEnabledResponse{}, nil
}

// addrString is the text form of a, "" when it is not valid.
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func timeToPB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func neighborToPB(n *BGPNeighbor) *pb.BGPNeighbor {
	p := &pb.BGPNeighbor{
		Address:                  addrString(n.Address),
		PeerAs:                   n.AS,
		Description:              n.Description,
		Enabled:                  n.Enabled,
		State:                    n.State,
		RemoteId:                 addrString(n.RemoteID),
		LocalAddress:             addrString(n.LocalAddr),
		Families:                 n.Families,
		FourOctetAs:              n.AS4,
		UpSince:                  timeToPB(n.UpSince),
		PrefixesReceived:         n.PrefixesReceived,
		PrefixesAccepted:         n.PrefixesAccepted,
		PrefixesAcceptedIpv6:     n.PrefixesAcceptedIPv6,
		MaxPrefixesIpv4:          n.MaxPrefixesIPv4,
		MaxPrefixesIpv6:          n.MaxPrefixesIPv6,
		PrefixesAdvertised:       n.PrefixesAdvertised,
		UpdatesReceived:          n.UpdatesIn,
		UpdatesSent:              n.UpdatesOut,
		Flaps:                    uint32(n.Flaps),
		LastError:                n.LastError,
		LastDown:                 timeToPB(n.LastDown),
		LastNotificationReceived: n.LastNotification,
		ImportPolicy:             n.Import,
		ExportPolicy:             n.Export,
		SessionType:              n.SessionType,
		Capabilities:             n.Capabilities,
		StaleFamilies:            n.StaleFamilies,
	}
	if n.HoldTime > 0 || n.State == "established" {
		p.HoldTime = durationpb.New(n.HoldTime)
	}
	return p
}

func bgpRouteToPB(r *BGPRoute) *pb.BGPRoute {
	p := &pb.BGPRoute{Prefix: r.Prefix.String(), Reason: r.Reason, Paths: make([]*pb.BGPPath, len(r.Paths))}
	for i := range r.Paths {
		x := &r.Paths[i]
		p.Paths[i] = &pb.BGPPath{
			Neighbor:         addrString(x.Neighbor),
			Local:            x.Local,
			Best:             x.Best,
			Usable:           x.Usable,
			Origin:           x.Origin,
			AsPath:           x.ASPath,
			NextHop:          addrString(x.NextHop),
			LinkLocalNextHop: addrString(x.LinkLocal),
			Med:              x.MED,
			LocalPref:        x.LocalPref,
			Communities:      x.Communities,
			LargeCommunities: x.LargeCommunities,
			ExtCommunities:   x.ExtCommunities,
			AtomicAggregate:  x.AtomicAggregate,
			Aggregator:       x.Aggregator,
			OriginatorId:     addrString(x.OriginatorID),
			ClusterList:      x.ClusterList,
		}
	}
	for _, a := range r.AdvertisedTo {
		p.AdvertisedTo = append(p.AdvertisedTo, a.String())
	}
	return p
}
