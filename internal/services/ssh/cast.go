package ssh

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"
)

// cast records a shell session as an asciicast v2 file, the format
// asciinema replays: a header line, then one JSON array per event,
// [seconds, "o"|"i"|"r", data] for output, input and a resize. It is
// bounded: events past max are dropped, and the header says so in its
// title. It is safe for concurrent use (a window change arrives on
// another goroutine than the session's I/O).
type cast struct {
	mu    sync.Mutex
	start time.Time
	now   func() time.Time
	max   int
	buf   []byte
	cut   bool
	head  castHeader
}

type castHeader struct {
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp"`
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
}

func newCast(now func() time.Time, width, height int, env map[string]string, max int) *cast {
	t := now()
	if width <= 0 || width > 1000 {
		width = 80
	}
	if height <= 0 || height > 1000 {
		height = 24
	}
	return &cast{start: t, now: now, max: max,
		head: castHeader{Version: 2, Width: width, Height: height, Timestamp: t.Unix(), Env: env}}
}

// add records one event.
func (c *cast) add(kind string, data []byte) {
	if c == nil || len(data) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return
	}
	d := c.now().Sub(c.start).Seconds()
	line := make([]byte, 0, 32+len(data)+len(data)/8)
	line = append(line, '[')
	line = strconv.AppendFloat(line, max(d, 0), 'f', 6, 64)
	line = append(line, `,"`...)
	line = append(line, kind...)
	line = append(line, `",`...)
	s, _ := json.Marshal(string(data))
	line = append(line, s...)
	line = append(line, "]\n"...)
	if len(c.buf)+len(line) > c.max {
		c.cut = true
		return
	}
	c.buf = append(c.buf, line...)
}

func (c *cast) output(p []byte) { c.add("o", p) }
func (c *cast) input(p []byte)  { c.add("i", p) }

// resize records a window change.
func (c *cast) resize(w, h int) {
	if w <= 0 || h <= 0 || w > 1000 || h > 1000 {
		return
	}
	c.add("r", []byte(strconv.Itoa(w)+"x"+strconv.Itoa(h)))
}

// bytes returns the recording.
func (c *cast) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.head
	if c.cut {
		h.Title = "cut at " + strconv.Itoa(c.max) + " bytes"
	}
	head, _ := json.Marshal(h)
	out := make([]byte, 0, len(head)+1+len(c.buf))
	out = append(out, head...)
	out = append(out, '\n')
	return append(out, c.buf...)
}
