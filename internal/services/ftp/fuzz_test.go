package ftp

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// FuzzParseCommand: any line parses; the verb is bounded and upper-case,
// the text is the line without telnet sequences, and IIS's argument has
// no surrounding spaces.
func FuzzParseCommand(f *testing.F) {
	for _, tt := range commandCases {
		f.Add([]byte(tt.line), tt.trim)
	}
	for _, in := range servicetest.TranscriptInputs(f, "testdata", "testdata/linux-iot") {
		for _, l := range bytes.Split(in, []byte("\n")) {
			f.Add(l, true)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte, trim bool) {
		c := ParseCommand(line, trim)
		if len(c.Verb) > maxVerb || strings.ContainsAny(c.Verb, "abcdefghijklmnopqrstuvwxyz ") {
			t.Fatalf("verb %q", c.Verb)
		}
		if c.Text != string(StripTelnet(line)) || len(c.Text) > len(line) {
			t.Fatalf("text %q for line %q", c.Text, line)
		}
		if !strings.Contains(c.Text, c.Arg) {
			t.Fatalf("arg %q not in text %q", c.Arg, c.Text)
		}
		if trim && (strings.HasPrefix(c.Arg, " ") || strings.HasSuffix(c.Arg, " ")) {
			t.Fatalf("trimmed arg %q", c.Arg)
		}
		if bytes.IndexByte(line, 0xff) < 0 && c.Text != string(line) {
			t.Fatalf("a line without IAC changed: %q -> %q", line, c.Text)
		}
	})
}

// FuzzParsePORT: a strict parse round-trips through FormatPASV and
// agrees with IIS's lenient one.
func FuzzParsePORT(f *testing.F) {
	for _, tt := range portCases {
		f.Add(tt.arg)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		lenient, lerr := ParsePORT(arg, false)
		strict, err := ParsePORT(arg, true)
		if err != nil {
			return
		}
		if lerr != nil || lenient != strict {
			t.Fatalf("strict %v, lenient %v %v", strict, lenient, lerr)
		}
		back, err := ParsePORT(FormatPASV(strict), true)
		if err != nil || back != strict {
			t.Fatalf("round trip of %v: %v %v", strict, back, err)
		}
	})
}

// FuzzParseEPRT: what parses has a port and the family its protocol
// number names.
func FuzzParseEPRT(f *testing.F) {
	for _, tt := range eprtCases {
		f.Add(tt.arg)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		ap, err := ParseEPRT(arg)
		if err != nil {
			return
		}
		proto := strings.Split(arg[1:], arg[:1])[0]
		if ap.Port() == 0 || (proto == "1") != ap.Addr().Is4() || ap.Addr().Zone() != "" {
			t.Fatalf("ParseEPRT(%q) = %v", arg, ap)
		}
	})
}

// FuzzResolve: whatever the client names, the result is a clean absolute
// path that never climbs above the root.
func FuzzResolve(f *testing.F) {
	for _, tt := range resolveCases {
		f.Add(tt.cwd, tt.arg, tt.backslash)
	}
	f.Fuzz(func(t *testing.T, cwd, arg string, backslash bool) {
		cwd = path.Clean("/" + cwd)
		got := Resolve(cwd, arg, backslash)
		if !strings.HasPrefix(got, "/") || path.Clean(got) != got {
			t.Fatalf("Resolve(%q, %q) = %q", cwd, arg, got)
		}
		for _, el := range strings.Split(got, "/") {
			if el == ".." {
				t.Fatalf("Resolve(%q, %q) = %q climbs", cwd, arg, got)
			}
		}
	})
}

// FuzzSplitListArg: the target is what follows the switches.
func FuzzSplitListArg(f *testing.F) {
	for _, s := range []string{"", "-la", "-l pub", "-a -l  /x", "pub -l"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		flags, target := SplitListArg(arg)
		if !strings.HasSuffix(arg, target) || len(flags) > len(arg) || strings.HasPrefix(target, "-") {
			t.Fatalf("SplitListArg(%q) = %q, %q", arg, flags, target)
		}
	})
}

// FuzzSession runs whole control streams through both personas: the
// handler ends when the input does, every reply starts with a code, and
// events respect their bounds.
func FuzzSession(f *testing.F) {
	for _, in := range servicetest.TranscriptInputs(f, "testdata", "testdata/linux-iot") {
		f.Add(in, false)
		f.Add(in, true)
	}
	f.Add([]byte("USER anonymous\r\nPASS x\r\nPASV\r\nLIST\r\nSTOR x\r\nEPSV\r\nRETR pub/readme.txt\r\n"), false)
	f.Add([]byte("USER admin\nPASS admin\nPASV\nSTOU\nAPPE /tmp/a\nSTAT /\nREST x\n"), true)
	servers := map[bool]*Server{}
	for _, iot := range []bool{false, true} {
		profile := service.ProfileWindows2000
		if iot {
			profile = service.ProfileLinuxIoT
		}
		servers[iot] = newServer(f, profile, func(c *Config) {
			c.DataTimeout = 5 * time.Millisecond
			c.ActiveMode = false
			c.MaxLine = 256
			c.Persona.EPRT = true
		})
	}
	f.Fuzz(func(t *testing.T, in []byte, iot bool) {
		if len(in) > 8<<10 {
			return
		}
		srv := servers[iot]
		var rec recorder
		mc := &memConn{in: bytes.NewReader(in)}
		s := service.NewSession(mc, service.Recorder{
			Remote: netip.MustParseAddrPort("192.0.2.1:40000"), Local: netip.MustParseAddrPort("127.0.0.1:21"),
			Emitter: &rec,
		}, nil, 512)
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.ServeTCP(context.Background(), s)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("the handler did not end within 5s of its input")
		}
		out := mc.out.Bytes()
		// The stream is the greeting and then exactly the replies the
		// command events carry, in order (unless one was cut at its
		// bound).
		var want strings.Builder
		want.WriteString("220 " + greeting(&srv.cfg.Persona) + "\r\n")
		whole := true
		for _, e := range rec.events() {
			c, ok := e.(*event.Command)
			if !ok {
				continue
			}
			if len(c.Output) > maxOutput || len(c.Line) > 256 {
				t.Fatalf("command event out of bounds: line %d, output %d", len(c.Line), len(c.Output))
			}
			whole = whole && len(c.Output) < maxOutput
			want.WriteString(c.Output)
		}
		if whole && want.String() != string(out) {
			t.Fatalf("the stream differs from the recorded replies\n got %q\nwant %q", out, want.String())
		}
		if srv.memory.Load() != 0 {
			t.Fatalf("upload memory still held after the session: %d", srv.memory.Load())
		}
	})
}

// recorder keeps a session's event details.
type recorder struct {
	mu  sync.Mutex
	evs []event.Detail
}

func (r *recorder) Emit(e *event.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e.Detail)
	r.mu.Unlock()
}

func (r *recorder) events() []event.Detail {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Detail(nil), r.evs...)
}

// memConn is a control connection in memory: the client's bytes, then end
// of input; what the server writes is kept.
type memConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *memConn) Read(p []byte) (int, error)         { return c.in.Read(p) }
func (c *memConn) Write(p []byte) (int, error)        { return c.out.Write(p) }
func (c *memConn) Close() error                       { return nil }
func (c *memConn) LocalAddr() net.Addr                { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 21} }
func (c *memConn) RemoteAddr() net.Addr               { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000} }
func (c *memConn) SetDeadline(t time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(t time.Time) error { return nil }
