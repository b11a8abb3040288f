// Package api serves routerd's operator API (api/routerd/v1) over a Unix
// socket: routes and lookups from the RIB, runtime static routes offered to
// the RIB through their own source, interfaces, status, reload, a stream
// of route changes, and the BGP speaker's neighbours, routes and resets.
// Callers are authorised by their peer credentials (SO_PEERCRED): read
// methods for root, the daemon's user and members of a configured group;
// write methods for root and a configured owner.
//
// The package is a consumer of the RIB (queries, one subscription per watch
// stream) and a source (runtime statics); what the RIB cannot answer comes
// from the daemon through the small Backend interface.
package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	pb "github.com/routerd/routerd/api/routerd/v1"
	"github.com/routerd/routerd/internal/rib"
	"github.com/routerd/routerd/pkg/fibreader"
)

// Interface is one network interface as the daemon knows it.
type Interface struct {
	Index     int32
	Name      string
	AdminUp   bool   // IFF_UP
	OperState string // "up", "down", "lowerlayerdown", "dormant", "unknown", ...
	MTU       uint32
	MAC       net.HardwareAddr // nil if none
	Addresses []netip.Prefix   // address with its prefix length, e.g. 192.0.2.1/24
}

// Counter is one named counter of a daemon subsystem shown by GetStatus, for
// example {"kernel", "routes_installed", 901234}.
type Counter struct {
	Subsystem string
	Name      string
	Value     uint64
}

// Backend answers what the RIB cannot. The daemon implements it; every
// method must be safe for concurrent use and quick (the API calls
// Interfaces and Tables once per request, not per route).
type Backend interface {
	// Interfaces returns the interfaces the daemon knows. The API also uses
	// it to map interface names to indexes and back.
	Interfaces() ([]Interface, error)
	// Tables returns the routing table names the daemon knows besides the
	// built-in main (254), default (253) and local (255): those of
	// /etc/iproute2/rt_tables and of the configuration. May return nil.
	Tables() map[string]rib.Table
	// Reload rereads the configuration and applies the difference, as
	// SIGHUP does. An invalid configuration must change nothing; its error
	// reaches the caller as FAILED_PRECONDITION.
	Reload() error
	// Counters returns subsystem counters (kernel programming, FIB, ...) for
	// GetStatus; nil if there are none.
	Counters() []Counter
	// BGP returns the BGP speaker, or nil when the configuration has none
	// (the BGP methods then fail with FAILED_PRECONDITION). The API asks
	// for it once per call, so a reload that starts or stops the speaker
	// takes effect at the next call.
	BGP() BGPBackend
}

// ServerConfig configures the API server.
type ServerConfig struct {
	// Socket is the Unix socket path, e.g. /run/routerd/routerd.sock. Its
	// directory is created (0755) if missing.
	Socket string
	// Group, a group name or numeric gid, may call read methods; it also
	// becomes the socket file's group. Empty: only root, the daemon's user
	// and Owner.
	Group string
	// Owner, a user name or numeric uid, may call write methods besides
	// root; it also becomes the socket file's owner (when the daemon runs as
	// root), so that it can connect even when it is not in Group.
	Owner string
	// SocketMode is the socket file's permission bits; zero means 0660 with
	// a Group and 0600 without.
	SocketMode fs.FileMode
	// RIB is the routing information base the API reads.
	RIB *rib.RIB
	// Statics is the RIB source for runtime static routes (rib.OriginAPI).
	// Nil makes AddRoutes and DeleteRoutes fail with UNIMPLEMENTED.
	Statics *rib.Source
	// Backend answers for interfaces, table names, reload and counters.
	Backend Backend
	// FIB, if not nil, is the forwarding table the RIB feeds (the
	// daemon's shared-memory FIB): LookupRoute asks it which prefix
	// forwards an address.
	FIB FIB
	// Version is shown by GetStatus.
	Version string
	// Started is the daemon's start time; zero means when NewServer ran.
	Started time.Time
}

// FIB finds the route that forwards an address in a table, as the data
// plane does. *fib.Writer implements it.
type FIB interface {
	Lookup(table uint32, addr netip.Addr) fibreader.Result
}

// DefaultDistance is the administrative distance of runtime static routes
// added without one: the same as static routes from the configuration.
const DefaultDistance = 1

// Server is the API server. Create it with NewServer, call Listen (or let
// Serve do it), Serve, and Stop.
type Server struct {
	cfg      ServerConfig
	grpc     *grpc.Server
	auth     *authorizer
	svc      *service
	readOnly atomic.Bool

	mu       sync.Mutex
	ln       *net.UnixListener
	sockInfo fs.FileInfo // the socket file as created, to remove only our own
	stopping chan struct{}
	stopOnce sync.Once
	served   chan struct{} // closed when Serve returns
}

// NewServer returns a server for cfg. Names in Group and Owner are resolved
// by Listen.
func NewServer(cfg ServerConfig) *Server {
	if cfg.Started.IsZero() {
		cfg.Started = time.Now()
	}
	if cfg.SocketMode == 0 {
		cfg.SocketMode = 0o600
		if cfg.Group != "" {
			cfg.SocketMode = 0o660
		}
	}
	s := &Server{cfg: cfg, stopping: make(chan struct{}), served: make(chan struct{})}
	s.svc = &service{
		rib:      cfg.RIB,
		statics:  cfg.Statics,
		backend:  cfg.Backend,
		fib:      cfg.FIB,
		version:  cfg.Version,
		started:  cfg.Started,
		stopping: s.stopping,
	}
	return s
}

// SetReadOnly makes write calls fail with UNAVAILABLE (true) or work again
// (false). The daemon sets it first at shutdown, so that no runtime route
// arrives while it withdraws and flushes.
func (s *Server) SetReadOnly(ro bool) { s.readOnly.Store(ro) }

// Listen resolves Group and Owner and creates the socket. It refuses if
// another process answers on the socket path; a stale socket file that
// nothing answers on is replaced. Calling it before Serve lets the daemon
// report a socket problem at start, synchronously.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	select {
	case <-s.stopping:
		return errors.New("api: server stopped")
	default:
	}
	if s.cfg.RIB == nil {
		return errors.New("api: no RIB")
	}
	if s.cfg.Backend == nil {
		return errors.New("api: no backend")
	}
	a, err := newAuthorizer(s.cfg.Group, s.cfg.Owner)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	uid, gid := -1, -1
	if a.group != nil {
		gid = int(a.group.id)
	}
	if a.owner != nil && os.Geteuid() == 0 {
		uid = int(a.owner.id)
	}
	ln, fi, err := listenUnix(s.cfg.Socket, s.cfg.SocketMode, uid, gid)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	s.auth = a
	s.ln, s.sockInfo = ln, fi
	s.grpc = grpc.NewServer(
		grpc.Creds(PeerCredentials()),
		grpc.ChainUnaryInterceptor(s.unaryAuth),
		grpc.ChainStreamInterceptor(s.streamAuth),
	)
	pb.RegisterRouterdServer(s.grpc, s.svc)
	return nil
}

// Serve listens (if Listen has not) and serves until ctx is done or Stop is
// called; then it stops gracefully. It returns nil after a stop.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	defer close(s.served)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			s.Stop()
		case <-done:
		}
	}()
	err := s.grpc.Serve(s.ln)
	select {
	case <-s.stopping:
		return nil
	default:
	}
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	return nil
}

// stopGrace bounds how long Stop waits for unary calls in flight.
const stopGrace = 5 * time.Second

// Stop ends every watch stream, lets calls in flight finish (for up to five
// seconds), closes the listener and removes the socket file. It is safe to
// call more than once and before Serve.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.readOnly.Store(true)
		close(s.stopping)
		s.mu.Lock()
		g, ln, fi := s.grpc, s.ln, s.sockInfo
		s.mu.Unlock()
		if g != nil {
			done := make(chan struct{})
			go func() {
				g.GracefulStop()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(stopGrace):
				g.Stop()
				<-done
			}
		}
		if ln != nil {
			_ = ln.Close()
			removeOwnSocket(s.cfg.Socket, fi)
		}
	})
}
