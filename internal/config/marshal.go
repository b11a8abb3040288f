package config

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Marshal writes c as a configuration file that Parse reads back to an
// equal Config. Every setting is written out, defaults included, and
// static routes are written in the long nexthops form.
func Marshal(c *Config) ([]byte, error) {
	root := mapping()
	if c.RouterID.IsValid() {
		add(root, "router-id", scalar(c.RouterID.String()))
	}
	add(root, "log", mapping(
		"level", scalar(strings.ToLower(c.Log.Level.String())),
		"format", scalar(string(c.Log.Format)),
	))
	api := mapping("socket", scalar(c.API.Socket))
	if c.API.Group != "" {
		add(api, "group", quoted(c.API.Group))
	}
	if c.API.Owner != "" {
		add(api, "owner", quoted(c.API.Owner))
	}
	add(api, "socket-mode", quoted(fmt.Sprintf("%04o", uint32(c.API.SocketMode))))
	add(root, "api", api)
	if c.Metrics.Listen != "" {
		add(root, "metrics", mapping("listen", quoted(c.Metrics.Listen)))
	}
	add(root, "kernel", mapping(
		"enabled", scalar(strconv.FormatBool(c.Kernel.Enabled)),
		"protocol", scalar(strconv.Itoa(int(c.Kernel.Protocol))),
		"metric", scalar(strconv.FormatUint(uint64(c.Kernel.Metric), 10)),
		"on-shutdown", scalar(string(c.Kernel.OnShutdown)),
		"nexthop-objects", scalar(string(c.Kernel.NexthopObjects)),
		"import-foreign", scalar(strconv.FormatBool(c.Kernel.ImportForeign)),
	))
	if f := c.FIB; f.Path != "" {
		m := mapping("path", quoted(f.Path))
		if f.Group != "" {
			add(m, "group", quoted(f.Group))
		}
		add(m, "mode", quoted(fmt.Sprintf("%04o", uint32(f.Mode))))
		add(m, "max-tables", scalar(strconv.Itoa(f.MaxTables)))
		add(m, "nodes", scalar(strconv.Itoa(f.Nodes)))
		add(m, "groups", scalar(strconv.Itoa(f.Groups)))
		add(root, "fib", m)
	}
	if len(c.Tables) > 0 {
		t := mapping()
		for _, name := range slices.Sorted(maps.Keys(c.Tables)) {
			add(t, name, scalar(strconv.FormatUint(uint64(c.Tables[name]), 10)))
		}
		add(root, "tables", t)
	}
	dist := c.Distances
	add(root, "distances", mapping(
		"connected", scalar(strconv.Itoa(int(dist.Connected))),
		"kernel", scalar(strconv.Itoa(int(dist.Kernel))),
		"static", scalar(strconv.Itoa(int(dist.Static))),
		"ebgp", scalar(strconv.Itoa(int(dist.EBGP))),
		"ibgp", scalar(strconv.Itoa(int(dist.IBGP))),
	))
	if len(c.Static) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, r := range c.Static {
			seq.Content = append(seq.Content, marshalRoute(r, c.Tables))
		}
		add(root, "static", seq)
	}
	if n := marshalPolicy(&c.Policy); n != nil {
		add(root, "policy", n)
	}
	if n := marshalBGP(c.BGP); n != nil {
		add(root, "bgp", n)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return buf.Bytes(), nil
}

func marshalRoute(r StaticRoute, tables map[string]uint32) *yaml.Node {
	table := strconv.FormatUint(uint64(r.Table), 10)
	if name := builtinTableName(r.Table); name != "" {
		table = name
	}
	for name, num := range tables {
		if num == r.Table {
			table = name
		}
	}
	m := mapping(
		"prefix", scalar(r.Prefix.String()),
		"table", tableNode(table),
		"type", scalar(string(r.Type)),
	)
	if len(r.Nexthops) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, nh := range r.Nexthops {
			n := mapping()
			if nh.Via.IsValid() {
				add(n, "via", scalar(nh.Via.String()))
			}
			if nh.Dev != "" {
				add(n, "dev", quoted(nh.Dev))
			}
			add(n, "weight", scalar(strconv.Itoa(int(nh.Weight))))
			seq.Content = append(seq.Content, n)
		}
		add(m, "nexthops", seq)
	}
	add(m, "distance", scalar(strconv.Itoa(int(r.Distance))))
	add(m, "metric", scalar(strconv.FormatUint(uint64(r.Metric), 10)))
	return m
}

// tableNode writes a table number plain and a name quoted, so that a table
// named like a YAML keyword ("null", "true") stays a string.
func tableNode(s string) *yaml.Node {
	if isDecimal(s) {
		return scalar(s)
	}
	return quoted(s)
}

func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		add(m, kv[i].(string), kv[i+1].(*yaml.Node))
	}
	return m
}

func add(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, scalar(key), v)
}

// scalar is a plain scalar whose text YAML resolves as written (numbers,
// booleans, addresses, keywords).
func scalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: s}
}

// quoted is a scalar that must stay a string whatever its text looks like.
func quoted(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: s, Style: yaml.DoubleQuotedStyle}
}
