package api

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// maxSocketPath is the longest path a Unix socket address holds on Linux.
const maxSocketPath = 107

// listenUnix creates the API socket at path with the given mode, owner and
// group (-1 leaves one unchanged). A socket file nothing answers on is
// removed first; one that answers means another routerd runs, and a file
// that is not a socket is never touched.
//
// The socket is bound under a temporary name, given its mode and owner, and
// then linked to path, so that it is never reachable with the process's
// default permissions and a concurrent start cannot replace it.
func listenUnix(path string, mode fs.FileMode, uid, gid int) (*net.UnixListener, fs.FileInfo, error) {
	if path == "" {
		return nil, nil, errors.New("no socket path")
	}
	if len(path) > maxSocketPath {
		return nil, nil, fmt.Errorf("socket path %s is %d bytes long; at most %d fit", path, len(path), maxSocketPath)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("socket directory: %w", err)
	}
	if err := removeStale(path); err != nil {
		return nil, nil, err
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d", filepath.Base(path), os.Getpid()))
	direct := len(tmp) > maxSocketPath
	bind := tmp
	if direct {
		bind = path // no room for a temporary name: a short window with default permissions
	} else {
		_ = os.Remove(tmp) // our own leftover from an earlier attempt in this process
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: bind, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*net.UnixListener, fs.FileInfo, error) {
		ln.Close()
		_ = os.Remove(bind)
		return nil, nil, err
	}
	if err := os.Chmod(bind, mode.Perm()); err != nil {
		return fail(fmt.Errorf("socket %s: %w", path, err))
	}
	if uid >= 0 || gid >= 0 {
		if err := os.Lchown(bind, uid, gid); err != nil {
			return fail(fmt.Errorf("socket %s: set owner %d and group %d: %w", path, uid, gid, err))
		}
	}
	if !direct {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fail(fmt.Errorf("socket %s appeared while starting: another routerd is starting", path))
			}
			return fail(fmt.Errorf("socket %s: %w", path, err))
		}
		_ = os.Remove(tmp)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("socket %s: %w", path, err)
	}
	return ln, fi, nil
}

// removeStale removes a socket file at path that nothing answers on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; refusing to replace it", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("another routerd is answering on %s", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("socket %s exists and cannot be probed, so it is left alone: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}

// removeOwnSocket removes path if it is still the socket file this server
// created.
func removeOwnSocket(path string, created fs.FileInfo) {
	if created == nil {
		return
	}
	if fi, err := os.Lstat(path); err == nil && os.SameFile(fi, created) {
		_ = os.Remove(path)
	}
}
