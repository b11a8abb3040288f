package config

import (
	"io/fs"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultSocket is where the API listens unless api.socket says otherwise.
const DefaultSocket = "/run/routerd/routerd.sock"

// maxSocketPath is the longest path a Unix socket address holds on Linux
// (sun_path is 108 bytes including the terminating NUL).
const maxSocketPath = 107

// API is the api section: the Unix socket that routerctl and other clients
// talk to, and who may use it. Authorization itself is by the peer's
// credentials; the file mode only keeps others from connecting at all.
type API struct {
	Socket string `key:"socket"` // absolute path; default DefaultSocket
	// Group, by name or numeric gid, may call read methods; empty means
	// only root and Owner may connect.
	Group string `key:"group"`
	// Owner, by name or numeric uid, may call write methods besides root.
	Owner string `key:"owner"`
	// SocketMode is the socket file's permission bits; default 0660 when
	// Group is set, else 0600.
	SocketMode fs.FileMode `key:"socket-mode"`
}

func decodeAPI(d *decoder, n *yaml.Node, c *Config) {
	a := API{Socket: DefaultSocket}
	var modeSet bool
	var modeNode *yaml.Node
	if n != nil {
		m, _ := d.mapping(n, "api", []string{"socket", "group", "owner", "socket-mode"})
		if v := m.get("socket"); v != nil {
			if s, ok := d.absPath(v, "api.socket"); ok {
				if len(s) > maxSocketPath {
					d.errorf(v, "api.socket", "path is %d bytes long; a Unix socket path holds at most %d", len(s), maxSocketPath)
				} else {
					a.Socket = s
				}
			}
		}
		if v := m.get("group"); v != nil {
			a.Group, _ = d.accountName(v, "api.group")
		}
		if v := m.get("owner"); v != nil {
			a.Owner, _ = d.accountName(v, "api.owner")
		}
		if v := m.get("socket-mode"); v != nil {
			modeNode = v
			a.SocketMode, modeSet = d.fileMode(v, "api.socket-mode")
		}
	}
	switch {
	case modeSet:
		if a.Group != "" && a.SocketMode&0o060 != 0o060 {
			d.errorf(modeNode, "api.socket-mode", "mode %04o does not let group %s connect; connecting needs read and write (0060)", uint32(a.SocketMode), a.Group)
		}
	case a.Group != "":
		a.SocketMode = 0o660
	default:
		a.SocketMode = 0o600
	}
	c.API = a
}

// fileMode parses permission bits written in octal ("0660", 0660, "0o660").
// The value is read as octal even when YAML resolved it as a decimal
// number, because that is what anyone writing a mode means.
func (d *decoder) fileMode(n *yaml.Node, path string) (fs.FileMode, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	v, err := strconv.ParseUint(digits, 8, 32)
	if err != nil || digits == "" || digits[0] == '+' || digits[0] == '-' {
		d.errorf(n, path, "%q is not an octal file mode such as \"0660\"", s)
		return 0, false
	}
	if v > 0o777 {
		d.errorf(n, path, "%s has bits beyond permissions (0777); setuid, setgid and sticky bits mean nothing here", s)
		return 0, false
	}
	if v&0o600 != 0o600 {
		d.errorf(n, path, "mode %04o does not give the owner read and write (0600)", v)
		return 0, false
	}
	return fs.FileMode(v), true
}
