package kernel

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/routerd/routerd/internal/rib"
	"golang.org/x/sys/unix"
)

var (
	pastTime = time.Unix(1, 0)
	zeroTime time.Time
)

// progEvent is what the programmer learns from the kernel on its own: links
// going down take nexthop objects and routes with them without a word on
// the route and nexthop groups, so it watches links itself.
type progEvent struct {
	ifindex int32
	up      bool
	nhDel   uint32 // an object deleted (by someone else, if it is ours)
	overrun bool
}

func (p *Programmer) loadLinks() error {
	return p.c.dump(unix.RTM_GETLINK, make([]byte, ifinfomsgLen), func(m message) error {
		if l, ok := parseLink(m.Data); ok && m.Type == unix.RTM_NEWLINK {
			p.linkUp[l.Index] = l.Flags&unix.IFF_UP != 0
		}
		return nil
	})
}

func (p *Programmer) readEvents(ctx context.Context, out chan<- progEvent) {
	send := func(e progEvent) bool {
		select {
		case out <- e:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var evs []progEvent
	for {
		b, err := p.ev.recv(true)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, unix.ENOBUFS) {
			for { // see Monitor.Run: empty the queue so the next overrun is reported
				b, err := p.ev.recv(false)
				if b == nil && (err == nil || !errors.Is(err, unix.ENOBUFS)) {
					break
				}
			}
			if !send(progEvent{overrun: true}) {
				return
			}
			continue
		}
		if err != nil {
			p.log.Error("kernel programmer: event socket", "err", err)
			return
		}
		evs = progEvents(b, evs[:0])
		for _, e := range evs {
			if !send(e) {
				return
			}
		}
	}
}

// progEvents appends the events of one notification datagram to evs.
func progEvents(b []byte, evs []progEvent) []progEvent {
	_ = parseMessages(b, func(m message) error {
		switch m.Type {
		case unix.RTM_NEWLINK, unix.RTM_DELLINK:
			if l, ok := parseLink(m.Data); ok {
				evs = append(evs, progEvent{ifindex: l.Index, up: m.Type == unix.RTM_NEWLINK && l.Flags&unix.IFF_UP != 0})
			}
		case unix.RTM_DELNEXTHOP:
			if o, ok := parseNexthop(m.Data); ok {
				evs = append(evs, progEvent{nhDel: o.ID})
			}
		}
		return nil
	})
	return evs
}

func (p *Programmer) handleEvent(e progEvent) error {
	switch {
	case e.overrun:
		p.m.Overruns.Add(1)
		p.log.Warn("kernel programmer: event socket overrun; comparing with the kernel")
		p.linksDue = true
		return p.resyncOrLater()
	case e.nhDel != 0:
		p.objectGone(e.nhDel)
	default:
		was, known := p.linkUp[e.ifindex]
		p.linkUp[e.ifindex] = e.up
		switch {
		case (was || !known) && !e.up:
			p.linkDown(e.ifindex)
		case !was && e.up:
			p.repair(e.ifindex)
		}
	}
	return p.commit()
}

// objectGone handles one of our objects deleted by someone else: it is
// created again at once, and with a top-level object the routes using it.
func (p *Programmer) objectGone(id uint32) {
	gid, top := p.ids[id]
	k, mem := p.mids[id]
	if !top && !mem {
		return
	}
	if p.objectExists(id) {
		return // the notification of a delete we followed with a re-create
	}
	p.log.Warn("kernel programmer: nexthop object deleted behind our back; creating it again", "id", id)
	if top {
		if g := p.groups[gid]; g != nil && g.nhid == id && len(g.nhs) > 0 {
			g.state = groupLost
			p.rebuildGroup(gid, g, false)
		}
	}
	if mem {
		delete(p.members, k)
		delete(p.mids, id)
		for gid, g := range p.groups {
			if slices.Contains(g.members, id) && g.present() {
				p.rebuildGroup(gid, g, false)
			}
		}
	}
	p.resendDirty()
}

// objectExists asks the kernel whether a nexthop object exists.
func (p *Programmer) objectExists(id uint32) bool {
	var mb msgBuf
	mb.b = append(mb.b, unix.AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0)
	mb.attrU32(unix.NHA_ID, id)
	err := p.c.request(unix.RTM_GETNEXTHOP, 0, mb.b)
	return err == nil || !isGone(err)
}

// linkDown records what the kernel removed with the link: objects (and the
// routes using them) through it, and, without nexthop objects, the routes.
func (p *Programmer) linkDown(ifx int32) {
	if p.useNH {
		for k, m := range p.members {
			if k.ifx == ifx {
				delete(p.members, k)
				delete(p.mids, m.id)
			}
		}
	}
	for _, g := range p.groups {
		if !g.present() || len(g.nhs) == 0 {
			continue
		}
		on := 0
		for _, nh := range g.nhs {
			if nh.Ifindex == ifx {
				on++
			}
		}
		switch {
		case on == len(g.nhs):
			g.state = groupLost
		case on > 0:
			g.state = groupDegraded
		}
	}
}

// repair brings back groups through a link that came up again, with their
// routes if the kernel had removed them.
func (p *Programmer) repair(ifx int32) {
	for gid, g := range p.groups {
		if len(g.nhs) == 0 || g.state == groupLive || g.state == groupNone {
			continue
		}
		touches := false
		for _, nh := range g.nhs {
			touches = touches || nh.Ifindex == ifx
		}
		if !touches {
			continue
		}
		if !p.useNH {
			if g.refs > 0 {
				p.dirty[gid] = true
			}
			g.state = groupLive
			continue
		}
		p.rebuildGroup(gid, g, false)
	}
	p.resendDirty()
}

var _ rib.GroupID
