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

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(tb testing.TB) (client, server *net.TCPConn) {
	tb.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	client, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		tb.Fatal(err)
	}
	if server, err = ln.AcceptTCP(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}

// noIO is a connection whose reads and writes do nothing and succeed;
// its deadlines are the real connection's.
type noIO struct{ *net.TCPConn }

func (noIO) Read(p []byte) (int, error)  { return len(p), nil }
func (noIO) Write(p []byte) (int, error) { return len(p), nil }

// benchSession sets up a session on c as the engine does.
func benchSession(tb testing.TB, c net.Conn) *tcpSession {
	lim := config.Builtin().Limits
	lim.MaxBytesIn, lim.MaxBytesOut = 1<<40, 1<<40
	e := New(Options{Limits: lim, Logger: slog.New(slog.DiscardHandler)})
	s := &tcpSession{l: &tcpListener{service: "bench", addr: "127.0.0.1:1", connect: &event.Connect{Listener: "127.0.0.1:1"}}}
	s.sess.Remote = addrPort(c.RemoteAddr())
	s.conn.Conn = c
	s.ctx.init(context.Background(), time.Time{})
	e.begin(s)
	return s
}

// BenchmarkConnIO is what the engine adds to one read and one write of a
// session, without the system calls: checks, clock, deadlines,
// transcript.
func BenchmarkConnIO(b *testing.B) {
	_, srv := tcpPair(b)
	s := benchSession(b, noIO{srv})
	in, out := make([]byte, 100), make([]byte, 1700)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.conn.Read(in); err != nil {
			b.Fatal(err)
		}
		if _, err := s.conn.Write(out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadFirst is a session's first read when its bytes are there
// already: the engine's work around one read(2) of 100 bytes. The client
// writes ahead, 100 reads' worth at a time.
func BenchmarkReadFirst(b *testing.B) {
	cl, srv := tcpPair(b)
	s := benchSession(b, srv)
	pool := &sync.Pool{New: func() any { b := make([]byte, 100); return &b }}
	ahead := make([]byte, 100*100)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%100 == 0 {
			b.StopTimer()
			if _, err := cl.Write(ahead); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		bp, n, err := s.conn.ReadFirst(pool)
		if err != nil || n != 100 {
			b.Fatalf("read %d bytes, %v", n, err)
		}
		pool.Put(bp)
	}
}

// fakeConn is a connection that does nothing: the client has sent
// everything (reads see EOF) and writes succeed.
type fakeConn struct{}

var fakeAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}

func (fakeConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (fakeConn) Write(p []byte) (int, error)      { return len(p), nil }
func (fakeConn) Close() error                     { return nil }
func (fakeConn) LocalAddr() net.Addr              { return fakeAddr }
func (fakeConn) RemoteAddr() net.Addr             { return fakeAddr }
func (fakeConn) SetDeadline(time.Time) error      { return nil }
func (fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (fakeConn) SetWriteDeadline(time.Time) error { return nil }

// closeEmitter drops events, and takes a token from sem for every close
// event.
type closeEmitter struct{ sem chan struct{} }

func (c closeEmitter) Emit(e *event.Event) {
	if e.Kind == event.KindClose {
		<-c.sem
	}
}

// BenchmarkSessionLife is the engine's own work for a session, from the
// accept loop's hand-off to the close event, on a connection that does no
// I/O: session set-up, its goroutine and worker, connect and close
// events. Sessions come as the accept loop starts them, with at most 8 at a
// time, as from a few clients.
func BenchmarkSessionLife(b *testing.B) {
	sem := make(chan struct{}, 8)
	lim := config.Builtin().Limits
	lim.MaxSessions, lim.MaxSessionsPerSource = 1<<30, 1<<30
	e := New(Options{Limits: lim, Emitter: closeEmitter{sem}, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Serve(ctx) }()
	l := &tcpListener{service: "bench", addr: "127.0.0.1:80", connect: &event.Connect{Listener: "127.0.0.1:80"},
		h: service.HandlerFunc(func(ctx context.Context, s *service.Session) { _, _ = s.Write([]byte("hello\r\n")) })}
	b.ReportAllocs()
	c0 := processCPU()
	for b.Loop() {
		sem <- struct{}{}
		s := &tcpSession{l: l}
		s.sess.Remote = addrPort(fakeAddr)
		s.conn.Conn = fakeConn{}
		s.ctx.init(ctx, time.Time{})
		if !e.admit(s) {
			b.Fatal("not admitted")
		}
		e.startSession(s)
	}
	e.wg.Wait()
	b.ReportMetric(float64(processCPU()-c0)/float64(b.N), "cpu-ns/op")
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// processCPU returns the process's CPU time, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
