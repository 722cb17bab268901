package ssdeep

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/fuzzy/corpus"
)

// expected loads the reference ssdeep's results for the corpus.
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
		if got := Hash(f.Data); got != w.SSDeep {
			t.Errorf("Hash(%s) = %s, want %s", f.Name, got, w.SSDeep)
		}
	}
}

func TestCompareMatchesReference(t *testing.T) {
	hashes, pairs := expected(t)
	if len(pairs) == 0 {
		t.Fatal("pairs.tsv is empty")
	}
	for _, p := range pairs {
		a, b := hashes[p.A].SSDeep, hashes[p.B].SSDeep
		for _, order := range [][2]string{{a, b}, {b, a}} {
			got, err := Compare(order[0], order[1])
			if err != nil || got != p.SSDeep {
				t.Errorf("Compare(%s, %s) = %d, %v; want %d", order[0], order[1], got, err, p.SSDeep)
			}
		}
	}
}

func TestCompare(t *testing.T) {
	const (
		abc64 = "ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCD"
		abc60 = "ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJ"
	)
	tests := []struct {
		a, b string
		want int
	}{
		// Scores checked against ssdeep 2.14.1 -a -k.
		{"3:AAAAAAAB:C", "3:AAAAAB:C", 100}, // equal once runs are cut to three
		{"3:" + abc60 + "ZZZZZZZZZZ:XY", "3:" + abc64 + ":XY", 63},
		{"96:" + abc64 + ":XY", "96:" + abc60 + "ZZZ:XY", 96},
		// Different parts but one shared run of seven.
		{"48:abcdefgQRSTUV:x", "48:abcdefgWXYZ01:y", 55},
		{"48:abcdefQRSTUV:x", "48:abcdefWXYZ01:y", 0}, // no common run of seven
		// Block sizes a factor of two apart compare across parts.
		{"24:zzz:abcdefghij", "48:abcdefghij:zzz", 100},
		{"48:abcdefghij:zzz", "24:zzz:abcdefghij", 100},
		{"24:abcdefghij:zzz", "96:abcdefghij:zzz", 0},
		// Small block sizes cap the score by the part length.
		{"3:abcdefghij:", "3:abcdefghik:", 10},
		{"6:abcdefghij:", "6:abcdefghik:", 20},
		{"3::", "3::", 100},
		{"3::", "6::", 0},
		// ssdeep's listing form: the file name after a comma is ignored.
		{"3:abc:def,\"file name\"", "3:abc:def", 100},
	}
	for _, tt := range tests {
		got, err := Compare(tt.a, tt.b)
		if err != nil || got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, %v; want %d", tt.a, tt.b, got, err, tt.want)
		}
	}
}

func TestCompareErrors(t *testing.T) {
	long := strings.Repeat("ABCDEFGHIJ", 7)
	for _, tt := range []struct{ a, b string }{
		{"", "3::"},
		{"3", "3::"},
		{"3:abc", "3::"},
		{"x:abc:def", "3::"},
		{"-3:abc:def", "3::"},
		{"99999999999999999999999:a:b", "3::"},
		{"3:a:b:c", "3::"},
		{"3::", "3:" + long + ":"},
		{"3:" + long + ":", "6::"},
	} {
		if got, err := Compare(tt.a, tt.b); err == nil {
			t.Errorf("Compare(%q, %q) = %d, want an error", tt.a, tt.b, got)
		}
	}
	// As in the reference, hashes whose block sizes cannot be compared
	// score 0 before their parts are looked at.
	if got, err := Compare("3:"+long+":", "96:abc:def"); err != nil || got != 0 {
		t.Errorf("incomparable block sizes: got %d, %v; want 0, nil", got, err)
	}
	_, err := Parse("3:" + long + ":")
	if err == nil || !strings.HasPrefix(err.Error(), "ssdeep: ") {
		t.Errorf("Parse(long part) error = %v, want one starting with ssdeep:", err)
	}
	if _, err := Parse("18446744073709551616:a:b"); !errors.Is(err, strconv.ErrRange) {
		t.Errorf("Parse(block size overflow) error = %v, want ErrRange", err)
	}
}

func TestSqueeze(t *testing.T) {
	for in, want := range map[string]string{
		"":           "",
		"AAA":        "AAA",
		"AAAA":       "AAA",
		"AAAAAAAB":   "AAAB",
		"ABBBBBCCCC": "ABBBCCC",
		"AABBAABB":   "AABBAABB",
	} {
		if got := squeeze(in); got != want {
			t.Errorf("squeeze(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"abc", "abc", 0},
		{"abc", "abd", 2},   // a substitution costs as much as delete+insert
		{"abcd", "abdc", 2}, // no transpositions
		{"kitten", "sitting", 5},
	} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestLevel(t *testing.T) {
	for _, tt := range []struct {
		v    uint32
		want int
	}{
		{0, 0}, {1, 0}, {2, 1}, {5, 2}, {8, 1}, {11, 3}, {23, 4},
		{3<<30 - 1, 31}, {1<<32 - 1, 0},
	} {
		if got := level(tt.v); got != tt.want {
			t.Errorf("level(%d) = %d, want %d", tt.v, got, tt.want)
		}
	}
}

// TestHashShape checks what every hash must look like, on inputs the
// corpus does not cover.
func TestHashShape(t *testing.T) {
	for n := 0; n < 3000; n += 37 {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * i >> 3)
		}
		h := Hash(data)
		checkShape(t, h, len(data))
	}
}

func checkShape(t *testing.T, h string, size int) {
	t.Helper()
	p, err := Parse(h)
	if err != nil {
		t.Fatalf("Parse(Hash(%d bytes)) = %v", size, err)
	}
	f := strings.Split(h, ":")
	if len(f[1]) > maxLength || len(f[2]) > maxLength/2 {
		t.Errorf("Hash(%d bytes) = %s: parts too long", size, h)
	}
	if p.BlockSize%minBlockSize != 0 || p.BlockSize/minBlockSize&(p.BlockSize/minBlockSize-1) != 0 {
		t.Errorf("Hash(%d bytes) = %s: block size not 3 times a power of two", size, h)
	}
	if strings.Trim(f[1]+f[2], b64) != "" {
		t.Errorf("Hash(%d bytes) = %s: characters outside base64", size, h)
	}
	if s, err := Compare(h, h); err != nil || s != 100 {
		t.Errorf("Compare(h, h) = %d, %v for %s", s, err, h)
	}
}

// TestCutMatchesRescan checks the two ways of hashing the pieces (from the
// kept trigger positions, or by rolling the hash again) agree, at the
// chosen block size and the ones around it.
func TestCutMatchesRescan(t *testing.T) {
	inputs := [][]byte{
		[]byte(strings.Repeat("A", 100_000)), // a trigger at every byte
		[]byte(strings.Repeat("GET /default.ida?NNNN", 3000)),
	}
	for _, f := range corpus.Files() {
		if len(f.Data) <= 300_000 {
			inputs = append(inputs, f.Data)
		}
	}
	for _, data := range inputs {
		var counts [numLevels + 1]int
		trigs, complete, roll := scan(data, 0, &counts, nil)
		for k := range 6 {
			c1, c2 := newPiece(maxLength), newPiece(maxLength/2)
			r1, r2 := newPiece(maxLength), newPiece(maxLength/2)
			rescan(data, k, &r1, &r2)
			if !complete {
				if len(trigs) != maxTriggers {
					t.Fatalf("incomplete scan kept %d triggers", len(trigs))
				}
				continue
			}
			cut(data, trigs, k, &c1, &c2)
			a := string(c1.finish(roll)) + ":" + string(c2.finish(roll))
			b := string(r1.finish(roll)) + ":" + string(r2.finish(roll))
			if a != b {
				t.Errorf("%d bytes, level %d: cut gives %s, rescan %s", len(data), k, a, b)
			}
		}
	}
}
