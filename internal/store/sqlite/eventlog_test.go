package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
	"github.com/smallpot/smallpot/internal/store"
	"github.com/smallpot/smallpot/internal/store/storetest"
)

// Every kind package event declares has a bit of its own, none twice,
// none the catch-all's: read from the package's source, so that a kind
// added there without a bit fails here.
func TestKindBits(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "..", "event", "event.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || vs.Type == nil {
			return true
		}
		if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Kind" {
			return true
		}
		for _, v := range vs.Values {
			if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				kinds = append(kinds, s)
			}
		}
		return true
	})
	if len(kinds) < 15 {
		t.Fatalf("found %d kinds in package event: %v", len(kinds), kinds)
	}
	seen := map[uint]string{}
	for _, k := range kinds {
		bit, ok := kindBit(event.Kind(k))
		if !ok || bit == otherKindBit || bit >= 64 {
			t.Errorf("kind %q has no bit of its own (%d, %v)", k, bit, ok)
			continue
		}
		if other, dup := seen[bit]; dup {
			t.Errorf("kinds %q and %q share bit %d", k, other, bit)
		}
		seen[bit] = k
	}
	for _, k := range []event.Kind{event.KindDetection, event.KindAlert, event.KindFetch} {
		if bit, _ := kindBit(k); stageKinds&(1<<bit) == 0 {
			t.Errorf("kind %s is not among the stage kinds", k)
		}
	}
	if bit, ok := kindBit("telemetry"); ok || bit != otherKindBit {
		t.Errorf("an unknown kind has bit %d, %v; want the catch-all", bit, ok)
	}
}

// A directory reads back as written, whatever its sessions, services and
// kinds.
func TestDirRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := storetest.T0.UnixNano()
	sessions := []string{event.NewID(storetest.T0), event.NewID(storetest.T0), "s1", "",
		strings.ToUpper(event.NewID(storetest.T0)), "x-" + event.NewID(storetest.T0)[2:]}
	services := []string{"http", "ftp", ""}
	kinds := []event.Kind{event.KindConnect, event.KindClose, event.KindCommand, "telemetry", "other", event.KindFetch}
	for round := range 200 {
		var b blockBuilder
		n := 1 + r.IntN(300)
		type ev struct {
			t       int64
			kind    event.Kind
			svc, ss string
			n, tr   int
		}
		var evs []ev
		for range n {
			e := ev{t: base + r.Int64N(2e9) - 1e9, kind: kinds[r.IntN(len(kinds))],
				svc: services[r.IntN(len(services))], ss: sessions[r.IntN(len(sessions))], n: r.IntN(3000),
				tr: r.IntN(1 << 20)}
			if round%3 == 0 { // one service, one session
				e.svc, e.ss = "http", sessions[0]
			}
			b.add(e.t, e.kind, e.svc, e.ss, e.n, e.tr)
			if e.kind != event.KindClose {
				e.tr = 0 // only a close has a transcript
			}
			evs = append(evs, e)
		}
		key := b.first
		dir := b.encode(nil, key)
		if round%5 == 0 { // the key was taken: the next nanoseconds
			dir = reencodeBase(dir, key, key+1)
			dir = reencodeBase(dir, key+1, key+3)
			key += 3
		}
		var d blockDir
		if err := decodeDir(&d, dir, int64(n), key, b.length); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if len(d.ents) != n {
			t.Fatalf("round %d: %d entries, want %d", round, len(d.ents), n)
		}
		for i, e := range evs {
			got := d.ents[i]
			kind := ""
			if got.code >= otherKindCode {
				kind = string(d.others[got.code-otherKindCode])
			} else {
				for _, k := range kinds {
					if bit, ok := kindBit(k); ok && uint32(bit) == got.code {
						kind = string(k)
					}
				}
			}
			if got.time != e.t || kind != string(e.kind) || string(d.services[got.svc]) != e.svc ||
				!bytes.Equal(d.sessions[got.sess], encodeSession(nil, e.ss)) || int(got.n) != e.n || int(got.tr) != e.tr {
				t.Fatalf("round %d, event %d: got %+v (%s %s), want %+v", round, i, got, kind, d.services[got.svc], e)
			}
		}
		if err := decodeDir(&d, dir, int64(n), key, b.length+1); err == nil {
			t.Errorf("round %d: a directory whose lines do not fill the block was accepted", round)
		}
	}
	if bit, _ := kindBit(event.KindClose); bit != closeCode {
		t.Errorf("closeCode %d is not the close kind's bit %d", closeCode, bit)
	}
	// Only the canonical form is a UUID: any other id reads back as text.
	for _, s := range sessions {
		enc := encodeSession(nil, s)
		if _, ok := parseUUID(s); ok != (enc[0] == 0) || (ok && len(enc) != 17) {
			t.Errorf("session %q encoded as %x", s, enc)
		}
	}
	if ms, ok := uuidMillis(event.NewID(storetest.T0)); !ok || ms != storetest.T0.UnixMilli() {
		t.Errorf("uuidMillis = %d, %v; want %d", ms, ok, storetest.T0.UnixMilli())
	}
}

// v1Dir turns a directory into its version 1 form: the close events'
// transcript lengths taken out.
func v1Dir(dir []byte) []byte {
	var d blockDir
	rest, err := decodeDirHead(&d, dir, 0)
	if err != nil {
		panic(err)
	}
	out := append([]byte{dirVersionV1}, dir[1:len(dir)-len(rest)]...)
	r := dirReader{b: rest}
	oneSvc, oneSess := len(d.services) == 1, len(d.sessions) == 1
	for len(r.b) > 0 && r.err == nil {
		out = binary.AppendVarint(out, r.varint())
		code := r.uvarint()
		out = binary.AppendUvarint(out, code)
		if !oneSvc {
			out = binary.AppendUvarint(out, r.uvarint())
		}
		if !oneSess {
			out = binary.AppendUvarint(out, r.uvarint())
		}
		out = binary.AppendUvarint(out, r.uvarint())
		if code == closeCode {
			r.uvarint()
		}
	}
	if r.err != nil {
		panic(r.err)
	}
	return out
}

// Blocks written before migration 0004 have version 1 directories: they
// read as before, their closes without transcript lengths.
func TestDirVersion1(t *testing.T) {
	var b blockBuilder
	sess := []string{event.NewID(storetest.T0), event.NewID(storetest.T0)}
	for i := range 40 {
		b.add(int64(i*1000), []event.Kind{event.KindConnect, event.KindClose}[i%2], "http", sess[i%3%2], 100+i, 500)
	}
	v2 := b.encode(nil, 0)
	v1 := v1Dir(v2)
	if len(v1) >= len(v2) || v1[0] != dirVersionV1 {
		t.Fatalf("version 1 directory of %d bytes (version 2: %d)", len(v1), len(v2))
	}
	var d1, d2 blockDir
	if err := decodeDir(&d1, v1, 40, 0, b.length); err != nil {
		t.Fatal(err)
	}
	if err := decodeDir(&d2, v2, 40, 0, b.length); err != nil {
		t.Fatal(err)
	}
	for i := range d2.ents {
		want := d2.ents[i]
		if want.code == closeCode && want.tr != 500 {
			t.Fatalf("event %d: transcript length %d, want 500", i, want.tr)
		}
		want.tr = 0
		if d1.ents[i] != want {
			t.Fatalf("event %d: version 1 reads %+v, version 2 %+v", i, d1.ents[i], d2.ents[i])
		}
	}
	// Read as the other version, each is corrupt.
	v1[0], v2[0] = dirVersion, dirVersionV1
	if decodeDir(&d1, v1, 40, 0, b.length) == nil || decodeDir(&d2, v2, 40, 0, b.length) == nil {
		t.Error("a directory read as the wrong version was accepted")
	}
}

// A corrupt directory is an error, never a panic or a huge allocation.
func FuzzDecodeDir(f *testing.F) {
	var b blockBuilder
	for i := range 20 {
		b.add(int64(i*1000), []event.Kind{event.KindCommand, event.KindClose}[i%2], []string{"http", "ftp"}[i%2],
			event.NewID(storetest.T0), 100+i, 600+i)
	}
	f.Add(b.encode(nil, 0), int64(20), int64(0), b.length)
	f.Add(v1Dir(b.encode(nil, 0)), int64(20), int64(0), b.length)
	f.Add([]byte{dirVersion, 0, 0, 0}, int64(0), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, dir []byte, count, base, length int64) {
		var d blockDir
		if err := decodeDir(&d, dir, count, base, length); err == nil && int64(len(d.ents)) != count {
			t.Fatalf("%d entries for %d events", len(d.ents), count)
		}
	})
}

// rec is an event as written, for the expected answers of queries.
type rec struct {
	e    *event.Event
	json []byte
	seq  int // order written
}

// expected is what Events(f) must return: the newest f.Limit matching
// events of recs, oldest first, those of a time in the order written.
func expected(recs []rec, f store.EventFilter) [][]byte {
	var m []rec
	for _, r := range recs {
		if (f.Service == "" || r.e.Service == f.Service) && (f.Kind == "" || string(r.e.Kind) == f.Kind) &&
			(f.Session == "" || r.e.Session == f.Session) {
			m = append(m, r)
		}
	}
	slices.SortFunc(m, func(a, b rec) int {
		if c := a.e.Time.Compare(b.e.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	if f.Limit > 0 && len(m) > f.Limit {
		m = m[len(m)-f.Limit:]
	}
	out := make([][]byte, len(m))
	for i, r := range m {
		out[i] = r.json
	}
	return out
}

// recorder writes batches to a store and keeps what it wrote.
type recorder struct {
	t    *testing.T
	d    *DB
	recs []rec
}

func (w *recorder) write(evs ...*event.Event) {
	w.t.Helper()
	batch := storetest.Records(w.t, evs...)
	if err := w.d.Write(context.Background(), batch); err != nil {
		w.t.Fatal(err)
	}
	for _, r := range batch {
		w.recs = append(w.recs, rec{e: r.Event, json: r.JSON, seq: len(w.recs)})
	}
}

func checkQueries(t *testing.T, d *DB, recs []rec, filters []store.EventFilter) {
	t.Helper()
	for _, f := range filters {
		got, err := d.Events(context.Background(), f)
		if err != nil {
			t.Fatalf("Events(%+v): %v", f, err)
		}
		want := expected(recs, f)
		if len(got) != len(want) {
			t.Errorf("Events(%+v): %d events, want %d", f, len(got), len(want))
			continue
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Errorf("Events(%+v)[%d]:\n got %s\nwant %s", f, i, got[i], want[i])
				break
			}
		}
	}
}

// Queries answer as a scan of every event would, over batches whose
// events are out of time order and overlap one another in time, batches
// cut into several blocks, and kinds without a bit.
func TestEventsLikeAScan(t *testing.T) {
	d, path := openTemp(t)
	defer d.Close()
	w := &recorder{t: t, d: d}
	r := rand.New(rand.NewPCG(3, 4))
	services := []string{"http", "ftp", "smtp"}
	kinds := []event.Detail{&event.Connect{}, &event.Command{Line: "x"}, &event.Login{User: "u"},
		&event.Detection{Rule: "r"}, event.Raw{K: "telemetry", JSON: json.RawMessage(`{}`)}}
	var sessions []string
	clock := storetest.T0
	for batch := range 60 {
		n := 1 + r.IntN(200)
		switch batch {
		case 20:
			n = 2500 // three blocks of at most 1024
		case 40:
			n = 0 // large events: blocks of at most 1 MiB
		}
		var evs []*event.Event
		for range n {
			clock = clock.Add(time.Duration(r.IntN(5000)) * time.Microsecond)
			at := clock.Add(-time.Duration(r.IntN(300)) * time.Millisecond) // out of order
			if r.IntN(8) == 0 || len(sessions) == 0 {
				sessions = append(sessions, event.NewID(at))
			}
			e := storetest.Event(at, sessions[len(sessions)-1-r.IntN(min(len(sessions), 4))],
				services[r.IntN(len(services))], kinds[r.IntN(len(kinds))])
			evs = append(evs, e)
		}
		if batch == 40 {
			for i := range 5 {
				clock = clock.Add(time.Millisecond)
				big := strings.Repeat("A", 400<<10)
				evs = append(evs, storetest.Event(clock, sessions[len(sessions)-1], services[i%3], &event.Command{Line: big}))
			}
		}
		w.write(evs...)
	}
	// Blocks were cut at 1024 events and at 1 MiB.
	var blocks, maxCount, maxLen int64
	if err := d.db.QueryRow("SELECT count(*), max(count), max(length) FROM event_blocks").Scan(&blocks, &maxCount, &maxLen); err != nil {
		t.Fatal(err)
	}
	if blocks < 64 || maxCount != maxBlockEvents || maxLen > maxBlockJSON+(400<<10)+1000 {
		t.Errorf("%d blocks of at most %d events and %d bytes", blocks, maxCount, maxLen)
	}
	var filters []store.EventFilter
	for _, limit := range []int{0, 1, 7, 100, 1000, 100000} {
		for _, svc := range []string{"", "ftp", "none"} {
			for _, kind := range []string{"", "command", "telemetry", "detection", "close"} {
				filters = append(filters, store.EventFilter{Service: svc, Kind: kind, Limit: limit})
			}
		}
		for _, s := range []string{sessions[0], sessions[len(sessions)/2], sessions[len(sessions)-1], "nope"} {
			filters = append(filters, store.EventFilter{Session: s, Limit: limit},
				store.EventFilter{Session: s, Kind: "command", Service: "http", Limit: limit})
		}
	}
	checkQueries(t, d, w.recs, filters)
	r2, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	checkQueries(t, r2, w.recs, filters[:20])
}

// A session's events are found between its start (its UUIDv7's time)
// and its end, however far before and after other events lie; the
// analyzers' events about it stamped after its close are found too.
func TestSessionEventsLate(t *testing.T) {
	d, _ := openTemp(t)
	defer d.Close()
	w := &recorder{t: t, d: d}
	start := storetest.T0.Add(24 * time.Hour)
	filler := func(at time.Time) {
		t.Helper()
		var evs []*event.Event
		for i := range 50 {
			evs = append(evs, storetest.Event(at.Add(time.Duration(i)*time.Millisecond), event.NewID(at), "ftp", &event.Connect{}))
		}
		w.write(evs...)
	}
	for h := -48; h <= 48; h += 6 {
		filler(start.Add(time.Duration(h) * time.Hour))
	}
	s1, s2, s3 := event.NewID(start), event.NewID(start.Add(time.Minute)), event.NewID(start.Add(2*time.Minute))
	det := func(at time.Time, s string) *event.Event {
		return storetest.Event(at, s, "http", &event.Detection{Rule: "r"})
	}
	// s1: connect and close, then an analyzer's events: one within
	// lateWindow of the start, one long after (moves the end on), and one
	// after that in the same batch as another session's close.
	w.write(storetest.Event(start, s1, "http", &event.Connect{}),
		storetest.Event(start.Add(time.Second), s1, "http", &event.Close{Reason: event.ReasonEOF}))
	w.write(storetest.Event(start.Add(3*time.Second), s1, "http", &event.Fetch{URL: "http://x/"}))
	filler(start.Add(30 * time.Minute))
	w.write(det(start.Add(time.Hour), s1))
	// s2: its analyzer's event, stamped after its close, is written before
	// it (a backlog), in an earlier batch.
	w.write(storetest.Event(start.Add(time.Minute), s2, "http", &event.Connect{}))
	w.write(det(start.Add(time.Minute+time.Hour), s2))
	w.write(storetest.Event(start.Add(time.Minute+time.Second), s2, "http", &event.Close{Reason: event.ReasonEOF}),
		det(start.Add(2*time.Hour), s1))
	// s4: an analyzer's event after its close, within lateWindow of its
	// start: found by the window the query adds.
	s4 := event.NewID(start.Add(3 * time.Minute))
	w.write(storetest.Event(start.Add(3*time.Minute), s4, "http", &event.Connect{}),
		storetest.Event(start.Add(3*time.Minute+time.Second), s4, "http", &event.Close{Reason: event.ReasonEOF}))
	w.write(storetest.Event(start.Add(3*time.Minute+4*time.Second), s4, "http", &event.Fetch{URL: "http://x/"}))
	filler(start.Add(3*time.Minute + 30*time.Second))
	// s5: its events in a block that spans hours (an old event came with
	// them), so that it starts long before the session.
	s5 := event.NewID(start.Add(10 * time.Minute))
	w.write(storetest.Event(start.Add(-5*time.Hour), event.NewID(start.Add(-5*time.Hour)), "ftp", &event.Connect{}),
		storetest.Event(start.Add(10*time.Minute), s5, "http", &event.Connect{}),
		storetest.Event(start.Add(10*time.Minute+time.Second), s5, "http", &event.Command{Line: "y"}),
		storetest.Event(start.Add(10*time.Minute+2*time.Second), s5, "http", &event.Close{Reason: event.ReasonEOF}))
	// s3: still open, with events far on.
	w.write(storetest.Event(start.Add(2*time.Minute), s3, "http", &event.Connect{}))
	filler(start.Add(3 * time.Hour))
	w.write(storetest.Event(start.Add(4*time.Hour), s3, "http", &event.Command{Line: "x"}))
	var filters []store.EventFilter
	for _, s := range []string{s1, s2, s3, s4, s5} {
		filters = append(filters, store.EventFilter{Session: s}, store.EventFilter{Session: s, Limit: 1},
			store.EventFilter{Session: s, Kind: "detection"})
	}
	checkQueries(t, d, w.recs, filters)
	for _, s := range []string{s1, s2, s4, s5} {
		if n := len(expected(w.recs, store.EventFilter{Session: s})); n < 3 {
			t.Errorf("session %s has %d events: the test lost its point", s, n)
		}
	}
	var end int64
	if err := d.db.QueryRow("SELECT end_time FROM sessions WHERE id = ?", s1).Scan(&end); err != nil ||
		end != start.Add(2*time.Hour).UnixNano() {
		t.Errorf("s1 ends at %v, %v; want its last analyzer's event, %v", time.Unix(0, end).UTC(), err, start.Add(2*time.Hour))
	}
	if err := d.db.QueryRow("SELECT end_time FROM sessions WHERE id = ?", s2).Scan(&end); err != nil ||
		end != start.Add(time.Minute+time.Hour).UnixNano() {
		t.Errorf("s2 ends at %v, %v; want its analyzer's event, %v", time.Unix(0, end).UTC(), err, start.Add(time.Minute+time.Hour))
	}
}

// The queries walk the index or the table's key, never sort the table.
func TestQueryPlans(t *testing.T) {
	d, _ := openTemp(t)
	defer d.Close()
	plan := func(q string, args []any) string {
		t.Helper()
		rows, err := d.db.Query("EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		return strings.Join(plan, "; ")
	}
	for _, mask := range []int64{0, 1 << 4} {
		q, args := walkQuery(mask)
		if p := plan(q, args); !strings.Contains(p, "USING INDEX event_blocks_last") || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("walk (mask %d): %s; want the index event_blocks_last and no sort", mask, p)
		}
		qs := rangeQueries(1e18, 2e18, mask)
		if p := plan(qs[0].sql, qs[0].args); !strings.Contains(p, "INTEGER PRIMARY KEY (rowid>? AND rowid<?)") {
			t.Errorf("range (mask %d): %s; want a range of the table's key", mask, p)
		}
		if p := plan(qs[1].sql, qs[1].args); !strings.Contains(p, "USING INDEX event_blocks_wide") {
			t.Errorf("wide range (mask %d): %s; want the index event_blocks_wide", mask, p)
		}
	}
}

// A batch whose transaction fails cuts the logs back: nothing of it is
// left in them, and the retry writes it once.
func TestFailedBatchFiles(t *testing.T) {
	d, path := openTemp(t)
	defer d.Close()
	sizes := func() (int64, int64) {
		t.Helper()
		a, err := os.Stat(path + "-events")
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.Stat(path + "-transcripts")
		if err != nil {
			t.Fatal(err)
		}
		return a.Size(), b.Size()
	}
	first := storetest.Records(t, storetest.Event(storetest.T0.Add(-time.Hour), "s0", "ftp",
		&event.Close{Transcript: []byte("t0")}))
	if err := d.Write(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	ev0, tr0 := sizes()
	injected := errors.New("injected")
	failing{d}.FailNextWrite(injected)
	recs := storetest.Records(t, storetest.AllKinds()...)
	if err := d.Write(context.Background(), recs); !errors.Is(err, injected) {
		t.Fatalf("Write = %v, want the injected failure", err)
	}
	if ev, tr := sizes(); ev != ev0 || tr != tr0 {
		t.Errorf("after a failed batch the logs have %d and %d bytes, want %d and %d", ev, tr, ev0, tr0)
	}
	if err := d.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, r := range append(first, recs...) {
		want = append(append(want, r.JSON...), '\n')
	}
	if got, _ := os.ReadFile(path + "-events"); !bytes.Equal(got, want) {
		t.Errorf("events file after the retry:\n%s\nwant\n%s", got, want)
	}
	if got, _ := os.ReadFile(path + "-transcripts"); !bytes.Equal(got, append([]byte("!t0"), storetest.Transcript...)) {
		t.Errorf("transcripts file after the retry: %q", got)
	}
}

// syncBuffer is a log destination safe for the writer's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Bytes a batch wrote before the process died, its transaction never
// committed, are cut off when the database is opened again, once.
func TestCrashRecovery(t *testing.T) {
	d, path := openTemp(t)
	w := &recorder{t: t, d: d}
	evs := storetest.AllKinds()
	w.write(evs[:5]...)
	w.write(evs[5:]...)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for _, suffix := range []string{"-events", "-transcripts"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		want[suffix] = b
		f, err := os.OpenFile(path+suffix, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(`{"id":"half a batch"`)); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	d, err := Open(path, log)
	if err != nil {
		t.Fatal(err)
	}
	for suffix, b := range want {
		if got, _ := os.ReadFile(path + suffix); !bytes.Equal(got, b) {
			t.Errorf("%s after reopening: %d bytes, want the %d committed", suffix, len(got), len(b))
		}
	}
	if n := strings.Count(logs.String(), "cut the logs back"); n != 1 ||
		!strings.Contains(logs.String(), "events_bytes_cut=20") || !strings.Contains(logs.String(), "transcripts_bytes_cut=20") {
		t.Errorf("log after reopening:\n%s\nwant one line telling 20 bytes cut from each", logs.String())
	}
	w.d = d
	more := storetest.Event(storetest.T0.Add(time.Hour), "s2", "ftp", &event.Close{Transcript: []byte("more")})
	w.write(more)
	checkQueries(t, d, w.recs, []store.EventFilter{{}, {Limit: 2}, {Session: "s2"}})
	if s, err := d.Session(context.Background(), "s2"); err != nil || string(s.Transcript) != "more" {
		t.Errorf("Session(s2) = %q, %v", s.Transcript, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	logs = syncBuffer{}
	d, err = Open(path, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if strings.Contains(logs.String(), "cut") {
		t.Errorf("a clean reopening logged %s", logs.String())
	}
}

// A corrupt or truncated index or log is an error, never a panic nor a
// read of gigabytes.
func TestCorruption(t *testing.T) {
	for _, tc := range []struct {
		name, sql string
		session   bool // the damage shows in Session, not Events
	}{
		{"block past the end", "UPDATE event_blocks SET offset = offset + 1000", false},
		{"block far past the end", "UPDATE event_blocks SET offset = 1 << 50", false},
		{"huge block", "UPDATE event_blocks SET length = 1 << 50", false},
		{"block length off", "UPDATE event_blocks SET length = length + 1", false},
		{"negative offset", "UPDATE event_blocks SET offset = -5", false},
		{"count off", "UPDATE event_blocks SET count = count + 1", false},
		{"huge count", "UPDATE event_blocks SET count = 1 << 40", false},
		{"directory cut", "UPDATE event_blocks SET dir = substr(dir, 1, length(dir) - 3)", false},
		{"directory garbage", "UPDATE event_blocks SET dir = x'01ffffffffffffffffffff7f'", false},
		{"directory version", "UPDATE event_blocks SET dir = x'07'", false},
		{"lines moved", "UPDATE event_blocks SET offset = offset + 1", false},
		{"huge close event", "UPDATE sessions SET close_length = 1 << 50", true},
		{"close event past the end", "UPDATE sessions SET close_offset = 1 << 40", true},
		{"close event elsewhere", "UPDATE sessions SET close_offset = close_offset - 3", true},
		{"huge transcript", "UPDATE sessions SET transcript_length = 1 << 50", true},
		{"transcript past the end", "UPDATE sessions SET transcript_offset = 1 << 40", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, path := openTemp(t)
			if err := d.Write(context.Background(), storetest.Records(t, storetest.AllKinds()...)); err != nil {
				t.Fatal(err)
			}
			if _, err := d.db.Exec(tc.sql); err != nil {
				t.Fatal(err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := OpenReadOnly(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if tc.session {
				if _, err := r.Session(context.Background(), "s1"); err == nil {
					t.Error("Session: no error")
				}
				return
			}
			for _, f := range []store.EventFilter{{}, {Limit: 1}, {Session: "s1"}} {
				if evs, err := r.Events(context.Background(), f); err == nil {
					t.Errorf("Events(%+v): %d events, no error", f, len(evs))
				}
			}
		})
	}
	// A log cut short (a disk that lost its tail).
	d, path := openTemp(t)
	if err := d.Write(context.Background(), storetest.Records(t, storetest.AllKinds()...)); err != nil {
		t.Fatal(err)
	}
	d.Close()
	for _, suffix := range []string{"-events", "-transcripts"} {
		fi, _ := os.Stat(path + suffix)
		if err := os.Truncate(path+suffix, fi.Size()-5); err != nil {
			t.Fatal(err)
		}
	}
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Events(context.Background(), store.EventFilter{}); err == nil || !strings.Contains(err.Error(), "beyond its end") {
		t.Errorf("Events on a short log: %v, want 'beyond its end'", err)
	}
	if _, err := r.Session(context.Background(), "s1"); err == nil {
		t.Error("Session on a short log: no error")
	}
}

// oldSchema builds a database as a build before the events log made it:
// migrations 0001 and 0002, events rows with their JSON, transcripts rows
// and file, samples.
func oldSchema(t *testing.T, path string, recs []pipeline.Record, transcripts map[string][]byte) {
	t.Helper()
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	sdb, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	db, err := sdb.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := db.Commit(); err != nil {
			t.Fatal(err)
		}
	}()
	if _, err := db.Exec(createMigrationsTable); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:2] {
		if _, err := db.Exec(m.sql); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("INSERT INTO schema_migrations VALUES (?, ?, 0)", m.version, m.name); err != nil {
			t.Fatal(err)
		}
	}
	var tr []byte
	for _, r := range recs {
		e := r.Event
		tm := e.Time.UnixNano()
		for { // the rowid is the time, moved on while taken
			res, err := db.Exec("INSERT OR IGNORE INTO events (time, id, session, service, kind, json) VALUES (?, ?, ?, ?, ?, ?)",
				tm, e.ID, e.Session, e.Service, string(e.Kind), string(r.JSON))
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				break
			}
			tm++
		}
		if b, ok := transcripts[e.Session]; ok && e.Kind == event.KindClose {
			if _, err := db.Exec("INSERT OR IGNORE INTO transcripts VALUES (?, ?, ?)", e.Session, len(tr), len(b)); err != nil {
				t.Fatal(err)
			}
			tr = append(tr, b...)
		}
		if s, ok := e.Detail.(*event.Sample); ok {
			if _, err := db.Exec(`INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?, 1, ?)`, s.SHA256, s.MD5, s.SHA1, s.Size,
				e.Time.UnixNano(), e.Time.UnixNano(), s.Source); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`INSERT INTO sample_sightings VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, s.SHA256, e.Session,
				e.Time.UnixNano(), e.Service, ipString(e.Src), s.Source, s.Name); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A close sent again left its transcript's bytes a second time, at
	// the end, which no row refers to.
	tr = append(tr, "orphan"...)
	if err := os.WriteFile(path+"-transcripts", tr, 0o640); err != nil {
		t.Fatal(err)
	}
}

// A database of the schema before the events log is migrated once, when
// the writer opens it, and answers the queries as before.
func TestMigrateToEventLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smallpot.db")
	var evs []*event.Event
	evs = append(evs, storetest.AllKinds()...) // session s1, with a transcript
	r := rand.New(rand.NewPCG(5, 6))
	var ids []string
	for i := range 3000 {
		at := storetest.T0.Add(time.Duration(i) * 10 * time.Millisecond)
		if i%3 == 0 {
			ids = append(ids, event.NewID(at))
		}
		s := ids[len(ids)-1]
		var d event.Detail = []event.Detail{&event.Connect{}, &event.Command{Line: "x"}, &event.Close{DurationMS: 5}}[i%3]
		e := storetest.Event(at, s, []string{"http", "ftp"}[r.IntN(2)], d)
		evs = append(evs, e)
	}
	// Two events at one nanosecond, which the old table moved apart.
	evs = append(evs, storetest.Event(storetest.T0, "s9", "ftp", &event.Command{Line: "same ns"}))
	recs := storetest.Records(t, evs...)
	transcripts := map[string][]byte{"s1": storetest.Transcript, ids[7]: []byte("seven")}
	oldSchema(t, path, recs, transcripts)
	if _, err := OpenReadOnly(path); err == nil || !strings.Contains(err.Error(), "older") {
		t.Errorf("OpenReadOnly of the old schema: %v, want 'older'", err)
	}

	d, err := Open(path, quiet())
	if err != nil {
		t.Fatal(err)
	}
	var left int
	if err := d.db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name IN ('events', 'transcripts', 'events_session', 'events_kind')").Scan(&left); err != nil || left != 0 {
		t.Errorf("%d old tables and indexes left, %v", left, err)
	}
	if got, want := countMigrations(t, d.db), len(mustMigrations(t)); got != want {
		t.Errorf("schema version %d, want %d", got, want)
	}
	var want []rec
	for i, r := range recs {
		want = append(want, rec{e: r.Event, json: r.JSON, seq: i})
	}
	// The old table's order: time, then the order written.
	filters := []store.EventFilter{{}, {Limit: 10}, {Kind: "close"}, {Kind: "telemetry"}, {Service: "ftp", Limit: 100},
		{Session: "s1"}, {Session: ids[7]}, {Session: ids[500], Limit: 2}, {Kind: "command", Limit: 1}}
	checkQueries(t, d, want, filters)
	s, err := d.Session(context.Background(), "s1")
	if err != nil || !bytes.Equal(s.Transcript, storetest.Transcript) || s.BytesIn != 100 {
		t.Errorf("Session(s1) = %+v, %v", s, err)
	}
	s, err = d.Session(context.Background(), ids[7])
	if err != nil || string(s.Transcript) != "seven" || s.SrcIP != "203.0.113.7" {
		t.Errorf("Session(%s) = %+v, %v", ids[7], s, err)
	}
	if s, err := d.Session(context.Background(), ids[8]); err != nil || len(s.Transcript) != 0 {
		t.Errorf("Session(%s) = %+v, %v; want no transcript", ids[8], s, err)
	}
	if row, sightings, err := d.Sample(context.Background(), storetest.SHA256a); err != nil || row.Count != 1 || len(sightings) != 1 {
		t.Errorf("Sample = %+v, %v, %v", row, sightings, err)
	}
	// The orphan bytes past the last transcript are cut.
	if b, _ := os.ReadFile(path + "-transcripts"); bytes.HasSuffix(b, []byte("orphan")) {
		t.Error("the transcripts file keeps bytes no row refers to")
	}
	// The log is the events, in time order, one a line.
	var lines []byte
	for _, b := range expected(want, store.EventFilter{}) {
		lines = append(append(lines, b...), '\n')
	}
	if got, _ := os.ReadFile(path + "-events"); !bytes.Equal(got, lines) {
		t.Errorf("events file of %d bytes, want %d", len(got), len(lines))
	}
	// New batches go on after the moved ones.
	w := &recorder{t: t, d: d, recs: want}
	w.write(storetest.Event(storetest.T0.Add(time.Hour), "s2", "ftp", &event.Close{Transcript: []byte("new")}))
	checkQueries(t, d, w.recs, []store.EventFilter{{Limit: 3}, {Session: "s2"}})
	if s, err := d.Session(context.Background(), "s2"); err != nil || string(s.Transcript) != "new" {
		t.Errorf("Session(s2) = %q, %v", s.Transcript, err)
	}
	d.Close()
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	checkQueries(t, ro, w.recs, filters[:4])
	if s, err := ro.Session(context.Background(), "s1"); err != nil || !bytes.Equal(s.Transcript, storetest.Transcript) {
		t.Errorf("reader: Session(s1) = %+v, %v", s, err)
	}
}

func mustMigrations(t *testing.T) []migration {
	t.Helper()
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// Sessions closed within rowlessSpan of their start have no sessions row
// and are found by their close event, with their transcript, whatever
// block of a batch it is in; longer sessions and ids that are not
// UUIDv7s have rows. Both read the same, from the writer and a reader.
func TestRowlessSessions(t *testing.T) {
	d, path := openTemp(t)
	w := &recorder{t: t, d: d}
	start := storetest.T0.Add(48 * time.Hour)
	type want struct {
		id    string
		close *event.Event
		tr    []byte
		row   bool
	}
	var wants []want
	var batch []*event.Event
	closeAt := func(id string, i int, at time.Time, row bool) {
		tr := bytes.Repeat([]byte{byte('a' + i%26)}, i%700) // some have none
		c := storetest.Event(at, id, "http", &event.Close{DurationMS: int64(i), Reason: event.ReasonEOF, Transcript: tr})
		batch = append(batch, c)
		wants = append(wants, want{id: id, close: c, tr: tr, row: row})
	}
	for i := range 1500 { // 3000 events: three blocks in one batch
		at := start.Add(time.Duration(i) * time.Millisecond)
		id := event.NewID(at)
		batch = append(batch, storetest.Event(at, id, "http", &event.Connect{}))
		switch {
		case i%10 == 3: // closes after rowlessSpan: a row
			closeAt(id, i, at.Add(rowlessSpan+time.Second), true)
		case i%10 == 4: // at rowlessSpan exactly: none
			closeAt(id, i, at.Truncate(time.Millisecond).Add(rowlessSpan), false)
		case i%50 == 5: // not a UUIDv7: a row
			batch = batch[:len(batch)-1]
			id = fmt.Sprint("fleet-", i)
			batch = append(batch, storetest.Event(at, id, "http", &event.Connect{}))
			closeAt(id, i, at.Add(time.Millisecond), true)
		default:
			closeAt(id, i, at.Add(time.Duration(i%900)*time.Millisecond), false)
		}
	}
	w.write(batch...)
	// A session closed twice (a sensor's bug), in two batches: the later
	// close is its.
	twice := event.NewID(start.Add(time.Hour))
	w.write(storetest.Event(start.Add(time.Hour), twice, "http", &event.Close{DurationMS: 1, Transcript: []byte("first")}))
	second := storetest.Event(start.Add(time.Hour+time.Second), twice, "http",
		&event.Close{DurationMS: 2, Transcript: []byte("second")})
	w.write(second)
	wants = append(wants, want{id: twice, close: second, tr: []byte("second")})
	// Open: no close yet.
	open := event.NewID(start.Add(2 * time.Hour))
	w.write(storetest.Event(start.Add(2*time.Hour), open, "http", &event.Connect{}))

	var rows, wantRows int
	for _, x := range wants {
		if x.row {
			wantRows++
		}
	}
	if err := d.db.QueryRow("SELECT count(*) FROM sessions").Scan(&rows); err != nil || rows != wantRows || rows < 100 {
		t.Fatalf("%d sessions rows, %v; want %d", rows, err, wantRows)
	}
	check := func(name string, s interface {
		Session(context.Context, string) (store.SessionRow, error)
	}) {
		t.Helper()
		for _, x := range wants {
			got, err := s.Session(context.Background(), x.id)
			if err != nil {
				t.Fatalf("%s: session %s: %v", name, x.id, err)
			}
			c := x.close.Detail.(*event.Close)
			if !got.EndTime.Equal(x.close.Time) || got.DurationMS != c.DurationMS || !bytes.Equal(got.Transcript, x.tr) {
				t.Fatalf("%s: session %s: ends %v after %d ms with transcript %q; want %v, %d ms, %q",
					name, x.id, got.EndTime, got.DurationMS, got.Transcript, x.close.Time, c.DurationMS, x.tr)
			}
		}
		for _, id := range []string{open, event.NewID(start), "nobody"} {
			if _, err := s.Session(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: session %s: %v, want not found", name, id, err)
			}
		}
	}
	check("writer", d)
	var filters []store.EventFilter
	for i := 0; i < len(wants); i += 97 {
		filters = append(filters, store.EventFilter{Session: wants[i].id})
	}
	filters = append(filters, store.EventFilter{Session: twice}, store.EventFilter{Session: open})
	checkQueries(t, d, w.recs, filters)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	check("reader", r)
}
