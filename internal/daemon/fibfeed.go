package daemon

import (
	"context"
	"errors"
	"log/slog"

	"github.com/routerd/routerd/internal/fib"
	"github.com/routerd/routerd/internal/rib"
)

var fibKinds = map[rib.Kind]fib.Kind{
	rib.KindUnicast:     fib.Forward,
	rib.KindBlackhole:   fib.Blackhole,
	rib.KindUnreachable: fib.Unreachable,
	rib.KindProhibit:    fib.Prohibit,
}

// followFIB keeps the shared-memory FIB equal to the RIB's selection: one
// commit (one generation readers can see) per drained batch.
func followFIB(ctx context.Context, w *fib.Writer, sub *rib.Subscription, log *slog.Logger) {
	var nhs []fib.NextHop
	var cs []fib.Change
	for {
		select {
		case <-ctx.Done():
			return
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
					log.Error("fib: next-hop group", "group", g.ID, "err", err)
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
			w.Apply(cs, func(i int, err error) {
				if !errors.Is(err, fib.ErrNotFound) {
					log.Error("fib: route", "prefix", cs[i].Prefix, "table", cs[i].Table, "err", err)
				}
			})
			for _, id := range u.Removed {
				if err := w.DeleteGroup(uint32(id)); err != nil && !errors.Is(err, fib.ErrNotFound) {
					log.Debug("fib: remove group", "group", id, "err", err)
				}
			}
			if err := w.Commit(); err != nil {
				log.Error("fib: commit", "err", err)
			}
		}
	}
}
