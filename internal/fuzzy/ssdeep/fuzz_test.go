package ssdeep

import (
	"testing"

	"github.com/smallpot/smallpot/internal/fuzzy/corpus"
)

func FuzzHash(f *testing.F) {
	for _, c := range corpus.Files() {
		if len(c.Data) <= 1<<16 {
			f.Add(c.Data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkShape(t, Hash(data), len(data))
	})
}

func FuzzCompare(f *testing.F) {
	f.Add("3:AAAAAAAB:C", "3:AAAAAB:C")
	f.Add("24:zzz:abcdefghij", "48:abcdefghij:zzz")
	f.Add("3:abc:def,\"name\"", "6:::")
	f.Add("18446744073709551615:a:b", "9223372036854775807:a:b")
	f.Fuzz(func(t *testing.T, a, b string) {
		s, err := Compare(a, b)
		if err != nil {
			return
		}
		if s < 0 || s > 100 {
			t.Fatalf("Compare(%q, %q) = %d, outside 0..100", a, b, s)
		}
		if r, err := Compare(b, a); err != nil || r != s {
			t.Fatalf("Compare not symmetric: %d vs %d, %v", s, r, err)
		}
	})
}
