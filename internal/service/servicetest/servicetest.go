// Package servicetest runs a protocol handler on a real engine bound to
// 127.0.0.1, so protocol tests go through the same limits, events and
// sample store as production, and provides transcript tests: canned client
// bytes in, golden server bytes and expected events out, kept in txtar
// files under testdata/ and rewritten with -update.
package servicetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/engine"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
)

// Update rewrites golden files instead of comparing with them.
var Update = flag.Bool("update", false, "rewrite golden transcript files")

// Collector keeps every event in memory.
type Collector struct {
	mu     sync.Mutex
	events []*event.Event
	notify chan struct{}
}

// NewCollector returns an empty collector.
func NewCollector() *Collector { return &Collector{notify: make(chan struct{}, 1)} }

// Emit implements service.Emitter.
func (c *Collector) Emit(e *event.Event) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// Events returns a copy of what was emitted so far.
func (c *Collector) Events() []*event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*event.Event(nil), c.events...)
}

// Wait returns the events once cond holds for them, or fails the test
// after timeout.
func (c *Collector) Wait(t testing.TB, timeout time.Duration, cond func([]*event.Event) bool) []*event.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		evs := c.Events()
		if cond(evs) {
			return evs
		}
		select {
		case <-c.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for events; have %d: %s", len(evs), Summary(evs))
			return nil
		}
	}
}

// Summary lists event kinds, for failure messages.
func Summary(evs []*event.Event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(string(e.Kind))
		b.WriteByte(' ')
	}
	return b.String()
}

// OfKind returns the events of kind k.
func OfKind(evs []*event.Event, k event.Kind) []*event.Event {
	var out []*event.Event
	for _, e := range evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// MemSamples is a sample store in memory.
type MemSamples struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMemSamples returns an empty store.
func NewMemSamples() *MemSamples { return &MemSamples{m: map[string][]byte{}} }

// Put implements service.SampleStore.
func (s *MemSamples) Put(data []byte, d service.Digest) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[d.SHA256]; ok {
		return false, nil
	}
	s.m[d.SHA256] = bytes.Clone(data)
	return true, nil
}

// Get returns a stored sample.
func (s *MemSamples) Get(sha string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[sha]
	return b, ok
}

// Len returns how many samples are stored.
func (s *MemSamples) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Limits returns the default limits with short timeouts, for tests.
func Limits() config.Limits {
	l := config.Builtin().Limits
	l.IdleTimeout = 5 * time.Second
	l.MaxDuration = 30 * time.Second
	return l
}

// Harness is an engine serving one handler on 127.0.0.1.
type Harness struct {
	Engine  *engine.Engine
	Events  *Collector
	Samples *MemSamples
	Addr    netip.AddrPort // TCP address, if a Handler was given
	UDPAddr netip.AddrPort // UDP address, if a PacketHandler was given
}

// Start serves h (a service.Handler, a service.PacketHandler or both) under
// the service name name until the test ends. limits may be nil.
func Start(t testing.TB, name string, h any, limits *config.Limits) *Harness {
	t.Helper()
	l := Limits()
	if limits != nil {
		l = *limits
	}
	hs := &Harness{Events: NewCollector(), Samples: NewMemSamples()}
	hs.Engine = engine.New(engine.Options{Sensor: "test", Limits: l, Emitter: hs.Events, Samples: hs.Samples})
	var err error
	if th, ok := h.(service.Handler); ok {
		if hs.Addr, err = hs.Engine.ListenTCP(name, "127.0.0.1:0", th); err != nil {
			t.Fatal(err)
		}
	}
	if ph, ok := h.(service.PacketHandler); ok {
		if hs.UDPAddr, err = hs.Engine.ListenUDP(name, "127.0.0.1:0", ph, 0); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = hs.Engine.Serve(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("engine did not stop within 10s")
		}
	})
	return hs
}

// Dial connects to the harness's TCP listener.
func (h *Harness) Dial(t testing.TB) *net.TCPConn {
	t.Helper()
	c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(h.Addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Exchange connects, sends input, closes its sending side and returns all
// the server sent until it closed (or timeout passed).
func (h *Harness) Exchange(t testing.TB, input []byte, timeout time.Duration) []byte {
	t.Helper()
	c := h.Dial(t)
	_ = c.SetDeadline(time.Now().Add(timeout))
	go func() {
		_, _ = c.Write(input)
		_ = c.CloseWrite()
	}()
	out, err := io.ReadAll(c)
	if err != nil && !isTimeout(err) {
		t.Logf("read: %v", err)
	}
	return out
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// WaitClosed waits for n close events and returns all events.
func (h *Harness) WaitClosed(t testing.TB, n int) []*event.Event {
	t.Helper()
	return h.Events.Wait(t, 10*time.Second, func(evs []*event.Event) bool {
		return len(OfKind(evs, event.KindClose)) >= n
	})
}

// Transcript test files (txtar) hold:
//
//	-- input --     the client's bytes
//	-- output --    the server's bytes (golden)
//
// txtar ends every file with a newline; bytes that do not end with one are
// kept under "input-no-newline" or "output-no-newline" instead, whose last
// newline is not part of the data.
//
//	-- events --    one JSON object per event, {"kind":...,"detail":{...}},
//	                without connect and close (golden)
//
// Normalize, if not nil, rewrites volatile parts (dates) of the output
// before comparing.
type TranscriptOptions struct {
	Normalize func([]byte) []byte
	Timeout   time.Duration
}

// RunTranscripts runs every testdata/*.txtar file in dir against a fresh
// harness for h.
func RunTranscripts(t *testing.T, dir, name string, newHandler func() any, opts TranscriptOptions) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if len(files) == 0 {
		t.Fatalf("no transcript files in %s", dir)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var input []byte
			for _, fl := range ar.Files {
				switch fl.Name {
				case "input":
					input = fl.Data
				case "input-no-newline":
					input = bytes.TrimSuffix(fl.Data, []byte("\n"))
				}
			}
			h := Start(t, name, newHandler(), nil)
			out := h.Exchange(t, input, opts.Timeout)
			if opts.Normalize != nil {
				out = opts.Normalize(out)
			}
			evs := h.WaitClosed(t, 1)
			var eb bytes.Buffer
			for _, e := range evs {
				if e.Kind == event.KindConnect || e.Kind == event.KindClose {
					continue
				}
				d, err := json.Marshal(e.Detail)
				if err != nil {
					t.Fatal(err)
				}
				line, _ := json.Marshal(struct {
					Kind   event.Kind      `json:"kind"`
					Detail json.RawMessage `json:"detail"`
				}{e.Kind, d})
				eb.Write(line)
				eb.WriteByte('\n')
			}
			if *Update {
				var nf []txtar.File
				for _, fl := range ar.Files {
					if fl.Name != "output" && fl.Name != "output-no-newline" && fl.Name != "events" {
						nf = append(nf, fl)
					}
				}
				outFile := txtar.File{Name: "output", Data: out}
				if len(out) > 0 && out[len(out)-1] != '\n' {
					outFile = txtar.File{Name: "output-no-newline", Data: append(bytes.Clone(out), '\n')}
				}
				nf = append(nf, outFile, txtar.File{Name: "events", Data: eb.Bytes()})
				ar.Files = nf
				if err := os.WriteFile(f, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, fl := range ar.Files {
				switch fl.Name {
				case "output", "output-no-newline":
					want := fl.Data
					if fl.Name == "output-no-newline" {
						want = bytes.TrimSuffix(want, []byte("\n"))
					}
					if !bytes.Equal(want, out) {
						t.Errorf("output differs\n got: %q\nwant: %q", out, want)
					}
				case "events":
					if !bytes.Equal(fl.Data, eb.Bytes()) {
						t.Errorf("events differ\n got: %s\nwant: %s", eb.Bytes(), fl.Data)
					}
				}
			}
		})
	}
}

// TranscriptInputs returns the client bytes of every transcript file in
// dirs: the seeds of a service's fuzz tests.
func TranscriptInputs(t testing.TB, dirs ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.txtar"))
		for _, name := range files {
			ar, err := txtar.ParseFile(name)
			if err != nil {
				t.Fatal(err)
			}
			for _, fl := range ar.Files {
				switch fl.Name {
				case "input":
					out = append(out, fl.Data)
				case "input-no-newline":
					out = append(out, bytes.TrimSuffix(fl.Data, []byte("\n")))
				}
			}
		}
	}
	return out
}
