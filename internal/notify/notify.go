// Package notify sends Smallpot's alerts to people and their tools: a
// webhook (a JSON POST), e-mail through the user's SMTP server, and
// syslog (RFC 5424 over UDP or TCP).
//
// The Sink is a pipeline sink. It picks `alert` events (and, when asked,
// `detection` events of a high enough severity), reading their detail
// from the event's JSON, leniently: any fields it does not know are
// ignored, any it lacks are left empty.
//
// Policy: nothing here ever blocks the pipeline or the start-up. New
// dials nothing; each notifier has its own goroutine and a bounded queue,
// and an alert that finds the queue full is dropped and counted (the next
// digest says how many). Alerts are rate-limited per notifier and per
// alert kind (a token bucket: by default one per minute per kind); those
// held back are counted, and a digest per interval sums them up ("CodeRed
// II: 1,234 more in the last 10 min"), so an outbreak sends one message
// with counts, not ten thousand. An unreachable notifier only loses its
// own messages, after its bounded retries.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
)

// kindAlert is the kind of the events the novelty stage raises (a new
// sample, a new variant, a new probe shape); matched by name, so this
// package reads alerts of any detail shape.
const kindAlert event.Kind = "alert"

// Config is the notify section of the configuration.
type Config struct {
	// MinSeverity drops alerts below it ("" sends all): info, low,
	// medium, high, critical.
	MinSeverity string `yaml:"min_severity"`
	// Detections also sends detection events of DetectionSeverity or
	// above (the classifier's labels: families, exploits).
	Detections        bool   `yaml:"detections"`
	DetectionSeverity string `yaml:"detection_severity"`
	// Rate limits each notifier per alert kind.
	Rate Rate `yaml:"rate"`
	// DigestEvery is how often the alerts held back are summed up.
	DigestEvery time.Duration `yaml:"digest_every"`
	// Queue bounds the messages waiting per notifier.
	Queue int `yaml:"queue"`

	Webhooks []Webhook `yaml:"webhooks"`
	Email    []Email   `yaml:"email"`
	Syslog   []Syslog  `yaml:"syslog"`
}

// Rate is a token bucket per alert kind: Burst alerts at once, then one
// per Every.
type Rate struct {
	Every time.Duration `yaml:"every"`
	Burst int           `yaml:"burst"`
}

// Defaults returns the configuration an empty section means: no
// notifiers.
func Defaults() Config {
	return Config{
		DetectionSeverity: "high",
		Rate:              Rate{Every: time.Minute, Burst: 1},
		DigestEvery:       10 * time.Minute,
		Queue:             256,
	}
}

// HasNotifiers reports whether any notifier is configured.
func (c *Config) HasNotifiers() bool {
	return len(c.Webhooks)+len(c.Email)+len(c.Syslog) > 0
}

// Validate checks values that decode but make no sense.
func (c *Config) Validate() error {
	var errs []error
	if c.MinSeverity != "" && severityRank(c.MinSeverity) < 0 {
		errs = append(errs, fmt.Errorf("min_severity %q: want info, low, medium, high or critical", c.MinSeverity))
	}
	if severityRank(c.DetectionSeverity) < 0 {
		errs = append(errs, fmt.Errorf("detection_severity %q: want info, low, medium, high or critical", c.DetectionSeverity))
	}
	if c.Rate.Every <= 0 || c.Rate.Burst < 1 {
		errs = append(errs, errors.New("rate: every must be positive and burst at least 1"))
	}
	if c.DigestEvery <= 0 {
		errs = append(errs, errors.New("digest_every must be positive"))
	}
	if c.Queue < 1 {
		errs = append(errs, errors.New("queue must be at least 1"))
	}
	for i := range c.Webhooks {
		if err := c.Webhooks[i].validate(); err != nil {
			errs = append(errs, fmt.Errorf("webhooks[%d]: %w", i, err))
		}
	}
	for i := range c.Email {
		if err := c.Email[i].validate(); err != nil {
			errs = append(errs, fmt.Errorf("email[%d]: %w", i, err))
		}
	}
	for i := range c.Syslog {
		if err := c.Syslog[i].validate(); err != nil {
			errs = append(errs, fmt.Errorf("syslog[%d]: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// Alert is what a notifier sends: the fields of an alert or detection
// event that people read. Its JSON is the webhook's payload.
type Alert struct {
	Time     time.Time `json:"time"`
	Sensor   string    `json:"sensor"`
	Kind     string    `json:"kind"` // new_sample, new_variant, new_probe, ...; detection
	Severity string    `json:"severity,omitempty"`
	Title    string    `json:"title"`
	Summary  string    `json:"summary,omitempty"`
	Family   string    `json:"family,omitempty"`
	Rule     string    `json:"rule,omitempty"`
	Sample   string    `json:"sample,omitempty"`
	Service  string    `json:"service,omitempty"`
	Session  string    `json:"session,omitempty"`
	Src      string    `json:"src,omitempty"`
	Event    string    `json:"event"` // the id of the event

	key string // what the rate limit counts by
}

// Digest sums up the alerts one notifier held back.
type Digest struct {
	Time  time.Time    `json:"time"`
	Items []DigestItem `json:"items"`
	// Dropped counts alerts lost because the notifier fell behind.
	Dropped uint64 `json:"dropped,omitempty"`
}

// DigestItem is one alert kind's count.
type DigestItem struct {
	Kind     string    `json:"kind"`
	Title    string    `json:"title"` // the last one held back
	Severity string    `json:"severity,omitempty"`
	Sensor   string    `json:"sensor,omitempty"`
	Count    int       `json:"count"`
	Since    time.Time `json:"since"` // when the first was held back
}

// Text says the item in a line: "CodeRed II: 1,234 more in the last 10 min".
func (it DigestItem) Text(now time.Time) string {
	name := it.Title
	if name == "" {
		name = it.Kind
	}
	return fmt.Sprintf("%s: %s more in the last %s", name, thousands(it.Count), ago(now.Sub(it.Since)))
}

// Lines is the digest in lines of text, the most frequent first.
func (d Digest) Lines() []string {
	out := make([]string, 0, len(d.Items)+1)
	for _, it := range d.Items {
		out = append(out, it.Text(d.Time))
	}
	if d.Dropped > 0 {
		out = append(out, fmt.Sprintf("%s alerts lost: this notifier fell behind", thousands(int(d.Dropped))))
	}
	return out
}

// notifier delivers messages to one destination. Its methods are called
// from its worker's goroutine only.
type notifier interface {
	alerts(ctx context.Context, batch []Alert) error
	digest(ctx context.Context, d Digest) error
	close() error
}

// NotifierStats counts what happened at one notifier.
type NotifierStats struct {
	Name       string `json:"name"`
	Sent       uint64 `json:"sent"`       // alerts delivered
	Failed     uint64 `json:"failed"`     // alerts not delivered after the retries
	Dropped    uint64 `json:"dropped"`    // alerts lost because the queue was full
	Suppressed uint64 `json:"suppressed"` // alerts held back by the rate limit (counted in digests)
	Digests    uint64 `json:"digests"`    // digests delivered
}

// Sink is the notifier fan-out, a pipeline.Sink.
type Sink struct {
	cfg     Config
	workers []*worker
	log     *slog.Logger
	stop    chan struct{}
	hard    context.Context // cancelled when Close's grace is over
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
	now     func() time.Time
	grace   time.Duration
	minRank int
	detRank int
}

var _ pipeline.Sink = (*Sink)(nil)

// closeGrace is how long Close lets notifiers deliver what is queued
// and a last digest.
const closeGrace = 3 * time.Second

// New builds the notifiers and starts their goroutines. It connects to
// nothing: each notifier connects when it has something to send.
func New(cfg Config, log *slog.Logger) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Sink{cfg: cfg, log: log.With("sink", "notify"), stop: make(chan struct{}), now: time.Now,
		grace: closeGrace, minRank: max(severityRank(cfg.MinSeverity), 0), detRank: severityRank(cfg.DetectionSeverity)}
	s.hard, s.cancel = context.WithCancel(context.Background())
	for _, w := range cfg.Webhooks {
		s.add("webhook "+w.host(), newWebhook(w))
	}
	for _, e := range cfg.Email {
		s.add("email "+e.Server, newMailer(e))
	}
	for _, l := range cfg.Syslog {
		s.add("syslog "+l.network()+" "+l.Address, newSyslog(l))
	}
	for _, w := range s.workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			w.run(s.hard, s.stop)
		}()
	}
	return s, nil
}

func (s *Sink) add(name string, n notifier) {
	s.workers = append(s.workers, &worker{
		name: name, n: n, q: make(chan Alert, s.cfg.Queue),
		lim:   newLimiter(s.cfg.Rate.Every, s.cfg.Rate.Burst),
		every: s.cfg.DigestEvery, now: func() time.Time { return s.now() },
		log: s.log.With("notifier", name),
	})
}

// Name implements pipeline.Sink.
func (s *Sink) Name() string { return "notify" }

// Write implements pipeline.Sink. It never waits on a notifier.
func (s *Sink) Write(_ context.Context, batch []pipeline.Record) error {
	for _, r := range batch {
		if r.Event == nil {
			continue
		}
		a, ok := s.pick(r)
		if !ok {
			continue
		}
		now := s.now()
		for _, w := range s.workers {
			w.offer(a, now)
		}
	}
	return nil
}

// pick reads the alert in r, if it is one to send.
func (s *Sink) pick(r pipeline.Record) (Alert, bool) {
	switch r.Event.Kind {
	case kindAlert:
		a := alertOf(r)
		return a, s.cfg.MinSeverity == "" || rank(a.Severity) >= s.minRank
	case event.KindDetection:
		if !s.cfg.Detections {
			return Alert{}, false
		}
		a := alertOf(r)
		return a, rank(a.Severity) >= max(s.detRank, s.minRank)
	}
	return Alert{}, false
}

// rank orders an event's severity; one not given or not known counts as
// medium.
func rank(sev string) int {
	if r := severityRank(sev); r >= 0 {
		return r
	}
	return 2
}

// Stats returns the counters of every notifier.
func (s *Sink) Stats() []NotifierStats {
	out := make([]NotifierStats, 0, len(s.workers))
	for _, w := range s.workers {
		out = append(out, NotifierStats{Name: w.name, Sent: w.sent.Load(), Failed: w.failed.Load(),
			Dropped: w.dropped.Load(), Suppressed: w.suppressed.Load(), Digests: w.digests.Load()})
	}
	return out
}

// Close implements pipeline.Sink: notifiers get a short grace to deliver
// what is queued and a last digest, then whatever they are doing is
// abandoned.
func (s *Sink) Close() error {
	s.once.Do(func() {
		close(s.stop)
		done := make(chan struct{})
		go func() {
			s.wg.Wait()
			close(done)
		}()
		t := time.NewTimer(s.grace)
		select {
		case <-done:
		case <-t.C:
			s.cancel()
			<-done
		}
		t.Stop()
		s.cancel()
		for _, w := range s.workers {
			_ = w.n.close()
		}
	})
	return nil
}

// worker runs one notifier.
type worker struct {
	name  string
	n     notifier
	q     chan Alert
	lim   *limiter
	every time.Duration
	now   func() time.Time
	log   *slog.Logger

	sent, failed, dropped, suppressed, digests atomic.Uint64
	behind                                     atomic.Uint64 // dropped since the last digest
	lastLog                                    time.Time
}

// offer queues a without waiting: the rate limit may hold it back, a full
// queue drops it.
func (w *worker) offer(a Alert, now time.Time) {
	if !w.lim.allow(a, now) {
		w.suppressed.Add(1)
		return
	}
	select {
	case w.q <- a:
	default:
		w.dropped.Add(1)
		w.behind.Add(1)
	}
}

// maxBatch bounds the alerts sent together (one mail).
const maxBatch = 50

func (w *worker) run(ctx context.Context, stop <-chan struct{}) {
	tick := time.NewTicker(w.every)
	defer tick.Stop()
	for {
		select {
		case a := <-w.q:
			w.deliver(ctx, a)
		case <-tick.C:
			w.digest(ctx)
		case <-stop:
			for {
				select {
				case a := <-w.q:
					if ctx.Err() == nil {
						w.deliver(ctx, a)
					}
					continue
				default:
				}
				break
			}
			if ctx.Err() == nil {
				w.digest(ctx)
			}
			return
		}
	}
}

// deliver sends a with whatever else is queued.
func (w *worker) deliver(ctx context.Context, a Alert) {
	batch := []Alert{a}
	for len(batch) < maxBatch {
		select {
		case b := <-w.q:
			batch = append(batch, b)
			continue
		default:
		}
		break
	}
	if err := w.n.alerts(ctx, batch); err != nil {
		w.failed.Add(uint64(len(batch)))
		w.warn("alert not delivered", err)
		return
	}
	w.sent.Add(uint64(len(batch)))
}

func (w *worker) digest(ctx context.Context) {
	now := w.now()
	d := Digest{Time: now, Items: w.lim.take(now), Dropped: w.behind.Swap(0)}
	if len(d.Items) == 0 && d.Dropped == 0 {
		return
	}
	if err := w.n.digest(ctx, d); err != nil {
		w.warn("digest not delivered", err)
		return
	}
	w.digests.Add(1)
}

// warn logs a failure, at most once a minute per notifier.
func (w *worker) warn(msg string, err error) {
	if now := time.Now(); now.Sub(w.lastLog) >= time.Minute {
		w.lastLog = now
		w.log.Warn(msg, "err", err, "failed_total", w.failed.Load())
	}
}

// alertOf reads the alert fields of an alert or detection record. The
// detail is read from the record's JSON, field by field, so a detail of
// any shape (and one this build has no struct for) gives what it has.
func alertOf(r pipeline.Record) Alert {
	e := r.Event
	a := Alert{Time: e.Time, Sensor: clean(e.Sensor, 128), Service: clean(e.Service, 64),
		Session: clean(e.Session, 64), Event: clean(e.ID, 64)}
	if e.Src.IsValid() {
		a.Src = e.Src.String()
	}
	d := detailOf(r)
	a.Severity = strings.ToLower(d.str(32, "severity", "level"))
	a.Family = d.str(128, "family")
	a.Rule = d.str(128, "rule")
	a.Sample = d.str(128, "sample", "sha256")
	a.Summary = d.str(1000, "summary", "message", "description", "reason")
	if e.Kind == event.KindDetection {
		a.Kind = "detection"
		a.Title = d.str(200, "title", "variant", "family", "rule")
		if a.Summary == "" {
			a.Summary = strings.TrimSpace(d.str(300, "exploit") + " " + d.str(100, "bulletin"))
		}
		a.key = "detection/" + firstOf(a.Rule, a.Family, a.Title)
	} else {
		a.Kind = d.str(64, "type", "kind", "novelty")
		a.Title = d.str(200, "title", "name", "family")
		a.key = firstOf(a.Kind, a.Title, "alert")
		if a.Family != "" {
			a.key += "/" + a.Family
		}
		if a.Summary == "" {
			a.Summary = alertSummary(d)
		}
	}
	if a.Title == "" {
		a.Title = firstOf(a.Kind, string(e.Kind))
	}
	return a
}

// alertSummary sums up the novelty stage's fields of an alert that has
// no summary: "variant CodeRed.C, 3,569 bytes from http.request".
func alertSummary(d detail) string {
	var parts []string
	if v := d.str(100, "variant"); v != "" {
		parts = append(parts, "variant "+v)
	}
	size, src := d.str(20, "size"), d.str(64, "source")
	switch {
	case size != "" && src != "":
		parts = append(parts, size+" bytes from "+src)
	case src != "":
		parts = append(parts, "from "+src)
	}
	if sh := d.str(300, "shape"); sh != "" {
		parts = append(parts, "shape "+sh)
	}
	return strings.Join(parts, ", ")
}

type detail map[string]json.RawMessage

func detailOf(r pipeline.Record) detail {
	var w struct {
		Detail detail `json:"detail"`
	}
	if len(r.JSON) > 0 && json.Unmarshal(r.JSON, &w) == nil && w.Detail != nil {
		return w.Detail
	}
	if r.Event.Detail == nil {
		return nil
	}
	b, err := json.Marshal(r.Event.Detail)
	if err != nil {
		return nil
	}
	var d detail
	_ = json.Unmarshal(b, &d)
	return d
}

// str returns the first of keys that holds a string (a number is written
// out), cleaned and bounded to n bytes.
func (d detail) str(n int, keys ...string) string {
	for _, k := range keys {
		raw, ok := d[k]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil && s != "" {
			return clean(s, n)
		}
		var f json.Number
		if json.Unmarshal(raw, &f) == nil {
			return f.String()
		}
	}
	return ""
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// clean makes attacker-influenced text safe to put in a message: control
// characters become spaces, invalid UTF-8 is replaced, and it is cut to n
// bytes on a character boundary.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for _, r := range s {
		if b.Len()+utf8.RuneLen(r) > n {
			break
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			r = ' '
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

var severities = []string{"info", "low", "medium", "high", "critical"}

// severityRank orders severities; -1 for one not known.
func severityRank(s string) int {
	for i, v := range severities {
		if s == v {
			return i
		}
	}
	return -1
}

// thousands writes n with thousands separators: 1,234.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// ago writes a span the way people say it: 45 s, 10 min, 3 h.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", max(int(d.Round(time.Second)/time.Second), 1))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	default:
		return fmt.Sprintf("%d h", int(d.Round(time.Hour)/time.Hour))
	}
}
