package daemon

import (
	"context"

	"github.com/routerd/routerd/internal/config"
)

// bgpSpeaker is the daemon's handle on the BGP speaker; the BGP work
// replaces this placeholder with its type.
type bgpSpeaker = *struct{}

// startBGP starts the BGP speaker when the configuration has a bgp section.
func (d *Daemon) startBGP(ctx context.Context) error { return nil }

// stopBGP sends Cease to every neighbour and stops the speaker; it runs
// after API writes stop and before the kernel routes are kept or flushed.
func (d *Daemon) stopBGP() {}

// reloadBGP applies the difference between two validated configurations
// to the speaker: neighbours added, changed or removed, the others untouched.
func (d *Daemon) reloadBGP(old, next *config.Config) error { return nil }
