package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/routerd/routerd/api/routerd/v1"
)

// client is a connection to routerd's API.
type client struct {
	socket string
	conn   *grpc.ClientConn
	api    pb.RouterdClient

	mu      sync.Mutex
	dialErr error // the last failure to connect, to explain UNAVAILABLE
}

// client connects on first use.
func (c *cli) client() (*client, error) {
	if c.conn != nil {
		return c.conn, nil
	}
	path, err := filepath.Abs(c.socket)
	if err != nil {
		return nil, usagef("--socket %q: %v", c.socket, err)
	}
	if _, err := os.Stat(path); err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, exitf(exitUnreachable, "routerd is not running (no socket at %s)", path)
		case errors.Is(err, fs.ErrPermission):
			return nil, exitf(exitPermission, "permission denied: cannot reach %s (a directory on the way is closed to you)", path)
		}
		return nil, exitf(exitUnreachable, "routerd is unreachable: %v", err)
	}
	cl := &client{socket: path}
	conn, err := grpc.NewClient("unix://"+path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, "unix", path)
			cl.mu.Lock()
			cl.dialErr = err
			cl.mu.Unlock()
			return nc, err
		}),
	)
	if err != nil {
		return nil, exitf(exitUnreachable, "routerd is unreachable: %v", err)
	}
	cl.conn, cl.api = conn, pb.NewRouterdClient(conn)
	c.conn = cl
	return cl, nil
}

func (cl *client) close() { _ = cl.conn.Close() }

// classify turns an error from a call into the message and exit code
// routerctl reports.
func (cl *client) classify(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return exitf(exitDaemon, "%v", err)
	}
	switch st.Code() {
	case codes.OK:
		return nil
	case codes.PermissionDenied:
		return exitf(exitPermission, "%s", st.Message())
	case codes.NotFound:
		return exitf(exitNotFound, "%s", st.Message())
	case codes.InvalidArgument:
		return exitf(exitUsage, "%s", st.Message())
	case codes.Unavailable:
		cl.mu.Lock()
		derr := cl.dialErr
		cl.mu.Unlock()
		switch {
		case derr == nil:
			return exitf(exitUnreachable, "routerd is unavailable: %s", st.Message())
		case errors.Is(derr, syscall.ECONNREFUSED):
			return exitf(exitUnreachable, "routerd is not running (nothing answers on %s)", cl.socket)
		case errors.Is(derr, fs.ErrNotExist):
			return exitf(exitUnreachable, "routerd is not running (no socket at %s)", cl.socket)
		case errors.Is(derr, fs.ErrPermission):
			return exitf(exitPermission, "permission denied: cannot connect to %s%s", cl.socket, socketHint(cl.socket))
		}
		return exitf(exitUnreachable, "routerd is unreachable: %v", derr)
	case codes.Canceled:
		return exitf(exitDaemon, "interrupted")
	}
	return exitf(exitDaemon, "%s", st.Message())
}

// socketHint says who may open the socket file, from its owner, group and
// mode.
func socketHint(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	owner := strconv.FormatUint(uint64(sys.Uid), 10)
	if u, err := user.LookupId(owner); err == nil {
		owner = u.Username
	}
	group := strconv.FormatUint(uint64(sys.Gid), 10)
	if g, err := user.LookupGroupId(group); err == nil {
		group = g.Name
	}
	hint := fmt.Sprintf(" (socket owner %s, group %s, mode %04o", owner, group, uint32(fi.Mode().Perm()))
	if fi.Mode().Perm()&0o060 == 0o060 {
		hint += fmt.Sprintf("; members of group %s may connect", group)
	}
	return hint + ")"
}
