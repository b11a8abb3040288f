package kernel

import (
	"errors"
	"fmt"

	"github.com/routerd/routerd/internal/rib"
	"golang.org/x/sys/unix"
)

// maxErrorLogs bounds the per-route error lines one batch logs; the rest
// are counted and summarised.
const maxErrorLogs = 20

// commit sends the batch, then settles its outcome: rejected routes are
// marked not installed and reported, recovered ones reported as installed.
func (p *Programmer) commit() error {
	var sends uint64
	p.b.sends = &sends
	p.b.commit()
	p.m.Sends.Add(sends)
	logged, routeErrs := 0, 0
	var nhErr map[rib.GroupID]error
	// Objects the kernel removed behind our back (a link went down before
	// we read about it): recreated below with their routes, so neither the
	// replace nor the routes that failed with it count as failures.
	var gone map[rib.GroupID]bool
	for _, be := range p.b.errs {
		if pd := p.b.pend.at(be.idx); pd.op == opReplNexthop && isGone(be.err) {
			if gid, ok := p.ids[pd.id()]; ok {
				if gone == nil {
					gone = make(map[rib.GroupID]bool)
				}
				gone[gid] = true
			}
		}
	}
	for _, be := range p.b.errs {
		pd := p.b.pend.at(be.idx)
		pd.failed = true
		switch pd.op {
		case opRoute:
			key := pd.routeKey()
			e := p.routes.ptr(pd.rid)
			if e != nil && e.kind() == rib.KindUnicast && gone[e.gid()] {
				e.setInstalled(false)
				continue
			}
			routeErrs++
			p.m.RouteErrors.Add(1)
			if e != nil {
				e.setInstalled(false)
				// The route failed because its next hop did: say why.
				if ge := nhErr[e.gid()]; ge != nil && e.kind() == rib.KindUnicast {
					be.err = fmt.Errorf("next hop: %w", ge)
				}
			}
			if logged < maxErrorLogs {
				logged++
				p.log.Warn("kernel rejected route", "route", key, "err", be.err)
			}
			if txt := be.err.Error(); p.failed[key] != txt {
				p.failed[key] = txt
				if p.rep != nil {
					p.rep.SetInstallError(key, be.err)
				}
			}
		case opDelRoute:
			if !errors.Is(be.err, unix.ESRCH) && !errors.Is(be.err, unix.ENOENT) {
				p.log.Warn("kernel refused to delete route", "route", pd.routeKey(), "err", be.err)
			}
		case opNexthop, opReplNexthop:
			if gid, ok := p.ids[pd.id()]; ok && gone[gid] {
				p.log.Info("kernel programmer: nexthop object was removed by the kernel (link down); creating it again with its routes", "id", pd.id(), "group", gid)
				continue
			}
			p.m.NexthopErrors.Add(1)
			p.log.Warn("kernel rejected nexthop object", "id", pd.id(), "err", be.err)
			if gid, ok := p.ids[pd.id()]; ok {
				if g := p.groups[gid]; g != nil && len(g.nhs) > 0 {
					g.state = groupLost
				}
				if nhErr == nil {
					nhErr = make(map[rib.GroupID]error)
				}
				nhErr[gid] = be.err
			}
		case opDelNexthop:
			if !errors.Is(be.err, unix.ESRCH) && !errors.Is(be.err, unix.ENOENT) {
				p.log.Warn("kernel refused to delete nexthop object", "id", pd.id(), "err", be.err)
			}
		}
	}
	if routeErrs > logged {
		p.log.Warn("kernel rejected more routes", "count", routeErrs-logged)
	}
	if len(p.failed) > 0 {
		for i := range p.b.pend.len() {
			pd := p.b.pend.at(i)
			if pd.op != opRoute || pd.failed {
				continue
			}
			k := pd.routeKey()
			if _, ok := p.failed[k]; ok {
				delete(p.failed, k)
				if p.rep != nil {
					p.rep.SetInstallError(k, nil)
				}
			}
		}
	}
	overrun := p.b.overrun
	p.b.reset()
	if overrun {
		p.m.Overruns.Add(1)
		p.log.Warn("kernel programmer: netlink overrun, errors may be lost; comparing with the kernel")
		p.c.discard()
		return p.resyncOrLater()
	}
	if len(gone) > 0 {
		p.m.Recreated.Add(uint64(len(gone)))
		for gid := range gone {
			if g := p.groups[gid]; g != nil && g.nhid != 0 && len(g.nhs) > 0 {
				g.state = groupLost
				p.rebuildGroup(gid, g, false)
			}
		}
		p.resendDirty()
		return p.commit()
	}
	return nil
}

// InstallFailures returns how many keys the kernel currently refuses.
// It waits while Run applies an update.
func (p *Programmer) InstallFailures() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.failed)
}
