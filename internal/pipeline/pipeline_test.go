package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
)

var quiet = slog.New(slog.DiscardHandler)

// waitLimit bounds every wait for something the pipeline does on its own;
// the waits themselves are event-driven.
const waitLimit = 10 * time.Second

// memSink keeps every batch it is given.
type memSink struct {
	name   string
	mu     sync.Mutex
	cond   *sync.Cond
	sizes  []int
	events []*event.Event
	closed int
	bad    []string // records whose JSON did not match their event
}

func newMemSink(name string) *memSink {
	s := &memSink{name: name}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *memSink) Name() string { return s.name }

func (s *memSink) Write(_ context.Context, batch []pipeline.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sizes = append(s.sizes, len(batch))
	for _, r := range batch {
		var e event.Event
		if err := json.Unmarshal(r.JSON, &e); err != nil || e.ID != r.Event.ID {
			s.bad = append(s.bad, fmt.Sprintf("record JSON %s does not match event %s: %v", r.JSON, r.Event.ID, err))
		}
		s.events = append(s.events, r.Event)
	}
	s.cond.Broadcast()
	return nil
}

func (s *memSink) Close() error {
	s.mu.Lock()
	s.closed++
	s.mu.Unlock()
	return nil
}

// waitFor blocks until the sink holds n events or waitLimit passes.
func (s *memSink) waitFor(t *testing.T, n int) {
	t.Helper()
	timer := time.AfterFunc(waitLimit, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(waitLimit)
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.events) < n {
		if time.Now().After(deadline) {
			t.Fatalf("sink %s got %d events; want %d", s.name, len(s.events), n)
		}
		s.cond.Wait()
	}
}

func (s *memSink) snapshot() (sizes []int, ids []string, closed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) > 0 {
		panic(s.bad[0])
	}
	for _, e := range s.events {
		ids = append(ids, e.ID)
	}
	return slices.Clone(s.sizes), ids, s.closed
}

func ev(i int) *event.Event {
	return &event.Event{ID: fmt.Sprintf("e%04d", i), Time: time.Unix(int64(i), 0), Service: "test",
		Transport: event.TCP, Kind: event.KindCommand, Detail: &event.Command{Line: fmt.Sprint(i)}}
}

func ids(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, ev(i).ID)
	}
	return out
}

func TestBatchesAndCloseDrain(t *testing.T) {
	tests := []struct {
		name      string
		batch     int
		n         int
		wantSizes []int
	}{
		{"one event", 10, 1, []int{1}},
		{"exact batches", 5, 10, []int{5, 5}},
		{"remainder flushed on close", 10, 25, []int{10, 10, 5}},
		{"batch of one", 1, 3, []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newMemSink("mem")
			// A flush interval longer than the test: only full batches
			// and Close flush.
			p := pipeline.New(pipeline.Options{Queue: 1024, Batch: tt.batch, FlushInterval: time.Hour, Logger: quiet}, nil, sink)
			for i := range tt.n {
				p.Emit(ev(i))
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			sizes, got, closed := sink.snapshot()
			if !slices.Equal(sizes, tt.wantSizes) {
				t.Errorf("got batch sizes %v; want %v", sizes, tt.wantSizes)
			}
			if !slices.Equal(got, ids(0, tt.n)) {
				t.Errorf("got events %v; want %v in order", got, ids(0, tt.n))
			}
			if closed != 1 {
				t.Errorf("sink closed %d times; want 1", closed)
			}
			st := p.Stats()
			if st.Emitted != uint64(tt.n) || st.Dropped != 0 || st.Sinks[0].Written != uint64(tt.n) {
				t.Errorf("got stats %+v; want %d emitted and written, none dropped", st, tt.n)
			}
		})
	}
}

func TestFlushInterval(t *testing.T) {
	sink := newMemSink("mem")
	p := pipeline.New(pipeline.Options{Queue: 64, Batch: 100, FlushInterval: 20 * time.Millisecond, Logger: quiet}, nil, sink)
	defer p.Close()
	for i := range 3 {
		p.Emit(ev(i))
	}
	// Far fewer than a batch: they arrive without Close, by the timer.
	sink.waitFor(t, 3)
	sizes, got, closed := sink.snapshot()
	if closed != 0 {
		t.Fatal("sink closed before Close")
	}
	for _, n := range sizes {
		if n >= 100 {
			t.Errorf("got a batch of %d; want partial batches flushed by the interval", n)
		}
	}
	if !slices.Equal(got, ids(0, 3)) {
		t.Errorf("got %v; want %v", got, ids(0, 3))
	}
	// A second burst, after the first was flushed, is flushed the same way.
	for i := 3; i < 5; i++ {
		p.Emit(ev(i))
	}
	sink.waitFor(t, 5)
}

// The dispatcher is woken by a batch's first event and by a full batch,
// not by each event: whatever the bursts (exact batches, one event after a
// flush, events arriving while the timer flushes), every event still
// reaches the sinks without Close.
func TestEveryBurstDelivered(t *testing.T) {
	sink := newMemSink("mem")
	p := pipeline.New(pipeline.Options{Queue: 4096, Batch: 8, FlushInterval: 2 * time.Millisecond, Logger: quiet}, nil, sink)
	defer p.Close()
	bursts := []int{8, 1, 16, 3, 5, 8, 7, 1, 1, 24, 9, 15, 8}
	n := 0
	for round := range 30 {
		for _, k := range bursts {
			var wg sync.WaitGroup
			for g := range 2 { // from two goroutines, as sessions emit
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := g; i < k; i += 2 {
						p.Emit(ev(n + i))
					}
				}()
			}
			wg.Wait()
			n += k
			if round%2 == 0 {
				sink.waitFor(t, n) // sometimes drained before the next burst
			}
		}
	}
	sink.waitFor(t, n)
	if st := p.Stats(); st.Emitted != uint64(n) || st.Dropped != 0 {
		t.Errorf("got stats %+v; want %d emitted, none dropped", st, n)
	}
}

// blockingSink blocks every write until released.
type blockingSink struct {
	*memSink
	started chan struct{} // receives once the first write has begun
	release chan struct{}
	once    sync.Once
}

func (s *blockingSink) Write(ctx context.Context, batch []pipeline.Record) error {
	s.once.Do(func() { close(s.started) })
	<-s.release
	return s.memSink.Write(ctx, batch)
}

func TestEmitNeverBlocks(t *testing.T) {
	const queue = 16
	stalled := &blockingSink{memSink: newMemSink("stalled"), started: make(chan struct{}), release: make(chan struct{})}
	p := pipeline.New(pipeline.Options{Queue: queue, Batch: 1, SinkQueue: 1, FlushInterval: time.Hour, Logger: quiet}, nil, stalled)

	p.Emit(ev(0))
	<-stalled.started // the sink is now stuck in Write
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i < 10*queue; i++ {
			p.Emit(ev(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("Emit blocked on a stalled sink")
	}
	close(stalled.release)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	s := st.Sinks[0]
	// Every event is accounted for exactly once: dropped at the queue,
	// dropped at the sink, or written.
	if st.Emitted+st.Dropped != 10*queue {
		t.Errorf("got emitted %d + dropped %d; want %d in all", st.Emitted, st.Dropped, 10*queue)
	}
	if s.Written+s.Dropped != st.Emitted {
		t.Errorf("sink got written %d + dropped %d; want the %d emitted", s.Written, s.Dropped, st.Emitted)
	}
	// While the sink was stuck, at most the queue, the batch in hand, the
	// sink's queue and the write in progress could hold events.
	if maxKept := uint64(queue + 3); s.Written > maxKept {
		t.Errorf("stalled sink wrote %d events; want at most %d", s.Written, maxKept)
	}
	if st.Dropped+s.Dropped == 0 {
		t.Error("got no drops counted; want the overflow counted")
	}
	if _, got, _ := stalled.snapshot(); uint64(len(got)) != s.Written {
		t.Errorf("sink holds %d events; stats say %d written", len(got), s.Written)
	}
}

type failingSink struct{ calls int }

func (s *failingSink) Name() string { return "failing" }
func (s *failingSink) Write(context.Context, []pipeline.Record) error {
	s.calls++
	return errors.New("disk full")
}
func (s *failingSink) Close() error { return errors.New("close failed") }

type panickingSink struct{}

func (panickingSink) Name() string                                   { return "panicking" }
func (panickingSink) Write(context.Context, []pipeline.Record) error { panic("sink bug") }
func (panickingSink) Close() error                                   { return nil }

func TestBadSinksDoNotHurtHealthyOne(t *testing.T) {
	healthy := newMemSink("healthy")
	failing := &failingSink{}
	p := pipeline.New(pipeline.Options{Queue: 1024, Batch: 7, SinkQueue: 1024, FlushInterval: time.Hour, Logger: quiet},
		nil, failing, panickingSink{}, healthy)
	const n = 200
	for i := range n {
		p.Emit(ev(i))
	}
	err := p.Close()
	if err == nil || err.Error() != "pipeline: close failing: close failed" {
		t.Errorf("Close got %v; want the failing sink's close error", err)
	}
	if _, got, _ := healthy.snapshot(); !slices.Equal(got, ids(0, n)) {
		t.Fatalf("healthy sink got %d events; want all %d in order", len(got), n)
	}
	wantBatches := uint64((n + 6) / 7)
	for _, s := range p.Stats().Sinks {
		switch s.Name {
		case "failing", "panicking":
			if s.Errors != wantBatches || s.Written != 0 {
				t.Errorf("%s: got %d errors, %d written; want %d errors, 0 written", s.Name, s.Errors, s.Written, wantBatches)
			}
		case "healthy":
			if s.Errors != 0 || s.Written != n || s.Dropped != 0 {
				t.Errorf("healthy: got %+v; want %d written, no errors or drops", s, n)
			}
		}
	}
	if failing.calls != int(wantBatches) {
		t.Errorf("failing sink called %d times; want %d", failing.calls, wantBatches)
	}
}

func TestCloseTwice(t *testing.T) {
	sink := newMemSink("mem")
	p := pipeline.New(pipeline.Options{Logger: quiet}, nil, sink)
	p.Emit(ev(1))
	for range 2 {
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	p.Emit(ev(2)) // after Close: dropped and counted, never delivered
	_, got, closed := sink.snapshot()
	if closed != 1 {
		t.Errorf("sink closed %d times; want 1", closed)
	}
	if !slices.Equal(got, []string{ev(1).ID}) {
		t.Errorf("got %v; want only the event emitted before Close", got)
	}
	if st := p.Stats(); st.Emitted != 1 || st.Dropped != 1 {
		t.Errorf("got stats %+v; want 1 emitted, 1 dropped", st)
	}
}

// tagStage emits one extra event for every command, and panics on one.
type tagStage struct{}

func (tagStage) Process(e *event.Event, emit func(*event.Event)) {
	c, ok := e.Detail.(*event.Command)
	if !ok {
		return
	}
	if c.Line == "panic" {
		panic("stage bug")
	}
	emit(&event.Event{ID: e.ID + "-x", Session: e.Session, Kind: "detection",
		Detail: event.Raw{K: "detection", JSON: json.RawMessage(`{"of":"` + e.ID + `"}`)}})
}

func TestStageExtraEvents(t *testing.T) {
	sink := newMemSink("mem")
	p := pipeline.New(pipeline.Options{Queue: 64, Batch: 3, FlushInterval: time.Hour, Logger: quiet}, []pipeline.Stage{tagStage{}}, sink)
	p.Emit(ev(0))
	p.Emit(ev(1))
	p.Emit(&event.Event{ID: "p", Kind: event.KindCommand, Detail: &event.Command{Line: "panic"}})
	p.Emit(&event.Event{ID: "c", Kind: event.KindConnect, Detail: &event.Connect{}})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	sizes, got, _ := sink.snapshot()
	want := []string{"e0000", "e0000-x", "e0001", "e0001-x", "p", "c"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v; want %v", got, want)
	}
	for _, n := range sizes {
		if n > 3 {
			t.Errorf("got batch sizes %v; want none larger than 3", sizes)
		}
	}
}

// keepingSink keeps every batch it is given as it was given, to check
// them at the end.
type keepingSink struct {
	mu      sync.Mutex
	batches [][]pipeline.Record
}

func (s *keepingSink) Name() string { return "keeping" }
func (s *keepingSink) Close() error { return nil }
func (s *keepingSink) Write(_ context.Context, batch []pipeline.Record) error {
	s.mu.Lock()
	s.batches = append(s.batches, batch)
	s.mu.Unlock()
	return nil
}

// The dispatcher reuses its batch of events, flush after flush, while
// the sinks still hold the records of the batches before: a sink that
// keeps them all finds each record as it was, every event once.
func TestBatchesKeptBySinksStayIntact(t *testing.T) {
	sink := &keepingSink{}
	p := pipeline.New(pipeline.Options{Queue: 4096, Batch: 5, FlushInterval: time.Millisecond, SinkQueue: 1024, Logger: quiet},
		[]pipeline.Stage{tagStage{}}, sink)
	var want []string
	for i := range 600 {
		p.Emit(ev(i))
		want = append(want, ev(i).ID, ev(i).ID+"-x")
		if i%50 == 0 {
			time.Sleep(2 * time.Millisecond) // some batches go by the timer
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range sink.batches {
		for _, r := range b {
			var e event.Event
			if err := json.Unmarshal(r.JSON, &e); err != nil || e.ID != r.Event.ID {
				t.Fatalf("record of event %s holds %s (%v)", r.Event.ID, r.JSON, err)
			}
			got = append(got, r.Event.ID)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("sink got %d events; want each of %d once", len(got), len(want))
	}
}

type discardSink struct{}

func (discardSink) Name() string                                   { return "discard" }
func (discardSink) Write(context.Context, []pipeline.Record) error { return nil }
func (discardSink) Close() error                                   { return nil }

func BenchmarkPipelineEmit(b *testing.B) {
	p := pipeline.New(pipeline.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, nil, discardSink{})
	e := ev(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Emit(e)
		}
	})
	b.StopTimer()
	_ = p.Close()
	st := p.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(st.Emitted+st.Dropped), "dropped/op")
}

// A batch as the pipeline delivers it gives its JSON lines without a
// copy, any run of its records too; records made otherwise, reordered or
// with another JSON are copied; both ways the lines are the records'.
func TestSharedLines(t *testing.T) {
	sink := &keepingSink{}
	p := pipeline.New(pipeline.Options{Queue: 4096, Batch: 64, FlushInterval: time.Hour, Logger: quiet}, nil, sink)
	for i := range 64 {
		p.Emit(ev(i))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if len(sink.batches) != 1 || len(sink.batches[0]) != 64 {
		t.Fatalf("got %d batches; want one of 64", len(sink.batches))
	}
	batch := sink.batches[0]
	want := func(b []pipeline.Record) []byte {
		var w []byte
		for _, r := range b {
			w = append(append(w, r.JSON...), '\n')
		}
		return w
	}
	for _, run := range [][]pipeline.Record{batch, batch[10:20], batch[63:]} {
		lines, ok := pipeline.SharedLines(run)
		if !ok || string(lines) != string(want(run)) {
			t.Fatalf("SharedLines of %d delivered records: %v, %q", len(run), ok, lines)
		}
		if &lines[0] != &run[0].JSON[0] {
			t.Error("SharedLines copied the lines")
		}
		if cap(lines) != len(lines) {
			t.Error("SharedLines' lines may be appended to, over the buffer's next line")
		}
	}
	mixed := []pipeline.Record{batch[1], batch[0]}
	changed := slices.Clone(batch[:3])
	changed[1].JSON = []byte(`{"other":1}`)
	made := []pipeline.Record{{Event: ev(1), JSON: []byte(`{"a":1}`)}}
	for _, b := range [][]pipeline.Record{mixed, changed, made, nil} {
		if _, ok := pipeline.SharedLines(b); ok {
			t.Errorf("SharedLines shared %d records not end to end", len(b))
		}
		if got := pipeline.AppendLines(nil, b); string(got) != string(want(b)) {
			t.Errorf("AppendLines = %q, want %q", got, want(b))
		}
	}
}
