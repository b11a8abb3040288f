package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize is the largest configuration file Load reads.
const MaxFileSize = 32 << 20

// Config is one complete, validated routerd configuration with every
// default filled in. A Config is a plain value: it holds no position
// information, so two files that say the same thing give equal Configs.
type Config struct {
	// RouterID is the IPv4 router ID used by protocols; the zero Addr
	// means it was not set.
	RouterID  netip.Addr        `key:"router-id"`
	Log       Log               `key:"log"`
	API       API               `key:"api"`
	Metrics   Metrics           `key:"metrics"`
	Kernel    Kernel            `key:"kernel"`
	FIB       FIB               `key:"fib"`
	Tables    map[string]uint32 `key:"tables"`
	Distances Distances         `key:"distances"`
	Static    []StaticRoute     `key:"static"`
	Policy    Policy            `key:"policy"`
	BGP       *BGP              `key:"bgp"` // nil: no BGP speaker
}

// section is one top-level key of the file. Sections are decoded in the
// order of the sections list, not in the order of the file, so that a
// section may use what an earlier one decoded (static routes need tables
// and distances). decode is called with a nil node when the key is absent
// and must then fill in the section's defaults.
type section struct {
	key    string
	decode func(d *decoder, n *yaml.Node, c *Config)
}

var sections = []section{
	{"router-id", decodeRouterID},
	{"log", decodeLog},
	{"api", decodeAPI},
	{"metrics", decodeMetrics},
	{"kernel", decodeKernel},
	{"fib", decodeFIB},
	{"tables", decodeTables},
	{"distances", decodeDistances},
	{"static", decodeStatic},
	{"policy", decodePolicy},
	{"bgp", decodeBGP},
}

// Load reads and parses the configuration file at path. Errors in the
// file's content are returned as *Errors naming path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, &Errors{List: []Error{{File: path, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}}}
	}
	return Parse(path, data)
}

// Parse parses and validates a configuration document; name is the file
// name used in error messages. It returns either a complete Config or a
// *Errors listing every problem found, never both.
func Parse(name string, data []byte) (*Config, error) {
	d := &decoder{file: name, budget: nodeBudget}
	root, ok := d.document(data)
	if !ok {
		return nil, d.result()
	}
	c := &Config{}
	var top mapNode
	if root != nil {
		known := make([]string, len(sections))
		for i, s := range sections {
			known[i] = s.key
		}
		top, _ = d.mapping(root, "", known)
	}
	for _, s := range sections {
		if d.exhausted {
			break
		}
		var n *yaml.Node
		if root != nil {
			n = top.get(s.key)
		}
		s.decode(d, n, c)
	}
	if len(d.errs) > 0 {
		return nil, d.result()
	}
	return c, nil
}

// document parses the YAML text into its root node; nil means an empty
// document.
func (d *decoder) document(data []byte) (root *yaml.Node, ok bool) {
	defer func() {
		// The YAML library is outside code; a panic there must not take the
		// daemon down on a bad file.
		if r := recover(); r != nil {
			d.errorf(nil, "", "YAML parser failed: %v", r)
			root, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		d.syntaxError(err)
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			d.syntaxError(err)
		} else {
			d.errorf(&extra, "", "more than one YAML document; routerd reads exactly one")
		}
		return nil, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, true
	}
	root = d.resolve(doc.Content[0])
	if root == nil || isNull(root) {
		return nil, true
	}
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "", "expected a mapping of settings at the top, got %s", describe(root))
		return nil, false
	}
	return root, true
}

// syntaxError turns a YAML library error ("yaml: line 3: ...") into Errors
// with a line number.
func (d *decoder) syntaxError(err error) {
	for _, msg := range strings.Split(err.Error(), "\n") {
		msg = strings.TrimSpace(strings.TrimPrefix(msg, "yaml: "))
		if msg == "" || msg == "unmarshal errors:" {
			continue
		}
		e := Error{File: d.file, Msg: msg}
		if rest, found := strings.CutPrefix(msg, "line "); found {
			if i := strings.Index(rest, ": "); i > 0 {
				if l, err := strconv.Atoi(rest[:i]); err == nil {
					e.Line, e.Msg = l, rest[i+2:]
				}
			}
		}
		d.errs = append(d.errs, e)
	}
}

func (d *decoder) result() error {
	sort.SliceStable(d.errs, func(i, j int) bool {
		a, b := d.errs[i], d.errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	if d.truncated {
		d.errs = append(d.errs, Error{File: d.file, Msg: fmt.Sprintf("too many errors; stopped after %d", maxErrors)})
	}
	return &Errors{List: d.errs}
}

// Equal reports whether c and o hold the same configuration, static routes
// in the same order.
func (c *Config) Equal(o *Config) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.RouterID == o.RouterID &&
		c.Log == o.Log &&
		c.API == o.API &&
		c.Metrics == o.Metrics &&
		c.Kernel == o.Kernel &&
		c.FIB == o.FIB &&
		maps.Equal(c.Tables, o.Tables) &&
		c.Distances == o.Distances &&
		slices.EqualFunc(c.Static, o.Static, StaticRoute.Equal) &&
		c.Policy.Equal(&o.Policy) && c.BGP.Equal(o.BGP)
}

func decodeRouterID(d *decoder, n *yaml.Node, c *Config) {
	if n == nil {
		return
	}
	a, ok := d.addr(n, "router-id")
	if !ok {
		return
	}
	switch {
	case !a.Is4():
		d.errorf(n, "router-id", "%s is not an IPv4 address; the router ID is a 32-bit IPv4 address even on IPv6-only routers", a)
	case a.IsUnspecified():
		d.errorf(n, "router-id", "0.0.0.0 is not a valid router ID")
	default:
		c.RouterID = a
	}
}
