//go:build unix

package engine_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/engine"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
)

// countEmitter counts events and keeps none.
type countEmitter struct{ n atomic.Int64 }

func (c *countEmitter) Emit(*event.Event) { c.n.Add(1) }

// shortHandler serves a client-first request the way the http service
// does for a scanner's GET: read header lines to the empty one, emit a
// request event, answer and return.
type shortHandler struct{ answer []byte }

func (shortHandler) ClientFirst() {}

func (h shortHandler) ServeTCP(ctx context.Context, s *service.Session) {
	rd := s.Reader()
	var line []byte
	var err error
	for {
		if line, err = rd.ReadLine(1024); err != nil || len(line) == 0 {
			break
		}
	}
	s.Emit(&event.Request{Method: "GET", URI: "/", Version: "HTTP/1.0", Status: 200})
	_, _ = s.Write(h.answer)
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() (user, sys time.Duration) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// BenchmarkShortSession is one short connection through the engine on
// loopback, as the bench harness makes them: dial, send a scanner's GET,
// read the answer to EOF, close with a reset. The client's side is in
// every figure (allocs/op, B/op, cpu-ns/op: the process's CPU time per
// connection, kernel included, and user-ns/op: its user part), alike
// before and after a change.
func BenchmarkShortSession(b *testing.B) {
	lim := limits()
	lim.MaxSessions, lim.MaxSessionsPerSource = 1<<20, 1<<20
	em := &countEmitter{}
	eng := engine.New(engine.Options{Sensor: "bench", Limits: lim, Emitter: em,
		Logger: slog.New(slog.DiscardHandler)})
	answer := make([]byte, 1700)
	for i := range answer {
		answer[i] = 'a' + byte(i%26)
	}
	addr, err := eng.ListenTCP("http", "127.0.0.1:0", shortHandler{answer})
	if err != nil {
		b.Fatal(err)
	}
	defer engine.ServeInTest(b, eng)()
	req := []byte("GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0 (compatible; smallpot-bench)\r\nAccept: */*\r\n\r\n")
	ta := net.TCPAddrFromAddrPort(addr)
	b.SetParallelism(8)
	b.ReportAllocs()
	u0, s0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 4096)
		for pb.Next() {
			c, err := net.DialTCP("tcp", nil, ta)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			n := 0
			for {
				m, err := c.Read(buf)
				n += m
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
			if n != len(answer) {
				b.Errorf("got %d bytes; want %d", n, len(answer))
			}
			_ = c.SetLinger(0)
			_ = c.Close()
		}
	})
	u1, s1 := cpuTime()
	b.ReportMetric(float64((u1-u0+s1-s0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64((u1-u0).Nanoseconds())/float64(b.N), "user-ns/op")
}
