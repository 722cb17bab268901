package upnp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// testClock is the fixed time of every test server.
var testClock = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// newTestServer builds a server of profile with a fixed clock; mutate
// edits its config first.
func newTestServer(t testing.TB, profile string, mutate func(*Config)) *Server {
	t.Helper()
	c := DefaultConfig(profile)
	if mutate != nil {
		mutate(c)
	}
	now := testClock
	s, err := newServer(c, service.Env{Profile: profile, Sensor: "test"}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tcpOnly and udpOnly hide one side of the server from the harness.
type tcpOnly struct{ s *Server }

func (h tcpOnly) ServeTCP(ctx context.Context, s *service.Session) { h.s.ServeTCP(ctx, s) }

type udpOnly struct{ s *Server }

func (h udpOnly) ServePacket(ctx context.Context, p *service.Packet) { h.s.ServePacket(ctx, p) }

// startGateway serves s on a TCP and a UDP harness; LOCATION names the
// TCP harness's port.
func startGateway(t testing.TB, s *Server) (tcp, udp *servicetest.Harness) {
	t.Helper()
	tcp = servicetest.Start(t, "upnp", tcpOnly{s}, nil)
	s.cfg.LocationPort = int(tcp.Addr.Port())
	udp = servicetest.Start(t, "upnp", udpOnly{s}, nil)
	return tcp, udp
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// kv makes name/value pairs.
func kv(pairs ...string) []event.Header {
	var out []event.Header
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, event.Header{Name: pairs[i], Value: pairs[i+1]})
	}
	return out
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
