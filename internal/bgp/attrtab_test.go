package bgp

import (
	"fmt"
	"net/netip"
)

// len returns the number of sets in use.
func (t *attrTable) len() int { return len(t.ids) }

// checkRefs compares the reference counts with a walk of the Loc-RIB;
// for tests. Called with s.mu held.
func (s *Speaker) checkRefs() error {
	refs := make([]uint32, len(s.attrs.sets))
	for _, d := range s.all() {
		for _, pt := range d.paths(&s.more) {
			if int(pt.attr) >= len(refs) || pt.attr == 0 {
				return fmt.Errorf("path with attribute ID %d of %d", pt.attr, len(refs))
			}
			refs[pt.attr]++
		}
	}
	inUse := 0
	for id := 1; id < len(refs); id++ {
		set := &s.attrs.sets[id]
		if set.refs != refs[id] {
			return fmt.Errorf("attribute ID %d: %d references counted, %d in the Loc-RIB", id, set.refs, refs[id])
		}
		if set.refs > 0 {
			inUse++
			if s.attrs.ids[set.h] != attrID(id) {
				return fmt.Errorf("attribute ID %d not interned under its handle", id)
			}
		}
	}
	if inUse != len(s.attrs.ids) {
		return fmt.Errorf("%d attribute IDs in use, %d interned", inUse, len(s.attrs.ids))
	}
	// Next hops are counted once per attribute set in use.
	nhRefs := map[netip.Addr]int{}
	for id := 1; id < len(refs); id++ {
		if set := &s.attrs.sets[id]; set.refs > 0 {
			nhRefs[set.a.NextHop]++
			if set.nh != s.nhs[set.a.NextHop] {
				return fmt.Errorf("attribute ID %d does not share its next hop's tracked state", id)
			}
		}
	}
	for a, n := range s.nhs {
		if n.refs != nhRefs[a] {
			return fmt.Errorf("next hop %s: %d references counted, %d attribute sets use it", a, n.refs, nhRefs[a])
		}
	}
	return nil
}
