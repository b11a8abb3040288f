package config

import "go.yaml.in/yaml/v3"

// FIB is the fib section: the forwarding table routerd publishes in shared
// memory for data-plane processes.
type FIB struct {
	// Path is the file the FIB is mapped from, usually under /dev/shm or
	// a hugetlbfs mount; empty means no shared-memory FIB.
	Path string `key:"path"`
}

func decodeFIB(d *decoder, n *yaml.Node, c *Config) {
	c.FIB = FIB{}
	if n == nil {
		return
	}
	m, _ := d.mapping(n, "fib", []string{"path"})
	if v := m.get("path"); v != nil {
		c.FIB.Path, _ = d.absPath(v, "fib.path")
	}
}
