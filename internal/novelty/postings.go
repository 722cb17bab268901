package novelty

import (
	"math/bits"
	"slices"
	"sort"
)

// idBits is the width of an entry id in a posting: 2^28 (268 million)
// samples per index.
const idBits = 28

const idMask = 1<<idBits - 1

// postings maps keys (at most 64-idBits bits wide) to the ids of the
// entries that hold them: the inverted lists of the index.
//
// Most postings sit in one sorted slice of key<<idBits|id, eight bytes
// each, with a table of where each key prefix starts, so a lookup is a
// table read and a binary search over a few cache lines. Additions go to
// a small map first and are merged into the slice, in place, once the map
// holds a sixteenth as many postings as the slice: each posting is moved
// a bounded number of times on average.
//
// A key's list stops growing at maxPer ids (a "stop word": a fuzzy-hash
// fragment that thousands of samples share); it keeps its oldest ids.
type postings struct {
	keyBits uint
	maxPer  int
	direct  bool // the prefix table has a slot per key (narrow keys)
	// Recent postings are merged once there are more than mergeAt of
	// them and, when grow is set, more than a sixteenth of the sorted
	// ones.
	mergeAt int
	grow    bool

	sorted []uint64
	prefix uint     // key bits that index start
	start  []uint32 // start[p]: first index in sorted of prefix >= p

	recent  map[uint64][]uint32
	nrecent int
}

func newPostings(keyBits uint, maxPer int) *postings {
	return &postings{keyBits: keyBits, maxPer: maxPer, mergeAt: 4096, grow: true, recent: map[uint64][]uint32{}}
}

// bounds returns the range of sorted that holds key's postings.
func (p *postings) bounds(key uint64) (int, int) {
	if len(p.sorted) == 0 {
		return 0, 0
	}
	b := key >> (p.keyBits - p.prefix)
	lo, hi := int(p.start[b]), int(p.start[b+1])
	if p.prefix == p.keyBits {
		return lo, hi
	}
	first := key << idBits
	last := first | idMask
	s := p.sorted[lo:hi]
	i := sort.Search(len(s), func(i int) bool { return s[i] >= first })
	j := i
	for j < len(s) && s[j] <= last {
		j++
	}
	return lo + i, lo + j
}

// count returns the number of ids key has.
func (p *postings) count(key uint64) int {
	i, j := p.bounds(key)
	return j - i + len(p.recent[key])
}

// sortedCount returns the number of ids key has in the sorted part.
func (p *postings) sortedCount(key uint64) int {
	i, j := p.bounds(key)
	return j - i
}

// eachSorted calls fn with the ids key has in the sorted part.
func (p *postings) eachSorted(key uint64, fn func(id uint32)) {
	i, j := p.bounds(key)
	for _, v := range p.sorted[i:j] {
		fn(uint32(v & idMask))
	}
}

// eachRecent calls fn with every id added since the last merge, whatever
// its key.
func (p *postings) eachRecent(fn func(id uint32)) {
	for _, ids := range p.recent {
		for _, id := range ids {
			fn(id)
		}
	}
}

// each calls fn with every id key has.
func (p *postings) each(key uint64, fn func(id uint32)) {
	i, j := p.bounds(key)
	for _, v := range p.sorted[i:j] {
		fn(uint32(v & idMask))
	}
	for _, id := range p.recent[key] {
		fn(id)
	}
}

// add gives key the id, unless key's list is full. It reports whether
// the id was added.
func (p *postings) add(key uint64, id uint32) bool {
	if p.count(key) >= p.maxPer {
		return false
	}
	p.recent[key] = append(p.recent[key], id)
	p.nrecent++
	if p.nrecent > p.mergeAt && (!p.grow || p.nrecent > len(p.sorted)/16) {
		p.merge()
	}
	return true
}

// load appends a posting without checking its list's length, for a bulk
// load that ends with build. Nothing may be looked up in between.
func (p *postings) load(key uint64, id uint32) {
	p.sorted = append(p.sorted, key<<idBits|uint64(id))
}

// build sorts what load appended, cuts lists longer than maxPer and makes
// the prefix table.
func (p *postings) build() {
	p.merge()
	slices.Sort(p.sorted)
	out := p.sorted[:0]
	run, prev := 0, uint64(1<<64-1)
	for _, v := range p.sorted {
		if k := v >> idBits; k != prev {
			prev, run = k, 0
		}
		if run++; run <= p.maxPer {
			out = append(out, v)
		}
	}
	p.sorted = out
	p.reindex()
}

// merge moves the recent postings into the sorted slice, merging from
// the end so that no second slice of the whole is needed.
func (p *postings) merge() {
	if p.nrecent == 0 {
		return
	}
	add := make([]uint64, 0, p.nrecent)
	for k, ids := range p.recent {
		for _, id := range ids {
			add = append(add, k<<idBits|uint64(id))
		}
	}
	slices.Sort(add)
	n := len(p.sorted)
	p.sorted = slices.Grow(p.sorted, len(add))[:n+len(add)]
	i, j, w := n-1, len(add)-1, n+len(add)-1
	for j >= 0 {
		if i >= 0 && p.sorted[i] > add[j] {
			p.sorted[w] = p.sorted[i]
			i--
		} else {
			p.sorted[w] = add[j]
			j--
		}
		w--
	}
	clear(p.recent)
	p.nrecent = 0
	p.reindex()
}

// reindex rebuilds the prefix table: about sixteen postings per prefix.
func (p *postings) reindex() {
	p.prefix = min(p.keyBits, max(4, uint(bits.Len(uint(len(p.sorted)/16)))))
	if p.direct {
		p.prefix = p.keyBits
	}
	n := 1 << p.prefix
	if cap(p.start) >= n+1 {
		p.start = p.start[:n+1]
	} else {
		p.start = make([]uint32, n+1)
	}
	shift := p.keyBits - p.prefix + idBits
	b := 0
	for i, v := range p.sorted {
		for pre := int(v >> shift); b <= pre; b++ {
			p.start[b] = uint32(i)
		}
	}
	for ; b <= n; b++ {
		p.start[b] = uint32(len(p.sorted))
	}
}

// size is the memory the postings hold, in bytes.
func (p *postings) size() int {
	return 8*cap(p.sorted) + 4*cap(p.start) + 48*len(p.recent) + 4*p.nrecent
}
