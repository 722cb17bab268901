package download

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/shell"
)

// Bounds of the scan of one event.
const (
	maxScan    = 64 << 10 // bytes of one field scanned
	maxIntents = 16       // URLs taken from one event
	maxTokens  = 4096     // words of one field looked at for command lines
)

// intents returns the URLs event e names: a download intent's, and, when
// scan is set, those found in the text of a request, a command or a
// payload. Other kinds (the downloader's own fetch and sample events
// among them) name nothing, so the downloader never feeds itself.
func intents(e *event.Event, scan bool) []string {
	var l urlList
	switch d := e.Detail.(type) {
	case *event.Download:
		if d.URL != "" {
			l.add(d.URL)
		} else if d.Protocol != "" && d.Host != "" {
			l.add(shell.NewDownload(d.Protocol, d.Host, d.Path).URL)
		}
		if scan && d.Command != "" {
			l.scan(d.Command)
		}
	case *event.Command:
		if scan {
			l.scan(d.Line)
		}
	case *event.Payload:
		if scan {
			l.scan(string(d.Data))
		}
	case *event.Request:
		if !scan {
			break
		}
		// An absolute request target is a proxy test: the URL it names
		// is the tester's choice of site, not a file to fetch.
		if !strings.Contains(d.URI, "://") || !strings.HasPrefix(strings.ToLower(d.URI), "http") {
			l.scan(d.Path)
		}
		l.scan(unescape(d.Query))
		l.scan(unescape(string(d.Body)))
		for _, h := range d.Headers {
			switch strings.ToLower(h.Name) {
			case "host", "referer", "origin":
				// Where the client says it came from, not what it wants.
			default:
				l.scan(h.Value)
			}
		}
	}
	return l.urls
}

type urlList struct{ urls []string }

func (l *urlList) add(u string) {
	if len(l.urls) >= maxIntents || u == "" {
		return
	}
	for _, o := range l.urls {
		if o == u {
			return
		}
	}
	l.urls = append(l.urls, u)
}

// scan adds the URLs in free text, and the files named by tftp, ftpget
// and ftp-script command lines in it. A URL found in text must name a
// file: a bare host ("http://example.com/") is not fetched.
func (l *urlList) scan(s string) {
	if s == "" {
		return
	}
	if len(s) > maxScan {
		s = s[:maxScan]
	}
	for _, d := range shell.FindURLs(s) {
		if d.Path != "/" && d.Path != "" {
			l.add(d.URL)
		}
	}
	l.commands(s)
}

// commands finds tftp, ftpget and ftp-script downloads in s.
func (l *urlList) commands(s string) {
	var ftpHost, ftpPort, ftpUser, ftpPass string
	n := 0
	for stmt := range strings.FieldsFuncSeq(s, isStatementEnd) {
		words := strings.FieldsFunc(stmt, isWordEnd)
		if n += len(words); n > maxTokens {
			return
		}
		for i := range words {
			words[i] = strings.Trim(words[i], `"'`)
		}
		for i, w := range words {
			// An ftp script's lines stand alone or follow echo.
			script := i == 0 || strings.EqualFold(words[i-1], "echo")
			switch program(w) {
			case "tftp":
				if host, port, file, ok := tftpArgs(words[i+1:]); ok {
					l.add(fileURL("tftp", host, port, file, "", ""))
				}
			case "ftpget":
				if host, port, user, pass, file, ok := ftpgetArgs(words[i+1:]); ok {
					l.add(fileURL("ftp", host, port, file, user, pass))
				}
			case "open":
				// An ftp script, written line by line (echo open HOST
				// PORT >> s): open, user, get.
				if script && i+1 < len(words) && isHost(words[i+1]) {
					ftpHost, ftpPort, ftpUser, ftpPass = words[i+1], "", "", ""
					if i+2 < len(words) && isPort(words[i+2]) {
						ftpPort = words[i+2]
					}
				}
			case "user":
				if script && ftpHost != "" && i+1 < len(words) {
					ftpUser = words[i+1]
					if i+2 < len(words) {
						ftpPass = words[i+2]
					}
				}
			case "get", "recv":
				if script && ftpHost != "" && i+1 < len(words) {
					l.add(fileURL("ftp", ftpHost, ftpPort, words[i+1], ftpUser, ftpPass))
				}
			}
		}
	}
}

func isStatementEnd(r rune) bool {
	return r == '\n' || r == '\r' || r == ';' || r == '&' || r == '|' || r == '`' || r == '(' || r == ')'
}

func isWordEnd(r rune) bool {
	return r == ' ' || r == '\t' || r == '>' || r == '<' || r == '\v' || r == '\f' || r == '\x00'
}

// program is a command word's name: lower-case, without directory or
// .exe ("C:\WINNT\system32\tftp.exe" is tftp).
func program(w string) string {
	if i := strings.LastIndexAny(w, `/\`); i >= 0 {
		w = w[i+1:]
	}
	w = strings.ToLower(w)
	return strings.TrimSuffix(w, ".exe")
}

// tftpArgs reads the arguments of a tftp command in the syntaxes
// attackers use: Windows' tftp [-i] HOST GET FILE [LOCAL], BusyBox's
// tftp -g -r FILE [-l LOCAL] HOST [PORT], and tftp HOST -c get FILE.
func tftpArgs(args []string) (host, port, file string, ok bool) {
	var pos []string
	get := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-r" && i+1 < len(args):
			file = args[i+1]
			i++
		case a == "-l" && i+1 < len(args):
			i++
		case a == "-c":
		case strings.HasPrefix(a, "-r") && len(a) > 2:
			file = a[2:]
		case strings.HasPrefix(a, "-") && len(a) > 1:
			if strings.Contains(a, "g") {
				get = true
			}
		default:
			pos = append(pos, a)
		}
		if len(pos) >= 4 {
			break
		}
	}
	if len(pos) == 0 || !isHost(pos[0]) {
		return "", "", "", false
	}
	host = pos[0]
	switch {
	case file != "":
		if !get && len(pos) > 1 && !isPort(pos[1]) {
			return "", "", "", false
		}
		if len(pos) > 1 && isPort(pos[1]) {
			port = pos[1]
		}
	case len(pos) >= 3 && strings.EqualFold(pos[1], "get"):
		file = pos[2]
	default:
		return "", "", "", false
	}
	return host, port, file, file != ""
}

// ftpgetArgs reads ftpget [-c] [-v] [-u USER] [-p PASS] [-P PORT] HOST
// [LOCAL] REMOTE.
func ftpgetArgs(args []string) (host, port, user, pass, file string, ok bool) {
	var pos []string
	for i := 0; i < len(args) && len(pos) < 3; i++ {
		a := args[i]
		switch {
		case (a == "-u" || a == "-p" || a == "-P") && i+1 < len(args):
			switch a {
			case "-u":
				user = args[i+1]
			case "-p":
				pass = args[i+1]
			case "-P":
				port = args[i+1]
			}
			i++
		case strings.HasPrefix(a, "-"):
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) < 2 || !isHost(pos[0]) || (port != "" && !isPort(port)) {
		return "", "", "", "", "", false
	}
	return pos[0], port, user, pass, pos[len(pos)-1], true
}

// fileURL writes the URL of a file named by host, port and file name, as
// package shell does for the same commands.
func fileURL(proto, host, port, file, user, pass string) string {
	if port != "" {
		host = net.JoinHostPort(host, port)
	}
	d := shell.NewDownload(proto, host, file)
	if user == "" || proto != "ftp" {
		return d.URL
	}
	u, err := url.Parse(d.URL)
	if err != nil {
		return d.URL
	}
	u.User = url.UserPassword(user, pass)
	return u.String()
}

// isHost reports whether s is an IP address or a DNS name with a dot.
func isHost(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if len(s) > 253 || !strings.Contains(s, ".") || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
		return false
	}
	// A name's last label is letters: 1.2.3 is no host.
	for _, c := range s[strings.LastIndexByte(s, '.')+1:] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n < 65536
}

// unescape decodes a query string or form body the lenient way a CGI
// does: '+' is a space, %XX a byte, and a bad escape is kept as it is.
func unescape(s string) string {
	if len(s) > maxScan {
		s = s[:maxScan]
	}
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func ishex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
