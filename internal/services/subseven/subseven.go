// Package subseven fakes the server of SubSeven 2.1 (1999-2001), the most
// widespread Windows backdoor of its day, on tcp 27374: its greeting (or
// its "PWD" password prompt), the three-letter command set its client
// drives, and the RTF/SFT file upload that worms such as Chainsaw used to
// spread through infected hosts.
//
// Every command becomes an event.Command, every password an event.Login;
// an uploaded file is kept as a sample with an event.Upload. Nothing the
// client asks for is ever done: the answers are the texts the real server
// sends after doing it. See README.md for what is and is not faithful.
package subseven

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
)

func init() {
	service.Register(service.Module{
		Name:    "subseven",
		Summary: "SubSeven 2.1 backdoor server: password, commands, uploads",
		Config:  func(profile string) service.Config { return DefaultConfig(profile) },
		New:     service.NewAs("subseven", New),
	})
}

// Config is the subseven section of the configuration.
type Config struct {
	service.Base `yaml:",inline"`
	Persona      Persona `yaml:"persona"`

	// AcceptAnyPassword lets every PWD in, whatever the persona's
	// password.
	AcceptAnyPassword bool `yaml:"accept_any_password"`
	// MaxUpload bounds the bytes kept of one uploaded file; the rest of
	// it is read, acknowledged and dropped.
	MaxUpload config.ByteSize `yaml:"max_upload"`
	// UploadWait bounds the time one upload may take.
	UploadWait time.Duration `yaml:"upload_wait"`
	// MaxCommand bounds one read taken as a command; MaxCommands the
	// commands of one connection.
	MaxCommand  int `yaml:"max_command"`
	MaxCommands int `yaml:"max_commands"`
}

// Persona is what the SubSeven server and its host report.
type Persona struct {
	// Version ends the greeting: "..., version: M.U.I.E. 2.1".
	Version string `yaml:"version"`
	// Password is the server's password: "" (most infected hosts) greets
	// every client with "connected."; a password makes it ask "PWD".
	Password     string   `yaml:"password"`
	ComputerName string   `yaml:"computer_name"`
	UserName     string   `yaml:"user_name"`
	Owner        string   `yaml:"registered_owner"`
	Company      string   `yaml:"registered_company"`
	OSVersion    string   `yaml:"os_version"`
	WindowsDir   string   `yaml:"windows_dir"`
	SystemDir    string   `yaml:"system_dir"`
	Resolution   string   `yaml:"resolution"`
	BitsPerPixel int      `yaml:"bits_per_pixel"`
	DirectX      string   `yaml:"directx"`
	CPU          string   `yaml:"cpu"`
	CPUMHz       float64  `yaml:"cpu_mhz"`
	DiskSize     int64    `yaml:"disk_size"`
	DiskFree     int64    `yaml:"disk_free"`
	Drives       []string `yaml:"drives"`  // GDR
	Windows      []string `yaml:"windows"` // RAW: the titles of open windows
	// Processes are the paths of running programs (RPL), all at Normal
	// priority.
	Processes []string `yaml:"processes"`
	// Directories maps a directory to its entries (RSH); sub-directories
	// are written "<name>".
	Directories map[string][]string `yaml:"directories"`
}

// Port is SubSeven 2.1's default port.
const Port = 27374

// DefaultConfig returns the defaults of a host profile. SubSeven was a
// Windows program: on the linux-iot profile it is off, as a BusyBox box
// answering SubSeven would give the sensor away.
func DefaultConfig(profile string) *Config {
	c := &Config{
		Base:        service.Base{Enabled: profile != service.ProfileLinuxIoT, Ports: []int{Port}},
		MaxUpload:   8 << 20,
		UploadWait:  2 * time.Minute,
		MaxCommand:  8192,
		MaxCommands: 1000,
	}
	c.Persona = Persona{
		Version:      "M.U.I.E. 2.1",
		ComputerName: "WEBSERVER",
		UserName:     "Administrator",
		Owner:        "Administrator",
		OSVersion:    "Windows 2000 5.0 (Build 2195: Service Pack 2)",
		WindowsDir:   `C:\WINNT`,
		SystemDir:    `C:\WINNT\System32`,
		Resolution:   "1024x768",
		BitsPerPixel: 16,
		DirectX:      "8.1",
		CPU:          "GenuineIntel",
		CPUMHz:       866.4,
		DiskSize:     8587160064,
		DiskFree:     3215106048,
		Drives:       []string{`A:\ (removable)`, `C:\ (non-removable)`, `D:\ (CD-ROM)`},
		Windows:      []string{"Internet Information Services", "Untitled - Notepad"},
		// As Windows 2000 names them: the first few by their NT paths.
		Processes: []string{"[System Process]", "System", `\SystemRoot\System32\smss.exe`,
			`\??\C:\WINNT\system32\csrss.exe`, `\??\C:\WINNT\system32\winlogon.exe`,
			`C:\WINNT\system32\services.exe`,
			`C:\WINNT\system32\lsass.exe`, `C:\WINNT\system32\svchost.exe`,
			`C:\WINNT\system32\spoolsv.exe`, `C:\WINNT\System32\inetsrv\inetinfo.exe`,
			`C:\WINNT\Explorer.EXE`, `C:\WINNT\System32\notepad.exe`, `C:\WINNT\MSREXE.EXE`},
		Directories: map[string][]string{
			`C:\`: {"<Documents and Settings>", "<Inetpub>", "<Program Files>", "<WINNT>",
				"AUTOEXEC.BAT", "boot.ini", "CONFIG.SYS", "IO.SYS", "MSDOS.SYS", "NTDETECT.COM",
				"ntldr", "pagefile.sys"},
			`C:\WINNT`: {"<..>", "<Help>", "<inf>", "<repair>", "<system>", "<system32>", "<Temp>",
				"explorer.exe", "MSREXE.EXE", "notepad.exe", "regedit.exe", "system.ini", "win.ini",
				"winhlp32.exe"},
			`C:\Inetpub`: {"<..>", "<ftproot>", "<mailroot>", "<scripts>", "<wwwroot>"},
		},
	}
	return c
}

// Validate implements service.Validator.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	p := c.Persona
	if p.Version == "" || strings.ContainsAny(p.Version, "\r\n") {
		bad("persona.version must be one non-empty line")
	}
	for _, v := range []string{p.Password, p.ComputerName, p.UserName, p.Owner, p.Company, p.OSVersion,
		p.WindowsDir, p.SystemDir, p.Resolution, p.DirectX, p.CPU} {
		if strings.ContainsAny(v, "\r\n") {
			bad("persona fields may not hold line breaks: %q", v)
		}
	}
	for _, l := range [][]string{p.Drives, p.Windows, p.Processes} {
		for _, v := range l {
			if strings.ContainsAny(v, "\r\n") {
				bad("persona list entries may not hold line breaks: %q", v)
			}
		}
	}
	for d, es := range p.Directories {
		if !strings.Contains(d, `:`) {
			bad("persona.directories: %q is not a Windows path such as C:\\WINNT", d)
		}
		for _, e := range es {
			if e == "" || strings.ContainsAny(e, "\r\n\\") {
				bad("persona.directories[%q]: bad entry %q", d, e)
			}
		}
	}
	if p.DiskSize < 0 || p.DiskFree < 0 || p.DiskFree > p.DiskSize {
		bad("persona.disk_size and disk_free: want 0 <= disk_free <= disk_size")
	}
	if p.BitsPerPixel < 1 || p.BitsPerPixel > 32 {
		bad("persona.bits_per_pixel %d: want 1..32", p.BitsPerPixel)
	}
	if c.MaxUpload < 1 || c.MaxUpload > 64<<20 {
		bad("max_upload %s: want 1 byte..64MiB", c.MaxUpload)
	}
	if c.UploadWait <= 0 || c.UploadWait > 10*time.Minute {
		bad("upload_wait %s: want more than 0, at most 10m", c.UploadWait)
	}
	if c.MaxCommand < 64 || c.MaxCommand > 1<<20 {
		bad("max_command %d: want 64..1048576", c.MaxCommand)
	}
	if c.MaxCommands < 1 {
		bad("max_commands must be at least 1")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("subseven: %w", err)
	}
	return nil
}

// Describe implements service.Describer.
func (c *Config) Describe() string {
	d := "SubSeven " + c.Persona.Version
	if c.Persona.Password != "" {
		d += " (password)"
	}
	return d
}

// maxCommandOutput bounds the output carried by a command event.
const maxCommandOutput = 8 << 10

// Server is the subseven service.
type Server struct {
	cfg     *Config
	host    *Host
	log     *slog.Logger
	now     func() time.Time
	clients atomic.Int32
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
	p := cfg.Persona
	h := &Host{Version: p.Version, Password: p.Password, AcceptAny: cfg.AcceptAnyPassword,
		ComputerName: p.ComputerName, UserName: p.UserName, Owner: p.Owner, Company: p.Company,
		OSVersion: p.OSVersion, WindowsDir: p.WindowsDir, SystemDir: p.SystemDir,
		Resolution: p.Resolution, BitsPerPixel: p.BitsPerPixel, DirectX: p.DirectX, CPU: p.CPU,
		CPUMHz: p.CPUMHz, DiskSize: p.DiskSize, DiskFree: p.DiskFree, Drives: p.Drives,
		Windows: p.Windows, Dirs: map[string][]string{}}
	for _, path := range p.Processes {
		h.Processes = append(h.Processes, Process{Path: path, Priority: "Normal"})
	}
	for d, es := range p.Directories {
		h.Dirs[strings.ToUpper(strings.TrimRight(d, `\`))] = es
	}
	return &Server{cfg: cfg, host: h, log: log, now: time.Now}, nil
}

// conn is one connection's reading state: bytes read and not yet used,
// and whether the client has stopped sending.
type conn struct {
	sess    *service.Session
	rd      *service.Reader
	buf     []byte
	pending []byte
	err     error // what ended the input, once it has
}

// fill reads once more into pending.
func (c *conn) fill() {
	if c.err != nil {
		return
	}
	n, err := c.rd.Read(c.buf)
	c.pending = append(c.pending, c.buf[:n]...)
	if err != nil {
		c.err = err
	} else if n == 0 {
		c.err = io.ErrNoProgress
	}
}

// ServeTCP greets the client, then answers its commands.
func (s *Server) ServeTCP(ctx context.Context, sess *service.Session) {
	s.clients.Add(1)
	defer s.clients.Add(-1)
	ss := NewSession(s.host, s.now, func() int { return int(s.clients.Load()) })
	if _, err := sess.WriteString(ss.Greeting()); err != nil {
		return
	}
	c := &conn{sess: sess, rd: sess.Reader(), buf: make([]byte, s.cfg.MaxCommand)}
	for n := 0; n < s.cfg.MaxCommands && ctx.Err() == nil; {
		if len(c.pending) == 0 {
			if c.fill(); len(c.pending) == 0 {
				return
			}
		}
		cmd, rest := NextCommand(c.pending)
		c.pending = rest
		if len(cmd) == 0 {
			continue
		}
		n++
		line := string(cmd)
		r := ss.Handle(cmd)
		s.record(sess, line, r)
		if r.Reply != "" {
			if _, err := sess.WriteString(r.Reply); err != nil {
				return
			}
		}
		if r.Close {
			return
		}
		if r.Upload != nil {
			if !s.receive(ctx, c, ss, r.Upload) {
				return
			}
		}
	}
}

// record emits what one command did.
func (s *Server) record(sess *service.Session, line string, r Result) {
	if r.Login != nil {
		sess.Emit(&event.Login{Password: r.Login.Password, Method: "subseven", Success: r.Login.Success})
	}
	out := r.Reply
	if len(out) > maxCommandOutput {
		out = out[:maxCommandOutput]
	}
	sess.Emit(&event.Command{Line: line, Shell: "subseven", Output: out, Known: r.Known})
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

// via names an upload's command in its event.
var via = map[string]string{UploadFile: "rtf", UploadKeyDLL: "rte", UploadServer: "ups"}

// receive takes an upload the client announced with RTF, RTE or UPS: the
// SFT header, then the data, acknowledged ChunkSize bytes at a time. It
// reports whether the connection goes on.
func (s *Server) receive(ctx context.Context, c *conn, ss *Session, up *Upload) bool {
	sess := c.sess
	_ = sess.Conn().SetReadDeadline(time.Now().Add(s.cfg.UploadWait))
	defer func() { _ = sess.Conn().SetReadDeadline(time.Time{}) }()
	var size int64
	var header string
	for {
		var n int
		var err error
		size, n, err = ParseUploadHeader(c.pending)
		if err == nil {
			header = string(c.pending[:n])
			c.pending = c.pending[n:]
			break
		}
		if errors.Is(err, errBadHeader) {
			// SubSeven drops a read that is not the header and keeps
			// waiting for one; Smallpot takes it as the next command.
			return true
		}
		if c.err != nil || ctx.Err() != nil {
			return false
		}
		c.fill()
	}
	limit := int64(s.cfg.MaxUpload)
	data := make([]byte, 0, min(size, limit, 1<<20))
	var got int64
	var acks strings.Builder
	complete := true
	for got < size && ctx.Err() == nil {
		want := min(size-got, ChunkSize)
		for int64(len(c.pending)) < want && c.err == nil {
			c.fill()
		}
		chunk := c.pending[:min(int64(len(c.pending)), want)]
		if len(chunk) == 0 {
			complete = false
			break
		}
		if room := limit - int64(len(data)); room > 0 {
			data = append(data, chunk[:min(int64(len(chunk)), room)]...)
		}
		got += int64(len(chunk))
		c.pending = c.pending[len(chunk):]
		ack := Ack(got)
		if acks.Len() < maxCommandOutput {
			acks.WriteString(ack)
		}
		if _, err := sess.WriteString(ack); err != nil {
			complete = false
			break
		}
		if int64(len(chunk)) < want {
			complete = false
			break
		}
	}
	if got < size {
		complete = false
	}
	reply, closeAfter := "", false
	if complete {
		reply, closeAfter = UploadDone(up)
	}
	if got > 0 {
		name := up.Path
		if up.Kind != UploadFile {
			name = ""
		}
		sha, err := sess.SaveSample(data, "subseven.upload", name)
		if err != nil {
			s.log.Warn("sample not stored", "service", sess.Service, "session", sess.SessionID,
				"src", sess.Remote.String(), "err", err)
		}
		sess.Emit(&event.Upload{Name: name, Size: int64(len(data)), SHA256: sha,
			Truncated: got > int64(len(data)) || !complete, Via: via[up.Kind]})
		ss.Uploaded(up, got)
	}
	sess.Emit(&event.Command{Line: header, Shell: "subseven", Output: acks.String() + reply, Known: true})
	if reply != "" {
		if _, err := sess.WriteString(reply); err != nil {
			return false
		}
	}
	return complete && !closeAfter
}
