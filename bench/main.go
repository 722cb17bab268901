//go:build linux

// Command bench compares Smallpot's HTTP service with a bare Go server on
// loopback: connections per second and server CPU time per connection for
// short exchanges (a new TCP connection, one scanner-style request, the
// response, close), and resident memory per idle connection at 10,000
// concurrent idle connections. Both servers run as separate processes;
// their CPU time and memory are read from /proc. It prints a Markdown
// table with the ratios and the targets, and writes it to -out.
//
//	go run ./bench -out docs/performance.md
//
// Every loop is bounded in count and time, all traffic goes to
// 127.0.0.1, and the servers are stopped when the harness ends, fails or
// is interrupted. See bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	out      string
	subject  string
	workers  int
	duration time.Duration
	maxConns int64
	rounds   int
	idle     int
	keep     bool
	perf     string
	nice     int
	answer   string // with -subject bare: what both bare servers answer
}

func main() {
	var o options
	bare := flag.String("bare", "", "")
	bareResp := flag.String("bare-response", "", "")
	flag.StringVar(&o.out, "out", "", "also write the report to this Markdown `file`")
	flag.StringVar(&o.subject, "subject", "smallpot", "server compared with the bare one: smallpot, or bare (to see the harness's own noise)")
	flag.IntVar(&o.workers, "workers", 64, "concurrent client connections in the short-exchange rounds")
	flag.DurationVar(&o.duration, "duration", 2*time.Second, "length of one round")
	flag.Int64Var(&o.maxConns, "max-conns", 500_000, "most exchanges in one round")
	flag.IntVar(&o.rounds, "rounds", 10, "rounds per server, alternating between the servers")
	flag.IntVar(&o.idle, "idle", 10_000, "concurrent idle connections in the memory test")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binary, config, Smallpot's data)")
	flag.IntVar(&o.nice, "nice", -19, "run the harness and both servers at this nice `value` if allowed, so other work on the machine disturbs them less (0: leave it)")
	flag.StringVar(&o.answer, "answer", "", "with -subject bare, the `file` whose bytes both bare servers answer with (e.g. Smallpot's page, saved with curl -si), so that -perf shows a bare server's CPU for the same bytes")
	flag.StringVar(&o.perf, "perf", "", "record the subject's stacks with perf(1) during the rounds into `file` and print where its CPU went; the report is then not written to -out")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run ./bench [-out FILE] [flags]\n\n")
		flag.VisitAll(func(f *flag.Flag) {
			if f.Usage != "" { // hidden flags have none
				name, usage := flag.UnquoteUsage(f)
				fmt.Fprintf(flag.CommandLine.Output(), "  -%s %s\n    \t%s (default %v)\n", f.Name, name, usage, f.DefValue)
			}
		})
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *bare != "" {
		if err := runBare(*bare, *bareResp); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func (o options) check() error {
	switch {
	case o.subject != "smallpot" && o.subject != "bare":
		return fmt.Errorf("bench: -subject %q: want smallpot or bare", o.subject)
	case o.answer != "" && o.subject != "bare":
		return errors.New("bench: -answer is for -subject bare (against Smallpot the bare server sends Smallpot's answer)")
	case o.workers < 1 || o.workers > 1024:
		return errors.New("bench: -workers: want 1..1024")
	case o.duration < 100*time.Millisecond || o.duration > 5*time.Minute:
		return errors.New("bench: -duration: want 100ms..5m")
	case o.maxConns < 1 || o.maxConns > 10_000_000:
		return errors.New("bench: -max-conns: want 1..10000000")
	case o.rounds < 1 || o.rounds > 20:
		return errors.New("bench: -rounds: want 1..20")
	case o.nice < -20 || o.nice > 19:
		return errors.New("bench: -nice: want -20..19")
	case o.idle < 100 || o.idle > 50_000:
		return errors.New("bench: -idle: want 100..50000")
	}
	return nil
}

// measurement is everything one run measured.
type measurement struct {
	opts    options
	hz      int
	hzRead  bool
	date    time.Time
	subject string // "Smallpot" or "bare Go (2nd)"
	rounds  [2][]roundResult
	idle    [2]idleResult
	stopped [2]string
	storage string   // what Smallpot stored, when it is the subject
	conns   [2]int64 // connections made to each server in the whole run
	// otherLoad is the share of the machine's CPU that went to other
	// processes during the rounds.
	otherLoad float64
	niced     bool // the harness and the servers ran at -nice
	autogroup bool // and so did their autogroup
}

func run(ctx context.Context, o options) error {
	if err := raiseFileLimit(o.idle + 2048); err != nil {
		return err
	}
	m := &measurement{opts: o, date: time.Now().UTC()}
	m.hz, m.hzRead = clockTicks()
	if o.nice != 0 {
		if err := setNice(o.nice); err != nil {
			progress("%v: running at the usual priority", err)
		} else {
			m.niced = true
			// The autogroup's nice is given back however run ends,
			// short of SIGKILL.
			if _, err := os.Stat("/proc/self/autogroup"); err == nil {
				if prev, err := setAutogroupNice(o.nice); err != nil {
					progress("%v", err)
				} else {
					m.autogroup = true
					defer func() {
						if _, err := setAutogroupNice(prev); err != nil {
							progress("%v", err)
						}
					}()
				}
			}
		}
	}

	tmp, err := os.MkdirTemp("", "smallpot-bench-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if o.keep {
		fmt.Fprintf(os.Stderr, "keeping %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	// The servers: [0] is the subject, [1] the bare Go server.
	var srv [2]*server
	defer func() {
		for _, s := range srv {
			if s != nil {
				s.kill()
			}
		}
	}()
	data := filepath.Join(tmp, "data")
	var respFile string // Smallpot's answer, for the bare server
	if o.subject == "smallpot" {
		m.subject = "Smallpot"
		root, err := moduleRoot(ctx)
		if err != nil {
			return err
		}
		progress("building ./cmd/smallpot")
		bin, err := buildSmallpot(ctx, root, tmp)
		if err != nil {
			return err
		}
		port, err := freePort()
		if err != nil {
			return err
		}
		cfg, err := smallpotConfig(ctx, bin, tmp, port, o.idle)
		if err != nil {
			return err
		}
		if srv[0], err = startSmallpot(ctx, bin, cfg, data, port); err != nil {
			return err
		}
		// The bare server sends the very bytes Smallpot answers the
		// harness's request with, so that both write and close alike and
		// the comparison is of everything else.
		if respFile, err = smallpotAnswer(ctx, srv[0].addr, tmp); err != nil {
			return err
		}
	} else {
		m.subject = "bare Go (2nd)"
		respFile = o.answer
		if srv[0], err = startBare(ctx, "bare-2", respFile); err != nil {
			return err
		}
	}
	if srv[1], err = startBare(ctx, "bare", respFile); err != nil {
		return err
	}
	for _, s := range srv {
		lim, err := fdSoftLimit(s.pid)
		if err != nil {
			return err
		}
		if lim < o.idle+256 {
			return fmt.Errorf("bench: %s may open only %d files, fewer than the %d idle connections: raise the hard limit (ulimit -Hn)", s.name, lim, o.idle)
		}
	}
	progress("%s on %s, bare Go on %s", m.subject, srv[0].addr, srv[1].addr)

	// Warm-up: both servers' runtimes, and Smallpot's database, see
	// traffic before anything is measured.
	for _, s := range srv {
		progress("warm-up: %s", s.name)
		if _, err := round(ctx, s, o.workers, time.Second, 20_000, m.hz); err != nil {
			return err
		}
	}

	// Idle memory first, before the rounds have grown either heap.
	for i, s := range srv {
		progress("idle memory: %s, %d connections", s.name, o.idle)
		if m.idle[i], err = measureIdle(ctx, s, o.idle); err != nil {
			return err
		}
		progress("  %.2f KiB per connection", m.idle[i].perConnKiB())
	}

	var prof *exec.Cmd
	if o.perf != "" {
		if prof, err = startPerf(srv[0].pid, o.perf); err != nil {
			return err
		}
		defer func() {
			if prof != nil {
				stopPerf(prof)
			}
		}()
	}
	// Short exchanges, alternating: subject, bare, subject, bare, ...
	// The machine's CPU time is read around them to tell how much of it
	// went to anything but the harness and the two servers.
	ours := func() (int64, error) {
		var sum int64
		for _, pid := range []int{os.Getpid(), srv[0].pid, srv[1].pid} {
			t, err := cpuTicks(pid)
			if err != nil {
				return 0, err
			}
			sum += t
		}
		return sum, nil
	}
	busy0, total0, err := machineTicks()
	if err != nil {
		return err
	}
	ours0, err := ours()
	if err != nil {
		return err
	}
	for r := range o.rounds {
		for i, s := range srv {
			res, err := round(ctx, s, o.workers, o.duration, o.maxConns, m.hz)
			if err != nil {
				return err
			}
			m.rounds[i] = append(m.rounds[i], res)
			progress("round %d %-8s %8.0f conn/s  %6.1f µs CPU/conn  (%d conns, %d failed)",
				r+1, s.name, res.perSecond(), res.cpuMicros(m.hz), res.conns, res.failed)
			if res.firstErr != nil {
				progress("  first failure: %v", res.firstErr)
			}
		}
	}
	busy1, total1, err := machineTicks()
	if err != nil {
		return err
	}
	ours1, err := ours()
	if err != nil {
		return err
	}
	if total1 > total0 {
		m.otherLoad = float64(busy1-busy0-(ours1-ours0)) / float64(total1-total0)
	}
	if prof != nil {
		stopPerf(prof)
		prof = nil
		progress("CPU profile of %s in %s: perf report -i %s", srv[0].name, o.perf, o.perf)
	}

	for i, s := range srv {
		m.stopped[i] = s.stop()
		m.conns[i] = s.conns
		srv[i] = nil
	}
	if o.subject == "smallpot" {
		m.storage = storageSummary(data)
	}

	report := m.markdown()
	fmt.Print(report)
	if o.perf != "" {
		cpu := make([]float64, len(m.rounds[0]))
		for i, r := range m.rounds[0] {
			cpu[i] = r.cpuMicros(m.hz)
		}
		table, err := breakdown(o.perf, median(cpu))
		if err != nil {
			return err
		}
		fmt.Printf("\nWhere %s's CPU per connection went (perf samples during the rounds, by the first of these places on each sample's stack):\n\n%s", o.subject, table)
	}
	if o.out != "" && o.perf == "" {
		// Sections other benchmarks keep below keepMarker survive a rewrite.
		if old, err := os.ReadFile(o.out); err == nil {
			if i := strings.Index(string(old), keepMarker); i >= 0 {
				report += "\n" + string(old[i:])
			}
		}
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		progress("wrote %s", o.out)
	}
	return nil
}

// round runs one timed round of short exchanges against s and reads the
// server's CPU time around it. The "after" reading waits until the server
// has gone quiet (bounded), so work it finishes after the load — such as
// Smallpot writing its last batch of events — counts for the round.
func round(ctx context.Context, s *server, workers int, d time.Duration, max int64, hz int) (roundResult, error) {
	if err := s.alive(); err != nil {
		return roundResult{}, err
	}
	t0, err := cpuTicks(s.pid)
	if err != nil {
		return roundResult{}, err
	}
	res := load(ctx, s.addr, workers, d, max)
	s.conns += res.conns + res.failed
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	t1, err := settleCPU(ctx, s.pid)
	if err != nil {
		return res, err
	}
	res.cpuTicks = t1 - t0
	if res.conns == 0 {
		return res, fmt.Errorf("bench: %s: no exchange completed: %v", s.name, res.firstErr)
	}
	return res, s.alive()
}

// settleCPU waits until a process's CPU time stops growing over 300 ms, at
// most 5 s, and returns it.
func settleCPU(ctx context.Context, pid int) (int64, error) {
	prev, err := cpuTicks(pid)
	if err != nil {
		return 0, err
	}
	for range 17 {
		if err := sleep(ctx, 300*time.Millisecond); err != nil {
			return 0, err
		}
		cur, err := cpuTicks(pid)
		if err != nil {
			return 0, err
		}
		if cur == prev {
			break
		}
		prev = cur
	}
	return prev, nil
}

// idleResult is the memory test of one server.
type idleResult struct {
	n             int
	before, after int64 // VmRSS, KiB
	held          time.Duration
}

func (r idleResult) perConnKiB() float64 { return float64(r.after-r.before) / float64(r.n) }

// measureIdle opens n connections that send nothing, waits until the
// server holds them all (its descriptor count), lets its RSS settle and
// reads it; then closes them and waits until the server has let go.
func measureIdle(ctx context.Context, s *server, n int) (idleResult, error) {
	r := idleResult{n: n}
	if err := sleep(ctx, time.Second); err != nil {
		return r, err
	}
	base, err := fdCount(s.pid)
	if err != nil {
		return r, err
	}
	if r.before, err = rssKiB(s.pid); err != nil {
		return r, err
	}
	begin := time.Now()
	conns, err := openIdle(ctx, s.addr, n, 60*time.Second)
	if err != nil {
		return r, err
	}
	s.conns += int64(n)
	defer closeAll(conns)
	if err := waitFor(ctx, 30*time.Second, func() (bool, error) {
		fds, err := fdCount(s.pid)
		return fds >= base+n, err
	}); err != nil {
		return r, fmt.Errorf("bench: %s did not take %d idle connections: %w", s.name, n, errors.Join(err, s.alive()))
	}
	r.held = time.Since(begin)
	// Let the server finish what each connection started (Smallpot
	// stores a connect event for each), then read RSS until it is steady.
	prev := r.before
	for range 20 {
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return r, err
		}
		cur, err := rssKiB(s.pid)
		if err != nil {
			return r, err
		}
		r.after = cur
		if d := cur - prev; d > -64 && d < 64 {
			break
		}
		prev = cur
	}
	if err := s.alive(); err != nil {
		return r, err
	}
	closeAll(conns)
	if err := waitFor(ctx, 60*time.Second, func() (bool, error) {
		fds, err := fdCount(s.pid)
		return fds <= base+16, err
	}); err != nil {
		return r, fmt.Errorf("bench: %s did not close the idle connections: %w", s.name, err)
	}
	return r, nil
}

// waitFor polls cond every 100 ms until it holds, for at most limit.
func waitFor(ctx context.Context, limit time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", limit)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bench: %w", ctx.Err())
	}
}

// raiseFileLimit lets the harness hold the idle connections: the soft
// limit on open files goes up to the hard one if it is below need.
func raiseFileLimit(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if lim.Cur >= uint64(need) {
		return nil
	}
	if lim.Max < uint64(need) {
		return fmt.Errorf("bench: %d open files needed, hard limit is %d: raise it (ulimit -Hn) or lower -idle", need, lim.Max)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// freePort is a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// storageSummary says what Smallpot stored: the number of events in
// events.jsonl and the sizes of the files in its data directory.
func storageSummary(dir string) string {
	var parts []string
	if n, err := countLines(filepath.Join(dir, "events.jsonl")); err == nil {
		parts = append(parts, thousands(float64(n))+" events in events.jsonl")
	}
	entries, _ := os.ReadDir(dir)
	var files []string
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			files = append(files, fmt.Sprintf("%s %.1f MiB", e.Name(), float64(fi.Size())/(1<<20)))
		}
	}
	slices.Sort(files)
	if len(files) > 0 {
		parts = append(parts, "data directory: "+strings.Join(files, ", "))
	}
	return strings.Join(parts, "; ")
}

func countLines(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		m, err := f.Read(buf)
		for _, b := range buf[:m] {
			if b == '\n' {
				n++
			}
		}
		if err != nil {
			return n, nil
		}
	}
}

// startPerf samples the process's stacks with perf(1) while it runs.
func startPerf(pid int, out string) (*exec.Cmd, error) {
	cmd := exec.Command("perf", "record", "-F", "999", "-g", "-p", fmt.Sprint(pid), "-o", out)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: perf: %w", err)
	}
	time.Sleep(500 * time.Millisecond)
	return cmd, nil
}

func stopPerf(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// goVersion is the toolchain's version; both servers are built with it.
func goVersion() string { return runtime.Version() }

// keepMarker starts the part of the -out file the harness leaves alone:
// the figures of the Go benchmarks (classification, novelty).
const keepMarker = "<!-- other benchmarks: kept by bench -->"
