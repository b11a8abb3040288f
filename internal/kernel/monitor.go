package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/routerd/routerd/internal/rib"
	"golang.org/x/sys/unix"
)

// RouteSource is where the monitor offers routes: the RIB's source handle.
type RouteSource interface {
	Apply(add []rib.Route, del []rib.Key) error
	Replace(routes []rib.Route) error
}

// LinkSink learns whether an interface can forward (up with carrier).
type LinkSink interface {
	SetLinkUp(ifindex int32, up bool)
}

// Sinks are the monitor's outputs.
type Sinks struct {
	Connected RouteSource // one route per interface address prefix, while the link is up
	Foreign   RouteSource // other programs' routes
	Links     LinkSink
}

// MonitorMetrics are the monitor's counters.
type MonitorMetrics struct {
	Events   atomic.Uint64 // netlink notifications handled (not counting routerd's own routes, dropped by the kernel)
	Overruns atomic.Uint64 // ENOBUFS on the notification socket
	Resyncs  atomic.Uint64 // full re-dumps
}

// MonitorConfig configures a Monitor.
type MonitorConfig struct {
	Protocol          uint8 // routerd's own rtm_protocol (not re-offered); 0 means DefaultProtocol
	ConnectedDistance uint8 // distance given to connected routes
	KernelDistance    uint8 // distance given to foreign kernel routes
	Logger            *slog.Logger
	Metrics           *MonitorMetrics
	// RcvBuf is the notification socket's receive buffer; 0 means 32 MiB.
	RcvBuf int
	// OnLinksChanged is called (from the monitor's goroutine) when a link
	// appears, disappears or is renamed.
	OnLinksChanged func()
	// OnSynced is called once, after the first dump has been offered: the
	// daemon waits for it so that static routes find their interfaces and
	// connected routes before anything is programmed.
	OnSynced func()
}

// fkey is one foreign kernel route: routes with the same prefix and table
// but another priority are separate kernel routes.
type froute struct {
	prio  uint32
	proto uint8
	kind  rib.Kind
	nhid  uint32
	nhs   []rib.NextHop
	// dead are inline next hops through links that are down: the kernel
	// keeps them in the route, marked dead, and revives them without a
	// word when the link comes back up.
	dead []rib.NextHop
}

// Monitor follows the kernel's links, addresses and routes and offers
// connected and foreign routes to the RIB.
type Monitor struct {
	cfg   MonitorConfig
	log   *slog.Logger
	m     *MonitorMetrics
	req   *conn
	ev    *conn
	mu    sync.RWMutex // guards links for Links and LinkByName
	links map[int32]*Link

	// Owned by Run's goroutine.
	foreign   map[rib.Key][]froute
	nexthops  map[uint32]kobject
	connected map[rib.Key]rib.Route
	sinks     Sinks
}

// NewMonitor opens the monitor's sockets in the calling thread's network
// namespace.
func NewMonitor(cfg MonitorConfig) (*Monitor, error) {
	if cfg.Protocol == 0 {
		cfg.Protocol = DefaultProtocol
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = new(MonitorMetrics)
	}
	if cfg.RcvBuf == 0 {
		cfg.RcvBuf = defaultRcvBuf
	}
	req, err := openConn(nil, defaultRcvBuf, false)
	if err != nil {
		return nil, fmt.Errorf("kernel monitor: %w", err)
	}
	ev, err := openConn([]uint32{unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR,
		unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE, unix.RTNLGRP_NEXTHOP}, cfg.RcvBuf, true)
	if err != nil {
		req.close()
		return nil, fmt.Errorf("kernel monitor: %w", err)
	}
	if err := ev.dropOwnRoutes(cfg.Protocol); err != nil {
		req.close()
		ev.close()
		return nil, fmt.Errorf("kernel monitor: %w", err)
	}
	return &Monitor{cfg: cfg, log: cfg.Logger, m: cfg.Metrics, req: req, ev: ev, links: make(map[int32]*Link)}, nil
}

// Metrics returns the monitor's counters.
func (m *Monitor) Metrics() *MonitorMetrics { return m.m }

// Close closes the monitor's sockets; call it after Run returned.
func (m *Monitor) Close() error { return errors.Join(m.req.close(), m.ev.close()) }

// Links returns every link, sorted by index.
func (m *Monitor) Links() []Link {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Link, 0, len(m.links))
	for _, l := range m.links {
		c := *l
		c.Addrs = slices.Clone(l.Addrs)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Link) int { return int(a.Index) - int(b.Index) })
	return out
}

// LinkByName finds a link by interface name.
func (m *Monitor) LinkByName(name string) (Link, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, l := range m.links {
		if l.Name == name {
			c := *l
			c.Addrs = slices.Clone(l.Addrs)
			return c, true
		}
	}
	return Link{}, false
}

// Run dumps links, addresses, nexthop objects and routes, offers the
// result, then follows the kernel's notifications until ctx is done. After
// an overrun it dumps everything again and replaces what it offered.
func (m *Monitor) Run(ctx context.Context, sinks Sinks) error {
	m.sinks = sinks
	// Subscribed before dumping: notifications queued meanwhile are applied
	// after the dump, so the end state is the kernel's latest.
	if err := m.resync(); err != nil {
		return err
	}
	if m.cfg.OnSynced != nil {
		m.cfg.OnSynced()
	}
	stop := context.AfterFunc(ctx, func() { _ = m.ev.file.SetReadDeadline(pastTime) })
	defer func() {
		stop()
		_ = m.ev.file.SetReadDeadline(zeroTime)
	}()
	for {
		b, err := m.ev.recv(true)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, unix.ENOBUFS) {
			m.m.Overruns.Add(1)
			m.log.Warn("kernel monitor: netlink overrun (ENOBUFS); dumping everything again")
			// Empty the queue first: the kernel reports the next overrun
			// only once the queue has been empty, and what is queued now
			// predates the dump anyway.
			for {
				b, err := m.ev.recv(false)
				if b == nil && (err == nil || !errors.Is(err, unix.ENOBUFS)) {
					break
				}
			}
			if err := m.resync(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("kernel monitor: %w", err)
		}
		if err := m.handle(b); err != nil {
			return err
		}
	}
}

// resync rebuilds the whole picture from dumps and replaces what the sinks
// hold.
func (m *Monitor) resync() error {
	m.m.Resyncs.Add(1)
	links := make(map[int32]*Link)
	err := m.req.dump(unix.RTM_GETLINK, make([]byte, ifinfomsgLen), func(msg message) error {
		if l, ok := parseLink(msg.Data); ok && msg.Type == unix.RTM_NEWLINK {
			links[l.Index] = &l
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kernel monitor: dump links: %w", err)
	}
	err = m.req.dump(unix.RTM_GETADDR, make([]byte, ifaddrmsgLen), func(msg message) error {
		if a, ok := parseAddr(msg.Data); ok && msg.Type == unix.RTM_NEWADDR {
			if l := links[a.Index]; l != nil {
				l.Addrs = append(l.Addrs, a.Prefix)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kernel monitor: dump addresses: %w", err)
	}
	nexthops := make(map[uint32]kobject)
	_ = m.req.dump(unix.RTM_GETNEXTHOP, nexthopDumpRequest(), func(msg message) error {
		if o, ok := parseNexthop(msg.Data); ok {
			nexthops[o.ID] = o
		}
		return nil
	}) // older kernels have no nexthop objects
	foreign := make(map[rib.Key][]froute)
	err = m.req.dump(unix.RTM_GETROUTE, routeDumpRequest(unix.AF_UNSPEC, 0), func(msg message) error {
		if r, ok := parseRoute(msg.Data); ok && msg.Type == unix.RTM_NEWROUTE {
			if f, ok := m.foreignRoute(r); ok {
				foreign[r.Key] = addFroute(foreign[r.Key], f)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kernel monitor: dump routes: %w", err)
	}
	old := m.links
	m.mu.Lock()
	m.links = links
	m.mu.Unlock()
	m.nexthops, m.foreign = nexthops, foreign
	m.connected = m.connectedRoutes()

	conn := make([]rib.Route, 0, len(m.connected))
	for _, r := range m.connected {
		conn = append(conn, r)
	}
	if m.sinks.Connected != nil {
		if err := m.sinks.Connected.Replace(conn); err != nil {
			m.log.Warn("kernel monitor: connected routes refused", "err", err)
		}
	}
	if m.sinks.Foreign != nil {
		fr := make([]rib.Route, 0, len(foreign))
		for k, fs := range foreign {
			if r, ok := m.offer(k, fs); ok {
				fr = append(fr, r)
			}
		}
		if err := m.sinks.Foreign.Replace(fr); err != nil {
			m.log.Warn("kernel monitor: foreign routes refused", "err", err)
		}
	}
	if m.sinks.Links != nil {
		for _, l := range links {
			m.sinks.Links.SetLinkUp(l.Index, l.Up)
		}
	}
	if !sameLinkNames(old, links) && m.cfg.OnLinksChanged != nil {
		m.cfg.OnLinksChanged()
	}
	return nil
}

func sameLinkNames(a, b map[int32]*Link) bool {
	if len(a) != len(b) {
		return false
	}
	for i, l := range a {
		if o := b[i]; o == nil || o.Name != l.Name {
			return false
		}
	}
	return true
}

// foreignRoute turns a kernel route into a foreign route if it is one.
func (m *Monitor) foreignRoute(r kroute) (froute, bool) {
	if r.Protocol == m.cfg.Protocol || r.Protocol == unix.RTPROT_KERNEL || r.Key.Table == rib.TableLocal {
		return froute{}, false
	}
	kind := typeKind(r.Type)
	if kind == 0 {
		return froute{}, false
	}
	if r.Key.Prefix.Addr().Is6() && r.Key.Prefix.Addr().IsMulticast() {
		return froute{}, false
	}
	return froute{prio: r.Priority, proto: r.Protocol, kind: kind, nhid: r.NHID, nhs: r.NextHops, dead: r.Dead}, true
}

func addFroute(fs []froute, f froute) []froute {
	for i := range fs {
		if fs[i].prio == f.prio {
			fs[i] = f
			return fs
		}
	}
	fs = append(fs, f)
	slices.SortFunc(fs, func(a, b froute) int { return int(int64(a.prio) - int64(b.prio)) })
	return fs
}

// offer builds the route offered for a key: the kernel's preferred one
// (lowest priority), with next hops resolved through nexthop objects.
func (m *Monitor) offer(k rib.Key, fs []froute) (rib.Route, bool) {
	for _, f := range fs {
		r := rib.Route{Table: k.Table, Prefix: k.Prefix, Kind: f.kind, Distance: m.cfg.KernelDistance,
			Metric: f.prio, Proto: f.proto}
		if f.kind == rib.KindUnicast {
			r.NextHops = f.nhs
			if f.nhid != 0 {
				r.NextHops = m.resolveObject(f.nhid)
			}
			if len(r.NextHops) == 0 {
				continue
			}
			if len(r.NextHops) == 1 && r.NextHops[0].Weight != 1 {
				// A lone next hop (the others dead) forwards all traffic.
				nh := r.NextHops[0]
				nh.Weight = 1
				r.NextHops = []rib.NextHop{nh}
			}
		}
		return r, true
	}
	return rib.Route{}, false
}

func (m *Monitor) resolveObject(id uint32) []rib.NextHop {
	o, ok := m.nexthops[id]
	if !ok || o.Blackhole {
		return nil
	}
	if len(o.Group) == 0 {
		return []rib.NextHop{{Gateway: o.Gateway, Ifindex: o.Ifindex, Weight: 1}}
	}
	var nhs []rib.NextHop
	for _, g := range o.Group {
		if mo, ok := m.nexthops[g.ID]; ok && len(mo.Group) == 0 && !mo.Blackhole {
			nhs = append(nhs, rib.NextHop{Gateway: mo.Gateway, Ifindex: mo.Ifindex, Weight: g.Weight})
		}
	}
	return nhs
}

// connectedRoutes computes the connected routes from the links: one per
// address prefix on an up link, except link-local, host-only and loopback
// ones; when several links share a prefix the lowest index wins, as the
// kernel's first route does.
func (m *Monitor) connectedRoutes() map[rib.Key]rib.Route {
	out := make(map[rib.Key]rib.Route)
	for _, l := range m.links {
		if !l.Up || l.Flags&unix.IFF_LOOPBACK != 0 {
			continue
		}
		for _, a := range l.Addrs {
			if a.Addr().IsLinkLocalUnicast() || a.Bits() == a.Addr().BitLen() {
				continue
			}
			k := rib.Key{Table: rib.TableMain, Prefix: a.Masked()}
			if cur, ok := out[k]; ok && cur.NextHops[0].Ifindex < l.Index {
				continue
			}
			out[k] = rib.Route{Table: rib.TableMain, Prefix: k.Prefix, Kind: rib.KindUnicast,
				Distance: m.cfg.ConnectedDistance, NextHops: []rib.NextHop{{Ifindex: l.Index, Weight: 1}}}
		}
	}
	return out
}

// handle applies one datagram of notifications.
func (m *Monitor) handle(b []byte) error {
	linksChanged, addrsChanged := false, false
	var fadd []rib.Route
	var fdel []rib.Key
	touched := make(map[rib.Key]bool)
	err := parseMessages(b, func(msg message) error {
		m.m.Events.Add(1)
		switch msg.Type {
		case unix.RTM_NEWLINK, unix.RTM_DELLINK:
			l, ok := parseLink(msg.Data)
			if !ok {
				return nil
			}
			m.mu.Lock()
			old := m.links[l.Index]
			if msg.Type == unix.RTM_DELLINK {
				delete(m.links, l.Index)
				l.Up = false
			} else {
				if old != nil {
					l.Addrs = old.Addrs
				}
				m.links[l.Index] = &l
			}
			m.mu.Unlock()
			if old == nil || msg.Type == unix.RTM_DELLINK || old.Name != l.Name {
				linksChanged = true
			}
			if old == nil || old.Up != l.Up {
				addrsChanged = true
				if m.sinks.Links != nil {
					m.sinks.Links.SetLinkUp(l.Index, l.Up)
				}
			}
			switch {
			case (old == nil || old.Flags&unix.IFF_UP != 0) && l.Flags&unix.IFF_UP == 0:
				// The kernel flushes IPv4 routes and nexthop objects through
				// a link set down without telling route listeners.
				m.pruneLink(l.Index, touched)
			case old != nil && old.Flags&unix.IFF_UP == 0 && l.Flags&unix.IFF_UP != 0:
				// ... and revives the multipath next hops it kept dead.
				m.reviveLink(l.Index, touched)
			}
		case unix.RTM_NEWADDR, unix.RTM_DELADDR:
			a, ok := parseAddr(msg.Data)
			if !ok {
				return nil
			}
			m.mu.Lock()
			if l := m.links[a.Index]; l != nil {
				l.Addrs = slices.DeleteFunc(l.Addrs, func(p netip.Prefix) bool { return p == a.Prefix })
				if msg.Type == unix.RTM_NEWADDR {
					l.Addrs = append(l.Addrs, a.Prefix)
				}
			}
			m.mu.Unlock()
			addrsChanged = true
		case unix.RTM_NEWNEXTHOP, unix.RTM_DELNEXTHOP:
			o, ok := parseNexthop(msg.Data)
			if !ok {
				return nil
			}
			if msg.Type == unix.RTM_DELNEXTHOP {
				delete(m.nexthops, o.ID)
			} else {
				m.nexthops[o.ID] = o
			}
			for k, fs := range m.foreign {
				for _, f := range fs {
					if f.nhid == o.ID || m.groupHas(f.nhid, o.ID) {
						touched[k] = true
					}
				}
			}
		case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
			r, ok := parseRoute(msg.Data)
			if !ok {
				return nil
			}
			f, ok := m.foreignRoute(r)
			if !ok {
				return nil
			}
			fs := m.foreign[r.Key]
			if msg.Type == unix.RTM_NEWROUTE {
				fs = addFroute(fs, f)
			} else {
				fs = slices.DeleteFunc(fs, func(x froute) bool { return x.prio == f.prio })
			}
			if len(fs) == 0 {
				delete(m.foreign, r.Key)
			} else {
				m.foreign[r.Key] = fs
			}
			touched[r.Key] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	if addrsChanged {
		m.mu.RLock()
		conn := m.connectedRoutes()
		m.mu.RUnlock()
		var add []rib.Route
		var del []rib.Key
		for k, r := range conn {
			if old, ok := m.connected[k]; !ok || old.NextHops[0] != r.NextHops[0] {
				add = append(add, r)
			}
		}
		for k := range m.connected {
			if _, ok := conn[k]; !ok {
				del = append(del, k)
			}
		}
		m.connected = conn
		if m.sinks.Connected != nil && (len(add) > 0 || len(del) > 0) {
			if err := m.sinks.Connected.Apply(add, del); err != nil {
				m.log.Warn("kernel monitor: connected routes refused", "err", err)
			}
		}
	}
	for k := range touched {
		if r, ok := m.offer(k, m.foreign[k]); ok {
			fadd = append(fadd, r)
		} else {
			fdel = append(fdel, k)
		}
	}
	if m.sinks.Foreign != nil && (len(fadd) > 0 || len(fdel) > 0) {
		if err := m.sinks.Foreign.Apply(fadd, fdel); err != nil {
			m.log.Warn("kernel monitor: foreign routes refused", "err", err)
		}
	}
	if linksChanged && m.cfg.OnLinksChanged != nil {
		m.cfg.OnLinksChanged()
	}
	return nil
}

// reviveLink puts back the multipath next hops through a link that came up
// again, as the kernel does (silently) with the ones it kept dead.
func (m *Monitor) reviveLink(ifx int32, touched map[rib.Key]bool) {
	for k, fs := range m.foreign {
		for i := range fs {
			f := &fs[i]
			if !slices.ContainsFunc(f.dead, func(nh rib.NextHop) bool { return nh.Ifindex == ifx }) {
				continue
			}
			var dead []rib.NextHop
			nhs := slices.Clone(f.nhs)
			for _, nh := range f.dead {
				if nh.Ifindex == ifx {
					nhs = append(nhs, nh)
				} else {
					dead = append(dead, nh)
				}
			}
			sortNextHops(nhs)
			f.nhs, f.dead = nhs, dead
			touched[k] = true
		}
	}
}

func (m *Monitor) groupHas(gid, id uint32) bool {
	o, ok := m.nexthops[gid]
	if !ok {
		return false
	}
	for _, g := range o.Group {
		if g.ID == id {
			return true
		}
	}
	return false
}

// pruneLink drops what the kernel removed silently with a link set down:
// nexthop objects through it and foreign routes' next hops through it.
func (m *Monitor) pruneLink(ifx int32, touched map[rib.Key]bool) {
	for id, o := range m.nexthops {
		if len(o.Group) == 0 && o.Ifindex == ifx {
			delete(m.nexthops, id)
		}
	}
	for k, fs := range m.foreign {
		changed := false
		out := fs[:0]
		for _, f := range fs {
			if f.nhid != 0 {
				if _, ok := m.nexthops[f.nhid]; !ok {
					changed = true
					continue
				}
				touched[k] = true // a group may have lost members
			} else if f.kind == rib.KindUnicast {
				var live, dead []rib.NextHop
				for _, nh := range f.nhs {
					if nh.Ifindex == ifx {
						dead = append(dead, nh)
					} else {
						live = append(live, nh)
					}
				}
				if len(dead) > 0 {
					changed = true
					if len(live) == 0 {
						continue // every next hop dead: the kernel deletes the route
					}
					f.nhs = live
					f.dead = append(slices.Clone(f.dead), dead...)
					sortNextHops(f.dead)
				}
			}
			out = append(out, f)
		}
		if changed {
			touched[k] = true
			if len(out) == 0 {
				delete(m.foreign, k)
			} else {
				m.foreign[k] = out
			}
		}
	}
}
