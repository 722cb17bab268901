package engine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/engine"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
	"github.com/smallpot/smallpot/internal/transcript"
)

// A close event, its detail and its transcript are handed to the sinks,
// which read them later: sessions run at once (with -race, while another
// goroutine reads their events) leave every event as it was emitted, and
// each transcript the session's own. Reusing their memory for a later
// session, or writing it after the event is emitted, would fail here.
func TestCloseEventsKeepTheirContents(t *testing.T) {
	lim := limits()
	lim.MaxSessions, lim.MaxSessionsPerSource = 1000, 1000
	em := servicetest.NewSnapshots()
	eng := engine.New(engine.Options{Sensor: "test-sensor", Limits: lim, Emitter: em, Logger: slog.New(slog.DiscardHandler)})
	addr, err := eng.ListenTCP("test", "127.0.0.1:0", service.HandlerFunc(func(ctx context.Context, s *service.Session) {
		line, err := s.Reader().ReadLine(100)
		if err == nil {
			_, _ = s.Write([]byte("you are " + string(line) + "\r\n"))
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- eng.Serve(ctx) }()
	const clients, conns = 8, 25
	var wg sync.WaitGroup
	for cl := range clients {
		wg.Go(func() {
			for i := range conns {
				// Not dial and readAll: they stop the test, which only
				// its own goroutine may do.
				c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(addr))
				if err != nil {
					t.Error(err)
					return
				}
				name := fmt.Sprintf("client-%d-%d-%s", cl, i, strings.Repeat("x", i))
				_ = c.SetDeadline(time.Now().Add(waitLimit))
				_, err = c.Write([]byte(name + "\r\n"))
				got, rerr := io.ReadAll(c)
				_ = c.Close()
				if err != nil || rerr != nil || string(got) != "you are "+name+"\r\n" {
					t.Errorf("got %q, %v, %v", got, err, rerr)
					return
				}
			}
		})
	}
	wg.Wait()
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	em.Close()
	if err := em.Changed(); err != nil {
		t.Fatal(err)
	}
	closes := 0
	for _, e := range em.Events() {
		cl, ok := e.Detail.(*event.Close)
		if !ok {
			continue
		}
		closes++
		var in, out []byte
		chunks, err := transcript.Decode(cl.Transcript)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range chunks {
			if ch.Dir == transcript.In {
				in = append(in, ch.Data...)
			} else {
				out = append(out, ch.Data...)
			}
		}
		if string(out) != "you are "+string(in) || int64(len(in)) != cl.BytesIn || int64(len(out)) != cl.BytesOut {
			t.Fatalf("close %+v: transcript %q / %q, not one session's", cl, in, out)
		}
	}
	if closes != clients*conns {
		t.Errorf("got %d close events; want %d", closes, clients*conns)
	}
}
