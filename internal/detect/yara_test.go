package detect

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
)

// needYara skips without the yara program, except in CI, which installs
// it (.ci/run): there a missing yara is a failure.
func needYara(t *testing.T) {
	t.Helper()
	_, err1 := exec.LookPath("yara")
	_, err2 := exec.LookPath("yarac")
	if err1 == nil && err2 == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("yara is not installed; .ci/run installs the Debian package yara")
	}
	t.Skip("yara is not installed (Debian package yara)")
}

func putFile(t *testing.T, dir string, data []byte) string {
	t.Helper()
	h := sha256.Sum256(data)
	sha := hex.EncodeToString(h[:])
	if err := os.WriteFile(filepath.Join(dir, sha), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return sha
}

func TestYaraScansNewSamples(t *testing.T) {
	needYara(t)
	dir := t.TempDir()
	bot := append([]byte{0x7f, 'E', 'L', 'F', 1, 1, 1, 0}, []byte("....../bin/busybox MIRAI......")...)
	plain := []byte("nothing to see")
	botSHA, plainSHA := putFile(t, dir, bot), putFile(t, dir, plain)

	a, c := newAnalyzer(t, Config{Yara: []string{"testdata/yara"}, SamplesDir: dir}, nil)
	if a.yara == nil {
		t.Fatal("the YARA scanner did not start")
	}
	compiled := a.yara.compiled
	sample := func(sha string, size int, isNew bool) *event.Event {
		return ev("s1", "telnet", 23, &event.Sample{SHA256: sha, Size: int64(size), Source: "telnet.echo", New: isNew})
	}
	batch := records(t, sample(botSHA, len(bot), true), sample(plainSHA, len(plain), true), sample(botSHA, len(bot), false))
	if err := a.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for a.yara.scans.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the second scan's detections, if any
	var yara []*event.Detection
	for _, d := range c.detections() {
		if d.Engine == event.EngineYARA {
			yara = append(yara, d)
		}
	}
	slices.SortFunc(yara, func(x, y *event.Detection) int { return strings.Compare(x.Rule, y.Rule) })
	if len(yara) != 2 {
		t.Fatalf("got %d YARA detections (%v); want 2: both files' rule on the new ELF only", len(yara), c.rules())
	}
	// The two files use the same rule name: each is its own namespace.
	if yara[0].Rule != "more.yara:Smallpot_ELF_Busybox_Bot" || yara[1].Rule != "smallpot.yar:Smallpot_ELF_Busybox_Bot" {
		t.Errorf("rules: got %s, %s", yara[0].Rule, yara[1].Rule)
	}
	d := yara[1]
	if d.Family != "Mirai" || d.Variant != "test" || d.Severity != "high" || d.Sample != botSHA ||
		d.Of != batch[0].Event.ID || d.OfKind != event.KindSample || d.Title != "Smallpot_ELF_Busybox_Bot" {
		t.Errorf("detection from meta: got %+v", d)
	}
	if yara[0].Severity != "medium" || yara[0].Family != "" {
		t.Errorf("a rule without meta: got %+v", yara[0])
	}
	if st := a.Stats(); st.YaraScans != 2 || st.YaraErrors != 0 {
		t.Errorf("stats: got %+v; want 2 scans (the repeated sample is not new)", st)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(compiled); !os.IsNotExist(err) {
		t.Errorf("compiled rules left behind: %v", err)
	}
}

func TestYaraMetaOnMail(t *testing.T) {
	needYara(t)
	dir := t.TempDir()
	exe := []byte("MZ\x90\x00 Content-Type: audio/x-wav; name=\"readme.exe\" ... readme.eml")
	sha := putFile(t, dir, exe)
	y, err := newYara(Config{Yara: []string{"testdata/yara/smallpot.yar"}, SamplesDir: dir, YaraTimeout: 10 * time.Second, MaxScan: 1 << 20}, func(*event.Event) {}, quiet)
	if err != nil || y == nil {
		t.Fatalf("newYara: %v, %v", y, err)
	}
	defer y.close()
	ms, err := y.scanFile(context.Background(), filepath.Join(dir, sha))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 {
		t.Fatalf("got %+v; want Smallpot_Nimda_Mailer", ms)
	}
	d := ms[0].detection(y.files)
	if d.Rule != "smallpot.yar:Smallpot_Nimda_Mailer" || d.Family != "Nimda" || !slices.Equal(d.CVE, []string{"CVE-2001-0154"}) ||
		d.Bulletin != "MS01-020" || d.Severity != "critical" || d.Engine != event.EngineYARA {
		t.Errorf("got %+v", d)
	}
}

func TestYaraBadRules(t *testing.T) {
	needYara(t)
	p := filepath.Join(t.TempDir(), "bad.yar")
	if err := os.WriteFile(p, []byte("rule broken {\n  condition:\n    undefined_thing\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	_, err := New(Config{Yara: []string{p}, SamplesDir: t.TempDir()}, nil, c.emit, quiet)
	if err == nil || !strings.Contains(err.Error(), "undefined identifier") || !strings.HasPrefix(err.Error(), "detect: yara rules: ") {
		t.Errorf("got %v; want yarac's complaint", err)
	}
}

func TestYaraMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var logs bytes.Buffer
	c := &collector{}
	a, err := New(Config{Yara: []string{"testdata/yara"}, SamplesDir: t.TempDir()}, nil, c.emit, newTextLogger(&logs))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.yara != nil || !strings.Contains(logs.String(), "yara is not installed") {
		t.Errorf("yara %v, logs %q; want the scanner off and one log line", a.yara, logs.String())
	}
	var out bytes.Buffer
	if err := List(&out, Config{Yara: []string{"testdata/yara"}}); err != nil || !strings.Contains(out.String(), "yara NOT installed") {
		t.Errorf("list: %v\n%s", err, out.String())
	}
}

func TestYaraQueueIsBounded(t *testing.T) {
	y := &yaraScanner{jobs: make(chan yaraJob, 2), maxScan: 100, log: quiet}
	s := &event.Sample{SHA256: strings.Repeat("a", 64), Size: 10}
	e := &event.Event{Kind: event.KindSample, Detail: s}
	for range 5 {
		y.enqueue(e, s)
	}
	big := &event.Sample{SHA256: strings.Repeat("b", 64), Size: 101}
	y.enqueue(e, big)
	y.enqueue(e, &event.Sample{SHA256: "../x", Size: 1})
	if len(y.jobs) != 2 || y.dropped.Load() != 4 {
		t.Errorf("queued %d, dropped %d; want 2 queued, 3 dropped for a full queue and 1 for size", len(y.jobs), y.dropped.Load())
	}
	if j := <-y.jobs; j.e.Detail != nil {
		t.Error("a queued job keeps the event's detail")
	}
}

func TestParseYaraOutput(t *testing.T) {
	out := "n0:Rule_A [family=\"Mi,rai\",severity=\"high\",n=3,ok=true,q=\"a \\\"b\\\"\"] /data/samples/x\n" +
		"n1:Rule_B [] /data/samples/x\n" +
		"warning: something /data/samples/y\n" +
		"garbage\n"
	ms := parseYaraOutput(out, "/data/samples/x")
	if len(ms) != 2 {
		t.Fatalf("got %+v", ms)
	}
	want := map[string]string{"family": "Mi,rai", "severity": "high", "n": "3", "ok": "true", "q": `a "b"`}
	for k, v := range want {
		if ms[0].meta[k] != v {
			t.Errorf("meta %s: got %q; want %q", k, ms[0].meta[k], v)
		}
	}
	if ms[1].ns != "n1" || ms[1].rule != "Rule_B" || len(ms[1].meta) != 0 {
		t.Errorf("second: got %+v", ms[1])
	}
}

func newTextLogger(w *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
