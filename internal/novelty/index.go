package novelty

import (
	"cmp"
	"encoding/hex"
	"reflect"
	"slices"

	"github.com/smallpot/smallpot/internal/fuzzy/ssdeep"
	"github.com/smallpot/smallpot/internal/fuzzy/tlsh"
)

// The index finds, for a new sample's fuzzy hashes, every indexed sample
// within the thresholds, without comparing it to every sample.
//
// ssdeep: two hashes score above 0 only when their block sizes are equal
// or a factor of two apart and the parts compared, taken at the same
// block size, share a run of seven characters. So every indexed hash posts
// each distinct 7-character run of its first part under (block size, run)
// and of its second part under (2 x block size, run); a query looks up
// the runs of its own parts the same way, and the entries found are the
// only ones that can score above 0. Keys are a 36-bit hash of (block
// size, run): a collision only adds a candidate, which is then scored.
// Hashes with both parts shorter than seven characters (inputs of a few
// bytes) score only when identical and are found by an exact-match map.
//
// TLSH: the distance is at least the body distance, a sum over 128
// buckets of how far apart their quartile codes are. The buckets are cut
// into 16 segments of 8 (16 bits each), and every digest posts each
// segment's value under (segment, value). If distance <= T, the 16
// segment distances add up to at most T, so at least one segment is
// within T/16 (rounded down) of the query's: the query looks up, for
// segments, the values within that distance (by default T/16 = 1, up to
// 17 values per segment), and only the entries found are measured;
// searchTLSH tells how it skips the longest lists.
//
// Both searches are exact as long as no list has reached maxPer ids (see
// postings); the tests check them against a scan of every entry.

// ssKeyBits is the width of an ssdeep posting key.
const ssKeyBits = 36

// tlKeyBits is the width of a TLSH posting key: a 4-bit segment number
// and its 16-bit value.
const tlKeyBits = 20

const (
	gram     = 7  // ssdeep's common-run length
	segments = 16 // TLSH body segments
)

// A label is a family and variant a sample is known by.
type label struct {
	family, variant string
}

// name is how an alert names the label: the variant when there is one.
func (l label) name() string {
	if l.variant != "" {
		return l.variant
	}
	return l.family
}

// entry is one indexed sample.
type entry struct {
	sha    [32]byte
	ss     ssdeep.Parsed
	tl     tlsh.Digest
	hasSS  bool
	hasTL  bool
	hashed bool // its fuzzy hashes were computed (or it is a seed)
	seed   bool
	stored bool  // the store has a row for it
	label  int32 // index into index.labels; 0 is none
}

// Thresholds say when two samples are related: an ssdeep score of at
// least SSDeep, or a TLSH distance of at most TLSH. A negative value turns
// that test off.
type Thresholds struct {
	SSDeep int
	TLSH   int
}

// relative is one indexed sample within the thresholds of a query.
type relative struct {
	id    uint32
	score int // ssdeep score, 0 when either has no ssdeep hash
	dist  int // TLSH distance, -1 when either has no digest
	sim   int // max(score, 100-dist)
}

// closer orders relatives nearest first: by similarity (the larger of the
// ssdeep score and 100 minus the TLSH distance), then TLSH distance, then
// ssdeep score, then SHA-256.
func (ix *index) closer(a, b relative) int {
	if c := cmp.Compare(b.sim, a.sim); c != 0 {
		return c
	}
	da, db := a.dist, b.dist
	if da < 0 {
		da = 1 << 30
	}
	if db < 0 {
		db = 1 << 30
	}
	if c := cmp.Compare(da, db); c != 0 {
		return c
	}
	if c := cmp.Compare(b.score, a.score); c != 0 {
		return c
	}
	sa, sb := &ix.entries[a.id].sha, &ix.entries[b.id].sha
	return slices.Compare(sa[:], sb[:])
}

// index is the set of samples seen, with their fuzzy hashes and labels.
// It is used by one goroutine.
type index struct {
	th      Thresholds
	entries []entry
	bySHA   map[[32]byte]uint32
	ss      *postings
	tl      *postings
	tiny    map[string][]uint32 // ssdeep hashes without a 7-character run

	labels   []label
	labelIDs map[label]int32

	// Scratch of a search.
	epoch    uint32
	stamp    []uint32 // stamp[id] == epoch: a candidate of this search
	viaSS    []uint32 // viaSS[id] == epoch: found by the ssdeep search
	cands    []uint32
	found    []relative
	hoods    [2][segments][]uint16 // segment values within t and t+1
	hitEpoch []uint32              // hits[id] counts for this epoch's search
	hits     []uint8
	ssKeys   []uint64
	maxCand  int

	truncated uint64 // TLSH searches cut short by maxCand
}

func newIndex(th Thresholds, maxPer, maxCand int) *index {
	return &index{
		th: th, bySHA: map[[32]byte]uint32{},
		ss: newPostings(ssKeyBits, maxPer), tl: newTLSHPostings(maxPer),
		tiny:   map[string][]uint32{},
		labels: []label{{}}, labelIDs: map[label]int32{{}: 0},
		maxCand: maxCand,
	}
}

func newTLSHPostings(maxPer int) *postings {
	p := newPostings(tlKeyBits, maxPer)
	p.direct, p.mergeAt, p.grow = true, 2048, false
	return p
}

func parseSHA(s string) ([32]byte, bool) {
	var h [32]byte
	if len(s) != 64 {
		return h, false
	}
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return h, false
		}
	}
	_, err := hex.Decode(h[:], []byte(s))
	return h, err == nil
}

func (ix *index) labelID(l label) int32 {
	if id, ok := ix.labelIDs[l]; ok {
		return id
	}
	id := int32(len(ix.labels))
	ix.labels = append(ix.labels, l)
	ix.labelIDs[l] = id
	return id
}

// lookup returns the entry of a SHA-256, if indexed.
func (ix *index) lookup(sha [32]byte) (*entry, bool) {
	id, ok := ix.bySHA[sha]
	if !ok {
		return nil, false
	}
	return &ix.entries[id], true
}

// ensure returns the entry of sha, adding an empty one if needed.
func (ix *index) ensure(sha [32]byte) (uint32, *entry) {
	if id, ok := ix.bySHA[sha]; ok {
		return id, &ix.entries[id]
	}
	id := uint32(len(ix.entries))
	ix.entries = append(ix.entries, entry{sha: sha})
	ix.bySHA[sha] = id
	return id, &ix.entries[id]
}

// setLabel labels a sample, adding an entry for it when it has none
// yet. A sample keeps its first family; a later label of the same family
// may add the variant it lacked. It reports whether the label changed.
func (ix *index) setLabel(sha [32]byte, l label) bool {
	if l.family == "" {
		return false
	}
	_, e := ix.ensure(sha)
	cur := ix.labels[e.label]
	switch {
	case cur.family == "":
	case cur.family == l.family && cur.variant == "" && l.variant != "":
	default:
		return false
	}
	e.label = ix.labelID(l)
	return true
}

// setHashes records a sample's fuzzy hashes and indexes them, unless it
// was hashed before.
func (ix *index) setHashes(id uint32, ss ssdeep.Parsed, hasSS bool, tl tlsh.Digest, hasTL bool, bulk bool) {
	e := &ix.entries[id]
	if e.hashed {
		return
	}
	e.hashed = true
	e.ss, e.hasSS, e.tl, e.hasTL = ss, hasSS, tl, hasTL
	if hasSS {
		ix.ssKeys = ssKeys(&ss, ix.ssKeys[:0])
		if len(ix.ssKeys) == 0 {
			k := tinyKey(&ss)
			ix.tiny[k] = append(ix.tiny[k], id)
		}
		for _, k := range ix.ssKeys {
			if bulk {
				ix.ss.load(k, id)
			} else {
				ix.ss.add(k, id)
			}
		}
	}
	if hasTL {
		for s := range segments {
			k := tlKey(s, segValue(&tl, s))
			if bulk {
				ix.tl.load(k, id)
			} else {
				ix.tl.add(k, id)
			}
		}
	}
}

// finishBulk ends a bulk load.
func (ix *index) finishBulk() {
	ix.ss.build()
	ix.tl.build()
}

func tinyKey(p *ssdeep.Parsed) string {
	b := make([]byte, 0, 8+len(p.Part1)+len(p.Part2)+2)
	for i := range 8 {
		b = append(b, byte(p.BlockSize>>(8*i)))
	}
	b = append(b, p.Part1...)
	b = append(b, ':')
	return string(append(b, p.Part2...))
}

func mix(x uint64) uint64 {
	// splitmix64's finalizer.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func ssKey(bs uint64, run string) uint64 {
	var v uint64
	for i := range gram {
		v = v<<8 | uint64(run[i])
	}
	return mix(v^mix(bs+0x9e3779b97f4a7c15)) >> (64 - ssKeyBits)
}

// ssKeys appends the distinct posting keys of a hash's runs.
func ssKeys(p *ssdeep.Parsed, keys []uint64) []uint64 {
	start := len(keys)
	for _, part := range [2]struct {
		s  string
		bs uint64
	}{{p.Part1, p.BlockSize}, {p.Part2, p.BlockSize * 2}} {
		for i := 0; i+gram <= len(part.s); i++ {
			keys = append(keys, ssKey(part.bs, part.s[i:i+gram]))
		}
	}
	k := keys[start:]
	slices.Sort(k)
	return append(keys[:start], slices.Compact(k)...)
}

func segValue(d *tlsh.Digest, s int) uint16 {
	return uint16(d.Body[2*s]) | uint16(d.Body[2*s+1])<<8
}

func tlKey(s int, v uint16) uint64 { return uint64(s)<<16 | uint64(v) }

// codeCost is what TLSH charges for two quartile codes: how many
// quartiles apart, opposite ends counting 6.
func codeCost(a, b int) int {
	d := a - b
	if d < 0 {
		d = -d
	}
	if d == 3 {
		return 6
	}
	return d
}

// alts[c] lists the quartile codes other than c, by their cost from c.
var alts = func() (t [4][3]struct{ code, cost int }) {
	for c := range 4 {
		n := 0
		for d := range 4 {
			if d != c {
				t[c][n] = struct{ code, cost int }{d, codeCost(c, d)}
				n++
			}
		}
		slices.SortFunc(t[c][:], func(a, b struct{ code, cost int }) int { return cmp.Compare(a.cost, b.cost) })
	}
	return t
}()

// neighbours appends every segment value within TLSH body distance t of
// v (v included).
func neighbours(v uint16, t int, out []uint16) []uint16 {
	out = append(out, v)
	return changeFrom(v, v, 0, t, out)
}

// changeFrom appends the values made from cur by changing buckets j and
// above of v, at a cost of at most left.
func changeFrom(v, cur uint16, j, left int, out []uint16) []uint16 {
	for ; j < 8; j++ {
		code := int(v>>(2*j)) & 3
		for _, a := range alts[code] {
			if a.cost > left {
				break
			}
			w := cur&^(3<<(2*j)) | uint16(a.code)<<(2*j)
			out = append(out, w)
			if left-a.cost > 0 {
				out = changeFrom(v, w, j+1, left-a.cost, out)
			}
		}
	}
	return out
}

// query is what a search is given: a sample's parsed fuzzy hashes.
type query struct {
	ss    ssdeep.Parsed
	hasSS bool
	tl    tlsh.Digest
	hasTL bool
}

func (ix *index) mark(id uint32) {
	if ix.stamp[id] != ix.epoch {
		ix.stamp[id] = ix.epoch
		ix.cands = append(ix.cands, id)
	}
}

// markSS marks a candidate the ssdeep search found.
func (ix *index) markSS(id uint32) {
	ix.mark(id)
	ix.viaSS[id] = ix.epoch
}

// search returns every hashed entry within the thresholds of q, nearest
// first. The slice is reused by the next search.
func (ix *index) search(q *query) []relative {
	if n := len(ix.entries) - len(ix.stamp); n > 0 {
		ix.stamp = append(ix.stamp, make([]uint32, n)...)
		ix.viaSS = append(ix.viaSS, make([]uint32, n)...)
	}
	ix.epoch++
	if ix.epoch == 0 {
		clear(ix.stamp)
		clear(ix.viaSS)
		ix.epoch = 1
	}
	ix.cands, ix.found = ix.cands[:0], ix.found[:0]
	if q.hasSS && ix.th.SSDeep >= 0 {
		ix.ssKeys = ssKeys(&q.ss, ix.ssKeys[:0])
		if len(ix.ssKeys) == 0 {
			for _, id := range ix.tiny[tinyKey(&q.ss)] {
				ix.markSS(id)
			}
		}
		for _, k := range ix.ssKeys {
			ix.ss.each(k, ix.markSS)
		}
	}
	if q.hasTL && ix.th.TLSH >= 0 {
		ix.searchTLSH(q, ix.mark)
	}
	if ix.maxCand > 0 && len(ix.cands) > ix.maxCand {
		// Bounded work: the oldest samples are kept, as the lists do.
		slices.Sort(ix.cands)
		ix.cands = ix.cands[:ix.maxCand]
	}
	for _, id := range ix.cands {
		if r, ok := ix.measure(q, id, ix.viaSS[id] == ix.epoch); ok {
			ix.found = append(ix.found, r)
		}
	}
	slices.SortFunc(ix.found, ix.closer)
	return ix.found
}

// searchTLSH marks every entry that may be within the TLSH threshold Y
// of q. The distance is at least the sum of the 16 segment distances, so
// for any t, at most Y/(t+1) segments of a relative are more than t away
// from q's, and at least m = 16 - Y/(t+1) are within t. Of any 16-(m-h)
// segments, a relative then has at least h within t. The search looks up
// the values within t of the 16-(m-h) segments whose lists are shortest
// (skipping those of the values most samples share), counts for each
// entry found how many segments it was found in, and keeps those found in
// h of them, with h = 2 when m allows (a chance match in one segment is
// common, in two rare). t is Y/16, or Y/16+1 when that reads fewer
// postings (t is at most 2 then: the values within 3 are hundreds).
// Entries added since the last merge are all taken as candidates.
//
// The search reads at most maxCand postings beyond its cheapest segment:
// when the samples are so alike that it would need more (every value of
// every segment shared by thousands), it reads the cheapest segments only
// and may miss a relative that TLSH alone relates. Such a search is
// counted (truncated).
func (ix *index) searchTLSH(q *query, mark func(uint32)) {
	y := ix.th.TLSH
	t0 := y / segments
	type seg struct {
		s    int
		cost int
	}
	var best [segments]seg
	bestT, bestProbe, bestNeed, bestCost := -1, 0, 0, 0
	for t := t0; t <= max(t0, min(t0+1, 2)); t++ {
		m := segments - y/(t+1)
		need := min(2, m)
		probe := segments - (m - need)
		var cur [segments]seg
		for s := range segments {
			hood := neighbours(segValue(&q.tl, s), t, ix.hoods[t-t0][s][:0])
			ix.hoods[t-t0][s] = hood
			c := 0
			for _, v := range hood {
				c += ix.tl.sortedCount(tlKey(s, v))
			}
			cur[s] = seg{s, c}
		}
		slices.SortFunc(cur[:], func(a, b seg) int { return cmp.Compare(a.cost, b.cost) })
		total := 0
		for _, sg := range cur[:probe] {
			total += sg.cost
		}
		if bestT < 0 || total < bestCost {
			best, bestT, bestProbe, bestNeed, bestCost = cur, t, probe, need, total
		}
	}
	if n := len(ix.entries) - len(ix.hitEpoch); n > 0 {
		ix.hitEpoch = append(ix.hitEpoch, make([]uint32, n)...)
		ix.hits = append(ix.hits, make([]uint8, n)...)
	}
	hit := func(id uint32) {
		if ix.hitEpoch[id] != ix.epoch {
			ix.hitEpoch[id], ix.hits[id] = ix.epoch, 0
		}
		if ix.hits[id]++; int(ix.hits[id]) == bestNeed {
			mark(id)
		}
	}
	read := 0
	for i, sg := range best[:bestProbe] {
		if read += sg.cost; i > 0 && ix.maxCand > 0 && read > ix.maxCand {
			// Bounded work: samples so alike that every segment's
			// values are common to thousands of them.
			ix.truncated++
			break
		}
		for _, v := range ix.hoods[bestT-t0][sg.s] {
			ix.tl.eachSorted(tlKey(sg.s, v), hit)
		}
	}
	ix.tl.eachRecent(mark)
}

// measure compares q with entry id and reports whether it is within the
// thresholds. An entry the ssdeep search did not find (viaSS false)
// shares no 7-character run with q, so its ssdeep score is 0 and is only
// computed when TLSH relates it (the tests check it against a scan, which
// computes every score).
func (ix *index) measure(q *query, id uint32, viaSS bool) (relative, bool) {
	e := &ix.entries[id]
	r := relative{id: id, dist: -1}
	if !e.hashed {
		return r, false
	}
	ok := false
	if q.hasTL && e.hasTL {
		r.dist = tlsh.Distance(q.tl, e.tl, true)
		ok = ix.th.TLSH >= 0 && r.dist <= ix.th.TLSH
	}
	if q.hasSS && e.hasSS && (viaSS || ok || ix.th.SSDeep < 0) {
		r.score = ssdeep.Score(q.ss, e.ss)
		ok = ok || ix.th.SSDeep >= 0 && r.score >= max(ix.th.SSDeep, 1)
	}
	r.sim = r.score
	if r.dist >= 0 {
		r.sim = max(r.sim, 100-r.dist)
	}
	return r, ok
}

// scan is search by comparing q with every entry: the reference the
// tests hold the index to.
func (ix *index) scan(q *query) []relative {
	var out []relative
	for id := range ix.entries {
		if r, ok := ix.measure(q, uint32(id), true); ok {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, ix.closer)
	return out
}

// size estimates the memory the index holds, in bytes.
func (ix *index) size() int {
	n := ix.ss.size() + ix.tl.size() + 4*cap(ix.stamp)
	n += cap(ix.entries) * int(reflect.TypeFor[entry]().Size())
	for i := range ix.entries {
		n += len(ix.entries[i].ss.Part1) + len(ix.entries[i].ss.Part2)
	}
	n += len(ix.bySHA) * 56
	return n
}
