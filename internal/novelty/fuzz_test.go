package novelty

import (
	"testing"

	"github.com/smallpot/smallpot/internal/event"
)

// FuzzShape feeds attacker-controlled text to every normalizer: a shape
// is bounded, printable ASCII, and the same for the same input.
func FuzzShape(f *testing.F) {
	for _, tc := range shapeCases {
		switch d := tc.d.(type) {
		case *event.Request:
			f.Add(d.URI)
		case *event.Command:
			f.Add(d.Line)
		case *event.Payload:
			f.Add(string(d.Data))
		}
	}
	f.Add("%u%%2%c0%af\x00'\"`;|&&>>2>")
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range []event.Detail{
			&event.Request{Method: s, URI: s, Version: s, Headers: []event.Header{{Name: s}}, Malformed: s},
			&event.Command{Shell: s, Line: s},
			&event.Payload{Len: int64(len(s)), Data: []byte(s)},
			&event.SSH{ClientVersion: s, HASSH: s},
			&event.RPC{Auth: s},
		} {
			e := envelope(d)
			got := shapeOf(e)
			if len(got) > maxShape || got == "" {
				t.Fatalf("%T: shape of %d bytes", d, len(got))
			}
			for i := range len(got) {
				if c := got[i]; c < 0x20 || c > 0x7e {
					t.Fatalf("%T: shape %q has byte %#x", d, got, c)
				}
			}
			if again := shapeOf(e); again != got {
				t.Fatalf("%T: shape not deterministic: %q then %q", d, got, again)
			}
		}
	})
}
