package http

import (
	"bytes"
	"strings"

	"github.com/smallpot/smallpot/internal/event"
)

// goahead is the linux-iot persona: the GoAhead-Webs server of a home
// router's admin pages. / sends the browser to a login page whose form
// records the credentials tried; configured prefixes ask for Basic
// credentials; everything else is GoAhead's 404. GoAhead answers one
// request per connection.
type goahead struct {
	cfg *Config
	p   Persona
}

func newGoAhead(cfg *Config) *goahead { return &goahead{cfg: cfg, p: cfg.Persona} }

// goaheadDate is GoAhead's asctime-like Date header.
const goaheadDate = "Mon Jan 2 15:04:05 2006"

// GoAhead's reason phrases (websErrors).
var goaheadReasons = map[int]string{
	200: "OK", 302: "Redirect", 400: "Page not found", 401: "Unauthorized",
	404: "Site or Page Not Found", 405: "Access Denied", 500: "Web Error",
}

// response writes GoAhead's header: status, Server, Date, the extra
// headers, the no-cache pair, Content-Type and Location. Redirects say
// HTTP/1.0, the rest HTTP/1.1, as GoAhead 2.5 does.
func (g *goahead) response(x *exchange, status int, extra []hdr, location, body string) []byte {
	proto := "HTTP/1.1"
	if status == 302 || status == 200 {
		proto = "HTTP/1.0"
	}
	var b bytes.Buffer
	b.WriteString(proto + " " + itoa(status) + " " + goaheadReasons[status] + "\r\n")
	b.WriteString("Server: " + g.p.Server + "\r\n")
	b.WriteString("Date: " + x.now.UTC().Format(goaheadDate) + "\r\n")
	for _, h := range extra {
		b.WriteString(h.k + ": " + h.v + "\r\n")
	}
	b.WriteString("Pragma: no-cache\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n")
	if location != "" {
		b.WriteString("Location: " + location + "\r\n")
	}
	b.WriteString("\r\n")
	if x.req.Method != "HEAD" {
		b.WriteString(body)
	}
	return b.Bytes()
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

func (g *goahead) errorResp(x *exchange, status int, msg string, a answer) answer {
	var extra []hdr
	if status == 401 {
		extra = []hdr{{"WWW-Authenticate", `Basic realm="` + g.p.Realm + `"`}}
	}
	a.status, a.close = status, true
	a.out = g.response(x, status, extra, "", goaheadError(goaheadReasons[status], msg)+"\r\n")
	return a
}

func (g *goahead) redirect(x *exchange, path string, a answer) answer {
	host := ""
	if h, ok := x.req.host(); ok && h != "" && !containsAny(h, "\r\n\"<> ") {
		host = h
	} else if g.p.Address != "" {
		host = g.p.Address
	} else {
		host = x.local.Addr().Unmap().String()
	}
	url := "http://" + host + path
	a.status, a.close = 302, true
	a.out = g.response(x, 302, nil, url, goaheadMoved(url)+"\r\n")
	return a
}

func (g *goahead) answer(x *exchange) answer {
	req := &x.req
	a := answer{close: true}
	if req.Malformed != "" {
		a.action, a.keep = "malformed", req.LongLine
		return g.errorResp(x, 400, "Bad HTTP request", a)
	}
	rawPath, rawQuery, _ := req.rawPathQuery()
	path := percentDecode(rawPath, false)
	a.path, a.query = path, rawQuery
	switch req.Method {
	case "GET", "HEAD", "POST":
	default:
		a.action = "bad-method"
		return g.errorResp(x, 400, "Bad request type", a)
	}
	if !strings.HasPrefix(path, "/") {
		a.action = "bad-url"
		return g.errorResp(x, 400, "Bad URL format", a)
	}
	switch {
	case path == "/" || strings.EqualFold(path, "/index.asp") || strings.EqualFold(path, "/index.html") || strings.EqualFold(path, "/home.asp"):
		a.action = "redirect:login"
		return g.redirect(x, g.p.LoginPage, a)
	case strings.EqualFold(path, g.p.LoginPage):
		a.action, a.status = "page:login", 200
		a.out = g.response(x, 200, nil, "", routerLogin(g.p.Title, g.p.LoginForm, strings.Contains(rawQuery, "err")))
		return a
	case strings.EqualFold(path, g.p.LoginForm):
		a.action = "login:form"
		if l := formLogin(req); l != nil {
			a.logins = append(a.logins, l)
		}
		return g.redirect(x, g.p.LoginPage+"?err=1", a)
	}
	for _, pre := range g.p.Protected {
		if pre != "" && strings.HasPrefix(strings.ToLower(path), strings.ToLower(pre)) {
			a.action = "auth-required"
			return g.errorResp(x, 401, "Access to this document requires a User ID", a)
		}
	}
	a.action = "not-found"
	return g.errorResp(x, 404, "Cannot open URL", a)
}

// formLogin reads the credentials of a urlencoded login form, or nil when
// the body names none.
func formLogin(req *Request) *event.Login {
	body := string(req.Body)
	if body == "" {
		_, body, _ = req.rawPathQuery()
	}
	var user, pass string
	found := false
	for _, kv := range strings.Split(body, "&") {
		k, v, _ := strings.Cut(kv, "=")
		k = strings.ToLower(formDecode(k))
		switch k {
		case "username", "user", "login", "name", "user_name", "loginuser", "admin_name", "usr":
			user, found = formDecode(v), true
		case "password", "pass", "pwd", "passwd", "loginpass", "admin_pwd", "psw":
			pass, found = formDecode(v), true
		}
	}
	if !found {
		return nil
	}
	return &event.Login{User: user, Password: pass, Method: "form"}
}

func formDecode(s string) string {
	return percentDecode(strings.ReplaceAll(s, "+", " "), false)
}
