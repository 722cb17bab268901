package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

func TestSmokeEcho(t *testing.T) {
	h := servicetest.Start(t, "echo", service.HandlerFunc(func(ctx context.Context, s *service.Session) {
		s.WriteString("hello\r\n")
		for {
			line, err := s.Reader().ReadLine(100)
			if err != nil {
				return
			}
			s.Emit(&event.Command{Line: string(line)})
			s.WriteString("you said " + string(line) + "\r\n")
		}
	}), nil)
	out := h.Exchange(t, []byte("a\r\nbb\n"), 3*time.Second)
	if string(out) != "hello\r\nyou said a\r\nyou said bb\r\n" {
		t.Fatalf("got %q", out)
	}
	evs := h.WaitClosed(t, 1)
	t.Log(servicetest.Summary(evs))
	c := servicetest.OfKind(evs, event.KindClose)[0].Detail.(*event.Close)
	t.Logf("%+v", *c)
}
