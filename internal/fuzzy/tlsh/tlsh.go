// Package tlsh computes TLSH, the Trend Micro locality sensitive hash, and
// the distance between two of its digests, exactly as the TLSH 3.4 tools
// shipped by Debian (`tlsh`, package tlsh-tools) do: the 128-bucket digest
// with a one-byte checksum, printed as 70 upper-case hex digits without a
// version prefix.
//
// A digest summarises the distribution of byte triplets taken from a
// sliding window of five bytes: each triplet is hashed with Pearson's
// 8-bit hash into one of 256 buckets, of which the first 128 are kept. The
// digest holds, for each kept bucket, which quartile its count falls in,
// plus a header: a checksum, the logarithm of the input's length and the
// ratios of the first and second quartiles to the third. Similar inputs
// give digests a small distance apart; 0 means the distributions agree.
//
// An input shorter than 256 bytes, or with too little variety to fill the
// quartiles, has no digest: Hash then returns an error, as the tool
// refuses to hash it.
package tlsh

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
)

// MinLength is the shortest input that has a digest.
const MinLength = 256

const (
	buckets   = 128          // buckets kept in the digest
	bodyBytes = buckets / 4  // two bits per bucket
	hexLen    = 2 * (3 + 32) // checksum, length, quartile ratios, body
)

// ErrTooShort is returned for inputs shorter than MinLength.
var ErrTooShort = errors.New("tlsh: input too short")

// ErrLowVariety is returned for inputs whose bytes vary too little to give
// a meaningful digest (for example a run of one repeated byte).
var ErrLowVariety = errors.New("tlsh: input has too little variety")

// pearson is the permutation of 0..255 from Pearson's "Fast Hashing of
// Variable-Length Text Strings" (CACM 33(6), 1990), which TLSH uses as its
// 8-bit hash.
var pearson = [256]byte{
	1, 87, 49, 12, 176, 178, 102, 166, 121, 193, 6, 84, 249, 230, 44, 163,
	14, 197, 213, 181, 161, 85, 218, 80, 64, 239, 24, 226, 236, 142, 38, 200,
	110, 177, 104, 103, 141, 253, 255, 50, 77, 101, 81, 18, 45, 96, 31, 222,
	25, 107, 190, 70, 86, 237, 240, 34, 72, 242, 20, 214, 244, 227, 149, 235,
	97, 234, 57, 22, 60, 250, 82, 175, 208, 5, 127, 199, 111, 62, 135, 248,
	174, 169, 211, 58, 66, 154, 106, 195, 245, 171, 17, 187, 182, 179, 0, 243,
	132, 56, 148, 75, 128, 133, 158, 100, 130, 126, 91, 13, 153, 246, 216, 219,
	119, 68, 223, 78, 83, 88, 201, 99, 122, 11, 92, 32, 136, 114, 52, 10,
	138, 30, 48, 183, 156, 35, 61, 26, 143, 74, 251, 94, 129, 162, 63, 152,
	170, 7, 115, 167, 241, 206, 3, 150, 55, 59, 151, 220, 90, 53, 23, 131,
	125, 173, 15, 238, 79, 95, 89, 16, 105, 137, 225, 224, 217, 160, 37, 123,
	118, 73, 2, 157, 46, 116, 9, 145, 134, 228, 207, 212, 202, 215, 69, 229,
	27, 188, 67, 124, 168, 252, 42, 4, 29, 108, 21, 247, 19, 205, 39, 203,
	233, 40, 186, 147, 198, 192, 155, 33, 164, 191, 98, 204, 165, 180, 117, 76,
	140, 36, 210, 172, 41, 54, 159, 8, 185, 232, 113, 196, 231, 47, 146, 120,
	51, 65, 28, 144, 254, 221, 93, 189, 194, 139, 112, 43, 71, 109, 184, 209,
}

// Each step of the salted hash is one lookup: h = pearson[h ^ next],
// starting from h = pearson[salt]. The checksum uses salt 0 and the six
// triplets of the window salts 2, 3, 5, 7, 11 and 13, in that order;
// firstStep[a] packs, byte by byte in that order, the state after mixing
// in a first byte a.
var firstStep = func() (t [256]uint64) {
	salts := [...]byte{0, 2, 3, 5, 7, 11, 13}
	for a := range 256 {
		for j, s := range salts {
			t[a] |= uint64(pearson[pearson[s]^byte(a)]) << (8 * j)
		}
	}
	return t
}()

// Digest is a parsed TLSH digest. Its fields are the values the digest
// encodes, not the nibble-swapped form of the printed string.
type Digest struct {
	Checksum byte            // running Pearson checksum of the input
	LValue   byte            // logarithmic bucket of the input's length
	Q1Ratio  byte            // 100*q1/q3 mod 16
	Q2Ratio  byte            // 100*q2/q3 mod 16
	Body     [bodyBytes]byte // 2-bit quartile codes; bucket i at Body[i/4] bits 2*(i%4)
}

// Hash returns the TLSH digest of data as the tool prints it.
func Hash(data []byte) (string, error) {
	d, err := Sum(data)
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// Sum computes the digest of data.
func Sum(data []byte) (Digest, error) {
	if len(data) < MinLength {
		return Digest{}, ErrTooShort
	}
	var counts [256]uint32
	var checksum byte
	// The window is a0 (newest) .. a4; each triplet starts with a0, so the
	// first step of its salted Pearson hash comes from one lookup for all.
	p := &pearson
	a1, a2, a3, a4 := data[3], data[2], data[1], data[0]
	for _, a0 := range data[4:] {
		f := firstStep[a0]
		checksum = p[p[byte(f)^a1]^checksum]
		counts[p[p[byte(f>>8)^a1]^a2]]++
		counts[p[p[byte(f>>16)^a1]^a3]]++
		counts[p[p[byte(f>>24)^a2]^a3]]++
		counts[p[p[byte(f>>32)^a2]^a4]]++
		counts[p[p[byte(f>>40)^a1]^a4]]++
		counts[p[p[byte(f>>48)^a3]^a4]]++
		a4, a3, a2, a1 = a3, a2, a1, a0
	}

	var sorted [buckets]uint32
	copy(sorted[:], counts[:buckets])
	slices.Sort(sorted[:])
	q1, q2, q3 := sorted[buckets/4-1], sorted[buckets/2-1], sorted[3*buckets/4-1]
	// Like the reference, refuse inputs that hit half the buckets or fewer:
	// their quartiles say little.
	if q3 == 0 || nonzero(&counts) <= buckets/2 {
		return Digest{}, ErrLowVariety
	}

	d := Digest{
		Checksum: checksum,
		LValue:   lengthCode(len(data)),
		Q1Ratio:  ratio(q1, q3),
		Q2Ratio:  ratio(q2, q3),
	}
	for i := range buckets {
		var code byte
		switch c := counts[i]; {
		case c > q3:
			code = 3
		case c > q2:
			code = 2
		case c > q1:
			code = 1
		}
		d.Body[i/4] |= code << (2 * (i % 4))
	}
	return d, nil
}

// nonzero counts the kept buckets that were hit at all.
func nonzero(counts *[256]uint32) int {
	n := 0
	for _, c := range counts[:buckets] {
		if c != 0 {
			n++
		}
	}
	return n
}

// ratio is 100*q/q3 mod 16. The quotient is taken in single precision;
// that can differ from exact division only for counts above 2^17 (inputs
// of ten megabytes and more).
func ratio(q, q3 uint32) byte {
	return byte(uint32(float32(q*100)/float32(q3)) % 16)
}

// lengthCode maps a length to its one-byte logarithmic code: the steps
// grow by a factor of 1.5 up to 656 bytes, 1.3 up to 3199 bytes and 1.1
// beyond. The reference takes the logarithm in single precision and the
// rest in double precision; both matter for where the steps fall.
func lengthCode(n int) byte {
	const (
		log15 = 0.4054651
		log13 = 0.26236426
		log11 = 0.095310180
	)
	l := float64(float32(math.Log(float64(float32(n)))))
	var i int
	switch {
	case n <= 656:
		i = int(math.Floor(l / log15))
	case n <= 3199:
		i = int(math.Floor(l/log13 - 8.72777))
	default:
		i = int(math.Floor(l/log11 - 62.5472))
	}
	return byte(i)
}

// swap exchanges the two nibbles of b; the printed header holds its
// values nibble-swapped.
func swap(b byte) byte { return b<<4 | b>>4 }

// String formats d as the tool prints it: the header bytes nibble-swapped,
// then the body from its last byte to its first, in upper-case hex.
func (d Digest) String() string {
	var raw [hexLen / 2]byte
	raw[0] = swap(d.Checksum)
	raw[1] = swap(d.LValue)
	raw[2] = d.Q1Ratio<<4 | d.Q2Ratio&0x0f
	for i := range bodyBytes {
		raw[3+i] = d.Body[bodyBytes-1-i]
	}
	var out [hexLen]byte
	const digits = "0123456789ABCDEF"
	for i, b := range raw {
		out[2*i] = digits[b>>4]
		out[2*i+1] = digits[b&0x0f]
	}
	return string(out[:])
}

// Parse reads a digest in the printed form (70 hex digits, either case).
func Parse(s string) (Digest, error) {
	if len(s) != hexLen {
		return Digest{}, fmt.Errorf("tlsh: digest has %d characters, want %d", len(s), hexLen)
	}
	var raw [hexLen / 2]byte
	if _, err := hex.Decode(raw[:], []byte(s)); err != nil {
		return Digest{}, fmt.Errorf("tlsh: bad digest: %w", err)
	}
	d := Digest{
		Checksum: swap(raw[0]),
		LValue:   swap(raw[1]),
		Q1Ratio:  raw[2] >> 4,
		Q2Ratio:  raw[2] & 0x0f,
	}
	for i := range bodyBytes {
		d.Body[bodyBytes-1-i] = raw[3+i]
	}
	return d, nil
}
