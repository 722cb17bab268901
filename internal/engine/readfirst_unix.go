//go:build unix

package engine

import (
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/transcript"
)

// ReadFirst waits until the connection has bytes to read, holding no
// buffer, then takes one from pool (of *[]byte) and reads into it, under
// the same limits as Read. It is how a session's Reader reads first: an
// idle connection holds no buffer, and its first bytes cost one read, not
// a one-byte read and another. The buffer comes back only with n > 0.
func (c *conn) ReadFirst(pool *sync.Pool) (buf *[]byte, n int, err error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		bp := pool.Get().(*[]byte)
		if n, err = c.Read(*bp); n > 0 {
			return bp, n, err
		}
		pool.Put(bp)
		return nil, 0, err
	}
	buf, n, _, err = c.readFirst(sc, pool, true)
	return buf, n, err
}

// PollFirst is ReadFirst when the connection's first bytes, or the error
// that ends it, are in already (ready); when they are not it reads
// nothing and returns ready false. That costs a read(2), which the engine
// spends to run a session on the worker it has at hand when the session
// need not wait (see Engine.handle).
func (c *conn) PollFirst(pool *sync.Pool) (buf *[]byte, n int, ready bool, err error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, 0, false, nil
	}
	return c.readFirst(sc, pool, false)
}

// readFirst is ReadFirst on sc; without wait it is PollFirst.
func (c *conn) readFirst(sc syscall.Conn, pool *sync.Pool, wait bool) (buf *[]byte, n int, ready bool, err error) {
	left := c.maxIn - c.in.Load()
	if left <= 0 {
		c.fail(service.ErrBudget)
		return nil, 0, true, service.ErrBudget
	}
	el, err := c.start()
	if err != nil {
		return nil, 0, true, err
	}
	// The deadline is set here, not in the raw read's callback when it
	// is about to wait: calls made there would grow the stack of a
	// waiting connection's goroutine past its starting size.
	c.arm(dirRead, el)
	rc, err := sc.SyscallConn()
	if err != nil {
		c.fail(err)
		return nil, 0, true, err
	}
	f := firstReads.Get().(*firstRead)
	f.pool, f.left, f.wait = pool, left, wait
	err = rc.Read(f.fn)
	bp, n, rerr, later := f.bp, f.n, f.err, f.later
	*f = firstRead{fn: f.fn}
	firstReads.Put(f)
	switch {
	case err == nil && later:
		return nil, 0, false, nil
	case err != nil:
	case rerr != nil:
		err = &os.SyscallError{Syscall: "read", Err: rerr}
	case n == 0:
		err = io.EOF
	}
	if err != nil {
		if bp != nil {
			pool.Put(bp)
		}
		c.fail(err)
		return nil, 0, true, err
	}
	c.in.Add(int64(n))
	c.tr.Add(transcript.In, (*bp)[:n])
	return bp, n, true, nil
}

// firstRead is the state of one ReadFirst's raw read. They are pooled
// with their callback bound, so that a read allocates neither.
type firstRead struct {
	pool *sync.Pool
	left int64
	wait bool                  // until readable; else later, not waiting
	fn   func(fd uintptr) bool // read, bound once
	// Results.
	bp    *[]byte
	n     int
	err   error
	later bool // nothing to read yet, and not wait
}

var firstReads = sync.Pool{New: func() any {
	f := new(firstRead)
	f.fn = f.read
	return f
}}

// read is called by the raw connection whenever the descriptor may be
// readable; false means wait.
func (f *firstRead) read(fd uintptr) bool {
	bp := f.pool.Get().(*[]byte)
	p := *bp
	if int64(len(p)) > f.left {
		p = p[:f.left]
	}
	var n int
	var err error
	for {
		n, err = syscall.Read(int(fd), p)
		if err != syscall.EINTR {
			break
		}
	}
	if err == syscall.EAGAIN {
		f.pool.Put(bp)
		f.later = !f.wait
		return f.later // false: wait until readable
	}
	f.bp, f.n, f.err = bp, n, err
	return true
}
