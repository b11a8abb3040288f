package config

import (
	"errors"
	"net"
	"net/netip"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Metrics is the metrics section: the Prometheus HTTP listener.
type Metrics struct {
	// Listen is host:port to serve /metrics on, the host an IP literal or
	// empty for every address; empty Listen means no metrics listener.
	Listen string `key:"listen"`
}

func decodeMetrics(d *decoder, n *yaml.Node, c *Config) {
	c.Metrics = Metrics{}
	if n == nil {
		return
	}
	m, _ := d.mapping(n, "metrics", []string{"listen"})
	v := m.get("listen")
	if v == nil {
		return
	}
	s, ok := d.str(v, "metrics.listen")
	if !ok {
		return
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		why := err.Error()
		var ae *net.AddrError
		if errors.As(err, &ae) {
			why = ae.Err
		}
		d.errorf(v, "metrics.listen", "%q is not host:port (%s)", s, why)
		return
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 || !isDecimal(port) {
		d.errorf(v, "metrics.listen", "port %q is not a number in 1..65535", port)
		return
	}
	if host != "" {
		a, err := netip.ParseAddr(host)
		if err != nil {
			d.errorf(v, "metrics.listen", "host %q is not an IP address; names are not resolved", host)
			return
		}
		host = a.String()
	}
	c.Metrics.Listen = net.JoinHostPort(host, strconv.FormatUint(p, 10))
}
