package http

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smallpot/smallpot/internal/shell"
)

// iis is the Microsoft IIS 5.0 persona of a Windows 2000 Server.
type iis struct {
	cfg     *Config
	server  string
	page    string // default document's name
	change  int
	cmd     *shell.Cmd
	tree    *shell.Tree
	base    *shell.FS // the tree unchanged, to tell system files from dropped ones
	vdirs   []vdir
	hosts   *hosts
	release time.Time
}

func newIIS(cfg *Config) (*iis, error) {
	p := cfg.Persona
	installed, err := time.Parse(time.RFC3339, p.Installed)
	if err != nil {
		return nil, fmt.Errorf("http: persona.installed: %w", err)
	}
	release := time.Date(1999, 12, 7, 8, 0, 0, 0, time.UTC)
	if release.After(installed) {
		release = installed
	}
	tree := shell.Win2000Tree(shell.WinOptions{Release: release, Installed: installed})
	www := shell.WinSplit(`C:\Inetpub\wwwroot`)
	add := func(dir []string, name string, n shell.Node) {
		tree.Add(append(append([]string(nil), dir...), name), n)
	}
	add(www, p.DefaultPage, shell.Node{Mod: release, Data: []byte(iisStart(p.Title))})
	for _, g := range []string{"pagerror.gif", "warning.gif", "web.gif", "win2000.gif", "print.gif", "help.gif", "mmc.gif"} {
		add(www, g, shell.Node{Mod: release, Data: gif1x1})
	}
	add(shell.WinSplit(`C:\Program Files\Common Files\Microsoft Shared\web server extensions\40`), "admin", shell.Node{Dir: true, Mod: installed})
	tree.Add(shell.WinSplit(`C:\WINNT\Web\printers`), shell.Node{Dir: true, Mod: installed})
	vdirs := []vdir{
		{name: "", phys: www, read: true},
		{name: "scripts", phys: shell.WinSplit(`c:\inetpub\scripts`), exec: true},
		{name: "msadc", phys: shell.WinSplit(`c:\program files\common files\system\msadc`), exec: true},
		{name: "_vti_bin", phys: shell.WinSplit(`c:\program files\common files\microsoft shared\web server extensions\40\isapi`), exec: true},
		{name: "_mem_bin", phys: shell.WinSplit(`c:\program files\common files\microsoft shared\web server extensions\40\admin`), exec: true},
		{name: "iishelp", phys: shell.WinSplit(`c:\winnt\help\iishelp`), read: true},
		{name: "iissamples", phys: shell.WinSplit(`c:\inetpub\iissamples`), read: true},
		{name: "printers", phys: shell.WinSplit(`c:\winnt\web\printers`), read: true},
	}
	if p.CodeRedBackdoor {
		// CodeRed II's marks: cmd.exe copied as root.exe into the
		// executable directories, its explorer.exe at the root of C:,
		// and /c and /d mapped to the drives with execute rights.
		visit := installed.Add(45 * 24 * time.Hour)
		for _, d := range []string{`C:\Inetpub\scripts`, `C:\Program Files\Common Files\System\msadc`} {
			add(shell.WinSplit(d), "root.exe", shell.Node{Mod: release, Size: 236304, Program: "cmd"})
		}
		add([]string{"C:"}, "explorer.exe", shell.Node{Mod: visit, Size: 8192, Hidden: true})
		vdirs = append(vdirs,
			vdir{name: "c", phys: []string{"c:"}, exec: true, read: true},
			vdir{name: "d", phys: []string{"d:"}, exec: true, read: true})
	}
	return &iis{
		cfg: cfg, server: p.Server, page: p.DefaultPage, change: p.ETagChange,
		cmd: &shell.Cmd{Version: p.OSVersion, Hostname: p.Hostname, Address: p.Address,
			Serial: p.VolumeSerial, Free: p.FreeBytes},
		tree: tree, base: shell.NewFS(tree), vdirs: vdirs,
		hosts: newHosts(cfg.MaxHosts), release: release,
	}, nil
}

// hosts remembers, per source address, the changes an attacker made to
// the fake disk, so a file fetched by one request is there for the next
// (Nimda's tftp of Admin.dll, then its GET). The oldest is forgotten first.
type hosts struct {
	mu    sync.Mutex
	max   int
	m     map[netip.Addr]*hostFS
	order []netip.Addr
}

type hostFS struct {
	mu sync.Mutex
	fs *shell.FS
}

func newHosts(max int) *hosts { return &hosts{max: max, m: map[netip.Addr]*hostFS{}} }

func (h *hosts) get(a netip.Addr, tree *shell.Tree) *hostFS {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f := h.m[a]; f != nil {
		return f
	}
	for len(h.order) >= h.max {
		delete(h.m, h.order[0])
		h.order = h.order[1:]
	}
	f := &hostFS{fs: shell.NewFS(tree)}
	h.m[a] = f
	h.order = append(h.order, a)
	return f
}

// conn is the connection decision for a response: whether it closes
// and the Connection header that says so.
type conn struct {
	header string
	close  bool
}

func (p *iis) connFor(x *exchange) conn {
	req := x.req
	if req.Version != "HTTP/1.0" {
		if req.HasToken("Connection", "close") || x.last {
			return conn{"close", true}
		}
		return conn{}
	}
	if req.HasToken("Connection", "keep-alive") && !x.last {
		return conn{"Keep-Alive", false}
	}
	return conn{close: true}
}

type hdr struct{ k, v string }

const httpDateLayout = "Mon, 02 Jan 2006 15:04:05 GMT"

func httpDate(t time.Time) string {
	return string(appendHTTPDate(make([]byte, 0, len(httpDateLayout)), t))
}

// appendHTTPDate appends t as httpDateLayout formats it, without the
// layout's parsing: every response has a date or two.
func appendHTTPDate(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, httpDateLayout)
	}
	hh, mm, ss := t.Clock()
	b = append(b, "SunMonTueWedThuFriSat"[3*t.Weekday():3*t.Weekday()+3]...)
	b = append(b, ',', ' ', byte('0'+d/10), byte('0'+d%10), ' ')
	b = append(b, "JanFebMarAprMayJunJulAugSepOctNovDec"[3*(mo-1):3*mo]...)
	b = append(b, ' ', byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), ' ',
		byte('0'+hh/10), byte('0'+hh%10), ':', byte('0'+mm/10), byte('0'+mm%10), ':', byte('0'+ss/10), byte('0'+ss%10))
	return append(b, " GMT"...)
}

// response writes a status line, Server, the pre headers, Date, the
// Connection header, the post headers and the body (none for HEAD), into
// one buffer of the size it needs.
func (p *iis) response(x *exchange, c conn, status int, reason string, pre, post []hdr, body []byte) []byte {
	if x.req.Method == "HEAD" {
		body = nil
	}
	n := len("HTTP/1.1 000 \r\nServer: \r\nDate: \r\nConnection: \r\n\r\n") + len(reason) + len(p.server) +
		len(httpDateLayout) + len(c.header) + len(body)
	for _, h := range pre {
		n += len(h.k) + len(h.v) + 4
	}
	for _, h := range post {
		n += len(h.k) + len(h.v) + 4
	}
	b := make([]byte, 0, n)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	b = append(b, "\r\nServer: "...)
	b = append(b, p.server...)
	b = append(b, "\r\n"...)
	b = appendHeaders(b, pre)
	b = append(b, "Date: "...)
	b = appendHTTPDate(b, x.now)
	b = append(b, "\r\n"...)
	if c.header != "" {
		b = append(b, "Connection: "...)
		b = append(b, c.header...)
		b = append(b, "\r\n"...)
	}
	b = appendHeaders(b, post)
	b = append(b, "\r\n"...)
	return append(b, body...)
}

func appendHeaders(b []byte, hs []hdr) []byte {
	for _, h := range hs {
		b = append(b, h.k...)
		b = append(b, ": "...)
		b = append(b, h.v...)
		b = append(b, "\r\n"...)
	}
	return b
}

// errorPage answers with one of IIS's custom error files.
func (p *iis) errorPage(x *exchange, c conn, status int, reason, page string, a answer) answer {
	a.status = status
	a.close = a.close || c.close
	a.out = p.response(x, c, status, reason, nil, []hdr{
		{"Content-Length", strconv.Itoa(len(page))}, {"Content-Type", "text/html"}}, []byte(page))
	return a
}

// badRequest is IIS's answer to what it cannot parse.
func (p *iis) badRequest(x *exchange, a answer) answer {
	a.status, a.close = 400, true
	if a.action == "" {
		a.action = "bad-request"
	}
	a.out = p.response(x, conn{}, 400, "Bad Request", nil, []hdr{
		{"Content-Type", "text/html"}, {"Content-Length", strconv.Itoa(len(iisParamIncorrect))}}, []byte(iisParamIncorrect))
	return a
}

// iisETag writes an ETag as IIS 5.0 does: each byte of the file time
// (a Windows FILETIME, little-endian) in hex without padding, a colon,
// the metabase change number.
func iisETag(t time.Time, change int) string {
	ft := uint64(t.Unix()+11644473600)*10000000 + uint64(t.Nanosecond()/100)
	b := make([]byte, 0, 40)
	b = append(b, '"')
	for i := 0; i < 8; i++ {
		b = strconv.AppendUint(b, ft>>(8*i)&0xff, 16)
	}
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(change), 16)
	return string(append(b, '"'))
}

func contentType(ext string) string {
	switch ext {
	case ".htm", ".html", ".asp", ".stm":
		return "text/html"
	case ".gif":
		return "image/gif"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".txt", ".ini", ".log", ".bat":
		return "text/plain"
	case ".xml":
		return "text/xml"
	}
	return "application/octet-stream"
}

// requestHost is the host a URL the server builds should name: the Host
// header, else the persona's address, else the address the client reached.
func (p *iis) requestHost(x *exchange) string {
	if h, ok := x.req.Header("Host"); ok && h != "" && !containsAny(h, "\r\n\"<> ") {
		return h
	}
	if p.cfg.Persona.Address != "" {
		return p.cfg.Persona.Address
	}
	return x.local.Addr().Unmap().String()
}

var davMethods = map[string]bool{
	"PROPFIND": true, "PROPPATCH": true, "MKCOL": true, "COPY": true, "MOVE": true,
	"LOCK": true, "UNLOCK": true, "SEARCH": true, "PUT": true, "DELETE": true,
}

func (p *iis) answer(x *exchange) answer {
	req := x.req
	if req.Malformed != "" {
		return p.badRequest(x, answer{action: "malformed", keep: req.LongLine})
	}
	if req.Version == "" {
		return p.simple(x)
	}
	rawPath, rawQuery, _ := req.rawPathQuery()
	if !strings.HasPrefix(req.Version, "HTTP/1.") || (req.URI != "*" && !strings.HasPrefix(rawPath, "/")) ||
		(req.URI == "*" && req.Method != "OPTIONS") {
		return p.badRequest(x, answer{})
	}
	c := p.connFor(x)
	a := answer{query: rawQuery}
	switch {
	case req.Method == "OPTIONS":
		a.action, a.status, a.close, a.path = "options", 200, c.close, rawPath
		a.out = p.response(x, c, 200, "OK", nil, []hdr{
			{"MS-Author-Via", "DAV"}, {"Content-Length", "0"}, {"Accept-Ranges", "none"},
			{"DASL", "<DAV:sql>"}, {"DAV", "1, 2"},
			{"Public", "OPTIONS, TRACE, GET, HEAD, DELETE, PUT, POST, COPY, MOVE, MKCOL, PROPFIND, PROPPATCH, LOCK, UNLOCK, SEARCH"},
			{"Allow", "OPTIONS, TRACE, GET, HEAD, COPY, PROPFIND, SEARCH, LOCK, UNLOCK"},
			{"Cache-Control", "private"}}, nil)
		return a
	case req.Method == "TRACE":
		a.action, a.status, a.close, a.path = "trace", 200, c.close, rawPath
		a.out = p.response(x, c, 200, "OK", nil, []hdr{
			{"Content-Type", "message/http"}, {"Content-Length", strconv.Itoa(len(req.Head))}}, req.Head)
		return a
	case req.Method == "GET" || req.Method == "HEAD" || req.Method == "POST":
		return p.get(x, c, rawPath, a)
	case davMethods[req.Method]:
		return p.dav(x, c, rawPath, a)
	}
	a.action = "not-implemented"
	return p.errorPage(x, c, 501, "Not Implemented", iis501, a)
}

// simple answers an HTTP/0.9 request: the entity alone, then close.
func (p *iis) simple(x *exchange) answer {
	a := answer{close: true, action: "simple"}
	if x.req.Method != "GET" {
		return p.badRequest(x, a)
	}
	rawPath, q, _ := x.req.rawPathQuery()
	t := decodeIIS(rawPath, p.vdirs)
	a.path, a.query = t.url, q
	f := p.hosts.get(x.remote.Addr(), p.tree)
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.fs.Stat(t.phys)
	if n != nil && n.Dir {
		n = f.fs.Stat(append(t.phys, p.page))
	}
	if n == nil || n.Dir || n.Data == nil || !t.vd.read {
		a.status, a.out = 404, []byte(iis404)
		return a
	}
	a.status, a.out, a.action = 200, append([]byte(nil), n.Data...), "simple:"+strings.ToLower(n.Name)
	return a
}

func (p *iis) get(x *exchange, c conn, rawPath string, a answer) answer {
	req := x.req
	t := decodeIIS(rawPath, p.vdirs)
	a.path = t.url
	if t.climbs {
		a.action = "not-found"
		return p.errorPage(x, c, 404, "Object Not Found", iis404, a)
	}
	// Script maps that run whether or not the file is there.
	switch t.ext {
	case ".ida", ".idq":
		return p.ida(x, t, a)
	case ".printer":
		if h, _ := req.Header("Host"); len(h) > 256 {
			a.action, a.hold, a.keep = "printer:overflow", true, true
			return a
		}
	}
	if req.Method == "POST" && req.Version != "HTTP/1.0" && !req.Chunked {
		if _, ok := req.Header("Content-Length"); !ok {
			a.action = "length-required"
			return p.errorPage(x, conn{close: true}, 411, "Length Required", iis411, a)
		}
	}
	f := p.hosts.get(x.remote.Addr(), p.tree)
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.fs.Stat(t.phys)
	if t.program {
		a.keep = true
		if n == nil || n.Dir {
			a.action = "not-found"
			return p.errorPage(x, c, 404, "Object Not Found", iis404, a)
		}
		if t.ext == ".dll" {
			return p.isapi(x, c, n, t, a)
		}
		return p.cgi(x, c, f.fs, n, t, a)
	}
	if n == nil {
		a.action = "not-found"
		return p.errorPage(x, c, 404, "Object Not Found", iis404, a)
	}
	if n.Dir {
		if !t.slash {
			loc := "http://" + p.requestHost(x) + rawPath + "/"
			body := iisMoved(loc)
			a.action, a.status, a.close = "redirect", 302, c.close
			var b bytes.Buffer
			b.WriteString("HTTP/1.1 302 Object Moved\r\nLocation: " + loc + "\r\nServer: " + p.server + "\r\n")
			b.WriteString("Date: " + httpDate(x.now) + "\r\n")
			if c.header != "" {
				b.WriteString("Connection: " + c.header + "\r\n")
			}
			b.WriteString("Content-Type: text/html\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
			if req.Method != "HEAD" {
				b.WriteString(body)
			}
			a.out = b.Bytes()
			return a
		}
		if d := f.fs.Stat(append(t.phys, p.page)); d != nil && !d.Dir && d.Data != nil && t.vd.read {
			if req.Method == "POST" {
				a.action = "method-denied"
				return p.errorPage(x, c, 405, "Method not allowed", iis405, a)
			}
			loc := "http://" + p.requestHost(x) + strings.TrimSuffix(rawPath, "/") + "/" + d.Name
			return p.static(x, c, d, []hdr{{"Content-Location", loc}}, a)
		}
		a.action = "listing-denied"
		return p.errorPage(x, c, 403, "Access Forbidden", iisListingDenied, a)
	}
	switch {
	case t.ext == ".exe" || t.ext == ".com" || t.ext == ".dll":
		a.action = "execute-denied"
		return p.errorPage(x, c, 403, "Access Forbidden", iis403Execute, a)
	case !t.vd.read || n.Data == nil:
		a.action = "read-denied"
		return p.errorPage(x, c, 403, "Access Forbidden", iis403Read, a)
	case req.Method == "POST":
		a.action = "method-denied"
		return p.errorPage(x, c, 405, "Method not allowed", iis405, a)
	}
	return p.static(x, c, n, nil, a)
}

func (p *iis) static(x *exchange, c conn, n *shell.Node, pre []hdr, a answer) answer {
	ext := ""
	if i := strings.LastIndexByte(n.Name, '.'); i >= 0 {
		ext = strings.ToLower(n.Name[i:])
	}
	a.action, a.status, a.close = "static:"+strings.ToLower(n.Name), 200, c.close
	a.out = p.response(x, c, 200, "OK", pre, []hdr{
		{"Content-Type", contentType(ext)}, {"Accept-Ranges", "bytes"},
		{"Last-Modified", httpDate(n.Mod)}, {"ETag", iisETag(n.Mod, p.change)},
		{"Content-Length", strconv.Itoa(len(n.Data))}}, n.Data)
	return a
}

// ida answers a request for Index Server's .ida and .idq: a long query is
// CodeRed's overflow, which on an unpatched server never answers; a short
// one gets Index Server's complaint, with the physical path it gave away.
func (p *iis) ida(x *exchange, t target, a answer) answer {
	a.keep = true
	if len(a.query) > p.cfg.IdaOverflow {
		a.action, a.hold = "ida:overflow", true
		return a
	}
	body := "<HTML>The IDQ file " + physString(t.phys) + " could not be found."
	a.action, a.status, a.close = "ida:not-found", 200, true
	a.out = p.response(x, conn{}, 200, "OK", nil, []hdr{{"Content-Type", "text/html"}}, []byte(body))
	return a
}

// isapi answers an ISAPI extension: a system DLL that is not one fails to
// load; a DLL the attacker put there (Nimda's Admin.dll) runs, says
// nothing and the connection ends.
func (p *iis) isapi(x *exchange, c conn, n *shell.Node, t target, a answer) answer {
	a.action = "isapi:" + strings.ToLower(n.Name)
	if p.base.Stat(t.phys) == nil {
		a.close = true
		return a
	}
	body := "<html><head><title>Error</title></head><body>The specified procedure could not be found. </body></html>"
	a.status, a.close = 500, true
	a.out = p.response(x, conn{}, 500, "Server Error", nil, []hdr{
		{"Content-Type", "text/html"}, {"Content-Length", strconv.Itoa(len(body))}}, []byte(body))
	return a
}

// cgiArgs makes the command line IIS gives a CGI program from the query:
// with no '=' in it, the query split at '+' and each piece decoded.
func cgiArgs(q string) string {
	if q == "" || strings.Contains(q, "=") {
		return ""
	}
	parts := strings.Split(q, "+")
	for i, s := range parts {
		parts[i] = percentDecode(s, false)
	}
	return strings.Join(parts, " ")
}

// slashC returns the command cmd.exe /c (or /k) runs.
func slashC(args string) (string, bool) {
	a := strings.TrimLeft(args, " ")
	if len(a) >= 2 && a[0] == '/' && (a[1]|0x20 == 'c' || a[1]|0x20 == 'k') && (len(a) == 2 || a[2] == ' ' || a[2] == '"') {
		return strings.TrimLeft(a[2:], " "), true
	}
	return "", false
}

// cgi runs a program in an executable directory: cmd.exe (and its copy
// root.exe) or one of the tools the fake shell knows, with the query as
// its command line, and wraps what it printed as IIS 5.0 did: not being
// HTTP headers, it comes back inside the famous 502 "CGI Error" page.
func (p *iis) cgi(x *exchange, c conn, fs *shell.FS, n *shell.Node, t target, a answer) answer {
	name := strings.ToLower(n.Name)
	a.action = "cgi:" + name
	args := cgiArgs(a.query)
	cwd := physString(t.vd.phys)
	st := p.cmd.NewState(fs, cwd)
	now := x.now
	st.Now = func() time.Time { return now }
	sh := &shell.Shell{Dialect: p.cmd, State: st}
	out := ""
	switch n.Program {
	case "cmd":
		if line, ok := slashC(args); ok {
			ex := sh.Exec(line)
			a.runs = append(a.runs, run{line: line, ex: ex})
			out = ex.Output
		} else {
			out = p.cmd.Banner(cwd)
		}
	case "":
		// A program the fake does not know: it printed nothing.
	default:
		line := strings.TrimSuffix(name, t.ext)
		if args != "" {
			line += " " + args
		}
		ex := sh.Exec(line)
		a.runs = append(a.runs, run{line: line, ex: ex})
		out = ex.Output
	}
	if resp, ok := p.cgiHeaders(x, out); ok {
		a.status, a.close, a.out = resp.status, true, resp.out
		return a
	}
	body := iisCGIHead + out + iisCGITail
	a.status, a.close = 502, a.close || c.close
	a.out = p.response(x, c, 502, "Gateway Error", nil, []hdr{
		{"Content-Length", strconv.Itoa(len(body))}, {"Content-Type", "text/html"}}, []byte(body))
	return a
}

// cgiHeaders passes through output that begins with CGI headers, as IIS
// does for a well-behaved CGI program.
func (p *iis) cgiHeaders(x *exchange, out string) (answer, bool) {
	end := strings.Index(out, "\r\n\r\n")
	sep := 4
	if end < 0 {
		if end = strings.Index(out, "\n\n"); end < 0 {
			return answer{}, false
		}
		sep = 2
	}
	status, reason := 200, "OK"
	var hs []hdr
	useful := false
	for _, l := range strings.Split(strings.ReplaceAll(out[:end], "\r\n", "\n"), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok || !isToken(k) || k == "" {
			return answer{}, false
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "status":
			code, r, _ := strings.Cut(v, " ")
			if n, err := strconv.Atoi(code); err == nil && n >= 100 && n < 600 {
				status, reason = n, r
			}
			useful = true
			continue
		case "location":
			if status == 200 {
				status, reason = 302, "Object Moved"
			}
			useful = true
		case "content-type":
			useful = true
		}
		hs = append(hs, hdr{k, v})
	}
	if !useful {
		return answer{}, false
	}
	return answer{status: status, out: p.response(x, conn{}, status, reason, nil, hs, []byte(out[end+sep:]))}, true
}

// dav answers WebDAV methods: an enormous URI is the ntdll.dll overflow
// (MS03-007), which answers nothing; reads answer, writes are refused as
// on a site without write access.
func (p *iis) dav(x *exchange, c conn, rawPath string, a answer) answer {
	req := x.req
	if len(req.URI) > 65535 {
		a.action, a.hold, a.keep = "webdav:overflow", true, true
		return a
	}
	t := decodeIIS(rawPath, p.vdirs)
	a.path = t.url
	f := p.hosts.get(x.remote.Addr(), p.tree)
	f.mu.Lock()
	n := f.fs.Stat(t.phys)
	f.mu.Unlock()
	switch req.Method {
	case "PROPFIND", "SEARCH":
		if n == nil || t.climbs {
			a.action = "webdav:not-found"
			return p.errorPage(x, c, 404, "Object Not Found", iis404, a)
		}
		href := "http://" + p.requestHost(x) + t.url
		body := `<?xml version="1.0"?><a:multistatus xmlns:b="urn:uuid:c2f41010-65b3-11d1-a29f-00aa00c14882/" xmlns:c="xml:" xmlns:a="DAV:">`
		if req.Method == "PROPFIND" {
			res := ""
			if n.Dir {
				res = "<a:collection/>"
			}
			body += `<a:response><a:href>` + xmlEscape(href) + `</a:href><a:propstat><a:status>HTTP/1.1 200 OK</a:status><a:prop>` +
				`<a:getcontentlength b:dt="int">` + strconv.FormatInt(n.Size, 10) + `</a:getcontentlength>` +
				`<a:creationdate b:dt="dateTime.tz">` + n.Mod.UTC().Format("2006-01-02T15:04:05.000Z") + `</a:creationdate>` +
				`<a:displayname>` + xmlEscape(n.Name) + `</a:displayname>` +
				`<a:getlastmodified b:dt="dateTime.rfc1123">` + httpDate(n.Mod) + `</a:getlastmodified>` +
				`<a:resourcetype>` + res + `</a:resourcetype><a:isroot b:dt="boolean">0</a:isroot>` +
				`</a:prop></a:propstat></a:response>`
		}
		body += `</a:multistatus>`
		a.action, a.status, a.close = "webdav:"+strings.ToLower(req.Method), 207, c.close
		a.out = p.response(x, c, 207, "Multi-Status", nil, []hdr{
			{"Content-Type", "text/xml"}, {"Content-Length", strconv.Itoa(len(body))}}, []byte(body))
		return a
	}
	a.action = "webdav:denied"
	return p.errorPage(x, c, 403, "Access Forbidden", iis403, a)
}

func xmlEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
