package rib

// Compact shrinks the tables' arrays to their contents. The daemon calls it
// once a burst of changes (a full table arriving) has settled: the
// tables' growth slack is then memory that a quiet RIB does not need.
func (r *RIB) Compact() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.idx.Compact()
}
