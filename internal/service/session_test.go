package service_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// EmitIn and EmitInAt give the caller's slot the envelope Emit and
// EmitAt give a new one; without an emitter they record nothing.
func TestEmitInFillsTheEnvelope(t *testing.T) {
	c := servicetest.NewCollector()
	r := service.Recorder{Sensor: "s1", SessionID: "sess", Service: "http", Transport: event.TCP,
		Remote: netip.MustParseAddrPort("198.51.100.7:4000"), Local: netip.MustParseAddrPort("192.0.2.1:80"), Emitter: c}
	at := time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC)
	r.EmitAt(at, &event.Command{Line: "a"})
	x := new(struct {
		slot event.Slot
		d    event.Command
	})
	x.d.Line = "a"
	r.EmitInAt(&x.slot, at, &x.d)
	before := time.Now()
	r.EmitIn(new(event.Slot), &event.Command{Line: "b"})
	evs := c.Events()
	if len(evs) != 3 {
		t.Fatalf("got %d events; want 3", len(evs))
	}
	want, got := *evs[0], *evs[1]
	if got.Detail != event.Detail(&x.d) || want.ID == got.ID {
		t.Errorf("EmitInAt's event: detail %p, id %s; want the slot's detail %p and an id of its own", got.Detail, got.ID, &x.d)
	}
	want.ID, want.Detail, got.ID, got.Detail = "", nil, "", nil
	if got != want {
		t.Errorf("EmitInAt's envelope\n%+v\nwant EmitAt's\n%+v", got, want)
	}
	if e := evs[2]; e.Time.Before(before) || e.Kind != event.KindCommand || e.Session != "sess" {
		t.Errorf("EmitIn's event %+v: want one of now, kind command, session sess", e)
	}
	var none service.Recorder
	none.EmitIn(new(event.Slot), &event.Command{})
	none.EmitInAt(new(event.Slot), at, &event.Command{})
}
