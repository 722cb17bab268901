// Package netbus fakes the server of the NetBus 1.60 backdoor (1998), the
// remote-control trojan of the Windows 95 era that scanners, worms such
// as Chainsaw and nmap's netbus-* scripts still knock for on tcp 12345.
//
// The control port speaks NetBus's ";"-separated line protocol
// (protocol.go): the banner, the password exchange with its super-login
// hole, the queries a client opens with (GetInfo, GetSetup, GetACL,
// GetApps, GetVolume) and the commands it sends. Every line becomes an
// event.Command, every Password line an event.Login. An UploadFile
// announcement is answered UploadReady, and the file the client then
// sends to the upload port (tcp 12346) is kept as a sample. Nothing the
// client asks for is ever done. See README.md.
package netbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
)

func init() {
	service.Register(service.Module{
		Name:    "netbus",
		Summary: "NetBus 1.60 backdoor server: login, commands, uploads",
		Config:  func(profile string) service.Config { return DefaultConfig(profile) },
		New:     service.NewAs("netbus", New),
	})
}

// Config is the netbus section of the configuration.
type Config struct {
	service.Base `yaml:",inline"`
	Persona      Persona `yaml:"persona"`

	// AcceptAnyPassword answers every Password line Access;1, whatever
	// the persona's password.
	AcceptAnyPassword bool `yaml:"accept_any_password"`
	// UploadPort is the port (one of ports) that receives the data of an
	// UploadFile: NetBus uses the control port plus one. 0: none.
	UploadPort int `yaml:"upload_port"`
	// MaxUpload bounds the bytes kept of one uploaded file.
	MaxUpload config.ByteSize `yaml:"max_upload"`
	// UploadWait is how long an announced upload waits for its data
	// connection, and how long that connection may take to send it.
	UploadWait time.Duration `yaml:"upload_wait"`
	// MaxLine bounds one command line; MaxCommands the lines of one
	// connection.
	MaxLine     int `yaml:"max_line"`
	MaxCommands int `yaml:"max_commands"`
}

// Persona is what the NetBus server and its host report.
type Persona struct {
	Version string `yaml:"version"` // in the banner: "NetBus 1.60 \r"
	// Password is the server's password; "" (most infected hosts) lets
	// every client in without one.
	Password string `yaml:"password"`
	// SuperLogin keeps the hole of NetBus up to 1.60: a Password line
	// whose second field is 1 is accepted whatever its password.
	SuperLogin        bool     `yaml:"super_login"`
	ProgramPath       string   `yaml:"program_path"` // GetInfo
	RestartPersistent bool     `yaml:"restart_persistent"`
	LoginID           string   `yaml:"login_id"` // the Windows user the server runs as
	LogTraffic        bool     `yaml:"log_traffic"`
	NotifyTo          string   `yaml:"notify_to"`   // GetSetup: where login notices go
	NotifyFrom        string   `yaml:"notify_from"` // GetSetup
	SMTPServer        string   `yaml:"smtp_server"` // GetSetup
	ACL               []string `yaml:"acl"`         // GetACL: addresses allowed in
	Applications      []string `yaml:"applications"`
	// Volume is the wave, synth and CD volume GetVolume reports.
	Volume []int `yaml:"volume"`
}

// Default ports: NetBus listens on 12345 and takes uploads on 12346.
const (
	ControlPort = 12345
	UploadPort  = 12346
)

// DefaultConfig returns the defaults of a host profile. NetBus was a
// Windows program: on the linux-iot profile it is off, as a BusyBox box
// answering NetBus would give the sensor away.
func DefaultConfig(profile string) *Config {
	return &Config{
		Base: service.Base{Enabled: profile != service.ProfileLinuxIoT,
			Ports: []int{ControlPort, UploadPort}},
		Persona: Persona{
			Version:           "1.60",
			SuperLogin:        true,
			ProgramPath:       `C:\WINNT\Patch.exe`,
			RestartPersistent: true,
			LoginID:           "Administrator",
			ACL:               []string{"127.0.0.1"},
			Applications:      []string{"Internet Information Services", "Untitled - Notepad"},
			Volume:            []int{0, 0, 0},
		},
		UploadPort:  UploadPort,
		MaxUpload:   8 << 20,
		UploadWait:  time.Minute,
		MaxLine:     4096,
		MaxCommands: 1000,
	}
}

// Validate implements service.Validator.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	p := c.Persona
	if p.Version == "" || strings.ContainsAny(p.Version, "\r\n;") {
		bad("persona.version %q: want a version such as 1.60", p.Version)
	}
	for name, v := range map[string]string{"password": p.Password, "program_path": p.ProgramPath,
		"login_id": p.LoginID, "notify_to": p.NotifyTo, "notify_from": p.NotifyFrom, "smtp_server": p.SMTPServer} {
		if strings.ContainsAny(v, "\r\n;|") {
			bad("persona.%s may not hold line breaks, ';' or '|'", name)
		}
	}
	for _, l := range [][]string{p.ACL, p.Applications} {
		for _, v := range l {
			if strings.ContainsAny(v, "\r\n|") {
				bad("persona.acl and persona.applications entries may not hold line breaks or '|': %q", v)
			}
		}
	}
	if len(p.Volume) != 3 {
		bad("persona.volume: want three numbers (wave, synth, cd)")
	}
	if c.UploadPort != 0 && !slices.Contains(c.Ports, c.UploadPort) {
		bad("upload_port %d is not one of ports %v", c.UploadPort, c.Ports)
	}
	if c.Enabled && !slices.ContainsFunc(c.Ports, func(p int) bool { return p != c.UploadPort }) {
		bad("ports: want a control port besides upload_port")
	}
	if c.MaxUpload < 1 || c.MaxUpload > 64<<20 {
		bad("max_upload %s: want 1 byte..64MiB", c.MaxUpload)
	}
	if c.UploadWait <= 0 || c.UploadWait > 10*time.Minute {
		bad("upload_wait %s: want more than 0, at most 10m", c.UploadWait)
	}
	if c.MaxLine < 64 || c.MaxLine > 1<<20 {
		bad("max_line %d: want 64..1048576", c.MaxLine)
	}
	if c.MaxCommands < 1 {
		bad("max_commands must be at least 1")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("netbus: %w", err)
	}
	return nil
}

// Describe implements service.Describer.
func (c *Config) Describe() string {
	d := "NetBus " + c.Persona.Version
	if c.Persona.Password != "" {
		d += " (password)"
	}
	return d
}

// Bounds of the pending-upload table and of command outputs in events.
const (
	maxPending       = 1024
	maxCommandOutput = 8 << 10
)

// Server is the netbus service: the control port and the upload port
// share it, so an upload's data is tied to the UploadFile before it.
type Server struct {
	cfg     *Config
	log     *slog.Logger
	now     func() time.Time
	clients atomic.Int32 // control connections open

	mu      sync.Mutex
	pending map[netip.Addr]pendingUpload
}

// pendingUpload is an UploadFile waiting for its data connection.
type pendingUpload struct {
	Upload
	at time.Time
}

var (
	_ service.Handler     = (*Server)(nil)
	_ service.PortHandler = (*Server)(nil)
)

// New builds the service from its configuration. It starts nothing.
func New(cfg *Config, env service.Env) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Server{cfg: cfg, log: log, now: time.Now, pending: map[netip.Addr]pendingUpload{}}, nil
}

// ForPort implements service.PortHandler: the upload port receives files,
// every other port is a control port.
func (s *Server) ForPort(port int) service.Handler {
	if port == s.cfg.UploadPort {
		return service.HandlerFunc(s.serveUpload)
	}
	return &control{srv: s, port: port}
}

// ServeTCP serves a control connection on the first control port.
func (s *Server) ServeTCP(ctx context.Context, sess *service.Session) {
	port := ControlPort
	for _, p := range s.cfg.Ports {
		if p != s.cfg.UploadPort {
			port = p
			break
		}
	}
	(&control{srv: s, port: port}).ServeTCP(ctx, sess)
}

func (s *Server) host(port int) *Host {
	p := s.cfg.Persona
	h := &Host{Version: p.Version, Password: p.Password, SuperLogin: p.SuperLogin,
		AcceptAny: s.cfg.AcceptAnyPassword, Port: port, ProgramPath: p.ProgramPath,
		RestartPersistent: p.RestartPersistent, LoginID: p.LoginID, LogTraffic: p.LogTraffic,
		NotifyTo: p.NotifyTo, NotifyFrom: p.NotifyFrom, SMTPServer: p.SMTPServer,
		ACL: p.ACL, Applications: p.Applications}
	copy(h.Volume[:], p.Volume)
	return h
}

// control serves one control port.
type control struct {
	srv  *Server
	port int
}

// ServeTCP sends the banner, then answers lines until the client leaves.
func (c *control) ServeTCP(ctx context.Context, sess *service.Session) {
	s := c.srv
	s.clients.Add(1)
	defer s.clients.Add(-1)
	ns := NewSession(s.host(c.port), func() int { return int(s.clients.Load()) })
	if _, err := sess.WriteString(ns.Banner() + "\r"); err != nil {
		return
	}
	rd := sess.Reader()
	for n := 0; n < s.cfg.MaxCommands && ctx.Err() == nil; {
		line, err := ReadLine(rd, s.cfg.MaxLine, 64<<10)
		if len(line) > 0 {
			n++
			r := ns.Handle(string(line))
			s.record(sess, string(line), r)
			if r.Reply != "" {
				if _, werr := sess.WriteString(r.Reply + "\r"); werr != nil {
					return
				}
			}
			if r.Close {
				return
			}
		}
		if err != nil && !errors.Is(err, errLineTooLong) {
			return
		}
	}
}

// record emits what one line did.
func (s *Server) record(sess *service.Session, line string, r Result) {
	if r.Login != nil {
		sess.Emit(&event.Login{Password: r.Login.Password, Method: "netbus", Success: r.Login.Success})
	}
	out := r.Reply
	if len(out) > maxCommandOutput {
		out = out[:maxCommandOutput]
	}
	sess.Emit(&event.Command{Line: line, Shell: "netbus", Output: out, Known: r.Known})
	if r.Upload != nil {
		s.expect(sess.Remote.Addr(), *r.Upload)
	}
	if d := download(r.URL, line); d != nil {
		sess.Emit(d)
	}
}

// download makes the event of a URL the client asked the host to open,
// when it is one a browser would fetch.
func download(raw, line string) *event.Download {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return nil
	}
	switch p := strings.ToLower(u.Scheme); p {
	case "http", "https", "ftp":
		return &event.Download{URL: u.String(), Protocol: p, Host: u.Host, Path: u.Path, Command: line}
	}
	return nil
}

// expect remembers an announced upload until its data connection comes
// from the same address. The table is bounded: stale entries go first,
// then the oldest.
func (s *Server) expect(from netip.Addr, u Upload) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pending[from]; !ok && len(s.pending) >= maxPending {
		var oldest netip.Addr
		var at time.Time
		for a, p := range s.pending {
			if now.Sub(p.at) > s.cfg.UploadWait {
				delete(s.pending, a)
				continue
			}
			if at.IsZero() || p.at.Before(at) {
				oldest, at = a, p.at
			}
		}
		if len(s.pending) >= maxPending {
			delete(s.pending, oldest)
		}
	}
	s.pending[from] = pendingUpload{Upload: u, at: now}
}

// take returns the upload announced from an address, if it is still
// awaited.
func (s *Server) take(from netip.Addr) (Upload, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[from]
	if !ok {
		return Upload{}, false
	}
	delete(s.pending, from)
	if s.now().Sub(p.at) > s.cfg.UploadWait {
		return Upload{}, false
	}
	return p.Upload, true
}

// serveUpload receives a file on the upload port: the client connects,
// sends the bytes and closes. The announced size, when known, ends the
// read; max_upload and upload_wait bound it.
func (s *Server) serveUpload(ctx context.Context, sess *service.Session) {
	up, announced := s.take(sess.Remote.Addr())
	limit := int64(s.cfg.MaxUpload)
	want := limit + 1 // one more byte tells a cut file
	if announced && up.Size >= 0 && up.Size <= limit {
		want = up.Size
	}
	_ = sess.Conn().SetReadDeadline(time.Now().Add(s.cfg.UploadWait))
	data := make([]byte, 0, min(want, 64<<10))
	buf := make([]byte, 32<<10)
	rd := sess.Reader()
	for int64(len(data)) < want && ctx.Err() == nil {
		n, err := rd.Read(buf[:min(int64(len(buf)), want-int64(len(data)))])
		data = append(data, buf[:n]...)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.log.Debug("upload ended", "service", sess.Service, "session", sess.SessionID,
					"src", sess.Remote.String(), "err", err)
			}
			break
		}
	}
	truncated := int64(len(data)) > limit || (announced && up.Size > limit)
	if int64(len(data)) > limit {
		data = data[:limit]
	}
	if len(data) == 0 {
		return
	}
	sha, err := sess.SaveSample(data, "netbus.upload", up.Name)
	if err != nil {
		s.log.Warn("sample not stored", "service", sess.Service, "session", sess.SessionID,
			"src", sess.Remote.String(), "err", err)
	}
	sess.Emit(&event.Upload{Name: up.Name, Size: int64(len(data)), SHA256: sha, Truncated: truncated, Via: "netbus"})
}
