package smtp

import (
	"bytes"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

func FuzzParseCommand(f *testing.F) {
	for _, tt := range commandCases {
		f.Add(tt.line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c := ParseCommand(line)
		if c.Verb != upperASCII(c.Verb) || strings.ContainsAny(c.Verb, " \t") {
			t.Fatalf("verb %q", c.Verb)
		}
		if len(c.Verb)+len(c.Arg) > len(line) {
			t.Fatalf("%+v is longer than %q", c, line)
		}
	})
}

func FuzzParsePath(f *testing.F) {
	for _, tt := range pathCases {
		f.Add(tt.arg)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		for _, kw := range []string{"FROM", "TO"} {
			p, err := ParsePath(arg, kw)
			if err != nil {
				continue
			}
			if p.Null != (p.Addr == "") || strings.ContainsAny(p.Addr, "\r\n\x00") {
				t.Fatalf("ParsePath(%q) = %+v", arg, p)
			}
			if !strings.Contains(arg, p.Addr) || !strings.Contains(arg, p.Route) {
				t.Fatalf("ParsePath(%q) = %+v: not from the input", arg, p)
			}
			_ = Relayed(p, func(d string) bool { return d == "corp.local" })
			_ = p.Size()
		}
		_, _, _ = ParseBDAT(arg)
	})
}

// FuzzReadData: the message kept is bounded, counted and dot-unstuffed.
func FuzzReadData(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\n..a\r\n.\r\n"), 100)
	f.Add([]byte("no end\n"), 3)
	f.Add([]byte(".\n"), 10)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		msg, size, truncated, err := readData(service.NewReader(bytes.NewReader(in), 32), max)
		if len(msg) > max || int64(len(msg)) > size || truncated != (size > int64(max)) {
			t.Fatalf("msg %d bytes, size %d, truncated %v, max %d", len(msg), size, truncated, max)
		}
		if err == nil && size > int64(len(in))*2 {
			// CRLF for LF at most doubles the input.
			t.Fatalf("size %d from %d bytes", size, len(in))
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			t.Fatalf("err %v", err)
		}
	})
}

func serve(s *Server, in []byte) ([]byte, []*event.Event) {
	col := servicetest.NewCollector()
	rec := service.Recorder{Sensor: "fuzz", SessionID: "s", Service: "smtp", Transport: event.TCP,
		Remote: netip.MustParseAddrPort("198.51.100.7:40000"), Local: netip.MustParseAddrPort("192.0.2.10:25"),
		Emitter: col, Samples: servicetest.NewMemSamples()}
	return servicetest.ServeBytes(s, rec, in, 256), col.Events()
}

// FuzzSession runs whole sessions of arbitrary input through both
// personas: nothing panics, every reply line is a reply, and the bounds
// of the events hold.
func FuzzSession(f *testing.F) {
	for _, in := range servicetest.TranscriptInputs(f, "testdata", "testdata/linux-iot") {
		f.Add(in)
	}
	edit := func(c *Config) {
		c.MaxLine, c.MaxMessage, c.MaxRecipients, c.MaxCommands = 512, 2048, 3, 40
		c.MIME = MIMELimits{MaxParts: 5, MaxDepth: 3, MaxAttachment: 1024}
	}
	servers := []*Server{newServer(f, service.ProfileWindows2000, edit), newServer(f, service.ProfileLinuxIoT, edit)}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, s := range servers {
			out, evs := serve(s, in)
			for _, line := range strings.SplitAfter(string(out), "\r\n") {
				if line == "" {
					continue
				}
				if len(line) < 6 || !strings.HasSuffix(line, "\r\n") || line[0] < '2' || line[0] > '5' || line[3] != ' ' && line[3] != '-' {
					t.Fatalf("%s: not a reply line: %q", s.cfg.Persona.Kind, line)
				}
			}
			if n := len(servicetest.OfKind(evs, event.KindCommand)); n > 40 {
				t.Fatalf("%d command events, bound 40", n)
			}
			for _, m := range mails(evs) {
				if len(m.Rcpts) == 0 || len(m.Rcpts) > 3 || len(m.Headers) > eventHeaders || len(m.Attachments) > 5 {
					t.Fatalf("mail event out of bounds: %+v", m)
				}
			}
			for _, e := range servicetest.OfKind(evs, event.KindSample) {
				if sz := e.Detail.(*event.Sample).Size; sz > 2048 {
					t.Fatalf("sample of %d bytes, bounds 2048", sz)
				}
			}
		}
	})
}
