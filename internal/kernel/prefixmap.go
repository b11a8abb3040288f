package kernel

import (
	"encoding/binary"
	"net/netip"

	"github.com/routerd/routerd/internal/rib"
)

// prefixMap maps (table, prefix) to V with packed keys: an IPv4 prefix is one
// uint64 (address and length) and an IPv6 prefix two uint64s and a length,
// in one map per table and family. A netip.Prefix key with its table would
// take 40 bytes and a pointer the collector has to scan; this takes 8 (IPv4)
// or 24 (IPv6) bytes and no pointers.
type prefixMap[V any] struct {
	tables map[rib.Table]*tablePrefixes[V]
	n      int
	// The table last used: updates come table by table, so this saves a
	// map lookup per route.
	lastID rib.Table
	last   *tablePrefixes[V]
}

type key6 struct {
	hi, lo uint64
	bits   uint8
}

type tablePrefixes[V any] struct {
	v4 map[uint64]V
	v6 map[key6]V
}

func pack4(p netip.Prefix) uint64 {
	a := p.Addr().As4()
	return uint64(binary.BigEndian.Uint32(a[:]))<<8 | uint64(p.Bits())
}

func pack6(p netip.Prefix) key6 {
	a := p.Addr().As16()
	return key6{binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:]), uint8(p.Bits())}
}

func unpack4(k uint64) netip.Prefix {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], uint32(k>>8))
	return netip.PrefixFrom(netip.AddrFrom4(a), int(k&0xff))
}

func unpack6(k key6) netip.Prefix {
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], k.hi)
	binary.BigEndian.PutUint64(a[8:], k.lo)
	return netip.PrefixFrom(netip.AddrFrom16(a), int(k.bits))
}

func (m *prefixMap[V]) table(t rib.Table, create bool) *tablePrefixes[V] {
	if m.last != nil && m.lastID == t {
		return m.last
	}
	tp := m.tables[t]
	if tp != nil {
		m.lastID, m.last = t, tp
	}
	if tp == nil && create {
		if m.tables == nil {
			m.tables = make(map[rib.Table]*tablePrefixes[V])
		}
		tp = &tablePrefixes[V]{v4: make(map[uint64]V), v6: make(map[key6]V)}
		m.tables[t] = tp
	}
	return tp
}

func (m *prefixMap[V]) get(k rib.Key) (V, bool) {
	var v V
	tp := m.table(k.Table, false)
	if tp == nil {
		return v, false
	}
	var ok bool
	if k.Prefix.Addr().Is4() {
		v, ok = tp.v4[pack4(k.Prefix)]
	} else {
		v, ok = tp.v6[pack6(k.Prefix)]
	}
	return v, ok
}

func (m *prefixMap[V]) set(k rib.Key, v V) {
	tp := m.table(k.Table, true)
	// One map operation: the count follows the map's length.
	if k.Prefix.Addr().Is4() {
		n := len(tp.v4)
		tp.v4[pack4(k.Prefix)] = v
		m.n += len(tp.v4) - n
	} else {
		n := len(tp.v6)
		tp.v6[pack6(k.Prefix)] = v
		m.n += len(tp.v6) - n
	}
}

func (m *prefixMap[V]) del(k rib.Key) {
	tp := m.table(k.Table, false)
	if tp == nil {
		return
	}
	if k.Prefix.Addr().Is4() {
		n := len(tp.v4)
		delete(tp.v4, pack4(k.Prefix))
		m.n -= n - len(tp.v4)
	} else {
		n := len(tp.v6)
		delete(tp.v6, pack6(k.Prefix))
		m.n -= n - len(tp.v6)
	}
}

// each calls fn for every entry; fn may return a new value to store.
func (m *prefixMap[V]) each(fn func(k rib.Key, v V) (V, bool)) {
	for t, tp := range m.tables {
		for pk, v := range tp.v4 {
			if nv, ok := fn(rib.Key{Table: t, Prefix: unpack4(pk)}, v); ok {
				tp.v4[pk] = nv
			}
		}
		for pk, v := range tp.v6 {
			if nv, ok := fn(rib.Key{Table: t, Prefix: unpack6(pk)}, v); ok {
				tp.v6[pk] = nv
			}
		}
	}
}

func (m *prefixMap[V]) len() int { return m.n }
