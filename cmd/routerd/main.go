// Command routerd is the routing daemon: it reads one YAML configuration
// file, keeps the RIB, programs the kernel and serves the operator API.
//
//	routerd -config /etc/routerd/routerd.yaml
//	routerd -check -config FILE     # validate a configuration and exit
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/routerd/routerd/internal/config"
	"github.com/routerd/routerd/internal/daemon"
)

func main() {
	path := flag.String("config", "/etc/routerd/routerd.yaml", "configuration file")
	check := flag.Bool("check", false, "validate the configuration file and exit")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *version {
		fmt.Println("routerd", daemon.Version)
		return
	}
	if *check {
		if _, err := config.Load(*path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%s: configuration is valid\n", *path)
		return
	}
	if err := daemon.Run(context.Background(), daemon.Options{ConfigPath: *path}); err != nil {
		fmt.Fprintf(os.Stderr, "routerd: %v\n", err)
		os.Exit(1)
	}
}
