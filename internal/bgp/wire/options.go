package wire

// Options is what a session negotiated and knows about its peer; both the
// Decoder and the Encoder of a session take it. Build it with Negotiate or
// by hand.
type Options struct {
	// AS4 says both sides advertised 4-octet AS support (RFC 6793): AS
	// numbers in AS_PATH and AGGREGATOR are 4 octets; otherwise they are 2
	// octets and AS4_PATH/AS4_AGGREGATOR carry the rest.
	AS4 bool
	// ExtendedMessage says both sides advertised RFC 8654: messages up to
	// 65535 bytes.
	ExtendedMessage bool
	// EBGP says the peer is external and not a member of our
	// confederation: LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST from it are
	// discarded and confederation segments in its AS_PATH are malformed;
	// the encoder leaves those attributes out towards it.
	EBGP bool
	// Families is the set of negotiated families; MP_REACH/MP_UNREACH of
	// other families is ignored with a warning.
	Families Families
	// ExtendedNextHop says IPv4 unicast routes may carry an IPv6 next hop
	// (RFC 8950), in MP_REACH_NLRI.
	ExtendedNextHop bool
}

// MaxLen returns the largest message size allowed on the session.
func (o Options) MaxLen() int {
	if o.ExtendedMessage {
		return MaxExtendedMessageLen
	}
	return MaxMessageLen
}
