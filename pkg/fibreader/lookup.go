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
	// IPv6 shortcut tables for depths 32 and 40 (see ShortcutHome); a
	// table without them has a one-slot empty one, so that the batch walk
	// probes without a branch.
	sc32, sc40 shortcuts
}

// shortcuts is one shortcut table as lookups probe it.
type shortcuts struct {
	slots []uint64
	shift uint32 // 64 - log2(len(slots))
	mask  uint32 // len(slots) - 1
}

// emptyShortcut is the one empty slot of a missing shortcut table. Nothing
// writes it.
var emptyShortcut [1]uint64

func noShortcuts() shortcuts { return shortcuts{slots: emptyShortcut[:], shift: 63} }

func newShortcuts(s []uint64) shortcuts {
	if len(s) == 0 {
		return noShortcuts()
	}
	b := uint32(bits.TrailingZeros(uint(len(s))))
	return shortcuts{slots: s, shift: 64 - b, mask: uint32(len(s) - 1)}
}

func (s *shortcuts) home(key uint64) uint32 { return uint32(key*shortcutMul>>(s.shift&63)) & s.mask }

// probeOn looks for key (the slot bits keyMask selects) in the slots
// after its home slot i, up to the probe window or the first empty slot.
func (s *shortcuts) probeOn(i uint32, key, keyMask uint64) (uint64, bool) {
	for k := 1; k < ShortcutProbes; k++ {
		i = (i + 1) & s.mask
		w := atomic.LoadUint64(&s.slots[i])
		if w == 0 {
			break
		}
		if w&keyMask == key {
			return w, true
		}
	}
	return 0, false
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
func (t *Table) Lookup4(a uint32) Entry { return lookup4(t, a, (*Table).lookup4Node) }

// lookup4 is Lookup4 with its slow path passed in. Go's inliner charges a
// call through a parameter 17 of its budget of 80 and any other call 57;
// once Lookup4 is inlined, slow is a constant again. The root entry is a
// plain load: Go never tears a word-sized read, and a root entry needs no
// ordering with anything else. TestInlining checks that the fast paths
// still inline.
func lookup4(t *Table, a uint32, slow func(*Table, uint32) Entry) Entry {
	if e := t.root4[a>>(t.shift4&31)]; e&entryLink == 0 {
		return Entry(e)
	}
	return slow(t, a)
}

// lookup4Node walks below the root. The reclaim sequence read before and
// after the walk guards against a node the writer freed and reused while
// this reader was descheduled in the middle of it: the walk is repeated.
func (t *Table) lookup4Node(a uint32) Entry {
	for {
		seq := atomic.LoadUint64(t.reclaim)
		e := atomic.LoadUint32(&t.root4[a>>(t.shift4&31)])
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
func (t *Table) Lookup6(hi, lo uint64) Entry { return t.lookup6(hi, lo, zone6) }

// LookupAddr looks addr up in the table of its family. An IPv4-mapped IPv6
// address is looked up as IPv6; unmap it first for IPv4 semantics.
//
// It inlines (see lookup4 for how): as a call, it cost an IPv4 lookup a
// third more, because each lookup then took more of the processor's
// reorder window and fewer of their memory reads overlapped.
func (t *Table) LookupAddr(addr netip.Addr) Entry { return lookupAddr(t, addr, (*Table).lookup6) }

// lookupAddr is LookupAddr's IPv4 fast path: the address's words are read
// in place (see rawAddr), and zone4 matches nothing when the layout check
// failed. Everything else goes to slow, which is lookup6 (so that an IPv6
// LookupAddr makes one call, not two).
func lookupAddr(t *Table, addr netip.Addr, slow func(*Table, uint64, uint64, unsafe.Pointer) Entry) Entry {
	r := (*addrRep)(unsafe.Pointer(&addr))
	if addrSized && r.z == zone4 {
		if e := t.root4[uint32(r.lo)>>(t.shift4&31)]; e&entryLink == 0 {
			return Entry(e)
		}
	}
	if !addrSized {
		return t.lookupOther(addr)
	}
	return slow(t, r.hi, r.lo, r.z)
}

// lookupOther is LookupAddr of what its fast paths leave: an IPv4 address
// whose root entry is a link, and any address when the layout check
// failed.
func (t *Table) lookupOther(addr netip.Addr) Entry {
	v4, hi, lo, fam := rawAddr(&addr)
	switch fam {
	case 4:
		return t.lookup4Node(v4)
	case 6:
		return t.lookup6(hi, lo, zone6)
	}
	return 0
}

// lookup6 walks from the root, or from the node a shortcut table names,
// through the compressed nodes. The reclaim sequence read before and after
// the walk guards against a node the writer freed and reused while this
// reader was descheduled in the middle of it: the walk is repeated.
//
// z is the zone handle of the netip.Addr that hi and lo come from (zone6
// for a raw address); with any other, this is LookupAddr's slow path.
func (t *Table) lookup6(hi, lo uint64, z unsafe.Pointer) Entry {
	if z != zone6 {
		return t.lookupOther(*(*netip.Addr)(unsafe.Pointer(&addrRep{hi, lo, z})))
	}
	sh := t.shift6 & 63
	e := t.root6[hi>>sh]
	if e&entryLink == 0 {
		return Entry(e) // roots are never freed
	}
	c64, c32 := t.comp64, t.comp32
	for {
		seq := atomic.LoadUint64(t.reclaim)
		e = atomic.LoadUint32(&t.root6[hi>>sh])
		d := t.bits6
		if e&entryLink != 0 {
			if l, ld, ok := t.shortcut(hi); ok {
				e, d = l, ld
			}
		}
		// The address bits below depth d, top-aligned: each step takes
		// the top byte. No walk starts above depth 8, so more than 15
		// steps pass depth 128: the file is corrupt there.
		d &= 63
		kh, kl := hi<<d|lo>>(64-d), lo<<d
		for n := 0; e&entryLink != 0; n++ {
			if n == 15 {
				e = 0
				break
			}
			e = step6(c64, c32, e, kh>>56)
			kh, kl = kh<<8|kl>>56, kl<<8
		}
		if atomic.LoadUint64(t.reclaim) == seq {
			return Entry(e)
		}
	}
}

// shortcut finds where the walk of the address whose top half is hi can
// start below the root: the link to its node at depth 40 or, failing
// that, the entry of its /32 (a link to its node at depth 32, or the leaf
// that answers the lookup), from the shortcut tables.
func (t *Table) shortcut(hi uint64) (e, d uint32, ok bool) {
	k40, k32 := hi>>24, hi>>32
	i40, i32 := t.sc40.home(k40), t.sc32.home(k32)
	// Both home slots first: the loads are independent and overlap.
	w40 := atomic.LoadUint64(&t.sc40.slots[i40])
	w32 := atomic.LoadUint64(&t.sc32.slots[i32])
	if w40 != 0 {
		if w40&ShortcutKeyMask == k40 {
			return EncodeLink(uint32(w40 >> 40)), 40, true
		}
		if w, ok := t.sc40.probeOn(i40, k40, ShortcutKeyMask); ok {
			return EncodeLink(uint32(w >> 40)), 40, true
		}
	}
	if w32 != 0 {
		if w32&ShortcutKeyMask32 == k32 {
			return uint32(w32 >> 32), 32, true
		}
		if w, ok := t.sc32.probeOn(i32, k32, ShortcutKeyMask32); ok {
			return uint32(w >> 32), 32, true
		}
	}
	return 0, 0, false
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
		e := atomic.LoadUint32(&t.root4[a>>(t.shift4&31)])
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
		root, sh := t.root6, (64-t.bits6)&63
		link := uint32(0)
		for i, a := range addrs {
			e := atomic.LoadUint32(&root[a.Hi>>sh])
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
	// Each lane keeps the 64 address bits below its depth top-aligned in
	// kh, so a step takes the next stride from the top and shifts by 8,
	// whatever the depth. That lasts eight steps; the rare lookup that
	// needs more (a prefix longer than /80 below a shortcut) is finished
	// by the single walk. act lists the lanes still below a link; each
	// level walks only those and compacts the list without a branch, so
	// finished lookups cost nothing.
	var act [batch6]uint8
	var kh [batch6]uint64
	n := 0
	// Lookups found in a shortcut table start at depth 40 or 32 (or end
	// there, on a /32's leaf), the others at the root's link; all walk together, each at its own depth
	// (walking the others down first would serialise their extra levels).
	// Only each key's home slots are probed (keys away from their home
	// slot are rare), all in a loop of their own so that the loads
	// overlap; the choice follows in a second loop (one loop holding both
	// kept too many values live: its spills cost 3 ns per lookup).
	addrs = addrs[:min(len(addrs), batch6)]
	var w40, w32 [batch6]uint64
	// The tables' fields in locals: the compiler would load them again
	// for every lane.
	sl40, sh40, m40 := t.sc40.slots, t.sc40.shift&63, t.sc40.mask
	sl32, sh32, m32 := t.sc32.slots, t.sc32.shift&63, t.sc32.mask
	for i, a := range addrs {
		w40[i&(batch6-1)] = atomic.LoadUint64(&sl40[uint32(a.Hi>>24*shortcutMul>>sh40)&m40])
		w32[i&(batch6-1)] = atomic.LoadUint64(&sl32[uint32(a.Hi>>32*shortcutMul>>sh32)&m32])
	}
	b6 := t.bits6
	c64, c32 := t.comp64, t.comp32
	for i, a := range addrs {
		i &= batch6 - 1
		e := uint32(out[i])
		if e&entryLink == 0 {
			continue
		}
		// A hit needs an occupied slot (offset not 0); the deeper one
		// wins.
		d := b6
		if w := w32[i]; uint32(w) == uint32(a.Hi>>32) && w >= 1<<32 {
			e, d = uint32(w>>32), 32
		}
		if w := w40[i]; w&ShortcutKeyMask == a.Hi>>24 && w >= 1<<40 {
			e, d = EncodeLink(uint32(w>>40)), 40
		}
		if e&entryLink == 0 {
			out[i] = Entry(e) // a /32's leaf
			continue
		}
		d &= 63
		h := a.Hi<<d | a.Lo>>((64-d)&63)
		// The first step at once: its node's address is known now.
		e = step6(c64, c32, e, h>>56)
		out[i] = Entry(e)
		kh[i] = h << 8
		act[n&(batch6-1)] = uint8(i)
		n += int(e >> 31)
	}
	for level := 1; n > 0; level++ {
		if level == 8 {
			for _, i := range act[:n] {
				i &= batch6 - 1
				out[i] = t.lookup6(addrs[i].Hi, addrs[i].Lo, zone6)
			}
			break
		}
		m := 0
		for _, i := range act[:n] {
			i &= batch6 - 1
			h := kh[i]
			e := step6(c64, c32, uint32(out[i]), h>>56)
			out[i] = Entry(e)
			kh[i] = h << 8
			act[m] = i
			m += int(e >> 31)
		}
		n = m
	}
	return atomic.LoadUint64(t.reclaim) == seq
}

// step6 is one step of a walk through the compressed nodes: from the link
// e, the entry for the next stride b. The rank of b's run is the run count
// before b's quarter plus the run starts up to b. A link outside the pool
// ends the walk with no route.
func step6(c64 []uint64, c32 []uint32, e uint32, b uint64) uint32 {
	o := uint(e & entryNodeMask)
	if o+CompHeaderWords > uint(len(c64)) {
		return 0
	}
	bm := c64[o+uint(b>>6)]
	bases := c64[o+4]
	j := 2*o + (2*CompHeaderWords - 1) + uint(bases>>(b>>2&48)&0xffff) + uint(bits.OnesCount64(bm<<(^b&63)))
	if j >= uint(len(c32)) {
		return 0
	}
	return c32[j]
}

// LookupAddrs looks up a batch of addresses of either family. It converts
// them to raw form and uses the batch walks; out must be at least as long
// as addrs.
func (t *Table) LookupAddrs(addrs []netip.Addr, out []Entry) {
	// Chunks of batch6 addresses: their IPv6 ones are walked together
	// (batch6 lanes, as Lookup6Batch does), their IPv4 ones batch at a
	// time.
	var a4 [batch6]uint32
	var a6 [batch6]Addr6
	var i4, i6 [batch6]int
	var o [batch6]Entry
	out = out[:len(addrs)]
	for start := 0; start < len(addrs); start += batch6 {
		chunk := addrs[start:min(start+batch6, len(addrs))]
		n4, n6 := 0, 0
		z4, z6 := zone4, zone6
		for i := range chunk {
			// The fields read in place (rawAddr's fast path, inline: the
			// call cost a fifth of the batch); z4 and z6 match nothing
			// when the layout check failed.
			r := (*addrRep)(unsafe.Pointer(&chunk[i]))
			v4, hi, lo, fam := uint32(r.lo), r.hi, r.lo, 0
			switch r.z {
			case z6:
				fam = 6
			case z4:
				fam = 4
			default:
				v4, hi, lo, fam = rawAddr(&chunk[i])
			}
			switch fam {
			case 4:
				a4[n4&(batch6-1)], i4[n4&(batch6-1)] = v4, i
				n4++
			case 6:
				a6[n6&(batch6-1)], i6[n6&(batch6-1)] = Addr6{hi, lo}, i
				n6++
			default:
				out[start+i] = 0
			}
		}
		for k := 0; k < n4; k += batch {
			t.lookup4Chunk(a4[k:min(k+batch, n4)], o[k:min(k+batch, n4)])
		}
		for k := 0; k < n4; k++ {
			out[start+i4[k]] = o[k]
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
	c.sc32, c.sc40 = noShortcuts(), noShortcuts()
	return &c
}
