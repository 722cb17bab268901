package telnet

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

type typed struct {
	line string
	end  lineEnd
}

// typeLines feeds in to an editor and returns the lines and the echo.
func typeLines(max int, in string) ([]typed, string) {
	e := editor{max: max}
	var out []typed
	var echo []byte
	for i := 0; i < len(in); i++ {
		if end := e.feed(in[i], &echo); end != endNone {
			out = append(out, typed{e.take(), end})
		}
	}
	return out, string(echo)
}

type editorCase struct {
	name  string
	max   int
	in    string
	lines []typed
	echo  string
}

var editorCases = []editorCase{
	{"CR LF", 64, "root\r\nxc3511\r\n", []typed{{"root", endEnter}, {"xc3511", endEnter}}, "root\r\nxc3511\r\n"},
	{"CR NUL", 64, "ls\r\x00pwd\r\x00", []typed{{"ls", endEnter}, {"pwd", endEnter}}, "ls\r\npwd\r\n"},
	{"bare CR and LF", 64, "a\rb\nc\r", []typed{{"a", endEnter}, {"b", endEnter}, {"c", endEnter}}, "a\r\nb\r\nc\r\n"},
	{"empty lines", 64, "\r\n\n", []typed{{"", endEnter}, {"", endEnter}}, "\r\n\r\n"},
	{"erase", 64, "lx\x7fs\x08\x08ls\r\n", []typed{{"ls", endEnter}}, "lx\b \bs\b \b\b \bls\r\n"},
	{"kill line", 64, "rm -rf\x15ls\n", []typed{{"ls", endEnter}}, "rm -rf" + strings.Repeat("\b \b", 6) + "ls\r\n"},
	{"interrupt", 64, "sleep\x03id\n", []typed{{"", endIntr}, {"id", endEnter}}, "sleep^C\r\nid\r\n"},
	{"end of input on an empty line only", 64, "a\x04\n\x04", []typed{{"a", endEnter}, {"", endEOF}}, "a\r\n"},
	{"cut at the bound, rest dropped", 4, "abcdefgh\r\nok\r\n", []typed{{"abcd", endCut}, {"ok", endEnter}}, "abcdok\r\n"},
	{"exactly the bound", 4, "abcd\r\n", []typed{{"abcd", endEnter}}, "abcd\r\n"},
	{"control bytes kept, not echoed", 64, "a\x1b[Ab\n", []typed{{"a\x1b[Ab", endEnter}}, "a[Ab\r\n"},
}

func TestEditor(t *testing.T) {
	for _, tc := range editorCases {
		t.Run(tc.name, func(t *testing.T) {
			lines, echo := typeLines(tc.max, tc.in)
			if !reflect.DeepEqual(lines, tc.lines) {
				t.Errorf("lines %+v, want %+v", lines, tc.lines)
			}
			if echo != tc.echo {
				t.Errorf("echo %q, want %q", echo, tc.echo)
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	creds, err := parseCreds([]string{"root:xc3511", "admin:*", "guest:"})
	if err != nil {
		t.Fatal(err)
	}
	p := newPolicy(creds, 3, false, 2)
	steps := []struct {
		src        netip.Addr
		user, pass string
		want       bool
	}{
		{a, "root", "xc3511", true},
		{a, "root", "wrong", false}, // a's third attempt, but a already got in
		{a, "admin", "anything", true},
		{a, "guest", "", true},
		{a, "guest", "x", false},
		{a, "Root", "xc3511", false}, // names are case-sensitive here
		{b, "u", "p1", false},
		{b, "u", "p2", false},
		{b, "u", "p3", true}, // b's third attempt
		{b, "u", "p3", true}, // and again
		{b, "u", "p4", false},
	}
	for i, s := range steps {
		if got := p.Check(s.src, s.user, s.pass); got != s.want {
			t.Errorf("step %d %s %s:%s = %v, want %v", i, s.src, s.user, s.pass, got, s.want)
		}
	}
	// Two more sources push out a and b (two are remembered): b's pair,
	// accepted by its third attempt, is forgotten and b starts again.
	p.Check(netip.MustParseAddr("192.0.2.3"), "x", "y")
	p.Check(netip.MustParseAddr("192.0.2.4"), "x", "y")
	if p.Check(b, "u", "p3") {
		t.Error("a forgotten source still got in with its remembered pair")
	}
	w := newPolicy([]cred{{User: "Administrator", Pass: ""}}, 0, true, 10)
	if !w.Check(a, "administrator", "") || w.Check(a, "administrator", "x") {
		t.Error("windows names should fold case, passwords not")
	}
	if _, err := parseCreds([]string{"nocolon"}); err == nil {
		t.Error("a credential without ':' was accepted")
	}
}
