package smtp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
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

func runClient(t *testing.T, dir string, bin string, args ...string) string {
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

// fakeExe is a worm-sized binary with every byte value in it.
func fakeExe(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00")
	for i := 0; i < 20000; i++ {
		b = append(b, byte(r.Uint32()))
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkAttachment finds the upload of the file named name and checks the
// sample store holds exactly data under its SHA-256.
func checkAttachment(t *testing.T, h *servicetest.Harness, evs []*event.Event, name string, data []byte) {
	t.Helper()
	for _, u := range uploads(evs) {
		if u.Name != name {
			continue
		}
		if u.SHA256 != sha(data) || u.Size != int64(len(data)) || u.Via != "attachment" || u.Truncated {
			t.Errorf("upload %+v, want sha256 %s size %d via attachment", u, sha(data), len(data))
		}
		if got, ok := h.Samples.Get(u.SHA256); !ok || !bytes.Equal(got, data) {
			t.Errorf("sample %s: stored %v, %d bytes; want the attachment's %d bytes", u.SHA256, ok, len(got), len(data))
		}
		return
	}
	t.Fatalf("no upload named %q in %s", name, servicetest.Summary(evs))
}

func TestCurlSendsAttachment(t *testing.T) {
	bin := lookPath(t, "curl", "curl")
	h := servicetest.Start(t, "smtp", newServer(t, service.ProfileWindows2000, nil), nil)
	exe := fakeExe(1)
	b64 := base64.StdEncoding.EncodeToString(exe)
	var msg strings.Builder
	msg.WriteString("From: alice@example.org\r\nTo: victim@example.net\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n--sep\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
		"--sep\r\nContent-Type: application/octet-stream; name=\"invoice.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for len(b64) > 76 {
		msg.WriteString(b64[:76] + "\r\n")
		b64 = b64[76:]
	}
	msg.WriteString(b64 + "\r\n--sep--\r\n")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mail.eml"), []byte(msg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runClient(t, dir, bin, "-sS", "--max-time", "20", "--mail-from", "alice@example.org",
		"--mail-rcpt", "victim@example.net", "-T", "mail.eml", fmt.Sprintf("smtp://127.0.0.1:%d/client.example", h.Addr.Port()))
	evs := h.WaitClosed(t, 1)
	ms := mails(evs)
	if len(ms) != 1 {
		t.Fatalf("got %d mail events, want 1: %s", len(ms), servicetest.Summary(evs))
	}
	m := ms[0]
	if m.Result != event.MailQueued || m.From != "alice@example.org" || len(m.Rcpts) != 1 || m.Rcpts[0] != "victim@example.net" ||
		!m.RelayAttempt || m.Subject != "invoice" || m.Helo != "client.example" || len(m.Attachments) != 1 {
		t.Errorf("mail event %+v", m)
	}
	if got, ok := h.Samples.Get(m.Sample); !ok || string(got) != msg.String() {
		t.Errorf("message sample: %v, %d bytes; want the %d bytes curl sent", ok, len(got), msg.Len())
	}
	checkAttachment(t, h, evs, "invoice.exe", exe)
}

func TestSwaksAttach(t *testing.T) {
	bin := lookPath(t, "swaks", "swaks")
	for _, profile := range service.Profiles {
		t.Run(profile, func(t *testing.T) {
			h := servicetest.Start(t, "smtp", newServer(t, profile, nil), nil)
			dir := t.TempDir()
			exe := fakeExe(2)
			if err := os.WriteFile(filepath.Join(dir, "readme.exe"), exe, 0o644); err != nil {
				t.Fatal(err)
			}
			out := runClient(t, dir, bin, "--server", h.Addr.String(), "--from", "jsmith@example.org",
				"--to", "admin@corp.local", "--attach", "readme.exe", "--timeout", "20")
			if !strings.Contains(out, "<-  250 2.") || !strings.Contains(out, "queued") && !strings.Contains(out, "Queued") {
				t.Errorf("swaks did not see the message queued:\n%s", out)
			}
			evs := h.WaitClosed(t, 1)
			ms := mails(evs)
			if len(ms) != 1 || ms[0].Result != event.MailQueued || len(ms[0].Attachments) != 1 || ms[0].Attachments[0] != sha(exe) {
				t.Fatalf("mail events %+v", ms)
			}
			checkAttachment(t, h, evs, "readme.exe", exe)
		})
	}
}

// hydra guesses AUTH LOGIN passwords: every guess is one login event and
// the service still answers afterwards.
//
// hydra 9.4 ends its attack as soon as a worker asks for a guess and
// none is left, killing workers still in the middle of one ("Writing
// restore file because N final worker threads did not complete"), so
// the last guesses may never reach the server: the login events may
// fall short of the guesses by up to N, never more.
func TestHydraAuthLogin(t *testing.T) {
	const tasks = 4
	bin := lookPath(t, "hydra", "hydra")
	h := servicetest.Start(t, "smtp", newServer(t, service.ProfileWindows2000, nil), nil)
	dir := t.TempDir()
	users := []string{"administrator", "admin", "test"}
	// The one right pair is the last password tried for its user, so
	// hydra makes every guess; its user comes first, so the pair is in
	// hydra's first round of guesses, not among the last ones, which
	// hydra may cut off.
	passes := []string{"123456", "letmein", "password"}
	_ = os.WriteFile(filepath.Join(dir, "users"), []byte(strings.Join(users, "\n")+"\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "passes"), []byte(strings.Join(passes, "\n")+"\n"), 0o644)
	out := runHydra(t, dir, bin, "-I", "-L", "users", "-P", "passes", "-t", strconv.Itoa(tasks), "-s", strconv.Itoa(int(h.Addr.Port())),
		"127.0.0.1", "smtp")
	if !strings.Contains(out, "1 valid password found") || !strings.Contains(out, "login: administrator   password: password") {
		t.Errorf("hydra did not find administrator/password:\n%s", out)
	}
	cutOff := 0
	if m := regexp.MustCompile(`because (\d+) final worker threads? did not complete`).FindStringSubmatch(out); m != nil {
		cutOff, _ = strconv.Atoi(m[1])
	}
	// The worker that found nothing left to do is not one of them.
	if cutOff > tasks-1 {
		t.Fatalf("hydra says it cut off %d guesses; with %d workers it cannot cut off more than %d:\n%s", cutOff, tasks, tasks-1, out)
	}
	want := len(users) * len(passes)
	evs := h.Events.Wait(t, 20*time.Second, func(evs []*event.Event) bool {
		return len(servicetest.OfKind(evs, event.KindLogin)) >= want-cutOff &&
			len(servicetest.OfKind(evs, event.KindClose)) == len(servicetest.OfKind(evs, event.KindConnect))
	})
	seen := map[string]bool{}
	var hits []string
	for _, e := range servicetest.OfKind(evs, event.KindLogin) {
		l := e.Detail.(*event.Login)
		if l.Method != "login" {
			t.Errorf("login method %q, want login", l.Method)
		}
		if !slices.Contains(users, l.User) || !slices.Contains(passes, l.Password) {
			t.Errorf("login %s/%s is none of hydra's guesses", l.User, l.Password)
		}
		seen[l.User+"/"+l.Password] = true
		if l.Success {
			hits = append(hits, l.User+"/"+l.Password)
		}
	}
	if n := len(servicetest.OfKind(evs, event.KindLogin)); n < want-cutOff || n > want || len(seen) != n ||
		len(hits) != 1 || hits[0] != "administrator/password" {
		t.Errorf("%d login events, %d distinct, successes %v; want %d to %d (hydra cut off %d), as many distinct, [administrator/password]\n%s",
			n, len(seen), hits, want-cutOff, want, cutOff, out)
	}
	greet(t, h)
}

// greet checks a new session is answered.
func greet(t *testing.T, h *servicetest.Harness) {
	t.Helper()
	c := h.Dial(t)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "220 ") {
		t.Fatalf("a new session got %q, %v; want a 220 greeting", line, err)
	}
}

// nmap's service detection names the personas: it relies on the NULL
// probe's greeting and these lines of nmap-service-probes (7.93):
//
//	match smtp m|^220 \[?([-.+\w]+)\]? Microsoft ESMTP MAIL Service, Version: ([-\w.]+) ready| p/Microsoft ESMTP/ v/$2/ o/Windows/ h/$1/
//	match smtp m|^220([\s-]\S+) ESMTP Postfix| p/Postfix smtpd/ h/$1/
//
// Exchange 2000's own greeting is the Windows SMTP service's, so nmap
// names it "Microsoft ESMTP" with the service's version; its
// "Microsoft Exchange smtpd" lines match the greetings of Exchange 5.5
// and of 2007 and later only.
func TestNmapNamesExchange(t *testing.T) {
	out := runNmap(t, service.ProfileWindows2000)
	if !strings.Contains(out, "Microsoft ESMTP 5.0.2195.6713") || !strings.Contains(out, "Host: webserver.corp.local; OS: Windows") {
		t.Fatalf("nmap did not name Microsoft ESMTP 5.0.2195.6713 on Windows:\n%s", out)
	}
}

func TestNmapNamesPostfix(t *testing.T) {
	out := runNmap(t, service.ProfileLinuxIoT)
	if !strings.Contains(out, "Postfix smtpd") {
		t.Fatalf("nmap did not name Postfix smtpd:\n%s", out)
	}
}

func runNmap(t *testing.T, profile string) string {
	t.Helper()
	h := servicetest.Start(t, "smtp", newServer(t, profile, nil), nil)
	return servicetest.Nmap(t, h.Addr.Port(), time.Minute)
}

// session drives one connection by hand.
type session struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, h *servicetest.Harness) *session {
	t.Helper()
	c := h.Dial(t)
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	s := &session{t: t, c: c, br: bufio.NewReader(c)}
	s.expect("220 ")
	return s
}

// expect reads one reply (all its lines) and checks its last line's
// start.
func (s *session) expect(prefix string) string {
	s.t.Helper()
	var all string
	for {
		line, err := s.br.ReadString('\n')
		all += line
		if err != nil {
			s.t.Fatalf("reading a reply: %v (got %q, want %q)", err, all, prefix)
		}
		if len(line) < 4 || line[3] != '-' {
			break
		}
	}
	last := all[strings.LastIndex(strings.TrimSuffix(all, "\r\n"), "\n")+1:]
	if !strings.HasPrefix(last, prefix) {
		s.t.Fatalf("got reply %q, want %q", all, prefix)
	}
	return all
}

func (s *session) send(text string) {
	s.t.Helper()
	if _, err := s.c.Write([]byte(text)); err != nil {
		s.t.Fatal(err)
	}
}

func (s *session) cmd(line, prefix string) string {
	s.t.Helper()
	s.send(line + "\r\n")
	return s.expect(prefix)
}

// An over-long command line is cut at max_line, kept as a sample and
// answered; the session goes on.
func TestLongLineIsCut(t *testing.T) {
	h := servicetest.Start(t, "smtp", newServer(t, service.ProfileWindows2000, nil), nil)
	s := dial(t, h)
	long := "EHLO " + strings.Repeat("A", 300000)
	s.cmd(long, "500 5.5.1 Line too long")
	s.cmd("NOOP", "250 ")
	s.cmd("QUIT", "221 ")
	evs := h.WaitClosed(t, 1)
	p := servicetest.OfKind(evs, event.KindPayload)
	if len(p) != 1 {
		t.Fatalf("%d payload events, want 1", len(p))
	}
	pl := p[0].Detail.(*event.Payload)
	if pl.Len != int64(len(long))+1 || !pl.Truncated || len(pl.Data) != 1024 {
		t.Errorf("payload len %d truncated %v data %d; want len %d (with CR) truncated, 1024 bytes of data", pl.Len, pl.Truncated, len(pl.Data), len(long)+1)
	}
	if got, ok := h.Samples.Get(pl.Sample); !ok || string(got) != long[:4096] {
		t.Errorf("sample: %v, %d bytes; want the line's first 4096", ok, len(got))
	}
}

// An endless line (no newline ever) ends at the session's byte budget;
// it is recorded, and the service serves the next session.
func TestEndlessLine(t *testing.T) {
	lim := servicetest.Limits()
	lim.MaxBytesIn = 1 << 20
	h := servicetest.Start(t, "smtp", newServer(t, service.ProfileWindows2000, nil), &lim)
	s := dial(t, h)
	go func() {
		chunk := bytes.Repeat([]byte("A"), 64<<10)
		for i := 0; i < 32; i++ {
			if _, err := s.c.Write(chunk); err != nil {
				return
			}
		}
	}()
	evs := h.WaitClosed(t, 1)
	cl := servicetest.OfKind(evs, event.KindClose)[0].Detail.(*event.Close)
	if cl.Reason != event.ReasonBudget {
		t.Errorf("close reason %q, want %q", cl.Reason, event.ReasonBudget)
	}
	p := servicetest.OfKind(evs, event.KindPayload)
	if len(p) != 1 || p[0].Detail.(*event.Payload).Len != 1<<20 || !p[0].Detail.(*event.Payload).Truncated {
		t.Fatalf("payload events %v, want one of 1MiB, truncated", p)
	}
	greet(t, h)
}

func bigBody(n int) string {
	line := strings.Repeat("x", 998) + "\r\n"
	return "Subject: big\r\n\r\n" + strings.Repeat(line, n/len(line)+1)
}

// A message over max_message is read to its end, refused with 552 and
// recorded as too large with its first bytes kept; the session goes on.
func TestMessageOverCap(t *testing.T) {
	h := servicetest.Start(t, "smtp", newServer(t, service.ProfileWindows2000, func(c *Config) { c.MaxMessage = 64 << 10 }), nil)
	s := dial(t, h)
	s.cmd("HELO x", "250 ")
	s.cmd("MAIL FROM:<a@example.org>", "250 ")
	s.cmd("RCPT TO:<b@corp.local>", "250 ")
	s.cmd("DATA", "354 ")
	body := bigBody(200 << 10)
	s.send(body + ".\r\n")
	s.expect("552 5.3.4 ")
	s.cmd("NOOP", "250 ")
	s.cmd("QUIT", "221 ")
	evs := h.WaitClosed(t, 1)
	ms := mails(evs)
	if len(ms) != 1 {
		t.Fatalf("%d mail events", len(ms))
	}
	m := ms[0]
	if m.Result != event.MailTooLarge || !m.Truncated || m.Size != int64(len(body)) || m.QueueID != "" {
		t.Errorf("mail %+v; want too_large, truncated, size %d", m, len(body))
	}
	if got, ok := h.Samples.Get(m.Sample); !ok || string(got) != body[:64<<10] {
		t.Errorf("sample %v %d bytes; want the message's first 64KiB", ok, len(got))
	}
}

// An endless message body ends at the byte budget, recorded as aborted.
func TestEndlessData(t *testing.T) {
	lim := servicetest.Limits()
	lim.MaxBytesIn = 2 << 20
	h := servicetest.Start(t, "smtp", newServer(t, service.ProfileLinuxIoT, func(c *Config) { c.MaxMessage = 256 << 10 }), &lim)
	s := dial(t, h)
	s.cmd("EHLO x", "250 ")
	s.cmd("MAIL FROM:<a@example.org>", "250 ")
	s.cmd("RCPT TO:<b@example.net>", "250 ")
	s.cmd("DATA", "354 ")
	go func() {
		line := []byte(strings.Repeat("y", 78) + "\r\n")
		chunk := bytes.Repeat(line, 800)
		for i := 0; i < 100; i++ {
			if _, err := s.c.Write(chunk); err != nil {
				return
			}
		}
	}()
	evs := h.WaitClosed(t, 1)
	ms := mails(evs)
	if len(ms) != 1 || ms[0].Result != event.MailAborted || !ms[0].Truncated || !ms[0].RelayAttempt || ms[0].Size < 1<<20 {
		t.Fatalf("mail events %+v; want one aborted, truncated, over 1MiB received", ms)
	}
	if got, ok := h.Samples.Get(ms[0].Sample); !ok || len(got) != 256<<10 {
		t.Errorf("sample %v %d bytes; want 256KiB", ok, len(got))
	}
	if r := servicetest.OfKind(evs, event.KindClose)[0].Detail.(*event.Close).Reason; r != event.ReasonBudget {
		t.Errorf("close reason %q, want byte_budget", r)
	}
	greet(t, h)
}

// A thousand-part MIME bomb is accepted; decoding stops at max_parts and
// says so.
func TestMIMEBomb(t *testing.T) {
	h := servicetest.Start(t, "smtp", newServer(t, service.ProfileWindows2000, nil), nil)
	var b strings.Builder
	b.WriteString("Subject: bomb\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "--B\r\nContent-Type: application/octet-stream; name=f%d.exe\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n",
			i, base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("MZ part %d", i))))
	}
	b.WriteString("--B--\r\n")
	s := dial(t, h)
	s.cmd("HELO x", "250 ")
	s.cmd("MAIL FROM:<a@example.org>", "250 ")
	s.cmd("RCPT TO:<b@corp.local>", "250 ")
	s.cmd("DATA", "354 ")
	s.send(b.String() + ".\r\n")
	s.expect("250 2.6.0 ")
	s.cmd("QUIT", "221 ")
	evs := h.WaitClosed(t, 1)
	ms := mails(evs)
	if len(ms) != 1 || len(ms[0].MIMECut) != 1 || ms[0].MIMECut[0] != "parts" || len(ms[0].Attachments) != 99 {
		t.Fatalf("mail %+v; want mime_cut [parts] and 99 attachments", ms)
	}
	if n := len(uploads(evs)); n != 99 {
		t.Errorf("%d uploads, want 99", n)
	}
	if got, _ := h.Samples.Get(ms[0].Attachments[98]); string(got) != "MZ part 98" {
		t.Errorf("last attachment kept %q, want MZ part 98", got)
	}
	greet(t, h)
}
