package engine_test

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/engine"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// waitLimit bounds every wait for something the engine does on its own;
// the waits are event-driven and a healthy run never comes near it.
const waitLimit = 10 * time.Second

// limits are the defaults with timeouts far beyond any test: a test that
// is about a timeout sets it short itself.
func limits() config.Limits {
	l := config.Builtin().Limits
	l.IdleTimeout = time.Minute
	l.MaxDuration = 5 * time.Minute
	return l
}

type rig struct {
	eng    *engine.Engine
	events *servicetest.Collector
	tcp    netip.AddrPort
	udp    netip.AddrPort
	stop   func() // cancels Serve and waits for it
}

// serve runs an engine with one service named "test" on 127.0.0.1: tcp
// and udp may be nil. The engine stops when the test ends.
func serve(t *testing.T, lim config.Limits, tcp service.Handler, udp service.PacketHandler, replyFactor float64) *rig {
	t.Helper()
	r := &rig{events: servicetest.NewCollector()}
	r.eng = engine.New(engine.Options{Sensor: "test-sensor", Limits: lim, Emitter: r.events,
		Logger: slog.New(slog.DiscardHandler)})
	var err error
	if tcp != nil {
		if r.tcp, err = r.eng.ListenTCP("test", "127.0.0.1:0", tcp); err != nil {
			t.Fatal(err)
		}
	}
	if udp != nil {
		if r.udp, err = r.eng.ListenUDP("test", "127.0.0.1:0", udp, replyFactor); err != nil {
			t.Fatal(err)
		}
	}
	r.stop = engine.ServeInTest(t, r.eng)
	return r
}

func dial(t *testing.T, addr netip.AddrPort) *net.TCPConn {
	t.Helper()
	c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// dialFrom connects from a given loopback address, or skips the test where
// the machine has only 127.0.0.1.
func dialFrom(t *testing.T, src string, addr netip.AddrPort) *net.TCPConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Skipf("cannot connect from %s here: %v", src, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*net.TCPConn)
}

// readAll reads until the server closes.
func readAll(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	b, err := io.ReadAll(c)
	if isTimeout(err) {
		t.Fatalf("server did not close within %v (read %q)", waitLimit, b)
	}
	return b
}

// dialRefused connects and reports whether the server closed the
// connection without a word: the reset may come while connecting already.
func dialRefused(t *testing.T, addr netip.AddrPort) bool {
	t.Helper()
	c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(addr))
	if errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return refused(t, c)
}

// refused reports whether the server closed c without a word.
func refused(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	n, err := c.Read(make([]byte, 1))
	if isTimeout(err) {
		t.Fatalf("connection neither served nor closed within %v", waitLimit)
	}
	return n == 0 && err != nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func localAddr(c net.Conn) netip.AddrPort {
	return c.LocalAddr().(*net.TCPAddr).AddrPort()
}

// closeOf waits for the close event of the session c is the client of.
func (r *rig) closeOf(t *testing.T, c net.Conn) (*event.Event, *event.Close) {
	t.Helper()
	src := localAddr(c)
	find := func(evs []*event.Event) *event.Event {
		for _, e := range evs {
			if e.Kind == event.KindClose && e.Src == src {
				return e
			}
		}
		return nil
	}
	evs := r.events.Wait(t, waitLimit, func(evs []*event.Event) bool { return find(evs) != nil })
	e := find(evs)
	return e, e.Detail.(*event.Close)
}

// sessionEvents returns the events of the session c is the client of.
func (r *rig) sessionEvents(c net.Conn) []*event.Event {
	src := localAddr(c)
	var out []*event.Event
	for _, e := range r.events.Events() {
		if e.Src == src {
			out = append(out, e)
		}
	}
	return out
}

// recv waits for a value from a handler.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// eventually waits for cond, for counters that no event announces.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
