package api

import (
	pb "github.com/routerd/routerd/api/routerd/v1"
	"github.com/routerd/routerd/internal/rib"
)

func nextHopsToPB(nhs []rib.NextHop, n *names) []*pb.NextHop {
	if len(nhs) == 0 {
		return nil
	}
	out := make([]*pb.NextHop, len(nhs))
	for i, nh := range nhs {
		p := &pb.NextHop{Ifindex: uint32(nh.Ifindex), Weight: uint32(nh.Weight), Interface: n.ifName(nh.Ifindex)}
		if p.Weight == 0 {
			p.Weight = 1
		}
		if nh.Gateway.IsValid() {
			p.Gateway = nh.Gateway.String()
		}
		out[i] = p
	}
	return out
}

func kindName(k rib.Kind) string {
	if k == 0 {
		k = rib.KindUnicast
	}
	return k.String()
}

// entryToPB converts a RIB entry for the API.
func entryToPB(e *rib.Entry, n *names) *pb.Route {
	r := &pb.Route{
		Table:      n.tableName(e.Table),
		TableId:    uint32(e.Table),
		Prefix:     e.Prefix.String(),
		Candidates: make([]*pb.Candidate, len(e.Candidates)),
	}
	for i := range e.Candidates {
		c := &e.Candidates[i]
		r.Candidates[i] = &pb.Candidate{
			Source:         c.Source,
			Origin:         c.Origin.String(),
			Kind:           kindName(c.Route.Kind),
			Distance:       uint32(c.Route.Distance),
			Metric:         c.Route.Metric,
			Nexthops:       nextHopsToPB(c.Route.NextHops, n),
			Resolved:       nextHopsToPB(c.Resolved, n),
			Selected:       c.Selected,
			KernelProtocol: uint32(c.Route.Proto),
		}
	}
	switch {
	case !e.Best.Valid():
		r.InstallState = pb.InstallState_INSTALL_STATE_NONE
	case e.InstallError != "":
		r.InstallState = pb.InstallState_INSTALL_STATE_FAILED
		r.InstallError = e.InstallError
	default:
		r.InstallState = pb.InstallState_INSTALL_STATE_INSTALLED
	}
	return r
}
