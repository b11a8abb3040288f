package kernel

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/routerd/routerd/internal/rib"
	"golang.org/x/sys/unix"
)

// kent is one of routerd's routes as found in the kernel.
type kent struct {
	kind rib.Kind
	nhid uint32
	inl  int32 // index into kernelState.inl; -1 without inline next hops
}

// kernelState is what the kernel held of routerd's own at start (or at a
// resync): objects and routes not yet matched against the RIB. What is left
// when the RIB has synced is deleted.
type kernelState struct {
	objs      map[uint32]kobject
	memberOf  map[uint32]bool // own objects used inside own groups
	singles   map[memberKey][]uint32
	groupsIdx map[string][]uint32
	adopted   map[uint32]bool
	routes    prefixMap[kent]
	inl       [][]rib.NextHop
	others    []kroute // own routes with another priority or type
}

func nhsKey(nhs []rib.NextHop) string {
	var sb strings.Builder
	for _, nh := range canonical(nhs) {
		sb.WriteString(nh.Gateway.String())
		sb.WriteByte('%')
		sb.WriteString(strconv.Itoa(int(nh.Ifindex)))
		sb.WriteByte('*')
		sb.WriteString(strconv.Itoa(int(nh.Weight)))
		sb.WriteByte(';')
	}
	return sb.String()
}

// loadKernel dumps routerd's own nexthop objects and routes.
func (p *Programmer) loadKernel() (*kernelState, error) {
	ks := &kernelState{
		objs: make(map[uint32]kobject), memberOf: make(map[uint32]bool),
		singles: make(map[memberKey][]uint32), groupsIdx: make(map[string][]uint32),
		adopted: make(map[uint32]bool),
	}
	clear(p.foreign)
	err := p.c.dump(unix.RTM_GETNEXTHOP, nexthopDumpRequest(), func(m message) error {
		if m.Type != unix.RTM_NEWNEXTHOP {
			return nil
		}
		o, ok := parseNexthop(m.Data)
		if !ok {
			return nil
		}
		if o.Protocol != p.cfg.Protocol {
			p.foreign[o.ID] = struct{}{}
			return nil
		}
		ks.objs[o.ID] = o
		return nil
	})
	if err != nil && p.useNH {
		return nil, fmt.Errorf("kernel programmer: dump nexthop objects: %w", err)
	}
	for _, o := range ks.objs {
		for _, m := range o.Group {
			ks.memberOf[m.ID] = true
		}
	}
	for id, o := range ks.objs {
		if len(o.Group) == 0 {
			if !ks.memberOf[id] && !o.Blackhole {
				k := memberKey{o.Gateway, o.Ifindex}
				ks.singles[k] = append(ks.singles[k], id)
			}
			continue
		}
		nhs := make([]rib.NextHop, 0, len(o.Group))
		ok := true
		for _, m := range o.Group {
			mo, found := ks.objs[m.ID]
			if !found || len(mo.Group) > 0 {
				ok = false
				break
			}
			nhs = append(nhs, rib.NextHop{Gateway: mo.Gateway, Ifindex: mo.Ifindex, Weight: m.Weight})
		}
		if ok {
			k := nhsKey(nhs)
			ks.groupsIdx[k] = append(ks.groupsIdx[k], id)
		}
	}
	err = p.c.dump(unix.RTM_GETROUTE, routeDumpRequest(unix.AF_UNSPEC, p.cfg.Protocol), func(m message) error {
		if m.Type != unix.RTM_NEWROUTE {
			return nil
		}
		r, ok := parseRoute(m.Data)
		if !ok || r.Protocol != p.cfg.Protocol {
			return nil
		}
		kind := typeKind(r.Type)
		if kind == 0 || r.Priority != p.cfg.Metric {
			ks.others = append(ks.others, r)
			return nil
		}
		e := kent{kind: kind, nhid: r.NHID, inl: -1}
		if len(r.NextHops) > 0 {
			e.inl = int32(len(ks.inl))
			ks.inl = append(ks.inl, r.NextHops)
		}
		if _, dup := ks.routes.get(r.Key); dup {
			ks.others = append(ks.others, r)
			return nil
		}
		ks.routes.set(r.Key, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kernel programmer: dump routes: %w", err)
	}
	return ks, nil
}

// adoptGroup reuses an own kernel object whose content equals g's next hops.
func (p *Programmer) adoptGroup(gid rib.GroupID, g *group) bool {
	ks := p.ks
	if len(g.nhs) == 1 {
		nh := g.nhs[0]
		for _, id := range ks.singles[memberKey{nh.Gateway, nh.Ifindex}] {
			if ks.adopted[id] {
				continue
			}
			ks.adopted[id] = true
			g.nhid = id
			p.ids[id] = gid
			p.m.NexthopsAdopted.Add(1)
			return true
		}
		return false
	}
	for _, id := range ks.groupsIdx[nhsKey(g.nhs)] {
		if ks.adopted[id] {
			continue
		}
		o := ks.objs[id]
		// The members must not clash with member objects already in use.
		for _, m := range o.Group {
			mo := ks.objs[m.ID]
			if cur := p.members[memberKey{mo.Gateway, mo.Ifindex}]; cur != nil && cur.id != m.ID {
				return false
			}
		}
		for _, m := range o.Group {
			mo := ks.objs[m.ID]
			k := memberKey{mo.Gateway, mo.Ifindex}
			if cur := p.members[k]; cur != nil {
				cur.refs++
			} else {
				p.members[k] = &member{id: m.ID, refs: 1}
				p.mids[m.ID] = k
				ks.adopted[m.ID] = true
				p.m.NexthopsAdopted.Add(1)
			}
			g.members = append(g.members, m.ID)
		}
		ks.adopted[id] = true
		g.nhid = id
		p.ids[id] = gid
		p.m.NexthopsAdopted.Add(1)
		return true
	}
	return false
}

// matches reports whether the kernel already holds the route as wanted, and
// forgets the kernel copy either way (it is then either adopted or about to
// be replaced).
func (ks *kernelState) matches(k rib.Key, e entry, g *group, useNH bool) bool {
	ke, ok := ks.routes.get(k)
	if !ok {
		return false
	}
	ks.routes.del(k)
	if ke.kind != e.kind() {
		return false
	}
	if e.kind() != rib.KindUnicast {
		return true
	}
	if useNH {
		return g.nhid != 0 && ke.nhid == g.nhid
	}
	return ke.nhid == 0 && ke.inl >= 0 && sameNextHops(ks.inl[ke.inl], g.nhs)
}

// finishReconcile deletes every own object and route the RIB did not claim.
// Deleting an object takes its routes with it, so those need no message.
func (p *Programmer) finishReconcile() {
	ks := p.ks
	p.ks = nil
	gone := make(map[uint32]bool)
	for pass := 0; pass < 2; pass++ { // groups before their members
		for id, o := range ks.objs {
			if ks.adopted[id] || (len(o.Group) > 0) != (pass == 0) {
				continue
			}
			if _, ours := p.mids[id]; ours {
				continue
			}
			if _, ours := p.ids[id]; ours {
				continue
			}
			gone[id] = true
			p.sendDelNexthop(id)
		}
	}
	stale := 0
	for k, e := range ks.routes.all() {
		if e.nhid == 0 || !gone[e.nhid] {
			p.sendDelRoute(k, p.cfg.Metric)
		}
		stale++
	}
	for _, r := range ks.others {
		if r.NHID == 0 || !gone[r.NHID] {
			p.sendDelRoute(r.Key, r.Priority)
		}
		stale++
	}
	p.log.Info("kernel programmer reconciled", "stale_routes", stale, "stale_nexthops", len(gone),
		"adopted_routes", p.m.RoutesAdopted.Load(), "adopted_nexthops", p.m.NexthopsAdopted.Load())
}

// resyncOrLater runs resync. When the kernel's tables change too fast for a
// consistent dump (every retry interrupted), it leaves the comparison to
// Run's retry timer instead of failing.
func (p *Programmer) resyncOrLater() error {
	err := p.resync()
	if errors.Is(err, errDumpInterrupted) {
		p.resyncDue = true
		p.log.Warn("kernel programmer: the kernel's tables change too fast for a consistent dump; comparing again shortly")
		return nil
	}
	p.resyncDue = false
	return err
}

// resync compares the whole wanted state with a fresh dump of the kernel and
// repairs the differences (after a netlink overrun lost error reports).
func (p *Programmer) resync() error {
	p.m.Resyncs.Add(1)
	p.del.wait() // objects being deleted would show in the dump
	if p.linksDue {
		if err := p.loadLinks(); err != nil {
			return err
		}
		p.linksDue = false
	}
	ks, err := p.loadKernel()
	if err != nil {
		return err
	}
	p.ks = ks
	if p.useNH {
		for gid, g := range p.groups {
			if g.nhid == 0 || len(g.nhs) == 0 {
				continue
			}
			if p.objectMatches(g) {
				ks.adopted[g.nhid] = true
				for _, id := range g.members {
					ks.adopted[id] = true
				}
				continue
			}
			if o, ok := ks.objs[g.nhid]; ok && (len(o.Group) > 0) != (len(g.nhs) > 1) {
				p.sendDelNexthop(g.nhid)
			}
			old := g.members
			g.members = nil
			p.createGroupObjects(gid, g, unix.NLM_F_CREATE|unix.NLM_F_REPLACE)
			for _, id := range old {
				p.releaseMember(id, delNow)
			}
			for _, id := range g.members {
				ks.adopted[id] = true
			}
			ks.adopted[g.nhid] = true
			g.state = groupLive
			p.dirty[gid] = true
		}
	}
	p.routes.all(p.feed.Keys, func(k rib.Key, id uint32, e *entry) bool {
		var g *group
		if e.kind() == rib.KindUnicast {
			g = p.groups[e.gid()]
			if g == nil || len(g.nhs) == 0 {
				ks.routes.del(k)
				return true
			}
		}
		if (g == nil || !p.dirty[e.gid()]) && ks.matches(k, *e, g, p.useNH) {
			return true
		}
		ks.routes.del(k)
		p.sendRoute(k, id, *e, g)
		e.setInstalled(true)
		return true
	})
	clear(p.dirty)
	p.finishReconcile()
	p.b.commit()
	// Errors of this pass are settled like any batch; a second overrun
	// is left for the next one.
	p.b.overrun = false
	return p.commit()
}

// objectMatches reports whether the kernel (as just dumped) holds g's
// objects with g's content.
func (p *Programmer) objectMatches(g *group) bool {
	o, ok := p.ks.objs[g.nhid]
	if !ok {
		return false
	}
	if len(g.nhs) == 1 {
		nh := g.nhs[0]
		return len(o.Group) == 0 && o.Gateway == nh.Gateway && o.Ifindex == nh.Ifindex
	}
	if len(o.Group) != len(g.nhs) {
		return false
	}
	nhs := make([]rib.NextHop, 0, len(o.Group))
	for _, m := range o.Group {
		mo, ok := p.ks.objs[m.ID]
		if !ok {
			return false
		}
		nhs = append(nhs, rib.NextHop{Gateway: mo.Gateway, Ifindex: mo.Ifindex, Weight: m.Weight})
	}
	return sameNextHops(nhs, g.nhs)
}

// Flush deletes every route and nexthop object of routerd's protocol from
// the kernel. Call it after Run has returned (at shutdown, when the
// configuration says so).
func (p *Programmer) Flush() error {
	p.del.wait()
	ks, err := p.loadKernel()
	if err != nil {
		return err
	}
	clear(p.ids)
	clear(p.mids)
	clear(p.members)
	p.groups = make(map[rib.GroupID]*group)
	p.routes = routeState{}
	p.ks = ks
	p.finishReconcile()
	p.b.commit()
	var firstErr error
	for _, be := range p.b.errs {
		if !isGone(be.err) && firstErr == nil {
			firstErr = be.err
		}
	}
	p.b.reset()
	p.m.Installed.Store(0)
	if firstErr != nil {
		return fmt.Errorf("kernel flush: %w", firstErr)
	}
	return nil
}

func isGone(err error) bool {
	oe, ok := err.(*OpError)
	return ok && (oe.Errno == unix.ESRCH || oe.Errno == unix.ENOENT)
}
