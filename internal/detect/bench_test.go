package detect

import (
	"bufio"
	"context"
	"os"
	"testing"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
)

// loadCorpus reads testdata/corpus.jsonl: the events Smallpot's own
// services recorded in their transcript tests (CodeRed, Nimda, Mirai,
// relay tests, RPC exploits, ordinary requests and logins).
func loadCorpus(tb testing.TB) ([]pipeline.Record, int64) {
	tb.Helper()
	f, err := os.Open("testdata/corpus.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var recs []pipeline.Record
	var n int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := append([]byte(nil), sc.Bytes()...)
		e := new(event.Event)
		if err := e.UnmarshalJSON(line); err != nil {
			tb.Fatal(err)
		}
		recs = append(recs, pipeline.Record{Event: e, JSON: line})
		n += int64(len(line))
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return recs, n
}

// TestCorpus classifies the captured corpus: the worms in it are
// labelled, and the ordinary traffic is not.
func TestCorpus(t *testing.T) {
	recs, _ := loadCorpus(t)
	a, c := newAnalyzer(t, Config{}, nil)
	if err := a.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range c.rules() {
		got[r]++
	}
	for _, want := range []string{"codered-ii", "nimda.root-exe", "nimda.drive-root", "nimda.unicode-traversal",
		"nimda.double-decode", "nimda.tftp-admin-dll", "nimda.admin-dll", "nimda.readme-exe", "smtp.open-relay-probe",
		"mirai.busybox-applet-check", "mirai.echo-dropper", "mirai.credentials", "rpc.statd-format-string", "rpc.sadmind",
		"web.shellshock", "web.log4shell", "web.phpunit-eval-stdin", "web.jaws-shell"} {
		if got[want] == 0 {
			t.Errorf("rule %s did not fire on the corpus", want)
		}
	}
	// Ordinary requests (GET /, OPTIONS, logins to the router page) are
	// not labelled: nothing fires on most of the corpus.
	if d := a.Stats().Detections; d == 0 || d > uint64(len(recs))/4 {
		t.Errorf("%d detections for %d events; want a few", d, len(recs))
	}
	t.Logf("%d events, %d detections: %v", len(recs), a.Stats().Detections, got)
}

// BenchmarkClassify measures classification throughput over the corpus,
// in MB/s of event JSON and events per second, as the analyzer does it
// (rule evaluation, scope state, building detections).
func BenchmarkClassify(b *testing.B) {
	recs, n := loadCorpus(b)
	a, err := New(Config{}, nil, func(*event.Event) {}, quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	b.SetBytes(n)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := a.Write(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkClassifyRequest is the hot case alone: one ordinary HTTP
// request through every rule that can fire on a request.
func BenchmarkClassifyRequest(b *testing.B) {
	set, err := LoadRules(Config{})
	if err != nil {
		b.Fatal(err)
	}
	e := ev("s1", "http", 80, &event.Request{Method: "GET", URI: "/index.html?lang=en", Path: "/index.html",
		Query: "lang=en", Version: "HTTP/1.1", Host: "www", UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
		Headers: []event.Header{{Name: "Host", Value: "www"}, {Name: "User-Agent", Value: "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"},
			{Name: "Accept", Value: "*/*"}}})
	var v view
	out := make([]firing, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		out = set.classify(&v, e, nil, false, out[:0])
	}
}

func BenchmarkLoadRules(b *testing.B) {
	for b.Loop() {
		if _, err := LoadRules(Config{}); err != nil {
			b.Fatal(err)
		}
	}
}
