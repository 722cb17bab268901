package corpus

import (
	"bytes"
	"path/filepath"
	"testing"
)

func TestFilesDeterministic(t *testing.T) {
	a, b := Files(), build()
	if len(a) != len(b) {
		t.Fatalf("two calls gave %d and %d files", len(a), len(b))
	}
	total := 0
	seen := map[string]bool{}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("file %d differs between calls: %s, %s", i, a[i].Name, b[i].Name)
		}
		if seen[a[i].Name] {
			t.Errorf("duplicate name %s", a[i].Name)
		}
		if filepath.Base(a[i].Name) != a[i].Name || a[i].Name == "" {
			t.Errorf("name %q is not a plain file name", a[i].Name)
		}
		seen[a[i].Name] = true
		total += len(a[i].Data)
	}
	// The corpus must stay cheap to build in every test run.
	if total > 16<<20 {
		t.Errorf("corpus is %d bytes", total)
	}
	for _, p := range Pairs() {
		if !seen[p[0]] || !seen[p[1]] {
			t.Errorf("pair %v names a file not in the corpus", p)
		}
	}
}

// TestGeneratorFixed pins the generator's first outputs: the expected
// hashes are only valid for exactly these bytes.
func TestGeneratorFixed(t *testing.T) {
	r := &rng{s: 0}
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}
	for i, w := range want {
		if got := r.next(); got != w {
			t.Errorf("splitmix64 output %d = %#x, want %#x", i, got, w)
		}
	}
}

func TestReadExpected(t *testing.T) {
	hs, err := ReadHashes("../testdata/hashes.tsv")
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != len(Files()) {
		t.Errorf("hashes.tsv has %d rows, corpus %d files", len(hs), len(Files()))
	}
	ps, err := ReadPairs("../testdata/pairs.tsv")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != len(Pairs()) {
		t.Errorf("pairs.tsv has %d rows, corpus %d pairs", len(ps), len(Pairs()))
	}
	if _, err := ReadHashes("../testdata/pairs.tsv"); err == nil {
		t.Error("ReadHashes accepted a file with five fields per line")
	}
	if _, err := ReadHashes("../testdata/missing.tsv"); err == nil {
		t.Error("ReadHashes accepted a missing file")
	}
}
