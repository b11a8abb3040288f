package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/routerd/routerd/pkg/fibreader"
)

// fibCommand reads routerd's shared-memory FIB directly, without the
// daemon: `routerctl fib lookup ADDR...` and `routerctl fib stats`.
func fibCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "fib",
		Short: "Query the shared-memory forwarding table directly (no daemon round-trip)",
	}
	cmd.PersistentFlags().StringVar(&path, "fib", "/dev/shm/routerd-fib", "path of the shared-memory FIB file")

	var table uint32
	lookup := &cobra.Command{
		Use:   "lookup ADDR...",
		Short: "Longest-prefix match of addresses in the FIB",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addrs := make([]netip.Addr, len(args))
			for i, a := range args {
				ad, err := netip.ParseAddr(a)
				if err != nil {
					return fmt.Errorf("fib lookup: %q is not an IP address", a)
				}
				addrs[i] = ad.Unmap()
			}
			r, err := fibreader.Open(path)
			if err != nil {
				return err
			}
			defer r.Close()
			if _, ok := r.Table(table); !ok {
				return fmt.Errorf("fib lookup: table %d is not in %s (tables: %v)", table, path, r.Tables())
			}
			res := make([]fibreader.Result, len(addrs))
			for i, a := range addrs {
				res[i] = r.LookupTable(table, a)
			}
			out := cmd.OutOrStdout()
			names := fibNames(cmd, r)
			if fibJSON(cmd) {
				return fibWriteLookupJSON(out, table, addrs, res, names)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ADDRESS\tPREFIX\tKIND\tGROUP\tNEXT HOPS")
			for i, x := range res {
				prefix, group := "-", "-"
				if x.Kind != fibreader.NoRoute {
					prefix = x.Prefix.String()
				}
				if x.Kind == fibreader.Forward {
					group = strconv.FormatUint(uint64(x.Group), 10)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", addrs[i], prefix, x.Kind, group, fibNextHops(x, names))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fibWarnStale(cmd, r)
			return nil
		},
	}
	lookup.Flags().Uint32Var(&table, "table", 254, "routing table id (254 is main)")

	stats := &cobra.Command{
		Use:   "stats",
		Short: "Show the FIB's size, generation and writer liveness",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := fibreader.Open(path)
			if err != nil {
				return err
			}
			defer r.Close()
			st := r.Stats()
			out := cmd.OutOrStdout()
			if fibJSON(cmd) {
				return fibWriteStatsJSON(out, path, r, st)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "File:\t%s (%s mapped)\n", path, fibBytes(st.FileSize))
			fmt.Fprintf(tw, "State:\t%s\n", st.State)
			fmt.Fprintf(tw, "Writer:\tpid %d, heartbeat %s ago\n", st.WriterPID, st.WriterAge.Round(time.Millisecond))
			fmt.Fprintf(tw, "Generation:\t%d (last commit %s ago)\n", st.Generation, time.Since(st.LastCommit).Round(time.Millisecond))
			fmt.Fprintf(tw, "Prefixes:\t%d IPv4, %d IPv6\n", st.Prefixes4, st.Prefixes6)
			var tabs []string
			for _, id := range st.Tables {
				if t, ok := r.Table(id); ok {
					v4, v6 := t.Prefixes()
					tabs = append(tabs, fmt.Sprintf("%d (%d+%d)", id, v4, v6))
				}
			}
			fmt.Fprintf(tw, "Tables:\t%s (%d of %d slots)\n", strings.Join(tabs, ", "), len(st.Tables), st.MaxTables)
			fmt.Fprintf(tw, "Sub-tables:\t%d of %d nodes used (%s), IPv6 published compressed in %s\n", st.NodesUsed, st.NodesTotal, fibBytes(st.NodeBytes), fibBytes(st.CompBytes))
			fmt.Fprintf(tw, "Groups:\t%d of %d slots\n", st.GroupsUsed, st.GroupSlots)
			fmt.Fprintf(tw, "Memory:\t%.1f bytes per prefix in use\n", st.BytesPerPrefix)
			if err := tw.Flush(); err != nil {
				return err
			}
			fibWarnStale(cmd, r)
			return nil
		},
	}
	cmd.AddCommand(lookup, stats)
	return cmd
}

// fibJSON reads the root's -o flag; without one, output is a table.
func fibJSON(cmd *cobra.Command) bool {
	o, err := cmd.Flags().GetString("output")
	return err == nil && o == "json"
}

// fibWarnStale tells a human when the answers may be out of date.
func fibWarnStale(cmd *cobra.Command, r *fibreader.Reader) {
	if err := r.Check(5 * time.Second); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v\n", err)
	}
}

// fibSameNetNS reports whether this process shares the FIB writer's
// network namespace, where the next hops' interface indexes are
// interfaces. When it cannot tell (the writer is gone, or its namespace
// unreadable) it says yes: names are looked up here as before.
func fibSameNetNS(r *fibreader.Reader) (same bool, pid int) {
	pid = r.Stats().WriterPID
	self, err := os.Stat("/proc/self/ns/net")
	if err != nil {
		return true, pid
	}
	w, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return true, pid
	}
	return os.SameFile(self, w), pid
}

// fibNames prepares interface names for a lookup's next hops: looked up
// here if this is the writer's namespace, else shown by index, with a
// note on stderr (an index of another namespace names some other
// interface here, or none).
func fibNames(cmd *cobra.Command, r *fibreader.Reader) (names bool) {
	same, pid := fibSameNetNS(r)
	if !same {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: the FIB's writer (pid %d) runs in another network namespace; interfaces are shown by index (run routerctl in that namespace for names)\n", pid)
	}
	return same
}

// fibIfaceName is the name of interface idx here, if names and there is
// one; "" otherwise.
func fibIfaceName(idx int32, names bool) string {
	if names {
		if ifi, err := net.InterfaceByIndex(int(idx)); err == nil {
			return ifi.Name
		}
	}
	return ""
}

// fibIfName names interface idx: its name here if names, else its index.
func fibIfName(idx int32, names bool) string {
	if n := fibIfaceName(idx, names); n != "" {
		return n
	}
	return "ifindex " + strconv.Itoa(int(idx))
}

func fibNextHops(x fibreader.Result, names bool) string {
	if x.Kind != fibreader.Forward {
		return "-"
	}
	if len(x.NextHops) == 0 {
		return "(unresolved)"
	}
	var parts []string
	for _, nh := range x.NextHops {
		s := "dev " + fibIfName(nh.Ifindex, names)
		if nh.Gateway.IsValid() {
			s = "via " + nh.Gateway.String() + " " + s
		}
		if len(x.NextHops) > 1 {
			s += " weight " + strconv.Itoa(int(nh.Weight))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func fibBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

type fibJSONNextHop struct {
	Gateway   string `json:"gateway,omitempty"`
	Ifindex   int32  `json:"ifindex"`
	Interface string `json:"interface,omitempty"` // absent when not known in this namespace
	Weight    uint16 `json:"weight"`
}

type fibJSONLookup struct {
	Address  string           `json:"address"`
	Table    uint32           `json:"table"`
	Prefix   string           `json:"prefix,omitempty"`
	Kind     string           `json:"kind"`
	Group    uint32           `json:"group,omitempty"`
	NextHops []fibJSONNextHop `json:"next_hops"`
}

func fibWriteLookupJSON(w io.Writer, table uint32, addrs []netip.Addr, res []fibreader.Result, names bool) error {
	out := struct {
		Lookups []fibJSONLookup `json:"lookups"`
	}{Lookups: []fibJSONLookup{}}
	for i, x := range res {
		l := fibJSONLookup{Address: addrs[i].String(), Table: table, Kind: x.Kind.String(), Group: x.Group, NextHops: []fibJSONNextHop{}}
		if x.Kind != fibreader.NoRoute {
			l.Prefix = x.Prefix.String()
		}
		for _, nh := range x.NextHops {
			j := fibJSONNextHop{Ifindex: nh.Ifindex, Interface: fibIfaceName(nh.Ifindex, names), Weight: nh.Weight}
			if nh.Gateway.IsValid() {
				j.Gateway = nh.Gateway.String()
			}
			l.NextHops = append(l.NextHops, j)
		}
		out.Lookups = append(out.Lookups, l)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func fibWriteStatsJSON(w io.Writer, path string, r *fibreader.Reader, st fibreader.Stats) error {
	type tab struct {
		ID        uint32 `json:"id"`
		Prefixes4 uint32 `json:"prefixes_v4"`
		Prefixes6 uint32 `json:"prefixes_v6"`
	}
	out := struct {
		Path           string    `json:"path"`
		State          string    `json:"state"`
		WriterPID      int       `json:"writer_pid"`
		WriterAgeMS    int64     `json:"writer_age_ms"`
		Generation     uint64    `json:"generation"`
		LastCommit     time.Time `json:"last_commit"`
		Prefixes4      uint64    `json:"prefixes_v4"`
		Prefixes6      uint64    `json:"prefixes_v6"`
		Tables         []tab     `json:"tables"`
		MaxTables      int       `json:"max_tables"`
		NodesUsed      uint64    `json:"nodes_used"`
		NodesTotal     uint64    `json:"nodes_total"`
		NodeBytes      uint64    `json:"node_bytes"`
		CompBytes      uint64    `json:"compressed_bytes"`
		GroupsUsed     uint64    `json:"groups_used"`
		GroupSlots     uint64    `json:"group_slots"`
		FileSize       uint64    `json:"file_size"`
		BytesPerPrefix float64   `json:"bytes_per_prefix"`
		Warning        string    `json:"warning,omitempty"`
	}{
		Path: path, State: st.State.String(), WriterPID: st.WriterPID, WriterAgeMS: st.WriterAge.Milliseconds(),
		Generation: st.Generation, LastCommit: st.LastCommit, Prefixes4: st.Prefixes4, Prefixes6: st.Prefixes6,
		Tables: []tab{}, MaxTables: st.MaxTables, NodesUsed: st.NodesUsed, NodesTotal: st.NodesTotal, NodeBytes: st.NodeBytes, CompBytes: st.CompBytes,
		GroupsUsed: st.GroupsUsed, GroupSlots: st.GroupSlots, FileSize: st.FileSize, BytesPerPrefix: st.BytesPerPrefix,
	}
	for _, id := range st.Tables {
		if t, ok := r.Table(id); ok {
			v4, v6 := t.Prefixes()
			out.Tables = append(out.Tables, tab{id, v4, v6})
		}
	}
	if err := r.Check(5 * time.Second); err != nil {
		out.Warning = err.Error()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
