package wire_test

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/routerd/routerd/internal/bgp/wire"
)

// A session encodes its routes once per attribute set and decodes what its
// peer sends into one reused Update.
func Example() {
	opts := wire.Options{AS4: true, EBGP: true, Families: wire.FamIPv4Unicast | wire.FamIPv6Unicast}

	attrs := wire.Attrs{
		Present:     wire.AttrMask(0).With(wire.AttrOrigin).With(wire.AttrASPath),
		ASPath:      wire.MakeASPath(wire.ASSegment{Type: wire.ASSequence, ASNs: []uint32{65001, 4200000001}}),
		NextHop:     netip.MustParseAddr("2001:db8::1"),
		Communities: wire.MakeCommunities(wire.NoExport),
	}
	out, err := wire.NewEncoder(opts).AppendAnnounce(nil, &attrs, []wire.Prefix{
		wire.MustParsePrefix("2001:db8:1::/48"), wire.MustParsePrefix("2001:db8:2::/48"),
	})
	if err != nil {
		panic(err)
	}
	out = wire.AppendEndOfRIB(out, wire.IPv6Unicast)

	r := bytes.NewReader(out)
	buf := make([]byte, opts.MaxLen())
	dec := wire.NewDecoder(opts)
	var u wire.Update
	for r.Len() > 0 {
		h, body, err := wire.ReadMessage(r, buf, opts.MaxLen())
		if err != nil || h.Type != wire.TypeUpdate {
			panic(err)
		}
		if err := dec.DecodeUpdate(body, &u); err != nil {
			if e, ok := wire.AsError(err); ok && e.Action == wire.SessionReset {
				_ = e.Notification() // send it and close
			}
			// Other actions: apply u (it holds the withdrawals) and log.
		}
		if u.EndOfRIB != (wire.Family{}) {
			fmt.Println("end of RIB", u.EndOfRIB)
			continue
		}
		a := u.MPAttrs.Value()
		fmt.Println(u.MPNLRI, a.ASPath, a.NextHop, a.Communities)
	}
	// Output:
	// [2001:db8:1::/48 2001:db8:2::/48] 65001 4200000001 2001:db8::1 no-export
	// end of RIB ipv6-unicast
}
