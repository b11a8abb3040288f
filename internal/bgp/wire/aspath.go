package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SegmentType is the type of an AS_PATH segment.
type SegmentType uint8

// AS_PATH segment types (RFC 4271 §4.3, RFC 5065 §3).
const (
	ASSet            SegmentType = 1
	ASSequence       SegmentType = 2
	ASConfedSequence SegmentType = 3
	ASConfedSet      SegmentType = 4
)

func (t SegmentType) confed() bool { return t == ASConfedSequence || t == ASConfedSet }

// ASSegment is one segment of an AS path.
type ASSegment struct {
	Type SegmentType
	ASNs []uint32
}

// ASPath is an immutable AS path in a canonical packed form (each segment
// is its type, its count, and count 4-octet AS numbers, whatever the
// session's encoding), so that it is comparable, cheap to hash for
// interning, and decoded only when asked. The zero ASPath is empty.
type ASPath struct{ s string }

// MakeASPath builds an AS path from segments; segments longer than 255
// ASes are split, empty ones skipped.
func MakeASPath(segs ...ASSegment) ASPath {
	var b []byte
	for _, s := range segs {
		as := s.ASNs
		for len(as) > 0 {
			n := min(len(as), 255)
			b = append(b, byte(s.Type), byte(n))
			for _, a := range as[:n] {
				b = binary.BigEndian.AppendUint32(b, a)
			}
			as = as[n:]
		}
	}
	return ASPath{string(b)}
}

// segs calls f with each segment's type and packed AS numbers.
func (p ASPath) segs(f func(t SegmentType, as string) bool) {
	s := p.s
	for len(s) >= 2 {
		n := 2 + 4*int(s[1])
		if !f(SegmentType(s[0]), s[2:n]) {
			return
		}
		s = s[n:]
	}
}

func asAt(as string, i int) uint32 {
	return uint32(as[4*i])<<24 | uint32(as[4*i+1])<<16 | uint32(as[4*i+2])<<8 | uint32(as[4*i+3])
}

// IsEmpty reports whether the path has no segments.
func (p ASPath) IsEmpty() bool { return p.s == "" }

// Segments returns the path's segments (allocates).
func (p ASPath) Segments() []ASSegment {
	var out []ASSegment
	p.segs(func(t SegmentType, as string) bool {
		s := ASSegment{Type: t, ASNs: make([]uint32, len(as)/4)}
		for i := range s.ASNs {
			s.ASNs[i] = asAt(as, i)
		}
		out = append(out, s)
		return true
	})
	return out
}

// Length is the path length used by the decision process (RFC 4271
// §9.1.2.2): each AS of a sequence counts one, a set counts one, and
// confederation segments do not count (RFC 5065 §5.3).
func (p ASPath) Length() int {
	n := 0
	p.segs(func(t SegmentType, as string) bool {
		switch t {
		case ASSequence:
			n += len(as) / 4
		case ASSet:
			n++
		}
		return true
	})
	return n
}

// First returns the leftmost AS of the path when the path starts with an
// AS_SEQUENCE (the neighbouring AS, RFC 4271 §9.1.2.2).
func (p ASPath) First() (uint32, bool) {
	if len(p.s) < 6 || SegmentType(p.s[0]) != ASSequence {
		return 0, false
	}
	return asAt(p.s[2:], 0), true
}

// FirstConfed returns the leftmost AS of the path when the path starts
// with an AS_CONFED_SEQUENCE (the neighbouring member AS of a
// confederation).
func (p ASPath) FirstConfed() (uint32, bool) {
	if len(p.s) < 6 || SegmentType(p.s[0]) != ASConfedSequence {
		return 0, false
	}
	return asAt(p.s[2:], 0), true
}

// NeighborAS returns the AS whose MEDs a path's MED is compared with: the
// first AS of the first segment that is not a confederation segment when
// that segment is an AS_SEQUENCE (RFC 4271 §9.1.2.2, RFC 5065 §5.3). It
// returns false for a path internal to the AS or the confederation.
func (p ASPath) NeighborAS() (uint32, bool) {
	var as uint32
	ok := false
	p.segs(func(t SegmentType, s string) bool {
		if t.confed() {
			return true
		}
		if t == ASSequence && len(s) >= 4 {
			as, ok = asAt(s, 0), true
		}
		return false
	})
	return as, ok
}

// WithoutConfed returns the path without its confederation segments, as
// it leaves the confederation (RFC 5065 §4.1).
func (p ASPath) WithoutConfed() ASPath {
	if !p.hasConfed() {
		return p
	}
	var b []byte
	p.segs(func(t SegmentType, as string) bool {
		if !t.confed() {
			b = append(b, byte(t), byte(len(as)/4))
			b = append(b, as...)
		}
		return true
	})
	return ASPath{string(b)}
}

// ContainsIn reports whether as occurs in the path's confederation
// segments (confed) or in its other segments (!confed): loop detection
// in a confederation looks for the member AS in the former and the
// confederation identifier in the latter.
func (p ASPath) ContainsIn(as uint32, confed bool) bool {
	return p.contains(as, func(t SegmentType) bool { return t.confed() == confed })
}

// Origin returns the rightmost AS when the path ends with an AS_SEQUENCE
// (the AS that originated the route).
func (p ASPath) Origin() (uint32, bool) {
	var last uint32
	ok := false
	p.segs(func(t SegmentType, as string) bool {
		ok = t == ASSequence && len(as) > 0
		if ok {
			last = asAt(as, len(as)/4-1)
		}
		return true
	})
	return last, ok
}

// Contains reports whether as occurs anywhere in the path (loop detection).
func (p ASPath) Contains(as uint32) bool {
	return p.contains(as, func(SegmentType) bool { return true })
}

// contains reports whether as occurs in a segment whose type in accepts.
func (p ASPath) contains(as uint32, in func(SegmentType) bool) bool {
	found := false
	p.segs(func(t SegmentType, s string) bool {
		if !in(t) {
			return true
		}
		for i := 0; i < len(s)/4; i++ {
			if asAt(s, i) == as {
				found = true
				return false
			}
		}
		return true
	})
	return found
}

// Prepend returns the path with as prepended n times to its leading
// AS_SEQUENCE (a new one if the path starts otherwise or that one is full).
func (p ASPath) Prepend(as uint32, n int) ASPath { return p.prepend(ASSequence, as, n) }

// PrependConfed returns the path with the member AS as prepended n times
// to its leading AS_CONFED_SEQUENCE, or in a new one when the path starts
// otherwise (RFC 5065 §5.3, for a neighbour in another member AS).
func (p ASPath) PrependConfed(as uint32, n int) ASPath { return p.prepend(ASConfedSequence, as, n) }

func (p ASPath) prepend(t SegmentType, as uint32, n int) ASPath {
	if n <= 0 {
		return p
	}
	segs := p.Segments()
	if len(segs) == 0 || segs[0].Type != t {
		segs = append([]ASSegment{{Type: t}}, segs...)
	}
	pre := make([]uint32, n, n+len(segs[0].ASNs))
	for i := range pre {
		pre[i] = as
	}
	segs[0].ASNs = append(pre, segs[0].ASNs...)
	return MakeASPath(segs...)
}

// String formats the path the way operators read it: sequences as
// numbers, sets in braces, confederation segments in parentheses.
func (p ASPath) String() string {
	var b strings.Builder
	p.segs(func(t SegmentType, as string) bool {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		open, sep, cl := "", " ", ""
		switch t {
		case ASSet:
			open, sep, cl = "{", ",", "}"
		case ASConfedSequence:
			open, cl = "(", ")"
		case ASConfedSet:
			open, sep, cl = "[", ",", "]"
		}
		b.WriteString(open)
		for i := 0; i < len(as)/4; i++ {
			if i > 0 {
				b.WriteString(sep)
			}
			b.WriteString(strconv.FormatUint(uint64(asAt(as, i)), 10))
		}
		b.WriteString(cl)
		return true
	})
	return b.String()
}

// hasConfed reports whether the path holds confederation segments.
func (p ASPath) hasConfed() bool {
	c := false
	p.segs(func(t SegmentType, _ string) bool { c = t.confed(); return !c })
	return c
}

// needsAS4 reports whether some AS in a non-confederation segment does not
// fit in 2 octets, so that AS4_PATH must be sent to a 2-octet speaker.
func (p ASPath) needsAS4() bool {
	wide := false
	p.segs(func(t SegmentType, as string) bool {
		for i := 0; i < len(as)/4 && !wide; i++ {
			wide = asAt(as, i) > 0xffff
		}
		return !wide
	})
	return wide
}

// wireLen is the length of the path's encoding with 2- or 4-octet ASes,
// without confederation segments when noConfed.
func (p ASPath) wireLen(asSize int, noConfed bool) int {
	n := 0
	p.segs(func(t SegmentType, as string) bool {
		if !(noConfed && t.confed()) {
			n += 2 + asSize*len(as)/4
		}
		return true
	})
	return n
}

// appendWire appends the path's encoding. With 2-octet ASes, AS numbers
// that do not fit are sent as ASTrans (RFC 6793 §4.2.2).
func (p ASPath) appendWire(dst []byte, asSize int, noConfed bool) []byte {
	if asSize == 4 && !noConfed {
		return append(dst, p.s...)
	}
	p.segs(func(t SegmentType, as string) bool {
		if noConfed && t.confed() {
			return true
		}
		dst = append(dst, byte(t), byte(len(as)/4))
		for i := 0; i < len(as)/4; i++ {
			a := asAt(as, i)
			if asSize == 4 {
				dst = binary.BigEndian.AppendUint32(dst, a)
				continue
			}
			if a > 0xffff {
				a = ASTrans
			}
			dst = binary.BigEndian.AppendUint16(dst, uint16(a))
		}
		return true
	})
	return dst
}

var errZeroSegment = errors.New("AS_PATH segment of length 0")

// parseASPath validates an AS_PATH or AS4_PATH value with asSize-octet AS
// numbers (RFC 7606 §7.2: unknown segment type, zero-length segment or
// overrun are malformed) and returns it in canonical form, built in buf.
func parseASPath(b []byte, asSize int, buf []byte) (ASPath, []byte, error) {
	for r := b; len(r) > 0; {
		if len(r) < 2 {
			return ASPath{}, buf, errors.New("AS_PATH segment header truncated")
		}
		t, n := SegmentType(r[0]), int(r[1])
		if t < ASSet || t > ASConfedSet {
			return ASPath{}, buf, fmt.Errorf("AS_PATH segment type %d", t)
		}
		if n == 0 {
			return ASPath{}, buf, errZeroSegment
		}
		if len(r) < 2+n*asSize {
			return ASPath{}, buf, errors.New("AS_PATH segment overruns the attribute")
		}
		r = r[2+n*asSize:]
	}
	if asSize == 4 {
		return ASPath{string(b)}, buf, nil
	}
	buf = buf[:0]
	for r := b; len(r) > 0; {
		n := int(r[1])
		buf = append(buf, r[0], r[1])
		for i := 0; i < n; i++ {
			buf = append(buf, 0, 0, r[2+2*i], r[3+2*i])
		}
		r = r[2+2*n:]
	}
	return ASPath{string(buf)}, buf, nil
}

// mergeAS4Path reconstructs the path received from a 2-octet speaker from
// its AS_PATH and AS4_PATH (RFC 6793 §4.2.3): when AS_PATH holds fewer ASes
// than AS4_PATH, AS4_PATH is ignored; otherwise the leading ASes of AS_PATH
// that AS4_PATH does not cover are kept and AS4_PATH follows them.
// Confederation segments of AS4_PATH are dropped (RFC 6793 §6).
//
// When the tail of AS_PATH has the same shape as AS4_PATH (the usual case:
// the same ASes, some written as AS_TRANS) the 4-octet numbers are put in
// place, which gives the RFC's result and also keeps confederation
// segments where AS_PATH had them, so that what routerd re-sends to a
// 2-octet speaker decodes to the same path.
func mergeAS4Path(p, p4 ASPath) ASPath {
	var segs4 []ASSegment
	for _, s := range p4.Segments() {
		if !s.Type.confed() {
			segs4 = append(segs4, s)
		}
	}
	p4 = MakeASPath(segs4...)
	n, n4 := p.Length(), p4.Length()
	if n < n4 {
		return p
	}
	if m, ok := substituteAS4(p, segs4, n-n4); ok {
		return m
	}
	need := n - n4
	var out []ASSegment
	for _, s := range p.Segments() {
		if need == 0 && !s.Type.confed() {
			break
		}
		switch s.Type {
		case ASConfedSequence, ASConfedSet:
			out = append(out, s)
		case ASSet:
			out = append(out, s)
			need--
		case ASSequence:
			k := min(need, len(s.ASNs))
			out = append(out, ASSegment{Type: ASSequence, ASNs: s.ASNs[:k]})
			need -= k
		}
	}
	if len(out) > 0 && len(segs4) > 0 && out[len(out)-1].Type == ASSequence && segs4[0].Type == ASSequence {
		last := &out[len(out)-1]
		last.ASNs = append(append([]uint32(nil), last.ASNs...), segs4[0].ASNs...)
		segs4 = segs4[1:]
	}
	return MakeASPath(append(out, segs4...)...)
}

// substituteAS4 replaces, after the first skip counted units of p (an AS
// of a sequence or a whole set), each unit by the matching unit of segs4.
// It fails when the shapes differ.
func substituteAS4(p ASPath, segs4 []ASSegment, skip int) (ASPath, bool) {
	type unit struct {
		set bool
		as  []uint32
	}
	var units []unit
	for _, s := range segs4 {
		if s.Type == ASSet {
			units = append(units, unit{true, s.ASNs})
			continue
		}
		for i := range s.ASNs {
			units = append(units, unit{false, s.ASNs[i : i+1]})
		}
	}
	segs := p.Segments()
	next := 0
	for _, s := range segs {
		switch s.Type {
		case ASSet:
			if skip > 0 {
				skip--
				continue
			}
			if next >= len(units) || !units[next].set || len(units[next].as) != len(s.ASNs) {
				return ASPath{}, false
			}
			copy(s.ASNs, units[next].as)
			next++
		case ASSequence:
			for i := range s.ASNs {
				if skip > 0 {
					skip--
					continue
				}
				if next >= len(units) || units[next].set {
					return ASPath{}, false
				}
				s.ASNs[i] = units[next].as[0]
				next++
			}
		}
	}
	if next != len(units) {
		return ASPath{}, false
	}
	return MakeASPath(segs...), true
}
