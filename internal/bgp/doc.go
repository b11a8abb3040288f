// Package bgp is routerd's BGP-4 speaker (RFC 4271): neighbour sessions
// with their finite state machine, the Loc-RIB with the decision process,
// import and export policy, and UPDATE packing, on top of the wire codec.
//
// In the flow of a route the speaker is both a source and a consumer of
// the RIB. Each UPDATE a neighbour sends is decoded (prefixes as compact
// wire.Prefix values, attributes interned), passed through the import
// policy, and merged into the Loc-RIB, where every prefix keeps one 16-byte
// path per neighbour; the decision process picks the best, and the changes
// of one UPDATE go to the RIB as one batch (eBGP and iBGP sources, so that
// their distances apply). The speaker subscribes to the RIB's change feed
// for two things: next-hop tracking (a path whose next hop no longer
// resolves through a non-BGP route stops being a candidate, and comes back
// when it resolves again) and redistribution of static and connected
// routes.
//
// Export runs in the decision process: when a prefix's best path changes,
// each update group (the established sessions with the same export policy
// and session options, group.go) applies its export policy (cached per
// attribute set) with the prefix's Loc-RIB entry at hand and queues the
// result. One member's writer at a time encodes a group's queue, grouping
// prefixes by resulting attributes into UPDATEs, and every member writes
// those bytes. The Adj-RIB-Out is not stored as attributes; a bit per
// neighbour in each Loc-RIB entry records what was advertised, so
// withdrawals go only to the neighbours that had the route, and the
// advertised attributes are recomputed when an operator asks.
//
// Goroutines: per neighbour one state-machine goroutine, per connection one
// goroutine (OPEN exchange, then reader), per established session one
// writer, and one that applies the readers' batches to the RIB in order
// (ribqueue.go). Nothing is per prefix.
package bgp
