package sqlite

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/store"
)

func TestSampleFuzzyRoundTrip(t *testing.T) {
	d, path := openTemp(t)
	ctx := context.Background()
	a, b, c := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("c", 64)
	at := time.Date(2001, 8, 4, 12, 0, 0, 5, time.UTC)
	dist := 11
	rows := []store.SampleFuzzy{
		{SHA256: a, SSDeep: "6:abc:de", TLSH: "T1", Novelty: store.NoveltyNewVariant, Time: at,
			Nearest: &event.Relative{SHA256: b, Family: "CodeRed", Variant: "CodeRed II", SSDeep: 80, TLSH: &dist, Seed: true}},
		{SHA256: b, SSDeep: "3:x:y", Novelty: store.NoveltyNewHash, Time: at},
	}
	shapes := []store.ProbeShape{{Key: "00000000000000ff", Sensor: "s1", Service: "http", Kind: "request",
		Shape: "request GET / HTTP/1.1 []", FirstSeen: at, LastSeen: at, EventID: "e1"}}
	if err := d.SaveNovelty(ctx, rows, shapes); err != nil {
		t.Fatal(err)
	}
	// A label keeps the hashes; a second label of another family does
	// not replace the first; the same family may add its variant.
	later := at.Add(time.Hour)
	for _, l := range []store.SampleFuzzy{
		{SHA256: b, Family: "Nimda", Time: later},
		{SHA256: b, Family: "Other", Variant: "X", Time: later},
		{SHA256: b, Family: "Nimda", Variant: "Nimda.A", Time: later},
		{SHA256: c, Family: "Mirai", Time: later}, // labelled before it is hashed
	} {
		if err := d.SaveNovelty(ctx, []store.SampleFuzzy{l}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The same shape again moves its last sighting only.
	shapes[0].LastSeen, shapes[0].EventID = later, "e2"
	if err := d.SaveNovelty(ctx, nil, shapes); err != nil {
		t.Fatal(err)
	}

	got, err := d.SampleFuzzy(ctx, strings.ToUpper(a))
	if err != nil {
		t.Fatal(err)
	}
	n := got.Nearest
	if got.SSDeep != "6:abc:de" || got.Novelty != store.NoveltyNewVariant || !got.Time.Equal(at) || n == nil ||
		n.SHA256 != b || n.Family != "CodeRed" || n.Variant != "CodeRed II" || n.SSDeep != 80 || n.TLSH == nil ||
		*n.TLSH != 11 || !n.Seed {
		t.Errorf("sample a: got %+v (nearest %+v)", got, n)
	}
	got, err = d.SampleFuzzy(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if got.SSDeep != "3:x:y" || got.Family != "Nimda" || got.Variant != "Nimda.A" || got.Novelty != store.NoveltyNewHash ||
		got.Nearest != nil || !got.Time.Equal(at) {
		t.Errorf("sample b: got %+v", got)
	}
	if _, err := d.SampleFuzzy(ctx, strings.Repeat("d", 64)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown sample: err = %v; want ErrNotFound", err)
	}

	// Hashing a sample labelled before keeps its label.
	if err := d.SaveNovelty(ctx, []store.SampleFuzzy{{SHA256: c, SSDeep: "3:c:c", Novelty: store.NoveltyNewHash, Time: later}}, nil); err != nil {
		t.Fatal(err)
	}

	all, err := d.SamplesFuzzy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[c].Family != "Mirai" || all[c].SSDeep != "3:c:c" {
		t.Errorf("all: got %d rows, c = %+v", len(all), all[c])
	}
	some, err := d.SamplesFuzzy(ctx, a, strings.Repeat("e", 64))
	if err != nil {
		t.Fatal(err)
	}
	if len(some) != 1 || some[a].SHA256 != a {
		t.Errorf("some: got %+v", some)
	}
	var seen int
	if err := d.EachSampleFuzzy(ctx, func(store.SampleFuzzy) error { seen++; return nil }); err != nil || seen != 3 {
		t.Errorf("EachSampleFuzzy saw %d rows, err %v; want 3", seen, err)
	}
	stop := errors.New("stop")
	if err := d.EachSampleFuzzy(ctx, func(store.SampleFuzzy) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("EachSampleFuzzy = %v; want fn's error", err)
	}

	ps, err := d.ProbeShapes(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Shape != shapes[0].Shape || !ps[0].FirstSeen.Equal(at) || !ps[0].LastSeen.Equal(later) ||
		ps[0].EventID != "e1" || ps[0].Sensor != "s1" {
		t.Errorf("shapes: got %+v", ps)
	}

	// A reader sees the same; it cannot write.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got, err := ro.SampleFuzzy(ctx, a); err != nil || got.Nearest == nil {
		t.Errorf("read-only: %+v, %v", got, err)
	}
	if err := ro.SaveNovelty(ctx, rows, nil); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only SaveNovelty = %v; want ErrReadOnly", err)
	}
}

func TestProbeShapesNewestFirst(t *testing.T) {
	d, _ := openTemp(t)
	ctx := context.Background()
	base := time.Date(2001, 9, 18, 0, 0, 0, 0, time.UTC)
	var shapes []store.ProbeShape
	for i, k := range []string{"01", "02", "03"} {
		at := base.Add(time.Duration(i) * time.Minute)
		shapes = append(shapes, store.ProbeShape{Key: k, Sensor: "s", Service: "http", Kind: "request",
			Shape: "shape " + k, FirstSeen: at, LastSeen: at, EventID: k})
	}
	if err := d.SaveNovelty(ctx, nil, shapes); err != nil {
		t.Fatal(err)
	}
	got, err := d.ProbeShapes(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "03" || got[1].Key != "02" {
		t.Errorf("got %+v; want 03 then 02", got)
	}
}
