// Package novelty notices what is new — Smallpot's "early/urgent
// samples" — and says so with an alert event at once:
//
//   - new_hash (severity medium): a sample never seen before;
//   - new_variant (high): a new sample whose fuzzy hash is close to that
//     of a sample of a known family (ssdeep score at least ssdeep_min, or
//     TLSH distance at most tlsh_max) without being equal to any: "new
//     variant of CodeRed II", with its nearest relatives and how near;
//   - new_shape (low): a probe whose normalized form (shape.go) was never
//     seen on this sensor, announced once per shape.
//
// The analyzer is a pipeline sink named "novelty", in the sink's own
// goroutine: never inside a protocol handler, never on the pipeline's
// dispatcher. For each batch it first takes the families that detection
// events give to samples (reading their JSON, so that it depends only on
// the documented fields family, variant and sample), then the shapes of
// the probes, then the samples: it reads each new sample's bytes (up to
// max_sample), computes its ssdeep hash and TLSH digest, looks for its
// relatives in the index (index.go: an inverted index, not a scan) and
// adds it. Alerts go back through the emit function given to New (the
// pipeline's Emit, which never blocks) with the envelope of the event they
// are about; the analyzer never looks at alert events. The pipeline
// flushes batches every 200 ms, so an alert is stored well within a second
// of the capture.
//
// Families come from detection events and from seeds: fuzzy hashes of
// reference samples of known families, built in (seeds.tsv) or given in
// seed files, so that a fresh sensor knows CodeRed II when a variant
// arrives. Each sample's fuzzy hashes, family, verdict and nearest
// relative, and each shape seen, are written to the store and loaded from
// it at start. Alerts are rate-limited per type (alerts_per_minute); an
// alert left out is counted, and what it would have said is stored all
// the same.
package novelty

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/fuzzy/ssdeep"
	"github.com/smallpot/smallpot/internal/fuzzy/tlsh"
	"github.com/smallpot/smallpot/internal/pipeline"
	"github.com/smallpot/smallpot/internal/store"
)

// Config is the novelty section of Smallpot's configuration. Zero values
// take the defaults.
type Config struct {
	// SSDeepMin is the ssdeep score (1 to 100) from which two samples are
	// related. Default 60; -1 leaves ssdeep out.
	SSDeepMin int `yaml:"ssdeep_min"`
	// TLSHMax is the TLSH distance up to which two samples are related.
	// Default 30 (small requests that merely look alike, such as two HTTP
	// requests of one scanner, are often within 40 to 60 of each other);
	// -1 leaves TLSH out. The index's work grows quickly past 47 (see
	// index.go).
	TLSHMax int `yaml:"tlsh_max"`
	// MaxSample bounds the bytes of a sample that are read and hashed; a
	// larger one is still announced when new, without fuzzy hashes.
	// Default 4 MiB.
	MaxSample config.ByteSize `yaml:"max_sample"`
	// Relatives is how many relatives an alert lists. Default 5.
	Relatives int `yaml:"relatives"`
	// Shapes bounds the probe shapes remembered (and loaded at start); a
	// shape not seen among the last Shapes distinct ones may be announced
	// again. Default 100000.
	Shapes int `yaml:"shapes"`
	// MaxPostings bounds each list of the index: a hash fragment shared by
	// more samples stops taking new ones. Default 1024.
	MaxPostings int `yaml:"max_postings"`
	// MaxCandidates bounds the samples one search compares. Default 4096.
	MaxCandidates int `yaml:"max_candidates"`
	// AlertsPerMinute bounds the alerts of each type. Default 600.
	AlertsPerMinute int `yaml:"alerts_per_minute"`
	// Seeds are seed files (see Seed) added to the built-in ones.
	Seeds []string `yaml:"seeds"`
	// NoBuiltinSeeds leaves the built-in seeds out.
	NoBuiltinSeeds bool `yaml:"no_builtin_seeds"`
}

func (c *Config) fill() {
	if c.SSDeepMin == 0 {
		c.SSDeepMin = 60
	}
	if c.TLSHMax == 0 {
		c.TLSHMax = 30
	}
	if c.MaxSample <= 0 {
		c.MaxSample = 4 << 20
	}
	if c.Relatives <= 0 {
		c.Relatives = 5
	}
	if c.Shapes <= 0 {
		c.Shapes = 100000
	}
	if c.MaxPostings <= 0 {
		c.MaxPostings = 1024
	}
	if c.MaxCandidates <= 0 {
		c.MaxCandidates = 4096
	}
	if c.AlertsPerMinute <= 0 {
		c.AlertsPerMinute = 600
	}
}

// Validate checks the configuration (zero values stand for defaults).
func (c Config) Validate() error {
	if c.SSDeepMin < -1 || c.SSDeepMin > 100 {
		return fmt.Errorf("novelty: ssdeep_min %d: want 1 to 100, or -1 to leave ssdeep out", c.SSDeepMin)
	}
	if c.TLSHMax < -1 || c.TLSHMax > 100 {
		return fmt.Errorf("novelty: tlsh_max %d: want 1 to 100, or -1 to leave TLSH out", c.TLSHMax)
	}
	if c.SSDeepMin < 0 && c.TLSHMax < 0 {
		return errors.New("novelty: ssdeep_min and tlsh_max are both -1: no sample could be a variant")
	}
	if c.Relatives > 100 {
		return fmt.Errorf("novelty: relatives %d: at most 100", c.Relatives)
	}
	return nil
}

// Samples reads stored samples by SHA-256; *samples.Store is one.
type Samples interface {
	Read(sha256 string) ([]byte, error)
}

// Store keeps what the analyzer learns; *sqlite.DB is one.
type Store interface {
	EachSampleFuzzy(ctx context.Context, fn func(store.SampleFuzzy) error) error
	ProbeShapes(ctx context.Context, limit int) ([]store.ProbeShape, error)
	SaveNovelty(ctx context.Context, samples []store.SampleFuzzy, shapes []store.ProbeShape) error
}

// Severities of the alerts.
const (
	SeverityShape   = "low"
	SeverityHash    = "medium"
	SeverityVariant = "high"
)

// Stats counts what the analyzer did.
type Stats struct {
	Samples      uint64 `json:"samples"`       // sample events seen
	Hashed       uint64 `json:"hashed"`        // samples fuzzy-hashed
	SampleErrors uint64 `json:"sample_errors"` // samples that could not be read
	TooBig       uint64 `json:"too_big"`       // samples over max_sample, not hashed
	NewHashes    uint64 `json:"new_hashes"`
	NewVariants  uint64 `json:"new_variants"`
	NewShapes    uint64 `json:"new_shapes"`
	Alerts       uint64 `json:"alerts"`     // alert events emitted
	Suppressed   uint64 `json:"suppressed"` // alerts left out by the rate limit
	Labels       uint64 `json:"labels"`     // samples given a family by a detection
	StoreErrors  uint64 `json:"store_errors"`
	Indexed      uint64 `json:"indexed"` // samples in the index, seeds included
	// Truncated counts TLSH searches cut short by max_candidates (samples
	// so alike that the search could not stay exact within its budget).
	Truncated uint64 `json:"truncated"`
}

// Analyzer is the novelty stage, a pipeline.Sink.
type Analyzer struct {
	cfg     Config
	samples Samples
	st      Store
	emit    func(*event.Event)
	log     *slog.Logger
	now     func() time.Time

	ix       *index
	shapes   shapeSet
	shapeBuf []byte    // where shape works out each event's shape
	last     lastShape // the key of the last shape worked out
	limits   map[string]*limiter

	pendSamples  []store.SampleFuzzy
	pendShapes   []store.ProbeShape
	lastLimitLog time.Time

	samplesSeen, hashed, sampleErrs, tooBig, newHashes, newVariants, newShapes,
	alerts, suppressed, labels, storeErrs, indexed, truncated atomic.Uint64
}

var _ pipeline.Sink = (*Analyzer)(nil)

// New loads the seeds and, from st, the fuzzy hashes and shapes already
// known, and returns the analyzer. samples may be nil (no sample is then
// hashed), and so may st (nothing is then kept across restarts). emit
// receives every alert; it must not block (pipeline.Emit).
func New(ctx context.Context, cfg Config, samples Samples, st Store, emit func(*event.Event), log *slog.Logger) (*Analyzer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.fill()
	if emit == nil {
		return nil, errors.New("novelty: no emit function")
	}
	if log == nil {
		log = slog.Default()
	}
	a := &Analyzer{
		cfg: cfg, samples: samples, st: st, emit: emit, log: log, now: time.Now,
		ix:     newIndex(Thresholds{SSDeep: cfg.SSDeepMin, TLSH: cfg.TLSHMax}, cfg.MaxPostings, cfg.MaxCandidates),
		shapes: newShapeSet(cfg.Shapes),
		limits: map[string]*limiter{},
	}
	for _, t := range []string{event.AlertNewHash, event.AlertNewVariant, event.AlertNewShape} {
		a.limits[t] = newLimiter(cfg.AlertsPerMinute)
	}
	seeds, err := loadSeeds(cfg.Seeds, !cfg.NoBuiltinSeeds)
	if err != nil {
		return nil, err
	}
	for _, s := range seeds {
		a.addSeed(s)
	}
	if st != nil {
		if err := a.load(ctx); err != nil {
			return nil, err
		}
	}
	a.ix.finishBulk()
	a.indexed.Store(uint64(len(a.ix.entries)))
	log.Info("novelty index loaded", "seeds", len(seeds), "samples", len(a.ix.entries), "shapes", a.shapes.len(),
		"index_bytes", a.ix.size())
	return a, nil
}

func (a *Analyzer) addSeed(s Seed) {
	sha, _ := parseSHA(s.SHA256) // checked by ParseSeeds
	id, e := a.ix.ensure(sha)
	a.ix.setLabel(sha, label{family: s.Family, variant: s.Variant})
	if e.hashed {
		return
	}
	e.seed = true
	ss, ssErr := ssdeep.Parse(s.SSDeep)
	tl, tlErr := tlsh.Parse(s.TLSH)
	a.ix.setHashes(id, ss, s.SSDeep != "" && ssErr == nil, tl, s.TLSH != "" && tlErr == nil, true)
}

// load fills the index and the shape set from the store.
func (a *Analyzer) load(ctx context.Context) error {
	err := a.st.EachSampleFuzzy(ctx, func(r store.SampleFuzzy) error {
		sha, ok := parseSHA(r.SHA256)
		if !ok {
			return nil
		}
		id, e := a.ix.ensure(sha)
		e.stored = true
		a.ix.setLabel(sha, label{family: r.Family, variant: r.Variant})
		if r.Novelty == "" || e.hashed {
			return nil
		}
		ss, ssErr := ssdeep.Parse(r.SSDeep)
		tl, tlErr := tlsh.Parse(r.TLSH)
		a.ix.setHashes(id, ss, r.SSDeep != "" && ssErr == nil, tl, r.TLSH != "" && tlErr == nil, true)
		return nil
	})
	if err != nil {
		return fmt.Errorf("novelty: load: %w", err)
	}
	shapes, err := a.st.ProbeShapes(ctx, a.cfg.Shapes)
	if err != nil {
		return fmt.Errorf("novelty: load: %w", err)
	}
	for i := len(shapes) - 1; i >= 0; i-- {
		if k, err := strconv.ParseUint(shapes[i].Key, 16, 64); err == nil {
			a.shapes.add(k)
		}
	}
	return nil
}

// Name implements pipeline.Sink.
func (a *Analyzer) Name() string { return "novelty" }

// Close implements pipeline.Sink; everything was written by Write.
func (a *Analyzer) Close() error { return nil }

// Stats returns the counters; safe to call from any goroutine.
func (a *Analyzer) Stats() Stats {
	return Stats{
		Samples: a.samplesSeen.Load(), Hashed: a.hashed.Load(), SampleErrors: a.sampleErrs.Load(),
		TooBig: a.tooBig.Load(), NewHashes: a.newHashes.Load(), NewVariants: a.newVariants.Load(),
		NewShapes: a.newShapes.Load(), Alerts: a.alerts.Load(), Suppressed: a.suppressed.Load(),
		Labels: a.labels.Load(), StoreErrors: a.storeErrs.Load(), Indexed: a.indexed.Load(),
		Truncated: a.truncated.Load(),
	}
}

// Write implements pipeline.Sink: labels first, then shapes (cheap, so
// their alerts are not held up by hashing), then samples.
func (a *Analyzer) Write(ctx context.Context, batch []pipeline.Record) error {
	for i := range batch {
		if e := batch[i].Event; e != nil && e.Kind == event.KindDetection {
			a.label(batch[i].JSON)
		}
	}
	for i := range batch {
		if e := batch[i].Event; e != nil && e.Kind != event.KindAlert && e.Kind != event.KindDetection {
			a.shape(e)
		}
	}
	for i := range batch {
		e := batch[i].Event
		if e == nil || e.Kind != event.KindSample {
			continue
		}
		if d, ok := e.Detail.(*event.Sample); ok {
			a.sample(e, d)
		}
		if i%16 == 15 && ctx.Err() != nil {
			break
		}
	}
	a.indexed.Store(uint64(len(a.ix.entries)))
	a.truncated.Store(a.ix.truncated)
	return a.flush(ctx)
}

// flush writes what this batch taught to the store.
func (a *Analyzer) flush(ctx context.Context) error {
	if a.st == nil || len(a.pendSamples)+len(a.pendShapes) == 0 {
		a.pendSamples, a.pendShapes = a.pendSamples[:0], a.pendShapes[:0]
		return nil
	}
	err := a.st.SaveNovelty(ctx, a.pendSamples, a.pendShapes)
	a.pendSamples, a.pendShapes = a.pendSamples[:0], a.pendShapes[:0]
	if err != nil {
		a.storeErrs.Add(1)
		return fmt.Errorf("novelty: %w", err)
	}
	return nil
}

// label takes the family a detection event gives a sample. Only the
// documented JSON fields are read: detail.family, detail.variant and
// detail.sample (or detail.sha256).
func (a *Analyzer) label(js []byte) {
	var w struct {
		Detail struct {
			Family  any `json:"family"`
			Variant any `json:"variant"`
			Sample  any `json:"sample"`
			SHA256  any `json:"sha256"`
		} `json:"detail"`
	}
	if json.Unmarshal(js, &w) != nil {
		return
	}
	str := func(v any) string { s, _ := v.(string); return s }
	fam, variant := str(w.Detail.Family), str(w.Detail.Variant)
	shaText := str(w.Detail.Sample)
	if shaText == "" {
		shaText = str(w.Detail.SHA256)
	}
	sha, ok := parseSHA(shaText)
	if fam == "" || !ok {
		return
	}
	if !a.ix.setLabel(sha, label{family: fam, variant: variant}) {
		return
	}
	a.labels.Add(1)
	e, _ := a.ix.lookup(sha)
	l := a.ix.labels[e.label]
	a.pendSamples = append(a.pendSamples, store.SampleFuzzy{SHA256: shaText, Family: l.family, Variant: l.variant,
		Time: a.now().UTC()})
	e.stored = true
}

// shape announces a probe of a shape never seen on its sensor. The shape
// is worked out in a buffer kept from one event to the next and becomes a
// string only when new.
func (a *Analyzer) shape(e *event.Event) {
	a.shapeBuf = appendShape(a.shapeBuf[:0], e)
	if len(a.shapeBuf) == 0 {
		return
	}
	k := a.last.key(e, a.shapeBuf)
	if a.shapes.seen(k) {
		return
	}
	s := string(a.shapeBuf)
	a.shapes.add(k)
	a.newShapes.Add(1)
	now := a.now().UTC()
	var kb [8]byte
	binary.BigEndian.PutUint64(kb[:], k)
	a.pendShapes = append(a.pendShapes, store.ProbeShape{Key: hex.EncodeToString(kb[:]), Sensor: e.Sensor,
		Service: e.Service, Kind: string(e.Kind), Shape: s, FirstSeen: now, LastSeen: now, EventID: e.ID})
	a.raise(e, &event.Alert{Type: event.AlertNewShape, Severity: SeverityShape,
		Title: "new " + string(e.Kind) + " shape on " + e.Service, Shape: s})
}

// lastShape keeps the key of the last shape worked out. A flood of one
// probe gives the same shape over and over, and hashing a shape a byte at
// a time costs about as much as working it out: comparing it with the
// last one costs next to nothing.
type lastShape struct {
	sensor, service string
	kind            event.Kind
	shape           []byte
	k               uint64
}

// key returns shapeKey(e, shape), from memory when it is the last one's.
func (l *lastShape) key(e *event.Event, shape []byte) uint64 {
	if bytes.Equal(shape, l.shape) && e.Sensor == l.sensor && e.Service == l.service && e.Kind == l.kind {
		return l.k
	}
	l.sensor, l.service, l.kind = e.Sensor, e.Service, e.Kind
	l.shape = append(l.shape[:0], shape...)
	l.k = shapeKey(e, shape)
	return l.k
}

// FNV-64a, as hash/fnv computes it.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// shapeKey returns the key a shape is remembered and stored by: the
// FNV-64a hash of the sensor, service, kind and shape, each followed by a
// NUL byte.
func shapeKey(e *event.Event, shape []byte) uint64 {
	h := fnvAppend(fnvOffset, e.Sensor)
	h = fnvAppend(h, e.Service)
	h = fnvAppend(h, e.Kind)
	return fnvAppend(h, shape)
}

// fnvAppend continues the FNV-64a hash h with s and a NUL byte.
func fnvAppend[S ~string | ~[]byte](h uint64, s S) uint64 {
	for i := range len(s) {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h * fnvPrime // ^ 0, the NUL
}

// sample decides what a sample event brings: nothing new, a new hash or
// a new variant.
func (a *Analyzer) sample(e *event.Event, d *event.Sample) {
	a.samplesSeen.Add(1)
	sha, ok := parseSHA(d.SHA256)
	if !ok {
		return
	}
	if ent, ok := a.ix.lookup(sha); ok && ent.hashed {
		if !ent.stored {
			// A seed captured for the first time: keep what it is.
			a.pendSamples = append(a.pendSamples, a.row(ent, store.NoveltyKnown, nil))
			ent.stored = true
		}
		return
	}
	var q query
	var ssText, tlText string
	switch {
	case d.Size > int64(a.cfg.MaxSample):
		a.tooBig.Add(1)
	case a.samples == nil:
	default:
		data, err := a.samples.Read(d.SHA256)
		if err != nil {
			a.sampleErrs.Add(1)
			a.log.Warn("sample not readable for fuzzy hashing", "service", e.Service, "session", e.Session,
				"src", e.Src.String(), "sample", d.SHA256, "err", err)
			break
		}
		if int64(len(data)) > int64(a.cfg.MaxSample) {
			a.tooBig.Add(1)
			break
		}
		a.hashed.Add(1)
		ssText = ssdeep.Hash(data)
		q.ss, _ = ssdeep.Parse(ssText)
		q.hasSS = true
		if dg, err := tlsh.Sum(data); err == nil {
			q.tl, q.hasTL, tlText = dg, true, dg.String()
		}
	}
	var rels []relative
	if q.hasSS || q.hasTL {
		rels = a.ix.search(&q)
	}
	var near *relative
	for i := range rels {
		if a.ix.entries[rels[i].id].label != 0 {
			near = &rels[i]
			break
		}
	}
	verdict := store.NoveltyKnown
	switch {
	case !d.New:
	case near != nil:
		verdict = store.NoveltyNewVariant
	default:
		verdict = store.NoveltyNewHash
	}
	var list []event.Relative
	if verdict == store.NoveltyNewVariant {
		n := min(len(rels), a.cfg.Relatives)
		for _, r := range rels[:n] {
			list = append(list, a.relative(r))
		}
		if near.id != rels[0].id && a.ix.closer(*near, rels[n-1]) > 0 {
			list = append(list, a.relative(*near))
		}
	}
	var nearest *event.Relative
	if len(rels) > 0 {
		r := a.relative(rels[0])
		nearest = &r
	}
	// Add the sample only now, so that it is not its own relative.
	id, ent := a.ix.ensure(sha)
	a.ix.setHashes(id, q.ss, q.hasSS, q.tl, q.hasTL, false)
	ent.stored = true
	row := a.row(ent, verdict, nearest)
	row.SSDeep, row.TLSH, row.SHA256 = ssText, tlText, d.SHA256
	a.pendSamples = append(a.pendSamples, row)

	al := &event.Alert{Severity: SeverityHash, Sample: d.SHA256, Size: d.Size, Source: d.Source,
		SSDeep: ssText, TLSH: tlText, Relatives: list}
	switch verdict {
	case store.NoveltyKnown:
		return
	case store.NoveltyNewVariant:
		l := a.ix.labels[a.ix.entries[near.id].label]
		al.Type, al.Severity = event.AlertNewVariant, SeverityVariant
		al.Title = "new variant of " + l.name()
		al.Family, al.Variant = l.family, l.variant
		a.newVariants.Add(1)
	default:
		al.Type = event.AlertNewHash
		al.Title = "new sample: " + d.Source + ", " + strconv.FormatInt(d.Size, 10) + " bytes"
		a.newHashes.Add(1)
	}
	a.raise(e, al)
}

// row is the stored form of what is known of an entry.
func (a *Analyzer) row(e *entry, verdict string, nearest *event.Relative) store.SampleFuzzy {
	l := a.ix.labels[e.label]
	r := store.SampleFuzzy{SHA256: hex.EncodeToString(e.sha[:]), Family: l.family, Variant: l.variant,
		Novelty: verdict, Nearest: nearest, Time: a.now().UTC()}
	if e.hasSS {
		r.SSDeep = ssdeepString(&e.ss)
	}
	if e.hasTL {
		r.TLSH = e.tl.String()
	}
	return r
}

// ssdeepString prints a parsed hash; its parts are as Parse left them
// (runs cut to three), which compare the same as the original.
func ssdeepString(p *ssdeep.Parsed) string {
	return strconv.FormatUint(p.BlockSize, 10) + ":" + p.Part1 + ":" + p.Part2
}

func (a *Analyzer) relative(r relative) event.Relative {
	e := &a.ix.entries[r.id]
	l := a.ix.labels[e.label]
	out := event.Relative{SHA256: hex.EncodeToString(e.sha[:]), Family: l.family, Variant: l.variant,
		SSDeep: r.score, Seed: e.seed}
	if r.dist >= 0 {
		d := r.dist
		out.TLSH = &d
	}
	return out
}

// raise emits an alert about e, within the rate limit of its type.
func (a *Analyzer) raise(e *event.Event, al *event.Alert) {
	now := a.now()
	if !a.limits[al.Type].allow(now) {
		if a.suppressed.Add(1) == 1 || now.Sub(a.lastLimitLog) > time.Minute {
			a.log.Warn("novelty alerts over the rate limit: left out", "type", al.Type, "suppressed_total", a.suppressed.Load())
			a.lastLimitLog = now
		}
		return
	}
	al.Of, al.OfKind = e.ID, e.Kind
	a.alerts.Add(1)
	a.emit(&event.Event{ID: event.NewID(now), Time: now, Sensor: e.Sensor, Session: e.Session,
		Service: e.Service, Transport: e.Transport, Src: e.Src, Dst: e.Dst, Kind: event.KindAlert, Detail: al})
}

// shapeSet remembers shape keys, at most max of them: two generations,
// the older dropped when the newer fills up, a key seen again in the
// older moved to the newer.
type shapeSet struct {
	cur, old map[uint64]struct{}
	max      int
}

func newShapeSet(n int) shapeSet {
	return shapeSet{cur: map[uint64]struct{}{}, old: map[uint64]struct{}{}, max: max(n, 2)}
}

func (s *shapeSet) seen(k uint64) bool {
	if _, ok := s.cur[k]; ok {
		return true
	}
	if _, ok := s.old[k]; ok {
		s.add(k)
		return true
	}
	return false
}

func (s *shapeSet) add(k uint64) {
	if len(s.cur) >= s.max/2 {
		s.old, s.cur = s.cur, make(map[uint64]struct{}, s.max/2)
	}
	s.cur[k] = struct{}{}
}

func (s *shapeSet) len() int { return len(s.cur) + len(s.old) }

// limiter is a token bucket: perMin alerts a minute, as many at once.
type limiter struct {
	perMin float64
	tokens float64
	last   time.Time
}

func newLimiter(perMin int) *limiter {
	return &limiter{perMin: float64(perMin), tokens: float64(perMin)}
}

func (l *limiter) allow(now time.Time) bool {
	if !l.last.IsZero() {
		l.tokens = min(l.perMin, l.tokens+now.Sub(l.last).Minutes()*l.perMin)
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
