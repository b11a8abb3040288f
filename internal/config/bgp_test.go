package config

import (
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

const bgpExample = `router-id: 192.0.2.1
policy:
  prefix-lists:
    customers:
      - prefix: 10.0.0.0/8
        ge: 16
        le: 24
      - 2001:db8::/32
  as-path-lists:
    from-65002: ["^65002( |$)"]
  community-lists:
    blackhole: ["65535:666", no-export]
    rs-actions: ["65001:0:65002", "4200000000:1:4294967295", "65001:1"]
  policies:
    in:
      - match: {prefix-list: customers, as-path-list: from-65002}
        set: {local-pref: 200, med: 5, community-add: ["65001:1", "65001:100:1"], community-remove: [no-export, "65001:0:65002"]}
      - match: {community-list: blackhole}
        action: reject
      - set: {prepend: 2, next-hop-self: true}
        action: next
      - action: reject
bgp:
  as: 65001
  listen-port: 1179
  always-compare-med: true
  networks: [10.1.0.0/24, 2001:db8:1::/48]
  redistribute: [static, connected]
  neighbors:
    - address: 10.0.0.2
      as: 65002
      description: transit
      local-address: 10.0.0.1
      hold-time: 9
      connect-retry: 5
      multihop: 2
      password: secret
      import: in
      export: accept
      families: [ipv4-unicast]
    - address: 2001:db8::2
      as: 65001
      passive: true
      ttl-security: 1
      route-reflector-client: true
`

func TestBGPParse(t *testing.T) {
	t.Parallel()
	c, err := Parse("t.yaml", []byte(bgpExample))
	if err != nil {
		t.Fatal(err)
	}
	b := c.BGP
	if b == nil || b.AS != 65001 || b.RouterID != netip.MustParseAddr("192.0.2.1") || !b.Listen || b.ListenPort != 1179 ||
		b.Table != TableMain || !b.AlwaysCompareMED || len(b.Networks) != 2 || len(b.Redistribute) != 2 {
		t.Fatalf("bgp = %+v", b)
	}
	n0, n1 := b.Neighbors[0], b.Neighbors[1]
	if n0.HoldTime != 9*time.Second || n0.ConnectRetry != 5*time.Second || n0.Multihop != 2 || n0.Password != "secret" ||
		n0.Import != "in" || n0.Export != "accept" || len(n0.Families) != 1 || n0.Port != 179 || !n0.Enabled {
		t.Errorf("neighbor 0 = %+v", n0)
	}
	if n1.HoldTime != DefaultHoldTime || !n1.Passive || n1.TTLSecurity != 1 || !n1.RouteReflectorClient || len(n1.Families) != 2 {
		t.Errorf("neighbor 1 = %+v", n1)
	}
	pl := c.Policy.PrefixLists["customers"]
	if len(pl) != 2 || pl[0].GE != 16 || pl[0].LE != 24 || pl[1].GE != 32 || pl[1].LE != 32 {
		t.Errorf("prefix list = %+v", pl)
	}
	if !pl[0].Matches(netip.MustParsePrefix("10.20.0.0/16")) || pl[0].Matches(netip.MustParsePrefix("10.0.0.0/8")) ||
		pl[0].Matches(netip.MustParsePrefix("10.1.2.0/25")) || pl[0].Matches(netip.MustParsePrefix("11.0.0.0/16")) {
		t.Error("ge/le matching")
	}
	terms := c.Policy.Policies["in"]
	if len(terms) != 4 || *terms[0].Set.LocalPref != 200 || terms[1].Action != ActionReject || terms[2].Action != ActionNext || terms[2].Set.Prepend != 2 {
		t.Errorf("terms = %+v", terms)
	}
	if got := c.Policy.CommunityLists["blackhole"].Standard; len(got) != 2 || got[0] != 0xFFFF029A || got[1] != 0xFFFFFF01 {
		t.Errorf("communities = %v", got)
	}
	if got := c.Policy.CommunityLists["rs-actions"]; len(got.Standard) != 1 || len(got.Large) != 2 ||
		got.Large[1] != (LargeCommunity{4200000000, 1, 4294967295}) || got.Standard[0] != 65001<<16|1 {
		t.Errorf("large communities = %+v", got)
	}
	if s := terms[0].Set; len(s.CommunityAdd.Large) != 1 || len(s.CommunityRemove.Large) != 1 || len(s.CommunityRemove.Standard) != 1 {
		t.Errorf("set = %+v", s)
	}
	if c2, out := roundTrip(t, c); !c.Equal(c2) {
		t.Fatalf("round trip differs:\n%s", out)
	}
}

func TestBGPErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, yaml, want string }{
		{"no as", "router-id: 1.1.1.1\nbgp: {}\n", `t.yaml:2:6: bgp: missing required key "as"`},
		{"no router id", "bgp:\n  as: 1\n", "bgp: no router ID"},
		{"as zero", "router-id: 1.1.1.1\nbgp:\n  as: 0\n", "t.yaml:3:7: bgp.as: 0 is out of range 1..4294967295"},
		{"bgp router id v6", "bgp:\n  as: 1\n  router-id: 2001:db8::1\n", "t.yaml:3:14: bgp.router-id: 2001:db8::1 is not a valid router ID"},
		{"unknown key", "router-id: 1.1.1.1\nbgp:\n  as: 1\n  neighbours: []\n", `t.yaml:4:3: bgp: unknown key "neighbours"; did you mean "neighbors"?`},
		{"network host bits", "router-id: 1.1.1.1\nbgp:\n  as: 1\n  networks: [10.0.0.1/8]\n", "t.yaml:4:14: bgp.networks[0]: 10.0.0.1/8 has host bits set"},
		{"network twice", "router-id: 1.1.1.1\nbgp:\n  as: 1\n  networks: [10.0.0.0/8, 10.0.0.0/8]\n", "bgp.networks[1]: 10.0.0.0/8 is listed twice"},
		{"redistribute bad", "router-id: 1.1.1.1\nbgp:\n  as: 1\n  redistribute: [ospf]\n", `bgp.redistribute[0]: "ospf" is not one of static, connected`},
		{"neighbor no address", "router-id: 1.1.1.1\nbgp:\n  as: 1\n  neighbors:\n    - as: 2\n", `t.yaml:5:7: bgp.neighbors[0]: missing required key "address"`},
		{"neighbor twice", "router-id: 1.1.1.1\nbgp:\n  as: 1\n  neighbors:\n    - {address: 10.0.0.1, as: 2}\n    - {address: 10.0.0.1, as: 3}\n", "bgp.neighbors[1]: neighbor 10.0.0.1 is already defined by bgp.neighbors[0]"},
		{"hold time 2", "router-id: 1.1.1.1\nbgp:\n  as: 1\n  neighbors:\n    - {address: 10.0.0.1, as: 2, hold-time: 2}\n", "bgp.neighbors[0].hold-time: hold time is 0 (no keepalives) or at least 3 seconds"},
		{"local address family", "router-id: 1.1.1.1\nbgp:\n  as: 1\n  neighbors:\n    - {address: 10.0.0.1, as: 2, local-address: \"2001:db8::1\"}\n", "are of different families"},
		{"gtsm and multihop", "router-id: 1.1.1.1\nbgp:\n  as: 1\n  neighbors:\n    - {address: 10.0.0.1, as: 2, multihop: 2, ttl-security: 1}\n", "ttl-security and multihop exclude each other"},
		{"unknown policy", "router-id: 1.1.1.1\nbgp:\n  as: 1\n  neighbors:\n    - {address: 10.0.0.1, as: 2, import: foo}\n", `bgp.neighbors[0].import: unknown policy "foo"`},
		{"bad family", "router-id: 1.1.1.1\nbgp:\n  as: 1\n  neighbors:\n    - {address: 10.0.0.1, as: 2, families: [ipv4-multicast]}\n", `bgp.neighbors[0].families[0]: "ipv4-multicast" is not one of ipv4-unicast, ipv6-unicast`},
		{"password too long", "router-id: 1.1.1.1\nbgp:\n  as: 1\n  neighbors:\n    - {address: 10.0.0.1, as: 2, password: " + strings.Repeat("x", 81) + "}\n", "TCP-MD5 keys are at most 80 bytes"},
		{"ge below length", "policy:\n  prefix-lists:\n    a:\n      - {prefix: 10.0.0.0/16, ge: 8}\n", "policy.prefix-lists.a[0].ge: 8 is out of range 16..32"},
		{"le below ge", "policy:\n  prefix-lists:\n    a:\n      - {prefix: 10.0.0.0/8, ge: 24, le: 16}\n", "le 16 is below ge 24"},
		{"bad regexp", "policy:\n  as-path-lists:\n    a: [\"(\"]\n", `policy.as-path-lists.a[0]: "(" is not a valid regular expression`},
		{"bad community", "policy:\n  community-lists:\n    a: [\"65536:1\"]\n", `"65536:1" is not a community`},
		{"bad large community", "policy:\n  community-lists:\n    a: [\"1:2:4294967296\"]\n", `"1:2:4294967296" is not a community`},
		{"four parts", "policy:\n  community-lists:\n    a: [\"1:2:3:4\"]\n", `"1:2:3:4" is not a community`},
		{"unknown prefix", "policy:\n  community-lists:\n    a: [\"xx:1:2\"]\n", `policy.community-lists.a[0]: "xx:1:2" is not a community: write AS:value with both parts 0..65535, a large community global:local1:local2 with each part 0..4294967295, an extended community rt:AS:value, soo:AS:value or 0x and 16 hex digits`},
		{"rt value above 32 bits", "policy:\n  community-lists:\n    a: [\"rt:65535:4294967296\"]\n", `t.yaml:3:9: policy.community-lists.a[0]: "rt:65535:4294967296" is not an extended community: with an AS up to 65535 the value is 0..4294967295`},
		{"rt four-octet AS value above 16 bits", "policy:\n  community-lists:\n    a: [\"rt:65536:65536\"]\n", `policy.community-lists.a[0]: "rt:65536:65536" is not an extended community: with an AS above 65535 the value is 0..65535`},
		{"soo AS above 32 bits", "policy:\n  community-lists:\n    a: [\"soo:4294967296:1\"]\n", `policy.community-lists.a[0]: "soo:4294967296:1" is not an extended community: the AS is 0..4294967295 or an IPv4 address`},
		{"rt IPv4 value above 16 bits", "policy:\n  community-lists:\n    a: [\"rt:192.0.2.1:65536\"]\n", `policy.community-lists.a[0]: "rt:192.0.2.1:65536" is not an extended community: with an IPv4 address the value is 0..65535`},
		{"rt IPv6", "policy:\n  community-lists:\n    a: [\"rt:2001:db8::1:1\"]\n", `"rt:2001:db8::1:1" is not an extended community: write rt:AS:value or rt:A.B.C.D:value`},
		{"rt bad address", "policy:\n  community-lists:\n    a: [\"rt:192.0.2:1\"]\n", `"rt:192.0.2:1" is not an extended community: with an IPv4 address the value is 0..65535`},
		{"rt one part", "policy:\n  community-lists:\n    a: [\"rt:65001\"]\n", `"rt:65001" is not an extended community: write rt:AS:value or rt:A.B.C.D:value`},
		{"rt three parts", "policy:\n  community-lists:\n    a: [\"rt:1:2:3\"]\n", `"rt:1:2:3" is not an extended community: write rt:AS:value or rt:A.B.C.D:value`},
		{"rt empty value", "policy:\n  community-lists:\n    a: [\"rt:1:\"]\n", `"rt:1:" is not an extended community`},
		{"hex too short", "policy:\n  community-lists:\n    a: [\"0x0002fde9000000\"]\n", `"0x0002fde9000000" is not an extended community: write 0x and exactly 16 hex digits`},
		{"hex too long", "policy:\n  community-lists:\n    a: [\"0x0002fde90000006400\"]\n", `"0x0002fde90000006400" is not an extended community: write 0x and exactly 16 hex digits`},
		{"hex not hex", "policy:\n  community-lists:\n    a: [\"0x0002fde90000006g\"]\n", `"0x0002fde90000006g" is not an extended community: write 0x and exactly 16 hex digits`},
		{"extended in set", "policy:\n  policies:\n    p:\n      - set: {community-add: [\"rt:65536:70000\"]}\n", `policy.policies.p[0].set.community-add[0]: "rt:65536:70000" is not an extended community`},
		{"unknown list", "policy:\n  policies:\n    p:\n      - match: {prefix-list: nope}\n", `policy.policies.p[0].match.prefix-list: unknown prefix-list "nope"`},
		{"builtin name", "policy:\n  policies:\n    accept: []\n", `"accept" is a built-in policy name`},
		{"bad action", "policy:\n  policies:\n    p:\n      - action: permit\n", `policy.policies.p[0].action: "permit" is not one of accept, reject, next`},
		{"prepend too much", "policy:\n  policies:\n    p:\n      - set: {prepend: 17}\n", "set.prepend: 17 is out of range 0..16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

func TestBGPDiff(t *testing.T) {
	t.Parallel()
	a, err := Parse("a", []byte(bgpExample))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b", []byte(strings.Replace(bgpExample, "hold-time: 9", "hold-time: 30", 1)))
	if err != nil {
		t.Fatal(err)
	}
	ch := Diff(a, b)
	if !ch.Changed("bgp") || len(ch.RestartRequired) != 0 || a.Equal(b) {
		t.Errorf("diff = %s", ch)
	}
}

// TestBGPRestartMultipath checks the graceful restart, multipath and
// soft-reconfiguration keys: defaults, the neighbour inheriting the
// global graceful-restart, its own override, ranges, and a round trip.
func TestBGPRestartMultipath(t *testing.T) {
	t.Parallel()
	c, err := Parse("t.yaml", []byte(bgpExample))
	if err != nil {
		t.Fatal(err)
	}
	b := c.BGP
	if b.Multipath != 1 || !b.GracefulRestart || b.RestartTime != DefaultRestartTime || b.GracefulRestartPreserve ||
		!b.Neighbors[0].GracefulRestart || b.Neighbors[0].SoftReconfigInbound {
		t.Errorf("defaults: multipath %d, graceful restart %v %s, neighbor %+v", b.Multipath, b.GracefulRestart, b.RestartTime, b.Neighbors[0])
	}
	src := "router-id: 1.1.1.1\nbgp:\n  as: 1\n  multipath: 4\n  graceful-restart: false\n  graceful-restart-time: 30\n" +
		"  graceful-restart-preserve: true\n  neighbors:\n    - {address: 10.0.0.1, as: 2}\n    - {address: 10.0.0.2, as: 2, graceful-restart: true, soft-reconfiguration-inbound: true}\n"
	c, err = Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b = c.BGP
	if b.Multipath != 4 || b.GracefulRestart || b.RestartTime != 30*time.Second || !b.GracefulRestartPreserve || b.Neighbors[0].GracefulRestart ||
		!b.Neighbors[1].GracefulRestart || !b.Neighbors[1].SoftReconfigInbound {
		t.Errorf("parsed %+v", b)
	}
	if again, _ := roundTrip(t, c); !again.BGP.Equal(b) {
		t.Errorf("round trip changed the section:\n%+v\n%+v", b, again.BGP)
	}
	for _, bad := range []struct{ src, want string }{
		{"router-id: 1.1.1.1\nbgp:\n  as: 1\n  multipath: 0\n", "bgp.multipath: 0 is out of range 1..64"},
		{"router-id: 1.1.1.1\nbgp:\n  as: 1\n  graceful-restart-time: 4096\n", "bgp.graceful-restart-time: 4096 is out of range 1..4095"},
		{"router-id: 1.1.1.1\nbgp:\n  as: 1\n  neighbors:\n    - {address: 10.0.0.1, as: 2, soft-reconfiguration-inbound: 3}\n", "soft-reconfiguration-inbound"},
	} {
		if _, err := Parse("t.yaml", []byte(bad.src)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: got %v, want %q", bad.src, err, bad.want)
		}
	}
}

func TestMaxPrefixes(t *testing.T) {
	c, err := Parse("m.yaml", []byte("router-id: 192.0.2.1\nbgp:\n  as: 65001\n  neighbors:\n"+
		"    - {address: 10.0.0.2, as: 65002, max-prefixes: {ipv4: 1000, ipv6: 50, restart: 300}}\n"+
		"    - {address: 10.0.0.3, as: 65003, max-prefixes: {ipv6: 7}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	n := c.BGP.Neighbors
	if n[0].MaxPrefixes != (MaxPrefixes{IPv4: 1000, IPv6: 50, Restart: 300 * time.Second}) || n[1].MaxPrefixes != (MaxPrefixes{IPv6: 7}) {
		t.Errorf("max-prefixes = %+v, %+v", n[0].MaxPrefixes, n[1].MaxPrefixes)
	}
	if c2, out := roundTrip(t, c); !c.Equal(c2) {
		t.Fatalf("round trip differs:\n%s", out)
	}
	for _, bad := range []struct{ yaml, want string }{
		{"{ipv4: 0}", "max-prefixes.ipv4"},
		{"{ipv4: 10, l2vpn: 5}", "l2vpn"},
		{"{restart: -1}", "max-prefixes.restart"},
		{"100", "max-prefixes"},
	} {
		_, err := Parse("m.yaml", []byte("router-id: 192.0.2.1\nbgp:\n  as: 65001\n  neighbors:\n"+
			"    - {address: 10.0.0.2, as: 65002, max-prefixes: "+bad.yaml+"}\n"))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("max-prefixes %s: %v, want an error naming %s", bad.yaml, err, bad.want)
		}
	}
}

// TestExtendedCommunities checks each text form of an extended community,
// at the limits of its parts, that a list mixes them with standard and
// large communities, and that they survive Marshal and Parse.
func TestExtendedCommunities(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, bytes, out string }{
		{"rt:0:0", "0002000000000000", "rt:0:0"},
		{"rt:65001:100", "0002fde900000064", "rt:65001:100"},
		{"rt:65535:4294967295", "0002ffffffffffff", "rt:65535:4294967295"},
		{"soo:65535:1", "0003ffff00000001", "soo:65535:1"},
		{"rt:65536:0", "0202000100000000", "rt:65536:0"},
		{"rt:65536:65535", "020200010000ffff", "rt:65536:65535"},
		{"soo:4294967295:65535", "0203ffffffffffff", "soo:4294967295:65535"},
		{"rt:192.0.2.1:65535", "0102c0000201ffff", "rt:192.0.2.1:65535"},
		{"soo:10.0.0.1:0", "01030a0000010000", "soo:10.0.0.1:0"},
		{"0x0002FDE900000064", "0002fde900000064", "rt:65001:100"},
		{"0x4004fde94b3ebc20", "4004fde94b3ebc20", "0x4004fde94b3ebc20"},
		{"0x020200000064000a", "020200000064000a", "0x020200000064000a"}, // four-octet AS form of a small AS
	}
	var yaml strings.Builder
	yaml.WriteString("policy:\n  community-lists:\n    mixed: [\"65001:1\", \"65001:2:3\"")
	for _, tc := range tests {
		yaml.WriteString(", \"" + tc.in + "\"")
	}
	yaml.WriteString("]\n  policies:\n    p:\n      - match: {community-list: mixed}\n        set: {community-add: [\"rt:65001:7\"], community-remove: [\"0x4004fde94b3ebc20\", no-export]}\n")
	c, err := Parse("t.yaml", []byte(yaml.String()))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Policy.CommunityLists["mixed"]
	if len(got.Standard) != 1 || len(got.Large) != 1 || len(got.Extended) != len(tests) || got.Len() != len(tests)+2 {
		t.Fatalf("list = %+v", got)
	}
	for i, tc := range tests {
		e := got.Extended[i]
		if h := hex.EncodeToString(e[:]); h != tc.bytes {
			t.Errorf("%s: bytes %s, want %s", tc.in, h, tc.bytes)
		}
		if s := e.String(); s != tc.out {
			t.Errorf("%s: String %q, want %q", tc.in, s, tc.out)
		}
	}
	set := c.Policy.Policies["p"][0].Set
	if len(set.CommunityAdd.Extended) != 1 || len(set.CommunityRemove.Extended) != 1 || len(set.CommunityRemove.Standard) != 1 {
		t.Errorf("set = %+v", set)
	}
	c2, out := roundTrip(t, c)
	if !c.Equal(c2) || !slices.Equal(c2.Policy.CommunityLists["mixed"].Extended, got.Extended) {
		t.Fatalf("round trip differs:\n%s", out)
	}
	if ch := Diff(c, c2); !ch.Empty() {
		t.Errorf("Diff after round trip: %s", ch)
	}
	// A changed extended community is a change of the policy section.
	c3, err := Parse("t.yaml", []byte(strings.Replace(yaml.String(), "rt:65001:7", "rt:65001:8", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Equal(c3) || !Diff(c, c3).Changed("policy") {
		t.Errorf("a changed extended community is not a difference: %s", Diff(c, c3))
	}
}

// TestConfederation checks bgp.confederation: parsing, the session type
// and local AS of each neighbour, a round trip, and the errors, each
// naming its path.
func TestConfederation(t *testing.T) {
	t.Parallel()
	src := "router-id: 192.0.2.1\nbgp:\n  as: 65101\n  confederation:\n    identifier: 65100\n    members: [65102, 65103]\n" +
		"  neighbors:\n    - {address: 10.0.0.2, as: 65102}\n    - {address: 10.0.0.3, as: 65101}\n    - {address: 10.0.0.4, as: 64999}\n"
	c, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b := c.BGP
	if !b.Confederation.Equal(Confederation{Identifier: 65100, Members: []uint32{65102, 65103}}) {
		t.Fatalf("confederation = %+v", b.Confederation)
	}
	for _, tc := range []struct {
		as    uint32
		typ   SessionType
		local uint32
	}{{65102, ConfedEBGP, 65101}, {65103, ConfedEBGP, 65101}, {65101, IBGP, 65101}, {64999, EBGP, 65100}} {
		if got, l := b.SessionType(tc.as), b.LocalAS(tc.as); got != tc.typ || l != tc.local {
			t.Errorf("AS %d: %s, local AS %d; want %s, %d", tc.as, got, l, tc.typ, tc.local)
		}
	}
	if again, out := roundTrip(t, c); !again.BGP.Equal(b) {
		t.Errorf("round trip differs:\n%s", out)
	}
	// Without a confederation every other AS is eBGP and the local AS is bgp.as.
	plain := &BGP{AS: 65101}
	if plain.SessionType(65102) != EBGP || plain.LocalAS(65102) != 65101 {
		t.Errorf("no confederation: %s, %d", plain.SessionType(65102), plain.LocalAS(65102))
	}

	head := "router-id: 1.1.1.1\nbgp:\n  as: 65101\n  confederation:\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"members without identifier", head + "    members: [65102]\n", "t.yaml:5:5: bgp.confederation: members without an identifier"},
		{"identifier is own AS", head + "    identifier: 65101\n", "t.yaml:5:17: bgp.confederation.identifier: 65101 is bgp.as"},
		{"identifier zero", head + "    identifier: 0\n", "bgp.confederation.identifier: 0 is out of range 1..4294967295"},
		{"member zero", head + "    identifier: 65100\n    members: [0]\n", "t.yaml:6:15: bgp.confederation.members[0]: 0 is out of range 1..4294967295"},
		{"member too big", head + "    identifier: 65100\n    members: [4294967296]\n", "bgp.confederation.members[0]: 4294967296 is out of range"},
		{"member twice", head + "    identifier: 65100\n    members: [65102, 65103, 65102]\n", "bgp.confederation.members[2]: 65102 is listed twice"},
		{"member is identifier", head + "    identifier: 65100\n    members: [65100]\n", "bgp.confederation.members[0]: 65100 is the confederation identifier"},
		{"unknown key", head + "    id: 65100\n", `bgp.confederation: unknown key "id"`},
		{"neighbor in identifier", head + "    identifier: 65100\n  neighbors:\n    - {address: 10.0.0.1, as: 65100}\n",
			"bgp.neighbors[0].as: 65100 is the confederation identifier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}
