package sqlite

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/store/storetest"
	"github.com/smallpot/smallpot/internal/transcript"
)

// chunk frames one transcript chunk.
func chunk(dir byte, ms uint32, data []byte) []byte {
	b := []byte{dir}
	b = binary.BigEndian.AppendUint32(b, ms)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// Transcripts whose chunks recur are stored with references to the
// first copy and read back exactly as the close events carried them,
// across batches, a failed batch (whose bytes nothing may refer to) and
// reopening; the file holds the recurring bytes about once.
func TestSharedChunks(t *testing.T) {
	d, path := openTemp(t)
	r := rand.New(rand.NewPCG(7, 8))
	answers := [][]byte{bytes.Repeat([]byte("IIS start page "), 120), bytes.Repeat([]byte("404 "), 64), []byte("short")}
	exploit := append([]byte("GET /default.ida?"), bytes.Repeat([]byte("N"), 224)...)
	type sess struct {
		id string
		tr []byte
	}
	var all []sess
	var total int
	start := storetest.T0.Add(72 * time.Hour)
	batch := func(i int) []*event.Event {
		var evs []*event.Event
		for j := range 40 {
			at := start.Add(time.Duration(i*40+j) * time.Millisecond)
			id := event.NewID(at)
			var tr []byte
			switch j % 4 {
			case 0: // a scan: request, the start page
				tr = append(chunk('<', 0, []byte("GET / HTTP/1.0\r\n\r\n")), chunk('>', 1, answers[0])...)
			case 1: // a worm: its request twice, the 404 page
				tr = append(append(chunk('<', 0, exploit), chunk('>', 2, answers[1])...), chunk('<', 3, exploit)...)
			case 2: // something new each time
				u := make([]byte, 200+r.IntN(300))
				for k := range u {
					u[k] = byte(r.IntN(256))
				}
				tr = append(chunk('<', 0, u), chunk('>', 0, answers[2])...)
			case 3: // not the framing at all
				tr = []byte("=not a transcript")
			}
			evs = append(evs, storetest.Event(at, id, "http", &event.Close{DurationMS: 3, Transcript: tr}))
			all = append(all, sess{id, tr})
			total += len(tr)
		}
		return evs
	}
	injected := errors.New("injected")
	for i := range 6 {
		if i == 0 || i == 3 {
			// The first copies are in a failed batch, dropped: the next
			// batch, other sessions, must store them again, not refer to
			// where they were cut off (where its own bytes now are).
			n, kept := len(all), total
			dropped := batch(100 + i)
			all, total = all[:n], kept
			dropped = append(dropped[2:], dropped[:2]...) // elsewhere than the next batch's
			failing{d}.FailNextWrite(injected)
			if err := d.Write(context.Background(), storetest.Records(t, dropped...)); !errors.Is(err, injected) {
				t.Fatalf("batch %d: %v, want the injected failure", i, err)
			}
		}
		evs := batch(i)
		if err := d.Write(context.Background(), storetest.Records(t, evs...)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name string, db *DB) {
		t.Helper()
		for _, s := range all {
			got, err := db.Session(context.Background(), s.id)
			if err != nil {
				t.Fatalf("%s: session %s: %v", name, s.id, err)
			}
			if !bytes.Equal(got.Transcript, s.tr) {
				t.Fatalf("%s: session %s: transcript %q, want %q", name, s.id, got.Transcript, s.tr)
			}
			if bytes.HasPrefix(s.tr, []byte{'<'}) {
				if _, err := transcript.Decode(got.Transcript); err != nil {
					t.Fatalf("%s: session %s: %v", name, s.id, err)
				}
			}
		}
	}
	check("writer", d)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path + "-transcripts")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > int64(total)/2 {
		t.Errorf("transcripts file of %d bytes for %d bytes of transcripts: the recurring chunks were not shared", fi.Size(), total)
	}
	rd, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	check("reader", rd)
	// Opened again, the writer knows no chunks: it stores them afresh.
	d2, err := Open(path, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	before := len(all)
	if err := d2.Write(context.Background(), storetest.Records(t, batch(6)...)); err != nil {
		t.Fatal(err)
	}
	all = all[before:]
	check("reopened", d2)
}

// Two chunks whose hashes are equal but whose bytes are not are both
// kept: a collision costs a copy, never a wrong transcript.
func TestSharedChunksCollision(t *testing.T) {
	var s sharedChunks
	a, b := bytes.Repeat([]byte("a"), 300), bytes.Repeat([]byte("b"), 300)
	var patches []int
	tr := s.appendTranscript(nil, chunk('>', 0, a), &patches)
	// Make b's hash point at a's bytes.
	c := s.m[maphash.Bytes(s.seed, a)]
	s.m[maphash.Bytes(s.seed, b)] = c
	tr = s.appendTranscript(tr, chunk('>', 0, b), &patches)
	tr = s.appendTranscript(tr, chunk('<', 5, a), &patches)
	if len(patches) != 1 {
		t.Fatalf("%d references, want 1 (a's second copy)", len(patches))
	}
	patchRefs(tr, patches, 1000)
	file := append(make([]byte, 1000), tr...)
	got, err := expandTranscript(tr, func(off, n int64) ([]byte, error) { return file[off : off+n], nil })
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(chunk('>', 0, a), chunk('>', 0, b)...), chunk('<', 5, a)...)
	if !bytes.Equal(got, want) {
		t.Errorf("read back %q, want %q", got, want)
	}
}

// A stored transcript that does not read is an error, never a panic or a
// huge read.
func FuzzExpandTranscript(f *testing.F) {
	var s sharedChunks
	var patches []int
	page := bytes.Repeat([]byte("x"), 200)
	tr := s.appendTranscript(nil, append(chunk('<', 0, []byte("GET /")), chunk('>', 1, page)...), &patches)
	tr = s.appendTranscript(tr, chunk('>', 2, page), &patches)
	patchRefs(tr, patches, 0)
	f.Add(tr, tr)
	f.Add([]byte("=<\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00"), []byte("file"))
	f.Fuzz(func(t *testing.T, stored, file []byte) {
		at := func(off, n int64) ([]byte, error) {
			if off < 0 || n < 0 || off+n > int64(len(file)) {
				return nil, fmt.Errorf("%d bytes at %d: beyond the file", n, off)
			}
			return file[off : off+n], nil
		}
		got, err := expandTranscript(stored, at)
		if err == nil && len(got) > len(stored)+len(stored)/refLen*len(file)+9*len(stored) {
			t.Fatalf("%d bytes read back from %d stored and a file of %d", len(got), len(stored), len(file))
		}
	})
}
