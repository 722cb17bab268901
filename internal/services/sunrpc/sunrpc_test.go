package sunrpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/engine"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is the time GETTIME answers in tests.
var clock = time.Date(2001, 9, 18, 13, 20, 0, 0, time.UTC)

func newTestServer(t testing.TB, profile string, change func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig(profile)
	if change != nil {
		change(cfg)
	}
	s, err := newServer(cfg, service.Env{Profile: profile}, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTranscripts(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata", "sunrpc", func() any {
		return newTestServer(t, service.ProfileWindows2000, nil)
	}, servicetest.TranscriptOptions{})
}

func TestTranscriptsLinuxIoT(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata/linux-iot", "sunrpc", func() any {
		return newTestServer(t, service.ProfileLinuxIoT, nil)
	}, servicetest.TranscriptOptions{})
}

func TestRegistered(t *testing.T) {
	m, ok := service.Lookup("sunrpc")
	if !ok {
		t.Fatal("sunrpc is not registered")
	}
	for _, p := range service.Profiles {
		cfg := m.Config(p)
		if b := cfg.Common(); !b.Enabled || len(b.Ports) != 1 || b.Ports[0] != 111 || len(b.UDPPorts) != 1 || b.UDPPorts[0] != 111 {
			t.Errorf("%s: got ports %v udp %v enabled %v; want tcp and udp 111, enabled", p, b.Ports, b.UDPPorts, b.Enabled)
		}
		if err := cfg.(service.Validator).Validate(); err != nil {
			t.Errorf("%s: defaults do not validate: %v", p, err)
		}
		h, err := m.New(cfg, service.Env{Profile: p})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if _, ok := h.(service.Handler); !ok {
			t.Errorf("%s: %T is not a service.Handler", p, h)
		}
		if _, ok := h.(service.PacketHandler); !ok {
			t.Errorf("%s: %T is not a service.PacketHandler", p, h)
		}
		if d := cfg.(service.Describer).Describe(); d == "" {
			t.Errorf("%s: no persona description", p)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no portmapper v2 on udp", func(c *Config) {
			c.Persona.Registrations[0].Netids = []string{"tcp"}
		}, "version 2 on tcp and udp"},
		{"portmapper version 5", func(c *Config) {
			c.Persona.Registrations[0].Versions = []uint32{5, 2}
		}, "version 5"},
		{"unknown netid", func(c *Config) {
			c.Persona.Registrations[1].Netids = []string{"ticots"}
		}, `netid "ticots"`},
		{"port out of range", func(c *Config) { c.Persona.Registrations[1].Port = 70000 }, "wants a port"},
		{"local without path", func(c *Config) {
			c.Persona.Registrations = append(c.Persona.Registrations, Registration{Program: 100000, Versions: []uint32{3}, Netids: []string{"local"}})
		}, "local wants a path"},
		{"no versions", func(c *Config) { c.Persona.Registrations[2].Versions = nil }, "at least one version"},
		{"owner with a newline", func(c *Config) { c.Persona.Registrations[2].Owner = "a\nb" }, "owner"},
		{"too many entries", func(c *Config) {
			c.Persona.Registrations = append(c.Persona.Registrations, Registration{Program: 300000,
				Versions: make([]uint32, 100), Netids: []string{"tcp", "udp", "tcp6"}, Port: 4000})
		}, "at most 256"},
		{"no name", func(c *Config) { c.Persona.Name = "" }, "persona.name"},
		{"negative reply factor", func(c *Config) { c.ReplyFactor = -1 }, "reply_factor"},
		{"tiny max_record", func(c *Config) { c.MaxRecord = 10 }, "max_record"},
		{"capture below max_record", func(c *Config) { c.Capture = 100 }, "capture"},
		{"long drain", func(c *Config) { c.Drain = time.Hour }, "drain"},
		{"no calls", func(c *Config) { c.MaxCalls = 0 }, "max_calls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig(service.ProfileWindows2000)
			tt.change(c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v; want an error about %q", err, tt.want)
			}
			if _, err := New(c, service.Env{}); err == nil {
				t.Fatal("New accepted a config that does not validate")
			}
		})
	}
}

// A user's section is decoded over the profile's defaults, strictly.
func TestConfigSection(t *testing.T) {
	tests := []struct {
		name, yaml string
		err        string // "" for none
		check      func(*Config) string
	}{
		{"defaults", "", "", func(c *Config) string {
			if c.ReplyFactor != factorLinuxIoT || len(c.Persona.Registrations) != 5 {
				return fmt.Sprintf("reply_factor %v, %d registrations", c.ReplyFactor, len(c.Persona.Registrations))
			}
			return ""
		}},
		{"own list", `
    persona:
      registrations:
        - {program: 100000, versions: [2], netids: [tcp, udp], port: 111}
        - {program: 100232, versions: [10], netids: [udp], port: 32772}
    reply_factor: 2.5
`, "", func(c *Config) string {
			if c.Persona.Name != "Linux rpcbind" || len(c.Persona.Registrations) != 2 || c.ReplyFactor != 2.5 {
				return fmt.Sprintf("name %q, %d registrations, factor %v", c.Persona.Name, len(c.Persona.Registrations), c.ReplyFactor)
			}
			return ""
		}},
		{"unknown key", `
    persona:
      registrations:
        - {program: 100000, version: [2]}
`, `unknown key "version"`, nil},
		{"no portmapper", `
    persona:
      registrations: [{program: 100005, versions: [1], netids: [udp], port: 635}]
`, "version 2 on tcp and udp", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "profile: linux-iot\n"
			if tt.yaml != "" {
				doc += "services:\n  sunrpc:" + tt.yaml
			}
			cfg, err := config.Parse([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			rs, err := cfg.ResolveServices()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v; want an error about %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.Module.Name == "sunrpc" {
					if msg := tt.check(r.Config.(*Config)); msg != "" {
						t.Fatal(msg)
					}
					return
				}
			}
			t.Fatal("sunrpc not resolved")
		})
	}
}

// dumpRequest is the smallest DUMP call there is: AUTH_NONE, 40 bytes.
func dumpRequest(vers uint32) []byte {
	var w xdrWriter
	for _, v := range []uint32{0x1234, msgCall, rpcVersion, progPortmapper, vers, 4, 0, 0, 0, 0} {
		w.uint32(v)
	}
	return w.b
}

// The default reply factor of each profile is the smallest, to a tenth,
// that lets its whole version 2 DUMP answer the smallest request.
func TestDefaultReplyFactorIsSmallest(t *testing.T) {
	for _, p := range service.Profiles {
		s := newTestServer(t, p, nil)
		req := dumpRequest(2)
		if len(req) != headerLen {
			t.Fatalf("request of %d bytes; want %d", len(req), headerLen)
		}
		c, err := parseCall(req)
		if err != nil {
			t.Fatal(err)
		}
		o := s.pm.handle(c, newTransport(true, loopback))
		f := s.cfg.ReplyFactor
		fits := func(f float64) bool { return len(o.Reply) <= int(float64(len(req))*f) }
		if !fits(f) || fits(f-0.1) {
			t.Errorf("%s: reply_factor %v for a DUMP of %d bytes to %d: want the smallest tenth that fits (%.1f)",
				p, f, len(o.Reply), len(req), float64(len(o.Reply))/float64(len(req)))
		}
		if strings.Contains(o.Result, " of ") {
			t.Errorf("%s: DUMP cut: %s", p, o.Result)
		}
	}
}

// startUDP serves s over UDP on 127.0.0.1 with the reply factor of its
// config, as smallpot run does (servicetest's harness uses factor 1).
func startUDP(t *testing.T, s *Server, limits config.Limits) (*servicetest.Collector, *net.UDPConn) {
	t.Helper()
	col := servicetest.NewCollector()
	eng := engine.New(engine.Options{Sensor: "test", Limits: limits, Emitter: col, Samples: servicetest.NewMemSamples()})
	addr, err := eng.ListenUDP("sunrpc", "127.0.0.1:0", s, s.cfg.ReplyFactor)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = eng.Serve(ctx); close(done) }()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		cancel()
		<-done
	})
	return col, c
}

// exchange sends a datagram and returns the reply, or nil if none came
// within wait.
func exchange(t *testing.T, c *net.UDPConn, req []byte, wait time.Duration) []byte {
	t.Helper()
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func rpcEvents(evs []*event.Event) []*event.RPC {
	var out []*event.RPC
	for _, e := range servicetest.OfKind(evs, event.KindRPC) {
		out = append(out, e.Detail.(*event.RPC))
	}
	return out
}

// waitRPC waits for n rpc events.
func waitRPC(t *testing.T, col *servicetest.Collector, n int) []*event.RPC {
	t.Helper()
	return rpcEvents(col.Wait(t, 10*time.Second, func(evs []*event.Event) bool {
		return len(servicetest.OfKind(evs, event.KindRPC)) >= n
	}))
}

// entriesIn counts the entries of a DUMP reply.
func entriesIn(t *testing.T, reply []byte, v2 bool) int {
	t.Helper()
	r := newXDR(reply[replyHeaderLen:])
	n := 0
	for r.bool() {
		r.uint32()
		r.uint32()
		if v2 {
			r.uint32()
			r.uint32()
		} else {
			r.string(1000)
			r.string(1000)
			r.string(1000)
		}
		n++
	}
	if r.err != nil || len(r.rest()) != 0 {
		t.Fatalf("bad DUMP reply %x: %v, %d bytes left", reply, r.err, len(r.rest()))
	}
	return n
}

func TestUDPDump(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		factor  float64 // 0: the profile's default
		vers    uint32
		entries int
		refused string
		result  string
	}{
		{"windows2000 v2 whole", service.ProfileWindows2000, 0, 2, 18, "", "entries=18"},
		{"linux-iot v2 whole", service.ProfileLinuxIoT, 0, 2, 8, "", "entries=8"},
		// 188 bytes allowed: the header, 3 entries of 56 bytes, the end.
		{"linux-iot v4 cut to fit", service.ProfileLinuxIoT, 0, 4, 3, "too_large", "entries=3 of 16"},
		// Factor 1: 40 bytes, room for the header and the end only.
		{"factor 1", service.ProfileWindows2000, 1, 2, 0, "too_large", "entries=0 of 18"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, tt.profile, func(c *Config) {
				if tt.factor != 0 {
					c.ReplyFactor = tt.factor
				}
			})
			col, conn := startUDP(t, s, servicetest.Limits())
			req := dumpRequest(tt.vers)
			reply := exchange(t, conn, req, 5*time.Second)
			if reply == nil {
				t.Fatal("no reply")
			}
			if max := int(float64(len(req)) * max(s.cfg.ReplyFactor, 1)); len(reply) > max {
				t.Errorf("reply of %d bytes to %d; the engine allows %d", len(reply), len(req), max)
			}
			if n := entriesIn(t, reply, tt.vers == 2); n != tt.entries {
				t.Errorf("got %d entries; want %d", n, tt.entries)
			}
			ev := waitRPC(t, col, 1)[0]
			if ev.Reply != "success" || ev.Refused != tt.refused || ev.Result != tt.result {
				t.Errorf("event reply %q refused %q result %q; want success %q %q", ev.Reply, ev.Refused, ev.Result, tt.refused, tt.result)
			}
		})
	}
}

// Past the per-source reply rate, calls are recorded and not answered.
func TestUDPRateLimited(t *testing.T) {
	s := newTestServer(t, service.ProfileLinuxIoT, nil)
	limits := servicetest.Limits()
	limits.UDPRepliesPerSecond, limits.UDPReplyBurst = 0.001, 2
	col, conn := startUDP(t, s, limits)
	for i := range 2 {
		if exchange(t, conn, call2(uint32(i), progPortmapper, 2, 0, nil), 5*time.Second) == nil {
			t.Fatalf("call %d not answered", i)
		}
	}
	if r := exchange(t, conn, call2(2, progPortmapper, 2, 0, nil), 300*time.Millisecond); r != nil {
		t.Fatalf("third call answered %x; want the rate limit to hold it", r)
	}
	// Datagrams are served concurrently: find the third call's event by
	// its xid.
	for _, ev := range waitRPC(t, col, 3) {
		want := [2]string{"success", ""}
		if ev.XID == 2 {
			want = [2]string{"none", "rate_limited"}
		}
		if got := [2]string{ev.Reply, ev.Refused}; got != want {
			t.Errorf("call %d: got reply, refused %q; want %q", ev.XID, got, want)
		}
	}
}

// call2 builds a call message with AUTH_NONE.
func call2(xid, prog, vers, proc uint32, args []byte) []byte {
	var w xdrWriter
	for _, v := range []uint32{xid, msgCall, rpcVersion, prog, vers, proc, 0, 0, 0, 0} {
		w.uint32(v)
	}
	return append(w.b, args...)
}

// Over UDP, CALLIT is never forwarded: only INDIRECT's errors come back.
// The inner call is recorded with its bytes, decoded where it can be.
func TestUDPRemoteCalls(t *testing.T) {
	var mon xdrWriter
	mon.string(strings.Repeat("%x", 40))
	rmt := func(prog, vers, proc uint32) []byte {
		var w xdrWriter
		w.uint32(prog)
		w.uint32(vers)
		w.uint32(proc)
		w.opaque(mon.b)
		return w.b
	}
	tests := []struct {
		name       string
		vers, proc uint32 // of the portmapper: CALLIT (2 5) or INDIRECT (4 10)
		args       []byte
		reply      []byte // nil: none
		status     string
	}{
		{"callit to registered status", 2, 5, rmt(progStatus, 1, 1), nil, "none"},
		{"callit to unregistered sadmind", 2, 5, rmt(100232, 10, 1), nil, "none"},
		{"indirect to registered status", 4, 10, rmt(progStatus, 1, 1), nil, "none"},
		{"indirect to status v2", 4, 10, rmt(progStatus, 2, 1), mismatchReply(9, 1, 1), "prog_mismatch"},
		{"indirect to unregistered sadmind", 4, 10, rmt(100232, 10, 1), acceptedReply(9, statProgUnavail, nil), "prog_unavail"},
		{"indirect to the portmapper's GETPORT", 4, 10, rmt(progPortmapper, 2, 3), authErrorReply(9, authTooWeak), "auth_tooweak"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, service.ProfileLinuxIoT, func(c *Config) { c.SampleArgs = 64 })
			col, conn := startUDP(t, s, servicetest.Limits())
			wait := 5 * time.Second
			if tt.reply == nil {
				wait = 300 * time.Millisecond
			}
			got := exchange(t, conn, call2(9, progPortmapper, tt.vers, tt.proc, tt.args), wait)
			if !bytes.Equal(got, tt.reply) {
				t.Fatalf("got reply %x; want %x", got, tt.reply)
			}
			ev := waitRPC(t, col, 1)[0]
			if ev.Reply != tt.status {
				t.Errorf("event reply %q; want %q", ev.Reply, tt.status)
			}
			if !bytes.Equal(ev.RawArgs, mon.b) || ev.Sample == "" {
				t.Errorf("raw_args %x sample %q; want the inner arguments %x and a sample", ev.RawArgs, ev.Sample, mon.b)
			}
			if len(ev.Args) < 3 || ev.Args[0].Name != "program" {
				t.Errorf("args %v; want program, version, procedure first", ev.Args)
			}
		})
	}
}

func TestTCPOversizedRecord(t *testing.T) {
	s := newTestServer(t, service.ProfileWindows2000, func(c *Config) { c.MaxRecord = 1000; c.Capture = 4000 })
	h := servicetest.Start(t, "sunrpc", s, nil)
	var args xdrWriter
	args.opaque(bytes.Repeat([]byte{0x90}, 1500))
	msg := call2(0xabc, 100232, 10, 1, args.b)
	in := append(binary.BigEndian.AppendUint32(nil, lastFragment|uint32(len(msg))), msg...)
	out := h.Exchange(t, in, 10*time.Second)
	if len(out) != 0 {
		t.Fatalf("got %x; want the connection closed without a reply", out)
	}
	evs := h.WaitClosed(t, 1)
	rs := rpcEvents(evs)
	if len(rs) != 1 {
		t.Fatalf("got %d rpc events; want 1: %s", len(rs), servicetest.Summary(evs))
	}
	ev := rs[0]
	if ev.Program != 100232 || ev.ProgramName != "sadmind" || ev.Reply != "none" || !strings.Contains(ev.Malformed, "over max_record") {
		t.Errorf("got program %d %q reply %q malformed %q", ev.Program, ev.ProgramName, ev.Reply, ev.Malformed)
	}
	if ev.ArgsLen != int64(len(args.b)) || ev.Sample == "" {
		t.Errorf("got args_len %d sample %q; want %d and a sample", ev.ArgsLen, ev.Sample, len(args.b))
	}
	if got, ok := h.Samples.Get(ev.Sample); !ok || !bytes.Equal(got, msg) {
		t.Errorf("sample holds %d bytes; want the call message of %d", len(got), len(msg))
	}
}

// A client that stays connected gets answers call after call, and the
// connection ends when it closes.
func TestTCPManyCalls(t *testing.T) {
	s := newTestServer(t, service.ProfileLinuxIoT, func(c *Config) { c.MaxCalls = 3 })
	h := servicetest.Start(t, "sunrpc", s, nil)
	conn := h.Dial(t)
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	for i := range 3 {
		msg := call2(uint32(i), progPortmapper, 2, 0, nil)
		if _, err := conn.Write(frame(msg)); err != nil {
			t.Fatal(err)
		}
		rc, err := readRecord(conn, 1000)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if want := acceptedReply(uint32(i), statSuccess, nil); !bytes.Equal(rc.Msg(), want) {
			t.Fatalf("call %d: got %x; want %x", i, rc.Msg(), want)
		}
	}
	// max_calls reached: the server closes.
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("after max_calls: %v; want EOF", err)
	}
	if n := len(rpcEvents(h.WaitClosed(t, 1))); n != 3 {
		t.Fatalf("got %d rpc events; want 3", n)
	}
}

// Bytes that are no call over UDP: no answer, the engine's payload event only.
func TestUDPNotACall(t *testing.T) {
	s := newTestServer(t, service.ProfileWindows2000, nil)
	col, conn := startUDP(t, s, servicetest.Limits())
	if r := exchange(t, conn, []byte("\x00\x00\x00\x01\x00\x00\x00\x01hello"), 300*time.Millisecond); r != nil {
		t.Fatalf("got reply %x to a non-call", r)
	}
	evs := col.Wait(t, 5*time.Second, func(evs []*event.Event) bool { return len(evs) >= 1 })
	if len(rpcEvents(evs)) != 0 || len(servicetest.OfKind(evs, event.KindPayload)) != 1 {
		t.Fatalf("got %s; want one payload event", servicetest.Summary(evs))
	}
}
