// Package jsonl writes every event as one line of JSON (DIR/events.jsonl),
// the schema of docs/events.md, for Filebeat, Vector or jq.
//
// A line is never split: each batch is built in one buffer and written
// with a single write on a file opened with O_APPEND, so lines of
// concurrent batches, or of another process appending to the same file, do
// not interleave. The file is opened once, at start, and kept open: the
// process may drop its privileges later and be unable to open it again.
package jsonl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/smallpot/smallpot/internal/pipeline"
	"github.com/smallpot/smallpot/internal/store/prealloc"
)

// Sink appends events to a JSON-lines file.
type Sink struct {
	mu     sync.Mutex
	f      *os.File
	pre    *prealloc.File
	size   int64 // the file's end, as far as this sink knows
	buf    []byte
	closed bool
}

var _ pipeline.Sink = (*Sink)(nil)

// maxKeep bounds the buffer kept between batches.
const maxKeep = 4 << 20

// Open opens path for appending, creating it (mode 0640) and its
// directory when missing.
func Open(path string) (*Sink, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("jsonl: %w", err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("jsonl: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("jsonl: %w", err)
	}
	return &Sink{f: f, pre: prealloc.New(f), size: fi.Size()}, nil
}

// Name implements pipeline.Sink.
func (s *Sink) Name() string { return "jsonl" }

// Write implements pipeline.Sink: one line per record, the whole batch in
// one write.
func (s *Sink) Write(ctx context.Context, batch []pipeline.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("jsonl: write: %w", os.ErrClosed)
	}
	// A batch as the pipeline delivers it holds its lines end to end:
	// they are written from there, not from a copy.
	buf, shared := pipeline.SharedLines(batch)
	if !shared {
		buf = s.buf[:0]
		for _, r := range batch {
			if len(r.JSON) == 0 {
				continue
			}
			buf = append(buf, r.JSON...)
			buf = append(buf, '\n')
		}
	}
	if len(buf) == 0 {
		return nil
	}
	// Space is reserved ahead of the end (package prealloc): appending
	// into it costs about half the CPU. Should someone else cut or append
	// to the file, the sink's idea of its end is off, which costs at
	// worst a reservation too many or too few.
	s.pre.Reserve(s.size + int64(len(buf)))
	n, err := s.f.Write(buf)
	s.size += int64(n)
	switch {
	case shared: // not the sink's to keep
	case cap(buf) <= maxKeep:
		s.buf = buf[:0]
	default:
		s.buf = nil
	}
	if err != nil {
		return fmt.Errorf("jsonl: write: %w", err)
	}
	return nil
}

// Close syncs and closes the file. It is safe to call more than once.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := errors.Join(s.pre.Release(), s.f.Sync(), s.f.Close()); err != nil {
		return fmt.Errorf("jsonl: close: %w", err)
	}
	return nil
}
