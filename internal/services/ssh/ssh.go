// Package ssh is Smallpot's SSH server: OpenSSH for Windows on the
// windows2000 profile, Dropbear (or Debian's OpenSSH) on linux-iot.
//
// It is a real SSH server (golang.org/x/crypto/ssh) that announces the
// persona's release: its identification string and, in its order, the
// algorithms of that release the library implements, with host keys
// generated on first start and kept in the data directory. The client's
// clear-text start — its identification string and its key exchange offer
// (SSH_MSG_KEXINIT) — is read as it passes (kexinit.go) and recorded with
// its HASSH fingerprint. Every password, keyboard-interactive and public
// key attempt is an event.Login; the login policy (policy.go) lets some
// in, with the pause of the real server before a refusal.
//
// After login a session gets the fake shell of package shell (Windows
// 2000's cmd.exe or BusyBox's ash, which never run anything): an
// interactive shell recorded as an asciicast file, exec requests, scp
// uploads ("scp -t") and an SFTP subsystem that keeps what is written.
// Port forwarding is recorded and refused: nothing ever connects out. See
// README.md.
package ssh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/shell"
)

func init() {
	service.Register(service.Module{
		Name:    "ssh",
		Summary: "SSH: OpenSSH for Windows (windows2000) or Dropbear (linux-iot), with a fake shell, scp and sftp",
		Config:  func(profile string) service.Config { return DefaultConfig(profile) },
		New:     service.NewAs("ssh", New),
	})
}

// Shells.
const (
	ShellCmd     = "cmd"
	ShellBusyBox = "busybox"
)

// Config is the ssh section of the configuration.
type Config struct {
	service.Base `yaml:",inline"`
	Persona      Persona `yaml:"persona"`
	Login        Login   `yaml:"login"`

	// MaxLine bounds a command line (typed, or an exec request); a
	// longer one is cut there and recorded as truncated.
	MaxLine int `yaml:"max_line"`
	// MaxChannels bounds the channels one connection may have open.
	MaxChannels int `yaml:"max_channels"`
	// MaxUpload bounds the bytes kept of one file sent with scp or sftp,
	// or piped to a command.
	MaxUpload config.ByteSize `yaml:"max_upload"`
	// MaxCast bounds the asciicast recording of one shell session.
	MaxCast config.ByteSize `yaml:"max_cast"`
	// StdinWait is how long an exec request waits for input before its
	// command runs, when the client neither sends any nor closes it.
	StdinWait time.Duration `yaml:"stdin_wait"`
	// SFTP offers the sftp subsystem (OpenSSH's scp uses it too).
	SFTP bool `yaml:"sftp"`
	// SCP answers "scp -t" (uploads with scp's older protocol).
	SCP bool `yaml:"scp"`
	// FSEntries and FSBytes bound each connection's changes to the fake
	// disk.
	FSEntries int             `yaml:"fs_entries"`
	FSBytes   config.ByteSize `yaml:"fs_bytes"`
}

// Persona is what the SSH server claims to be. Empty fields take the
// release's values.
type Persona struct {
	// Release is a built-in release: openssh-for-windows-8.1,
	// openssh-7.9p1-debian10 or dropbear-2019.78.
	Release string `yaml:"release"`
	// Version is the identification string ("SSH-2.0-...").
	Version  string   `yaml:"version"`
	Kex      []string `yaml:"kex"`
	HostKeys []string `yaml:"host_keys"`
	Ciphers  []string `yaml:"ciphers"`
	MACs     []string `yaml:"macs"`
	RSABits  int      `yaml:"rsa_bits"`
	// Methods are the authentication methods offered: publickey,
	// password, keyboard-interactive.
	Methods []string `yaml:"methods"`
	// Banner is sent before authentication (SSH_MSG_USERAUTH_BANNER).
	Banner string `yaml:"banner"`

	// The fake host behind the shell: cmd (Windows 2000) or busybox.
	Shell       string `yaml:"shell"`
	Hostname    string `yaml:"hostname"`
	OSVersion   string `yaml:"os_version"`   // cmd: `ver`
	BusyBox     string `yaml:"busybox"`      // busybox: its banner
	Arch        string `yaml:"arch"`         // busybox: mipsel, mips, armv5l, armv7l, aarch64, i686, x86_64
	Kernel      string `yaml:"kernel"`       // busybox: uname -r
	KernelBuild string `yaml:"kernel_build"` // busybox: uname -v
	Address     string `yaml:"address"`      // the address ipconfig/ifconfig show
	// Prompt is ash's PS1 (busybox): \u user, \h host, \w directory, \W
	// its last part, \$ '#' for root and '$' for others.
	Prompt string `yaml:"prompt"`
}

// Login is the login policy.
type Login struct {
	// Accept lists "user:password" pairs that log in; either side may be
	// "*" and the password may be empty ("root:").
	Accept []string `yaml:"accept"`
	// AcceptAfter, when above 0, lets a source's Nth password attempt in
	// whatever it is (counted across its connections).
	AcceptAfter int `yaml:"accept_after"`
	// AcceptKeys lists public keys that log in: "SHA256:..." for any
	// user, "user:SHA256:...", or "*" for any key.
	AcceptKeys []string `yaml:"accept_keys"`
	// MaxTries is how many failed attempts end a connection (0: the
	// release's).
	MaxTries int `yaml:"max_tries"`
	// FailDelay and FailJitter shape the pause before a failed password
	// is answered (negative: the release's).
	FailDelay  time.Duration `yaml:"fail_delay"`
	FailJitter time.Duration `yaml:"fail_jitter"`
	// MaxHosts bounds the sources whose attempts are remembered.
	MaxHosts int `yaml:"max_hosts"`
}

// DefaultConfig returns the defaults of a host profile. The persona's
// algorithm lists are left empty: they are the release's.
func DefaultConfig(profile string) *Config {
	c := &Config{
		Base:        service.Base{Enabled: true, Ports: []int{22}},
		MaxLine:     4096,
		MaxChannels: 10,
		MaxUpload:   8 << 20,
		MaxCast:     1 << 20,
		StdinWait:   500 * time.Millisecond,
		SFTP:        true,
		SCP:         true,
		FSEntries:   256,
		FSBytes:     16 << 20,
		Login:       Login{FailDelay: -1, FailJitter: -1, MaxHosts: 4096},
	}
	if profile == service.ProfileLinuxIoT {
		// The same router as the telnet service's persona.
		c.Persona = Persona{
			Release:     ReleaseDropbear,
			Shell:       ShellBusyBox,
			Hostname:    "(none)",
			BusyBox:     "BusyBox v1.12.1 (2013-06-17 10:45:24 CST)",
			Arch:        "mipsel",
			Kernel:      "2.6.36",
			KernelBuild: "#1 Mon Jun 17 10:49:02 CST 2013",
			Address:     "192.168.1.1",
			Prompt:      `\$ `,
		}
		c.Login.Accept = []string{"root:xc3511", "root:vizxv", "root:admin", "admin:admin", "root:888888",
			"root:xmhdipc", "root:default", "root:juantech", "root:123456", "root:54321", "root:12345",
			"support:support", "admin:password", "root:root"}
		c.Login.AcceptAfter = 4
		return c
	}
	c.Persona = Persona{
		Release:   ReleaseWindows,
		Shell:     ShellCmd,
		Hostname:  "WEBSERVER",
		OSVersion: "Microsoft Windows 2000 [Version 5.00.2195]",
		Address:   "192.168.0.10",
	}
	c.Login.Accept = []string{"Administrator:", "Administrator:password", "Administrator:admin",
		"Administrator:administrator", "Administrator:123456", "Guest:"}
	c.Login.AcceptAfter = 4
	return c
}

// resolved is the persona with the release's values filled in.
func (c *Config) resolved() (Persona, Release, error) {
	r, ok := LookupRelease(c.Persona.Release)
	if !ok {
		return Persona{}, Release{}, fmt.Errorf("persona.release %q: want one of %s", c.Persona.Release,
			strings.Join(ReleaseNames(), ", "))
	}
	p := c.Persona
	if p.Version == "" {
		p.Version = r.Version
	}
	if len(p.Kex) == 0 {
		p.Kex = r.Kex
	}
	if len(p.HostKeys) == 0 {
		p.HostKeys = r.HostKeys
	}
	if len(p.Ciphers) == 0 {
		p.Ciphers = r.Ciphers
	}
	if len(p.MACs) == 0 {
		p.MACs = r.MACs
	}
	if p.RSABits == 0 {
		p.RSABits = r.RSABits
	}
	if len(p.Methods) == 0 {
		p.Methods = r.Methods
	}
	return p, r, nil
}

// Describe names the persona for the start-up table.
func (c *Config) Describe() string {
	_, r, err := c.resolved()
	if err != nil {
		return "SSH server"
	}
	if c.Persona.Version != "" && c.Persona.Version != r.Version {
		return strings.TrimPrefix(strings.TrimPrefix(c.Persona.Version, "SSH-2.0-"), "SSH-1.99-")
	}
	return r.Product
}

// Validate implements service.Validator.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	p, _, err := c.resolved()
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	if !strings.HasPrefix(p.Version, "SSH-2.0-") && !strings.HasPrefix(p.Version, "SSH-1.99-") {
		bad("persona.version %q: want SSH-2.0-SOFTWARE", p.Version)
	}
	if len(p.Version) > 253 || strings.IndexFunc(p.Version, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
		bad("persona.version: at most 253 printable ASCII characters")
	}
	for _, l := range []struct {
		what         string
		names, known []string
	}{
		{"persona.kex", p.Kex, knownKex}, {"persona.host_keys", p.HostKeys, knownHostKeys},
		{"persona.ciphers", p.Ciphers, knownCiphers}, {"persona.macs", p.MACs, knownMACs},
		{"persona.methods", p.Methods, knownMethods},
	} {
		if err := checkList(l.what, l.names, l.known); err != nil {
			errs = append(errs, err)
		}
	}
	if slices.ContainsFunc(p.HostKeys, func(a string) bool { return strings.HasPrefix(a, "rsa") || a == "ssh-rsa" }) &&
		(p.RSABits < 1024 || p.RSABits > 8192) {
		bad("persona.rsa_bits %d: want 1024..8192", p.RSABits)
	}
	switch p.Shell {
	case ShellCmd:
	case ShellBusyBox:
		if p.Arch != "" && !shell.KnownArch(p.Arch) {
			bad("persona.arch %q: want mipsel, mips, armv5l, armv7l, aarch64, i686 or x86_64", p.Arch)
		}
	default:
		bad("persona.shell %q: want %s or %s", p.Shell, ShellCmd, ShellBusyBox)
	}
	for _, s := range []string{p.Hostname, p.OSVersion, p.BusyBox, p.Arch, p.Kernel, p.KernelBuild, p.Address} {
		if strings.ContainsAny(s, "\r\n\x00") {
			bad("persona fields may not hold line breaks: %q", s)
		}
	}
	if _, err := parseCreds(c.Login.Accept); err != nil {
		bad("login.accept: %v", err)
	}
	if _, err := parseKeys(c.Login.AcceptKeys); err != nil {
		bad("login.accept_keys: %v", err)
	}
	if c.Login.AcceptAfter < 0 {
		bad("login.accept_after must not be negative")
	}
	if c.Login.MaxTries < 0 || c.Login.MaxTries > 100 {
		bad("login.max_tries %d: want 1..100 (0: the release's)", c.Login.MaxTries)
	}
	if c.Login.FailDelay > time.Minute || c.Login.FailJitter > time.Minute {
		bad("login.fail_delay and fail_jitter: at most 1m")
	}
	if c.Login.MaxHosts < 1 || c.Login.MaxHosts > 1<<20 {
		bad("login.max_hosts %d: want 1..1048576", c.Login.MaxHosts)
	}
	if c.MaxLine < 64 || c.MaxLine > shell.MaxLine {
		bad("max_line %d: want 64..%d", c.MaxLine, shell.MaxLine)
	}
	if c.MaxChannels < 1 || c.MaxChannels > 64 {
		bad("max_channels %d: want 1..64", c.MaxChannels)
	}
	if c.MaxUpload < 1<<10 || c.MaxUpload > 256<<20 {
		bad("max_upload %s: want 1KiB..256MiB", c.MaxUpload)
	}
	if c.MaxCast < 4<<10 || c.MaxCast > 64<<20 {
		bad("max_cast %s: want 4KiB..64MiB", c.MaxCast)
	}
	if c.StdinWait < 0 || c.StdinWait > 30*time.Second {
		bad("stdin_wait %s: want 0..30s", c.StdinWait)
	}
	if c.FSEntries < 16 || c.FSEntries > 1<<16 {
		bad("fs_entries %d: want 16..65536", c.FSEntries)
	}
	if c.FSBytes < 4<<10 || c.FSBytes > 256<<20 {
		bad("fs_bytes %s: want 4KiB..256MiB", c.FSBytes)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	return nil
}

// Server is the SSH service.
type Server struct {
	cfg      *Config
	persona  Persona
	release  Release
	log      *slog.Logger
	now      func() time.Time
	keys     []xssh.Signer
	policy   *policy
	tree     *shell.Tree
	cmd      *shell.Cmd
	bb       *shell.BusyBox
	maxTries int
	delay    time.Duration
	jitter   time.Duration
}

var _ service.Handler = (*Server)(nil)

// New builds the service from its configuration. It loads the host keys
// from DATADIR/ssh, generating (and writing) those missing; it starts
// nothing.
func New(cfg *Config, env service.Env) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, r, _ := cfg.resolved()
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	dir := ""
	if env.DataDir != "" {
		dir = filepath.Join(env.DataDir, "ssh")
	}
	keys, err := hostKeys(dir, p.HostKeys, p.RSABits)
	if err != nil {
		return nil, fmt.Errorf("ssh: %w", err)
	}
	creds, _ := parseCreds(cfg.Login.Accept)
	keyList, _ := parseKeys(cfg.Login.AcceptKeys)
	s := &Server{cfg: cfg, persona: p, release: r, log: log, now: time.Now, keys: keys,
		policy:   newPolicy(creds, keyList, cfg.Login.AcceptAfter, p.Shell == ShellCmd, cfg.Login.MaxHosts),
		maxTries: orInt(cfg.Login.MaxTries, r.MaxTries),
		delay:    r.FailDelay, jitter: r.FailJitter}
	if cfg.Login.FailDelay >= 0 {
		s.delay = cfg.Login.FailDelay
	}
	if cfg.Login.FailJitter >= 0 {
		s.jitter = cfg.Login.FailJitter
	}
	if p.Shell == ShellBusyBox {
		s.bb = &shell.BusyBox{Hostname: p.Hostname, Version: p.BusyBox, Arch: p.Arch, Kernel: p.Kernel,
			KernelBuild: p.KernelBuild, Address: p.Address}
		s.tree = shell.LinuxTree(shell.LinuxOptions{Arch: p.Arch, Hostname: p.Hostname, Kernel: p.Kernel,
			KernelBuild: p.KernelBuild})
	} else {
		s.cmd = &shell.Cmd{Version: p.OSVersion, Hostname: p.Hostname, Address: p.Address}
		s.tree = shell.Win2000Tree(shell.WinOptions{})
	}
	return s, nil
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// ServeTCP implements service.Handler: the SSH handshake, authentication,
// then the connection's channels until the client leaves or a limit ends
// the session.
func (s *Server) ServeTCP(ctx context.Context, sess *service.Session) {
	c := newConn(ctx, s, sess)
	c.serve()
}
