package pop3

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// Real clients against the service on 127.0.0.1: each test is skipped,
// naming the Debian package, when its client is missing.

func lookPath(t *testing.T, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Skipf("%s is not installed (Debian package %s)", bin, pkg)
	}
	return p
}

func runClient(t *testing.T, dir, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// runHydra runs hydra, which may exit with an error after a complete,
// successful attack while reporting that its target "did not resolve or
// could not be connected" (thc-hydra issue #1102): that exit is taken as
// success when hydra says the target was completed; the events decide.
func runHydra(t *testing.T, dir, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "1 of 1 target successfully completed") {
		t.Fatalf("hydra %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// curl lists the mailbox and fetches each message; what it gets is the
// mailbox byte for byte, dot-stuffing undone, sizes as LIST said.
func TestCurlListRetr(t *testing.T) {
	bin := lookPath(t, "curl", "curl")
	for _, profile := range service.Profiles {
		t.Run(profile, func(t *testing.T) {
			srv := newServer(t, profile, func(c *Config) {
				c.Persona.Mailbox = append(c.Persona.Mailbox, Message{From: "a@b", Subject: "dots",
					Date: "2001-09-18T10:00:00Z", Body: ".leading dot\n..two\n.\nend"})
			})
			h := servicetest.Start(t, "pop3", srv, nil)
			user := srv.cfg.Persona.Accounts[0]
			base := fmt.Sprintf("pop3://127.0.0.1:%d/", h.Addr.Port())
			auth := user.User + ":" + user.Password
			list := runClient(t, t.TempDir(), bin, "-sS", "--max-time", "20", "-u", auth, base)
			box := srv.p.render(user.User)
			var want strings.Builder
			for i := 1; i <= box.Len(); i++ {
				m, _ := box.Get(i)
				fmt.Fprintf(&want, "%d %d\r\n", i, len(m))
			}
			if list != want.String() {
				t.Errorf("LIST through curl:\n%q\nwant\n%q", list, want.String())
			}
			for i := 1; i <= box.Len(); i++ {
				got := runClient(t, t.TempDir(), bin, "-sS", "--max-time", "20", "-u", auth, base+strconv.Itoa(i))
				m, _ := box.Get(i)
				if got != string(m) {
					t.Errorf("RETR %d through curl:\n%q\nwant\n%q", i, got, m)
				}
			}
			evs := h.WaitClosed(t, 1+box.Len())
			logins := servicetest.OfKind(evs, event.KindLogin)
			if len(logins) != 1+box.Len() {
				t.Fatalf("%d logins, want %d", len(logins), 1+box.Len())
			}
			// curl takes the first SASL mechanism CAPA offers: Exchange's
			// NTLM (its NTLMv2 response verified against the account's
			// password), Dovecot's PLAIN.
			method := map[string]string{service.ProfileWindows2000: "ntlm", service.ProfileLinuxIoT: "plain"}[profile]
			for _, e := range logins {
				if l := e.Detail.(*event.Login); !l.Success || l.User != user.User || l.Method != method {
					t.Errorf("login %+v", l)
				}
			}
			var retrs int
			for _, e := range servicetest.OfKind(evs, event.KindCommand) {
				if c := e.Detail.(*event.Command); strings.HasPrefix(c.Line, "RETR ") && strings.HasPrefix(c.Output, "+OK") {
					retrs++
				}
			}
			if retrs != box.Len() {
				t.Errorf("%d RETR command events, want %d", retrs, box.Len())
			}
		})
	}
}

// hydra guesses passwords with the mechanism the server's CAPA leads
// it to (NTLM for Exchange, AUTH LOGIN for Dovecot) or, told to, with
// USER/PASS: every guess is one login event and the service still
// answers afterwards.
func TestHydra(t *testing.T) {
	bin := lookPath(t, "hydra", "hydra")
	tests := []struct {
		profile, opt, method, hit string
		passes                    []string
	}{
		{service.ProfileWindows2000, "", "ntlm", "administrator/password", []string{"123456", "letmein", "password"}},
		{service.ProfileWindows2000, "CLEAR", "password", "administrator/password", []string{"123456", "letmein", "password"}},
		{service.ProfileLinuxIoT, "", "login", "admin/admin", []string{"123456", "letmein", "admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.profile+"-"+tt.method, func(t *testing.T) {
			h := servicetest.Start(t, "pop3", newServer(t, tt.profile, nil), nil)
			dir := t.TempDir()
			// The one right pair is the last password tried for its
			// user, so hydra makes every guess.
			users := []string{"administrator", "admin", "test"}
			_ = os.WriteFile(filepath.Join(dir, "users"), []byte(strings.Join(users, "\n")+"\n"), 0o644)
			_ = os.WriteFile(filepath.Join(dir, "passes"), []byte(strings.Join(tt.passes, "\n")+"\n"), 0o644)
			args := []string{"-I", "-L", "users", "-P", "passes", "-t", "4", "-s", strconv.Itoa(int(h.Addr.Port()))}
			if tt.opt != "" {
				args = append(args, "-m", tt.opt)
			}
			out := runHydra(t, dir, bin, append(args, "127.0.0.1", "pop3")...)
			user, pass, _ := strings.Cut(tt.hit, "/")
			if !strings.Contains(out, "1 valid password found") || !strings.Contains(out, "login: "+user+"   password: "+pass) {
				t.Errorf("hydra did not find %s:\n%s", tt.hit, out)
			}
			want := len(users) * len(tt.passes)
			evs := h.Events.Wait(t, 20*time.Second, func(evs []*event.Event) bool {
				return len(servicetest.OfKind(evs, event.KindLogin)) >= want &&
					len(servicetest.OfKind(evs, event.KindClose)) == len(servicetest.OfKind(evs, event.KindConnect))
			})
			seen := map[string]bool{}
			var hits []string
			for _, e := range servicetest.OfKind(evs, event.KindLogin) {
				l := e.Detail.(*event.Login)
				if l.Method != tt.method {
					t.Errorf("login method %q, want %q", l.Method, tt.method)
				}
				seen[l.User+"/"+l.Password] = true
				if l.Success {
					hits = append(hits, l.User)
				}
			}
			if n := len(servicetest.OfKind(evs, event.KindLogin)); n != want || len(seen) != want || len(hits) != 1 || !strings.HasSuffix(hits[0], user) {
				t.Errorf("%d login events, %d distinct, successes %v; want %d, %d, [%s]", n, len(seen), hits, want, want, user)
			}
			greet(t, h)
		})
	}
}

// greet checks a new session is answered.
func greet(t *testing.T, h *servicetest.Harness) {
	t.Helper()
	c := h.Dial(t)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "+OK ") {
		t.Fatalf("a new session got %q, %v; want a +OK greeting", line, err)
	}
}

// nmap's service detection names the personas from the greeting the
// NULL probe reads, by these lines of nmap-service-probes (7.93):
//
//	match pop3 m|^\+OK Microsoft Exchange 2000 POP3 server version (\S+).* ready\.\r\n| p/Microsoft Exchange 2000 pop3d/ v/$1/ o/Windows/
//	match pop3 m|^\+OK [Dd]ovecot ready\.\r\n| p/Dovecot pop3d/
func TestNmapNamesExchange(t *testing.T) {
	out := runNmap(t, service.ProfileWindows2000)
	if !strings.Contains(out, "Microsoft Exchange 2000 pop3d 6.0.6249.0") || !strings.Contains(out, "OS: Windows") {
		t.Fatalf("nmap did not name Microsoft Exchange 2000 pop3d 6.0.6249.0:\n%s", out)
	}
}

func TestNmapNamesDovecot(t *testing.T) {
	out := runNmap(t, service.ProfileLinuxIoT)
	if !strings.Contains(out, "Dovecot pop3d") {
		t.Fatalf("nmap did not name Dovecot pop3d:\n%s", out)
	}
}

func runNmap(t *testing.T, profile string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("nmap version detection takes seconds; skipped in -short mode")
	}
	bin := lookPath(t, "nmap", "nmap")
	h := servicetest.Start(t, "pop3", newServer(t, profile, nil), nil)
	return runClient(t, t.TempDir(), bin, "-sV", "-Pn", "-n", "-p", strconv.Itoa(int(h.Addr.Port())), "127.0.0.1")
}

// An over-long line is cut at max_line, kept as a sample and answered;
// the session goes on.
func TestLongLineIsCut(t *testing.T) {
	h := servicetest.Start(t, "pop3", newServer(t, service.ProfileLinuxIoT, nil), nil)
	long := "USER " + strings.Repeat("%n", 100000)
	out := h.Exchange(t, []byte(long+"\r\nNOOP\r\nQUIT\r\n"), 10*time.Second)
	want := "+OK Dovecot ready.\r\n-ERR Input line too long.\r\n-ERR Unknown command.\r\n+OK Logging out\r\n"
	if string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
	evs := h.WaitClosed(t, 1)
	p := servicetest.OfKind(evs, event.KindPayload)
	if len(p) != 1 {
		t.Fatalf("%d payload events, want 1", len(p))
	}
	pl := p[0].Detail.(*event.Payload)
	if pl.Len != int64(len(long))+1 || !pl.Truncated {
		t.Errorf("payload len %d truncated %v; want %d, truncated", pl.Len, pl.Truncated, len(long)+1)
	}
	if got, ok := h.Samples.Get(pl.Sample); !ok || string(got) != long[:4096] {
		t.Errorf("sample %v, %d bytes; want the line's first 4096", ok, len(got))
	}
}

// An endless line ends at the session's byte budget, is recorded, and
// the service serves the next session.
func TestEndlessLine(t *testing.T) {
	lim := servicetest.Limits()
	lim.MaxBytesIn = 1 << 20
	h := servicetest.Start(t, "pop3", newServer(t, service.ProfileWindows2000, nil), &lim)
	c := h.Dial(t)
	go func() {
		chunk := bytes.Repeat([]byte("A"), 64<<10)
		for i := 0; i < 32; i++ {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	evs := h.WaitClosed(t, 1)
	if r := servicetest.OfKind(evs, event.KindClose)[0].Detail.(*event.Close).Reason; r != event.ReasonBudget {
		t.Errorf("close reason %q, want byte_budget", r)
	}
	p := servicetest.OfKind(evs, event.KindPayload)
	if len(p) != 1 || p[0].Detail.(*event.Payload).Len != 1<<20 {
		t.Fatalf("payload events %v, want one of 1MiB", p)
	}
	greet(t, h)
}
