package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/event"
)

func writeRules(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const userRule = `rules:
  - id: local.admin-probe
    title: Probe for /admin.php
    severity: low
    match:
      service: http
      request:
        path: {equals: /admin.php, nocase: true}
    tests:
      - fires: true
        service: http
        request: {method: GET, uri: /ADMIN.php, path: /ADMIN.php}
      - fires: false
        service: ftp
        request: {method: GET, uri: /admin.php, path: /admin.php}
`

func TestUserRules(t *testing.T) {
	dir := t.TempDir()
	writeRules(t, dir, "local.yaml", userRule)
	writeRules(t, dir, "notes.txt", "not a rule file")
	set, err := LoadRules(Config{Rules: []string{dir}, NoBuiltin: true})
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 1 || set.Rules()[0].ID != "local.admin-probe" || set.Rules()[0].Severity != "low" {
		t.Fatalf("got %+v; want the one user rule", set.Rules())
	}
	for _, res := range set.RunTests() {
		if !res.OK() {
			t.Errorf("test at line %d: got %v, want %v, err %v", res.Line, res.Got, res.Want, res.Err)
		}
	}
	// With the built-in set, and one built-in rule disabled.
	all, err := LoadRules(Config{Rules: []string{filepath.Join(dir, "local.yaml")}, Disable: []string{"slammer"}})
	if err != nil {
		t.Fatal(err)
	}
	builtin, _ := LoadRules(Config{})
	if all.Len() != builtin.Len() {
		t.Errorf("got %d rules; want %d built-in - 1 + 1 user", all.Len(), builtin.Len())
	}
	for _, r := range all.Rules() {
		if r.ID == "slammer" {
			t.Error("disabled rule slammer is still there")
		}
	}
}

// TestRuleFileErrors checks that a bad rule file is refused with its file
// and line.
func TestRuleFileErrors(t *testing.T) {
	head := "rules:\n  - id: x.y\n    title: t\n"
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown top key", "rule:\n  - id: a\n", "bad.yaml:1: unknown key \"rule\""},
		{"unknown rule key", head + "    famly: Nimda\n    match: {kind: request}\n", "bad.yaml:4: unknown key \"famly\" in rules[0]"},
		{"unknown match key", head + "    match:\n      request:\n        pth: /x\n", "bad.yaml:6: unknown key \"pth\" in rules[0].match.request"},
		{"unknown text operator", head + "    match:\n      request:\n        path: {startswith: /x}\n", "bad.yaml:6: unknown operator \"startswith\""},
		{"bad regex", head + "    match:\n      request:\n        path: {regex: '(['}\n", "bad.yaml:6: error parsing regexp"},
		{"bad hex", head + "    match:\n      payload:\n        patterns: [{hex: 'zz'}]\n", "bad.yaml:5: bad hex"},
		{"two kinds in one block", head + "    match:\n      request: {path: /x}\n      login: {user: root}\n", "bad.yaml:5: a match block names one kind"},
		{"contradicting kinds", head + "    match:\n      kind: login\n      request: {path: /x}\n", "bad.yaml:5: kind and the kind block disagree"},
		{"empty match", head + "    match: {}\n", "bad.yaml:4: an empty match block"},
		{"no match", head, "bad.yaml:2: rule x.y: match is required"},
		{"no title", "rules:\n  - id: x.y\n    match: {kind: request}\n", "bad.yaml:2: rule x.y: title is required"},
		{"bad id", "rules:\n  - id: X Y\n    title: t\n    match: {kind: request}\n", "bad.yaml:2: rule id \"X Y\""},
		{"bad severity", head + "    severity: urgent\n    match: {kind: request}\n", "bad.yaml:2: rule x.y: severity \"urgent\""},
		{"bad scope", head + "    scope: forever\n    match: {kind: request}\n", "scope \"forever\""},
		{"threshold on event scope", head + "    threshold: 3\n    match: {kind: request}\n", "a threshold needs scope session or source"},
		{"bad cve", head + "    cve: 2001-0500\n    match: {kind: request}\n", "is not a CVE id"},
		{"bad bulletin", head + "    bulletin: MS1-33\n    match: {kind: request}\n", "is not a Microsoft bulletin id"},
		{"bad port", head + "    match: {port: 99999}\n", "bad.yaml:4: bad port"},
		{"bad transport", head + "    match: {transport: sctp}\n", "transport \"sctp\""},
		{"empty text", head + "    match:\n      request:\n        path: {nocase: true}\n", "a text matcher needs"},
		{"within shorter than pattern", head + "    match:\n      payload:\n        patterns: [{text: abcd, within: 2}]\n", "within 2 is shorter"},
		{"bad credential", head + "    match:\n      login:\n        credentials: [root]\n", "credential \"root\""},
		{"bad window", head + "    scope: source\n    window: soon\n    match: {kind: login}\n", "bad window"},
		{"yaml syntax", "rules:\n  - id: [\n", "bad.yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeRules(t, t.TempDir(), "bad.yaml", tc.body)
			_, err := LoadRules(Config{Rules: []string{p}, NoBuiltin: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v; want an error containing %q", err, tc.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "detect: ") {
				t.Errorf("error %q does not start with the package name", err)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	p := writeRules(t, dir, "a.yaml", userRule)
	q := writeRules(t, t.TempDir(), "b.yaml", userRule)
	if _, err := LoadRules(Config{Rules: []string{p, q}, NoBuiltin: true}); err == nil ||
		!strings.Contains(err.Error(), `rule id "local.admin-probe" is already used at `+p+":2") {
		t.Errorf("duplicate id: got %v", err)
	}
	if _, err := LoadRules(Config{Disable: []string{"no-such-rule"}}); err == nil || !strings.Contains(err.Error(), `no rule "no-such-rule"`) {
		t.Errorf("disabling an unknown rule: got %v", err)
	}
	if _, err := LoadRules(Config{Rules: []string{filepath.Join(dir, "missing.yaml")}}); err == nil {
		t.Error("missing file: no error")
	}
	if _, err := LoadRules(Config{Rules: []string{t.TempDir()}}); err == nil || !strings.Contains(err.Error(), "no .yaml or .yml files") {
		t.Errorf("empty directory: got %v", err)
	}
}

// TestRuleTestErrors checks that broken tests are reported, not passed.
func TestRuleTestErrors(t *testing.T) {
	body := `rules:
  - id: t.one
    title: t
    match:
      command: {line: {contains: wget}}
    tests:
      - name: no fires
        command: {line: wget}
      - name: two events in one
        fires: true
        command: {line: wget}
        login: {user: root}
      - name: unknown detail field
        fires: true
        command: {line: wget, lin: x}
      - name: wrong expectation
        fires: false
        command: {line: wget x}
      - name: content on a command
        fires: true
        command: {line: wget}
        content: abc
`
	p := writeRules(t, t.TempDir(), "t.yaml", body)
	set, err := LoadRules(Config{Rules: []string{p}, NoBuiltin: true})
	if err != nil {
		t.Fatal(err)
	}
	res := set.RunTests()
	if len(res) != 5 {
		t.Fatalf("got %d results; want 5", len(res))
	}
	for i, want := range []string{"fires: true or false is required", "exactly one of", `unknown field "lin"`, "", "content is for sample events"} {
		r := res[i]
		if want == "" {
			if r.Err != nil || r.OK() || !r.Got {
				t.Errorf("%s: got ok=%v err=%v; want a failed expectation", r.Name, r.OK(), r.Err)
			}
			continue
		}
		if r.Err == nil || !strings.Contains(r.Err.Error(), want) || r.OK() {
			t.Errorf("%s: got %v; want an error containing %q", r.Name, r.Err, want)
		}
	}
}

func TestTextMatcher(t *testing.T) {
	for _, tc := range []struct {
		t    Text
		in   string
		want bool
	}{
		{Text{Equals: []string{"GET"}}, "GET", true},
		{Text{Equals: []string{"GET"}}, "get", false},
		{Text{Equals: []string{"GET"}, NoCase: true}, "get", true},
		{Text{Equals: []string{"a", "b"}}, "b", true},
		{Text{Prefix: []string{"/scripts/"}, Suffix: []string{".exe"}}, "/scripts/root.exe", true},
		{Text{Prefix: []string{"/scripts/"}, Suffix: []string{".exe"}}, "/scripts/root.dll", false},
		{Text{Contains: []string{"..%c0%af.."}, NoCase: true}, "/scripts/..%C0%AF../winnt", true},
		{Text{Regex: []string{`^N{4}`}}, "NNNNx", true},
		{Text{Regex: []string{`^n{4}`}, NoCase: true}, "NNNNx", true},
		{Text{Contains: []string{"${jndi:"}, URLDecode: true}, "/?q=%24%7Bjndi%3A", true},
		{Text{Contains: []string{"../"}, URLDecode: true}, "%252e%252e%252f", true},
		{Text{Contains: []string{"../"}}, "%2e%2e%2f", false},
		{Text{MinLen: 4}, "abc", false},
		{Text{MinLen: 4, MaxLen: 5}, "abcd", true},
		{Text{MinLen: 4, MaxLen: 5}, "abcdef", false},
		{Text{Equals: []string{""}}, "", true},
	} {
		m, err := compileText(&tc.t)
		if err != nil {
			t.Fatal(err)
		}
		if got, _, _, _ := m.match(tc.in, nil); got != tc.want {
			t.Errorf("%+v on %q: got %v; want %v", tc.t, tc.in, got, tc.want)
		}
	}
}

func TestContentMatcher(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	data := []byte("\x04\x01\x01\x01\xdc\xc9\xb0\x42 hsockhsend \x81\xf1\x03\x01")
	for _, tc := range []struct {
		name string
		c    contentSpec
		size int64
		want bool
	}{
		{"first byte", contentSpec{Patterns: []patternSpec{{Hex: "04", Within: 1}}}, 20, true},
		{"byte at an offset", contentSpec{Patterns: []patternSpec{{Hex: "dc c9 b0 42", Offset: 4, Within: 4}}}, 20, true},
		{"not at that offset", contentSpec{Patterns: []patternSpec{{Hex: "dc c9 b0 42", Offset: 5}}}, 20, false},
		{"not within", contentSpec{Patterns: []patternSpec{{Text: "send", Within: 12}}}, 20, false},
		{"all patterns", contentSpec{Patterns: []patternSpec{{Text: "sock"}, {Text: "send"}}}, 20, true},
		{"one missing", contentSpec{Patterns: []patternSpec{{Text: "sock"}, {Text: "recv"}}}, 20, false},
		{"nocase", contentSpec{Patterns: []patternSpec{{Text: "HSOCK", NoCase: true}}}, 20, true},
		{"size counts what arrived", contentSpec{MinSize: n(376), MaxSize: n(376)}, 376, true},
		{"too small", contentSpec{MinSize: n(376)}, 375, false},
		{"regex over high bytes", contentSpec{Regex: `\x81\xf1\x03\x01$`}, 20, true},
		{"regex: one byte is one character", contentSpec{Regex: `^\x04\x01{3}\xdc.\xb0B`}, 20, true},
		{"regex miss", contentSpec{Regex: `\x81\xf2`}, 20, false},
	} {
		m, err := compileContent(&tc.c, 1)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, lo, hi, _ := m.match(tc.size, func() []byte { return data })
		if got != tc.want {
			t.Errorf("%s: got %v; want %v", tc.name, got, tc.want)
		}
		if got && m.needsBytes() && (lo < 0 || hi > len(data) || lo > hi) {
			t.Errorf("%s: span [%d,%d) outside the data", tc.name, lo, hi)
		}
	}
	// The span of a regex match is in bytes of the data.
	m, _ := compileContent(&contentSpec{Regex: `hsend`}, 1)
	if _, lo, hi, _ := m.match(20, func() []byte { return data }); string(data[lo:hi]) != "hsend" {
		t.Errorf("regex span: got %q", data[lo:hi])
	}
}

func TestDetailFieldOfAnyKind(t *testing.T) {
	body := `rules:
  - id: t.hassh
    title: t
    match:
      kind: ssh
      detail:
        hassh: b5752e36ba6c5979a575e43178908adf
        kex: {contains: diffie-hellman-group1}
`
	p := writeRules(t, t.TempDir(), "t.yaml", body)
	set, err := LoadRules(Config{Rules: []string{p}, NoBuiltin: true})
	if err != nil {
		t.Fatal(err)
	}
	var v view
	e := &event.Event{ID: "1", Kind: "ssh", Detail: event.Raw{K: "ssh",
		JSON: []byte(`{"hassh":"b5752e36ba6c5979a575e43178908adf","kex":["curve25519-sha256","diffie-hellman-group1-sha1"],"n":3}`)}}
	if got := set.classify(&v, e, nil, false, nil); len(got) != 1 {
		t.Fatalf("got %d firings; want 1", len(got))
	} else if m := got[0].matched; len(m) != 2 || m[0].Field != "detail.hassh" || m[1].Value != "diffie-hellman-group1" {
		t.Errorf("matched: got %+v", m)
	}
	e.Detail = event.Raw{K: "ssh", JSON: []byte(`{"hassh":"06046964c022c6407d15a27b12a6a4fb","kex":["diffie-hellman-group1-sha1"]}`)}
	if got := set.classify(&v, e, nil, false, nil); len(got) != 0 {
		t.Errorf("other HASSH: got %d firings", len(got))
	}
	if got := scalars([]byte(`{"a":1}`)); got != nil {
		t.Errorf("an object is not a scalar: got %v", got)
	}
	if got := scalars([]byte(`12`)); len(got) != 1 || got[0] != "12" {
		t.Errorf("a number: got %v", got)
	}
}
