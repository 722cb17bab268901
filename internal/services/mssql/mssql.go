// Package mssql is Smallpot's Microsoft SQL Server 2000: TDS on tcp 1433
// and the SQL Server Resolution Protocol on udp 1434.
//
// On TCP it answers PRELOGIN as SQL Server 2000 SP3 does (no encryption:
// a stock install has no certificate), reads LOGIN7 and the older TDS 4.2
// login record (decoding LOGIN7's obfuscated password), and then refuses
// the login or opens a session according to its accept list. In a session
// every SQL batch is recorded as a command and answered plausibly: the
// version for select @@version, the fake cmd.exe's output for
// xp_cmdshell, an empty completion for the rest. Nothing is executed.
//
// On UDP it answers the resolution requests SQL Server 2000 answered, no
// larger than the engine's reply factor allows, and keeps every other
// datagram — SQL Slammer is one — whole as a sample. See README.md.
package mssql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/shell"
)

func init() {
	service.Register(service.Module{
		Name:    "mssql",
		Summary: "Microsoft SQL Server 2000: TDS logins and batches, resolution service, Slammer datagrams",
		Config:  func(profile string) service.Config { return DefaultConfig(profile) },
		New:     service.NewAs("mssql", New),
	})
}

// Config is the mssql section of the configuration.
type Config struct {
	service.Base `yaml:",inline"`
	Persona      Persona `yaml:"persona"`
	// Accept lists the logins that succeed; every other login fails as
	// SQL Server's does (error 18456).
	Accept []Credential `yaml:"accept"`
	// MaxMessage bounds one client message (a login, a batch), headers
	// included; a larger one is kept up to the cap and ends the session.
	MaxMessage config.ByteSize `yaml:"max_message"`
	// MaxBatches bounds the batches served on one connection.
	MaxBatches int `yaml:"max_batches"`
	// CommandCap bounds the SQL text carried in a command event; a longer
	// batch is kept whole as a sample.
	CommandCap config.ByteSize `yaml:"command_cap"`
}

// Credential is one login the fake accepts. Password "*" accepts any
// password for that user. User names compare without regard to case, as
// SQL Server 2000's default collation does; passwords exactly.
type Credential struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// Persona is what the server claims to be.
type Persona struct {
	// ServerName is the host's NetBIOS name: SSRP's ServerName,
	// @@servername, the server in error messages, cmd.exe's COMPUTERNAME.
	ServerName string `yaml:"server_name"`
	// Instance is the instance name; MSSQLSERVER is the default instance.
	Instance string `yaml:"instance"`
	// Version is the product version PRELOGIN and LOGINACK carry,
	// major.minor.build ("8.00.760" is SQL Server 2000 SP3).
	Version string `yaml:"version"`
	// BrowserVersion is the version the resolution service announces:
	// SQL Server 2000's always said its RTM version, 8.00.194, whatever
	// the service pack.
	BrowserVersion string `yaml:"browser_version"`
	// VersionString is the value of select @@version.
	VersionString string `yaml:"version_string"`
	// TCPPort is the port the resolution service announces.
	TCPPort int `yaml:"tcp_port"`
	// NamedPipes adds the instance's named pipe to the resolution
	// service's answer (a larger answer: see reply_factor in README.md).
	NamedPipes bool `yaml:"named_pipes"`
	Clustered  bool `yaml:"clustered"`
	// Database and Language are a session's defaults.
	Database string `yaml:"database"`
	Language string `yaml:"language"`
	// OSVersion is what xp_cmdshell 'ver' prints.
	OSVersion string `yaml:"os_version"`
}

// DefaultConfig returns the defaults of a host profile. SQL Server runs on
// Windows: on the linux-iot profile the service is off, since a BusyBox
// box answering TDS would be a tell; the persona stays for those who turn
// it on.
func DefaultConfig(profile string) *Config {
	c := &Config{
		Base: service.Base{Enabled: true, Ports: []int{1433}, UDPPorts: []int{1434}},
		Persona: Persona{
			ServerName:     "WEBSERVER",
			Instance:       defaultInstance,
			Version:        "8.00.760",
			BrowserVersion: "8.00.194",
			VersionString: "Microsoft SQL Server  2000 - 8.00.760 (Intel X86) \n\tDec 17 2002 14:22:05 \n\t" +
				"Copyright (c) 1988-2003 Microsoft Corporation\n\tStandard Edition on Windows NT 5.0 (Build 2195: Service Pack 4)\n",
			TCPPort:   1433,
			Database:  "master",
			Language:  "us_english",
			OSVersion: "Microsoft Windows 2000 [Version 5.00.2195]",
		},
		Accept:     []Credential{{User: "sa", Password: ""}},
		MaxMessage: 1 << 20,
		MaxBatches: 1000,
		CommandCap: 8 << 10,
	}
	c.ReplyFactor = float64(c.Persona.browser().answerSize())
	if profile == service.ProfileLinuxIoT {
		c.Enabled = false
	}
	return c
}

func (p Persona) browser() browserInfo {
	return browserInfo{ServerName: p.ServerName, Instance: p.Instance, Clustered: p.Clustered,
		Version: p.BrowserVersion, TCPPort: p.TCPPort, NamedPipe: p.NamedPipes}
}

// answerSize is the length of the SVR_RESP datagram.
func (bi browserInfo) answerSize() int { return len(bi.answer()) }

var (
	serverNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,15}$`)
	instanceRE   = regexp.MustCompile(`^[A-Za-z0-9_]{1,16}$`)
	versionRE    = regexp.MustCompile(`^(\d{1,3})\.(\d{1,3})\.(\d{1,5})$`)
	browserVerRE = regexp.MustCompile(`^[0-9.]{1,16}$`)
)

// parseVersion reads "8.00.760" as PRELOGIN's and LOGINACK's four bytes:
// major, minor, build (big-endian).
func parseVersion(s string) ([4]byte, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return [4]byte{}, fmt.Errorf("persona.version %q: want major.minor.build such as 8.00.760", s)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	build, _ := strconv.Atoi(m[3])
	if major > 255 || minor > 255 || build > 65535 {
		return [4]byte{}, fmt.Errorf("persona.version %q: out of range", s)
	}
	return [4]byte{byte(major), byte(minor), byte(build >> 8), byte(build)}, nil
}

// Validate implements service.Validator.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	p := c.Persona
	if !serverNameRE.MatchString(p.ServerName) {
		bad("persona.server_name %q: want a NetBIOS name of 1 to 15 letters, digits, '-' or '_'", p.ServerName)
	}
	if !instanceRE.MatchString(p.Instance) {
		bad("persona.instance %q: want 1 to 16 letters, digits or '_'", p.Instance)
	}
	if _, err := parseVersion(p.Version); err != nil {
		bad("%v", err)
	}
	if !browserVerRE.MatchString(p.BrowserVersion) {
		bad("persona.browser_version %q: want digits and dots, at most 16", p.BrowserVersion)
	}
	if p.VersionString == "" || len(p.VersionString) > 1024 {
		bad("persona.version_string: want 1 to 1024 bytes")
	}
	if p.TCPPort < 1 || p.TCPPort > 65535 {
		bad("persona.tcp_port %d out of range", p.TCPPort)
	}
	if _, ok := knownDatabase(p.Database); !ok {
		bad("persona.database %q: want one of %s", p.Database, strings.Join(systemDatabases, ", "))
	}
	if p.Language == "" || len(p.Language) > 128 || strings.ContainsAny(p.Language, "\r\n") {
		bad("persona.language %q: want one line of 1 to 128 bytes", p.Language)
	}
	if p.OSVersion == "" || strings.ContainsAny(p.OSVersion, "\r\n") {
		bad("persona.os_version must be one non-empty line")
	}
	for i, a := range c.Accept {
		if a.User == "" || len(a.User) > 128 || len(a.Password) > 128 {
			bad("accept[%d]: want a user of 1 to 128 bytes and a password of at most 128", i)
		}
	}
	if c.MaxMessage < 4<<10 || c.MaxMessage > 64<<20 {
		bad("max_message %s: want 4KiB..64MiB", c.MaxMessage)
	}
	if c.MaxBatches < 1 || c.MaxBatches > 100000 {
		bad("max_batches %d: want 1..100000", c.MaxBatches)
	}
	if c.CommandCap < 256 || c.CommandCap > 1<<20 {
		bad("command_cap %s: want 256 bytes..1MiB", c.CommandCap)
	}
	if len(errs) == 0 {
		// The answer to a one-byte request is the largest reply ratio the
		// service ever needs; allow exactly it, or 1 (0) for a browser
		// that never answers.
		need := float64(p.browser().answerSize())
		if f := c.ReplyFactor; f != 0 && f != 1 && f != need {
			bad("reply_factor %g: this persona's resolution answer is %g bytes for a 1-byte request, "+
				"so set reply_factor: %g (or 1 to never answer on udp)", f, need, need)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("mssql: %w", err)
	}
	return nil
}

// Describe implements service.Describer.
func (c *Config) Describe() string {
	return "Microsoft SQL Server 2000 " + c.Persona.Version
}

// Server is the mssql service.
type Server struct {
	cfg      *Config
	log      *slog.Logger
	version  [4]byte
	browser  browserInfo
	ssrp     []byte // the SVR_RESP datagram
	cmd      *shell.Cmd
	tree     *shell.Tree
	spids    atomic.Uint32
	database string
}

var (
	_ service.Handler       = (*Server)(nil)
	_ service.PacketHandler = (*Server)(nil)
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
	v, _ := parseVersion(cfg.Persona.Version)
	db, _ := knownDatabase(cfg.Persona.Database)
	s := &Server{cfg: cfg, log: log, version: v, browser: cfg.Persona.browser(), database: db,
		cmd:  &shell.Cmd{Version: cfg.Persona.OSVersion, Hostname: cfg.Persona.ServerName, Privileged: true},
		tree: sqlTree()}
	s.ssrp = s.browser.answer()
	return s, nil
}

// sqlTree is the fake disk xp_cmdshell sees: Windows 2000 with SQL
// Server 2000 installed in its default directory.
func sqlTree() *shell.Tree {
	t := shell.Win2000Tree(shell.WinOptions{})
	installed := time.Date(2002, 11, 14, 10, 12, 40, 0, time.UTC)
	built := time.Date(2002, 12, 17, 14, 22, 5, 0, time.UTC)
	base := `C:\Program Files\Microsoft SQL Server\MSSQL`
	for _, f := range []struct {
		dir, name string
		size      int64
		dated     time.Time
	}{
		{base + `\Binn`, "sqlservr.exe", 7520337, built},
		{base + `\Binn`, "xplog70.dll", 78416, built},
		{base + `\Binn`, "sqlmangr.exe", 102400, built},
		{base + `\Data`, "master.mdf", 12582912, installed},
		{base + `\Data`, "mastlog.ldf", 1048576, installed},
		{base + `\Data`, "msdbdata.mdf", 12845056, installed},
		{base + `\Data`, "tempdb.mdf", 8388608, installed},
		{base + `\LOG`, "ERRORLOG", 9216, installed},
	} {
		t.Add(append(shell.WinSplit(f.dir), f.name), shell.Node{Size: f.size, Mod: f.dated})
	}
	return t
}

// accepts reports whether the accept list lets user in with password.
func (s *Server) accepts(user, password string) bool {
	for _, a := range s.cfg.Accept {
		if strings.EqualFold(a.User, user) && (a.Password == "*" || a.Password == password) {
			return true
		}
	}
	return false
}

// ServePacket implements service.PacketHandler: the resolution service.
func (s *Server) ServePacket(ctx context.Context, p *service.Packet) {
	r := ParseSSRP(p.Data)
	ev := &event.Request{Method: "SSRP", Query: r.Name, BodyLen: int64(len(p.Data)), Malformed: r.Malformed}
	if r.Instance != "" {
		ev.Headers = []event.Header{{Name: "instance", Value: r.Instance}}
	}
	switch {
	case r.Malformed != "":
		sha, err := p.SaveSample(p.Data, "mssql.ssrp", "")
		if err != nil {
			s.log.Warn("sample not stored", "service", p.Service, "session", p.SessionID, "src", p.Remote.String(), "err", err)
		}
		ev.Sample, ev.Action = sha, "ignored"
	case r.Type == ssrpInstance && !s.browser.serves(r.Instance):
		ev.Action = "unknown instance"
	default:
		switch err := p.Reply(s.ssrp); {
		case err == nil:
			ev.Action = "answered"
		case errors.Is(err, service.ErrReplyTooLarge):
			ev.Action = "not answered: reply larger than reply_factor allows"
		case errors.Is(err, service.ErrRateLimited):
			ev.Action = "not answered: rate limited"
		default:
			ev.Action = "not answered: " + err.Error()
		}
	}
	p.Emit(ev)
}
