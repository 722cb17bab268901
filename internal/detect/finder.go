package detect

import (
	"math/bits"
	"slices"
	"strings"
)

// finder finds in one pass over a text which of a set of literals occur
// in it, ASCII letters compared without case, and marks the rules that
// need them. A literal of two bytes or more is anchored at the pair of
// its bytes least likely in ordinary traffic, and checked only where
// the text has that pair; a literal of one byte is found as the second
// byte of any pair (the first byte of a text pairs with a NUL before
// it). The pass does one look-up in a bit set of pairs a byte, and the
// look-ups do not depend on each other, so that it runs at the speed
// the processor reads the table rather than at the latency of one
// look-up after the other.
type finder struct {
	pairs [1 << 10]uint64 // pairs where a literal may be, by first<<8|second
	// The rest is read only where pairs says so.
	ones [4]uint64 // bytes that are literals
	one  [256][]int32
	// starts has the anchor pairs, and the literals anchored at the
	// n-th of them (in order) are anchored[n]; rank[w] counts those in
	// starts[:w].
	starts   [1 << 10]uint64
	rank     [1 << 10]uint16
	anchored [][]anchor
}

// anchor is a literal of two bytes or more, with the offset of its
// anchor pair and the rules that need it.
type anchor struct {
	lit   string
	off   int
	rules []int32
}

// lower maps a byte to its lowerASCII form.
var lower = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c) + 'a' - 'A'
	}
	return t
}()

// newFinder builds the finder of lits, a map from a literal (not
// empty, lower-cased) to the rules that need it.
func newFinder(lits map[string][]int32) *finder {
	f := &finder{}
	byPair := map[uint16][]anchor{}
	keys := make([]string, 0, len(lits))
	for l := range lits {
		keys = append(keys, l)
	}
	slices.Sort(keys)
	for _, l := range keys {
		rules := dedupRules(lits[l])
		if len(l) == 1 {
			c := l[0]
			setBit(f.ones[:], uint16(c))
			f.one[c] = dedupRules(append(f.one[c], rules...))
			for p := range 256 {
				setBit(f.pairs[:], uint16(p)<<8|uint16(c))
			}
			continue
		}
		off := anchorOf(l)
		k := uint16(l[off])<<8 | uint16(l[off+1])
		setBit(f.pairs[:], k)
		setBit(f.starts[:], k)
		byPair[k] = append(byPair[k], anchor{lit: l, off: off, rules: rules})
	}
	n := 0
	for w, word := range f.starts {
		f.rank[w] = uint16(n)
		n += bits.OnesCount64(word)
	}
	f.anchored = make([][]anchor, n)
	for k, as := range byPair {
		f.anchored[f.index(k)] = as
	}
	return f
}

// index is the place in anchored of the anchor pair k.
func (f *finder) index(k uint16) int {
	w := f.starts[k>>6] & (1<<(k&63) - 1)
	return int(f.rank[k>>6]) + bits.OnesCount64(w)
}

func setBit(set []uint64, i uint16) { set[i>>6] |= 1 << (i & 63) }

func hasBit(set []uint64, i uint16) bool { return set[i>>6]&(1<<(i&63)) != 0 }

func dedupRules(l []int32) []int32 {
	slices.Sort(l)
	return slices.Compact(l)
}

// anchorOf returns the offset of the pair of bytes of l least common in
// ordinary traffic, by the weights of commonByte.
func anchorOf(l string) int {
	best, score := 0, 1<<30
	for i := 0; i+1 < len(l); i++ {
		if s := commonness(l[i]) + commonness(l[i+1]); s < score {
			best, score = i, s
		}
	}
	return best
}

// commonByte lists bytes from the most to the least common in requests,
// commands and logins (lower-case English letters and what URIs and
// headers are made of); bytes not listed are rarer than all of them.
const commonByte = "etaoinsrhldcumfpgwybvkxjqz/. -=0123456789&?,;:*_"

func commonness(c byte) int {
	if i := strings.IndexByte(commonByte, c); i >= 0 {
		return len(commonByte) - i
	}
	return 0
}

// find marks in seen the rules whose literals t contains.
func find[T string | []byte](f *finder, t T, seen []uint64) {
	prev := uint16(0)
	for i := 0; i < len(t); i++ {
		c := uint16(lower[t[i]])
		if k := prev<<8 | c; f.pairs[k>>6]&(1<<(k&63)) != 0 {
			foundAt(f, t, i, k, seen)
		}
		prev = c
	}
}

// foundAt marks the rules of the literals t has where the pair k ends,
// at i.
func foundAt[T string | []byte](f *finder, t T, i int, k uint16, seen []uint64) {
	if c := k & 0xff; hasBit(f.ones[:], c) {
		mark(f.one[c], seen)
	}
	if !hasBit(f.starts[:], k) {
		return
	}
	for _, a := range f.anchored[f.index(k)] {
		if at := i - 1 - a.off; at >= 0 && hasLower(t[at:], a.lit) {
			mark(a.rules, seen)
		}
	}
}

// hasLower reports whether lowerASCII(t) begins with lit.
func hasLower[T string | []byte](t T, lit string) bool {
	if len(t) < len(lit) {
		return false
	}
	for i := range len(lit) {
		if lower[t[i]] != lit[i] {
			return false
		}
	}
	return true
}

func mark(rules []int32, seen []uint64) {
	for _, r := range rules {
		seen[r>>6] |= 1 << (r & 63)
	}
}
