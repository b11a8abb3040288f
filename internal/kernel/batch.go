package kernel

import (
	"errors"

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
// number when the kernel answers with an error.
type pending struct {
	key    rib.Key
	id     uint32 // nexthop object id
	op     opKind
	failed bool
}

type batchErr struct {
	idx int
	err error
}

// batch packs messages into one buffer, sends it when it reaches max bytes
// (no NLM_F_ACK: the kernel answers only failures) and, on commit, marks the
// last message with NLM_F_ACK as a sync point.
type batch struct {
	c       *conn
	max     int
	buf     msgBuf
	last    int
	pend    []pending
	base    uint32
	errs    []batchErr
	overrun bool
	sends   *uint64
}

var errOverrun = errors.New("netlink: receive buffer overrun (ENOBUFS)")

func (b *batch) init(c *conn, max int) {
	b.c, b.max = c, max
	b.buf.b = make([]byte, 0, max+4096)
}

// add registers the next message and returns its sequence number; the
// caller appends the message right after.
func (b *batch) add(op opKind, k rib.Key, id uint32) uint32 {
	if len(b.buf.b) >= b.max-1024 {
		b.send()
	}
	seq := b.c.nextSeq()
	if len(b.pend) == 0 {
		b.base = seq
	}
	b.pend = append(b.pend, pending{key: k, id: id, op: op})
	b.last = len(b.buf.b)
	return seq
}

func (b *batch) send() {
	if len(b.buf.b) == 0 {
		return
	}
	if err := b.c.send(b.buf.b); err != nil {
		// A failed sendmsg loses the whole buffer: count every message
		// in it as failed.
		for i := len(b.pend) - b.inBuf(); i < len(b.pend); i++ {
			b.errs = append(b.errs, batchErr{i, err})
		}
	}
	if b.sends != nil {
		*b.sends++
	}
	b.buf.b = b.buf.b[:0]
	b.drain(false, 0)
}

// inBuf counts the messages in the unsent buffer.
func (b *batch) inBuf() int {
	n := 0
	_ = parseMessages(b.buf.b, func(message) error { n++; return nil })
	return n
}

// drain reads the kernel's answers; with wait it blocks until the answer to
// seq arrives.
func (b *batch) drain(wait bool, seq uint32) {
	for {
		d, err := b.c.recv(wait)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				b.overrun = true
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
			idx := int(s - b.base)
			if s-b.base < uint32(len(b.pend)) && e != nil {
				b.pend[idx].failed = true
				b.errs = append(b.errs, batchErr{idx, e})
			}
			if wait && s == seq {
				done = true
			}
			return nil
		})
		if done {
			return
		}
	}
}

// commit sends what is left, waits for the sync marker and returns the
// errors; the caller resets with reset.
func (b *batch) commit() {
	if len(b.pend) == 0 {
		return
	}
	if len(b.buf.b) > 0 {
		flags := ne.Uint16(b.buf.b[b.last+6:])
		ne.PutUint16(b.buf.b[b.last+6:], flags|unix.NLM_F_ACK)
		last := b.base + uint32(len(b.pend)) - 1
		if err := b.c.send(b.buf.b); err != nil {
			for i := len(b.pend) - b.inBuf(); i < len(b.pend); i++ {
				b.errs = append(b.errs, batchErr{i, err})
			}
			b.buf.b = b.buf.b[:0]
			return
		}
		if b.sends != nil {
			*b.sends++
		}
		b.buf.b = b.buf.b[:0]
		b.drain(true, last)
	}
}

func (b *batch) reset() {
	b.pend = b.pend[:0]
	b.errs = b.errs[:0]
	b.overrun = false
}
