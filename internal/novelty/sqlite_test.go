package novelty

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
	"github.com/smallpot/smallpot/internal/samples"
	"github.com/smallpot/smallpot/internal/store/sqlite"
)

var (
	_ Store   = (*sqlite.DB)(nil)
	_ Samples = (*samples.Store)(nil)
)

// With the SQLite store, what the analyzer learns survives a restart and
// is what `smallpot samples show` reads.
func TestWithSQLite(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func() (*sqlite.DB, *Analyzer, *[]*event.Event) {
		db, err := sqlite.Open(filepath.Join(dir, "smallpot.db"), quiet)
		if err != nil {
			t.Fatal(err)
		}
		var got []*event.Event
		a, err := New(ctx, Config{}, nil, db, func(e *event.Event) { got = append(got, e) }, quiet)
		if err != nil {
			t.Fatal(err)
		}
		a.samples = memSamples{}
		return db, a, &got
	}
	write := func(a *Analyzer, e *event.Event, data []byte) {
		a.samples.(memSamples)[e.Detail.(*event.Sample).SHA256] = data
		js, _ := e.MarshalJSON()
		if err := a.Write(ctx, []pipeline.Record{{Event: e, JSON: js}}); err != nil {
			t.Fatal(err)
		}
	}
	sample := func(data []byte) *event.Event {
		return envelope(&event.Sample{SHA256: shaOf(data), Size: int64(len(data)), Source: "http.request", New: true,
			MD5: "-", SHA1: "-"})
	}
	variant := codeRedII(func(b []byte) []byte { b[10] = 'Z'; return b })
	db, a, got := open()
	write(a, sample(variant), variant)
	if len(*got) != 1 || (*got)[0].Detail.(*event.Alert).Type != event.AlertNewVariant {
		t.Fatalf("got %+v; want a new variant", *got)
	}
	row, err := db.SampleFuzzy(ctx, shaOf(variant))
	if err != nil || row.Nearest == nil || row.Nearest.Variant != "CodeRed II (CodeRed.C)" || row.SSDeep == "" {
		t.Fatalf("stored %+v, %v", row, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, a, got = open()
	defer db.Close()
	write(a, sample(variant), variant)
	if len(*got) != 0 {
		t.Errorf("after restart: got %+v; want nothing for a known sample", *got)
	}
}
