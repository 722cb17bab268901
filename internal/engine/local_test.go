package engine_test

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/smallpot/smallpot/internal/engine"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// A session's local address, in its events and its Session, is the one
// its connection has, whatever the listener is bound to: one IPv4
// address (which the engine takes from the listener), the wildcard or an
// IPv6 address (which it takes from each connection).
func TestLocalAddress(t *testing.T) {
	tests := []struct{ bind, dial string }{
		{"127.0.0.1:0", "127.0.0.1"},
		{"0.0.0.0:0", "127.0.0.1"},
		{"0.0.0.0:0", "127.0.0.2"},
		{"[::1]:0", "::1"},
		{"[::]:0", "::1"},
		{"[::]:0", "127.0.0.1"}, // dual-stack: an IPv4 client of an IPv6 socket
		{"[::ffff:127.0.0.1]:0", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.bind+" from "+tt.dial, func(t *testing.T) {
			events := servicetest.NewCollector()
			eng := engine.New(engine.Options{Sensor: "s", Limits: limits(), Emitter: events, Logger: slog.New(slog.DiscardHandler)})
			locals := make(chan netip.AddrPort, 1)
			addr, err := eng.ListenTCP("test", tt.bind, service.HandlerFunc(func(ctx context.Context, s *service.Session) {
				locals <- s.Local
			}))
			if err != nil {
				_ = eng.Close()
				t.Skipf("cannot bind %s here: %v", tt.bind, err)
			}
			engine.ServeInTest(t, eng)
			c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(tt.dial), addr.Port())))
			if err != nil {
				t.Skipf("cannot connect to %s here: %v", tt.dial, err)
			}
			defer c.Close()
			// What the connection's LocalAddr gives the server is what
			// the client is connected to.
			ra := c.RemoteAddr().(*net.TCPAddr).AddrPort()
			want := netip.AddrPortFrom(ra.Addr().Unmap(), ra.Port())
			if got := recv(t, locals, "the session"); got != want {
				t.Errorf("session's local address %v; want %v", got, want)
			}
			readAll(t, c)
			closeEv, _ := (&rig{events: events}).closeOf(t, c)
			for _, e := range append(ofKind(events.Events(), event.KindConnect), closeEv) {
				if e.Session == closeEv.Session && e.Dst != want {
					t.Errorf("%s event's dst %v; want %v", e.Kind, e.Dst, want)
				}
			}
		})
	}
}
