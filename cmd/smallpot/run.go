package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/detect"
	"github.com/smallpot/smallpot/internal/download"
	"github.com/smallpot/smallpot/internal/engine"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/notify"
	"github.com/smallpot/smallpot/internal/novelty"
	"github.com/smallpot/smallpot/internal/pipeline"
	"github.com/smallpot/smallpot/internal/privilege"
	"github.com/smallpot/smallpot/internal/samples"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/store/jsonl"
	"github.com/smallpot/smallpot/internal/store/sqlite"
)

// lowPortShift is how far ports below 1024 move when Smallpot may not bind
// them and no offset was asked for.
const lowPortShift = 10000

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "[-config FILE] [-data DIR] [-bind ADDR] [-port-offset N]", stderr)
	cfgPath := fs.String("config", "", "YAML configuration `file` (default: the embedded default; see 'smallpot config default')")
	dataDir := fs.String("data", "", "data `directory` (default ./smallpot-data, or data_dir from the config)")
	bind := fs.String("bind", "", "listen `address` of every fake service (default: all interfaces)")
	offset := fs.Int("port-offset", 0, "add `N` to every fake port; -port-offset 0 insists on the real ports")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to `file` (for development)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if set["data"] {
		cfg.DataDir = *dataDir
	}
	if set["bind"] {
		cfg.Bind = *bind
	}
	if set["port-offset"] {
		cfg.PortOffset = *offset
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)
	tuneRuntime(cfg.Runtime, os.Getenv, log)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}

	plan, err := planListeners(cfg, set["port-offset"], stderr)
	if err != nil {
		return err
	}
	if len(plan) == 0 {
		return errors.New("no service is enabled: enable one in the config (services.NAME.enabled: true)")
	}

	// The store is opened before binding and before privileges are
	// dropped; it keeps its files open from here on.
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	store, err := samples.Open(filepath.Join(cfg.DataDir, "samples"))
	if err != nil {
		return err
	}
	defer store.Close()
	db, err := sqlite.Open(filepath.Join(cfg.DataDir, "smallpot.db"), log)
	if err != nil {
		return err
	}
	jl, err := jsonl.Open(filepath.Join(cfg.DataDir, "events.jsonl"))
	if err != nil {
		_ = db.Close()
		return err
	}
	// Analyzers are sinks that feed what they find back into the
	// pipeline; Emit never blocks, so they cannot stall it.
	var pipe *pipeline.Pipeline
	emit := func(e *event.Event) { pipe.Emit(e) }
	dcfg, err := detectConfig(cfg)
	if err != nil {
		_ = db.Close()
		_ = jl.Close()
		return err
	}
	analyzer, err := detect.New(dcfg, nil, emit, log)
	if err != nil {
		_ = db.Close()
		_ = jl.Close()
		return err
	}
	var ncfg novelty.Config
	if err := config.Section(&cfg.Novelty, "novelty", &ncfg); err != nil {
		_ = db.Close()
		_ = jl.Close()
		return err
	}
	novel, err := novelty.New(context.Background(), ncfg, store, db, emit, log)
	if err != nil {
		_ = db.Close()
		_ = jl.Close()
		return err
	}
	sinks := []pipeline.Sink{db, jl, analyzer, novel}
	extra, err := optionalSinks(cfg, store, emit, log)
	if err != nil {
		_ = db.Close()
		_ = jl.Close()
		return err
	}
	sinks = append(sinks, extra...)
	pipe = pipeline.New(pipeline.Options{Queue: cfg.Pipeline.Queue, Batch: cfg.Pipeline.Batch,
		FlushInterval: cfg.Pipeline.FlushInterval, Logger: log}, nil, sinks...)
	defer func() {
		// The services have stopped: let the analyzers finish what they
		// found in the last events, then flush everything to disk.
		if !pipe.Quiesce(5 * time.Second) {
			log.Warn("analyzers still busy after 5s; closing anyway")
		}
		if err := pipe.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
		st := pipe.Stats()
		log.Info("stopped", "events", st.Emitted, "dropped", st.Dropped)
	}()

	eng := engine.New(engine.Options{Sensor: cfg.Sensor, Limits: cfg.Limits, Emitter: pipe, Samples: store, Logger: log})
	if err := bindAll(eng, plan, cfg.Bind); err != nil {
		_ = eng.Close()
		return err
	}
	if who, err := privilege.Drop(cfg.RunAs, cfg.DataDir); err != nil {
		_ = eng.Close()
		return err
	} else if who != "" {
		log.Info("dropped root privileges", "user", who)
	}
	printTable(stdout, cfg, plan)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("smallpot running", "sensor", cfg.Sensor, "profile", cfg.Profile, "data", cfg.DataDir, "version", versionString())
	go reportStats(ctx, log, eng, pipe)
	err = eng.Serve(ctx)
	log.Info("shutting down: flushing events to disk")
	return err
}

// tuneRuntime sets Go's garbage collector as the runtime section says,
// unless the environment (GOGC, GOMEMLIMIT) already did.
func tuneRuntime(r config.Runtime, getenv func(string) string, log *slog.Logger) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(r.GCPercent)
	} else {
		log.Debug("GOGC set: runtime.gc_percent not used", "GOGC", getenv("GOGC"))
	}
	if getenv("GOMEMLIMIT") == "" {
		if r.MemoryLimit > 0 {
			debug.SetMemoryLimit(int64(r.MemoryLimit))
		}
	} else {
		log.Debug("GOMEMLIMIT set: runtime.memory_limit not used", "GOMEMLIMIT", getenv("GOMEMLIMIT"))
	}
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// listener is one port to bind for one service.
type listener struct {
	service    string
	persona    string
	transport  string
	configured int
	port       int
	handler    service.Handler
	packet     service.PacketHandler
	factor     float64
	addr       string // filled once bound
}

// planListeners builds each enabled service and decides its ports. With no
// -port-offset and no right to bind below 1024, those ports move up by
// lowPortShift, one loud line per service moved.
func planListeners(cfg *config.Config, explicitOffset bool, stderr io.Writer) ([]listener, error) {
	resolved, err := cfg.ResolveServices()
	if err != nil {
		return nil, err
	}
	env := service.Env{Profile: cfg.Profile, Sensor: cfg.Sensor, DataDir: cfg.DataDir}
	auto := !explicitOffset && cfg.PortOffset == 0
	var plan []listener
	for _, r := range resolved {
		b := r.Config.Common()
		if !b.Enabled || len(b.Ports)+len(b.UDPPorts) == 0 {
			continue
		}
		h, err := r.Module.New(r.Config, env)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", r.Module.Name, err)
		}
		persona := r.Module.Summary
		if d, ok := r.Config.(service.Describer); ok {
			persona = d.Describe()
		}
		var moved []string
		port := func(transport string, p int) int {
			q := p + cfg.PortOffset
			if auto && p < 1024 && !canBind(p) {
				q = p + lowPortShift
				moved = append(moved, fmt.Sprintf("%s %d→%d", transport, p, q))
			}
			return q
		}
		th, isTCP := h.(service.Handler)
		ph, isUDP := h.(service.PacketHandler)
		if len(b.Ports) > 0 && !isTCP {
			return nil, fmt.Errorf("service %s: has TCP ports but serves no TCP", r.Module.Name)
		}
		if len(b.UDPPorts) > 0 && !isUDP {
			return nil, fmt.Errorf("service %s: has UDP ports but serves no UDP", r.Module.Name)
		}
		for _, p := range b.Ports {
			handler := th
			if ph, ok := h.(service.PortHandler); ok {
				handler = ph.ForPort(p)
			}
			plan = append(plan, listener{service: r.Module.Name, persona: persona, transport: "tcp",
				configured: p, port: port("tcp", p), handler: handler})
		}
		for _, p := range b.UDPPorts {
			plan = append(plan, listener{service: r.Module.Name, persona: persona, transport: "udp",
				configured: p, port: port("udp", p), packet: ph, factor: b.ReplyFactor})
		}
		if len(moved) > 0 {
			fmt.Fprintf(stderr, "WARNING: %s: ports %s moved up by %d: binding ports below 1024 needs root or CAP_NET_BIND_SERVICE. "+
				"For the real ports run as root, or grant the capability (sudo setcap cap_net_bind_service=+ep ./smallpot) and run with -port-offset 0.\n",
				r.Module.Name, strings.Join(moved, ", "), lowPortShift)
		}
	}
	for _, l := range plan {
		if l.port < 1 || l.port > 65535 {
			return nil, fmt.Errorf("service %s: port %d plus offset %d is out of range", l.service, l.configured, cfg.PortOffset)
		}
	}
	return plan, checkDuplicates(plan)
}

func checkDuplicates(plan []listener) error {
	seen := map[string]string{}
	for _, l := range plan {
		k := l.transport + "/" + strconv.Itoa(l.port)
		if other, dup := seen[k]; dup {
			return fmt.Errorf("%s port %d is configured for both %s and %s: give one of them another port", l.transport, l.port, other, l.service)
		}
		seen[k] = l.service
	}
	return nil
}

func bindAll(eng *engine.Engine, plan []listener, host string) error {
	for i := range plan {
		l := &plan[i]
		addr := net.JoinHostPort(host, strconv.Itoa(l.port))
		var err error
		if l.transport == "tcp" {
			_, err = eng.ListenTCP(l.service, addr, l.handler)
		} else {
			_, err = eng.ListenUDP(l.service, addr, l.packet, l.factor)
		}
		if err != nil {
			return fmt.Errorf("service %s: %w", l.service, privilege.BindHint(addr, l.port, err))
		}
		l.addr = addr
	}
	return nil
}

func printTable(w io.Writer, cfg *config.Config, plan []listener) {
	fmt.Fprintf(w, "Smallpot %s — sensor %q, profile %s, data in %s\n\n", versionString(), cfg.Sensor, cfg.Profile, cfg.DataDir)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tLISTEN\tPERSONA")
	sorted := slices.Clone(plan)
	slices.SortStableFunc(sorted, func(a, b listener) int { return strings.Compare(a.service, b.service) })
	for _, l := range sorted {
		fmt.Fprintf(tw, "%s\t%s/%s\t%s\n", l.service, l.transport, displayAddr(l.addr), l.persona)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
}

func displayAddr(a string) string {
	if strings.HasPrefix(a, ":") {
		return "*" + a
	}
	return a
}

func reportStats(ctx context.Context, log *slog.Logger, eng *engine.Engine, pipe *pipeline.Pipeline) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			es, ps := eng.Stats(), pipe.Stats()
			log.Info("stats", "active", es.Active, "accepted", es.Accepted, "refused_cap", es.RefusedGlobal+es.RefusedSource,
				"panics", es.Panics, "events", ps.Emitted, "dropped", ps.Dropped)
		}
	}
}

// canBind is privilege.CanBindBelow; tests replace it to play an
// unprivileged user.
var canBind = privilege.CanBindBelow

// detectConfig reads the detect section, with the sample directory set.
func detectConfig(cfg *config.Config) (detect.Config, error) {
	var dc detect.Config
	if err := config.Section(&cfg.Detect, "detect", &dc); err != nil {
		return dc, err
	}
	dc.SamplesDir = filepath.Join(cfg.DataDir, "samples")
	return dc, nil
}

// optionalSinks builds the notifiers (when any is configured) and the
// second-stage downloader (when enabled: it is off by default).
func optionalSinks(cfg *config.Config, store service.SampleStore, emit func(*event.Event), log *slog.Logger) ([]pipeline.Sink, error) {
	var out []pipeline.Sink
	nc := notify.Defaults()
	if err := config.Section(&cfg.Notify, "notify", &nc); err != nil {
		return nil, err
	}
	if err := nc.Validate(); err != nil {
		return nil, fmt.Errorf("config: notify: %w", err)
	}
	if nc.HasNotifiers() {
		n, err := notify.New(nc, log)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	dc := download.Defaults()
	if err := config.Section(&cfg.Download, "download", &dc); err != nil {
		return nil, err
	}
	if err := dc.Validate(); err != nil {
		return nil, fmt.Errorf("config: download: %w", err)
	}
	if dc.Enabled {
		d, err := download.New(dc, store, emit, log)
		if err != nil {
			return nil, err
		}
		log.Warn("second-stage downloader on: Smallpot will fetch what attackers name", "protocols", dc.Protocols)
		out = append(out, d)
	}
	return out, nil
}
