package upnp

import (
	"context"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
)

// The description port: GET for the device and service descriptions,
// POST for SOAP control, SUBSCRIBE/UNSUBSCRIBE for eventing (answered,
// never sent), each persona with its own server's answers.

// reply is one answer to send.
type reply struct {
	Status int
	Reason string
	// Type is the Content-Type; Extra are headers after the persona's
	// own.
	Type  string
	Extra [][2]string
	Body  string
	// Plain marks an answer of the HTTP layer itself (HTTP.sys's error
	// pages), not of the device host.
	Plain bool
	// Close ends the connection after this answer.
	Close bool
}

// outcome is what a request led to.
type outcome struct {
	Reply  reply
	Action string
	Args   []event.Header
	// Sample keeps the body as a sample.
	Sample bool
	// Malformed overrides the request's own reason.
	Malformed string
}

// ServeTCP serves the requests of one connection: one for miniupnpd,
// up to MaxRequests kept alive for HTTP.sys.
func (s *Server) ServeTCP(ctx context.Context, sess *service.Session) {
	lim := httpLimits{Line: 8 << 10, Headers: 100, HeaderBytes: 32 << 10, Body: int(s.cfg.MaxBody)}
	if s.kind == kindWindows {
		lim.SkipEmpty = 4
	}
	rd := sess.Reader()
	for range s.cfg.MaxRequests {
		if ctx.Err() != nil {
			return
		}
		req, rerr := readRequest(rd, lim)
		if req == nil {
			return
		}
		if !req.Complete && req.Malformed == "" && rerr != nil {
			req.Malformed = "input ended inside the request"
		}
		o := s.route(sess, req)
		ev := &event.Request{Method: req.Method, URI: req.URI, Version: req.Version, Headers: req.Headers,
			BodyLen: req.BodyLen, Malformed: req.Malformed, Truncated: req.Truncated, Action: o.Action, Args: o.Args}
		if o.Malformed != "" && ev.Malformed == "" {
			ev.Malformed = o.Malformed
		}
		ev.Path, ev.Query, _ = strings.Cut(req.URI, "?")
		ev.Host, _ = req.header("Host")
		ev.UserAgent, _ = req.header("User-Agent")
		if len(req.Body) > 0 {
			ev.Body = append([]byte(nil), req.Body[:min(len(req.Body), int(s.cfg.EventBody))]...)
			if o.Sample || req.Truncated || len(req.Body) > int(s.cfg.SampleBody) {
				ev.Sample = s.sample(&sess.Recorder, req.Body, "upnp.soap")
			}
		}
		ev.Status = o.Reply.Status
		_, werr := sess.WriteString(s.render(req, &o.Reply))
		sess.Emit(ev)
		if werr != nil || rerr != nil || o.Reply.Close || req.Malformed != "" || req.Truncated || !s.keepAlive(req) {
			return
		}
	}
}

// keepAlive says whether the connection serves another request: never
// for miniupnpd; for HTTP.sys as HTTP/1.1 and 1.0 say.
func (s *Server) keepAlive(req *httpRequest) bool {
	if s.kind == kindMiniUPnPd {
		return false
	}
	c, _ := req.header("Connection")
	switch req.Version {
	case "HTTP/1.1":
		return !strings.EqualFold(strings.TrimSpace(c), "close")
	case "HTTP/1.0":
		return strings.EqualFold(strings.TrimSpace(c), "keep-alive")
	}
	return false
}

// route decides the answer.
func (s *Server) route(sess *service.Session, req *httpRequest) outcome {
	if s.kind == kindMiniUPnPd {
		return s.routeMiniUPnPd(sess, req)
	}
	return s.routeWindows(sess, req)
}

// miniupnpd's pages.
const (
	mini404 = "<HTML><HEAD><TITLE>404 Not Found</TITLE></HEAD><BODY><H1>Not Found</H1>The requested URL was not found on this server.</BODY></HTML>\r\n"
	mini501 = "<HTML><HEAD><TITLE>501 Not Implemented</TITLE></HEAD><BODY><H1>Not Implemented</H1>The HTTP Method is not implemented by this server.</BODY></HTML>\r\n"
	mini400 = "<html><body>Bad request</body></html>"
	typeXML = `text/xml; charset="utf-8"`
)

func (s *Server) routeMiniUPnPd(sess *service.Session, req *httpRequest) outcome {
	if req.Malformed != "" {
		return outcome{Reply: reply{Status: 400, Reason: "Bad Request", Type: "text/html", Body: mini400}, Action: "bad-request", Sample: true}
	}
	switch req.Method {
	case "GET":
		if doc, what := s.document(req.URI, sess.Local); doc != "" {
			return outcome{Reply: reply{Status: 200, Reason: "OK", Type: typeXML, Body: doc}, Action: what}
		}
		return outcome{Reply: reply{Status: 404, Reason: "Not Found", Type: "text/html", Body: mini404}, Action: "not-found"}
	case "POST":
		sa, ok := req.header("SOAPAction")
		if !ok {
			return outcome{Reply: reply{Status: 400, Reason: "Bad Request", Type: "text/html", Body: mini400}, Action: "soap:no-soapaction", Sample: len(req.Body) > 0}
		}
		// miniupnpd goes by SOAPAction alone, whatever the path, and
		// answers in the service type it names.
		svcType, action, ok := parseSOAPAction(sa)
		call := parseSOAP(req.Body)
		o := outcome{Action: "soap:" + action, Args: call.Args, Malformed: call.Malformed, Sample: call.Malformed != ""}
		if !ok {
			o.Action = "soap:"
			o.Reply = s.soapAnswer(nil, 401, "", "")
			return o
		}
		out, code := s.perform(nil, action, call, s.env(sess))
		o.Reply = s.soapAnswer(out, code, svcType, action)
		return o
	case "SUBSCRIBE":
		if s.tree.findService("event", req.URI) == nil {
			return outcome{Reply: reply{Status: 412, Reason: "Precondition Failed", Type: "text/html"}, Action: "subscribe:unknown"}
		}
		return outcome{Reply: reply{Status: 200, Reason: "OK", Type: typeXML,
			Extra: [][2]string{{"Timeout", "Second-1800"}, {"SID", s.newSID(sess)}}}, Action: "subscribe"}
	case "UNSUBSCRIBE":
		return outcome{Reply: reply{Status: 412, Reason: "Precondition Failed", Type: "text/html"}, Action: "unsubscribe"}
	}
	return outcome{Reply: reply{Status: 501, Reason: "Not Implemented", Type: "text/html", Body: mini501}, Action: "not-implemented"}
}

// HTTP.sys's error pages: the reason phrase is the title; the heading
// may say more.
func httpapiPage(status int, title, heading, text string) reply {
	body := `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">` + "\r\n" +
		"<HTML><HEAD><TITLE>" + title + "</TITLE>\r\n" +
		`<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>` + "\r\n" +
		"<BODY><h2>" + heading + "</h2>\r\n" +
		"<hr><p>HTTP Error " + strconv.Itoa(status) + ". " + text + "</p>\r\n</BODY></HTML>\r\n"
	return reply{Status: status, Reason: title, Type: "text/html; charset=us-ascii", Body: body, Plain: true, Close: true}
}

var (
	httpapi400      = httpapiPage(400, "Bad Request", "Bad Request", "The request is badly formed.")
	httpapi400Host  = httpapiPage(400, "Bad Request", "Bad Request - Invalid Hostname", "The request hostname is invalid.")
	httpapi404      = httpapiPage(404, "Not Found", "Not Found", "The requested resource is not found.")
	httpapi411      = httpapiPage(411, "Length Required", "Length Required", "The request must be chunked or have a content length.")
	httpapi505      = httpapiPage(505, "HTTP Version Not Supported", "HTTP Version Not Supported", "The HTTP version is not supported.")
	windowsISAPIURL = "/upnphost/udhisapi.dll"
)

func (s *Server) routeWindows(sess *service.Session, req *httpRequest) outcome {
	switch {
	case req.Malformed != "", req.Method == "", req.URI == "" || req.URI[0] != '/' && req.URI != "*":
		return outcome{Reply: httpapi400, Action: "bad-request", Sample: true}
	case req.Version != "HTTP/1.1" && req.Version != "HTTP/1.0":
		if strings.HasPrefix(req.Version, "HTTP/") {
			return outcome{Reply: httpapi505, Action: "bad-version"}
		}
		return outcome{Reply: httpapi400, Action: "bad-request"}
	}
	if h, ok := req.header("Host"); req.Version == "HTTP/1.1" && (!ok || strings.TrimSpace(h) == "") {
		return outcome{Reply: httpapi400Host, Action: "bad-request"}
	}
	path, _, _ := strings.Cut(req.URI, "?")
	if !strings.EqualFold(path, windowsISAPIURL) {
		return outcome{Reply: httpapi404, Action: "not-found"}
	}
	switch req.Method {
	case "GET", "HEAD":
		if doc, what := s.document(req.URI, sess.Local); doc != "" {
			return outcome{Reply: reply{Status: 200, Reason: "OK", Type: "text/xml", Body: doc}, Action: what}
		}
		return outcome{Reply: httpapi404, Action: "not-found"}
	case "POST", "M-POST":
		if _, ok := req.header("Content-Length"); !ok && len(req.Body) == 0 {
			if te, _ := req.header("Transfer-Encoding"); te == "" {
				return outcome{Reply: httpapi411, Action: "soap:no-length"}
			}
		}
		svc := s.tree.findService("control", req.URI)
		call := parseSOAP(req.Body)
		if svc == nil {
			return outcome{Reply: httpapi404, Action: "not-found", Args: call.Args, Sample: len(req.Body) > 0}
		}
		sa, ok := req.header("SOAPAction")
		if !ok && req.Method == "M-POST" {
			sa, ok = mpostSOAPAction(req)
		}
		svcType, action, aok := parseSOAPAction(sa)
		o := outcome{Action: "soap:" + action, Args: call.Args, Malformed: call.Malformed, Sample: call.Malformed != ""}
		if !ok || !aok || svcType != svc.Type {
			o.Reply = s.soapAnswer(nil, 401, "", "")
			return o
		}
		out, code := s.perform(svc, action, call, s.env(sess))
		o.Reply = s.soapAnswer(out, code, svc.Type, action)
		return o
	case "SUBSCRIBE":
		if s.tree.findService("event", req.URI) == nil {
			return outcome{Reply: httpapi404, Action: "subscribe:unknown"}
		}
		return outcome{Reply: reply{Status: 200, Reason: "OK",
			Extra: [][2]string{{"SID", s.newSID(sess)}, {"TIMEOUT", "Second-1800"}}}, Action: "subscribe"}
	case "UNSUBSCRIBE":
		return outcome{Reply: reply{Status: 412, Reason: "Precondition Failed"}, Action: "unsubscribe"}
	}
	return outcome{Reply: httpapi404, Action: "not-found"}
}

// mpostSOAPAction finds the SOAPAction of an M-POST: "NN-SOAPACTION",
// NN the namespace prefix its MAN header declared.
func mpostSOAPAction(req *httpRequest) (string, bool) {
	for _, h := range req.Headers {
		if n := strings.ToUpper(h.Name); strings.HasSuffix(n, "-SOAPACTION") {
			return h.Value, true
		}
	}
	return "", false
}

// soapAnswer renders an action's result or fault.
func (s *Server) soapAnswer(out []event.Header, code int, svcType, action string) reply {
	if code != 0 {
		return reply{Status: 500, Reason: "Internal Server Error", Type: typeXML, Body: soapFault(s.kind, code), Extra: s.extHeader()}
	}
	return reply{Status: 200, Reason: "OK", Type: typeXML, Body: soapResponse(s.kind, svcType, action, out), Extra: s.extHeader()}
}

func (s *Server) extHeader() [][2]string {
	if s.kind == kindWindows {
		return [][2]string{{"EXT", ""}}
	}
	return nil
}

// document returns the description document a GET names, and what it
// is for the event's action.
func (s *Server) document(uri string, local netip.AddrPort) (string, string) {
	if uri == s.tree.DescPath || s.kind == kindWindows && strings.EqualFold(uri, s.tree.DescPath) {
		return s.tree.description(s.kind, local.Addr().String()), "description"
	}
	if svc := s.tree.findService("scpd", uri); svc != nil {
		return svc.Spec.render(s.kind), "scpd:" + strings.TrimPrefix(svc.ID, "urn:upnp-org:serviceId:")
	}
	if s.kind == kindWindows {
		// Windows matches the query's UDN however it is spelt.
		q, _ := url.ParseQuery(strings.TrimPrefix(uri[strings.IndexByte(uri+"?", '?'):], "?"))
		if c := q.Get("content"); c != "" && strings.EqualFold(c, s.tree.Root.UDN) {
			return s.tree.description(s.kind, local.Addr().String()), "description"
		}
	}
	return "", ""
}

func (s *Server) env(sess *service.Session) callEnv {
	return callEnv{src: sess.Remote.Addr(), local: sess.Local.Addr(), now: s.now()}
}

// newSID names a subscription.
func (s *Server) newSID(sess *service.Session) string {
	n := s.sids.Add(1)
	return "uuid:" + deriveUUID(s.persona.UUID+"/sid/"+sess.Remote.Addr().String()+"/"+strconv.FormatUint(n, 10)+"/"+s.start.String())
}

// render writes the status line, the persona's headers and the body.
func (s *Server) render(req *httpRequest, r *reply) string {
	var b strings.Builder
	body := r.Body
	if req.Method == "HEAD" {
		body = ""
	}
	if s.kind == kindMiniUPnPd {
		// miniupnpd echoes the request's version, whatever it was.
		b.WriteString(req.Version + " " + strconv.Itoa(r.Status) + " " + r.Reason + "\r\n")
		b.WriteString("Content-Type: " + r.Type + "\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(r.Body)) + "\r\n")
		b.WriteString("Server: " + s.persona.Server + "\r\nExt:\r\n")
		for _, h := range r.Extra {
			b.WriteString(h[0] + ": " + h[1] + "\r\n")
		}
		b.WriteString("\r\n")
		b.WriteString(body)
		return b.String()
	}
	date := s.now().UTC().Format(time.RFC1123)
	date = strings.Replace(date, "UTC", "GMT", 1)
	b.WriteString("HTTP/1.1 " + strconv.Itoa(r.Status) + " " + r.Reason + "\r\n")
	if r.Type != "" {
		b.WriteString("Content-Type: " + r.Type + "\r\n")
	}
	if r.Plain {
		b.WriteString("Server: " + s.persona.HTTPServer + "\r\n")
	} else {
		b.WriteString("Server: " + strings.TrimSpace(s.persona.Server+" "+s.persona.HTTPServer) + "\r\n")
	}
	b.WriteString("Date: " + date + "\r\n")
	if r.Close {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(r.Body)) + "\r\n")
	for _, h := range r.Extra {
		b.WriteString(h[0] + ":")
		if h[1] != "" {
			b.WriteString(" " + h[1])
		}
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}
