package ssh

import (
	"fmt"
	"testing"
)

// edited feeds in to an editor and returns what it made: each line ended
// (with its ending), then the echo.
func edited(in string, echo bool, max int) (lines []string, out string) {
	e := editor{max: max, echo: echo}
	var o []byte
	for i := 0; i < len(in); i++ {
		switch e.feed(in[i], &o) {
		case endEnter:
			l, cut := e.take()
			lines = append(lines, fmt.Sprintf("%q cut=%v", l, cut))
		case endIntr:
			lines = append(lines, "^C")
		case endEOF:
			lines = append(lines, "EOF")
		}
	}
	if e.pending() {
		l, _ := e.take()
		lines = append(lines, fmt.Sprintf("pending %q", l))
	}
	return lines, string(o)
}

func TestEditor(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		echo  bool
		max   int
		lines []string
		out   string
	}{
		{"pty enter", "ls\r", true, 64, []string{`"ls" cut=false`}, "ls\r\n"},
		{"pty CR LF is one end", "a\r\nb\r\n", true, 64, []string{`"a" cut=false`, `"b" cut=false`}, "a\r\nb\r\n"},
		{"pty CR NUL", "a\r\x00b\r", true, 64, []string{`"a" cut=false`, `"b" cut=false`}, "a\r\nb\r\n"},
		{"backspace", "lx\x7fs\r", true, 64, []string{`"ls" cut=false`}, "lx\b \bs\r\n"},
		{"backspace on empty line", "\x08\x08a\r", true, 64, []string{`"a" cut=false`}, "a\r\n"},
		{"kill line", "abc\x15id\r", true, 64, []string{`"id" cut=false`}, "abc\b \b\b \b\b \bid\r\n"},
		{"interrupt", "rm -rf\x03ls\r", true, 64, []string{"^C", `"ls" cut=false`}, "rm -rf^C\r\nls\r\n"},
		{"eof on empty line", "\x04", true, 64, []string{"EOF"}, ""},
		{"eof ignored mid-line", "a\x04b\r", true, 64, []string{`"ab" cut=false`}, "ab\r\n"},
		{"arrow keys swallowed", "\x1b[A\x1b[1;5Dl\x1bOs\r", true, 64, []string{`"l" cut=false`}, "l\r\n"},
		{"other controls dropped", "a\x01\x02\tb\r", true, 64, []string{"\"a\\tb\" cut=false"}, "a\tb\r\n"},
		{"cut at max", "abcdef\r", true, 4, []string{`"abcd" cut=true`}, "abcd\r\n"},
		{"no pty: no echo, LF ends", "uname -a\nid\n", false, 64, []string{`"uname -a" cut=false`, `"id" cut=false`}, ""},
		{"no pty: CR LF", "id\r\nw\r\n", false, 64, []string{`"id" cut=false`, `"w" cut=false`}, ""},
		{"no pty: controls kept", "a\x7fb\n", false, 64, []string{"\"a\\x7fb\" cut=false"}, ""},
		{"no pty: last line pending", "a\nb", false, 64, []string{`"a" cut=false`, `pending "b"`}, ""},
	}
	for _, tc := range tests {
		lines, out := edited(tc.in, tc.echo, tc.max)
		if fmt.Sprint(lines) != fmt.Sprint(tc.lines) || out != tc.out {
			t.Errorf("%s: got lines %q echo %q; want %q %q", tc.name, lines, out, tc.lines, tc.out)
		}
	}
}
