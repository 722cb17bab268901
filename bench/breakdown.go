//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
)

// A category is a share of the server's CPU, named by where its samples'
// stacks are: the first category whose pattern appears in a sample's
// stack takes the sample. Order matters: the store's frames sit under the
// pipeline's, a socket write under the service that made it.
type category struct {
	name     string
	patterns []string
}

var categories = []category{
	{"store: SQLite and the logs beside it", []string{"internal/store/sqlite.", "modernc.org/"}},
	{"store: events.jsonl", []string{"internal/store/jsonl."}},
	{"event JSON encoding", []string{"event.(*Event).AppendJSON"}},
	{"classification (detect)", []string{"internal/detect."}},
	{"novelty", []string{"internal/novelty."}},
	{"pipeline (queue, batches, fan-out)", []string{"internal/pipeline."}},
	{"garbage collector (background)", []string{"runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge"}},
	{"accept", []string{"net.(*TCPListener)"}},
	{"socket write", []string{"net.(*conn).Write"}},
	{"socket read (and waiting for the request)", []string{"engine.(*conn).ReadFirst", "engine.(*conn).readFirst",
		"engine.(*conn).PollFirst", "service.(*Reader).fill", "service.(*Reader).TryFill", "net.(*conn).Read"}},
	{"socket close", []string{"net.(*conn).Close", "net.(*netFD).Close"}},
	{"the service (parsing, answering)", []string{"internal/services/"}},
	{"events: ids, envelopes, transcript", []string{"service.(*Recorder).Emit", "service.(*Recorder).emit", "event.New", "internal/transcript."}},
	{"engine (session set-up and end)", []string{"internal/engine.", "bench.bareServe"}},
	{"Go scheduler and netpoller", []string{"runtime.schedule", "runtime.findRunnable", "runtime.mcall", "runtime.park_m", "runtime.sysmon", "runtime.netpoll"}},
}

const otherCategory = "other"

// shares holds the samples counted per category, and how many of them
// were in the kernel (their innermost frame a kernel address).
type shares struct {
	total  int
	count  map[string]int
	kernel map[string]int
}

// parsePerfScript reads `perf script -F ip,sym` output: one sample per
// block of lines, innermost frame first, blocks apart by blank lines.
func parsePerfScript(r io.Reader) (shares, error) {
	s := shares{count: map[string]int{}, kernel: map[string]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var frames []string
	kernel := false
	flush := func() {
		if len(frames) == 0 {
			return
		}
		c := classify(frames)
		s.total++
		s.count[c]++
		if kernel {
			s.kernel[c]++
		}
		frames, kernel = frames[:0], false
	}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			flush()
			continue
		}
		addr, sym, _ := strings.Cut(line, " ")
		if len(frames) == 0 {
			kernel = strings.HasPrefix(addr, "ffffffff")
		}
		frames = append(frames, strings.TrimSpace(sym))
	}
	flush()
	return s, sc.Err()
}

func classify(frames []string) string {
	for _, c := range categories {
		for _, p := range c.patterns {
			for _, f := range frames {
				if strings.Contains(f, p) {
					return c.name
				}
			}
		}
	}
	return otherCategory
}

// breakdown turns a perf recording of a server into a Markdown table of
// where its CPU per connection went, given that figure.
func breakdown(perfFile string, cpuMicros float64) (string, error) {
	out, err := exec.Command("perf", "script", "-i", perfFile, "-F", "ip,sym").Output()
	if err != nil {
		return "", fmt.Errorf("bench: perf script: %w", err)
	}
	s, err := parsePerfScript(bytes.NewReader(out))
	if err != nil {
		return "", fmt.Errorf("bench: perf script: %w", err)
	}
	return s.markdown(cpuMicros), nil
}

func (s shares) markdown(cpuMicros float64) string {
	if s.total == 0 {
		return "No samples recorded.\n"
	}
	names := make([]string, 0, len(s.count))
	for n := range s.count {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if s.count[names[i]] != s.count[names[j]] {
			return s.count[names[i]] > s.count[names[j]]
		}
		return names[i] < names[j]
	})
	var b strings.Builder
	fmt.Fprintf(&b, "| where (%d samples) | share | µs per connection | of which kernel |\n|---|---:|---:|---:|\n", s.total)
	for _, n := range names {
		share := float64(s.count[n]) / float64(s.total)
		fmt.Fprintf(&b, "| %s | %.1f%% | %.1f | %.1f |\n", n, 100*share, share*cpuMicros,
			float64(s.kernel[n])/float64(s.total)*cpuMicros)
	}
	return b.String()
}
