package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Netlink constants x/sys/unix does not name.
const (
	rtaNHID       = 30 // RTA_NH_ID
	rtaVia        = 18 // RTA_VIA
	nlmsgHdrLen   = unix.SizeofNlMsghdr
	rtmsgLen      = unix.SizeofRtMsg
	nhmsgLen      = 8
	ifinfomsgLen  = unix.SizeofIfInfomsg
	ifaddrmsgLen  = unix.SizeofIfAddrmsg
	rtnexthopLen  = unix.SizeofRtNexthop
	nlmsgerrLen   = 4 + nlmsgHdrLen
	defaultRcvBuf = 32 << 20
)

var ne = binary.NativeEndian

// conn is one NETLINK_ROUTE socket. It is opened in the network namespace of
// the calling thread and stays there. A conn is used by one goroutine at a
// time.
type conn struct {
	fd   int
	file *os.File        // set for sockets read through the runtime poller
	raw  syscall.RawConn // ditto
	seq  uint32
	pid  uint32
	rbuf []byte
	sa   unix.SockaddrNetlink // the kernel; per conn: Sendto writes into it
}

// openConn opens a socket subscribed to groups (RTNLGRP_* numbers). rcvbuf
// is forced with SO_RCVBUFFORCE (falling back to SO_RCVBUF) when non-zero.
// poll makes the socket non-blocking and readable through the Go runtime
// poller, so a reader can be woken by Close.
func openConn(groups []uint32, rcvbuf int, poll bool) (*conn, error) {
	flags := unix.SOCK_RAW | unix.SOCK_CLOEXEC
	if poll {
		flags |= unix.SOCK_NONBLOCK
	}
	fd, err := unix.Socket(unix.AF_NETLINK, flags, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	c := &conn{fd: fd, rbuf: make([]byte, 1<<20), sa: unix.SockaddrNetlink{Family: unix.AF_NETLINK}}
	fail := func(what string, err error) (*conn, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink %s: %w", what, err)
	}
	for _, o := range []int{unix.NETLINK_CAP_ACK, unix.NETLINK_EXT_ACK} {
		if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, o, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	// Strict checking lets the kernel filter dumps (by protocol, for one).
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1)
	if rcvbuf > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf); err != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
		}
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fail("bind", err)
	}
	for _, g := range groups {
		if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, int(g)); err != nil {
			return fail(fmt.Sprintf("join group %d", g), err)
		}
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	c.pid = sa.(*unix.SockaddrNetlink).Pid
	c.seq = uint32(time.Now().UnixNano())
	if poll {
		c.file = os.NewFile(uintptr(fd), "netlink")
		c.raw, err = c.file.SyscallConn()
		if err != nil {
			c.file.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *conn) close() error {
	if c.file != nil {
		return c.file.Close()
	}
	return unix.Close(c.fd)
}

func (c *conn) nextSeq() uint32 {
	c.seq++
	if c.seq == 0 {
		c.seq++
	}
	return c.seq
}

func (c *conn) send(b []byte) error {
	for {
		var err error
		if c.raw != nil {
			werr := c.raw.Write(func(fd uintptr) bool {
				err = unix.Sendto(int(fd), b, 0, &c.sa)
				return err != unix.EAGAIN
			})
			if werr != nil {
				return werr
			}
		} else {
			err = unix.Sendto(c.fd, b, 0, &c.sa)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("netlink send: %w", err)
		}
		return nil
	}
}

// recv reads one datagram. With wait false it returns (nil, nil) when
// nothing is queued. ENOBUFS is returned as is (the caller resynchronises).
func (c *conn) recv(wait bool) ([]byte, error) {
	for {
		var n int
		var err error
		if c.raw != nil {
			rerr := c.raw.Read(func(fd uintptr) bool {
				n, _, err = unix.Recvfrom(int(fd), c.rbuf, 0)
				return err != unix.EAGAIN || !wait
			})
			if rerr != nil {
				return nil, rerr
			}
		} else {
			flags := 0
			if !wait {
				flags = unix.MSG_DONTWAIT
			}
			n, _, err = unix.Recvfrom(c.fd, c.rbuf, flags)
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN && !wait:
			return nil, nil
		case err != nil:
			return nil, err
		}
		return c.rbuf[:n], nil
	}
}

// discard empties the receive queue (after an overrun: what is queued is
// stale, and the kernel reports the next overrun only once it is empty).
func (c *conn) discard() {
	for {
		b, err := c.recv(false)
		if b == nil && (err == nil || !errors.Is(err, unix.ENOBUFS)) {
			return
		}
	}
}

// message is one netlink message inside a datagram.
type message struct {
	Type  uint16
	Flags uint16
	Seq   uint32
	Data  []byte // after the header
}

var errMalformed = errors.New("netlink: malformed message length")

// parseMessages calls fn for each message in a datagram. A message whose
// length does not fit the datagram ends the walk with an error; trailing
// bytes shorter than a header are ignored (the last message's padding).
func parseMessages(b []byte, fn func(m message) error) error {
	for len(b) >= nlmsgHdrLen {
		l := ne.Uint32(b[0:4])
		if l < nlmsgHdrLen || uint64(l) > uint64(len(b)) {
			return errMalformed
		}
		m := message{Type: ne.Uint16(b[4:6]), Flags: ne.Uint16(b[6:8]), Seq: ne.Uint32(b[8:12]), Data: b[nlmsgHdrLen:l]}
		if err := fn(m); err != nil {
			return err
		}
		// The last message may omit its padding.
		b = b[min(align(int(l)), len(b)):]
	}
	return nil
}

// OpError is an error the kernel returned for one netlink request, with the
// extended-ack message when the kernel gave one.
type OpError struct {
	Errno   unix.Errno
	Message string // the kernel's extended ack text, may be empty
}

func (e *OpError) Error() string {
	if e.Message != "" {
		return e.Errno.Error() + ": " + e.Message
	}
	return e.Errno.Error()
}

// Unwrap lets errors.Is match the errno.
func (e *OpError) Unwrap() error { return e.Errno }

// parseError decodes an NLMSG_ERROR payload: errno (0 for an ACK), the
// original request's sequence number, and the error.
func parseError(m message) (seq uint32, err error) {
	if len(m.Data) < nlmsgerrLen {
		return m.Seq, errors.New("netlink: short error message")
	}
	code := int32(ne.Uint32(m.Data[0:4]))
	seq = ne.Uint32(m.Data[4+8 : 4+12])
	if code == 0 {
		return seq, nil
	}
	oe := &OpError{Errno: unix.Errno(-code)}
	if m.Flags&unix.NLM_F_ACK_TLVS != 0 {
		off := nlmsgerrLen
		if m.Flags&unix.NLM_F_CAPPED == 0 {
			// The whole request is echoed after the error code, padded
			// to 4 bytes, before the attributes.
			l := ne.Uint32(m.Data[4:8])
			off = -1
			if l >= nlmsgHdrLen && uint64(l) <= uint64(len(m.Data)) {
				off = 4 + align(int(l))
			}
		}
		if off >= 0 && off <= len(m.Data) {
			forAttrs(m.Data[off:], func(typ uint16, v []byte) {
				if typ == unix.NLMSGERR_ATTR_MSG {
					oe.Message = cString(v)
				}
			})
		}
	}
	return seq, oe
}

var errDumpInterrupted = errors.New("netlink: dump interrupted")

// dump sends a dump request (req is the family header plus attributes) and
// calls fn for every reply message until NLMSG_DONE. It retries when the
// kernel marks the dump inconsistent.
func (c *conn) dump(typ uint16, req []byte, fn func(m message) error) error {
	for try := 0; ; try++ {
		err := c.dumpOnce(typ, req, fn)
		if errors.Is(err, errDumpInterrupted) && try < 10 {
			// The table changed under the dump: give the change a moment.
			time.Sleep(time.Duration(try) * time.Millisecond)
			continue
		}
		return err
	}
}

func (c *conn) dumpOnce(typ uint16, req []byte, fn func(m message) error) error {
	var mb msgBuf
	seq := c.nextSeq()
	start := mb.begin(typ, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq)
	mb.b = append(mb.b, req...)
	mb.end(start)
	if err := c.send(mb.b); err != nil {
		return err
	}
	intr := false
	for {
		b, err := c.recv(true)
		if err != nil {
			return fmt.Errorf("netlink dump: %w", err)
		}
		done, in, err := dumpReply(b, seq, fn)
		intr = intr || in
		if err != nil {
			return err
		}
		if done {
			if intr {
				return errDumpInterrupted
			}
			return nil
		}
	}
}

// dumpReply handles one datagram of a multipart dump answer to seq: fn gets
// every message of the dump; done reports NLMSG_DONE (or an error ending the
// dump), intr that the kernel marked the dump inconsistent. Messages of
// other sequence numbers are skipped.
func dumpReply(b []byte, seq uint32, fn func(m message) error) (done, intr bool, err error) {
	err = parseMessages(b, func(m message) error {
		if m.Seq != seq || done {
			return nil
		}
		if m.Flags&unix.NLM_F_DUMP_INTR != 0 {
			intr = true
		}
		switch m.Type {
		case unix.NLMSG_DONE:
			done = true
			return nil
		case unix.NLMSG_ERROR:
			_, e := parseError(m)
			done = true
			return e
		case unix.NLMSG_NOOP, unix.NLMSG_OVERRUN:
			return nil
		}
		return fn(m)
	})
	return done, intr, err
}

// request sends one message with NLM_F_ACK and waits for its answer.
func (c *conn) request(typ, flags uint16, body []byte) error {
	var mb msgBuf
	seq := c.nextSeq()
	start := mb.begin(typ, unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags, seq)
	mb.b = append(mb.b, body...)
	mb.end(start)
	if err := c.send(mb.b); err != nil {
		return err
	}
	for {
		b, err := c.recv(true)
		if err != nil {
			return err
		}
		var res error
		found := false
		_ = parseMessages(b, func(m message) error {
			if m.Type == unix.NLMSG_ERROR {
				if s, e := parseError(m); s == seq {
					found, res = true, e
				}
			}
			return nil
		})
		if found {
			return res
		}
	}
}

func align(n int) int { return (n + 3) &^ 3 }

// msgBuf builds netlink messages back to back in one buffer.
type msgBuf struct{ b []byte }

func (m *msgBuf) begin(typ, flags uint16, seq uint32) int {
	start := len(m.b)
	m.b = append(m.b, make([]byte, nlmsgHdrLen)...)
	h := m.b[start:]
	ne.PutUint16(h[4:6], typ)
	ne.PutUint16(h[6:8], flags)
	ne.PutUint32(h[8:12], seq)
	return start
}

func (m *msgBuf) end(start int) {
	ne.PutUint32(m.b[start:start+4], uint32(len(m.b)-start))
}

func (m *msgBuf) attr(typ uint16, v []byte) {
	l := 4 + len(v)
	m.b = ne.AppendUint16(m.b, uint16(l))
	m.b = ne.AppendUint16(m.b, typ)
	m.b = append(m.b, v...)
	for i := l; i < align(l); i++ {
		m.b = append(m.b, 0)
	}
}

func (m *msgBuf) attrU32(typ uint16, v uint32) {
	m.b = ne.AppendUint16(m.b, 8)
	m.b = ne.AppendUint16(m.b, typ)
	m.b = ne.AppendUint32(m.b, v)
}

func (m *msgBuf) nestStart(typ uint16) int {
	off := len(m.b)
	m.b = ne.AppendUint16(m.b, 0)
	m.b = ne.AppendUint16(m.b, typ)
	return off
}

func (m *msgBuf) nestEnd(off int) {
	ne.PutUint16(m.b[off:off+2], uint16(len(m.b)-off))
}

// forAttrs calls fn for each attribute in b.
func forAttrs(b []byte, fn func(typ uint16, v []byte)) {
	for len(b) >= 4 {
		l := int(ne.Uint16(b[0:2]))
		if l < 4 || l > len(b) {
			return
		}
		fn(ne.Uint16(b[2:4])&^unix.NLA_F_NESTED, b[4:l])
		if align(l) >= len(b) {
			return
		}
		b = b[align(l):]
	}
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// dropOwnRoutes attaches a socket filter that drops route notifications
// (RTM_NEWROUTE, RTM_DELROUTE) of protocol proto in the kernel. The
// monitor ignores routerd's own routes, and while the programmer installs
// a full table they are a million notifications: as many wakeups, reads
// and parses on a machine whose CPUs the kernel needs for the install,
// and a queue that can overrun into a full dump of that table. Route
// notifications carry one message per datagram, so the filter looks at
// the first: nlmsg_type at offset 4, rtm_protocol at 16+5.
func (c *conn) dropOwnRoutes(proto uint8) error {
	// Classic BPF loads halfwords big-endian; nlmsg_type is in host order.
	be := func(t uint16) uint32 { return uint32(binary.BigEndian.Uint16(ne.AppendUint16(nil, t))) }
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 4},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: be(unix.RTM_NEWROUTE), Jt: 1, Jf: 0},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: be(unix.RTM_DELROUTE), Jt: 0, Jf: 3},
		{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: nlmsgHdrLen + 5},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: uint32(proto), Jt: 0, Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff},
	}
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(c.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		return fmt.Errorf("netlink socket filter: %w", err)
	}
	return nil
}
