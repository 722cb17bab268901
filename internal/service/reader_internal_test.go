package service

import (
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
)

// The buffer exists only once bytes arrived, and goes back on release.
func TestReaderBufferLifetime(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewReader(pr, 4096)
	errc := make(chan error, 1)
	go func() {
		// Nothing sent yet: the reader is blocked in its one-byte read.
		_, err := pw.Write([]byte("x"))
		errc <- err
	}()
	if r.buf != nil {
		t.Fatalf("got a buffer of %d bytes before any read; want none", len(r.buf))
	}
	c, err := r.ReadByte()
	if err != nil || c != 'x' {
		t.Fatalf("got %q, %v; want 'x'", c, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if len(r.buf) != 4096 {
		t.Fatalf("got buffer of %d bytes after data; want 4096", len(r.buf))
	}
	r.release()
	if r.buf != nil || r.Buffered() != 0 {
		t.Fatalf("got buffer %d bytes, %d buffered after release; want none", len(r.buf), r.Buffered())
	}
	_ = pw.Close()
}

func TestReaderNoBufferWhenNothingArrives(t *testing.T) {
	r := NewReader(strings.NewReader(""), 4096)
	if _, err := r.ReadLine(10); err != io.EOF {
		t.Fatalf("got %v; want io.EOF", err)
	}
	if r.buf != nil {
		t.Fatalf("got a %d-byte buffer for a source that sent nothing; want none", len(r.buf))
	}
}

// firstSource is a source that can wait for its first bytes (the engine's
// connection): it hands them over in a buffer from the pool it is given.
type firstSource struct {
	data  []string // what each ReadFirst or Read returns, in turn
	err   error    // once data runs out
	calls []string
	pools []*sync.Pool
}

func (s *firstSource) next() (string, error) {
	if len(s.data) == 0 {
		return "", s.err
	}
	d := s.data[0]
	s.data = s.data[1:]
	return d, nil
}

func (s *firstSource) ReadFirst(pool *sync.Pool) (*[]byte, int, error) {
	s.calls = append(s.calls, "first")
	s.pools = append(s.pools, pool)
	d, err := s.next()
	if d == "" {
		return nil, 0, err
	}
	bp := pool.Get().(*[]byte)
	return bp, copy(*bp, d), nil
}

func (s *firstSource) Read(p []byte) (int, error) {
	s.calls = append(s.calls, "read")
	d, err := s.next()
	return copy(p, d), err
}

// Fill takes the first bytes through ReadFirst, in a buffer of the
// reader's size from its pool, which goes back on release; later reads
// are ordinary ones.
func TestReaderFirstRead(t *testing.T) {
	src := &firstSource{data: []string{"GET / HTTP/1.0\r\n", "Host: x\r\n"}, err: io.EOF}
	r := NewReader(src, 64)
	r.Fill()
	if r.Buffered() != 16 || len(r.buf) != 64 {
		t.Fatalf("after Fill: %d buffered in a %d-byte buffer; want 16 in 64", r.Buffered(), len(r.buf))
	}
	r.Fill() // bytes are buffered: nothing to read
	for _, want := range []string{"GET / HTTP/1.0", "Host: x"} {
		if line, err := r.ReadLine(100); string(line) != want || err != nil {
			t.Fatalf("got %q, %v; want %q", line, err, want)
		}
	}
	if _, err := r.ReadLine(100); err != io.EOF {
		t.Fatalf("got %v at the end; want io.EOF", err)
	}
	if got := strings.Join(src.calls, ","); got != "first,read,read" {
		t.Errorf("calls %s; want first,read,read", got)
	}
	if src.pools[0] != bufPool(64) {
		t.Error("ReadFirst got another pool than the one of 64-byte buffers")
	}
	r.release()
	if r.buf != nil || r.bufp != nil {
		t.Fatal("buffer kept after release")
	}
}

// A wait that ends without bytes holds no buffer, and its error is the
// next read's.
func TestReaderFirstReadError(t *testing.T) {
	src := &firstSource{err: os.ErrDeadlineExceeded}
	r := NewReader(src, 64)
	r.Fill()
	if r.buf != nil {
		t.Fatal("got a buffer though nothing arrived")
	}
	if _, err := r.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v; want the wait's error", err)
	}
}

// pollSource is a firstSource that can tell whether its first bytes are
// in without waiting: they are once in is set.
type pollSource struct {
	firstSource
	in bool
}

func (s *pollSource) PollFirst(pool *sync.Pool) (*[]byte, int, bool, error) {
	if !s.in {
		s.calls = append(s.calls, "poll")
		return nil, 0, false, nil
	}
	bp, n, err := s.ReadFirst(pool)
	return bp, n, true, err
}

// TryFill takes the first bytes when they are in, and leaves the reader
// as it was when they are not or the source cannot tell.
func TestReaderTryFill(t *testing.T) {
	src := &pollSource{firstSource: firstSource{data: []string{"GET / HTTP/1.0\r\n"}, err: io.EOF}}
	r := NewReader(src, 64)
	if r.TryFill() || r.buf != nil || r.err != nil {
		t.Fatalf("nothing in: TryFill true or the reader changed (buffer %v, error %v)", r.buf != nil, r.err)
	}
	src.in = true
	if !r.TryFill() || r.Buffered() != 16 || len(r.buf) != 64 {
		t.Fatalf("bytes in: %d buffered in a %d-byte buffer; want 16 in 64", r.Buffered(), len(r.buf))
	}
	if !r.TryFill() {
		t.Error("TryFill false with bytes buffered")
	}
	if line, err := r.ReadLine(100); string(line) != "GET / HTTP/1.0" || err != nil {
		t.Fatalf("got %q, %v", line, err)
	}
	if got := strings.Join(src.calls, ","); got != "poll,first" {
		t.Errorf("calls %s; want poll,first", got)
	}
	r.release()

	// The end of input is in too: the next read gets it.
	src = &pollSource{firstSource: firstSource{err: io.EOF}, in: true}
	r = NewReader(src, 64)
	if !r.TryFill() || r.buf != nil {
		t.Fatal("end of input: TryFill false or a buffer taken")
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("got %v; want io.EOF", err)
	}

	// A source that cannot tell: nothing is read.
	fs := &firstSource{data: []string{"x"}}
	r = NewReader(fs, 64)
	if r.TryFill() || len(fs.calls) != 0 {
		t.Errorf("source without PollFirst: TryFill read (calls %v)", fs.calls)
	}
}
