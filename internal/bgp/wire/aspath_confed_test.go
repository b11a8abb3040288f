package wire

import "testing"

func TestASPathConfed(t *testing.T) {
	t.Parallel()
	seq := func(as ...uint32) ASSegment { return ASSegment{Type: ASSequence, ASNs: as} }
	cseq := func(as ...uint32) ASSegment { return ASSegment{Type: ASConfedSequence, ASNs: as} }
	cset := func(as ...uint32) ASSegment { return ASSegment{Type: ASConfedSet, ASNs: as} }
	tests := []struct {
		name      string
		path      ASPath
		prepended string // PrependConfed(65101, 1)
		stripped  string // WithoutConfed
		neigh     uint32 // NeighborAS, 0 when none
		first     uint32 // FirstConfed, 0 when none
	}{
		{"empty", MakeASPath(), "(65101)", "", 0, 0},
		{"outside", MakeASPath(seq(64999, 3)), "(65101) 64999 3", "64999 3", 64999, 0},
		{"confed sequence first", MakeASPath(cseq(65102), seq(64999)), "(65101 65102) 64999", "64999", 64999, 65102},
		{"confed set first", MakeASPath(cset(65102, 65103), seq(64999)), "(65101) [65102,65103] 64999", "64999", 64999, 0},
		{"only confed", MakeASPath(cseq(65102, 65103)), "(65101 65102 65103)", "", 0, 65102},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.path.PrependConfed(65101, 1).String(); got != tc.prepended {
				t.Errorf("PrependConfed = %q, want %q", got, tc.prepended)
			}
			if got := tc.path.WithoutConfed(); got.String() != tc.stripped || got.hasConfed() {
				t.Errorf("WithoutConfed = %q, want %q", got, tc.stripped)
			}
			if got, _ := tc.path.NeighborAS(); got != tc.neigh {
				t.Errorf("NeighborAS = %d, want %d", got, tc.neigh)
			}
			if got, _ := tc.path.FirstConfed(); got != tc.first {
				t.Errorf("FirstConfed = %d, want %d", got, tc.first)
			}
		})
	}
	p := MakeASPath(cseq(65102, 65101), seq(64999, 65100))
	if !p.ContainsIn(65101, true) || p.ContainsIn(65101, false) || !p.ContainsIn(65100, false) || p.ContainsIn(65100, true) {
		t.Errorf("ContainsIn on %s", p)
	}
	if got := p.Prepend(65100, 1).WithoutConfed().String(); got != "65100 64999 65100" {
		t.Errorf("prepend then strip = %q", got)
	}
	if got := p.WithoutConfed().Prepend(65100, 1).String(); got != "65100 64999 65100" {
		t.Errorf("strip then prepend = %q", got)
	}
}
