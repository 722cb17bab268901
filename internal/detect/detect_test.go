package detect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
)

// collector is an emit function that keeps what it is given.
type collector struct {
	mu  sync.Mutex
	evs []*event.Event
}

func (c *collector) emit(e *event.Event) {
	c.mu.Lock()
	c.evs = append(c.evs, e)
	c.mu.Unlock()
}

func (c *collector) detections() []*event.Detection {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*event.Detection
	for _, e := range c.evs {
		if d, ok := e.Detail.(*event.Detection); ok {
			out = append(out, d)
		}
	}
	return out
}

func (c *collector) rules() []string {
	var out []string
	for _, d := range c.detections() {
		out = append(out, d.Rule)
	}
	return out
}

// memSamples is a sample store in memory.
type memSamples map[string][]byte

func (m memSamples) Read(sha string) ([]byte, error) {
	b, ok := m[sha]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return b, nil
}

func (m memSamples) put(b []byte) string {
	h := sha256.Sum256(b)
	s := hex.EncodeToString(h[:])
	m[s] = b
	return s
}

var quiet = slog.New(slog.DiscardHandler)

var t0 = time.Date(2001, 8, 4, 10, 0, 0, 0, time.UTC)

func ev(session, service string, port uint16, d event.Detail) *event.Event {
	return &event.Event{ID: event.NewID(t0), Time: t0, Sensor: "pot-1", Session: session, Service: service,
		Transport: event.TCP, Src: netip.MustParseAddrPort("198.51.100.7:4000"),
		Dst: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.10"), port), Kind: d.Kind(), Detail: d}
}

func records(t testing.TB, evs ...*event.Event) []pipeline.Record {
	t.Helper()
	var out []pipeline.Record
	for _, e := range evs {
		b, err := e.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pipeline.Record{Event: e, JSON: b})
	}
	return out
}

func newAnalyzer(t *testing.T, cfg Config, s Samples) (*Analyzer, *collector) {
	t.Helper()
	c := &collector{}
	a, err := New(cfg, s, c.emit, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a, c
}

func codeRedII() *event.Request {
	q := strings.Repeat("X", 224) + "%u9090%u6858%ucbd3%u7801%u9090%u6858%ucbd3%u7801%u9090%u6858%ucbd3%u7801%u9090%u9090%u8190%u00c3%u0003%u8b00%u531b%u53ff%u0078%u0000%u00=a"
	return &event.Request{Method: "GET", URI: "/default.ida?" + q, Path: "/default.ida", Query: q,
		Version: "HTTP/1.0", Sample: strings.Repeat("ab", 32), Action: "ida:overflow"}
}

func TestAnalyzerLabelsAnEvent(t *testing.T) {
	a, c := newAnalyzer(t, Config{}, nil)
	a.now = func() time.Time { return t0.Add(time.Second) }
	e := ev("s1", "http", 80, codeRedII())
	if err := a.Write(context.Background(), records(t, e)); err != nil {
		t.Fatal(err)
	}
	if len(c.evs) != 1 {
		t.Fatalf("got %d events (%v); want 1 detection", len(c.evs), c.rules())
	}
	got := c.evs[0]
	d := got.Detail.(*event.Detection)
	if got.Kind != event.KindDetection || got.Session != e.Session || got.Src != e.Src || got.Dst != e.Dst ||
		got.Service != "http" || got.Sensor != "pot-1" || !got.Time.Equal(t0.Add(time.Second)) || got.ID == e.ID {
		t.Errorf("envelope: got %+v; want the labelled event's, a new id and the analyzer's time", got)
	}
	if d.Rule != "codered-ii" || d.Family != "CodeRed" || d.Variant != "CodeRed II (CodeRed.C)" ||
		!slices.Equal(d.CVE, []string{"CVE-2001-0500"}) || d.Bulletin != "MS01-033" || d.Severity != "critical" ||
		d.Engine != event.EngineRules || d.Of != e.ID || d.OfKind != event.KindRequest || d.Sample != strings.Repeat("ab", 32) {
		t.Errorf("detection: got %+v", d)
	}
	if len(d.Matched) != 2 || d.Matched[0].Field != "request.path" || d.Matched[1].Field != "request.query" ||
		!strings.HasPrefix(d.Matched[1].Value, "XXXX") || len(d.Matched[1].Value) > maxExcerpt {
		t.Errorf("matched: got %+v; want the path and a bounded excerpt of the query", d.Matched)
	}
	if st := a.Stats(); st.Events != 1 || st.Detections != 1 {
		t.Errorf("stats: got %+v", st)
	}
	// The detection round-trips through JSON as the schema says.
	b, err := got.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var back event.Event
	if err := back.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	if bd, ok := back.Detail.(*event.Detection); !ok || bd.Rule != "codered-ii" || bd.Of != e.ID {
		t.Errorf("round trip: got %#v from %s", back.Detail, b)
	}
}

func TestAnalyzerIgnoresDetections(t *testing.T) {
	a, c := newAnalyzer(t, Config{}, nil)
	if err := a.Write(context.Background(), records(t, ev("s1", "http", 80, codeRedII()))); err != nil {
		t.Fatal(err)
	}
	first := slices.Clone(c.evs)
	// What the analyzer emitted comes back through the pipeline, as does
	// a future alert kind.
	again := append(records(t, first...), records(t, &event.Event{ID: "x", Kind: "alert",
		Detail: event.Raw{K: "alert", JSON: []byte(`{"rule":"codered-ii"}`)}})...)
	if err := a.Write(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	if len(c.evs) != len(first) {
		t.Errorf("got %d more events from the analyzer's own output", len(c.evs)-len(first))
	}
	if a.Stats().Events != 1 {
		t.Errorf("events classified: got %d; want 1", a.Stats().Events)
	}
}

func TestSessionScopeOncePerSession(t *testing.T) {
	a, c := newAnalyzer(t, Config{}, nil)
	cmd := func(s, line string) *event.Event {
		return ev(s, "telnet", 23, &event.Command{Line: line, Shell: "busybox", Known: true})
	}
	batch := records(t,
		cmd("s1", "/bin/busybox ECCHI"),
		cmd("s1", "/bin/busybox ps; /bin/busybox ECCHI"),
		cmd("s1", "cd /tmp; /bin/busybox ECCHI"),
		cmd("s2", "/bin/busybox ECCHI"),
	)
	if err := a.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	got := c.detections()
	if len(got) != 2 {
		t.Fatalf("got %v; want one detection per session", c.rules())
	}
	if got[0].Of != batch[0].Event.ID || got[1].Of != batch[3].Event.ID || got[0].Scope != ScopeSession {
		t.Errorf("got %+v %+v; want the first event of each session labelled", got[0], got[1])
	}
}

func TestSourceThresholdAndWindow(t *testing.T) {
	a, c := newAnalyzer(t, Config{}, nil)
	login := func(i int, at time.Duration, src string) *event.Event {
		e := ev(fmt.Sprintf("s%d", i), "mssql", 1433, &event.Login{User: "sa", Password: fmt.Sprint(i), Method: "sql"})
		e.Time = t0.Add(at)
		e.Src = netip.MustParseAddrPort(src + ":1025")
		return e
	}
	var evs []*event.Event
	for i := range 7 { // seven guesses in a minute: one detection, at the fifth
		evs = append(evs, login(i, time.Duration(i)*10*time.Second, "198.51.100.7"))
	}
	for i := range 4 { // another address, four guesses: none
		evs = append(evs, login(10+i, time.Minute, "198.51.100.8"))
	}
	for i := range 5 { // the first address, after the ten-minute window: again
		evs = append(evs, login(20+i, 20*time.Minute+time.Duration(i)*time.Second, "198.51.100.7"))
	}
	if err := a.Write(context.Background(), records(t, evs...)); err != nil {
		t.Fatal(err)
	}
	got := c.detections()
	if len(got) != 2 {
		t.Fatalf("got %v; want 2 detections", c.rules())
	}
	if got[0].Rule != "mssql.sa-bruteforce" || got[0].Of != evs[4].ID || got[0].Count != 5 || got[0].Scope != ScopeSource {
		t.Errorf("first: got %+v; want the fifth guess labelled with count 5", got[0])
	}
	if got[1].Of != evs[15].ID {
		t.Errorf("second: got of=%s; want the fifth guess after the window", got[1].Of)
	}
}

func TestStateIsBounded(t *testing.T) {
	st := newState(2)
	r := &rule{idx: 0, scope: ScopeSession, threshold: 1}
	for _, s := range []string{"a", "b", "c"} {
		if ok, _ := st.admit(r, &event.Event{Session: s, Time: t0}); !ok {
			t.Fatalf("session %s: first match did not fire", s)
		}
	}
	if st.ll.Len() != 2 || len(st.index) != 2 {
		t.Fatalf("state holds %d/%d entries; want 2", st.ll.Len(), len(st.index))
	}
	if ok, _ := st.admit(r, &event.Event{Session: "c", Time: t0}); ok {
		t.Error("session c fired twice")
	}
	// a was evicted: it may fire again.
	if ok, _ := st.admit(r, &event.Event{Session: "a", Time: t0}); !ok {
		t.Error("evicted session a did not fire again")
	}
}

func TestSampleBytesAreRead(t *testing.T) {
	store := memSamples{}
	elf := append([]byte{0x7f, 'E', 'L', 'F', 1, 1, 1, 0}, make([]byte, 64)...)
	sha := store.put(elf)
	a, c := newAnalyzer(t, Config{}, store)
	e := ev("s1", "telnet", 23, &event.Sample{SHA256: sha, Size: int64(len(elf)), Source: "telnet.echo", Name: "dvrHelper", New: true})
	if err := a.Write(context.Background(), records(t, e)); err != nil {
		t.Fatal(err)
	}
	got := c.detections()
	if len(got) != 1 || got[0].Rule != "mirai.echo-elf" || got[0].Sample != sha || got[0].OfKind != event.KindSample {
		t.Fatalf("got %+v; want mirai.echo-elf on the sample", got)
	}
	if len(got[0].Matched) != 2 || got[0].Matched[1].Field != "sample" || got[0].Matched[1].Value != `\x7fELF` {
		t.Errorf("matched: got %+v", got[0].Matched)
	}

	// A missing sample is counted, not fatal.
	e2 := ev("s2", "telnet", 23, &event.Sample{SHA256: strings.Repeat("0", 64), Size: 10, Source: "telnet.echo"})
	if err := a.Write(context.Background(), records(t, e2)); err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st.SampleErrors != 1 || st.Detections != 1 {
		t.Errorf("stats: got %+v; want one sample error and no new detection", st)
	}
}

func TestSampleOverMaxScanIsNotRead(t *testing.T) {
	store := memSamples{}
	elf := append([]byte{0x7f, 'E', 'L', 'F'}, make([]byte, 100)...)
	sha := store.put(elf)
	a, c := newAnalyzer(t, Config{MaxScan: 50}, store)
	e := ev("s1", "telnet", 23, &event.Sample{SHA256: sha, Size: int64(len(elf)), Source: "telnet.echo"})
	if err := a.Write(context.Background(), records(t, e)); err != nil {
		t.Fatal(err)
	}
	if len(c.evs) != 0 || a.Stats().SamplesTooBig != 1 {
		t.Errorf("got %v, stats %+v; want the sample skipped and counted", c.rules(), a.Stats())
	}
}

func TestDirSamplesPrefix(t *testing.T) {
	dir := t.TempDir()
	data := []byte("\x7fELF and then a lot more")
	h := sha256.Sum256(data)
	sha := hex.EncodeToString(h[:])
	if err := os.WriteFile(filepath.Join(dir, sha), data, 0o600); err != nil {
		t.Fatal(err)
	}
	// The analyzer reads a larger-than-max_scan sample's first bytes from
	// the directory: the rule sees the ELF header.
	a, c := newAnalyzer(t, Config{SamplesDir: dir, MaxScan: 8}, nil)
	e := ev("s1", "telnet", 23, &event.Sample{SHA256: sha, Size: int64(len(data)), Source: "telnet.echo"})
	if err := a.Write(context.Background(), records(t, e)); err != nil {
		t.Fatal(err)
	}
	if got := c.rules(); !slices.Equal(got, []string{"mirai.echo-elf"}) {
		t.Errorf("got %v; want mirai.echo-elf from the first 8 bytes", got)
	}
	ds, err := DirSamples(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.(*dirSamples).Close()
	b, err := ds.(*dirSamples).ReadPrefix(sha, 4)
	if err != nil || string(b) != "\x7fELF" {
		t.Errorf("ReadPrefix: got %q, %v", b, err)
	}
	for _, bad := range []string{"../../etc/passwd", strings.Repeat("A", 64), ""} {
		if _, err := ds.Read(bad); err == nil {
			t.Errorf("Read(%q): no error", bad)
		}
	}
	if _, err := ds.Read(strings.Repeat("0", 64)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read of a missing sample: got %v; want ErrNotExist", err)
	}
}

// TestThroughThePipeline runs the analyzer as a sink of a real pipeline,
// emitting into it: detections reach the other sinks and are not
// classified again.
func TestThroughThePipeline(t *testing.T) {
	var pipe *pipeline.Pipeline
	a, err := New(Config{}, nil, func(e *event.Event) { pipe.Emit(e) }, quiet)
	if err != nil {
		t.Fatal(err)
	}
	out := &recordSink{}
	pipe = pipeline.New(pipeline.Options{FlushInterval: 5 * time.Millisecond, Logger: quiet}, nil, a, out)
	pipe.Emit(ev("s1", "http", 80, codeRedII()))
	deadline := time.Now().Add(10 * time.Second)
	for out.count(event.KindDetection) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // room for a loop to show
	if err := pipe.Close(); err != nil {
		t.Fatal(err)
	}
	if n := out.count(event.KindDetection); n != 1 {
		t.Errorf("detections reaching the other sink: got %d; want 1", n)
	}
	if st := a.Stats(); st.Events != 1 || st.Detections != 1 {
		t.Errorf("stats: got %+v; want one event classified, one detection", st)
	}
}

type recordSink struct {
	mu   sync.Mutex
	recs []pipeline.Record
}

func (s *recordSink) Name() string { return "records" }
func (s *recordSink) Close() error { return nil }
func (s *recordSink) Write(_ context.Context, b []pipeline.Record) error {
	s.mu.Lock()
	s.recs = append(s.recs, b...)
	s.mu.Unlock()
	return nil
}

func (s *recordSink) count(k event.Kind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.recs {
		if r.Event.Kind == k {
			n++
		}
	}
	return n
}

// TestOddEvents: an event whose detail is missing, nil or of another
// kind than it says is classified without a panic and labelled by
// nothing that reads the detail.
func TestOddEvents(t *testing.T) {
	a, c := newAnalyzer(t, Config{}, nil)
	odd := []*event.Event{
		{ID: "1", Kind: event.KindRequest},
		{ID: "2", Kind: event.KindRequest, Detail: (*event.Request)(nil)},
		{ID: "3", Kind: event.KindRequest, Detail: event.Raw{K: event.KindRequest, JSON: []byte(`{"uri":"/default.ida"}`)}},
		{ID: "4", Kind: event.KindCommand, Detail: codeRedII()},
		{ID: "5", Kind: event.KindSample, Detail: &event.Sample{SHA256: "not-a-hash", Source: "telnet.echo"}},
		nil,
	}
	var batch []pipeline.Record
	for _, e := range odd {
		batch = append(batch, pipeline.Record{Event: e})
	}
	if err := a.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if len(c.evs) != 0 {
		t.Errorf("got %v", c.rules())
	}
}

func TestNewNeedsEmit(t *testing.T) {
	if _, err := New(Config{}, nil, nil, nil); err == nil {
		t.Error("New without emit: no error")
	}
}
