package netbus

import (
	"errors"
	"strconv"
	"strings"

	"github.com/smallpot/smallpot/internal/service"
)

// The NetBus 1.x wire format: every message, either way, is one line of
// text ended by "\r", its fields separated by ";". The server speaks
// first with its banner ("NetBus 1.60 \r", "NetBus 1.60 x\r" when it has
// a password); the client logs in with "Password;<super>;<password>\r"
// and the server answers "Access;1\r" or "Access;0\r".

// Command is one client line split into its fields.
type Command struct {
	Name string   // the first field: GetInfo, Password, UploadFile...
	Args []string // the fields after it
}

// ParseCommand splits a line at ";". A line without ";" is a command
// without arguments.
func ParseCommand(line string) Command {
	name, rest, ok := strings.Cut(line, ";")
	if !ok {
		return Command{Name: name}
	}
	return Command{Name: name, Args: strings.Split(rest, ";")}
}

// Arg returns argument i, or "" when there are fewer.
func (c Command) Arg(i int) string {
	if i < len(c.Args) {
		return c.Args[i]
	}
	return ""
}

// Rest returns the arguments from i on joined as sent: the last field of
// a command may itself hold ";" (a password, a message).
func (c Command) Rest(i int) string {
	if i >= len(c.Args) {
		return ""
	}
	return strings.Join(c.Args[i:], ";")
}

// Login is one Password line as the server judged it.
type Login struct {
	Password string
	Super    bool // the super-login field was 1
	Success  bool
}

// Upload is an UploadFile announcement: the data follows on the upload
// port.
type Upload struct {
	Name string // the client's file name
	Size int64  // as announced; -1 when it was not a number
	Dir  string // the directory it is meant for
}

// Result is what the server does with one line.
type Result struct {
	Reply  string // sent followed by "\r"; "" sends nothing
	Known  bool   // a command this persona knows
	Login  *Login
	Upload *Upload
	URL    string // a URL the client asked the host to open
	Close  bool   // the server ends the connection after Reply
}

// Host is what the persona reports about the infected host.
type Host struct {
	Version           string
	Password          string
	SuperLogin        bool
	AcceptAny         bool
	Port              int // the port the client reached, as GetSetup reports it
	ProgramPath       string
	RestartPersistent bool
	LoginID           string
	LogTraffic        bool
	NotifyTo          string
	NotifyFrom        string
	SMTPServer        string
	ACL               []string
	Applications      []string
	Volume            [3]int
}

// Session is the state of one control connection. It does no I/O: lines
// go in, results come out.
type Session struct {
	host     *Host
	clients  func() int
	authed   bool
	password string // the password as this session sees it (ServerPwd changes it)
}

// NewSession starts a session for host; clients reports how many clients
// are connected, for GetInfo.
func NewSession(host *Host, clients func() int) *Session {
	return &Session{host: host, clients: clients, authed: host.Password == "", password: host.Password}
}

// Banner is the line the server sends on connect, without its "\r".
func (s *Session) Banner() string {
	if s.host.Password != "" {
		return "NetBus " + s.host.Version + " x"
	}
	return "NetBus " + s.host.Version + " "
}

// Authed reports whether the client may give commands.
func (s *Session) Authed() bool { return s.authed }

// silent lists the commands a NetBus 1.x server obeys without an answer:
// the client reports their effect itself. Smallpot obeys none of them.
var silent = map[string]bool{
	"StartApp": true, "Eject": true, "SwapButton": true, "ShowImage": true,
	"Message": true, "URL": true, "KeyClick": true, "Listen": true,
	"PlaySound": true, "Sound": true, "DisableKeys": true, "SendKeys": true,
	"Shutdown": true, "SetVolume": true, "MouseMove": true, "Record": true,
	"CaptureScreen": true, "DownloadFile": true, "DeleteFile": true,
	"ServerPwd": true, "SetSetup": true, "SetACL": true, "KillApp": true,
	"FocusApp": true, "GetApp": true, "ControlMouse": true, "Chat": true,
	"ChatMsg": true, "ServerClose": true, "ServerRemove": true,
}

// Handle answers one line (without its "\r").
func (s *Session) Handle(line string) Result {
	c := ParseCommand(line)
	if c.Name == "Password" {
		return s.login(c)
	}
	known := silent[c.Name]
	switch c.Name {
	case "GetInfo", "GetSetup", "GetACL", "GetApps", "GetVolume", "UploadFile":
		known = true
	}
	if !s.authed {
		// A protected server ignores everything but the password.
		return Result{Known: known}
	}
	h := s.host
	switch c.Name {
	case "GetInfo":
		return Result{Known: true, Reply: "Info;Program Path: " + h.ProgramPath +
			"|Restart persistent: " + yesNo(h.RestartPersistent) +
			"|Login ID: " + h.LoginID +
			"|Clients connected to this host: " + strconv.Itoa(max(s.clients(), 1))}
	case "GetSetup":
		return Result{Known: true, Reply: "Setup;" + strconv.Itoa(h.Port) + ";" + bit(h.LogTraffic) + ";" +
			s.password + ";" + h.NotifyTo + ";" + h.NotifyFrom + ";" + h.SMTPServer}
	case "GetACL":
		return Result{Known: true, Reply: "ACLList;" + list(h.ACL)}
	case "GetApps":
		return Result{Known: true, Reply: "AppsList;" + list(h.Applications)}
	case "GetVolume":
		return Result{Known: true, Reply: "Volume;" + strconv.Itoa(h.Volume[0]) + ";" +
			strconv.Itoa(h.Volume[1]) + ";" + strconv.Itoa(h.Volume[2])}
	case "UploadFile":
		size, err := strconv.ParseInt(c.Arg(1), 10, 64)
		if err != nil || size < 0 {
			size = -1
		}
		return Result{Known: true, Reply: "UploadReady",
			Upload: &Upload{Name: c.Arg(0), Size: size, Dir: c.Rest(2)}}
	case "ServerPwd":
		// The new password holds for this connection only: what one
		// attacker sets must not lock the next one out. Line ends cannot
		// come from the wire; kept out all the same, as GetSetup shows it.
		s.password = strings.NewReplacer("\r", "", "\n", "").Replace(c.Rest(0))
		return Result{Known: true}
	case "URL":
		return Result{Known: true, URL: c.Rest(0)}
	case "ServerClose", "ServerRemove":
		return Result{Known: true, Close: true}
	}
	return Result{Known: known}
}

func (s *Session) login(c Command) Result {
	l := &Login{Password: c.Rest(1), Super: c.Arg(0) == "1"}
	h := s.host
	// NetBus up to 1.60 lets a client that sets the super-login field in
	// whatever password it gives.
	l.Success = h.AcceptAny || l.Password == s.password || (l.Super && h.SuperLogin)
	if l.Success {
		s.authed = true
		return Result{Known: true, Login: l, Reply: "Access;1"}
	}
	return Result{Known: true, Login: l, Reply: "Access;0"}
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// list writes items as NetBus lists them: each one followed by "|".
func list(items []string) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(it)
		b.WriteByte('|')
	}
	return b.String()
}

// errLineTooLong reports a line cut at its bound; the rest of it was
// skipped.
var errLineTooLong = errors.New("netbus: line too long")

// ReadLine reads one line ended by "\r" or "\n" (NetBus ends lines with
// "\r"; a client typing through netcat ends them with "\n" or "\r\n").
// The terminator is not returned. A line longer than max returns its
// first max bytes with errLineTooLong, after the rest of it was skipped
// (up to skip more bytes). At the end of the input an unterminated last
// line is returned with io.EOF.
func ReadLine(rd *service.Reader, max, skip int) ([]byte, error) {
	var line []byte
	for {
		c, err := rd.ReadByte()
		if err != nil {
			return line, err
		}
		if c == '\r' || c == '\n' {
			if line == nil {
				line = []byte{}
			}
			return line, nil
		}
		if len(line) == max {
			for n := 0; n < skip; n++ {
				c, err := rd.ReadByte()
				if err != nil {
					return line, err
				}
				if c == '\r' || c == '\n' {
					return line, errLineTooLong
				}
			}
			return line, errLineTooLong
		}
		line = append(line, c)
	}
}
