package daemon

import (
	"context"
	"time"

	"github.com/routerd/routerd/internal/bgp"
	"github.com/routerd/routerd/internal/config"
)

// bgpSpeaker is the daemon's handle on the BGP speaker; nil when the
// configuration has no bgp section.
type bgpSpeaker = *bgp.Speaker

// startBGP starts the BGP speaker when the configuration has a bgp section.
func (d *Daemon) startBGP(ctx context.Context) error {
	if d.cfg.BGP == nil {
		return nil
	}
	d.bgp = d.newSpeaker(d.cfg)
	if err := d.bgp.Start(ctx); err != nil {
		d.bgp = nil
		return err
	}
	return nil
}

func (d *Daemon) newSpeaker(cfg *config.Config) *bgp.Speaker {
	return bgp.New(cfg.BGP, &cfg.Policy, bgp.Options{
		RIB:       d.rib,
		Logger:    d.log.With("component", "bgp"),
		Distances: cfg.Distances,
	})
}

// stopBGP sends Cease to every neighbour and stops the speaker; it runs
// after API writes stop and before the kernel routes are kept or flushed.
func (d *Daemon) stopBGP() {
	if d.bgp == nil {
		return
	}
	d.bgp.Stop("routerd shutting down", 2*time.Second)
	d.bgp = nil
}

// reloadBGP applies the difference between two validated configurations
// to the speaker: neighbours added, changed or removed, the others untouched.
func (d *Daemon) reloadBGP(old, next *config.Config) error {
	switch {
	case next.BGP == nil && d.bgp == nil:
		return nil
	case next.BGP == nil:
		d.stopBGP()
		return nil
	case d.bgp == nil:
		d.bgp = d.newSpeaker(next)
		if err := d.bgp.Start(context.Background()); err != nil {
			d.bgp = nil
			return err
		}
		return nil
	}
	if next.BGP.Equal(old.BGP) && next.Policy.Equal(&old.Policy) {
		return nil
	}
	if err := d.bgp.Reconfigure(next.BGP, &next.Policy); err != nil {
		// AS, router ID or listeners changed: every session restarts.
		d.log.Info("bgp: restarting the speaker", "reason", err)
		d.stopBGP()
		d.bgp = d.newSpeaker(next)
		if err := d.bgp.Start(context.Background()); err != nil {
			d.bgp = nil
			return err
		}
	}
	return nil
}
