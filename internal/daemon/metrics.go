package daemon

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/routerd/routerd/internal/bgp"
)

type metricsServer struct {
	srv *http.Server
}

// startMetrics serves Prometheus metrics on addr: routes per table and
// origin, kernel programming counters, BGP sessions and prefix counts per
// neighbour, and the process's memory (the standard process and Go
// collectors).
func startMetrics(addr string, d *Daemon) (*metricsServer, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "routerd"}),
		collectors.NewGoCollector(),
		&ribCollector{d: d},
		&bgpCollector{d: d},
	)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m := &metricsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("metrics listener", "err", err)
		}
	}()
	d.log.Info("metrics listening", "addr", ln.Addr().String())
	return m, nil
}

func (m *metricsServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = m.srv.Shutdown(ctx)
}

var (
	descRoutes = prometheus.NewDesc("routerd_rib_routes", "Candidate routes in the RIB by table and origin.",
		[]string{"table", "origin"}, nil)
	descSelected = prometheus.NewDesc("routerd_rib_selected_routes", "Routes selected as best by table and origin.",
		[]string{"table", "origin"}, nil)
	descGroups    = prometheus.NewDesc("routerd_rib_nexthop_groups", "Next-hop groups in the RIB.", nil, nil)
	descFailed    = prometheus.NewDesc("routerd_rib_install_errors", "Selected routes the kernel rejected.", nil, nil)
	descKernelOps = prometheus.NewDesc("routerd_kernel_operations_total", "Netlink operations sent to the kernel by kind.",
		[]string{"op"}, nil)
	descKernelErr = prometheus.NewDesc("routerd_kernel_errors_total", "Netlink operations the kernel rejected by kind.",
		[]string{"op"}, nil)
	descHeap      = prometheus.NewDesc("routerd_go_heap_bytes", "Go heap in use.", nil, nil)
	descInstalled = prometheus.NewDesc("routerd_kernel_routes", "Routes routerd wants in the kernel.", nil, nil)
	descOverruns  = prometheus.NewDesc("routerd_kernel_overruns_total", "Netlink overruns (ENOBUFS) on the programmer's socket.", nil, nil)
	descFIBOps    = prometheus.NewDesc("routerd_fib_operations_total", "Changes the shared-memory FIB feed made, by kind.",
		[]string{"op"}, nil)
	descFIBErr = prometheus.NewDesc("routerd_fib_errors_total", "Changes the shared-memory FIB refused, by kind (a refused route is missing from the data plane).",
		[]string{"op"}, nil)
	descFIBPrefixes = prometheus.NewDesc("routerd_fib_prefixes", "Prefixes in the shared-memory FIB as last published, by family.",
		[]string{"family"}, nil)
	descFIBUsed = prometheus.NewDesc("routerd_fib_capacity_used", "Used part of the shared-memory FIB's capacity, by pool (nodes: fib.nodes; groups: fib.groups).",
		[]string{"pool"}, nil)
	descFIBTotal = prometheus.NewDesc("routerd_fib_capacity", "Capacity of the shared-memory FIB, by pool.",
		[]string{"pool"}, nil)
)

// ribCollector reads the RIB's counts at scrape time: counting is a walk of
// the RIB, cheaper than keeping per-origin counters on the hot path.
type ribCollector struct{ d *Daemon }

func (c *ribCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRoutes, descSelected, descGroups, descFailed, descKernelOps, descKernelErr, descHeap, descInstalled, descOverruns,
		descFIBOps, descFIBErr, descFIBPrefixes, descFIBUsed, descFIBTotal} {
		ch <- d
	}
}

func (c *ribCollector) Collect(ch chan<- prometheus.Metric) {
	d := c.d
	for _, n := range d.rib.Counts() {
		ch <- prometheus.MustNewConstMetric(descRoutes, prometheus.GaugeValue, float64(n.Routes), n.Table.String(), n.Origin.String())
		ch <- prometheus.MustNewConstMetric(descSelected, prometheus.GaugeValue, float64(n.Selected), n.Table.String(), n.Origin.String())
	}
	st := d.rib.Stats()
	ch <- prometheus.MustNewConstMetric(descGroups, prometheus.GaugeValue, float64(st.Groups))
	ch <- prometheus.MustNewConstMetric(descFailed, prometheus.GaugeValue, float64(st.InstallErrors))
	if d.prog != nil {
		m := d.prog.Metrics()
		for _, op := range []struct {
			name         string
			sent, failed uint64
		}{
			{"route_add", m.RoutesSent.Load(), m.RouteErrors.Load()},
			{"route_delete", m.RoutesDeleted.Load(), 0},
			{"nexthop_add", m.NexthopsSent.Load(), m.NexthopErrors.Load()},
			{"nexthop_delete", m.NexthopsDeleted.Load(), 0},
		} {
			ch <- prometheus.MustNewConstMetric(descKernelOps, prometheus.CounterValue, float64(op.sent), op.name)
			ch <- prometheus.MustNewConstMetric(descKernelErr, prometheus.CounterValue, float64(op.failed), op.name)
		}
		ch <- prometheus.MustNewConstMetric(descInstalled, prometheus.GaugeValue, float64(m.Installed.Load()))
		ch <- prometheus.MustNewConstMetric(descOverruns, prometheus.CounterValue, float64(m.Overruns.Load()))
	}
	if d.fibw != nil {
		m := &d.fibm
		ch <- prometheus.MustNewConstMetric(descFIBOps, prometheus.CounterValue, float64(m.Changes.Load()), "route")
		ch <- prometheus.MustNewConstMetric(descFIBOps, prometheus.CounterValue, float64(m.Commits.Load()), "commit")
		ch <- prometheus.MustNewConstMetric(descFIBErr, prometheus.CounterValue, float64(m.ChangeErrors.Load()), "route")
		ch <- prometheus.MustNewConstMetric(descFIBErr, prometheus.CounterValue, float64(m.GroupErrors.Load()), "group")
		ch <- prometheus.MustNewConstMetric(descFIBErr, prometheus.CounterValue, float64(m.CommitErrors.Load()), "commit")
		// From the file's header, which the writer publishes at each
		// commit: safe to read beside the feed goroutine.
		st := d.fibw.Reader().Stats()
		ch <- prometheus.MustNewConstMetric(descFIBPrefixes, prometheus.GaugeValue, float64(st.Prefixes4), "ipv4")
		ch <- prometheus.MustNewConstMetric(descFIBPrefixes, prometheus.GaugeValue, float64(st.Prefixes6), "ipv6")
		ch <- prometheus.MustNewConstMetric(descFIBUsed, prometheus.GaugeValue, float64(st.NodesUsed), "nodes")
		ch <- prometheus.MustNewConstMetric(descFIBTotal, prometheus.GaugeValue, float64(st.NodesTotal), "nodes")
		ch <- prometheus.MustNewConstMetric(descFIBUsed, prometheus.GaugeValue, float64(st.GroupsUsed), "groups")
		ch <- prometheus.MustNewConstMetric(descFIBTotal, prometheus.GaugeValue, float64(st.GroupSlots), "groups")
		ch <- prometheus.MustNewConstMetric(descFIBUsed, prometheus.GaugeValue, float64(len(st.Tables)), "tables")
		ch <- prometheus.MustNewConstMetric(descFIBTotal, prometheus.GaugeValue, float64(st.MaxTables), "tables")
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	ch <- prometheus.MustNewConstMetric(descHeap, prometheus.GaugeValue, float64(ms.HeapAlloc))
}

var (
	descBGPNeighbors = prometheus.NewDesc("routerd_bgp_neighbors", "Configured BGP neighbours by session state.",
		[]string{"state"}, nil)
	descBGPUp = prometheus.NewDesc("routerd_bgp_session_established", "1 if the session with the neighbour is established, else 0.",
		[]string{"neighbor"}, nil)
	descBGPUpdatesIn = prometheus.NewDesc("routerd_bgp_updates_received_total", "UPDATE messages received from the neighbour in the current session.",
		[]string{"neighbor"}, nil)
	descBGPUpdatesOut = prometheus.NewDesc("routerd_bgp_updates_sent_total", "UPDATE messages sent to the neighbour in the current session.",
		[]string{"neighbor"}, nil)
	descBGPReceived = prometheus.NewDesc("routerd_bgp_prefixes_received", "Prefixes the neighbour announced minus those it withdrew, before import policy.",
		[]string{"neighbor"}, nil)
	descBGPAccepted = prometheus.NewDesc("routerd_bgp_prefixes_accepted", "The neighbour's paths in the Loc-RIB, after import policy.",
		[]string{"neighbor"}, nil)
	descBGPAdvertised = prometheus.NewDesc("routerd_bgp_prefixes_advertised", "Prefixes advertised to the neighbour.",
		[]string{"neighbor"}, nil)
	descBGPFlaps = prometheus.NewDesc("routerd_bgp_session_flaps_total", "Established sessions with the neighbour that went down.",
		[]string{"neighbor"}, nil)
)

// bgpStates are the values of routerd_bgp_neighbors' state label, all of
// them reported (zero included) so that a state's series never vanishes.
var bgpStates = []bgp.State{bgp.StateIdle, bgp.StateConnect, bgp.StateActive, bgp.StateOpenSent, bgp.StateOpenConfirm, bgp.StateEstablished}

// bgpCollector reads the speaker's neighbours at scrape time; it reports
// nothing when BGP is not configured.
type bgpCollector struct{ d *Daemon }

func (c *bgpCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBGPNeighbors, descBGPUp, descBGPUpdatesIn, descBGPUpdatesOut, descBGPReceived, descBGPAccepted, descBGPAdvertised, descBGPFlaps} {
		ch <- d
	}
}

func (c *bgpCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.d.bgp.get()
	if s == nil {
		return
	}
	ns := s.Neighbors()
	counts := s.PrefixCounts()
	byState := make(map[bgp.State]int, len(bgpStates))
	for i := range ns {
		n := &ns[i]
		byState[n.State]++
		a := n.Address.String()
		up := 0.0
		if n.State == bgp.StateEstablished {
			up = 1
		}
		pc := counts[n.Address]
		ch <- prometheus.MustNewConstMetric(descBGPUp, prometheus.GaugeValue, up, a)
		ch <- prometheus.MustNewConstMetric(descBGPUpdatesIn, prometheus.CounterValue, float64(n.UpdatesIn), a)
		ch <- prometheus.MustNewConstMetric(descBGPUpdatesOut, prometheus.CounterValue, float64(n.UpdatesOut), a)
		ch <- prometheus.MustNewConstMetric(descBGPReceived, prometheus.GaugeValue, float64(max(n.PrefixesIn, 0)), a)
		ch <- prometheus.MustNewConstMetric(descBGPAccepted, prometheus.GaugeValue, float64(pc.Accepted), a)
		ch <- prometheus.MustNewConstMetric(descBGPAdvertised, prometheus.GaugeValue, float64(pc.Advertised), a)
		ch <- prometheus.MustNewConstMetric(descBGPFlaps, prometheus.CounterValue, float64(n.Flaps), a)
	}
	for _, st := range bgpStates {
		ch <- prometheus.MustNewConstMetric(descBGPNeighbors, prometheus.GaugeValue, float64(byState[st]), st.String())
	}
}

// rssBytes reads the resident set size from /proc/self/status.
func rssBytes() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
