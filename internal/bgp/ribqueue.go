package bgp

import "sync"

// maxQueued is the most batches waiting for the RIB before a reader waits.
const maxQueued = 4

// ribQueue hands the batches the readers decide to one goroutine, which
// applies them to the RIB in order: a reader decodes and imports its next
// UPDATE while the RIB takes the last one. Synchronous flushes wait for
// the queue to drain, so every batch still reaches the RIB in the order
// it was decided.
type ribQueue struct {
	mu   sync.Mutex
	cond sync.Cond
	q    []*batch
	free []*batch
	busy bool // a batch is being applied
	// running says the applier goroutine runs; stopping asks it to end
	// once the queue is empty.
	running, stopping bool
}

// flushAsync is flush for a reader that is done with the Loc-RIB: it
// queues b for the RIB, releases s.mu and returns an empty batch for the
// next UPDATE. Called with s.mu held.
func (s *Speaker) flushAsync(b *batch) *batch {
	s.handOver(b)
	q := &s.rq
	q.mu.Lock()
	if !q.running {
		q.mu.Unlock()
		s.flushUnlock(b)
		return b
	}
	q.q = append(q.q, b)
	q.cond.Broadcast()
	var nb *batch
	if n := len(q.free); n > 0 {
		nb = q.free[n-1]
		q.free = q.free[:n-1]
	} else {
		nb = &batch{}
	}
	q.mu.Unlock()
	s.mu.Unlock()
	q.mu.Lock()
	for len(q.q) > maxQueued && q.running {
		q.cond.Wait()
	}
	q.mu.Unlock()
	return nb
}

// drainRIBQueue waits until every queued batch is in the RIB. Called with
// s.mu held (the applier never takes it).
func (s *Speaker) drainRIBQueue() {
	q := &s.rq
	q.mu.Lock()
	for len(q.q) > 0 || q.busy {
		q.cond.Wait()
	}
	q.mu.Unlock()
}

// startRIBQueue starts the applier goroutine.
func (s *Speaker) startRIBQueue() {
	q := &s.rq
	q.mu.Lock()
	q.running, q.stopping = true, false
	q.mu.Unlock()
	s.wg.Add(1)
	go s.applyQueued()
}

// stopRIBQueue asks the applier to end once the queue is empty.
func (s *Speaker) stopRIBQueue() {
	q := &s.rq
	q.mu.Lock()
	q.stopping = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

func (s *Speaker) applyQueued() {
	defer s.wg.Done()
	q := &s.rq
	for {
		q.mu.Lock()
		for len(q.q) == 0 && !q.stopping {
			q.cond.Wait()
		}
		if len(q.q) == 0 {
			q.running = false
			q.cond.Broadcast()
			q.mu.Unlock()
			return
		}
		b := q.q[0]
		n := copy(q.q, q.q[1:])
		q.q[n] = nil
		q.q = q.q[:n]
		q.busy = true
		q.mu.Unlock()
		s.ribMu.Lock()
		s.apply(b)
		s.ribMu.Unlock()
		q.mu.Lock()
		q.busy = false
		// Every batch in circulation (queued, applied, filled by each
		// reader) comes back here, so that their arrays are reused.
		if len(q.free) < 4*maxQueued {
			q.free = append(q.free, b)
		}
		q.cond.Broadcast()
		q.mu.Unlock()
	}
}
