package config

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Policy is the policy section: named prefix lists, AS-path lists,
// community lists and routing policies that BGP neighbours use for import
// and export.
type Policy struct {
	PrefixLists    map[string][]PrefixMatch `key:"prefix-lists"`
	ASPathLists    map[string][]string      `key:"as-path-lists"`
	CommunityLists map[string]Communities   `key:"community-lists"`
	Policies       map[string][]PolicyTerm  `key:"policies"`
}

// PrefixMatch is one entry of a prefix list: a route matches when its
// prefix is within Prefix and its length is in [GE, LE]. Without ge and le
// only Prefix itself matches (GE = LE = its length).
type PrefixMatch struct {
	Prefix netip.Prefix
	GE, LE uint8
}

// Matches reports whether p matches the entry.
func (m PrefixMatch) Matches(p netip.Prefix) bool {
	return p.Addr().Is4() == m.Prefix.Addr().Is4() && p.Bits() >= int(m.GE) && p.Bits() <= int(m.LE) &&
		p.Bits() >= m.Prefix.Bits() && m.Prefix.Contains(p.Addr())
}

// Community is an RFC 1997 community, AS in the high 16 bits. Well-known
// names (no-export, no-advertise, no-export-subconfed, blackhole) are
// accepted in the file.
type Community uint32

func (c Community) String() string {
	for n, v := range wellKnownCommunities {
		if v == c {
			return n
		}
	}
	return fmt.Sprintf("%d:%d", uint32(c)>>16, uint32(c)&0xffff)
}

var wellKnownCommunities = map[string]Community{
	"no-export":           0xFFFFFF01,
	"no-advertise":        0xFFFFFF02,
	"no-export-subconfed": 0xFFFFFF03,
	"blackhole":           0xFFFF029A,
	"graceful-shutdown":   0xFFFF0000,
}

// LargeCommunity is an RFC 8092 large community, written
// global:local1:local2 (each 0..4294967295; global is usually an AS).
type LargeCommunity struct{ Global, Local1, Local2 uint32 }

func (l LargeCommunity) String() string { return fmt.Sprintf("%d:%d:%d", l.Global, l.Local1, l.Local2) }

// ExtendedCommunity is an RFC 4360 extended community as its 8 wire
// bytes. The file writes route targets and route origins as rt:AS:value
// and soo:AS:value (two-octet AS specific for an AS up to 65535, four-octet
// AS specific, RFC 5668, above), rt:A.B.C.D:value and soo:A.B.C.D:value
// (IPv4 address specific), and any extended community as 0x and 16 hex
// digits.
type ExtendedCommunity [8]byte

// String gives the community in the form the file reads back as the same
// bytes: a four-octet AS form with an AS below 65536, which rt:AS:value
// would turn into the two-octet form, is written in hex.
func (e ExtendedCommunity) String() string {
	var kind string
	switch e[1] {
	case extRouteTarget:
		kind = "rt"
	case extRouteOrigin:
		kind = "soo"
	}
	if kind != "" {
		switch e[0] {
		case extTwoOctetAS:
			return fmt.Sprintf("%s:%d:%d", kind, binary.BigEndian.Uint16(e[2:]), binary.BigEndian.Uint32(e[4:]))
		case extIPv4:
			return fmt.Sprintf("%s:%s:%d", kind, netip.AddrFrom4([4]byte(e[2:6])), binary.BigEndian.Uint16(e[6:]))
		case extFourOctetAS:
			if as := binary.BigEndian.Uint32(e[2:]); as > 0xffff {
				return fmt.Sprintf("%s:%d:%d", kind, as, binary.BigEndian.Uint16(e[6:]))
			}
		}
	}
	return fmt.Sprintf("0x%x", e[:])
}

// Extended community types and subtypes of the text forms (RFC 4360,
// RFC 5668).
const (
	extTwoOctetAS  = 0x00
	extIPv4        = 0x01
	extFourOctetAS = 0x02
	extRouteTarget = 0x02
	extRouteOrigin = 0x03
)

// parseExtendedCommunity reads rt:..., soo:... or 0x and 16 hex digits;
// ok is false for text of none of these forms, err set for text of one
// of them that is wrong.
func parseExtendedCommunity(s string) (e ExtendedCommunity, ok bool, err error) {
	if h, found := strings.CutPrefix(s, "0x"); found {
		b, herr := hex.DecodeString(h)
		if herr != nil || len(b) != 8 {
			return e, true, fmt.Errorf("write 0x and exactly 16 hex digits")
		}
		return ExtendedCommunity(b), true, nil
	}
	kind, rest, _ := strings.Cut(s, ":")
	switch kind {
	case "rt":
		e[1] = extRouteTarget
	case "soo":
		e[1] = extRouteOrigin
	default:
		return e, false, nil
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 2 {
		return e, true, fmt.Errorf("write %s:AS:value or %s:A.B.C.D:value", kind, kind)
	}
	if strings.Contains(parts[0], ".") {
		a, aerr := netip.ParseAddr(parts[0])
		n, nerr := strconv.ParseUint(parts[1], 10, 16)
		if aerr != nil || !a.Is4() || nerr != nil {
			return e, true, fmt.Errorf("with an IPv4 address the value is 0..65535")
		}
		e[0] = extIPv4
		a4 := a.As4()
		copy(e[2:6], a4[:])
		binary.BigEndian.PutUint16(e[6:], uint16(n))
		return e, true, nil
	}
	as, aerr := strconv.ParseUint(parts[0], 10, 32)
	if aerr != nil {
		return e, true, fmt.Errorf("the AS is 0..4294967295 or an IPv4 address")
	}
	if as <= 0xffff {
		n, nerr := strconv.ParseUint(parts[1], 10, 32)
		if nerr != nil {
			return e, true, fmt.Errorf("with an AS up to 65535 the value is 0..4294967295")
		}
		e[0] = extTwoOctetAS
		binary.BigEndian.PutUint16(e[2:], uint16(as))
		binary.BigEndian.PutUint32(e[4:], uint32(n))
		return e, true, nil
	}
	n, nerr := strconv.ParseUint(parts[1], 10, 16)
	if nerr != nil {
		return e, true, fmt.Errorf("with an AS above 65535 the value is 0..65535")
	}
	e[0] = extFourOctetAS
	binary.BigEndian.PutUint32(e[2:], uint32(as))
	binary.BigEndian.PutUint16(e[6:], uint16(n))
	return e, true, nil
}

// Communities is a list of standard, large and extended communities, as a
// community list or a set action gives them; in the file one list of all
// forms.
type Communities struct {
	Standard []Community
	Large    []LargeCommunity
	Extended []ExtendedCommunity
}

// Len returns the number of communities of all kinds.
func (c Communities) Len() int { return len(c.Standard) + len(c.Large) + len(c.Extended) }

// given reports whether the file gave the list (perhaps empty).
func (c Communities) given() bool { return c.Standard != nil || c.Large != nil || c.Extended != nil }

// PolicyAction is what a matching term does with the route.
type PolicyAction string

// Policy actions.
const (
	ActionAccept PolicyAction = "accept" // apply the term's settings and accept the route
	ActionReject PolicyAction = "reject" // reject the route
	ActionNext   PolicyAction = "next"   // apply the settings and go on with the next term
)

// PolicyTerm is one term of a policy. Terms are tried in order; the first
// whose match holds decides (or, with action next, modifies the route and
// lets the following terms decide). A route that no term accepts is
// rejected.
type PolicyTerm struct {
	Match  PolicyMatch  `key:"match"`
	Set    PolicySet    `key:"set"`
	Action PolicyAction `key:"action"`
}

// PolicyMatch holds the conditions of a term; all given conditions must
// hold, and a term without conditions matches every route.
type PolicyMatch struct {
	PrefixList    string `key:"prefix-list"`    // name in prefix-lists
	ASPathList    string `key:"as-path-list"`   // name in as-path-lists
	CommunityList string `key:"community-list"` // name in community-lists; any member (standard, large or extended) present
}

// PolicySet holds the changes a term makes to a route.
type PolicySet struct {
	LocalPref       *uint32     `key:"local-pref"`
	MED             *uint32     `key:"med"`
	CommunityAdd    Communities `key:"community-add"`
	CommunityRemove Communities `key:"community-remove"`
	Prepend         uint8       `key:"prepend"` // own AS prepended this many times (export)
	NextHopSelf     bool        `key:"next-hop-self"`
}

// Built-in policy names usable wherever a policy is named.
const (
	PolicyAcceptAll = "accept"
	PolicyRejectAll = "reject"
)

func decodePolicy(d *decoder, n *yaml.Node, c *Config) {
	p := Policy{}
	if n == nil {
		c.Policy = p
		return
	}
	m, _ := d.mapping(n, "policy", []string{"prefix-lists", "as-path-lists", "community-lists", "policies"})
	if v := m.get("prefix-lists"); v != nil {
		lists, _ := d.mapping(v, "policy.prefix-lists", nil)
		for _, pr := range lists.pairs {
			path := join("policy.prefix-lists", pr.key)
			d.checkName(pr.kn, path, pr.key)
			items, _ := d.sequence(pr.v, path)
			var out []PrefixMatch
			for i, it := range items {
				if pm, ok := d.prefixMatch(it, index(path, i)); ok {
					out = append(out, pm)
				}
			}
			if p.PrefixLists == nil {
				p.PrefixLists = map[string][]PrefixMatch{}
			}
			p.PrefixLists[pr.key] = out
		}
	}
	if v := m.get("as-path-lists"); v != nil {
		lists, _ := d.mapping(v, "policy.as-path-lists", nil)
		for _, pr := range lists.pairs {
			path := join("policy.as-path-lists", pr.key)
			d.checkName(pr.kn, path, pr.key)
			items, _ := d.sequence(pr.v, path)
			out := []string{}
			for i, it := range items {
				s, ok := d.str(it, index(path, i))
				if !ok {
					continue
				}
				if _, err := regexp.Compile(s); err != nil {
					d.errorf(it, index(path, i), "%q is not a valid regular expression: %v", s, err)
					continue
				}
				out = append(out, s)
			}
			if p.ASPathLists == nil {
				p.ASPathLists = map[string][]string{}
			}
			p.ASPathLists[pr.key] = out
		}
	}
	if v := m.get("community-lists"); v != nil {
		lists, _ := d.mapping(v, "policy.community-lists", nil)
		for _, pr := range lists.pairs {
			path := join("policy.community-lists", pr.key)
			d.checkName(pr.kn, path, pr.key)
			if p.CommunityLists == nil {
				p.CommunityLists = map[string]Communities{}
			}
			p.CommunityLists[pr.key] = d.communities(pr.v, path)
		}
	}
	if v := m.get("policies"); v != nil {
		pols, _ := d.mapping(v, "policy.policies", nil)
		for _, pr := range pols.pairs {
			path := join("policy.policies", pr.key)
			if pr.key == PolicyAcceptAll || pr.key == PolicyRejectAll {
				d.errorf(pr.kn, path, "%q is a built-in policy name; choose another", pr.key)
				continue
			}
			d.checkName(pr.kn, path, pr.key)
			items, _ := d.sequence(pr.v, path)
			terms := []PolicyTerm{}
			for i, it := range items {
				if t, ok := d.policyTerm(it, index(path, i), &p); ok {
					terms = append(terms, t)
				}
			}
			if p.Policies == nil {
				p.Policies = map[string][]PolicyTerm{}
			}
			p.Policies[pr.key] = terms
		}
	}
	c.Policy = p
}

// checkName reports list and policy names that would be awkward on a
// command line.
func (d *decoder) checkName(n *yaml.Node, path, name string) {
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			d.errorf(n, path, "name %q may hold only letters, digits, '-', '_' and '.'", name)
			return
		}
	}
}

func (d *decoder) prefixMatch(n *yaml.Node, path string) (PrefixMatch, bool) {
	var pm PrefixMatch
	if n.Kind == yaml.ScalarNode {
		p, ok := d.prefix(n, path)
		if !ok {
			return pm, false
		}
		return PrefixMatch{Prefix: p, GE: uint8(p.Bits()), LE: uint8(p.Bits())}, true
	}
	m, ok := d.mapping(n, path, []string{"prefix", "ge", "le"})
	if !ok || !d.require(m, path, "prefix") {
		return pm, false
	}
	p, ok := d.prefix(m.get("prefix"), join(path, "prefix"))
	if !ok {
		return pm, false
	}
	max := uint64(p.Addr().BitLen())
	pm = PrefixMatch{Prefix: p, GE: uint8(p.Bits()), LE: uint8(p.Bits())}
	good := true
	geSet := false
	if v := m.get("ge"); v != nil {
		if x, ok := d.uint(v, join(path, "ge"), uint64(p.Bits()), max); ok {
			pm.GE, geSet = uint8(x), true
			pm.LE = uint8(max)
		} else {
			good = false
		}
	}
	if v := m.get("le"); v != nil {
		if x, ok := d.uint(v, join(path, "le"), uint64(p.Bits()), max); ok {
			pm.LE = uint8(x)
			if x < uint64(pm.GE) {
				d.errorf(v, join(path, "le"), "le %d is below ge %d", x, pm.GE)
				good = false
			}
		} else {
			good = false
		}
	}
	_ = geSet
	return pm, good
}

// communities parses a list of communities: "AS:value" (both 0..65535),
// a well-known name, a large community "global:local1:local2" (each
// 0..4294967295), or an extended community (see ExtendedCommunity).
func (d *decoder) communities(n *yaml.Node, path string) Communities {
	items, _ := d.sequence(n, path)
	out := Communities{Standard: []Community{}}
	for i, it := range items {
		ip := index(path, i)
		s, ok := d.str(it, ip)
		if !ok {
			continue
		}
		if c, ok := wellKnownCommunities[s]; ok {
			out.Standard = append(out.Standard, c)
			continue
		}
		if e, ok, err := parseExtendedCommunity(s); ok {
			if err != nil {
				d.errorf(it, ip, "%q is not an extended community: %v", s, err)
				continue
			}
			out.Extended = append(out.Extended, e)
			continue
		}
		parts := strings.Split(s, ":")
		switch len(parts) {
		case 2:
			x, err1 := strconv.ParseUint(parts[0], 10, 16)
			y, err2 := strconv.ParseUint(parts[1], 10, 16)
			if err1 == nil && err2 == nil {
				out.Standard = append(out.Standard, Community(x<<16|y))
				continue
			}
		case 3:
			var v [3]uint32
			bad := false
			for j, p := range parts {
				x, err := strconv.ParseUint(p, 10, 32)
				bad = bad || err != nil
				v[j] = uint32(x)
			}
			if !bad {
				out.Large = append(out.Large, LargeCommunity{v[0], v[1], v[2]})
				continue
			}
		}
		d.errorf(it, ip, "%q is not a community: write AS:value with both parts 0..65535, a large community global:local1:local2 with each part 0..4294967295, an extended community rt:AS:value, soo:AS:value or 0x and 16 hex digits, or one of no-export, no-advertise, no-export-subconfed, blackhole, graceful-shutdown", s)
	}
	return out
}

func (d *decoder) policyTerm(n *yaml.Node, path string, p *Policy) (PolicyTerm, bool) {
	t := PolicyTerm{Action: ActionAccept}
	m, ok := d.mapping(n, path, []string{"match", "set", "action"})
	if !ok {
		return t, false
	}
	before := len(d.errs)
	if v := m.get("match"); v != nil {
		mm, _ := d.mapping(v, join(path, "match"), []string{"prefix-list", "as-path-list", "community-list"})
		ref := func(key string, dst *string, exists func(string) bool) {
			if x := mm.get(key); x != nil {
				if s, ok := d.str(x, join(path, "match."+key)); ok {
					if !exists(s) {
						d.errorf(x, join(path, "match."+key), "unknown %s %q; define it under policy.%ss", key, s, key)
					}
					*dst = s
				}
			}
		}
		ref("prefix-list", &t.Match.PrefixList, func(s string) bool { _, ok := p.PrefixLists[s]; return ok })
		ref("as-path-list", &t.Match.ASPathList, func(s string) bool { _, ok := p.ASPathLists[s]; return ok })
		ref("community-list", &t.Match.CommunityList, func(s string) bool { _, ok := p.CommunityLists[s]; return ok })
	}
	if v := m.get("set"); v != nil {
		sp := join(path, "set")
		sm, _ := d.mapping(v, sp, []string{"local-pref", "med", "community-add", "community-remove", "prepend", "next-hop-self"})
		if x := sm.get("local-pref"); x != nil {
			if u, ok := d.uint(x, join(sp, "local-pref"), 0, 1<<32-1); ok {
				v := uint32(u)
				t.Set.LocalPref = &v
			}
		}
		if x := sm.get("med"); x != nil {
			if u, ok := d.uint(x, join(sp, "med"), 0, 1<<32-1); ok {
				v := uint32(u)
				t.Set.MED = &v
			}
		}
		if x := sm.get("community-add"); x != nil {
			t.Set.CommunityAdd = d.communities(x, join(sp, "community-add"))
		}
		if x := sm.get("community-remove"); x != nil {
			t.Set.CommunityRemove = d.communities(x, join(sp, "community-remove"))
		}
		if x := sm.get("prepend"); x != nil {
			if u, ok := d.uint(x, join(sp, "prepend"), 0, 16); ok {
				t.Set.Prepend = uint8(u)
			}
		}
		if x := sm.get("next-hop-self"); x != nil {
			t.Set.NextHopSelf, _ = d.boolean(x, join(sp, "next-hop-self"))
		}
	}
	if v := m.get("action"); v != nil {
		if s, ok := d.enum(v, join(path, "action"), "accept", "reject", "next"); ok {
			t.Action = PolicyAction(s)
		}
	}
	return t, len(d.errs) == before
}

// Equal reports whether two policy sections are the same.
func (p *Policy) Equal(o *Policy) bool {
	return fmt.Sprint(p.sorted()) == fmt.Sprint(o.sorted())
}

// sorted renders p deterministically for comparison.
func (p *Policy) sorted() []string {
	var out []string
	for _, k := range sortedKeys(p.PrefixLists) {
		out = append(out, "pl "+k+fmt.Sprint(p.PrefixLists[k]))
	}
	for _, k := range sortedKeys(p.ASPathLists) {
		out = append(out, "al "+k+fmt.Sprint(p.ASPathLists[k]))
	}
	for _, k := range sortedKeys(p.CommunityLists) {
		out = append(out, "cl "+k+fmt.Sprint(p.CommunityLists[k]))
	}
	for _, k := range sortedKeys(p.Policies) {
		s := "po " + k
		for _, t := range p.Policies[k] {
			s += fmt.Sprintf("[%v %v %s %s %v %v %d %v]", t.Match, t.Action, ptrString(t.Set.LocalPref), ptrString(t.Set.MED),
				t.Set.CommunityAdd, t.Set.CommunityRemove, t.Set.Prepend, t.Set.NextHopSelf)
		}
		out = append(out, s)
	}
	return out
}

func ptrString(p *uint32) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatUint(uint64(*p), 10)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// policyExists reports whether name is a built-in or defined policy.
func (p *Policy) policyExists(name string) bool {
	if name == PolicyAcceptAll || name == PolicyRejectAll {
		return true
	}
	_, ok := p.Policies[name]
	return ok
}

func marshalPolicy(p *Policy) *yaml.Node {
	if len(p.PrefixLists)+len(p.ASPathLists)+len(p.CommunityLists)+len(p.Policies) == 0 {
		return nil
	}
	root := mapping()
	if len(p.PrefixLists) > 0 {
		m := mapping()
		for _, k := range sortedKeys(p.PrefixLists) {
			seq := &yaml.Node{Kind: yaml.SequenceNode}
			for _, e := range p.PrefixLists[k] {
				seq.Content = append(seq.Content, mapping(
					"prefix", scalar(e.Prefix.String()),
					"ge", scalar(strconv.Itoa(int(e.GE))),
					"le", scalar(strconv.Itoa(int(e.LE)))))
			}
			add(m, k, seq)
		}
		add(root, "prefix-lists", m)
	}
	if len(p.ASPathLists) > 0 {
		m := mapping()
		for _, k := range sortedKeys(p.ASPathLists) {
			seq := &yaml.Node{Kind: yaml.SequenceNode}
			for _, e := range p.ASPathLists[k] {
				seq.Content = append(seq.Content, quoted(e))
			}
			add(m, k, seq)
		}
		add(root, "as-path-lists", m)
	}
	if len(p.CommunityLists) > 0 {
		m := mapping()
		for _, k := range sortedKeys(p.CommunityLists) {
			add(m, k, communitySeq(p.CommunityLists[k]))
		}
		add(root, "community-lists", m)
	}
	if len(p.Policies) > 0 {
		m := mapping()
		for _, k := range sortedKeys(p.Policies) {
			seq := &yaml.Node{Kind: yaml.SequenceNode}
			for _, t := range p.Policies[k] {
				tn := mapping()
				mm := mapping()
				if t.Match.PrefixList != "" {
					add(mm, "prefix-list", quoted(t.Match.PrefixList))
				}
				if t.Match.ASPathList != "" {
					add(mm, "as-path-list", quoted(t.Match.ASPathList))
				}
				if t.Match.CommunityList != "" {
					add(mm, "community-list", quoted(t.Match.CommunityList))
				}
				if len(mm.Content) > 0 {
					add(tn, "match", mm)
				}
				sm := mapping()
				if t.Set.LocalPref != nil {
					add(sm, "local-pref", scalar(ptrString(t.Set.LocalPref)))
				}
				if t.Set.MED != nil {
					add(sm, "med", scalar(ptrString(t.Set.MED)))
				}
				if t.Set.CommunityAdd.given() {
					add(sm, "community-add", communitySeq(t.Set.CommunityAdd))
				}
				if t.Set.CommunityRemove.given() {
					add(sm, "community-remove", communitySeq(t.Set.CommunityRemove))
				}
				if t.Set.Prepend > 0 {
					add(sm, "prepend", scalar(strconv.Itoa(int(t.Set.Prepend))))
				}
				if t.Set.NextHopSelf {
					add(sm, "next-hop-self", scalar("true"))
				}
				if len(sm.Content) > 0 {
					add(tn, "set", sm)
				}
				add(tn, "action", scalar(string(t.Action)))
				seq.Content = append(seq.Content, tn)
			}
			add(m, k, seq)
		}
		add(root, "policies", m)
	}
	return root
}

func communitySeq(cs Communities) *yaml.Node {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, c := range cs.Standard {
		seq.Content = append(seq.Content, quoted(c.String()))
	}
	for _, c := range cs.Large {
		seq.Content = append(seq.Content, quoted(c.String()))
	}
	for _, c := range cs.Extended {
		seq.Content = append(seq.Content, quoted(c.String()))
	}
	return seq
}
