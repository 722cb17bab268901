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
	tr       transcript.Recorder
	ctx      *sessionCtx
	mu       sync.Mutex
	firstErr error // the first error that ended I/O
	// Deadlines the handler set for itself (zero: none). The engine's
	// idle timeout and the session's end still apply on top of them.
	ownRead, ownWrite time.Time
}

// past is a deadline that has always passed: I/O fails at once.
var past = time.Unix(1, 0)

// deadline is the earliest of the idle timeout, the session's end and the
// handler's own deadline.
func (c *conn) deadline(own time.Time) time.Time {
	d := time.Now().Add(c.idle)
	if c.end.Before(d) {
		d = c.end
	}
	if !own.IsZero() && own.Before(d) {
		d = own
	}
	return d
}

func (c *conn) own() (read, write time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ownRead, c.ownWrite
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
	rd, _ := c.own()
	_ = c.Conn.SetReadDeadline(c.deadline(rd))
	// The session may have ended while the deadline was set, after the
	// engine failed its I/O: fail it again, or the read would wait for
	// the idle timeout.
	if c.ctx.Err() != nil {
		_ = c.Conn.SetReadDeadline(past)
	}
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
		_, wd := c.own()
		_ = c.Conn.SetWriteDeadline(c.deadline(wd))
		if c.ctx.Err() != nil {
			_ = c.Conn.SetWriteDeadline(past)
		}
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

// SetDeadline and friends may only shorten what the engine allows: the
// handler's deadline holds for every later read or write alongside the
// idle timeout and the session's end (a zero time removes it).
func (c *conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.ownRead, c.ownWrite = t, t
	c.mu.Unlock()
	return c.Conn.SetDeadline(c.clamp(t))
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.ownRead = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(c.clamp(t))
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.ownWrite = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(c.clamp(t))
}

func (c *conn) clamp(t time.Time) time.Time {
	if c.ctx.Err() != nil {
		return past
	}
	return c.deadline(t)
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
