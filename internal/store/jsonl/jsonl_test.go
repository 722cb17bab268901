package jsonl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
	"github.com/smallpot/smallpot/internal/store/storetest"
)

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("file does not end with a newline: ...%q", b[max(0, len(b)-40):])
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestLinesRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "events.jsonl")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	evs := storetest.AllKinds()
	recs := storetest.Records(t, evs...)
	if err := s.Write(context.Background(), recs[:4]); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), recs[4:]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != len(evs) {
		t.Fatalf("%d lines, want %d", len(lines), len(evs))
	}
	for i, line := range lines {
		if !bytes.Equal(line, recs[i].JSON) {
			t.Errorf("line %d:\n got %s\nwant %s", i, line, recs[i].JSON)
		}
		var e event.Event
		if err := e.UnmarshalJSON(line); err != nil {
			t.Errorf("line %d: %v", i, err)
			continue
		}
		if e.ID != evs[i].ID || e.Kind != evs[i].Kind || !e.Time.Equal(evs[i].Time) || e.Src != evs[i].Src {
			t.Errorf("line %d decodes to %s %s, want %s %s", i, e.ID, e.Kind, evs[i].ID, evs[i].Kind)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		t.Errorf("file mode %v, want no access for others", perm)
	}
	if err := s.Write(context.Background(), recs[:1]); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close = %v, want os.ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// Opening appends to what is there.
func TestAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, []byte("{\"old\":1}\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := storetest.Records(t, storetest.AllKinds()[:2]...)
	if err := s.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	s.Close()
	lines := readLines(t, path)
	if len(lines) != 3 || string(lines[0]) != `{"old":1}` || !bytes.Equal(lines[2], recs[1].JSON) {
		t.Errorf("lines = %q, want the old line then 2 events", lines)
	}
}

// The file stays usable through its descriptor after the path is gone,
// as after a privilege drop: it is never reopened by name.
func TestNeverReopens(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	moved := filepath.Join(dir, "moved.jsonl")
	if err := os.Rename(path, moved); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), storetest.Records(t, storetest.AllKinds()[:3]...)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("the path was created again")
	}
	if n := len(readLines(t, moved)); n != 3 {
		t.Errorf("%d lines in the open file, want 3", n)
	}
}

// Batches written at once — from two sinks on the same file, as two
// processes would — never interleave: every line is whole and each
// batch's lines stay together.
func TestConcurrentBatchesDoNotInterleave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	var sinks []*Sink
	for range 2 {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sinks = append(sinks, s)
	}
	const writers, batches, size = 8, 20, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := range writers {
		wg.Go(func() {
			s := sinks[w%len(sinks)]
			for b := range batches {
				evs := make([]*event.Event, size)
				for i := range evs {
					// Long lines, so a split write would show.
					evs[i] = storetest.Event(storetest.T0.Add(time.Duration(i)*time.Millisecond),
						fmt.Sprintf("w%d-b%d", w, b), "http",
						&event.Command{Line: strings.Repeat(fmt.Sprintf("w%d b%d i%d;", w, b, i), 60)})
				}
				errs <- s.Write(context.Background(), storetest.Records(t, evs...))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range sinks {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	lines := readLines(t, path)
	if len(lines) != writers*batches*size {
		t.Fatalf("%d lines, want %d", len(lines), writers*batches*size)
	}
	seen := map[string]bool{}
	for i := 0; i < len(lines); i += size {
		var first event.Event
		if err := first.UnmarshalJSON(lines[i]); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if seen[first.Session] {
			t.Fatalf("batch %s appears in two places", first.Session)
		}
		seen[first.Session] = true
		for j := range size {
			var e event.Event
			if err := e.UnmarshalJSON(lines[i+j]); err != nil {
				t.Fatalf("line %d: %v", i+j, err)
			}
			want := fmt.Sprintf("%s i%d;", strings.Replace(first.Session, "-", " ", 1), j)
			if e.Session != first.Session || !strings.HasPrefix(e.Detail.(*event.Command).Line, want) {
				t.Fatalf("line %d: session %s line %.30q, want %s and %q (batches interleaved)",
					i+j, e.Session, e.Detail.(*event.Command).Line, first.Session, want)
			}
		}
	}
}

func TestThroughPipeline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New(pipeline.Options{Batch: 16}, nil, s)
	for i := range 100 {
		p.Emit(storetest.Event(storetest.T0.Add(time.Duration(i)), "s", "ftp", &event.Connect{}))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(readLines(t, path)); n != 100 {
		t.Errorf("%d lines, want 100", n)
	}
}

func TestCancelledWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Write(ctx, storetest.Records(t, storetest.AllKinds()...)); !errors.Is(err, context.Canceled) {
		t.Errorf("Write = %v, want context.Canceled", err)
	}
	if n := len(readLines(t, path)); n != 0 {
		t.Errorf("%d lines, want 0", n)
	}
}

func BenchmarkWrite(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "events.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var evs []*event.Event
	for range 512 / 8 {
		evs = append(evs, storetest.AllKinds()[:8]...)
	}
	recs := storetest.Records(b, evs...)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/event")
}
