package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/routerd/routerd/internal/fib"
	"github.com/routerd/routerd/internal/rib"
)

var fibKinds = map[rib.Kind]fib.Kind{
	rib.KindUnicast:     fib.Forward,
	rib.KindBlackhole:   fib.Blackhole,
	rib.KindUnreachable: fib.Unreachable,
	rib.KindProhibit:    fib.Prohibit,
}

// fibMetrics counts what the FIB feed did, for the API's counters and the
// metrics endpoint.
type fibMetrics struct {
	Changes      atomic.Uint64 // route changes made
	ChangeErrors atomic.Uint64 // route changes the FIB refused (a route missing from the data plane)
	GroupErrors  atomic.Uint64 // next-hop groups the FIB refused
	Commits      atomic.Uint64
	CommitErrors atomic.Uint64
}

// fibLogEvery is how often at most the feed logs refused changes: a FIB
// that is full refuses every change of a full table, and a line per
// change (or per batch of 4096) would flood the log. The counters count
// every one.
const fibLogEvery = 10 * time.Second

// fibErrLog gathers refused changes between log lines.
type fibErrLog struct {
	log     *slog.Logger
	last    time.Time
	pending uint64 // refused since the last line
	first   string // the first of them, described
	err     error
}

func (l *fibErrLog) note(what string, err error) {
	if l.pending == 0 {
		l.first, l.err = what, err
	}
	l.pending++
}

// flush logs what was noted if the last line is old enough (or force).
func (l *fibErrLog) flush(now time.Time, force bool) {
	if l.pending == 0 || (!force && now.Sub(l.last) < fibLogEvery) {
		return
	}
	args := []any{"refused", l.pending, "first", l.first, "err", l.err}
	if errors.Is(l.err, fib.ErrFull) {
		args = append(args, "hint", "the FIB is full: raise fib.nodes, fib.max-tables or fib.groups and restart routerd")
	}
	l.log.Error("fib: changes refused; the data plane lacks these routes", args...)
	l.last, l.pending, l.first, l.err = now, 0, "", nil
}

// followFIB keeps the shared-memory FIB equal to the RIB's selection: one
// commit (one generation readers can see) per drained batch.
func followFIB(ctx context.Context, w *fib.Writer, sub *rib.Subscription, m *fibMetrics, log *slog.Logger) {
	var nhs []fib.NextHop
	var cs []fib.Change
	el := &fibErrLog{log: log}
	defer func() { el.flush(time.Now(), true) }()
	// Refusals held back after a line go out when the next is due, also
	// if no batch comes by then.
	tick := time.NewTicker(fibLogEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			el.flush(now, false)
			continue
		case <-sub.C():
		}
		for u := sub.Next(4096); !u.Empty(); u = sub.Next(4096) {
			for _, g := range u.Groups {
				if len(g.NextHops) == 0 {
					continue // unresolved: no route refers to it
				}
				nhs = nhs[:0]
				for _, nh := range g.NextHops {
					nhs = append(nhs, fib.NextHop{Gateway: nh.Gateway, Ifindex: nh.Ifindex, Weight: nh.Weight})
				}
				if err := w.SetGroup(uint32(g.ID), nhs); err != nil {
					m.GroupErrors.Add(1)
					el.note(fmt.Sprintf("next-hop group %d", g.ID), err)
				}
			}
			// The batch's route changes go in through Apply, which
			// overlaps their cache misses.
			cs = cs[:0]
			for _, rc := range u.Routes {
				c := fib.Change{Table: uint32(rc.Table), Prefix: rc.Prefix, Delete: !rc.Best.Valid()}
				if !c.Delete {
					c.Action = fib.Action{Kind: fibKinds[rc.Best.Kind], Group: uint32(rc.Best.Group)}
				}
				cs = append(cs, c)
			}
			// A delete of a route the FIB never took (it was refused) is
			// not an error of its own, nor a change.
			failed, absent := uint64(0), uint64(0)
			w.Apply(cs, func(i int, err error) {
				if errors.Is(err, fib.ErrNotFound) {
					absent++
					return
				}
				failed++
				el.note(fmt.Sprintf("%v table %d", cs[i].Prefix, cs[i].Table), err)
			})
			m.Changes.Add(uint64(len(cs)) - failed - absent)
			m.ChangeErrors.Add(failed)
			for _, id := range u.Removed {
				if err := w.DeleteGroup(uint32(id)); err != nil && !errors.Is(err, fib.ErrNotFound) {
					log.Debug("fib: remove group", "group", id, "err", err)
				}
			}
			m.Commits.Add(1)
			if err := w.Commit(); err != nil {
				m.CommitErrors.Add(1)
				el.note("commit", err)
			}
			el.flush(time.Now(), false)
		}
	}
}
