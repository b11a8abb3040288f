package bgp

import (
	"slices"
	"testing"

	"github.com/routerd/routerd/internal/bgp/wire"
)

func TestDescribeCaps(t *testing.T) {
	c := wire.Capabilities{
		Multiprotocol: []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast}, RouteRefresh: true, EnhancedRouteRefresh: true,
		ExtendedMessage: true, HasAS4: true, AS4: 4200000001,
		ExtendedNextHop: []wire.ExtendedNextHop{{NLRI: wire.IPv4Unicast, NextHopAFI: 2}},
		GracefulRestart: &wire.GracefulRestart{Restarting: true, RestartTime: 90},
		Unknown:         []wire.RawCapability{{Code: 73, Value: []byte("host")}},
	}
	want := []string{
		"multiprotocol: ipv4-unicast, ipv6-unicast", "4-octet AS: 4200000001", "route refresh", "enhanced route refresh",
		"extended messages", "extended next hop: ipv4-unicast with ipv6 next hops",
		"graceful restart: restart time 90 s, no families (receiving speaker only), restarting (R bit)",
		"unknown capability 73 (4 bytes)",
	}
	if got := describeCaps(&c); !slices.Equal(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if got := describeCaps(&wire.Capabilities{}); got != nil {
		t.Errorf("no capabilities: %q", got)
	}
}
