package bgp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/config"
)

// State is a session's state in the RFC 4271 §8 finite state machine.
type State uint32

// FSM states.
const (
	StateIdle State = iota
	StateConnect
	StateActive
	StateOpenSent
	StateOpenConfirm
	StateEstablished
)

var stateNames = [...]string{"idle", "connect", "active", "opensent", "openconfirm", "established"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint32(s))
}

// openSentHold is the hold time while waiting for the peer's OPEN (RFC
// 4271 §8.2.2 suggests 4 minutes).
const openSentHold = 4 * time.Minute

// idleHold is the wait after a session ends before connecting again.
const idleHold = 2 * time.Second

// Peer is one configured neighbour and its session's finite state machine.
// One goroutine (run) owns the state; each connection has one goroutine
// that performs the OPEN exchange and then reads; an established session
// has one writer goroutine.
type Peer struct {
	s    *Speaker
	cfg  config.Neighbor // guarded by s.mu
	slot uint16

	state   atomic.Uint32
	ifindex atomic.Int32
	events  chan event
	done    chan struct{} // closed when run returns
	quit    chan struct{} // closed to ask run to end
	stopN   *wire.Notification
	once    sync.Once
	wg      sync.WaitGroup // connection goroutines

	// Guarded by s.mu.
	sess     *session
	imp, exp *policy
	expPol   *config.Policy // the section exp was compiled from
	enabled  bool
	stats    peerStats
	// stale holds the families with stale paths (graceful restart or
	// route refresh); the timer sweeps them, staleGen invalidates a
	// timer that fired while being stopped.
	stale      wire.Families
	staleTimer *time.Timer
	staleGen   uint64
	// adjIn is the pre-policy Adj-RIB-In (soft-reconfiguration inbound
	// only); rejected holds, without it, the prefixes the neighbour sent
	// that import policy or loop detection rejected (value: stale), so
	// that the count of received prefixes is exact.
	adjIn    map[wire.Prefix]adjEntry
	rejected map[wire.Prefix]bool
}

type peerStats struct {
	lastError   string
	lastDown    time.Time
	upSince     time.Time
	flaps       int
	lastNotifIn string
}

type event interface{}

type evIncoming struct{ c *net.TCPConn }
type evDialed struct {
	c   *net.TCPConn
	err error
}
type evOpened struct{ hs *handshake }
type evEstablished struct {
	ss *session
	ok chan bool
}
type evDown struct {
	ss  *session
	err error
}
type evReset struct{ hard bool }
type evEnable struct{ on bool }

func newPeer(s *Speaker, n config.Neighbor) *Peer {
	p := &Peer{s: s, cfg: n, events: make(chan event, 16), done: make(chan struct{}), quit: make(chan struct{}), enabled: n.Enabled}
	if n.SoftReconfigInbound {
		p.adjIn = map[wire.Prefix]adjEntry{}
	} else {
		p.rejected = map[wire.Prefix]bool{}
	}
	return p
}

// ebgp reports whether the neighbour is in another AS (or another member
// AS of our confederation): its TTL defaults are eBGP's.
func (p *Peer) ebgp() bool { return p.cfg.AS != p.s.cfg.AS }

// kind returns the session type: eBGP (outside the AS or confederation),
// confederation eBGP, or iBGP.
func (p *Peer) kind() config.SessionType { return p.s.cfg.SessionType(p.cfg.AS) }

// setPolicies compiles the neighbour's import and export policies, RFC
// 8212 style: an eBGP neighbour without a policy gets none (nothing
// passes); an iBGP neighbour without one accepts everything. Called with
// s.mu held.
func (p *Peer) setPolicies(s *Speaker) {
	get := func(name string) *policy {
		if name == "" && p.kind() != config.EBGP {
			return &policy{name: "accept", all: true}
		}
		return compilePolicy(name, s.pol)
	}
	p.imp, p.exp = get(p.cfg.Import), get(p.cfg.Export)
	p.expPol = s.pol
	if ss := p.sess; ss != nil {
		ss.newEvaluators()
	}
}

// requestSoftReset re-announces everything to the neighbour and applies
// import policy again to its routes: from the pre-policy Adj-RIB-In with
// soft-reconfiguration inbound, else by asking the neighbour
// (ROUTE-REFRESH) to send them again. Called with s.mu held.
func (p *Peer) requestSoftReset(s *Speaker) {
	if ss := p.sess; ss != nil && ss.established {
		ss.resync()
		p.softIn()
	}
}

// softIn applies import policy again to the neighbour's routes. Called
// with s.mu held and an established session.
func (p *Peer) softIn() {
	if p.adjIn != nil {
		p.reimport()
		return
	}
	if ss := p.sess; ss != nil && ss.caps.RouteRefresh {
		ss.mark(entRefresh, ss.opts.Families)
	}
}

func (p *Peer) log(msg string, args ...any) {
	p.s.log.Info("bgp: "+msg, append([]any{"neighbor", p.cfg.Address}, args...)...)
}

func (p *Peer) setState(st State) { p.state.Store(uint32(st)) }

// State returns the session's current state.
func (p *Peer) State() State { return State(p.state.Load()) }

func (p *Peer) post(e event) bool {
	select {
	case p.events <- e:
		return true
	case <-p.done:
		return false
	}
}

func (p *Peer) incoming(c *net.TCPConn) {
	if !p.post(evIncoming{c}) {
		c.Close()
	}
}

func (p *Peer) kick() {
	if ss := p.sess; ss != nil {
		ss.kick()
	}
}

// stop ends the neighbour: n, if not nil, is sent to an established
// session.
func (p *Peer) stop(n *wire.Notification) {
	p.once.Do(func() {
		p.stopN = n
		close(p.quit)
	})
	<-p.done
}

// run is the neighbour's state machine.
func (p *Peer) run() {
	defer close(p.done)
	var (
		established *session
		opened      []*handshake
		conns       = map[*net.TCPConn]bool{} // connections with a goroutine
		dialing     bool
		retry       = time.NewTimer(time.Duration(rand.Int64N(int64(300 * time.Millisecond))))
		// held: the last session went over max-prefixes; no session until
		// the restart time passes (retry fires) or the operator resets or
		// enables the neighbour.
		held bool
	)
	dialParent, dialStop := context.WithCancel(context.Background())
	defer dialStop()
	s := p.s
	s.mu.Lock()
	cfg := p.cfg
	enabled := p.enabled
	ebgp := p.ebgp()
	s.mu.Unlock()
	if !enabled {
		retry.Stop()
	}
	p.setState(StateActive)
	if !cfg.Passive {
		p.setState(StateConnect)
	}
	closeAll := func(n *wire.Notification) {
		if established != nil {
			established.close(n)
		}
		for c := range conns {
			if n != nil && (established == nil || c != established.conn) {
				writeNotification(c, *n)
			}
			c.Close()
		}
	}
	sessionDown := func(ss *session, err error, stopping bool) {
		s.mu.Lock()
		ss.established = false
		s.leaveGroup(ss)
		if p.sess == ss {
			p.sess = nil
		}
		p.stats.lastError = errString(err)
		p.stats.lastDown = time.Now()
		p.stats.flaps++
		var keep wire.Families
		var restart time.Duration
		if !stopping {
			keep, restart = p.gracefulFamilies(ss)
		}
		p.sessionLost(keep, restart)
		s.slots[p.slot].routerID = 0
		s.mu.Unlock()
		p.log("session down", "err", errString(err))
	}
	startConn := func(c *net.TCPConn, outbound bool) {
		conns[c] = true
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.connection(c, outbound, cfg)
		}()
	}
	for {
		select {
		case <-p.quit:
			closeAll(p.stopN)
			if established != nil {
				sessionDown(established, errors.New("neighbor stopped"), true)
			}
			p.wg.Wait()
			s.mu.Lock()
			p.stopStaleTimer()
			p.stale = 0
			s.releaseSlot(p.slot)
			s.mu.Unlock()
			p.setState(StateIdle)
			return
		case <-retry.C:
			if held {
				held = false
				p.log("max-prefixes restart time passed: sessions allowed again")
				if !cfg.Passive {
					p.setState(StateConnect)
				} else {
					p.setState(StateActive)
				}
			}
			if established != nil || dialing || cfg.Passive || !enabled {
				break
			}
			dialing = true
			ctx, cancel := context.WithTimeout(dialParent, min(cfg.ConnectRetry, 30*time.Second))
			go func() {
				defer cancel()
				var c *net.TCPConn
				err := s.inNS(func() (err error) {
					c, err = dial(ctx, cfg, ebgp)
					return err
				})
				if !p.post(evDialed{c, err}) && c != nil {
					c.Close()
				}
			}()
			retry.Reset(jitter(cfg.ConnectRetry))
		case ev := <-p.events:
			switch e := ev.(type) {
			case evDialed:
				dialing = false
				if e.err != nil {
					p.s.log.Debug("bgp: connect failed", "neighbor", cfg.Address, "err", e.err)
					s.mu.Lock()
					p.stats.lastError = e.err.Error()
					s.mu.Unlock()
					break
				}
				if established != nil || !enabled || held {
					e.c.Close()
					break
				}
				p.setState(StateOpenSent)
				startConn(e.c, true)
			case evIncoming:
				if established != nil && enabled && established.restartable() {
					// RFC 4724 §4.2: a new connection from a neighbour able
					// to restart gracefully means it restarted; the old
					// session ends, its routes stay stale.
					p.log("new connection while established: the neighbor restarted")
					established.close(nil)
					sessionDown(established, errors.New("neighbor restarted (new connection)"), false)
					established = nil
				}
				if established != nil {
					// RFC 4271 §6.8: a connection colliding with an established
					// session is closed.
					writeNotification(e.c, wire.Notification{Code: wire.CodeCease, Subcode: wire.SubCollisionResolution})
					e.c.Close()
					break
				}
				if !enabled || held {
					writeNotification(e.c, wire.Notification{Code: wire.CodeCease, Subcode: wire.SubConnectionRejected})
					e.c.Close()
					break
				}
				if err := prepareAccepted(e.c, cfg, ebgp); err != nil {
					p.log("incoming connection refused", "err", err)
					e.c.Close()
					break
				}
				p.setState(StateOpenSent)
				startConn(e.c, false)
			case evOpened:
				hs := e.hs
				if established != nil {
					hs.verdict <- false
					break
				}
				ok := true
				for _, other := range opened {
					// Collision (RFC 4271 §6.8): the connection initiated by
					// the speaker with the higher BGP identifier survives.
					keepOutbound := addr4(s.id) > addr4(hs.open.ID)
					loser := other
					if hs.outbound != keepOutbound {
						loser = hs
					}
					if loser == hs {
						ok = false
					} else {
						p.log("connection collision: closing the older connection", "outbound", other.outbound)
						other.abort()
					}
				}
				hs.verdict <- ok
				if ok {
					opened = append(opened[:0], hs)
					p.setState(StateOpenConfirm)
				}
			case evEstablished:
				if established != nil || !enabled || held {
					e.ok <- false
					break
				}
				established = e.ss
				opened = opened[:0]
				s.mu.Lock()
				p.sess = e.ss
				p.stats.upSince = time.Now()
				p.stats.lastError = ""
				s.slots[p.slot].routerID = addr4(e.ss.remoteID)
				e.ss.newEvaluators()
				e.ss.established = true
				// During routerd's own restart the session's table and
				// End-of-RIB wait for the deferral's end (restart.go).
				held := p.holdSession(e.ss)
				if !held {
					s.joinGroup(e.ss)
				}
				p.sessionBack(e.ss)
				if held {
					s.checkDeferral()
				} else {
					e.ss.resync()
				}
				s.mu.Unlock()
				p.setState(StateEstablished)
				p.log("session established", "remote_as", e.ss.remoteAS, "remote_id", e.ss.remoteID,
					"hold", e.ss.hold, "families", familiesString(e.ss.opts.Families), "as4", e.ss.opts.AS4)
				e.ok <- true
				p.wg.Add(1)
				go func() {
					defer p.wg.Done()
					e.ss.writer()
				}()
			case evDown:
				delete(conns, e.ss.conn)
				for i, h := range opened {
					if h.conn == e.ss.conn {
						opened = append(opened[:i], opened[i+1:]...)
						break
					}
				}
				if e.ss == established || (established != nil && e.ss.conn == established.conn) {
					established.close(nil)
					sessionDown(established, e.err, false)
					established = nil
					switch {
					case errors.Is(e.err, errMaxPrefixes):
						held = true
						s.mu.Lock()
						restart := p.cfg.MaxPrefixes.Restart // a reload may have changed it
						s.mu.Unlock()
						if restart > 0 {
							retry.Reset(restart)
						} else {
							retry.Stop()
						}
					case enabled:
						retry.Reset(idleHold)
					}
				} else if e.err != nil {
					p.s.log.Debug("bgp: connection ended", "neighbor", cfg.Address, "err", e.err)
					s.mu.Lock()
					p.stats.lastError = e.err.Error()
					s.mu.Unlock()
				}
				if established == nil && len(conns) == 0 {
					if cfg.Passive {
						p.setState(StateActive)
					} else {
						p.setState(StateConnect)
					}
					if !enabled || held {
						p.setState(StateIdle)
					}
				}
			case evReset:
				n := wire.NewShutdown(wire.SubAdminReset, "reset by the operator")
				closeAll(&n)
				held = false
				retry.Reset(idleHold)
			case evEnable:
				enabled = e.on
				s.mu.Lock()
				p.enabled = e.on
				s.checkDeferral()
				s.mu.Unlock()
				if !enabled {
					n := wire.NewShutdown(wire.SubAdminShutdown, "neighbor disabled by the operator")
					closeAll(&n)
					p.setState(StateIdle)
				} else {
					held = false
					retry.Reset(0)
				}
			}
		}
	}
}

func jitter(d time.Duration) time.Duration {
	// RFC 4271 §10: jitter timers by 75% to 100%.
	return d*3/4 + time.Duration(rand.Int64N(int64(d/4)+1))
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func familiesString(f wire.Families) string {
	var s []string
	for _, fam := range familyList(f) {
		s = append(s, fam.String())
	}
	return strings.Join(s, ",")
}

// familyList lists the members of f in the speaker's order of families.
func familyList(f wire.Families) []wire.Family {
	var out []wire.Family
	for _, fam := range families {
		if f.Has(fam) {
			out = append(out, fam)
		}
	}
	return out
}

// handshake is a connection between the OPEN exchange and establishment.
type handshake struct {
	conn     *net.TCPConn
	outbound bool
	open     *wire.Open
	verdict  chan bool
	wmu      sync.Mutex
	aborted  atomic.Bool
}

// abort closes a connection that lost a collision.
func (h *handshake) abort() {
	h.aborted.Store(true)
	h.wmu.Lock()
	writeNotification(h.conn, wire.Notification{Code: wire.CodeCease, Subcode: wire.SubCollisionResolution})
	h.wmu.Unlock()
	h.conn.Close()
}

func writeNotification(c net.Conn, n wire.Notification) {
	_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, _ = c.Write(n.AppendMessage(nil, wire.MaxMessageLen))
}

// localCaps is what the speaker advertises to a neighbour.
func (p *Peer) localCaps(cfg config.Neighbor) wire.Capabilities {
	c := wire.Capabilities{RouteRefresh: true, EnhancedRouteRefresh: true, HasAS4: true, AS4: p.s.cfg.LocalAS(cfg.AS)}
	if cfg.GracefulRestart {
		// Without graceful-restart-preserve a receiving speaker only
		// (RFC 4724 §3): no families; restartCaps lists them otherwise.
		// The N bit (RFC 8538): a NOTIFICATION other than a Hard Reset
		// keeps the neighbour's routes too, if it also sets the bit.
		c.GracefulRestart = &wire.GracefulRestart{RestartTime: uint16(p.s.cfg.RestartTime / time.Second), Notification: true}
	}
	for _, f := range cfg.Families {
		switch f {
		case "ipv4-unicast":
			c.Multiprotocol = append(c.Multiprotocol, wire.IPv4Unicast)
		case "ipv6-unicast":
			c.Multiprotocol = append(c.Multiprotocol, wire.IPv6Unicast)
		}
	}
	if c.GracefulRestart != nil {
		p.restartCaps(&c)
	}
	return c
}

// connection runs one TCP connection: the OPEN exchange (OpenSent,
// OpenConfirm), then, once established, the session's reader.
func (p *Peer) connection(c *net.TCPConn, outbound bool, cfg config.Neighbor) {
	ss, err := p.openExchange(c, outbound, cfg)
	if err != nil {
		c.Close()
		p.post(evDown{&session{conn: c}, err})
		return
	}
	ok := make(chan bool, 1)
	if !p.post(evEstablished{ss, ok}) || !<-ok {
		writeNotification(c, wire.Notification{Code: wire.CodeCease, Subcode: wire.SubCollisionResolution})
		c.Close()
		p.post(evDown{&session{conn: c}, errors.New("collision with an established session")})
		return
	}
	err = ss.reader()
	p.post(evDown{ss, err})
}

// openExchange sends OPEN, reads and checks the peer's, takes part in
// collision detection and exchanges KEEPALIVEs.
func (p *Peer) openExchange(c *net.TCPConn, outbound bool, cfg config.Neighbor) (*session, error) {
	s := p.s
	hold := cfg.HoldTime
	caps := p.localCaps(cfg)
	o := wire.NewOpen(s.cfg.LocalAS(cfg.AS), uint16(hold/time.Second), s.id)
	o.Caps = caps
	msg, err := o.AppendMessage(nil)
	if err != nil {
		return nil, err
	}
	hs := &handshake{conn: c, outbound: outbound, verdict: make(chan bool, 1)}
	_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return nil, fmt.Errorf("send OPEN: %w", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(openSentHold))
	buf := make([]byte, wire.MaxMessageLen)
	h, body, err := wire.ReadMessage(c, buf, wire.MaxMessageLen)
	if err != nil {
		return nil, p.readFailed(c, err, "waiting for OPEN")
	}
	switch h.Type {
	case wire.TypeOpen:
	case wire.TypeNotification:
		n, _ := wire.DecodeNotification(body)
		p.noteNotification(n)
		return nil, fmt.Errorf("NOTIFICATION received: %s", n)
	default:
		writeNotification(c, wire.Notification{Code: wire.CodeFSM, Subcode: 1})
		return nil, fmt.Errorf("%s received in OpenSent", h.Type)
	}
	peerOpen, err := wire.DecodeOpen(body)
	if err == nil {
		err = wire.CheckPeerAS(peerOpen, cfg.AS)
	}
	if err == nil && cfg.AS == s.cfg.AS && peerOpen.ID == s.id {
		err = &wire.Error{Code: wire.CodeOpen, Subcode: wire.SubBadBGPIdentifier, Err: fmt.Errorf("iBGP neighbor has our own BGP identifier %s", s.id)}
	}
	if err != nil {
		if we, ok := wire.AsError(err); ok {
			writeNotification(c, we.Notification())
		}
		return nil, fmt.Errorf("bad OPEN: %w", err)
	}
	hs.open = peerOpen
	if !p.post(evOpened{hs}) {
		return nil, errors.New("neighbor stopped")
	}
	if !<-hs.verdict {
		writeNotification(c, wire.Notification{Code: wire.CodeCease, Subcode: wire.SubCollisionResolution})
		return nil, errors.New("connection collision: this connection was closed")
	}
	// The hold time is the smaller of the two (RFC 4271 §4.2); 0 turns
	// keepalives off.
	negHold := min(hold, time.Duration(peerOpen.HoldTime)*time.Second)
	opts := wire.Negotiate(&caps, &peerOpen.Caps, s.cfg.SessionType(cfg.AS) == config.EBGP)
	hs.wmu.Lock()
	_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err = c.Write(wire.AppendKeepalive(nil))
	hs.wmu.Unlock()
	if err != nil || hs.aborted.Load() {
		return nil, fmt.Errorf("send KEEPALIVE: %w", err)
	}
	if negHold > 0 {
		_ = c.SetReadDeadline(time.Now().Add(negHold))
	} else {
		_ = c.SetReadDeadline(time.Now().Add(openSentHold))
	}
	h, body, err = wire.ReadMessage(c, buf, wire.MaxMessageLen)
	if err != nil {
		return nil, p.readFailed(c, err, "waiting for KEEPALIVE")
	}
	switch h.Type {
	case wire.TypeKeepalive:
	case wire.TypeNotification:
		n, _ := wire.DecodeNotification(body)
		p.noteNotification(n)
		return nil, fmt.Errorf("NOTIFICATION received: %s", n)
	default:
		writeNotification(c, wire.Notification{Code: wire.CodeFSM, Subcode: 2})
		return nil, fmt.Errorf("%s received in OpenConfirm", h.Type)
	}
	if hs.aborted.Load() {
		return nil, errors.New("connection collision: this connection was closed")
	}
	ss := newSession(p, c, opts, negHold, peerOpen, cfg)
	return ss, nil
}

// readFailed turns a read error into the error to report, sending the
// NOTIFICATION a protocol error or an expired hold timer calls for.
func (p *Peer) readFailed(c net.Conn, err error, what string) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		writeNotification(c, wire.Notification{Code: wire.CodeHoldTimer})
		return fmt.Errorf("hold timer expired %s", what)
	}
	if we, ok := wire.AsError(err); ok {
		writeNotification(c, we.Notification())
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (p *Peer) noteNotification(n wire.Notification) {
	p.s.mu.Lock()
	p.stats.lastNotifIn = n.String()
	p.s.mu.Unlock()
	p.log("NOTIFICATION received", "notification", n.String())
}

// localSelf returns the next hops the speaker gives for itself on a
// session whose local address is la: la for its family, and an address of
// the other family on the same interface if there is one.
func localSelf(la netip.Addr) (v4, v6 netip.Addr, ifindex int) {
	la = la.Unmap()
	if la.Is4() {
		v4 = la
	} else {
		v6 = la
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		var o4, o6 netip.Addr
		found := false
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, _ := netip.AddrFromSlice(ipn.IP)
			ip = ip.Unmap()
			if ip == la {
				found = true
			}
			if ip.Is4() && !o4.IsValid() {
				o4 = ip
			}
			if ip.Is6() && !ip.IsLinkLocalUnicast() && !o6.IsValid() {
				o6 = ip
			}
		}
		if found {
			ifindex = ifc.Index
			if !v4.IsValid() {
				v4 = o4
			}
			if !v6.IsValid() {
				v6 = o6
			}
			return
		}
	}
	return
}

// routerIDString formats a 32-bit identifier.
func routerIDString(id uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], id)
	return netip.AddrFrom4(b).String()
}
