package config

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// restartRequired lists the settings a running daemon cannot change: a
// reload that changes one of them must be refused or need a restart.
//
//   - api.socket: clients and the service manager know the old path.
//   - kernel.protocol: it is how routerd recognises its own kernel routes;
//     changing it live would orphan every installed route.
//   - fib.path: readers in other processes have the old file mapped.
//   - fib.group, fib.mode, fib.max-tables, fib.nodes, fib.groups: the
//     file's owner, permissions and capacity are set when it is created.
var restartRequired = []string{"api.socket", "kernel.protocol", "fib.path",
	"fib.group", "fib.mode", "fib.max-tables", "fib.nodes", "fib.groups"}

// Changes is what differs between two configurations, as found by Diff.
type Changes struct {
	// Settings lists the keys whose values differ, as dotted paths in
	// the order of the Config type: "log.level", "kernel.metric",
	// "tables.isp2", "router-id". Static routes are reported apart.
	Settings []string
	// StaticAdded, StaticRemoved and StaticChanged are the static routes
	// that are new, gone or different, keyed by table and prefix and
	// sorted by that key.
	StaticAdded   []StaticRoute
	StaticRemoved []StaticRoute
	StaticChanged []RouteChange
	// RestartRequired is the subset of Settings that the running daemon
	// cannot apply (see the configuration reference). The caller decides
	// whether to refuse the reload or apply the rest.
	RestartRequired []string
}

// RouteChange is a static route whose table and prefix stayed while
// something else about it changed.
type RouteChange struct {
	Old, New StaticRoute
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool {
	return len(c.Settings) == 0 && len(c.StaticAdded) == 0 &&
		len(c.StaticRemoved) == 0 && len(c.StaticChanged) == 0
}

// Changed reports whether the setting key, or any setting in the section
// key names, changed: Changed("kernel") is true when kernel.metric changed.
// Changed("static") reports changes to static routes.
func (c Changes) Changed(key string) bool {
	if key == "static" {
		return len(c.StaticAdded)+len(c.StaticRemoved)+len(c.StaticChanged) > 0
	}
	for _, s := range c.Settings {
		if s == key || strings.HasPrefix(s, key+".") {
			return true
		}
	}
	return false
}

// String summarises the changes for a log line.
func (c Changes) String() string {
	if c.Empty() {
		return "no changes"
	}
	var parts []string
	if len(c.Settings) > 0 {
		parts = append(parts, "settings: "+strings.Join(c.Settings, ", "))
	}
	if c.Changed("static") {
		parts = append(parts, fmt.Sprintf("static routes: %d added, %d removed, %d changed",
			len(c.StaticAdded), len(c.StaticRemoved), len(c.StaticChanged)))
	}
	if len(c.RestartRequired) > 0 {
		parts = append(parts, "restart required for: "+strings.Join(c.RestartRequired, ", "))
	}
	return strings.Join(parts, "; ")
}

// Diff compares the running configuration old with a newly loaded one. A
// nil old is taken as an empty configuration, so every route is added.
// Static routes are compared by table and prefix, so reordering them in
// the file is no change.
func Diff(old, new *Config) Changes {
	if old == nil {
		old = &Config{}
	}
	if new == nil {
		new = &Config{}
	}
	var ch Changes
	ov, nv := reflect.ValueOf(old).Elem(), reflect.ValueOf(new).Elem()
	t := ov.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key := f.Tag.Get("key")
		if key == "static" {
			continue
		}
		ch.Settings = append(ch.Settings, diffValue(key, ov.Field(i), nv.Field(i))...)
	}
	for _, s := range ch.Settings {
		if slices.Contains(restartRequired, s) {
			ch.RestartRequired = append(ch.RestartRequired, s)
		}
	}
	diffStatic(&ch, old.Static, new.Static)
	return ch
}

// diffValue lists the keys under key whose values differ. Structs are
// compared field by field (named by their key tags) and maps entry by
// entry, so that a new section needs no code here.
func diffValue(key string, a, b reflect.Value) []string {
	switch a.Kind() {
	case reflect.Struct:
		if a.Type().Comparable() && a.Interface() == b.Interface() {
			return nil
		}
		if a.NumField() == 0 {
			return nil
		}
		if k := a.Type().Field(0).Tag.Get("key"); k == "" {
			// A struct that is a single value (netip.Addr) rather than
			// a section.
			if !reflect.DeepEqual(a.Interface(), b.Interface()) {
				return []string{key}
			}
			return nil
		}
		var out []string
		for i := range a.NumField() {
			out = append(out, diffValue(join(key, a.Type().Field(i).Tag.Get("key")), a.Field(i), b.Field(i))...)
		}
		return out
	case reflect.Map:
		var keys []string
		for _, k := range a.MapKeys() {
			keys = append(keys, k.String())
		}
		for _, k := range b.MapKeys() {
			if !a.MapIndex(k).IsValid() {
				keys = append(keys, k.String())
			}
		}
		slices.Sort(keys)
		var out []string
		for _, k := range keys {
			kv := reflect.ValueOf(k)
			x, y := a.MapIndex(kv), b.MapIndex(kv)
			if !x.IsValid() || !y.IsValid() || !reflect.DeepEqual(x.Interface(), y.Interface()) {
				out = append(out, join(key, k))
			}
		}
		return out
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		return []string{key}
	}
	return nil
}

func compareKeys(a, b RouteKey) int {
	if c := cmp.Compare(a.Table, b.Table); c != 0 {
		return c
	}
	if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits())
}

func diffStatic(ch *Changes, old, new []StaticRoute) {
	byKey := make(map[RouteKey]StaticRoute, len(old))
	for _, r := range old {
		byKey[r.Key()] = r
	}
	seen := make(map[RouteKey]bool, len(new))
	for _, r := range new {
		seen[r.Key()] = true
		o, ok := byKey[r.Key()]
		switch {
		case !ok:
			ch.StaticAdded = append(ch.StaticAdded, r)
		case !o.Equal(r):
			ch.StaticChanged = append(ch.StaticChanged, RouteChange{Old: o, New: r})
		}
	}
	for _, r := range old {
		if !seen[r.Key()] {
			ch.StaticRemoved = append(ch.StaticRemoved, r)
		}
	}
	byRoute := func(a, b StaticRoute) int { return compareKeys(a.Key(), b.Key()) }
	slices.SortFunc(ch.StaticAdded, byRoute)
	slices.SortFunc(ch.StaticRemoved, byRoute)
	slices.SortFunc(ch.StaticChanged, func(a, b RouteChange) int { return compareKeys(a.New.Key(), b.New.Key()) })
}
