package subseven

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"path"
	"strconv"
	"strings"
	"time"
)

// The SubSeven 2.1 wire format. The client sends commands of three
// letters followed by their argument, with no terminator: each read the
// server makes is one command ("RTFC:\x.exe", "PIN"). Replies are bare
// text too. With no password the server greets with "connected.
// time/date: <time>, version: <version>"; with one it sends "PWD" and
// waits for "PWD<password>". A file upload is "RTF<path>", answered
// "TID", then "SFT" + two digits giving the length of the size + the
// size + the bytes; every read of the data is acknowledged "p:<total>."
// and the end "file successfully uploaded.".

// TimeLayout is how SubSeven writes its local time and date.
const TimeLayout = "15:04.05 - January 2, 2006, Monday"

// ChunkSize is the server's receive buffer for uploads: it acknowledges
// the data this many bytes at a time.
const ChunkSize = 1041

// NextCommand takes one command off the front of buf. SubSeven takes a
// whole read as one command; Smallpot also ends a command at "\n" (with
// its "\r"), so several commands that arrive in one read, or typed
// through netcat, are each seen.
func NextCommand(buf []byte) (cmd, rest []byte) {
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		return buf, nil
	}
	cmd = buf[:i]
	if n := len(cmd); n > 0 && cmd[n-1] == '\r' {
		cmd = cmd[:n-1]
	}
	return cmd, buf[i+1:]
}

// Command is one command split into its code and argument.
type Command struct {
	Code string // the first three bytes
	Arg  string // the rest
}

// ParseCommand splits a command after its code.
func ParseCommand(b []byte) Command {
	if len(b) <= 3 {
		return Command{Code: string(b)}
	}
	return Command{Code: string(b[:3]), Arg: string(b[3:])}
}

// Upload header errors.
var (
	errNeedMore  = errors.New("subseven: upload header incomplete")
	errBadHeader = errors.New("subseven: not an upload header")
)

// maxSizeDigits bounds the announced size of an upload.
const maxSizeDigits = 18

// ParseUploadHeader reads the "SFT" header that starts an upload's data:
// "SFT", two digits giving how many digits the size has, the size. It
// returns the size and the header's length; errNeedMore when b is a
// prefix of a header, errBadHeader when it cannot become one.
func ParseUploadHeader(b []byte) (size int64, n int, err error) {
	if len(b) < 5 {
		if !bytes.HasPrefix([]byte("SFT"), b[:min(len(b), 3)]) || !digits(b[min(len(b), 3):]) {
			return 0, 0, errBadHeader
		}
		return 0, 0, errNeedMore
	}
	if string(b[:3]) != "SFT" || !digits(b[3:5]) {
		return 0, 0, errBadHeader
	}
	w := int(b[3]-'0')*10 + int(b[4]-'0')
	if w < 1 || w > maxSizeDigits {
		return 0, 0, errBadHeader
	}
	if len(b) < 5+w {
		if !digits(b[5:]) {
			return 0, 0, errBadHeader
		}
		return 0, 0, errNeedMore
	}
	if !digits(b[5 : 5+w]) {
		return 0, 0, errBadHeader
	}
	size, err = strconv.ParseInt(string(b[5:5+w]), 10, 64)
	if err != nil {
		return 0, 0, errBadHeader
	}
	return size, 5 + w, nil
}

func digits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Ack is the server's acknowledgement after total bytes of an upload.
func Ack(total int64) string { return "p:" + strconv.FormatInt(total, 10) + "." }

// Stream is how SubSeven sends a block of data: the code, the number of
// digits of the size in two digits, the size, then the data.
func Stream(code string, data []byte) string {
	n := strconv.Itoa(len(data))
	return code + fmt.Sprintf("%02d", len(n)) + n + string(data)
}

// lines writes items as a Delphi string list's text: each line followed
// by "\r\n".
func lines(items ...string) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(it)
		b.WriteString("\r\n")
	}
	return b.String()
}

// Process is one running program as the process list shows it.
type Process struct {
	Path     string
	Priority string // Idle, Normal, High, Real Time
}

// Host is what the persona reports about the infected host.
type Host struct {
	Version      string
	Password     string
	AcceptAny    bool
	ComputerName string
	UserName     string
	Owner        string
	Company      string
	OSVersion    string
	WindowsDir   string
	SystemDir    string
	Resolution   string
	BitsPerPixel int
	DirectX      string
	CPU          string
	CPUMHz       float64
	DiskSize     int64
	DiskFree     int64
	Drives       []string
	Windows      []string
	Processes    []Process
	// Dirs maps a directory (upper case, without a trailing backslash:
	// "C:", `C:\WINNT`) to its entries; sub-directories are "<name>".
	Dirs map[string][]string
}

// Login is one password attempt.
type Login struct {
	Password string
	Success  bool
}

// Upload kinds: what the uploaded file was for.
const (
	UploadFile   = "file"      // RTF: a file saved where the client says
	UploadKeyDLL = "keylogger" // RTE: the keylogger's DLL
	UploadServer = "update"    // UPS: a new server replacing this one
)

// Upload is an upload the client started.
type Upload struct {
	Kind string
	Path string // where the client wants it (for RTF)
}

// Result is what the server does with one command.
type Result struct {
	Reply  string // sent as is; "" sends nothing
	Known  bool
	Login  *Login
	Upload *Upload
	URL    string // a URL the client asked the host to open or fetch
	Close  bool   // the server goes away after Reply
}

// Session is the state of one connection. It does no I/O.
type Session struct {
	host     *Host
	now      func() time.Time
	clients  func() int
	authed   bool
	uploaded map[string]int64 // files this client uploaded, by upper-case path
}

// maxUploaded bounds the files a session remembers.
const maxUploaded = 64

// NewSession starts a session; now is the host's clock, clients how many
// clients are connected.
func NewSession(host *Host, now func() time.Time, clients func() int) *Session {
	return &Session{host: host, now: now, clients: clients, authed: host.Password == "",
		uploaded: map[string]int64{}}
}

// Greeting is what the server sends on connect.
func (s *Session) Greeting() string {
	if s.host.Password != "" {
		return "PWD"
	}
	return "connected. time/date: " + s.now().Format(TimeLayout) + ", version: " + s.host.Version
}

// Uploaded records a finished upload, for later file commands.
func (s *Session) Uploaded(u *Upload, size int64) {
	if u.Kind != UploadFile || u.Path == "" || len(s.uploaded) >= maxUploaded {
		return
	}
	s.uploaded[strings.ToUpper(u.Path)] = size
}

// UploadDone is the reply at the end of an upload and whether the
// connection then ends (a new server restarts).
func UploadDone(u *Upload) (string, bool) {
	if u.Kind == UploadServer {
		return "new server updated. restarting...", true
	}
	return "file successfully uploaded.", false
}

// fixed are the commands answered with one fixed text.
var fixed = map[string]string{
	"PIN": "PONG",
	"OCD": "cd rom has been opened",
	"CCD": "cd rom has been closed",
	"RMB": "mouse buttons reversed.",
	"BMB": "mouse buttons restored.",
	"HTB": "the WHOLE taskbar is now hidden.",
	"STB": "the taskbar is now visible.",
	"HDI": "all the icons on the desktop are now gone",
	"SDI": "the icons on the desktop are visible again.",
	"RCT": "clipboard is empty or has a non-text format.",
	"SCT": "clipboard contents changed :)",
	"CCT": "clipboard cleared.",
	"CKL": "logged keys cleared.",
	"SIS": "scanning stopped.",
	"DIS": "ICQ Spy disabled!",
	"DIN": "ICQ notify disabled.",
	"DEM": "email notification disabled.",
	"DIC": "IRC notification disabled.",
	"EIN": "ICQ auto notify enabled. you should soon receive a test message on icq.",
	"EEM": "email ip notification enabled successfully",
	"EIC": "IRC notification enabled",
	"TMF": "monitor is now OFF :)",
	"TMN": "monitor is now ON",
	"CPL": "passwords cleared.",
	"SP1": "the PC speaker is now beepin' :)",
	"SP2": "the PC speaker stopped beepin'",
	"CAD": "CtrlAltDel disabled.",
	"CAE": "CtrlAltDel enabled.",
	"DAK": "the keyboard is now disabled!",
	"TTS": "text2speech engine not found",
	"SAY": "done. :)",
	"COM": "command executed.",
	"PRN": "error printing...",
	"PTF": "error printing...",
	"IMX": "matrix initiated",
	"DMX": "matrix closed",
	"SNS": "screen saver Scrolling Marquee is not installed.",
	"RSS": "screen saver Scrolling Marquee is not installed.",
	"SMT": "mouse trails set.",
	"CRT": "resolution changed :)",
	"MNF": "folder created.",
	"FM2": "folder deleted.",
	"FMP": "WAV file played.",
	"FMZ": "picture shown.",
	"CWP": "windows wallpaper changed.",
	"KRP": "process killed.",
	"CTP": "thread priority changed.",
	"STD": "new time/date set.",
	"HWN": "window hidden.",
	"SWN": "window shown.",
	"MBC": "mouse clicked",
	"MTK": "keys pressed.",
	"BTS": "IRC bot is not connected.",
	"BOT": "bot is now starting. should be online soon.",
	"TKS": "error. missing dll file.",
	"APR": "redirected port added.",
	"SPR": "redirected port stopped.",
	"OCC": "OpenClientChat",
	"OVC": "OpenVictimChat",
	"HGU": "connection closed.",
	"GPR": "GPR",
	"IUL": "IUL",
	"GIP": "GIP[icq not found]\r\n",
	"GAP": "GAPdefault aim user: \r\n",
	"PSS": "PSS[no cached passwords found]\r\n",
}

// quiet are commands SubSeven obeys without answering.
var quiet = map[string]bool{
	"IN2": true, "CL2": true, "IN7": true, "CL7": true, "DLT": true, "MMS": true,
	"UPD": true, "DOS": true, "RIS": true, "SPY": true, "TOI": true, "NTF": true,
	"CSS": true, "RAS": true, "DDB": true, "IRG": true, "UAL": true, "CRG": true,
	"CLG": true, "DRG": true, "RED": true, "FFN": true,
}

// Handle answers one command.
func (s *Session) Handle(b []byte) Result {
	c := ParseCommand(b)
	if !s.authed {
		if c.Code != "PWD" {
			return Result{Known: true, Reply: "error reading password..."}
		}
		l := &Login{Password: c.Arg, Success: s.host.AcceptAny || c.Arg == s.host.Password}
		if !l.Success {
			return Result{Known: true, Login: l, Reply: "POPUP incorrect password...", Close: true}
		}
		s.authed = true
		return Result{Known: true, Login: l, Reply: "connected. " + s.now().Format(TimeLayout) + ", version: " + s.host.Version}
	}
	if r, ok := fixed[c.Code]; ok {
		return Result{Known: true, Reply: r}
	}
	if quiet[c.Code] {
		return Result{Known: true}
	}
	h := s.host
	switch c.Code {
	case "PWD":
		// No password set: the server is open and ignores it.
		return Result{Known: true, Login: &Login{Password: c.Arg, Success: true}}
	case "RTF":
		return Result{Known: true, Reply: "TID", Upload: &Upload{Kind: UploadFile, Path: c.Arg}}
	case "RTE":
		return Result{Known: true, Reply: "TID", Upload: &Upload{Kind: UploadKeyDLL}}
	case "UPS":
		return Result{Known: true, Reply: "TID", Upload: &Upload{Kind: UploadServer}}
	case "URL":
		return Result{Known: true, Reply: "web browser has been opened.", URL: c.Arg}
	case "UFU":
		// Update the server from a URL: the server would fetch and run it.
		return Result{Known: true, URL: c.Arg}
	case "FMX":
		return s.onFile(c.Arg, "file has been executed.")
	case "FMD":
		r := s.onFile(c.Arg, "file: "+c.Arg+" has been deleted... :)")
		delete(s.uploaded, strings.ToUpper(c.Arg))
		return r
	case "FMW":
		return s.onFile(c.Arg, "wallpaper changed to: "+c.Arg)
	case "FMS":
		return s.onFile(c.Arg, "SIZE"+strconv.FormatInt((s.size(c.Arg)+514)/1028, 10))
	case "NPD":
		if c.Arg == "_PZD" {
			return Result{Known: true, Reply: "password removed"}
		}
		return Result{Known: true, Reply: "new password set."}
	case "STA":
		switch c.Arg {
		case "1":
			return Result{Known: true, Reply: "Start menu is now off!"}
		case "2":
			return Result{Known: true, Reply: "Start menu is now on!"}
		}
		return Result{Known: true}
	case "CSL", "NML", "SCL":
		name := map[string]string{"CSL": "CapsLock", "NML": "NumLock", "SCL": "ScrollLock"}[c.Code]
		if c.Arg == "ON" {
			return Result{Known: true, Reply: name + " is now ON"}
		}
		return Result{Known: true, Reply: name + " is now OFF"}
	case "SMC":
		if c.Arg == "off" {
			return Result{Known: true, Reply: "mouse cursor is now OFF..."}
		}
		return Result{Known: true, Reply: "mouse cursor is now ON..."}
	case "FLP":
		return Result{Known: true, Reply: "flipping...screen has been flipped."}
	case "RSF":
		return Result{Known: true, Reply: "recording for " + c.Arg + " secounds..."}
	case "SVT":
		switch {
		case strings.HasPrefix(c.Arg, "0"):
			return Result{Known: true, Reply: "VRead000000000"}
		case c.Arg != "" && strings.ContainsRune("123", rune(c.Arg[0])):
			return Result{Known: true, Reply: "VSet"}
		}
		return Result{Known: true}
	case "MW:":
		return Result{Known: true, Reply: "user clicked : Ok."}
	case "FTP":
		if strings.HasPrefix(c.Arg, "disable") {
			return Result{Known: true, Reply: "FTP server disabled"}
		}
		if strings.HasPrefix(c.Arg, "enable!") {
			return Result{Known: true, Reply: "FTP server enabled"}
		}
		return Result{Known: true}
	case "RTD":
		t := s.now()
		return Result{Known: true, Reply: fmt.Sprintf("RTD0%04d%02d%02d0%02d%02d",
			t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute())}
	case "GDR":
		return Result{Known: true, Reply: "GDR" + lines(h.Drives...)}
	case "CRS":
		return Result{Known: true, Reply: "CRS" + lines(resolutions()...)}
	case "RAW", "CAW", "FCW", "EAW", "DAW", "DCB":
		return Result{Known: true, Reply: "RAW" + lines(h.Windows...)}
	case "GMI":
		return Result{Known: true, Reply: "GMI" + s.systemInfo()}
	case "GHI":
		nf := make([]string, 14)
		for i := range nf {
			nf[i] = "not found"
		}
		return Result{Known: true, Reply: "GHI" + lines(nf...)}
	case "BTR":
		return Result{Known: true, Reply: "BOT" + lines("", "", "", "", "", "", "", "no", "offline", "")}
	case "RPL":
		var ls []string
		for _, p := range h.Processes {
			ls = append(ls, strings.ToLower(winBase(p.Path)), p.Path, p.Priority)
		}
		return Result{Known: true, Reply: Stream("RPL", []byte(lines(ls...)))}
	case "GPW":
		return Result{Known: true, Reply: Stream("GPW", nil)}
	case "GOK":
		return Result{Known: true, Reply: Stream("GOK", nil)}
	case "RSH":
		dir := strings.TrimRight(c.Arg, `\`)
		entries, ok := h.Dirs[strings.ToUpper(dir)]
		if !ok {
			return Result{Known: true, Reply: "path [" + dir + "] not found."}
		}
		return Result{Known: true, Reply: Stream("RSH", []byte(lines(entries...)))}
	case "CLS", "CSN", "CPT", "RWN":
		// The server exits, moves or the host goes down: the connection
		// drops without a word.
		return Result{Known: true, Close: true}
	case "RMS":
		return Result{Known: true, Reply: "server removed. closing...", Close: true}
	case "RSP":
		return Result{Known: true, Reply: "restarting server...", Close: true}
	}
	return Result{}
}

// onFile answers a command on a file: reply when the file exists, "can't
// find file" when not.
func (s *Session) onFile(name, reply string) Result {
	if !s.exists(name) {
		return Result{Known: true, Reply: "can't find file: " + name}
	}
	return Result{Known: true, Reply: reply}
}

// exists reports whether a file is on the fake disk: uploaded by this
// client, or listed in the persona's directories.
func (s *Session) exists(name string) bool {
	key := strings.ToUpper(name)
	if _, ok := s.uploaded[key]; ok {
		return true
	}
	i := strings.LastIndexByte(key, '\\')
	if i < 0 {
		return false
	}
	for _, e := range s.host.Dirs[key[:i]] {
		if strings.EqualFold(e, name[i+1:]) {
			return true
		}
	}
	return false
}

// size is a file's size: as uploaded, or a stable made-up one for the
// persona's files.
func (s *Session) size(name string) int64 {
	if n, ok := s.uploaded[strings.ToUpper(name)]; ok {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(strings.ToUpper(name)))
	return 4096 + int64(h.Sum32()%(2<<20))
}

// systemInfo is GMI's list: host, user, directories, owner, Windows,
// display, processor, disk and the connections to the server.
func (s *Session) systemInfo() string {
	h := s.host
	return lines(h.ComputerName, h.UserName, h.WindowsDir, h.SystemDir, h.Owner, h.Company,
		h.OSVersion, "", "", h.Resolution, h.DirectX, strconv.Itoa(h.BitsPerPixel), h.CPU,
		fmt.Sprintf("%.1f MHz", h.CPUMHz), thousands(h.DiskSize)+" bytes",
		thousands(h.DiskFree)+" bytes", strconv.Itoa(max(s.clients(), 1)))
}

// resolutions are the display modes CRS lists.
func resolutions() []string {
	var out []string
	for _, bpp := range []int{8, 16, 24} {
		colors := uint64(1) << bpp
		for _, wh := range [][2]int{{640, 480}, {800, 600}, {1024, 768}} {
			out = append(out, fmt.Sprintf("%dx%d [%d Colors]", wh[0], wh[1], colors))
		}
	}
	return out
}

// thousands writes n with "," between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// winBase returns the file name of a Windows path.
func winBase(p string) string {
	return path.Base(strings.ReplaceAll(p, `\`, "/"))
}
