package telnet

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// FuzzParser feeds arbitrary bytes to the option parser, whole and split
// at an arbitrary point: the same data and ops either way, data never
// longer than the input, subnegotiations within their bound, and input
// without IAC passed through untouched.
func FuzzParser(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in), uint16(len(tc.in)/2))
	}
	f.Add([]byte("\xff\xfa\xff\xff\xff\xff\xf0\xff"), uint16(3))
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		p := Parser{MaxSub: 16}
		data, ops := p.Feed(in, nil, nil)
		at := int(cut) % (len(in) + 1)
		q := Parser{MaxSub: 16}
		d2, o2 := q.Feed(in[:at], nil, nil)
		d2, o2 = q.Feed(in[at:], d2, o2)
		if !bytes.Equal(data, d2) || !reflect.DeepEqual(ops, o2) {
			t.Fatalf("split at %d differs: %q %+v vs %q %+v", at, data, ops, d2, o2)
		}
		if len(data) > len(in) || len(ops) > len(in)/2 {
			t.Fatalf("%d data bytes and %d ops from %d bytes", len(data), len(ops), len(in))
		}
		for _, op := range ops {
			if len(op.Data) > 16 {
				t.Fatalf("subnegotiation of %d bytes", len(op.Data))
			}
			_ = op.String()
		}
		if !bytes.Contains(in, []byte{cmdIAC}) && (!bytes.Equal(data, in) || len(ops) != 0) {
			t.Fatalf("input without IAC changed: %q -> %q", in, data)
		}
	})
}

// FuzzEditor types arbitrary bytes: lines stay within the bound, and the
// echo holds only what was typed plus line ends and erasures.
func FuzzEditor(f *testing.F) {
	for _, tc := range editorCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		lines, echo := typeLines(8, in)
		for _, l := range lines {
			if len(l.line) > 8 {
				t.Fatalf("line of %d bytes past the bound of 8", len(l.line))
			}
		}
		if len(echo) > 4*len(in) {
			t.Fatalf("echo of %d bytes for %d typed", len(echo), len(in))
		}
	})
}

// FuzzSession sends a logged-in BusyBox session arbitrary bytes: the
// handler never fails, every command line stays within max_line.
func FuzzSession(f *testing.F) {
	f.Add([]byte("enable\r\nsh\r\n/bin/busybox MIRAI\r\n"))
	f.Add([]byte("\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0cd /tmp; echo -ne '\\x7f' > a; ./a\r\n"))
	f.Add([]byte("\xff\xfa\x18\x00" + string(bytes.Repeat([]byte("x"), 300))))
	f.Add([]byte("exit\r\n"))
	h := servicetest.Start(f, "telnet", newServer(f, service.ProfileLinuxIoT, func(c *Config) { c.MaxLine = 64 }), nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		before := len(servicetest.OfKind(h.Events.Events(), event.KindClose))
		h.Exchange(t, append([]byte("root\r\nxc3511\r\n"), in...), 5*time.Second)
		evs := h.WaitClosed(t, before+1)
		for _, e := range evs {
			switch d := e.Detail.(type) {
			case *event.Close:
				if d.Reason == event.ReasonPanic {
					t.Fatalf("the handler panicked on %q", in)
				}
			case *event.Command:
				if d.Shell == "busybox" && len(d.Line) > 64 {
					t.Fatalf("command line of %d bytes", len(d.Line))
				}
			}
		}
	})
}
