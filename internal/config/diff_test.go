package config

import (
	"reflect"
	"slices"
	"testing"
)

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDiff(t *testing.T) {
	t.Parallel()
	old := mustParse(t, `
log: {level: info}
kernel: {metric: 20}
tables: {isp2: 100, isp3: 101}
static:
  - {prefix: 10.1.0.0/16, via: [10.0.0.1]}
  - {prefix: 10.2.0.0/16, via: [10.0.0.1]}
  - {prefix: 10.3.0.0/16, via: [10.0.0.1], table: isp2}
`)
	tests := []struct {
		name            string
		new             string
		settings        []string
		added, removed  int
		changed         int
		restartRequired []string
	}{
		{"same file", `
log: {level: info}
kernel: {metric: 20}
tables: {isp2: 100, isp3: 101}
static:
  - {prefix: 10.2.0.0/16, via: [10.0.0.1]}
  - {prefix: 10.1.0.0/16, via: [10.0.0.1]}
  - {prefix: 10.3.0.0/16, via: [10.0.0.1], table: 100}
`, nil, 0, 0, 0, nil},
		{"settings and routes", `
log: {level: debug}
kernel: {metric: 30, protocol: 200}
api: {socket: /run/other.sock}
fib: {path: /dev/shm/x}
tables: {isp2: 100, isp4: 102}
static:
  - {prefix: 10.1.0.0/16, via: [10.0.0.2]}
  - {prefix: 10.3.0.0/16, via: [10.0.0.1], table: isp2}
  - {prefix: 10.4.0.0/16, via: [10.0.0.1]}
`, []string{"log.level", "api.socket", "kernel.protocol", "kernel.metric", "fib.path", "tables.isp3", "tables.isp4"},
			1, 1, 1, []string{"api.socket", "kernel.protocol", "fib.path"}},
		{"fib capacity and owner", `
log: {level: info}
kernel: {metric: 20}
fib: {path: /dev/shm/x, group: dp, nodes: 1048576}
tables: {isp2: 100, isp3: 101}
static:
  - {prefix: 10.2.0.0/16, via: [10.0.0.1]}
  - {prefix: 10.1.0.0/16, via: [10.0.0.1]}
  - {prefix: 10.3.0.0/16, via: [10.0.0.1], table: 100}
`, []string{"fib.path", "fib.group", "fib.mode", "fib.nodes"}, 0, 0, 0, []string{"fib.path", "fib.group", "fib.mode", "fib.nodes"}},
		{"table renumbered moves routes", `
log: {level: info}
kernel: {metric: 20}
tables: {isp2: 200, isp3: 101}
static:
  - {prefix: 10.1.0.0/16, via: [10.0.0.1]}
  - {prefix: 10.2.0.0/16, via: [10.0.0.1]}
  - {prefix: 10.3.0.0/16, via: [10.0.0.1], table: isp2}
`, []string{"tables.isp2"}, 1, 1, 0, nil},
		{"default distance changes routes", `
log: {level: info}
kernel: {metric: 20}
tables: {isp2: 100, isp3: 101}
distances: {static: 5}
static:
  - {prefix: 10.1.0.0/16, via: [10.0.0.1]}
  - {prefix: 10.2.0.0/16, via: [10.0.0.1], distance: 1}
  - {prefix: 10.3.0.0/16, via: [10.0.0.1], table: isp2}
`, []string{"distances.static"}, 0, 0, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ch := Diff(old, mustParse(t, tc.new))
			if !slices.Equal(ch.Settings, tc.settings) {
				t.Errorf("Settings = %q, want %q", ch.Settings, tc.settings)
			}
			if len(ch.StaticAdded) != tc.added || len(ch.StaticRemoved) != tc.removed || len(ch.StaticChanged) != tc.changed {
				t.Errorf("static +%d -%d ~%d, want +%d -%d ~%d", len(ch.StaticAdded), len(ch.StaticRemoved), len(ch.StaticChanged), tc.added, tc.removed, tc.changed)
			}
			if !slices.Equal(ch.RestartRequired, tc.restartRequired) {
				t.Errorf("RestartRequired = %q, want %q", ch.RestartRequired, tc.restartRequired)
			}
			if ch.Empty() != (tc.settings == nil && tc.added+tc.removed+tc.changed == 0) {
				t.Errorf("Empty() = %v for %s", ch.Empty(), ch)
			}
		})
	}
}

func TestDiffDetails(t *testing.T) {
	t.Parallel()
	a := mustParse(t, "static:\n  - {prefix: 10.1.0.0/16, via: [10.0.0.1]}\n")
	b := mustParse(t, "router-id: 192.0.2.1\nstatic:\n  - {prefix: 10.1.0.0/16, via: [10.0.0.2]}\n  - {prefix: 10.0.0.0/16, via: [10.0.0.1]}\n  - {prefix: 2001:db8::/32, via: [2001:db8:1::1]}\n")
	ch := Diff(a, b)
	if !ch.Changed("router-id") || ch.Changed("kernel") || !ch.Changed("static") {
		t.Errorf("Changed: router-id %v kernel %v static %v", ch.Changed("router-id"), ch.Changed("kernel"), ch.Changed("static"))
	}
	if len(ch.StaticAdded) != 2 || ch.StaticAdded[0].Prefix.String() != "10.0.0.0/16" || ch.StaticAdded[1].Prefix.String() != "2001:db8::/32" {
		t.Errorf("StaticAdded not sorted by key: %+v", ch.StaticAdded)
	}
	if c := ch.StaticChanged; len(c) != 1 || c[0].Old.Nexthops[0].Via.String() != "10.0.0.1" || c[0].New.Nexthops[0].Via.String() != "10.0.0.2" {
		t.Errorf("StaticChanged = %+v", c)
	}
	if s := ch.String(); s != "settings: router-id; static routes: 2 added, 0 removed, 1 changed" {
		t.Errorf("String() = %q", s)
	}
	if all := Diff(nil, b); len(all.StaticAdded) != 3 {
		t.Errorf("Diff(nil, b) added %d routes, want 3", len(all.StaticAdded))
	}
}

// TestEveryFieldHasKey keeps Diff's reflection honest: every field of
// Config and of its sections must name its YAML key.
func TestEveryFieldHasKey(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "")
	ch := Diff(c, c)
	if !ch.Empty() {
		t.Errorf("Diff(c, c) = %s", ch)
	}
	for _, s := range sectionTypes() {
		for i := range s.NumField() {
			if s.Field(i).Tag.Get("key") == "" {
				t.Errorf("%s.%s has no key tag", s.Name(), s.Field(i).Name)
			}
		}
	}
}

func sectionTypes() []reflect.Type {
	out := []reflect.Type{reflect.TypeFor[Config]()}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if ft := t.Field(i).Type; ft.Kind() == reflect.Struct && ft.PkgPath() == t.PkgPath() {
			out = append(out, ft)
		}
	}
	return out
}
