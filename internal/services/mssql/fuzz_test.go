package mssql

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/tools/txtar"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// transcriptInputs returns the client bytes of every transcript test.
func transcriptInputs(f *testing.F) [][]byte {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	var out [][]byte
	for _, name := range files {
		ar, err := txtar.ParseFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, fl := range ar.Files {
			switch fl.Name {
			case "input":
				out = append(out, fl.Data)
			case "input-no-newline":
				out = append(out, bytes.TrimSuffix(fl.Data, []byte("\n")))
			}
		}
	}
	return out
}

// FuzzReadMessage reads messages until the input ends: the bytes kept are
// exactly the bytes read, and no message outgrows its bound.
func FuzzReadMessage(f *testing.F) {
	for _, tc := range messageCases {
		f.Add(tc.in)
	}
	for _, in := range transcriptInputs(f) {
		f.Add(in)
	}
	const max = 2048
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		consumed := 0
		for {
			m, err := ReadMessage(r, max, nil)
			if m == nil {
				if err != io.EOF || consumed != len(in) {
					t.Fatalf("nil message with %v after %d of %d bytes", err, consumed, len(in))
				}
				return
			}
			if len(m.Raw) > max || len(m.Data) > len(m.Raw) {
				t.Fatalf("raw %d data %d, bound %d", len(m.Raw), len(m.Data), max)
			}
			if !bytes.Equal(in[consumed:consumed+len(m.Raw)], m.Raw) {
				t.Fatalf("raw is not what was read at offset %d", consumed)
			}
			consumed += len(m.Raw)
			if consumed != int(r.Size())-r.Len() {
				t.Fatalf("kept %d bytes, read %d", consumed, int(r.Size())-r.Len())
			}
			if err != nil {
				return
			}
		}
	})
}

func FuzzParsePrelogin(f *testing.F) {
	for _, tc := range preloginCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := ParsePrelogin(in)
		if p == nil {
			t.Fatal("nil result")
		}
		if err != nil {
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("error %v is not a MalformedError", err)
			}
			return
		}
		if len(p.Options) > maxPreloginOptions {
			t.Fatalf("%d options", len(p.Options))
		}
		for _, o := range p.Options {
			if len(o.Data) > len(in) {
				t.Fatalf("option of %d bytes from %d", len(o.Data), len(in))
			}
		}
		if p.HasInstance && len(p.Instance) > 2*len(in) {
			t.Fatalf("instance %q from %d bytes", p.Instance, len(in))
		}
	})
}

// loginSeeds are LOGIN7 and TDS 4.2 login records.
func loginSeeds() [][]byte {
	var out [][]byte
	for _, tc := range login7Cases {
		out = append(out, tc.in)
	}
	return append(out, buildLogin42("WS01", "sa", "letmein", "squelda 1.0"), buildLogin42("", "admin", "", "")[:l42MinLength])
}

// FuzzParseLogin reads arbitrary bytes as both kinds of login: nothing
// may panic, no field may hold more than the message did, and a field
// that does not fit is named rather than guessed.
func FuzzParseLogin(f *testing.F) {
	for _, s := range loginSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, parse := range []func([]byte) (*Login, error){ParseLogin7, ParseLogin42} {
			l, err := parse(in)
			if l == nil {
				t.Fatal("nil login")
			}
			if err != nil {
				continue
			}
			for _, s := range []string{l.Host, l.User, l.Password, l.App, l.Server, l.Library, l.Language, l.Database} {
				if utf8.RuneCountInString(s) > len(in) {
					t.Fatalf("field %q longer than the %d-byte message", s, len(in))
				}
				if !utf8.ValidString(s) {
					t.Fatalf("field %q is not valid UTF-8", s)
				}
			}
			if len(l.SSPI) > len(in) {
				t.Fatalf("sspi of %d bytes", len(l.SSPI))
			}
			if l.Legacy {
				for _, s := range []string{l.Host, l.User, l.Password, l.App, l.Server, l.Language} {
					if utf8.RuneCountInString(s) > 30 {
						t.Fatalf("TDS 4.2 field %q past 30 characters", s)
					}
				}
			}
		}
	})
}

func FuzzPassword(f *testing.F) {
	f.Add([]byte("s\x00a\x00"))
	f.Add([]byte{0xA5, 0xB3, 0xff, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		if got := encodePassword(decodePassword(in)); !bytes.Equal(got, in) {
			t.Fatalf("encode(decode(%x)) = %x", in, got)
		}
	})
}

// FuzzParseSSRP: a datagram taken as well-formed is one of the three
// requests SQL Server 2000 answers, within their sizes.
func FuzzParseSSRP(f *testing.F) {
	for _, tc := range ssrpCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := ParseSSRP(in)
		if len(r.Instance) > maxInstanceName {
			t.Fatalf("instance of %d bytes", len(r.Instance))
		}
		if r.Malformed != "" {
			return
		}
		switch {
		case len(in) == 1 && (in[0] == ssrpBroadcast || in[0] == ssrpUnicast):
		case len(in) >= 2 && len(in) <= maxInstanceName+2 && in[0] == ssrpInstance && r.Instance != "":
			for i := 0; i < len(r.Instance); i++ {
				if r.Instance[i] < 0x20 || r.Instance[i] >= 0x7f {
					t.Fatalf("instance %q with a control byte", r.Instance)
				}
			}
		default:
			t.Fatalf("%x taken as a well-formed %s", in, r.Name)
		}
	})
}

func FuzzParseBatch(f *testing.F) {
	for _, tc := range sqlCases {
		f.Add([]byte(tc.in), false)
	}
	for _, tc := range batchCases {
		f.Add(tc.in, tc.unicode)
	}
	f.Fuzz(func(t *testing.T, in []byte, unicode bool) {
		text, _ := SplitBatch(in, unicode)
		b := ParseBatch(text)
		if len(b.Shell)+b.Hidden > maxShellCalls {
			t.Fatalf("%d calls", len(b.Shell)+b.Hidden)
		}
		for _, l := range b.Shell {
			if len(l) > maxShellLine {
				t.Fatalf("command line of %d bytes", len(l))
			}
		}
	})
}

// pipeConn is a connection whose client has said all it will: reads come
// from the input, then EOF; writes are kept.
type pipeConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *pipeConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *pipeConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *pipeConn) Close() error                { return nil }
func (c *pipeConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1433} }
func (c *pipeConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 4444}
}
func (c *pipeConn) SetDeadline(time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzServeTCP runs the whole TCP handler over arbitrary client bytes:
// it must end, answer only in well-formed reply packets, record no login
// without its login request and no command without a login accepted.
func FuzzServeTCP(f *testing.F) {
	for _, in := range transcriptInputs(f) {
		f.Add(in)
	}
	f.Add(append(clientPackets(pktLogin7, buildLogin7(login7{version: 0x70000000, user: "sa", packetSize: 100}), 4096),
		clientPackets(pktBatch, buildBatch("select @@version", true), 4096)...))
	f.Add(append(hydraLogin("sa", ""), packet(pktBatch, statusEOM, []byte("exec xp_cmdshell 'dir'"))...))
	s := newServer(f, func(c *Config) { c.MaxMessage = 8 << 10; c.MaxBatches = 8 })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, in []byte) {
		col := servicetest.NewCollector()
		pc := &pipeConn{in: bytes.NewReader(in)}
		rec := service.Recorder{Service: "mssql", Transport: event.TCP, Emitter: col, Samples: servicetest.NewMemSamples(),
			Remote: netip.MustParseAddrPort("198.51.100.7:4444"), Local: netip.MustParseAddrPort("192.0.2.1:1433")}
		sess := service.NewSession(pc, rec, log, 512)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.ServeTCP(ctx, sess)
		sess.Release()
		out := bytes.NewReader(pc.out.Bytes())
		for {
			m, err := ReadMessage(out, 1<<20, func(b byte) bool { return b == pktReply })
			if m == nil {
				break
			}
			if err != nil {
				t.Fatalf("server wrote a broken reply: %v", err)
			}
		}
		loginRequests, accepted := 0, false
		for _, e := range col.Events() {
			switch d := e.Detail.(type) {
			case *event.Request:
				if d.Method == "LOGIN7" || d.Method == "LOGIN" {
					loginRequests++
				}
			case *event.Login:
				if loginRequests == 0 {
					t.Fatal("login event without its request")
				}
				accepted = accepted || d.Success
			case *event.Command:
				if !accepted {
					t.Fatalf("command %q recorded without a login accepted", d.Line)
				}
				if len(d.Line) > int(s.cfg.CommandCap)+200 {
					t.Fatalf("command line of %d bytes", len(d.Line))
				}
			}
		}
	})
}
