package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
	"github.com/smallpot/smallpot/internal/store/storetest"
)

// mixedBatch returns n events as a busy web sensor sees them: connect,
// request, close, session after session, with fresh ids.
func mixedBatch(tb testing.TB, n int, t0 time.Time) []pipeline.Record {
	evs := make([]*event.Event, 0, n)
	transcript := make([]byte, 600)
	for i := 0; len(evs) < n; i++ {
		sess := event.NewID(t0)
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), uint16(1024+i))
		t := t0.Add(time.Duration(i) * time.Millisecond)
		for j, d := range []event.Detail{
			&event.Connect{Listener: "0.0.0.0:80"},
			&event.Request{Method: "GET", URI: "/default.ida?NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN%u9090%u6858%ucbd3",
				Path: "/default.ida", Version: "HTTP/1.0", Headers: []event.Header{{Name: "Content-type", Value: "text/xml"},
					{Name: "Content-length", Value: "3379"}}, BodyLen: 3379, Body: make([]byte, 256), Status: 404},
			&event.Close{DurationMS: 250, BytesIn: 3800, BytesOut: 300, Reason: event.ReasonEOF,
				TranscriptIn: 400, TranscriptOut: 200, Transcript: transcript},
		} {
			if len(evs) == n {
				break
			}
			e := storetest.Event(t.Add(time.Duration(j)*time.Microsecond), sess, "http", d)
			e.Src = src
			evs = append(evs, e)
		}
	}
	return storetest.Records(tb, evs...)
}

// BenchmarkWriteBatch is the store's hot path: one batch of 512 events as
// the pipeline hands it over. ns/event is the wall-clock cost per event,
// including the WAL checkpoints' waits for the disk; cpu-ns/event is the
// CPU the process spent on it, which a busy machine does not inflate.
// Each batch is built, and the garbage of building it collected, before
// the clocks start: otherwise the collector's background work on the
// benchmark's own garbage (a few hundred ns per event) is counted as the
// store's. The store's own garbage is collected on its time.
func BenchmarkWriteBatch(b *testing.B) {
	d, _ := openTemp(b)
	defer d.Close()
	const size = 512
	ctx := context.Background()
	t0 := time.Now()
	var cpu time.Duration
	cpuOK := true
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		batch := mixedBatch(b, size, t0.Add(time.Duration(i)*time.Minute))
		runtime.GC()
		c0, ok0 := processCPU()
		b.StartTimer()
		if err := d.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		c1, ok1 := processCPU()
		cpu += c1 - c0
		cpuOK = cpuOK && ok0 && ok1
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/event")
	if cpuOK {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*size), "cpu-ns/event")
	}
	var n int
	if err := d.db.QueryRow("SELECT coalesce(sum(count), 0) FROM event_blocks").Scan(&n); err != nil || n != b.N*size {
		b.Fatalf("%d events stored, %v; want %d", n, err, b.N*size)
	}
}

func BenchmarkEventsQuery(b *testing.B) {
	d, _ := openTemp(b)
	defer d.Close()
	t0 := time.Now()
	for i := range 40 {
		if err := d.Write(context.Background(), mixedBatch(b, 512, t0.Add(time.Duration(i)*time.Minute))); err != nil {
			b.Fatal(err)
		}
	}
	// A session in the middle, whose three events a session query finds.
	closes, err := d.Events(context.Background(), EventFilter{Kind: "close"})
	if err != nil || len(closes) == 0 {
		b.Fatal(len(closes), err)
	}
	var mid struct {
		Session string `json:"session"`
	}
	if err := json.Unmarshal(closes[len(closes)/2], &mid); err != nil {
		b.Fatal(err)
	}
	for _, f := range []EventFilter{{Limit: 100}, {Kind: "close", Limit: 100}, {Service: "http", Limit: 1000},
		{Session: mid.Session}} {
		name := fmt.Sprintf("%+v", f)
		want := f.Limit
		if f.Session != "" {
			name, want = "{Session:middle}", 3
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				evs, err := d.Events(context.Background(), f)
				if err != nil || len(evs) != want {
					b.Fatalf("%d events, %v", len(evs), err)
				}
			}
		})
	}
}
