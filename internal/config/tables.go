package config

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// reservedTables are the table names iproute2 and the kernel give fixed
// numbers; a route names them directly, the tables section may not
// redefine them.
var reservedTables = map[string]uint32{
	"unspec":  0,
	"default": TableDefault,
	"main":    TableMain,
	"local":   TableLocal,
}

func decodeTables(d *decoder, n *yaml.Node, c *Config) {
	c.Tables = map[string]uint32{}
	if n == nil {
		return
	}
	m, _ := d.mapping(n, "tables", nil)
	byNumber := map[uint32]pair{}
	for _, p := range m.pairs {
		path := join("tables", p.key)
		if !validTableName(p.key) {
			d.errorf(p.kn, path, "%q is not a valid table name (a letter or '_' first, then letters, digits, '_', '-' or '.')", p.key)
			continue
		}
		if num, ok := reservedTables[p.key]; ok {
			d.errorf(p.kn, path, "table name %q is built in (table %d) and cannot be redefined", p.key, num)
			continue
		}
		v, ok := d.uint(p.v, path, 1, 1<<32-1)
		if !ok {
			continue
		}
		num := uint32(v)
		if name := builtinTableName(num); name != "" {
			d.errorf(p.v, path, "table %d is the built-in table %q; use that name in routes instead", num, name)
			continue
		}
		if prev, dup := byNumber[num]; dup {
			d.errorf(p.v, path, "table %d is already named %q at line %d", num, prev.key, prev.kn.Line)
			continue
		}
		byNumber[num] = p
		c.Tables[p.key] = num
	}
}

func builtinTableName(num uint32) string {
	for name, n := range reservedTables {
		if n == num && name != "unspec" {
			return name
		}
	}
	return ""
}

func validTableName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter {
			return false
		}
		if !letter && !(c >= '0' && c <= '9') && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// table resolves a route's table: main, default, a name from the tables
// section, or a number 1..2^32-1 other than 255 (local, the kernel's).
func (d *decoder) table(n *yaml.Node, path string, tables map[string]uint32) (uint32, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	if isDecimal(s) {
		v, ok := d.uint(n, path, 0, 1<<32-1)
		if !ok {
			return 0, false
		}
		return d.checkTable(n, path, uint32(v), s)
	}
	if num, ok := reservedTables[s]; ok && s != "unspec" {
		return d.checkTable(n, path, num, s)
	}
	if num, ok := tables[s]; ok {
		return num, true
	}
	msg := fmt.Sprintf("unknown table %q; define it under tables: or give a number", s)
	d.errorf(n, path, "%s", msg)
	return 0, false
}

func (d *decoder) checkTable(n *yaml.Node, path string, num uint32, as string) (uint32, bool) {
	switch num {
	case 0:
		d.errorf(n, path, "table 0 is not a table (unspec)")
		return 0, false
	case TableLocal:
		d.errorf(n, path, "table %s (255) is the kernel's local table; routerd does not put routes there", as)
		return 0, false
	}
	return num, true
}
