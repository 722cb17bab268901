package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/samples"
	"github.com/smallpot/smallpot/internal/store"
	"github.com/smallpot/smallpot/internal/store/sqlite"
	"github.com/smallpot/smallpot/internal/transcript"
)

func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", "./smallpot-data", "data `directory` written by 'smallpot run'")
}

func openStore(dir string) (*sqlite.DB, error) {
	path := filepath.Join(dir, "smallpot.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no Smallpot store in %s (%v): point -data at the directory 'smallpot run' writes to", dir, err)
	}
	return sqlite.OpenReadOnly(path)
}

func cmdEvents(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("events", "-data DIR [-json] [-service NAME] [-kind KIND] [-session ID] [-limit N]", stderr)
	dir := dataFlag(fs)
	asJSON := fs.Bool("json", false, "print one JSON object per line, as in events.jsonl")
	svc := fs.String("service", "", "only events of this `service`")
	kind := fs.String("kind", "", "only events of this `kind` (connect, close, request, login, command, payload, upload, download, sample)")
	sess := fs.String("session", "", "only events of this session `id`")
	limit := fs.Int("limit", 0, "print only the newest `N` events (0: all)")
	if err := parse(fs, args); err != nil {
		return err
	}
	db, err := openStore(*dir)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.Events(context.Background(), sqlite.EventFilter{Service: *svc, Kind: *kind, Session: *sess, Limit: *limit})
	if err != nil {
		return err
	}
	for _, raw := range rows {
		if *asJSON {
			fmt.Fprintf(stdout, "%s\n", raw)
			continue
		}
		var e event.Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("stored event unreadable: %w", err)
		}
		fmt.Fprintln(stdout, formatEvent(&e))
	}
	return nil
}

// formatEvent renders one event on one line for people.
func formatEvent(e *event.Event) string {
	src := ""
	if e.Src.IsValid() {
		src = e.Src.String()
	}
	return fmt.Sprintf("%s  %-8s %-8s %-21s %s", e.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
		e.Service, e.Kind, src, summary(e.Detail))
}

func summary(d event.Detail) string {
	switch d := d.(type) {
	case *event.Connect:
		return "listener " + d.Listener
	case *event.Close:
		return fmt.Sprintf("%s after %dms, in %dB out %dB", d.Reason, d.DurationMS, d.BytesIn, d.BytesOut)
	case *event.Request:
		s := fmt.Sprintf("%s %s %s → %d", d.Method, clip(d.URI, 120), d.Version, d.Status)
		if d.Malformed != "" {
			s += " malformed: " + d.Malformed
		}
		if d.Action != "" {
			s += " [" + d.Action + "]"
		}
		if d.Sample != "" {
			s += " sample " + d.Sample[:16]
		}
		return s
	case *event.Login:
		return fmt.Sprintf("%s user=%q password=%q success=%v", d.Method, d.User, d.Password, d.Success)
	case *event.Command:
		return fmt.Sprintf("%s> %s", d.Shell, clip(d.Line, 160))
	case *event.Payload:
		return fmt.Sprintf("%dB %q", d.Len, clip(string(d.Data), 80))
	case *event.Upload:
		return fmt.Sprintf("%s %q %dB sha256 %s", d.Via, d.Name, d.Size, d.SHA256)
	case *event.Download:
		return fmt.Sprintf("intent %s", d.URL)
	case *event.Sample:
		n := ""
		if d.New {
			n = " (new)"
		}
		return fmt.Sprintf("%s %dB from %s%s", d.SHA256, d.Size, d.Source, n)
	case *event.RPC:
		s := fmt.Sprintf("%s v%d %s → %s", nameOr(d.ProgramName, d.Program), d.Version, nameOr(d.ProcedureName, d.Procedure), d.Reply)
		if d.Result != "" {
			s += " " + clip(d.Result, 80)
		}
		if d.Sample != "" {
			s += " sample " + d.Sample[:16]
		}
		return s
	case *event.Detection:
		s := fmt.Sprintf("[%s] %s", d.Severity, d.Rule)
		if d.Family != "" {
			s += " family=" + d.Family
		}
		if d.Variant != "" {
			s += " variant=" + d.Variant
		}
		if d.Exploit != "" {
			s += " exploit=" + d.Exploit
		}
		if d.Bulletin != "" {
			s += " " + d.Bulletin
		}
		if len(d.CVE) > 0 {
			s += " " + strings.Join(d.CVE, ",")
		}
		return s + " of " + string(d.OfKind)
	case event.Raw:
		return clip(string(d.JSON), 160)
	}
	b, _ := json.Marshal(d)
	return clip(string(b), 160)
}

func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '.'
		}
		return r
	}, s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func cmdSamples(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "export" {
		return cmdSamplesExport(args[1:], stdout, stderr)
	}
	if len(args) == 0 || (args[0] != "ls" && args[0] != "show") {
		fmt.Fprintf(stderr, "Usage: smallpot samples ls -data DIR [-json]\n       smallpot samples show -data DIR SHA256\n"+
			"       smallpot samples export -data DIR -out DIR [-zip-password infected] [SHA256...]\n")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			return nil
		}
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := newFlags("samples "+sub, map[string]string{"ls": "-data DIR [-json]", "show": "-data DIR [-json] SHA256"}[sub], stderr)
	dir := dataFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	db, err := openStore(*dir)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	if sub == "ls" {
		rows, err := db.Samples(ctx)
		if err != nil {
			return err
		}
		fz, err := db.SamplesFuzzy(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			for _, r := range rows {
				f := fz[r.SHA256]
				if err := enc.Encode(sampleLine{SampleRow: r, Family: f.Family, Variant: f.Variant,
					SSDeep: f.SSDeep, TLSH: f.TLSH, Novelty: f.Novelty, Nearest: f.Nearest}); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SHA256\tSIZE\tCOUNT\tSESSIONS\tLAST SEEN\tSOURCE\tFAMILY\tSSDEEP\tTLSH\tNEAREST")
		for _, r := range rows {
			f := fz[r.SHA256]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.SHA256, r.Size, r.Count, r.Sessions,
				fmtTime(r.LastSeen), r.FirstSource, orDash(familyOf(f.Family, f.Variant)), orDash(clip(f.SSDeep, 40)),
				orDash(clip(f.TLSH, 16)), nearest(f.Nearest))
		}
		return tw.Flush()
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	sha := strings.ToLower(fs.Arg(0))
	row, sightings, err := db.Sample(ctx, sha)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(struct {
			Sample    sqlite.SampleRow  `json:"sample"`
			Sightings []sqlite.Sighting `json:"sightings"`
		}{row, sightings})
	}
	fz, err := db.SampleFuzzy(ctx, sha)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	dets, err := db.Events(ctx, sqlite.EventFilter{Kind: string(event.KindDetection)})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sha256  %s\nsha1    %s\nmd5     %s\nssdeep  %s\ntlsh    %s\nsize    %d\ncount   %d\nfirst   %s\nlast    %s\nfile    %s\n",
		row.SHA256, row.SHA1, row.MD5, orDash(fz.SSDeep), orDash(fz.TLSH), row.Size, row.Count, fmtTime(row.FirstSeen), fmtTime(row.LastSeen),
		filepath.Join(*dir, "samples", row.SHA256))
	fmt.Fprintf(stdout, "family  %s\nnovelty %s\nnearest %s\n\n", orDash(familyOf(fz.Family, fz.Variant)), orDash(fz.Novelty), nearest(fz.Nearest))
	for _, raw := range dets {
		var e event.Event
		if json.Unmarshal(raw, &e) != nil {
			continue
		}
		if d, ok := e.Detail.(*event.Detection); ok && d.Sample == sha {
			fmt.Fprintf(stdout, "detection  %s\n", summary(d))
		}
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEEN\tSERVICE\tSOURCE IP\tSESSION\tWHAT\tNAME")
	for _, s := range sightings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%q\n", fmtTime(s.Time), s.Service, s.SrcIP, s.Session, s.Source, s.Name)
	}
	_ = tw.Flush()
	if b, err := os.ReadFile(filepath.Join(*dir, "samples", row.SHA256)); err == nil {
		n := min(len(b), 256)
		fmt.Fprintf(stdout, "\nfirst %d bytes:\n%s", n, hex.Dump(b[:n]))
	}
	return nil
}

func cmdSession(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("session", "-data DIR SESSION-ID", stderr)
	dir := dataFlag(fs)
	raw := fs.Bool("raw", false, "write the client's bytes only, as sent, to stdout")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	db, err := openStore(*dir)
	if err != nil {
		return err
	}
	defer db.Close()
	s, err := db.Session(context.Background(), fs.Arg(0))
	if err != nil {
		return err
	}
	chunks, err := transcript.Decode(s.Transcript)
	if err != nil {
		return err
	}
	if *raw {
		for _, c := range chunks {
			if c.Dir == transcript.In {
				if _, err := stdout.Write(c.Data); err != nil {
					return err
				}
			}
		}
		return nil
	}
	fmt.Fprintf(stdout, "session %s  %s  %s:%d → %s:%d  %s, %dms, in %dB out %dB\n\n", s.ID, s.Service,
		s.SrcIP, s.SrcPort, s.DstIP, s.DstPort, s.Reason, s.DurationMS, s.BytesIn, s.BytesOut)
	for _, c := range chunks {
		arrow := "<<"
		if c.Dir == transcript.Out {
			arrow = ">>"
		}
		fmt.Fprintf(stdout, "%s +%s %dB\n%s\n", arrow, c.Offset, len(c.Data), hex.Dump(c.Data))
	}
	return nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func cmdConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "default" && args[0] != "effective") {
		fmt.Fprintf(stderr, "Usage: smallpot config default            print the embedded default configuration\n"+
			"       smallpot config effective [-config FILE] [-profile P]\n"+
			"                                        print what would run, personas included\n")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			return nil
		}
		return errUsage
	}
	if args[0] == "default" {
		fs := newFlags("config default", "", stderr)
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		_, err := stdout.Write(config.Default())
		return err
	}
	fs := newFlags("config effective", "[-config FILE] [-profile P]", stderr)
	path := fs.String("config", "", "configuration `file` (default: the embedded one)")
	profile := fs.String("profile", "", "override the profile (windows2000 or linux-iot)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	if *profile != "" {
		cfg.Profile = *profile
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	b, err := cfg.Effective()
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}

func nameOr(name string, num uint32) string {
	if name != "" {
		return name
	}
	return fmt.Sprint(num)
}

// sampleLine is one line of `samples ls -json`: the stored row with what
// the analyzers learned of it.
type sampleLine struct {
	sqlite.SampleRow
	Family  string          `json:"family,omitempty"`
	Variant string          `json:"variant,omitempty"`
	SSDeep  string          `json:"ssdeep,omitempty"`
	TLSH    string          `json:"tlsh,omitempty"`
	Novelty string          `json:"novelty,omitempty"`
	Nearest *event.Relative `json:"nearest,omitempty"`
}

func familyOf(family, variant string) string {
	if variant != "" && variant != family {
		return family + " / " + variant
	}
	return family
}

func nearest(r *event.Relative) string {
	if r == nil {
		return "-"
	}
	s := fmt.Sprintf("%s (ssdeep %d", r.SHA256[:16], r.SSDeep)
	if r.TLSH != nil {
		s += fmt.Sprintf(", tlsh %d", *r.TLSH)
	}
	s += ")"
	if r.Family != "" {
		s += " " + familyOf(r.Family, r.Variant)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdSamplesExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("samples export", "-data DIR -out DIR [-zip-password PW] [SHA256...]", stderr)
	dir := dataFlag(fs)
	out := fs.String("out", "", "`directory` to write the samples and their metadata JSON to")
	pw := fs.String("zip-password", "", "write each sample in a zip encrypted with this `password` (customarily: infected)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return errUsage
	}
	db, err := openStore(*dir)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	want := map[string]bool{}
	for _, a := range fs.Args() {
		want[strings.ToLower(a)] = true
	}
	rows, err := db.Samples(ctx)
	if err != nil {
		return err
	}
	fz, err := db.SamplesFuzzy(ctx)
	if err != nil {
		return err
	}
	var items []samples.Exported
	for _, r := range rows {
		if len(want) > 0 && !want[r.SHA256] {
			continue
		}
		_, sightings, err := db.Sample(ctx, r.SHA256)
		if err != nil {
			return err
		}
		f := fz[r.SHA256]
		items = append(items, samples.Exported{SHA256: r.SHA256, Meta: struct {
			sampleLine
			Sightings []sqlite.Sighting `json:"sightings"`
		}{sampleLine{SampleRow: r, Family: f.Family, Variant: f.Variant, SSDeep: f.SSDeep, TLSH: f.TLSH,
			Novelty: f.Novelty, Nearest: f.Nearest}, sightings}})
		delete(want, r.SHA256)
	}
	for sha := range want {
		return fmt.Errorf("no sample %s in %s", sha, *dir)
	}
	st, err := samples.Open(filepath.Join(*dir, "samples"))
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.Export(*out, items, *pw)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %d samples to %s\n", n, *out)
	return nil
}
