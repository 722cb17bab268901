package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
	"github.com/smallpot/smallpot/internal/store"
	"github.com/smallpot/smallpot/internal/store/jsonl"
	"github.com/smallpot/smallpot/internal/store/storetest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTemp(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "smallpot.db")
	d, err := Open(path, quiet())
	if err != nil {
		t.Fatal(err)
	}
	return d, path
}

// failing is a DB whose next Write can be made to fail just before its
// commit.
type failing struct{ *DB }

func (f failing) FailNextWrite(err error) {
	f.failBeforeCommit = func() error {
		f.failBeforeCommit = nil
		return err
	}
}

func TestConformance(t *testing.T) {
	storetest.TestStore(t, func(t *testing.T) storetest.Store {
		d, _ := openTemp(t)
		return failing{d}
	})
}

// The events file holds the pipeline's bytes exactly, one event a line:
// the bytes the JSON-lines sink writes for the same batches.
func TestEventJSONExact(t *testing.T) {
	d, path := openTemp(t)
	defer d.Close()
	js, err := jsonl.Open(filepath.Join(filepath.Dir(path), "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	recs := storetest.Records(t, storetest.AllKinds()...)
	for _, batch := range [][]pipeline.Record{recs[:4], recs[4:]} {
		for _, s := range []pipeline.Sink{d, js} {
			if err := s.Write(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := js.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := d.Events(context.Background(), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("got %d events, want %d", len(got), len(recs))
	}
	for i := range recs {
		if !bytes.Equal(got[i], recs[i].JSON) {
			t.Errorf("event %d:\n got %s\nwant %s", i, got[i], recs[i].JSON)
		}
	}
	log, err := os.ReadFile(path + "-events")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := os.ReadFile(filepath.Join(filepath.Dir(path), "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(log, lines) {
		t.Errorf("events file:\n%s\nevents.jsonl:\n%s", log, lines)
	}
}

// An IPv4 peer on a dual-stack listener arrives as ::ffff:a.b.c.d; it is
// stored as the JSON has it, plain IPv4, in a sighting and a session too.
func TestMappedAddress(t *testing.T) {
	d, _ := openTemp(t)
	defer d.Close()
	e := storetest.Event(storetest.T0, "s1", "http", &event.Sample{SHA256: storetest.SHA256a, Source: "http.request"})
	c := storetest.Event(storetest.T0.Add(time.Second), "s1", "http", &event.Close{Reason: event.ReasonEOF})
	for _, e := range []*event.Event{e, c} {
		e.Src = netip.MustParseAddrPort("[::ffff:203.0.113.9]:1234")
	}
	if err := d.Write(context.Background(), storetest.Records(t, e, c)); err != nil {
		t.Fatal(err)
	}
	var sightSrc, sessSrc string
	if err := d.db.QueryRow("SELECT src_ip FROM sample_sightings").Scan(&sightSrc); err != nil {
		t.Fatal(err)
	}
	if err := d.db.QueryRow("SELECT src_ip FROM sessions").Scan(&sessSrc); err != nil {
		t.Fatal(err)
	}
	evs, err := d.Events(context.Background(), store.EventFilter{Kind: "sample"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("Events(sample) = %d, %v", len(evs), err)
	}
	var src struct {
		SrcIP string `json:"src_ip"`
	}
	if err := json.Unmarshal(evs[0], &src); err != nil {
		t.Fatal(err)
	}
	if src.SrcIP != "203.0.113.9" || sightSrc != "203.0.113.9" || sessSrc != "203.0.113.9" {
		t.Errorf("src_ip = %q in the event, %q in the sighting, %q in the session; want 203.0.113.9", src.SrcIP, sightSrc, sessSrc)
	}
}

func TestWALFilesAfterOpen(t *testing.T) {
	d, path := openTemp(t)
	check := func(when string) {
		t.Helper()
		for _, suffix := range []string{"", "-wal", "-shm", "-events", "-transcripts"} {
			fi, err := os.Stat(path + suffix)
			if err != nil {
				t.Errorf("%s: %v", when, err)
				continue
			}
			if perm := fi.Mode().Perm(); perm&0o007 != 0 {
				t.Errorf("%s: %s has mode %v, want no access for others", when, path+suffix, perm)
			}
		}
	}
	check("new database")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := Open(path, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	check("reopened database")
	var mode, sync string
	if err := d.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := d.db.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != "1" {
		t.Errorf("journal_mode %s, synchronous %s; want wal, 1 (NORMAL)", mode, sync)
	}
	// Statement journals stay in memory (see Open).
	var temp string
	if err := d.db.QueryRow("PRAGMA temp_store").Scan(&temp); err != nil {
		t.Fatal(err)
	}
	if temp != "2" {
		t.Errorf("temp_store %s, want 2 (MEMORY)", temp)
	}
	var fk, ps int
	if err := d.db.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if err := d.db.QueryRow("PRAGMA page_size").Scan(&ps); err != nil || ps != pageSize {
		t.Errorf("page_size = %d, %v; want %d", ps, err, pageSize)
	}
}

// The writer never opens a second connection: after Open the path may be
// out of reach.
func TestSingleWriterConnection(t *testing.T) {
	d, path := openTemp(t)
	defer d.Close()
	if err := d.Write(context.Background(), storetest.Records(t, storetest.AllKinds()...)); err != nil {
		t.Fatal(err)
	}
	// Move the database away: a writer that reopened by path would
	// create a new, empty file.
	moved := path + ".moved"
	for _, suffix := range []string{"", "-wal", "-shm", "-events", "-transcripts"} {
		if err := os.Rename(path+suffix, moved+suffix); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		e := storetest.Event(storetest.T0.Add(time.Duration(i)*time.Hour), "x", "ftp", &event.Connect{})
		if err := d.Write(context.Background(), storetest.Records(t, e)); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Samples(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("%s was created again: the writer reopened the path", path)
	}
	if got := d.db.Stats().OpenConnections; got != 1 {
		t.Errorf("open connections = %d, want 1", got)
	}
	evs, err := d.Events(context.Background(), store.EventFilter{Service: "ftp"})
	if err != nil || len(evs) != 3 {
		t.Errorf("Events(ftp) = %d, %v; want 3", len(evs), err)
	}
}

func countMigrations(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrationsAppliedOnce(t *testing.T) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no embedded migrations")
	}
	d, path := openTemp(t)
	if err := d.Write(context.Background(), storetest.Records(t, storetest.AllKinds()...)); err != nil {
		t.Fatal(err)
	}
	if n := countMigrations(t, d.db); n != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
	}
	d.Close()
	for range 2 {
		d, err := Open(path, quiet())
		if err != nil {
			t.Fatal(err)
		}
		if n := countMigrations(t, d.db); n != len(ms) {
			t.Errorf("after reopening: schema_migrations has %d rows, want %d", n, len(ms))
		}
		evs, err := d.Events(context.Background(), store.EventFilter{})
		if err != nil || len(evs) != len(storetest.AllKinds()) {
			t.Errorf("after reopening: %d events, %v; want the %d written", len(evs), err, len(storetest.AllKinds()))
		}
		d.Close()
	}
}

// A later migration is applied on top of an existing database, in order,
// and a failing one leaves nothing half-done.
func TestMigrationSteps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	d, err := Open(path, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	base, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	for _, m := range base {
		fsys[fmt.Sprintf("migrations/%04d_%s.sql", m.version, m.name)] = &fstest.MapFile{Data: []byte(m.sql)}
	}
	n := len(base)
	fsys[fmt.Sprintf("migrations/%04d_notes.sql", n+1)] = &fstest.MapFile{Data: []byte(
		"CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\nINSERT INTO notes (body) VALUES ('a');")}
	fsys[fmt.Sprintf("migrations/%04d_broken.sql", n+2)] = &fstest.MapFile{Data: []byte(
		"INSERT INTO notes (body) VALUES ('b');\nSELECT * FROM no_such_table;")}
	ms, err := loadMigrations(fsys)
	if err != nil {
		t.Fatal(err)
	}
	err = applyMigrations(context.Background(), d.db, quiet(), ms, migrateEnv{})
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("applying a broken migration: err = %v, want one naming it", err)
	}
	var notes int
	if err := d.db.QueryRow("SELECT count(*) FROM notes").Scan(&notes); err != nil {
		t.Fatal(err)
	}
	if notes != 1 {
		t.Errorf("notes has %d rows, want 1 (the broken step rolled back)", notes)
	}
	if got := countMigrations(t, d.db); got != n+1 {
		t.Errorf("schema_migrations has %d rows, want %d", got, n+1)
	}

	// Bad names and gaps are refused.
	for _, bad := range []fstest.MapFS{
		{"migrations/0001_a.sql": {}, "migrations/0003_c.sql": {}},
		{"migrations/0001_a.sql": {}, "migrations/0001_b.sql": {}},
		{"migrations/init.sql": {}},
	} {
		if _, err := loadMigrations(bad); err == nil {
			t.Errorf("loadMigrations(%v) succeeded, want an error", bad)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	d, path := openTemp(t)
	if _, err := d.db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)"); err != nil {
		t.Fatal(err)
	}
	d.Close()
	_, err := Open(path, quiet())
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema: err = %v, want a 'newer' error", err)
	}
	_, err = OpenReadOnly(path)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("OpenReadOnly of a newer schema: err = %v, want a 'newer' error", err)
	}
}

func TestReadOnlyWhileWriting(t *testing.T) {
	w, path := openTemp(t)
	defer w.Close()
	evs := storetest.AllKinds()
	if err := w.Write(context.Background(), storetest.Records(t, evs[:5]...)); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Events(context.Background(), store.EventFilter{})
	if err != nil || len(got) != 5 {
		t.Fatalf("reader: %d events, %v; want 5", len(got), err)
	}
	// The writer goes on while the reader is open and sees its commits.
	if err := w.Write(context.Background(), storetest.Records(t, evs[5:]...)); err != nil {
		t.Fatal(err)
	}
	got, err = r.Events(context.Background(), store.EventFilter{})
	if err != nil || len(got) != len(evs) {
		t.Fatalf("reader after a second batch: %d events, %v; want %d", len(got), err, len(evs))
	}
	if _, err := r.Session(context.Background(), "s1"); err != nil {
		t.Errorf("reader: Session: %v", err)
	}
	if err := r.Write(context.Background(), storetest.Records(t, evs[0])); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Write on a read-only DB = %v, want ErrReadOnly", err)
	}
	if _, err := r.db.Exec("DELETE FROM event_blocks"); err == nil {
		t.Error("a read-only connection deleted rows")
	}
}

func TestReadOnlyErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenReadOnly(filepath.Join(dir, "missing.db")); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Errorf("OpenReadOnly(missing) = %v, want 'no database'", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("OpenReadOnly created the missing file")
	}
	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := OpenReadOnly(other); err == nil || !strings.Contains(err.Error(), "not a smallpot database") {
		t.Errorf("OpenReadOnly(other) = %v, want 'not a smallpot database'", err)
	}
	// A writer that has closed leaves a database the reader opens alone.
	w, path := openTemp(t)
	if err := w.Write(context.Background(), storetest.Records(t, storetest.AllKinds()...)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if ss, err := r.Samples(context.Background()); err != nil || len(ss) != 1 {
		t.Errorf("Samples after the writer closed: %d, %v; want 1", len(ss), err)
	}
}

// A path with characters that mean something in a URI.
func TestOddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?x=1#y%20", "smallpot.db")
	d, err := Open(path, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %s: %v", path, err)
	}
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
}

// A batch whose context ends is rolled back whole.
func TestWriteCancelled(t *testing.T) {
	d, _ := openTemp(t)
	defer d.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Write(ctx, storetest.Records(t, storetest.AllKinds()...)); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a cancelled context = %v, want context.Canceled", err)
	}
	if evs, _ := d.Events(context.Background(), store.EventFilter{}); len(evs) != 0 {
		t.Errorf("%d events stored from a cancelled batch, want 0", len(evs))
	}
}

// Through the real pipeline: everything emitted is stored once Close
// returns.
func TestThroughPipeline(t *testing.T) {
	d, path := openTemp(t)
	p := pipeline.New(pipeline.Options{Batch: 7, Logger: quiet()}, nil, d)
	const n = 100
	for i := range n {
		p.Emit(storetest.Event(storetest.T0.Add(time.Duration(i)*time.Millisecond), fmt.Sprint("s", i%10), "http",
			&event.Command{Line: fmt.Sprint(i)}))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Sinks[0].Written != n || st.Sinks[0].Errors != 0 {
		t.Errorf("sink stats %+v, want %d written, no errors", st.Sinks[0], n)
	}
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	evs, err := r.Events(context.Background(), store.EventFilter{Session: "s3"})
	if err != nil || len(evs) != n/10 {
		t.Errorf("Events(session s3) = %d, %v; want %d", len(evs), err, n/10)
	}
	// The batches' lines, written from the pipeline's buffer, are all
	// there, in order, each readable.
	all, err := r.Events(context.Background(), store.EventFilter{})
	if err != nil || len(all) != n {
		t.Fatalf("Events() = %d, %v; want %d", len(all), err, n)
	}
	for i, js := range all {
		var e event.Event
		if err := e.UnmarshalJSON(js); err != nil || e.Detail.(*event.Command).Line != fmt.Sprint(i) {
			t.Fatalf("event %d reads %s (%v)", i, js, err)
		}
	}
}

func ids(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// Events at the same nanosecond are all stored, in one batch or across
// batches (whose blocks then take the next free nanosecond as their key),
// and read back in the order written, each with its exact time. An event
// written twice is stored twice: this store does not deduplicate.
func TestSameTime(t *testing.T) {
	d, _ := openTemp(t)
	defer d.Close()
	var evs []*event.Event
	for i := range 5 {
		evs = append(evs, storetest.Event(storetest.T0, fmt.Sprint("s", i%2), "http", &event.Command{Line: fmt.Sprint(i)}))
	}
	write := func(evs ...*event.Event) {
		t.Helper()
		if err := d.Write(context.Background(), storetest.Records(t, evs...)); err != nil {
			t.Fatal(err)
		}
	}
	write(evs[:3]...)
	write(evs[3:]...)
	write(evs[1])
	later := storetest.Event(storetest.T0.Add(time.Nanosecond), "s9", "http", &event.Command{Line: "later"})
	write(later)
	raws, err := d.Events(context.Background(), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range raws {
		var e event.Event
		if err := e.UnmarshalJSON(r); err != nil {
			t.Fatal(err)
		}
		if !e.Time.Equal(storetest.T0) && e.ID != later.ID {
			t.Errorf("event %s read back with time %v, want %v", e.ID, e.Time, storetest.T0)
		}
		got = append(got, e.ID)
	}
	want := append(ids(evs), evs[1].ID, later.ID)
	if !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	var keys []int64
	rows, err := d.db.Query("SELECT first_time FROM event_blocks ORDER BY first_time")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k int64
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	t0 := storetest.T0.UnixNano()
	if !slices.Equal(keys, []int64{t0, t0 + 1, t0 + 2, t0 + 3}) {
		t.Errorf("block keys %v, want the next free nanoseconds from %d", keys, t0)
	}
	if evs, err := d.Events(context.Background(), store.EventFilter{Limit: 2}); err != nil || len(evs) != 2 ||
		!bytes.Contains(evs[0], []byte(`"line":"1"`)) || !bytes.Contains(evs[1], []byte(`"line":"later"`)) {
		t.Errorf("Events(limit 2) = %s, %v; want the second copy of command 1, then later", evs, err)
	}
}

// Transcripts go to the file beside the database, end to end; a reader
// finds every one.
func TestTranscriptsFile(t *testing.T) {
	d, path := openTemp(t)
	var want [][]byte
	var closes []*event.Event
	for i := range 6 {
		tr := chunk('<', uint32(i), bytes.Repeat([]byte{byte('a' + i)}, 100+i))
		want = append(want, tr)
		closes = append(closes, storetest.Event(storetest.T0.Add(time.Duration(i)*time.Second), fmt.Sprint("s", i), "http",
			&event.Close{DurationMS: 5, Reason: event.ReasonEOF, Transcript: tr}))
	}
	write := func(evs ...*event.Event) {
		t.Helper()
		if err := d.Write(context.Background(), storetest.Records(t, evs...)); err != nil {
			t.Fatal(err)
		}
	}
	write(closes[:3]...)
	write(closes[3:]...)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path + "-transcripts")
	if err != nil {
		t.Fatal(err)
	}
	if w := bytes.Join(want, nil); !bytes.Equal(got, w) {
		t.Errorf("transcripts file %q, want %q", got, w)
	}
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i, tr := range want {
		s, err := r.Session(context.Background(), fmt.Sprint("s", i))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s.Transcript, tr) {
			t.Errorf("session s%d: transcript %q, want %q", i, s.Transcript, tr)
		}
	}
}

func TestCloseTwice(t *testing.T) {
	d, _ := openTemp(t)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}
