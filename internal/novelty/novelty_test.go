package novelty

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
	"github.com/smallpot/smallpot/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// memSamples is a sample store in memory.
type memSamples map[string][]byte

func (m memSamples) Read(sha string) ([]byte, error) {
	b, ok := m[sha]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return b, nil
}

// memStore is a Store in memory, merging rows as the SQLite store does.
type memStore struct {
	mu     sync.Mutex
	fuzzy  map[string]store.SampleFuzzy
	shapes map[string]store.ProbeShape
	fail   error
}

func newMemStore() *memStore {
	return &memStore{fuzzy: map[string]store.SampleFuzzy{}, shapes: map[string]store.ProbeShape{}}
}

func (m *memStore) EachSampleFuzzy(_ context.Context, fn func(store.SampleFuzzy) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.fuzzy {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) ProbeShapes(_ context.Context, limit int) ([]store.ProbeShape, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.ProbeShape
	for _, p := range m.shapes {
		out = append(out, p)
	}
	return out, nil
}

func (m *memStore) SaveNovelty(_ context.Context, samples []store.SampleFuzzy, shapes []store.ProbeShape) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	for _, s := range samples {
		old, ok := m.fuzzy[s.SHA256]
		if ok && s.Novelty == "" {
			if old.Family == "" {
				old.Family, old.Variant = s.Family, s.Variant
			}
			s = old
		} else if ok && old.Family != "" {
			s.Family, s.Variant = old.Family, old.Variant
		}
		m.fuzzy[s.SHA256] = s
	}
	for _, p := range shapes {
		if _, ok := m.shapes[p.Key]; !ok {
			m.shapes[p.Key] = p
		}
	}
	return nil
}

// rig is an analyzer with its sample store, database and the alerts it
// emitted.
type rig struct {
	t       *testing.T
	a       *Analyzer
	samples memSamples
	db      *memStore
	mu      sync.Mutex
	alerts  []*event.Event
	clock   time.Time
}

func newRig(t *testing.T, cfg Config, samples memSamples, db *memStore) *rig {
	t.Helper()
	if samples == nil {
		samples = memSamples{}
	}
	if db == nil {
		db = newMemStore()
	}
	r := &rig{t: t, samples: samples, db: db, clock: time.Date(2001, 8, 4, 12, 0, 0, 0, time.UTC)}
	a, err := New(context.Background(), cfg, samples, db, r.emit, quiet)
	if err != nil {
		t.Fatal(err)
	}
	a.now = func() time.Time { return r.clock }
	r.a = a
	return r
}

func (r *rig) emit(e *event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, e)
}

// take returns the alerts emitted since the last call.
func (r *rig) take() []*event.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*event.Alert
	for _, e := range r.alerts {
		out = append(out, e.Detail.(*event.Alert))
	}
	r.alerts = nil
	return out
}

var (
	attacker = netip.MustParseAddrPort("192.0.2.7:4312")
	sensor   = netip.MustParseAddrPort("198.51.100.1:80")
)

func envelope(d event.Detail) *event.Event {
	now := time.Date(2001, 8, 4, 12, 0, 0, 0, time.UTC)
	return &event.Event{ID: event.NewID(now), Time: now, Sensor: "s1", Session: "sess-1", Service: "http",
		Transport: event.TCP, Src: attacker, Dst: sensor, Kind: d.Kind(), Detail: d}
}

// capture keeps data in the sample store, as a service does, and
// returns its sample event.
func (r *rig) capture(data []byte) *event.Event {
	sha := sha256.Sum256(data)
	m, s1 := md5.Sum(data), sha1.Sum(data)
	key := hex.EncodeToString(sha[:])
	_, seen := r.samples[key]
	r.samples[key] = data
	return envelope(&event.Sample{SHA256: key, MD5: hex.EncodeToString(m[:]), SHA1: hex.EncodeToString(s1[:]),
		Size: int64(len(data)), Source: "http.request", New: !seen})
}

func (r *rig) write(evs ...*event.Event) {
	r.t.Helper()
	var recs []pipeline.Record
	for _, e := range evs {
		js, err := e.MarshalJSON()
		if err != nil {
			r.t.Fatal(err)
		}
		recs = append(recs, pipeline.Record{Event: e, JSON: js})
	}
	if err := r.a.Write(context.Background(), recs); err != nil {
		r.t.Fatal(err)
	}
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func shaOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestNewHash(t *testing.T) {
	r := newRig(t, Config{}, nil, nil)
	data := randomBytes(1, 3000)
	ev := r.capture(data)
	r.write(ev)
	got := r.take()
	if len(got) != 1 {
		t.Fatalf("got %d alerts; want 1", len(got))
	}
	a := got[0]
	if a.Type != event.AlertNewHash || a.Severity != "medium" || a.Sample != shaOf(data) || a.Of != ev.ID ||
		a.OfKind != event.KindSample || a.SSDeep == "" || a.TLSH == "" || len(a.Relatives) != 0 {
		t.Errorf("alert = %+v; want a medium new_hash about the sample with its fuzzy hashes", a)
	}
	row := r.db.fuzzy[shaOf(data)]
	if row.Novelty != store.NoveltyNewHash || row.SSDeep != a.SSDeep || row.TLSH != a.TLSH || row.Nearest != nil {
		t.Errorf("stored %+v; want new_hash with the alert's hashes and no relative", row)
	}
	if s := r.a.Stats(); s.NewHashes != 1 || s.Hashed != 1 || s.Alerts != 1 {
		t.Errorf("stats %+v", s)
	}
}

// The alert carries the envelope of the event it is about.
func TestAlertEnvelope(t *testing.T) {
	r := newRig(t, Config{}, nil, nil)
	ev := r.capture(randomBytes(2, 500))
	r.write(ev)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.alerts) != 1 {
		t.Fatalf("got %d alerts; want 1", len(r.alerts))
	}
	e := r.alerts[0]
	if e.Kind != event.KindAlert || e.Session != ev.Session || e.Service != ev.Service || e.Src != ev.Src ||
		e.Dst != ev.Dst || e.Sensor != ev.Sensor || e.Transport != ev.Transport || e.ID == "" || e.ID == ev.ID {
		t.Errorf("alert envelope %+v; want that of %+v with its own id", e, ev)
	}
}

// A CodeRed II request with a few bytes of its body changed is a new
// variant of CodeRed II, on a sensor that has seen nothing yet.
func TestNewVariantOfSeededFamily(t *testing.T) {
	// Changed bytes in the sled are found by ssdeep alone (the TLSH
	// distance is over the threshold), a changed name by both.
	sled := codeRedII(func(b []byte) []byte { copy(b[500:], "ABCDEFGH"); return b })
	r := newRig(t, Config{}, nil, nil)
	r.write(r.capture(sled))
	if got := r.take(); len(got) != 1 || got[0].Type != event.AlertNewVariant ||
		got[0].Relatives[0].SSDeep < 60 || *got[0].Relatives[0].TLSH <= 40 {
		t.Fatalf("changed sled: got %+v; want a new variant found by ssdeep", got)
	}

	data := codeRedII(func(b []byte) []byte {
		return bytes.Replace(b, []byte("CodeRedII"), []byte("CodeRedIII"), 1)
	})
	r.write(r.capture(data))
	got := r.take()
	if len(got) != 1 {
		t.Fatalf("got %d alerts; want 1", len(got))
	}
	a := got[0]
	if a.Type != event.AlertNewVariant || a.Severity != "high" || !strings.HasPrefix(a.Title, "new variant of CodeRed II") ||
		a.Family != "CodeRed" || a.Variant != "CodeRed II (CodeRed.C)" {
		t.Fatalf("alert = %+v; want a high new_variant of CodeRed II", a)
	}
	if len(a.Relatives) == 0 {
		t.Fatal("no relatives")
	}
	near := a.Relatives[0]
	if near.SHA256 != shaOf(codeRedII(nil)) || !near.Seed || near.Variant != "CodeRed II (CodeRed.C)" ||
		near.SSDeep < 60 || near.TLSH == nil {
		t.Errorf("nearest relative %+v; want the CodeRed II seed with its scores", near)
	}
	row := r.db.fuzzy[shaOf(data)]
	if row.Novelty != store.NoveltyNewVariant || row.Nearest == nil || row.Nearest.SHA256 != near.SHA256 {
		t.Errorf("stored %+v; want new_variant with the seed as nearest", row)
	}

	// Another change to the same body: a variant again, and the first
	// variant, now indexed, is among its relatives.
	data2 := codeRedII(func(b []byte) []byte {
		b = bytes.Replace(b, []byte("CodeRedII"), []byte("CodeRedIII"), 1)
		return append(b, "more"...)
	})
	r.write(r.capture(data2))
	got = r.take()
	if len(got) != 1 || got[0].Type != event.AlertNewVariant {
		t.Fatalf("second variant: got %+v", got)
	}
	found := false
	for _, rel := range got[0].Relatives {
		found = found || rel.SHA256 == shaOf(data)
	}
	if !found {
		t.Errorf("relatives %+v do not include the first variant %s", got[0].Relatives, shaOf(data))
	}
}

// A sample seen before raises nothing, whether the sample store says so
// or the index knows it.
func TestKnownSampleNoAlert(t *testing.T) {
	r := newRig(t, Config{}, nil, nil)
	data := randomBytes(3, 2000)
	r.write(r.capture(data))
	if n := len(r.take()); n != 1 {
		t.Fatalf("first capture: %d alerts; want 1", n)
	}
	again := r.capture(data)
	if again.Detail.(*event.Sample).New {
		t.Fatal("test rig: second capture is new")
	}
	r.write(again)
	// The same bytes reported new again (a sample store emptied by hand)
	// are still known to the index.
	again.Detail.(*event.Sample).New = true
	r.write(again)
	if got := r.take(); len(got) != 0 {
		t.Errorf("known sample: got alerts %+v; want none", got)
	}
	// Bytes the sample store had before the analyzer started (New false,
	// not indexed) are indexed without an alert.
	old := randomBytes(4, 2000)
	r.samples[shaOf(old)] = old
	r.write(r.capture(old))
	if got := r.take(); len(got) != 0 {
		t.Errorf("old sample: got alerts %+v; want none", got)
	}
	if row := r.db.fuzzy[shaOf(old)]; row.Novelty != store.NoveltyKnown || row.SSDeep == "" {
		t.Errorf("old sample stored as %+v; want known, hashed", row)
	}
}

// The exact bytes of a seed are a known sample of its family.
func TestSeedSampleIsKnown(t *testing.T) {
	r := newRig(t, Config{}, nil, nil)
	r.write(r.capture(codeRedII(nil)))
	if got := r.take(); len(got) != 0 {
		t.Errorf("got alerts %+v; want none", got)
	}
	row := r.db.fuzzy[shaOf(codeRedII(nil))]
	if row.Family != "CodeRed" || row.Variant != "CodeRed II (CodeRed.C)" || row.Novelty != store.NoveltyKnown || row.SSDeep == "" {
		t.Errorf("stored %+v; want the seed's family and hashes", row)
	}
}

func detection(sha, family, variant string) *event.Event {
	return envelope(&event.Detection{Rule: "r", Engine: event.EngineRules, Family: family, Variant: variant,
		Severity: "high", Of: "x", OfKind: event.KindRequest, Sample: sha})
}

// A family a detection gives a sample makes its relatives variants of
// that family; the label is kept.
func TestDetectionLabels(t *testing.T) {
	r := newRig(t, Config{}, nil, nil)
	base := corpus(rand.New(rand.NewPCG(9, 9)), 1)[0]
	r.write(r.capture(base))
	if got := r.take(); len(got) != 1 || got[0].Type != event.AlertNewHash {
		t.Fatalf("base: got %+v; want one new_hash", got)
	}
	// The detection's JSON is read leniently: fields of other types or
	// unknown fields do not matter.
	det := detection(shaOf(base), "Mirai", "Satori")
	js, _ := det.MarshalJSON()
	js = bytes.Replace(js, []byte(`"rule":"r"`), []byte(`"rule":7,"extra":{"a":[1]}`), 1)
	if err := r.a.Write(context.Background(), []pipeline.Record{{Event: det, JSON: js}}); err != nil {
		t.Fatal(err)
	}
	if row := r.db.fuzzy[shaOf(base)]; row.Family != "Mirai" || row.Variant != "Satori" || row.SSDeep == "" {
		t.Errorf("stored %+v; want the label kept with the hashes", row)
	}
	// A later label of another family does not replace it.
	r.write(detection(shaOf(base), "Other", ""))
	variant := mutate(rand.New(rand.NewPCG(1, 1)), base)
	r.write(r.capture(variant))
	got := r.take()
	if len(got) != 1 || got[0].Type != event.AlertNewVariant || got[0].Title != "new variant of Satori" ||
		got[0].Family != "Mirai" || got[0].Relatives[0].SHA256 != shaOf(base) || got[0].Relatives[0].Seed {
		t.Fatalf("variant: got %+v; want a new variant of Satori next to the base", got)
	}
	if s := r.a.Stats(); s.Labels != 1 {
		t.Errorf("labels = %d; want 1", s.Labels)
	}
}

// A label that arrives before its sample (the sample event was dropped,
// or is late) is kept, and the sample is still hashed when it comes.
func TestLabelBeforeSample(t *testing.T) {
	r := newRig(t, Config{}, nil, nil)
	data := randomBytes(5, 1000)
	r.write(detection(shaOf(data), "NetBus", ""))
	r.write(r.capture(data))
	got := r.take()
	if len(got) != 1 || got[0].Type != event.AlertNewHash || got[0].SSDeep == "" {
		t.Fatalf("got %+v; want one new_hash with hashes", got)
	}
	if row := r.db.fuzzy[shaOf(data)]; row.Family != "NetBus" || row.Novelty != store.NoveltyNewHash {
		t.Errorf("stored %+v", row)
	}
}

func request(method, uri string, headers ...string) *event.Event {
	req := &event.Request{Method: method, URI: uri, Version: "HTTP/1.1"}
	for _, h := range headers {
		n, v, _ := strings.Cut(h, ":")
		req.Headers = append(req.Headers, event.Header{Name: n, Value: strings.TrimSpace(v)})
	}
	return envelope(req)
}

func TestNewProbeShapeOnce(t *testing.T) {
	db := newMemStore()
	r := newRig(t, Config{}, nil, db)
	r.write(request("GET", "/cgi-bin/luci/;stok=1234/admin", "Host: a", "User-Agent: x"))
	got := r.take()
	if len(got) != 1 || got[0].Type != event.AlertNewShape || got[0].Severity != "low" ||
		got[0].Shape != "request GET /cgi-bin/luci/;stok={n}/admin HTTP/1.1 [Host,User-Agent]" {
		t.Fatalf("got %+v; want one low new_shape", got)
	}
	// The same probe with other values: the same shape, no alert.
	r.write(request("GET", "/cgi-bin/luci/;stok=98765/admin", "Host: b", "User-Agent: y"),
		request("GET", "/cgi-bin/luci/;stok=5/admin", "Host: c", "User-Agent: z"))
	if got := r.take(); len(got) != 0 {
		t.Fatalf("same shape: got %+v; want none", got)
	}
	// Headers in another order are another client: a new shape.
	r.write(request("GET", "/cgi-bin/luci/;stok=1/admin", "User-Agent: x", "Host: a"))
	if got := r.take(); len(got) != 1 {
		t.Fatalf("other header order: got %d alerts; want 1", len(got))
	}
	// The same shape on another service or sensor is new there.
	e := request("GET", "/cgi-bin/luci/;stok=1/admin", "User-Agent: x", "Host: a")
	e.Sensor = "s2"
	r.write(e)
	if got := r.take(); len(got) != 1 {
		t.Fatalf("other sensor: got %d alerts; want 1", len(got))
	}
	if len(db.shapes) != 3 {
		t.Errorf("stored %d shapes; want 3", len(db.shapes))
	}
	// After a restart the shapes are remembered.
	r2 := newRig(t, Config{}, nil, db)
	r2.write(request("GET", "/cgi-bin/luci/;stok=42/admin", "Host: a", "User-Agent: x"))
	if got := r2.take(); len(got) != 0 {
		t.Fatalf("after restart: got %+v; want none", got)
	}
}

// The analyzer never reacts to alert events, its own included.
func TestIgnoresAlerts(t *testing.T) {
	r := newRig(t, Config{}, nil, nil)
	r.write(r.capture(randomBytes(6, 800)), request("GET", "/x"))
	r.mu.Lock()
	own := r.alerts
	r.alerts = nil
	r.mu.Unlock()
	if len(own) != 2 {
		t.Fatalf("got %d alerts; want 2", len(own))
	}
	r.write(own...)
	if got := r.take(); len(got) != 0 {
		t.Errorf("alerts about alerts: %+v", got)
	}
}

func TestRateLimit(t *testing.T) {
	r := newRig(t, Config{AlertsPerMinute: 2}, nil, nil)
	for i := range 5 {
		r.write(request("GET", "/x", strings.Repeat("H", i+1)+": v"))
	}
	if got := r.take(); len(got) != 2 {
		t.Fatalf("got %d alerts; want 2 within the limit", len(got))
	}
	if s := r.a.Stats(); s.Suppressed != 3 || s.NewShapes != 5 {
		t.Errorf("stats %+v; want 3 suppressed of 5 new shapes", s)
	}
	// A minute later the budget is back; shapes already seen stay quiet.
	r.clock = r.clock.Add(time.Minute)
	r.write(request("GET", "/x", "H: v"), request("GET", "/y"))
	if got := r.take(); len(got) != 1 || !strings.Contains(got[0].Shape, "/y") {
		t.Errorf("after a minute: got %+v; want the /y shape only", got)
	}
}

// The index is rebuilt from the store: a restarted analyzer knows the
// samples and families it learned.
func TestRestartKeepsIndex(t *testing.T) {
	db := newMemStore()
	samples := memSamples{}
	r := newRig(t, Config{}, samples, db)
	base := corpus(rand.New(rand.NewPCG(10, 10)), 1)[0]
	r.write(r.capture(base), detection(shaOf(base), "Nimda", ""))
	r.take()

	r2 := newRig(t, Config{}, samples, db)
	again := r2.capture(base)
	again.Detail.(*event.Sample).New = true
	r2.write(again)
	if got := r2.take(); len(got) != 0 {
		t.Fatalf("known sample after restart: %+v", got)
	}
	r2.write(r2.capture(mutate(rand.New(rand.NewPCG(2, 2)), base)))
	if got := r2.take(); len(got) != 1 || got[0].Title != "new variant of Nimda" {
		t.Fatalf("variant after restart: got %+v", got)
	}
}

// A sample over max_sample, or one that cannot be read, is still a new
// hash, without fuzzy hashes.
func TestUnhashedSamples(t *testing.T) {
	r := newRig(t, Config{MaxSample: 1000}, nil, nil)
	big := randomBytes(7, 2000)
	r.write(r.capture(big))
	lost := randomBytes(8, 500)
	ev := r.capture(lost)
	delete(r.samples, shaOf(lost))
	r.write(ev)
	got := r.take()
	if len(got) != 2 || got[0].Type != event.AlertNewHash || got[0].SSDeep != "" || got[1].Type != event.AlertNewHash {
		t.Fatalf("got %+v; want two new_hash alerts without fuzzy hashes", got)
	}
	if s := r.a.Stats(); s.TooBig != 1 || s.SampleErrors != 1 || s.Hashed != 0 {
		t.Errorf("stats %+v", s)
	}
}

// A store that fails does not stop the alerts; the error is returned to
// the pipeline, which counts it.
func TestStoreError(t *testing.T) {
	db := newMemStore()
	r := newRig(t, Config{}, nil, db)
	db.fail = errors.New("disk full")
	e := request("GET", "/z")
	js, _ := e.MarshalJSON()
	err := r.a.Write(context.Background(), []pipeline.Record{{Event: e, JSON: js}})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Write = %v; want the store's error", err)
	}
	if got := r.take(); len(got) != 1 {
		t.Errorf("got %d alerts; want 1", len(got))
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{SSDeepMin: 101}, {SSDeepMin: -2}, {TLSHMax: 101}, {SSDeepMin: -1, TLSHMax: -1}, {Relatives: 1000}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	for _, c := range []Config{{}, {SSDeepMin: -1}, {TLSHMax: -1}, {SSDeepMin: 100, TLSHMax: 100}} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// collect is a sink that keeps every record.
type collect struct {
	mu   sync.Mutex
	recs []*event.Event
	got  chan struct{}
}

func (c *collect) Name() string { return "collect" }
func (c *collect) Close() error { return nil }
func (c *collect) Write(_ context.Context, b []pipeline.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range b {
		c.recs = append(c.recs, r.Event)
		if r.Event.Kind == event.KindAlert {
			select {
			case c.got <- struct{}{}:
			default:
			}
		}
	}
	return nil
}

// In a pipeline, the analyzer's alerts come round to the other sinks,
// and the analyzer does not answer them.
func TestInPipeline(t *testing.T) {
	samples := memSamples{}
	var p *pipeline.Pipeline
	a, err := New(context.Background(), Config{}, samples, nil, func(e *event.Event) { p.Emit(e) }, quiet)
	if err != nil {
		t.Fatal(err)
	}
	c := &collect{got: make(chan struct{}, 1)}
	p = pipeline.New(pipeline.Options{FlushInterval: 20 * time.Millisecond, Logger: quiet}, nil, a, c)
	data := codeRedII(func(b []byte) []byte { b[100] = 'A'; return b })
	samples[shaOf(data)] = data
	p.Emit(envelope(&event.Sample{SHA256: shaOf(data), Size: int64(len(data)), Source: "http.request", New: true}))
	select {
	case <-c.got:
	case <-time.After(30 * time.Second):
		t.Fatal("no alert reached the other sink")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var alerts []*event.Alert
	for _, e := range c.recs {
		if e.Kind == event.KindAlert {
			alerts = append(alerts, e.Detail.(*event.Alert))
		}
	}
	if len(alerts) != 1 || alerts[0].Type != event.AlertNewVariant {
		t.Errorf("alerts %+v; want one new_variant", alerts)
	}
}
