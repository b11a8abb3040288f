package kernel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/routerd/routerd/internal/rib"
	"golang.org/x/sys/unix"
)

// DefaultProtocol is the rtm_protocol routerd marks its routes and nexthop
// objects with unless configured otherwise.
const DefaultProtocol = 196

// NexthopMode selects whether routes point at kernel nexthop objects.
type NexthopMode uint8

// Nexthop modes.
const (
	NexthopAuto NexthopMode = iota // use nexthop objects when the kernel has them
	NexthopOn                      // require them
	NexthopOff                     // next hops inside each route (RTA_MULTIPATH for ECMP)
)

// ParseNexthopMode parses "auto", "on" or "off".
func ParseNexthopMode(s string) (NexthopMode, error) {
	switch s {
	case "auto", "":
		return NexthopAuto, nil
	case "on":
		return NexthopOn, nil
	case "off":
		return NexthopOff, nil
	}
	return 0, fmt.Errorf("nexthop objects: %q is not auto, on or off", s)
}

// Feed is the consumer side of a RIB subscription: C signals that updates
// are waiting (and is signalled again after a Next that left more, as
// rib.Subscription does; a signal for changes a Next already returned must
// not outlive that Next), Next returns at most max route changes (an empty
// Update when nothing is waiting). The programmer finishes all its kernel
// work before it calls Next without C signalled, so an empty Update tells
// the feed that everything it handed out is in the kernel.
type Feed interface {
	C() <-chan struct{}
	Next(max int) rib.Update
	// Keys walks the keys the feed's routes came with and their IDs
	// (rib.Subscription.Keys): the programmer keeps its per-route state
	// by ID and finds the prefixes again this way when it must go over
	// every route.
	Keys(yield func(rib.Key, uint32) bool)
}

// groupLossFeed is a feed that can follow group loss (see
// rib.Subscription.GroupLoss): routes of a group that stops resolving stay
// in the feed with their group, and the group's change to no next hops
// stands for all of them.
type groupLossFeed interface {
	GroupLoss() error
}

// Reporter learns whether the kernel accepted a route. It is called when a
// key's state changes: on a failure (or a different failure) and when a key
// that had failed is installed or withdrawn; err nil means installed.
type Reporter interface {
	SetInstallError(k rib.Key, err error)
}

// ProgrammerMetrics are the programmer's counters; the daemon's Prometheus
// collector reads them.
type ProgrammerMetrics struct {
	RoutesSent      atomic.Uint64 // RTM_NEWROUTE messages
	RoutesDeleted   atomic.Uint64 // RTM_DELROUTE messages
	RoutesAdopted   atomic.Uint64 // routes found correct in the kernel at start
	RouteErrors     atomic.Uint64 // routes the kernel rejected
	NexthopsSent    atomic.Uint64 // RTM_NEWNEXTHOP messages
	NexthopsDeleted atomic.Uint64 // RTM_DELNEXTHOP messages
	NexthopsAdopted atomic.Uint64 // nexthop objects reused at start
	NexthopErrors   atomic.Uint64 // nexthop objects the kernel rejected
	Sends           atomic.Uint64 // sendmsg calls
	Batches         atomic.Uint64 // RIB updates applied
	Overruns        atomic.Uint64 // ENOBUFS on a programmer socket
	Resyncs         atomic.Uint64 // full comparisons with the kernel after an overrun
	Recreated       atomic.Uint64 // own objects found removed by the kernel when replacing them (link down not yet read)
	Installed       atomic.Int64  // routes routerd wants in the kernel
}

// ProgrammerConfig configures a Programmer.
type ProgrammerConfig struct {
	Protocol       uint8       // rtm_protocol of routerd's routes; 0 means DefaultProtocol
	Metric         uint32      // priority of routerd's routes
	NexthopObjects NexthopMode // auto, on or off
	Logger         *slog.Logger
	Metrics        *ProgrammerMetrics // nil: the programmer allocates its own
	// BatchBytes bounds one sendmsg; 0 means 64 KiB.
	BatchBytes int
	// MaxChanges is how many route changes Run takes from the feed at a
	// time; 0 means 16384.
	MaxChanges int
	// RcvBuf is the receive buffer of the socket the programmer follows
	// link and nexthop notifications on; 0 means 32 MiB.
	RcvBuf int
	// OnLoaded, when set, is called once by Run with the number of
	// routerd's own routes it found in the kernel, before it applies
	// anything: the daemon learns from it whether forwarding state was
	// preserved across a restart.
	OnLoaded func(ownRoutes int)

	reqRcvBuf int // tests: the request socket's receive buffer
}

// group is the kernel side of one RIB next-hop group.
type group struct {
	nhs     []rib.NextHop // canonical order; empty when unresolved
	nhid    uint32        // top-level nexthop object (nexthop mode)
	members []uint32      // member objects of an ECMP group object
	state   groupState
	refs    int // route entries pointing at the group
}

type groupState uint8

const (
	groupNone     groupState = iota // not in the kernel (unresolved or never created)
	groupLive                       // object (or inline routes) as wanted
	groupLost                       // the kernel removed it (link down): routes gone
	groupDegraded                   // the kernel dropped some next hops: routes remain
)

// present reports whether routes through the group exist in the kernel.
func (g *group) present() bool { return g.state == groupLive || g.state == groupDegraded }

type memberKey struct {
	gw  netip.Addr
	ifx int32
}

type member struct {
	id   uint32
	refs int
}

// entry is what the programmer keeps per route: its group, its kind and
// whether the kernel has it, in 5 bytes. A million of them sit in the
// prefixmap's value arrays, where a uint32 field would pad each to 8.
type entry struct {
	g    [4]byte // rib.GroupID, little-endian; zero unless unicast
	bits uint8   // rib.Kind, and entryInstalled
}

const entryInstalled = 0x80

func mkEntry(gid rib.GroupID, kind rib.Kind, installed bool) entry {
	e := entry{bits: uint8(kind)}
	binary.LittleEndian.PutUint32(e.g[:], uint32(gid))
	e.setInstalled(installed)
	return e
}

func (e entry) gid() rib.GroupID { return rib.GroupID(binary.LittleEndian.Uint32(e.g[:])) }
func (e entry) kind() rib.Kind   { return rib.Kind(e.bits &^ entryInstalled) }
func (e entry) installed() bool  { return e.bits&entryInstalled != 0 }

func (e *entry) setInstalled(on bool) {
	if on {
		e.bits |= entryInstalled
	} else {
		e.bits &^= entryInstalled
	}
}

// Programmer writes the RIB's best routes into the kernel over netlink.
type Programmer struct {
	mu    sync.Mutex // held by Run except while it waits: see Compact
	cfg   ProgrammerConfig
	log   *slog.Logger
	m     *ProgrammerMetrics
	c     *conn // requests: blocking
	ev    *conn // nexthop and link events
	del   *deleter
	useNH bool

	feed    Feed
	routes  routeState
	groups  map[rib.GroupID]*group
	members map[memberKey]*member
	ids     map[uint32]rib.GroupID // our top-level object ids
	mids    map[uint32]memberKey   // our member object ids
	foreign map[uint32]struct{}    // ids of other owners' objects
	nextID  uint32
	linkUp  map[int32]bool

	b       batch
	failed  map[rib.Key]string
	ks      *kernelState // kernel's own routes and objects until Synced
	rep     Reporter
	dirty   map[rib.GroupID]bool // groups whose routes must be re-sent
	postDel []uint32             // objects to delete after routes moved
	async   []uint32             // objects of unresolved groups, for the deleter

	resyncDue bool // a comparison with the kernel failed on an inconsistent dump: Run retries
	linksDue  bool // link notifications were lost: dump links before comparing
}

// NewProgrammer opens the programmer's netlink sockets in the calling
// thread's network namespace and probes for nexthop object support.
func NewProgrammer(cfg ProgrammerConfig) (*Programmer, error) {
	if cfg.Protocol == 0 {
		cfg.Protocol = DefaultProtocol
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = new(ProgrammerMetrics)
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = 64 << 10
	}
	if cfg.MaxChanges <= 0 {
		cfg.MaxChanges = 16384
	}
	if cfg.RcvBuf <= 0 {
		cfg.RcvBuf = defaultRcvBuf
	}
	if cfg.reqRcvBuf <= 0 {
		cfg.reqRcvBuf = defaultRcvBuf
	}
	c, err := openConn(nil, cfg.reqRcvBuf, false)
	if err != nil {
		return nil, fmt.Errorf("kernel programmer: %w", err)
	}
	ev, err := openConn([]uint32{unix.RTNLGRP_LINK, unix.RTNLGRP_NEXTHOP}, cfg.RcvBuf, true)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("kernel programmer: %w", err)
	}
	dc, err := openConn(nil, defaultRcvBuf, false)
	if err != nil {
		c.close()
		ev.close()
		return nil, fmt.Errorf("kernel programmer: %w", err)
	}
	p := &Programmer{
		cfg: cfg, log: cfg.Logger, m: cfg.Metrics, c: c, ev: ev, del: newDeleter(dc, cfg.Logger),
		groups:  make(map[rib.GroupID]*group),
		members: make(map[memberKey]*member),
		ids:     make(map[uint32]rib.GroupID),
		mids:    make(map[uint32]memberKey),
		foreign: make(map[uint32]struct{}),
		linkUp:  make(map[int32]bool),
		failed:  make(map[rib.Key]string),
		dirty:   make(map[rib.GroupID]bool),
	}
	p.b.init(c, cfg.BatchBytes)
	switch cfg.NexthopObjects {
	case NexthopOff:
	case NexthopOn, NexthopAuto:
		err := c.dump(unix.RTM_GETNEXTHOP, nexthopDumpRequest(), func(message) error { return nil })
		if err == nil {
			p.useNH = true
		} else if cfg.NexthopObjects == NexthopOn {
			p.Close()
			return nil, fmt.Errorf("kernel programmer: nexthop objects required but unavailable: %w", err)
		} else {
			p.log.Info("kernel lacks nexthop objects; next hops go inside each route", "err", err)
		}
	}
	return p, nil
}

// NexthopObjects reports whether routes point at kernel nexthop objects.
func (p *Programmer) NexthopObjects() bool { return p.useNH }

// Metrics returns the programmer's counters.
func (p *Programmer) Metrics() *ProgrammerMetrics { return p.m }

// Close closes the programmer's sockets. Call it after Run and Flush.
func (p *Programmer) Close() error {
	return errors.Join(p.c.close(), p.ev.close(), p.del.c.close())
}

// Run reconciles the kernel with the feed and then follows it until ctx is
// done. It dumps routerd's own routes and nexthop objects first, adopts what
// matches, and deletes what the RIB does not want once the feed reports
// Synced. Run returns nil when ctx is cancelled, or an error if a netlink
// socket fails.
func (p *Programmer) Run(ctx context.Context, feed Feed, rep Reporter) error {
	// Run holds mu while it works and lets go only while it waits, so that
	// Compact, called from another goroutine, finds the state at rest.
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.feed != nil {
		// Its per-route state is by the first feed's key IDs.
		return errors.New("kernel programmer: Run called twice")
	}
	p.rep = rep
	p.feed = feed
	// The programmer already treats a group without next hops as the loss
	// of all its routes (it deletes the object and the kernel drops them),
	// so a feed that can report loss per group instead of per route is
	// asked to: a table behind one lost next hop is then one update.
	if f, ok := feed.(groupLossFeed); ok {
		if err := f.GroupLoss(); err != nil {
			return fmt.Errorf("kernel programmer: %w", err)
		}
	}
	if err := p.loadLinks(); err != nil {
		return err
	}
	ks, err := p.loadKernel()
	if err != nil {
		return err
	}
	p.ks = ks
	if p.cfg.OnLoaded != nil {
		p.cfg.OnLoaded(ks.routes.len() + len(ks.others))
	}
	p.log.Info("kernel programmer reconciling", "own_routes", ks.routes.len(), "own_nexthops", len(ks.objs), "nexthop_objects", p.useNH)
	if p.useNH {
		p.del.start()
		defer p.del.stop()
	}
	p.b.startSender()
	defer p.b.stopSender()

	events := make(chan progEvent, 256)
	evctx, stop := context.WithCancel(ctx)
	defer stop()
	evdone := make(chan struct{})
	go func() {
		defer close(evdone)
		p.readEvents(evctx, events)
	}()
	defer func() {
		stop()
		// Wake the reader out of its blocking read.
		_ = p.ev.file.SetReadDeadline(pastTime)
		<-evdone
		_ = p.ev.file.SetReadDeadline(zeroTime)
	}()

	drain := func() error {
		for {
			// C announces more (the feed signals it again while more
			// remains). Taking the signal here keeps it from going stale;
			// with nothing announced, finish the deletions in flight before
			// the feed can see that everything is applied.
			select {
			case <-feed.C():
			default:
				p.del.wait()
			}
			u := feed.Next(p.cfg.MaxChanges)
			if u.Empty() {
				p.del.wait()
				return nil
			}
			if err := p.apply(&u); err != nil {
				return err
			}
		}
	}
	if err := drain(); err != nil {
		return err
	}
	var retry <-chan time.Time
	backoff := 50 * time.Millisecond
	const (
		wakeRetry = iota + 1
		wakeFeed
		wakeEvent
	)
	for {
		if p.resyncDue && retry == nil {
			retry = time.After(backoff)
			backoff = min(2*backoff, 5*time.Second)
		}
		var wake int
		var e progEvent
		p.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-retry:
			wake = wakeRetry
		case <-feed.C():
			wake = wakeFeed
		case e = <-events:
			wake = wakeEvent
		}
		p.mu.Lock()
		switch wake {
		case 0:
			return nil
		case wakeRetry:
			retry = nil
			if err := p.resyncOrLater(); err != nil {
				return err
			}
			if !p.resyncDue {
				backoff = 50 * time.Millisecond
			}
		case wakeFeed:
			// Take in what the kernel already said (links gone down) so
			// the update is applied to the kernel's current state.
			for pending := true; pending; {
				select {
				case e := <-events:
					if err := p.handleEvent(e); err != nil {
						return err
					}
				default:
					pending = false
				}
			}
			if err := drain(); err != nil {
				return err
			}
		case wakeEvent:
			if err := p.handleEvent(e); err != nil {
				return err
			}
		}
	}
}

// Compact packs the per-route state after a burst of changes (a full
// table installed or removed): the route map's leaves move into one array
// per family (see prefixmap.Map.Compact), so that the arrays they outgrew
// while the table arrived are wholly garbage and the runtime can return
// them to the system, and maps that grew with failures are rebuilt at
// their current size. It may be called from any goroutine, and waits
// while Run is applying an update.
func (p *Programmer) Compact() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.routes.compact()
	// Go maps do not shrink: a burst of failures would keep its size.
	p.failed = maps.Clone(p.failed)
	p.dirty = maps.Clone(p.dirty)
	p.b.pend.reset()
}

// apply programs one RIB update as one batch.
func (p *Programmer) apply(u *rib.Update) error {
	p.m.Batches.Add(1)
	for _, gc := range u.Groups {
		p.setGroup(gc)
	}
	if len(p.async) > 0 {
		p.del.submit(p.async)
		p.async = nil
	}
	p.resendDirty()
	for i := range u.Routes {
		p.setRoute(u.Routes[i].Key, u.Routes[i].ID, u.Routes[i].Best)
	}
	for _, id := range u.Removed {
		p.removeGroup(id)
	}
	p.deletePost()
	if u.Synced && p.ks != nil {
		p.finishReconcile()
	}
	return p.commit()
}

func (p *Programmer) setGroup(gc rib.GroupChange) {
	g := p.groups[gc.ID]
	if g == nil {
		g = &group{}
		p.groups[gc.ID] = g
	}
	nhs := canonical(gc.NextHops)
	if len(nhs) == 0 {
		if g.nhid != 0 {
			how := delNow
			if p.del.running() {
				how = delAsync
			}
			p.dropGroupObjects(gc.ID, g, how)
		} else if !p.useNH && g.present() && g.refs > 0 {
			p.dirty[gc.ID] = true // delete its routes
		}
		g.nhs, g.state = nil, groupNone
		return
	}
	if g.state == groupLive && sameNextHops(g.nhs, nhs) {
		return
	}
	prev := g.state
	g.nhs = nhs
	if !p.useNH {
		g.state = groupLive
		if g.refs > 0 {
			p.dirty[gc.ID] = true
		}
		return
	}
	switch {
	case g.nhid == 0:
		if !(p.ks != nil && p.adoptGroup(gc.ID, g)) {
			p.createGroupObjects(gc.ID, g, unix.NLM_F_CREATE|unix.NLM_F_EXCL)
		}
		if g.refs > 0 {
			p.dirty[gc.ID] = true
		}
	case (len(g.members) == 0) != (len(nhs) == 1):
		// The kernel cannot turn a next hop into a group or back: build
		// a new object, move the routes, then delete the old one.
		p.dropGroupObjects(gc.ID, g, delPost)
		p.createGroupObjects(gc.ID, g, unix.NLM_F_CREATE|unix.NLM_F_EXCL)
		if g.refs > 0 {
			p.dirty[gc.ID] = true
		}
	default:
		g.state = prev
		p.rebuildGroup(gc.ID, g, true)
	}
	g.state = groupLive
}

// rebuildGroup sends g's objects again over its existing id (new member
// objects as needed). An object believed to be in the kernel is replaced
// without NLM_F_CREATE: if the kernel removed it meanwhile (a link went
// down and we have not read that yet), the replace fails with ENOENT and
// commit recreates it and re-sends its routes. An object known to be gone
// is created, and its routes marked to be re-sent.
func (p *Programmer) rebuildGroup(gid rib.GroupID, g *group, postRelease bool) {
	flags := uint16(unix.NLM_F_REPLACE)
	if !g.present() {
		flags |= unix.NLM_F_CREATE
		if g.refs > 0 {
			p.dirty[gid] = true
		}
	}
	old := g.members
	g.members = nil
	p.createGroupObjects(gid, g, flags)
	for _, id := range old {
		p.releaseMember(id, delWhen(postRelease))
	}
	g.state = groupLive
}

// createGroupObjects sends the objects of g (allocating its id if needed).
func (p *Programmer) createGroupObjects(gid rib.GroupID, g *group, flags uint16) {
	if g.nhid == 0 {
		g.nhid = p.allocID()
		p.ids[g.nhid] = gid
	}
	op := opNexthop
	if flags&unix.NLM_F_CREATE == 0 {
		op = opReplNexthop
	}
	if len(g.nhs) == 1 {
		seq := p.b.add(op, rib.Key{}, g.nhid)
		p.b.buf.appendNexthop(seq, flags, g.nhid, p.cfg.Protocol, g.nhs[0])
		p.m.NexthopsSent.Add(1)
		return
	}
	ms := make([]nhGroupMember, len(g.nhs))
	g.members = g.members[:0]
	for i, nh := range g.nhs {
		id := p.acquireMember(nh)
		g.members = append(g.members, id)
		ms[i] = nhGroupMember{ID: id, Weight: max(nh.Weight, 1)}
	}
	seq := p.b.add(op, rib.Key{}, g.nhid)
	p.b.buf.appendNexthopGroup(seq, flags, g.nhid, p.cfg.Protocol, ms)
	p.m.NexthopsSent.Add(1)
}

// delMode says when an object is deleted.
type delMode uint8

const (
	delNow   delMode = iota // in this batch
	delPost                 // at the end of this batch, after routes moved away
	delAsync                // by the deleter (objects of an unresolved group)
)

func delWhen(post bool) delMode {
	if post {
		return delPost
	}
	return delNow
}

// dropGroupObjects deletes g's objects and forgets its id.
func (p *Programmer) dropGroupObjects(gid rib.GroupID, g *group, how delMode) {
	if g.nhid == 0 {
		return
	}
	delete(p.ids, g.nhid)
	p.delObject(g.nhid, how)
	for _, id := range g.members {
		p.releaseMember(id, how)
	}
	g.nhid, g.members = 0, nil
}

func (p *Programmer) delObject(id uint32, how delMode) {
	switch how {
	case delPost:
		p.postDel = append(p.postDel, id)
	case delAsync:
		p.async = append(p.async, id)
		p.m.NexthopsDeleted.Add(1)
	default:
		p.sendDelNexthop(id)
	}
}

func (p *Programmer) sendDelNexthop(id uint32) {
	seq := p.b.add(opDelNexthop, rib.Key{}, id)
	p.b.buf.appendDelNexthop(seq, id)
	p.m.NexthopsDeleted.Add(1)
}

func (p *Programmer) acquireMember(nh rib.NextHop) uint32 {
	k := memberKey{nh.Gateway, nh.Ifindex}
	if m := p.members[k]; m != nil {
		m.refs++
		return m.id
	}
	m := &member{id: p.allocID(), refs: 1}
	p.members[k] = m
	p.mids[m.id] = k
	seq := p.b.add(opNexthop, rib.Key{}, m.id)
	p.b.buf.appendNexthop(seq, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, m.id, p.cfg.Protocol, rib.NextHop{Gateway: nh.Gateway, Ifindex: nh.Ifindex})
	p.m.NexthopsSent.Add(1)
	return m.id
}

func (p *Programmer) releaseMember(id uint32, how delMode) {
	k, ok := p.mids[id]
	if !ok {
		return
	}
	m := p.members[k]
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(p.members, k)
	delete(p.mids, id)
	p.delObject(id, how)
}

func (p *Programmer) allocID() uint32 {
	for {
		p.nextID++
		id := p.nextID
		if id == 0 {
			continue
		}
		if _, ok := p.foreign[id]; ok {
			continue
		}
		if _, ok := p.ids[id]; ok {
			continue
		}
		if _, ok := p.mids[id]; ok {
			continue
		}
		if p.ks != nil {
			if _, ok := p.ks.objs[id]; ok {
				continue // an own object not adopted (yet)
			}
		}
		return id
	}
}

func (p *Programmer) removeGroup(gid rib.GroupID) {
	g := p.groups[gid]
	if g == nil {
		return
	}
	if g.refs > 0 {
		// The RIB promised no route refers to it; keep it rather than
		// pull routes from under the kernel.
		p.log.Warn("kernel programmer: removed group still has routes", "group", gid, "routes", g.refs)
		return
	}
	p.dropGroupObjects(gid, g, delNow)
	delete(p.groups, gid)
	delete(p.dirty, gid)
}

func (p *Programmer) deletePost() {
	for _, id := range p.postDel {
		p.sendDelNexthop(id)
	}
	p.postDel = p.postDel[:0]
}

// resendDirty re-sends (or deletes) every route of the dirty groups in one
// pass over the table.
func (p *Programmer) resendDirty() {
	if len(p.dirty) == 0 {
		return
	}
	p.routes.all(p.feed.Keys, func(k rib.Key, id uint32, e *entry) bool {
		if e.kind() != rib.KindUnicast || !p.dirty[e.gid()] {
			return true
		}
		g := p.groups[e.gid()]
		if len(g.nhs) == 0 {
			if e.installed() && !p.useNH {
				p.sendDelRoute(k, p.cfg.Metric)
			}
			e.setInstalled(false)
			return true
		}
		p.sendRoute(k, id, *e, g)
		e.setInstalled(true)
		return true
	})
	clear(p.dirty)
}

func (p *Programmer) sendRoute(k rib.Key, id uint32, e entry, g *group) {
	seq := p.b.addRoute(opRoute, k, 0, id)
	if kind := e.kind(); kind != rib.KindUnicast {
		p.b.buf.appendRoute(seq, k, kind, p.cfg.Protocol, p.cfg.Metric, 0, nil)
	} else if p.useNH {
		p.b.buf.appendRoute(seq, k, kind, p.cfg.Protocol, p.cfg.Metric, g.nhid, nil)
	} else {
		p.b.buf.appendRoute(seq, k, kind, p.cfg.Protocol, p.cfg.Metric, 0, g.nhs)
	}
	p.m.RoutesSent.Add(1)
}

func (p *Programmer) sendDelRoute(k rib.Key, prio uint32) {
	seq := p.b.add(opDelRoute, k, 0)
	p.b.buf.appendDelRoute(seq, k, p.cfg.Protocol, prio)
	p.m.RoutesDeleted.Add(1)
}

func (p *Programmer) setRoute(k rib.Key, id uint32, best rib.Best) {
	if !best.Valid() || !best.Origin.Owned() {
		ep := p.routes.ptr(id)
		if ep == nil {
			return
		}
		old := *ep
		var og *group
		if old.kind() == rib.KindUnicast {
			og = p.groups[old.gid()]
		}
		if old.installed() && (og == nil || og.present()) {
			p.sendDelRoute(k, p.cfg.Metric)
		}
		if og != nil {
			og.refs--
		}
		p.routes.del(id)
		p.m.Installed.Add(-1)
		if _, ok := p.failed[k]; ok {
			delete(p.failed, k)
			p.rep.SetInstallError(k, nil)
		}
		return
	}
	// ep is where the entry goes (a new key gets the zero entry, and
	// every path below stores one).
	ep, had := p.routes.entry(id)
	old := *ep
	var og *group
	if had && old.kind() == rib.KindUnicast {
		og = p.groups[old.gid()]
	}
	kind := best.Kind
	if kind == 0 {
		kind = rib.KindUnicast
	}
	var gid rib.GroupID
	var g *group
	if kind == rib.KindUnicast {
		gid = best.Group
		g = p.groups[gid]
		if g == nil {
			p.log.Warn("kernel programmer: route refers to an unknown group", "key", k, "group", gid)
			g = &group{}
			p.groups[gid] = g
		}
	}
	if had && old.installed() && old.gid() == gid && old.kind() == kind && (g == nil || g.present()) {
		return // distance or metric changed: the kernel route is the same
	}
	if !had {
		p.m.Installed.Add(1)
	}
	if og != nil {
		og.refs--
	}
	if g != nil {
		g.refs++
	}
	e := mkEntry(gid, kind, false)
	if g != nil && !g.present() {
		// Unresolved (or lost with its link): nothing to point at yet. A
		// GroupChange brings the route in.
		if had && old.installed() && (og == nil || og.present()) {
			p.sendDelRoute(k, p.cfg.Metric)
		}
		*ep = e
		return
	}
	e.setInstalled(true)
	*ep = e
	if p.ks != nil && p.ks.matches(k, e, g, p.useNH) {
		p.m.RoutesAdopted.Add(1)
		return
	}
	if p.ks != nil {
		p.ks.routes.del(k)
	}
	p.sendRoute(k, id, e, g)
}
