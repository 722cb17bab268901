//go:build unix

package pipeline_test

import (
	"context"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
)

type nullSink struct{}

func (nullSink) Name() string                                   { return "null" }
func (nullSink) Write(context.Context, []pipeline.Record) error { return nil }
func (nullSink) Close() error                                   { return nil }

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEmit is the pipeline's CPU time per event, from Emit to a sink,
// with sessions emitting at a sensor's pace: a few events, then a pause
// for the rest of their work. cpu-ns/event is what counts; the pauses
// make ns/op meaningless.
func BenchmarkEmit(b *testing.B) {
	p := pipeline.New(pipeline.Options{Logger: quiet}, nil, nullSink{})
	e := ev(1)
	b.ReportAllocs()
	c0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			p.Emit(e)
			if i++; i%3 == 0 {
				time.Sleep(50 * time.Microsecond)
			}
		}
	})
	if err := p.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((processCPU()-c0).Nanoseconds())/float64(b.N), "cpu-ns/event")
}

// connectionEvents are the three events of a short HTTP connection.
func connectionEvents() []*event.Event {
	t := time.Now()
	src, dst := netip.MustParseAddrPort("198.51.100.23:40112"), netip.MustParseAddrPort("192.0.2.10:80")
	env := func(k event.Kind, d event.Detail) *event.Event {
		return &event.Event{ID: event.NewID(t), Time: t, Sensor: "sensor-1", Session: "0190f3c2-7a4e-7b1c-9d2e-3f4a5b6c7d8e",
			Service: "http", Transport: event.TCP, Src: src, Dst: dst, Kind: k, Detail: d}
	}
	return []*event.Event{
		env(event.KindConnect, &event.Connect{Listener: "192.0.2.10:80"}),
		env(event.KindRequest, &event.Request{Method: "GET", URI: "/", Path: "/", Version: "HTTP/1.0",
			Headers: []event.Header{{Name: "Host", Value: "192.0.2.10"}, {Name: "User-Agent", Value: "Mozilla/5.0 (compatible; scanner)"},
				{Name: "Accept", Value: "*/*"}}, Host: "192.0.2.10", UserAgent: "Mozilla/5.0 (compatible; scanner)",
			Status: 200, Action: "static:iisstart.htm"}),
		env(event.KindClose, &event.Close{DurationMS: 3, BytesIn: 102, BytesOut: 1787, Reason: "server",
			TranscriptIn: 102, TranscriptOut: 1787}),
	}
}

// BenchmarkConnectionEvents is the pipeline's CPU time per event, from
// Emit to a sink, for the connect, request and close events of short
// connections, emitted 96 at a time with a millisecond's pause between:
// batches fill as on a busy sensor. cpu-ns/event counts, the pauses
// included (the same for any pipeline).
func BenchmarkConnectionEvents(b *testing.B) {
	p := pipeline.New(pipeline.Options{Logger: quiet}, nil, nullSink{})
	evs := connectionEvents()
	b.ReportAllocs()
	c0 := processCPU()
	i := 0
	for b.Loop() {
		p.Emit(evs[i%3])
		if i++; i%96 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if err := p.Close(); err != nil {
		b.Fatal(err)
	}
	if st := p.Stats(); st.Dropped > 0 {
		b.Fatalf("%d events dropped", st.Dropped)
	}
	b.ReportMetric(float64((processCPU()-c0).Nanoseconds())/float64(b.N), "cpu-ns/event")
}
