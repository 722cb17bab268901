package engine_test

import (
	"bytes"
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
	"github.com/smallpot/smallpot/internal/transcript"
)

// copyingEmitter reads every event on a goroutine of its own, as the
// pipeline's sinks do, and keeps it with its JSON and its transcript's
// bytes as they were then.
type copyingEmitter struct {
	in   chan *event.Event
	done chan struct{}
	evs  []*event.Event
	json [][]byte
	blob [][]byte
}

func newCopyingEmitter() *copyingEmitter {
	m := &copyingEmitter{in: make(chan *event.Event, 64), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for e := range m.in {
			b, err := e.AppendJSON(nil)
			if err != nil {
				panic(err)
			}
			var blob []byte
			if bl, ok := e.Detail.(event.Blobber); ok {
				blob = bytes.Clone(bl.Blob())
			}
			m.evs, m.json, m.blob = append(m.evs, e), append(m.json, b), append(m.blob, blob)
		}
	}()
	return m
}

func (m *copyingEmitter) Emit(e *event.Event) { m.in <- e }

// A close event, its detail and its transcript are handed to the sinks,
// which read them later: sessions run at once (with -race, while another
// goroutine reads their events) leave every event as it was emitted, and
// each transcript the session's own. Reusing their memory for a later
// session, or writing it after the event is emitted, would fail here.
func TestCloseEventsKeepTheirContents(t *testing.T) {
	lim := limits()
	lim.MaxSessions, lim.MaxSessionsPerSource = 1000, 1000
	em := newCopyingEmitter()
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
	close(em.in)
	<-em.done
	closes := 0
	for i, e := range em.evs {
		if b, _ := e.AppendJSON(nil); !bytes.Equal(b, em.json[i]) {
			t.Fatalf("event changed after it was emitted:\n%s\nwas\n%s", b, em.json[i])
		}
		cl, ok := e.Detail.(*event.Close)
		if !ok {
			continue
		}
		closes++
		if !bytes.Equal(cl.Transcript, em.blob[i]) {
			t.Fatalf("transcript changed after it was emitted: %q, was %q", cl.Transcript, em.blob[i])
		}
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
