// Package ftp is Smallpot's FTP server: Microsoft FTP Service (IIS 5.0)
// on the windows2000 profile, BusyBox ftpd on linux-iot.
//
// It speaks the whole RFC 959 dialogue as the imitated server does, with
// a real data channel: passive ports from a bounded range, active
// connections only back to the client's own address (never elsewhere: no
// FTP bounce). Every login attempt is an event.Login, every command line
// an event.Command, and every upload is received through the data channel,
// bounded in size and time, and kept as a sample (event.Upload, source
// "ftp.stor"); the client's file name is recorded as data, never used as
// a path. The file system a client sees is a per-session tree in memory.
// See README.md.
package ftp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/service"
)

func init() {
	service.Register(service.Module{
		Name:    "ftp",
		Summary: "FTP server: Microsoft FTP Service 5.0 (windows2000) or BusyBox ftpd (linux-iot)",
		Config:  func(profile string) service.Config { return DefaultConfig(profile) },
		New:     service.NewAs("ftp", New),
	})
}

// Persona kinds.
const (
	KindIIS     = "iis"
	KindBusyBox = "busybox"
)

// Directory listing styles of IIS (SITE DIRSTYLE switches between them).
const (
	StyleMSDOS = "msdos"
	StyleUnix  = "unix"
)

// Config is the ftp section of the configuration.
type Config struct {
	service.Base `yaml:",inline"`
	Persona      Persona `yaml:"persona"`

	// Anonymous lets "anonymous" (and, on IIS, "ftp") in with any
	// password.
	Anonymous bool `yaml:"anonymous"`
	// Accept lists the accounts that log in; every other attempt fails.
	Accept []Credential `yaml:"accept"`
	// MaxLoginFailures closes the connection after that many failed
	// passwords on it.
	MaxLoginFailures int `yaml:"max_login_failures"`
	// ReadOnly refuses every change to the file system (uploads too).
	ReadOnly bool `yaml:"read_only"`

	// PassiveMin and PassiveMax bound the ports PASV and EPSV listen on.
	PassiveMin int `yaml:"passive_min"`
	PassiveMax int `yaml:"passive_max"`
	// PassiveAddress is the IPv4 address PASV announces, for a sensor
	// behind NAT; "" announces the address the client reached.
	PassiveAddress string `yaml:"passive_address"`
	// ActiveMode lets PORT and EPRT connect back to the client's own
	// address. Off, they are accepted but every connection fails, as
	// behind a firewall.
	ActiveMode bool `yaml:"active_mode"`

	// DataTimeout bounds waiting for a data connection and any stall
	// within a transfer; TransferTimeout bounds a whole transfer.
	DataTimeout     time.Duration `yaml:"data_timeout"`
	TransferTimeout time.Duration `yaml:"transfer_timeout"`
	// MaxUpload bounds one upload; more is cut and the upload marked
	// truncated.
	MaxUpload config.ByteSize `yaml:"max_upload"`
	// DataBudget bounds the data-channel bytes of one session, both
	// ways together.
	DataBudget config.ByteSize `yaml:"data_budget"`
	// UploadMemory bounds the upload bytes held in memory by all
	// sessions together; an upload that finds it spent is cut.
	UploadMemory config.ByteSize `yaml:"upload_memory"`
	// MaxLine bounds a command line; a longer one is cut, and a line
	// that does not end within 16 times the bound ends the session.
	MaxLine config.ByteSize `yaml:"max_line"`
}

// Credential is one account that logs in.
type Credential struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// Persona is what the server claims to be.
type Persona struct {
	Kind string `yaml:"kind"` // iis or busybox
	// Hostname and Version make IIS's greeting ("220 HOSTNAME Microsoft
	// FTP Service (Version 5.0).") and STAT.
	Hostname string `yaml:"hostname"`
	Version  string `yaml:"version"`
	// Banner replaces the greeting's text after "220 " when set.
	Banner string `yaml:"banner"`
	// System is SYST's answer after "215 ".
	System string `yaml:"system"`
	// Welcome lines precede IIS's "230" after a login; Exit is its QUIT
	// reply's text.
	Welcome []string `yaml:"welcome"`
	Exit    string   `yaml:"exit"`
	// DirStyle is IIS's listing format until SITE DIRSTYLE: msdos or
	// unix.
	DirStyle string `yaml:"dir_style"`
	// EPSV, EPRT and FEAT answer those commands (RFC 2428, 2389);
	// without them they are unknown commands, as on IIS 5.0.
	EPSV bool `yaml:"epsv"`
	EPRT bool `yaml:"eprt"`
	FEAT bool `yaml:"feat"`
	// Installed dates the files without a time of their own (RFC 3339).
	Installed string `yaml:"installed"`
	// Files is the fake file system.
	Files []File `yaml:"files"`
	// MaxDownload bounds the size of a fake file.
	MaxDownload config.ByteSize `yaml:"max_download"`
}

// DefaultConfig returns the defaults of a host profile.
func DefaultConfig(profile string) *Config {
	c := &Config{
		Base:             service.Base{Enabled: true, Ports: []int{21}},
		Anonymous:        true,
		MaxLoginFailures: 5,
		ActiveMode:       true,
		DataTimeout:      30 * time.Second,
		TransferTimeout:  5 * time.Minute,
		MaxUpload:        16 << 20,
		DataBudget:       64 << 20,
		UploadMemory:     256 << 20,
		MaxLine:          4 << 10,
	}
	if profile == service.ProfileLinuxIoT {
		// Linux hands out ephemeral ports from 32768 up.
		c.PassiveMin, c.PassiveMax = 40000, 40099
		c.Anonymous = false
		c.Accept = []Credential{{User: "admin", Password: "admin"}}
		c.Persona = Persona{
			Kind:        KindBusyBox,
			System:      "UNIX Type: L8",
			EPSV:        true,
			FEAT:        true,
			Installed:   "2000-01-01T00:00:00Z",
			MaxDownload: 1 << 20,
			Files: []File{
				{Path: "/bin/"}, {Path: "/bin/busybox", Size: 617216},
				{Path: "/dev/"},
				{Path: "/etc/"},
				{Path: "/etc/passwd", Content: "root:x:0:0:root:/root:/bin/sh\nadmin:x:1000:1000:admin:/home:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
				{Path: "/etc/inittab", Content: "::sysinit:/etc/init.d/rcS\n::respawn:/sbin/getty -L ttyS0 115200 vt100\n::ctrlaltdel:/sbin/reboot\n::shutdown:/bin/umount -a -r\n"},
				{Path: "/lib/"}, {Path: "/mnt/"}, {Path: "/proc/"}, {Path: "/sbin/"},
				{Path: "/tmp/"}, {Path: "/usr/"}, {Path: "/var/"},
			},
		}
		return c
	}
	// Windows 2000 hands out ephemeral ports from 1025 to 5000.
	c.PassiveMin, c.PassiveMax = 3000, 3099
	c.Accept = []Credential{{User: "Administrator", Password: ""}}
	c.Persona = Persona{
		Kind:        KindIIS,
		Hostname:    "WEBSERVER",
		Version:     "5.0",
		System:      "Windows_NT version 5.0",
		DirStyle:    StyleMSDOS,
		Installed:   "2001-06-21T09:32:18Z",
		MaxDownload: 1 << 20,
		Files: []File{
			{Path: "/incoming/"},
			{Path: "/pub/"},
			{Path: "/pub/readme.txt", Size: 1543, Time: "2001-07-02T16:05:41Z"},
			{Path: "/pub/update.exe", Size: 94208, Time: "2001-07-02T16:03:12Z"},
		},
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
		if p.DirStyle != StyleMSDOS && p.DirStyle != StyleUnix {
			bad("persona.dir_style %q: want %s or %s", p.DirStyle, StyleMSDOS, StyleUnix)
		}
	case KindBusyBox:
	default:
		bad("persona.kind %q: want %s or %s", p.Kind, KindIIS, KindBusyBox)
	}
	for _, s := range append([]string{p.Hostname, p.Version, p.Banner, p.System, p.Exit}, p.Welcome...) {
		if !oneLine(s) {
			bad("persona texts must be single lines of printable text: %q", s)
		}
	}
	if p.Kind == KindIIS && p.Banner == "" && (p.Hostname == "" || p.Version == "") {
		bad("persona.hostname and persona.version make the IIS greeting: both must be set (or persona.banner)")
	}
	if p.System == "" {
		bad("persona.system must be set")
	}
	if _, err := time.Parse(time.RFC3339, p.Installed); err != nil {
		bad("persona.installed %q: want an RFC 3339 time such as 2001-06-21T09:32:18Z", p.Installed)
	}
	if p.MaxDownload < 1 || p.MaxDownload > 64<<20 {
		bad("persona.max_download %s: want 1 byte..64MiB", p.MaxDownload)
	}
	for _, f := range p.Files {
		if !oneLine(f.Path) || len(f.Path) > 1024 {
			bad("persona.files: path %q: want one printable line", f.Path)
		}
		if f.Size < 0 || f.Size > int64(p.MaxDownload) || int64(len(f.Content)) > int64(p.MaxDownload) {
			bad("persona.files %s: size must be 0..persona.max_download", f.Path)
		}
		if f.Content != "" && f.Size != 0 {
			bad("persona.files %s: give size or content, not both", f.Path)
		}
		if strings.HasSuffix(f.Path, "/") && (f.Content != "" || f.Size != 0) {
			bad("persona.files %s: a directory has no size or content", f.Path)
		}
		if el := strings.Split(f.Path, "/"); containsDots(el) {
			bad("persona.files %s: no . or .. elements", f.Path)
		}
	}
	if len(errs) == 0 {
		if _, err := newFS(p.Files, c.installed(), p.Kind == KindIIS); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range c.Accept {
		if a.User == "" || !oneLine(a.User) || !oneLine(a.Password) {
			bad("accept: every entry needs a user; user and password are single lines")
		}
	}
	if c.MaxLoginFailures < 1 || c.MaxLoginFailures > 1000 {
		bad("max_login_failures %d: want 1..1000", c.MaxLoginFailures)
	}
	if c.PassiveMin < 1024 || c.PassiveMax > 65535 || c.PassiveMin > c.PassiveMax {
		bad("passive_min %d, passive_max %d: want 1024 <= min <= max <= 65535", c.PassiveMin, c.PassiveMax)
	}
	if c.PassiveAddress != "" {
		if a, err := netip.ParseAddr(c.PassiveAddress); err != nil || !a.Is4() {
			bad("passive_address %q: want an IPv4 address", c.PassiveAddress)
		}
	}
	if c.DataTimeout <= 0 || c.DataTimeout > 10*time.Minute {
		bad("data_timeout %s: want 0..10m", c.DataTimeout)
	}
	if c.TransferTimeout < c.DataTimeout || c.TransferTimeout > time.Hour {
		bad("transfer_timeout %s: want data_timeout..1h", c.TransferTimeout)
	}
	if c.MaxUpload < 1 || c.MaxUpload > 1<<30 {
		bad("max_upload %s: want 1 byte..1GiB", c.MaxUpload)
	}
	if c.DataBudget < c.MaxUpload {
		bad("data_budget %s: want at least max_upload", c.DataBudget)
	}
	if c.UploadMemory < c.MaxUpload {
		bad("upload_memory %s: want at least max_upload", c.UploadMemory)
	}
	if c.MaxLine < 256 || c.MaxLine > 64<<10 {
		bad("max_line %s: want 256 bytes..64KiB", c.MaxLine)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ftp: %w", err)
	}
	return nil
}

func (c *Config) installed() time.Time {
	t, _ := time.Parse(time.RFC3339, c.Persona.Installed)
	return t.UTC()
}

func oneLine(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func containsDots(els []string) bool {
	for _, e := range els {
		if e == "." || e == ".." {
			return true
		}
	}
	return false
}

// Describe implements service.Describer.
func (c *Config) Describe() string {
	if c.Persona.Kind == KindBusyBox {
		return "BusyBox ftpd"
	}
	return "Microsoft FTP Service " + c.Persona.Version
}

// Server is the ftp service.
type Server struct {
	cfg *Config
	log *slog.Logger
	now func() time.Time
	// tree is the persona's file system; each session gets a copy.
	tree *fakeFS
	// memory counts the upload bytes all sessions hold; it never
	// exceeds cfg.UploadMemory.
	memory atomic.Int64
	// passiveIP overrides the address PASV announces.
	passiveIP netip.Addr
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
	tree, err := newFS(cfg.Persona.Files, cfg.installed(), cfg.fold())
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, now: time.Now, tree: tree}
	if cfg.PassiveAddress != "" {
		s.passiveIP = netip.MustParseAddr(cfg.PassiveAddress)
	}
	return s, nil
}

// reserve takes n bytes of the shared upload memory; false when that
// would pass the bound.
func (s *Server) reserve(n int64) bool {
	for {
		cur := s.memory.Load()
		if cur+n > int64(s.cfg.UploadMemory) {
			return false
		}
		if s.memory.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

func (s *Server) release(n int64) { s.memory.Add(-n) }

// fold reports whether names are case-insensitive (Windows).
func (c *Config) fold() bool { return c.Persona.Kind == KindIIS }

// cleanName is a file name as a reply may show it: the base of a path.
func cleanName(p string) string { return path.Base(p) }
