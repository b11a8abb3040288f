package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/routerd/routerd/api/routerd/v1"
)

func watchCommand(c *cli) *cobra.Command {
	watch := &cobra.Command{
		Use:   "watch",
		Short: "Follow changes as they happen",
		Args:  args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			return usagef("watch what? routes")
		},
	}
	var table, family string
	routes := &cobra.Command{
		Use:   "routes",
		Short: "Print the selected routes, then every change, until interrupted",
		Long: `Print every selected route, a line that marks the initial state
complete, then each change as it happens, until interrupted (exit 0) or
routerd goes away (exit 3). Changes are coalesced: if routerctl reads slowly,
it sees the latest state of each prefix rather than every flap.

With -o json, one JSON object per line:
  {"type":"route","route":{...}}     a prefix's selected route (present=false: none)
  {"type":"group","group":{...}}     a next-hop group now resolves differently
  {"type":"synced"}                  the initial state is complete`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fam, err := familyArg(family)
			if err != nil {
				return err
			}
			req := &pb.WatchRoutesRequest{Family: fam}
			if table != "all" {
				req.Table = table
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			stream, err := cl.api.WatchRoutes(cmd.Context(), req)
			if err != nil {
				return cl.classify(err)
			}
			out := &watchPrinter{w: c.stdout, json: c.json(), now: time.Now}
			for {
				msg, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					if cmd.Context().Err() != nil || status.Code(err) == codes.Canceled {
						return nil // interrupted
					}
					return cl.classify(err)
				}
				if err := out.print(msg); err != nil {
					return err
				}
			}
		},
	}
	tableFlag(routes, &table, "all", `routing table: a name, a number, or "all"`)
	routes.Flags().StringVar(&family, "family", "", "4 or 6: only that address family")
	_ = routes.RegisterFlagCompletionFunc("family", fixedCompletion("4", "6"))
	watch.AddCommand(routes)
	return watch
}

// watchPrinter prints watch messages, one line per event.
type watchPrinter struct {
	w       io.Writer
	json    bool
	now     func() time.Time
	initial int // routes before the synced marker
	synced  bool
}

func (p *watchPrinter) print(msg *pb.WatchRoutesResponse) error {
	var buf bytes.Buffer
	for _, g := range msg.GetGroups() {
		if p.json {
			if err := jsonLine(&buf, "group", g); err != nil {
				return err
			}
			continue
		}
		hops := make([]string, 0, len(g.GetNexthops()))
		for _, nh := range g.GetNexthops() {
			hops = append(hops, formatNextHop(nh))
		}
		if len(hops) == 0 {
			hops = append(hops, "unresolved")
		}
		fmt.Fprintf(&buf, "%s nexthop group %d: %s\n", p.stamp(), g.GetGroup(), strings.Join(hops, ", "))
	}
	for _, r := range msg.GetRoutes() {
		if !p.synced {
			p.initial++
		}
		if p.json {
			if err := jsonLine(&buf, "route", r); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(&buf, "%s %s\n", p.stamp(), formatRouteEvent(r))
	}
	if msg.GetSynced() {
		p.synced = true
		if p.json {
			buf.WriteString(`{"type":"synced"}` + "\n")
		} else {
			fmt.Fprintf(&buf, "%s initial state complete: %d routes; changes follow\n", p.stamp(), p.initial)
		}
	}
	_, err := p.w.Write(buf.Bytes())
	return err
}

func (p *watchPrinter) stamp() string { return p.now().Format("15:04:05.000") }

// jsonLine writes {"type":T,"<T>":m} on one line.
func jsonLine(buf *bytes.Buffer, typ string, m proto.Message) error {
	b, err := compactJSON(m)
	if err != nil {
		return exitf(exitDaemon, "encode JSON: %v", err)
	}
	fmt.Fprintf(buf, `{"type":%q,%q:%s}`+"\n", typ, typ, b)
	return nil
}

// formatRouteEvent is "PREFIX table T: ORIGIN D/M via ..." or "withdrawn".
func formatRouteEvent(r *pb.RouteEvent) string {
	head := r.GetPrefix() + " table " + r.GetTable() + ": "
	if !r.GetPresent() {
		return head + "no route"
	}
	s := fmt.Sprintf("%s%s %d/%d", head, r.GetOrigin(), r.GetDistance(), r.GetMetric())
	if k := r.GetKind(); k != "" && k != "unicast" {
		return s + " " + k
	}
	hops := make([]string, 0, len(r.GetNexthops()))
	for _, nh := range r.GetNexthops() {
		hops = append(hops, formatNextHop(nh))
	}
	return s + " " + strings.Join(hops, ", ")
}
