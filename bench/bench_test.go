//go:build linux

package main

import (
	"os"
	"strings"
	"testing"
)

// These tests cover the harness's parsing and arithmetic only; the
// benchmark itself runs with `go run ./bench`, never under go test.

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int64
		ok   bool
	}{
		{"plain", "1234 (smallpot) S 1 1234 1234 0 -1 4194560 500 0 0 0 150 37 0 0 20 0 8 0 100 0 0", 187, true},
		{"spaces and parens in name", "77 (a) b (c)) R 1 77 77 0 -1 0 0 0 0 0 9 1 0 0 20 0 1 0 5 0 0", 10, true},
		{"no name", "77 a R 1", 0, false},
		{"too short", "77 (x) R 1 2 3", 0, false},
		{"not numbers", "77 (x) R 1 77 77 0 -1 0 0 0 0 0 u s 0 0", 0, false},
	}
	for _, tt := range tests {
		got, err := parseStatCPU([]byte(tt.in))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("%s: parseStatCPU = %d, %v; want %d, ok %v", tt.name, got, err, tt.want, tt.ok)
		}
	}
}

func TestProcReaders(t *testing.T) {
	pid := os.Getpid()
	if _, err := cpuTicks(pid); err != nil {
		t.Errorf("cpuTicks(self): %v", err)
	}
	if rss, err := rssKiB(pid); err != nil || rss <= 0 {
		t.Errorf("rssKiB(self) = %d, %v; want > 0", rss, err)
	}
	if n, err := fdCount(pid); err != nil || n < 3 {
		t.Errorf("fdCount(self) = %d, %v; want >= 3", n, err)
	}
	if busy, total, err := machineTicks(); err != nil || busy <= 0 || total < busy {
		t.Errorf("machineTicks() = %d, %d, %v; want 0 < busy <= total", busy, total, err)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestThousands(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {12345.6, "12,346"}, {1234567, "1,234,567"},
	}
	for _, tt := range tests {
		if got := thousands(tt.in); got != tt.want {
			t.Errorf("thousands(%v) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestParsePerfScript(t *testing.T) {
	in := `	ffffffff81e80494 __sys_accept4
	           e4d8d internal/poll.(*FD).Accept
	          14877b net.(*TCPListener).accept

	          6bc30f modernc.org/sqlite/lib._sqlite3VdbeExec
	          6bbf0a github.com/smallpot/smallpot/internal/store/sqlite.(*DB).Write
	          1e930a github.com/smallpot/smallpot/internal/pipeline.(*Pipeline).write

	ffffffff8225a6c1 do_syscall_64
	           c5018 syscall.write
	          6bac14 net.(*conn).Write
	          6ba27b github.com/smallpot/smallpot/internal/services/http.(*Server).ServeTCP

	            b7ee runtime.memmove
`
	s, err := parsePerfScript(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{
		"accept":                               {1, 1},
		"store: SQLite and the logs beside it": {1, 0},
		"socket write":                         {1, 1},
		otherCategory:                          {1, 0},
	}
	if s.total != 4 {
		t.Errorf("%d samples; want 4", s.total)
	}
	for c, w := range want {
		if s.count[c] != w[0] || s.kernel[c] != w[1] {
			t.Errorf("%s: %d samples, %d in the kernel; want %d, %d", c, s.count[c], s.kernel[c], w[0], w[1])
		}
	}
	md := s.markdown(40)
	if !strings.Contains(md, "| accept | 25.0% | 10.0 | 10.0 |") {
		t.Errorf("table:\n%s", md)
	}
}
