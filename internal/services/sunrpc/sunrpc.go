// Package sunrpc is Smallpot's Sun RPC portmapper on tcp and udp 111:
// portmapper version 2 (RFC 1833) and rpcbind versions 3 and 4, answering
// from a registration list that fits the host profile — Microsoft's NFS
// server portmapper on windows2000, a Linux rpcbind on linux-iot.
//
// Every call becomes an event.RPC with its program, version, procedure and
// decoded arguments. Calls to other programs (rpc.statd, ttdbserverd,
// cmsd, sadmind: the classic exploit targets) are answered PROG_UNAVAIL as
// a real portmapper answers them, and keep their argument bytes; a call
// carrying more than a few bytes of arguments is kept whole as a sample.
// Nothing is registered (SET answers FALSE) and nothing is forwarded
// (CALLIT): over UDP every reply also passes the engine's
// anti-amplification rules. See README.md.
package sunrpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
)

func init() {
	service.Register(service.Module{
		Name:    "sunrpc",
		Summary: "Sun RPC portmapper / rpcbind (tcp and udp 111)",
		Config:  func(profile string) service.Config { return DefaultConfig(profile) },
		New:     service.NewAs("sunrpc", New),
	})
}

// Config is the sunrpc section of the configuration.
type Config struct {
	service.Base `yaml:",inline"`
	Persona      Persona `yaml:"persona"`

	// MaxRecord bounds one call on a stream (its record's payload); a
	// larger record is not served: the connection is closed, as rpcbind
	// closes it, once what the client sent along is kept.
	MaxRecord config.ByteSize `yaml:"max_record"`
	// Capture bounds the bytes kept of a record over MaxRecord, read for
	// at most Drain after its header.
	Capture config.ByteSize `yaml:"capture"`
	Drain   time.Duration   `yaml:"drain"`
	// RawArgs bounds the argument bytes an event carries.
	RawArgs config.ByteSize `yaml:"raw_args"`
	// SampleArgs: a call with more argument bytes than this is kept
	// whole as a sample.
	SampleArgs config.ByteSize `yaml:"sample_args"`
	// MaxCalls bounds the calls served on one connection.
	MaxCalls int `yaml:"max_calls"`
}

// Persona is what the portmapper claims to have registered.
type Persona struct {
	// Name describes the persona in the start-up table.
	Name          string         `yaml:"name"`
	Registrations []Registration `yaml:"registrations"`
}

// Registration is one program registered with the portmapper, in every
// version on every netid it lists (netids outer, versions inner: the
// order rpcbind keeps them in).
type Registration struct {
	Program  uint32   `yaml:"program"`
	Versions []uint32 `yaml:"versions"`
	Netids   []string `yaml:"netids"`          // tcp, udp, tcp6, udp6, local
	Port     int      `yaml:"port"`            // tcp, udp, tcp6, udp6
	Path     string   `yaml:"path,omitempty"`  // local: the socket's path
	Owner    string   `yaml:"owner,omitempty"` // rpcbind's owner field; "" is superuser
}

// Reply factors: the smallest that lets the profile's registration list
// answer a portmapper version 2 DUMP, the request `rpcinfo -p` and the
// scanners make, over UDP in full: the reply of 24 + 20·n + 4 bytes for
// n tcp and udp registrations against the smallest request there is, a
// 40-byte call with AUTH_NONE, rounded up to a tenth.
const (
	factorWindows2000 = 9.7 // 18 registrations: 388 bytes
	factorLinuxIoT    = 4.7 // 8 registrations: 188 bytes
)

// DefaultConfig returns the defaults of a host profile.
func DefaultConfig(profile string) *Config {
	c := &Config{
		Base:       service.Base{Enabled: true, Ports: []int{111}, UDPPorts: []int{111}},
		MaxRecord:  9000,
		Capture:    64 << 10,
		Drain:      time.Second,
		RawArgs:    4 << 10,
		SampleArgs: 128,
		MaxCalls:   1000,
	}
	if profile == service.ProfileLinuxIoT {
		c.ReplyFactor = factorLinuxIoT
		c.Persona = Persona{
			Name: "Linux rpcbind",
			Registrations: []Registration{
				{Program: 100000, Versions: []uint32{4, 3}, Netids: []string{"tcp6", "udp6"}, Port: 111},
				{Program: 100000, Versions: []uint32{4, 3, 2}, Netids: []string{"tcp", "udp"}, Port: 111},
				{Program: 100000, Versions: []uint32{4, 3}, Netids: []string{"local"}, Path: "/run/rpcbind.sock"},
				{Program: 100024, Versions: []uint32{1}, Netids: []string{"udp", "udp6"}, Port: 44127},
				{Program: 100024, Versions: []uint32{1}, Netids: []string{"tcp", "tcp6"}, Port: 51851},
			},
		}
		return c
	}
	c.ReplyFactor = factorWindows2000
	c.Persona = Persona{
		Name: "Microsoft NFS server portmapper",
		Registrations: []Registration{
			{Program: 100000, Versions: []uint32{2}, Netids: []string{"tcp", "udp"}, Port: 111},
			{Program: 100024, Versions: []uint32{1}, Netids: []string{"udp", "tcp"}, Port: 1039},
			{Program: 100021, Versions: []uint32{1, 3, 4}, Netids: []string{"udp", "tcp"}, Port: 1047},
			{Program: 100005, Versions: []uint32{1, 3}, Netids: []string{"udp", "tcp"}, Port: 1048},
			{Program: 100003, Versions: []uint32{2, 3}, Netids: []string{"udp", "tcp"}, Port: 2049},
		},
	}
	return c
}

// Describe names the persona for the start-up table.
func (c *Config) Describe() string { return c.Persona.Name }

// maxEntries bounds the registration list once expanded.
const maxEntries = 256

// entries expands the registrations into the list the portmapper keeps.
func (p *Persona) entries() ([]entry, error) {
	var out []entry
	for i, r := range p.Registrations {
		if len(r.Versions) == 0 || len(r.Netids) == 0 {
			return nil, fmt.Errorf("persona.registrations[%d]: want at least one version and one netid", i)
		}
		owner := r.Owner
		if owner == "" {
			owner = "superuser"
		}
		if len(owner) > 64 || !isPrintable(owner) {
			return nil, fmt.Errorf("persona.registrations[%d]: owner %q: want up to 64 printable characters", i, owner)
		}
		for _, netid := range r.Netids {
			e := entry{Prog: r.Program, Netid: netid, Owner: owner}
			switch netid {
			case "tcp", "udp", "tcp6", "udp6":
				if r.Port < 1 || r.Port > 65535 {
					return nil, fmt.Errorf("persona.registrations[%d]: %s wants a port 1..65535, not %d", i, netid, r.Port)
				}
				e.Port = uint16(r.Port)
			case "local":
				if r.Path == "" || len(r.Path) > 108 || !isPrintable(r.Path) {
					return nil, fmt.Errorf("persona.registrations[%d]: local wants a path of up to 108 printable characters", i)
				}
				e.Path = r.Path
			default:
				return nil, fmt.Errorf("persona.registrations[%d]: netid %q: want tcp, udp, tcp6, udp6 or local", i, netid)
			}
			for _, v := range r.Versions {
				e.Vers = v
				out = append(out, e)
			}
		}
	}
	if len(out) > maxEntries {
		return nil, fmt.Errorf("persona.registrations: %d entries once expanded; at most %d", len(out), maxEntries)
	}
	return out, nil
}

func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// Validate implements service.Validator.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("sunrpc: "+format, a...)) }
	if c.Persona.Name == "" || !isPrintable(c.Persona.Name) {
		bad("persona.name must be one printable line")
	}
	if es, err := c.Persona.entries(); err != nil {
		errs = append(errs, fmt.Errorf("sunrpc: %w", err))
	} else {
		var tcp, udp bool
		for _, e := range es {
			if e.Prog != progPortmapper {
				continue
			}
			if e.Vers < 2 || e.Vers > 4 {
				bad("persona.registrations: portmapper version %d: only 2, 3 and 4 are served", e.Vers)
			}
			tcp = tcp || e.Vers == 2 && e.Netid == "tcp"
			udp = udp || e.Vers == 2 && e.Netid == "udp"
		}
		if !tcp || !udp {
			bad("persona.registrations must register program 100000 version 2 on tcp and udp: every portmapper serves it")
		}
	}
	if c.ReplyFactor < 0 || c.ReplyFactor > 100 || math.IsNaN(c.ReplyFactor) {
		bad("reply_factor %v: want 0..100 (0 means 1)", c.ReplyFactor)
	}
	if c.MaxRecord < headerLen || c.MaxRecord > 1<<20 {
		bad("max_record %s: want %d bytes..1MiB", c.MaxRecord, headerLen)
	}
	if c.Capture < c.MaxRecord || c.Capture > 16<<20 {
		bad("capture %s: want max_record..16MiB", c.Capture)
	}
	if c.Drain < 0 || c.Drain > 30*time.Second {
		bad("drain %s: want 0..30s", c.Drain)
	}
	if c.RawArgs < 0 || c.RawArgs > 1<<20 {
		bad("raw_args %s: want 0..1MiB", c.RawArgs)
	}
	if c.SampleArgs < 0 {
		bad("sample_args must not be negative")
	}
	if c.MaxCalls < 1 {
		bad("max_calls must be at least 1")
	}
	return errors.Join(errs...)
}

// Server is the portmapper. It serves TCP sessions and UDP datagrams.
type Server struct {
	cfg *Config
	pm  *portmapper
	log *slog.Logger
}

var (
	_ service.Handler       = (*Server)(nil)
	_ service.PacketHandler = (*Server)(nil)
)

// New builds the portmapper from a validated configuration.
func New(cfg *Config, env service.Env) (*Server, error) {
	return newServer(cfg, env, time.Now)
}

func newServer(cfg *Config, env service.Env, now func() time.Time) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	es, err := cfg.Persona.entries()
	if err != nil {
		return nil, fmt.Errorf("sunrpc: %w", err)
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Server{cfg: cfg, pm: newPortmapper(es, now), log: log}, nil
}

// ServeTCP serves the calls of one connection, each in one record, until
// the client closes, sends what a portmapper would not serve (the
// connection is closed then, as rpcbind closes it), or MaxCalls.
func (s *Server) ServeTCP(ctx context.Context, sess *service.Session) {
	tr := newTransport(false, sess.Local.Addr())
	rd := sess.Reader()
	limit := int(s.cfg.MaxRecord)
	for range s.cfg.MaxCalls {
		if ctx.Err() != nil {
			return
		}
		rc, err := readRecord(rd, limit)
		if err != nil {
			if len(rc.Wire) == 0 {
				return
			}
			msg := rc.Msg()
			why := "record cut short"
			switch {
			case errors.Is(err, errRecordTooLarge):
				// rpcbind closes at the header; keep what came with it.
				extra := s.drain(sess, int(s.cfg.Capture)-len(rc.Wire))
				rc.Wire = append(rc.Wire, extra...)
				msg = append(slices.Clip(msg), extra...)
				why = fmt.Sprintf("record fragment of %d bytes over max_record (%d)", rc.Announced, limit)
			case errors.Is(err, errFragments):
				why = err.Error()
			}
			s.dropped(&sess.Recorder, rc.Wire, msg, why, false)
			return
		}
		msg := rc.Msg()
		c, err := parseCall(msg)
		if err != nil {
			s.dropped(&sess.Recorder, rc.Wire, msg, err.Error(), false)
			return
		}
		o := s.pm.handle(c, tr)
		ev := s.callEvent(&sess.Recorder, c, &o, msg)
		var werr error
		if o.Reply != nil {
			_, werr = sess.Write(frame(o.Reply))
		}
		sess.Emit(ev)
		if werr != nil {
			return
		}
	}
}

// drain reads what the client sends within the drain time, up to n
// bytes.
func (s *Server) drain(sess *service.Session, n int) []byte {
	if n <= 0 || s.cfg.Drain <= 0 {
		return nil
	}
	_ = sess.Conn().SetReadDeadline(time.Now().Add(s.cfg.Drain))
	out := make([]byte, 0, min(n, 16<<10))
	chunk := make([]byte, 4096)
	for len(out) < n {
		k, err := sess.Reader().Read(chunk[:min(len(chunk), n-len(out))])
		out = append(out, chunk[:k]...)
		if err != nil {
			break
		}
	}
	return out
}

// ServePacket answers one datagram. Bytes that are not an RPC call are
// not answered; the engine's payload event holds them.
func (s *Server) ServePacket(ctx context.Context, p *service.Packet) {
	c, err := parseCall(p.Data)
	if c == nil {
		return
	}
	if err != nil {
		s.dropped(&p.Recorder, p.Data, p.Data, err.Error(), true)
		return
	}
	o := s.pm.handle(c, newTransport(true, p.Local.Addr()))
	ev := s.callEvent(&p.Recorder, c, &o, p.Data)
	if o.Reply != nil {
		s.replyUDP(p, &o, ev)
	}
	p.Emit(ev)
}

// replyUDP sends a datagram's reply within the engine's rules. A DUMP the
// engine finds too large is answered with as many entries as fit.
func (s *Server) replyUDP(p *service.Packet, o *outcome, ev *event.RPC) {
	err := p.Reply(o.Reply)
	if errors.Is(err, service.ErrReplyTooLarge) {
		ev.Refused = "too_large"
		if o.cut != nil {
			factor := max(s.cfg.ReplyFactor, 1)
			tried := len(o.Reply)
			for _, limit := range []int{int(float64(len(p.Data)) * factor), len(p.Data)} {
				if limit >= tried {
					continue
				}
				b, res := o.cut(limit)
				if b == nil {
					break
				}
				tried = len(b)
				if err = p.Reply(b); !errors.Is(err, service.ErrReplyTooLarge) {
					if err == nil {
						ev.Result = res
					}
					break
				}
			}
		}
	}
	if errors.Is(err, service.ErrRateLimited) {
		ev.Refused = "rate_limited"
	}
	if err != nil {
		ev.Reply = "none"
		if ev.Refused == "" {
			s.log.Debug("reply not sent", "service", p.Service, "session", p.SessionID, "src", p.Remote.String(), "err", err)
		}
	}
}

// callEvent records a call that was served, keeping it as a sample when
// its arguments are longer than SampleArgs.
func (s *Server) callEvent(rec *service.Recorder, c *call, o *outcome, msg []byte) *event.RPC {
	ev := s.header(c)
	ev.Args, ev.Reply, ev.Result = o.Args, o.Status, o.Result
	if ev.Reply == "" {
		ev.Reply = "none"
	}
	var raw []byte
	switch {
	case c.Prog != progPortmapper, o.Garbage:
		raw = c.Args
	case o.Inner != nil:
		raw = o.Inner
	}
	ev.RawArgs = s.bounded(raw)
	if len(c.Args) > int(s.cfg.SampleArgs) {
		ev.Sample = s.sample(rec, msg, "sunrpc.call")
	}
	return ev
}

// header fills what the call header says.
func (s *Server) header(c *call) *event.RPC {
	ev := &event.RPC{
		XID: c.XID, Program: c.Prog, ProgramName: programName(c.Prog), Version: c.Vers,
		Procedure: c.Proc, ProcedureName: procedureName(c.Prog, c.Vers, c.Proc),
		ArgsLen: int64(len(c.Args)),
	}
	if c.RPCVers != rpcVersion {
		return ev
	}
	ev.Auth = flavorName(c.Cred.Flavor)
	if c.Cred.Flavor == authSys {
		if a, ok := parseAuthSys(c.Cred.Body); ok {
			ev.Machine = printable(a.Machine, maxMachineName)
			ev.UID, ev.GID = &a.UID, &a.GID
		}
	}
	return ev
}

// dropped records bytes that were not served: a call a portmapper drops
// (another RPC version, a credential over its bound, a record over
// max_record or cut short), or, on a stream, bytes that are no RPC call
// at all.
func (s *Server) dropped(rec *service.Recorder, wire, msg []byte, why string, datagram bool) {
	c, _ := parseCall(msg)
	if c == nil {
		if datagram {
			return
		}
		pl := &event.Payload{Len: int64(len(wire)), Data: s.bounded(wire), Truncated: len(wire) > int(s.cfg.RawArgs)}
		if len(wire) > int(s.cfg.SampleArgs) {
			pl.Sample = s.sample(rec, wire, "sunrpc.payload")
		}
		rec.Emit(pl)
		return
	}
	ev := s.header(c)
	ev.Reply, ev.Malformed = "none", why
	if c.Args == nil {
		// The header itself was not served: keep what followed the
		// procedure number.
		c.Args = msg[min(len(msg), 24):]
	}
	ev.ArgsLen, ev.RawArgs = int64(len(c.Args)), s.bounded(c.Args)
	if c.Prog != progPortmapper {
		ev.Args = otherArgs(c.Prog, c.Proc, c.Args)
	}
	if len(c.Args) > int(s.cfg.SampleArgs) {
		ev.Sample = s.sample(rec, msg, "sunrpc.call")
	}
	rec.Emit(ev)
}

func (s *Server) bounded(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b[:min(len(b), int(s.cfg.RawArgs))])
}

func (s *Server) sample(rec *service.Recorder, data []byte, source string) string {
	sha, err := rec.SaveSample(data, source, "")
	if err != nil {
		s.log.Warn("sample not stored", "service", rec.Service, "session", rec.SessionID, "src", rec.Remote.String(), "err", err)
		return ""
	}
	return sha
}
