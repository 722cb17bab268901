package novelty

import (
	"strings"
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

// FuzzShapeReference compares the shapes and keys of shape.go with those
// of the reference implementation (shape_ref_test.go) on random details.
func FuzzShapeReference(f *testing.F) {
	for _, tc := range shapeCases {
		switch d := tc.d.(type) {
		case *event.Request:
			f.Add(d.Method, d.URI, uint32(len(d.Headers)))
		case *event.Command:
			f.Add(d.Shell, d.Line, uint32(0))
		case *event.Payload:
			f.Add("", string(d.Data), uint32(d.Len))
		case *event.SSH:
			f.Add(d.HASSH, d.ClientVersion, uint32(0))
		case *event.RPC:
			f.Add(d.Auth, "", d.Program)
		}
	}
	f.Add("X-a\nx-B\n", "/a/1/b%2e%u0041?k=1&k2&=v", uint32(1))
	f.Add("sh", `a=1 b 'c"d' "e"f ;;2>x 1.2.3.4:5 -0.1.2.3 +1.2.3.4 -x=y ./z`, uint32(7))
	f.Fuzz(checkShapeReference)
}

// checkShapeReference compares the shapes and keys of details made of a,
// b and n with those of the reference implementation.
func checkShapeReference(t *testing.T, a, b string, n uint32) {
	var hs []event.Header
	for name := range strings.SplitSeq(a, "\n") {
		hs = append(hs, event.Header{Name: name})
	}
	malformed := ""
	if n&1 != 0 {
		malformed = "bad"
	}
	var last lastShape
	for _, d := range []event.Detail{
		&event.Request{Method: a, URI: b, Version: a, Headers: hs, Malformed: malformed},
		&event.Request{Method: "GET", URI: a + "?" + b, Version: "HTTP/1.1", Headers: []event.Header{{Name: b}}},
		&event.Command{Shell: a, Line: b},
		&event.Command{Shell: "sh", Line: a + " " + b},
		&event.Payload{Len: int64(n), Data: []byte(b)},
		&event.SSH{ClientVersion: b, HASSH: a},
		&event.RPC{Program: n, Version: n >> 16, Procedure: n & 0xff, Auth: a, Malformed: malformed},
	} {
		e := envelope(d)
		e.Sensor = a
		want := refShapeOf(e)
		got := shapeOf(e)
		if got != want {
			t.Fatalf("%T of %q, %q, %d:\ngot  %q\nwant %q", d, a, b, n, got, want)
		}
		if got, want := last.key(e, []byte(got)), refShapeKey(e, want); got != want {
			t.Fatalf("%T of %q, %q, %d: key %x; want %x", d, a, b, n, got, want)
		}
	}
}
