package prefixmap

import "unsafe"

// arena hands out one family's leaf arrays, carved from chunks of
// chunkBytes and recycled by capacity class. A leaf's arrays are
// replaced a few times as it grows, and all of them when Compact packs
// the leaves; from Go's heap these short-lived arrays of every small size
// class would share spans with whatever long-lived small objects the
// program makes meanwhile (a BGP speaker's interned attributes, for one),
// and each such object keeps its span resident once the arrays are gone:
// 15 MiB of mostly empty spans after a full table, measured. From chunks,
// the arrays live in large objects only, which Compact drops whole.
type arena[K leafKey, V any] struct {
	keys pool[K]
	vals pool[V]
}

// pool is a free list per capacity class over a chunk being carved.
type pool[T any] struct {
	chunk []T // the current chunk's unused rest
	free  [len(classCap)][][]T
}

// classCap are the capacities handed out: about 1.4 times apart, so that
// a leaf growing by half moves up a class or two.
var classCap = [...]int{2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512}

const chunkBytes = 256 << 10

// class returns the index of the smallest class of at least c, or -1.
func class(c int) int {
	for i, cc := range classCap {
		if cc >= c {
			return i
		}
	}
	return -1
}

// get returns an empty slice of capacity at least c.
func (p *pool[T]) get(c int) []T {
	i := class(c)
	if i < 0 {
		return make([]T, 0, c)
	}
	if f := p.free[i]; len(f) > 0 {
		s := f[len(f)-1]
		p.free[i] = f[:len(f)-1]
		return s
	}
	cc := classCap[i]
	if len(p.chunk) < cc {
		var zero T
		n := max(chunkBytes/max(int(unsafe.Sizeof(zero)), 1), cc)
		p.chunk = make([]T, n)
	}
	s := p.chunk[:0:cc]
	p.chunk = p.chunk[cc:]
	return s
}

// put takes back s, which its holder no longer uses. Only slices of a
// class's exact capacity are kept (a Compact-packed leaf's piece has its
// leaf's length as capacity and stays with the packed array).
func (p *pool[T]) put(s []T) {
	i := class(cap(s))
	if i < 0 || classCap[i] != cap(s) {
		return
	}
	s = s[:cap(s)]
	clear(s) // release what the values referenced
	p.free[i] = append(p.free[i], s[:0])
}
