// Package engine runs Smallpot's fake services: it owns the listeners and
// every session's life, so that no protocol repeats it.
//
// For TCP the engine accepts (backing off on errors, as net/http does),
// enforces the global and per-source session caps, gives each session a
// context derived from the server's with the maximum duration as its
// deadline, an idle timeout on every read and write, a byte budget each
// way, and a bounded transcript; emits connect and close events; and
// recovers a handler's panic so one session never takes the process down.
//
// For UDP it copies each datagram before handing it on, records it, and
// lets a handler reply only within the anti-amplification rules: a reply
// is never larger than the request times the service's reply factor
// (default 1) and each source gets a bounded rate of replies.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/transcript"
)

// Options configure an engine.
type Options struct {
	Sensor  string
	Limits  config.Limits
	Emitter service.Emitter
	Samples service.SampleStore
	Logger  *slog.Logger
	// TranscriptBudget bounds the bytes all live transcripts hold
	// together (default 256 MiB).
	TranscriptBudget int64
}

// Stats counts what the engine did.
type Stats struct {
	Active         int64  `json:"active"`
	Accepted       uint64 `json:"accepted"`
	RefusedGlobal  uint64 `json:"refused_global_cap"`
	RefusedSource  uint64 `json:"refused_source_cap"`
	Panics         uint64 `json:"panics"`
	Datagrams      uint64 `json:"datagrams"`
	DatagramsBusy  uint64 `json:"datagrams_dropped_busy"`
	RepliesRefused uint64 `json:"udp_replies_refused"`
}

// Engine serves the listeners bound to it.
type Engine struct {
	opts   Options
	log    *slog.Logger
	budget *transcript.Budget

	mu        sync.Mutex
	tcp       []*tcpListener
	udp       []*udpListener
	perSource map[netip.Addr]int
	serving   bool

	active                       atomic.Int64
	accepted, refusedG, refusedS atomic.Uint64
	panics                       atomic.Uint64
	datagrams, dgBusy, repRef    atomic.Uint64

	wg sync.WaitGroup
}

// Bound describes one bound listener.
type Bound struct {
	Service   string
	Transport event.Transport
	Addr      netip.AddrPort
}

type tcpListener struct {
	service string
	ln      *net.TCPListener
	h       service.Handler
}

// New returns an engine; nothing is bound or served yet.
func New(opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.TranscriptBudget <= 0 {
		opts.TranscriptBudget = 256 << 20
	}
	return &Engine{opts: opts, log: opts.Logger, budget: transcript.NewBudget(opts.TranscriptBudget),
		perSource: map[netip.Addr]int{}}
}

// ListenTCP binds addr for a service. Serving starts with Serve.
func (e *Engine) ListenTCP(name, addr string, h service.Handler) (netip.AddrPort, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	tl := &tcpListener{service: name, ln: ln.(*net.TCPListener), h: h}
	e.mu.Lock()
	e.tcp = append(e.tcp, tl)
	e.mu.Unlock()
	return addrPort(ln.Addr()), nil
}

// Bound lists what is bound, in binding order.
func (e *Engine) Bound() []Bound {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Bound
	for _, l := range e.tcp {
		out = append(out, Bound{l.service, event.TCP, addrPort(l.ln.Addr())})
	}
	for _, l := range e.udp {
		out = append(out, Bound{l.service, event.UDP, addrPort(l.pc.LocalAddr())})
	}
	return out
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	return Stats{Active: e.active.Load(), Accepted: e.accepted.Load(), RefusedGlobal: e.refusedG.Load(),
		RefusedSource: e.refusedS.Load(), Panics: e.panics.Load(), Datagrams: e.datagrams.Load(),
		DatagramsBusy: e.dgBusy.Load(), RepliesRefused: e.repRef.Load()}
}

// Close releases listeners that were bound but never served.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, l := range e.tcp {
		errs = append(errs, ignoreClosed(l.ln.Close()))
	}
	for _, l := range e.udp {
		errs = append(errs, ignoreClosed(l.pc.Close()))
	}
	return errors.Join(errs...)
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Serve runs every bound listener until ctx is done, then closes them,
// ends every session (their contexts are cancelled and their I/O fails at
// once) and returns when the last session goroutine has returned.
func (e *Engine) Serve(ctx context.Context) error {
	e.mu.Lock()
	if e.serving {
		e.mu.Unlock()
		return errors.New("engine: already serving")
	}
	e.serving = true
	tcp, udp := e.tcp, e.udp
	e.mu.Unlock()

	var loops sync.WaitGroup
	for _, l := range tcp {
		loops.Add(1)
		go func() { defer loops.Done(); e.acceptLoop(ctx, l) }()
	}
	for _, l := range udp {
		loops.Add(1)
		go func() { defer loops.Done(); e.packetLoop(ctx, l) }()
	}
	<-ctx.Done()
	_ = e.Close()
	loops.Wait()
	e.wg.Wait()
	return nil
}

func (e *Engine) acceptLoop(ctx context.Context, l *tcpListener) {
	var backoff time.Duration
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			e.log.Warn("accept failed; backing off", "service", l.service, "err", err, "delay", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		remote := addrPort(c.RemoteAddr())
		if !e.admit(remote.Addr()) {
			_ = c.SetLinger(0)
			_ = c.Close()
			continue
		}
		e.accepted.Add(1)
		e.wg.Add(1)
		go e.serveConn(ctx, l, c, remote)
	}
}

// admit applies the global and per-source caps.
func (e *Engine) admit(src netip.Addr) bool {
	lim := e.opts.Limits
	if e.active.Add(1) > int64(lim.MaxSessions) {
		e.active.Add(-1)
		if e.refusedG.Add(1)%1000 == 1 {
			e.log.Warn("session cap reached: connections refused", "max_sessions", lim.MaxSessions, "refused_total", e.refusedG.Load())
		}
		return false
	}
	e.mu.Lock()
	n := e.perSource[src]
	if n >= lim.MaxSessionsPerSource {
		e.mu.Unlock()
		e.active.Add(-1)
		if e.refusedS.Add(1)%1000 == 1 {
			e.log.Warn("per-source session cap reached: connections refused", "src", src, "max_sessions_per_source", lim.MaxSessionsPerSource, "refused_total", e.refusedS.Load())
		}
		return false
	}
	e.perSource[src] = n + 1
	e.mu.Unlock()
	return true
}

func (e *Engine) release(src netip.Addr) {
	e.mu.Lock()
	if n := e.perSource[src]; n <= 1 {
		delete(e.perSource, src)
	} else {
		e.perSource[src] = n - 1
	}
	e.mu.Unlock()
	e.active.Add(-1)
}

func (e *Engine) serveConn(parent context.Context, l *tcpListener, c *net.TCPConn, remote netip.AddrPort) {
	defer e.wg.Done()
	// The session's place under the caps is given back when its
	// connection closes, before its close event: whoever sees that event
	// may connect again at once.
	released := false
	defer func() {
		if !released {
			e.release(remote.Addr())
		}
	}()
	lim := e.opts.Limits
	start := time.Now()
	end := start.Add(lim.MaxDuration)
	ctx, cancel := context.WithDeadline(parent, end)
	defer cancel()
	// When the session must end, fail its I/O at once so a handler
	// blocked in a read returns.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(past) })
	defer stop()

	lc := &conn{Conn: c, idle: lim.IdleTimeout, end: end, maxIn: int64(lim.MaxBytesIn),
		maxOut: int64(lim.MaxBytesOut), ctx: ctx,
		tr: transcript.New(start, int(lim.Transcript), e.budget)}
	local := addrPort(c.LocalAddr())
	s := service.NewSession(lc, service.Recorder{
		Sensor: e.opts.Sensor, SessionID: event.NewID(start), Service: l.service,
		Transport: event.TCP, Remote: remote, Local: local,
		Emitter: e.opts.Emitter, Samples: e.opts.Samples,
	}, e.log, int(lim.ReadBuffer))
	s.Start = start
	s.Emit(&event.Connect{Listener: addrPort(l.ln.Addr()).String()})

	done := e.run(ctx, l, s)
	_ = c.Close()
	e.release(remote.Addr())
	released = true
	s.Release()
	in, out := lc.tr.Kept()
	s.Emit(&event.Close{
		DurationMS: time.Since(start).Milliseconds(),
		BytesIn:    lc.in.Load(), BytesOut: lc.out.Load(),
		Reason:       lc.reasonOr(done),
		TranscriptIn: int64(in), TranscriptOut: int64(out),
		Transcript: lc.tr.Finish(),
	})
}

// run calls the handler, turning a panic into a logged, counted end of
// this session only.
func (e *Engine) run(ctx context.Context, l *tcpListener, s *service.Session) (res runResult) {
	defer func() {
		if r := recover(); r != nil {
			e.panics.Add(1)
			e.log.Error("service panicked; session cut", "service", l.service, "session", s.SessionID,
				"src", s.Remote.String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			res = runPanicked
		}
	}()
	l.h.ServeTCP(ctx, s)
	return runReturned
}

type runResult int

const (
	runReturned runResult = iota
	runPanicked
)

func (c *conn) reasonOr(r runResult) string {
	if r == runPanicked {
		return event.ReasonPanic
	}
	return c.reason(true)
}

func addrPort(a net.Addr) netip.AddrPort {
	switch v := a.(type) {
	case *net.TCPAddr:
		ap := v.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case *net.UDPAddr:
		ap := v.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
