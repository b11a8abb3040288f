// Command routerlab builds a routerd lab in network namespaces: two hosts
// joined through three routers, each router running routerd with static
// routes (see test/lab). It needs root.
//
//	routerlab up      build the lab, show each router's routes, ping end to end
//	routerlab status  show the lab's routers and their routes
//	routerlab down    stop the routers and remove the namespaces
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/routerd/routerd/test/lab"
)

const prefix = "rdlab"

// fibPath is where r1 publishes its shared-memory FIB.
const fibPath = "/dev/shm/" + prefix + "-r1.fib"

func main() {
	dir := flag.String("dir", "/run/routerd-lab", "directory for the lab's configurations, sockets and logs")
	bin := flag.String("bin", "", "directory holding routerd and routerctl (default: next to routerlab)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: routerlab [-dir DIR] [-bin DIR] up|status|down\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if *bin == "" {
		exe, err := os.Executable()
		if err != nil {
			fail(err)
		}
		*bin = filepath.Dir(exe)
	}
	routerd, routerctl := filepath.Join(*bin, "routerd"), filepath.Join(*bin, "routerctl")
	switch flag.Arg(0) {
	case "up":
		if _, err := lab.Load(*dir); err == nil {
			fail(fmt.Errorf("a lab is already up in %s; run `routerlab down` first", *dir))
		}
		for _, p := range []string{routerd, routerctl} {
			if _, err := os.Stat(p); err != nil {
				fail(fmt.Errorf("%s not found; build it first (make build) or pass -bin", p))
			}
		}
		// r1 also publishes its forwarding table in shared memory, as a
		// data-plane process would read it.
		topo := lab.Default()
		for i := range topo.Nodes {
			if topo.Nodes[i].Name == "r1" {
				topo.Nodes[i].Config += "fib:\n  path: " + fibPath + "\n"
			}
		}
		l, err := lab.Up(topo, *dir, prefix, routerd)
		if err != nil {
			fail(err)
		}
		show(l, routerctl)
		// Inside r1's namespace, where its next hops' interface indexes
		// name its interfaces.
		fmt.Printf("\n== r1's shared-memory FIB: routerctl fib lookup (read from %s, not through the daemon)\n", fibPath)
		out, err := l.Exec("r1", routerctl, "fib", "--fib", fibPath, "lookup", "10.3.0.2", "2001:db8:3::2", "192.0.2.1")
		fmt.Print(out)
		if err != nil {
			fmt.Printf("(routerctl: %v)\n", err)
		}
		fmt.Println("\n== ping hA -> hB across r1, r2, r3")
		ok := true
		for _, target := range []string{"10.3.0.2", "2001:db8:3::2"} {
			out, err := l.Exec("hA", "ping", "-c", "3", "-i", "0.2", "-W", "2", target)
			fmt.Print(lastLines(out, 2))
			if err != nil {
				ok = false
				fmt.Printf("ping %s FAILED: %v\n", target, err)
			}
		}
		fmt.Printf(`
The lab is up. Explore it:
  %[1]s --socket %[2]s/r1.sock show route          # r1's RIB (also r2, r3)
  ip netns exec %[3]s-r1 %[1]s fib --fib %[5]s lookup 10.3.0.2   # r1's forwarding table in shared memory
  ip netns exec %[3]s-r1 ip route                  # r1's kernel table
  ip netns exec %[3]s-hA ping 10.3.0.2             # traffic across the routers
  ip netns exec %[3]s-r2 ip link set r3 down       # break a link and watch routes go
  logs and configs: %[2]s/                         # edit r1.yaml, then: kill -HUP <pid in lab.json>
Tear it down:
  %[4]s -dir %[2]s down
`, routerctl, *dir, prefix, os.Args[0], fibPath)
		if !ok {
			os.Exit(1)
		}
	case "status":
		l, err := lab.Load(*dir)
		if err != nil {
			fail(fmt.Errorf("no lab in %s: %w", *dir, err))
		}
		show(l, routerctl)
	case "down":
		l, err := lab.Load(*dir)
		if err != nil {
			fail(fmt.Errorf("no lab in %s: %w", *dir, err))
		}
		err = l.Down()
		// routerd leaves its FIB file for readers when it stops (the
		// default on-shutdown: keep); the lab's goes with the lab.
		if rmErr := os.Remove(fibPath); rmErr != nil && !os.IsNotExist(rmErr) && err == nil {
			err = rmErr
		}
		if err != nil {
			fail(err)
		}
		fmt.Println("lab removed")
	default:
		flag.Usage()
		os.Exit(2)
	}
}

func show(l *lab.Lab, routerctl string) {
	for _, node := range []string{"r1", "r2", "r3"} {
		r := l.Routers[node]
		if r == nil {
			continue
		}
		fmt.Printf("\n== %s (routerd pid %d, netns %s): routerctl show route\n", node, r.PID, r.NS)
		out, err := exec.Command(routerctl, "--socket", r.Socket, "show", "route").CombinedOutput()
		fmt.Print(string(out))
		if err != nil {
			fmt.Printf("(routerctl: %v; log: %s)\n", err, r.Log)
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "routerlab:", err)
	os.Exit(1)
}
