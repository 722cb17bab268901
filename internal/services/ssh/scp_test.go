package ssh

import (
	"fmt"
	"strings"
	"testing"
)

// scpRun feeds in to a sink, in pieces of step bytes, and describes what
// it answered and received.
func scpRun(in string, step int, max int64) (reply string, files []string, failed string) {
	s := &scpSink{maxFile: max}
	b := []byte(in)
	var out []byte
	for len(b) > 0 {
		n := min(step, len(b))
		r, fs := s.feed(b[:n])
		b = b[n:]
		out = append(out, r...)
		for _, f := range fs {
			files = append(files, fmt.Sprintf("%s/%s %s %d/%d %q cut=%v", strings.Join(f.Dir, "/"), f.Name, f.Mode,
				f.Got, f.Size, f.Data, f.Cut))
		}
	}
	if f, ok := s.pending(); ok {
		files = append(files, fmt.Sprintf("pending %s %d/%d cut=%v", f.Name, f.Got, f.Size, f.Cut))
	}
	return string(out), files, s.failed
}

func TestSCPSink(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		max    int64
		reply  string
		files  []string
		failed string
	}{
		{"one file", "C0755 5 bot.sh\nhello\x00", 100, "\x00\x00",
			[]string{`/bot.sh 0755 5/5 "hello" cut=false`}, ""},
		{"times first", "T1700000000 0 1700000000 0\nC0644 2 a\nhi\x00", 100, "\x00\x00\x00",
			[]string{`/a 0644 2/2 "hi" cut=false`}, ""},
		{"empty file", "C0644 0 empty\n\x00", 100, "\x00\x00", []string{`/empty 0644 0/0 "" cut=false`}, ""},
		{"directory", "D0755 0 kit\nC0644 1 x\nX\x00E\nC0644 1 y\nY\x00", 100, "\x00\x00\x00\x00\x00\x00",
			[]string{`kit/x 0644 1/1 "X" cut=false`, `/y 0644 1/1 "Y" cut=false`}, ""},
		{"kept to the bound", "C0644 10 big\n0123456789\x00", 4, "\x00\x00",
			[]string{`/big 0644 10/10 "0123" cut=true`}, ""},
		{"cut short", "C0644 10 half\n01234", 100, "\x00", []string{"pending half 5/10 cut=true"}, ""},
		{"warning from the source", "\x01scp: x: Permission denied\nC0644 1 z\nZ\x00", 100, "\x00\x00",
			[]string{`/z 0644 1/1 "Z" cut=false`}, ""},
		{"bad mode", "C06x4 1 a\n", 100, "\x02scp: protocol error: bad mode\n", nil, "protocol error: bad mode"},
		{"size not delimited", "C0644 12\n", 100, "\x02scp: protocol error: size not delimited\n", nil,
			"protocol error: size not delimited"},
		{"size out of range", "C0644 -1 a\n", 100, "\x02scp: protocol error: size out of range\n", nil,
			"protocol error: size out of range"},
		{"path in the name", "C0644 1 ../x\nZ\x00", 100, "\x02scp: error: unexpected filename: ../x\n", nil,
			"error: unexpected filename: ../x"},
		{"not a record", "hello\n", 100, "\x02scp: protocol error: expected control record\n", nil,
			"protocol error: expected control record"},
		{"line too long", "C0644 1 " + strings.Repeat("a", 2000), 100,
			"\x02scp: protocol error: control line too long\n", nil, "protocol error: control line too long"},
	}
	for _, tc := range tests {
		for _, step := range []int{1, 3, len(tc.in)} {
			reply, files, failed := scpRun(tc.in, step, tc.max)
			if reply != tc.reply || fmt.Sprint(files) != fmt.Sprint(tc.files) || failed != tc.failed {
				t.Errorf("%s (step %d): got reply %q files %q failed %q; want %q %q %q", tc.name, step,
					reply, files, failed, tc.reply, tc.files, tc.failed)
			}
		}
	}
}

func TestIsSCP(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		want bool
	}{
		{"scp -t /tmp", true}, {"scp -r -d -t -- /tmp/x", true}, {"/usr/bin/scp -pt .", true},
		{"scp -f /etc/passwd", false}, {"scp /tmp", false}, {"uname -t", false}, {"scp", false},
	} {
		if got := isSCP(strings.Fields(tc.cmd)); got != tc.want {
			t.Errorf("isSCP(%q) got %v; want %v", tc.cmd, got, tc.want)
		}
	}
}

func TestReadsScript(t *testing.T) {
	for _, tc := range []struct {
		cmd     string
		windows bool
		want    bool
	}{
		{"sh", false, true}, {"/bin/bash -s", false, true}, {"busybox sh", false, true}, {"sh -c id", false, false},
		{"sh script.sh", false, false}, {"cmd", true, true}, {`C:\WINNT\system32\cmd.exe`, true, true},
		{"cmd /c dir", true, false}, {"sh", true, false}, {"", false, false},
	} {
		if got := readsScript(strings.Fields(tc.cmd), tc.windows); got != tc.want {
			t.Errorf("readsScript(%q, windows %v) got %v; want %v", tc.cmd, tc.windows, got, tc.want)
		}
	}
}
