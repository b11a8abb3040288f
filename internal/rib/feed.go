package rib

// GroupID names a next-hop group: a set of next hops as sources gave them,
// resolved by the RIB. Routes with the same next hops in the same table share
// one group, so a change of a gateway's resolution moves all of them with one
// GroupChange (the kernel programmer maps a group to one kernel nexthop
// object). IDs are not reused while any subscriber may still hold them.
type GroupID uint32

// Best is the route the RIB selected for a key.
type Best struct {
	Origin   Origin // zero: there is no route for the key (withdrawn)
	Kind     Kind
	Distance uint8
	Metric   uint32
	Group    GroupID // unicast only
	Proto    uint8   // rtm_protocol of a foreign kernel route
}

// Valid reports whether there is a route.
func (b Best) Valid() bool { return b.Origin != 0 }

// RouteChange is the latest state of one key.
type RouteChange struct {
	Key
	Best Best
	// ID numbers the key densely among the RIB's keys. It stays the
	// key's until the subscriber has been given a change without a route
	// for it: a subscriber can keep its own per-key state in an array by
	// ID instead of a map by prefix, and find the keys again with
	// Subscription.Keys.
	ID uint32
}

// GroupChange is the latest resolution of a group. NextHops is empty when the
// group cannot be resolved; no Best refers to it then, except for a
// subscriber that follows group loss (Subscription.GroupLoss): routes it was
// given with this group are parked, not forwarding, until the group
// resolves again.
type GroupChange struct {
	ID       GroupID
	NextHops []NextHop // resolved: every element has Ifindex set; shared, read-only
}

// Update is one batch a subscriber drains. Apply Groups first (so routes find
// their groups), then Routes, then Removed (groups no route refers to).
type Update struct {
	Groups  []GroupChange
	Routes  []RouteChange
	Removed []GroupID
	// Synced is set on the batch that completes the subscriber's initial
	// snapshot: after it, the subscriber has seen every route the RIB held
	// when it subscribed (a kernel programmer reconciles at that point).
	Synced bool
}

// Empty reports whether the update carries nothing.
func (u *Update) Empty() bool {
	return len(u.Groups) == 0 && len(u.Routes) == 0 && len(u.Removed) == 0 && !u.Synced
}
