package mssql

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/engine"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// testConfig is the windows2000 default, changed by mutate and validated.
func testConfig(t testing.TB, mutate func(*Config)) *Config {
	t.Helper()
	c := DefaultConfig(service.ProfileWindows2000)
	if mutate != nil {
		mutate(c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func newServer(t testing.TB, mutate func(*Config)) *Server {
	t.Helper()
	s, err := New(testConfig(t, mutate), service.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// start serves s on 127.0.0.1, TCP and UDP, with the UDP reply factor of
// its configuration, as the binary binds it (servicetest.Start binds UDP
// with factor 1).
func start(t testing.TB, s *Server) *servicetest.Harness {
	t.Helper()
	return startWith(t, func(int) *Server { return s })
}

// lateHandler serves TCP through a server built once the port is known.
type lateHandler struct{ s atomic.Pointer[Server] }

func (l *lateHandler) ServeTCP(ctx context.Context, sess *service.Session) {
	l.s.Load().ServeTCP(ctx, sess)
}

// startWith binds TCP first and builds the server for that port: a
// persona may then announce the port the harness really listens on.
func startWith(t testing.TB, build func(tcpPort int) *Server) *servicetest.Harness {
	t.Helper()
	h := &servicetest.Harness{Events: servicetest.NewCollector(), Samples: servicetest.NewMemSamples()}
	lim := servicetest.Limits()
	// nmap's NULL probe waits 6s for a banner: an idle timeout shorter
	// than that closes the connection first, and nmap says "tcpwrapped".
	lim.IdleTimeout = 30 * time.Second
	h.Engine = engine.New(engine.Options{Sensor: "test", Limits: lim, Emitter: h.Events, Samples: h.Samples})
	late := &lateHandler{}
	var err error
	if h.Addr, err = h.Engine.ListenTCP("mssql", "127.0.0.1:0", late); err != nil {
		t.Fatal(err)
	}
	s := build(int(h.Addr.Port()))
	late.s.Store(s)
	if h.UDPAddr, err = h.Engine.ListenUDP("mssql", "127.0.0.1:0", s, s.cfg.ReplyFactor); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.Engine.Serve(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("engine did not stop within 10s")
		}
	})
	return h
}

// announcing returns a server whose resolution service announces tcpPort,
// with the reply factor that answer needs.
func announcing(t testing.TB, tcpPort int, mutate func(*Config)) *Server {
	return newServer(t, func(c *Config) {
		if mutate != nil {
			mutate(c)
		}
		c.Persona.TCPPort = tcpPort
		c.ReplyFactor = float64(c.Persona.browser().answerSize())
	})
}
