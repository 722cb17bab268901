package event_test

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
)

// details has one filled-in detail of every kind this build knows.
var details = []event.Detail{
	&event.Connect{Listener: "0.0.0.0:80"},
	&event.Close{DurationMS: 1234, BytesIn: 10, BytesOut: 20, Reason: event.ReasonIdle, TranscriptIn: 5, TranscriptOut: 6},
	&event.Request{Method: "GET", URI: "/default.ida?NNNN%u9090", Path: "/default.ida", Query: "NNNN%u9090",
		Version: "HTTP/1.0", Headers: []event.Header{{"Host", "x"}, {"Content-type", "text/xml"}}, Host: "x",
		UserAgent: "ua", BodyLen: 3, Body: []byte{0, 0xff, 'a'}, Status: 404, Malformed: "bad", Truncated: true,
		Sample: strings.Repeat("ab", 32), Action: "cgi:cmd.exe"},
	&event.Login{User: "sa", Password: "", Method: "password", Key: "SHA256:abc", Success: true},
	&event.Command{Line: "wget http://x/y", Shell: "busybox", Output: "sh: not found", Known: true},
	&event.Payload{Len: 376, Data: []byte{4, 1, 1, 1, 1, 0x90}, Truncated: true, Sample: strings.Repeat("0", 64)},
	&event.Upload{Name: "../../evil.exe", Size: 9, SHA256: strings.Repeat("f", 64), Truncated: true, Via: "stor"},
	&event.Download{URL: "tftp://1.2.3.4/x", Protocol: "tftp", Host: "1.2.3.4", Path: "/x", Command: "tftp -g"},
	&event.Sample{SHA256: strings.Repeat("1", 64), MD5: strings.Repeat("2", 32), SHA1: strings.Repeat("3", 40),
		Size: 4, Source: "ftp.stor", Name: "a.exe", New: true},
	&event.Mail{Helo: "x", Auth: "bob", From: "a@b", Rcpts: []string{"c@d"}, RelayAttempt: true, Subject: "s",
		Headers: []event.Header{{"Subject", "s"}}, Size: 10, Truncated: true, Result: event.MailTooLarge, QueueID: "q",
		Attachments: []string{strings.Repeat("4", 64)}, MIMECut: []string{"parts"}, Sample: strings.Repeat("5", 64)},
	&event.RPC{XID: 7, Program: 100024, ProgramName: "status", Version: 1, Procedure: 1, ProcedureName: "STAT",
		Auth: "unix", Machine: "box", UID: new(uint32), GID: new(uint32), Args: []event.RPCArg{{Name: "mon_name", Value: `%x\x90`}},
		ArgsLen: 1040, RawArgs: []byte{0, 0, 4, 0}, Reply: "prog_unavail", Result: "port=0", Refused: "rate_limited",
		Malformed: "m", Sample: strings.Repeat("6", 64)},
	&event.Alert{Type: event.AlertNewVariant, Severity: "high", Title: "new variant of CodeRed II", Of: strings.Repeat("a", 36),
		OfKind: event.KindSample, Sample: strings.Repeat("b", 64), Size: 1479, Source: "http.request", SSDeep: "6:abc:de",
		TLSH: strings.Repeat("C", 70), Family: "CodeRed", Variant: "CodeRed II",
		Relatives: []event.Relative{{SHA256: strings.Repeat("c", 64), Family: "CodeRed", Variant: "CodeRed II", SSDeep: 80,
			TLSH: new(int), Seed: true}}, Shape: "request GET /"},
	&event.Detection{Rule: "codered-ii", Engine: event.EngineRules, Title: "CodeRed II", Family: "CodeRed",
		Variant: "CodeRed II", Exploit: "IIS .ida overflow", CVE: []string{"CVE-2001-0500"}, Bulletin: "MS01-033",
		Severity: "critical", Scope: "session", Count: 2, Of: strings.Repeat("7", 36), OfKind: event.KindRequest,
		Sample: strings.Repeat("8", 64), Matched: []event.DetectionMatch{{Field: "request.query", Value: "XXXX"}}},
	&event.SSH{ClientVersion: "SSH-2.0-libssh_0.9.6", HASSH: strings.Repeat("9", 32), HASSHAlgorithms: "a;b;c;none",
		Kex: []string{"a"}, HostKeys: []string{"ssh-ed25519"}, CiphersC2S: []string{"b"}, CiphersS2C: []string{"b"},
		MACsC2S: []string{"c"}, MACsS2C: []string{"c"}, CompressionC2S: []string{"none"},
		CompressionS2C: []string{"none"}, Malformed: "m"},
	&event.Fetch{URL: "tftp://198.51.100.9/Admin.dll", Protocol: "tftp", Status: event.FetchOK, Reason: "r",
		Address: "198.51.100.9:69", FinalURL: "http://x/y", Redirects: 2, Size: 57344, SHA256: strings.Repeat("a", 64),
		DurationMS: 812, Of: strings.Repeat("b", 36)},
}

func envelope(d event.Detail) event.Event {
	t := time.Date(2001, 7, 19, 12, 0, 0, 123456789, time.FixedZone("x", 3600))
	return event.Event{
		ID: event.NewID(t), Time: t, Sensor: "s1", Session: event.NewID(t), Service: "http",
		Transport: event.TCP,
		Src:       netip.MustParseAddrPort("203.0.113.7:4321"),
		Dst:       netip.MustParseAddrPort("[2001:db8::1]:80"),
		Kind:      d.Kind(), Detail: d,
	}
}

func TestEveryKindHasADetail(t *testing.T) {
	seen := map[event.Kind]bool{}
	for _, d := range details {
		seen[d.Kind()] = true
		nd := event.NewDetail(d.Kind())
		if reflect.TypeOf(nd) != reflect.TypeOf(d) {
			t.Errorf("NewDetail(%q) got %T; want %T", d.Kind(), nd, d)
		}
	}
	for _, k := range []event.Kind{event.KindConnect, event.KindClose, event.KindRequest, event.KindLogin,
		event.KindCommand, event.KindPayload, event.KindUpload, event.KindDownload, event.KindSample, event.KindMail, event.KindRPC, event.KindDetection, event.KindSSH, event.KindFetch, event.KindAlert} {
		if !seen[k] {
			t.Errorf("kind %q has no detail in this test's table", k)
		}
	}
	if d := event.NewDetail("future"); d != nil {
		t.Errorf("NewDetail of an unknown kind got %T; want nil", d)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, d := range details {
		t.Run(string(d.Kind()), func(t *testing.T) {
			e := envelope(d)
			b, err := json.Marshal(&e)
			if err != nil {
				t.Fatal(err)
			}
			var got event.Event
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal(%s): %v", b, err)
			}
			if !got.Time.Equal(e.Time) || got.Time.Location() != time.UTC {
				t.Errorf("time: got %v; want %v in UTC", got.Time, e.Time)
			}
			got.Time, e.Time = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, e) {
				t.Errorf("round trip:\n got %#v\nwant %#v\njson %s", got, e, b)
			}
		})
	}
}

func TestJSONSchema(t *testing.T) {
	// The names users build dashboards on.
	e := envelope(&event.Login{User: "root", Password: "xc3511", Method: "password"})
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": e.ID, "time": "2001-07-19T11:00:00.123456789Z", "sensor": "s1", "session": e.Session,
		"service": "http", "transport": "tcp", "src_ip": "203.0.113.7", "src_port": 4321.0,
		"dst_ip": "2001:db8::1", "dst_port": 80.0, "kind": "login",
		"detail": map[string]any{"user": "root", "password": "xc3511", "method": "password", "success": false},
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %s\nwant %v", b, want)
	}
}

func TestCloseTranscriptNotInJSON(t *testing.T) {
	e := envelope(&event.Close{Reason: event.ReasonEOF, Transcript: []byte("<secret")})
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "secret") || strings.Contains(string(b), "PHNlY3JldA") {
		t.Fatalf("got %s; want no transcript bytes in the JSON", b)
	}
	var bl event.Blobber = e.Detail.(*event.Close)
	if string(bl.Blob()) != "<secret" {
		t.Fatalf("Blob() got %q; want %q", bl.Blob(), "<secret")
	}
}

func TestMappedAddressesUnmapped(t *testing.T) {
	e := envelope(&event.Connect{})
	e.Src = netip.MustParseAddrPort("[::ffff:198.51.100.1]:5")
	b, _ := json.Marshal(&e)
	if !strings.Contains(string(b), `"src_ip":"198.51.100.1","src_port":5`) {
		t.Fatalf("got %s; want src_ip 198.51.100.1", b)
	}
}

func TestNoDetailAndNoAddresses(t *testing.T) {
	e := event.Event{ID: "x", Kind: event.KindConnect}
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	var got event.Event
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("Unmarshal(%s): %v", b, err)
	}
	if got.Src.IsValid() || got.Dst.IsValid() {
		t.Errorf("got addresses %v %v; want none", got.Src, got.Dst)
	}
	if !reflect.DeepEqual(got.Detail, &event.Connect{}) {
		t.Errorf("got detail %#v; want an empty Connect", got.Detail)
	}
}

func TestUnknownKindKeptRaw(t *testing.T) {
	in := `{"id":"i","time":"2024-01-02T03:04:05Z","sensor":"s","session":"x","service":"smb",` +
		`"transport":"tcp","src_ip":"192.0.2.1","src_port":1,"dst_ip":"192.0.2.2","dst_port":445,` +
		`"kind":"verdict","detail":{"family":"WannaCry","score":0.9,"tags":["a","b"]}}`
	var e event.Event
	if err := json.Unmarshal([]byte(in), &e); err != nil {
		t.Fatal(err)
	}
	raw, ok := e.Detail.(event.Raw)
	if !ok {
		t.Fatalf("got detail %T; want event.Raw", e.Detail)
	}
	if raw.Kind() != "verdict" || e.Kind != "verdict" {
		t.Fatalf("got kind %q/%q; want verdict", raw.Kind(), e.Kind)
	}
	out, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Fatalf("re-encoded\n got %s\nwant %s", out, in)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"not json", `{`},
		{"bad src ip", `{"kind":"connect","src_ip":"nope"}`},
		{"bad dst ip", `{"kind":"connect","dst_ip":"1.2.3"}`},
		{"detail of wrong shape", `{"kind":"login","detail":{"user":5}}`},
	}
	for _, tt := range tests {
		var e event.Event
		if err := json.Unmarshal([]byte(tt.in), &e); err == nil {
			t.Errorf("%s: got no error for %s; want one", tt.name, tt.in)
		}
	}
}
