package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
)

// Every notifier's goroutine ends with its Sink's Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// alert builds an alert record. Its detail is JSON this package has no
// struct for, as the novelty stage's alerts are to this build.
func alert(kind, family, title, severity string) pipeline.Record {
	d, _ := json.Marshal(map[string]any{"kind": kind, "family": family, "title": title, "severity": severity,
		"summary": "first seen from 203.0.113.7", "sample": strings.Repeat("ab", 32)})
	return record(event.Kind("alert"), event.Raw{K: "alert", JSON: d})
}

func record(k event.Kind, d event.Detail) pipeline.Record {
	now := time.Date(2026, 11, 27, 17, 40, 1, 123456789, time.UTC)
	e := &event.Event{ID: event.NewID(now), Time: now, Sensor: "pot-1", Session: "019aa6f0-5c3d-7e55-8f7e-1d2c3b4a5968",
		Service: "http", Transport: event.TCP, Src: netip.MustParseAddrPort("203.0.113.7:40122"),
		Dst: netip.MustParseAddrPort("192.0.2.10:80"), Kind: k, Detail: d}
	b, err := e.MarshalJSON()
	if err != nil {
		panic(err)
	}
	return pipeline.Record{Event: e, JSON: b}
}

func newSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.grace = 500 * time.Millisecond
	t.Cleanup(func() { s.Close() })
	return s
}

func write(t *testing.T, s *Sink, recs ...pipeline.Record) {
	t.Helper()
	if err := s.Write(context.Background(), recs); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func testConfig() Config {
	c := Defaults()
	c.Rate.Every = time.Hour // nothing refills during a test
	return c
}

type hook struct {
	mu   sync.Mutex
	reqs []hookReq
}

type hookReq struct {
	path, auth, ctype string
	body              map[string]any
}

func (h *hook) handler(status func(n int) int) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		h.mu.Lock()
		h.reqs = append(h.reqs, hookReq{r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), m})
		h.mu.Unlock()
		w.WriteHeader(status(int(n.Add(1))))
	})
}

func (h *hook) wait(t *testing.T, n int) []hookReq {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		h.mu.Lock()
		got := append([]hookReq(nil), h.reqs...)
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook got %d requests; want %d", len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitStats(t *testing.T, s *Sink, ok func(NotifierStats) bool) NotifierStats {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := s.Stats()[0]
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v never as wanted", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebhook(t *testing.T) {
	var h hook
	srv := httptest.NewServer(h.handler(func(int) int { return http.StatusNoContent }))
	defer srv.Close()
	cfg := testConfig()
	cfg.Webhooks = []Webhook{{URL: srv.URL + "/hooks/T0/s3cret", Headers: map[string]string{"Authorization": "Bearer t0k"}}}
	s := newSink(t, cfg)
	rec := alert("new_sample", "", "New sample", "high")
	write(t, s, rec)
	r := h.wait(t, 1)[0]
	if r.path != "/hooks/T0/s3cret" || r.auth != "Bearer t0k" || r.ctype != "application/json" {
		t.Errorf("got request %+v; want POST to the path with the header, JSON", r)
	}
	want := map[string]any{"type": "alert", "kind": "new_sample", "title": "New sample", "severity": "high",
		"sensor": "pot-1", "service": "http", "src": "203.0.113.7:40122", "session": rec.Event.Session,
		"event": rec.Event.ID, "sample": strings.Repeat("ab", 32), "summary": "first seen from 203.0.113.7",
		"text": "New sample (high): first seen from 203.0.113.7", "time": "2026-11-27T17:40:01.123456789Z"}
	for k, v := range want {
		if r.body[k] != v {
			t.Errorf("body[%q] = %v; want %v", k, r.body[k], v)
		}
	}
	waitStats(t, s, func(st NotifierStats) bool { return st.Sent == 1 })
}

func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name     string
		status   func(n int) int
		requests int
		sent     uint64
	}{
		{"500 then ok", func(n int) int { return map[bool]int{true: 500, false: 200}[n <= 2] }, 3, 1},
		{"always 503", func(int) int { return 503 }, 3, 0},
		{"429 then ok", func(n int) int { return map[bool]int{true: 429, false: 202}[n == 1] }, 2, 1},
		{"400 is not retried", func(int) int { return 400 }, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h hook
			srv := httptest.NewServer(h.handler(tt.status))
			defer srv.Close()
			cfg := testConfig()
			cfg.Webhooks = []Webhook{{URL: srv.URL, Attempts: 3, Backoff: 10 * time.Millisecond}}
			s := newSink(t, cfg)
			write(t, s, alert("new_sample", "", "New sample", "high"))
			st := waitStats(t, s, func(st NotifierStats) bool { return st.Sent+st.Failed == 1 })
			if got := len(h.wait(t, tt.requests)); got != tt.requests || st.Sent != tt.sent {
				t.Errorf("got %d requests, stats %+v; want %d requests, %d sent", got, st, tt.requests, tt.sent)
			}
		})
	}
}

func TestRateLimitDigest(t *testing.T) {
	var h hook
	srv := httptest.NewServer(h.handler(func(int) int { return 200 }))
	defer srv.Close()
	cfg := testConfig()
	cfg.DigestEvery = 200 * time.Millisecond
	cfg.Webhooks = []Webhook{{URL: srv.URL}}
	s := newSink(t, cfg)
	batch := []pipeline.Record{alert("new_variant", "Nimda", "Nimda.A", "high"), alert("new_probe", "", "New probe shape", "low")}
	for range 1235 {
		batch = append(batch, alert("new_variant", "CodeRed", "CodeRed II", "critical"))
	}
	write(t, s, batch...)
	waitStats(t, s, func(st NotifierStats) bool { return st.Sent == 3 && st.Suppressed == 1234 })
	// The digests (more than one if writing the batch outlasted the
	// digest interval) count every alert held back, under its kind.
	total := 0
	var alerts []string
	deadline := time.Now().Add(20 * time.Second)
	for n := 1; total < 1234; n++ {
		if time.Now().After(deadline) {
			t.Fatalf("digests counted %d alerts; want 1234", total)
		}
		total, alerts = 0, nil
		for _, r := range h.wait(t, n) {
			switch r.body["type"] {
			case "alert":
				alerts = append(alerts, fmt.Sprint(r.body["title"]))
			case "digest":
				items, _ := r.body["items"].([]any)
				if len(items) != 1 {
					t.Fatalf("got digest %v; want one kind", r.body)
				}
				it := items[0].(map[string]any)
				if it["kind"] != "new_variant/CodeRed" || it["title"] != "CodeRed II" {
					t.Errorf("got item %v; want CodeRed II", it)
				}
				count, _ := it["count"].(float64)
				total += int(count)
				want := regexp.MustCompile(`^CodeRed II: ` + thousands(int(count)) + ` more in the last \d+ s$`)
				if text, _ := r.body["text"].(string); !want.MatchString(text) {
					t.Errorf("got text %q; want %s", text, want)
				}
			}
		}
	}
	if total != 1234 || strings.Join(alerts, ",") != "Nimda.A,New probe shape,CodeRed II" {
		t.Errorf("got alerts %q and %d held back; want one alert of each kind, 1234 held back", alerts, total)
	}
	// Nothing more held back: no more digests.
	n := len(h.wait(t, 1))
	time.Sleep(3 * cfg.DigestEvery)
	if m := len(h.wait(t, 1)); m != n {
		t.Errorf("got %d more requests; want no empty digest", m-n)
	}
}

func TestEmailDigest(t *testing.T) {
	srv := startSMTP(t, false)
	cfg := testConfig()
	cfg.DigestEvery = 300 * time.Millisecond
	cfg.Email = []Email{{Server: srv.addr(), Username: "pot", Password: "pw", From: "Smallpot <pot@example.org>",
		To: []string{"soc@example.org", "Ana <ana@example.org>"}}}
	s := newSink(t, cfg)
	var batch []pipeline.Record
	for range 500 {
		batch = append(batch, alert("new_sample", "", "New sample \"evil\"\r\nBcc: x@example.com", "high"))
	}
	write(t, s, batch...)
	mails := srv.wait(t, 2)
	if m := mails[0]; m.auth != "\x00pot\x00pw" || m.from != "pot@example.org" ||
		strings.Join(m.to, ",") != "soc@example.org,ana@example.org" {
		t.Errorf("got auth %q, from %q, to %q; want AUTH PLAIN pot, the addresses", m.auth, m.from, m.to)
	}
	first := readMail(t, mails[0].data)
	if first.subject != `[smallpot] New sample "evil"  Bcc: x@example.com (high)` || first.header.Get("Bcc") != "" {
		t.Errorf("got subject %q (Bcc %q); want the title on one line, no Bcc header", first.subject, first.header.Get("Bcc"))
	}
	if !strings.Contains(first.body, "  service:  http\r\n") || !strings.Contains(first.body, "first seen from 203.0.113.7") {
		t.Errorf("got body %q; want the alert's fields", first.body)
	}
	digest := readMail(t, mails[1].data)
	if !regexp.MustCompile(`^\[smallpot\] digest: 499 alerts held back in the last \d+ s$`).MatchString(digest.subject) {
		t.Errorf("got digest subject %q", digest.subject)
	}
	if !regexp.MustCompile(`New sample "evil"  Bcc: x@example.com: 499 more in the last \d+ s`).MatchString(digest.body) {
		t.Errorf("got digest body %q; want the count", digest.body)
	}
}

type parsedMail struct {
	header        mail.Header
	subject, body string
}

func readMail(t *testing.T, data string) parsedMail {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatalf("mail: %v\n%s", err, data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Content-Transfer-Encoding") != "quoted-printable" || m.Header.Get("Message-Id") == "" || m.Header.Get("Date") == "" {
		t.Errorf("got header %v; want quoted-printable, Message-ID, Date", m.Header)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	return parsedMail{m.Header, subject, string(body)}
}

func TestEmailStartTLSRequired(t *testing.T) {
	srv := startSMTP(t, false)
	cfg := testConfig()
	cfg.Email = []Email{{Server: srv.addr(), StartTLS: true, Username: "pot", Password: "pw",
		From: "pot@example.org", To: []string{"soc@example.org"}}}
	s := newSink(t, cfg)
	write(t, s, alert("new_sample", "", "New sample", "high"))
	waitStats(t, s, func(st NotifierStats) bool { return st.Failed == 1 })
	mails, cmds := srv.got()
	for _, c := range cmds {
		if strings.HasPrefix(c, "AUTH") || strings.HasPrefix(c, "MAIL") {
			t.Errorf("sent %q without TLS", c)
		}
	}
	if len(mails) != 0 {
		t.Errorf("got %d mails; want none", len(mails))
	}
}

// rfc5424 matches a message: PRI VERSION TIMESTAMP HOSTNAME APP-NAME
// PROCID MSGID STRUCTURED-DATA MSG.
var rfc5424 = regexp.MustCompile(`^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) ([!-~]{1,255}) smallpot (\d+) ([!-~]{1,32}) \[smallpot@32473((?: [a-z]+="(?:[^"\\\]]|\\["\\\]])*")*)\] ([ -~]*)$`)

var sdParam = regexp.MustCompile(`([a-z]+)="((?:[^"\\\]]|\\["\\\]])*)"`)

func parseSyslog(t *testing.T, line string) (pri int, ts, host, msgid string, params map[string]string, msg string) {
	t.Helper()
	m := rfc5424.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not an RFC 5424 message: %q", line)
	}
	if m[4] != strconv.Itoa(os.Getpid()) {
		t.Errorf("got PROCID %s; want %d", m[4], os.Getpid())
	}
	pri, _ = strconv.Atoi(m[1])
	params = map[string]string{}
	for _, p := range sdParam.FindAllStringSubmatch(m[6], -1) {
		params[p[1]] = strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\]`, `]`).Replace(p[2])
	}
	return pri, m[2], m[3], m[5], params, m[7]
}

func TestSyslog(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			addr, ch := syslogUDP(t)
			if network == "tcp" {
				addr, ch = syslogTCP(t)
			}
			cfg := testConfig()
			cfg.DigestEvery = 300 * time.Millisecond
			cfg.Detections = true
			cfg.Syslog = []Syslog{{Network: network, Address: addr}}
			s := newSink(t, cfg)
			title := `CodeRed "II" ]\ ü`
			det := record(event.KindDetection, &event.Detection{Rule: "codered-ii", Engine: "rules", Title: title,
				Family: "CodeRed", Exploit: "IIS .ida overflow\nü", Bulletin: "MS01-033", Severity: "critical", Of: "x", OfKind: "request"})
			write(t, s, det, det, det)

			pri, ts, host, msgid, params, msg := parseSyslog(t, recv(t, ch))
			if pri != 16*8+2 || ts != "2026-11-27T17:40:01.123456Z" || host != "pot-1" || msgid != "detection" {
				t.Errorf("got PRI %d, time %s, host %s, msgid %s; want 130 (local0.crit), the event's time, pot-1, detection",
					pri, ts, host, msgid)
			}
			want := map[string]string{"kind": "detection", "severity": "critical", "title": title, "family": "CodeRed",
				"rule": "codered-ii", "service": "http", "src": "203.0.113.7:40122", "session": det.Event.Session, "event": det.Event.ID}
			for k, v := range want {
				if params[k] != v {
					t.Errorf("SD %s=%q; want %q", k, params[k], v)
				}
			}
			if wantMsg := `CodeRed "II" ]\ \xc3\xbc: IIS .ida overflow \xc3\xbc MS01-033`; msg != wantMsg {
				t.Errorf("got MSG %q; want %q", msg, wantMsg)
			}
			_, _, _, msgid, params, msg = parseSyslog(t, recv(t, ch))
			if msgid != "digest" || params["count"] != "2" || params["kind"] != "detection/codered-ii" ||
				!strings.HasPrefix(msg, `CodeRed "II" ]\ \xc3\xbc: 2 more in the last `) {
				t.Errorf("got digest %s %v %q; want a count of 2", msgid, params, msg)
			}
		})
	}
}

func TestSyslogLongUDP(t *testing.T) {
	addr, ch := syslogUDP(t)
	cfg := testConfig()
	cfg.Syslog = []Syslog{{Address: addr, Facility: "daemon", Hostname: "sensor 7"}}
	s := newSink(t, cfg)
	long := strings.Repeat("\"]", 100)
	d, _ := json.Marshal(map[string]any{"kind": "new_probe", "title": strings.Repeat("T", 500),
		"summary": strings.Repeat("S", 5000), "severity": "info", "family": long, "rule": long, "sample": long})
	write(t, s, record("alert", event.Raw{K: "alert", JSON: d}))
	line := recv(t, ch)
	if len(line) > maxDatagram {
		t.Errorf("got a %d-byte datagram; want at most %d", len(line), maxDatagram)
	}
	pri, _, host, _, params, _ := parseSyslog(t, line)
	if pri != 3*8+6 || host != "sensor7" || len(params["title"]) != 200 {
		t.Errorf("got PRI %d, host %q, title of %d bytes; want 30 (daemon.info), sensor7, 200", pri, host, len(params["title"]))
	}
}

func TestUnreachableNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	stalled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer stalled.Close()
	defer close(release)
	// A TCP syslog collector that is not there: the port of a closed
	// listener.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close()
	// And one that is there, to check that New connects to nothing.
	var accepted atomic.Int64
	up, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()

	cfg := testConfig()
	cfg.Queue = 2
	cfg.Webhooks = []Webhook{{URL: stalled.URL, Timeout: time.Hour}}
	cfg.Syslog = []Syslog{{Network: "tcp", Address: gone}, {Network: "tcp", Address: up.Addr().String()}}
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.grace = 300 * time.Millisecond
	time.Sleep(100 * time.Millisecond)
	if n := accepted.Load(); n != 0 {
		t.Errorf("New made %d connections; want none", n)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			// Distinct kinds: the rate limit lets each through.
			write(t, s, alert(fmt.Sprintf("kind-%d", i), "", "t", "high"))
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Write blocked on an unreachable notifier")
	}
	if st := s.Stats()[0]; st.Dropped < 190 {
		t.Errorf("got webhook stats %+v; want most alerts dropped", st)
	}
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close waited on an unreachable notifier")
	}
	if st := s.Stats()[1]; st.Failed == 0 || st.Sent != 0 {
		t.Errorf("got stats %+v for a collector that is not there; want failures", st)
	}
}

func TestPick(t *testing.T) {
	det := func(sev string) pipeline.Record {
		return record(event.KindDetection, &event.Detection{Rule: "r", Engine: "rules", Family: "Nimda", Severity: sev})
	}
	raw := func(js string) pipeline.Record { return record("alert", event.Raw{K: "alert", JSON: []byte(js)}) }
	tests := []struct {
		name       string
		mod        func(*Config)
		rec        pipeline.Record
		ok         bool
		key, title string
	}{
		{"alert", nil, alert("new_sample", "", "New sample", "info"), true, "new_sample", "New sample"},
		{"alert with family", nil, alert("new_variant", "Mirai", "Mirai variant", "high"), true, "new_variant/Mirai", "Mirai variant"},
		{"detection off", nil, det("critical"), false, "", ""},
		{"detection on", func(c *Config) { c.Detections = true }, det("critical"), true, "detection/r", "Nimda"},
		{"detection below", func(c *Config) { c.Detections = true }, det("medium"), false, "", ""},
		{"detection lowered", func(c *Config) { c.Detections, c.DetectionSeverity = true, "low" }, det("medium"), true, "detection/r", "Nimda"},
		{"min severity", func(c *Config) { c.MinSeverity = "high" }, alert("new_probe", "", "p", "medium"), false, "", ""},
		{"min severity met", func(c *Config) { c.MinSeverity = "high" }, alert("new_probe", "", "p", "critical"), true, "new_probe", "p"},
		{"other kind", nil, record(event.KindRequest, &event.Request{Method: "GET"}), false, "", ""},
		{"novelty alert", nil, raw(`{"type":"new_variant","severity":"high","title":"new variant of CodeRed II (CodeRed.C)",` +
			`"of":"x","of_kind":"sample","sample":"ab","size":3569,"source":"http.request","family":"CodeRed","variant":"CodeRed.C",` +
			`"relatives":[{"sha256":"cd","ssdeep":88}]}`), true, "new_variant/CodeRed", "new variant of CodeRed II (CodeRed.C)"},
		{"odd types", nil, raw(`{"kind":7,"title":["x"],"severity":true,"name":"N","count":"many"}`), true, "7", "N"},
		{"empty detail", nil, raw(`{}`), true, "alert", "alert"},
		{"not an object", nil, raw(`[1,2]`), true, "alert", "alert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.mod != nil {
				tt.mod(&cfg)
			}
			s, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			a, ok := s.pick(tt.rec)
			if tt.name == "novelty alert" && a.Summary != "variant CodeRed.C, 3569 bytes from http.request" {
				t.Errorf("got summary %q", a.Summary)
			}
			if ok != tt.ok || (ok && (a.key != tt.key || a.Title != tt.title)) {
				t.Errorf("got %v, key %q, title %q; want %v, %q, %q", ok, a.key, a.Title, tt.ok, tt.key, tt.title)
			}
		})
	}
}

func TestLimiter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := newLimiter(time.Minute, 2)
	a := Alert{key: "k", Title: "K"}
	got := []bool{l.allow(a, t0), l.allow(a, t0), l.allow(a, t0), l.allow(a, t0.Add(10*time.Second)),
		l.allow(a, t0.Add(time.Minute)), l.allow(a, t0.Add(time.Minute))}
	if want := []bool{true, true, false, false, true, false}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v; want %v", got, want)
	}
	items := l.take(t0.Add(time.Minute))
	if len(items) != 1 || items[0].Count != 3 || !items[0].Since.Equal(t0) || items[0].Title != "K" {
		t.Fatalf("got %+v; want 3 of K since t0", items)
	}
	if items := l.take(t0.Add(time.Minute)); len(items) != 0 {
		t.Errorf("got %+v; want nothing held back twice", items)
	}
	// A quiet kind is forgotten once its bucket is full again.
	l.take(t0.Add(time.Hour))
	if len(l.kinds) != 0 {
		t.Errorf("got %d kinds kept; want none", len(l.kinds))
	}
	// Past maxKinds, kinds share one bucket.
	for i := range maxKinds + 10 {
		for range 2 {
			l.allow(Alert{key: fmt.Sprint(i)}, t0)
		}
	}
	if len(l.kinds) != maxKinds+1 {
		t.Errorf("got %d kinds; want %d", len(l.kinds), maxKinds+1)
	}
}

func TestText(t *testing.T) {
	now := time.Unix(10000, 0)
	tests := []struct {
		it   DigestItem
		want string
	}{
		{DigestItem{Title: "CodeRed II", Count: 1234, Since: now.Add(-10 * time.Minute)}, "CodeRed II: 1,234 more in the last 10 min"},
		{DigestItem{Kind: "new_probe", Count: 1, Since: now.Add(-200 * time.Millisecond)}, "new_probe: 1 more in the last 1 s"},
		{DigestItem{Title: "x", Count: 1234567, Since: now.Add(-3 * time.Hour)}, "x: 1,234,567 more in the last 3 h"},
	}
	for _, tt := range tests {
		if got := tt.it.Text(now); got != tt.want {
			t.Errorf("got %q; want %q", got, tt.want)
		}
	}
}

func TestConfig(t *testing.T) {
	d := Defaults()
	if err := d.Validate(); err != nil || d.HasNotifiers() {
		t.Fatalf("defaults: %v, notifiers %v; want valid, none", err, d.HasNotifiers())
	}
	okMail := Email{Server: "mail.example.org:587", From: "pot@example.org", To: []string{"soc@example.org"}}
	bad := map[string]func(*Config){
		"min severity":  func(c *Config) { c.MinSeverity = "urgent" },
		"detection sev": func(c *Config) { c.DetectionSeverity = "" },
		"rate":          func(c *Config) { c.Rate.Every = 0 },
		"burst":         func(c *Config) { c.Rate.Burst = 0 },
		"digest":        func(c *Config) { c.DigestEvery = 0 },
		"queue":         func(c *Config) { c.Queue = 0 },
		"webhook url":   func(c *Config) { c.Webhooks = []Webhook{{URL: "ftp://x/"}} },
		"webhook header": func(c *Config) {
			c.Webhooks = []Webhook{{URL: "https://x/", Headers: map[string]string{"X": "a\r\nb"}}}
		},
		"webhook attempts":  func(c *Config) { c.Webhooks = []Webhook{{URL: "https://x/", Attempts: -1}} },
		"mail server":       func(c *Config) { m := okMail; m.Server = "mail.example.org"; c.Email = []Email{m} },
		"mail from":         func(c *Config) { m := okMail; m.From = "not an address"; c.Email = []Email{m} },
		"mail to":           func(c *Config) { m := okMail; m.To = nil; c.Email = []Email{m} },
		"mail tls twice":    func(c *Config) { m := okMail; m.TLS, m.StartTLS = true, true; c.Email = []Email{m} },
		"mail password":     func(c *Config) { m := okMail; m.Password = "pw"; c.Email = []Email{m} },
		"syslog network":    func(c *Config) { c.Syslog = []Syslog{{Network: "unix", Address: "x:1"}} },
		"syslog address":    func(c *Config) { c.Syslog = []Syslog{{Address: "collector"}} },
		"syslog facility":   func(c *Config) { c.Syslog = []Syslog{{Address: "x:514", Facility: "local9"}} },
		"mail subject crlf": func(c *Config) { m := okMail; m.Subject = "a\nb"; c.Email = []Email{m} },
	}
	for name, mod := range bad {
		c := Defaults()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: got no error", name)
		} else if !strings.HasPrefix(err.Error(), "notify: ") {
			t.Errorf("%s: got %q; want it to start with notify:", name, err)
		}
	}
	good := Defaults()
	good.Email = []Email{okMail}
	good.Webhooks = []Webhook{{URL: "https://hooks.example.org/x"}}
	good.Syslog = []Syslog{{Network: "tcp", Address: "[2001:db8::1]:6514", Facility: "local3"}}
	if err := good.Validate(); err != nil || !good.HasNotifiers() {
		t.Errorf("got %v; want a valid config with notifiers", err)
	}
}
