//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// request is what every short exchange sends: one scanner-style request.
const request = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0 (compatible; smallpot-bench)\r\nAccept: */*\r\n\r\n"

// exchangeTimeout bounds one exchange, dial to close.
const exchangeTimeout = 5 * time.Second

// maxResponse bounds what the client reads of one response.
const maxResponse = 64 << 10

// roundResult is one round of short exchanges against one server.
type roundResult struct {
	conns    int64         // exchanges completed with a well-formed response
	bytes    int64         // response bytes the completed exchanges read
	failed   int64         // exchanges that failed (dial, write, read, bad response)
	elapsed  time.Duration // wall time of the load
	cpuTicks int64         // the server's user+system time spent, in clock ticks
	firstErr error
}

// responseBytes is the mean size of a response.
func (r roundResult) responseBytes() float64 {
	if r.conns == 0 {
		return 0
	}
	return float64(r.bytes) / float64(r.conns)
}

func (r roundResult) perSecond() float64 { return float64(r.conns) / r.elapsed.Seconds() }

// cpuMicros is the server's CPU time per completed connection, in µs.
func (r roundResult) cpuMicros(hz int) float64 {
	if r.conns == 0 {
		return 0
	}
	return float64(r.cpuTicks) * 1e6 / float64(hz) / float64(r.conns)
}

// load runs workers that each repeat one exchange — dial, write the
// request, read the response to EOF, close — until d has passed or max
// exchanges were started. It returns what completed and the wall time.
func load(ctx context.Context, addr string, workers int, d time.Duration, max int64) (res roundResult) {
	var (
		started, ok, bad, read atomic.Int64
		errOnce                sync.Once
		wg                     sync.WaitGroup
	)
	begin := time.Now()
	end := begin.Add(d)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			// An exchange under way when the round ends completes and
			// counts; ctx only cuts an interrupted run short.
			for ctx.Err() == nil && time.Now().Before(end) && started.Add(1) <= max {
				n, err := exchange(ctx, addr, buf)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					bad.Add(1)
					errOnce.Do(func() { res.firstErr = err })
					continue
				}
				ok.Add(1)
				read.Add(int64(n))
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(begin)
	res.conns, res.failed, res.bytes = ok.Load(), bad.Load(), read.Load()
	return res
}

var dialer = net.Dialer{Timeout: exchangeTimeout}

// exchange is one short connection. After the server's FIN has been read,
// the client closes with SO_LINGER 0: its close is then a reset, and the
// server's socket, in FIN-WAIT-2, goes straight to CLOSED instead of
// spending 60 s in TIME-WAIT. Without it, tens of thousands of exchanges a
// second fill the TIME-WAIT table and recycle ephemeral ports, and the
// kernel's work on those skews what each server's CPU time measures.
func exchange(ctx context.Context, addr string, buf []byte) (int, error) {
	c, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	tc := c.(*net.TCPConn)
	defer tc.Close()
	_ = tc.SetDeadline(time.Now().Add(exchangeTimeout))
	if _, err := io.WriteString(tc, request); err != nil {
		return 0, err
	}
	var head [16]byte
	hn, total := 0, 0
	for {
		var m int
		m, err = tc.Read(buf)
		if hn < len(head) {
			hn += copy(head[hn:], buf[:m])
		}
		total += m
		if err != nil || total > maxResponse {
			break
		}
	}
	if !errors.Is(err, io.EOF) {
		if err == nil {
			return 0, fmt.Errorf("response longer than %d bytes", maxResponse)
		}
		return 0, fmt.Errorf("read: %w", err)
	}
	if !bytes.HasPrefix(head[:hn], []byte("HTTP/1.")) {
		return 0, fmt.Errorf("not an HTTP response: %q", head[:hn])
	}
	return total, tc.SetLinger(0)
}

// openIdle opens n connections to addr that send nothing, with a few
// dialers at once, in at most limit. On error it closes what it opened.
func openIdle(ctx context.Context, addr string, n int, limit time.Duration) ([]*net.TCPConn, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	conns := make([]*net.TCPConn, n)
	var (
		next     atomic.Int64
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				c, err := dialer.DialContext(ctx, "tcp", addr)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				conns[i] = c.(*net.TCPConn)
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("opening %d idle connections took longer than %s", n, limit)
	}
	if firstErr != nil {
		closeAll(conns)
		return nil, fmt.Errorf("bench: idle connections: %w", firstErr)
	}
	return conns, nil
}

// closeAll closes idle connections with a reset (SO_LINGER 0), so that
// neither side keeps them in TIME-WAIT.
func closeAll(conns []*net.TCPConn) {
	for _, c := range conns {
		if c != nil {
			_ = c.SetLinger(0)
			_ = c.Close()
		}
	}
}

// smallpotAnswer makes one exchange with Smallpot at addr and saves the
// whole answer in a file under dir, for the bare server to send.
func smallpotAnswer(ctx context.Context, addr, dir string) (string, error) {
	c, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("bench: Smallpot's answer: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(exchangeTimeout))
	if _, err := io.WriteString(c, request); err != nil {
		return "", fmt.Errorf("bench: Smallpot's answer: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(c, maxBareResponse+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("bench: Smallpot's answer: %w", err)
	case len(b) > maxBareResponse:
		return "", fmt.Errorf("bench: Smallpot's answer is longer than %d bytes", maxBareResponse)
	case !bytes.HasPrefix(b, []byte("HTTP/1.")):
		return "", fmt.Errorf("bench: Smallpot's answer is not HTTP: %q", b[:min(len(b), 40)])
	}
	f := filepath.Join(dir, "answer")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	return f, nil
}
