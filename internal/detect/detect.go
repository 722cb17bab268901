// Package detect is Smallpot's classification stage: it labels requests,
// sessions, payloads and samples with a family (and variant), an exploit
// and its CVE or Microsoft bulletin, by emitting detection events.
//
// It runs as a pipeline sink named "detect", in the sink's own
// goroutine: never inside a protocol handler and never on the pipeline's
// dispatcher. Each batch is classified as it arrives; detections go back
// through the emit function given to New (the pipeline's Emit, which
// never blocks), and the analyzer ignores its own detection events when
// they come round again.
//
// Rules are YAML files (docs/rules.md): the built-in set in rules/ is
// compiled into the binary, and a user adds files from the config. Every
// rule is compiled once at start, with the literals an event must have
// for it to match: one pass over each event finds those it has, and the
// rules that need others are not evaluated (prefilter.go). Rules scoped
// to a session or a source address keep a little state (a count,
// whether they fired) in a bounded LRU. Byte patterns on samples read at
// most MaxScan bytes of the stored sample.
//
// YARA: when rule files are configured and the yara program is installed,
// every new sample is scanned, one at a time, with a timeout, from a
// bounded queue (a full queue drops the scan and counts it); each
// matching YARA rule is a detection. Without yara the YARA rules are
// skipped, with one log line.
package detect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
)

// Config is the detect section of Smallpot's configuration.
type Config struct {
	// Rules are rule files, or directories of *.yaml/*.yml rule files,
	// added to the built-in set.
	Rules []string `yaml:"rules"`
	// Yara are YARA rule files, or directories of *.yar/*.yara files,
	// run over every new sample when the yara program is installed.
	Yara []string `yaml:"yara"`
	// Disable lists rule ids (built-in or not) that are not used.
	Disable []string `yaml:"disable"`
	// MaxScan bounds the bytes of one sample that byte patterns and YARA
	// look at; a larger sample is scanned up to MaxScan by rules (when the
	// sample store can read a prefix) and not given to YARA. Default 16 MiB.
	MaxScan int64 `yaml:"max_scan"`
	// YaraTimeout bounds one YARA scan. Default 30s.
	YaraTimeout time.Duration `yaml:"yara_timeout"`
	// StateSize bounds the sessions and sources remembered for rules
	// scoped to them. Default 65536.
	StateSize int `yaml:"state_size"`
	// NoBuiltin leaves out the built-in rules (for testing a user's rule
	// files alone).
	NoBuiltin bool `yaml:"no_builtin"`

	// SamplesDir is the sample store's directory (DATA/samples), set by
	// the caller: YARA reads sample files from it, and rules read
	// samples from it when New is given no Samples.
	SamplesDir string `yaml:"-"`
}

func (c *Config) fill() {
	if c.MaxScan <= 0 {
		c.MaxScan = 16 << 20
	}
	if c.YaraTimeout <= 0 {
		c.YaraTimeout = 30 * time.Second
	}
	if c.StateSize <= 0 {
		c.StateSize = 65536
	}
}

// Samples reads stored samples by SHA-256; *samples.Store is one.
type Samples interface {
	Read(sha256 string) ([]byte, error)
}

// prefixReader is a Samples that can read the first n bytes of a sample
// only. Without it, samples larger than MaxScan are not read by rules.
type prefixReader interface {
	ReadPrefix(sha256 string, n int64) ([]byte, error)
}

// Stats counts what the analyzer did.
type Stats struct {
	Events        uint64 `json:"events"`          // events classified
	Detections    uint64 `json:"detections"`      // detection events emitted
	SampleErrors  uint64 `json:"sample_errors"`   // samples that could not be read
	SamplesTooBig uint64 `json:"samples_too_big"` // samples over max_scan not read
	YaraScans     uint64 `json:"yara_scans"`
	YaraDropped   uint64 `json:"yara_dropped"` // scans dropped: the queue was full
	YaraErrors    uint64 `json:"yara_errors"`
}

// Analyzer is the classification stage, a pipeline.Sink.
type Analyzer struct {
	cfg     Config
	set     *Set
	samples Samples
	emit    func(*event.Event)
	log     *slog.Logger
	now     func() time.Time

	v          view
	fired      []firing
	ownSamples bool // samples was opened by New, and is closed by Close
	st         *state
	yara       *yaraScanner

	events, detections, sampleErrs, tooBig atomic.Uint64
}

var _ pipeline.Sink = (*Analyzer)(nil)

// New compiles the rules and, when YARA rules are configured and yara is
// installed, compiles those too and starts the scanner. emit receives
// every detection event; it must not block (pipeline.Emit). samples may
// be nil: the rules then read samples from cfg.SamplesDir, if set.
func New(cfg Config, samples Samples, emit func(*event.Event), log *slog.Logger) (*Analyzer, error) {
	cfg.fill()
	if log == nil {
		log = slog.Default()
	}
	if emit == nil {
		return nil, errors.New("detect: no emit function")
	}
	set, err := LoadRules(cfg)
	if err != nil {
		return nil, err
	}
	own := false
	if samples == nil && cfg.SamplesDir != "" {
		ds, err := DirSamples(cfg.SamplesDir)
		if err != nil {
			return nil, err
		}
		samples, own = ds, true
	}
	a := &Analyzer{cfg: cfg, set: set, samples: samples, emit: emit, log: log, now: time.Now,
		st: newState(cfg.StateSize), ownSamples: own}
	a.v.loadSample = a.readSample
	if len(cfg.Yara) > 0 {
		y, err := newYara(cfg, emit, log)
		if err != nil {
			_ = a.Close()
			return nil, err
		}
		a.yara = y // nil when yara is not installed
	}
	log.Info("classification rules loaded", "rules", set.Len(), "files", len(set.files), "yara", a.yara != nil)
	return a, nil
}

// Name implements pipeline.Sink.
func (a *Analyzer) Name() string { return "detect" }

// Rules returns the compiled rule set.
func (a *Analyzer) Rules() *Set { return a.set }

// Write implements pipeline.Sink: it classifies every event of the batch
// and emits a detection for each rule that fires.
func (a *Analyzer) Write(ctx context.Context, batch []pipeline.Record) error {
	for i := range batch {
		e := batch[i].Event
		if e == nil || ignored(e.Kind) {
			continue
		}
		a.events.Add(1)
		a.fired = a.set.classify(&a.v, e, batch[i].JSON, false, a.fired[:0])
		for _, f := range a.fired {
			ok, count := a.st.admit(f.r, e)
			if !ok {
				continue
			}
			a.emit(detectionFor(e, f.r.detection(f, count), a.now()))
			a.detections.Add(1)
		}
		if s, ok := e.Detail.(*event.Sample); ok && s.New && a.yara != nil {
			a.yara.enqueue(e, s)
		}
		if i%64 == 63 && ctx.Err() != nil {
			return fmt.Errorf("detect: %w", ctx.Err())
		}
	}
	return nil
}

// Close stops the YARA scanner (a scan in progress is cut short), removes
// its compiled rules and closes the sample directory New opened.
func (a *Analyzer) Close() error {
	if a.yara != nil {
		a.yara.close()
	}
	if c, ok := a.samples.(io.Closer); ok && a.ownSamples {
		return c.Close()
	}
	return nil
}

// Stats returns the counters.
func (a *Analyzer) Stats() Stats {
	s := Stats{Events: a.events.Load(), Detections: a.detections.Load(),
		SampleErrors: a.sampleErrs.Load(), SamplesTooBig: a.tooBig.Load()}
	if a.yara != nil {
		s.YaraScans, s.YaraDropped, s.YaraErrors = a.yara.scans.Load(), a.yara.dropped.Load(), a.yara.errors.Load()
		s.Detections += a.yara.matches.Load()
	}
	return s
}

// readSample returns at most MaxScan bytes of a stored sample, or nil.
func (a *Analyzer) readSample(sha string, size int64) []byte {
	if a.samples == nil || sha == "" {
		return nil
	}
	var b []byte
	var err error
	if pr, ok := a.samples.(prefixReader); ok {
		b, err = pr.ReadPrefix(sha, a.cfg.MaxScan)
	} else {
		if size > a.cfg.MaxScan {
			a.tooBig.Add(1)
			return nil
		}
		b, err = a.samples.Read(sha)
	}
	if err != nil {
		if n := a.sampleErrs.Add(1); n == 1 || n%1000 == 0 {
			a.log.Warn("sample not readable for classification", "sha256", sha, "err", err, "errors_total", n)
		}
		return nil
	}
	if int64(len(b)) > a.cfg.MaxScan {
		b = b[:a.cfg.MaxScan]
	}
	return b
}

var sha256Name = regexp.MustCompile(`^[0-9a-f]{64}$`)

// dirSamples reads samples from a sample directory (DATA/samples/<sha256>)
// through an os.Root, so it keeps working after privileges are dropped
// and cannot be led out of the directory.
type dirSamples struct{ root *os.Root }

// DirSamples opens a sample directory for reading, bounded reads
// included.
func DirSamples(dir string) (Samples, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("detect: samples: %w", err)
	}
	return &dirSamples{root: r}, nil
}

func (d *dirSamples) Read(sha string) ([]byte, error) { return d.ReadPrefix(sha, 1<<62) }

// ReadPrefix returns the first n bytes of a sample.
func (d *dirSamples) ReadPrefix(sha string, n int64) ([]byte, error) {
	if !sha256Name.MatchString(sha) {
		return nil, fmt.Errorf("detect: %q is not a SHA-256", sha)
	}
	f, err := d.root.Open(sha)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, n))
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	return b, nil
}

func (d *dirSamples) Close() error { return d.root.Close() }
