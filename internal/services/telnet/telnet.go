// Package telnet is Smallpot's telnet server: the Microsoft Telnet
// Service of Windows 2000 on the windows2000 profile, a router's BusyBox
// telnetd and login on linux-iot.
//
// The client's bytes go through a pure option parser (options.go) that
// separates data from telnet commands, a negotiator that answers options
// as the persona's server does, and a line editor (line.go) that echoes
// and erases as a terminal does. Every login attempt is an event.Login;
// the login policy (policy.go) lets some in, to a fake shell from package
// shell: Windows 2000's cmd.exe or BusyBox's ash, which never runs
// anything. Each shell line is an event.Command, each fetch it asks for an
// event.Download, and a file built with echo (a Mirai-style dropper's
// binary, a VBScript) is kept as a sample. See README.md.
package telnet

import (
	"context"
	"errors"
	"fmt"
	"github.com/smallpot/smallpot/internal/authpolicy"
	"log/slog"
	"strings"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/shell"
)

func init() {
	service.Register(service.Module{
		Name:    "telnet",
		Summary: "telnet: Microsoft Telnet Service (windows2000) or BusyBox telnetd (linux-iot), with a fake shell",
		Config:  func(profile string) service.Config { return DefaultConfig(profile) },
		New:     service.NewAs("telnet", New),
	})
}

// Persona kinds.
const (
	KindWindows = "windows"
	KindBusyBox = "busybox"
)

// Config is the telnet section of the configuration.
type Config struct {
	service.Base `yaml:",inline"`
	Persona      Persona `yaml:"persona"`
	Login        Login   `yaml:"login"`

	// MaxLine bounds a typed line (login name, password, command line);
	// a longer one is cut there and recorded as truncated.
	MaxLine int `yaml:"max_line"`
	// MaxSubnegotiation bounds the parameters of one option
	// subnegotiation; the rest is dropped.
	MaxSubnegotiation int `yaml:"max_subnegotiation"`
	// NegotiationWait is how long the server waits after its option
	// requests for the client's answers before its banner (windows).
	NegotiationWait time.Duration `yaml:"negotiation_wait"`
	// FailDelay is the pause before a failed login is answered.
	FailDelay time.Duration `yaml:"fail_delay"`
	// MaxTries is how many failed logins end the connection.
	MaxTries int `yaml:"max_tries"`
	// MaxCommands bounds the shell lines of one session; the session ends
	// after the last.
	MaxCommands int `yaml:"max_commands"`
	// MaxHosts bounds the sources whose login attempts and accepted
	// passwords are remembered between connections.
	MaxHosts int `yaml:"max_hosts"`
	// FSEntries and FSBytes bound each session's changes to the fake
	// disk (files written, fetched, removed).
	FSEntries int             `yaml:"fs_entries"`
	FSBytes   config.ByteSize `yaml:"fs_bytes"`
}

// Login is the login policy: which attempts succeed.
type Login struct {
	// Accept lists "user:password" pairs that log in; either side may be
	// "*" and the password may be empty ("root:").
	Accept []string `yaml:"accept"`
	// AcceptAfter, when above 0, lets a source's Nth attempt in whatever
	// it is (counted across its connections); that pair then works again
	// for that source.
	AcceptAfter int `yaml:"accept_after"`
}

// Persona is what the telnet server claims to be. Fields marked windows
// or busybox apply to that kind only.
type Persona struct {
	Kind     string `yaml:"kind"`     // windows or busybox
	Hostname string `yaml:"hostname"` // NetBIOS name (windows) or host name (busybox)
	// Options are the negotiations the server opens with, in order
	// ("DO AUTHENTICATION", "WILL ECHO"): nmap tells telnet servers apart
	// by them.
	Options []string `yaml:"options"`
	// Banner is sent once before the first login prompt.
	Banner         string `yaml:"banner"`
	LoginPrompt    string `yaml:"login_prompt"` // busybox: "" is "HOSTNAME login: "
	PasswordPrompt string `yaml:"password_prompt"`
	LoginFailed    string `yaml:"login_failed"`
	// Welcome is sent after a successful login, before the first prompt
	// (busybox: "" is ash's banner).
	Welcome string `yaml:"welcome"`
	// Prompt is ash's PS1 (busybox): \u user, \h host, \w directory,
	// \W its last part, \$ '#' for root and '$' for others.
	Prompt    string `yaml:"prompt"`
	OSVersion string `yaml:"os_version"` // windows: `ver`
	// BusyBox is the banner of the BusyBox build (busybox):
	// "BusyBox v1.12.1 (2013-06-17 10:45:24 CST)".
	BusyBox     string `yaml:"busybox"`
	Arch        string `yaml:"arch"`         // busybox: mipsel, mips, armv5l, armv7l, aarch64, i686, x86_64
	Kernel      string `yaml:"kernel"`       // busybox: uname -r
	KernelBuild string `yaml:"kernel_build"` // busybox: uname -v
	Address     string `yaml:"address"`      // the address ipconfig/ifconfig show
}

// DefaultConfig returns the defaults of a host profile.
func DefaultConfig(profile string) *Config {
	c := &Config{
		Base:              service.Base{Enabled: true, Ports: []int{23}},
		MaxLine:           4096,
		MaxSubnegotiation: 512,
		MaxTries:          3,
		MaxCommands:       1000,
		MaxHosts:          4096,
		FSEntries:         256,
		FSBytes:           1 << 20,
	}
	if profile == service.ProfileLinuxIoT {
		c.Persona = Persona{
			Kind:     KindBusyBox,
			Hostname: "(none)",
			// BusyBox telnetd's requests, with DO LFLOW as older builds
			// sent it.
			Options:        []string{"DO ECHO", "DO NAWS", "DO LFLOW", "WILL ECHO", "WILL SGA"},
			Banner:         "\r\r\n",
			PasswordPrompt: "Password: ",
			LoginFailed:    "Login incorrect\r\n",
			Prompt:         `\$ `,
			BusyBox:        "BusyBox v1.12.1 (2013-06-17 10:45:24 CST)",
			Arch:           "mipsel",
			Kernel:         "2.6.36",
			KernelBuild:    "#1 Mon Jun 17 10:49:02 CST 2013",
			Address:        "192.168.1.1",
		}
		c.FailDelay = 3 * time.Second
		c.Login = Login{Accept: []string{"root:xc3511", "root:vizxv", "root:admin", "admin:admin", "root:888888",
			"root:xmhdipc", "root:default", "root:juantech", "root:123456", "root:54321", "root:12345",
			"support:support", "admin:password", "root:root"}, AcceptAfter: 4}
		return c
	}
	c.Persona = Persona{
		Kind:     KindWindows,
		Hostname: "WEBSERVER",
		// Windows 2000's telnet server: NTLM authentication offered
		// first, then echo, suppress-go-ahead, window size and binary.
		Options:        []string{"DO AUTHENTICATION", "WILL ECHO", "DO SGA", "DO NAWS", "DO BINARY", "WILL BINARY"},
		Banner:         "Welcome to Microsoft Telnet Service \r\n",
		LoginPrompt:    "\n\rlogin: ",
		PasswordPrompt: "\n\rpassword: ",
		LoginFailed:    "Login Failed\r\n",
		Welcome: "*===============================================================\r\n" +
			"Welcome to Microsoft Telnet Server.\r\n" +
			"*===============================================================\r\n",
		OSVersion: "Microsoft Windows 2000 [Version 5.00.2195]",
		Address:   "192.168.0.10",
	}
	c.NegotiationWait = time.Second
	c.FailDelay = time.Second
	c.Login = Login{Accept: []string{"Administrator:", "Administrator:password", "Administrator:admin",
		"Administrator:administrator", "Administrator:123456", "Guest:"}, AcceptAfter: 4}
	return c
}

// Describe names the persona for the start-up table.
func (c *Config) Describe() string {
	if c.Persona.Kind == KindBusyBox {
		return "BusyBox telnetd"
	}
	return "Microsoft Telnet Service"
}

// Validate implements service.Validator.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	p := c.Persona
	switch p.Kind {
	case KindWindows:
		if p.LoginPrompt == "" {
			bad("persona.login_prompt must not be empty")
		}
	case KindBusyBox:
		if p.Arch != "" && !shell.KnownArch(p.Arch) {
			bad("persona.arch %q: want mipsel, mips, armv5l, armv7l, aarch64, i686 or x86_64", p.Arch)
		}
	default:
		bad("persona.kind %q: want %s or %s", p.Kind, KindWindows, KindBusyBox)
	}
	for _, o := range p.Options {
		if _, _, err := ParseOption(o); err != nil {
			bad("persona.options: %v", err)
		}
	}
	if p.PasswordPrompt == "" {
		bad("persona.password_prompt must not be empty")
	}
	for _, s := range []string{p.Hostname, p.OSVersion, p.BusyBox, p.Arch, p.Kernel, p.KernelBuild, p.Address} {
		if strings.ContainsAny(s, "\r\n\x00") {
			bad("persona fields other than the texts sent as they are may not hold line breaks: %q", s)
		}
	}
	if _, err := parseCreds(c.Login.Accept); err != nil {
		bad("login.accept: %v", err)
	}
	if c.Login.AcceptAfter < 0 {
		bad("login.accept_after must not be negative")
	}
	if c.MaxLine < 64 || c.MaxLine > shell.MaxLine {
		bad("max_line %d: want 64..%d", c.MaxLine, shell.MaxLine)
	}
	if c.MaxSubnegotiation < 16 || c.MaxSubnegotiation > 64<<10 {
		bad("max_subnegotiation %d: want 16..65536", c.MaxSubnegotiation)
	}
	if c.NegotiationWait < 0 || c.NegotiationWait > time.Minute {
		bad("negotiation_wait %s: want 0..1m", c.NegotiationWait)
	}
	if c.FailDelay < 0 || c.FailDelay > time.Minute {
		bad("fail_delay %s: want 0..1m", c.FailDelay)
	}
	if c.MaxTries < 1 || c.MaxTries > 100 {
		bad("max_tries %d: want 1..100", c.MaxTries)
	}
	if c.MaxCommands < 1 || c.MaxCommands > 1<<20 {
		bad("max_commands %d: want 1..1048576", c.MaxCommands)
	}
	if c.MaxHosts < 1 || c.MaxHosts > 1<<20 {
		bad("max_hosts %d: want 1..1048576", c.MaxHosts)
	}
	if c.FSEntries < 16 || c.FSEntries > 1<<16 {
		bad("fs_entries %d: want 16..65536", c.FSEntries)
	}
	if c.FSBytes < 4<<10 || c.FSBytes > 64<<20 {
		bad("fs_bytes %s: want 4KiB..64MiB", c.FSBytes)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("telnet: %w", err)
	}
	return nil
}

// Server is the telnet service.
type Server struct {
	cfg      *Config
	log      *slog.Logger
	now      func() time.Time
	greeting []byte // the option requests sent on connect
	policy   *authpolicy.Policy
	tree     *shell.Tree
	cmd      *shell.Cmd
	bb       *shell.BusyBox
}

var _ service.Handler = (*Server)(nil)

// New builds the service from its configuration. It starts nothing.
func New(cfg *Config, env service.Env) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	creds, _ := parseCreds(cfg.Login.Accept)
	p := cfg.Persona
	s := &Server{cfg: cfg, log: log, now: time.Now,
		policy: newPolicy(creds, cfg.Login.AcceptAfter, p.Kind == KindWindows, cfg.MaxHosts)}
	for _, o := range p.Options {
		verb, opt, _ := ParseOption(o)
		s.greeting = append(s.greeting, cmdIAC, verb, opt)
	}
	if p.Kind == KindBusyBox {
		s.bb = &shell.BusyBox{Hostname: p.Hostname, Version: p.BusyBox, Arch: p.Arch, Kernel: p.Kernel,
			KernelBuild: p.KernelBuild, Address: p.Address}
		s.tree = shell.LinuxTree(shell.LinuxOptions{Arch: p.Arch, Hostname: p.Hostname, Kernel: p.Kernel, KernelBuild: p.KernelBuild})
	} else {
		s.cmd = &shell.Cmd{Version: p.OSVersion, Hostname: p.Hostname, Address: p.Address, Privileged: true}
		s.tree = shell.Win2000Tree(shell.WinOptions{})
	}
	return s, nil
}

// ServeTCP implements service.Handler: option negotiation, login, then
// the fake shell, until the client leaves, logs out or a limit ends the
// session.
func (s *Server) ServeTCP(ctx context.Context, sess *service.Session) {
	c := newConn(ctx, s, sess)
	defer c.finish()
	c.serve()
}
