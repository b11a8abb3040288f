package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"

	"github.com/routerd/routerd/internal/bgp/wire"
)

// table is the full table the tester announces, split by family, with an
// index from prefix to position that the monitor counts against.
type table struct {
	v4, v6 []wire.Prefix
	index  map[wire.Prefix]int32 // position in v4, or in v6
}

func (t *table) len() int { return len(t.v4) + len(t.v6) }

// loadTable reads a gzipped prefix list (one per line), masking and
// dropping duplicates; limit > 0 keeps only the first limit prefixes.
func loadTable(path string, limit int) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("prefix list: %w (the -prefixes flag names it)", err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t := &table{index: make(map[wire.Prefix]int32, 1<<20)}
	sc := bufio.NewScanner(z)
	for sc.Scan() {
		np, err := netip.ParsePrefix(strings.TrimSpace(sc.Text()))
		if err != nil {
			continue
		}
		p := wire.PrefixFrom(np)
		if _, dup := t.index[p]; dup {
			continue
		}
		if p.Is6() {
			t.index[p] = int32(len(t.v6))
			t.v6 = append(t.v6, p)
		} else {
			t.index[p] = int32(len(t.v4))
			t.v4 = append(t.v4, p)
		}
		if limit > 0 && t.len() == limit {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Addresses of the lab: the router under test in namespace B, the tester
// and the monitor in namespace A, on one veth pair.
var (
	routerV4, routerV6   = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1")
	testerV4, testerV6   = netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("2001:db8::2")
	monitorV4, monitorV6 = netip.MustParseAddr("10.0.0.3"), netip.MustParseAddr("2001:db8::3")
)

const (
	routerAS  = 65001
	testerAS  = 65002
	monitorAS = 65003
)

// attrSets builds n attribute sets with a mix like a transit feed's: AS
// paths of 1 to 9 hops (after the tester's own AS) through a handful of
// tier-1 networks, with prepends now and then; zero to six communities
// from a pool; MED on some; ORIGIN mostly IGP. nh is the next hop.
func attrSets(n int, nh netip.Addr) []wire.Attrs {
	r := rand.New(rand.NewPCG(1, 2))
	tier1 := []uint32{174, 1299, 2914, 3257, 3356, 3491, 5511, 6453, 6461, 6762, 6939, 7018, 12956}
	out := make([]wire.Attrs, n)
	for i := range out {
		hops := 1 + min(r.IntN(4)+r.IntN(4)+r.IntN(3), 8)
		path := []uint32{testerAS, tier1[r.IntN(len(tier1))]}
		for len(path) < hops {
			path = append(path, uint32(1000+r.IntN(60000)))
		}
		last := path[len(path)-1]
		if r.IntN(10) == 0 {
			path = append(path, last, last) // origin prepends
		}
		a := wire.Attrs{Origin: wire.OriginIGP, NextHop: nh,
			ASPath: wire.MakeASPath(wire.ASSegment{Type: wire.ASSequence, ASNs: path})}
		a.Present = a.Present.With(wire.AttrOrigin).With(wire.AttrASPath)
		if r.IntN(8) == 0 {
			a.Origin = wire.OriginIncomplete
		}
		if r.IntN(3) == 0 {
			a.MED = uint32(r.IntN(1000))
			a.Present = a.Present.With(wire.AttrMED)
		}
		var cs []wire.Community
		for range r.IntN(7) {
			cs = append(cs, wire.Community(uint32(path[1])<<16|uint32(r.IntN(400))))
		}
		if len(cs) > 0 {
			a.Communities = wire.MakeCommunities(cs...)
		}
		out[i] = a
	}
	return out
}

// encodeTable packs prefixes into UPDATEs: every prefix gets one of the
// sets (a skewed choice, as a few origins announce many prefixes, in runs
// of neighbouring prefixes as an origin's blocks are), and the prefixes of
// each set go out together, as many per UPDATE as fit. It returns the
// messages in chunks that end at message boundaries, and the number of
// UPDATEs.
func encodeTable(prefixes []wire.Prefix, sets []wire.Attrs, fam wire.Family, seed uint64) ([][]byte, int, error) {
	r := rand.New(rand.NewPCG(seed, 7))
	z := rand.NewZipf(r, 1.2, 8, uint64(len(sets)-1))
	groups := make([][]wire.Prefix, len(sets))
	var order []int
	for i := 0; i < len(prefixes); {
		run := 1 + r.IntN(6)
		s := int(z.Uint64())
		if groups[s] == nil {
			order = append(order, s)
		}
		for ; run > 0 && i < len(prefixes); run-- {
			groups[s] = append(groups[s], prefixes[i])
			i++
		}
	}
	enc := wire.NewEncoder(wire.Options{AS4: true, EBGP: true, Families: wire.FamilyBit(fam)})
	const chunk = 256 << 10
	var chunks [][]byte
	var cur []byte
	n := 0
	for _, s := range order {
		before := len(cur)
		var err error
		cur, err = enc.AppendAnnounce(cur, &sets[s], groups[s])
		if err != nil {
			return nil, 0, err
		}
		n += countMessages(cur[before:])
		if len(cur) >= chunk {
			chunks = append(chunks, cur)
			cur = nil
		}
	}
	cur = wire.AppendEndOfRIB(cur, fam)
	chunks = append(chunks, cur)
	return chunks, n, nil
}

// countMessages counts the BGP messages in b (whole messages only).
func countMessages(b []byte) int {
	n := 0
	for len(b) >= wire.HeaderLen {
		l := int(b[16])<<8 | int(b[17])
		if l < wire.HeaderLen || l > len(b) {
			break
		}
		b = b[l:]
		n++
	}
	return n
}
