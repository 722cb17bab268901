package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/transcript"
)

// conn is the connection a handler sees: every read and write is held to
// the idle timeout and the session's end, counted against the byte
// budgets, and copied into the bounded transcript.
type conn struct {
	net.Conn
	idle     time.Duration
	end      time.Time // the session's maximum duration
	maxIn    int64
	maxOut   int64
	in, out  atomic.Int64
	tr       *transcript.Recorder
	ctx      context.Context
	mu       sync.Mutex
	firstErr error // the first error that ended I/O
}

func (c *conn) deadline() time.Time {
	d := time.Now().Add(c.idle)
	if c.end.Before(d) {
		return c.end
	}
	return d
}

func (c *conn) fail(err error) {
	c.mu.Lock()
	if c.firstErr == nil {
		c.firstErr = err
	}
	c.mu.Unlock()
}

func (c *conn) Read(p []byte) (int, error) {
	left := c.maxIn - c.in.Load()
	if left <= 0 {
		c.fail(service.ErrBudget)
		return 0, service.ErrBudget
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	if err := c.ctx.Err(); err != nil {
		c.fail(err)
		return 0, os.ErrDeadlineExceeded
	}
	_ = c.Conn.SetReadDeadline(c.deadline())
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.in.Add(int64(n))
		c.tr.Add(transcript.In, p[:n])
	}
	if err != nil {
		c.fail(err)
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	left := c.maxOut - c.out.Load()
	budgetHit := false
	if int64(len(p)) > left {
		p, budgetHit = p[:max(left, 0)], true
	}
	if err := c.ctx.Err(); err != nil {
		c.fail(err)
		return 0, os.ErrDeadlineExceeded
	}
	var n int
	var err error
	if len(p) > 0 {
		_ = c.Conn.SetWriteDeadline(c.deadline())
		n, err = c.Conn.Write(p)
		if n > 0 {
			c.out.Add(int64(n))
			c.tr.Add(transcript.Out, p[:n])
		}
	}
	if err == nil && budgetHit {
		err = service.ErrBudget
	}
	if err != nil {
		c.fail(err)
	}
	return n, err
}

// SetDeadline and friends may only shorten what the engine allows.
func (c *conn) SetDeadline(t time.Time) error      { return c.Conn.SetDeadline(c.clamp(t)) }
func (c *conn) SetReadDeadline(t time.Time) error  { return c.Conn.SetReadDeadline(c.clamp(t)) }
func (c *conn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.clamp(t)) }

func (c *conn) clamp(t time.Time) time.Time {
	if t.IsZero() || t.After(c.end) {
		return c.end
	}
	return t
}

// reason names why the session ended, from the first error its I/O saw.
func (c *conn) reason(handlerDone bool) string {
	c.mu.Lock()
	err := c.firstErr
	c.mu.Unlock()
	ctxErr := c.ctx.Err()
	switch {
	case err == nil && ctxErr == nil:
		if handlerDone {
			return event.ReasonServer
		}
		return event.ReasonError
	case errors.Is(err, service.ErrBudget):
		return event.ReasonBudget
	case errors.Is(ctxErr, context.DeadlineExceeded):
		return event.ReasonMaxDuration
	case errors.Is(ctxErr, context.Canceled):
		return event.ReasonShutdown
	case errors.Is(err, os.ErrDeadlineExceeded):
		if !time.Now().Before(c.end) {
			return event.ReasonMaxDuration
		}
		return event.ReasonIdle
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return event.ReasonEOF
	case err == nil:
		return event.ReasonServer
	}
	return event.ReasonError
}
