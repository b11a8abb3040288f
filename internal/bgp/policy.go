package bgp

import (
	"net/netip"
	"regexp"
	"slices"
	"unique"

	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/config"
)

// policy is a compiled routing policy: the terms of one config policy with
// their lists resolved. A nil *policy rejects everything.
type policy struct {
	name   string
	all    bool // the built-in accept policy
	terms  []term
	prefix bool // some term matches on prefixes (results depend on the prefix)
}

type term struct {
	prefixes    []config.PrefixMatch
	hasPrefixes bool
	asPaths     []*regexp.Regexp
	communities []wire.Community
	large       []wire.LargeCommunity
	ext         []wire.ExtCommunity
	hasComms    bool
	set         config.PolicySet
	action      config.PolicyAction
}

// compilePolicy resolves name against the policy section; nil for no
// policy or reject.
func compilePolicy(name string, p *config.Policy) *policy {
	switch name {
	case "", config.PolicyRejectAll:
		return nil
	case config.PolicyAcceptAll:
		return &policy{name: name, all: true}
	}
	terms, ok := p.Policies[name]
	if !ok {
		return nil
	}
	out := &policy{name: name}
	for _, t := range terms {
		ct := term{set: t.Set, action: t.Action}
		if t.Match.PrefixList != "" {
			ct.prefixes, ct.hasPrefixes = p.PrefixLists[t.Match.PrefixList], true
			out.prefix = true
		}
		if t.Match.ASPathList != "" {
			for _, s := range p.ASPathLists[t.Match.ASPathList] {
				if re, err := regexp.Compile(s); err == nil {
					ct.asPaths = append(ct.asPaths, re)
				}
			}
			if len(ct.asPaths) == 0 {
				ct.asPaths = []*regexp.Regexp{regexp.MustCompile(`$.^`)} // an empty list matches nothing
			}
		}
		if t.Match.CommunityList != "" {
			ct.hasComms = true
			l := p.CommunityLists[t.Match.CommunityList]
			for _, c := range l.Standard {
				ct.communities = append(ct.communities, wire.Community(c))
			}
			for _, c := range l.Large {
				ct.large = append(ct.large, wire.LargeCommunity(c))
			}
			for _, c := range l.Extended {
				ct.ext = append(ct.ext, wire.ExtCommunity(c))
			}
		}
		out.terms = append(out.terms, ct)
	}
	return out
}

// attrMask returns, for each term, whether its attribute conditions (AS
// path, communities) hold for a: bit i for term i. Terms beyond 64 are
// evaluated directly by eval.
func (p *policy) attrMask(a *wire.Attrs) uint64 {
	var m uint64
	var path string
	for i, t := range p.terms {
		if i >= 64 {
			break
		}
		ok := true
		if len(t.asPaths) > 0 {
			if path == "" {
				path = a.ASPath.String()
			}
			ok = false
			for _, re := range t.asPaths {
				if re.MatchString(path) {
					ok = true
					break
				}
			}
		}
		if ok && t.hasComms {
			ok = false
			for _, c := range t.communities {
				if a.Communities.Has(c) {
					ok = true
					break
				}
			}
			for _, c := range t.large {
				if ok {
					break
				}
				ok = a.LargeCommunities.Has(c)
			}
			for _, c := range t.ext {
				if ok {
					break
				}
				ok = a.ExtCommunities.Has(c)
			}
		}
		if ok {
			m |= 1 << i
		}
	}
	return m
}

// matchMask returns the bits of the terms that match prefix pfx, given the
// terms whose attribute conditions hold (attrMask).
func (p *policy) matchMask(pfx netip.Prefix, attrBits uint64) uint64 {
	if !p.prefix {
		return attrBits
	}
	m := attrBits
	for i, t := range p.terms {
		if i >= 64 {
			break
		}
		if m&(1<<i) == 0 || !t.hasPrefixes {
			continue
		}
		hit := false
		for _, pm := range t.prefixes {
			if pm.Matches(pfx) {
				hit = true
				break
			}
		}
		if !hit {
			m &^= 1 << i
		}
	}
	return m
}

// env is what applying a policy needs besides the route.
type env struct {
	localAS uint32
	confed  bool       // prepend localAS (a member AS) as an AS_CONFED_SEQUENCE
	self    netip.Addr // next hop for next-hop-self (may be invalid on import)
}

// apply runs the terms selected by mask over a and returns the resulting
// attributes, or ok false when the route is rejected.
func (p *policy) apply(mask uint64, a wire.Attrs, e env) (wire.Attrs, bool) {
	if p == nil {
		return a, false
	}
	if p.all {
		return a, true
	}
	for i, t := range p.terms {
		if i >= 64 || mask&(1<<i) == 0 {
			continue
		}
		if t.action == config.ActionReject {
			return a, false
		}
		s := &t.set
		if s.LocalPref != nil {
			a.LocalPref = *s.LocalPref
			a.Present = a.Present.With(wire.AttrLocalPref)
		}
		if s.MED != nil {
			a.MED = *s.MED
			a.Present = a.Present.With(wire.AttrMED)
		}
		if len(s.CommunityRemove.Standard) > 0 && a.Communities.Len() > 0 {
			keep := make([]wire.Community, 0, a.Communities.Len())
			for j := 0; j < a.Communities.Len(); j++ {
				if c := a.Communities.At(j); !slices.Contains(s.CommunityRemove.Standard, config.Community(c)) {
					keep = append(keep, c)
				}
			}
			a.Communities = wire.MakeCommunities(keep...)
		}
		if len(s.CommunityRemove.Large) > 0 && a.LargeCommunities.Len() > 0 {
			keep := make([]wire.LargeCommunity, 0, a.LargeCommunities.Len())
			for j := 0; j < a.LargeCommunities.Len(); j++ {
				if c := a.LargeCommunities.At(j); !slices.Contains(s.CommunityRemove.Large, config.LargeCommunity(c)) {
					keep = append(keep, c)
				}
			}
			a.LargeCommunities = wire.MakeLargeCommunities(keep...)
		}
		if len(s.CommunityRemove.Extended) > 0 && a.ExtCommunities.Len() > 0 {
			a.ExtCommunities = a.ExtCommunities.Remove(func(c wire.ExtCommunity) bool {
				return slices.Contains(s.CommunityRemove.Extended, config.ExtendedCommunity(c))
			})
		}
		for _, c := range s.CommunityAdd.Standard {
			a.Communities = a.Communities.Append(wire.Community(c))
		}
		for _, c := range s.CommunityAdd.Large {
			a.LargeCommunities = a.LargeCommunities.Append(wire.LargeCommunity(c))
		}
		for _, c := range s.CommunityAdd.Extended {
			a.ExtCommunities = a.ExtCommunities.Append(wire.ExtCommunity(c))
		}
		if s.Prepend > 0 {
			if e.confed {
				a.ASPath = a.ASPath.PrependConfed(e.localAS, int(s.Prepend))
			} else {
				a.ASPath = a.ASPath.Prepend(e.localAS, int(s.Prepend))
			}
			a.Present = a.Present.With(wire.AttrASPath)
		}
		if s.NextHopSelf && e.self.IsValid() {
			a.NextHop, a.LinkLocal = e.self, netip.Addr{}
		}
		if t.action == config.ActionAccept {
			return a, true
		}
	}
	return a, false
}

// resultKey caches the outcome of a policy for one attribute set and one
// pattern of matching terms.
type resultKey struct {
	in   unique.Handle[wire.Attrs]
	mask uint64
	v6   bool // the prefix family: next-hop-self depends on it
}

type result struct {
	out unique.Handle[wire.Attrs]
	ok  bool
}

// evaluator applies one policy with caches, so that a full table sharing a
// few thousand attribute sets costs a few thousand policy runs. Not safe for
// concurrent use; the speaker's lock guards it.
type evaluator struct {
	p       *policy
	e       env
	self6   netip.Addr // env.self for IPv6 prefixes
	attrs   map[unique.Handle[wire.Attrs]]uint64
	results map[resultKey]result
	// post, if set, transforms accepted attributes (the session's own
	// rules such as eBGP next-hop-self and prepending), inside the cache.
	post func(a *wire.Attrs, v6 bool)
	// last memoises the latest result: the prefixes of one UPDATE, or of
	// one attribute set in an export chunk, come one after the other.
	last    resultKey
	lastR   result
	hasLast bool
	// scratch holds the attributes being evaluated: a local copy would
	// escape (to the policy's and post's pointers) and cost a 224-byte
	// allocation per attribute set.
	scratch wire.Attrs
}

const maxEvalCache = 1 << 14

func newEvaluator(p *policy, e env, post func(*wire.Attrs, bool)) *evaluator {
	return &evaluator{p: p, e: e, post: post, attrs: map[unique.Handle[wire.Attrs]]uint64{}, results: map[resultKey]result{}}
}

// forget drops the evaluator's caches, which refill as routes come: after
// a full table they hold thousands of attribute sets (and keep them
// interned) that a quiet session no longer needs. Called with s.mu held.
func (ev *evaluator) forget() {
	ev.attrs = map[unique.Handle[wire.Attrs]]uint64{}
	ev.results = map[resultKey]result{}
	ev.last, ev.lastR, ev.hasLast = resultKey{}, result{}, false
}

// eval returns the attributes of prefix p after the policy, or ok false.
func (ev *evaluator) eval(p wire.Prefix, h unique.Handle[wire.Attrs]) (unique.Handle[wire.Attrs], bool) {
	if ev.p == nil {
		return h, false
	}
	var mask uint64
	if !ev.p.all {
		pfx := p.Netip()
		am, ok := ev.attrs[h]
		if !ok {
			ev.scratch = h.Value()
			am = ev.p.attrMask(&ev.scratch)
			if len(ev.attrs) >= maxEvalCache {
				clear(ev.attrs)
			}
			ev.attrs[h] = am
		}
		mask = ev.p.matchMask(pfx, am)
	}
	k := resultKey{h, mask, p.Is6()}
	if ev.hasLast && k == ev.last {
		return ev.lastR.out, ev.lastR.ok
	}
	if r, ok := ev.results[k]; ok {
		ev.last, ev.lastR, ev.hasLast = k, r, true
		return r.out, r.ok
	}
	e := ev.e
	if k.v6 {
		e.self = ev.self6
	}
	var ok bool
	ev.scratch, ok = ev.p.apply(mask, h.Value(), e)
	var r result
	if ok {
		if ev.post != nil {
			ev.post(&ev.scratch, k.v6)
		}
		r = result{unique.Make(ev.scratch), true}
	}
	if len(ev.results) >= maxEvalCache {
		clear(ev.results)
	}
	ev.results[k] = r
	ev.last, ev.lastR, ev.hasLast = k, r, true
	return r.out, r.ok
}
