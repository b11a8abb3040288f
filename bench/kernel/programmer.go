package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"sync"

	"github.com/routerd/routerd/internal/kernel"
	"github.com/routerd/routerd/internal/rib"
)

// sliceFeed hands pre-built updates to the programmer, so that the
// "programmer" way measures the kernel package alone (no RIB).
type sliceFeed struct {
	mu   sync.Mutex
	q    []rib.Update
	c    chan struct{}
	idle chan struct{}
	// keys are the table's prefixes, ID i for prefixes[i], as a RIB
	// numbers its keys.
	keys []netip.Prefix
}

func (f *sliceFeed) Keys(yield func(rib.Key, uint32) bool) {
	for i, p := range f.keys {
		if !yield(rib.Key{Table: rib.TableMain, Prefix: p}, uint32(i)) {
			return
		}
	}
}

func (f *sliceFeed) C() <-chan struct{} { return f.c }

func (f *sliceFeed) Next(int) rib.Update {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.q) == 0 {
		select {
		case f.idle <- struct{}{}:
		default:
		}
		return rib.Update{}
	}
	u := f.q[0]
	f.q = f.q[1:]
	if len(f.q) > 0 {
		// As rib.Subscription does: C is signalled while more remains.
		select {
		case f.c <- struct{}{}:
		default:
		}
	}
	return u
}

func (f *sliceFeed) run(us []rib.Update) span {
	start := startClock()
	f.mu.Lock()
	select { // a stale signal from before
	case <-f.idle:
	default:
	}
	f.q = us
	f.mu.Unlock()
	select {
	case f.c <- struct{}{}:
	default:
	}
	<-f.idle
	return start.stop()
}

func benchProgrammer(l *lab, prefixes []netip.Prefix) (phases, error) {
	var ph phases
	var p *kernel.Programmer
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := l.ns.Do(func() (err error) {
		p, err = kernel.NewProgrammer(kernel.ProgrammerConfig{Metric: metric, Logger: log})
		return err
	}); err != nil {
		return ph, err
	}
	defer p.Close()
	feed := &sliceFeed{c: make(chan struct{}, 1), idle: make(chan struct{}, 1), keys: prefixes}
	rep := &nopReporter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, feed, rep) }()
	defer func() { cancel(); <-done }()
	feed.run([]rib.Update{{Synced: true}})

	const batch = 16384
	build := func(best func(p netip.Prefix) rib.Best) []rib.Update {
		var us []rib.Update
		for i := 0; i < len(prefixes); i += batch {
			chunk := prefixes[i:min(i+batch, len(prefixes))]
			rc := make([]rib.RouteChange, len(chunk))
			for j, p := range chunk {
				rc[j] = rib.RouteChange{Key: rib.Key{Table: rib.TableMain, Prefix: p}, Best: best(p), ID: uint32(i + j)}
			}
			us = append(us, rib.Update{Routes: rc})
		}
		return us
	}
	install := build(func(p netip.Prefix) rib.Best {
		g := rib.GroupID(1)
		if p.Addr().Is6() {
			g = 2
		}
		return rib.Best{Origin: rib.OriginEBGP, Kind: rib.KindUnicast, Group: g}
	})
	install[0].Groups = []rib.GroupChange{
		{ID: 1, NextHops: []rib.NextHop{{Gateway: gw4a, Ifindex: l.ifindex}}},
		{ID: 2, NextHops: []rib.NextHop{{Gateway: gw6a, Ifindex: l.ifindex}}},
	}
	remove := build(func(netip.Prefix) rib.Best { return rib.Best{} })
	var ms0, ms1, held, packed runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	ph.install = feed.run(install)
	runtime.ReadMemStats(&ms1)
	// The programmer's state for the table: the updates it was fed were
	// built before ms0.
	runtime.GC()
	runtime.ReadMemStats(&held)
	p.Compact()
	runtime.GC()
	runtime.ReadMemStats(&packed)
	perRoute := func(b uint64) float64 { return float64(b) / float64(len(prefixes)) }
	fmt.Fprintf(os.Stderr, "  programmer install: %.3f allocations and %.1f bytes allocated per route; state %.1f B/route after GC, %.1f packed\n",
		perRoute(ms1.Mallocs-ms0.Mallocs), perRoute(ms1.TotalAlloc-ms0.TotalAlloc),
		perRoute(held.HeapAlloc-ms0.HeapAlloc), perRoute(packed.HeapAlloc-ms0.HeapAlloc))
	if rep.n > 0 {
		return ph, fmt.Errorf("%d routes rejected", rep.n)
	}
	ph.move = feed.run([]rib.Update{{Groups: []rib.GroupChange{
		{ID: 1, NextHops: []rib.NextHop{{Gateway: gw4b, Ifindex: l.ifindex}}},
		{ID: 2, NextHops: []rib.NextHop{{Gateway: gw6b, Ifindex: l.ifindex}}},
	}}})
	if err := moved(l, prefixes[len(prefixes)/2]); err != nil {
		return ph, err
	}
	// Next-hop loss and restore as the RIB reports them to a subscriber
	// that follows group loss, as the programmer does: both groups
	// unresolved, then resolved again, and no route change either way (the
	// routes stay, parked, with their groups).
	ph.loss = feed.run([]rib.Update{{Groups: []rib.GroupChange{{ID: 1}, {ID: 2}}}})
	if err := check(l, 0); err != nil {
		return ph, fmt.Errorf("after next-hop loss: %w", err)
	}
	var ms2 runtime.MemStats
	runtime.ReadMemStats(&ms2)
	peak := watchPeak()
	ph.restore = feed.run([]rib.Update{{Groups: []rib.GroupChange{
		{ID: 1, NextHops: []rib.NextHop{{Gateway: gw4b, Ifindex: l.ifindex}}},
		{ID: 2, NextHops: []rib.NextHop{{Gateway: gw6b, Ifindex: l.ifindex}}},
	}}})
	// Restore is one batch of every route: the batch's own bookkeeping
	// is what grows here.
	peakHeap, _ := peak()
	fmt.Fprintf(os.Stderr, "  programmer restore: heap objects peak +%.1f MiB over the heap before\n",
		float64(int64(peakHeap)-int64(ms2.HeapAlloc))/(1<<20))
	if rep.n > 0 {
		return ph, fmt.Errorf("%d routes rejected", rep.n)
	}
	if err := moved(l, prefixes[len(prefixes)/3]); err != nil {
		return ph, fmt.Errorf("after restore: %w", err)
	}
	ph.remove = feed.run(remove)
	return ph, check(l, 0)
}
