package novelty

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/smallpot/smallpot/internal/fuzzy/ssdeep"
	"github.com/smallpot/smallpot/internal/fuzzy/tlsh"
)

func TestPostingsAgainstAMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const maxPer = 5
	p := newPostings(12, maxPer)
	want := map[uint64][]uint32{}
	for id := range uint32(20000) {
		k := uint64(r.IntN(1 << 12))
		if r.IntN(3) == 0 {
			k = uint64(r.IntN(8)) // a few keys fill up
		}
		added := p.add(k, id)
		if full := len(want[k]) >= maxPer; added == full {
			t.Fatalf("add(%d, %d) = %v with %d ids already", k, id, added, len(want[k]))
		}
		if added {
			want[k] = append(want[k], id)
		}
	}
	if len(p.sorted) == 0 {
		t.Fatal("no merge happened: the test does not cover the sorted part")
	}
	for k := range uint64(1 << 12) {
		var got []uint32
		p.each(k, func(id uint32) { got = append(got, id) })
		slices.Sort(got)
		if !slices.Equal(got, want[k]) {
			t.Fatalf("key %d: got %v; want %v", k, got, want[k])
		}
		if p.count(k) != len(want[k]) {
			t.Fatalf("count(%d) = %d; want %d", k, p.count(k), len(want[k]))
		}
	}

	// A bulk load keeps the oldest maxPer ids of each key, as add does.
	b := newPostings(12, maxPer)
	for k, ids := range want {
		for _, id := range ids {
			b.load(k, id)
		}
		b.load(k, 1<<20) // over the cap when the list is full
	}
	b.build()
	for k := range uint64(1 << 12) {
		var got []uint32
		b.each(k, func(id uint32) { got = append(got, id) })
		w := want[k]
		if len(w) > 0 && len(w) < maxPer {
			w = append(slices.Clone(w), 1<<20)
		}
		if !slices.Equal(got, w) {
			t.Fatalf("bulk key %d: got %v; want %v", k, got, w)
		}
	}
}

func TestNeighbours(t *testing.T) {
	cost := func(a, b uint16) int {
		c := 0
		for j := range 8 {
			c += codeCost(int(a>>(2*j))&3, int(b>>(2*j))&3)
		}
		return c
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		v := uint16(r.Uint32())
		for tt := range 5 {
			got := neighbours(v, tt, nil)
			var want []uint16
			for w := range 1 << 16 {
				if cost(v, uint16(w)) <= tt {
					want = append(want, uint16(w))
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("neighbours(%#x, %d): got %d values; want %d", v, tt, len(got), len(want))
			}
		}
	}
}

// corpus makes n documents in families, as a honeypot's samples come:
// each family has its own vocabulary of random tokens (so families differ
// in their byte distributions, as requests of different tools and binaries
// do), and a base document with copies that have a few bytes changed,
// inserted, removed or appended.
func corpus(r *rand.Rand, n int) [][]byte {
	var out [][]byte
	for len(out) < n {
		charset := make([]byte, 8+r.IntN(80))
		for i := range charset {
			charset[i] = byte(r.Uint32())
		}
		vocab := make([][]byte, 20+r.IntN(40))
		for i := range vocab {
			vocab[i] = make([]byte, 2+r.IntN(10))
			for j := range vocab[i] {
				vocab[i][j] = charset[r.IntN(len(charset))]
			}
		}
		var b bytes.Buffer
		size := 300 + r.IntN(6000)
		for b.Len() < size {
			b.Write(vocab[r.IntN(len(vocab))])
			b.WriteByte(" \r\n/"[r.IntN(4)])
		}
		base := b.Bytes()
		out = append(out, base)
		for range r.IntN(4) {
			out = append(out, mutate(r, base))
		}
	}
	return out[:n]
}

func mutate(r *rand.Rand, base []byte) []byte {
	m := slices.Clone(base)
	for range 1 + r.IntN(6) {
		i := r.IntN(len(m))
		switch r.IntN(4) {
		case 0:
			m[i] = byte(r.Uint32())
		case 1:
			m = slices.Insert(m, i, []byte("inserted")...)
		case 2:
			m = slices.Delete(m, i, min(len(m), i+1+r.IntN(20)))
		default:
			m = append(m, "appended bytes"...)
		}
	}
	return m
}

func hashQuery(data []byte) query {
	var q query
	q.ss, _ = ssdeep.Parse(ssdeep.Hash(data))
	q.hasSS = true
	if d, err := tlsh.Sum(data); err == nil {
		q.tl, q.hasTL = d, true
	}
	return q
}

// The index finds exactly what comparing with every entry finds, in the
// same order, for documents related to the corpus and for unrelated ones:
// with each fuzzy hash alone and with both.
func TestIndexMatchesScan(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	docs := corpus(r, 2000)
	hashed := make([]query, len(docs))
	for i, d := range docs {
		hashed[i] = hashQuery(d)
	}
	var queries []query
	for i := range 300 {
		if i%4 == 0 {
			queries = append(queries, hashQuery(corpus(r, 1)[0]))
		} else {
			queries = append(queries, hashQuery(mutate(r, docs[r.IntN(len(docs))])))
		}
	}
	for _, th := range []Thresholds{{SSDeep: 40, TLSH: -1}, {SSDeep: -1, TLSH: 50}, {SSDeep: 60, TLSH: 30}} {
		ix := newIndex(th, 1<<20, 0)
		for i, d := range docs {
			q := &hashed[i]
			id, _ := ix.ensure(sha256.Sum256(d))
			// The first half goes in by bulk load, the rest one at a time.
			ix.setHashes(id, q.ss, q.hasSS, q.tl, q.hasTL, i < len(docs)/2)
			if i == len(docs)/2-1 {
				ix.finishBulk()
			}
		}
		withRelatives := 0
		for i := range queries {
			got := slices.Clone(ix.search(&queries[i]))
			want := ix.scan(&queries[i])
			if !slices.Equal(got, want) {
				t.Fatalf("%+v: query %d: index found %d relatives %v; a scan finds %d %v",
					th, i, len(got), head(got), len(want), head(want))
			}
			if len(want) > 0 {
				withRelatives++
			}
		}
		// The corpus must have relatives, or the test proves little.
		if withRelatives < len(queries)/2 {
			t.Errorf("%+v: weak corpus: %d of %d queries with relatives", th, withRelatives, len(queries))
		}
		t.Logf("%+v: %d of %d queries had relatives", th, withRelatives, len(queries))
	}
}

func head(r []relative) []relative { return r[:min(len(r), 3)] }

// Hashes too short for a 7-character run are found when identical.
func TestIndexTinyHashes(t *testing.T) {
	ix := newIndex(Thresholds{SSDeep: 60, TLSH: 40}, 1024, 0)
	a := hashQuery([]byte("abc"))
	if len(a.ss.Part1) >= gram {
		t.Fatalf("hash of 3 bytes %+v has a run", a.ss)
	}
	id, _ := ix.ensure(sha256.Sum256([]byte("abc")))
	ix.setHashes(id, a.ss, a.hasSS, a.tl, a.hasTL, false)
	got := ix.search(&a)
	if len(got) != 1 || got[0].id != id || got[0].score != 100 {
		t.Fatalf("got %+v; want the identical hash with score 100", got)
	}
	b := hashQuery([]byte("xyz"))
	if got := ix.search(&b); len(got) != 0 {
		t.Fatalf("got %+v for a different tiny hash; want none", got)
	}
}

// A TLSH search over samples that are all alike stops at its budget, and
// says so.
func TestTLSHSearchBounded(t *testing.T) {
	q := hashQuery(codeRedII(nil))
	q.hasSS = false
	for _, budget := range []int{0, 50} {
		ix := newIndex(Thresholds{SSDeep: -1, TLSH: 30}, 1<<20, budget)
		for i := range 500 {
			id, _ := ix.ensure(sha256.Sum256([]byte{byte(i), byte(i >> 8)}))
			ix.setHashes(id, q.ss, false, q.tl, true, true)
		}
		ix.finishBulk()
		got := len(ix.search(&q))
		switch {
		case budget == 0 && (got != 500 || ix.truncated != 0):
			t.Errorf("no budget: found %d of 500, truncated %d", got, ix.truncated)
		case budget > 0 && (got >= 500 || ix.truncated != 1):
			t.Errorf("budget %d: found %d of 500, truncated %d; want fewer, cut once", budget, got, ix.truncated)
		}
	}
}
