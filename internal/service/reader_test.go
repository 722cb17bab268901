package service_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/smallpot/smallpot/internal/service"
)

// chunked returns src's bytes in pieces of at most n bytes per Read, as a
// network connection does.
type chunked struct {
	data []byte
	n    int
	err  error // returned once data is spent (io.EOF when nil)
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n := min(len(p), c.n, len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// step is one call in a reader test and what it should return.
type step struct {
	op   string // line, discard, read, full, peek, byte
	n    int    // max for line/discard, size for read/full/peek
	want string
	err  error
}

func runSteps(t *testing.T, r *service.Reader, steps []step) {
	t.Helper()
	for i, s := range steps {
		var got []byte
		var err error
		switch s.op {
		case "line":
			got, err = r.ReadLine(s.n)
		case "discard":
			var n int
			n, err = r.DiscardLine(s.n)
			got = []byte(strings.Repeat("x", n))
		case "read":
			buf := make([]byte, s.n)
			var n int
			n, err = r.Read(buf)
			got = buf[:n]
		case "full":
			got, err = r.ReadFull(s.n)
		case "peek":
			got, err = r.Peek(s.n)
			got = bytes.Clone(got)
		case "byte":
			var c byte
			if c, err = r.ReadByte(); err == nil {
				got = []byte{c}
			}
		default:
			t.Fatalf("step %d: unknown op %q", i, s.op)
		}
		if string(got) != s.want || !errors.Is(err, s.err) || (s.err == nil && err != nil) {
			t.Fatalf("step %d %s(%d): got %q, %v; want %q, %v", i, s.op, s.n, got, err, s.want, s.err)
		}
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name  string
		input string
		steps []step
	}{
		{"lf", "one\ntwo\n", []step{
			{op: "line", n: 10, want: "one"}, {op: "line", n: 10, want: "two"},
			{op: "line", n: 10, want: "", err: io.EOF},
		}},
		{"crlf", "one\r\ntwo\r\n", []step{
			{op: "line", n: 10, want: "one"}, {op: "line", n: 10, want: "two"},
			{op: "line", n: 10, want: "", err: io.EOF},
		}},
		{"empty lines", "\n\r\n\n", []step{
			{op: "line", n: 10, want: ""}, {op: "line", n: 10, want: ""}, {op: "line", n: 10, want: ""},
			{op: "line", n: 10, want: "", err: io.EOF},
		}},
		{"lone cr stays in the line", "a\rb\r\n", []step{
			{op: "line", n: 10, want: "a\rb"},
		}},
		{"last line without newline", "one\npartial", []step{
			{op: "line", n: 10, want: "one"}, {op: "line", n: 10, want: "partial", err: io.EOF},
		}},
		{"last line ends in cr", "end\r", []step{
			{op: "line", n: 10, want: "end\r", err: io.EOF},
		}},
		{"exactly max with lf", "abcd\nz\n", []step{
			{op: "line", n: 4, want: "abcd"}, {op: "line", n: 4, want: "z"},
		}},
		{"exactly max with crlf", "abcd\r\nz\n", []step{
			{op: "line", n: 4, want: "abcd"}, {op: "line", n: 4, want: "z"},
		}},
		{"too long: max bytes, rest unread", "abcdefgh\nz\n", []step{
			{op: "line", n: 3, want: "abc", err: service.ErrLineTooLong},
			{op: "line", n: 3, want: "def", err: service.ErrLineTooLong},
			{op: "line", n: 3, want: "gh"},
			{op: "line", n: 3, want: "z"},
		}},
		{"too long by a cr not followed by lf", "abcd\rx\n", []step{
			{op: "line", n: 4, want: "abcd", err: service.ErrLineTooLong},
			{op: "line", n: 4, want: "\rx"},
		}},
		{"too long at eof on a cr", "abcd\r", []step{
			{op: "line", n: 4, want: "abcd", err: service.ErrLineTooLong},
			{op: "line", n: 4, want: "\r", err: io.EOF},
		}},
		{"discard the rest of a long line", "abcdefgh\r\nnext\r\n", []step{
			{op: "line", n: 3, want: "abc", err: service.ErrLineTooLong},
			{op: "discard", n: 100, want: "xxxxxxx"}, // "defgh\r\n"
			{op: "line", n: 10, want: "next"},
		}},
		{"discard bounded", "abcdefgh\nnext\n", []step{
			{op: "discard", n: 4, want: "xxxx", err: service.ErrLineTooLong},
			{op: "discard", n: 10, want: "xxxxx"},
			{op: "line", n: 10, want: "next"},
		}},
		{"max zero", "\nab\n", []step{
			{op: "line", n: 0, want: ""},
			{op: "line", n: 0, want: "", err: service.ErrLineTooLong},
		}},
		{"line then binary", "LEN 5\r\nhello\r\nQUIT\r\n", []step{
			{op: "line", n: 10, want: "LEN 5"},
			{op: "full", n: 5, want: "hello"},
			{op: "line", n: 10, want: ""},
			{op: "peek", n: 2, want: "QU"},
			{op: "byte", want: "Q"},
			{op: "read", n: 2, want: "UI"},
			{op: "line", n: 10, want: "T"},
			{op: "read", n: 10, want: "", err: io.EOF},
		}},
		{"peek then line", "GET / HTTP/1.0\r\n", []step{
			{op: "peek", n: 3, want: "G"}, // the first read is one byte: no buffer while idle
			{op: "peek", n: 3, want: "G"},
			{op: "byte", want: "G"},
			{op: "peek", n: 3, want: "ET "},
			{op: "line", n: 100, want: "ET / HTTP/1.0"},
		}},
		{"read full short", "abc", []step{
			{op: "full", n: 5, want: "abc", err: io.ErrUnexpectedEOF},
		}},
		{"large read goes past the buffer", "0123456789abcdefghijklmnopqrstuvwxyz", []step{
			{op: "byte", want: "0"},
			{op: "read", n: 64, want: "123456789abcdefghijklmnopqrstuvwxyz"},
			{op: "read", n: 64, want: "", err: io.EOF},
		}},
	}
	for _, tt := range tests {
		// Lines do not depend on how the input is split across reads;
		// Read and Peek return what one read brought, so tables using
		// them run with whole reads into a 4KiB buffer only.
		chunks, size := []int{1, 2, 3, 1000}, 16
		if usesRawReads(tt.steps) {
			chunks, size = []int{1000}, 4096
		}
		for _, chunk := range chunks {
			t.Run(tt.name, func(t *testing.T) {
				src := &chunked{data: []byte(tt.input), n: chunk}
				runSteps(t, service.NewReader(src, size), tt.steps)
			})
		}
	}
}

func usesRawReads(steps []step) bool {
	for _, s := range steps {
		if s.op == "read" || s.op == "peek" || s.op == "full" {
			return true
		}
	}
	return false
}

// A line at the bound is the same line whether it ends in LF or CRLF, for
// every way the bytes can be split across reads.
func TestReadLineBoundCRLF(t *testing.T) {
	for _, size := range []int{16, 17, 64} {
		for max := 1; max < 40; max++ {
			line := strings.Repeat("x", max)
			for _, term := range []string{"\n", "\r\n"} {
				input := line + term + "next" + term
				for chunk := 1; chunk <= len(input); chunk++ {
					r := service.NewReader(&chunked{data: []byte(input), n: chunk}, size)
					got, err := r.ReadLine(max)
					if err != nil || string(got) != line {
						t.Fatalf("size %d max %d term %q chunk %d: got %q, %v; want %q, nil", size, max, term, chunk, got, err, line)
					}
					got, err = r.ReadLine(10)
					if err != nil || string(got) != "next" {
						t.Fatalf("size %d max %d term %q chunk %d: second line got %q, %v; want %q", size, max, term, chunk, got, err, "next")
					}
				}
			}
		}
	}
}

func TestReadLineErrorKeptUntilReturned(t *testing.T) {
	boom := errors.New("boom")
	r := service.NewReader(&chunked{data: []byte("abc"), n: 10, err: boom}, 16)
	got, err := r.ReadLine(10)
	if string(got) != "abc" || !errors.Is(err, boom) {
		t.Fatalf("got %q, %v; want %q, %v", got, err, "abc", boom)
	}
}

func TestReadLineReturnsCopy(t *testing.T) {
	r := service.NewReader(strings.NewReader("first\nsecond\n"), 64)
	a, _ := r.ReadLine(10)
	b, _ := r.ReadLine(10)
	if string(a) != "first" || string(b) != "second" {
		t.Fatalf("got %q, %q; want %q, %q", a, b, "first", "second")
	}
}

func TestReaderOneByteReader(t *testing.T) {
	r := service.NewReader(iotest.OneByteReader(strings.NewReader("a\r\nbb\n")), 16)
	for _, want := range []string{"a", "bb"} {
		got, err := r.ReadLine(5)
		if err != nil || string(got) != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
}

// sizeSpy records the size of every Read it is asked for.
type sizeSpy struct {
	src   io.Reader
	sizes []int
}

func (s *sizeSpy) Read(p []byte) (int, error) {
	s.sizes = append(s.sizes, len(p))
	return s.src.Read(p)
}

func TestReaderNoBufferBeforeFirstByte(t *testing.T) {
	tests := []struct {
		name string
		call func(r *service.Reader)
	}{
		{"ReadLine", func(r *service.Reader) { _, _ = r.ReadLine(100) }},
		{"ReadByte", func(r *service.Reader) { _, _ = r.ReadByte() }},
		{"Peek", func(r *service.Reader) { _, _ = r.Peek(10) }},
		{"small Read", func(r *service.Reader) { _, _ = r.Read(make([]byte, 10)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spy := &sizeSpy{src: strings.NewReader("hello\n")}
			r := service.NewReader(spy, 4096)
			tt.call(r)
			if len(spy.sizes) == 0 || spy.sizes[0] != 1 {
				t.Fatalf("got first read sizes %v; want a first read of 1 byte", spy.sizes)
			}
		})
	}
	t.Run("large Read", func(t *testing.T) {
		spy := &sizeSpy{src: strings.NewReader("hello\n")}
		r := service.NewReader(spy, 16)
		buf := make([]byte, 64)
		n, err := r.Read(buf)
		if err != nil || string(buf[:n]) != "hello\n" {
			t.Fatalf("got %q, %v; want %q", buf[:n], err, "hello\n")
		}
		if len(spy.sizes) != 1 || spy.sizes[0] != 64 {
			t.Fatalf("got read sizes %v; want one read straight into the caller's 64 bytes", spy.sizes)
		}
	})
}

func TestReaderIdleAllocatesNothing(t *testing.T) {
	// A source with nothing to say: the reader must not allocate a
	// buffer for it.
	// An unusual size: its buffer pool is empty, so taking a buffer
	// would show as an allocation.
	r := service.NewReader(iotest.TimeoutReader(strings.NewReader("")), 4099)
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = r.ReadByte()
	})
	if allocs != 0 {
		t.Fatalf("got %v allocations per idle read; want 0", allocs)
	}
}

func BenchmarkReadLine(b *testing.B) {
	var in bytes.Buffer
	for range 1000 {
		in.WriteString("GET /scripts/..%255c../winnt/system32/cmd.exe?/c+dir HTTP/1.0\r\n")
	}
	data := in.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := service.NewReader(bytes.NewReader(data), 4096)
		for {
			if _, err := r.ReadLine(1024); err != nil {
				break
			}
		}
	}
}

// Discard skips what is buffered and reads on for the rest, as
// bufio.Reader's does, and reports the input's end with what it skipped.
func TestDiscard(t *testing.T) {
	r := service.NewReader(&chunked{data: []byte("abcdefghij"), n: 3}, 16)
	if p, err := r.Peek(3); string(p) != "a" || err != nil {
		t.Fatalf("Peek: %q, %v", p, err) // the first read is of one byte
	}
	if n, err := r.Discard(2); n != 2 || err != nil {
		t.Fatalf("Discard(2): %d, %v", n, err)
	}
	if n, err := r.Discard(5); n != 5 || err != nil {
		t.Fatalf("Discard(5) past the buffer: %d, %v", n, err)
	}
	if b, err := r.ReadByte(); b != 'h' || err != nil {
		t.Fatalf("after discarding: %q, %v; want 'h'", b, err)
	}
	if n, err := r.Discard(5); n != 2 || err != io.EOF {
		t.Fatalf("Discard(5) of 2 left: %d, %v; want 2, EOF", n, err)
	}
	if n, err := r.Discard(0); n != 0 || err != nil {
		t.Fatalf("Discard(0): %d, %v", n, err)
	}
}
