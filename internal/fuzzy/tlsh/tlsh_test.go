package tlsh

import (
	"errors"
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/fuzzy/corpus"
)

// expected loads the reference tlsh's results for the corpus.
func expected(t testing.TB) (map[string]corpus.Hashes, []corpus.Pair) {
	t.Helper()
	hs, err := corpus.ReadHashes("../testdata/hashes.tsv")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := corpus.ReadPairs("../testdata/pairs.tsv")
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]corpus.Hashes, len(hs))
	for _, h := range hs {
		m[h.Name] = h
	}
	return m, ps
}

func TestHashMatchesReference(t *testing.T) {
	want, _ := expected(t)
	files := corpus.Files()
	if len(files) != len(want) {
		t.Fatalf("corpus has %d files, hashes.tsv %d: regenerate with scripts/gen-fuzzy-testdata.sh", len(files), len(want))
	}
	refused := 0
	for _, f := range files {
		w, ok := want[f.Name]
		if !ok {
			t.Errorf("%s: not in hashes.tsv", f.Name)
			continue
		}
		if w.Size != len(f.Data) {
			t.Errorf("%s: corpus file has %d bytes, hashes.tsv says %d", f.Name, len(f.Data), w.Size)
			continue
		}
		got, err := Hash(f.Data)
		if w.TLSH == "-" {
			refused++
			if err == nil {
				t.Errorf("Hash(%s) = %s, want an error as the reference refuses it", f.Name, got)
			}
			continue
		}
		if err != nil || got != w.TLSH {
			t.Errorf("Hash(%s) = %s, %v; want %s", f.Name, got, err, w.TLSH)
		}
	}
	if refused == 0 || refused == len(files) {
		t.Errorf("%d of %d files refused: the corpus should have both kinds", refused, len(files))
	}
}

func TestDiffMatchesReference(t *testing.T) {
	hashes, pairs := expected(t)
	n := 0
	for _, p := range pairs {
		a, b := hashes[p.A].TLSH, hashes[p.B].TLSH
		if p.TLSH < 0 {
			continue
		}
		n++
		for _, lenDiff := range []bool{true, false} {
			want := p.TLSH
			if !lenDiff {
				want = p.TLSHNoLength
			}
			for _, order := range [][2]string{{a, b}, {b, a}} {
				got, err := Diff(order[0], order[1], lenDiff)
				if err != nil || got != want {
					t.Errorf("Diff(%s, %s, %v) = %d, %v; want %d", order[0], order[1], lenDiff, got, err, want)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("pairs.tsv has no TLSH distances")
	}
}

func TestDiff(t *testing.T) {
	const a = "C811C8122D90DB67402B6846950C9AF3C039B81A34FEEA0FF8E076C70B98C377235819"
	tests := []struct {
		a, b    string
		lenDiff bool
		want    int
	}{
		// Distances checked against tlsh 3.4.4 -c A -d B [-xlen].
		{a, a, true, 0},
		{a, strings.ToLower(a), true, 0},
		{a, "C911C8122D90DB67402B6846950C9AF3C039B81A34FEEA0FF8E076C70B98C377235819", true, 1},   // checksum
		{a, "C821C8122D90DB67402B6846950C9AF3C039B81A34FEEA0FF8E076C70B98C377235819", true, 1},   // length code one apart
		{a, "C831C8122D90DB67402B6846950C9AF3C039B81A34FEEA0FF8E076C70B98C377235819", true, 24},  // two apart
		{a, "C831C8122D90DB67402B6846950C9AF3C039B81A34FEEA0FF8E076C70B98C377235819", false, 0},  // -xlen
		{a, "C811D8122D90DB67402B6846950C9AF3C039B81A34FEEA0FF8E076C70B98C377235819", true, 1},   // q1 ratio one apart
		{a, "C81108122D90DB67402B6846950C9AF3C039B81A34FEEA0FF8E076C70B98C377235819", true, 36},  // q1 ratio 12 -> 0: four apart on the ring of 16
		{a, "C811CF122D90DB67402B6846950C9AF3C039B81A34FEEA0FF8E076C70B98C377235819", true, 72},  // q2 ratio 8 -> 15: seven apart
		{a, "C811C8122D90DB67402B6846950C9AF3C039B81A34FEEA0FF8E076C70B98C377235818", true, 1},   // one code one quartile apart
		{a, "C811C8122D90DB67402B6846950C9AF3C039B81A34FEEA0FF8E076C70B98C37723581B", true, 2},   // two codes one apart
		{a, "C811C8122D90DB67402B6846950C9AF3C039B81A34FEEA0FF8E076C70B98C3772358D9", true, 6},   // a code from the first to the last quartile
		{a, "38EE37EDD26F2498BFD4B97B6AF3650C3FC647E5CB0115F0071F8938F4673C88DCA7E6", true, 960}, // every nibble complemented
		{a, "38EE37EDD26F2498BFD4B97B6AF3650C3FC647E5CB0115F0071F8938F4673C88DCA7E6", false, 540},
	}
	for _, tt := range tests {
		got, err := Diff(tt.a, tt.b, tt.lenDiff)
		if err != nil || got != tt.want {
			t.Errorf("Diff(%s, %s, %v) = %d, %v; want %d", tt.a, tt.b, tt.lenDiff, got, err, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{
		"",
		"C811",
		"T1C811C8122D90DB67402B6846950C9AF3C039B81A34FEEA0FF8E076C70B98C377235819",
		"G811C8122D90DB67402B6846950C9AF3C039B81A34FEEA0FF8E076C70B98C377235819",
		"C811C8122D90DB67402B6846950C9AF3C039B81A34FEEA0FF8E076C70B98C37723581 ",
	} {
		if _, err := Parse(s); err == nil || !strings.HasPrefix(err.Error(), "tlsh: ") {
			t.Errorf("Parse(%q) error = %v, want a tlsh: error", s, err)
		}
		if _, err := Diff(s, s, true); err == nil {
			t.Errorf("Diff(%q, %q) did not fail", s, s)
		}
	}
}

func TestParseRoundTrip(t *testing.T) {
	for _, f := range corpus.Files() {
		h, err := Hash(f.Data)
		if err != nil {
			continue
		}
		d, err := Parse(strings.ToLower(h))
		if err != nil {
			t.Fatalf("Parse(%s) = %v", h, err)
		}
		if got := d.String(); got != h {
			t.Errorf("Parse(%s).String() = %s", h, got)
		}
	}
}

func TestHashRefuses(t *testing.T) {
	if _, err := Hash(make([]byte, MinLength-1)); !errors.Is(err, ErrTooShort) {
		t.Errorf("Hash(%d bytes) error = %v, want ErrTooShort", MinLength-1, err)
	}
	if _, err := Hash(make([]byte, 4096)); !errors.Is(err, ErrLowVariety) {
		t.Errorf("Hash(zeros) error = %v, want ErrLowVariety", err)
	}
}

// TestLengthCode pins the length code at both sides of steps where single
// precision changes the answer, as measured with tlsh 3.4.4 on inputs up
// to 12 MB (too large to keep in the corpus).
func TestLengthCode(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want byte
	}{
		{256, 13}, {656, 15}, {657, 16}, {3199, 22}, {3200, 22},
		{190335, 64}, {190336, 65},
		{278670, 68}, {278671, 69},
		{1280486, 84}, {1280487, 85},
		{3019320, 93}, {3019321, 94},
		{3653374, 95}, {3653375, 96},
		{11465851, 107}, {11465852, 108},
	} {
		if got := lengthCode(tt.n); got != tt.want {
			t.Errorf("lengthCode(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}
