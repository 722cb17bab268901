package engine

import (
	"context"
	"errors"
	"io"
	"math"
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
//
// The deadline the idle timeout asks for moves on with every read and
// write, but setting a deadline changes a runtime timer each time: conn
// sets it again only when the one set is more than slack earlier than the
// one wanted, so the idle timeout ends a connection at most slack early.
// The session's end and a handler's own deadlines are kept exactly.
type conn struct {
	net.Conn
	idle   time.Duration
	maxDur time.Duration // the session's end (ctx.end), as an offset from base
	maxIn  int64
	maxOut int64
	in     atomic.Int64
	out    atomic.Int64
	tr     transcript.Recorder // its start is the session's, base
	ctx    *sessionCtx
	mu     sync.Mutex
	// Under mu:
	firstErr error // the first error that ended I/O
	// Deadlines the handler set for itself (zero: none). The engine's
	// idle timeout and the session's end still apply on top of them.
	ownRead, ownWrite time.Time
	// The read and write deadlines set on Conn, as offsets from base;
	// unarmed before the first.
	armedR, armedW time.Duration

	// first: the I/O starting is the session's first read, which starts
	// as the session does (see tcpSession.fill). Only the engine writes
	// it, before the handler runs.
	first bool
}

// unarmed is the offset of a deadline not set yet.
const unarmed time.Duration = math.MinInt64

// past is a deadline that has always passed: I/O fails at once.
var past = time.Unix(1, 0)

// Directions of I/O, for arm.
const (
	dirRead = iota
	dirWrite
)

// base returns the session's start: deadlines are kept as offsets from
// it. The transcript's offsets count from it too, and it keeps it: a
// session holds one copy, not two.
func (c *conn) base() time.Time { return c.tr.Start() }

// slack is how much earlier than the idle timeout wants it a deadline set
// before may be and still stand.
func (c *conn) slack() time.Duration { return min(c.idle/64, time.Second) }

// want returns the deadline for I/O starting el after base: the earliest of
// the idle timeout, the session's end and the handler's own deadline; at
// is its offset from base, and exact says it is not the idle timeout's.
func (c *conn) want(el time.Duration, own time.Time) (d time.Time, at time.Duration, exact bool) {
	at = el + c.idle
	if c.maxDur < at {
		d, at, exact = c.ctx.end, c.maxDur, true
	}
	if !own.IsZero() {
		if o := own.Sub(c.base()); o < at {
			return own, o, true
		}
	}
	if !exact {
		d = c.base().Add(at)
	}
	return d, at, exact
}

// start checks that the session may still do I/O, and returns the time
// since base for arm.
func (c *conn) start() (time.Duration, error) {
	var el time.Duration // 0 for the first read: no clock read
	if !c.first {
		el = time.Since(c.base())
	}
	if err := c.ctx.errAt(el >= c.maxDur); err != nil {
		c.fail(err)
		return el, os.ErrDeadlineExceeded
	}
	return el, nil
}

// arm sets the deadline of I/O in direction dir starting el after base,
// unless the one set already does (see conn). A direction without a
// deadline yet whose wanted deadline is the same gets it along in the same
// call: one runtime timer serves both, and a session's first read and
// write (or write and read) set one deadline, not two.
func (c *conn) arm(dir int, el time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	own, other, ownOther := c.ownRead, c.armedW, c.ownWrite
	armed := &c.armedR
	if dir == dirWrite {
		own, other, ownOther = c.ownWrite, c.armedR, c.ownRead
		armed = &c.armedW
	}
	d, at, exact := c.want(el, own)
	if a := *armed; a != unarmed && (a == at || !exact && a < at && at-a <= c.slack()) {
		return
	}
	switch {
	case other == unarmed && ownOther.Equal(own):
		_ = c.Conn.SetDeadline(d)
		c.armedR, c.armedW = at, at
	case dir == dirRead:
		_ = c.Conn.SetReadDeadline(d)
		*armed = at
	default:
		_ = c.Conn.SetWriteDeadline(d)
		*armed = at
	}
	// The session may have ended while the deadline was set, after the
	// engine failed its I/O: fail it again, or the I/O would wait for
	// the deadline.
	if c.ctx.errAt(false) != nil {
		_ = c.Conn.SetDeadline(past)
	}
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
	el, err := c.start()
	if err != nil {
		return 0, err
	}
	c.arm(dirRead, el)
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
	el, err := c.start()
	if err != nil {
		return 0, err
	}
	var n int
	if len(p) > 0 {
		c.arm(dirWrite, el)
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
	defer c.mu.Unlock()
	c.ownRead, c.ownWrite = t, t
	d, at := c.clamp(t)
	c.armedR, c.armedW = at, at
	return c.Conn.SetDeadline(d)
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ownRead = t
	d, at := c.clamp(t)
	c.armedR = at
	return c.Conn.SetReadDeadline(d)
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ownWrite = t
	d, at := c.clamp(t)
	c.armedW = at
	return c.Conn.SetWriteDeadline(d)
}

// clamp returns the deadline for the handler's own deadline t and its
// offset from base.
func (c *conn) clamp(t time.Time) (time.Time, time.Duration) {
	el := time.Since(c.base())
	if c.ctx.errAt(el >= c.maxDur) != nil {
		return past, past.Sub(c.base())
	}
	d, at, _ := c.want(el, t)
	return d, at
}

// reason names why the session ended, at now, from the first error its
// I/O saw.
func (c *conn) reason(handlerDone bool, now time.Time) string {
	c.mu.Lock()
	err := c.firstErr
	c.mu.Unlock()
	ctxErr := c.ctx.errAt(!now.Before(c.ctx.end))
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
		if !now.Before(c.ctx.end) {
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
