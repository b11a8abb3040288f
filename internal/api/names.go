package api

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/routerd/routerd/internal/rib"
)

// names maps table and interface names to numbers and back for one request
// (or one watch stream). Interfaces are loaded on first use; a stream reloads
// them when it meets an index it does not know, at most once a second.
type names struct {
	tables  map[string]rib.Table
	tableBy map[rib.Table]string

	backend  Backend
	mu       sync.Mutex
	loaded   time.Time
	ifByName map[string]int32
	ifByIdx  map[int32]string
	ifErr    error
}

var builtinTables = map[string]rib.Table{"main": rib.TableMain, "default": rib.TableDefault, "local": rib.TableLocal}

func newNames(b Backend) *names {
	n := &names{backend: b}
	var extra map[string]rib.Table
	if b != nil {
		extra = b.Tables()
	}
	n.setTables(extra)
	return n
}

func (n *names) setTables(extra map[string]rib.Table) {
	n.tables = make(map[string]rib.Table, len(builtinTables)+len(extra))
	n.tableBy = make(map[rib.Table]string, len(builtinTables)+len(extra))
	for name, t := range extra {
		if t != 0 && name != "" {
			n.tables[name] = t
		}
	}
	// The built-in names win: "main" always means 254.
	maps.Copy(n.tables, builtinTables)
	for name, t := range n.tables {
		if old, ok := n.tableBy[t]; !ok || name < old {
			n.tableBy[t] = name
		}
	}
	for name, t := range builtinTables {
		n.tableBy[t] = name
	}
}

// tableName is a table's name if it has one, else its number.
func (n *names) tableName(t rib.Table) string {
	if s, ok := n.tableBy[t]; ok {
		return s
	}
	return strconv.FormatUint(uint64(t), 10)
}

// parseTable reads a table name or number; empty gives def.
func (n *names) parseTable(s string, def rib.Table) (rib.Table, error) {
	if s == "" {
		return def, nil
	}
	if t, ok := n.tables[s]; ok {
		return t, nil
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		known := slices.Sorted(maps.Keys(n.tables))
		return 0, fmt.Errorf("unknown table %q (known names: %s; or a number 1..4294967295)", s, strings.Join(known, ", "))
	}
	if v == 0 {
		return 0, fmt.Errorf("table 0 is not a routing table")
	}
	return rib.Table(v), nil
}

func (n *names) loadInterfaces(force bool) {
	if n.ifByIdx != nil && !force {
		return
	}
	if force && time.Since(n.loaded) < time.Second {
		return
	}
	n.loaded = time.Now()
	byName := map[string]int32{}
	byIdx := map[int32]string{}
	if n.backend != nil {
		ifs, err := n.backend.Interfaces()
		n.ifErr = err
		for _, i := range ifs {
			byName[i.Name] = i.Index
			byIdx[i.Index] = i.Name
		}
	}
	n.ifByName, n.ifByIdx = byName, byIdx
}

// ifName returns the name of an interface index, or "" if unknown.
func (n *names) ifName(idx int32) string {
	if idx == 0 {
		return ""
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.loadInterfaces(false)
	if s, ok := n.ifByIdx[idx]; ok {
		return s
	}
	n.loadInterfaces(true)
	return n.ifByIdx[idx]
}

// ifIndex returns the index of a named interface.
func (n *names) ifIndex(name string) (int32, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.loadInterfaces(false)
	if i, ok := n.ifByName[name]; ok {
		return i, nil
	}
	if n.ifErr != nil {
		return 0, fmt.Errorf("interface %q: cannot list interfaces: %v", name, n.ifErr)
	}
	return 0, fmt.Errorf("unknown interface %q", name)
}
