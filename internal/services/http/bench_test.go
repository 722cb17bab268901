package http

import (
	"bufio"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

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
		a := s.persona.answer(&exchange{req: req, now: fixedNow, local: local, remote: remote})
		if a.status != 200 || len(a.out) < 1000 {
			b.Fatalf("status %d, %d bytes", a.status, len(a.out))
		}
	}
}

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
