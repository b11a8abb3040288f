package bgp

import (
	"github.com/routerd/routerd/internal/bgp/wire"
	"github.com/routerd/routerd/internal/config"
)

// Confederations (RFC 5065). With bgp.confederation set, s.cfg.AS is the
// speaker's member AS: neighbours in it are iBGP, neighbours in another
// member AS are confederation-external (config.ConfedEBGP), all others
// are eBGP and see the confederation identifier as our AS (in OPEN, in
// the 4-octet AS capability and at the head of the AS_PATH).
//
// Towards a confederation-external neighbour a route is exported as to an
// iBGP one (LOCAL_PREF, MED and NEXT_HOP kept, no RFC 8212 default deny)
// with our member AS prepended to a leading AS_CONFED_SEQUENCE; towards
// an eBGP neighbour the confederation segments are removed before the
// identifier is prepended. In the decision process a route from a
// confederation-external neighbour is internal (RFC 5065 §5.3), so it
// also goes to the RIB with the iBGP distance.

// ownASInPath returns why an AS path loops back to us, or "": without a
// confederation when it holds our AS anywhere; in one when it holds our
// member AS in a confederation segment or the identifier in another one.
func (s *Speaker) ownASInPath(p wire.ASPath) string {
	id := s.cfg.Confederation.Identifier
	if id == 0 {
		if p.Contains(s.cfg.AS) {
			return "own AS in AS_PATH"
		}
		return ""
	}
	if p.ContainsIn(s.cfg.AS, true) {
		return "own member AS in the AS_PATH's confederation segments"
	}
	if p.ContainsIn(id, false) {
		return "own confederation identifier in AS_PATH"
	}
	return ""
}

// confedChanged reports whether a change of the bgp section from old to
// cfg changes how the speaker meets neighbour n: its session type or the
// AS it is shown. Such a session must be set up again.
func confedChanged(old, cfg *config.BGP, n config.Neighbor) bool {
	return old.SessionType(n.AS) != cfg.SessionType(n.AS) || old.LocalAS(n.AS) != cfg.LocalAS(n.AS)
}
