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
	left := c.maxIn - c.in.Load()
	if left <= 0 {
		c.fail(service.ErrBudget)
		return nil, 0, service.ErrBudget
	}
	if err := c.ctx.Err(); err != nil {
		c.fail(err)
		return nil, 0, os.ErrDeadlineExceeded
	}
	rd, _ := c.own()
	_ = c.Conn.SetReadDeadline(c.deadline(rd))
	if c.ctx.Err() != nil {
		_ = c.Conn.SetReadDeadline(past)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		c.fail(err)
		return nil, 0, err
	}
	var (
		bp   *[]byte
		rerr error
	)
	err = rc.Read(func(fd uintptr) bool {
		bp = pool.Get().(*[]byte)
		p := *bp
		if int64(len(p)) > left {
			p = p[:left]
		}
		for {
			n, rerr = syscall.Read(int(fd), p)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			pool.Put(bp)
			bp = nil
			return false // wait until readable
		}
		return true
	})
	switch {
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
		return nil, 0, err
	}
	c.in.Add(int64(n))
	c.tr.Add(transcript.In, (*bp)[:n])
	return bp, n, nil
}
