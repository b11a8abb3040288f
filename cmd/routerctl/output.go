package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/routerd/routerd/api/routerd/v1"
	"github.com/spf13/cobra"
)

// jsonOpts gives scripts every field, named as in the .proto file.
var jsonOpts = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

// compactJSON marshals m on one line.
func compactJSON(m proto.Message) ([]byte, error) {
	b, err := jsonOpts.Marshal(m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeJSON writes m as one indented JSON document.
func writeJSON(w io.Writer, m proto.Message) error {
	b, err := compactJSON(m)
	if err != nil {
		return exitf(exitDaemon, "encode JSON: %v", err)
	}
	var buf bytes.Buffer
	_ = json.Indent(&buf, b, "", "  ")
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// jsonArrayWriter writes {"<key>": [ ... ]} one element at a time, so that a
// full table is never held in memory.
type jsonArrayWriter struct {
	w   io.Writer
	key string
	n   int
}

func (a *jsonArrayWriter) add(m proto.Message) error {
	b, err := compactJSON(m)
	if err != nil {
		return exitf(exitDaemon, "encode JSON: %v", err)
	}
	if a.n == 0 {
		fmt.Fprintf(a.w, "{%q: [\n  ", a.key)
	} else {
		io.WriteString(a.w, ",\n  ")
	}
	a.n++
	_, err = a.w.Write(b)
	return err
}

func (a *jsonArrayWriter) close() error {
	var err error
	if a.n == 0 {
		_, err = fmt.Fprintf(a.w, "{%q: []}\n", a.key)
	} else {
		_, err = io.WriteString(a.w, "\n]}\n")
	}
	return err
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// flushEvery bounds how many rows a route table buffers for alignment: a
// full table prints in blocks rather than after the last route.
const flushEvery = 4096

// routeTable prints Route messages in a router's layout.
type routeTable struct {
	tw        *tabwriter.Writer
	showTable bool
	rows      int
	entries   int
}

func newRouteTable(w io.Writer, showTable bool) *routeTable {
	fmt.Fprintln(w, "Codes: > selected, * installed in the kernel, ! rejected by the kernel")
	fmt.Fprintln(w)
	t := &routeTable{tw: newTable(w), showTable: showTable}
	if showTable {
		fmt.Fprintln(t.tw, "\tTABLE\tPREFIX\tPROTOCOL\tDIST/METRIC\tNEXT HOP")
	} else {
		fmt.Fprintln(t.tw, "\tPREFIX\tPROTOCOL\tDIST/METRIC\tNEXT HOP")
	}
	return t
}

func (t *routeTable) row(cells ...string) {
	if !t.showTable {
		cells = append(cells[:1], cells[2:]...)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
	t.rows++
}

func (t *routeTable) add(r *pb.Route) {
	t.entries++
	for _, c := range r.GetCandidates() {
		code := " "
		if c.GetSelected() {
			code = ">"
			switch r.GetInstallState() {
			case pb.InstallState_INSTALL_STATE_INSTALLED:
				code += "*"
			case pb.InstallState_INSTALL_STATE_FAILED:
				code += "!"
			}
		}
		proto := c.GetOrigin()
		if c.GetSource() != "" && c.GetSource() != c.GetOrigin() {
			proto += " (" + c.GetSource() + ")"
		}
		dm := fmt.Sprintf("%d/%d", c.GetDistance(), c.GetMetric())
		hops := nextHopLines(c)
		t.row(code, r.GetTable(), r.GetPrefix(), proto, dm, hops[0])
		for _, h := range hops[1:] {
			t.row("", "", "", "", "", h)
		}
	}
	if r.GetInstallState() == pb.InstallState_INSTALL_STATE_FAILED {
		t.row("", "", "", "", "", "! kernel: "+r.GetInstallError())
	}
	if t.rows >= flushEvery {
		t.tw.Flush()
		t.rows = 0
	}
}

func (t *routeTable) close() error { return t.tw.Flush() }

// formatNextHop is "via GW dev IF weight W" with the parts that are set.
func formatNextHop(nh *pb.NextHop) string {
	var parts []string
	if nh.GetGateway() != "" {
		parts = append(parts, "via "+nh.GetGateway())
	}
	switch {
	case nh.GetInterface() != "":
		parts = append(parts, "dev "+nh.GetInterface())
	case nh.GetIfindex() != 0:
		parts = append(parts, fmt.Sprintf("dev #%d", nh.GetIfindex()))
	}
	if nh.GetWeight() > 1 {
		parts = append(parts, fmt.Sprintf("weight %d", nh.GetWeight()))
	}
	return strings.Join(parts, " ")
}

// nextHopLines describes where a candidate forwards, one line per next hop:
// an offered next hop with its interface as it is; a gateway resolved on an
// attached network with the interface it resolved to; a recursive one
// marked so, followed by what it resolved to.
func nextHopLines(c *pb.Candidate) []string {
	if k := c.GetKind(); k != "" && k != "unicast" {
		return []string{k}
	}
	var lines []string
	used := make([]bool, len(c.GetResolved()))
	recursive := false
	for _, nh := range c.GetNexthops() {
		if nh.GetInterface() != "" || nh.GetIfindex() != 0 {
			lines = append(lines, formatNextHop(nh))
			continue
		}
		direct := -1
		for i, r := range c.GetResolved() {
			if r.GetGateway() == nh.GetGateway() && !used[i] {
				direct = i
				break
			}
		}
		if direct >= 0 {
			used[direct] = true
			lines = append(lines, formatNextHop(c.GetResolved()[direct]))
			continue
		}
		recursive = true
		lines = append(lines, formatNextHop(nh)+" (recursive)")
	}
	if recursive {
		for i, r := range c.GetResolved() {
			if !used[i] {
				lines = append(lines, "  "+formatNextHop(r))
			}
		}
	}
	if len(c.GetResolved()) == 0 {
		if len(lines) == 0 {
			lines = append(lines, "")
		}
		lines[0] += " (unresolved)"
		lines[0] = strings.TrimSpace(lines[0])
	}
	return lines
}

// humanBytes prints a byte count in binary units.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// printStream writes a server stream as one JSON document (-o json) or as
// the table newTable makes. It reads the first message before printing
// anything, so that an error (unreachable, permission) is all the output,
// and an empty stream exits with code 5 and notFound when notFound is set.
func printStream[T any, M interface {
	*T
	proto.Message
}](c *cli, cl *client, stream grpc.ServerStreamingClient[T], notFound string, newTable func() (add func(M), done func() error)) error {
	first, err := stream.Recv()
	if err != nil && !errors.Is(err, io.EOF) {
		return cl.classify(err)
	}
	if first == nil && notFound != "" {
		return exitf(exitNotFound, "%s", notFound)
	}
	var add func(M) error
	var done func() error
	if c.json() {
		jw := &jsonArrayWriter{w: c.stdout, key: "routes"}
		add = func(m M) error { return jw.add(m) }
		done = jw.close
	} else {
		tadd, tdone := newTable()
		add = func(m M) error { tadd(m); return nil }
		done = tdone
	}
	for m := first; m != nil; {
		if err := add(M(m)); err != nil {
			return err
		}
		m, err = stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			_ = done()
			return cl.classify(err)
		}
	}
	return done()
}

// unary runs one API call with the command's timeout and writes the answer
// as JSON (-o json) or through text: the shape every non-streaming command
// shares.
func unary[M proto.Message](c *cli, cmd *cobra.Command, call func(context.Context, pb.RouterdClient) (M, error), text func(M)) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), c.timeout)
	defer cancel()
	resp, err := call(ctx, cl.api)
	if err != nil {
		return cl.classify(err)
	}
	if c.json() {
		return writeJSON(c.stdout, resp)
	}
	text(resp)
	return nil
}
