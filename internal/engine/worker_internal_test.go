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
	lim := config.Builtin().Limits
	e := New(Options{Limits: lim, Logger: slog.New(slog.DiscardHandler)})
	release := make(chan struct{})
	var started sync.WaitGroup
	addr, err := e.ListenTCP("test", "127.0.0.1:0", service.HandlerFunc(func(ctx context.Context, s *service.Session) {
		started.Done()
		<-release
		_, _ = s.Write([]byte("bye\n"))
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	session := func() net.Conn {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var conns []net.Conn
	started.Add(3)
	for range 3 {
		conns = append(conns, session())
	}
	started.Wait()
	t0 := time.Now() // the workers go idle after this
	close(release)
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if b, err := io.ReadAll(c); string(b) != "bye\n" || err != nil {
			t.Fatalf("got %q, %v", b, err)
		}
		_ = c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for idleWorkers(e) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle workers; want the 3 that ran the sessions", idleWorkers(e))
		}
		time.Sleep(time.Millisecond)
	}
	for idleWorkers(e) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers still idle after %v; want none", idleWorkers(e), time.Since(t0))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d := time.Since(t0); d < workerIdle {
		t.Errorf("idle workers exited after %v; want %v at least", d, workerIdle)
	}
	started.Add(1)
	c := session()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(c); string(b) != "bye\n" || err != nil {
		t.Fatalf("after the workers exited: got %q, %v", b, err)
	}
	_ = c.Close()
}

// After more sessions at once than maxIdleWorkers, no more than that many
// workers stay idle; the others exit as their sessions end.
func TestIdleWorkersCapped(t *testing.T) {
	defer func(n int) { maxIdleWorkers = n }(maxIdleWorkers)
	maxIdleWorkers = 2
	lim := config.Builtin().Limits
	e := New(Options{Limits: lim, Logger: slog.New(slog.DiscardHandler)})
	release := make(chan struct{})
	var started sync.WaitGroup
	addr, err := e.ListenTCP("test", "127.0.0.1:0", service.HandlerFunc(func(ctx context.Context, s *service.Session) {
		started.Done()
		<-release
		_, _ = s.Write([]byte("bye\n"))
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var conns []net.Conn
	started.Add(6)
	for range 6 {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	started.Wait()
	close(release)
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if b, err := io.ReadAll(c); string(b) != "bye\n" || err != nil {
			t.Fatalf("got %q, %v", b, err)
		}
		_ = c.Close()
	}
	// Every session has ended once the engine counts none active.
	deadline := time.Now().Add(10 * time.Second)
	for e.active.Load() > 0 || idleWorkers(e) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions active, %d workers idle", e.active.Load(), idleWorkers(e))
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // a worker past its session's end
	if n := idleWorkers(e); n != 2 {
		t.Errorf("%d idle workers after 6 sessions at once; want the cap, 2", n)
	}
}
