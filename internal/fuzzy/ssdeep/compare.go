package ssdeep

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Parsed is a hash split into its block size and two parts, with runs of
// more than three identical characters cut to three, as Compare sees it.
// Parsing once and comparing many times saves the work for an index.
type Parsed struct {
	BlockSize uint64
	Part1     string
	Part2     string
}

var errFormat = errors.New("ssdeep: malformed hash")

// Parse reads a hash "blocksize:part1:part2". Anything from a comma on
// after the second part (ssdeep's ',"filename"') is ignored.
func Parse(s string) (Parsed, error) {
	bs, rest, err := parseBlockSize(s)
	if err != nil {
		return Parsed{}, err
	}
	p1, p2, ok := strings.Cut(rest, ":")
	if !ok {
		return Parsed{}, errFormat
	}
	p2, _, _ = strings.Cut(p2, ",")
	if strings.IndexByte(p2, ':') >= 0 {
		return Parsed{}, errFormat
	}
	p1, p2 = squeeze(p1), squeeze(p2)
	if len(p1) > maxLength || len(p2) > maxLength {
		return Parsed{}, fmt.Errorf("ssdeep: hash part longer than %d characters", maxLength)
	}
	return Parsed{BlockSize: bs, Part1: p1, Part2: p2}, nil
}

// parseBlockSize reads the block size before the first colon and returns
// the rest after it.
func parseBlockSize(s string) (uint64, string, error) {
	text, rest, ok := strings.Cut(s, ":")
	if !ok || text == "" {
		return 0, "", errFormat
	}
	bs, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("ssdeep: block size: %w", errors.Unwrap(err))
	}
	return bs, rest, nil
}

// squeeze cuts every run of more than three identical characters to three.
func squeeze(s string) string {
	for i := 3; i < len(s); i++ {
		if s[i] == s[i-1] && s[i] == s[i-2] && s[i] == s[i-3] {
			return squeezeFrom(s, i)
		}
	}
	return s
}

func squeezeFrom(s string, i int) string {
	b := []byte(s[:i])
	for ; i < len(s); i++ {
		n := len(b)
		if n >= 3 && s[i] == b[n-1] && s[i] == b[n-2] && s[i] == b[n-3] {
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

// Compare scores the similarity of two hashes from 0 (nothing in common)
// to 100 (identical), as `ssdeep -a -k` prints it. It fails when a hash is
// malformed; as in the reference, hashes whose block sizes are not
// comparable score 0 once their block sizes are read, whatever follows.
func Compare(a, b string) (int, error) {
	bsA, _, err := parseBlockSize(a)
	if err != nil {
		return 0, err
	}
	bsB, _, err := parseBlockSize(b)
	if err != nil {
		return 0, err
	}
	if !comparable(bsA, bsB) {
		return 0, nil
	}
	pa, err := Parse(a)
	if err != nil {
		return 0, err
	}
	pb, err := Parse(b)
	if err != nil {
		return 0, err
	}
	return Score(pa, pb), nil
}

// comparable reports whether hashes of block sizes a and b can be
// compared: equal, or one twice the other.
func comparable(a, b uint64) bool {
	return a == b || (b <= maxBlock/2 && a == 2*b) || (a <= maxBlock/2 && b == 2*a)
}

// Score is Compare for parsed hashes.
func Score(a, b Parsed) int {
	switch {
	case a.BlockSize == b.BlockSize:
		if a.Part1 == b.Part1 && a.Part2 == b.Part2 {
			return 100
		}
		return max(scoreParts(a.Part1, b.Part1, a.BlockSize),
			scoreParts(a.Part2, b.Part2, a.BlockSize*2))
	case a.BlockSize == b.BlockSize*2 && b.BlockSize <= maxBlock/2:
		return scoreParts(a.Part1, b.Part2, a.BlockSize)
	case b.BlockSize == a.BlockSize*2 && a.BlockSize <= maxBlock/2:
		return scoreParts(a.Part2, b.Part1, b.BlockSize)
	}
	return 0
}

// maxBlock is the largest block size the reference holds (an unsigned
// long); a doubling past it does not wrap around.
const maxBlock = 1<<64 - 1

// scoreParts scores two parts hashed at block size bs.
func scoreParts(s1, s2 string, bs uint64) int {
	if len(s1) > maxLength || len(s2) > maxLength || !shareRun(s1, s2) {
		return 0
	}
	d := editDistance(s1, s2)
	d = d * maxLength / (len(s1) + len(s2))
	d = 100 * d / maxLength
	if d >= 100 {
		return 0
	}
	score := 100 - d
	// At small block sizes short hashes match by chance; cap their score
	// by how much input they can stand for.
	const uncapped = (99 + window) / window * minBlockSize
	if bs < uncapped {
		if limit := int(bs/minBlockSize) * min(len(s1), len(s2)); score > limit {
			score = limit
		}
	}
	return score
}

// shareRun reports whether s1 and s2 have a common substring of seven
// characters, the window of the rolling hash: without one, the inputs
// share no piece boundary context and the score is 0.
func shareRun(s1, s2 string) bool {
	if len(s1) < window || len(s2) < window {
		return false
	}
	// Both parts hold at most 64 characters: compare directly.
	for i := 0; i+window <= len(s1); i++ {
		if strings.Contains(s2, s1[i:i+window]) {
			return true
		}
	}
	return false
}

// editDistance is the Levenshtein distance with insertions and deletions
// costing 1 and substitutions 2 (so a substitution is never cheaper than
// a deletion plus an insertion).
func editDistance(s1, s2 string) int {
	var rowBuf [2][maxLength + 1]int
	prev, cur := rowBuf[0][:len(s2)+1], rowBuf[1][:len(s2)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(s1); i++ {
		cur[0] = i
		for j := 1; j <= len(s2); j++ {
			sub := prev[j-1]
			if s1[i-1] != s2[j-1] {
				sub += 2
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(s2)]
}
