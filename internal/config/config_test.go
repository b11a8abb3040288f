package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want string // "line:col: path: message part"
	}{
		{"yaml syntax", "a: b\n  c: d\n", "t.yaml:2: mapping values are not allowed in this context"},
		{"unknown anchor", "log: *nope\n", "t.yaml: unknown anchor 'nope' referenced"},
		{"two documents", "log: {}\n---\nlog: {}\n", "more than one YAML document"},
		{"top not mapping", "- a\n", "t.yaml:1:1: expected a mapping of settings at the top, got a list"},
		{"unknown top key", "router-id: 192.0.2.1\nroutes: []\n", `t.yaml:2:1: unknown key "routes"`},
		{"unknown key suggestion", "kernel:\n  metirc: 5\n", `t.yaml:2:3: kernel: unknown key "metirc"; did you mean "metric"?`},
		{"snake case key", "router_id: 192.0.2.1\n", `t.yaml:1:1: unknown key "router_id"; did you mean "router-id"?`},
		{"duplicate top key", "log: {}\nlog: {}\n", `t.yaml:2:1: duplicate key "log" (first at line 1)`},
		{"duplicate nested key", "kernel:\n  metric: 1\n  metric: 2\n", `t.yaml:3:3: kernel: duplicate key "metric" (first at line 2)`},
		{"merge key", "base: &b {level: info}\n", `unknown key "base"`},
		{"merge key in section", "log:\n  <<: {level: info}\n", `t.yaml:2:3: log: merge keys (<<) are not supported`},
		{"section wrong type", "kernel: [1]\n", "t.yaml:1:9: kernel: expected a mapping, got a list"},
		{"bool wrong type", "kernel:\n  enabled: yes\n", `t.yaml:2:12: kernel.enabled: expected true or false, got "yes"`},
		{"int wrong type", "kernel:\n  metric: high\n", `t.yaml:2:11: kernel.metric: expected an integer, got "high"`},
		{"int quoted", "kernel:\n  metric: \"20\"\n", `t.yaml:2:11: kernel.metric: expected an integer, got "20"`},
		{"int leading zero", "kernel:\n  metric: 020\n", "t.yaml:2:11: kernel.metric: 020 has a leading zero"},
		{"int negative", "kernel:\n  metric: -1\n", "t.yaml:2:11: kernel.metric: -1 is out of range 0..4294967295"},
		{"int too big", "kernel:\n  metric: 4294967296\n", "kernel.metric: 4294967296 is out of range"},
		{"missing value", "kernel:\n  metric:\n", "t.yaml:2:10: kernel.metric: missing value"},
		{"protocol reserved", "kernel:\n  protocol: 4\n", "t.yaml:2:13: kernel.protocol: protocol 4 is reserved by the kernel"},
		{"protocol too big", "kernel:\n  protocol: 256\n", "kernel.protocol: 256 is out of range 0..255"},
		{"enum bad", "kernel:\n  on-shutdown: delete\n", `t.yaml:2:16: kernel.on-shutdown: "delete" is not one of keep, flush`},
		{"log level bad", "log:\n  level: verbose\n", `t.yaml:2:10: log.level: "verbose" is not one of debug, info, warn, error`},
		{"log format bad", "log:\n  format: xml\n", `log.format: "xml" is not one of text, json`},
		{"router id v6", "router-id: 2001:db8::1\n", "t.yaml:1:12: router-id: 2001:db8::1 is not an IPv4 address"},
		{"router id zero", "router-id: 0.0.0.0\n", "router-id: 0.0.0.0 is not a valid router ID"},
		{"router id garbage", "router-id: foo\n", `t.yaml:1:12: router-id: "foo" is not a valid IP address`},
		{"socket relative", "api:\n  socket: run/r.sock\n", `t.yaml:2:11: api.socket: "run/r.sock" is not an absolute path`},
		{"socket unclean", "api:\n  socket: /run//r.sock\n", `api.socket: "/run//r.sock" is not a clean path; did you mean "/run/r.sock"?`},
		{"socket too long", "api:\n  socket: /" + strings.Repeat("a", 120) + "\n", "api.socket: path is 121 bytes long"},
		{"socket mode not octal", "api:\n  socket-mode: \"0689\"\n", `t.yaml:2:16: api.socket-mode: "0689" is not an octal file mode`},
		{"socket mode setuid", "api:\n  socket-mode: \"4660\"\n", "api.socket-mode: 4660 has bits beyond permissions"},
		{"socket mode no owner", "api:\n  socket-mode: \"0060\"\n", "api.socket-mode: mode 0060 does not give the owner read and write"},
		{"socket mode locks out group", "api:\n  group: routerd\n  socket-mode: \"0600\"\n", "t.yaml:3:16: api.socket-mode: mode 0600 does not let group routerd connect"},
		{"bad group name", "api:\n  group: \"a b\"\n", `t.yaml:2:10: api.group: "a b" is not a valid user or group name`},
		{"bad uid", "api:\n  owner: 4294967295\n", "api.owner: id 4294967295 is out of range"},
		{"metrics not hostport", "metrics:\n  listen: 9180\n", `t.yaml:2:11: metrics.listen: "9180" is not host:port`},
		{"metrics hostname", "metrics:\n  listen: localhost:9180\n", `metrics.listen: host "localhost" is not an IP address`},
		{"metrics port", "metrics:\n  listen: 127.0.0.1:0\n", `metrics.listen: port "0" is not a number in 1..65535`},
		{"fib relative", "fib:\n  path: routerd-fib\n", `t.yaml:2:9: fib.path: "routerd-fib" is not an absolute path`},
		{"fib mode locks out group", "fib:\n  path: /dev/shm/f\n  group: dp\n  mode: \"0604\"\n", "t.yaml:4:9: fib.mode: mode 0604 does not let group dp read the FIB (0040)"},
		{"fib mode writable", "fib:\n  path: /dev/shm/f\n  mode: \"0664\"\n", "fib.mode: mode 0664 lets more than the owner write the FIB; only routerd writes it"},
		{"fib mode setuid", "fib:\n  path: /dev/shm/f\n  mode: \"4644\"\n", "fib.mode: 4644 has bits beyond permissions"},
		{"fib group without path", "fib:\n  group: dp\n", "t.yaml:2:3: fib: group and mode need a path"},
		{"fib no tables", "fib:\n  path: /dev/shm/f\n  max-tables: 0\n", "t.yaml:3:15: fib.max-tables: 0 is out of range 1..4096"},
		{"fib nodes", "fib:\n  path: /dev/shm/f\n  nodes: 2000000000\n", "fib.nodes: 2000000000 is out of range 2..1073741824"},
		{"fib groups", "fib:\n  path: /dev/shm/f\n  groups: 1\n", "fib.groups: 1 is out of range 2..1048576"},
		{"fib unknown key", "fib:\n  path: /dev/shm/f\n  tables: 64\n", `fib: unknown key "tables"`},
		{"table name reserved", "tables:\n  main: 100\n", `t.yaml:2:3: tables.main: table name "main" is built in`},
		{"table name invalid", "tables:\n  2isp: 100\n", `tables.2isp: "2isp" is not a valid table name`},
		{"table number zero", "tables:\n  isp: 0\n", "t.yaml:2:8: tables.isp: 0 is out of range 1..4294967295"},
		{"table number builtin", "tables:\n  isp: 254\n", `tables.isp: table 254 is the built-in table "main"`},
		{"table number duplicate", "tables:\n  isp1: 100\n  isp2: 100\n", `t.yaml:3:9: tables.isp2: table 100 is already named "isp1" at line 2`},
		{"distance too big", "distances:\n  static: 256\n", "t.yaml:2:11: distances.static: 256 is out of range 0..255"},
		{"distance unknown", "distances:\n  ospf: 110\n", `distances: unknown key "ospf"`},
		{"static not list", "static:\n  prefix: 10.0.0.0/8\n", "t.yaml:2:3: static: expected a list, got a mapping"},
		{"static missing prefix", "static:\n  - via: [10.0.0.1]\n", `t.yaml:2:5: static[0]: missing required key "prefix"`},
		{"prefix host bits", "static:\n  - prefix: 10.0.0.1/8\n    via: [10.1.0.1]\n", "t.yaml:2:13: static[0].prefix: 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"},
		{"prefix host bits v6", "static:\n  - prefix: 2001:db8::1/32\n    via: [2001:db8::2]\n", "static[0].prefix: 2001:db8::1/32 has host bits set; did you mean 2001:db8::/32?"},
		{"prefix without length", "static:\n  - prefix: 10.0.0.1\n    via: [10.1.0.1]\n", "static[0].prefix: 10.0.0.1 is an address, not a prefix; did you mean 10.0.0.1/32?"},
		{"prefix length too long", "static:\n  - prefix: 10.0.0.0/33\n    via: [10.1.0.1]\n", `static[0].prefix: "10.0.0.0/33" is not a valid prefix`},
		{"prefix mapped", "static:\n  - prefix: ::ffff:10.0.0.0/104\n    via: [10.1.0.1]\n", "IPv4-mapped IPv6 prefix"},
		{"gateway wrong family", "static:\n  - prefix: 10.0.0.0/8\n    via: [2001:db8::1]\n", "t.yaml:3:11: static[0].via[0]: gateway 2001:db8::1 is IPv6 but prefix 10.0.0.0/8 is IPv4"},
		{"gateway wrong family long form", "static:\n  - prefix: 2001:db8:20::/48\n    nexthops:\n      - via: 10.0.0.1\n", "t.yaml:4:14: static[0].nexthops[0].via: gateway 10.0.0.1 is IPv4 but prefix 2001:db8:20::/48 is IPv6"},
		{"gateway unspecified", "static:\n  - prefix: 10.0.0.0/8\n    via: [0.0.0.0]\n", "static[0].via[0]: gateway 0.0.0.0 is the unspecified address"},
		{"gateway multicast", "static:\n  - prefix: 2001:db8::/32\n    via: ff02::1\n", "t.yaml:3:10: static[0].via: gateway ff02::1 is a multicast address"},
		{"gateway loopback", "static:\n  - prefix: 10.0.0.0/8\n    via: [127.0.0.1]\n", "gateway 127.0.0.1 is a loopback address"},
		{"gateway broadcast", "static:\n  - prefix: 10.0.0.0/8\n    via: [255.255.255.255]\n", "is the broadcast address"},
		{"gateway link-local without dev", "static:\n  - prefix: 2001:db8::/32\n    via: [fe80::1]\n", "static[0].via[0]: link-local gateway fe80::1 needs dev"},
		{"gateway zone", "static:\n  - prefix: 2001:db8::/32\n    via: [\"fe80::1%eth0\"]\n", "static[0].via[0]: fe80::1%eth0 has a zone; give the interface with dev instead"},
		{"gateway own destination", "static:\n  - prefix: 10.0.0.1/32\n    via: [10.0.0.1]\n", "gateway 10.0.0.1 is the route's own destination"},
		{"gateway listed twice", "static:\n  - prefix: 10.0.0.0/8\n    via: [10.1.0.1, 10.1.0.1]\n", "static[0].via[1]: gateway 10.1.0.1 is listed twice"},
		{"empty via", "static:\n  - prefix: 10.0.0.0/8\n    via: []\n", "static[0].via: empty list of gateways"},
		{"bad dev", "static:\n  - prefix: 10.0.0.0/8\n    dev: a-very-long-interface-name\n", `t.yaml:3:10: static[0].dev: "a-very-long-interface-name" is not a valid interface name`},
		{"no next hop", "static:\n  - prefix: 10.0.0.0/8\n", "t.yaml:2:5: static[0]: a unicast route needs a next hop"},
		{"via and nexthops", "static:\n  - prefix: 10.0.0.0/8\n    via: [10.1.0.1]\n    nexthops:\n      - via: 10.1.0.2\n", "static[0]: give next hops either as via/dev or as nexthops, not both"},
		{"blackhole with via", "static:\n  - prefix: 10.0.0.0/8\n    type: blackhole\n    via: [10.1.0.1]\n", "t.yaml:4:10: static[0].via: a blackhole route has no next hops"},
		{"bad type", "static:\n  - prefix: 10.0.0.0/8\n    type: drop\n", `static[0].type: "drop" is not one of unicast, blackhole, unreachable, prohibit`},
		{"nexthop without via or dev", "static:\n  - prefix: 10.0.0.0/8\n    nexthops:\n      - weight: 2\n", "t.yaml:4:9: static[0].nexthops[0]: a next hop needs via, dev or both"},
		{"weight zero", "static:\n  - prefix: 10.0.0.0/8\n    nexthops:\n      - via: 10.1.0.1\n        weight: 0\n", "t.yaml:5:17: static[0].nexthops[0].weight: 0 is out of range 1..256"},
		{"weight too big", "static:\n  - prefix: 10.0.0.0/8\n    nexthops:\n      - via: 10.1.0.1\n        weight: 257\n", "weight: 257 is out of range 1..256"},
		{"nexthop duplicate", "static:\n  - prefix: 10.0.0.0/8\n    nexthops:\n      - via: 10.1.0.1\n      - via: 10.1.0.1\n", "static[0].nexthops[1]: same next hop as static[0].nexthops[0]"},
		{"nexthop unknown key", "static:\n  - prefix: 10.0.0.0/8\n    nexthops:\n      - gw: 10.1.0.1\n", `static[0].nexthops[0]: unknown key "gw"`},
		{"table local", "static:\n  - prefix: 10.0.0.0/8\n    table: local\n    via: [10.1.0.1]\n", "t.yaml:3:12: static[0].table: table local (255) is the kernel's local table"},
		{"table 255", "static:\n  - prefix: 10.0.0.0/8\n    table: 255\n    via: [10.1.0.1]\n", "static[0].table: table 255 (255) is the kernel's local table"},
		{"table 0", "static:\n  - prefix: 10.0.0.0/8\n    table: 0\n    via: [10.1.0.1]\n", "static[0].table: table 0 is not a table"},
		{"table unknown name", "static:\n  - prefix: 10.0.0.0/8\n    table: isp9\n    via: [10.1.0.1]\n", `static[0].table: unknown table "isp9"; define it under tables:`},
		{"table too big", "static:\n  - prefix: 10.0.0.0/8\n    table: 4294967296\n    via: [10.1.0.1]\n", "static[0].table: 4294967296 is out of range"},
		{"duplicate route", "static:\n  - prefix: 10.0.0.0/8\n    via: [10.1.0.1]\n  - prefix: 10.0.0.0/8\n    table: 254\n    dev: eth0\n", "t.yaml:4:5: static[1]: route 10.0.0.0/8 in table main (254) is already defined by static[0] at line 2"},
		{"duplicate route named table", "tables:\n  isp2: 100\nstatic:\n  - prefix: 10.0.0.0/8\n    table: isp2\n    via: [10.1.0.1]\n  - prefix: 10.0.0.0/8\n    table: 100\n    via: [10.1.0.2]\n", "static[1]: route 10.0.0.0/8 in table isp2 (100) is already defined by static[0] at line 4"},
		{"route distance", "static:\n  - prefix: 10.0.0.0/8\n    via: [10.1.0.1]\n    distance: 300\n", "static[0].distance: 300 is out of range 0..255"},
		{"alias bomb", aliasBomb(), "document too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			if c != nil {
				t.Errorf("got a Config along with the error")
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not *Errors", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

// aliasBomb is a small document in which aliases multiply: a thousand
// routes each refer to the same list of two thousand gateways.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("static:\n  - &r\n    prefix: 10.0.0.0/8\n    via:\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "      - 10.1.%d.%d\n", i/250, i%250+1)
	}
	for range 1000 {
		b.WriteString("  - *r\n")
	}
	return b.String()
}

func TestAllErrorsCollected(t *testing.T) {
	t.Parallel()
	src := `router-id: 2001:db8::1
log:
  level: loud
kernel:
  protocol: 2
  metric: x
  bogus: 1
static:
  - prefix: 10.0.0.1/8
    via: [10.0.0.2]
  - prefix: 10.20.0.0/16
    via: [2001:db8::1]
  - prefix: 10.30.0.0/16
  - prefix: 10.40.0.0/16
    via: [10.0.0.2]
    table: nowhere
`
	_, err := Parse("routerd.yaml", []byte(src))
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v, want *Errors", err)
	}
	want := []string{
		"routerd.yaml:1:12: router-id:",
		"routerd.yaml:3:10: log.level:",
		"routerd.yaml:5:13: kernel.protocol:",
		"routerd.yaml:6:11: kernel.metric:",
		"routerd.yaml:7:3: kernel: unknown key",
		"routerd.yaml:9:13: static[0].prefix: 10.0.0.1/8 has host bits set",
		"routerd.yaml:12:11: static[1].via[0]: gateway 2001:db8::1 is IPv6 but prefix 10.20.0.0/16 is IPv4",
		"routerd.yaml:13:5: static[2]: a unicast route needs a next hop",
		"routerd.yaml:16:12: static[3].table: unknown table",
	}
	if len(errs.List) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(errs.List), len(want), err)
	}
	lines := strings.Split(err.Error(), "\n")
	for i, w := range want {
		if i >= len(lines) || !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: want prefix %q\nall errors:\n%v", i, w, err)
		}
	}
	var one Error
	if !errors.As(err, &one) || one.Line != 1 || one.Path != "router-id" {
		t.Errorf("errors.As(Error) = %+v", one)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"", "# nothing\n", "log:\napi:\nkernel: {}\nstatic: []\n"} {
		c, err := Parse("t.yaml", []byte(src))
		if err != nil {
			t.Fatalf("Parse(%q): %v", src, err)
		}
		want := &Config{
			Log:       Log{Level: slog.LevelInfo, Format: LogText},
			API:       API{Socket: DefaultSocket, SocketMode: 0o600},
			Kernel:    Kernel{Enabled: true, Protocol: 196, Metric: 20, OnShutdown: ShutdownKeep, NexthopObjects: NexthopAuto, ImportForeign: true},
			FIB:       FIB{Mode: 0o644, MaxTables: 16, Nodes: 1 << 18, Groups: 1 << 16},
			Tables:    map[string]uint32{},
			Distances: Distances{Connected: 0, Kernel: 0, Static: 1, EBGP: 20, IBGP: 200},
		}
		if !c.Equal(want) {
			t.Errorf("Parse(%q) = %+v, want %+v", src, c, want)
		}
	}
}

func TestDefaultsDependOnOtherKeys(t *testing.T) {
	t.Parallel()
	c, err := Parse("t.yaml", []byte(`
api:
  group: routerd
distances:
  static: 5
static:
  - prefix: 10.0.0.0/8
    via: [10.1.0.1]
  - prefix: 10.1.0.0/16
    via: [10.1.0.1]
    distance: 7
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.API.SocketMode != 0o660 {
		t.Errorf("socket mode with group = %o, want 0660", c.API.SocketMode)
	}
	if c.Static[0].Distance != 5 || c.Static[1].Distance != 7 {
		t.Errorf("distances = %d, %d; want 5 (from distances.static), 7", c.Static[0].Distance, c.Static[1].Distance)
	}
	r := c.Static[0]
	if r.Table != TableMain || r.Type != Unicast || r.Metric != 0 || r.Nexthops[0].Weight != 1 {
		t.Errorf("route defaults = %+v", r)
	}
}

const fullExample = `router-id: 192.0.2.1
log:
  level: debug
  format: json
api:
  socket: /run/routerd/routerd.sock
  group: routerd
  owner: alice
  socket-mode: "0660"
metrics:
  listen: 127.0.0.1:9180
kernel:
  enabled: true
  protocol: 196
  metric: 20
  on-shutdown: flush
  nexthop-objects: on
  import-foreign: false
fib:
  path: /dev/shm/routerd-fib
  group: dataplane
  mode: "0640"
  max-tables: 64
  nodes: 1048576
  groups: 131072
tables:
  isp2: 100
distances:
  connected: 0
  kernel: 0
  static: 1
  ebgp: 20
  ibgp: 200
static:
  - prefix: 10.20.0.0/16
    table: main
    via: [10.0.0.2, 10.0.0.3]
    dev: veth0
    distance: 1
    metric: 0
  - prefix: 2001:db8:20::/48
    nexthops:
      - via: 2001:db8::2
        dev: veth1
        weight: 3
      - via: fe80::1
        dev: veth2
  - prefix: 192.0.2.0/24
    type: blackhole
  - prefix: 0.0.0.0/0
    table: isp2
    via: 198.51.100.1
  - prefix: 10.99.0.0/16
    dev: veth0
`

func TestFullExample(t *testing.T) {
	t.Parallel()
	c, err := Parse("t.yaml", []byte(fullExample))
	if err != nil {
		t.Fatal(err)
	}
	if c.RouterID != netip.MustParseAddr("192.0.2.1") || c.Log.Level != slog.LevelDebug || c.Log.Format != LogJSON {
		t.Errorf("router-id/log = %v %+v", c.RouterID, c.Log)
	}
	wantAPI := API{Socket: "/run/routerd/routerd.sock", Group: "routerd", Owner: "alice", SocketMode: fs.FileMode(0o660)}
	if c.API != wantAPI {
		t.Errorf("api = %+v, want %+v", c.API, wantAPI)
	}
	if c.Kernel.OnShutdown != ShutdownFlush || c.Kernel.NexthopObjects != NexthopOn || c.Kernel.ImportForeign {
		t.Errorf("kernel = %+v", c.Kernel)
	}
	if len(c.Static) != 5 {
		t.Fatalf("%d static routes, want 5", len(c.Static))
	}
	ecmp := c.Static[0].Nexthops
	if len(ecmp) != 2 || ecmp[1].Via != netip.MustParseAddr("10.0.0.3") || ecmp[1].Dev != "veth0" {
		t.Errorf("short form ECMP = %+v", ecmp)
	}
	if nh := c.Static[1].Nexthops; len(nh) != 2 || nh[0].Weight != 3 || nh[1].Weight != 1 {
		t.Errorf("long form = %+v", nh)
	}
	if r := c.Static[2]; r.Type != Blackhole || len(r.Nexthops) != 0 {
		t.Errorf("blackhole = %+v", r)
	}
	if r := c.Static[3]; r.Table != 100 || len(r.Nexthops) != 1 {
		t.Errorf("named table route = %+v", r)
	}
	if nh := c.Static[4].Nexthops; len(nh) != 1 || nh[0].Via.IsValid() || nh[0].Dev != "veth0" {
		t.Errorf("attached route = %+v", nh)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	c, err := Parse("t.yaml", []byte(fullExample))
	if err != nil {
		t.Fatal(err)
	}
	if c2, out := roundTrip(t, c); !c.Equal(c2) {
		t.Errorf("round trip differs:\n%s", out)
	}
}

// roundTrip marshals c and parses the result again.
func roundTrip(t *testing.T, c *Config) (*Config, []byte) {
	t.Helper()
	out, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse("marshalled.yaml", out)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, out)
	}
	return c2, out
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "routerd.yaml")
	if err := os.WriteFile(path, []byte("kernel:\n  metric: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":2:11: kernel.metric:") {
		t.Errorf("Load error = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestAliasesAreFollowed(t *testing.T) {
	t.Parallel()
	c, err := Parse("t.yaml", []byte(`
static:
  - prefix: 10.0.0.0/8
    via: &gw [10.1.0.1, 10.1.0.2]
  - prefix: 10.2.0.0/16
    via: *gw
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Static[1].Nexthops) != 2 {
		t.Errorf("alias not followed: %+v", c.Static[1])
	}
}
