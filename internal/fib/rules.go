package fib

import "math/bits"

// ruleSet is the writer's record of installed prefixes of one family of one
// table: an open-addressing hash table keyed by (masked address, length)
// holding the prefix's leaf entry (which carries the length). Linear
// probing with backward-shift deletion leaves no tombstones, so a table
// churned by withdraws and re-announcements keeps short probe sequences
// (Go's map degraded to about 1 µs per update under that churn).
type ruleSet struct {
	slots []rule
	mask  uint64
	n     int
	// The low halves of the IPv6 prefixes longer than /64 whose low half
	// is not zero (a few hundred in the full table), which a slot names by
	// index, and the free indexes.
	los     []uint64
	losFree []uint32
	present [3]uint64 // bit l set when some prefix of length l is installed
	byLen   [129]int32
	// short[l] has one bit per prefix of length l <= shortMax, so that the
	// search for a covering prefix tests bits in a few MiB instead of
	// probing the hash table (a cache miss each) for every length.
	short [shortMax + 1][]uint64
}

const shortMax = 24

func (rs *ruleSet) setShort(k key, l int, on bool) {
	if l > shortMax {
		return
	}
	if rs.short[l] == nil {
		rs.short[l] = make([]uint64, max(1, (1<<l)/64))
	}
	i := uint64(0)
	if l > 0 {
		i = k.hi >> (64 - l)
	}
	if on {
		rs.short[l][i/64] |= 1 << (i % 64)
	} else {
		rs.short[l][i/64] &^= 1 << (i % 64)
	}
}

func (rs *ruleSet) hasShort(k key, l int) bool {
	i := uint64(0)
	if l > 0 {
		i = k.hi >> (64 - l)
	}
	return rs.short[l][i/64]&(1<<(i%64)) != 0
}

// rule is one installed prefix: its address's top 64 bits and its leaf
// (which carries the length). 16 bytes: the low half of the address is
// zero for every IPv4 prefix and every IPv6 prefix up to /64, so it is
// kept aside for the few others. (With it in the slot, 24 bytes, the
// full table's IPv4 prefixes took 48 MiB of slots instead of 32.)
type rule struct {
	hi   uint64
	leaf uint32 // 0 marks an empty slot
	ext  uint32 // 1 + the index of the low half in ruleSet.los; 0: zero
}

// is reports whether r holds k/l.
func (rs *ruleSet) is(r *rule, k key, l int) bool {
	return r.hi == k.hi && leafBits(r.leaf) == l && rs.low(r) == k.lo
}

func (rs *ruleSet) low(r *rule) uint64 {
	if r.ext == 0 {
		return 0
	}
	return rs.los[r.ext-1]
}

// keyOf is the key of the prefix r holds.
func (rs *ruleSet) keyOf(r *rule) key { return key{r.hi, rs.low(r)} }

func hashKey(k key, l int) uint64 {
	x := k.hi ^ bits.RotateLeft64(k.lo, 29) ^ uint64(l)*0x9e3779b97f4a7c15
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 29
	x *= 0x94d049bb133111eb
	x ^= x >> 32
	return x
}

func (rs *ruleSet) get(k key, l int) (uint32, bool) {
	if rs.n == 0 {
		return 0, false
	}
	for i := hashKey(k, l) & rs.mask; ; i = (i + 1) & rs.mask {
		r := &rs.slots[i]
		if r.leaf == 0 {
			return 0, false
		}
		if rs.is(r, k, l) {
			return r.leaf, true
		}
	}
}

// find returns the slot of k/l and whether it holds k/l; if not, the
// slot is the empty one where setAt stores it. The table is grown first
// in case setAt adds a member, so that Insert and Delete probe once (the
// probe is the update's cache miss) and act on the slot afterwards;
// nothing may change the set in between.
func (rs *ruleSet) find(k key, l int) (uint64, bool) {
	if (rs.n+1)*10 > len(rs.slots)*7 {
		rs.grow()
	}
	for i := hashKey(k, l) & rs.mask; ; i = (i + 1) & rs.mask {
		r := &rs.slots[i]
		if r.leaf == 0 {
			return i, false
		}
		if rs.is(r, k, l) {
			return i, true
		}
	}
}

// setAt stores leaf for k/l at slot i from find: a new member if the slot
// is empty, a replacement otherwise.
func (rs *ruleSet) setAt(i uint64, k key, l int, leaf uint32) {
	r := &rs.slots[i]
	if r.leaf != 0 {
		r.leaf = leaf
		return
	}
	*r = rule{hi: k.hi, leaf: leaf}
	if k.lo != 0 {
		if n := len(rs.losFree); n > 0 {
			r.ext = rs.losFree[n-1] + 1
			rs.losFree = rs.losFree[:n-1]
			rs.los[r.ext-1] = k.lo
		} else {
			rs.los = append(rs.los, k.lo)
			r.ext = uint32(len(rs.los))
		}
	}
	rs.n++
	rs.setShort(k, l, true)
	if rs.byLen[l]++; rs.byLen[l] == 1 {
		rs.present[l/64] |= 1 << (l % 64)
	}
}

// delAt removes k/l, found at slot i.
func (rs *ruleSet) delAt(i uint64, k key, l int) {
	if x := rs.slots[i].ext; x != 0 {
		rs.losFree = append(rs.losFree, x-1)
	}
	// Shift later members of the probe run back into the hole.
	for j := (i + 1) & rs.mask; ; j = (j + 1) & rs.mask {
		r := rs.slots[j]
		if r.leaf == 0 {
			break
		}
		home := hashKey(rs.keyOf(&r), leafBits(r.leaf)) & rs.mask
		if (j-home)&rs.mask >= (j-i)&rs.mask {
			rs.slots[i] = r
			i = j
		}
	}
	rs.slots[i] = rule{}
	rs.n--
	rs.setShort(k, l, false)
	if rs.byLen[l]--; rs.byLen[l] == 0 {
		rs.present[l/64] &^= 1 << (l % 64)
	}
}

func (rs *ruleSet) grow() {
	old := rs.slots
	n := max(len(old)*2, 64)
	rs.slots = make([]rule, n)
	rs.mask = uint64(n - 1)
	for _, r := range old {
		if r.leaf == 0 {
			continue
		}
		for i := hashKey(rs.keyOf(&r), leafBits(r.leaf)) & rs.mask; ; i = (i + 1) & rs.mask {
			if rs.slots[i].leaf == 0 {
				rs.slots[i] = r
				break
			}
		}
	}
}

// cover finds the leaf of the longest installed prefix shorter than l that
// contains k, or 0. The probes for successive lengths do not depend on each
// other, so the CPU overlaps their cache misses.
func (rs *ruleSet) cover(k key, l int) uint32 {
	for l > 0 {
		l--
		w := l / 64
		m := rs.present[w] & (2<<(l%64) - 1)
		for m == 0 {
			if w == 0 {
				return 0
			}
			w--
			m = rs.present[w]
		}
		l = w*64 + bits.Len64(m) - 1
		if l <= shortMax && !rs.hasShort(k, l) {
			continue
		}
		if e, ok := rs.get(k.mask(l), l); ok {
			return e
		}
	}
	return 0
}
