//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// server is one server process under test.
type server struct {
	name   string
	addr   string
	pid    int
	cmd    *exec.Cmd
	stderr *tail
	done   chan struct{} // closed once the process has been waited for
	err    error         // its exit, once done is closed
	conns  int64         // connections the harness made to it
}

// start runs cmd as a server: it dies with the harness (Pdeathsig), its
// stderr is kept (the last few KiB) and ready reads its stdout until it
// has started and returns its address; the rest of stdout is discarded.
func start(ctx context.Context, name string, cmd *exec.Cmd, ready func(*bufio.Scanner) (string, error)) (*server, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s := &server{name: name, cmd: cmd, stderr: &tail{max: 8 << 10}, done: make(chan struct{})}
	cmd.Stderr = s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", name, err)
	}
	s.pid = cmd.Process.Pid
	type res struct {
		addr string
		err  error
	}
	got := make(chan res, 1)
	go func() {
		sc := bufio.NewScanner(out)
		addr, err := ready(sc)
		got <- res{addr, err}
		_, _ = io.Copy(io.Discard, out)
		s.err = cmd.Wait()
		close(s.done)
	}()
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case r := <-got:
		if r.err == nil {
			s.addr = r.addr
			return s, nil
		}
		err = r.err
	case <-timer.C:
		err = errors.New("not ready after 60s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.kill()
	return nil, fmt.Errorf("bench: %s: %w\n%s", name, err, s.stderr)
}

// stop ends the server with SIGTERM, waits up to 30 s (then kills it) and
// describes how it ended.
func (s *server) stop() string {
	begin := time.Now()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.kill()
		return "did not stop within 30 s of SIGTERM; killed"
	}
	took := time.Since(begin).Round(10 * time.Millisecond)
	if s.err != nil {
		return fmt.Sprintf("SIGTERM: %v after %s\n%s", s.err, took, s.stderr)
	}
	return fmt.Sprintf("SIGTERM: exit status 0 after %s", took)
}

// kill ends the server at once and waits for it (bounded).
func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}

// alive reports whether the process is still running.
func (s *server) alive() error {
	select {
	case <-s.done:
		return fmt.Errorf("bench: %s exited: %v\n%s", s.name, s.err, s.stderr)
	default:
		return nil
	}
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}

// startBare re-executes this program as the bare server, answering with
// the bytes in respFile (its own page when "").
func startBare(ctx context.Context, name, respFile string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	cmd := exec.Command(self, "-bare", "127.0.0.1:0", "-bare-response", respFile)
	return start(ctx, name, cmd, func(sc *bufio.Scanner) (string, error) {
		if !sc.Scan() {
			return "", errors.New("exited before listening")
		}
		addr, ok := strings.CutPrefix(sc.Text(), "ready ")
		if !ok {
			return "", fmt.Errorf("unexpected output %q", sc.Text())
		}
		return addr, nil
	})
}

// buildSmallpot builds ./cmd/smallpot of the module in dir into tmp.
func buildSmallpot(ctx context.Context, dir, tmp string) (string, error) {
	bin := filepath.Join(tmp, "smallpot")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/smallpot")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("bench: building smallpot: %w\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("bench: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("bench: run from inside the smallpot module (go run ./bench)")
	}
	return filepath.Dir(mod), nil
}

// smallpotConfig writes the configuration Smallpot runs with: the http
// service alone on port, every other service of this build off, caps
// above the idle test's connections from 127.0.0.1, warnings only in the
// log. Capture and storage keep their defaults: on.
func smallpotConfig(ctx context.Context, bin, tmp string, port, idle int) (string, error) {
	path := filepath.Join(tmp, "smallpot.yaml")
	head := fmt.Sprintf(`run_as: ""
log:
  level: warn
limits:
  max_sessions: %d
  max_sessions_per_source: %d
  idle_timeout: 5m
`, idle+1000, idle+1000)
	if err := os.WriteFile(path, []byte(head), 0o600); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	// Which services does this build have? Every one but http is
	// turned off by name.
	out, err := exec.CommandContext(ctx, bin, "config", "effective", "-config", path).Output()
	if err != nil {
		return "", fmt.Errorf("bench: smallpot config effective: %w", err)
	}
	var eff struct {
		Services map[string]yaml.Node `yaml:"services"`
	}
	if err := yaml.Unmarshal(out, &eff); err != nil {
		return "", fmt.Errorf("bench: smallpot config effective: %w", err)
	}
	if _, ok := eff.Services["http"]; !ok {
		return "", errors.New("bench: this smallpot build has no http service")
	}
	var b strings.Builder
	b.WriteString(head)
	b.WriteString("services:\n")
	fmt.Fprintf(&b, "  http:\n    enabled: true\n    ports: [%d]\n", port)
	for _, name := range slices.Sorted(maps.Keys(eff.Services)) {
		if name != "http" {
			fmt.Fprintf(&b, "  %s:\n    enabled: false\n", name)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	return path, nil
}

// startSmallpot runs `smallpot run` and waits for its start-up table: a
// header line starting with SERVICE, one line per listener, an empty line.
// The table must list http on 127.0.0.1:port and nothing else.
func startSmallpot(ctx context.Context, bin, cfg, data string, port int) (*server, error) {
	cmd := exec.Command(bin, "run", "-config", cfg, "-data", data, "-bind", "127.0.0.1", "-port-offset", "0")
	want := "127.0.0.1:" + strconv.Itoa(port)
	return start(ctx, "smallpot", cmd, func(sc *bufio.Scanner) (string, error) {
		inTable := false
		var rows []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case !inTable && strings.HasPrefix(line, "SERVICE"):
				inTable = true
			case inTable && strings.TrimSpace(line) == "":
				if len(rows) != 1 {
					return "", fmt.Errorf("want only http listening, got %q", rows)
				}
				f := strings.Fields(rows[0])
				if len(f) < 2 || f[0] != "http" || f[1] != "tcp/"+want {
					return "", fmt.Errorf("want http on tcp/%s, got %q", want, rows[0])
				}
				return want, nil
			case inTable:
				rows = append(rows, line)
			}
		}
		return "", errors.New("exited before its start-up table")
	})
}
