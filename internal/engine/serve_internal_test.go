package engine

import (
	"context"
	"testing"
	"time"
)

// ServeInTest runs e.Serve until stop is called or the test ends, then
// checks that it returned, without error, within a few seconds. It is
// for this package's tests, inside and outside it.
func ServeInTest(tb testing.TB, e *Engine) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx) }()
	stopped := false
	stop = func() {
		tb.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Fatalf("Serve did not return within 10s of its context's end")
		}
	}
	tb.Cleanup(stop)
	return stop
}
