package generic

import (
	"bytes"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// FuzzCapture sends arbitrary bytes: the payload event must hold exactly
// the first capture bytes, whatever they are.
func FuzzCapture(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"))
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0xa5, 0x01})
	f.Add([]byte{0})
	f.Add(bytes.Repeat([]byte{0xff}, 300))
	h := servicetest.Start(f, "generic", newServer(f, func(c *Config) { c.Capture = 256 }), nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		before := len(servicetest.OfKind(h.Events.Events(), event.KindPayload))
		h.Exchange(t, in, 5*time.Second)
		evs := h.Events.Wait(t, 10*time.Second, func(evs []*event.Event) bool {
			return len(servicetest.OfKind(evs, event.KindPayload)) > before
		})
		d := servicetest.OfKind(evs, event.KindPayload)[before].Detail.(*event.Payload)
		want := in[:min(len(in), 256)]
		if !bytes.Equal(d.Data, want) || d.Truncated != (len(in) > 256) {
			t.Errorf("payload %q (truncated %v), want %q (truncated %v)", d.Data, d.Truncated, want, len(in) > 256)
		}
	})
}
