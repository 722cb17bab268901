// Package http is Smallpot's web server: Microsoft IIS 5.0 on the
// windows2000 profile, an embedded router's GoAhead-Webs on linux-iot.
//
// It parses requests itself (parse.go) rather than through net/http, to
// keep headers in their order and spelling and to answer malformed input
// as the imitated server does. Every request becomes an event.Request;
// one that carries a payload (a body, an over-long request line, a worm's
// probe) is also kept whole as a sample. IIS's CGI answers run the fake
// cmd.exe of package shell, whose command lines become event.Command and
// whose fetches become event.Download. See README.md.
package http

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/shell"
)

func init() {
	service.Register(service.Module{
		Name:    "http",
		Summary: "web server: IIS 5.0 (windows2000) or a router's GoAhead-Webs (linux-iot)",
		Config:  func(profile string) service.Config { return DefaultConfig(profile) },
		New:     service.NewAs("http", New),
	})
}

// Persona kinds.
const (
	KindIIS     = "iis"
	KindGoAhead = "goahead"
)

// Config is the http section of the configuration.
type Config struct {
	service.Base `yaml:",inline"`
	Persona      Persona `yaml:"persona"`

	// CaptureCap bounds the bytes kept of one request, line through
	// body; past it the rest is drained and the request marked truncated.
	CaptureCap config.ByteSize `yaml:"capture_cap"`
	// EventBody bounds the body carried in the request event; the whole
	// request (up to CaptureCap) is in its sample.
	EventBody config.ByteSize `yaml:"event_body"`
	// SampleLine: a request line longer than this is kept as a sample
	// even without a body.
	SampleLine int `yaml:"sample_line"`
	// MaxLine bounds the request line; MaxHeaders and MaxHeaderBytes the
	// header block.
	MaxLine        config.ByteSize `yaml:"max_line"`
	MaxHeaders     int             `yaml:"max_headers"`
	MaxHeaderBytes config.ByteSize `yaml:"max_header_bytes"`
	// MaxRequests bounds the requests served on one connection.
	MaxRequests int `yaml:"max_requests"`
	// IdaHold is how long a connection whose request "overflowed" the
	// server (CodeRed's .ida, WebDAV's long URI) is held silent before it
	// is closed, unless the client closes first.
	IdaHold time.Duration `yaml:"ida_hold"`
	// IdaOverflow is the query length past which an .ida/.idq request
	// is taken as the overflow CodeRed used.
	IdaOverflow int `yaml:"ida_overflow"`
	// MaxHosts bounds the attackers whose changes to the fake disk (a
	// file fetched with tftp, a copied cmd.exe) are remembered between
	// their connections.
	MaxHosts int `yaml:"max_hosts"`
}

// Persona is what the web server claims to be. Fields marked iis or
// goahead apply to that kind only.
type Persona struct {
	Kind     string `yaml:"kind"`     // iis or goahead
	Server   string `yaml:"server"`   // the Server header
	Hostname string `yaml:"hostname"` // iis: the NetBIOS name cmd.exe reports
	// Address names the host in Content-Location and redirects when the
	// request has no Host header; "" uses the address the client reached,
	// as IIS 5.0 did.
	Address string `yaml:"address"`
	Title   string `yaml:"title"` // the default (iis) or login (goahead) page's title
	// DefaultPage is the document served for a directory (iis).
	DefaultPage string `yaml:"default_page"`
	// Installed dates the fake install: directories, Last-Modified and
	// ETag of pages (RFC 3339; iis).
	Installed string `yaml:"installed"`
	// ETagChange is the metabase change number in IIS's ETags (iis).
	ETagChange int `yaml:"etag_change"`
	// CodeRedBackdoor makes the host one CodeRed II already visited:
	// root.exe in scripts and msadc, virtual roots /c and /d (iis).
	CodeRedBackdoor bool   `yaml:"codered_backdoor"`
	OSVersion       string `yaml:"os_version"`    // iis: `ver`
	VolumeSerial    string `yaml:"volume_serial"` // iis: `dir`
	FreeBytes       int64  `yaml:"free_bytes"`    // iis: `dir`
	// Realm is the Basic realm of protected paths (goahead).
	Realm string `yaml:"realm"`
	// LoginPage is where / redirects (goahead); LoginForm where its form
	// posts.
	LoginPage string `yaml:"login_page"`
	LoginForm string `yaml:"login_form"`
	// Protected lists path prefixes that answer 401 (goahead).
	Protected []string `yaml:"protected"`
}

// DefaultConfig returns the defaults of a host profile.
func DefaultConfig(profile string) *Config {
	c := &Config{
		Base:           service.Base{Enabled: true, Ports: []int{80, 8080}},
		CaptureCap:     1 << 20,
		EventBody:      64 << 10,
		SampleLine:     256,
		MaxLine:        128 << 10,
		MaxHeaders:     100,
		MaxHeaderBytes: 64 << 10,
		MaxRequests:    100,
		IdaHold:        10 * time.Second,
		IdaOverflow:    200,
		MaxHosts:       1024,
	}
	if profile == service.ProfileLinuxIoT {
		c.Persona = Persona{
			Kind:      KindGoAhead,
			Server:    "GoAhead-Webs",
			Title:     "Wireless Router",
			Realm:     "Wireless Router",
			LoginPage: "/login.asp",
			LoginForm: "/goform/formLogin",
			Protected: []string{"/cgi-bin/", "/admin", "/setup.cgi", "/boaform/", "/HNAP1"},
		}
		return c
	}
	c.Persona = Persona{
		Kind:            KindIIS,
		Server:          "Microsoft-IIS/5.0",
		Hostname:        "WEBSERVER",
		Title:           "Under Construction",
		DefaultPage:     "iisstart.htm",
		Installed:       "2001-06-21T09:32:18Z",
		ETagChange:      0x8b6,
		CodeRedBackdoor: true,
		OSVersion:       "Microsoft Windows 2000 [Version 5.00.2195]",
		VolumeSerial:    "3C5E-12F4",
		FreeBytes:       3215106048,
	}
	return c
}

// Validate implements service.Validator.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	p := c.Persona
	switch p.Kind {
	case KindIIS:
		if _, err := time.Parse(time.RFC3339, p.Installed); err != nil {
			bad("persona.installed %q: want an RFC 3339 time such as 2001-06-21T09:32:18Z", p.Installed)
		}
		if p.DefaultPage == "" || containsAny(p.DefaultPage, `/\:`) {
			bad("persona.default_page %q: want a file name", p.DefaultPage)
		}
		if p.ETagChange < 0 {
			bad("persona.etag_change must not be negative")
		}
	case KindGoAhead:
		if !startsWithSlash(p.LoginPage) || !startsWithSlash(p.LoginForm) {
			bad("persona.login_page and persona.login_form must be paths starting with /")
		}
	default:
		bad("persona.kind %q: want %s or %s", p.Kind, KindIIS, KindGoAhead)
	}
	if p.Server == "" || containsAny(p.Server, "\r\n") {
		bad("persona.server must be one non-empty line")
	}
	for _, s := range []string{p.Hostname, p.Address, p.Title, p.Realm} {
		if containsAny(s, "\r\n\"<>") {
			bad("persona fields may not hold line breaks, quotes or angle brackets: %q", s)
		}
	}
	if c.CaptureCap < 4<<10 || c.CaptureCap > 64<<20 {
		bad("capture_cap %s: want 4KiB..64MiB", c.CaptureCap)
	}
	if c.EventBody < 0 || c.EventBody > c.CaptureCap {
		bad("event_body %s: want 0..capture_cap", c.EventBody)
	}
	if c.SampleLine < 1 {
		bad("sample_line must be at least 1")
	}
	if c.MaxLine < 256 || c.MaxLine > c.CaptureCap {
		bad("max_line %s: want 256 bytes..capture_cap", c.MaxLine)
	}
	if c.MaxHeaders < 1 || c.MaxHeaders > 10000 {
		bad("max_headers %d: want 1..10000", c.MaxHeaders)
	}
	if c.MaxHeaderBytes < 1<<10 || c.MaxHeaderBytes > c.CaptureCap {
		bad("max_header_bytes %s: want 1KiB..capture_cap", c.MaxHeaderBytes)
	}
	if c.MaxRequests < 1 || c.MaxRequests > 100000 {
		bad("max_requests %d: want 1..100000", c.MaxRequests)
	}
	if c.IdaHold < 0 || c.IdaHold > 10*time.Minute {
		bad("ida_hold %s: want 0..10m", c.IdaHold)
	}
	if c.IdaOverflow < 1 {
		bad("ida_overflow must be at least 1")
	}
	if c.MaxHosts < 1 || c.MaxHosts > 1<<20 {
		bad("max_hosts %d: want 1..1048576", c.MaxHosts)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("http: %w", err)
	}
	return nil
}

func containsAny(s, chars string) bool {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(chars); j++ {
			if s[i] == chars[j] {
				return true
			}
		}
	}
	return false
}

func startsWithSlash(s string) bool { return len(s) > 0 && s[0] == '/' }

// exchange is one request as a persona sees it.
type exchange struct {
	req    Request // held here, not pointed to: it stays on the stack
	now    time.Time
	local  netip.AddrPort
	remote netip.AddrPort
	last   bool // the connection's last allowed request
}

// answer is what a persona did with a request.
type answer struct {
	status int
	out    []byte // sent as is, never changed (it may be shared); nil sends nothing
	close  bool   // end the connection after out
	hold   bool   // keep the connection open and silent, then close
	action string
	path   string // decoded as the persona decodes it
	query  string
	keep   bool // store the request as a sample even without a body
	runs   []run
	logins []*event.Login
}

// run is one command line the fake shell answered.
type run struct {
	line string
	ex   shell.Execution
}

type persona interface {
	answer(x *exchange) answer
}

// Server is the http service.
type Server struct {
	cfg     *Config
	persona persona
	limits  Limits
	log     *slog.Logger
	now     func() time.Time
}

var _ service.ClientFirst = (*Server)(nil)

// New builds the service from its configuration. It starts nothing.
func New(cfg *Config, env service.Env) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, log: log, now: time.Now,
		limits: Limits{MaxLine: int(cfg.MaxLine), MaxHeaderBytes: int(cfg.MaxHeaderBytes),
			MaxHeaders: cfg.MaxHeaders, Capture: int(cfg.CaptureCap)}}
	switch cfg.Persona.Kind {
	case KindGoAhead:
		s.persona = newGoAhead(cfg)
	default:
		p, err := newIIS(cfg)
		if err != nil {
			return nil, err
		}
		s.persona = p
	}
	return s, nil
}

// ServeTCP implements service.Handler: requests are read and answered in
// turn until one of them, the client or a limit ends the connection.
func (s *Server) ServeTCP(ctx context.Context, sess *service.Session) {
	rd := sess.Reader()
	for n := 1; ; n++ {
		// Input that ends before a request needs no request's memory.
		if _, err := rd.Peek(1); err != nil {
			return
		}
		ev := new(requestEvent)
		var x exchange // on the stack, the request in it too
		req := &x.req
		ok, err := readRequest(rd, s.limits, req, ev.hdr[:0])
		if !ok {
			return
		}
		// One reading of the clock per request: the answer's Date and the
		// event's time.
		now := s.now()
		var ans answer
		if req.Incomplete {
			// The client stopped mid-request: nothing to answer.
			ans = answer{action: "incomplete", close: true}
		} else {
			x.now, x.local, x.remote, x.last = now, sess.Local, sess.Remote, n >= s.cfg.MaxRequests
			ans = s.answer(&x)
		}
		if l := basicLogin(req); l != nil {
			ans.logins = append([]*event.Login{l}, ans.logins...)
		}
		s.record(sess, req, &ans, ev, now)
		if len(ans.out) > 0 {
			if _, werr := sess.Write(ans.out); werr != nil {
				return
			}
		}
		if ans.hold {
			s.hold(ctx, sess)
			return
		}
		if err != nil || ans.close || req.Malformed != "" || n >= s.cfg.MaxRequests {
			return
		}
	}
}

// answer asks the persona, through its own type where it is known: a
// call through the interface would put every exchange on the heap.
func (s *Server) answer(x *exchange) answer {
	switch p := s.persona.(type) {
	case *iis:
		return p.answer(x)
	case *goahead:
		return p.answer(x)
	}
	y := *x
	return s.persona.answer(&y)
}

// ClientFirst implements service.ClientFirst: a web client speaks first,
// and every read goes through the session's Reader.
func (s *Server) ClientFirst() {}

// basicLogin reads the credentials of an Authorization: Basic header.
func basicLogin(req *Request) *event.Login {
	v, ok := req.authorization()
	if !ok {
		return nil
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(v), " ")
	if !strings.EqualFold(scheme, "Basic") {
		return nil
	}
	cred = strings.TrimSpace(cred)
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(cred, "=")); err != nil {
			return nil
		}
	}
	user, pass, _ := strings.Cut(string(raw), ":")
	return &event.Login{User: user, Password: pass, Method: "basic"}
}

// Bounds of what the command events carry.
const maxCommandOutput = 8 << 10

// requestEvent is the memory of one request's event, in one allocation,
// not three: its envelope, its detail and room for the request's
// headers, which the parser fills and the detail holds (the request
// itself stays on ServeTCP's stack). Six headers are more than scanners
// and most tools send, and what fits the 704-byte size class.
type requestEvent struct {
	slot event.Slot
	d    event.Request
	hdr  [6]event.Header
}

// record emits the request's events: its sample when it carries a
// payload, the request (in ev, at now), then what the fake shell ran and
// fetched.
func (s *Server) record(sess *service.Session, req *Request, ans *answer, ev *requestEvent, now time.Time) {
	sample := ""
	if ans.keep || req.BodyLen > 0 || len(req.Line) > s.cfg.SampleLine || req.LongLine {
		sha, err := sess.SaveSample(req.Raw, "http.request", "")
		if err != nil {
			s.log.Warn("sample not stored", "service", sess.Service, "session", sess.SessionID,
				"src", sess.Remote.String(), "err", err)
		}
		sample = sha
	}
	body := req.Body
	if len(body) > int(s.cfg.EventBody) {
		body = body[:s.cfg.EventBody]
	}
	// Field by field: ev is new, so zero, and a composite literal would
	// be built aside and copied in whole, through the write barriers of
	// every pointer in it.
	d := &ev.d
	d.Method, d.URI, d.Path, d.Query, d.Version = req.Method, req.URI, ans.path, ans.query, req.Version
	d.Headers = slices.Clip(req.Headers)
	d.Host, _ = req.host()
	d.UserAgent, _ = req.userAgent()
	d.BodyLen, d.Body, d.Status, d.Malformed = req.BodyLen, slices.Clone(body), ans.status, req.Malformed
	d.Truncated, d.Sample, d.Action = req.Truncated, sample, ans.action
	sess.EmitInAt(&ev.slot, now, d)
	for _, l := range ans.logins {
		sess.Emit(l)
	}
	for _, r := range ans.runs {
		out := r.ex.Output
		if len(out) > maxCommandOutput {
			out = out[:maxCommandOutput]
		}
		sess.Emit(&event.Command{Line: r.line, Shell: "cmd", Output: out, Known: r.ex.Known})
		for _, d := range r.ex.Downloads {
			sess.Emit(&event.Download{URL: d.URL, Protocol: d.Protocol, Host: d.Host, Path: d.Path, Command: r.line})
		}
	}
}

// hold keeps an "overflowed" connection open and silent until the client
// closes it or IdaHold passes; anything more it sends is read and dropped
// (the transcript keeps it).
func (s *Server) hold(ctx context.Context, sess *service.Session) {
	if s.cfg.IdaHold <= 0 {
		return
	}
	_ = sess.Conn().SetReadDeadline(time.Now().Add(s.cfg.IdaHold))
	var buf [512]byte
	rd := sess.Reader()
	for ctx.Err() == nil {
		if _, err := rd.Read(buf[:]); err != nil {
			return
		}
	}
}

// Describe implements service.Describer.
func (c *Config) Describe() string {
	if c.Persona.Kind == KindGoAhead {
		return c.Persona.Server + " (router login)"
	}
	return c.Persona.Server
}
