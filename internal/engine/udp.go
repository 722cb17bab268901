package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
)

// maxPacketHandlers bounds the datagrams one UDP listener handles at once;
// past it, datagrams are dropped and counted.
const maxPacketHandlers = 64

type udpListener struct {
	service string
	pc      *net.UDPConn
	h       service.PacketHandler
	factor  float64
	limiter *limiter
	sem     chan struct{}
}

// ListenUDP binds addr for a packet service. replyFactor is how many times
// the request's size a reply may be (0 means 1).
func (e *Engine) ListenUDP(name, addr string, h service.PacketHandler, replyFactor float64) (netip.AddrPort, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if replyFactor <= 0 {
		replyFactor = 1
	}
	lim := e.opts.Limits
	ul := &udpListener{service: name, pc: pc.(*net.UDPConn), h: h, factor: replyFactor,
		limiter: newLimiter(lim.UDPRepliesPerSecond, lim.UDPReplyBurst),
		sem:     make(chan struct{}, maxPacketHandlers)}
	e.mu.Lock()
	e.udp = append(e.udp, ul)
	e.mu.Unlock()
	return addrPort(pc.LocalAddr()), nil
}

func (e *Engine) packetLoop(ctx context.Context, l *udpListener) {
	buf := make([]byte, max(int(e.opts.Limits.MaxDatagram), 512))
	local := addrPort(l.pc.LocalAddr())
	for {
		n, from, err := l.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			e.log.Warn("udp read failed", "service", l.service, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		e.datagrams.Add(1)
		select {
		case l.sem <- struct{}{}:
		default:
			e.dgBusy.Add(1)
			continue
		}
		// The read buffer is reused for the next datagram: the handler
		// gets its own copy.
		data := make([]byte, n)
		copy(data, buf[:n])
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		e.wg.Add(1)
		go e.servePacket(ctx, l, data, from, local)
	}
}

func (e *Engine) servePacket(ctx context.Context, l *udpListener, data []byte, from, local netip.AddrPort) {
	defer e.wg.Done()
	defer func() { <-l.sem }()
	now := time.Now()
	allowed := int(float64(len(data)) * l.factor)
	reply := func(b []byte) error {
		if len(b) > allowed {
			e.repRef.Add(1)
			return service.ErrReplyTooLarge
		}
		if !l.limiter.allow(from.Addr(), time.Now()) {
			e.repRef.Add(1)
			return service.ErrRateLimited
		}
		_, err := l.pc.WriteToUDPAddrPort(b, from)
		return err
	}
	p := service.NewPacket(service.Recorder{
		Sensor: e.opts.Sensor, SessionID: event.NewID(now), Service: l.service,
		Transport: event.UDP, Remote: from, Local: local,
		Emitter: e.opts.Emitter, Samples: e.opts.Samples,
	}, data, reply)
	// The event gets its own copy: the handler may change p.Data while
	// the pipeline encodes the event.
	keep := data
	if max := int(e.opts.Limits.Transcript); len(keep) > max {
		keep = keep[:max]
	}
	keep = bytes.Clone(keep)
	p.Emit(&event.Payload{Len: int64(len(data)), Data: keep, Truncated: len(keep) < len(data)})
	defer func() {
		if r := recover(); r != nil {
			e.panics.Add(1)
			e.log.Error("service panicked on a datagram", "service", l.service, "session", p.SessionID,
				"src", from.String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	l.h.ServePacket(ctx, p)
}

// limiter is a token bucket per source address. Its table is bounded:
// when full, buckets idle long enough to be full again are dropped, and
// if that frees nothing a new source is refused until it does.
type limiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	buckets map[netip.Addr]*bucket
	maxKeys int
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), buckets: map[netip.Addr]*bucket{}, maxKeys: 65536}
}

func (l *limiter) allow(src netip.Addr, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[src]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			full := time.Duration(l.burst / l.rate * float64(time.Second))
			for k, v := range l.buckets {
				if now.Sub(v.last) > full {
					delete(l.buckets, k)
				}
			}
			if len(l.buckets) >= l.maxKeys {
				return false
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[src] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * l.rate
	if b.tokens > l.burst {
		b.tokens = l.burst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
