package kernel

import (
	"iter"
	"net/netip"

	"github.com/routerd/routerd/internal/prefixmap"
	"github.com/routerd/routerd/internal/rib"
)

// prefixMap maps (table, prefix) to V: one prefixmap.Map per table. It
// holds the kernel's own routes as dumped at start or at a resync, until
// the comparison with the wanted state is done: keys packed without
// pointers, and a dump arrives in address order, which a prefixmap turns
// into appends to a leaf in cache instead of a cache miss per route.
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
