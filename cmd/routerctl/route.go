package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	pb "github.com/routerd/routerd/api/routerd/v1"
)

func reloadRequest() *pb.ReloadRequest { return &pb.ReloadRequest{} }

func routeCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "route",
		Short: "Add or delete runtime static routes",
		Long: `Add or delete runtime static routes (protocol "api"). They take part in
selection like static routes from the configuration (default distance 1),
live until deleted or until routerd stops, and are not written to the
configuration file.`,
		Args: args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			return usagef("route what? add or del")
		},
	}
	cmd.AddCommand(routeAddCommand(c), routeDelCommand(c))
	return cmd
}

func routeAddCommand(c *cli) *cobra.Command {
	var table string
	var distance, metric uint32
	cmd := &cobra.Command{
		Use:   "add PREFIX (via GW [dev IF] [weight W]... | dev IF | blackhole | unreachable | prohibit)",
		Short: "Add a runtime static route",
		Long: `Add a runtime static route. Next hops are written as for ip route:
"via GW" (a gateway, resolved through the RIB), "dev IF" (an attached
network), or both; repeat "via" for ECMP, with "weight W" (1..256) per next
hop. "blackhole", "unreachable" and "prohibit" make routes without next hops.
Adding a prefix that was already added replaces it.`,
		Example: `  routerctl route add 198.51.100.0/24 via 192.0.2.1
  routerctl route add 2001:db8:1::/48 via fe80::1 dev eth0
  routerctl route add 203.0.113.0/24 via 192.0.2.1 via 192.0.2.2 weight 3
  routerctl route add 10.99.0.0/16 blackhole --distance 250 --table 100`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			spec, err := parseRouteSpec(a[0], a[1:])
			if err != nil {
				return err
			}
			spec.Table = table
			if cmd.Flags().Changed("distance") {
				spec.Distance = &distance
			}
			spec.Metric = metric
			return unary(c, cmd, func(ctx context.Context, api pb.RouterdClient) (*pb.AddRoutesResponse, error) {
				return api.AddRoutes(ctx, &pb.AddRoutesRequest{Routes: []*pb.RouteSpec{spec}})
			}, func(*pb.AddRoutesResponse) {
				fmt.Fprintf(c.stdout, "added %s to table %s\n", spec.Prefix, tableOrMain(table))
			})
		},
	}
	tableFlag(cmd, &table, "", "routing table: a name or a number (default main)")
	cmd.Flags().Uint32Var(&distance, "distance", 1, "administrative distance, 1..255")
	cmd.Flags().Uint32Var(&metric, "metric", 0, "metric; lower wins among equal distance")
	return cmd
}

func tableOrMain(t string) string {
	if t == "" {
		return "main"
	}
	return t
}

// parseRouteSpec reads the words after the prefix of "route add".
func parseRouteSpec(prefix string, words []string) (*pb.RouteSpec, error) {
	spec := &pb.RouteSpec{Prefix: prefix}
	var cur *pb.NextHop
	next := func(i int, what string) (string, error) {
		if i+1 >= len(words) {
			return "", usagef("%q needs %s", words[i], what)
		}
		return words[i+1], nil
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch w {
		case "via":
			gw, err := next(i, "a gateway address")
			if err != nil {
				return nil, err
			}
			cur = &pb.NextHop{Gateway: gw}
			spec.Nexthops = append(spec.Nexthops, cur)
			i++
		case "dev":
			dev, err := next(i, "an interface name")
			if err != nil {
				return nil, err
			}
			if cur == nil || cur.Interface != "" {
				cur = &pb.NextHop{}
				spec.Nexthops = append(spec.Nexthops, cur)
			}
			cur.Interface = dev
			i++
		case "weight":
			s, err := next(i, "a number 1..256")
			if err != nil {
				return nil, err
			}
			if cur == nil {
				return nil, usagef("weight %s: give it after a next hop (via GW or dev IF)", s)
			}
			n, err := strconv.ParseUint(s, 10, 32)
			if err != nil || n < 1 || n > 256 {
				return nil, usagef("weight %q: a number 1..256", s)
			}
			cur.Weight = uint32(n)
			i++
		case "blackhole", "unreachable", "prohibit":
			if spec.Kind != "" {
				return nil, usagef("%s and %s: a route is one or the other", spec.Kind, w)
			}
			spec.Kind = w
		default:
			return nil, usagef("unexpected %q: expected via GW, dev IF, weight W, blackhole, unreachable or prohibit", w)
		}
	}
	if spec.Kind != "" && len(spec.Nexthops) > 0 {
		return nil, usagef("a %s route has no next hops", spec.Kind)
	}
	if spec.Kind == "" && len(spec.Nexthops) == 0 {
		return nil, usagef("route add %s: say where to: via GW, dev IF, blackhole, unreachable or prohibit", prefix)
	}
	return spec, nil
}

func routeDelCommand(c *cli) *cobra.Command {
	var table string
	cmd := &cobra.Command{
		Use:     "del PREFIX...",
		Aliases: []string{"delete"},
		Short:   "Delete runtime static routes (all or none)",
		Long: `Delete runtime static routes added with "route add". If one of the
prefixes was not added through the API, nothing is deleted and routerctl
exits 5.`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			req := &pb.DeleteRoutesRequest{}
			for _, p := range a {
				req.Routes = append(req.Routes, &pb.RouteKey{Table: table, Prefix: p})
			}
			return unary(c, cmd, func(ctx context.Context, api pb.RouterdClient) (*pb.DeleteRoutesResponse, error) {
				return api.DeleteRoutes(ctx, req)
			}, func(*pb.DeleteRoutesResponse) {
				for _, p := range a {
					fmt.Fprintf(c.stdout, "deleted %s from table %s\n", p, tableOrMain(table))
				}
			})
		},
	}
	tableFlag(cmd, &table, "", "routing table: a name or a number (default main)")
	return cmd
}
