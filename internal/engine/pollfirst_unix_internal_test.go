//go:build unix

package engine

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
)

// arrived waits until c has bytes (or its end) to read, and reads none.
func arrived(t *testing.T, c *net.TCPConn) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	if err := rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		return err != syscall.EAGAIN
	}); err != nil {
		t.Fatal(err)
	}
}

// PollFirst reads nothing, and counts and fails nothing, while nothing
// has arrived; then it is ReadFirst.
func TestPollFirst(t *testing.T) {
	pool := &sync.Pool{New: func() any { b := make([]byte, 100); return &b }}
	cl, srv := tcpPair(t)
	s := benchSession(t, srv)
	c := &s.conn
	if bp, n, ready, err := c.PollFirst(pool); ready || bp != nil || n != 0 || err != nil {
		t.Fatalf("nothing sent: got %v, %d, ready %v, %v; want nothing, not ready", bp, n, ready, err)
	}
	if in, _ := c.tr.Kept(); c.in.Load() != 0 || in != 0 || c.firstErr != nil {
		t.Fatalf("nothing sent: %d bytes in, %d kept, error %v; want none", c.in.Load(), in, c.firstErr)
	}
	if _, err := cl.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	arrived(t, srv)
	bp, n, ready, err := c.PollFirst(pool)
	if !ready || err != nil || string((*bp)[:n]) != "hello" {
		t.Fatalf("got %d bytes, ready %v, %v; want hello", n, ready, err)
	}
	if in, _ := c.tr.Kept(); c.in.Load() != 5 || in != 5 {
		t.Errorf("%d bytes in, %d kept; want 5", c.in.Load(), in)
	}
	_ = cl.Close()
	arrived(t, srv)
	if bp, n, ready, err := c.PollFirst(pool); !ready || bp != nil || n != 0 || err != io.EOF {
		t.Errorf("client gone: got %v, %d, ready %v, %v; want ready, io.EOF", bp, n, ready, err)
	}
	if c.reason(true, time.Now()) != event.ReasonEOF {
		t.Errorf("reason %q; want %q", c.reason(true, time.Now()), event.ReasonEOF)
	}
}

// A worker handed a ClientFirst handler's session runs it at once when the
// client has spoken already. When it has not, the session waits on a
// goroutine of its own and the worker is free at once; the handler finds
// the bytes all the same.
func TestClientFirstOnWorker(t *testing.T) {
	lim := config.Builtin().Limits
	e := New(Options{Limits: lim, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	lines := make(chan string, 2)
	l := &tcpListener{service: "test", addr: "127.0.0.1:1", connect: &event.Connect{Listener: "127.0.0.1:1"}, clientFirst: true,
		h: clientFirstFunc(func(ctx context.Context, s *service.Session) {
			line, _ := s.Reader().ReadLine(100)
			lines <- string(line)
		})}
	session := func(c *net.TCPConn) *tcpSession {
		s := &tcpSession{l: l}
		s.sess.Remote = addrPort(c.RemoteAddr())
		s.conn.Conn = c
		s.ctx.init(ctx, time.Time{})
		if !e.admit(s) {
			t.Fatal("not admitted")
		}
		e.wg.Add(1)
		return s
	}

	cl, srv := tcpPair(t)
	if _, err := cl.Write([]byte("spoke\r\n")); err != nil {
		t.Fatal(err)
	}
	arrived(t, srv)
	e.handle(session(srv)) // on this goroutine, as a worker
	select {
	case got := <-lines:
		if got != "spoke" {
			t.Errorf("got %q; want spoke", got)
		}
	default:
		t.Error("handler not run by the worker though the client had spoken")
	}

	cl, srv = tcpPair(t)
	e.handle(session(srv)) // returns at once: nothing to run yet
	select {
	case got := <-lines:
		t.Fatalf("handler ran before the client spoke, with %q", got)
	default:
	}
	if _, err := cl.Write([]byte("later\r\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-lines:
		if got != "later" {
			t.Errorf("got %q; want later", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handler not run after the client spoke")
	}
	cancel()
	if err := e.Serve(ctx); err != nil { // ends the goroutine the session waited on
		t.Fatal(err)
	}
	if st := e.Stats(); st.Active != 0 {
		t.Errorf("%d sessions active; want none", st.Active)
	}
	if len(e.perSource) != 0 {
		t.Errorf("per-source counts left: %v", e.perSource)
	}
}

type clientFirstFunc service.HandlerFunc

func (f clientFirstFunc) ServeTCP(ctx context.Context, s *service.Session) { f(ctx, s) }
func (clientFirstFunc) ClientFirst()                                       {}
