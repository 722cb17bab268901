package engine_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smallpot/smallpot/internal/engine"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// Cancelling Serve's context ends every session at once, whatever its
// handler is blocked in, and leaves no goroutine behind.
func TestShutdown(t *testing.T) {
	lim := limits() // idle timeout and maximum duration far beyond the test
	events := servicetest.NewCollector()
	eng := engine.New(engine.Options{Sensor: "s", Limits: lim, Emitter: events, Logger: slog.New(slog.DiscardHandler)})

	started := make(chan string, 16)
	var returned atomic.Int64
	reader := service.HandlerFunc(func(ctx context.Context, s *service.Session) {
		defer returned.Add(1)
		started <- "reader"
		_, _ = io.Copy(io.Discard, s.Reader()) // blocked in Read
	})
	waiter := service.HandlerFunc(func(ctx context.Context, s *service.Session) {
		defer returned.Add(1)
		started <- "waiter"
		<-ctx.Done() // blocked on the context only
	})
	packet := service.PacketHandlerFunc(func(ctx context.Context, p *service.Packet) {
		defer returned.Add(1)
		started <- "packet"
		<-ctx.Done()
	})
	rAddr, err := eng.ListenTCP("reader", "127.0.0.1:0", reader)
	if err != nil {
		t.Fatal(err)
	}
	wAddr, err := eng.ListenTCP("waiter", "127.0.0.1:0", waiter)
	if err != nil {
		t.Fatal(err)
	}
	uAddr, err := eng.ListenUDP("packet", "127.0.0.1:0", packet, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Serve(ctx) }()

	var clients []net.Conn
	for range 3 {
		clients = append(clients, dial(t, rAddr), dial(t, wAddr))
	}
	// One of them half-way through a line.
	_, _ = clients[0].Write([]byte("partial li"))
	u, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(uAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	_, _ = u.Write([]byte("x"))
	for range 7 {
		recv(t, started, "every handler to start")
	}
	if st := eng.Stats(); st.Active != 6 {
		t.Fatalf("got %d active sessions; want 6", st.Active)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("Serve did not return within %v of its context's end", waitLimit)
	}
	if n := returned.Load(); n != 7 {
		t.Errorf("Serve returned with %d of 7 handlers returned", n)
	}
	closes := ofKind(events.Events(), event.KindClose)
	if len(closes) != 6 {
		t.Fatalf("got %d close events; want 6", len(closes))
	}
	for _, e := range closes {
		if r := e.Detail.(*event.Close).Reason; r != event.ReasonShutdown {
			t.Errorf("%s session: got reason %q; want %q", e.Service, r, event.ReasonShutdown)
		}
	}
	if st := eng.Stats(); st.Active != 0 {
		t.Errorf("got %d active after shutdown; want 0", st.Active)
	}
	// Every client sees its connection closed.
	for _, c := range clients {
		_ = c.SetReadDeadline(time.Now().Add(waitLimit))
		if _, err := io.ReadAll(c); isTimeout(err) {
			t.Error("a client's connection stayed open after shutdown")
		}
	}
	// The listeners are closed.
	if c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(rAddr)); err == nil {
		c.Close()
		t.Error("listener still accepts after shutdown")
	}
	goleak.VerifyNone(t)
}

// An engine that was bound but never served releases its ports on Close.
func TestCloseUnserved(t *testing.T) {
	eng := engine.New(engine.Options{Limits: limits(), Logger: slog.New(slog.DiscardHandler)})
	addr, err := eng.ListenTCP("x", "127.0.0.1:0", service.HandlerFunc(func(context.Context, *service.Session) {}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.ListenUDP("x", "127.0.0.1:0", service.PacketHandlerFunc(func(context.Context, *service.Packet) {}), 0); err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		t.Fatalf("port still bound after Close: %v", err)
	}
	ln.Close()
}

// A context already ended makes Serve return at once.
func TestServeEndedContext(t *testing.T) {
	eng := engine.New(engine.Options{Limits: limits(), Logger: slog.New(slog.DiscardHandler)})
	if _, err := eng.ListenTCP("x", "127.0.0.1:0", service.HandlerFunc(func(context.Context, *service.Session) {})); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- eng.Serve(ctx) }()
	if err := recv(t, done, "Serve"); err != nil {
		t.Fatal(err)
	}
}
