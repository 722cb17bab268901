package service

import (
	"bytes"
	"io"
	"sync"
	"sync/atomic"
)

// Reader is the buffered reader of one session. Every line it returns is
// bounded, and it holds no buffer until the first byte arrives: the buffer
// comes from a pool then and goes back when the session ends, so ten
// thousand connections that never send anything cost no read buffers.
type Reader struct {
	src  io.Reader
	size int
	buf  []byte     // nil while idle
	bufp *[]byte    // buf as its pool holds it
	pool *sync.Pool // bufp's
	r, w int
	err  error
	one  [1]byte
}

// sizedPool is a pool of read buffers of one size.
type sizedPool struct {
	size int
	pool sync.Pool // of *[]byte
}

var (
	bufPools sync.Map                  // size -> *sizedPool
	lastPool atomic.Pointer[sizedPool] // the one bufPool returned last
)

// bufPool returns the pool of read buffers of one size. Sessions mostly
// ask for the same size: it is found without a look-up.
func bufPool(size int) *sync.Pool {
	if p := lastPool.Load(); p != nil && p.size == size {
		return &p.pool
	}
	v, ok := bufPools.Load(size)
	if !ok {
		p := &sizedPool{size: size}
		p.pool.New = func() any { b := make([]byte, size); return &b }
		v, _ = bufPools.LoadOrStore(size, p)
	}
	p := v.(*sizedPool)
	lastPool.Store(p)
	return &p.pool
}

// NewReader returns a Reader over src, for protocols that parse a byte
// slice or a sub-stream the same way they parse a session.
func NewReader(src io.Reader, size int) *Reader {
	return &Reader{src: src, size: size}
}

func (b *Reader) release() {
	if b.buf != nil {
		b.pool.Put(b.bufp)
		b.buf, b.bufp, b.pool, b.r, b.w = nil, nil, nil, 0, 0
	}
}

// Buffered returns how many bytes can be read without touching the network.
func (b *Reader) Buffered() int { return b.w - b.r }

// minBuf is the smallest read buffer: ReadLine keeps a '\r' at its bound
// buffered while it reads on to see whether '\n' follows.
const minBuf = 16

func (b *Reader) bufSize() int {
	switch {
	case b.size <= 0:
		return 4096
	case b.size < minBuf:
		return minBuf
	}
	return b.size
}

// firstReader is a source that waits for its first bytes holding no
// buffer, then reads them into one from pool (a pool of *[]byte, all of
// one size): the engine's connection. It returns the buffer only with
// n > 0.
type firstReader interface {
	ReadFirst(pool *sync.Pool) (buf *[]byte, n int, err error)
}

// firstPoller is a first-reading source that can also take its first
// bytes only if they are in already: the engine's connection.
// PollFirst is ReadFirst that does not wait: ready is false, and nothing
// is read, when a read would wait.
type firstPoller interface {
	PollFirst(pool *sync.Pool) (buf *[]byte, n int, ready bool, err error)
}

// Fill reads once from the source when nothing is buffered, and keeps
// what arrived (or the error) for the next read. The engine calls it for
// a ClientFirst handler.
func (b *Reader) Fill() {
	if b.r == b.w {
		b.fill()
	}
}

// TryFill is Fill for a reader that has read nothing yet, when the first
// bytes (or the error that ends the input) are in already: it reports
// whether the reader holds them now. False means a read would wait, or
// the source cannot tell without waiting, and the reader is as it was.
// The engine calls it so that a ClientFirst handler's session whose
// client has spoken already need not wait on a goroutine of its own.
func (b *Reader) TryFill() bool {
	if b.r < b.w || b.err != nil {
		return true
	}
	fp, ok := b.src.(firstPoller)
	if !ok || b.buf != nil {
		return false
	}
	b.size = b.bufSize()
	pool := bufPool(b.size)
	buf, n, ready, err := fp.PollFirst(pool)
	if ready {
		b.first(pool, buf, n, err)
	}
	return ready
}

// fill reads once from the source. With no buffer it waits for the first
// bytes before it takes one (with a one-byte read if the source cannot
// wait otherwise), so an idle connection holds none.
func (b *Reader) fill() {
	if b.err != nil {
		return
	}
	if b.buf == nil {
		b.size = b.bufSize()
		if fr, ok := b.src.(firstReader); ok {
			pool := bufPool(b.size)
			buf, n, err := fr.ReadFirst(pool)
			b.first(pool, buf, n, err)
			return
		}
		n, err := b.src.Read(b.one[:])
		if n == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			b.err = err
			return
		}
		b.pool = bufPool(b.size)
		b.bufp = b.pool.Get().(*[]byte)
		b.buf = *b.bufp
		b.buf[0] = b.one[0]
		b.r, b.w = 0, 1
		b.err = err
		return
	}
	if b.r > 0 {
		copy(b.buf, b.buf[b.r:b.w])
		b.w -= b.r
		b.r = 0
	}
	if b.w == len(b.buf) {
		return
	}
	n, err := b.src.Read(b.buf[b.w:])
	b.w += n
	if n == 0 && err == nil {
		err = io.ErrNoProgress
	}
	b.err = err
}

// first keeps what the first read brought: n bytes in buf, from pool,
// or err.
func (b *Reader) first(pool *sync.Pool, buf *[]byte, n int, err error) {
	if n <= 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		b.err = err
		return
	}
	b.buf, b.bufp, b.pool, b.r, b.w, b.err = *buf, buf, pool, 0, n, err
}

// drained is called whenever bytes are consumed. The buffer stays with
// the session once allocated: giving it back on every drain would turn
// each later read into a one-byte read.
func (b *Reader) drained() {}

func (b *Reader) readErr() error {
	err := b.err
	b.err = nil
	return err
}

// Read implements io.Reader.
func (b *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.r == b.w {
		if b.err != nil {
			return 0, b.readErr()
		}
		if len(p) >= b.bufSize() {
			// Large read: straight from the source, with no buffer (and
			// no one-byte read first).
			b.release()
			return b.src.Read(p)
		}
		b.fill()
		if b.r == b.w {
			return 0, b.readErr()
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	b.drained()
	return n, nil
}

// ReadByte reads one byte.
func (b *Reader) ReadByte() (byte, error) {
	for b.r == b.w {
		if b.err != nil {
			return 0, b.readErr()
		}
		b.fill()
	}
	c := b.buf[b.r]
	b.r++
	b.drained()
	return c, nil
}

// ReadLine returns the next line without its "\n" or "\r\n", as a copy the
// caller owns. A line longer than max bytes (not counting its "\n" or
// "\r\n") returns its first max bytes and ErrLineTooLong; the rest of that
// line stays unread (DiscardLine skips it). At end of input a last line
// without newline is returned with the error (io.EOF) that ended it.
func (b *Reader) ReadLine(max int) ([]byte, error) {
	if max < 0 {
		max = 0
	}
	var out []byte
	for {
		if b.r < b.w {
			chunk := b.buf[b.r:b.w]
			if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
				n := len(out) + i // the line's length, "\r" not counted
				if i > 0 && chunk[i-1] == '\r' || i == 0 && len(out) > 0 && out[len(out)-1] == '\r' {
					n--
				}
				if n <= max {
					out = append(out, chunk[:i]...)
					b.r += i + 1
					b.drained()
					if n := len(out); n > 0 && out[n-1] == '\r' {
						out = out[:n-1]
					}
					if out == nil {
						out = []byte{}
					}
					return out, nil
				}
				take := max - len(out)
				out = append(out, chunk[:take]...)
				b.r += take
				b.drained()
				return out, ErrLineTooLong
			}
			room := max - len(out)
			switch {
			case len(chunk) <= room:
				out = append(out, chunk...)
				b.r = b.w
			case len(chunk) == room+1 && chunk[room] == '\r':
				// One byte past the bound, a '\r': the line still fits
				// if '\n' follows. Keep the '\r' buffered and read on.
				out = append(out, chunk[:room]...)
				b.r += room
			default:
				out = append(out, chunk[:room]...)
				b.r += room
				b.drained()
				return out, ErrLineTooLong
			}
			b.drained()
		}
		if b.err != nil {
			if b.r < b.w {
				// The input ended on a '\r' past the bound.
				return out, ErrLineTooLong
			}
			return out, b.readErr()
		}
		b.fill()
	}
}

// DiscardLine skips input up to and including the next newline, reading at
// most max bytes; it reports how many it skipped.
func (b *Reader) DiscardLine(max int) (int, error) {
	n := 0
	for n < max {
		c, err := b.ReadByte()
		if err != nil {
			return n, err
		}
		n++
		if c == '\n' {
			return n, nil
		}
	}
	return n, ErrLineTooLong
}

// Discard skips the next n bytes, reading as needed, and returns how many
// it skipped, as bufio.Reader's does.
func (b *Reader) Discard(n int) (int, error) {
	done := 0
	for done < n {
		if b.r == b.w {
			if b.err != nil {
				return done, b.readErr()
			}
			b.fill()
			continue
		}
		k := min(n-done, b.w-b.r)
		b.r += k
		done += k
		b.drained()
	}
	return done, nil
}

// ReadFull reads exactly n bytes into a new slice; n is the caller's
// bound.
func (b *Reader) ReadFull(n int) ([]byte, error) {
	out := make([]byte, n)
	got, err := io.ReadFull(b, out)
	return out[:got], err
}

// Peek returns up to n buffered bytes without consuming them, reading
// from the network once if nothing is buffered. The slice is valid until
// the next read.
func (b *Reader) Peek(n int) ([]byte, error) {
	if b.r == b.w {
		if b.err != nil {
			return nil, b.readErr()
		}
		b.fill()
	}
	avail := b.w - b.r
	if n > avail {
		n = avail
	}
	if n == 0 {
		return nil, b.readErr()
	}
	return b.buf[b.r : b.r+n], nil
}
