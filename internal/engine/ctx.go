package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// sessionCtx is a TCP session's context: done when Smallpot stops (the
// server's context ends) or when the session's maximum duration has
// passed. Until a handler asks for Done it costs nothing: no timer and no
// registration with the server's context, since most handlers only do
// I/O, which the engine ends by deadline, and at shutdown through its
// list of live sessions. The first call to Done makes it a
// context.WithDeadline of the server's context.
type sessionCtx struct {
	parent context.Context
	end    time.Time
	// stopped: Smallpot is stopping (set by Engine.stopSessions).
	stopped  atomic.Bool
	hasInner atomic.Bool // here, not after cancel: in what would be padding

	mu     sync.Mutex
	inner  context.Context // set once, under mu, before hasInner
	cancel context.CancelFunc
}

var _ context.Context = (*sessionCtx)(nil)

func (c *sessionCtx) init(parent context.Context, end time.Time) {
	c.parent, c.end = parent, end
}

// Deadline implements context.Context.
func (c *sessionCtx) Deadline() (time.Time, bool) { return c.end, true }

// Done implements context.Context.
func (c *sessionCtx) Done() <-chan struct{} {
	if c.hasInner.Load() {
		return c.inner.Done()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner == nil {
		c.inner, c.cancel = context.WithDeadline(c.parent, c.end)
		c.hasInner.Store(true)
		if c.stopped.Load() {
			c.cancel()
		}
	}
	return c.inner.Done()
}

// Err implements context.Context.
func (c *sessionCtx) Err() error {
	if c.hasInner.Load() {
		return c.inner.Err()
	}
	return c.errAt(time.Until(c.end) <= 0)
}

// errAt is Err for a caller that has read the clock already: ended says
// whether the session's end has passed.
func (c *sessionCtx) errAt(ended bool) error {
	if c.hasInner.Load() {
		return c.inner.Err()
	}
	if c.stopped.Load() {
		return context.Canceled
	}
	if err := c.parent.Err(); err != nil {
		return err
	}
	if ended {
		return context.DeadlineExceeded
	}
	return nil
}

// Value implements context.Context. Once Done was called it answers as
// the context.WithDeadline does, so that contexts derived from this one
// attach to it as to any cancelable context.
func (c *sessionCtx) Value(key any) any {
	if c.hasInner.Load() {
		return c.inner.Value(key)
	}
	return c.parent.Value(key)
}

// stop ends the context: Smallpot is stopping.
func (c *sessionCtx) stop() {
	c.stopped.Store(true)
	c.mu.Lock()
	if c.cancel != nil {
		c.cancel()
	}
	c.mu.Unlock()
}

// release frees the timer of a context that Done made real.
func (c *sessionCtx) release() {
	c.mu.Lock()
	if c.cancel != nil {
		c.cancel()
	}
	c.mu.Unlock()
}
