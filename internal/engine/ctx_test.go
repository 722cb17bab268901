package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSessionCtx(t *testing.T) {
	t.Run("stopped before Done", func(t *testing.T) {
		var c sessionCtx
		c.init(context.Background(), time.Now().Add(time.Hour))
		if c.Err() != nil {
			t.Fatalf("Err = %v on a live session", c.Err())
		}
		c.stop()
		if !errors.Is(c.Err(), context.Canceled) {
			t.Fatalf("Err = %v after stop, want Canceled", c.Err())
		}
		select {
		case <-c.Done():
		default:
			t.Fatal("Done not closed for a stopped session")
		}
	})
	t.Run("stopped after Done", func(t *testing.T) {
		var c sessionCtx
		c.init(context.Background(), time.Now().Add(time.Hour))
		done := c.Done()
		// A context derived from it ends with it.
		child, cancel := context.WithTimeout(&c, time.Hour)
		defer cancel()
		c.stop()
		<-done
		<-child.Done()
		if !errors.Is(c.Err(), context.Canceled) || !errors.Is(child.Err(), context.Canceled) {
			t.Fatalf("Err = %v, child %v; want Canceled", c.Err(), child.Err())
		}
	})
	t.Run("server stops", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
		var c sessionCtx
		c.init(parent, time.Now().Add(time.Hour))
		if c.Value(ctxKey{}) != "v" {
			t.Error("Value does not reach the server's context")
		}
		cancel()
		if !errors.Is(c.Err(), context.Canceled) {
			t.Fatalf("Err = %v once the server's context ended, want Canceled", c.Err())
		}
		<-c.Done()
		if c.Value(ctxKey{}) != "v" {
			t.Error("Value does not reach the server's context once Done was called")
		}
	})
	t.Run("maximum duration", func(t *testing.T) {
		end := time.Now().Add(50 * time.Millisecond)
		var c sessionCtx
		c.init(context.Background(), end)
		if d, ok := c.Deadline(); !ok || !d.Equal(end) {
			t.Errorf("Deadline = %v, %v; want %v, true", d, ok, end)
		}
		<-c.Done()
		if !errors.Is(c.Err(), context.DeadlineExceeded) {
			t.Fatalf("Err = %v past the end, want DeadlineExceeded", c.Err())
		}
		c.release()
	})
	t.Run("maximum duration without Done", func(t *testing.T) {
		var c sessionCtx
		c.init(context.Background(), time.Now().Add(-time.Millisecond))
		if !errors.Is(c.Err(), context.DeadlineExceeded) {
			t.Fatalf("Err = %v past the end, want DeadlineExceeded", c.Err())
		}
	})
}

type ctxKey struct{}
