package transcript_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/transcript"
)

type add struct {
	dir  byte
	data string
}

func joined(chunks []transcript.Chunk, dir byte) string {
	var b strings.Builder
	for _, c := range chunks {
		if c.Dir == dir {
			b.Write(c.Data)
		}
	}
	return b.String()
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name        string
		max         int
		adds        []add
		wantChunks  []add
		wantIn      int
		wantOut     int
		wantEncoded int // bytes of the encoding
	}{
		{"empty", 100, nil, nil, 0, 0, 0},
		{"both ways in order", 100,
			[]add{{transcript.Out, "220 ready\r\n"}, {transcript.In, "USER a\r\n"}, {transcript.Out, "331\r\n"}},
			[]add{{transcript.Out, "220 ready\r\n"}, {transcript.In, "USER a\r\n"}, {transcript.Out, "331\r\n"}},
			8, 16, 3*9 + 8 + 16},
		{"empty adds are skipped", 100,
			[]add{{transcript.In, ""}, {transcript.In, "x"}},
			[]add{{transcript.In, "x"}}, 1, 0, 10},
		{"cut at max each way", 5,
			[]add{{transcript.In, "abc"}, {transcript.Out, "0123456789"}, {transcript.In, "defgh"}, {transcript.In, "ij"}, {transcript.Out, "z"}},
			[]add{{transcript.In, "abc"}, {transcript.Out, "01234"}, {transcript.In, "de"}},
			5, 5, 3*9 + 10},
		{"max zero keeps nothing", 0,
			[]add{{transcript.In, "abc"}, {transcript.Out, "def"}},
			nil, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			budget := transcript.NewBudget(1 << 20)
			r := transcript.New(time.Now(), tt.max, budget)
			for _, a := range tt.adds {
				r.Add(a.dir, []byte(a.data))
			}
			in, out := r.Kept()
			if in != tt.wantIn || out != tt.wantOut {
				t.Errorf("Kept() got %d, %d; want %d, %d", in, out, tt.wantIn, tt.wantOut)
			}
			enc := r.Finish()
			if len(enc) != tt.wantEncoded {
				t.Errorf("got %d encoded bytes; want %d", len(enc), tt.wantEncoded)
			}
			chunks, err := transcript.Decode(enc)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			var got []add
			for _, c := range chunks {
				got = append(got, add{c.Dir, string(c.Data)})
				if c.Offset < 0 || c.Offset > time.Minute {
					t.Errorf("got offset %v; want the time since the start", c.Offset)
				}
			}
			if len(got) != len(tt.wantChunks) {
				t.Fatalf("got chunks %q; want %q", got, tt.wantChunks)
			}
			for i := range got {
				if got[i] != tt.wantChunks[i] {
					t.Errorf("chunk %d: got %q; want %q", i, got[i], tt.wantChunks[i])
				}
			}
		})
	}
}

func TestOffsets(t *testing.T) {
	start := time.Now().Add(-1500 * time.Millisecond)
	r := transcript.New(start, 100, nil)
	r.Add(transcript.In, []byte("late"))
	if !r.Start().Equal(start) {
		t.Errorf("got start %v; want %v", r.Start(), start)
	}
	chunks, err := transcript.Decode(r.Finish())
	if err != nil || len(chunks) != 1 {
		t.Fatalf("got %v, %v; want one chunk", chunks, err)
	}
	if chunks[0].Offset < 1500*time.Millisecond || chunks[0].Offset%time.Millisecond != 0 {
		t.Fatalf("got offset %v; want at least 1.5s in whole milliseconds", chunks[0].Offset)
	}
}

func TestRecorderDoesNotKeepCallersSlice(t *testing.T) {
	r := transcript.New(time.Now(), 100, nil)
	p := []byte("secret")
	r.Add(transcript.In, p)
	copy(p, "XXXXXX")
	chunks, _ := transcript.Decode(r.Finish())
	if got := joined(chunks, transcript.In); got != "secret" {
		t.Fatalf("got %q; want %q", got, "secret")
	}
}

func TestBudget(t *testing.T) {
	// Room for one 10-byte chunk (9 bytes of header each) and no more.
	budget := transcript.NewBudget(19)
	a := transcript.New(time.Now(), 100, budget)
	b := transcript.New(time.Now(), 100, budget)

	a.Add(transcript.In, []byte("0123456789"))
	b.Add(transcript.In, []byte("x"))
	if in, _ := b.Kept(); in != 0 {
		t.Fatalf("second recorder kept %d bytes past the shared budget; want 0", in)
	}
	if in, _ := a.Kept(); in != 10 {
		t.Fatalf("first recorder kept %d bytes; want 10", in)
	}

	// Finish gives the first recorder's bytes back to the budget.
	if chunks, _ := transcript.Decode(a.Finish()); joined(chunks, transcript.In) != "0123456789" {
		t.Fatalf("got %q; want the first recorder's bytes", joined(chunks, transcript.In))
	}
	b.Add(transcript.In, []byte("0123456789"))
	if in, _ := b.Kept(); in != 10 {
		t.Fatalf("after Finish, second recorder kept %d bytes; want 10", in)
	}

	// A finished recorder takes nothing more from the budget.
	a.Add(transcript.Out, []byte("y"))
	if len(a.Finish()) != 0 {
		t.Fatal("got bytes from a recorder after Finish; want none")
	}
	b.Finish()
	c := transcript.New(time.Now(), 100, budget)
	c.Add(transcript.In, []byte("0123456789"))
	if in, _ := c.Kept(); in != 10 {
		t.Fatalf("after both finished, a new recorder kept %d bytes; want 10 (budget leaked)", in)
	}
}

func TestBudgetConcurrent(t *testing.T) {
	budget := transcript.NewBudget(1 << 20)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				r := transcript.New(time.Now(), 1000, budget)
				r.Add(transcript.In, bytes.Repeat([]byte("a"), 500))
				r.Add(transcript.Out, bytes.Repeat([]byte("b"), 500))
				r.Finish()
			}
		})
	}
	wg.Wait()
	// Everything was given back: the whole budget is free again.
	r := transcript.New(time.Now(), 1<<20, budget)
	r.Add(transcript.In, make([]byte, 1<<20-9))
	if in, _ := r.Kept(); in != 1<<20-9 {
		t.Fatalf("got %d bytes kept; want the whole budget (%d)", in, 1<<20-9)
	}
}

func TestDecodeErrors(t *testing.T) {
	hdr := func(dir byte, ms, n uint32) []byte {
		b := []byte{dir, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[1:5], ms)
		binary.BigEndian.PutUint32(b[5:9], n)
		return b
	}
	good := append(hdr(transcript.In, 7, 2), "ok"...)
	tests := []struct {
		name       string
		in         []byte
		wantChunks int
		wantErr    bool
	}{
		{"good", good, 1, false},
		{"short header", append(bytes.Clone(good), '<', 0, 0), 1, true},
		{"bad direction", append(bytes.Clone(good), hdr('x', 0, 0)...), 1, true},
		{"length past the end", append(hdr(transcript.Out, 0, 5), "abc"...), 0, true},
		{"huge length", hdr(transcript.Out, 0, 0xffffffff), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunks, err := transcript.Decode(tt.in)
			if len(chunks) != tt.wantChunks || (err != nil) != tt.wantErr {
				t.Fatalf("got %d chunks, err %v; want %d chunks, error %v", len(chunks), err, tt.wantChunks, tt.wantErr)
			}
			if len(chunks) == 1 && (chunks[0].Offset != 7*time.Millisecond || string(chunks[0].Data) != "ok") {
				t.Fatalf("got chunk %+v; want offset 7ms, data %q", chunks[0], "ok")
			}
		})
	}
}
