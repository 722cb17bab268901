package novelty

import (
	"crypto/sha256"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/smallpot/smallpot/internal/fuzzy/ssdeep"
	"github.com/smallpot/smallpot/internal/fuzzy/tlsh"
)

const benchSamples = 100000

var bench struct {
	once      sync.Once
	ix        *index
	related   []query // mutations of indexed samples
	unrelated []query // samples unlike any indexed
	fresh     [][]byte
	freshQ    []query
}

// hashAll computes the fuzzy hashes of docs on every core.
func hashAll(docs [][]byte) []query {
	out := make([]query, len(docs))
	var wg sync.WaitGroup
	const workers = 4
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(docs); i += workers {
				out[i] = hashQuery(docs[i])
			}
		})
	}
	wg.Wait()
	return out
}

// benchIndex indexes 100,000 samples of 300 bytes to 6 KiB, in families
// of near-duplicates (as a honeypot's samples come), with the default
// thresholds.
func benchIndex(b *testing.B) {
	bench.once.Do(func() {
		r := rand.New(rand.NewPCG(11, 12))
		docs := corpus(r, benchSamples)
		qs := hashAll(docs)
		ix := newIndex(Thresholds{SSDeep: 60, TLSH: 30}, 1024, 4096)
		for i, d := range docs {
			id, _ := ix.ensure(sha256.Sum256(d))
			ix.setHashes(id, qs[i].ss, qs[i].hasSS, qs[i].tl, qs[i].hasTL, true)
		}
		ix.finishBulk()
		bench.ix = ix
		var rel, fresh [][]byte
		for range 1000 {
			rel = append(rel, mutate(r, docs[r.IntN(len(docs))]))
		}
		bench.related = hashAll(rel)
		bench.unrelated = hashAll(corpus(r, 1000))
		for range 20000 {
			fresh = append(fresh, mutate(r, docs[r.IntN(len(docs))]))
		}
		bench.fresh, bench.freshQ = fresh, hashAll(fresh)
	})
}

// BenchmarkNoveltyCheck measures the novelty check of one sample against
// 100,000 indexed samples: the search for its relatives within the
// thresholds (ssdeep >= 60 or TLSH <= 30, the defaults), for a sample related to some
// (a variant) and for one related to none, then the search and the
// sample's addition to the index. The fuzzy hashing of the sample itself
// is measured apart (hash), as is a scan of every sample for comparison.
func BenchmarkNoveltyCheck(b *testing.B) {
	benchIndex(b)
	ix := bench.ix
	b.Logf("index: %d samples, %.1f MiB (%.0f bytes a sample)", len(ix.entries),
		float64(ix.size())/(1<<20), float64(ix.size())/float64(len(ix.entries)))
	run := func(name string, qs []query) {
		b.Run(name, func(b *testing.B) {
			found, i := 0, 0
			for b.Loop() {
				found += len(ix.search(&qs[i%len(qs)]))
				i++
			}
			b.ReportMetric(float64(found)/float64(i), "relatives/op")
		})
	}
	run("search-related", bench.related)
	run("search-unrelated", bench.unrelated)
	b.Run("search-and-add", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if i >= len(bench.fresh) {
				b.Fatal("ran out of fresh samples: raise their number")
			}
			q := &bench.freshQ[i]
			ix.search(q)
			id, _ := ix.ensure(sha256.Sum256(bench.fresh[i]))
			ix.setHashes(id, q.ss, q.hasSS, q.tl, q.hasTL, false)
			i++
		}
	})
	b.Run("scan", func(b *testing.B) {
		i := 0
		for b.Loop() {
			ix.scan(&bench.related[i%len(bench.related)])
			i++
		}
	})
	b.Run("hash-2KiB", func(b *testing.B) {
		data := bench.fresh[0][:min(2048, len(bench.fresh[0]))]
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			ssdeep.Hash(data)
			_, _ = tlsh.Sum(data)
		}
	})
}
