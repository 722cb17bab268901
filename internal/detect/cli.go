package detect

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/smallpot/smallpot/internal/event"
)

// RuleInfo describes one rule, for listings.
type RuleInfo struct {
	ID       string       `json:"id"`
	Title    string       `json:"title"`
	Family   string       `json:"family,omitempty"`
	Variant  string       `json:"variant,omitempty"`
	Exploit  string       `json:"exploit,omitempty"`
	CVE      []string     `json:"cve,omitempty"`
	Bulletin string       `json:"bulletin,omitempty"`
	Severity string       `json:"severity"`
	Scope    string       `json:"scope"`
	Kinds    []event.Kind `json:"kinds,omitempty"` // empty: any kind
	File     string       `json:"file"`
	Line     int          `json:"line"`
}

// Rules describes every rule of the set, in file order.
func (s *Set) Rules() []RuleInfo {
	out := make([]RuleInfo, 0, len(s.rules))
	for _, r := range s.rules {
		ri := RuleInfo{ID: r.id, Title: r.title, Family: r.family, Variant: r.variant, Exploit: r.exploit,
			CVE: r.cve, Bulletin: r.bulletin, Severity: r.severity, Scope: r.scope, File: r.file, Line: r.line}
		if !r.kinds.all {
			ri.Kinds = r.kinds.kinds
		}
		out = append(out, ri)
	}
	return out
}

// List writes the rules of cfg (built-in and the user's) as a table, runs
// the tests written with them (reporting each failure), and lists the
// YARA rule files configured: "smallpot rules list".
func List(w io.Writer, cfg Config) error {
	set, err := LoadRules(cfg)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFAMILY\tVARIANT\tEXPLOIT\tCVE / BULLETIN\tSEVERITY\tSCOPE\tFILE")
	for _, r := range set.Rules() {
		ref := strings.Join(r.CVE, ",")
		if r.Bulletin != "" {
			ref = strings.TrimPrefix(ref+" "+r.Bulletin, " ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s:%d\n", r.ID, dash(r.Family), dash(r.Variant), dash(r.Exploit),
			dash(ref), r.Severity, r.Scope, r.File, r.Line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d rules from %d files\n", set.Len(), len(set.files))
	passed, failed := 0, 0
	for _, res := range set.RunTests() {
		if res.OK() {
			passed++
			continue
		}
		failed++
		what := fmt.Sprintf("fired %v, want %v", res.Got, res.Want)
		if res.Err != nil {
			what = res.Err.Error()
		}
		label := res.Rule
		if res.Name != "" {
			label += ", " + res.Name
		}
		fmt.Fprintf(w, "FAILED rule test %s:%d (%s): %s\n", res.File, res.Line, label, what)
	}
	fmt.Fprintf(w, "the rules' own tests: %d passed, %d failed\n", passed, failed)
	if len(cfg.Yara) > 0 {
		var files []string
		for _, p := range cfg.Yara {
			fs, err := expand(p, ".yar", ".yara")
			if err != nil {
				return err
			}
			files = append(files, fs...)
		}
		state := "yara installed"
		if _, err := exec.LookPath("yara"); err != nil {
			state = "yara NOT installed: these are skipped"
		}
		fmt.Fprintf(w, "YARA rule files (%s):\n", state)
		for _, f := range files {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// maxTestFile bounds the file "rules test" reads.
const maxTestFile = 64 << 20

// TestFile reports which rules fire on a file: "smallpot rules test FILE".
// A file of Smallpot events (JSON lines, as in events.jsonl) is classified
// event by event, envelope included. Any other file is taken as raw bytes:
// as a payload, as a sample (and, with cfg.Yara and yara installed,
// scanned by YARA), and, when it reads as an HTTP request, as a request;
// the envelope being unknown, conditions on service, transport and port
// hold. Session and source scopes are not applied: every match is shown.
// It returns the number of rules that fired.
func TestFile(w io.Writer, cfg Config, path string) (int, error) {
	cfg.fill()
	set, err := LoadRules(cfg)
	if err != nil {
		return 0, err
	}
	data, err := readBounded(path, maxTestFile)
	if err != nil {
		return 0, err
	}
	if evs, ok := eventLines(data); ok {
		return testEvents(w, cfg, set, path, evs)
	}
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	fmt.Fprintf(w, "%s: %d bytes, sha256 %s\n", path, len(data), sha)
	var v view
	v.loadSample = func(string, int64) []byte { return data[:min(int64(len(data)), cfg.MaxScan)] }
	keep := data[:min(len(data), 1<<20)]
	evs := []*event.Event{
		{ID: "file-payload", Kind: event.KindPayload, Detail: &event.Payload{Len: int64(len(data)), Data: keep}},
		{ID: "file-sample", Kind: event.KindSample, Detail: &event.Sample{SHA256: sha, Size: int64(len(data)),
			Source: "file", Name: filepath.Base(path), New: true}},
	}
	if req := parseHTTPRequest(data); req != nil {
		evs = append(evs, &event.Event{ID: "file-request", Kind: event.KindRequest, Service: "http", Detail: req})
	}
	total := 0
	for _, e := range evs {
		fired := set.classify(&v, e, nil, true, nil)
		label := string(e.Kind)
		if r, ok := e.Detail.(*event.Request); ok {
			label += " " + r.Method + " " + truncate(r.URI, 80)
		}
		fmt.Fprintf(w, "as %s: %s\n", label, count(len(fired)))
		for _, f := range fired {
			writeFiring(w, f.r.detection(f, 0))
		}
		total += len(fired)
	}
	if len(cfg.Yara) > 0 {
		n, err := testYara(w, cfg, path)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

func testEvents(w io.Writer, cfg Config, set *Set, path string, evs []*event.Event) (int, error) {
	var v view
	if cfg.SamplesDir != "" {
		if ds, err := DirSamples(cfg.SamplesDir); err == nil {
			defer ds.(*dirSamples).Close()
			v.loadSample = func(sha string, _ int64) []byte {
				b, _ := ds.(*dirSamples).ReadPrefix(sha, cfg.MaxScan)
				return b
			}
		}
	}
	fmt.Fprintf(w, "%s: %d events\n", path, len(evs))
	total := 0
	for _, e := range evs {
		fired := set.classify(&v, e, nil, false, nil)
		if len(fired) == 0 {
			continue
		}
		fmt.Fprintf(w, "event %s (%s %s %s): %s\n", e.ID, e.Service, e.Kind, e.Src, count(len(fired)))
		for _, f := range fired {
			writeFiring(w, f.r.detection(f, 0))
		}
		total += len(fired)
	}
	fmt.Fprintf(w, "%s in all\n", count(total))
	return total, nil
}

func testYara(w io.Writer, cfg Config, path string) (int, error) {
	var files []string
	for _, p := range cfg.Yara {
		fs, err := expand(p, ".yar", ".yara")
		if err != nil {
			return 0, err
		}
		files = append(files, fs...)
	}
	bin, err1 := exec.LookPath("yara")
	yarac, err2 := exec.LookPath("yarac")
	if err1 != nil || err2 != nil {
		fmt.Fprintln(w, "as sample, YARA: skipped, yara is not installed")
		return 0, nil
	}
	compiled, err := compileYara(yarac, files, cfg.YaraTimeout)
	if err != nil {
		return 0, err
	}
	defer os.Remove(compiled)
	y := &yaraScanner{bin: bin, compiled: compiled, files: files, timeout: cfg.YaraTimeout}
	abs, err := filepath.Abs(path)
	if err != nil {
		return 0, fmt.Errorf("detect: %w", err)
	}
	ms, err := y.scanFile(context.Background(), abs)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(w, "as sample, YARA: %s\n", count(len(ms)))
	for _, m := range ms {
		writeFiring(w, m.detection(files))
	}
	return len(ms), nil
}

func writeFiring(w io.Writer, d *event.Detection) {
	var what []string
	for _, s := range []string{d.Family, d.Variant, d.Exploit, strings.Join(d.CVE, ","), d.Bulletin} {
		if s != "" {
			what = append(what, s)
		}
	}
	fmt.Fprintf(w, "  %-32s %-8s %s\n", d.Rule, d.Severity, strings.Join(what, " | "))
	for _, m := range d.Matched {
		fmt.Fprintf(w, "      %s: %s\n", m.Field, m.Value)
	}
}

func count(n int) string {
	if n == 1 {
		return "1 rule fired"
	}
	return fmt.Sprintf("%d rules fired", n)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// eventLines reads data as JSON lines of Smallpot events; ok is false
// unless every non-empty line is one.
func eventLines(data []byte) ([]*event.Event, bool) {
	if len(data) == 0 || data[0] != '{' {
		return nil, false
	}
	var evs []*event.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxTestFile)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e event.Event
		if json.Unmarshal(line, &e) != nil || e.Kind == "" {
			return nil, false
		}
		evs = append(evs, &e)
	}
	return evs, sc.Err() == nil && len(evs) > 0
}

// parseHTTPRequest reads data as one HTTP/1.x request, leniently (a
// worm's request line is not always valid), or returns nil: a request
// line "METHOD TARGET HTTP/x.y", header lines, an empty line, the body.
func parseHTTPRequest(data []byte) *event.Request {
	head, body, ok := bytes.Cut(data, []byte("\r\n\r\n"))
	if !ok {
		head, body, ok = bytes.Cut(data, []byte("\n\n"))
		if !ok {
			head, body = data, nil
		}
	}
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	parts := strings.Fields(lines[0])
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "HTTP/") || !isToken(parts[0]) {
		return nil
	}
	r := &event.Request{Method: parts[0], URI: parts[1], Version: parts[2], BodyLen: int64(len(body))}
	r.Path, r.Query, _ = strings.Cut(r.URI, "?")
	r.Path = urlDecode(r.Path)
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		h := event.Header{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)}
		r.Headers = append(r.Headers, h)
		switch strings.ToLower(h.Name) {
		case "host":
			r.Host = h.Value
		case "user-agent":
			r.UserAgent = h.Value
		}
	}
	if len(body) > 0 {
		r.Body = body[:min(len(body), 1<<20)]
	}
	return r
}

func isToken(s string) bool {
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}
