package kernel

import (
	"iter"
	"net/netip"

	"github.com/routerd/routerd/internal/prefixmap"
	"github.com/routerd/routerd/internal/rib"
)

// prefixMap maps (table, prefix) to V: one prefixmap.Map per table. A
// prefixmap keeps keys packed without pointers (4 bytes for an IPv4 prefix
// in its leaves, 16 for IPv6) and values in arrays of their own, so a
// 5-byte entry costs 5 bytes, where a Go map's slot pads key and value and
// keeps an eighth of its slots free; and routes arrive mostly in address
// order (a BGP table, a kernel dump, the RIB's own walks), which a
// prefixmap turns into appends to a leaf in cache instead of a cache miss
// per route. After a bulk load compact packs its leaves.
type prefixMap[V any] struct {
	tables map[rib.Table]*prefixmap.Map[V]
	// The table last used: updates come table by table, so this saves a
	// map lookup per route.
	lastID rib.Table
	last   *prefixmap.Map[V]
}

// mkey packs a prefix. Prefixes from the RIB and from kernel messages are
// masked already; prefixmap.From masks anyway, as its trie requires.
func mkey(p netip.Prefix) prefixmap.Key { return prefixmap.From(p) }

func (m *prefixMap[V]) table(t rib.Table, create bool) *prefixmap.Map[V] {
	if m.last != nil && m.lastID == t {
		return m.last
	}
	tp := m.tables[t]
	if tp == nil && create {
		if m.tables == nil {
			m.tables = make(map[rib.Table]*prefixmap.Map[V])
		}
		tp = new(prefixmap.Map[V])
		m.tables[t] = tp
	}
	if tp != nil {
		m.lastID, m.last = t, tp
	}
	return tp
}

func (m *prefixMap[V]) get(k rib.Key) (V, bool) {
	if tp := m.table(k.Table, false); tp != nil {
		return tp.Get(mkey(k.Prefix))
	}
	var v V
	return v, false
}

// ptr returns a pointer to k's value, or nil; it is valid until the next
// set or del.
func (m *prefixMap[V]) ptr(k rib.Key) *V {
	if tp := m.table(k.Table, false); tp != nil {
		return tp.Ptr(mkey(k.Prefix))
	}
	return nil
}

// entry returns a pointer to k's value, adding k with the zero value when
// absent, and whether k was present; valid until the next set or del.
func (m *prefixMap[V]) entry(k rib.Key) (*V, bool) {
	return m.table(k.Table, true).Entry(mkey(k.Prefix))
}

func (m *prefixMap[V]) set(k rib.Key, v V) {
	m.table(k.Table, true).Put(mkey(k.Prefix), v)
}

func (m *prefixMap[V]) del(k rib.Key) {
	if tp := m.table(k.Table, false); tp != nil {
		tp.Delete(mkey(k.Prefix))
	}
}

// all iterates over every entry, table by table in address order; the
// body may change the value it is given, and must not add or delete keys
// of this map.
func (m *prefixMap[V]) all() iter.Seq2[rib.Key, *V] {
	return func(yield func(rib.Key, *V) bool) {
		for t, tp := range m.tables {
			for pk, v := range tp.All() {
				if !yield(rib.Key{Table: t, Prefix: pk.Prefix()}, v) {
					return
				}
			}
		}
	}
}

func (m *prefixMap[V]) len() int {
	n := 0
	for _, tp := range m.tables {
		n += tp.Len()
	}
	return n
}

// compact packs every table (see prefixmap.Map.Compact) and drops empty
// ones.
func (m *prefixMap[V]) compact() {
	for t, tp := range m.tables {
		if tp.Len() == 0 {
			delete(m.tables, t)
			continue
		}
		tp.Compact()
	}
	m.lastID, m.last = 0, nil
}
