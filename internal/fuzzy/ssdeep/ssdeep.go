// Package ssdeep computes ssdeep fuzzy hashes (context triggered piecewise
// hashes, Kornblum 2006, after Tridgell's spamsum) and scores their
// similarity, exactly as ssdeep 2.14 (libfuzzy) does.
//
// A rolling hash over a 7-byte window cuts the input into pieces wherever
// the rolling value hits a trigger that depends on the block size; each
// piece contributes one base64 character, the low six bits of an FNV hash
// of its bytes. A hash is "blocksize:pieces:pieces-at-double-blocksize",
// with the block size chosen so that the first part has between 32 and 64
// characters. Two hashes are comparable when their block sizes are equal
// or a factor of two apart; the score, 0 to 100, comes from the weighted
// edit distance between the parts, and is 0 unless they share a run of 7
// characters.
package ssdeep

import (
	"math/bits"
	"strconv"
)

const (
	window       = 7  // rolling hash window, and the common run Compare needs
	minBlockSize = 3  // smallest block size
	maxLength    = 64 // longest first part
	numLevels    = 31 // block sizes 3 << 0 .. 3 << 30
	// The piecewise hash is 32-bit FNV with the initial value 0x28021967,
	// of which only the low six bits are ever used; those depend only on
	// the low bits of the state and the prime, so one byte of each does.
	fnvPrime = 0x01000193 & 0xff
	fnvInit  = 0x28021967 & 0xff
)

const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// The rolling hash over the last seven bytes is the sum of three parts: a
// plain sum of the bytes (h1), a sum weighted by position (h2), and a
// shift-xor of the bytes (h3). rollStep advances it by one byte c, with
// old the byte leaving the window (0 in the first seven steps).
func rollStep(h1, h2, h3 uint32, c, old byte) (uint32, uint32, uint32) {
	h2 += window*uint32(c) - h1
	h1 += uint32(c) - uint32(old)
	h3 = h3<<5 ^ uint32(c)
	return h1, h2, h3
}

// A rolling value v triggers block size b when v mod b is b-1, that is
// when v+1 is a multiple of b. Block sizes are 3<<k, so a trigger at 3<<k
// implies triggers at all smaller ones; the level of v is how many block
// sizes it triggers (0 for none).
//
// Divisibility by 3 is tested without dividing: x is a multiple of 3
// exactly when x times the inverse of 3 modulo 2^64 is at most (2^64-1)/3.
const (
	inverse3 = 0xaaaaaaaaaaaaaaab
	third    = (1<<64 - 1) / 3
)

// level returns the level of the rolling value v.
func level(v uint32) int {
	x := uint64(v) + 1
	if x*inverse3 > third {
		return 0
	}
	return min(bits.TrailingZeros64(x/minBlockSize)+1, numLevels)
}

// trigger is where the rolling hash cut the input, and at which level.
type trigger struct {
	pos   int
	level int
}

// maxTriggers bounds the trigger positions scan keeps; past it (inputs
// made of a few repeated bytes can trigger at every byte) the second pass
// rolls the hash again instead.
const maxTriggers = 1 << 14

// scan rolls the hash over data once. It counts the triggers of each
// level above floor (counts[l] for level l) and keeps their positions
// while there are at most maxTriggers of them. It returns the final
// rolling value.
func scan(data []byte, floor int, counts *[numLevels + 1]int, trigs []trigger) ([]trigger, bool, uint32) {
	// v triggers a level above floor when v+1 is a multiple of 3<<floor.
	mask := uint64(1)<<floor - 1
	complete := true
	var h1, h2, h3 uint32
	visit := func(i int, v uint32) {
		x := uint64(v) + 1
		if x&mask == 0 && x*inverse3 <= third {
			l := level(v)
			counts[l]++
			if len(trigs) < maxTriggers {
				trigs = append(trigs, trigger{i, l})
			} else {
				complete = false
			}
		}
	}
	head := min(window, len(data))
	for i, c := range data[:head] {
		h1, h2, h3 = rollStep(h1, h2, h3, c, 0)
		visit(i, h1+h2+h3)
	}
	for i := head; i < len(data); i++ {
		h1, h2, h3 = rollStep(h1, h2, h3, data[i], data[i-window])
		visit(i, h1+h2+h3)
	}
	return trigs, complete, h1 + h2 + h3
}

// piece accumulates one part of a hash: a character per trigger, up to
// limit characters in all. Once limit-1 characters are out, later
// triggers no longer start a new piece: the last character then hashes
// everything from there to the end.
type piece struct {
	out     []byte
	limit   int
	h       byte // FNV state; only its low six bits are ever used
	pending byte // character of the last trigger once the part is full
}

func newPiece(limit int) piece {
	return piece{out: make([]byte, 0, limit), limit: limit, h: fnvInit}
}

func (p *piece) trigger() {
	if len(p.out) < p.limit-1 {
		p.out = append(p.out, b64[p.h&63])
		p.h = fnvInit
		return
	}
	p.pending = b64[p.h&63]
}

// finish adds the closing character: the piece in progress if the input
// did not end on a zero rolling value, else the one a full part held back.
func (p *piece) finish(roll uint32) []byte {
	switch {
	case roll != 0:
		p.out = append(p.out, b64[p.h&63])
	case p.pending != 0:
		p.out = append(p.out, p.pending)
	}
	return p.out
}

// Hash returns the ssdeep hash of data in the form ssdeep prints,
// "blocksize:part1:part2".
func Hash(data []byte) string {
	// The first guess of block size is the smallest whose 64 pieces could
	// cover the input; the block size is then halved while it cuts fewer
	// than 32 pieces. Scan first for the triggers of two levels below the
	// guess, which random-looking input always has enough of; only input
	// that cuts few pieces needs a second scan from the bottom.
	guess := 0
	for guess < numLevels-1 && uint64(minBlockSize)<<guess*maxLength < uint64(len(data)) {
		guess++
	}
	var buf [256]trigger
	var counts [numLevels + 1]int
	trigs, complete, roll := scan(data, max(guess-2, 0), &counts, buf[:0])
	k := choose(guess, max(guess-2, 0), &counts)
	if k < 0 {
		counts = [numLevels + 1]int{}
		trigs, complete, roll = scan(data, 0, &counts, trigs[:0])
		k = choose(guess, 0, &counts)
	}

	p1, p2 := newPiece(maxLength), newPiece(maxLength/2)
	if complete {
		cut(data, trigs, k, &p1, &p2)
	} else {
		rescan(data, k, &p1, &p2)
	}
	out := make([]byte, 0, 10+1+maxLength+1+maxLength/2)
	out = strconv.AppendUint(out, uint64(minBlockSize)<<k, 10)
	out = append(out, ':')
	out = append(out, p1.finish(roll)...)
	out = append(out, ':')
	out = append(out, p2.finish(roll)...)
	return string(out)
}

// choose returns the level of the block size: the guess, lowered while
// it cuts fewer than 32 pieces. counts[l] holds the number of triggers of
// level l for each level above floor; choose returns -1 when the answer
// needs the counts at or below floor.
func choose(guess, floor int, counts *[numLevels + 1]int) int {
	// Block size 3<<k is triggered by the levels above k.
	n := 0
	for _, c := range counts[guess+1:] {
		n += c
	}
	k := guess
	for k > 0 && n < maxLength/2 {
		if k == floor {
			return -1
		}
		n += counts[k]
		k--
	}
	return k
}

// cut hashes the pieces of data at level k into p1 and at level k+1 into
// p2, given every trigger above level k in order.
func cut(data []byte, trigs []trigger, k int, p1, p2 *piece) {
	s1, s2 := p1.h, p2.h
	start := 0
	for _, t := range trigs {
		if t.level <= k {
			continue
		}
		for _, c := range data[start : t.pos+1] {
			s1 = s1*fnvPrime ^ c
			s2 = s2*fnvPrime ^ c
		}
		start = t.pos + 1
		p1.h = s1
		p1.trigger()
		s1 = p1.h
		if t.level > k+1 {
			p2.h = s2
			p2.trigger()
			s2 = p2.h
		}
	}
	for _, c := range data[start:] {
		s1 = s1*fnvPrime ^ c
		s2 = s2*fnvPrime ^ c
	}
	p1.h, p2.h = s1, s2
}

// rescan is cut for inputs with too many triggers to keep: it rolls the
// hash again alongside the piece hashes.
func rescan(data []byte, k int, p1, p2 *piece) {
	s1, s2 := p1.h, p2.h
	var h1, h2, h3 uint32
	for i, c := range data {
		var old byte
		if i >= window {
			old = data[i-window]
		}
		h1, h2, h3 = rollStep(h1, h2, h3, c, old)
		s1 = s1*fnvPrime ^ c
		s2 = s2*fnvPrime ^ c
		if l := level(h1 + h2 + h3); l > k {
			p1.h = s1
			p1.trigger()
			s1 = p1.h
			if l > k+1 {
				p2.h = s2
				p2.trigger()
				s2 = p2.h
			}
		}
	}
	p1.h, p2.h = s1, s2
}
