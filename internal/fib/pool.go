package fib

// pool hands out indexes 1..n-1 of a fixed array (index 0 means "none").
// Freed indexes that readers may still be looking at come back through the
// writer's quarantine; only memory readers never see (plain IPv6 nodes)
// comes back directly.
type pool struct {
	free []uint32
	next uint32
	cap  uint32
	used int // handed out and not yet quarantined
}

func newPool(n int) *pool { return &pool{next: 1, cap: uint32(n)} }

func (p *pool) get() (uint32, bool) {
	if n := len(p.free); n > 0 {
		i := p.free[n-1]
		p.free = p.free[:n-1]
		p.used++
		return i, true
	}
	if p.next >= p.cap {
		return 0, false
	}
	p.next++
	p.used++
	return p.next - 1, true
}

// put returns an index whose grace period has passed.
func (p *pool) put(i uint32) { p.free = append(p.free, i) }

// low reports whether less than a quarter of the pool is left outside the
// quarantine.
func (p *pool) low() bool { return int(p.cap-p.next)+len(p.free) < int(p.cap)/4 }
