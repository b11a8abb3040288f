// Package wire holds the BGP-4 message codec: it turns bytes from a peer
// into typed messages and back, and classifies every malformed input the way
// RFC 7606 asks (session reset, AFI/SAFI disable, treat-as-withdraw or
// attribute discard) so that the session layer decides from a value.
//
// In the flow of a route, wire sits between a BGP session's TCP connection
// and its adj-RIB-in: a [Decoder] (one per session, carrying the negotiated
// [Options]) turns an UPDATE into an [Update] whose prefixes are compact
// [Prefix] values and whose path attributes are interned [Attrs] handles, so
// that a full table shares a few thousand attribute sets. On the way out an
// [Encoder] packs as many prefixes sharing one attribute set as fit into each
// UPDATE, and the bytes it returns can be written to every neighbour that has
// the same export policy.
//
// Nothing in this package does I/O except [ReadMessage], keeps timers or
// state beyond a per-session attribute cache, or panics on any input.
package wire
