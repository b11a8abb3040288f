package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	pb "github.com/routerd/routerd/api/routerd/v1"
)

func showCommand(c *cli) *cobra.Command {
	show := &cobra.Command{
		Use:   "show",
		Short: "Show routes, interfaces, BGP or the daemon's status",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("show what? route, interfaces, bgp or status")
		},
	}
	show.AddCommand(showRouteCommand(c), showInterfacesCommand(c), showStatusCommand(c), showBGPCommand(c))
	return show
}

func showRouteCommand(c *cli) *cobra.Command {
	var table, protocol, family string
	var longer bool
	cmd := &cobra.Command{
		Use:   "route [PREFIX|ADDRESS]",
		Short: "Show the RIB: every candidate per prefix, the selected one marked",
		Long: `Show the RIB's routes: each prefix with every candidate route sources
offer, the selected one marked ">" and, if the kernel has it, "*" (or "!"
with the kernel's error if it refused it).

With a PREFIX, only that prefix (with --longer, also every more specific
one); with an ADDRESS, the route that forwards it (as "show route lookup").
Exits 5 if a PREFIX or ADDRESS has no route.`,
		Example: `  routerctl show route
  routerctl show route 10.0.0.0/8 --longer
  routerctl show route --protocol static --family 6
  routerctl show route --table all -o json`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			fam, err := familyArg(family)
			if err != nil {
				return err
			}
			req := &pb.ListRoutesRequest{Origin: protocol, Family: fam, LongerPrefixes: longer}
			if table != "all" {
				req.Table = table
			}
			if len(a) == 1 {
				if !strings.Contains(a[0], "/") {
					if longer {
						return usagef("--longer needs a prefix, not an address")
					}
					return c.lookup(cmd.Context(), table, a[0])
				}
				if _, err := netip.ParsePrefix(a[0]); err != nil {
					return usagef("%q is not a prefix (address/length)", a[0])
				}
				req.Prefix = a[0]
			} else if longer {
				return usagef("--longer needs a PREFIX")
			}
			return c.listRoutes(cmd.Context(), req, table == "all")
		},
	}
	tableFlag(cmd, &table, "main", `routing table: a name, a number, or "all"`)
	cmd.Flags().StringVar(&protocol, "protocol", "", "only prefixes with a candidate of this origin: connected, kernel, static, api, ebgp, ibgp, bgp")
	cmd.Flags().BoolVar(&longer, "longer", false, "with PREFIX: also every more specific prefix")
	cmd.Flags().StringVar(&family, "family", "", "4 or 6: only that address family")
	_ = cmd.RegisterFlagCompletionFunc("protocol", fixedCompletion("connected", "kernel", "static", "api", "ebgp", "ibgp", "bgp"))
	_ = cmd.RegisterFlagCompletionFunc("family", fixedCompletion("4", "6"))
	cmd.AddCommand(showLookupCommand(c))
	return cmd
}

func (c *cli) listRoutes(ctx context.Context, req *pb.ListRoutesRequest, allTables bool) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := cl.api.ListRoutes(ctx, req)
	if err != nil {
		return cl.classify(err)
	}
	notFound := ""
	if req.Prefix != "" {
		in := "table " + req.Table
		if req.Table == "" {
			in = "any table"
		}
		what := "no route for " + req.Prefix
		if req.LongerPrefixes {
			what = "no route for " + req.Prefix + " or a more specific prefix"
		}
		notFound = what + " in " + in
	}
	return printStream(c, cl, stream, notFound, func() (func(*pb.Route), func() error) {
		rt := newRouteTable(c.stdout, allTables)
		return rt.add, rt.close
	})
}

func showLookupCommand(c *cli) *cobra.Command {
	var table string
	cmd := &cobra.Command{
		Use:   "lookup ADDRESS",
		Short: "Show the route that forwards an address (longest match, as the kernel)",
		Long: `Show the selected route that forwards ADDRESS in a table: the longest
matching prefix among selected routes, as the kernel would find it.
Exits 5 if no route covers the address.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return c.lookup(cmd.Context(), table, a[0])
		},
	}
	tableFlag(cmd, &table, "main", "routing table: a name or a number")
	return cmd
}

func (c *cli) lookup(ctx context.Context, table, addr string) error {
	if table == "all" {
		return usagef("a lookup is in one table; --table all does not apply")
	}
	if _, err := netip.ParseAddr(addr); err != nil {
		return usagef("%q is not an IP address", addr)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	r, err := cl.api.LookupRoute(ctx, &pb.LookupRouteRequest{Table: table, Address: addr})
	if err != nil {
		return cl.classify(err)
	}
	if c.json() {
		return writeJSON(c.stdout, r)
	}
	fmt.Fprintf(c.stdout, "%s is forwarded by %s in table %s\n\n", addr, r.GetPrefix(), r.GetTable())
	rt := newRouteTable(c.stdout, false)
	rt.add(r)
	return rt.close()
}

func showInterfacesCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "interfaces",
		Aliases: []string{"interface", "links"},
		Short:   "Show the interfaces routerd knows",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unary(c, cmd, func(ctx context.Context, api pb.RouterdClient) (*pb.ListInterfacesResponse, error) {
				return api.ListInterfaces(ctx, &pb.ListInterfacesRequest{})
			}, func(resp *pb.ListInterfacesResponse) {
				writeInterfaces(c.stdout, resp.GetInterfaces())
			})
		},
	}
}

func writeInterfaces(w io.Writer, ifs []*pb.Interface) {
	tw := newTable(w)
	fmt.Fprintln(tw, "INDEX\tNAME\tADMIN\tOPER\tMTU\tMAC\tADDRESSES")
	for _, i := range ifs {
		admin := "down"
		if i.GetAdminUp() {
			admin = "up"
		}
		addrs := i.GetAddresses()
		first := ""
		if len(addrs) > 0 {
			first = addrs[0]
		}
		mac := i.GetMac()
		if mac == "" {
			mac = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", i.GetIndex(), i.GetName(), admin, i.GetOperState(), i.GetMtu(), mac, first)
		for _, a := range addrs[min(1, len(addrs)):] {
			fmt.Fprintf(tw, "\t\t\t\t\t\t%s\n", a)
		}
	}
	tw.Flush()
}

func showStatusCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show version, uptime, route counts and memory",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unary(c, cmd, func(ctx context.Context, api pb.RouterdClient) (*pb.Status, error) {
				return api.GetStatus(ctx, &pb.GetStatusRequest{})
			}, func(st *pb.Status) { writeStatus(c.stdout, st) })
		},
	}
}

func writeStatus(w io.Writer, st *pb.Status) {
	up := st.GetUptime().AsDuration().Truncate(time.Second)
	fmt.Fprintf(w, "routerd %s, pid %d, up %s (since %s)\n", st.GetVersion(), st.GetPid(), up,
		st.GetStartTime().AsTime().Local().Format(time.RFC3339))
	m := st.GetMemory()
	fmt.Fprintf(w, "Memory: RSS %s; Go heap %s in use, %s from the OS; Go total %s; %d GC cycles; %d goroutines\n",
		humanBytes(m.GetRssBytes()), humanBytes(m.GetHeapAllocBytes()), humanBytes(m.GetHeapSysBytes()),
		humanBytes(m.GetGoSysBytes()), m.GetGcCycles(), st.GetGoroutines())
	r := st.GetRib()
	fmt.Fprintf(w, "RIB: %d prefixes, %d next-hop groups, %d subscribers, %d kernel install errors\n",
		r.GetPrefixes(), r.GetNexthopGroups(), r.GetSubscribers(), r.GetInstallErrors())
	if len(st.GetRouteCounts()) > 0 {
		fmt.Fprintln(w)
		tw := newTable(w)
		fmt.Fprintln(tw, "TABLE\tORIGIN\tROUTES\tSELECTED")
		for _, c := range st.GetRouteCounts() {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", c.GetTable(), c.GetOrigin(), c.GetRoutes(), c.GetSelected())
		}
		tw.Flush()
	}
	if len(st.GetCounters()) > 0 {
		fmt.Fprintln(w)
		tw := newTable(w)
		fmt.Fprintln(tw, "SUBSYSTEM\tCOUNTER\tVALUE")
		for _, c := range st.GetCounters() {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", c.GetSubsystem(), c.GetName(), c.GetValue())
		}
		tw.Flush()
	}
}
