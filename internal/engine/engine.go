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
	perSource map[netip.Addr]*source
	spare     []*source // sources no session holds, to reuse
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

// maxIdleWorkers bounds the workers waiting for a session. After a flood
// of connections as many workers as there were sessions at once would
// wait, each with the stack its handlers grew, for workerIdle: memory,
// and work for every garbage collection, which scans their stacks. The
// next burst uses the most recently idle first; beyond this many, a
// worker whose session ends exits at once. Tests change it.
var maxIdleWorkers = 512

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
	// local is the local address of every connection ln accepts, when
	// that is known from ln's own (see localOf); invalid otherwise.
	local netip.AddrPort
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
		perSource: map[netip.Addr]*source{}}
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
	ap := addrPort(ln.Addr())
	tl := &tcpListener{service: name, ln: ln.(*net.TCPListener), h: h, clientFirst: first,
		addr: ap.String(), local: localOf(ap)}
	tl.connect = &event.Connect{Listener: tl.addr}
	e.mu.Lock()
	e.tcp = append(e.tcp, tl)
	e.mu.Unlock()
	return ap, nil
}

// localOf returns the local address of every connection a listener bound
// to ap accepts, when ap says it: a listener bound to one IPv4 address
// accepts connections to that address and port only, so a session need
// not convert its connection's own. A wildcard bind accepts connections
// to any of the host's addresses, and IPv6 (zones, dual-stack sockets)
// is left to each connection: for those it returns the zero AddrPort.
func localOf(ap netip.AddrPort) netip.AddrPort {
	if a := ap.Addr(); !a.Is4() || a.IsUnspecified() {
		return netip.AddrPort{}
	}
	return ap
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
		s := &tcpSession{l: l}
		s.sess.Remote = addrPort(c.RemoteAddr())
		s.conn.Conn = c
		s.ctx.init(ctx, time.Time{})
		if !e.admit(s) {
			_ = c.SetLinger(0)
			_ = c.Close()
			continue
		}
		e.startSession(s)
	}
}

// startSession runs an admitted session: on an idle worker when there is
// one (see handle), else on a goroutine of its own (see serveConn).
func (e *Engine) startSession(s *tcpSession) {
	e.accepted.Add(1)
	e.wg.Add(1)
	if w := e.idleWorker(); w != nil {
		w.next <- s
		return
	}
	e.workers.Add(1)
	go e.serveConn(s)
}

// tcpSession is all one TCP session holds, in one allocation.
type tcpSession struct {
	conn // what the handler reads and writes
	ctx  sessionCtx
	// sess's Remote is the client's address, set at accept.
	sess service.Session
	l    *tcpListener
	// src is what the session holds under the per-source cap: the caps
	// do not depend on sess, whose Recorder a handler may write.
	src        *source
	prev, next *tcpSession // in Engine.live
}

// source is a client address that has live sessions, and how many: what
// the per-source cap counts. A session holds its source, so that giving
// its place back looks nothing up.
type source struct {
	addr netip.Addr
	n    int // under Engine.mu
}

// maxSpare bounds the sources kept for reuse.
const maxSpare = 1024

// stop ends the session because Smallpot stops: its context is done and
// its I/O fails at once. Called with Engine.mu held.
func (s *tcpSession) stop() {
	s.ctx.stop()
	_ = s.conn.Conn.SetDeadline(past)
}

// admit applies the global and per-source caps and, when the session may
// start, puts it on the list of live sessions.
func (e *Engine) admit(s *tcpSession) bool {
	lim := &e.opts.Limits
	src := s.sess.Remote.Addr()
	if e.active.Add(1) > int64(lim.MaxSessions) {
		e.active.Add(-1)
		if e.refusedG.Add(1)%1000 == 1 {
			e.log.Warn("session cap reached: connections refused", "max_sessions", lim.MaxSessions, "refused_total", e.refusedG.Load())
		}
		return false
	}
	e.mu.Lock()
	p, n := e.perSource[src], 0
	if p != nil {
		n = p.n
	}
	if n >= lim.MaxSessionsPerSource || e.stopping {
		e.mu.Unlock()
		e.active.Add(-1)
		if !e.stopping && e.refusedS.Add(1)%1000 == 1 {
			e.log.Warn("per-source session cap reached: connections refused", "src", src, "max_sessions_per_source", lim.MaxSessionsPerSource, "refused_total", e.refusedS.Load())
		}
		return false
	}
	if p == nil {
		p = e.newSource(src)
		e.perSource[src] = p
	}
	p.n++
	s.src = p
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
	p := s.src
	e.mu.Lock()
	if p.n--; p.n == 0 {
		delete(e.perSource, p.addr)
		if len(e.spare) < maxSpare {
			e.spare = append(e.spare, p)
		}
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

// newSource returns a source of addr with no session, a spare one if
// there is one. Called with Engine.mu held.
func (e *Engine) newSource(addr netip.Addr) *source {
	n := len(e.spare)
	if n == 0 {
		return &source{addr: addr}
	}
	p := e.spare[n-1]
	e.spare[n-1] = nil
	e.spare = e.spare[:n-1]
	p.addr = addr
	return p
}

// serveConn runs one session, on the goroutine the accept loop started for
// it as no worker was idle. A ClientFirst handler's session waits for its
// first bytes right here, in a small frame: an idle connection needs the
// smallest stack. The handler then runs on a worker: a goroutine that has
// run handlers before, whose stack has grown to what they need. A new
// goroutine would grow its stack (copying it each time) as deep as the
// handler goes, for every session. When no worker is idle, this goroutine
// becomes one.
func (e *Engine) serveConn(s *tcpSession) {
	if s.l.clientFirst {
		e.begin(s)
		// The deadline of the wait is set here, in a shallow frame: the
		// runtime's timer code, called from the read deeper down, would
		// grow this goroutine's stack past its starting size. The read
		// finds it set.
		s.conn.arm(dirRead, 0)
		s.fill(true)
		e.toWorker(s)
		return
	}
	e.worker(s)
}

// awaitFirst waits for the first bytes of a ClientFirst handler's session
// that has begun, on a goroutine of its own that started small.
func (e *Engine) awaitFirst(s *tcpSession) {
	s.sess.Reader().Fill()
	e.toWorker(s)
}

// fill reads the first bytes of a ClientFirst handler's session that has
// just begun: once they are in, or (wait false) only if they are in
// already. It reports whether the session's reader holds them (or the
// error that ended the wait). The read starts as the session does: it
// takes the session's start as its own, and reads no clock.
func (s *tcpSession) fill(wait bool) bool {
	s.conn.first = true
	in := true
	if wait {
		s.sess.Reader().Fill()
	} else {
		in = s.sess.Reader().TryFill()
	}
	s.conn.first = false
	return in
}

// toWorker runs a session whose first bytes are in on a worker: an idle
// one, or else the calling goroutine, which becomes one (see serveConn).
func (e *Engine) toWorker(s *tcpSession) {
	if w := e.idleWorker(); w != nil {
		w.next <- s
		e.workers.Done()
		return
	}
	e.worker(s)
}

// idleWorker takes the worker idle for the shortest time off the idle
// ones, or returns nil when none is idle.
func (e *Engine) idleWorker() *worker {
	e.idleMu.Lock()
	defer e.idleMu.Unlock()
	n := len(e.idle)
	if n == 0 {
		return nil
	}
	w := e.idle[n-1]
	e.idle[n-1] = nil
	e.idle = e.idle[:n-1]
	return w
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
		if e.quit || len(e.idle) >= maxIdleWorkers {
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

// handle runs the session's handler on a worker and ends the session.
// A session the accept loop handed on begins here. For a ClientFirst
// handler the worker takes the first bytes if they are in already, as
// they mostly are (a client sends its request as it connects), and runs
// the handler at once: no goroutine is started for the session, and none
// woken but this one. A session whose client has sent nothing yet waits
// on a goroutine of its own after all (see awaitFirst), and the worker
// goes back to wait for another.
func (e *Engine) handle(s *tcpSession) {
	if !s.begun() {
		e.begin(s)
		if s.l.clientFirst && !s.fill(false) {
			e.workers.Add(1)
			go e.awaitFirst(s)
			return
		}
	}
	defer e.wg.Done()
	done := e.run(s)
	e.end(s, done)
}

// begun reports whether begin has set the session up.
func (s *tcpSession) begun() bool { return !s.sess.Start.IsZero() }

// begin sets the session up and emits its connect event. It reads the
// clock once: the session's start is its events' time, its ID's, its
// transcript's and its deadlines' base.
func (e *Engine) begin(s *tcpSession) {
	lim := &e.opts.Limits
	start := time.Now()
	end := start.Add(lim.MaxDuration)
	s.ctx.end = end
	c := &s.conn
	c.idle, c.maxIn, c.maxOut, c.ctx = lim.IdleTimeout, int64(lim.MaxBytesIn), int64(lim.MaxBytesOut), &s.ctx
	c.maxDur, c.armedR, c.armedW = end.Sub(start), unarmed, unarmed
	c.tr.Init(start, int(lim.Transcript), e.budget)
	r := &s.sess.Recorder
	r.Sensor, r.SessionID, r.Service, r.Transport = e.opts.Sensor, event.NewID(start), s.l.service, event.TCP
	r.Local = s.l.local
	if !r.Local.IsValid() {
		r.Local = addrPort(c.LocalAddr())
	}
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
// It reads the clock once, for the event's time, the duration and the
// reason.
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
		Reason:       c.reasonOr(done, now),
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
		"src", s.sess.Remote.String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
}

type runResult int

const (
	runReturned runResult = iota
	runPanicked
)

func (c *conn) reasonOr(r runResult, now time.Time) string {
	if r == runPanicked {
		return event.ReasonPanic
	}
	return c.reason(true, now)
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
