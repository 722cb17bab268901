package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/config"
)

func TestUsageAndHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage: smallpot COMMAND"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"help"}, 0, "Commands:"},
		{[]string{"run", "-h"}, 0, "-port-offset"},
		{[]string{"events", "-h"}, 0, "-kind"},
		{[]string{"samples", "ls", "-h"}, 0, "-json"},
		{[]string{"samples", "show", "-h"}, 0, "SHA256"},
		{[]string{"session", "-h"}, 0, "SESSION-ID"},
		{[]string{"config", "-h"}, 0, "config default"},
		{[]string{"version"}, 0, "smallpot "},
		{[]string{"run", "-bogus"}, 2, "flag provided but not defined"},
	} {
		var out, errb bytes.Buffer
		code := realMain(tc.args, &out, &errb)
		if code != tc.code {
			t.Errorf("smallpot %v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, errb.String())
		}
		if all := out.String() + errb.String(); !strings.Contains(all, tc.want) {
			t.Errorf("smallpot %v: output %q lacks %q", tc.args, all, tc.want)
		}
	}
}

func TestConfigDefaultIsTheEmbeddedOneAndParses(t *testing.T) {
	var out bytes.Buffer
	if code := realMain([]string{"config", "default"}, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	if !bytes.Equal(out.Bytes(), config.Default()) {
		t.Fatal("config default does not print the embedded default")
	}
	cfg, err := config.Parse(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cfg.ResolveServices()
	if err != nil {
		t.Fatal(err)
	}
	// The embedded default names every service this build has, enabled.
	for _, r := range rs {
		if _, ok := cfg.Services[r.Module.Name]; !ok {
			t.Errorf("service %s is missing from the embedded default config", r.Module.Name)
		}
		if !r.Config.Common().Enabled {
			t.Errorf("service %s is not enabled by default", r.Module.Name)
		}
	}
	out.Reset()
	for _, p := range []string{"windows2000", "linux-iot"} {
		if code := realMain([]string{"config", "effective", "-profile", p}, &out, &out); code != 0 {
			t.Fatalf("config effective -profile %s: exit %d: %s", p, code, out.String())
		}
	}
}

func TestUnprivilegedRunMovesLowPortsLoudly(t *testing.T) {
	old := canBind
	canBind = func(port int) bool { return port >= 1024 }
	defer func() { canBind = old }()

	cfg, err := config.Parse([]byte("services:\n  http:\n    ports: [80, 8080]\n  generic:\n    ports: [4444]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir() // services may keep state there (SSH host keys)
	var warn bytes.Buffer
	plan, err := planListeners(cfg, false, &warn)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	for _, l := range plan {
		got[l.configured] = l.port
	}
	if got[80] != 10080 || got[8080] != 8080 || got[4444] != 4444 {
		t.Errorf("ports planned %v, want 80→10080 and the others unchanged", got)
	}
	// One loud line per moved service, naming the ports and the fix.
	moved := map[string]bool{}
	for _, l := range plan {
		if l.port != l.configured {
			moved[l.service] = true
		}
	}
	lines := strings.Split(strings.TrimSpace(warn.String()), "\n")
	if len(lines) != len(moved) {
		t.Errorf("%d warning lines for %d moved services:\n%s", len(lines), len(moved), warn.String())
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "WARNING: ") || !strings.Contains(line, "setcap cap_net_bind_service=+ep") || !strings.Contains(line, "-port-offset 0") {
			t.Errorf("warning line does not name the fix: %q", line)
		}
	}
	if !strings.Contains(warn.String(), "WARNING: http: ports tcp 80→10080 moved") {
		t.Errorf("no line for http's port 80:\n%s", warn.String())
	}

	// An explicit -port-offset 0 insists on the real ports.
	warn.Reset()
	plan, err = planListeners(cfg, true, &warn)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range plan {
		if l.port != l.configured {
			t.Errorf("with -port-offset 0, %s port %d moved to %d", l.service, l.configured, l.port)
		}
	}
	if warn.Len() != 0 {
		t.Errorf("with -port-offset 0, unexpected warning %q", warn.String())
	}
}

func TestBindFailureNamesThePortAndTheFix(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	y := fmt.Sprintf("run_as: \"\"\nservices:\n  generic:\n    enabled: false\n  http:\n    ports: [%d]\n", port)
	if err := os.WriteFile(cfg, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := realMain([]string{"run", "-config", cfg, "-data", filepath.Join(dir, "d"), "-bind", "127.0.0.1", "-port-offset", "0"}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, errb.String())
	}
	msg := errb.String()
	for _, want := range []string{fmt.Sprintf("bind 127.0.0.1:%d", port), "address already in use", "-port-offset"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

func TestUnknownConfigKeyNamesItsLine(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("profile: windows2000\nservices:\n  http:\n    prots: [80]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := realMain([]string{"run", "-config", cfg, "-data", filepath.Join(dir, "d")}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if msg := errb.String(); !strings.Contains(msg, "line 4") || !strings.Contains(msg, `"prots"`) || !strings.Contains(msg, "ports") {
		t.Errorf("error %q should name the key, its line and the known keys", msg)
	}
}
