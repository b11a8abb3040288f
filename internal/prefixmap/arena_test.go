package prefixmap

import "testing"

func TestPoolClasses(t *testing.T) {
	var p pool[uint64]
	for c := 1; c <= 600; c++ {
		s := p.get(c)
		if len(s) != 0 || cap(s) < c {
			t.Fatalf("get(%d): len %d cap %d", c, len(s), cap(s))
		}
		if i := class(c); i >= 0 && cap(s) != classCap[i] {
			t.Fatalf("get(%d): cap %d, want class capacity %d", c, cap(s), classCap[i])
		}
	}
	// A slice given back is handed out again, cleared; one whose
	// capacity is no class's (a packed leaf's piece) is not kept.
	s := p.get(10)[:5]
	for i := range s {
		s[i] = 7
	}
	p.put(s)
	r := p.get(9)
	if &r[:1][0] != &s[0] {
		t.Fatal("a freed slice of the class was not reused")
	}
	for _, v := range r[:cap(r)] {
		if v != 0 {
			t.Fatal("reused slice not cleared")
		}
	}
	odd := make([]uint64, 5, 5)
	p.put(odd)
	if got := p.get(5); cap(got) == 5 {
		t.Fatal("a slice of no class's capacity was kept")
	}
}

// TestArenaReuse: a map emptied and filled again reuses its chunks.
func TestArenaReuse(t *testing.T) {
	var m Map[uint32]
	fill := func() {
		for i := uint32(0); i < 50000; i++ {
			m.Put(From4(i<<8, 24), i)
		}
	}
	fill()
	chunks := func() int {
		var n int
		for _, f := range m.a4.vals.free {
			n += len(f)
		}
		return n
	}
	for i := uint32(0); i < 50000; i++ {
		m.Delete(From4(i<<8, 24))
	}
	freed := chunks()
	if freed == 0 {
		t.Fatal("emptied leaves gave nothing back")
	}
	fill()
	if chunks() >= freed {
		t.Fatalf("refilling took no freed arrays (%d free before, %d after)", freed, chunks())
	}
	for i := uint32(0); i < 50000; i++ {
		if v, ok := m.Get(From4(i<<8, 24)); !ok || v != i {
			t.Fatalf("key %d: %d %v", i, v, ok)
		}
	}
}
