// Package pipeline carries events from the services to the sinks.
//
// Policy: a protocol goroutine never waits on the pipeline. Emit puts the
// event on a bounded queue or, when the queue is full, drops it and counts
// the drop; the count is logged and exposed in Stats. One dispatcher takes
// events off the queue, groups them in batches (up to Batch events, or
// whatever arrived within FlushInterval), encodes each event's JSON once,
// and hands the batch to every sink. The dispatcher is woken by the first
// event of a batch and by a full one, not by every event: a busy sensor
// emits tens of thousands a second. Each sink has its own goroutine and
// its own bounded queue of batches: a slow or failing sink loses batches
// of its own (counted), never the other sinks', and never blocks the
// dispatcher. A panic in a sink is recovered and counted as an error.
// Close stops taking events, drains what is queued and flushes every sink.
package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smallpot/smallpot/internal/event"
)

// Record is an event with its JSON encoding, made once for all sinks.
type Record struct {
	Event *event.Event
	JSON  []byte
	// lines holds the batch's JSON lines end to end, shared by its
	// records; this one's line (JSON and '\n') is lines[start:end].
	// Records made elsewhere have none.
	lines      []byte
	start, end int
}

// SharedLines returns the records' JSON as lines (each JSON and '\n')
// without copying them, when they lie end to end in one buffer, as the
// pipeline delivers a batch: the bytes are shared by every sink and must
// not be modified. ok is false for records made otherwise (or a batch
// with an empty JSON): AppendLines copies them.
func SharedLines(batch []Record) (lines []byte, ok bool) {
	if len(batch) == 0 || !sameLines(batch) {
		return nil, false
	}
	first, last := &batch[0], &batch[len(batch)-1]
	return first.lines[first.start:last.end:last.end], true
}

// AppendLines appends the records' JSON as lines to dst.
func AppendLines(dst []byte, batch []Record) []byte {
	for i := range batch {
		dst = append(dst, batch[i].JSON...)
		dst = append(dst, '\n')
	}
	return dst
}

// sameLines reports whether the records' lines follow each other in one
// buffer, in order, each its JSON and '\n'.
func sameLines(batch []Record) bool {
	for i := range batch {
		b := &batch[i]
		if len(b.JSON) == 0 || b.end-b.start != len(b.JSON)+1 || b.end > len(b.lines) {
			return false
		}
		if i > 0 {
			if a := &batch[i-1]; b.start != a.end || &b.lines[0] != &a.lines[0] {
				return false
			}
		}
	}
	return true
}

// Sink receives batches of records. Write is called from one goroutine
// per sink; the records are shared with other sinks and must not be
// modified.
type Sink interface {
	Name() string
	Write(ctx context.Context, batch []Record) error
	Close() error
}

// Stage sees every event before it is encoded and may emit further events
// (the analyzers). It runs on the dispatcher goroutine, so it must be
// quick and must not block.
type Stage interface {
	Process(e *event.Event, emit func(*event.Event))
}

// Options size the pipeline.
type Options struct {
	Queue         int           // events waiting for the dispatcher
	Batch         int           // events per batch
	FlushInterval time.Duration // oldest event waits at most this long
	SinkQueue     int           // batches waiting per sink (default: about 32768 events' worth)
	Logger        *slog.Logger
}

// sinkQueueEvents is about how many events the default SinkQueue lets
// wait for each sink.
const sinkQueueEvents = 32768

// Pipeline is the bounded, never-blocking event bus.
type Pipeline struct {
	opts Options

	// The queue: events emitted, not yet taken by the dispatcher.
	qmu    sync.Mutex
	queue  []*event.Event
	spare  []*event.Event // the dispatcher's last queue, reused
	idle   bool           // the dispatcher waits for a first event: wake it
	qclose bool           // Close was called: Emit drops
	wake   chan struct{}  // one wake-up for the dispatcher, at most

	stop   chan struct{}
	done   chan struct{}
	sinks  []*sinkWorker
	stages []Stage
	log    *slog.Logger

	jsonSize int // the mean size of an event's JSON in the last batch

	emitted  atomic.Uint64
	dropped  atomic.Uint64
	pending  atomic.Int64 // events taken off the queue, not yet handed to the sinks
	once     sync.Once
	closeErr error
}

type sinkWorker struct {
	sink    Sink
	busy    atomic.Bool // a batch is being written
	in      chan []Record
	written atomic.Uint64
	dropped atomic.Uint64
	errors  atomic.Uint64
	done    chan struct{}
}

// SinkStats counts what happened at one sink.
type SinkStats struct {
	Name    string `json:"name"`
	Written uint64 `json:"written"` // events written
	Dropped uint64 `json:"dropped"` // events lost because the sink fell behind
	Errors  uint64 `json:"errors"`  // failed or panicking writes
}

// Stats counts what happened in the pipeline.
type Stats struct {
	Emitted uint64      `json:"emitted"`
	Dropped uint64      `json:"dropped"` // lost because the queue was full
	Sinks   []SinkStats `json:"sinks"`
}

// New builds a pipeline and starts its goroutines.
func New(opts Options, stages []Stage, sinks ...Sink) *Pipeline {
	if opts.Queue <= 0 {
		opts.Queue = 65536
	}
	if opts.Batch <= 0 {
		opts.Batch = 2048
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 200 * time.Millisecond
	}
	if opts.SinkQueue <= 0 {
		// About sinkQueueEvents events wait per sink, whatever the batch.
		opts.SinkQueue = max(4, sinkQueueEvents/opts.Batch)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Pipeline{
		opts: opts, queue: make([]*event.Event, 0, min(opts.Batch, opts.Queue)), idle: true,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
		stages: stages, log: opts.Logger, jsonSize: 512,
	}
	for _, s := range sinks {
		w := &sinkWorker{sink: s, in: make(chan []Record, opts.SinkQueue), done: make(chan struct{})}
		p.sinks = append(p.sinks, w)
		go p.runSink(w)
	}
	go p.dispatch()
	return p
}

// Emit queues an event without ever blocking; when the queue is full the
// event is dropped and counted.
func (p *Pipeline) Emit(e *event.Event) {
	p.qmu.Lock()
	if p.qclose || len(p.queue) >= p.opts.Queue {
		p.qmu.Unlock()
		p.dropped.Add(1)
		return
	}
	p.queue = append(p.queue, e)
	n := len(p.queue)
	// The dispatcher needs the first event of a batch (to start the
	// flush timer) and a full batch; the others wait in the queue.
	wake := n == p.opts.Batch || n == 1 && p.idle
	if wake {
		p.idle = false
	}
	p.qmu.Unlock()
	p.emitted.Add(1)
	if wake {
		select {
		case p.wake <- struct{}{}:
		default: // a wake-up is already on its way
		}
	}
}

// queued returns how many events wait in the queue.
func (p *Pipeline) queued() int {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	return len(p.queue)
}

// take returns every event in the queue and empties it. With idleIfEmpty,
// an empty queue makes the dispatcher idle: the next Emit wakes it.
func (p *Pipeline) take(idleIfEmpty bool) []*event.Event {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	evs := p.queue
	if len(evs) == 0 {
		p.idle = p.idle || idleIfEmpty
		return nil
	}
	p.queue, p.spare = p.spare[:0], nil
	return evs
}

// Stats returns the counters.
func (p *Pipeline) Stats() Stats {
	s := Stats{Emitted: p.emitted.Load(), Dropped: p.dropped.Load()}
	for _, w := range p.sinks {
		s.Sinks = append(s.Sinks, SinkStats{Name: w.sink.Name(), Written: w.written.Load(),
			Dropped: w.dropped.Load(), Errors: w.errors.Load()})
	}
	return s
}

// Quiesce waits, at most timeout, until every event emitted so far has
// been written by every sink and the sinks have stopped emitting more (the
// analyzers emit what they find back into the pipeline): call it when the
// services have stopped, before Close, so the last findings are kept.
func (p *Pipeline) Quiesce(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	calm := 0
	for time.Now().Before(deadline) {
		idle := p.queued() == 0 && p.pending.Load() == 0
		for _, w := range p.sinks {
			idle = idle && len(w.in) == 0 && !w.busy.Load()
		}
		if idle {
			// Twice in a row, a little apart: a sink that just finished
			// may have emitted an event now on its way to the queue.
			if calm++; calm >= 2 {
				return true
			}
		} else {
			calm = 0
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// Close stops taking events, delivers everything queued and closes the
// sinks. It is safe to call more than once: each sink is closed once, and
// every call returns the first error.
func (p *Pipeline) Close() error {
	p.once.Do(func() {
		p.qmu.Lock()
		p.qclose = true
		p.qmu.Unlock()
		close(p.stop)
		<-p.done
		for _, w := range p.sinks {
			<-w.done
			if err := w.sink.Close(); err != nil && p.closeErr == nil {
				p.closeErr = fmt.Errorf("pipeline: close %s: %w", w.sink.Name(), err)
			}
		}
	})
	return p.closeErr
}

func (p *Pipeline) dispatch() {
	defer close(p.done)
	defer func() {
		for _, w := range p.sinks {
			close(w.in)
		}
	}()
	batch := make([]*event.Event, 0, p.opts.Batch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	report := time.NewTicker(10 * time.Second)
	defer report.Stop()
	var lastDropped uint64
	armed := false

	flush := func() {
		if len(batch) > 0 {
			p.deliver(batch)
			p.pending.Add(-int64(len(batch)))
			// The sinks have records, not the batch: it is reused,
			// cleared so that it holds no event.
			clear(batch)
			batch = batch[:0]
		}
		if armed {
			timer.Stop()
			armed = false
		}
	}
	// put adds one event; a full batch goes at once, so no batch is
	// ever larger than Batch, extra events from stages included.
	put := func(e *event.Event) {
		p.pending.Add(1)
		batch = append(batch, e)
		if len(batch) >= p.opts.Batch {
			flush()
		}
	}
	add := func(e *event.Event) {
		put(e)
		for _, st := range p.stages {
			p.runStage(st, e, put)
		}
	}
	// addAll adds what the queue held, then gives its slice back for
	// reuse.
	addAll := func(evs []*event.Event) {
		for _, e := range evs {
			add(e)
		}
		clear(evs)
		p.qmu.Lock()
		p.spare = evs[:0]
		p.qmu.Unlock()
	}
	arm := func() {
		if !armed {
			timer.Reset(p.opts.FlushInterval)
			armed = true
		}
	}
	for {
		select {
		case <-p.wake:
			// A first event (the timer starts: it waits at most the
			// flush interval) or a full batch (it goes now).
			if p.queued() >= p.opts.Batch {
				addAll(p.take(false))
			}
			arm()
		case <-timer.C:
			armed = false
			addAll(p.take(false))
			flush()
			// Events that came meanwhile wait for the timer; with
			// none, the next one wakes the dispatcher.
			for evs := p.take(true); evs != nil; evs = p.take(true) {
				addAll(evs)
				if len(batch) > 0 {
					arm()
					break
				}
			}
		case <-report.C:
			if d := p.dropped.Load(); d != lastDropped {
				p.log.Warn("event queue full: events dropped", "dropped", d-lastDropped, "dropped_total", d)
				lastDropped = d
			}
		case <-p.stop:
			for evs := p.take(false); evs != nil; evs = p.take(false) {
				addAll(evs)
			}
			flush()
			if d := p.dropped.Load(); d != lastDropped {
				p.log.Warn("event queue full: events dropped", "dropped", d-lastDropped, "dropped_total", d)
			}
			return
		}
	}
}

func (p *Pipeline) runStage(st Stage, e *event.Event, emit func(*event.Event)) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("pipeline stage panicked", "stage", fmt.Sprintf("%T", st), "panic", r)
		}
	}()
	st.Process(e, emit)
}

func (p *Pipeline) deliver(batch []*event.Event) {
	recs := make([]Record, 0, len(batch))
	// Every event's JSON goes into one buffer, sized from the batches
	// before: one allocation per batch, not one per event. A record's
	// slice is capped, so no sink can append into the next record.
	// Each JSON is followed by '\n': the sinks that write lines write
	// them from here (Lines), not from a copy.
	buf := make([]byte, 0, len(batch)*(p.jsonSize+p.jsonSize/8))
	for _, e := range batch {
		start := len(buf)
		b, err := e.AppendJSON(buf)
		if err != nil {
			p.log.Error("event not encodable: dropped", "kind", e.Kind, "err", err)
			p.dropped.Add(1)
			buf = buf[:start]
			continue
		}
		buf = append(b, '\n')
		end := len(buf)
		recs = append(recs, Record{Event: e, JSON: buf[start : end-1 : end-1], start: start, end: end})
	}
	for i := range recs {
		recs[i].lines = buf
	}
	if len(recs) > 0 {
		p.jsonSize = max(len(buf)/len(recs), 64)
	}
	for _, w := range p.sinks {
		select {
		case w.in <- recs:
		default:
			n := w.dropped.Add(uint64(len(recs)))
			if n == uint64(len(recs)) || n%10000 < uint64(len(recs)) {
				p.log.Warn("sink behind: batch dropped", "sink", w.sink.Name(), "dropped_total", n)
			}
		}
	}
}

func (p *Pipeline) runSink(w *sinkWorker) {
	defer close(w.done)
	var lastLog time.Time
	for batch := range w.in {
		w.busy.Store(true)
		err := p.write(w, batch)
		w.busy.Store(false)
		if err != nil {
			n := w.errors.Add(1)
			if time.Since(lastLog) > 10*time.Second {
				p.log.Error("sink write failed", "sink", w.sink.Name(), "err", err, "errors_total", n, "events", len(batch))
				lastLog = time.Now()
			}
			continue
		}
		w.written.Add(uint64(len(batch)))
	}
}

func (p *Pipeline) write(w *sinkWorker, batch []Record) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return w.sink.Write(ctx, batch)
}
