package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
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
	out, err := exec.Command("curl", "-sS", "--max-time", "20", "--ftp-pasv", "-u", "anonymous:worm@", url).CombinedOutput()
	if err != nil {
		t.Fatalf("curl LIST: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("<DIR>")) && !bytes.Contains(out, []byte("drw")) {
		t.Errorf("LIST output looks empty:\n%s", out)
	}
	out, err = exec.Command("curl", "-sS", "--max-time", "20", "--ftp-pasv", "-u", "anonymous:worm@", "-T", upload, url).CombinedOutput()
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
