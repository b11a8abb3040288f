// Command fiblookup is an example data-plane program for pkg/fibreader: it
// maps routerd's shared-memory FIB and resolves addresses, optionally again
// every second (-follow), reopening the file when routerd replaces it or
// stops updating it.
//
//	go run ./pkg/fibreader/example/fiblookup [-fib PATH] [-table N] [-follow] ADDR...
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/routerd/routerd/pkg/fibreader"
)

func main() {
	path := flag.String("fib", "/dev/shm/routerd-fib", "FIB file")
	table := flag.Uint("table", 254, "routing table id")
	follow := flag.Bool("follow", false, "repeat every second, reopening the file when it is replaced")
	flag.Parse()
	var addrs []netip.Addr
	for _, a := range flag.Args() {
		ad, err := netip.ParseAddr(a)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fiblookup: %q is not an IP address\n", a)
			os.Exit(2)
		}
		addrs = append(addrs, ad)
	}
	r, err := fibreader.Open(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fiblookup:", err)
		os.Exit(1)
	}
	for {
		show(r, uint32(*table), addrs)
		if !*follow {
			r.Close()
			return
		}
		time.Sleep(time.Second)
		switch err := r.Check(3 * time.Second); {
		case err == nil:
		case errors.Is(err, fibreader.ErrSuperseded), errors.Is(err, fibreader.ErrStale):
			if nr, err := r.Reopen(); err == nil {
				r.Close()
				r = nr
				fmt.Println("-- reopened", *path)
			}
		default:
			fmt.Println("--", err)
		}
	}
}

func show(r *fibreader.Reader, table uint32, addrs []netip.Addr) {
	fmt.Printf("generation %d\n", r.Generation())
	for _, a := range addrs {
		res := r.LookupTable(table, a)
		if res.Kind == fibreader.NoRoute {
			fmt.Printf("%s\tno route\n", a)
			continue
		}
		fmt.Printf("%s\t%s\t%s", a, res.Prefix, res.Kind)
		for _, nh := range res.NextHops {
			fmt.Printf("\tvia %v dev %d weight %d", nh.Gateway, nh.Ifindex, nh.Weight)
		}
		fmt.Println()
	}
}
