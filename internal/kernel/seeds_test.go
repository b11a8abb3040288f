package kernel

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCaptureFuzzSeeds records real kernel messages in a namespace and
// writes them as the fuzz targets' seed corpora under testdata/fuzz/. It
// runs only when asked (the corpus is committed):
//
//	KERNEL_CAPTURE_SEEDS=1 go test -run TestCaptureFuzzSeeds ./internal/kernel/
func TestCaptureFuzzSeeds(t *testing.T) {
	if os.Getenv("KERNEL_CAPTURE_SEEDS") == "" {
		t.Skip("set KERNEL_CAPTURE_SEEDS=1 to capture the fuzz seed corpora again")
	}
	l := newLab(t)
	var ev, req, unc *conn
	groups := []uint32{unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR,
		unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE, unix.RTNLGRP_NEXTHOP}
	if err := l.ns.Do(func() (err error) {
		if ev, err = openConn(groups, defaultRcvBuf, false); err != nil {
			return err
		}
		if req, err = openConn(nil, defaultRcvBuf, false); err != nil {
			return err
		}
		if unc, err = openConn(nil, defaultRcvBuf, false); err != nil {
			return err
		}
		// Errors that echo the whole request, attributes after it.
		return unix.SetsockoptInt(unc.fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 0)
	}); err != nil {
		t.Fatal(err)
	}
	defer ev.close()
	defer req.close()
	defer unc.close()

	var notes [][]byte // notification datagrams
	collect := func() {
		for {
			b, err := ev.recv(false)
			if err != nil {
				t.Fatal(err)
			}
			if b == nil {
				return
			}
			notes = append(notes, append([]byte(nil), b...))
		}
	}
	for _, cmd := range []string{
		"nexthop add id 10 via 10.0.0.2 dev v0 proto 196",
		"nexthop add id 11 via 10.1.0.2 dev w0",
		"nexthop add id 12 group 10,3/11,200",
		"nexthop add id 13 blackhole",
		"-6 nexthop add id 14 via 2001:db8::2 dev v0",
		"nexthop add id 15 dev w0",
		"nexthop add id 16 group 10/11 type resilient buckets 8",
		"route add 192.0.2.0/24 via 10.0.0.2 proto static metric 7",
		"route add 198.51.100.0/24 nhid 12 proto bird table 100",
		"route add 203.0.113.0/24 proto 196 nexthop via 10.0.0.2 dev v0 weight 2 nexthop via 10.1.0.2 dev w0",
		"route add blackhole 198.18.0.0/15 proto static",
		"route add unreachable 198.19.0.0/16",
		"route add prohibit 198.19.1.0/24 table 1000",
		"route add 198.18.5.0/24 via inet6 2001:db8::2 dev v0",
		"-6 route add 2001:db8:45::/48 proto zebra nexthop via 2001:db8::2 dev v0 nexthop via 2001:db8::3 dev v0",
		"-6 route add default via 2001:db8::2 dev v0 metric 1024",
		"route add 100.64.0.0/10 nhid 14",
		"addr add 10.9.9.1 peer 10.9.9.2/32 dev w0",
		"-6 addr add 2001:db8:9::1/64 dev w0 nodad",
		"addr add 192.0.2.77/24 dev w0 label w0:x",
		"link add x0 type veth peer name x1",
		"link set x0 mtu 9000 up",
		"link set v0 down",
		"link set v0 up",
		"route del 192.0.2.0/24",
		"-6 addr del 2001:db8:9::1/64 dev w0",
		"nexthop del id 12",
		"link del x0",
	} {
		l.ip(t, strings.Fields(cmd)...)
		collect()
	}

	// Multipart dumps, datagram by datagram, with the request's seq.
	type dumpSeed struct {
		b   []byte
		seq uint32
	}
	var dumps []dumpSeed
	var payloads = map[uint16][][]byte{}
	for _, d := range []struct {
		typ uint16
		req []byte
	}{
		{unix.RTM_GETLINK, make([]byte, ifinfomsgLen)},
		{unix.RTM_GETADDR, make([]byte, ifaddrmsgLen)},
		{unix.RTM_GETNEXTHOP, nexthopDumpRequest()},
		{unix.RTM_GETROUTE, routeDumpRequest(unix.AF_UNSPEC, 0)},
	} {
		var mb msgBuf
		seq := req.nextSeq()
		start := mb.begin(d.typ, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq)
		mb.b = append(mb.b, d.req...)
		mb.end(start)
		if err := req.send(mb.b); err != nil {
			t.Fatal(err)
		}
		for done := false; !done; {
			b, err := req.recv(true)
			if err != nil {
				t.Fatal(err)
			}
			b = append([]byte(nil), b...)
			dumps = append(dumps, dumpSeed{b, seq})
			done, _, err = dumpReply(b, seq, func(m message) error {
				payloads[m.Type] = append(payloads[m.Type], m.Data)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}

	// Errors and ACKs: capped with the kernel's text, the whole request
	// echoed, and a plain ACK.
	type errSeed struct {
		b     []byte
		flags uint16
	}
	var errs []errSeed
	var errDgrams [][]byte
	ask := func(c *conn, typ, flags uint16, body func(mb *msgBuf)) {
		var mb msgBuf
		seq := c.nextSeq()
		start := mb.begin(typ, unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags, seq)
		body(&mb)
		mb.end(start)
		if err := c.send(mb.b); err != nil {
			t.Fatal(err)
		}
		b, err := c.recv(true)
		if err != nil {
			t.Fatal(err)
		}
		b = append([]byte(nil), b...)
		errDgrams = append(errDgrams, b)
		_ = parseMessages(b, func(m message) error {
			if m.Type == unix.NLMSG_ERROR {
				errs = append(errs, errSeed{m.Data, m.Flags})
			}
			return nil
		})
	}
	badRoute := func(mb *msgBuf) {
		mb.b = append(mb.b, unix.AF_INET, 24, 0, 0, unix.RT_TABLE_MAIN, 196, 0, unix.RTN_UNICAST, 0, 0, 0, 0)
		mb.attr(unix.RTA_DST, []byte{172, 16, 0, 0})
		mb.attr(unix.RTA_GATEWAY, []byte{192, 168, 77, 1})
		mb.attrU32(unix.RTA_OIF, uint32(l.v0))
	}
	for _, c := range []*conn{req, unc} {
		ask(c, unix.RTM_NEWROUTE, unix.NLM_F_CREATE, badRoute)
		ask(c, unix.RTM_NEWNEXTHOP, unix.NLM_F_REPLACE, func(mb *msgBuf) {
			mb.b = append(mb.b, unix.AF_INET, 0, 196, 0, 0, 0, 0, 0)
			mb.attrU32(unix.NHA_ID, 999)
			mb.attrU32(unix.NHA_OIF, uint32(l.v0))
			mb.attr(unix.NHA_GATEWAY, []byte{10, 0, 0, 2})
		})
		ask(c, unix.RTM_DELNEXTHOP, 0, func(mb *msgBuf) {
			mb.b = append(mb.b, unix.AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0)
			mb.attrU32(unix.NHA_ID, 4242)
		})
	}
	ask(req, unix.RTM_NEWROUTE, unix.NLM_F_CREATE, func(mb *msgBuf) {
		mb.b = append(mb.b, unix.AF_INET, 24, 0, 0, unix.RT_TABLE_MAIN, 196, 0, unix.RTN_BLACKHOLE, 0, 0, 0, 0)
		mb.attr(unix.RTA_DST, []byte{172, 17, 0, 0})
	})

	// Sort notification payloads by type too.
	for _, n := range notes {
		_ = parseMessages(n, func(m message) error {
			payloads[m.Type] = append(payloads[m.Type], m.Data)
			return nil
		})
	}
	route := append(payloads[unix.RTM_NEWROUTE], payloads[unix.RTM_DELROUTE]...)
	link := append(payloads[unix.RTM_NEWLINK], payloads[unix.RTM_DELLINK]...)
	address := append(payloads[unix.RTM_NEWADDR], payloads[unix.RTM_DELADDR]...)
	nexthop := append(payloads[unix.RTM_NEWNEXTHOP], payloads[unix.RTM_DELNEXTHOP]...)

	dir := filepath.Join("testdata", "fuzz")
	write := func(target string, vals ...any) {
		var sb strings.Builder
		sb.WriteString("go test fuzz v1\n")
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				fmt.Fprintf(&sb, "[]byte(%s)\n", strconv.Quote(string(v)))
			case uint32:
				fmt.Fprintf(&sb, "uint32(%d)\n", v)
			case uint16:
				fmt.Fprintf(&sb, "uint16(%d)\n", v)
			}
		}
		sum := sha256.Sum256([]byte(sb.String()))
		d := filepath.Join(dir, target)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("%x", sum[:8])), []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range notes {
		write("FuzzParseMessages", n)
		write("FuzzProgrammerEvents", n)
	}
	for i := range notes {
		// Pairs in order, so that the second may refer to the first.
		if i+1 < len(notes) {
			write("FuzzMonitorHandle", notes[i], notes[i+1])
		}
	}
	for _, d := range dumps {
		write("FuzzParseMessages", d.b)
		write("FuzzDumpReply", d.b, d.seq)
	}
	for _, b := range errDgrams {
		write("FuzzParseMessages", b)
	}
	for _, e := range errs {
		write("FuzzParseError", e.b, e.flags)
	}
	for _, b := range route {
		write("FuzzParseRoute", b)
	}
	for _, b := range link {
		write("FuzzParseLink", b)
	}
	for _, b := range address {
		write("FuzzParseAddr", b)
	}
	for _, b := range nexthop {
		write("FuzzParseNexthop", b)
	}
	t.Logf("%d notifications, %d dump datagrams, %d errors; payloads: %d routes, %d links, %d addresses, %d objects",
		len(notes), len(dumps), len(errs), len(route), len(link), len(address), len(nexthop))
}
