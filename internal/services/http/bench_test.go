package http

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// scannerRequest is what the short-exchange benchmark of bench/ sends.
const scannerRequest = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0 (compatible; smallpot-bench)\r\nAccept: */*\r\n\r\n"

// BenchmarkScannerRequest is the web server's own work for one
// scanner-style request: parse it and answer it from the IIS persona (the
// default page), as ServeTCP does, without the network and the events.
func BenchmarkScannerRequest(b *testing.B) {
	s := newServer(b, service.ProfileWindows2000, nil)
	local := netip.MustParseAddrPort("192.0.2.10:80")
	remote := netip.MustParseAddrPort("198.51.100.7:40000")
	rd := strings.NewReader(scannerRequest)
	br := bufio.NewReaderSize(rd, 4096)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(scannerRequest)
		br.Reset(rd)
		req, err := ReadRequest(br, s.limits)
		if err != nil {
			b.Fatal(err)
		}
		a := s.persona.answer(&exchange{req: *req, now: fixedNow, local: local, remote: remote})
		if a.status != 200 || len(a.out) < 1000 {
			b.Fatalf("status %d, %d bytes", a.status, len(a.out))
		}
	}
}

// BenchmarkScannerConn is the web server's whole work for one
// scanner-style connection, as ServeTCP does it: read the request through
// the session's Reader, parse it, answer it, record its event (into an
// emitter that drops it) and write the answer (to a connection that drops
// it). The network and the engine are left out.
func BenchmarkScannerConn(b *testing.B) {
	for _, bc := range []struct{ name, req string }{
		{"get-1.0", scannerRequest},
		{"get-1.1-keepalive", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0 (compatible; smallpot-bench)\r\nAccept: */*\r\n\r\n" +
			"HEAD /iisstart.htm HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"},
		{"not-found", "GET /robots.txt HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0 (compatible; smallpot-bench)\r\nAccept: */*\r\n\r\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := newServer(b, service.ProfileWindows2000, nil)
			s.now = time.Now
			var em countEmitter
			c := &benchConn{}
			var sess service.Session
			sess.Recorder = service.Recorder{Sensor: "bench", SessionID: "s", Service: "http", Transport: event.TCP,
				Remote: netip.MustParseAddrPort("198.51.100.7:40000"), Local: netip.MustParseAddrPort("192.0.2.10:80"),
				Emitter: &em}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				c.rd.Reset(bc.req)
				c.wrote = 0
				sess.Init(c, nil, 4096)
				sess.Reader().Fill() // the engine's wait for a ClientFirst handler
				s.ServeTCP(ctx, &sess)
				sess.Release()
				if c.wrote < 1000 {
					b.Fatalf("wrote %d bytes", c.wrote)
				}
			}
			if em.n != b.N*strings.Count(bc.req, "HTTP/1.") {
				b.Fatalf("%d events for %d connections", em.n, b.N)
			}
		})
	}
}

type countEmitter struct{ n int }

func (e *countEmitter) Emit(*event.Event) { e.n++ }

// benchConn is a connection that reads a request and drops what is
// written to it.
type benchConn struct {
	net.Conn
	rd    strings.Reader
	wrote int
}

func (c *benchConn) Read(p []byte) (int, error) {
	n, err := c.rd.Read(p)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadFirst reads the first bytes into a buffer of the reader's pool, as
// the engine's connection does.
func (c *benchConn) ReadFirst(pool *sync.Pool) (*[]byte, int, error) {
	bp := pool.Get().(*[]byte)
	n, err := c.Read(*bp)
	if n == 0 {
		pool.Put(bp)
		return nil, 0, err
	}
	return bp, n, err
}

func (c *benchConn) Write(p []byte) (int, error) { c.wrote += len(p); return len(p), nil }

// appendHTTPDate writes what the layout does, for every kind of date.
func TestAppendHTTPDate(t *testing.T) {
	for _, tm := range []time.Time{
		fixedNow, time.Unix(0, 0), time.Date(2001, 6, 21, 9, 32, 18, 0, time.UTC),
		time.Date(999, 12, 31, 23, 59, 59, 999, time.FixedZone("x", 3600)), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 29, 7, 8, 9, 0, time.FixedZone("y", -7*3600)),
	} {
		for i := range 400 {
			tt := tm.Add(time.Duration(i) * 7 * time.Hour)
			if got, want := httpDate(tt), tt.UTC().Format(httpDateLayout); got != want {
				t.Fatalf("httpDate(%v) = %q, want %q", tt, got, want)
			}
		}
	}
}

// BenchmarkIdleConnections is what a connection that sends nothing costs
// the process: its goroutine's stack (stack-B/conn; a client-first service
// waits for the first bytes in a shallow stack, so it stays at the 2 KiB
// minimum, unless the runtime, which sizes new goroutines' stacks from the
// average it has seen, starts them larger) and the heap it holds
// (heap-B/conn, the client's side of the loopback connection included).
func BenchmarkIdleConnections(b *testing.B) {
	const n = 1000
	s := newServer(b, service.ProfileWindows2000, nil)
	lim := servicetest.Limits()
	lim.MaxSessions, lim.MaxSessionsPerSource = 2*n, 2*n
	h := servicetest.Start(b, "http", s, &lim)
	var stack, heap float64
	for b.Loop() {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		conns := make([]net.Conn, 0, n)
		for range n {
			c, err := net.Dial("tcp", h.Addr.String())
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
		}
		for h.Engine.Stats().Active < n {
			time.Sleep(time.Millisecond)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		stack += float64(m1.StackInuse) - float64(m0.StackInuse)
		heap += float64(m1.HeapAlloc) - float64(m0.HeapAlloc)
		for _, c := range conns {
			_ = c.Close()
		}
		for h.Engine.Stats().Active > 0 {
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportMetric(stack/float64(b.N*n), "stack-B/conn")
	b.ReportMetric(heap/float64(b.N*n), "heap-B/conn")
}
