package bgp

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/routerd/routerd/internal/config"
)

// listen opens a BGP listening socket on a:port (an unspecified IPv6
// address also accepts IPv4).
func listen(a netip.Addr, port uint16) (net.Listener, error) {
	network := "tcp4"
	if a.Is6() {
		network = "tcp"
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), network, net.JoinHostPort(a.String(), strconv.Itoa(int(port))))
}

// ttlFor returns the TTL of outgoing packets and the minimum TTL of
// incoming ones (GTSM) for a neighbour.
func ttlFor(n config.Neighbor, ebgp bool) (ttl, minTTL int) {
	switch {
	case n.TTLSecurity > 0:
		return 255, 256 - int(n.TTLSecurity)
	case n.Multihop > 0:
		return int(n.Multihop), 0
	case ebgp:
		return 1, 0
	}
	return 255, 0
}

// setSockopts sets TTL, GTSM and TCP-MD5 on a socket for neighbour n.
func setSockopts(fd int, n config.Neighbor, ebgp bool) error {
	ttl, minTTL := ttlFor(n, ebgp)
	v6 := n.Address.Is6()
	if v6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl); err != nil {
			return fmt.Errorf("IPV6_UNICAST_HOPS: %w", err)
		}
		if minTTL > 0 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MINHOPCOUNT, minTTL); err != nil {
				return fmt.Errorf("IPV6_MINHOPCOUNT: %w", err)
			}
		}
	} else {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, ttl); err != nil {
			return fmt.Errorf("IP_TTL: %w", err)
		}
		if minTTL > 0 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MINTTL, minTTL); err != nil {
				return fmt.Errorf("IP_MINTTL: %w", err)
			}
		}
	}
	if n.Password != "" {
		if err := md5sig(fd, n.Address, n.Password, v6); err != nil {
			return err
		}
	}
	return nil
}

// md5sig installs the TCP-MD5 key for peer on socket fd (RFC 2385).
func md5sig(fd int, peer netip.Addr, key string, sockV6 bool) error {
	var sig unix.TCPMD5Sig
	sa := (*[unsafe.Sizeof(sig.Addr)]byte)(unsafe.Pointer(&sig.Addr))
	if peer.Is4() && !sockV6 {
		binary.LittleEndian.PutUint16(sa[0:], unix.AF_INET)
		b := peer.As4()
		copy(sa[4:8], b[:])
	} else {
		// An IPv6 socket sees IPv4 neighbours as mapped addresses.
		binary.LittleEndian.PutUint16(sa[0:], unix.AF_INET6)
		b := netip.AddrFrom16(peer.As16()).As16()
		copy(sa[8:24], b[:])
	}
	sig.Keylen = uint16(copy(sig.Key[:], key))
	if err := unix.SetsockoptTCPMD5Sig(fd, unix.IPPROTO_TCP, unix.TCP_MD5SIG, &sig); err != nil {
		return fmt.Errorf("TCP_MD5SIG: %w", err)
	}
	return nil
}

// setMD5 installs a neighbour's key on a listening socket.
func setMD5(l net.Listener, peer netip.Addr, key string) error {
	tl, ok := l.(*net.TCPListener)
	if !ok {
		return nil
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return err
	}
	v6 := tl.Addr().(*net.TCPAddr).AddrPort().Addr().Is6()
	var serr error
	err = rc.Control(func(fd uintptr) { serr = md5sig(int(fd), peer, key, v6) })
	if err != nil {
		return err
	}
	return serr
}

// dial opens the TCP connection to a neighbour from its local address.
func dial(ctx context.Context, n config.Neighbor, ebgp bool) (*net.TCPConn, error) {
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = setSockopts(int(fd), n, ebgp) })
		if err != nil {
			return err
		}
		return serr
	}}
	if n.LocalAddress.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: n.LocalAddress.AsSlice()}
	}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(n.Address.String(), strconv.Itoa(int(n.Port))))
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// prepareAccepted checks and configures an accepted connection: local
// address as configured, TTL and GTSM.
func prepareAccepted(c *net.TCPConn, n config.Neighbor, ebgp bool) error {
	la := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	if n.LocalAddress.IsValid() && la != n.LocalAddress {
		return fmt.Errorf("connection to %s, local-address is %s", la, n.LocalAddress)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	n.Password = "" // the listener holds the key
	var serr error
	err = rc.Control(func(fd uintptr) {
		// A mapped IPv4 connection on an IPv6 socket takes IPv4 options.
		if la.Is4() && c.LocalAddr().(*net.TCPAddr).IP.To4() != nil {
			n.Address = n.Address.Unmap()
		}
		serr = setSockopts(int(fd), n, ebgp)
	})
	if err != nil {
		return err
	}
	return serr
}
