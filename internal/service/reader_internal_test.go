package service

import (
	"io"
	"strings"
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
