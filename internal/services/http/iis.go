package http

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smallpot/smallpot/internal/shell"
)

// iis is the Microsoft IIS 5.0 persona of a Windows 2000 Server.
type iis struct {
	cfg      *Config
	server   string
	page     string // default document's name
	change   int
	cmd      *shell.Cmd
	tree     *shell.Tree
	base     *shell.FS // the tree unchanged, to tell system files from dropped ones
	vdirs    []vdir
	root     target // "/" decoded
	hosts    *hosts
	release  time.Time
	pages    map[*shell.Node]*staticPage // the base tree's files, pre-rendered
	errPages []*errorKind                // the error pages whose answers are kept
	date     atomic.Pointer[dateText]    // the Date of the last answer
}

// dateText is the Date header's value for one second.
type dateText struct {
	sec  int64
	text string
}

// appendDate appends t as appendHTTPDate does; within the second of the
// last answer, by copying that answer's text.
func (p *iis) appendDate(b []byte, t time.Time) []byte {
	sec := t.Unix()
	if d := p.date.Load(); d != nil && d.sec == sec {
		return append(b, d.text...)
	}
	start := len(b)
	b = appendHTTPDate(b, t)
	p.date.Store(&dateText{sec: sec, text: string(b[start:])})
	return b
}

// appendDateConn appends the Date line and, when c has one, the
// Connection line: the headers every answer has between its own.
func (p *iis) appendDateConn(b []byte, now time.Time, c conn) []byte {
	b = append(b, "Date: "...)
	b = p.appendDate(b, now)
	b = append(b, "\r\n"...)
	if c.header != "" {
		b = append(b, "Connection: "...)
		b = append(b, c.header...)
		b = append(b, "\r\n"...)
	}
	return b
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
	for i := range vdirs {
		vd := &vdirs[i]
		if vd.node = tree.Lookup(nil, vd.phys); vd.node != nil {
			vd.index = tree.Lookup(vd.node, []string{p.DefaultPage})
		}
	}
	s := &iis{
		cfg: cfg, server: p.Server, page: p.DefaultPage, change: p.ETagChange,
		cmd: &shell.Cmd{Version: p.OSVersion, Hostname: p.Hostname, Address: p.Address,
			Serial: p.VolumeSerial, Free: p.FreeBytes},
		tree: tree, base: shell.NewFS(tree), vdirs: vdirs,
		hosts: newHosts(cfg.MaxHosts), release: release,
	}
	s.pages, s.errPages = s.staticPages(), errorKinds()
	for i := range s.vdirs {
		s.vdirs[i].indexPage = s.pages[s.vdirs[i].index]
	}
	s.root = decodeIIS("/", s.vdirs)
	return s, nil
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

// decode is decodeIIS(raw, p.vdirs); the path most requests ask for,
// "/", is decoded once. Nothing of a target is written once made.
func (p *iis) decode(raw string) target {
	if raw == "/" {
		return p.root
	}
	return decodeIIS(raw, p.vdirs)
}

// stat returns the entry of fs at t's physical path, or with name, at
// the entry name in it: fs.Stat(t.phys) or fs.Stat(append(t.phys, name)).
// A disk without changes of its own is the base tree, where the path is
// looked up from its virtual directory's folder, found once.
func (p *iis) stat(fs *shell.FS, t *target, name string) *shell.Node {
	vd := t.vd
	if vd.node == nil || fs.Changed() || len(t.phys) < len(vd.phys) || !slices.Equal(t.phys[:len(vd.phys)], vd.phys) {
		if name != "" {
			return fs.Stat(append(t.phys, name))
		}
		return fs.Stat(t.phys)
	}
	rest := t.phys[len(vd.phys):]
	if len(rest) == 0 && name == p.page {
		// The folder's default document, what "/" asks for: the tree
		// does not change once in use, so it is found once.
		return vd.index
	}
	n := p.tree.Lookup(vd.node, rest)
	if name != "" && n != nil {
		n = p.tree.Lookup(n, []string{name})
	}
	return n
}

// conn is the connection decision for a response: whether it closes
// and the Connection header that says so.
type conn struct {
	header string
	close  bool
}

func (p *iis) connFor(x *exchange) conn {
	req := &x.req
	if req.Version != "HTTP/1.0" {
		if req.connectionHas("close") || x.last {
			return conn{"close", true}
		}
		return conn{}
	}
	if req.connectionHas("keep-alive") && !x.last {
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
	b = p.appendDateConn(b, x.now, c)
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
	var slot *atomic.Pointer[keptAnswer]
	for _, e := range p.errPages {
		if e.status == status && e.reason == reason && e.page == page {
			slot = e.kept.slot(x.req.Method == "HEAD", c, nil)
			break
		}
	}
	sec := x.now.Unix()
	if a.out = keptOut(slot, sec, nil); a.out != nil {
		return a
	}
	a.out = p.response(x, c, status, reason, nil, []hdr{
		{"Content-Length", strconv.Itoa(len(page))}, {"Content-Type", "text/html"}}, []byte(page))
	keepOut(slot, sec, nil, a.out)
	return a
}

// errorKind is one of the error pages errorPage answers with, and its
// last answers.
type errorKind struct {
	status       int
	reason, page string
	kept         keptAnswers
}

// errorKinds are the error pages whose answers are kept, the commonest
// first.
func errorKinds() []*errorKind {
	return []*errorKind{
		{status: 404, reason: "Object Not Found", page: iis404},
		{status: 403, reason: "Access Forbidden", page: iis403Execute},
		{status: 403, reason: "Access Forbidden", page: iis403Read},
		{status: 403, reason: "Access Forbidden", page: iisListingDenied},
		{status: 405, reason: "Method not allowed", page: iis405},
		{status: 501, reason: "Not Implemented", page: iis501},
		{status: 403, reason: "Access Forbidden", page: iis403},
		{status: 411, reason: "Length Required", page: iis411},
	}
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
	if h, ok := x.req.host(); ok && h != "" && !hasURLBreak(h) {
		return h
	}
	if p.cfg.Persona.Address != "" {
		return p.cfg.Persona.Address
	}
	return x.local.Addr().Unmap().String()
}

// hasURLBreak reports whether s holds a byte that may not be in a URL the
// server writes: containsAny(s, "\r\n\"<> ").
func hasURLBreak(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r', '\n', '"', '<', '>', ' ':
			return true
		}
	}
	return false
}

var davMethods = map[string]bool{
	"PROPFIND": true, "PROPPATCH": true, "MKCOL": true, "COPY": true, "MOVE": true,
	"LOCK": true, "UNLOCK": true, "SEARCH": true, "PUT": true, "DELETE": true,
}

func (p *iis) answer(x *exchange) answer {
	req := &x.req
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
	t := p.decode(rawPath)
	a.path, a.query = t.url, q
	f := p.hosts.get(x.remote.Addr(), p.tree)
	f.mu.Lock()
	defer f.mu.Unlock()
	n := p.stat(f.fs, &t, "")
	if n != nil && n.Dir {
		n = p.stat(f.fs, &t, p.page)
	}
	if n == nil || n.Dir || n.Data == nil || !t.vd.read {
		a.status, a.out = 404, []byte(iis404)
		return a
	}
	a.status, a.out, a.action = 200, append([]byte(nil), n.Data...), "simple:"+strings.ToLower(n.Name)
	return a
}

func (p *iis) get(x *exchange, c conn, rawPath string, a answer) answer {
	req := &x.req
	t := p.decode(rawPath)
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
		if h, _ := req.host(); len(h) > 256 {
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
	if t.program {
		return p.program(x, c, f, t, a)
	}
	n, doc := p.find(f, &t)
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
		if doc != nil && !doc.Dir && doc.Data != nil && t.vd.read {
			if req.Method == "POST" {
				a.action = "method-denied"
				return p.errorPage(x, c, 405, "Method not allowed", iis405, a)
			}
			pg := t.vd.indexPage
			if doc != t.vd.index {
				pg = p.pages[doc] // the host's own
			}
			return p.file(x, c, doc, pg, &location{p.requestHost(x), strings.TrimSuffix(rawPath, "/")}, a)
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

// find returns the entry of the host's disk at t and, for a directory
// asked for with its final '/', its default document. The disk is locked
// for the look-ups alone: what is answered from a file is read from its
// node, which a change to the disk replaces rather than writes.
func (p *iis) find(f *hostFS, t *target) (n, doc *shell.Node) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n = p.stat(f.fs, t, "")
	if n != nil && n.Dir && t.slash {
		doc = p.stat(f.fs, t, p.page)
	}
	return n, doc
}

// program answers a request for a CGI program or an ISAPI extension, the
// host's disk locked throughout: what runs may change it.
func (p *iis) program(x *exchange, c conn, f *hostFS, t target, a answer) answer {
	f.mu.Lock()
	defer f.mu.Unlock()
	a.keep = true
	n := p.stat(f.fs, &t, "")
	if n == nil || n.Dir {
		a.action = "not-found"
		return p.errorPage(x, c, 404, "Object Not Found", iis404, a)
	}
	if t.ext == ".dll" {
		return p.isapi(x, c, n, t, a)
	}
	return p.cgi(x, c, f.fs, n, t, a)
}

// location is where a directory's default document was found: the
// Content-Location header names http://host+dir+"/"+the file's name.
type location struct{ host, dir string }

// staticPage is what the answers of a file of the base tree share: the
// action, the headers after Connection, and the last answers made.
type staticPage struct {
	action string
	tail   []byte
	kept   keptAnswers
}

// keptAnswers holds, for each kind of an answer that differs only by its
// Date (GET or HEAD, and the Connection header: none, close, Keep-Alive),
// the last one made, whose bytes the answers of the same second (and
// Content-Location) share.
type keptAnswers [2][3]atomic.Pointer[keptAnswer]

// keptAnswer is an answer never changed once made: a.out may be these
// very bytes.
type keptAnswer struct {
	sec       int64 // of the Date
	loc       bool  // Content-Location is there, naming host and dir
	host, dir string
	out       []byte
}

// maxKeptLocation bounds the Host and path a kept answer names.
const maxKeptLocation = 256

// slot returns where the last answer of this kind is kept, or nil for a
// kind not kept.
func (k *keptAnswers) slot(head bool, c conn, loc *location) *atomic.Pointer[keptAnswer] {
	if loc != nil && len(loc.host)+len(loc.dir) > maxKeptLocation {
		return nil
	}
	h := 0
	if head {
		h = 1
	}
	switch c.header {
	case "":
		return &k[h][0]
	case "close":
		return &k[h][1]
	case "Keep-Alive":
		return &k[h][2]
	}
	return nil
}

// keptOut returns the bytes kept in slot for the second sec and loc, or
// nil.
func keptOut(slot *atomic.Pointer[keptAnswer], sec int64, loc *location) []byte {
	if slot == nil {
		return nil
	}
	if k := slot.Load(); k != nil && k.sec == sec && k.loc == (loc != nil) &&
		(loc == nil || (k.host == loc.host && k.dir == loc.dir)) {
		return k.out
	}
	return nil
}

// keepOut keeps out in slot, for the answers of second sec and loc.
func keepOut(slot *atomic.Pointer[keptAnswer], sec int64, loc *location, out []byte) {
	if slot == nil {
		return
	}
	k := &keptAnswer{sec: sec, loc: loc != nil, out: out}
	if loc != nil {
		// Copies: the request's strings are pieces of its buffer.
		k.host, k.dir = strings.Clone(loc.host), strings.Clone(loc.dir)
	}
	slot.Store(k)
}

// staticPages pre-renders the answers' constant parts of every file of
// the base tree with content. The base tree does not change once in use,
// and a file an attacker wrote is another node.
func (p *iis) staticPages() map[*shell.Node]*staticPage {
	pages := map[*shell.Node]*staticPage{}
	var walk func(parts []string)
	walk = func(parts []string) {
		kids, _ := p.base.List(parts)
		for _, n := range kids {
			switch {
			case n.Dir:
				walk(append(parts[:len(parts):len(parts)], n.Name))
			case n.Data != nil:
				pages[n] = &staticPage{action: staticAction(n), tail: p.appendStaticTail(nil, n)}
			}
		}
	}
	walk(nil)
	return pages
}

func staticAction(n *shell.Node) string { return "static:" + strings.ToLower(n.Name) }

// appendStaticTail appends the headers of a file's answer that follow
// Connection, and the blank line.
func (p *iis) appendStaticTail(b []byte, n *shell.Node) []byte {
	ext := ""
	if i := strings.LastIndexByte(n.Name, '.'); i >= 0 {
		ext = strings.ToLower(n.Name[i:])
	}
	b = append(b, "Content-Type: "...)
	b = append(b, contentType(ext)...)
	b = append(b, "\r\nAccept-Ranges: bytes\r\nLast-Modified: "...)
	b = appendHTTPDate(b, n.Mod)
	b = append(b, "\r\nETag: "...)
	b = append(b, iisETag(n.Mod, p.change)...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(n.Data)), 10)
	return append(b, "\r\n\r\n"...)
}

// static answers with a file: status line, Server, Content-Location when
// loc is set, Date, Connection, the file's headers and (but for HEAD) its
// content, as response writes them, in one buffer of the size it needs.
func (p *iis) static(x *exchange, c conn, n *shell.Node, loc *location, a answer) answer {
	return p.file(x, c, n, p.pages[n], loc, a)
}

// file is static for a file whose page is pg, p.pages[n] (nil for a file
// not of the base tree).
func (p *iis) file(x *exchange, c conn, n *shell.Node, pg *staticPage, loc *location, a answer) answer {
	head := x.req.Method == "HEAD"
	sec := x.now.Unix()
	var slot *atomic.Pointer[keptAnswer]
	if pg == nil {
		pg = &staticPage{action: staticAction(n), tail: p.appendStaticTail(nil, n)}
	} else {
		slot = pg.kept.slot(head, c, loc)
	}
	a.action, a.status, a.close = pg.action, 200, c.close
	if a.out = keptOut(slot, sec, loc); a.out != nil {
		return a
	}
	body := n.Data
	if head {
		body = nil
	}
	const status = "HTTP/1.1 200 OK\r\nServer: "
	size := len(status) + len(p.server) + len("\r\nDate: \r\n") + len(httpDateLayout) + len(pg.tail) + len(body)
	if loc != nil {
		size += len("Content-Location: http://\r\n/") + len(loc.host) + len(loc.dir) + len(n.Name)
	}
	if c.header != "" {
		size += len("Connection: \r\n") + len(c.header)
	}
	b := make([]byte, 0, size)
	b = append(b, status...)
	b = append(b, p.server...)
	b = append(b, "\r\n"...)
	if loc != nil {
		b = append(b, "Content-Location: http://"...)
		b = append(b, loc.host...)
		b = append(b, loc.dir...)
		b = append(b, '/')
		b = append(b, n.Name...)
		b = append(b, "\r\n"...)
	}
	b = p.appendDateConn(b, x.now, c)
	b = append(b, pg.tail...)
	a.out = append(b, body...)
	keepOut(slot, sec, loc, a.out)
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
	req := &x.req
	if len(req.URI) > 65535 {
		a.action, a.hold, a.keep = "webdav:overflow", true, true
		return a
	}
	t := p.decode(rawPath)
	a.path = t.url
	f := p.hosts.get(x.remote.Addr(), p.tree)
	f.mu.Lock()
	n := p.stat(f.fs, &t, "")
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
