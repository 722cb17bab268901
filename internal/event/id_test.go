package event_test

import (
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
)

var uuidForm = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func idBytes(t *testing.T, id string) []byte {
	t.Helper()
	if !uuidForm.MatchString(id) {
		t.Fatalf("got id %q; want the 8-4-4-4-12 lower-case hex form", id)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewIDIsUUIDv7(t *testing.T) {
	for _, tm := range []time.Time{
		time.UnixMilli(0),
		time.Date(2001, 7, 19, 0, 0, 0, 0, time.UTC),
		time.Now(),
		time.UnixMilli(1<<48 - 1), // the last millisecond 48 bits hold
	} {
		id := event.NewID(tm)
		b := idBytes(t, id)
		if v := b[6] >> 4; v != 7 {
			t.Errorf("%s: got version %d; want 7", id, v)
		}
		if v := b[8] >> 6; v != 0b10 {
			t.Errorf("%s: got variant bits %02b; want 10", id, v)
		}
		var ms int64
		for _, c := range b[:6] {
			ms = ms<<8 | int64(c)
		}
		if ms != tm.UnixMilli() {
			t.Errorf("%s: got timestamp %d; want %d", id, ms, tm.UnixMilli())
		}
	}
}

func TestNewIDTimeOrder(t *testing.T) {
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	prev := event.NewID(base)
	for i := 1; i < 2000; i++ {
		// Across milliseconds (including carries into higher bytes) ids
		// sort as their times do, as strings.
		id := event.NewID(base.Add(time.Duration(i*i) * time.Millisecond))
		if id <= prev {
			t.Fatalf("id %s at +%dms sorts before or equal to %s", id, i*i, prev)
		}
		prev = id
	}
}

func TestNewIDUnique(t *testing.T) {
	const n = 100_000
	seen := make(map[string]struct{}, n)
	now := time.Now() // one millisecond for all: only the random bits differ
	for range n {
		id := event.NewID(now)
		if _, dup := seen[id]; dup {
			t.Fatalf("duplicate id %s after %d ids", id, len(seen))
		}
		seen[id] = struct{}{}
	}
	// The random bits vary in every position they occupy.
	var or, and [16]byte
	for i := range and {
		and[i] = 0xff
	}
	for id := range seen {
		b := idBytes(t, id)
		for i := 6; i < 16; i++ {
			or[i] |= b[i]
			and[i] &= b[i]
		}
	}
	want := [16]byte{6: 0x0f, 7: 0xff, 8: 0x3f, 9: 0xff, 10: 0xff, 11: 0xff, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff}
	for i := 6; i < 16; i++ {
		if varying := or[i] &^ and[i]; varying != want[i] {
			t.Errorf("byte %d: bits that vary %08b; want %08b", i, varying, want[i])
		}
	}
}

func BenchmarkNewID(b *testing.B) {
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		_ = event.NewID(now)
	}
}

// New's events carry an ID of the same form, of their time.
func TestNewEvent(t *testing.T) {
	tm := time.Date(2026, 11, 27, 20, 41, 5, 123456789, time.UTC)
	e1, e2 := event.New(tm), event.New(tm)
	if !e1.Time.Equal(tm) {
		t.Errorf("got time %v; want %v", e1.Time, tm)
	}
	b := idBytes(t, e1.ID)
	if ms := uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5]); ms != uint64(tm.UnixMilli()) {
		t.Errorf("id %s has milliseconds %d; want %d", e1.ID, ms, tm.UnixMilli())
	}
	if e1.ID == e2.ID {
		t.Errorf("two events got id %s", e1.ID)
	}
	id := e1.ID
	*e1 = event.Event{}
	if !uuidForm.MatchString(id) {
		t.Errorf("id %q changed with its event", id)
	}
}

var sinkEvent *event.Event

// BenchmarkNewEvent is an event's allocation with its ID, as
// service.Recorder makes them.
func BenchmarkNewEvent(b *testing.B) {
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		sinkEvent = event.New(now)
	}
}

// A slot's ID bytes are its event's ID string: filling it again would
// change that string, so it panics and leaves the ID as it was.
func TestSlotFilledOnce(t *testing.T) {
	tm := time.Date(2026, 11, 27, 20, 41, 5, 0, time.UTC)
	var s event.Slot
	e := s.Fill(tm)
	id := e.ID
	kept := strings.Clone(id)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a second Fill did not panic")
			}
		}()
		s.Fill(tm.Add(time.Hour))
	}()
	if id != kept || e.ID != kept || !e.Time.Equal(tm) {
		t.Errorf("after a second Fill: id %s, event %s at %v; want %s at %v", id, e.ID, e.Time, kept, tm)
	}
	if !uuidForm.MatchString(id) {
		t.Errorf("id %q is not a UUIDv7", id)
	}
}
