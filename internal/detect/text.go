package detect

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Text matches one string field. In YAML it is a string (equals), a list
// of strings (equals any), or a mapping of operators that must all hold,
// each taking one value or a list of alternatives:
//
//	path: {suffix: .ida, nocase: true}
//	query: {regex: '^X{100,}', min_len: 200}
type Text struct {
	Equals    []string
	Contains  []string
	Prefix    []string
	Suffix    []string
	Regex     []string
	NoCase    bool
	URLDecode bool
	MinLen    int
	MaxLen    int

	line int
}

var textKeys = []string{"contains", "equals", "max_len", "min_len", "nocase", "prefix", "regex", "suffix", "urldecode"}

// UnmarshalYAML reads the three forms, rejecting unknown operators.
func (t *Text) UnmarshalYAML(n *yaml.Node) error {
	t.line = n.Line
	switch n.Kind {
	case yaml.ScalarNode:
		t.Equals = []string{n.Value}
		return nil
	case yaml.SequenceNode:
		return n.Decode(&t.Equals)
	case yaml.MappingNode:
	default:
		return fmt.Errorf("%d: want a string, a list of strings or a mapping of operators", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err error
		switch k.Value {
		case "equals":
			err = decodeList(v, &t.Equals)
		case "contains":
			err = decodeList(v, &t.Contains)
		case "prefix":
			err = decodeList(v, &t.Prefix)
		case "suffix":
			err = decodeList(v, &t.Suffix)
		case "regex":
			err = decodeList(v, &t.Regex)
		case "nocase":
			err = v.Decode(&t.NoCase)
		case "urldecode":
			err = v.Decode(&t.URLDecode)
		case "min_len":
			err = v.Decode(&t.MinLen)
		case "max_len":
			err = v.Decode(&t.MaxLen)
		default:
			return fmt.Errorf("%d: unknown operator %q (known: %s)", k.Line, k.Value, strings.Join(textKeys, ", "))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func decodeList(n *yaml.Node, into *[]string) error {
	var l stringList
	if err := l.UnmarshalYAML(n); err != nil {
		return err
	}
	*into = append(*into, l...)
	return nil
}

// textMatcher is a compiled Text.
type textMatcher struct {
	equals, contains, prefix, suffix []string
	re                               []*regexp.Regexp
	nocase, urldecode                bool
	minLen, maxLen                   int
	// one is set when the matcher is a single case-sensitive equality,
	// the common case, checked without a loop.
	one    string
	hasOne bool
}

func compileText(t *Text) (*textMatcher, error) {
	if t == nil {
		return nil, nil
	}
	if len(t.Equals)+len(t.Contains)+len(t.Prefix)+len(t.Suffix)+len(t.Regex) == 0 && t.MinLen == 0 && t.MaxLen == 0 {
		return nil, fmt.Errorf("%d: a text matcher needs at least one of equals, contains, prefix, suffix, regex, min_len, max_len", t.line)
	}
	if t.MinLen < 0 || t.MaxLen < 0 || (t.MaxLen > 0 && t.MaxLen < t.MinLen) {
		return nil, fmt.Errorf("%d: bad min_len/max_len", t.line)
	}
	m := &textMatcher{nocase: t.NoCase, urldecode: t.URLDecode, minLen: t.MinLen, maxLen: t.MaxLen}
	low := func(l []string) []string {
		if !t.NoCase {
			return slices.Clone(l)
		}
		out := make([]string, len(l))
		for i, s := range l {
			out[i] = strings.ToLower(s)
		}
		return out
	}
	m.equals, m.contains, m.prefix, m.suffix = low(t.Equals), low(t.Contains), low(t.Prefix), low(t.Suffix)
	for _, r := range t.Regex {
		if t.NoCase {
			r = "(?i)" + r
		}
		re, err := regexp.Compile(r)
		if err != nil {
			return nil, fmt.Errorf("%d: %w", t.line, err)
		}
		m.re = append(m.re, re)
	}
	if len(m.equals) == 1 && len(m.contains)+len(m.prefix)+len(m.suffix)+len(m.re) == 0 &&
		!m.nocase && !m.urldecode && m.minLen == 0 && m.maxLen == 0 {
		m.one, m.hasOne = m.equals[0], true
	}
	return m, nil
}

// match reports whether s matches, and where (in s as given, or in its
// decoded form, which is then returned as the third result). memo, when
// not nil, keeps the decoded and lower-cased texts for other matchers.
func (m *textMatcher) match(s string, memo *textMemo) (ok bool, lo, hi int, seen string) {
	if m.hasOne {
		if s == m.one {
			return true, 0, len(s), s
		}
		return false, 0, 0, s
	}
	if m.urldecode {
		s = memo.decode(s)
	}
	if len(s) < m.minLen || (m.maxLen > 0 && len(s) > m.maxLen) {
		return false, 0, 0, s
	}
	seen = s
	h := s
	if m.nocase {
		h = memo.lower(s)
	}
	lo, hi = 0, len(s)
	if len(m.equals) > 0 && !slices.Contains(m.equals, h) {
		return false, 0, 0, seen
	}
	if len(m.prefix) > 0 {
		i := slices.IndexFunc(m.prefix, func(p string) bool { return strings.HasPrefix(h, p) })
		if i < 0 {
			return false, 0, 0, seen
		}
		lo, hi = 0, len(m.prefix[i])
	}
	if len(m.suffix) > 0 {
		i := slices.IndexFunc(m.suffix, func(p string) bool { return strings.HasSuffix(h, p) })
		if i < 0 {
			return false, 0, 0, seen
		}
		lo, hi = len(h)-len(m.suffix[i]), len(h)
	}
	if len(m.contains) > 0 {
		found := false
		for _, c := range m.contains {
			if j := strings.Index(h, c); j >= 0 {
				lo, hi, found = j, j+len(c), true
				break
			}
		}
		if !found {
			return false, 0, 0, seen
		}
	}
	if len(m.re) > 0 {
		found := false
		for _, re := range m.re {
			if loc := re.FindStringIndex(s); loc != nil {
				lo, hi, found = loc[0], loc[1], true
				break
			}
		}
		if !found {
			return false, 0, 0, seen
		}
	}
	return true, lo, hi, seen
}

// textMemo remembers, for one event, the texts URL decoding and lower
// casing made of its fields, so that each is made once rather than by
// every rule that looks. It keeps only texts that changed, and a few.
type textMemo struct {
	decoded, lowered []memoText
}

type memoText struct{ in, out string }

// maxMemo bounds the texts a memo keeps of each form.
const maxMemo = 16

// decode is urlDecode(s), lower lowerASCII(s); a nil memo only calls
// them.
func (c *textMemo) decode(s string) string {
	if c == nil {
		return urlDecode(s)
	}
	return remember(&c.decoded, s, urlDecode)
}

func (c *textMemo) lower(s string) string {
	if c == nil {
		return lowerASCII(s)
	}
	return remember(&c.lowered, s, lowerASCII)
}

// remember returns f(s), from l when it is there.
func remember(l *[]memoText, s string, f func(string) string) string {
	for _, t := range *l {
		if t.in == s {
			return t.out
		}
	}
	out := f(s)
	if out != s && len(*l) < maxMemo {
		*l = append(*l, memoText{in: s, out: out})
	}
	return out
}

// reset forgets the texts, keeping the room.
func (c *textMemo) reset() textMemo {
	clear(c.decoded)
	clear(c.lowered)
	return textMemo{decoded: c.decoded[:0], lowered: c.lowered[:0]}
}

// lowerASCII lower-cases ASCII letters only, so that byte offsets stay
// those of the original string; it allocates only when s has a capital.
func lowerASCII(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return 'A' <= r && r <= 'Z' })
	if i < 0 {
		return s
	}
	b := []byte(s)
	for j := i; j < len(b); j++ {
		if c := b[j]; 'A' <= c && c <= 'Z' {
			b[j] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// urlDecode decodes %XX escapes leniently (a bad escape stays as it is),
// repeating while something changes, up to three rounds, so that double
// and triple encodings (%252e) read as what the server ends up seeing.
func urlDecode(s string) string {
	for range 3 {
		if strings.IndexByte(s, '%') < 0 {
			return s
		}
		d := decodeOnce(s)
		if d == s {
			return s
		}
		s = d
	}
	return s
}

func decodeOnce(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
