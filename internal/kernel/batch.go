package kernel

import (
	"errors"

	"github.com/routerd/routerd/internal/prefixmap"
	"github.com/routerd/routerd/internal/rib"
	"golang.org/x/sys/unix"
)

type opKind uint8

const (
	opRoute opKind = iota + 1
	opDelRoute
	opNexthop
	opDelNexthop
	// opReplNexthop replaces an object believed to exist, without
	// NLM_F_CREATE: ENOENT means the kernel removed it behind our back
	// (a link went down) and took the routes using it along.
	opReplNexthop
)

// pending is one message of the batch in flight, found again by sequence
// number when the kernel answers with an error: 32 bytes. A batch that
// re-sends a full table (a group restored) holds a million of them; with
// a rib.Key (a netip.Prefix and its pointer) they took 48.
type pending struct {
	hi, lo uint64 // a route's prefix, as a prefixmap.Key
	aux    uint32 // a route's table, or the nexthop object's id
	rid    uint32 // a route's key ID in the RIB (opRoute)
	bits   uint8
	v6     bool
	op     opKind
	failed bool
}

func (pd *pending) routeKey() rib.Key {
	k := prefixmap.Key{Hi: pd.hi, Lo: pd.lo, Bits: pd.bits, V6: pd.v6}
	return rib.Key{Table: rib.Table(pd.aux), Prefix: k.Prefix()}
}

func (pd *pending) id() uint32 { return pd.aux }

// pendList holds a batch's pending messages in fixed chunks: a full
// table's batch grows to a million messages, and a slice growing to that
// would copy itself again and again and leave its old arrays to the
// collector, doubling the transient. Chunks beyond the first few are
// dropped when the batch is done.
type pendList struct {
	chunks [][]pending
	n      int
}

const (
	pendChunkBits = 12
	pendChunk     = 1 << pendChunkBits // messages per chunk (96 KiB)
	pendKeep      = 4                  // chunks kept between batches: one feed read's routes
)

func (l *pendList) push(pd pending) {
	c := l.n >> pendChunkBits
	if c == len(l.chunks) {
		l.chunks = append(l.chunks, make([]pending, pendChunk))
	}
	l.chunks[c][l.n&(pendChunk-1)] = pd
	l.n++
}

func (l *pendList) at(i int) *pending { return &l.chunks[i>>pendChunkBits][i&(pendChunk-1)] }

func (l *pendList) len() int { return l.n }

func (l *pendList) reset() {
	l.n = 0
	if len(l.chunks) > pendKeep {
		clear(l.chunks[pendKeep:])
		l.chunks = l.chunks[:pendKeep]
	}
}

type batchErr struct {
	idx int
	err error
}

// batch packs messages into one buffer, sends it when it reaches max bytes
// (no NLM_F_ACK: the kernel answers only failures) and, on commit, marks the
// last message with NLM_F_ACK as a sync point.
//
// With a sender goroutine (startSender), full buffers are handed to it: it
// sends them and reads the kernel's answers while the programmer encodes
// the next buffer, so the programmer's own work runs beside the kernel's
// (which happens inside sendmsg). commit waits for the sender, so between
// commits the socket is the caller's again (dumps, requests). Without the
// goroutine the same steps run inline.
type batch struct {
	c       *conn
	max     int
	buf     msgBuf
	last    int
	pend    pendList
	base    uint32
	bufFrom int // index in pend of the first message in buf
	errs    []batchErr
	overrun bool
	sends   *uint64

	// The sender's side; acc is touched by the sender goroutine only while
	// it runs, and read by commit after the sender answered.
	jobs chan sendJob
	done chan struct{}
	free chan []byte
	acc  sendResult
}

// sendJob is one buffer to send: the messages pend[from:to] of the batch
// whose first sequence number is base. sync asks for the answer to the
// last message (seq last) to be awaited.
type sendJob struct {
	buf        []byte
	base       uint32
	from, to   int
	sync       bool
	last       uint32
	recycleBuf bool
}

type sendResult struct {
	errs    []batchErr
	overrun bool
	sends   uint64
}

var errOverrun = errors.New("netlink: receive buffer overrun (ENOBUFS)")

func (b *batch) init(c *conn, max int) {
	b.c, b.max = c, max
	b.buf.b = make([]byte, 0, max+4096)
}

// startSender runs the sender goroutine until stopSender.
func (b *batch) startSender() {
	jobs, done, free := make(chan sendJob, 2), make(chan struct{}), make(chan []byte, 3)
	for range 2 {
		free <- make([]byte, 0, b.max+4096)
	}
	b.jobs, b.done, b.free = jobs, done, free
	go func() {
		for j := range jobs {
			b.process(j)
			if j.recycleBuf {
				free <- j.buf[:0]
			}
			if j.sync {
				done <- struct{}{}
			}
		}
	}()
}

// stopSender ends the goroutine; the batch then works inline. Call it
// between commits.
func (b *batch) stopSender() {
	if b.jobs == nil {
		return
	}
	close(b.jobs)
	b.jobs = nil
}

// add registers the next message and returns its sequence number; the
// caller appends the message right after.
func (b *batch) add(op opKind, k rib.Key, id uint32) uint32 {
	return b.addRoute(op, k, id, 0)
}

// addRoute is add for a route message of the key with ID rid.
func (b *batch) addRoute(op opKind, k rib.Key, id, rid uint32) uint32 {
	if len(b.buf.b) >= b.max-1024 {
		b.send()
	}
	seq := b.c.nextSeq()
	if b.pend.len() == 0 {
		b.base = seq
	}
	pd := pending{op: op, aux: id, rid: rid}
	if op == opRoute || op == opDelRoute {
		mk := mkey(k.Prefix)
		pd.hi, pd.lo, pd.bits, pd.v6, pd.aux = mk.Hi, mk.Lo, mk.Bits, mk.V6, uint32(k.Table)
	}
	b.pend.push(pd)
	b.last = len(b.buf.b)
	return seq
}

// send hands the full buffer over (or sends it inline).
func (b *batch) send() {
	if len(b.buf.b) == 0 {
		return
	}
	j := sendJob{buf: b.buf.b, base: b.base, from: b.bufFrom, to: b.pend.len()}
	b.bufFrom = b.pend.len()
	if b.jobs != nil {
		j.recycleBuf = true
		b.jobs <- j
		b.buf.b = <-b.free
		return
	}
	b.process(j)
	b.buf.b = b.buf.b[:0]
}

// process sends one buffer and reads the kernel's answers (with sync, up to
// the answer to the last message). It runs on the sender goroutine when
// there is one.
func (b *batch) process(j sendJob) {
	if len(j.buf) == 0 {
		return // a commit with nothing left: everything was answered already
	}
	if err := b.c.send(j.buf); err != nil {
		// A failed sendmsg loses the whole buffer: count every message
		// in it as failed.
		for i := j.from; i < j.to; i++ {
			b.acc.errs = append(b.acc.errs, batchErr{i, err})
		}
		if !j.sync {
			return
		}
		// Nothing of this buffer reached the kernel: its marker will not
		// be answered, but earlier buffers' answers may still be queued.
		j.sync = false
	}
	b.acc.sends++
	b.drain(j, j.sync)
}

// drain reads the kernel's answers; with wait it blocks until the answer to
// j.last arrives.
func (b *batch) drain(j sendJob, wait bool) {
	for {
		d, err := b.c.recv(wait)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				b.acc.overrun = true
				if wait {
					// Our marker's answer may be lost too: the kernel has
					// processed everything sent (rtnetlink is synchronous),
					// so stop waiting.
					return
				}
				continue
			}
			return
		}
		if d == nil {
			return
		}
		done := false
		_ = parseMessages(d, func(m message) error {
			if m.Type != unix.NLMSG_ERROR {
				return nil
			}
			s, e := parseError(m)
			if idx := s - j.base; idx < uint32(j.to) && e != nil {
				b.acc.errs = append(b.acc.errs, batchErr{int(idx), e})
			}
			if wait && s == j.last {
				done = true
			}
			return nil
		})
		if done {
			return
		}
	}
}

// commit sends what is left, waits for the sync marker and collects the
// errors; the caller resets with reset.
func (b *batch) commit() {
	n := b.pend.len()
	if n == 0 {
		return
	}
	j := sendJob{sync: true, base: b.base, from: b.bufFrom, to: n, last: b.base + uint32(n) - 1}
	if len(b.buf.b) > 0 {
		flags := ne.Uint16(b.buf.b[b.last+6:])
		ne.PutUint16(b.buf.b[b.last+6:], flags|unix.NLM_F_ACK)
		j.buf = b.buf.b
	}
	b.bufFrom = n
	switch {
	case b.jobs != nil && len(j.buf) > 0:
		j.recycleBuf = true
		b.jobs <- j
		b.buf.b = <-b.free
		<-b.done
	case b.jobs != nil:
		// Nothing left to send: wait for the buffers handed over.
		b.jobs <- j
		<-b.done
	case len(j.buf) > 0:
		b.process(j)
		b.buf.b = b.buf.b[:0]
	}
	for _, e := range b.acc.errs {
		b.pend.at(e.idx).failed = true
	}
	b.errs = append(b.errs, b.acc.errs...)
	b.overrun = b.overrun || b.acc.overrun
	if b.sends != nil {
		*b.sends += b.acc.sends
	}
	b.acc.errs, b.acc.overrun, b.acc.sends = b.acc.errs[:0], false, 0
}

func (b *batch) reset() {
	b.pend.reset()
	b.errs = b.errs[:0]
	b.bufFrom = 0
	b.overrun = false
}
