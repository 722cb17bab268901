package pop3

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/sasl"
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
//
// hydra 9.4 does not always see its last guesses through: its main
// process ends the attack as soon as one worker asks for a pair and none
// is left, kills the workers still in the middle of a guess and says so
// ("Writing restore file because N final worker threads did not complete
// until end", then the exit runHydra forgives). On a loaded machine that
// happens in about 1 run in 10, in every mode, not only NTLM's. The
// server saw such a guess begin (AUTH NTLM, AUTH LOGIN, USER) but never
// got its credentials, so there is no login event for it, and its count
// cannot be made exact. NTLM stays in the test rather than being dropped
// (exchange-guessing.txtar and TestCurlListRetr also cover NTLM logins,
// but not from a cracker), and every case takes hydra at its word: the
// login events may fall short of the guesses by as many as hydra says it
// cut off, never more; still every event must be one of the guesses,
// none twice, and the one right pair must be among them, the only
// success. An NTLM event carries no password, only the response, so it
// is matched to the guess whose password the response verifies against.
func TestHydra(t *testing.T) {
	const tasks = 4
	bin := lookPath(t, "hydra", "hydra")
	tests := []struct {
		profile, opt, method, hit string
		passes                    []string
	}{
		{service.ProfileWindows2000, "", "ntlm", "administrator/password", []string{"123456", "letmein", "password"}},
		{service.ProfileWindows2000, "CLEAR", "password", "administrator/password", []string{"123456", "letmein", "password"}},
		{service.ProfileLinuxIoT, "", "login", "admin/admin", []string{"123456", "letmein", "admin"}},
	}
	cutOffRe := regexp.MustCompile(`because (\d+) final worker threads? did not complete`)
	for _, tt := range tests {
		t.Run(tt.profile+"-"+tt.method, func(t *testing.T) {
			h := servicetest.Start(t, "pop3", newServer(t, tt.profile, nil), nil)
			dir := t.TempDir()
			// The one right pair is the last password tried for its
			// user, so hydra makes every guess; its user comes first, so
			// the pair is in hydra's first round of guesses (it tries
			// each user's passwords in turn, -t 4 at a time), not among
			// the last ones, which hydra may cut off.
			user, pass, _ := strings.Cut(tt.hit, "/")
			users := []string{user}
			for _, u := range []string{"administrator", "admin", "test"} {
				if u != user {
					users = append(users, u)
				}
			}
			_ = os.WriteFile(filepath.Join(dir, "users"), []byte(strings.Join(users, "\n")+"\n"), 0o644)
			_ = os.WriteFile(filepath.Join(dir, "passes"), []byte(strings.Join(tt.passes, "\n")+"\n"), 0o644)
			args := []string{"-I", "-L", "users", "-P", "passes", "-t", strconv.Itoa(tasks), "-s", strconv.Itoa(int(h.Addr.Port()))}
			if tt.opt != "" {
				args = append(args, "-m", tt.opt)
			}
			out := runHydra(t, dir, bin, append(args, "127.0.0.1", "pop3")...)
			if !strings.Contains(out, "1 valid password found") || !strings.Contains(out, "login: "+user+"   password: "+pass) {
				t.Errorf("hydra did not find %s:\n%s", tt.hit, out)
			}
			cutOff := 0
			if m := cutOffRe.FindStringSubmatch(out); m != nil {
				cutOff, _ = strconv.Atoi(m[1])
			}
			// The worker that found nothing left to do is not one of them.
			if cutOff > tasks-1 {
				t.Fatalf("hydra says it cut off %d guesses; with %d workers it cannot cut off more than %d:\n%s", cutOff, tasks, tasks-1, out)
			}
			want := len(users) * len(tt.passes)
			// Every guess hydra finished was answered, and the server
			// emits a login event before it answers, so all of those
			// events are there once every session has closed.
			evs := h.Events.Wait(t, 20*time.Second, func(evs []*event.Event) bool {
				return len(servicetest.OfKind(evs, event.KindLogin)) >= want-cutOff &&
					len(servicetest.OfKind(evs, event.KindClose)) == len(servicetest.OfKind(evs, event.KindConnect))
			})
			logins := servicetest.OfKind(evs, event.KindLogin)
			seen := map[string]bool{}
			var hits []string
			for _, e := range logins {
				l := e.Detail.(*event.Login)
				if l.Method != tt.method {
					t.Errorf("login method %q, want %q", l.Method, tt.method)
				}
				guess, ok := guessOf(l, users, tt.passes)
				if !ok {
					t.Errorf("login %s/%s is none of hydra's guesses", l.User, l.Password)
					continue
				}
				if seen[guess] {
					t.Errorf("guess %s logged twice", guess)
				}
				seen[guess] = true
				if l.Success {
					hits = append(hits, guess)
				}
				if l.Success != (guess == tt.hit) {
					t.Errorf("login %s success %v", guess, l.Success)
				}
			}
			if n := len(logins); n < want-cutOff || n > want || len(hits) != 1 || hits[0] != tt.hit {
				t.Errorf("%d login events (%d distinct guesses), successes %v; want %d to %d (hydra cut off %d), [%s]\n%s",
					n, len(seen), hits, want-cutOff, want, cutOff, tt.hit, out)
			}
			greet(t, h)
		})
	}
}

// guessOf names the user/password guess a login event records. An NTLM
// event's user is DOMAIN\user and its password the response in hashcat's
// form, NetNTLMv1 (user::domain:lm:nt:challenge) or NetNTLMv2
// (user::domain:challenge:ntproof:blob), which is matched to the
// password it verifies against.
func guessOf(l *event.Login, users, passes []string) (string, bool) {
	user, pass := l.User, l.Password
	if l.Method == "ntlm" {
		if _, u, ok := strings.Cut(user, `\`); ok {
			user = u
		}
		f := strings.Split(l.Password, ":")
		if len(f) != 6 || f[0] != user {
			return "", false
		}
		lm, ch, nt := f[3], f[5], f[4] // NetNTLMv1
		if len(f[3]) == 16 {           // NetNTLMv2
			lm, ch, nt = "", f[3], f[4]+f[5]
		}
		a := &sasl.Authenticate{User: f[0], Domain: f[2]}
		var c []byte
		var err [3]error
		a.LMResponse, err[0] = hex.DecodeString(lm)
		a.NTResponse, err[1] = hex.DecodeString(nt)
		c, err[2] = hex.DecodeString(ch)
		if err != [3]error{} || len(c) != 8 {
			return "", false
		}
		pass = ""
		for _, p := range passes {
			// 0x00080000 is NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY:
			// Verify uses it only when the LM field is a client
			// challenge, so a plain NTLMv1 response is checked as one.
			if a.Verify(p, [8]byte(c), 0x00080000) {
				pass = p
				break
			}
		}
	}
	if !slices.Contains(users, user) || !slices.Contains(passes, pass) {
		return "", false
	}
	return user + "/" + pass, true
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
	h := servicetest.Start(t, "pop3", newServer(t, profile, nil), nil)
	return servicetest.Nmap(t, h.Addr.Port(), time.Minute)
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
