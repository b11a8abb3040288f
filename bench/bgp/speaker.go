package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/netns"
)

// peer is the benchmark's minimal BGP speaker: one session over one
// address family, enough to open it, keep it up, send pre-encoded UPDATEs
// (the tester) or count the prefixes that arrive (the monitor). Both roles
// are the same for every implementation under test.
type peer struct {
	conn   *net.TCPConn
	fam    wire.Family
	opts   wire.Options
	wmu    sync.Mutex
	closed chan struct{}
	once   sync.Once
	hold   time.Duration
}

// dialPeer connects from local to the router (retrying while it starts,
// until ctx ends) inside ns and performs the OPEN exchange.
func dialPeer(ctx context.Context, ns *netns.NS, local, remote netip.Addr, as uint32, fam wire.Family) (*peer, error) {
	var c *net.TCPConn
	for {
		err := ns.Do(func() error {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: local.AsSlice()}, Timeout: time.Second}
			nc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(remote.String(), "179"))
			if err != nil {
				return err
			}
			c = nc.(*net.TCPConn)
			return nil
		})
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect %s -> %s: %w", local, remote, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	p := &peer{conn: c, fam: fam, closed: make(chan struct{})}
	if err := p.open(local, as); err != nil {
		c.Close()
		return nil, fmt.Errorf("session %s -> %s: %w", local, remote, err)
	}
	go p.keepalives()
	return p, nil
}

func (p *peer) open(id netip.Addr, as uint32) error {
	if !id.Is4() {
		id = netip.AddrFrom4([4]byte{10, 255, 0, byte(as)})
	}
	o := wire.NewOpen(as, 90, id)
	o.Caps.Multiprotocol = []wire.Family{p.fam}
	msg, err := o.AppendMessage(nil)
	if err != nil {
		return err
	}
	_ = p.conn.SetDeadline(time.Now().Add(30 * time.Second))
	defer p.conn.SetDeadline(time.Time{})
	if _, err := p.conn.Write(msg); err != nil {
		return err
	}
	buf := make([]byte, wire.MaxMessageLen)
	h, body, err := wire.ReadMessage(p.conn, buf, wire.MaxMessageLen)
	if err != nil {
		return err
	}
	if h.Type != wire.TypeOpen {
		return unexpected(h, body)
	}
	ro, err := wire.DecodeOpen(body)
	if err != nil {
		return err
	}
	p.opts = wire.Negotiate(&o.Caps, &ro.Caps, true)
	if !p.opts.Families.Has(p.fam) {
		return fmt.Errorf("%s not negotiated", p.fam)
	}
	p.hold = time.Duration(min(90, ro.HoldTime)) * time.Second
	if _, err := p.conn.Write(wire.AppendKeepalive(nil)); err != nil {
		return err
	}
	h, body, err = wire.ReadMessage(p.conn, buf, wire.MaxMessageLen)
	if err != nil {
		return err
	}
	if h.Type != wire.TypeKeepalive {
		return unexpected(h, body)
	}
	return nil
}

func unexpected(h wire.Header, body []byte) error {
	if h.Type == wire.TypeNotification {
		n, _ := wire.DecodeNotification(body)
		return fmt.Errorf("NOTIFICATION: %s", n)
	}
	return fmt.Errorf("unexpected %s", h.Type)
}

func (p *peer) keepalives() {
	if p.hold == 0 {
		return
	}
	t := time.NewTicker(p.hold / 3)
	defer t.Stop()
	for {
		select {
		case <-p.closed:
			return
		case <-t.C:
			if p.write(wire.AppendKeepalive(nil)) != nil {
				return
			}
		}
	}
}

func (p *peer) write(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.conn.Write(b)
	return err
}

func (p *peer) close() {
	p.once.Do(func() {
		close(p.closed)
		p.conn.Close()
	})
}

// drain reads and discards what the router sends (the tester gets its own
// routes' fate or nothing; it must not let the router's writes block).
func (p *peer) drain() {
	buf := make([]byte, 1<<16)
	for {
		if _, err := p.conn.Read(buf); err != nil {
			return
		}
	}
}

// send writes the pre-encoded chunks of UPDATEs; first is called just
// before the first byte goes out.
func (p *peer) send(chunks [][]byte, first func()) error {
	for i, c := range chunks {
		if i == 0 {
			first()
		}
		if err := p.write(c); err != nil {
			return err
		}
	}
	return nil
}

// counter gathers what the monitor sessions receive: each prefix of the
// table counted once, and the time the last one arrived.
type counter struct {
	t       *table
	n       atomic.Int64 // distinct table prefixes seen, both families
	updates atomic.Int64
	want    int64
	done    chan struct{}
	doneAt  atomic.Int64 // unix nanoseconds: when the last family completed
	famLeft atomic.Int32 // families not complete yet
	errs    atomic.Pointer[error]
	finish  sync.Once
	// Families whose monitor has received as many prefixes as the table
	// holds (duplicates included), and closed when none is left: only
	// then do the monitors check which prefixes they got (see monitor).
	countLeft atomic.Int32
	counted   chan struct{}
}

// stop records err (if it is the first) and ends the wait.
func (c *counter) stop(err error) {
	if err != nil {
		c.errs.CompareAndSwap(nil, &err)
	}
	c.finish.Do(func() { close(c.done) })
}

func newCounter(t *table) *counter {
	c := &counter{t: t, want: int64(t.len()), done: make(chan struct{}), counted: make(chan struct{})}
	c.famLeft.Store(2)
	c.countLeft.Store(2)
	for _, l := range [][]wire.Prefix{t.v4, t.v6} {
		if len(l) == 0 {
			c.famLeft.Add(-1)
			c.familyCounted()
		}
	}
	return c
}

// familyCounted records that one family's monitor has received as many
// prefixes as the table holds.
func (c *counter) familyCounted() {
	if c.countLeft.Add(-1) == 0 {
		close(c.counted)
	}
}

// familyDone records that one family is complete at time at; the last one
// ends the wait. The convergence time is the latest family's, whichever
// monitor finishes its check last.
func (c *counter) familyDone(at time.Time) {
	for {
		old := c.doneAt.Load()
		if old >= at.UnixNano() || c.doneAt.CompareAndSwap(old, at.UnixNano()) {
			break
		}
	}
	if c.famLeft.Add(-1) == 0 {
		c.stop(nil)
	}
}

// monitor reads UPDATEs from the router and counts the table's prefixes.
//
// Looking every received prefix up in an index of a million is a cache
// miss each, ~0.4 s of CPU in a run, taken from the router under test on
// a 2-core machine. So the monitor first only logs what it receives; once
// it has received as many prefixes as its family has, it checks the log
// against the table. When every one was there (routers send each prefix
// once), the family converged at the message that completed the count.
// Otherwise (duplicates, prefixes not from the table) it marks what the
// log holds and counts exactly from then on.
func (p *peer) monitor(c *counter) {
	max := p.opts.MaxLen()
	buf := make([]byte, max)
	dec := wire.NewDecoder(p.opts)
	var u wire.Update
	fi := 0
	want := len(c.t.v4)
	if p.fam == wire.IPv6Unicast {
		fi, want = 1, len(c.t.v6)
	}
	if want == 0 {
		return
	}
	received := make([]wire.Prefix, 0, want)
	var seen []bool // exact mode: by position in the family's list
	distinct := 0
	mark := func(ps []wire.Prefix) {
		for _, x := range ps {
			if i, ok := c.t.index[x]; ok && x.Is6() == (fi == 1) && !seen[i] {
				seen[i] = true
				distinct++
			}
		}
	}
	for {
		h, body, err := wire.ReadMessage(p.conn, buf, max)
		if err != nil {
			select {
			case <-p.closed:
			default:
				c.stop(fmt.Errorf("monitor %s: %w", p.fam, err))
			}
			return
		}
		switch h.Type {
		case wire.TypeUpdate:
		case wire.TypeNotification:
			n, _ := wire.DecodeNotification(body)
			c.stop(fmt.Errorf("monitor %s: NOTIFICATION %s", p.fam, n))
			return
		default:
			continue
		}
		now := time.Now()
		c.updates.Add(1)
		if err := dec.DecodeUpdate(body, &u); err != nil {
			err = fmt.Errorf("monitor %s: %w", p.fam, err)
			c.errs.CompareAndSwap(nil, &err)
			continue
		}
		before := distinct
		if seen == nil {
			received = append(received, u.NLRI...)
			received = append(received, u.MPNLRI...)
			if len(received) < want {
				continue
			}
			// Checking a million prefixes against the table's index
			// takes a quarter of a second of CPU: the first family to
			// get its count (IPv4, sent first) would spend it while the
			// router still works on the other, on a machine whose cores
			// the router under test shares with the tester and the
			// monitors. So the check waits until every family has its
			// count; the time that counts is still this message's.
			c.familyCounted()
			select {
			case <-c.counted:
			case <-p.closed:
				return
			case <-c.done:
				return
			}
			seen = make([]bool, want)
			mark(received)
			received = nil
		} else {
			mark(u.NLRI)
			mark(u.MPNLRI)
		}
		if distinct > before {
			c.n.Add(int64(distinct - before))
			if distinct == want {
				c.familyDone(now)
			}
		}
	}
}

func (c *counter) err() error {
	if e := c.errs.Load(); e != nil {
		return *e
	}
	return nil
}
