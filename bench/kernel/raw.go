package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// rawConn is the floor: one netlink socket, messages packed into 64 KiB
// sendmsg calls with no per-message ACK, failures read back between sends,
// one ACK at the end as the sync point.
type rawConn struct {
	fd   int
	sa   unix.SockaddrNetlink
	seq  uint32
	buf  []byte
	rbuf []byte
	errs int
}

var nat = binary.NativeEndian

func newRawConn() (*rawConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &rawConn{fd: fd, sa: unix.SockaddrNetlink{Family: unix.AF_NETLINK}, buf: make([]byte, 0, 70<<10), rbuf: make([]byte, 1<<20)}, nil
}

func (c *rawConn) hdr(typ, flags uint16) int {
	c.seq++
	start := len(c.buf)
	c.buf = nat.AppendUint32(c.buf, 0)
	c.buf = nat.AppendUint16(c.buf, typ)
	c.buf = nat.AppendUint16(c.buf, unix.NLM_F_REQUEST|flags)
	c.buf = nat.AppendUint32(c.buf, c.seq)
	c.buf = nat.AppendUint32(c.buf, 0)
	return start
}

func (c *rawConn) attr(typ uint16, v []byte) {
	c.buf = nat.AppendUint16(c.buf, uint16(4+len(v)))
	c.buf = nat.AppendUint16(c.buf, typ)
	c.buf = append(c.buf, v...)
	for len(c.buf)%4 != 0 {
		c.buf = append(c.buf, 0)
	}
}

func (c *rawConn) u32(typ uint16, v uint32) { c.attr(typ, nat.AppendUint32(nil, v)) }

func (c *rawConn) end(start int) {
	nat.PutUint32(c.buf[start:], uint32(len(c.buf)-start))
	if len(c.buf) > 64<<10-256 {
		c.flush(false)
	}
}

func addrBytes(a netip.Addr) []byte {
	if a.Is4() {
		b := a.As4()
		return b[:]
	}
	b := a.As16()
	return b[:]
}

func (c *rawConn) nexthop(flags uint16, id uint32, gw netip.Addr, ifx int32) {
	s := c.hdr(unix.RTM_NEWNEXTHOP, flags)
	fam := byte(unix.AF_INET)
	if gw.Is6() {
		fam = unix.AF_INET6
	}
	c.buf = append(c.buf, fam, 0, 0, 0, 0, 0, 0, 0)
	c.u32(unix.NHA_ID, id)
	c.u32(unix.NHA_OIF, uint32(ifx))
	c.attr(unix.NHA_GATEWAY, addrBytes(gw))
	c.end(s)
}

func (c *rawConn) delNexthop(id uint32) {
	s := c.hdr(unix.RTM_DELNEXTHOP, 0)
	c.buf = append(c.buf, unix.AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0)
	c.u32(unix.NHA_ID, id)
	c.end(s)
}

func (c *rawConn) route(typ uint16, p netip.Prefix, nhid uint32) {
	flags := uint16(0)
	scope := byte(unix.RT_SCOPE_NOWHERE)
	rtype := byte(0)
	if typ == unix.RTM_NEWROUTE {
		flags, scope, rtype = unix.NLM_F_CREATE|unix.NLM_F_REPLACE, unix.RT_SCOPE_UNIVERSE, unix.RTN_UNICAST
	}
	s := c.hdr(typ, flags)
	fam := byte(unix.AF_INET)
	if p.Addr().Is6() {
		fam = unix.AF_INET6
	}
	c.buf = append(c.buf, fam, byte(p.Bits()), 0, 0, unix.RT_TABLE_MAIN, unix.RTPROT_STATIC, scope, rtype, 0, 0, 0, 0)
	c.attr(unix.RTA_DST, addrBytes(p.Addr()))
	c.u32(unix.RTA_PRIORITY, metric)
	if nhid != 0 {
		c.u32(30, nhid) // RTA_NH_ID
	}
	c.end(s)
}

// flush sends the buffer; with sync the last message asks for an ACK and
// flush waits for it.
func (c *rawConn) flush(sync bool) error {
	if len(c.buf) == 0 {
		return nil
	}
	if sync {
		// The last message starts at the last header we wrote: find it.
		off := 0
		for off+int(nat.Uint32(c.buf[off:])) < len(c.buf) {
			off += (int(nat.Uint32(c.buf[off:])) + 3) &^ 3
		}
		nat.PutUint16(c.buf[off+6:], nat.Uint16(c.buf[off+6:])|unix.NLM_F_ACK)
	}
	if err := unix.Sendto(c.fd, c.buf, 0, &c.sa); err != nil {
		return err
	}
	c.buf = c.buf[:0]
	for {
		flags := unix.MSG_DONTWAIT
		if sync {
			flags = 0
		}
		n, _, err := unix.Recvfrom(c.fd, c.rbuf, flags)
		if err == unix.EAGAIN {
			return nil
		}
		if err != nil {
			return err
		}
		done := false
		for b := c.rbuf[:n]; len(b) >= 16; {
			l := int(nat.Uint32(b))
			if nat.Uint16(b[4:]) == unix.NLMSG_ERROR {
				if code := int32(nat.Uint32(b[16:])); code != 0 {
					c.errs++
				}
				if nat.Uint32(b[16+4+8:]) == c.seq {
					done = true
				}
			}
			if (l+3)&^3 >= len(b) {
				break
			}
			b = b[(l+3)&^3:]
		}
		if sync && done {
			return nil
		}
	}
}

func benchRaw(l *lab, prefixes []netip.Prefix) (phases, error) {
	var ph phases
	var c *rawConn
	if err := l.ns.Do(func() (err error) { c, err = newRawConn(); return err }); err != nil {
		return ph, err
	}
	defer unix.Close(c.fd)
	timed := func(d *span, fn func()) error {
		start := startClock()
		fn()
		err := c.flush(true)
		*d = start.stop()
		if err == nil && c.errs > 0 {
			err = fmt.Errorf("%d messages failed", c.errs)
		}
		return err
	}
	err := timed(&ph.install, func() {
		c.nexthop(unix.NLM_F_CREATE, 1, gw4a, l.ifindex)
		c.nexthop(unix.NLM_F_CREATE, 2, gw6a, l.ifindex)
		for _, p := range prefixes {
			id := uint32(1)
			if p.Addr().Is6() {
				id = 2
			}
			c.route(unix.RTM_NEWROUTE, p, id)
		}
	})
	if err != nil {
		return ph, err
	}
	if err := timed(&ph.move, func() {
		c.nexthop(unix.NLM_F_CREATE|unix.NLM_F_REPLACE, 1, gw4b, l.ifindex)
		c.nexthop(unix.NLM_F_CREATE|unix.NLM_F_REPLACE, 2, gw6b, l.ifindex)
	}); err != nil {
		return ph, err
	}
	if err := moved(l, prefixes[len(prefixes)/2]); err != nil {
		return ph, err
	}
	if err := timed(&ph.loss, func() {
		c.delNexthop(1)
		c.delNexthop(2)
	}); err != nil {
		return ph, err
	}
	if err := check(l, 0); err != nil {
		return ph, fmt.Errorf("after next-hop loss: %w", err)
	}
	if err := timed(&ph.restore, func() {
		c.nexthop(unix.NLM_F_CREATE, 1, gw4b, l.ifindex)
		c.nexthop(unix.NLM_F_CREATE, 2, gw6b, l.ifindex)
		for _, p := range prefixes {
			id := uint32(1)
			if p.Addr().Is6() {
				id = 2
			}
			c.route(unix.RTM_NEWROUTE, p, id)
		}
	}); err != nil {
		return ph, err
	}
	if err := moved(l, prefixes[len(prefixes)/3]); err != nil {
		return ph, fmt.Errorf("after restore: %w", err)
	}
	if err := timed(&ph.remove, func() {
		for _, p := range prefixes {
			c.route(unix.RTM_DELROUTE, p, 0)
		}
	}); err != nil {
		return ph, err
	}
	return ph, check(l, 0)
}
