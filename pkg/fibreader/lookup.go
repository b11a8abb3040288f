package fibreader

import (
	"math/bits"
	"net/netip"
	"sync/atomic"
	"unsafe"
)

// Table is one routing table inside a FIB: the raw lookup path. Its methods
// are lock-free and safe for concurrent use.
type Table struct {
	r       *Reader
	id      uint32
	base    int
	root4   []uint32
	shift4  uint32
	root6   []uint32
	bits6   uint32
	shift6  uint32 // 64 - bits6
	nodes   []uint32
	comp64  []uint64
	comp32  []uint32
	reclaim *uint64
	sc      []uint64 // IPv6 shortcut table (see ShortcutBits), nil if none
	scShift uint32   // 32 - log2(len(sc))
}

// ID is the routing table id.
func (t *Table) ID() uint32 { return t.id }

// Prefixes returns the number of IPv4 and IPv6 prefixes in the table.
func (t *Table) Prefixes() (v4, v6 uint32) {
	return t.r.load32(t.base + tdPrefixes4), t.r.load32(t.base + tdPrefixes6)
}

// Lookup4 finds the longest prefix matching the IPv4 address a (host
// order, as binary.BigEndian.Uint32 of the four bytes). It is small enough
// to be inlined: most IPv4 lookups end at the root, which is never freed,
// so they need no check of the reclaim sequence.
func (t *Table) Lookup4(a uint32) Entry {
	// A plain load: Go never tears a word-sized read, and a root entry
	// needs no ordering with anything else. (Kept this short so that the
	// function inlines into the caller's loop.)
	e := t.root4[a>>t.shift4]
	if e&entryLink != 0 {
		return t.lookup4Node(a)
	}
	return Entry(e)
}

// lookup4Node walks below the root. The reclaim sequence read before and
// after the walk guards against a node the writer freed and reused while
// this reader was descheduled in the middle of it: the walk is repeated.
func (t *Table) lookup4Node(a uint32) Entry {
	for {
		seq := atomic.LoadUint64(t.reclaim)
		e := atomic.LoadUint32(&t.root4[a>>t.shift4])
		if e&entryLink != 0 {
			e = t.walk4(e, a)
		}
		if atomic.LoadUint64(t.reclaim) == seq {
			return Entry(e)
		}
	}
}

func (t *Table) walk4(e, a uint32) uint32 {
	s := t.shift4
	nodes := t.nodes
	for e&entryLink != 0 {
		if s < 8 {
			return 0 // corrupt: a link below the last stride
		}
		s -= 8
		i := uint(e&entryNodeMask)<<8 | uint(a>>s&0xff)
		if i >= uint(len(nodes)) {
			return 0
		}
		e = atomic.LoadUint32(&nodes[i])
	}
	return e
}

// Lookup6 finds the longest prefix matching the IPv6 address whose first
// and last eight bytes, big-endian, are hi and lo.
func (t *Table) Lookup6(hi, lo uint64) Entry {
	e := t.root6[hi>>t.shift6]
	if e&entryLink != 0 {
		return t.lookup6Node(hi, lo)
	}
	return Entry(e)
}

func (t *Table) lookup6Node(hi, lo uint64) Entry {
	for {
		seq := atomic.LoadUint64(t.reclaim)
		e := atomic.LoadUint32(&t.root6[hi>>(64-t.bits6)])
		if e&entryLink != 0 {
			d := t.bits6
			if l, ok := t.shortcut(hi); ok {
				e, d = l, ShortcutBits
			}
			e = t.walk6(e, d, hi, lo)
		}
		if atomic.LoadUint64(t.reclaim) == seq {
			return Entry(e)
		}
	}
}

// shortcut finds the link to the node at depth ShortcutBits for the
// address whose top half is hi, if the table has it in its shortcut table.
func (t *Table) shortcut(hi uint64) (uint32, bool) {
	sc := t.sc
	if len(sc) == 0 {
		return 0, false
	}
	key := uint32(hi >> 32)
	mask := uint32(len(sc) - 1)
	i := key * shortcutMul >> t.scShift
	for k := 0; k < ShortcutProbes; k++ {
		w := atomic.LoadUint64(&sc[i&mask])
		if w == 0 {
			break
		}
		if uint32(w) == key {
			return uint32(w >> 32), true
		}
		i++
	}
	return 0, false
}

// walk6 walks from the link e at depth d.
func (t *Table) walk6(e, d uint32, hi, lo uint64) uint32 {
	c64, c32 := t.comp64, t.comp32
	for e&entryLink != 0 {
		var b uint64
		switch {
		case d < 64:
			b = hi >> (56 - d) & 0xff
		case d < 128:
			b = lo >> (120 - d) & 0xff
		default:
			return 0 // corrupt: a link below the last stride
		}
		d += 8
		// One step, written out (a call costs more than the arithmetic):
		// the rank of b's run is the run count before b's quarter plus
		// the run starts up to b.
		o := uint(e & entryNodeMask)
		if o+CompHeaderWords > uint(len(c64)) {
			return 0
		}
		bm := atomic.LoadUint64(&c64[o+uint(b>>6)])
		bases := atomic.LoadUint64(&c64[o+4])
		i := 2*(o+CompHeaderWords) + uint(bases>>(16*(b>>6))&0xffff) + uint(bits.OnesCount64(bm&(2<<(b&63)-1))) - 1
		if i >= uint(len(c32)) {
			return 0
		}
		e = atomic.LoadUint32(&c32[i])
	}
	return e
}

// LookupAddr looks addr up in the table of its family. An IPv4-mapped IPv6
// address is looked up as IPv6; unmap it first for IPv4 semantics.
func (t *Table) LookupAddr(addr netip.Addr) Entry {
	r := (*addrRep)(unsafe.Pointer(&addr))
	if r.z == zone4 {
		return t.Lookup4(uint32(r.lo))
	}
	if r.z == zone6 {
		return t.lookup6(r.hi, r.lo)
	}
	return t.lookupAddr(&addr)
}

// lookup6 is Lookup6 with the walk in the same function: LookupAddr's
// IPv6 path makes one call instead of four.
func (t *Table) lookup6(hi, lo uint64) Entry {
	sh := t.shift6
	e := t.root6[hi>>sh]
	if e&entryLink == 0 {
		return Entry(e)
	}
	c64, c32 := t.comp64, t.comp32
	for {
		seq := atomic.LoadUint64(t.reclaim)
		e = atomic.LoadUint32(&t.root6[hi>>sh])
		d := t.bits6
		if e&entryLink != 0 {
			if l, ok := t.shortcut(hi); ok {
				e, d = l, ShortcutBits
			}
		}
		for e&entryLink != 0 {
			var b uint64
			switch {
			case d < 64:
				b = hi >> (56 - d) & 0xff
			case d < 128:
				b = lo >> (120 - d) & 0xff
			default:
				e = 0 // corrupt: a link below the last stride
				continue
			}
			d += 8
			// One step, as in walk6.
			o := uint(e & entryNodeMask)
			e = 0
			if o+CompHeaderWords <= uint(len(c64)) {
				q := uint(b >> 6)
				bm := atomic.LoadUint64(&c64[o+q])
				bases := atomic.LoadUint64(&c64[o+4])
				j := 2*(o+CompHeaderWords) + uint(bases>>(16*q)&0xffff) + uint(bits.OnesCount64(bm&(2<<(b&63)-1))) - 1
				if j < uint(len(c32)) {
					e = atomic.LoadUint32(&c32[j])
				}
			}
		}
		if atomic.LoadUint64(t.reclaim) == seq {
			return Entry(e)
		}
	}
}

func (t *Table) lookupAddr(addr *netip.Addr) Entry {
	v4, hi, lo, fam := rawAddr(addr)
	switch fam {
	case 4:
		return t.Lookup4(v4)
	case 6:
		return t.Lookup6(hi, lo)
	}
	return 0
}

// batch is the number of lookups walked together, level by level, so that
// their memory reads overlap.
const batch = 16

// batch6 is the number of IPv6 lookups walked together. IPv6 walks are
// longer and have more reads to overlap: 32 took 12-15 % off the full
// table's batched IPv6 lookups (per-thread CPU time, two alternated
// pairs), while 32 IPv4 lookups (mostly one root read each) were slower
// than 16.
const batch6 = 32

// Lookup4Batch looks up every address of addrs and stores the results in
// out, which must be at least as long.
func (t *Table) Lookup4Batch(addrs []uint32, out []Entry) {
	out = out[:len(addrs)]
	for len(addrs) > 0 {
		n := min(batch, len(addrs))
		t.lookup4Chunk(addrs[:n], out[:n])
		addrs, out = addrs[n:], out[n:]
	}
}

func (t *Table) lookup4Chunk(addrs []uint32, out []Entry) {
	link := uint32(0)
	for i, a := range addrs {
		e := atomic.LoadUint32(&t.root4[a>>t.shift4])
		out[i] = Entry(e)
		link |= e
	}
	if link&entryLink == 0 {
		return
	}
	for i, a := range addrs {
		if out[i]&entryLink != 0 {
			out[i] = t.lookup4Node(a)
		}
	}
}

// Addr6 is an IPv6 address as two big-endian halves, the raw form of the
// batch call.
type Addr6 struct{ Hi, Lo uint64 }

// Lookup6Batch looks up every address of addrs and stores the results in
// out, which must be at least as long.
func (t *Table) Lookup6Batch(addrs []Addr6, out []Entry) {
	out = out[:len(addrs)]
	for len(addrs) > 0 {
		n := min(batch6, len(addrs))
		t.lookup6Chunk(addrs[:n], out[:n])
		addrs, out = addrs[n:], out[n:]
	}
}

func (t *Table) lookup6Chunk(addrs []Addr6, out []Entry) {
	for {
		seq := atomic.LoadUint64(t.reclaim)
		sh := 64 - t.bits6
		link := uint32(0)
		for i, a := range addrs {
			e := atomic.LoadUint32(&t.root6[a.Hi>>sh])
			out[i] = Entry(e)
			link |= e
		}
		if link&entryLink == 0 {
			return // roots are never freed
		}
		if t.walk6Chunk(addrs, out, seq) {
			return
		}
	}
}

// walk6Chunk walks the lookups of addrs whose root entry in out is a link,
// and reports whether the reclaim sequence is still seq.
func (t *Table) walk6Chunk(addrs []Addr6, out []Entry, seq uint64) bool {
	// act lists the lookups still below a link. Each level walks only those
	// and compacts the list without a branch, so finished lookups cost
	// nothing and there is no unpredictable skip per address.
	var act [batch6]uint8
	n := 0
	if len(t.sc) == 0 {
		for i, e := range out[:len(addrs)] {
			act[n&(batch6-1)] = uint8(i)
			n += int(e >> 31)
		}
		t.walk6Levels(addrs, out, &act, n, t.bits6)
		return atomic.LoadUint64(t.reclaim) == seq
	}
	// Lookups found in the shortcut table start at depth ShortcutBits, the
	// others at the root's link; all walk together, each at its own depth
	// (walking the others down to depth 32 first would serialise their two
	// extra levels). Only each key's home slot is probed, without a
	// branch: a mispredicted branch on a probe that misses the cache would
	// stall the probes behind it, and keys away from their home slot are
	// rare.
	var dd [batch6]uint32
	sc, mask := t.sc, uint32(len(t.sc)-1)
	for i, e := range out[:len(addrs)] {
		key := uint32(addrs[i].Hi >> 32)
		s := atomic.LoadUint64(&sc[key*shortcutMul>>t.scShift&mask])
		h := uint32(0)
		if uint32(s) == key {
			h = 1
		}
		h &= uint32(s>>63) & (uint32(e) >> 31) // an occupied slot, below a link
		m := -h                                // all ones on a hit
		out[i] = Entry(uint32(e)&^m | uint32(s>>32)&m)
		dd[i&(batch6-1)] = t.bits6&^m | ShortcutBits&m
		act[n&(batch6-1)] = uint8(i)
		n += int(uint32(e) >> 31)
	}
	c64, c32 := t.comp64, t.comp32
	for n > 0 {
		m := 0
		for _, i := range act[:n] {
			i &= batch6 - 1
			d := dd[i]
			var b uint64
			if d < 64 {
				b = addrs[i].Hi >> (56 - d) & 0xff
			} else {
				b = addrs[i].Lo >> (120 - d) & 0xff
			}
			// One step, as in walk6 (a link below the last stride is
			// corrupt and ends the lookup with no route).
			e := uint32(0)
			if o := uint(out[i] & entryNodeMask); d < 128 && o+CompHeaderWords <= uint(len(c64)) {
				q := uint(b >> 6)
				bm := atomic.LoadUint64(&c64[o+q])
				bases := atomic.LoadUint64(&c64[o+4])
				j := 2*(o+CompHeaderWords) + uint(bases>>(16*q)&0xffff) + uint(bits.OnesCount64(bm&(2<<(b&63)-1))) - 1
				if j < uint(len(c32)) {
					e = atomic.LoadUint32(&c32[j])
				}
			}
			out[i] = Entry(e)
			dd[i] = d + 8
			act[m] = i
			m += int(e >> 31)
		}
		n = m
	}
	return atomic.LoadUint64(t.reclaim) == seq
}

// walk6Levels walks the n lookups listed in act, all at links of depth
// d, level by level until they end.
func (t *Table) walk6Levels(addrs []Addr6, out []Entry, act *[batch6]uint8, n int, d uint32) {
	c64, c32 := t.comp64, t.comp32
	for n > 0 && d < 128 {
		m := 0
		for _, i := range act[:n] {
			var b uint64
			if d < 64 {
				b = addrs[i].Hi >> (56 - d) & 0xff
			} else {
				b = addrs[i].Lo >> (120 - d) & 0xff
			}
			// One step, as in walk6.
			e := uint32(0)
			if o := uint(out[i] & entryNodeMask); o+CompHeaderWords <= uint(len(c64)) {
				q := uint(b >> 6)
				bm := atomic.LoadUint64(&c64[o+q])
				bases := atomic.LoadUint64(&c64[o+4])
				j := 2*(o+CompHeaderWords) + uint(bases>>(16*q)&0xffff) + uint(bits.OnesCount64(bm&(2<<(b&63)-1))) - 1
				if j < uint(len(c32)) {
					e = atomic.LoadUint32(&c32[j])
				}
			}
			out[i] = Entry(e)
			act[m] = i
			m += int(e >> 31)
		}
		n = m
		d += 8
	}
	for _, i := range act[:n] {
		out[i] = 0 // corrupt: a link below the last stride
	}
}

// LookupAddrs looks up a batch of addresses of either family. It converts
// them to raw form and uses the batch walks; out must be at least as long
// as addrs.
func (t *Table) LookupAddrs(addrs []netip.Addr, out []Entry) {
	var a4 [batch]uint32
	var a6 [batch]Addr6
	var i4, i6 [batch]int
	var o [batch]Entry
	out = out[:len(addrs)]
	for start := 0; start < len(addrs); start += batch {
		chunk := addrs[start:min(start+batch, len(addrs))]
		n4, n6 := 0, 0
		for i := range chunk {
			v4, hi, lo, fam := rawAddr(&chunk[i])
			switch fam {
			case 4:
				a4[n4], i4[n4] = v4, i
				n4++
			case 6:
				a6[n6], i6[n6] = Addr6{hi, lo}, i
				n6++
			default:
				out[start+i] = 0
			}
		}
		if n4 > 0 {
			t.lookup4Chunk(a4[:n4], o[:n4])
			for k := 0; k < n4; k++ {
				out[start+i4[k]] = o[k]
			}
		}
		if n6 > 0 {
			t.lookup6Chunk(a6[:n6], o[:n6])
			for k := 0; k < n6; k++ {
				out[start+i6[k]] = o[k]
			}
		}
	}
}

// WithoutShortcuts returns a handle of the same table whose IPv6 lookups
// do not use the shortcut table (they walk from the root), for
// measurements and for tests that compare both paths.
func (t *Table) WithoutShortcuts() *Table {
	c := *t
	c.sc = nil
	return &c
}
