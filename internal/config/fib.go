package config

import (
	"io/fs"

	"go.yaml.in/yaml/v3"
)

// FIB capacity defaults and limits; they match internal/fib's Options.
const (
	DefaultFIBMaxTables = 16
	DefaultFIBNodes     = 1 << 18
	DefaultFIBGroups    = 1 << 16
	maxFIBTables        = 4096
	maxFIBNodes         = 1 << 30
	maxFIBGroups        = 1 << 20
)

// FIB is the fib section: the forwarding table routerd publishes in shared
// memory for data-plane processes.
type FIB struct {
	// Path is the file the FIB is mapped from, usually under /dev/shm or
	// a hugetlbfs mount; empty means no shared-memory FIB.
	Path string `key:"path"`
	// Group, by name or numeric gid, owns the file, so that data-plane
	// processes of that group can map it; empty leaves the daemon's.
	Group string `key:"group"`
	// Mode is the file's permission bits: default 0640 with a Group,
	// else 0644.
	Mode fs.FileMode `key:"mode"`
	// The file's capacity, fixed when it is created: routing tables,
	// trie nodes (1 KiB each; the full IPv4 and IPv6 table uses about
	// 39,000), and next-hop groups. The file is sparse: capacity costs
	// address space, memory only when used.
	MaxTables int `key:"max-tables"`
	Nodes     int `key:"nodes"`
	Groups    int `key:"groups"`
}

func decodeFIB(d *decoder, n *yaml.Node, c *Config) {
	f := FIB{MaxTables: DefaultFIBMaxTables, Nodes: DefaultFIBNodes, Groups: DefaultFIBGroups}
	var modeSet bool
	var modeNode *yaml.Node
	if n != nil {
		m, _ := d.mapping(n, "fib", []string{"path", "group", "mode", "max-tables", "nodes", "groups"})
		if v := m.get("path"); v != nil {
			f.Path, _ = d.absPath(v, "fib.path")
		}
		if v := m.get("group"); v != nil {
			f.Group, _ = d.accountName(v, "fib.group")
		}
		if v := m.get("mode"); v != nil {
			modeNode = v
			f.Mode, modeSet = d.fileMode(v, "fib.mode")
		}
		for _, k := range []struct {
			key    string
			v      *int
			lo, hi uint64
		}{
			{"max-tables", &f.MaxTables, 1, maxFIBTables},
			{"nodes", &f.Nodes, 2, maxFIBNodes},
			{"groups", &f.Groups, 2, maxFIBGroups},
		} {
			if v := m.get(k.key); v != nil {
				if x, ok := d.uint(v, "fib."+k.key, k.lo, k.hi); ok {
					*k.v = int(x)
				}
			}
		}
	}
	switch {
	case modeSet:
		if f.Group != "" && f.Mode&0o040 == 0 {
			d.errorf(modeNode, "fib.mode", "mode %04o does not let group %s read the FIB (0040)", uint32(f.Mode), f.Group)
		}
		if f.Mode&0o022 != 0 {
			d.errorf(modeNode, "fib.mode", "mode %04o lets more than the owner write the FIB; only routerd writes it", uint32(f.Mode))
		}
	case f.Group != "":
		f.Mode = 0o640
	default:
		f.Mode = 0o644
	}
	if f.Path == "" && (f.Group != "" || modeSet) {
		d.errorf(n, "fib", "group and mode need a path: without one there is no shared-memory FIB")
	}
	c.FIB = f
}
