// Package engine runs Smallpot's fake services: it owns the listeners and
// every session's life, so that no protocol repeats it.
//
// For TCP the engine accepts (backing off on errors, as net/http does),
// enforces the global and per-source session caps, gives each session a
// context that is done when the server's is or the maximum duration has
// passed, an idle timeout on every read and write (which may end a
// silent connection up to idle/64, at most a second, early: see conn), a
// byte budget each way, and a bounded transcript; emits connect and close events; and
// recovers a handler's panic so one session never takes the process down.
// What a connection costs is kept small, as a sensor holds thousands: an
// idle one waits in a shallow stack with no buffer (for a
// service.ClientFirst handler, before the handler runs), and handlers run
// on reused goroutines whose stacks have grown already (see serveConn).
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
	live      *tcpSession // the live TCP sessions, a list through their prev and next
	stopping  bool        // Serve's context ended: no session starts, every live one is ended

	active                       atomic.Int64
	accepted, refusedG, refusedS atomic.Uint64
	panics                       atomic.Uint64
	datagrams, dgBusy, repRef    atomic.Uint64

	wg sync.WaitGroup // sessions and datagrams being handled

	// Workers: goroutines that have run a session and wait for the next
	// (see serveConn), the one idle for the shortest time last: it is
	// handed the next session, and the others, left idle, exit.
	idleMu   sync.Mutex
	idle     []*worker
	idleTick uint64         // ticks of reapWorkers so far
	quit     bool           // Serve has no session left: workers exit
	workers  sync.WaitGroup // every goroutine serveConn runs on
}

// workerIdle is how long a worker waits for another session before it
// exits (half as long again at most). Tests shorten it.
var workerIdle = 10 * time.Second

// worker is a goroutine waiting for a session in Engine.idle.
type worker struct {
	next chan *tcpSession // its next session (nil: exit); room for one
	tick uint64           // Engine.idleTick when it went idle
}

// Bound describes one bound listener.
type Bound struct {
	Service   string
	Transport event.Transport
	Addr      netip.AddrPort
}

type tcpListener struct {
	service     string
	ln          *net.TCPListener
	h           service.Handler
	clientFirst bool   // h is a service.ClientFirst
	addr        string // ln's address, as connect events name it
	// connect is the detail of every connect event of this listener: it
	// is the same for all, and no one writes to an event's detail.
	connect *event.Connect
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
	// No TCP keep-alive on accepted connections: the idle timeout ends a
	// silent peer, and the servers Smallpot imitates did not set it
	// (Go does by default, at four system calls per connection).
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	_, first := h.(service.ClientFirst)
	tl := &tcpListener{service: name, ln: ln.(*net.TCPListener), h: h, clientFirst: first,
		addr: addrPort(ln.Addr()).String()}
	tl.connect = &event.Connect{Listener: tl.addr}
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
	loops.Add(1)
	go func() { defer loops.Done(); e.reapWorkers(ctx) }()
	<-ctx.Done()
	_ = e.Close()
	loops.Wait()
	e.stopSessions()
	e.wg.Wait()
	e.idleMu.Lock()
	e.quit = true
	for _, w := range e.idle {
		w.next <- nil
	}
	e.idle = nil
	e.idleMu.Unlock()
	e.workers.Wait()
	return nil
}

// stopSessions ends every live session at once: its context is done and
// its I/O fails, whatever its handler is blocked in. A session admitted
// later is ended as it starts.
func (e *Engine) stopSessions() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopping = true
	for s := e.live; s != nil; s = s.next {
		s.stop()
	}
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
		s := &tcpSession{l: l, remote: addrPort(c.RemoteAddr())}
		s.conn.Conn = c
		s.ctx.init(ctx, time.Time{})
		if !e.admit(s) {
			_ = c.SetLinger(0)
			_ = c.Close()
			continue
		}
		e.accepted.Add(1)
		e.wg.Add(1)
		e.workers.Add(1)
		go e.serveConn(s)
	}
}

// tcpSession is all one TCP session holds, in one allocation.
type tcpSession struct {
	conn       // what the handler reads and writes
	ctx        sessionCtx
	sess       service.Session
	l          *tcpListener
	remote     netip.AddrPort
	prev, next *tcpSession // in Engine.live
}

// stop ends the session because Smallpot stops: its context is done and
// its I/O fails at once. Called with Engine.mu held.
func (s *tcpSession) stop() {
	s.ctx.stop()
	_ = s.conn.Conn.SetDeadline(past)
}

// admit applies the global and per-source caps and, when the session may
// start, puts it on the list of live sessions.
func (e *Engine) admit(s *tcpSession) bool {
	lim := e.opts.Limits
	src := s.remote.Addr()
	if e.active.Add(1) > int64(lim.MaxSessions) {
		e.active.Add(-1)
		if e.refusedG.Add(1)%1000 == 1 {
			e.log.Warn("session cap reached: connections refused", "max_sessions", lim.MaxSessions, "refused_total", e.refusedG.Load())
		}
		return false
	}
	e.mu.Lock()
	n := e.perSource[src]
	if n >= lim.MaxSessionsPerSource || e.stopping {
		e.mu.Unlock()
		e.active.Add(-1)
		if !e.stopping && e.refusedS.Add(1)%1000 == 1 {
			e.log.Warn("per-source session cap reached: connections refused", "src", src, "max_sessions_per_source", lim.MaxSessionsPerSource, "refused_total", e.refusedS.Load())
		}
		return false
	}
	e.perSource[src] = n + 1
	s.next = e.live
	if e.live != nil {
		e.live.prev = s
	}
	e.live = s
	e.mu.Unlock()
	return true
}

// release gives the session's place under the caps back and takes it off
// the list of live sessions.
func (e *Engine) release(s *tcpSession) {
	src := s.remote.Addr()
	e.mu.Lock()
	if n := e.perSource[src]; n <= 1 {
		delete(e.perSource, src)
	} else {
		e.perSource[src] = n - 1
	}
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		e.live = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	}
	s.prev, s.next = nil, nil
	e.mu.Unlock()
	e.active.Add(-1)
}

// serveConn runs one session, on the goroutine the accept loop started for
// it. A ClientFirst handler's session waits for its first bytes right
// here, in a small frame: an idle connection needs the smallest stack.
// The handler then runs on a worker: a goroutine that has run handlers
// before, whose stack has grown to what they need. A new goroutine would
// grow its stack (copying it each time) as deep as the handler goes, for
// every session. When no worker is idle, this goroutine becomes one.
func (e *Engine) serveConn(s *tcpSession) {
	e.begin(s)
	if s.l.clientFirst {
		// The deadline of the wait is set here, in a shallow frame: the
		// runtime's timer code, called from the read deeper down, would
		// grow this goroutine's stack past its starting size. The read
		// finds it set.
		s.conn.arm(dirRead, 0)
		s.sess.Reader().Fill()
	}
	e.idleMu.Lock()
	var w *worker
	if n := len(e.idle); n > 0 {
		w = e.idle[n-1]
		e.idle[n-1] = nil
		e.idle = e.idle[:n-1]
	}
	e.idleMu.Unlock()
	if w != nil {
		w.next <- s
		e.workers.Done()
		return
	}
	e.worker(s)
}

// worker runs s, then the sessions handed to it, until none came for
// workerIdle or Serve has ended. An idle worker waits on a channel of its
// own, not in a select with a timer: a hand-off costs no timer and no
// more than one channel.
func (e *Engine) worker(s *tcpSession) {
	defer e.workers.Done()
	w := &worker{next: make(chan *tcpSession, 1)}
	for s != nil {
		e.handle(s)
		e.idleMu.Lock()
		if e.quit {
			e.idleMu.Unlock()
			return
		}
		w.tick = e.idleTick
		e.idle = append(e.idle, w)
		e.idleMu.Unlock()
		s = <-w.next
	}
}

// reapWorkers ends the workers that have been idle for workerIdle, until
// ctx is done.
func (e *Engine) reapWorkers(ctx context.Context) {
	// A worker idle since tick t is idle for at least two periods, that
	// is workerIdle, at tick t+3.
	t := time.NewTicker(workerIdle / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.idleMu.Lock()
		e.idleTick++
		n := 0 // e.idle is in the order the workers went idle
		for n < len(e.idle) && e.idle[n].tick+3 <= e.idleTick {
			e.idle[n].next <- nil
			n++
		}
		if n > 0 {
			k := copy(e.idle, e.idle[n:])
			clear(e.idle[k:])
			e.idle = e.idle[:k]
		}
		e.idleMu.Unlock()
	}
}

// handle runs the session's handler and ends the session.
func (e *Engine) handle(s *tcpSession) {
	defer e.wg.Done()
	done := e.run(s)
	e.end(s, done)
}

// begin sets the session up and emits its connect event.
func (e *Engine) begin(s *tcpSession) {
	lim := e.opts.Limits
	start := time.Now()
	end := start.Add(lim.MaxDuration)
	s.ctx.end = end
	c := &s.conn
	c.idle, c.maxIn, c.maxOut, c.ctx = lim.IdleTimeout, int64(lim.MaxBytesIn), int64(lim.MaxBytesOut), &s.ctx
	c.maxDur, c.armedR, c.armedW = end.Sub(start), unarmed, unarmed
	c.tr.Init(start, int(lim.Transcript), e.budget)
	r := &s.sess.Recorder
	r.Sensor, r.SessionID, r.Service, r.Transport = e.opts.Sensor, event.NewID(start), s.l.service, event.TCP
	r.Remote, r.Local = s.remote, addrPort(c.LocalAddr())
	r.Emitter, r.Samples = e.opts.Emitter, e.opts.Samples
	s.sess.InitAt(start, c, e.log, int(lim.ReadBuffer))
	e.connected(s)
}

// connected emits the connect event, at the session's start, in a frame
// of its own: begin's is not on the stack while the event is queued.
func (e *Engine) connected(s *tcpSession) {
	s.sess.EmitAt(s.sess.Start, s.l.connect)
}

// end closes the connection and emits the close event. The session's
// place under the caps is given back when its connection closes, before
// its close event: whoever sees that event may connect again at once.
func (e *Engine) end(s *tcpSession, done runResult) {
	c := &s.conn
	_ = c.Close()
	e.release(s)
	s.sess.Release()
	in, out := c.tr.Kept()
	now := time.Now()
	x := new(closeEvent)
	x.d = event.Close{
		DurationMS: now.Sub(s.sess.Start).Milliseconds(),
		BytesIn:    c.in.Load(), BytesOut: c.out.Load(),
		Reason:       c.reasonOr(done),
		TranscriptIn: int64(in), TranscriptOut: int64(out),
		Transcript: c.tr.Finish(),
	}
	s.sess.EmitInAt(&x.slot, now, &x.d)
	s.ctx.release()
}

// closeEvent is a close event and its detail, in one allocation.
type closeEvent struct {
	slot event.Slot
	d    event.Close
}

// run calls the handler, turning a panic into a logged, counted end of
// this session only.
func (e *Engine) run(s *tcpSession) (res runResult) {
	defer func() {
		if r := recover(); r != nil {
			e.panicked(s, r)
			res = runPanicked
		}
	}()
	s.l.h.ServeTCP(&s.ctx, &s.sess)
	return runReturned
}

func (e *Engine) panicked(s *tcpSession, r any) {
	e.panics.Add(1)
	e.log.Error("service panicked; session cut", "service", s.l.service, "session", s.sess.SessionID,
		"src", s.remote.String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
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
