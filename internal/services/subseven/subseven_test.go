package subseven

import (
	"bytes"
	"io"
	"net"
	"regexp"
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
	s.now = func() time.Time { return fixedNow }
	return s
}

func TestTranscripts(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata", "subseven", func() any {
		return newServer(t, nil)
	}, servicetest.TranscriptOptions{})
}

// A server whose owner set a password: "PWD" first.
func TestTranscriptsPassword(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata/password", "subseven", func() any {
		return newServer(t, func(c *Config) { c.Persona.Password = "s3v3n" })
	}, servicetest.TranscriptOptions{})
}

// client speaks to the server as SubSeven's client does: one command per
// write, then what the server answers.
type client struct {
	t *testing.T
	c *net.TCPConn
}

func dial(t *testing.T, h *servicetest.Harness) *client {
	c := h.Dial(t)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, c: c}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := c.c.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// expect reads exactly len(want) bytes and compares them.
func (c *client) expect(want string) {
	c.t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c.c, got); err != nil || string(got) != want {
		c.t.Fatalf("got %q, %v; want %q", got, err, want)
	}
}

// Chainsaw's way in: RTF, the size, the file in one go, the
// acknowledgements, FMX.
func TestChainsawUpload(t *testing.T) {
	h := servicetest.Start(t, "subseven", newServer(t, nil), nil)
	c := dial(t, h)
	c.expect("connected. time/date: 14:52.33 - October 12, 2000, Thursday, version: M.U.I.E. 2.1")
	c.send("RTFChainsaw.exe")
	c.expect("TID")
	c.send("SFT046144")
	data := make([]byte, 6144)
	for i := range data {
		data[i] = byte(i * 13)
	}
	c.send(string(data))
	c.expect("p:1041.p:2082.p:3123.p:4164.p:5205.p:6144.")
	c.expect("file successfully uploaded.")
	c.send("FMXChainsaw.exe")
	c.expect("file has been executed.")
	_ = c.c.CloseWrite()
	evs := h.WaitClosed(t, 1)
	ups := servicetest.OfKind(evs, event.KindUpload)
	if len(ups) != 1 {
		t.Fatalf("got %d upload events: %s", len(ups), servicetest.Summary(evs))
	}
	u := ups[0].Detail.(*event.Upload)
	if u.Name != "Chainsaw.exe" || u.Size != 6144 || u.Truncated || u.Via != "rtf" {
		t.Errorf("upload %+v; want Chainsaw.exe, 6144 bytes, via rtf", u)
	}
	if got, ok := h.Samples.Get(u.SHA256); !ok || !bytes.Equal(got, data) {
		t.Errorf("the sample store does not hold the uploaded bytes")
	}
	var lines []string
	for _, e := range servicetest.OfKind(evs, event.KindCommand) {
		lines = append(lines, e.Detail.(*event.Command).Line)
	}
	if want := []string{"RTFChainsaw.exe", "SFT046144", "FMXChainsaw.exe"}; strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("commands %q; want %q", lines, want)
	}
}

// An upload larger than max_upload is read and acknowledged to its end,
// kept to the bound and marked; one the client abandons is kept as far
// as it came.
func TestUploadBounds(t *testing.T) {
	h := servicetest.Start(t, "subseven", newServer(t, func(c *Config) { c.MaxUpload = 1000 }), nil)
	c := dial(t, h)
	c.expect("connected. time/date: 14:52.33 - October 12, 2000, Thursday, version: M.U.I.E. 2.1")
	c.send("RTFC:\\big.exe")
	c.expect("TID")
	c.send("SFT042000" + strings.Repeat("B", 2000))
	c.expect("p:1041.p:2000.file successfully uploaded.")
	c.send("RTFC:\\cut.exe")
	c.expect("TID")
	c.send("SFT03500" + strings.Repeat("C", 100))
	_ = c.c.CloseWrite()
	c.expect("p:100.")
	evs := h.WaitClosed(t, 1)
	ups := servicetest.OfKind(evs, event.KindUpload)
	if len(ups) != 2 {
		t.Fatalf("got %d uploads: %s", len(ups), servicetest.Summary(evs))
	}
	if u := ups[0].Detail.(*event.Upload); u.Name != `C:\big.exe` || u.Size != 1000 || !u.Truncated {
		t.Errorf("oversized upload %+v; want 1000 bytes kept, truncated", u)
	}
	if u := ups[1].Detail.(*event.Upload); u.Name != `C:\cut.exe` || u.Size != 100 || !u.Truncated {
		t.Errorf("abandoned upload %+v; want 100 bytes, truncated", u)
	}
}

// A server update (UPS) ends with the server "restarting": the
// connection closes.
func TestServerUpdate(t *testing.T) {
	h := servicetest.Start(t, "subseven", newServer(t, nil), nil)
	out := h.Exchange(t, []byte("UPS\nSFT015hello\nPIN"), 5*time.Second)
	want := "connected. time/date: 14:52.33 - October 12, 2000, Thursday, version: M.U.I.E. 2.1TIDp:5.new server updated. restarting..."
	if string(out) != want {
		t.Fatalf("got %q; want %q", out, want)
	}
	evs := h.WaitClosed(t, 1)
	if u := servicetest.OfKind(evs, event.KindUpload); len(u) != 1 || u[0].Detail.(*event.Upload).Via != "ups" || u[0].Detail.(*event.Upload).Name != "" {
		t.Errorf("uploads %s; want one via ups without a name", servicetest.Summary(u))
	}
}

// Something that is not an upload header after TID is taken as the next
// command.
func TestUploadWithoutHeader(t *testing.T) {
	h := servicetest.Start(t, "subseven", newServer(t, nil), nil)
	out := h.Exchange(t, []byte("RTFx.exe\nPIN"), 5*time.Second)
	if !strings.HasSuffix(string(out), "TIDPONG") {
		t.Fatalf("got %q; want TID then PONG", out)
	}
}

func TestLogins(t *testing.T) {
	h := servicetest.Start(t, "subseven", newServer(t, func(c *Config) { c.Persona.Password = "s3v3n" }), nil)
	if out := h.Exchange(t, []byte("PWDguess"), 5*time.Second); string(out) != "PWDPOPUP incorrect password..." {
		t.Fatalf("wrong password: got %q", out)
	}
	h.Exchange(t, []byte("PWDs3v3n"), 5*time.Second)
	evs := h.WaitClosed(t, 2)
	ls := servicetest.OfKind(evs, event.KindLogin)
	if len(ls) != 2 {
		t.Fatalf("got %d logins; want 2", len(ls))
	}
	for i, want := range []event.Login{{Password: "guess", Method: "subseven"}, {Password: "s3v3n", Method: "subseven", Success: true}} {
		if got := *ls[i].Detail.(*event.Login); got != want {
			t.Errorf("login %d: %+v; want %+v", i, got, want)
		}
	}
}

func TestMaxCommands(t *testing.T) {
	h := servicetest.Start(t, "subseven", newServer(t, func(c *Config) { c.MaxCommands = 2 }), nil)
	out := h.Exchange(t, []byte("PIN\nPIN\nPIN\n"), 5*time.Second)
	if got := strings.Count(string(out), "PONG"); got != 2 {
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
	if got := w.Describe(); got != "SubSeven M.U.I.E. 2.1" {
		t.Errorf("Describe = %q", got)
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Config)
	}{
		{"version", func(c *Config) { c.Persona.Version = "" }},
		{"line break", func(c *Config) { c.Persona.ComputerName = "A\r\nB" }},
		{"directory key", func(c *Config) { c.Persona.Directories = map[string][]string{"WINNT": {"a"}} }},
		{"directory entry", func(c *Config) { c.Persona.Directories = map[string][]string{`C:\`: {`a\b`}} }},
		{"disk", func(c *Config) { c.Persona.DiskFree = c.Persona.DiskSize + 1 }},
		{"bits per pixel", func(c *Config) { c.Persona.BitsPerPixel = 0 }},
		{"max upload", func(c *Config) { c.MaxUpload = 0 }},
		{"upload wait", func(c *Config) { c.UploadWait = 0 }},
		{"max command", func(c *Config) { c.MaxCommand = 3 }},
		{"max commands", func(c *Config) { c.MaxCommands = 0 }},
	} {
		c := DefaultConfig(service.ProfileWindows2000)
		tt.edit(c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted a bad config", tt.name)
		}
	}
}

func runNmap(t *testing.T, h *servicetest.Harness, args ...string) string {
	t.Helper()
	return servicetest.Nmap(t, h.Addr.Port(), 3*time.Minute, args...)
}

// With a password the server greets "PWD", which nmap-service-probes'
// NULL-probe line names:
//
//	match backdoor m|^PWD$| p/Subseven backdoor/ i/**BACKDOOR**/ o/Windows/
func TestNmapNamesSubSeven(t *testing.T) {
	h := servicetest.Start(t, "subseven", newServer(t, func(c *Config) { c.Persona.Password = "s3v3n" }), nil)
	out := runNmap(t, h)
	if !strings.Contains(out, "Subseven backdoor") {
		t.Fatalf("nmap did not name the Subseven backdoor:\n%s", out)
	}
}

// Without a password nmap has no line for SubSeven 2.1's greeting, as for
// the real server: it reports an unknown service and prints the greeting
// in its fingerprint. (Intensity 0: the server, like SubSeven, answers
// none of the other probes, and nmap would wait out each of them.)
func TestNmapOpenServer(t *testing.T) {
	h := servicetest.Start(t, "subseven", newServer(t, nil), nil)
	out := runNmap(t, h, "--version-intensity", "0")
	fingerprint := strings.ReplaceAll(out, "\nSF:", "") // nmap wraps it
	if !regexp.MustCompile(`(?m)^\d+/tcp\s+open\s+unknown\s*$`).MatchString(out) ||
		!strings.Contains(fingerprint, `r(NULL,52,"connected\.\x20time/date:\x2014:52\.33`) {
		t.Fatalf("nmap against the open server:\n%s", out)
	}
}

// The section decodes strictly over the profile's defaults, and the
// effective configuration renders.
func TestConfigSection(t *testing.T) {
	c, err := config.Parse([]byte(`
services:
  subseven:
    accept_any_password: true
    persona:
      password: s3v3n
      cpu_mhz: 450
      directories:
        'D:\': ['<mp3>', 'readme.txt']
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
		if r.Module.Name == "subseven" {
			got = r.Config.(*Config)
		}
	}
	if got == nil || !got.Enabled || !got.AcceptAnyPassword || got.Persona.Password != "s3v3n" ||
		got.Persona.CPUMHz != 450 || len(got.Persona.Directories[`D:\`]) != 2 || got.Persona.Version != "M.U.I.E. 2.1" {
		t.Fatalf("resolved %+v", got)
	}
	if _, err := c.Effective(); err != nil {
		t.Fatal(err)
	}
	bad, err := config.Parse([]byte("services:\n  subseven:\n    persona:\n      cpumhz: 1\n"))
	if err == nil {
		_, err = bad.ResolveServices()
	}
	if err == nil {
		t.Fatalf("a misspelt key was accepted")
	}
}
