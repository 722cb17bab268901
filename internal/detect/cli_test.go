package detect

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestList(t *testing.T) {
	var out bytes.Buffer
	if err := List(&out, Config{}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"ID ", "codered-ii", "CodeRed II (CodeRed.C)", "CVE-2001-0500 MS01-033", "slammer", "CVE-2002-0649 MS02-039",
		"nimda.tftp-admin-dll", "builtin:rules/iis.yaml:", "rules from 9 files", "failed\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("list lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "FAILED") || !strings.Contains(s, " 0 failed") {
		t.Errorf("built-in rule tests fail in the listing:\n%s", s)
	}
	// A user rule whose test fails is reported with its file and line.
	p := writeRules(t, t.TempDir(), "mine.yaml", strings.Replace(userRule, "fires: false", "fires: true", 1))
	out.Reset()
	if err := List(&out, Config{Rules: []string{p}, NoBuiltin: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "FAILED rule test "+p+":13 (local.admin-probe): fired false, want true") ||
		!strings.Contains(out.String(), "1 passed, 1 failed") {
		t.Errorf("got:\n%s", out.String())
	}
	if err := List(&out, Config{Rules: []string{"/no/such/file.yaml"}}); err == nil {
		t.Error("List with a missing rule file: no error")
	}
}

func TestTestFileRawRequest(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "codered.txt")
	req := "GET /default.ida?" + strings.Repeat("N", 224) +
		"%u9090%u6858%ucbd3%u7801%u9090%u6858%ucbd3%u7801%u9090%u6858%ucbd3%u7801%u9090%u9090%u8190%u00c3%u0003%u8b00%u531b%u53ff%u0078%u0000%u00=a HTTP/1.0\r\n" +
		"Content-type: text/xml\r\nContent-length: 3379\r\n\r\n\x90\x90\x90\x90"
	if err := os.WriteFile(p, []byte(req), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n, err := TestFile(&out, Config{}, p)
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if n != 1 || !strings.Contains(s, "as request GET /default.ida?NNNN") || !strings.Contains(s, "codered-i ") ||
		strings.Contains(s, "codered-ii") || !strings.Contains(s, "as payload: 0 rules fired") {
		t.Errorf("got %d:\n%s", n, s)
	}
}

func TestTestFileRawPayload(t *testing.T) {
	p := filepath.Join(t.TempDir(), "slammer.bin")
	b := []byte{4}
	b = append(b, bytes.Repeat([]byte{1}, 96)...)
	b = append(b, 0xdc, 0xc9, 0xb0, 0x42)
	b = append(b, "hsockhsend"...)
	b = append(b, bytes.Repeat([]byte{0x90}, 376-len(b))...)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n, err := TestFile(&out, Config{}, p)
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if n != 1 || !strings.Contains(s, "as payload: 1 rule fired") || !strings.Contains(s, "slammer") ||
		!strings.Contains(s, `payload.data: send`) || strings.Contains(s, "as request") {
		t.Errorf("got %d:\n%s", n, s)
	}
	if _, err := TestFile(&out, Config{}, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestTestFileEvents(t *testing.T) {
	// Events as Smallpot writes them: the envelope counts.
	lines := `{"id":"e1","time":"2001-09-18T13:00:00Z","sensor":"s","session":"a","service":"http","transport":"tcp","src_ip":"198.51.100.7","src_port":1,"dst_ip":"192.0.2.10","dst_port":80,"kind":"request","detail":{"method":"GET","uri":"/scripts/root.exe?/c+dir","path":"/scripts/root.exe","query":"/c+dir","body_len":0}}
{"id":"e2","time":"2001-09-18T13:00:01Z","sensor":"s","session":"b","service":"ftp","transport":"tcp","src_ip":"198.51.100.7","src_port":2,"dst_ip":"192.0.2.10","dst_port":21,"kind":"login","detail":{"user":"sa","password":"","success":false}}
{"id":"e3","time":"2001-09-18T13:00:02Z","sensor":"s","session":"c","service":"telnet","transport":"tcp","src_ip":"198.51.100.7","src_port":3,"dst_ip":"192.0.2.10","dst_port":23,"kind":"login","detail":{"user":"root","password":"xc3511","success":true}}
`
	p := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(p, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n, err := TestFile(&out, Config{}, p)
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	// e2 is a blank sa password on ftp: the rule wants mssql.
	if n != 2 || !strings.Contains(s, "3 events") || !strings.Contains(s, "event e1 (http request") ||
		!strings.Contains(s, "nimda.root-exe") || !strings.Contains(s, "mirai.credentials") || strings.Contains(s, "e2") {
		t.Errorf("got %d:\n%s", n, s)
	}
}

func TestParseHTTPRequest(t *testing.T) {
	r := parseHTTPRequest([]byte("POST /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: () { :; };\r\n\r\nbody"))
	if r == nil || r.Method != "POST" || r.Path != "/a b" || r.Query != "x=1" || r.Host != "h" ||
		r.UserAgent != "() { :; };" || string(r.Body) != "body" || r.BodyLen != 4 || len(r.Headers) != 2 {
		t.Fatalf("got %+v", r)
	}
	for _, bad := range []string{"", "\x04\x01\x01", "hello world", "GET /\r\n", "G(T / HTTP/1.0\r\n\r\n"} {
		if r := parseHTTPRequest([]byte(bad)); r != nil {
			t.Errorf("%q parsed as a request: %+v", bad, r)
		}
	}
}
