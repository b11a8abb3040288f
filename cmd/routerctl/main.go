// Command routerctl is the operator's command line for routerd. It talks to
// the daemon only through the operator API on its Unix socket, prints
// aligned tables for people and JSON (-o json) for scripts, and exits with
// codes scripts can rely on (see docs/cli.md):
//
//	0 ok, 1 error from the daemon, 2 usage error, 3 daemon unreachable,
//	4 permission denied, 5 not found.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	pb "github.com/routerd/routerd/api/routerd/v1"
	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK          = 0
	exitDaemon      = 1
	exitUsage       = 2
	exitUnreachable = 3
	exitPermission  = 4
	exitNotFound    = 5
)

// defaultSocket is where routerd listens unless configured otherwise.
const defaultSocket = "/run/routerd/routerd.sock"

// exitError is an error with the exit code it maps to. Every error a
// command's RunE returns is one; anything else that reaches main came from
// parsing the command line and is a usage error.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exitf(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

func usagef(format string, args ...any) error { return exitf(exitUsage, format, args...) }

// cli holds the global flags and the connection of one invocation.
type cli struct {
	socket  string
	output  string
	timeout time.Duration
	stdout  io.Writer
	stderr  io.Writer
	conn    *client
}

func (c *cli) json() bool { return c.output == "json" }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes routerctl with args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr}
	root := newRootCommand(c)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if c.conn != nil {
		c.conn.close()
	}
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		ee = &exitError{code: exitUsage, msg: err.Error()}
	}
	fmt.Fprintf(stderr, "routerctl: %s\n", ee.msg)
	if ee.code == exitUsage && cmd != nil {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return ee.code
}

func newRootCommand(c *cli) *cobra.Command {
	root := &cobra.Command{
		Use:   "routerctl",
		Short: "Operate routerd: show routes, interfaces, BGP and status; add runtime routes; reset BGP sessions; reload; watch",
		Long: `routerctl talks to a running routerd through its API socket.

Reading (show, watch) needs root, the daemon's user or membership of the
group named by api.group in routerd's configuration; changing (route add,
route del, reload, bgp reset, bgp neighbor) needs root or the user named
by api.owner.

Exit codes: 0 ok, 1 error from the daemon, 2 usage error, 3 daemon
unreachable, 4 permission denied, 5 not found.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			switch c.output {
			case "table", "json":
			default:
				return usagef("-o %q: the output format is table or json", c.output)
			}
			return nil
		},
	}
	socket := defaultSocket
	if s := os.Getenv("ROUTERD_SOCKET"); s != "" {
		socket = s
	}
	pf := root.PersistentFlags()
	pf.StringVar(&c.socket, "socket", socket, "routerd's API socket (environment: ROUTERD_SOCKET)")
	pf.StringVarP(&c.output, "output", "o", "table", "output format: table or json")
	pf.DurationVar(&c.timeout, "timeout", 30*time.Second, "how long to wait for an answer (not for watch)")
	_ = root.RegisterFlagCompletionFunc("output", fixedCompletion("table", "json"))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usagef("%v", err) })

	root.AddCommand(showCommand(c), routeCommand(c), reloadCommand(c), watchCommand(c), bgpCommand(c), fibCommand())
	return root
}

// fixedCompletion completes a flag from a fixed list.
func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// args wraps a cobra argument check so that its failure is a usage error.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usagef("%v", err)
		}
		return nil
	}
}

// tableFlag adds --table.
func tableFlag(cmd *cobra.Command, p *string, def, usage string) {
	cmd.Flags().StringVar(p, "table", def, usage)
	_ = cmd.RegisterFlagCompletionFunc("table", fixedCompletion("main", "local", "default", "all"))
}

// familyArg reads --family.
func familyArg(s string) (uint32, error) {
	switch strings.TrimPrefix(strings.ToLower(s), "ipv") {
	case "", "0":
		return 0, nil
	case "4", "inet":
		return 4, nil
	case "6", "inet6":
		return 6, nil
	}
	return 0, usagef("--family %q: use 4 or 6", s)
}

func reloadCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "reload",
		Short: "Reread routerd's configuration and apply the difference (as SIGHUP)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unary(c, cmd, func(ctx context.Context, api pb.RouterdClient) (*pb.ReloadResponse, error) {
				return api.Reload(ctx, reloadRequest())
			}, func(*pb.ReloadResponse) {
				fmt.Fprintln(c.stdout, "configuration reloaded")
			})
		},
	}
}
