package wire

import "testing"

func ext(s string) ExtCommunity { return ExtCommunity(hexb(s)) }

func TestExtCommunityString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, hex, want string
		transitive      bool
	}{
		{"rt two-octet AS", "0002 fde9 00000064", "rt:65001:100", true},
		{"rt two-octet AS limits", "0002 ffff ffffffff", "rt:65535:4294967295", true},
		{"soo two-octet AS", "0003 0000 00000000", "soo:0:0", true},
		{"rt IPv4", "0102 c0000201 0064", "rt:192.0.2.1:100", true},
		{"soo IPv4", "0103 0a000001 ffff", "soo:10.0.0.1:65535", true},
		{"rt four-octet AS", "0202 00010000 0007", "rt:65536:7", true},
		{"soo four-octet AS limits", "0203 ffffffff ffff", "soo:4294967295:65535", true},
		{"four-octet AS below 65536", "0202 0000ffff 0007", "0x02020000ffff0007", true},
		{"other subtype", "0004 fde9 00000064", "0x0004fde900000064", true},
		{"non-transitive two-octet AS", "4002 fde9 00000064", "0x4002fde900000064", false},
		{"link bandwidth", "4004 fde9 4b3ebc20", "0x4004fde94b3ebc20", false},
		{"opaque", "0300 0000 00000000", "0x0300000000000000", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := ext(tc.hex)
			if got := e.String(); got != tc.want {
				t.Errorf("String = %q, want %q", got, tc.want)
			}
			if e.Transitive() != tc.transitive {
				t.Errorf("Transitive = %v", e.Transitive())
			}
		})
	}
}

func TestExtCommunitiesHasAppendRemove(t *testing.T) {
	t.Parallel()
	rt, soo, nt := ext("0002 fde9 00000064"), ext("0003 fde9 00000064"), ext("4004 fde9 00000000")
	l := MakeExtCommunities(rt, nt)
	if !l.Has(rt) || !l.Has(nt) || l.Has(soo) {
		t.Errorf("Has on %v", l)
	}
	if got := l.Append(rt); got != l {
		t.Errorf("Append of a present community = %v", got)
	}
	if got := l.Append(soo, soo); got != MakeExtCommunities(rt, nt, soo) {
		t.Errorf("Append = %v", got)
	}
	if got := (ExtCommunities{}).Append(rt); got != MakeExtCommunities(rt) {
		t.Errorf("Append to empty = %v", got)
	}
	if !l.NonTransitive() || MakeExtCommunities(rt, soo).NonTransitive() || (ExtCommunities{}).NonTransitive() {
		t.Error("NonTransitive")
	}
	nonTransitive := func(x ExtCommunity) bool { return !x.Transitive() }
	if got := l.Remove(nonTransitive); got != MakeExtCommunities(rt) {
		t.Errorf("Remove non-transitive = %v", got)
	}
	if got := MakeExtCommunities(nt, rt, nt, soo).Remove(nonTransitive); got != MakeExtCommunities(rt, soo) {
		t.Errorf("Remove non-transitive = %v", got)
	}
	if got := MakeExtCommunities(nt).Remove(nonTransitive); got != (ExtCommunities{}) || got.Len() != 0 {
		t.Errorf("Remove of all = %v", got)
	}
	keep := MakeExtCommunities(rt, soo)
	if got := keep.Remove(nonTransitive); got != keep {
		t.Errorf("Remove of none = %v", got)
	}
}
