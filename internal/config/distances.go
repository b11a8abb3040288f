package config

import "go.yaml.in/yaml/v3"

// Distances are the administrative distances of the route sources: among
// routes to the same prefix in the same table, the RIB prefers the lowest.
type Distances struct {
	Connected uint8 `key:"connected"` // default 0
	Kernel    uint8 `key:"kernel"`    // foreign kernel routes; default 0
	Static    uint8 `key:"static"`    // default 1
	EBGP      uint8 `key:"ebgp"`      // default 20
	IBGP      uint8 `key:"ibgp"`      // default 200
}

// DefaultDistances are used for every distance the file does not set.
var DefaultDistances = Distances{Connected: 0, Kernel: 0, Static: 1, EBGP: 20, IBGP: 200}

func decodeDistances(d *decoder, n *yaml.Node, c *Config) {
	c.Distances = DefaultDistances
	if n == nil {
		return
	}
	m, _ := d.mapping(n, "distances", []string{"connected", "kernel", "static", "ebgp", "ibgp"})
	for _, f := range []struct {
		key string
		dst *uint8
	}{
		{"connected", &c.Distances.Connected},
		{"kernel", &c.Distances.Kernel},
		{"static", &c.Distances.Static},
		{"ebgp", &c.Distances.EBGP},
		{"ibgp", &c.Distances.IBGP},
	} {
		if v := m.get(f.key); v != nil {
			if x, ok := d.uint(v, join("distances", f.key), 0, 255); ok {
				*f.dst = uint8(x)
			}
		}
	}
}
