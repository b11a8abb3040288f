package daemon

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Memory trimming. A full table arriving leaves the heap at its peak: the
// route tables' arrays keep growth slack, and the collector's headroom
// (GOGC) of garbage is memory the runtime returns to the system only
// slowly. Once such a burst has settled, trimMemory packs the tables and
// returns what is free, so that the resident size an operator sees is
// the routes', not the load's.
const (
	trimPoll  = 250 * time.Millisecond
	trimBurst = 32 << 20 // bytes allocated since the last trim that make a burst
	trimQuiet = 1 << 20  // bytes allocated within one poll that still count as quiet
)

// trimMemory runs until ctx ends.
func (d *Daemon) trimMemory(ctx context.Context) {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	allocated := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	t := time.NewTicker(trimPoll)
	defer t.Stop()
	last := allocated()
	lastTrim := last
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := allocated()
		if cur-lastTrim >= trimBurst && cur-last < trimQuiet {
			start := time.Now()
			// Garbage goes first, and each table's old arrays before the
			// next table is packed, so that the packing adds at most one
			// table's copy to the resident size.
			debug.FreeOSMemory()
			d.rib.Compact()
			if d.prog != nil {
				d.prog.Compact()
			}
			debug.FreeOSMemory()
			if s := d.bgp.get(); s != nil {
				s.Compact()
				debug.FreeOSMemory()
			}
			d.log.Debug("memory trimmed after a burst of changes", "took", time.Since(start))
			cur = allocated()
			lastTrim = cur
		}
		last = cur
	}
}
