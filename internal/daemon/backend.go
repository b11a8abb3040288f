package daemon

import (
	"github.com/routerd/routerd/internal/api"
	"github.com/routerd/routerd/internal/kernel"
	"github.com/routerd/routerd/internal/rib"
)

// backend answers the API's questions the RIB cannot.
type backend struct{ d *Daemon }

func (b backend) Interfaces() ([]api.Interface, error) {
	var out []api.Interface
	for _, l := range b.d.monitor.Links() {
		out = append(out, api.Interface{
			Index:     l.Index,
			Name:      l.Name,
			AdminUp:   l.Up,
			OperState: l.OperState.String(),
			MTU:       l.MTU,
			MAC:       l.HardwareAddr,
			Addresses: l.Addrs,
		})
	}
	return out, nil
}

func (b backend) Tables() map[string]rib.Table {
	b.d.mu.Lock()
	defer b.d.mu.Unlock()
	out := make(map[string]rib.Table, len(b.d.cfg.Tables))
	for name, n := range b.d.cfg.Tables {
		out[name] = rib.Table(n)
	}
	return out
}

func (b backend) Reload() error { return b.d.Reload() }

func (b backend) Counters() []api.Counter {
	var cs []api.Counter
	if b.d.prog != nil {
		cs = append(cs, kernelCounters(b.d.prog.Metrics())...)
	}
	if b.d.fibw != nil {
		m := &b.d.fibm
		cs = append(cs,
			api.Counter{Subsystem: "fib", Name: "changes", Value: m.Changes.Load()},
			api.Counter{Subsystem: "fib", Name: "change_errors", Value: m.ChangeErrors.Load()},
			api.Counter{Subsystem: "fib", Name: "group_errors", Value: m.GroupErrors.Load()},
			api.Counter{Subsystem: "fib", Name: "commits", Value: m.Commits.Load()},
			api.Counter{Subsystem: "fib", Name: "commit_errors", Value: m.CommitErrors.Load()},
		)
	}
	return cs
}

func kernelCounters(m *kernel.ProgrammerMetrics) []api.Counter {
	return []api.Counter{
		{Subsystem: "kernel", Name: "routes_sent", Value: m.RoutesSent.Load()},
		{Subsystem: "kernel", Name: "routes_deleted", Value: m.RoutesDeleted.Load()},
		{Subsystem: "kernel", Name: "routes_adopted", Value: m.RoutesAdopted.Load()},
		{Subsystem: "kernel", Name: "route_errors", Value: m.RouteErrors.Load()},
		{Subsystem: "kernel", Name: "nexthops_sent", Value: m.NexthopsSent.Load()},
		{Subsystem: "kernel", Name: "nexthop_errors", Value: m.NexthopErrors.Load()},
		{Subsystem: "kernel", Name: "sendmsg_calls", Value: m.Sends.Load()},
		{Subsystem: "kernel", Name: "overruns", Value: m.Overruns.Load()},
		{Subsystem: "kernel", Name: "resyncs", Value: m.Resyncs.Load()},
		{Subsystem: "kernel", Name: "routes_installed", Value: uint64(max(m.Installed.Load(), 0))},
	}
}

// BGP returns the speaker's API, or nil (an untyped nil, as the API
// expects) when BGP is not configured.
func (b backend) BGP() api.BGPBackend {
	if s := b.d.bgp.get(); s != nil {
		return bgpBackend{s}
	}
	return nil
}
