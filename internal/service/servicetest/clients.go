package servicetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
)

// Run runs a client program as exec's CombinedOutput does, ended after
// timeout beyond the client's own timeouts. A killed client's children
// cannot hold its pipes open: Wait gives up on them after 5 seconds.
func Run(timeout time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// Netns creates a network namespace named prefix plus random hex, brings
// its loopback up, runs each of setup as `ip -n NAME ARGS...`, and deletes
// it when the test ends. It returns the namespace's name and the path of
// ip. Without root (why says what the namespace is for) or without ip
// the test is skipped.
func Netns(t testing.TB, prefix, why string, setup ...[]string) (name, ip string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("needs ip (Debian package iproute2) to create a network namespace")
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name = prefix + hex.EncodeToString(rnd[:])
	if out, err := Run(30*time.Second, ip, "netns", "add", name); err != nil {
		t.Skipf("cannot create a network namespace (%v): %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := Run(30*time.Second, ip, "netns", "delete", name); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", name, err, out)
		}
	})
	for _, args := range append([][]string{{"link", "set", "lo", "up"}}, setup...) {
		if out, err := Run(30*time.Second, ip, append([]string{"-n", name}, args...)...); err != nil {
			t.Fatalf("ip -n %s %v: %v: %s", name, args, err, out)
		}
	}
	return name, ip
}

// JSONLines is an emitter that writes every event as one JSON line to W:
// how a helper process serving inside a namespace hands its events to
// the test.
type JSONLines struct {
	mu sync.Mutex
	W  io.Writer
}

func (j *JSONLines) Emit(e *event.Event) {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	_, _ = j.W.Write(append(b, '\n'))
}

// Nmap runs `nmap -sV` (with extra arguments) against port on 127.0.0.1
// and returns what it printed: the fidelity check every service has. It
// skips the test in -short mode or without nmap, and fails it when nmap
// fails or takes longer than timeout.
func Nmap(t testing.TB, port uint16, timeout time.Duration, extra ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("nmap version detection takes seconds; skipped in -short mode")
	}
	bin, err := exec.LookPath("nmap")
	if err != nil {
		t.Skip("nmap is not installed (Debian package nmap): the fidelity check needs it")
	}
	args := append([]string{"-sV", "-Pn", "-n", "-p", strconv.Itoa(int(port))}, extra...)
	out, err := Run(timeout, bin, append(args, "127.0.0.1")...)
	if err != nil {
		t.Fatalf("nmap: %v\n%s", err, out)
	}
	return string(out)
}

// pipeConn is a connection whose client has said all it will: reads come
// from the input, then EOF; writes are kept.
type pipeConn struct {
	in          io.Reader
	out         bytes.Buffer
	local, peer net.Addr
}

func (c *pipeConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *pipeConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *pipeConn) Close() error                     { return nil }
func (c *pipeConn) LocalAddr() net.Addr              { return c.local }
func (c *pipeConn) RemoteAddr() net.Addr             { return c.peer }
func (c *pipeConn) SetDeadline(time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(time.Time) error { return nil }

// ServeBytes runs one whole session of h, without a network or an engine,
// over a client that sends in and then nothing: what a fuzz test of a
// service's session needs. rec names the session (its Emitter and Samples
// included); it returns what h wrote.
func ServeBytes(h service.Handler, rec service.Recorder, in []byte, bufSize int) []byte {
	pc := &pipeConn{in: bytes.NewReader(in),
		local: net.TCPAddrFromAddrPort(rec.Local), peer: net.TCPAddrFromAddrPort(rec.Remote)}
	sess := service.NewSession(pc, rec, slog.New(slog.DiscardHandler), bufSize)
	h.ServeTCP(context.Background(), sess)
	sess.Release()
	return pc.out.Bytes()
}
