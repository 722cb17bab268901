package detect

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/smallpot/smallpot/internal/event"
)

// prefilterRules are user rules with every kind of condition the
// prefilter derives literals from, and the cases where it must not:
// case folding in regular expressions (the Kelvin sign is a 'k', the
// long s an 's'), URL decoding, bytes without case, classes, kinds in
// any and not.
const prefilterRules = `rules:
  - id: t.text
    title: text operators
    match:
      request:
        method: {equals: [PUT, DELETE]}
        path: {prefix: /Admin, suffix: [.PHP, .asp], nocase: true}
        query: {contains: [cmd=, exec=]}
  - id: t.regex-fold
    title: regex without case
    match:
      request:
        uri: {regex: '(?i)/(kill|sys)\.cgi\?x=[0-9]{2,}'}
  - id: t.regex-class
    title: regex class and optional
    match:
      command:
        line: {regex: '\b[Ww]get(2)?\s+-[qO]\s'}
  - id: t.urldecode
    title: decoded text
    match:
      request:
        anywhere: {contains: <script>, urldecode: true, nocase: true}
  - id: t.pairs
    title: header name and value
    match:
      any:
        - request:
            headers:
              - {name: X-Forwarded-For, value: {regex: '^127\.'}}
        - mail:
            headers:
              - {name: Subject, value: {contains: VIAGRA, nocase: true}}
  - id: t.rcpt
    title: any of a list
    match:
      mail:
        rcpt: {suffix: '@Example.ORG', nocase: true}
  - id: t.creds
    title: credentials
    match:
      login:
        credentials: [Root:Secret, 'admin:']
  - id: t.bytes
    title: bytes without case
    match:
      payload:
        patterns:
          - {text: "KiLL ME", nocase: true}
          - {hex: "ff fe"}
  - id: t.bytes-regex
    title: byte regex
    match:
      rpc:
        raw_args:
          regex: '(?i)\xe9t\xc9|MAGIC[0-9]'
  - id: t.sample
    title: sample bytes are not read by the prefilter
    match:
      sample:
        name: {suffix: .exe}
        patterns: [{text: MZ}]
  - id: t.download-or-upload
    title: kinds in any
    match:
      any:
        - download: {url: {contains: /bins/}}
        - upload: {name: {regex: '^x86_?64$'}}
        - command: {line: {contains: tftp}}
  - id: t.not
    title: a negation needs nothing
    match:
      kind: [command]
      not:
        command: {line: {contains: ls}}
  - id: t.min-len
    title: a length needs nothing
    match:
      request:
        user_agent: {min_len: 200}
  - id: t.equals-empty
    title: the empty string needs nothing
    match:
      login:
        password: ""
  - id: t.detail
    title: detail fields are not read by the prefilter
    match:
      any:
        - detail: {client_version: {contains: libssh}}
        - request: {path: /x}
`

// prefilterSets returns the built-in rules and the rules above.
func prefilterSets(tb testing.TB) []*Set {
	tb.Helper()
	builtin, err := LoadRules(Config{})
	if err != nil {
		tb.Fatal(err)
	}
	user, err := compileSources([]ruleSource{{name: "prefilter.yaml", data: []byte(prefilterRules)}}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return []*Set{builtin, user}
}

// diffPrefilter classifies e with the prefilter and without, the
// envelope known and not, and reports the first difference.
func diffPrefilter(s *Set, e *event.Event, js, sample []byte) error {
	full := *s
	full.unfiltered = true
	for _, wild := range []bool{false, true} {
		var v, w view
		v.loadSample = func(string, int64) []byte { return sample }
		w.loadSample = v.loadSample
		got := s.classify(&v, e, js, wild, nil)
		want := full.classify(&w, e, js, wild, nil)
		if !slices.EqualFunc(got, want, func(a, b firing) bool {
			return a.r == b.r && slices.Equal(a.matched, b.matched)
		}) {
			return fmt.Errorf("event %s (%s): prefiltered %s; evaluated in full %s", e.ID, e.Kind, ids(got), ids(want))
		}
	}
	return nil
}

func ids(fs []firing) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.r.id)
	}
	return "[" + strings.Join(out, " ") + "]"
}

// testInput is an event the package's tests have, with its JSON and
// sample bytes when it has them.
type testInput struct {
	e      *event.Event
	js     []byte
	sample []byte
}

// testInputs returns the events of the corpus, of every rule test of
// sets, and a few made here.
func testInputs(tb testing.TB, sets ...*Set) []testInput {
	tb.Helper()
	recs, _ := loadCorpus(tb)
	var out []testInput
	for _, r := range recs {
		out = append(out, testInput{e: r.Event, js: r.JSON})
	}
	for _, s := range sets {
		for _, r := range s.rules {
			for _, t := range r.tests {
				evs := t.Events
				if !t.testEvent.empty() {
					evs = append(evs, t.testEvent)
				}
				for i := range evs {
					b, err := evs[i].build(i)
					if err != nil {
						tb.Fatalf("%s: %v", r.id, err)
					}
					out = append(out, testInput{e: b.e, sample: b.content})
				}
			}
		}
	}
	for _, e := range madeEvents("/Admin/x.PHP?cmd=1&u=%3Cscript%3E", "() { :; }; ${jndi:x} \u212Aill", []byte("kill me\xff\xfe\xe9T\xe9")) {
		out = append(out, testInput{e: e, sample: []byte("MZ")})
	}
	return out
}

// madeEvents makes one event of each kind from three strings.
func madeEvents(uri, text string, data []byte) []*event.Event {
	path, query, _ := strings.Cut(uri, "?")
	hs := []event.Header{{Name: "User-Agent", Value: text}, {Name: "X-Forwarded-For", Value: text},
		{Name: "SOAPAction", Value: text}, {Name: "Subject", Value: text}}
	return []*event.Event{
		ev("s", "http", 80, &event.Request{Method: "PUT", URI: uri, Path: path, Query: query, Version: "HTTP/1.1",
			Host: text, UserAgent: text, Headers: hs, Body: data, BodyLen: int64(len(data)), Action: text,
			Args: []event.Header{{Name: "NewInternalClient", Value: text}, {Name: "program", Value: text}}}),
		ev("s", "telnet", 23, &event.Command{Line: text + " " + uri, Shell: "busybox"}),
		ev("s", "ssh", 22, &event.Login{User: text, Password: uri, Method: "password"}),
		ev("s", "ssh", 22, &event.Login{User: "root", Password: "secret", Method: "password"}),
		ev("s", "mssql", 1434, &event.Payload{Len: int64(len(data)), Data: data}),
		ev("s", "smtp", 25, &event.Mail{Helo: text, From: text, Rcpts: []string{text, uri}, Subject: text,
			Headers: hs, Result: event.MailQueued}),
		ev("s", "sunrpc", 111, &event.RPC{Program: 100024, ProgramName: text, ProcedureName: text, Machine: text,
			Args: []event.RPCArg{{Name: "mon_name", Value: text}, {Name: "program", Value: uri}}, RawArgs: data,
			ArgsLen: int64(len(data))}),
		ev("s", "telnet", 23, &event.Download{URL: uri, Protocol: "tftp", Host: text, Path: path, Command: text}),
		ev("s", "ftp", 21, &event.Upload{Name: text, Via: "stor", Size: int64(len(data))}),
		ev("s", "ftp", 21, &event.Sample{SHA256: strings.Repeat("0", 64), Source: text, Name: path, Size: int64(len(data))}),
		ev("s", "ssh", 22, event.Raw{K: "ssh", JSON: []byte(`{"client_version":"SSH-2.0-libssh_0.9"}`)}),
	}
}

// TestPrefilterIsExact runs every event the package's tests have
// through the built-in rules and the rules above, with the prefilter
// and without: the detections are the same. It also checks that the
// prefilter spares most evaluations, so that this test tests something.
func TestPrefilterIsExact(t *testing.T) {
	sets := prefilterSets(t)
	inputs := testInputs(t, sets...)
	for _, s := range sets {
		var evaluated, spared, fired int
		for _, in := range inputs {
			if err := diffPrefilter(s, in.e, in.js, in.sample); err != nil {
				t.Error(err)
			}
			stats := prefilterStats(s, in.e, in.js)
			evaluated += stats[0]
			spared += stats[1]
			fired += len(s.classify(&view{}, in.e, in.js, false, nil))
		}
		t.Logf("%d rules, %d events: %d rule evaluations, %d spared, %d fired", s.Len(), len(inputs), evaluated, spared, fired)
		if fired == 0 || spared < evaluated/2 {
			t.Errorf("the prefilter spared %d evaluations of %d; want more", spared, evaluated+spared)
		}
	}
}

// prefilterStats counts the rules the prefilter lets through and those
// it spares for e.
func prefilterStats(s *Set, e *event.Event, js []byte) [2]int {
	var n [2]int
	if e == nil || ignored(e.Kind) {
		return n
	}
	kr := s.rulesFor(e.Kind)
	if kr.free == nil {
		n[0] = len(kr.rules)
		return n
	}
	var v view
	v.reset(e, js)
	s.prefilter(&v, kr)
	for _, r := range kr.rules {
		if v.may(r.idx) {
			n[0]++
		} else {
			n[1]++
		}
	}
	return n
}

// TestPrefilterCatchesBrokenLiterals checks that the comparison above
// fails when the literals are wrong: with a finder that finds nothing,
// every rule with a need is skipped, and the corpus's detections are
// missed.
func TestPrefilterCatchesBrokenLiterals(t *testing.T) {
	s := prefilterSets(t)[0]
	broken := *s
	broken.lits = newFinder(map[string][]int32{"\x00never\x00": {0}})
	diffs := 0
	for _, in := range testInputs(t, s) {
		if diffPrefilter(&broken, in.e, in.js, in.sample) != nil {
			diffs++
		}
	}
	if diffs == 0 {
		t.Error("a prefilter that finds no literal went unnoticed")
	}
}

// TestPrefilterScannerRequest: an ordinary request lets no rule with a
// need through.
func TestPrefilterScannerRequest(t *testing.T) {
	s := prefilterSets(t)[0]
	e := ev("s1", "http", 80, &event.Request{Method: "GET", URI: "/", Path: "/", Version: "HTTP/1.0",
		Headers: []event.Header{{Name: "Host", Value: "192.0.2.10"}, {Name: "User-Agent", Value: "Mozilla/5.0 zgrab/0.x"},
			{Name: "Accept", Value: "*/*"}}})
	var v view
	v.reset(e, nil)
	kr := s.rulesFor(e.Kind)
	s.prefilter(&v, kr)
	for _, r := range kr.rules {
		if v.may(r.idx) {
			t.Errorf("rule %s is evaluated on GET /", r.id)
		}
	}
}

// TestLiterals checks the literals derived from matchers, and that the
// texts they hold on contain one.
func TestLiterals(t *testing.T) {
	for _, tc := range []struct {
		t     Text
		want  []string
		holds []string // texts the matcher holds on
	}{
		{Text{Equals: []string{"GET", "Post"}}, []string{"get", "post"}, []string{"GET", "Post"}},
		{Text{Prefix: []string{"/a"}, Suffix: []string{".PHP"}, NoCase: true}, []string{".php"}, []string{"/A.pHp"}},
		{Text{Contains: []string{"../"}, URLDecode: true}, []string{"%", "../"}, []string{"%2e%2e/", "../"}},
		{Text{Regex: []string{`^N{200,}%u9090`}}, []string{"%u9090"}, nil},
		{Text{Regex: []string{`(?i)^/(scripts|msadc)/root\.exe$`}},
			[]string{"/msadc/root.exe", "/m\u017fadc/root.exe", "/scripts/root.exe", "/script\u017f/root.exe", "/\u017fcripts/root.exe", "/\u017fcript\u017f/root.exe"},
			[]string{"/MSADC/root.EXE", "/\u017fcripts/root.exe"}},
		{Text{Regex: []string{`(?i)kill`}}, []string{"\u212aill", "kill"}, []string{"\u212AILL", "KiLl"}},
		{Text{Regex: []string{`kill`}, NoCase: true}, []string{"\u212aill", "kill"}, []string{"\u212Aill"}},
		{Text{Regex: []string{`x\x{FFFD}yz`}}, []string{"yz"}, []string{"x\xffyz"}},
		{Text{Regex: []string{`[cd]/w`}}, []string{"c/w", "d/w"}, []string{"c/w"}},
		{Text{Regex: []string{`lib(ssh)?[_-]`}}, []string{"lib-", "lib_", "libssh-", "libssh_"}, []string{"libssh_0"}},
		{Text{Regex: []string{`a|b*`}}, nil, []string{""}},
		{Text{Regex: []string{`abc`, `.`}}, nil, []string{"x"}},
		{Text{Equals: []string{""}}, nil, []string{""}},
		{Text{MinLen: 3}, nil, []string{"abc"}},
	} {
		m, err := compileText(&tc.t)
		if err != nil {
			t.Fatal(err)
		}
		got := m.literals()
		if got != nil {
			got = dedup(slices.Clone(got))
		}
		if !slices.Equal(got, dedup(tc.want)) {
			t.Errorf("%+v: literals %q; want %q", tc.t, got, tc.want)
		}
		for _, s := range tc.holds {
			if ok, _, _, _ := m.match(s, nil); !ok {
				t.Errorf("%+v does not hold on %q", tc.t, s)
			} else if !containsOne(s, got) {
				t.Errorf("%+v holds on %q, which has none of %q", tc.t, s, got)
			}
		}
	}
}

func TestContentLiterals(t *testing.T) {
	for _, tc := range []struct {
		c     contentSpec
		want  []string
		holds [][]byte
	}{
		{contentSpec{Patterns: []patternSpec{{Hex: "04"}, {Hex: "DC C9 B0 42"}}}, []string{"\xdc\xc9\xb0b"}, nil},
		{contentSpec{Patterns: []patternSpec{{Text: "xKILLx", NoCase: true}}}, []string{"llx"}, [][]byte{[]byte("X\u212aILLx")}},
		{contentSpec{Patterns: []patternSpec{{Text: "\u00c9TAT", NoCase: true}}}, []string{"tat"}, [][]byte{[]byte("\u00e9tat")}},
		{contentSpec{Regex: `(?i)\xe9t\xc9`}, []string{"\xc9t\xc9", "\xc9t\xe9", "\xe9t\xc9", "\xe9t\xe9"}, [][]byte{[]byte("\xe9T\xe9")}},
		{contentSpec{Regex: `(?i)sock\x81`}, []string{"sock\x81"}, [][]byte{[]byte("SOCK\x81")}},
		{contentSpec{Regex: `\x{100}ab`}, []string{"ab"}, nil},
	} {
		m, err := compileContent(&tc.c, 1)
		if err != nil {
			t.Fatal(err)
		}
		got := m.literals()
		if !slices.Equal(got, tc.want) {
			t.Errorf("%+v: literals %q; want %q", tc.c, got, tc.want)
		}
		for _, b := range tc.holds {
			if ok, _, _, _ := m.match(int64(len(b)), func() []byte { return b }); !ok {
				t.Errorf("%+v does not hold on %q", tc.c, b)
			} else if !containsOne(string(b), got) {
				t.Errorf("%+v holds on %q, which has none of %q", tc.c, b, got)
			}
		}
	}
}

// TestLowerToASCII checks what bytePattern.literals assumes: the only
// runes past ASCII that unicode.ToLower (so bytes.ToLower) makes ASCII
// are U+0130, made 'i', and U+212A, made 'k'.
func TestLowerToASCII(t *testing.T) {
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if l := unicode.ToLower(r); l < utf8.RuneSelf && !(r == 0x130 && l == 'i') && !(r == 0x212a && l == 'k') {
			t.Errorf("unicode.ToLower(%U) = %q", r, l)
		}
	}
}

// containsOne reports whether lowerASCII(s) contains one of lits, or
// lits is nil (nothing is needed).
func containsOne(s string, lits []string) bool {
	if lits == nil {
		return true
	}
	s = lowerASCII(s)
	return slices.ContainsFunc(lits, func(l string) bool { return strings.Contains(s, l) })
}

// TestFinder checks the finder against strings.Contains, on literals
// and texts made of a few bytes so that they often meet, with many
// rules and many anchor pairs.
func TestFinder(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abAB%:\x00\xff"
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 50 {
		lits := map[string][]int32{}
		for i := range int32(200) {
			l := lowerASCII(word(1 + rnd.IntN(5)))
			lits[l] = append(lits[l], i)
		}
		f := newFinder(lits)
		for range 50 {
			text := word(rnd.IntN(24))
			seen := make([]uint64, 4)
			if rnd.IntN(2) == 0 {
				find(f, text, seen)
			} else {
				find(f, []byte(text), seen)
			}
			for l, rs := range lits {
				want := strings.Contains(lowerASCII(text), l)
				for _, r := range rs {
					if got := seen[r>>6]&(1<<(r&63)) != 0; got != want {
						t.Fatalf("%q in %q: got %v; want %v", l, text, got, want)
					}
				}
			}
		}
	}
}

// FuzzPrefilter makes events of every kind from the fuzzer's input and
// checks that the prefilter changes no detection, with the built-in
// rules and the rules above.
func FuzzPrefilter(f *testing.F) {
	f.Add("/scripts/..%255c../winnt/system32/cmd.exe?/c+dir", "() { :; }; /bin/busybox MIRAI", []byte("\x04\x01\x01\x01\xdc\xc9\xb0\x42sock send"))
	f.Add("/Admin/x.PHP?cmd=1&u=%3Cscript%3E", "${jndi:ldap://x} \u212Aill \u017fys", []byte("kill me\xff\xfe\xe9T\xe9 MAGIC1"))
	f.Add("/shell?cd+/tmp;wget+http://x/bins", "Root:Secret", []byte(`window.open("readme.eml"`))
	f.Add("/SYS.cgi?x=12", "wget2 -q http", []byte("<NewInternalClient>;"))
	sets := prefilterSets(f)
	f.Fuzz(func(t *testing.T, uri, text string, data []byte) {
		for _, e := range madeEvents(uri, text, data) {
			for _, s := range sets {
				if err := diffPrefilter(s, e, nil, data); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// FuzzLiterals checks, for any pattern, that a text a matcher holds on
// contains one of its literals: as a regular expression and as text of
// every operator, with and without case and decoding, and on bytes. It
// also checks that a text matcher's memo changes nothing.
func FuzzLiterals(f *testing.F) {
	f.Add(`(?i)^/(tm|hnd)unblock\.cgi$`, "/TMunblock.cgi", false, false)
	f.Add(`\$\{\s*(j|\$\{[^}]*\})`, "%24%7Bjndi", true, true)
	f.Add(`(?i)\xe9t`, "\xe9T", false, false)
	f.Add(`x\x{FFFD}y`, "x\xffy", false, false)
	f.Fuzz(func(t *testing.T, pattern, text string, nocase, urldecode bool) {
		for _, tx := range []Text{{Regex: []string{pattern}}, {Contains: []string{pattern}}, {Prefix: []string{pattern}},
			{Suffix: []string{pattern}}, {Equals: []string{pattern}}} {
			tx.NoCase, tx.URLDecode = nocase, urldecode
			m, err := compileText(&tx)
			if err != nil {
				continue
			}
			ok, lo, hi, seen := m.match(text, nil)
			if ok && !containsOne(text, m.literals()) {
				t.Fatalf("%+v holds on %q, which has none of %q", tx, text, m.literals())
			}
			var memo textMemo
			for range 2 { // the memo is empty, then has the text
				ok2, lo2, hi2, seen2 := m.match(text, &memo)
				if ok2 != ok || lo2 != lo || hi2 != hi || seen2 != seen {
					t.Fatalf("%+v on %q: %v %d %d %q with a memo; %v %d %d %q without", tx, text, ok2, lo2, hi2, seen2, ok, lo, hi, seen)
				}
			}
		}
		b := []byte(text)
		for _, c := range []contentSpec{{Regex: pattern}, {Patterns: []patternSpec{{Text: pattern, NoCase: nocase}}}} {
			m, err := compileContent(&c, 1)
			if err != nil {
				continue
			}
			if ok, _, _, _ := m.match(int64(len(b)), func() []byte { return b }); ok && !containsOne(text, m.literals()) {
				t.Fatalf("%+v holds on %q, which has none of %q", c, b, m.literals())
			}
		}
	})
}
