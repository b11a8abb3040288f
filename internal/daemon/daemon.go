// Package daemon runs routerd: it builds the RIB and its sources and
// consumers from the configuration, and owns the life cycle — start-up
// order, signals (SIGHUP reload, SIGUSR1 state dump, SIGUSR2 debug toggle,
// SIGTERM/SIGINT shutdown), sd_notify and metrics.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/routerd/routerd/internal/api"
	"github.com/routerd/routerd/internal/config"
	"github.com/routerd/routerd/internal/fib"
	"github.com/routerd/routerd/internal/kernel"
	"github.com/routerd/routerd/internal/rib"
)

// Version is set at build time (-ldflags "-X ...daemon.Version=...").
var Version = "dev"

// Options are what the command line gives the daemon.
type Options struct {
	ConfigPath string
	LogOutput  io.Writer // default stderr
}

// Daemon is one running routerd.
type Daemon struct {
	opts    Options
	started time.Time
	level   slog.LevelVar
	log     *slog.Logger

	mu  sync.Mutex // serialises reloads and reads of cfg
	cfg *config.Config

	rib       *rib.RIB
	static    *rib.Source
	runtime   *rib.Source
	connected *rib.Source
	foreign   *rib.Source

	monitor *kernel.Monitor
	prog    *kernel.Programmer
	fibw    *fib.Writer
	fibm    fibMetrics
	api     *api.Server
	metrics *metricsServer
	bgp     bgpSpeaker

	// Each consumer and source runs under its own context so shutdown can
	// stop them in order.
	stopMonitor, stopKernel, stopFIB, stopTrim context.CancelFunc
	wg                                         sync.WaitGroup
	kernelDone                                 chan error
	// cwg counts the kernel programmer's and the FIB's goroutines: a
	// graceful restart stops them before BGP (restart.go).
	cwg sync.WaitGroup
	// gate holds the programmer's Synced during BGP's restart deferral;
	// restarting says the first speaker starts restarting (restart.go).
	gate       *syncGate
	restarting bool
}

// Run loads the configuration, starts everything, serves until ctx ends or
// SIGTERM/SIGINT arrives, and shuts down in order. A configuration error is
// returned before anything has been changed.
func Run(ctx context.Context, opts Options) error {
	cfg, err := config.Load(opts.ConfigPath)
	if err != nil {
		return err
	}
	if opts.LogOutput == nil {
		opts.LogOutput = os.Stderr
	}
	d := &Daemon{opts: opts, cfg: cfg, started: time.Now()}
	d.level.Set(cfg.Log.Level)
	hopts := &slog.HandlerOptions{Level: &d.level}
	if cfg.Log.Format == config.LogJSON {
		d.log = slog.New(slog.NewJSONHandler(opts.LogOutput, hopts))
	} else {
		d.log = slog.New(slog.NewTextHandler(opts.LogOutput, hopts))
	}
	// Signals are caught from the first moment, so that a SIGTERM during
	// start-up still shuts down in order.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)

	if err := d.start(ctx); err != nil {
		d.shutdown()
		return err
	}
	if err := notify("READY=1\nSTATUS=routing"); err != nil {
		d.log.Warn("sd_notify", "err", err)
	}
	d.log.Info("routerd ready", "version", Version, "config", opts.ConfigPath)
	for {
		select {
		case <-ctx.Done():
			d.shutdown()
			return nil
		case err := <-d.kernelDone:
			d.log.Error("kernel programmer stopped", "err", err)
			d.shutdown()
			return fmt.Errorf("kernel programmer: %w", err)
		case s := <-sigs:
			switch s {
			case syscall.SIGTERM, syscall.SIGINT:
				d.log.Info("shutting down", "signal", s.String())
				d.shutdown()
				return nil
			case syscall.SIGHUP:
				if err := d.Reload(); err != nil {
					d.log.Error("reload refused; running configuration unchanged", "err", err)
				}
			case syscall.SIGUSR1:
				d.dumpState()
			case syscall.SIGUSR2:
				d.toggleDebug()
			}
		}
	}
}

// toggleDebug switches between debug logging and the configured level (info
// when the configuration itself asks for debug, so the toggle always toggles).
func (d *Daemon) toggleDebug() {
	next := slog.LevelDebug
	if d.level.Level() == slog.LevelDebug {
		next = max(d.cfg.Log.Level, slog.LevelInfo)
	}
	d.level.Set(next)
	d.log.Info("log level toggled", "level", next.String())
}

func (d *Daemon) start(ctx context.Context) error {
	cfg := d.cfg
	if n, err := raiseFileLimit(); err != nil {
		d.log.Warn("cannot raise the open-file limit", "err", err)
	} else {
		d.log.Debug("open-file limit", "nofile", n)
	}
	d.rib = rib.New()
	d.connected = d.rib.NewSource(rib.OriginConnected, "connected")
	d.foreign = d.rib.NewSource(rib.OriginKernel, "kernel")
	d.static = d.rib.NewSource(rib.OriginStatic, "static")
	d.runtime = d.rib.NewSource(rib.OriginAPI, "api")

	// The shared-memory FIB is created first: if its file cannot be made,
	// routerd refuses to start before touching the kernel.
	if f := cfg.FIB; f.Path != "" {
		opts := fib.Options{MaxTables: f.MaxTables, Nodes: f.Nodes, GroupSlots: f.Groups, FileMode: f.Mode}
		if f.Group != "" {
			gid, err := api.GroupID(f.Group)
			if err != nil {
				return fmt.Errorf("fib.group: %w", err)
			}
			opts.GID = int(gid)
		}
		w, err := fib.Create(f.Path, opts)
		if err != nil {
			return fmt.Errorf("fib: cannot create %s: %w", f.Path, err)
		}
		d.fibw = w
	}

	// The monitor reads links, addresses and routes first, so that static
	// routes naming an interface resolve and connected routes exist before
	// the kernel programmer reconciles.
	ready := make(chan error, 1)
	var foreign kernel.RouteSource
	if cfg.Kernel.ImportForeign {
		foreign = d.foreign
	}
	mon, err := kernel.NewMonitor(kernel.MonitorConfig{
		Protocol:          cfg.Kernel.Protocol,
		ConnectedDistance: cfg.Distances.Connected,
		KernelDistance:    cfg.Distances.Kernel,
		Logger:            d.log.With("component", "monitor"),
		OnSynced:          func() { ready <- nil },
		OnLinksChanged: func() {
			if err := d.offerStatic(); err != nil {
				d.log.Error("static routes", "err", err)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("kernel monitor: %w", err)
	}
	d.monitor = mon
	mctx, cancel := context.WithCancel(ctx)
	d.stopMonitor = cancel
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		err := mon.Run(mctx, kernel.Sinks{Connected: d.connected, Foreign: foreign, Links: d.rib})
		if err != nil && !errors.Is(err, context.Canceled) {
			d.log.Error("kernel monitor stopped", "err", err)
			select {
			case ready <- err: // failed before its first dump
			default:
			}
		}
	}()
	if err := <-ready; err != nil {
		return fmt.Errorf("kernel monitor: %w", err)
	}
	if err := d.offerStatic(); err != nil {
		return err
	}

	if cfg.Kernel.Enabled {
		loaded := make(chan int, 1)
		prog, err := kernel.NewProgrammer(kernel.ProgrammerConfig{
			Protocol:       cfg.Kernel.Protocol,
			Metric:         cfg.Kernel.Metric,
			NexthopObjects: nexthopModes[cfg.Kernel.NexthopObjects],
			Logger:         d.log.With("component", "kernel"),
			OnLoaded:       func(n int) { loaded <- n },
		})
		if err != nil {
			return fmt.Errorf("kernel programmer: %w", err)
		}
		d.prog = prog
		sub, err := d.rib.Subscribe("kernel")
		if err != nil {
			return err
		}
		var feed kernel.Feed = sub
		if preserving(cfg) {
			d.gate = newSyncGate(sub)
			feed = d.gate
		}
		kctx, cancel := context.WithCancel(context.Background())
		d.stopKernel = cancel
		d.kernelDone = make(chan error, 1)
		kexit := make(chan struct{})
		d.cwg.Add(1)
		go func() {
			defer d.cwg.Done()
			defer close(kexit)
			defer sub.Close()
			if d.gate != nil {
				defer d.gate.close()
			}
			err := prog.Run(kctx, feed, d.rib)
			if err != nil && !errors.Is(err, context.Canceled) {
				d.kernelDone <- err
			}
		}()
		if d.gate != nil {
			// BGP needs to know whether routerd restarted with its
			// routes in the kernel before it sends an OPEN.
			select {
			case n := <-loaded:
				d.restarting = n > 0
				if d.restarting {
					d.log.Info("graceful restart: own routes found in the kernel; they stay until BGP has learned its routes again",
						"own_routes", n)
				}
			case <-kexit:
			}
		}
	}
	if d.fibw != nil {
		sub, err := d.rib.Subscribe("fib")
		if err != nil {
			return err
		}
		fctx, cancel := context.WithCancel(context.Background())
		d.stopFIB = cancel
		d.cwg.Add(2)
		go func() {
			defer d.cwg.Done()
			defer sub.Close()
			followFIB(fctx, d.fibw, sub, &d.fibm, d.log.With("component", "fib"))
		}()
		go func() {
			defer d.cwg.Done()
			t := time.NewTicker(time.Second / 4)
			defer t.Stop()
			for {
				select {
				case <-fctx.Done():
					return
				case <-t.C:
					d.fibw.Heartbeat()
				}
			}
		}()
	}

	if err := d.startBGP(ctx); err != nil {
		return fmt.Errorf("bgp: %w", err)
	}
	tctx, cancel := context.WithCancel(context.Background())
	d.stopTrim = cancel
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.trimMemory(tctx)
	}()

	acfg := api.ServerConfig{
		Socket:     cfg.API.Socket,
		Group:      cfg.API.Group,
		Owner:      cfg.API.Owner,
		SocketMode: cfg.API.SocketMode,
		RIB:        d.rib,
		Statics:    d.runtime,
		Backend:    backend{d},
		Version:    Version,
		Started:    d.started,
	}
	if d.fibw != nil {
		acfg.FIB = d.fibw // not a nil *fib.Writer in the interface
	}
	srv := api.NewServer(acfg)
	// Listen now, so that a socket in use or a bad group stops the start
	// with a clear error rather than a daemon nobody can reach.
	if err := srv.Listen(); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	d.api = srv
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := srv.Serve(context.Background()); err != nil {
			d.log.Error("api stopped", "err", err)
		}
	}()
	if cfg.Metrics.Listen != "" {
		m, err := startMetrics(cfg.Metrics.Listen, d)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		d.metrics = m
	}
	return nil
}

var nexthopModes = map[config.NexthopObjects]kernel.NexthopMode{
	config.NexthopAuto: kernel.NexthopAuto,
	config.NexthopOn:   kernel.NexthopOn,
	config.NexthopOff:  kernel.NexthopOff,
}

// offerStatic makes the configuration's static routes the static source's
// complete set; the RIB turns that into the difference.
func (d *Daemon) offerStatic() error {
	d.mu.Lock()
	routes := d.cfg.Static
	d.mu.Unlock()
	rs := staticRoutes(routes, d.ifindex)
	if err := d.static.Replace(rs); err != nil {
		return fmt.Errorf("static routes: %w", err)
	}
	return nil
}

func (d *Daemon) ifindex(name string) (int32, bool) {
	if d.monitor == nil {
		return 0, false
	}
	l, ok := d.monitor.LinkByName(name)
	return int32(l.Index), ok
}

// shutdown stops in the order operators rely on: no more API writes, no
// more route sources, then the kernel's routes kept or flushed as
// configured, then the API and the rest.
func (d *Daemon) shutdown() {
	_ = notify("STOPPING=1")
	if d.api != nil {
		d.api.SetReadOnly(true)
	}
	restart := d.prog != nil && d.bgp.get() != nil && preserving(d.cfg)
	if restart {
		// Graceful restart: what programs the kernel and the FIB stops
		// first, so that BGP's routes leaving the RIB stay in both.
		d.stopKernel()
		if d.stopFIB != nil {
			d.stopFIB()
		}
		d.cwg.Wait()
	}
	d.stopBGP(restart)
	if d.stopMonitor != nil {
		d.stopMonitor()
	}
	if d.stopKernel != nil {
		d.stopKernel()
	}
	if d.stopFIB != nil {
		d.stopFIB()
	}
	if d.api != nil {
		d.api.Stop()
	}
	if d.metrics != nil {
		d.metrics.stop()
	}
	if d.stopTrim != nil {
		d.stopTrim()
	}
	d.wg.Wait()
	d.cwg.Wait()
	if d.prog != nil {
		if d.cfg.Kernel.OnShutdown == config.ShutdownFlush {
			if err := d.prog.Flush(); err != nil {
				d.log.Error("flushing own kernel routes", "err", err)
			} else {
				d.log.Info("flushed own kernel routes")
			}
		} else {
			d.log.Info("kept own kernel routes for the next start to adopt")
		}
	}
	if d.fibw != nil {
		if err := d.fibw.Close(); err != nil {
			d.log.Error("closing the FIB", "err", err)
		}
		if d.cfg.Kernel.OnShutdown == config.ShutdownFlush {
			_ = os.Remove(d.cfg.FIB.Path)
		}
	}
	d.log.Info("routerd stopped")
}

// ErrRestartRequired is returned by Reload for settings a running daemon
// cannot change.
var ErrRestartRequired = errors.New("restart required")

// Reload reads the configuration file again and applies the difference. An
// invalid file, or one that changes a setting that needs a restart, is
// refused as a whole and changes nothing.
func (d *Daemon) Reload() error {
	_ = notify(reloadingState())
	defer func() { _ = notify("READY=1") }()
	next, err := config.Load(d.opts.ConfigPath)
	if err != nil {
		return err
	}
	d.mu.Lock()
	old := d.cfg
	ch := config.Diff(old, next)
	restart := ch.RestartRequired
	if ch.Changed("api") && !slices.Contains(restart, "api.socket") {
		// The socket's owner, group and mode are set when it is created.
		restart = append(restart, "api")
	}
	if len(restart) > 0 {
		d.mu.Unlock()
		return fmt.Errorf("%w: %s changed", ErrRestartRequired, strings.Join(restart, ", "))
	}
	if ch.Empty() {
		d.mu.Unlock()
		d.log.Info("reload: no changes")
		return nil
	}
	// Everything below is validated already; what remains can only fail
	// for outside reasons (a port in use), and then the old value stays.
	if ch.Changed("metrics") {
		if d.metrics != nil {
			d.metrics.stop()
			d.metrics = nil
		}
		if next.Metrics.Listen != "" {
			m, err := startMetrics(next.Metrics.Listen, d)
			if err != nil {
				d.log.Error("reload: metrics listener", "err", err)
			} else {
				d.metrics = m
			}
		}
	}
	if ch.Changed("log.level") {
		d.level.Set(next.Log.Level)
	}
	if err := d.reloadBGP(old, next); err != nil {
		d.log.Error("reload: bgp", "err", err)
	}
	d.cfg = next
	d.mu.Unlock()
	if ch.Changed("static") || ch.Changed("tables") {
		if err := d.offerStatic(); err != nil {
			return err
		}
	}
	d.log.Info("reloaded", "changes", ch.String())
	return nil
}

// dumpState writes a summary of the daemon's state to the log (SIGUSR1).
func (d *Daemon) dumpState() {
	st := d.rib.Stats()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	d.log.Info("state",
		"uptime", time.Since(d.started).Round(time.Second).String(),
		"keys", st.Keys, "groups", st.Groups, "subscribers", st.Subscribers,
		"install_errors", st.InstallErrors, "goroutines", runtime.NumGoroutine(),
		"heap_bytes", ms.HeapAlloc, "rss_bytes", rssBytes())
	for _, c := range d.rib.Counts() {
		d.log.Info("routes", "table", c.Table.String(), "origin", c.Origin.String(), "candidates", c.Routes, "selected", c.Selected)
	}
	for _, c := range (backend{d}).Counters() {
		d.log.Info("counter", "subsystem", c.Subsystem, "name", c.Name, "value", c.Value)
	}
}
