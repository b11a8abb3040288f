package config

import "go.yaml.in/yaml/v3"

// ShutdownAction is what routerd does with its own kernel routes when it
// stops.
type ShutdownAction string

// Shutdown actions.
const (
	// ShutdownKeep leaves routerd's routes in the kernel, so forwarding
	// continues while the daemon restarts; the next start reconciles them.
	ShutdownKeep ShutdownAction = "keep"
	// ShutdownFlush deletes every route marked with routerd's protocol.
	ShutdownFlush ShutdownAction = "flush"
)

// NexthopObjects says whether routes are programmed with kernel nexthop
// objects and groups (Linux 5.3 and later) or with nexthops inline.
type NexthopObjects string

// Nexthop object modes.
const (
	NexthopAuto NexthopObjects = "auto" // use them when the kernel supports them
	NexthopOn   NexthopObjects = "on"   // require them; start fails without support
	NexthopOff  NexthopObjects = "off"  // never use them
)

// Kernel defaults.
const (
	DefaultProtocol = 196
	DefaultMetric   = 20
)

// Kernel is the kernel section: how routerd programs the kernel's
// forwarding table over netlink.
type Kernel struct {
	// Enabled false keeps routes in the RIB only; nothing is programmed.
	Enabled bool `key:"enabled"`
	// Protocol is the rtm_protocol value routerd marks its routes with, and
	// by which it recognises them at start. 5..255; 0..4 are the kernel's.
	Protocol uint8 `key:"protocol"`
	// Metric is the kernel route priority of routerd's routes.
	Metric         uint32         `key:"metric"`
	OnShutdown     ShutdownAction `key:"on-shutdown"`
	NexthopObjects NexthopObjects `key:"nexthop-objects"`
	// ImportForeign shows routes that other programs own in the RIB, read
	// only.
	ImportForeign bool `key:"import-foreign"`
}

func decodeKernel(d *decoder, n *yaml.Node, c *Config) {
	k := Kernel{
		Enabled:        true,
		Protocol:       DefaultProtocol,
		Metric:         DefaultMetric,
		OnShutdown:     ShutdownKeep,
		NexthopObjects: NexthopAuto,
		ImportForeign:  true,
	}
	if n != nil {
		m, _ := d.mapping(n, "kernel", []string{"enabled", "protocol", "metric", "on-shutdown", "nexthop-objects", "import-foreign"})
		if v := m.get("enabled"); v != nil {
			if b, ok := d.boolean(v, "kernel.enabled"); ok {
				k.Enabled = b
			}
		}
		if v := m.get("protocol"); v != nil {
			if p, ok := d.uint(v, "kernel.protocol", 0, 255); ok {
				if p <= 4 {
					d.errorf(v, "kernel.protocol", "protocol %d is reserved by the kernel (0 unspec, 1 redirect, 2 kernel, 3 boot, 4 static); use 5..255", p)
				} else {
					k.Protocol = uint8(p)
				}
			}
		}
		if v := m.get("metric"); v != nil {
			if p, ok := d.uint(v, "kernel.metric", 0, 1<<32-1); ok {
				k.Metric = uint32(p)
			}
		}
		if v := m.get("on-shutdown"); v != nil {
			if s, ok := d.enum(v, "kernel.on-shutdown", "keep", "flush"); ok {
				k.OnShutdown = ShutdownAction(s)
			}
		}
		if v := m.get("nexthop-objects"); v != nil {
			if s, ok := d.enum(v, "kernel.nexthop-objects", "auto", "on", "off"); ok {
				k.NexthopObjects = NexthopObjects(s)
			}
		}
		if v := m.get("import-foreign"); v != nil {
			if b, ok := d.boolean(v, "kernel.import-foreign"); ok {
				k.ImportForeign = b
			}
		}
	}
	c.Kernel = k
}
