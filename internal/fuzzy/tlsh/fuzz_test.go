package tlsh

import (
	"errors"
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
		h, err := Hash(data)
		if err != nil {
			if len(data) >= MinLength && !errors.Is(err, ErrLowVariety) {
				t.Fatalf("Hash(%d bytes) error = %v", len(data), err)
			}
			return
		}
		d, err := Parse(h)
		if err != nil || d.String() != h {
			t.Fatalf("Parse(%s) = %v, %v", h, d, err)
		}
		if n, err := Diff(h, h, true); err != nil || n != 0 {
			t.Fatalf("Diff(h, h) = %d, %v", n, err)
		}
	})
}

func FuzzDiff(f *testing.F) {
	const a = "C811C8122D90DB67402B6846950C9AF3C039B81A34FEEA0FF8E076C70B98C377235819"
	f.Add(a, a, true)
	f.Add(a, "38EE37EDD26F2498BFD4B97B6AF3650C3FC647E5CB0115F0071F8938F4673C88DCA7E6", false)
	f.Add("T1"+a, a[:10], true)
	f.Fuzz(func(t *testing.T, a, b string, lenDiff bool) {
		n, err := Diff(a, b, lenDiff)
		if err != nil {
			return
		}
		if n < 0 || n > maxDistance {
			t.Fatalf("Diff(%q, %q) = %d, outside 0..%d", a, b, n, maxDistance)
		}
		if m, err := Diff(b, a, lenDiff); err != nil || m != n {
			t.Fatalf("Diff not symmetric: %d vs %d, %v", n, m, err)
		}
	})
}

// maxDistance bounds Distance: 12*128 for the length, 12*7 for each
// ratio, 1 for the checksum and 6*128 for the body.
const maxDistance = 12*128 + 2*12*7 + 1 + 6*128
