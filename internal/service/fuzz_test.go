package service_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/smallpot/smallpot/internal/service"
)

// FuzzReadLine reads any input, split across reads of any size, line by
// line with any bound (skipping the rest of long lines with DiscardLine
// when discard is set), and checks that no line is longer than the bound,
// that a line cut at the bound has exactly max bytes, and that the lines
// with their terminators give back the input byte for byte.
func FuzzReadLine(f *testing.F) {
	for _, seed := range []struct {
		input string
		max   uint8
		chunk uint8
	}{
		{"one\ntwo\n", 10, 3},
		{"one\r\ntwo\r\n", 3, 1},
		{"abcd\r\nz\n", 4, 2},
		{"abcd\rx\n", 4, 1},
		{"abcd\r", 4, 5},
		{"\n\r\n\n", 0, 1},
		{"GET /default.ida?NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN HTTP/1.0\r\n\r\n", 16, 7},
		{"no newline at all", 5, 4},
		{"\r\r\r\n\r", 1, 1},
	} {
		f.Add([]byte(seed.input), seed.max, seed.chunk, false)
		f.Add([]byte(seed.input), seed.max, seed.chunk, true)
	}
	f.Fuzz(func(t *testing.T, input []byte, max, chunk uint8, discard bool) {
		n := int(max) % 64
		r := service.NewReader(&chunked{data: bytes.Clone(input), n: int(chunk)%32 + 1}, 16)
		pos := 0
		for calls := 0; ; calls++ {
			if calls > 2*len(input)+2 {
				t.Fatalf("no progress after %d calls at %d of %d bytes", calls, pos, len(input))
			}
			line, err := r.ReadLine(n)
			if len(line) > n {
				t.Fatalf("got a line of %d bytes; want at most %d", len(line), n)
			}
			if !bytes.HasPrefix(input[pos:], line) {
				t.Fatalf("at %d got line %q; want a prefix of %q", pos, line, input[pos:])
			}
			pos += len(line)
			switch {
			case err == nil:
				if bytes.IndexByte(line, '\n') >= 0 {
					t.Fatalf("got line %q containing a newline", line)
				}
				// The line ended at "\n" or "\r\n" in the input, and
				// its "\r" is not returned.
				switch {
				case bytes.HasPrefix(input[pos:], []byte("\r\n")):
					pos += 2
				case bytes.HasPrefix(input[pos:], []byte("\n")):
					if bytes.HasSuffix(line, []byte("\r")) {
						t.Fatalf("got line %q; want its \"\\r\\n\" removed", line)
					}
					pos++
				default:
					t.Fatalf("at %d line %q returned without a terminator after it (%q)", pos, line, input[pos:])
				}
			case errors.Is(err, service.ErrLineTooLong):
				if len(line) != n {
					t.Fatalf("got %d bytes with ErrLineTooLong; want exactly %d", len(line), n)
				}
				if pos == len(input) {
					t.Fatalf("ErrLineTooLong with the whole input consumed; the rest of the line should be unread")
				}
				if rest := input[pos:]; rest[0] == '\n' || bytes.HasPrefix(rest, []byte("\r\n")) {
					t.Fatalf("line %q of %d bytes reported too long for %d", line, len(line), n)
				}
				if discard || n == 0 {
					// Skip the rest of the line: up to and including
					// its "\n", or to the end of the input.
					k, err := r.DiscardLine(len(input) + 1)
					want := bytes.IndexByte(input[pos:], '\n') + 1
					if want == 0 {
						want = len(input) - pos
					}
					if k != want {
						t.Fatalf("DiscardLine at %d skipped %d bytes (%v); want %d", pos, k, err, want)
					}
					pos += k
				}
			case errors.Is(err, io.EOF):
				if pos != len(input) {
					t.Fatalf("io.EOF at %d of %d bytes", pos, len(input))
				}
				return
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
	})
}
