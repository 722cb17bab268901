// Package download is Smallpot's opt-in second-stage downloader: it
// fetches the files attackers name — a `download` intent, a URL in a
// request, a command or a payload, a `tftp -i HOST GET FILE` line — over
// HTTP(S), FTP or TFTP, and keeps each as a sample linked to the session
// that named it.
//
// It is a pipeline sink, so it never runs in a protocol handler: services
// only record intents. It is off by default, and bounded everywhere:
//
//   - Targets: every address is checked as it is dialled (a net.Dialer
//     Control function, and for TFTP the resolved address written to), so
//     DNS rebinding and redirects cannot get around the check. Loopback,
//     private (RFC 1918, ULA), link-local, CGNAT, multicast, unspecified
//     and reserved addresses are refused, as is the sensor's own address;
//     allow_loopback and allow_private lift the first ones (tests, labs).
//     A refused target is recorded (a `fetch` event with status refused)
//     and never sent a packet.
//   - Work: URLs are deduplicated (a bounded LRU, remembered for a while);
//     fetches wait in a bounded queue (a full queue drops and counts,
//     Write never blocks) for a fixed pool of workers, behind one global
//     token bucket. Each fetch has a time limit, a size limit and, for
//     HTTP, a redirect limit, each redirect checked before it is followed.
//
// Each fetch emits, with the envelope of the event that named the file, a
// `sample` event (source download.http, download.tftp, ...) when a file
// was kept, and a `fetch` event with the outcome. The downloader reads
// only download, request, command and payload events, never its own, so
// it cannot feed itself.
package download

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
	"github.com/smallpot/smallpot/internal/service"
)

// Config is the downloader's section of the configuration.
type Config struct {
	// Enabled turns the downloader on; it is off by default.
	Enabled bool `yaml:"enabled"`
	// Protocols are those fetched: http, https, ftp, tftp.
	Protocols []string `yaml:"protocols"`
	// Scan looks for URLs and tftp/ftp command lines in requests,
	// commands and payloads, besides the download intents services
	// record.
	Scan bool `yaml:"scan"`
	// MaxSize is the largest file kept; a larger one is abandoned.
	MaxSize config.ByteSize `yaml:"max_size"`
	// Timeout bounds one fetch, redirects included.
	Timeout      time.Duration `yaml:"timeout"`
	MaxRedirects int           `yaml:"max_redirects"`
	// Concurrency is the number of fetches at once.
	Concurrency int `yaml:"concurrency"`
	// PerMinute and Burst size the global rate limit of fetches.
	PerMinute float64 `yaml:"per_minute"`
	Burst     int     `yaml:"burst"`
	// Queue bounds the fetches waiting; beyond it they are dropped.
	Queue int `yaml:"queue"`
	// Remember bounds the URLs remembered as already fetched; one is
	// fetched again after RememberFor.
	Remember    int           `yaml:"remember"`
	RememberFor time.Duration `yaml:"remember_for"`
	// UserAgent is sent with HTTP requests.
	UserAgent string `yaml:"user_agent"`
	// AllowPrivate allows private (RFC 1918, ULA), link-local and CGNAT
	// targets; AllowLoopback allows loopback ones. For tests and labs
	// only: on a sensor they let attackers reach its own network.
	AllowPrivate  bool `yaml:"allow_private"`
	AllowLoopback bool `yaml:"allow_loopback"`
}

// Protocols the downloader speaks.
var Protocols = []string{"http", "https", "ftp", "tftp"}

// Defaults returns the configuration an empty section means.
func Defaults() Config {
	return Config{
		Protocols:    slices.Clone(Protocols),
		Scan:         true,
		MaxSize:      8 << 20,
		Timeout:      60 * time.Second,
		MaxRedirects: 5,
		Concurrency:  4,
		PerMinute:    30,
		Burst:        10,
		Queue:        256,
		Remember:     4096,
		RememberFor:  24 * time.Hour,
		UserAgent:    "Wget/1.21.3",
	}
}

// Validate checks values that decode but make no sense.
func (c *Config) Validate() error {
	var errs []error
	for _, p := range c.Protocols {
		if !slices.Contains(Protocols, p) {
			errs = append(errs, fmt.Errorf("protocols: %q: want some of %s", p, strings.Join(Protocols, ", ")))
		}
	}
	if c.MaxSize < 1 || c.MaxSize > 256<<20 {
		errs = append(errs, errors.New("max_size: want 1 byte to 256MiB"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("timeout: must be positive"))
	}
	if c.MaxRedirects < 0 || c.MaxRedirects > 20 {
		errs = append(errs, errors.New("max_redirects: want 0 to 20"))
	}
	if c.Concurrency < 1 || c.Concurrency > 256 {
		errs = append(errs, errors.New("concurrency: want 1 to 256"))
	}
	if c.PerMinute <= 0 || c.Burst < 1 {
		errs = append(errs, errors.New("per_minute must be positive and burst at least 1"))
	}
	if c.Queue < 1 || c.Remember < 1 || c.RememberFor <= 0 {
		errs = append(errs, errors.New("queue and remember must be at least 1, remember_for positive"))
	}
	if strings.ContainsAny(c.UserAgent, "\r\n") {
		errs = append(errs, errors.New("user_agent: no line breaks"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	return nil
}

// Stats counts what the downloader did.
type Stats struct {
	Queued  uint64 `json:"queued"`  // fetches queued
	Dropped uint64 `json:"dropped"` // fetches lost because the queue was full
	Repeats uint64 `json:"repeats"` // URLs skipped as already seen
	OK      uint64 `json:"ok"`
	Refused uint64 `json:"refused"`
	Failed  uint64 `json:"failed"`
}

// Sink is the downloader, a pipeline.Sink.
type Sink struct {
	cfg     Config
	store   service.SampleStore
	emit    func(*event.Event)
	log     *slog.Logger
	policy  policy
	allowed map[string]bool
	http    *http.Client

	jobs   chan job
	seen   *lru
	rate   *bucket
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	queued, dropped, repeats, ok, refused, failed atomic.Uint64

	// For tests: default ports by protocol, a hook told of every address
	// dialled, the TFTP retransmission wait and the clock.
	ports    map[string]int
	dialed   func(netip.AddrPort)
	tftpWait time.Duration
	now      func() time.Time
}

var _ pipeline.Sink = (*Sink)(nil)

// job is one fetch: the target and the envelope of the event naming it.
type job struct {
	t  target
	of envelope
}

// envelope is what a fetch's events copy from the event that named the
// file, so the sample is linked to that session.
type envelope struct {
	id, sensor, session, service string
	transport                    event.Transport
	src, dst                     netip.AddrPort
}

func envelopeOf(e *event.Event) envelope {
	return envelope{id: e.ID, sensor: e.Sensor, session: e.Session, service: e.Service,
		transport: e.Transport, src: e.Src, dst: e.Dst}
}

// New builds the downloader and starts its workers. Samples go to store;
// the sample and fetch events go to emit (the pipeline's Emit, which never
// blocks). Nothing is dialled until a file is named.
func New(cfg Config, store service.SampleStore, emit func(*event.Event), log *slog.Logger) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil || emit == nil {
		return nil, errors.New("download: a sample store and an emit function are needed")
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Sink{
		cfg: cfg, store: store, emit: emit, log: log.With("sink", "download"),
		policy:   policy{allowPrivate: cfg.AllowPrivate, allowLoopback: cfg.AllowLoopback},
		allowed:  map[string]bool{},
		jobs:     make(chan job, cfg.Queue),
		seen:     newLRU(cfg.Remember, cfg.RememberFor),
		tftpWait: 2 * time.Second,
		now:      time.Now,
	}
	for _, p := range cfg.Protocols {
		s.allowed[p] = true
	}
	s.rate = newBucket(cfg.PerMinute/60, cfg.Burst, s.now())
	s.http = s.newHTTPClient()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for range cfg.Concurrency {
		s.wg.Add(1)
		go s.work()
	}
	return s, nil
}

// Name implements pipeline.Sink.
func (s *Sink) Name() string { return "download" }

// Write implements pipeline.Sink. It only queues: it never waits for a
// fetch, and a full queue drops the fetch (counted).
func (s *Sink) Write(_ context.Context, batch []pipeline.Record) error {
	for _, r := range batch {
		e := r.Event
		if e == nil {
			continue
		}
		switch e.Kind {
		case event.KindDownload, event.KindRequest, event.KindCommand, event.KindPayload:
		default:
			continue
		}
		for _, u := range intents(e, s.cfg.Scan) {
			s.offer(e, u)
		}
	}
	return nil
}

func (s *Sink) offer(e *event.Event, raw string) {
	if s.ctx.Err() != nil {
		return
	}
	t, err := parseTarget(raw, s.allowed, s.ports)
	if err != nil {
		return // not a URL this downloader fetches
	}
	if !s.seen.add(t.key(), s.now()) {
		s.repeats.Add(1)
		return
	}
	j := job{t: t, of: envelopeOf(e)}
	// An address literal the policy refuses is recorded at once,
	// without waiting for a worker.
	if a, err := netip.ParseAddr(t.host); err == nil {
		if err := s.policy.check(a, j.of.dst.Addr()); err != nil {
			s.record(j, nil, err, 0, &fetchState{})
			return
		}
	}
	select {
	case s.jobs <- j:
		s.queued.Add(1)
	default:
		s.seen.remove(t.key())
		if n := s.dropped.Add(1); n == 1 || n%1000 == 0 {
			s.log.Warn("download queue full: fetch dropped", "dropped_total", n)
		}
	}
}

func (s *Sink) work() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case j := <-s.jobs:
			if wait := s.rate.reserve(s.now()); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-s.ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			s.fetch(j)
		}
	}
}

func (s *Sink) fetch(j job) {
	st := &fetchState{self: j.of.dst.Addr()}
	ctx, cancel := context.WithTimeout(withState(s.ctx, st), s.cfg.Timeout)
	defer cancel()
	start := s.now()
	var data []byte
	var err error
	switch j.t.proto {
	case "http", "https":
		data, err = s.getHTTP(ctx, j.t)
	case "ftp":
		data, err = s.getFTP(ctx, j.t)
	case "tftp":
		data, err = s.getTFTP(ctx, j.t)
	default:
		err = fmt.Errorf("protocol %q", j.t.proto)
	}
	if err != nil && ctx.Err() != nil && s.ctx.Err() == nil {
		err = context.DeadlineExceeded
	}
	if s.ctx.Err() != nil {
		return // closing: the pipeline takes no more events
	}
	s.record(j, data, err, s.now().Sub(start), st)
}

// record keeps a fetched file and emits the fetch's events.
func (s *Sink) record(j job, data []byte, err error, took time.Duration, st *fetchState) {
	f := &event.Fetch{URL: j.t.url, Protocol: j.t.proto, Redirects: st.redirects, DurationMS: took.Milliseconds(), Of: j.of.id}
	if st.dialed.IsValid() {
		f.Address = st.dialed.String()
	}
	if st.final != "" && st.final != j.t.url {
		f.FinalURL = printable(st.final, maxURL)
	}
	if err == nil {
		d := service.DigestOf(data)
		isNew, perr := s.store.Put(data, d)
		if perr != nil {
			err = fmt.Errorf("sample not stored: %w", perr)
			s.log.Warn("sample not stored", "service", j.of.service, "session", j.of.session,
				"src", j.of.src.String(), "err", perr)
		} else {
			s.emitFor(j.of, &event.Sample{SHA256: d.SHA256, MD5: d.MD5, SHA1: d.SHA1, Size: int64(len(data)),
				Source: "download." + j.t.proto, Name: fileName(j.t), New: isNew})
			f.Status, f.Size, f.SHA256 = event.FetchOK, int64(len(data)), d.SHA256
			s.ok.Add(1)
		}
	}
	if err != nil {
		if reason, ok := refusedReason(err); ok {
			f.Status, f.Reason = event.FetchRefused, reason
			s.refused.Add(1)
		} else {
			f.Status, f.Reason = event.FetchFailed, failure(err, s.cfg.MaxSize)
			s.failed.Add(1)
		}
	}
	s.emitFor(j.of, f)
}

// failure words the reason a fetch failed.
func failure(err error, limit config.ByteSize) string {
	switch {
	case errors.Is(err, errTooLarge):
		return "too large: over max_size " + limit.String()
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, errTooManyRedirects):
		return "too many redirects"
	}
	return printable(strings.TrimPrefix(err.Error(), "download: "), 200)
}

func (s *Sink) emitFor(of envelope, d event.Detail) {
	now := s.now()
	s.emit(&event.Event{ID: event.NewID(now), Time: now, Sensor: of.sensor, Session: of.session,
		Service: of.service, Transport: of.transport, Src: of.src, Dst: of.dst, Kind: d.Kind(), Detail: d})
}

// fileName is the last element of the target's path, as data only.
func fileName(t target) string {
	p := t.path
	if t.proto == "http" || t.proto == "https" {
		p = t.u.Path
	}
	name := path.Base(strings.ReplaceAll(p, `\`, "/"))
	if name == "." || name == "/" {
		return ""
	}
	return printable(name, 255)
}

// Stats returns the counters.
func (s *Sink) Stats() Stats {
	return Stats{Queued: s.queued.Load(), Dropped: s.dropped.Load(), Repeats: s.repeats.Load(),
		OK: s.ok.Load(), Refused: s.refused.Load(), Failed: s.failed.Load()}
}

// Close implements pipeline.Sink: fetches under way are abandoned and
// queued ones dropped; it returns once every worker has stopped.
func (s *Sink) Close() error {
	s.once.Do(func() {
		s.cancel()
		s.wg.Wait()
		s.http.CloseIdleConnections()
	})
	return nil
}
