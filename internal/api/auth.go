package api

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Access is what a method needs.
type Access uint8

// Access levels.
const (
	AccessWrite Access = iota // the zero value, so an unclassified method needs write
	AccessRead
)

// methodAccess classifies every method of the service. A method missing
// here needs write access; new methods (BGP) add their line.
var methodAccess = map[string]Access{
	"/routerd.v1.Routerd/ListRoutes":     AccessRead,
	"/routerd.v1.Routerd/GetRoute":       AccessRead,
	"/routerd.v1.Routerd/LookupRoute":    AccessRead,
	"/routerd.v1.Routerd/ListInterfaces": AccessRead,
	"/routerd.v1.Routerd/GetStatus":      AccessRead,
	"/routerd.v1.Routerd/WatchRoutes":    AccessRead,
	"/routerd.v1.Routerd/AddRoutes":      AccessWrite,
	"/routerd.v1.Routerd/DeleteRoutes":   AccessWrite,
	"/routerd.v1.Routerd/Reload":         AccessWrite,

	"/routerd.v1.Routerd/ListBGPNeighbors":      AccessRead,
	"/routerd.v1.Routerd/GetBGPNeighbor":        AccessRead,
	"/routerd.v1.Routerd/ListBGPRoutes":         AccessRead,
	"/routerd.v1.Routerd/ListBGPAdjRoutes":      AccessRead,
	"/routerd.v1.Routerd/ResetBGPNeighbor":      AccessWrite,
	"/routerd.v1.Routerd/SetBGPNeighborEnabled": AccessWrite,
}

// PeerCred is the identity of the process at the other end of a connection,
// taken when it connected.
type PeerCred struct {
	UID, GID uint32
	PID      int32
	// Groups are the supplementary groups the process has, from
	// /proc/<pid>/status, or from the user database if that could not be
	// read.
	Groups []uint32
}

// AuthInfo is the credentials.AuthInfo of a connection on the API socket.
type AuthInfo struct {
	credentials.CommonAuthInfo
	Peer PeerCred
}

// AuthType implements credentials.AuthInfo.
func (AuthInfo) AuthType() string { return "peercred" }

// peerCreds is a credentials.TransportCredentials for Unix sockets that
// reads the peer's SO_PEERCRED at the handshake. It adds no encryption: the
// kernel already confines a Unix socket to the host.
type peerCreds struct{}

// PeerCredentials returns transport credentials that identify the peer of a
// Unix socket connection by SO_PEERCRED; the server's interceptors authorise
// calls from the AuthInfo it produces. Clients may use them too (they learn
// the daemon's credentials) or plain insecure credentials.
func PeerCredentials() credentials.TransportCredentials { return peerCreds{} }

// Info implements credentials.TransportCredentials.
func (peerCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "peercred"}
}

// Clone implements credentials.TransportCredentials.
func (peerCreds) Clone() credentials.TransportCredentials { return peerCreds{} }

// OverrideServerName implements credentials.TransportCredentials; it is
// deprecated in gRPC and means nothing here.
func (peerCreds) OverrideServerName(string) error { return nil }

// ClientHandshake implements credentials.TransportCredentials.
func (peerCreds) ClientHandshake(_ context.Context, _ string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return handshake(conn)
}

// ServerHandshake implements credentials.TransportCredentials: it reads the
// peer's SO_PEERCRED and its groups.
func (peerCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return handshake(conn)
}

func handshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return nil, nil, fmt.Errorf("peer credentials need a Unix socket, not %s", conn.RemoteAddr().Network())
	}
	cred, err := peerCred(uc)
	if err != nil {
		return nil, nil, err
	}
	info := AuthInfo{
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
		Peer:           cred,
	}
	return conn, info, nil
}

func peerCred(c *net.UnixConn) (PeerCred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return PeerCred{}, err
	}
	var uc *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		uc, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return PeerCred{}, err
	}
	if serr != nil {
		return PeerCred{}, fmt.Errorf("SO_PEERCRED: %w", serr)
	}
	p := PeerCred{UID: uc.Uid, GID: uc.Gid, PID: uc.Pid}
	p.Groups = processGroups(p.PID, p.UID)
	if p.Groups == nil {
		p.Groups = userGroups(p.UID)
	}
	return p, nil
}

// processGroups returns the supplementary groups of a process, which are
// what it really has (a group added to /etc/group after login is not among
// them). It returns nil if the process cannot be read or is not the peer any
// more (its real uid differs): the caller then falls back to the user
// database.
func processGroups(pid int32, uid uint32) []uint32 {
	if pid <= 0 {
		return nil
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/status")
	if err != nil {
		return nil
	}
	return parseProcStatusGroups(b, uid)
}

// parseProcStatusGroups reads the Groups line of a /proc/<pid>/status whose
// real uid is uid. It returns an empty, non-nil slice for a process without
// supplementary groups and nil if the text does not fit.
func parseProcStatusGroups(b []byte, uid uint32) []uint32 {
	var groups []uint32
	uidOK, found := false, false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		switch name {
		case "Uid":
			uidOK = len(f) > 0 && f[0] == strconv.FormatUint(uint64(uid), 10)
		case "Groups":
			found = true
			groups = make([]uint32, 0, len(f))
			for _, s := range f {
				g, err := strconv.ParseUint(s, 10, 32)
				if err != nil {
					return nil
				}
				groups = append(groups, uint32(g))
			}
		}
	}
	if !uidOK || !found {
		return nil
	}
	return groups
}

// userGroups returns the groups the user database gives uid.
func userGroups(uid uint32) []uint32 {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return []uint32{}
	}
	ids, err := u.GroupIds()
	if err != nil {
		return []uint32{}
	}
	out := make([]uint32, 0, len(ids))
	for _, s := range ids {
		if g, err := strconv.ParseUint(s, 10, 32); err == nil {
			out = append(out, uint32(g))
		}
	}
	return out
}

// account is a resolved user or group.
type account struct {
	id   uint32
	name string // as configured, or looked up; empty if only a number is known
}

func (a *account) String() string {
	if a.name != "" {
		return fmt.Sprintf("%s (%d)", a.name, a.id)
	}
	return strconv.FormatUint(uint64(a.id), 10)
}

// authorizer decides, from a caller's credentials, whether it may call a
// method.
type authorizer struct {
	daemonUID uint32
	group     *account // read access; nil: none configured
	owner     *account // write access; nil: root only
}

func newAuthorizer(group, owner string) (*authorizer, error) {
	a := &authorizer{daemonUID: uint32(os.Getuid())}
	if group != "" {
		g, err := lookupGroup(group)
		if err != nil {
			return nil, err
		}
		a.group = g
	}
	if owner != "" {
		u, err := lookupUser(owner)
		if err != nil {
			return nil, err
		}
		a.owner = u
	}
	return a, nil
}

// GroupID resolves a group given by name or numeric gid, as the
// configuration writes it (the daemon gives the FIB file to it).
func GroupID(s string) (uint32, error) {
	a, err := lookupGroup(s)
	if err != nil {
		return 0, err
	}
	return a.id, nil
}

func lookupGroup(s string) (*account, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		a := &account{id: uint32(n)}
		if g, err := user.LookupGroupId(s); err == nil {
			a.name = g.Name
		}
		return a, nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return nil, fmt.Errorf("group %q: %w", s, err)
	}
	n, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("group %q: gid %q: %w", s, g.Gid, err)
	}
	return &account{id: uint32(n), name: s}, nil
}

func lookupUser(s string) (*account, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		a := &account{id: uint32(n)}
		if u, err := user.LookupId(s); err == nil {
			a.name = u.Username
		}
		return a, nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", s, err)
	}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: uid %q: %w", s, u.Uid, err)
	}
	return &account{id: uint32(n), name: s}, nil
}

func (a *authorizer) canWrite(p PeerCred) bool {
	return p.UID == 0 || (a.owner != nil && p.UID == a.owner.id)
}

func (a *authorizer) canRead(p PeerCred) bool {
	if p.UID == 0 || p.UID == a.daemonUID || a.canWrite(p) {
		return true
	}
	if a.group == nil {
		return false
	}
	return p.GID == a.group.id || slices.Contains(p.Groups, a.group.id)
}

// check returns nil if p may call a method needing need, else a
// PERMISSION_DENIED status that says what access would take.
func (a *authorizer) check(p PeerCred, method string, need Access) error {
	if need == AccessRead && a.canRead(p) || need == AccessWrite && a.canWrite(p) {
		return nil
	}
	who := "uid " + strconv.FormatUint(uint64(p.UID), 10)
	if u, err := user.LookupId(strconv.FormatUint(uint64(p.UID), 10)); err == nil {
		who += " (" + u.Username + ")"
	}
	short := method[strings.LastIndexByte(method, '/')+1:]
	var needs string
	if need == AccessWrite {
		needs = "write access needs root"
		if a.owner != nil {
			needs += " or user " + a.owner.String() + " (api.owner)"
		} else {
			needs += "; no api.owner is configured"
		}
	} else {
		needs = "read access needs root"
		if a.daemonUID != 0 {
			needs += fmt.Sprintf(", uid %d (the daemon's user)", a.daemonUID)
		}
		if a.owner != nil {
			needs += ", user " + a.owner.String()
		}
		if a.group != nil {
			needs += " or membership of group " + a.group.String() + " (api.group)"
		} else {
			needs += "; no api.group is configured"
		}
	}
	return status.Errorf(codes.PermissionDenied, "permission denied: %s may not call %s: %s", who, short, needs)
}

var errNoCreds = status.Error(codes.Unauthenticated, "no peer credentials on this connection")

func (s *Server) authorize(ctx context.Context, method string) error {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return errNoCreds
	}
	info, ok := p.AuthInfo.(AuthInfo)
	if !ok {
		return errNoCreds
	}
	need := methodAccess[method]
	if err := s.auth.check(info.Peer, method, need); err != nil {
		return err
	}
	if need == AccessWrite && s.readOnly.Load() {
		return status.Error(codes.Unavailable, "routerd is shutting down and accepts no changes")
	}
	return nil
}

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := s.authorize(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := s.authorize(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

// callerFrom returns the caller's credentials, for naming watch
// subscriptions.
func callerFrom(ctx context.Context) (PeerCred, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return PeerCred{}, false
	}
	info, ok := p.AuthInfo.(AuthInfo)
	return info.Peer, ok
}
