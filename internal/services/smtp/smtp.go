// Package smtp is Smallpot's mail server: the Windows 2000 SMTP service
// as Microsoft Exchange 2000 extends it on the windows2000 profile,
// Postfix on linux-iot.
//
// It takes whatever a client sends — HELO/EHLO, AUTH (PLAIN, LOGIN,
// NTLM), MAIL FROM, RCPT TO, DATA or BDAT — and answers as the persona
// would, as an open relay answers: every recipient is accepted and every
// message "queued". Nothing is ever relayed or delivered; nothing ever
// connects out. Each message is kept whole as a sample, its MIME parts
// are decoded and each attachment is kept too (package mime), and the
// transaction is recorded as an event.Mail. See README.md.
package smtp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/mime"
	"github.com/smallpot/smallpot/internal/sasl"
	"github.com/smallpot/smallpot/internal/service"
)

func init() {
	service.Register(service.Module{
		Name:    "smtp",
		Summary: "mail server that never relays: Exchange 2000 (windows2000) or Postfix (linux-iot)",
		Config:  func(profile string) service.Config { return DefaultConfig(profile) },
		New:     service.NewAs("smtp", New),
	})
}

// Persona kinds.
const (
	KindExchange = "exchange"
	KindPostfix  = "postfix"
)

// Config is the smtp section of the configuration.
type Config struct {
	service.Base `yaml:",inline"`
	Persona      Persona `yaml:"persona"`

	// MaxLine bounds a command line (and an AUTH response); a longer one
	// is answered as too long and kept as a sample.
	MaxLine config.ByteSize `yaml:"max_line"`
	// MaxMessage bounds the bytes kept of one message; a longer one is
	// read to its end, refused (552) and its first bytes kept.
	MaxMessage config.ByteSize `yaml:"max_message"`
	// MaxRecipients bounds the recipients of one message.
	MaxRecipients int `yaml:"max_recipients"`
	// MaxCommands bounds the commands of one session.
	MaxCommands int `yaml:"max_commands"`
	// MaxErrors ends a session after this many error replies (0: never),
	// as Postfix's smtpd_hard_error_limit does.
	MaxErrors int `yaml:"max_errors"`
	// AuthDelay holds the answer to a failed AUTH, as the product does.
	AuthDelay time.Duration `yaml:"auth_delay"`
	// MIME bounds the decoding of each message.
	MIME MIMELimits `yaml:"mime"`
}

// MIMELimits bound the decoding of one message.
type MIMELimits struct {
	MaxParts      int             `yaml:"max_parts"`
	MaxDepth      int             `yaml:"max_depth"`
	MaxAttachment config.ByteSize `yaml:"max_attachment"`
}

// Persona is what the mail server claims to be.
type Persona struct {
	Kind     string `yaml:"kind"`     // exchange or postfix
	Hostname string `yaml:"hostname"` // fully qualified, in the banner and replies
	Version  string `yaml:"version"`  // the SMTP service's version, in the banner
	// Banner is the greeting after "220 "; {hostname}, {version} and
	// {date} (RFC 822, as the persona writes it) are filled in.
	Banner string `yaml:"banner"`
	// Domains are the mail domains the server calls its own (its host
	// name always is): a recipient elsewhere is a relay attempt.
	Domains []string `yaml:"domains"`
	// Extensions are the EHLO keywords, in order; {max_message} is filled
	// in. STARTTLS may not be listed: it cannot be served.
	Extensions []string `yaml:"extensions"`
	// Accounts are the credentials AUTH accepts.
	Accounts []Account `yaml:"accounts"`
}

// Account is one user AUTH accepts.
type Account struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// DefaultConfig returns the defaults of a host profile.
func DefaultConfig(profile string) *Config {
	c := &Config{
		Base:          service.Base{Enabled: true, Ports: []int{25}},
		MaxLine:       4 << 10,
		MaxMessage:    10 << 20,
		MaxRecipients: 100,
		MaxCommands:   1000,
		MIME:          MIMELimits{MaxParts: 100, MaxDepth: 8, MaxAttachment: 10 << 20},
	}
	if profile == service.ProfileLinuxIoT {
		// Postfix with Dovecot SASL on a small Linux box; its defaults:
		// message_size_limit 10240000, smtpd_hard_error_limit 20, and
		// Dovecot's auth_failure_delay of 2s.
		c.MaxMessage = 10240000
		c.MaxErrors = 20
		c.AuthDelay = 2 * time.Second
		c.Persona = Persona{
			Kind:     KindPostfix,
			Hostname: "nas.home.arpa",
			Banner:   "{hostname} ESMTP Postfix",
			Domains:  []string{"home.arpa"},
			Extensions: []string{"PIPELINING", "SIZE {max_message}", "VRFY", "ETRN", "AUTH PLAIN LOGIN",
				"ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"},
			Accounts: []Account{{User: "admin", Password: "admin"}},
		}
		return c
	}
	c.Persona = Persona{
		Kind:     KindExchange,
		Hostname: "webserver.corp.local",
		Version:  "5.0.2195.6713",
		Banner:   "{hostname} Microsoft ESMTP MAIL Service, Version: {version} ready at  {date} ",
		Domains:  []string{"corp.local"},
		// Exchange 2000's EHLO list (Microsoft KB 257569's telnet check).
		Extensions: []string{"TURN", "ATRN", "SIZE", "ETRN", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES",
			"8bitmime", "BINARYMIME", "CHUNKING", "VRFY", "X-EXPS GSSAPI NTLM LOGIN", "X-EXPS=LOGIN",
			"AUTH GSSAPI NTLM LOGIN", "AUTH=LOGIN", "X-LINK2STATE", "XEXCH50"},
		Accounts: []Account{{User: "administrator", Password: "password"}},
	}
	return c
}

// Describe names the persona for the start-up table.
func (c *Config) Describe() string {
	if c.Persona.Kind == KindPostfix {
		return "Postfix smtpd"
	}
	return "Microsoft Exchange 2000 SMTP " + c.Persona.Version
}

// Validate implements service.Validator.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	p := c.Persona
	if p.Kind != KindExchange && p.Kind != KindPostfix {
		bad("persona.kind %q: want %s or %s", p.Kind, KindExchange, KindPostfix)
	}
	if !validHost(p.Hostname) {
		bad("persona.hostname %q: want a host name (letters, digits, '-' and '.')", p.Hostname)
	}
	if strings.TrimSpace(p.Banner) == "" || strings.ContainsAny(p.Banner+p.Version, "\r\n") {
		bad("persona.banner and persona.version must be one line (and banner not empty)")
	}
	for _, d := range p.Domains {
		if !validHost(d) {
			bad("persona.domains: %q is not a domain", d)
		}
	}
	for _, e := range p.Extensions {
		if strings.TrimSpace(e) == "" || strings.ContainsAny(e, "\r\n") {
			bad("persona.extensions: %q must be one non-empty line", e)
		}
		if kw, _, _ := strings.Cut(e, " "); strings.EqualFold(kw, "STARTTLS") {
			bad("persona.extensions: STARTTLS cannot be served; remove it")
		}
	}
	for _, a := range p.Accounts {
		if a.User == "" {
			bad("persona.accounts: every account needs a user")
		}
	}
	if c.MaxLine < 512 || c.MaxLine > 1<<20 {
		bad("max_line %s: want 512 bytes..1MiB", c.MaxLine)
	}
	if c.MaxMessage < 1<<10 || c.MaxMessage > 64<<20 {
		bad("max_message %s: want 1KiB..64MiB", c.MaxMessage)
	}
	if c.MaxRecipients < 1 || c.MaxRecipients > 100000 {
		bad("max_recipients %d: want 1..100000", c.MaxRecipients)
	}
	if c.MaxCommands < 1 || c.MaxCommands > 1000000 {
		bad("max_commands %d: want 1..1000000", c.MaxCommands)
	}
	if c.MaxErrors < 0 {
		bad("max_errors must not be negative")
	}
	if c.AuthDelay < 0 || c.AuthDelay > time.Minute {
		bad("auth_delay %s: want 0..1m", c.AuthDelay)
	}
	if c.MIME.MaxParts < 1 || c.MIME.MaxParts > 10000 || c.MIME.MaxDepth < 1 || c.MIME.MaxDepth > 100 {
		bad("mime: max_parts want 1..10000, max_depth 1..100")
	}
	if c.MIME.MaxAttachment < 1<<10 || c.MIME.MaxAttachment > 64<<20 {
		bad("mime.max_attachment %s: want 1KiB..64MiB", c.MIME.MaxAttachment)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}

func validHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Server is the smtp service.
type Server struct {
	cfg      *Config
	r        *replies
	exchange bool
	host     string
	ntlm     sasl.Host
	domains  map[string]bool
	exts     []string
	mechs    map[string]bool // the AUTH mechanisms advertised
	now      func() time.Time
	rnd      func() uint64
	queued   atomic.Uint64 // messages queued since start: Exchange's ids count them
}

var _ service.Handler = (*Server)(nil)

// New builds the service from its configuration. It starts nothing.
func New(cfg *Config, _ service.Env) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, exchange: cfg.Persona.Kind == KindExchange, host: cfg.Persona.Hostname,
		ntlm: sasl.HostFromFQDN(cfg.Persona.Hostname), domains: map[string]bool{},
		now: time.Now, rnd: rand.Uint64}
	s.r = &postfixReplies
	if s.exchange {
		s.r = &exchangeReplies
	}
	s.domains[strings.ToLower(s.host)] = true
	for _, d := range cfg.Persona.Domains {
		s.domains[strings.ToLower(d)] = true
	}
	filler := strings.NewReplacer("{max_message}", strconv.FormatInt(int64(cfg.MaxMessage), 10))
	s.mechs = map[string]bool{}
	for _, e := range cfg.Persona.Extensions {
		s.exts = append(s.exts, filler.Replace(e))
		if f := strings.Fields(e); len(f) > 1 && strings.EqualFold(f[0], "AUTH") {
			for _, m := range f[1:] {
				s.mechs[strings.ToUpper(m)] = true
			}
		}
	}
	return s, nil
}

func (s *Server) banner() string {
	return strings.NewReplacer("{hostname}", s.host, "{version}", s.cfg.Persona.Version,
		"{date}", s.now().Format("Mon, 2 Jan 2006 15:04:05 -0700")).Replace(s.cfg.Persona.Banner)
}

func (s *Server) mimeLimits() mime.Limits {
	return mime.Limits{MaxParts: s.cfg.MIME.MaxParts, MaxDepth: s.cfg.MIME.MaxDepth,
		MaxAttachment: int(s.cfg.MIME.MaxAttachment)}
}

// ServeTCP implements service.Handler: commands are read and answered in
// turn until the client quits, a limit ends the session or the
// connection fails.
func (s *Server) ServeTCP(ctx context.Context, sess *service.Session) {
	c := &conn{srv: s, r: s.r, sess: sess, rd: sess.Reader(), ctx: ctx}
	defer func() { c.endTransaction(event.MailNoData) }()
	if !c.write("220 " + s.banner()) {
		return
	}
	for ctx.Err() == nil {
		if c.commands >= s.cfg.MaxCommands || s.cfg.MaxErrors > 0 && c.errors >= s.cfg.MaxErrors {
			c.write(fill(s.r.closing, s.host))
			return
		}
		line, err := c.rd.ReadLine(int(s.cfg.MaxLine))
		if errors.Is(err, service.ErrLineTooLong) {
			c.commands++
			if !c.longLine(line) {
				return
			}
			continue
		}
		if err != nil {
			return
		}
		c.commands++
		if !c.command(string(line)) {
			return
		}
	}
}
