package ssdeep

import (
	"testing"

	"github.com/smallpot/smallpot/internal/fuzzy/corpus"
)

func corpusFile(b *testing.B, name string) []byte {
	for _, f := range corpus.Files() {
		if f.Name == name {
			return f.Data
		}
	}
	b.Fatalf("no corpus file %s", name)
	return nil
}

func BenchmarkHash(b *testing.B) {
	for _, name := range []string{"random-1m", "text-200k", "exe-200k", "random-4k"} {
		data := corpusFile(b, name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				Hash(data)
			}
		})
	}
}

func BenchmarkCompare(b *testing.B) {
	x := Hash(corpusFile(b, "exe-200k"))
	y := Hash(corpusFile(b, "exe-200k-patch"))
	b.Run("strings", func(b *testing.B) {
		for b.Loop() {
			if _, err := Compare(x, y); err != nil {
				b.Fatal(err)
			}
		}
	})
	px, _ := Parse(x)
	py, _ := Parse(y)
	b.Run("parsed", func(b *testing.B) {
		for b.Loop() {
			Score(px, py)
		}
	})
}
