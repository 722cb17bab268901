package detect

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smallpot/smallpot/internal/event"
)

// yaraScanner runs the yara program over new samples, one at a time, from
// a bounded queue. The user's rule files are compiled once, at start, by
// yarac (so a bad rule is reported then, and files the process can read
// as root stay usable after it drops privileges), each file in its own
// namespace so that two files may use the same rule name.
type yaraScanner struct {
	bin      string
	compiled string   // the rules compiled by yarac, in a temporary file
	files    []string // namespace nN is files[N]
	dir      string
	timeout  time.Duration
	maxScan  int64
	emit     func(*event.Event)
	log      *slog.Logger
	now      func() time.Time

	jobs   chan yaraJob
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	scans, dropped, errors, matches atomic.Uint64
}

type yaraJob struct {
	e    event.Event // the sample event's envelope
	sha  string
	size int64
}

// yaraQueue bounds the scans waiting.
const yaraQueue = 256

// newYara compiles the YARA rules and starts the scanner; it returns nil
// (and logs once) when yara or yarac is not installed, and an error when
// a rule file does not compile.
func newYara(cfg Config, emit func(*event.Event), log *slog.Logger) (*yaraScanner, error) {
	var files []string
	for _, p := range cfg.Yara {
		fs, err := expand(p, ".yar", ".yara")
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	bin, err1 := exec.LookPath("yara")
	yarac, err2 := exec.LookPath("yarac")
	if err1 != nil || err2 != nil {
		log.Warn("yara is not installed: YARA rules skipped (Debian package yara)", "files", len(files))
		return nil, nil
	}
	if cfg.SamplesDir == "" {
		log.Warn("no sample directory: YARA rules skipped", "files", len(files))
		return nil, nil
	}
	out, err := compileYara(yarac, files, cfg.YaraTimeout)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	y := &yaraScanner{bin: bin, compiled: out, files: files, dir: cfg.SamplesDir, timeout: cfg.YaraTimeout,
		maxScan: cfg.MaxScan, emit: emit, log: log, now: time.Now,
		jobs: make(chan yaraJob, yaraQueue), ctx: ctx, cancel: cancel}
	y.wg.Add(1)
	go y.run()
	return y, nil
}

// compileYara runs yarac over files into a temporary file and returns its
// name.
func compileYara(yarac string, files []string, timeout time.Duration) (string, error) {
	f, err := os.CreateTemp("", "smallpot-yara-*.yarc")
	if err != nil {
		return "", fmt.Errorf("detect: yara: %w", err)
	}
	name := f.Name()
	_ = f.Close()
	args := make([]string, 0, len(files)+2)
	args = append(args, "-w")
	for i, file := range files {
		args = append(args, "n"+strconv.Itoa(i)+":"+file)
	}
	args = append(args, name)
	ctx, cancel := context.WithTimeout(context.Background(), max(timeout, 30*time.Second))
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, yarac, args...)
	cmd.Stderr = &limited{w: &stderr, n: 4096}
	if err := cmd.Run(); err != nil {
		_ = os.Remove(name)
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("detect: yara rules: %s", msg)
	}
	// The file is read by yara after privileges are dropped.
	if err := os.Chmod(name, 0o644); err != nil {
		_ = os.Remove(name)
		return "", fmt.Errorf("detect: yara: %w", err)
	}
	return name, nil
}

// enqueue asks for a scan of a new sample without waiting; a full queue
// drops the scan and counts it.
func (y *yaraScanner) enqueue(e *event.Event, s *event.Sample) {
	if !sha256Name.MatchString(s.SHA256) {
		return
	}
	if s.Size > y.maxScan {
		y.dropped.Add(1)
		return
	}
	j := yaraJob{e: *e, sha: s.SHA256, size: s.Size}
	j.e.Detail = nil
	select {
	case y.jobs <- j:
	default:
		if n := y.dropped.Add(1); n == 1 || n%1000 == 0 {
			y.log.Warn("yara behind: sample scan dropped", "sha256", s.SHA256, "dropped_total", n)
		}
	}
}

func (y *yaraScanner) run() {
	defer y.wg.Done()
	for {
		select {
		case <-y.ctx.Done():
			return
		case j := <-y.jobs:
			y.scan(j)
		}
	}
}

func (y *yaraScanner) scan(j yaraJob) {
	y.scans.Add(1)
	matches, err := y.scanFile(y.ctx, filepath.Join(y.dir, j.sha))
	if err != nil {
		if y.ctx.Err() != nil {
			return
		}
		if n := y.errors.Add(1); n == 1 || n%100 == 0 {
			y.log.Warn("yara scan failed", "sha256", j.sha, "err", err, "errors_total", n)
		}
		return
	}
	for _, m := range matches {
		d := m.detection(y.files)
		d.Sample = j.sha
		y.emit(detectionFor(&j.e, d, y.now()))
		y.matches.Add(1)
	}
}

// scanFile runs yara on one file and parses what it prints.
func (y *yaraScanner) scanFile(ctx context.Context, path string) ([]yaraMatch, error) {
	ctx, cancel := context.WithTimeout(ctx, y.timeout)
	defer cancel()
	secs := max(1, int(y.timeout/time.Second))
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, y.bin, "-w", "-m", "-e", "-a", strconv.Itoa(secs), "-C", y.compiled, path)
	cmd.Stdout = &limited{w: &stdout, n: 1 << 20}
	cmd.Stderr = &limited{w: &stderr, n: 4096}
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("detect: yara: %s", msg)
		}
		return nil, fmt.Errorf("detect: yara: %w", err)
	}
	return parseYaraOutput(stdout.String(), path), nil
}

func (y *yaraScanner) close() {
	y.once.Do(func() {
		y.cancel()
		y.wg.Wait()
		_ = os.Remove(y.compiled)
	})
}

// yaraMatch is one line of yara -m -e output:
// "nN:RuleName [key="value",...] PATH".
type yaraMatch struct {
	ns, rule string
	meta     map[string]string
}

func parseYaraOutput(out, path string) []yaraMatch {
	var ms []yaraMatch
	for line := range strings.SplitSeq(out, "\n") {
		line = strings.TrimRight(line, "\r")
		line, ok := strings.CutSuffix(line, " "+path)
		if !ok {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		ns, rule, ok := strings.Cut(name, ":")
		if !ok || rule == "" {
			continue
		}
		ms = append(ms, yaraMatch{ns: ns, rule: rule, meta: parseYaraMeta(rest)})
	}
	return ms
}

// parseYaraMeta reads `[a="x \"y\"",b=1,c=true]`.
func parseYaraMeta(s string) map[string]string {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil
	}
	s = s[1 : len(s)-1]
	m := map[string]string{}
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			break
		}
		key := s[:eq]
		s = s[eq+1:]
		var val strings.Builder
		if strings.HasPrefix(s, `"`) {
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
			}
			s = s[min(i+1, len(s)):]
		} else {
			i := strings.IndexByte(s, ',')
			if i < 0 {
				i = len(s)
			}
			val.WriteString(s[:i])
			s = s[i:]
		}
		m[key] = val.String()
		s = strings.TrimPrefix(s, ",")
	}
	return m
}

// detection turns a YARA match into a detection; the rule's meta may
// give family, variant, exploit, cve, bulletin and severity.
func (m yaraMatch) detection(files []string) *event.Detection {
	file := m.ns
	if i, err := strconv.Atoi(strings.TrimPrefix(m.ns, "n")); err == nil && i >= 0 && i < len(files) {
		file = filepath.Base(files[i])
	}
	d := &event.Detection{Rule: file + ":" + m.rule, Engine: event.EngineYARA, Title: m.rule,
		Family: m.meta["family"], Variant: m.meta["variant"], Exploit: m.meta["exploit"],
		Bulletin: m.meta["bulletin"], Severity: "medium", Scope: ScopeEvent,
		Matched: []event.DetectionMatch{{Field: "yara", Value: m.rule}}}
	if s := m.meta["severity"]; slices.Contains(severities, s) {
		d.Severity = s
	}
	for c := range strings.SplitSeq(m.meta["cve"], ",") {
		if c = strings.TrimSpace(c); c != "" {
			d.CVE = append(d.CVE, c)
		}
	}
	return d
}

// limited writes at most n bytes to w and drops the rest.
type limited struct {
	w interface{ Write([]byte) (int, error) }
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
		l.n -= k
	}
	return len(p), nil
}
