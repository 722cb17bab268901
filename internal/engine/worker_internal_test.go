package engine

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/service"
)

func idleWorkers(e *Engine) int {
	e.idleMu.Lock()
	defer e.idleMu.Unlock()
	return len(e.idle)
}

// Workers left idle for workerIdle exit; the next session gets a new one.
func TestIdleWorkersExit(t *testing.T) {
	defer func(d time.Duration) { workerIdle = d }(workerIdle)
	workerIdle = 100 * time.Millisecond
	h := serveHeld(t)
	conns := h.dial(t, 3)
	t0 := time.Now() // the workers go idle after this
	close(h.release)
	bye(t, conns...)
	deadline := time.Now().Add(10 * time.Second)
	for idleWorkers(h.e) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle workers; want the 3 that ran the sessions", idleWorkers(h.e))
		}
		time.Sleep(time.Millisecond)
	}
	for idleWorkers(h.e) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers still idle after %v; want none", idleWorkers(h.e), time.Since(t0))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d := time.Since(t0); d < workerIdle {
		t.Errorf("idle workers exited after %v; want %v at least", d, workerIdle)
	}
	bye(t, h.dial(t, 1)...)
}

// After more sessions at once than maxIdleWorkers, no more than that many
// workers stay idle; the others exit as their sessions end.
func TestIdleWorkersCapped(t *testing.T) {
	defer func(n int) { maxIdleWorkers = n }(maxIdleWorkers)
	maxIdleWorkers = 2
	h := serveHeld(t)
	conns := h.dial(t, 6)
	close(h.release)
	bye(t, conns...)
	// Every session has ended once the engine counts none active.
	deadline := time.Now().Add(10 * time.Second)
	for h.e.active.Load() > 0 || idleWorkers(h.e) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions active, %d workers idle", h.e.active.Load(), idleWorkers(h.e))
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // a worker past its session's end
	if n := idleWorkers(h.e); n != 2 {
		t.Errorf("%d idle workers after 6 sessions at once; want the cap, 2", n)
	}
}

// heldEngine serves sessions whose handler says "bye" once release is
// closed; started counts the handlers that began (Add before dialing).
// Serving stops when the test ends.
type heldEngine struct {
	e       *Engine
	addr    string
	started sync.WaitGroup
	release chan struct{}
}

func serveHeld(t *testing.T) *heldEngine {
	t.Helper()
	h := &heldEngine{release: make(chan struct{})}
	h.e = New(Options{Limits: config.Builtin().Limits, Logger: slog.New(slog.DiscardHandler)})
	addr, err := h.e.ListenTCP("test", "127.0.0.1:0", service.HandlerFunc(func(ctx context.Context, s *service.Session) {
		h.started.Done()
		<-h.release
		_, _ = s.Write([]byte("bye\n"))
	}))
	if err != nil {
		t.Fatal(err)
	}
	h.addr = addr.String()
	ServeInTest(t, h.e)
	return h
}

// dial starts n sessions and waits until their handlers run.
func (h *heldEngine) dial(t *testing.T, n int) []net.Conn {
	t.Helper()
	h.started.Add(n)
	var conns []net.Conn
	for range n {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	h.started.Wait()
	return conns
}

// bye reads each connection's "bye" to its end and closes it.
func bye(t *testing.T, conns ...net.Conn) {
	t.Helper()
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if b, err := io.ReadAll(c); string(b) != "bye\n" || err != nil {
			t.Fatalf("got %q, %v", b, err)
		}
		_ = c.Close()
	}
}
