// Package transcript keeps the first bytes of a session in each direction,
// in arrival order, with their timing.
//
// Encoding: a sequence of chunks, each a direction byte ('<' from the
// client, '>' to the client), the milliseconds since the session began
// (uint32, big-endian), the length (uint32, big-endian) and the bytes.
package transcript

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Directions.
const (
	In  byte = '<' // from the client
	Out byte = '>' // to the client
)

// Budget bounds the bytes all live transcripts may hold together, so a
// flood of sessions each sending their full allowance cannot exhaust
// memory: past it, new bytes are counted but not kept.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

func (b *Budget) take(n int) bool {
	if b == nil {
		return true
	}
	if b.used.Add(int64(n)) > b.limit {
		b.used.Add(-int64(n))
		return false
	}
	return true
}

func (b *Budget) give(n int) {
	if b != nil {
		b.used.Add(-int64(n))
	}
}

// firstAlloc is the most a transcript allocates for its first bytes.
const firstAlloc = 2048

// Recorder keeps up to max bytes each way. It is safe for concurrent use.
// A session holds one from its start: it is kept small (what the budget
// was charged is len(buf), and Finish sets max to 0).
type Recorder struct {
	mu     sync.Mutex
	start  time.Time
	max    int
	kept   [2]int
	buf    []byte
	budget *Budget
}

// New starts a transcript at start, keeping max bytes each way.
func New(start time.Time, max int, budget *Budget) *Recorder {
	r := new(Recorder)
	r.Init(start, max, budget)
	return r
}

// Init starts a zero Recorder as New does, for one held in a larger
// struct. It holds no memory until the first bytes arrive.
func (r *Recorder) Init(start time.Time, max int, budget *Budget) {
	r.start, r.max, r.budget = start, max, budget
}

// Start returns the time the transcript started at, which its offsets
// count from. It does not change after Init.
func (r *Recorder) Start() time.Time { return r.start }

func idx(dir byte) int {
	if dir == In {
		return 0
	}
	return 1
}

// Add records p, sent in direction dir, as far as the bound allows.
func (r *Recorder) Add(dir byte, p []byte) {
	if len(p) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	i := idx(dir)
	room := r.max - r.kept[i]
	if room <= 0 {
		return
	}
	if len(p) > room {
		p = p[:room]
	}
	if !r.budget.take(len(p) + 9) {
		return
	}
	ms := uint32(time.Since(r.start) / time.Millisecond)
	if r.buf == nil {
		// Room for a short exchange (a request and its answer) in one
		// allocation, not a few growing ones.
		r.buf = make([]byte, 0, max(len(p)+9, min(firstAlloc, 2*(r.max+9))))
	}
	var h [9]byte
	h[0] = dir
	binary.BigEndian.PutUint32(h[1:5], ms)
	binary.BigEndian.PutUint32(h[5:9], uint32(len(p)))
	r.buf = append(r.buf, h[:]...)
	r.buf = append(r.buf, p...)
	r.kept[i] += len(p)
}

// Kept returns the bytes kept from the client and to the client.
func (r *Recorder) Kept() (in, out int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.kept[0], r.kept[1]
}

// Finish returns the encoded transcript and gives its memory back to the
// budget; the recorder keeps nothing after it, and Add does nothing.
func (r *Recorder) Finish() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.max = 0 // Add keeps nothing more
	b := r.buf
	r.buf = nil
	r.budget.give(len(b))
	return b
}

// Chunk is one decoded piece of a transcript.
type Chunk struct {
	Dir    byte
	Offset time.Duration
	Data   []byte
}

// Decode reads an encoded transcript.
func Decode(b []byte) ([]Chunk, error) {
	var out []Chunk
	for len(b) > 0 {
		if len(b) < 9 {
			return out, errors.New("transcript: truncated chunk header")
		}
		dir := b[0]
		if dir != In && dir != Out {
			return out, fmt.Errorf("transcript: bad direction %q", dir)
		}
		ms := binary.BigEndian.Uint32(b[1:5])
		n := binary.BigEndian.Uint32(b[5:9])
		b = b[9:]
		if uint64(n) > uint64(len(b)) {
			return out, errors.New("transcript: truncated chunk")
		}
		out = append(out, Chunk{Dir: dir, Offset: time.Duration(ms) * time.Millisecond, Data: b[:n]})
		b = b[n:]
	}
	return out, nil
}
