package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	pb "github.com/routerd/routerd/api/routerd/v1"
)

// showBGPCommand is "show bgp": summary, neighbor and routes.
func showBGPCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bgp",
		Short: "Show BGP neighbours and routes",
		Args:  args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			return usagef("show bgp what? summary, neighbor or routes")
		},
	}
	cmd.AddCommand(showBGPSummaryCommand(c), showBGPNeighborCommand(c), showBGPRoutesCommand(c))
	return cmd
}

func showBGPSummaryCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "summary",
		Short: "Show every BGP neighbour: AS, state, up/down time and prefix counts",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unary(c, cmd, func(ctx context.Context, api pb.RouterdClient) (*pb.ListBGPNeighborsResponse, error) {
				return api.ListBGPNeighbors(ctx, &pb.ListBGPNeighborsRequest{})
			}, func(resp *pb.ListBGPNeighborsResponse) {
				writeBGPSummary(c.stdout, resp, time.Now())
			})
		},
	}
}

func writeBGPSummary(w io.Writer, s *pb.ListBGPNeighborsResponse, now time.Time) {
	fmt.Fprintf(w, "BGP router identifier %s, local AS %d, %d neighbors\n", s.GetRouterId(), s.GetLocalAs(), len(s.GetNeighbors()))
	if d := s.GetRestartDeferral(); d != nil {
		waiting := "no neighbor"
		if len(d.GetWaitingFor()) > 0 {
			waiting = strings.Join(d.GetWaitingFor(), ", ")
		}
		fmt.Fprintf(w, "Graceful restart: tables held back for %s, at most %s more, waiting for End-of-RIB from %s\n",
			age(now.Sub(d.GetSince().AsTime())), age(d.GetUntil().AsTime().Sub(now)), waiting)
	}
	fmt.Fprintln(w)
	tw := newTable(w)
	fmt.Fprintln(tw, "NEIGHBOR\tAS\tSTATE\tUP/DOWN\tRECEIVED\tACCEPTED\tADVERTISED\tDESCRIPTION")
	for _, n := range s.GetNeighbors() {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\n", n.GetAddress(), n.GetPeerAs(), neighborState(n), upDown(n, now),
			n.GetPrefixesReceived(), n.GetPrefixesAccepted(), n.GetPrefixesAdvertised(), dash(n.GetDescription()))
	}
	tw.Flush()
}

// neighborState is the state, marked when the operator disabled the
// neighbour.
func neighborState(n *pb.BGPNeighbor) string {
	if !n.GetEnabled() {
		return n.GetState() + " (disabled)"
	}
	return n.GetState()
}

// upDown is how long the session has been established, or since when it
// has been down ("never" if it never was up).
func upDown(n *pb.BGPNeighbor, now time.Time) string {
	switch {
	case n.GetUpSince() != nil:
		return age(now.Sub(n.GetUpSince().AsTime()))
	case n.GetLastDown() != nil:
		return age(now.Sub(n.GetLastDown().AsTime()))
	}
	return "never"
}

// age prints a duration as routers do: hh:mm:ss within a day, then days
// and hours.
func age(d time.Duration) string {
	d = max(d, 0).Truncate(time.Second)
	if d < 24*time.Hour {
		s := int(d.Seconds())
		return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	h := int(d.Hours())
	return fmt.Sprintf("%dd%02dh", h/24, h%24)
}

func showBGPNeighborCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "neighbor [ADDRESS [received-routes|advertised-routes]]",
		Aliases: []string{"neighbors"},
		Short:   "Show BGP neighbours in detail, or the routes received from or advertised to one",
		Long: `Show a BGP neighbour's session in detail (every neighbour without an
ADDRESS). With received-routes, the routes accepted from it (after import
policy; routes it rejected are not kept); with advertised-routes, the
routes sent to it with the attributes as sent. Exits 5 if ADDRESS is not a
configured neighbour.`,
		Example: `  routerctl show bgp neighbor 192.0.2.7
  routerctl show bgp neighbor 192.0.2.7 advertised-routes -o json`,
		Args:              args(cobra.MaximumNArgs(2)),
		ValidArgsFunction: c.completeNeighbor("received-routes", "advertised-routes"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if len(a) > 0 {
				if _, err := netip.ParseAddr(a[0]); err != nil {
					return usagef("%q is not an IP address", a[0])
				}
			}
			if len(a) == 2 {
				switch a[1] {
				case "received-routes":
					return c.listAdjRoutes(cmd.Context(), a[0], "received")
				case "advertised-routes":
					return c.listAdjRoutes(cmd.Context(), a[0], "advertised")
				}
				return usagef("%q: use received-routes or advertised-routes", a[1])
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), c.timeout)
			defer cancel()
			var ns []*pb.BGPNeighbor
			if len(a) == 1 {
				n, err := cl.api.GetBGPNeighbor(ctx, &pb.GetBGPNeighborRequest{Neighbor: a[0]})
				if err != nil {
					return cl.classify(err)
				}
				if c.json() {
					return writeJSON(c.stdout, n)
				}
				ns = []*pb.BGPNeighbor{n}
			} else {
				resp, err := cl.api.ListBGPNeighbors(ctx, &pb.ListBGPNeighborsRequest{})
				if err != nil {
					return cl.classify(err)
				}
				if c.json() {
					return writeJSON(c.stdout, resp)
				}
				ns = resp.GetNeighbors()
			}
			for i, n := range ns {
				if i > 0 {
					fmt.Fprintln(c.stdout)
				}
				writeBGPNeighbor(c.stdout, n, time.Now())
			}
			return nil
		},
	}
}

func writeBGPNeighbor(w io.Writer, n *pb.BGPNeighbor, now time.Time) {
	head := fmt.Sprintf("BGP neighbor %s, AS %d", n.GetAddress(), n.GetPeerAs())
	if t := n.GetSessionType(); t != "" {
		head += " (" + t + ")"
	}
	if n.GetDescription() != "" {
		head += fmt.Sprintf(", %q", n.GetDescription())
	}
	fmt.Fprintln(w, head)
	tw := newTable(w)
	row := func(k, format string, args ...any) {
		fmt.Fprintf(tw, "  %s:\t"+format+"\n", append([]any{k}, args...)...)
	}
	state := neighborState(n)
	switch {
	case n.GetUpSince() != nil:
		state += fmt.Sprintf(", up for %s (since %s)", age(now.Sub(n.GetUpSince().AsTime())), n.GetUpSince().AsTime().Local().Format(time.RFC3339))
	case n.GetLastDown() != nil:
		state += fmt.Sprintf(", down for %s (since %s)", age(now.Sub(n.GetLastDown().AsTime())), n.GetLastDown().AsTime().Local().Format(time.RFC3339))
	}
	row("State", "%s", state)
	if n.GetState() == "established" {
		row("Remote router ID", "%s", n.GetRemoteId())
		row("Local address", "%s", n.GetLocalAddress())
		row("Hold time", "%s", n.GetHoldTime().AsDuration())
		row("Families", "%s", strings.Join(n.GetFamilies(), ", "))
		row("4-octet AS", "%s", yesNo(n.GetFourOctetAs()))
		for i, c := range n.GetCapabilities() {
			k := ""
			if i == 0 {
				k = "Its capabilities:"
			}
			fmt.Fprintf(tw, "  %s\t%s\n", k, c)
		}
	}
	if st := n.GetStaleFamilies(); len(st) > 0 {
		row("Stale routes", "kept for %s (graceful restart or route refresh in progress)", strings.Join(st, ", "))
	}
	row("Policies", "import %s, export %s", policyName(n.GetImportPolicy()), policyName(n.GetExportPolicy()))
	row("Prefixes", "received %d, accepted %d, advertised %d", n.GetPrefixesReceived(), n.GetPrefixesAccepted(), n.GetPrefixesAdvertised())
	if l4, l6 := n.GetMaxPrefixesIpv4(), n.GetMaxPrefixesIpv6(); l4 > 0 || l6 > 0 {
		v6 := n.GetPrefixesAcceptedIpv6()
		limit := func(l uint32) string {
			if l == 0 {
				return "none"
			}
			return strconv.FormatUint(uint64(l), 10)
		}
		row("Prefix limits", "ipv4 %d of %s, ipv6 %d of %s", n.GetPrefixesAccepted()-v6, limit(l4), v6, limit(l6))
	}
	row("UPDATE messages", "received %d, sent %d", n.GetUpdatesReceived(), n.GetUpdatesSent())
	row("Flaps", "%d", n.GetFlaps())
	if n.GetLastError() != "" {
		row("Last error", "%s", n.GetLastError())
	}
	if n.GetLastNotificationReceived() != "" {
		row("Last NOTIFICATION received", "%s", n.GetLastNotificationReceived())
	}
	tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func policyName(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func showBGPRoutesCommand(c *cli) *cobra.Command {
	var neighbor string
	var longer bool
	cmd := &cobra.Command{
		Use:     "routes [PREFIX]",
		Aliases: []string{"route"},
		Short:   "Show the BGP Loc-RIB: every path per prefix, the best one and why",
		Long: `Show the BGP Loc-RIB: each prefix with every path (from neighbours and the
speaker's own networks and redistributed routes), the best one marked ">"
with the decision step that made it win, and the neighbours the prefix is
advertised to. With a PREFIX, only that prefix (with --longer, also every
more specific one); exits 5 if there is none. --neighbor keeps prefixes
with a path from that neighbour.`,
		Example: `  routerctl show bgp routes
  routerctl show bgp routes 10.0.0.0/8 --longer
  routerctl show bgp routes --neighbor 192.0.2.7 -o json`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			req := &pb.ListBGPRoutesRequest{LongerPrefixes: longer, Neighbor: neighbor}
			if len(a) == 1 {
				if _, err := netip.ParsePrefix(a[0]); err != nil {
					return usagef("%q is not a prefix (address/length)", a[0])
				}
				req.Prefix = a[0]
			} else if longer {
				return usagef("--longer needs a PREFIX")
			}
			if neighbor != "" {
				if _, err := netip.ParseAddr(neighbor); err != nil {
					return usagef("--neighbor %q is not an IP address", neighbor)
				}
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			stream, err := cl.api.ListBGPRoutes(ctx, req)
			notFound := ""
			if req.Prefix != "" {
				notFound = "no BGP route for " + req.Prefix
				if longer {
					notFound += " or a more specific prefix"
				}
			}
			return c.printBGPRoutes(cl, stream, err, true, notFound)
		},
	}
	cmd.Flags().StringVar(&neighbor, "neighbor", "", "only prefixes with a path from this neighbour")
	cmd.Flags().BoolVar(&longer, "longer", false, "with PREFIX: also every more specific prefix")
	_ = cmd.RegisterFlagCompletionFunc("neighbor", c.completeNeighborFlag)
	return cmd
}

func (c *cli) listAdjRoutes(ctx context.Context, neighbor, direction string) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := cl.api.ListBGPAdjRoutes(ctx, &pb.ListBGPAdjRoutesRequest{Neighbor: neighbor, Direction: direction})
	return c.printBGPRoutes(cl, stream, err, false, "")
}

// printBGPRoutes prints a stream of BGP routes as a table or a JSON array;
// with notFound set, an empty stream is exit 5 with that message. The
// first message is read before anything is printed, so that an error is
// all the output.
func (c *cli) printBGPRoutes(cl *client, stream grpc.ServerStreamingClient[pb.BGPRoute], err error, locRIB bool, notFound string) error {
	if err != nil {
		return cl.classify(err)
	}
	return printStream(c, cl, stream, notFound, func() (func(*pb.BGPRoute), func() error) {
		bt := newBGPRouteTable(c.stdout, locRIB)
		return bt.add, bt.close
	})
}

// bgpRouteTable prints BGP routes one path per line.
type bgpRouteTable struct {
	tw     *tabwriter.Writer
	locRIB bool
	rows   int
}

func newBGPRouteTable(w io.Writer, locRIB bool) *bgpRouteTable {
	t := &bgpRouteTable{tw: newTable(w), locRIB: locRIB}
	if locRIB {
		fmt.Fprintln(w, "Codes: > best, * next hop resolves")
		fmt.Fprintln(w)
		fmt.Fprintln(t.tw, "\tPREFIX\tFROM\tNEXT HOP\tMED\tLOCPRF\tAS PATH\tORIGIN\tCOMMUNITIES\tREASON\tADVERTISED TO")
	} else {
		fmt.Fprintln(t.tw, "PREFIX\tNEXT HOP\tMED\tLOCPRF\tAS PATH\tORIGIN\tCOMMUNITIES")
	}
	return t
}

func (t *bgpRouteTable) add(r *pb.BGPRoute) {
	for i, p := range r.GetPaths() {
		prefix := ""
		if i == 0 {
			prefix = r.GetPrefix()
		}
		comms := strings.Join(append(append(append([]string{}, p.GetCommunities()...), p.GetLargeCommunities()...), p.GetExtCommunities()...), " ")
		cells := []string{prefix, dash(nextHop(p)), optU32(p.Med), optU32(p.LocalPref), dash(p.GetAsPath()), dash(p.GetOrigin()), dash(comms)}
		if t.locRIB {
			code := ""
			if p.GetBest() {
				code += ">"
			}
			if p.GetUsable() {
				code += "*"
			}
			from := p.GetNeighbor()
			if from == "" {
				from = p.GetLocal()
			}
			reason, adv := "-", "-"
			if p.GetBest() {
				reason, adv = dash(r.GetReason()), advertisedTo(r.GetAdvertisedTo())
			}
			cells = append([]string{code, cells[0], from}, cells[1:]...)
			cells = append(cells, reason, adv)
		}
		fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
		t.rows++
	}
	if t.rows >= flushEvery {
		t.tw.Flush()
		t.rows = 0
	}
}

func (t *bgpRouteTable) close() error { return t.tw.Flush() }

func nextHop(p *pb.BGPPath) string {
	if p.GetLinkLocalNextHop() != "" {
		return p.GetNextHop() + "," + p.GetLinkLocalNextHop()
	}
	return p.GetNextHop()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func optU32(v *uint32) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatUint(uint64(*v), 10)
}

// advertisedTo lists up to three neighbours, then a count (-o json has
// them all).
func advertisedTo(as []string) string {
	switch {
	case len(as) == 0:
		return "-"
	case len(as) <= 3:
		return strings.Join(as, ",")
	}
	return fmt.Sprintf("%d neighbors", len(as))
}

// bgpCommand is "bgp": actions on neighbours.
func bgpCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bgp",
		Short: "Reset, enable or disable BGP neighbours",
		Args:  args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			return usagef("bgp what? reset or neighbor")
		},
	}
	cmd.AddCommand(bgpResetCommand(c), bgpNeighborCommand(c))
	return cmd
}

func bgpResetCommand(c *cli) *cobra.Command {
	var soft string
	cmd := &cobra.Command{
		Use:   "reset ADDRESS [--soft in|out|both]",
		Short: "Reset a BGP session, or refresh its routes (--soft)",
		Long: `Without --soft, close the session with a Cease (Administrative Reset); it
comes back by itself. With --soft out, send every route to the neighbour
again; with --soft in, ask it to send its routes again (ROUTE-REFRESH);
both does both. A soft reset keeps the session and needs it established.
Exits 5 if ADDRESS is not a configured neighbour.`,
		Example: `  routerctl bgp reset 192.0.2.7
  routerctl bgp reset 192.0.2.7 --soft out`,
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: c.completeNeighbor(),
		RunE: func(cmd *cobra.Command, a []string) error {
			switch soft {
			case "", "in", "out", "both":
			default:
				return usagef("--soft %q: use in, out or both", soft)
			}
			if _, err := netip.ParseAddr(a[0]); err != nil {
				return usagef("%q is not an IP address", a[0])
			}
			return unary(c, cmd, func(ctx context.Context, api pb.RouterdClient) (*pb.ResetBGPNeighborResponse, error) {
				return api.ResetBGPNeighbor(ctx, &pb.ResetBGPNeighborRequest{Neighbor: a[0], Soft: soft})
			}, func(*pb.ResetBGPNeighborResponse) {
				if soft == "" {
					fmt.Fprintf(c.stdout, "session with %s reset\n", a[0])
				} else {
					fmt.Fprintf(c.stdout, "soft reset (%s) of %s started\n", soft, a[0])
				}
			})
		},
	}
	cmd.Flags().StringVar(&soft, "soft", "", "in, out or both: refresh routes without closing the session")
	_ = cmd.RegisterFlagCompletionFunc("soft", fixedCompletion("in", "out", "both"))
	return cmd
}

func bgpNeighborCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "neighbor ADDRESS enable|disable",
		Short: "Enable or disable (Administrative Shutdown) a BGP neighbour",
		Long: `disable closes the neighbour's session with a Cease (Administrative
Shutdown) and keeps it down; enable lets it connect again. The setting
lasts until a reload changes the neighbour's configuration or routerd
restarts. Exits 5 if ADDRESS is not a configured neighbour.`,
		Example:           `  routerctl bgp neighbor 192.0.2.7 disable`,
		Args:              args(cobra.ExactArgs(2)),
		ValidArgsFunction: c.completeNeighbor("enable", "disable"),
		RunE: func(cmd *cobra.Command, a []string) error {
			var on bool
			switch a[1] {
			case "enable":
				on = true
			case "disable":
			default:
				return usagef("%q: use enable or disable", a[1])
			}
			if _, err := netip.ParseAddr(a[0]); err != nil {
				return usagef("%q is not an IP address", a[0])
			}
			return unary(c, cmd, func(ctx context.Context, api pb.RouterdClient) (*pb.SetBGPNeighborEnabledResponse, error) {
				return api.SetBGPNeighborEnabled(ctx, &pb.SetBGPNeighborEnabledRequest{Neighbor: a[0], Enabled: on})
			}, func(*pb.SetBGPNeighborEnabledResponse) {
				fmt.Fprintf(c.stdout, "neighbor %s %sd\n", a[0], a[1])
			})
		},
	}
}

// completeNeighbor completes the first argument with the daemon's
// neighbour addresses and the second with then.
func (c *cli) completeNeighbor(then ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, a []string, _ string) ([]string, cobra.ShellCompDirective) {
		switch {
		case len(a) == 0:
			return c.neighborAddrs(cmd.Context()), cobra.ShellCompDirectiveNoFileComp
		case len(a) == 1:
			return then, cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeNeighborFlag completes a flag's value with neighbour addresses.
func (c *cli) completeNeighborFlag(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	return c.neighborAddrs(cmd.Context()), cobra.ShellCompDirectiveNoFileComp
}

// neighborAddrs asks the daemon for its neighbours, each with a note for
// shells that show one; nil if it cannot answer quickly.
func (c *cli) neighborAddrs(ctx context.Context) []string {
	cl, err := c.client()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := cl.api.ListBGPNeighbors(ctx, &pb.ListBGPNeighborsRequest{})
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range resp.GetNeighbors() {
		out = append(out, n.GetAddress()+"\t"+neighborCompletionNote(n))
	}
	return out
}

func neighborCompletionNote(n *pb.BGPNeighbor) string {
	s := "AS" + strconv.FormatUint(uint64(n.GetPeerAs()), 10) + " " + n.GetState()
	if n.GetDescription() != "" {
		s += " " + n.GetDescription()
	}
	return s
}
