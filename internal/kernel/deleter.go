package kernel

import (
	"errors"
	"log/slog"

	"golang.org/x/sys/unix"
)

// deleter deletes nexthop objects from a goroutine and socket of its own.
// It takes the objects of groups that went unresolved: deleting such an
// object makes the kernel drop every route using it, which for a full table
// is most of a second of the kernel's time inside sendmsg. Nothing the
// programmer sends later depends on that deletion (the ids are never reused
// and the routes are being withdrawn anyway), so the programmer goes on with
// the feed (the route withdrawals that follow) while the kernel works.
type deleter struct {
	c       *conn
	log     *slog.Logger
	in      chan []uint32
	done    chan struct{} // one per finished job
	pending int           // jobs handed over and not finished; the programmer's goroutine only
}

func newDeleter(c *conn, log *slog.Logger) *deleter {
	return &deleter{c: c, log: log}
}

// start runs the deleter's goroutine until stop.
func (d *deleter) start() {
	in, done := make(chan []uint32, 64), make(chan struct{}, 64)
	d.in, d.done = in, done
	go func() {
		for ids := range in {
			d.delete(ids)
			done <- struct{}{}
		}
	}()
}

// stop waits for the jobs handed over and ends the goroutine.
func (d *deleter) stop() {
	if d.in == nil {
		return
	}
	d.wait()
	close(d.in)
	d.in = nil
}

// running reports whether jobs can be handed over.
func (d *deleter) running() bool { return d != nil && d.in != nil }

// submit hands a list of object ids over (groups before their members).
func (d *deleter) submit(ids []uint32) {
	if len(ids) == 0 {
		return
	}
	d.pending++
	d.in <- ids
}

// wait returns when every job handed over is finished.
func (d *deleter) wait() {
	for ; d != nil && d.pending > 0; d.pending-- {
		<-d.done
	}
}

// busy reports whether jobs are in flight.
func (d *deleter) busy() bool { return d != nil && d.pending > 0 }

// delete sends one RTM_DELNEXTHOP per id, the last with NLM_F_ACK, and
// waits for the kernel's answers.
func (d *deleter) delete(ids []uint32) {
	var mb msgBuf
	for len(ids) > 0 {
		n := min(len(ids), 1024)
		mb.b = mb.b[:0]
		first := d.c.seq + 1
		var last uint32
		for i, id := range ids[:n] {
			flags := uint16(unix.NLM_F_REQUEST)
			if i == n-1 {
				flags |= unix.NLM_F_ACK
			}
			last = d.c.nextSeq()
			start := mb.begin(unix.RTM_DELNEXTHOP, flags, last)
			mb.b = append(mb.b, unix.AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0)
			mb.attrU32(unix.NHA_ID, id)
			mb.end(start)
		}
		if err := d.c.send(mb.b); err != nil {
			d.log.Warn("kernel programmer: deleting nexthop objects", "err", err)
			return
		}
		for done := false; !done; {
			b, err := d.c.recv(true)
			if err != nil {
				if !errors.Is(err, unix.ENOBUFS) {
					d.log.Warn("kernel programmer: deleting nexthop objects", "err", err)
				}
				break // the kernel has processed the whole send either way
			}
			_ = parseMessages(b, func(m message) error {
				if m.Type != unix.NLMSG_ERROR {
					return nil
				}
				s, err := parseError(m)
				if err != nil && !isGone(err) && s-first < uint32(n) {
					d.log.Warn("kernel refused to delete nexthop object", "id", ids[s-first], "err", err)
				}
				done = done || s == last
				return nil
			})
		}
		ids = ids[n:]
	}
}
