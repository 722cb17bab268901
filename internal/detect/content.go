package detect

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// contentMatcher is a compiled contentSpec: size bounds on the whole
// length (what arrived, not only what was kept), byte patterns that must
// all be found, and a regular expression.
type contentMatcher struct {
	minSize, maxSize int64 // -1: none
	patterns         []bytePattern
	re               *regexp.Regexp
}

type bytePattern struct {
	b      []byte
	nocase bool
	offset int
	within int // 0: to the end
}

func compileContent(c *contentSpec, line int) (*contentMatcher, error) {
	if c == nil {
		return nil, nil
	}
	m := &contentMatcher{minSize: -1, maxSize: -1}
	if c.MinSize != nil {
		m.minSize = *c.MinSize
	}
	if c.MaxSize != nil {
		m.maxSize = *c.MaxSize
	}
	if m.minSize < -1 || (m.maxSize >= 0 && m.maxSize < m.minSize) {
		return nil, fmt.Errorf("%d: bad min_size/max_size", line)
	}
	for _, p := range c.Patterns {
		var bp bytePattern
		switch {
		case p.Hex != "" && p.Text != "":
			return nil, fmt.Errorf("%d: a pattern has hex or text, not both", line)
		case p.Hex != "":
			b, err := parseHex(p.Hex)
			if err != nil {
				return nil, fmt.Errorf("%d: %w", line, err)
			}
			bp.b = b
		case p.Text != "":
			bp.b = []byte(p.Text)
		default:
			return nil, fmt.Errorf("%d: a pattern needs hex or text", line)
		}
		if p.NoCase {
			bp.nocase = true
			bp.b = bytes.ToLower(bp.b)
		}
		if p.Offset < 0 || p.Within < 0 {
			return nil, fmt.Errorf("%d: offset and within are not negative", line)
		}
		if p.Within > 0 && p.Within < len(bp.b) {
			return nil, fmt.Errorf("%d: within %d is shorter than the pattern (%d bytes)", line, p.Within, len(bp.b))
		}
		bp.offset, bp.within = p.Offset, p.Within
		m.patterns = append(m.patterns, bp)
	}
	if c.Regex != "" {
		re, err := regexp.Compile(c.Regex)
		if err != nil {
			return nil, fmt.Errorf("%d: %w", line, err)
		}
		m.re = re
	}
	if m.minSize < 0 && m.maxSize < 0 && len(m.patterns) == 0 && m.re == nil {
		return nil, fmt.Errorf("%d: a content matcher needs min_size, max_size, patterns or regex", line)
	}
	return m, nil
}

// parseHex reads "04 01 01", "040101" or "|04 01|"-free hex with any
// spacing.
func parseHex(s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	b, err := hex.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("bad hex %q: %w", s, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("empty hex pattern")
	}
	return b, nil
}

// needsBytes says whether the matcher looks at the bytes, not only at
// the size.
func (m *contentMatcher) needsBytes() bool { return len(m.patterns) > 0 || m.re != nil }

// match checks size (the whole length) and then data (the bytes kept).
// It returns the span of the last thing found, for the record.
func (m *contentMatcher) match(size int64, data func() []byte) (ok bool, lo, hi int, seen []byte) {
	if m.minSize >= 0 && size < m.minSize {
		return false, 0, 0, nil
	}
	if m.maxSize >= 0 && size > m.maxSize {
		return false, 0, 0, nil
	}
	if !m.needsBytes() {
		return true, 0, 0, nil
	}
	b := data()
	if b == nil {
		return false, 0, 0, nil
	}
	var low []byte
	for _, p := range m.patterns {
		h := b
		if p.nocase {
			if low == nil {
				low = bytes.ToLower(b)
			}
			h = low
		}
		i := p.find(h)
		if i < 0 {
			return false, 0, 0, nil
		}
		lo, hi = i, i+len(p.b)
	}
	if m.re != nil {
		loc := matchBytesRegex(m.re, b)
		if loc == nil {
			return false, 0, 0, nil
		}
		lo, hi = loc[0], loc[1]
	}
	return true, lo, hi, b
}

func (p *bytePattern) find(h []byte) int {
	if p.offset >= len(h) {
		return -1
	}
	w := h[p.offset:]
	if p.within > 0 && p.within < len(w) {
		w = w[:p.within]
	}
	i := bytes.Index(w, p.b)
	if i < 0 {
		return -1
	}
	return p.offset + i
}

// matchBytesRegex runs re over b taking each byte as one character
// (Latin-1), so that \x81 in a rule matches the byte 0x81 whatever the
// bytes around it. The span returned is in bytes of b.
func matchBytesRegex(re *regexp.Regexp, b []byte) []int {
	if isASCII(b) {
		return re.FindIndex(b)
	}
	wide := make([]byte, 0, len(b)+len(b)/2)
	for _, c := range b {
		wide = utf8.AppendRune(wide, rune(c))
	}
	loc := re.FindIndex(wide)
	if loc == nil {
		return nil
	}
	// Map the offsets back: every byte >= 0x80 took two.
	back := func(off int) int {
		n, i := 0, 0
		for i < off {
			if wide[i] < 0x80 {
				i++
			} else {
				i += 2
			}
			n++
		}
		return n
	}
	return []int{back(loc[0]), back(loc[1])}
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
