package pop3

import (
	"bytes"
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
		if strings.Join(c.Args, " ") != strings.Join(strings.Fields(c.Arg), " ") {
			t.Fatalf("args %q do not split arg %q", c.Args, c.Arg)
		}
		for _, a := range c.Args {
			if n, ok := ParseNumber(a); ok && (n < 0 || n > 999999999) {
				t.Fatalf("ParseNumber(%q) = %d", a, n)
			}
		}
	})
}

// unstuff reads a multi-line reply back, as a client does.
func unstuff(b []byte) ([]byte, bool) {
	var out []byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			return nil, false
		}
		line := b[:i]
		b = b[i+2:]
		if string(line) == "." {
			return out, len(b) == 0
		}
		line = bytes.TrimPrefix(line, []byte("."))
		out = append(append(out, line...), '\r', '\n')
	}
	return nil, false
}

// FuzzDotStuff: a client reading a stuffed message back gets the
// message (with a final CRLF), and TOP is a prefix of it.
func FuzzDotStuff(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\n.a\r\n..\r\n.\r\nz"), 1)
	f.Add([]byte(".\r\n"), 0)
	f.Fuzz(func(t *testing.T, msg []byte, lines int) {
		// Messages are CRLF text: the mailbox renders them so.
		msg = []byte(crlf(strings.ReplaceAll(string(msg), "\r", "")))
		got, ok := unstuff(DotStuff(msg))
		if !ok || !bytes.Equal(got, msg) {
			t.Fatalf("DotStuff(%q) reads back as %q (%v)", msg, got, ok)
		}
		if lines >= 0 && !bytes.HasPrefix(msg, Top(msg, lines)) {
			t.Fatalf("Top(%d) is not a prefix", lines)
		}
	})
}

func serve(s *Server, in []byte) ([]byte, []*event.Event) {
	col := servicetest.NewCollector()
	rec := service.Recorder{Sensor: "fuzz", SessionID: "s", Service: "pop3", Transport: event.TCP,
		Remote: netip.MustParseAddrPort("198.51.100.7:40000"), Local: netip.MustParseAddrPort("192.0.2.10:110"),
		Emitter: col, Samples: servicetest.NewMemSamples()}
	return servicetest.ServeBytes(s, rec, in, 256), col.Events()
}

// FuzzSession runs whole sessions of arbitrary input through both
// personas: nothing panics, every reply is a POP3 reply, and the
// bounds hold.
func FuzzSession(f *testing.F) {
	for _, in := range servicetest.TranscriptInputs(f, "testdata", "testdata/linux-iot") {
		f.Add(in)
	}
	edit := func(c *Config) { c.MaxLine, c.MaxCommands = 256, 40 }
	servers := []*Server{newServer(f, service.ProfileWindows2000, edit), newServer(f, service.ProfileLinuxIoT, edit)}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, s := range servers {
			out, evs := serve(s, in)
			if !bytes.HasPrefix(out, []byte("+OK ")) || len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
				t.Fatalf("%s: output %q", s.cfg.Persona.Kind, out)
			}
			if n := len(servicetest.OfKind(evs, event.KindCommand)); n > 40 {
				t.Fatalf("%d command events, bound 40", n)
			}
			for _, e := range servicetest.OfKind(evs, event.KindLogin) {
				l := e.Detail.(*event.Login)
				if len(l.User) > 1024 || l.Method == "" {
					t.Fatalf("login %+v", l)
				}
			}
		}
	})
}
