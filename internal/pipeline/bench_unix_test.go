//go:build unix

package pipeline_test

import (
	"context"
	"syscall"
	"testing"
	"time"

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
