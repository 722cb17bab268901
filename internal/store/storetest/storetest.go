// Package storetest is the conformance suite every Smallpot store passes,
// in the spirit of testing/fstest: a backend's test calls TestStore with a
// constructor of empty stores, and the suite checks what the CLI and the
// dashboard rely on — events read back as written, a failed batch leaving
// nothing behind, sessions from close events, sample counting and
// sightings.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
	"github.com/smallpot/smallpot/internal/store"
)

// Store is what a backend offers: a pipeline sink with the queries.
type Store interface {
	pipeline.Sink
	Events(ctx context.Context, f store.EventFilter) ([]json.RawMessage, error)
	Samples(ctx context.Context) ([]store.SampleRow, error)
	Sample(ctx context.Context, sha256 string) (store.SampleRow, []store.Sighting, error)
	Session(ctx context.Context, id string) (store.SessionRow, error)
}

// FailNextWriter is a Store (a backend's test wrapper) that can make its
// next Write fail as late as it can, after the batch's bytes and rows are
// written and before they are committed. The suite's FailedBatch test
// runs on stores that are one.
type FailNextWriter interface {
	Store
	FailNextWrite(err error)
}

// T0 is the time the suite's events start from: nanoseconds set, so a
// store that loses precision fails.
var T0 = time.Date(2001, 7, 19, 10, 0, 0, 123456789, time.UTC)

// Event builds a TCP event of d's kind at t; src and dst are fixed test
// addresses.
func Event(t time.Time, session, service string, d event.Detail) *event.Event {
	return &event.Event{
		ID: event.NewID(t), Time: t, Sensor: "sensor-1", Session: session, Service: service,
		Transport: event.TCP, Kind: d.Kind(), Detail: d,
		Src: netip.MustParseAddrPort("203.0.113.7:40001"),
		Dst: netip.MustParseAddrPort("192.0.2.10:80"),
	}
}

// Records encodes events as the pipeline does.
func Records(tb testing.TB, evs ...*event.Event) []pipeline.Record {
	tb.Helper()
	recs := make([]pipeline.Record, 0, len(evs))
	for _, e := range evs {
		b, err := e.MarshalJSON()
		if err != nil {
			tb.Fatal(err)
		}
		recs = append(recs, pipeline.Record{Event: e, JSON: b})
	}
	return recs
}

// Transcript is the transcript AllKinds' close event carries.
var Transcript = []byte("<\x00\x00\x00\x00\x00\x00\x00\x07GET /\r\n>\x00\x00\x00\x01\x00\x00\x00\x03404")

// Hex digests for test samples.
const (
	SHA256a = "1111111111111111111111111111111111111111111111111111111111111111"
	SHA256b = "2222222222222222222222222222222222222222222222222222222222222222"
)

// AllKinds returns one event of every kind Smallpot knows, plus one of a
// kind it does not (as a newer sensor might send), a millisecond apart
// from T0, all in session "s1" of service "http".
func AllKinds() []*event.Event {
	details := []event.Detail{
		&event.Connect{Listener: "0.0.0.0:80"},
		&event.Request{Method: "GET", URI: "/default.ida?NNNN%u9090", Path: "/default.ida", Query: "NNNN%u9090",
			Version: "HTTP/1.0", Headers: []event.Header{{Name: "Host", Value: "x"}}, Host: "x",
			BodyLen: 3, Body: []byte{0, 1, 0xff}, Status: 404, Sample: SHA256a},
		&event.Login{User: "administrator", Password: "p\"w\\d\n", Method: "password"},
		&event.Command{Line: "dir c:\\", Shell: "cmd", Output: "Volume in drive C", Known: true},
		&event.Payload{Len: 4, Data: []byte("\x04\x01\x01\x01")},
		&event.Upload{Name: "../../x.exe", Size: 10, SHA256: SHA256a, Via: "stor"},
		&event.Download{URL: "http://198.51.100.1/a.sh", Protocol: "http", Host: "198.51.100.1", Path: "/a.sh"},
		&event.Sample{SHA256: SHA256a, MD5: "00112233445566778899aabbccddeeff",
			SHA1: "00112233445566778899aabbccddeeff00112233", Size: 10, Source: "ftp.stor", Name: "x.exe", New: true},
		event.Raw{K: "telemetry", JSON: json.RawMessage(`{"future":true}`)},
		&event.Close{DurationMS: 1500, BytesIn: 100, BytesOut: 200, Reason: event.ReasonEOF,
			TranscriptIn: 7, TranscriptOut: 3, Transcript: Transcript},
	}
	evs := make([]*event.Event, len(details))
	for i, d := range details {
		evs[i] = Event(T0.Add(time.Duration(i)*time.Millisecond), "s1", "http", d)
	}
	return evs
}

// TestStore runs the suite. open returns a new, empty store for each
// subtest; the suite closes it.
func TestStore(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, Store)
	}{
		{"Empty", testEmpty},
		{"AllKinds", testAllKinds},
		{"Filters", testFilters},
		{"FailedBatch", testFailedBatch},
		{"Session", testSession},
		{"Samples", testSamples},
		{"SampleOutOfOrder", testSampleOutOfOrder},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			defer func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			tc.fn(t, s)
		})
	}
}

func write(t *testing.T, s Store, evs ...*event.Event) {
	t.Helper()
	if err := s.Write(context.Background(), Records(t, evs...)); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func events(t *testing.T, s Store, f store.EventFilter) []*event.Event {
	t.Helper()
	raws, err := s.Events(context.Background(), f)
	if err != nil {
		t.Fatalf("Events(%+v): %v", f, err)
	}
	out := make([]*event.Event, len(raws))
	for i, r := range raws {
		out[i] = new(event.Event)
		if err := out[i].UnmarshalJSON(r); err != nil {
			t.Fatalf("Events(%+v)[%d]: %v: %s", f, i, err, r)
		}
	}
	return out
}

func ids(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// sameJSON reports whether a and b encode the same value, whatever the
// spacing and key order.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func testEmpty(t *testing.T, s Store) {
	ctx := context.Background()
	if evs, err := s.Events(ctx, store.EventFilter{}); err != nil || len(evs) != 0 {
		t.Errorf("Events on empty store = %d events, %v; want none", len(evs), err)
	}
	if ss, err := s.Samples(ctx); err != nil || len(ss) != 0 {
		t.Errorf("Samples on empty store = %d, %v; want none", len(ss), err)
	}
	if _, _, err := s.Sample(ctx, SHA256a); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Sample(unknown) err = %v, want ErrNotFound", err)
	}
	if _, err := s.Session(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session(unknown) err = %v, want ErrNotFound", err)
	}
	if err := s.Write(ctx, nil); err != nil {
		t.Errorf("Write(empty batch) = %v", err)
	}
}

func testAllKinds(t *testing.T, s Store) {
	evs := AllKinds()
	// Written in reverse: the store orders by time, not by arrival.
	rev := slices.Clone(evs)
	slices.Reverse(rev)
	recs := Records(t, rev...)
	if err := s.Write(context.Background(), recs); err != nil {
		t.Fatalf("Write: %v", err)
	}
	raws, err := s.Events(context.Background(), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(raws) != len(evs) {
		t.Fatalf("Events returned %d events, want %d", len(raws), len(evs))
	}
	for i, raw := range raws {
		want := recs[len(recs)-1-i]
		if !sameJSON(raw, want.JSON) {
			t.Errorf("event %d (%s):\n got %s\nwant %s", i, want.Event.Kind, raw, want.JSON)
		}
		var e event.Event
		if err := e.UnmarshalJSON(raw); err != nil {
			t.Errorf("event %d: %v", i, err)
			continue
		}
		if e.ID != evs[i].ID || e.Kind != evs[i].Kind || !e.Time.Equal(evs[i].Time) || e.Src != evs[i].Src {
			t.Errorf("event %d = %s %s %v %v, want %s %s %v %v", i, e.ID, e.Kind, e.Time, e.Src,
				evs[i].ID, evs[i].Kind, evs[i].Time, evs[i].Src)
		}
	}
	for _, e := range evs {
		got := events(t, s, store.EventFilter{Kind: string(e.Kind)})
		if len(got) != 1 || got[0].ID != e.ID {
			t.Errorf("Events(kind=%s) = %v, want [%s]", e.Kind, ids(got), e.ID)
		}
	}
}

func testFilters(t *testing.T, s Store) {
	var evs []*event.Event
	for i := range 12 {
		svc, sess := "http", "a"
		if i%3 == 1 {
			svc, sess = "ftp", "b"
		}
		var d event.Detail = &event.Command{Line: fmt.Sprint("cmd ", i)}
		if i%2 == 0 {
			d = &event.Login{User: fmt.Sprint("u", i)}
		}
		evs = append(evs, Event(T0.Add(time.Duration(i)*time.Second), sess, svc, d))
	}
	// Two batches, the later events first.
	write(t, s, evs[6:]...)
	write(t, s, evs[:6]...)

	pick := func(keep func(*event.Event) bool, limit int) []string {
		var out []string
		for _, e := range evs {
			if keep(e) {
				out = append(out, e.ID)
			}
		}
		if limit > 0 && len(out) > limit {
			out = out[len(out)-limit:]
		}
		return out
	}
	all := func(*event.Event) bool { return true }
	tests := []struct {
		f    store.EventFilter
		want []string
	}{
		{store.EventFilter{}, pick(all, 0)},
		{store.EventFilter{Limit: 3}, pick(all, 3)},
		{store.EventFilter{Limit: 100}, pick(all, 0)},
		{store.EventFilter{Service: "ftp"}, pick(func(e *event.Event) bool { return e.Service == "ftp" }, 0)},
		{store.EventFilter{Service: "ftp", Limit: 2}, pick(func(e *event.Event) bool { return e.Service == "ftp" }, 2)},
		{store.EventFilter{Kind: "login"}, pick(func(e *event.Event) bool { return e.Kind == event.KindLogin }, 0)},
		{store.EventFilter{Session: "a", Kind: "command"},
			pick(func(e *event.Event) bool { return e.Session == "a" && e.Kind == event.KindCommand }, 0)},
		{store.EventFilter{Service: "http", Kind: "login", Limit: 1},
			pick(func(e *event.Event) bool { return e.Service == "http" && e.Kind == event.KindLogin }, 1)},
		{store.EventFilter{Service: "smtp"}, nil},
	}
	for _, tc := range tests {
		got := ids(events(t, s, tc.f))
		if !slices.Equal(got, tc.want) {
			t.Errorf("Events(%+v) = %v, want %v", tc.f, got, tc.want)
		}
	}
}

// A batch whose write failed leaves nothing a query sees; written again
// (as a caller retrying it does), each of its events is stored once, and
// its sample counted once.
func testFailedBatch(t *testing.T, s Store) {
	fs, ok := s.(FailNextWriter)
	if !ok {
		t.Skip("the store cannot be made to fail a write")
	}
	ctx := context.Background()
	first := Event(T0.Add(-time.Minute), "s0", "ftp", &event.Connect{})
	write(t, s, first)
	evs := AllKinds()
	injected := errors.New("injected failure")
	fs.FailNextWrite(injected)
	if err := s.Write(ctx, Records(t, evs...)); !errors.Is(err, injected) {
		t.Fatalf("Write with a failure injected = %v, want it", err)
	}
	if got := events(t, s, store.EventFilter{}); !slices.Equal(ids(got), []string{first.ID}) {
		t.Errorf("after a failed batch: events %v, want only %s", ids(got), first.ID)
	}
	if _, err := s.Session(ctx, "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after a failed batch: Session(s1) err = %v, want ErrNotFound", err)
	}
	if rows, err := s.Samples(ctx); err != nil || len(rows) != 0 {
		t.Errorf("after a failed batch: %d samples, %v; want none", len(rows), err)
	}

	// The retry, then a later batch.
	write(t, s, evs...)
	extra := Event(T0.Add(time.Minute), "s2", "ftp", &event.Connect{})
	write(t, s, extra)
	got := events(t, s, store.EventFilter{})
	want := append(append([]string{first.ID}, ids(evs)...), extra.ID)
	if !slices.Equal(ids(got), want) {
		t.Errorf("after the retry: events %v, want %v", ids(got), want)
	}
	row, sightings, err := s.Sample(ctx, SHA256a)
	if err != nil {
		t.Fatal(err)
	}
	if row.Count != 1 || len(sightings) != 1 {
		t.Errorf("after the retry: count %d, %d sightings; want 1, 1", row.Count, len(sightings))
	}
	sess, err := s.Session(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if sess.BytesIn != 100 || !slices.Equal(sess.Transcript, Transcript) {
		t.Errorf("after the retry: session bytes_in %d, transcript %q; want 100, %q", sess.BytesIn, sess.Transcript, Transcript)
	}
}

func testSession(t *testing.T, s Store) {
	evs := AllKinds()
	write(t, s, evs...)
	c := evs[len(evs)-1]
	cd := c.Detail.(*event.Close)
	got, err := s.Session(context.Background(), "s1")
	if err != nil {
		t.Fatal(err)
	}
	want := store.SessionRow{
		ID: "s1", Sensor: "sensor-1", Service: "http", Transport: "tcp",
		SrcIP: "203.0.113.7", SrcPort: 40001, DstIP: "192.0.2.10", DstPort: 80,
		StartTime: c.Time.Add(-1500 * time.Millisecond), EndTime: c.Time,
		DurationMS: 1500, BytesIn: 100, BytesOut: 200, Reason: event.ReasonEOF,
		Transcript: cd.Transcript,
	}
	if !got.StartTime.Equal(want.StartTime) || !got.EndTime.Equal(want.EndTime) {
		t.Errorf("session times %v..%v, want %v..%v", got.StartTime, got.EndTime, want.StartTime, want.EndTime)
	}
	got.StartTime, got.EndTime = want.StartTime, want.EndTime
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Session:\n got %+v\nwant %+v", got, want)
	}

	// A close that came over the network (decoded from JSON) has no
	// transcript; one without a session id makes no row.
	var remote event.Event
	b, _ := Event(T0.Add(time.Hour), "s2", "ftp", &event.Close{DurationMS: 10, Reason: event.ReasonIdle,
		Transcript: []byte("dropped in JSON")}).MarshalJSON()
	if err := remote.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	anon := Event(T0.Add(time.Hour), "", "ftp", &event.Close{DurationMS: 10})
	write(t, s, &remote, anon)
	got, err = s.Session(context.Background(), "s2")
	if err != nil {
		t.Fatal(err)
	}
	if got.Reason != event.ReasonIdle || len(got.Transcript) != 0 {
		t.Errorf("remote session: reason %q, transcript %q; want %q, none", got.Reason, got.Transcript, event.ReasonIdle)
	}
	if _, err := s.Session(context.Background(), ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session(\"\") err = %v, want ErrNotFound", err)
	}
}

func sample(sha, source, name string) *event.Sample {
	return &event.Sample{SHA256: sha, MD5: "md5-" + sha[:4], SHA1: "sha1-" + sha[:4], Size: 42, Source: source, Name: name}
}

func testSamples(t *testing.T, s Store) {
	t1, t2, t3 := T0, T0.Add(time.Hour), T0.Add(30*time.Minute)
	a1 := Event(t1, "s1", "http", sample(SHA256a, "http.request", ""))
	a2 := Event(t2, "s2", "ftp", sample(SHA256a, "ftp.stor", "x.exe"))
	b1 := Event(t3, "s3", "smtp", sample(SHA256b, "smtp.attachment", "y.zip"))
	write(t, s, a1, b1)
	write(t, s, a2)

	rows, err := s.Samples(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].SHA256 != SHA256b || rows[1].SHA256 != SHA256a {
		t.Fatalf("Samples = %+v, want b then a (newest last_seen last)", rows)
	}
	a := rows[1]
	wantA := store.SampleRow{SHA256: SHA256a, MD5: "md5-1111", SHA1: "sha1-1111", Size: 42,
		FirstSeen: t1, LastSeen: t2, Count: 2, FirstSource: "http.request",
		Sessions: 2, Services: []string{"ftp", "http"}}
	checkSample(t, "Samples()[1]", a, wantA)

	row, sightings, err := s.Sample(context.Background(), SHA256a)
	if err != nil {
		t.Fatal(err)
	}
	checkSample(t, "Sample(a)", row, wantA)
	wantS := []store.Sighting{
		{SHA256: SHA256a, EventID: a1.ID, Session: "s1", Time: t1, Service: "http", SrcIP: "203.0.113.7", Source: "http.request"},
		{SHA256: SHA256a, EventID: a2.ID, Session: "s2", Time: t2, Service: "ftp", SrcIP: "203.0.113.7", Source: "ftp.stor", Name: "x.exe"},
	}
	if len(sightings) != len(wantS) {
		t.Fatalf("Sample(a): %d sightings, want %d", len(sightings), len(wantS))
	}
	for i := range wantS {
		g := sightings[i]
		if !g.Time.Equal(wantS[i].Time) {
			t.Errorf("sighting %d time %v, want %v", i, g.Time, wantS[i].Time)
		}
		g.Time = wantS[i].Time
		if g != wantS[i] {
			t.Errorf("sighting %d:\n got %+v\nwant %+v", i, g, wantS[i])
		}
	}
	b, _, err := s.Sample(context.Background(), SHA256b)
	if err != nil {
		t.Fatal(err)
	}
	if b.Count != 1 || b.Sessions != 1 || !slices.Equal(b.Services, []string{"smtp"}) {
		t.Errorf("Sample(b) = %+v, want count 1, 1 session, [smtp]", b)
	}
}

func checkSample(t *testing.T, what string, got, want store.SampleRow) {
	t.Helper()
	if !got.FirstSeen.Equal(want.FirstSeen) || !got.LastSeen.Equal(want.LastSeen) {
		t.Errorf("%s seen %v..%v, want %v..%v", what, got.FirstSeen, got.LastSeen, want.FirstSeen, want.LastSeen)
	}
	got.FirstSeen, got.LastSeen = want.FirstSeen, want.LastSeen
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// Sightings reach a collector in any order: first and last seen follow
// the events' times, not their arrival.
func testSampleOutOfOrder(t *testing.T, s Store) {
	late := Event(T0.Add(2*time.Hour), "s2", "ftp", sample(SHA256a, "ftp.stor", ""))
	early := Event(T0, "s1", "http", sample(SHA256a, "http.request", ""))
	mid := Event(T0.Add(time.Hour), "s1", "http", sample(SHA256a, "http.request", ""))
	write(t, s, late)
	write(t, s, early)
	write(t, s, mid)
	row, sightings, err := s.Sample(context.Background(), SHA256a)
	if err != nil {
		t.Fatal(err)
	}
	want := store.SampleRow{SHA256: SHA256a, MD5: "md5-1111", SHA1: "sha1-1111", Size: 42,
		FirstSeen: early.Time, LastSeen: late.Time, Count: 3, FirstSource: "http.request",
		Sessions: 2, Services: []string{"ftp", "http"}}
	checkSample(t, "Sample(a)", row, want)
	var got []string
	for _, g := range sightings {
		got = append(got, g.EventID)
	}
	if want := []string{early.ID, mid.ID, late.ID}; !slices.Equal(got, want) {
		t.Errorf("sightings %v, want %v (oldest first)", got, want)
	}
}
