package detect

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"unicode"
	"unicode/utf8"
)

// Literals for the prefilter (prefilter.go). A list of literals is a
// disjunction: a text a matcher holds on contains one of them, once the
// text's ASCII letters are lower-cased (lowerASCII), so every literal
// is lower-case too. nil means that nothing is known: the matcher may
// hold on any text.

const (
	// maxExact bounds the strings a part of a regular expression is
	// expanded to (a class, letters matched without case, a product).
	maxExact = 16
	// maxLits bounds the alternatives of one list of literals.
	maxLits = 256
)

// usable returns l when it can serve as a requirement: not empty, not
// too long, and without the empty string (which every text contains).
func usable(l []string) []string {
	if len(l) == 0 || len(l) > maxLits || slices.Contains(l, "") {
		return nil
	}
	return l
}

// better reports whether a is a more selective requirement than b: its
// shortest literal is longer, or as long with fewer alternatives.
func better(a, b []string) bool {
	switch {
	case a == nil:
		return false
	case b == nil:
		return true
	}
	if la, lb := minLen(a), minLen(b); la != lb {
		return la > lb
	}
	return len(a) < len(b)
}

func minLen(l []string) int {
	n := len(l[0])
	for _, s := range l[1:] {
		n = min(n, len(s))
	}
	return n
}

// lowerAll is l with lowerASCII applied to each string.
func lowerAll(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = lowerASCII(s)
	}
	return out
}

// dedup sorts l and drops repeated strings.
func dedup(l []string) []string {
	slices.Sort(l)
	return slices.Compact(l)
}

// literals returns strings one of which lowerASCII(s) contains whenever
// m matches s, or nil. Each operator must hold and each lists
// alternatives, so the most selective one gives the literals. A text
// without '%' is not changed by URL decoding, so a decoding matcher
// also accepts "%".
func (m *textMatcher) literals() []string {
	var best []string
	for _, l := range [][]string{m.equals, m.prefix, m.suffix, m.contains} {
		if c := usable(lowerAll(l)); better(c, best) {
			best = c
		}
	}
	if c := regexpsLiterals(m.re, false); better(c, best) {
		best = c
	}
	if best != nil && m.urldecode {
		best = append(slices.Clone(best), "%")
	}
	return best
}

// regexpsLiterals returns literals for a list of alternative regular
// expressions: one of each's.
func regexpsLiterals(res []*regexp.Regexp, latin1 bool) []string {
	var all []string
	for _, re := range res {
		l := regexpLiterals(re.String(), latin1)
		if l == nil {
			return nil
		}
		all = append(all, l...)
	}
	return usable(dedup(all))
}

// literals returns strings one of which lowerASCII(b) contains whenever
// m matches the bytes b, or nil. A matcher on the size alone has none.
func (m *contentMatcher) literals() []string {
	var best []string
	for _, p := range m.patterns {
		if c := p.literals(); better(c, best) {
			best = c
		}
	}
	if m.re != nil {
		if c := regexpLiterals(m.re.String(), true); better(c, best) {
			best = c
		}
	}
	return best
}

// literals returns what a byte pattern needs. A pattern without case is
// looked for in bytes.ToLower of the data, which maps U+0130 to 'i',
// U+212A to 'k' and invalid bytes to U+FFFD: only its runs of other
// ASCII bytes are sure to be in lowerASCII of the data, and the longest
// is taken.
func (p *bytePattern) literals() []string {
	if !p.nocase {
		return usable([]string{lowerASCII(string(p.b))})
	}
	var best []byte
	start := 0
	for i := 0; i <= len(p.b); i++ {
		if i < len(p.b) && p.b[i] < utf8.RuneSelf && p.b[i] != 'i' && p.b[i] != 'k' {
			continue
		}
		if i-start > len(best) {
			best = p.b[start:i]
		}
		start = i + 1
	}
	return usable([]string{lowerASCII(string(best))})
}

// regexpLiterals returns strings one of which lowerASCII of every match
// of expr contains, or nil. The text is UTF-8 (an invalid byte reads as
// U+FFFD), or one rune per byte when latin1 (matchBytesRegex).
func regexpLiterals(expr string, latin1 bool) []string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	return usable(reLits(re, latin1).req)
}

// reInfo is what a part of a regular expression tells of its matches:
// exact, when not nil, lists every string it can match; req, when not
// nil, strings one of which every match contains.
type reInfo struct {
	exact, req []string
}

// exactInfo is the info of a part that matches one of l exactly.
func exactInfo(l []string) reInfo {
	if l == nil {
		return reInfo{}
	}
	return reInfo{exact: l, req: usable(l)}
}

var emptyWidth = exactInfo([]string{""})

func reLits(re *syntax.Regexp, latin1 bool) reInfo {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return emptyWidth
	case syntax.OpLiteral:
		parts := make([]reInfo, len(re.Rune))
		for i, r := range re.Rune {
			parts[i] = exactInfo(runeStrings(r, re.Flags&syntax.FoldCase != 0, latin1))
		}
		return concatInfo(parts)
	case syntax.OpCharClass:
		return exactInfo(classStrings(re.Rune, latin1))
	case syntax.OpCapture:
		return reLits(re.Sub[0], latin1)
	case syntax.OpPlus:
		return reInfo{req: reLits(re.Sub[0], latin1).req}
	case syntax.OpQuest:
		return optional(reLits(re.Sub[0], latin1))
	case syntax.OpRepeat:
		sub := reLits(re.Sub[0], latin1)
		switch {
		case re.Min == 1 && re.Max == 1:
			return sub
		case re.Min >= 1:
			return reInfo{req: sub.req}
		case re.Max == 1:
			return optional(sub)
		}
	case syntax.OpConcat:
		parts := make([]reInfo, len(re.Sub))
		for i, s := range re.Sub {
			parts[i] = reLits(s, latin1)
		}
		return concatInfo(parts)
	case syntax.OpAlternate:
		return alternateInfo(re.Sub, latin1)
	}
	return reInfo{} // any character, a star, no match
}

// optional is the info of a part that matches sub or nothing.
func optional(sub reInfo) reInfo {
	if sub.exact == nil || len(sub.exact) >= maxExact {
		return reInfo{}
	}
	return reInfo{exact: dedup(append(slices.Clone(sub.exact), ""))}
}

// concatInfo combines parts matched one after the other: the exact
// strings of consecutive exact parts multiply, up to maxExact, and the
// most selective requirement of a part or of such a run is kept.
func concatInfo(parts []reInfo) reInfo {
	run := []string{""}
	whole := true
	var best []string
	consider := func(l []string) {
		if l = usable(l); better(l, best) {
			best = l
		}
	}
	for _, p := range parts {
		consider(p.req)
		if p.exact == nil {
			consider(run)
			run, whole = []string{""}, false
			continue
		}
		if len(run)*len(p.exact) > maxExact {
			consider(run)
			run, whole = p.exact, false
			continue
		}
		run = product(run, p.exact)
	}
	consider(run)
	if whole {
		return reInfo{exact: run, req: best}
	}
	return reInfo{req: best}
}

func product(a, b []string) []string {
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return dedup(out)
}

// alternateInfo: a match is one of the alternatives'.
func alternateInfo(subs []*syntax.Regexp, latin1 bool) reInfo {
	var exact, req []string
	exactOK, reqOK := true, true
	for _, s := range subs {
		in := reLits(s, latin1)
		exactOK = exactOK && in.exact != nil
		reqOK = reqOK && in.req != nil
		exact = append(exact, in.exact...)
		req = append(req, in.req...)
	}
	var out reInfo
	if exactOK {
		if exact = dedup(exact); len(exact) <= maxExact {
			out.exact = exact
		}
	}
	if reqOK {
		out.req = usable(dedup(req))
	}
	return out
}

// runeStrings lists the strings rune r can be in the lower-cased text,
// with its case variants when fold, or nil when it is not sure to be
// any of a few strings: U+FFFD in UTF-8 (an invalid byte matches it).
// In latin1 text a rune past U+00FF never matches and is left out.
func runeStrings(r rune, fold, latin1 bool) []string {
	rs := []rune{r}
	if fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			rs = append(rs, f)
		}
	}
	return runeTexts(rs, latin1)
}

// runeTexts lists the runes as they are in the lower-cased text, each
// once, or nil when one is not sure or none can be there.
func runeTexts(rs []rune, latin1 bool) []string {
	var out []string
	for _, x := range rs {
		s, ok := runeText(x, latin1)
		if !ok {
			return nil
		}
		if s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return dedup(out)
}

// runeText is rune r as it is in the lower-cased text ("" when it
// cannot be there), ok false when that is not sure.
func runeText(r rune, latin1 bool) (string, bool) {
	if 'A' <= r && r <= 'Z' {
		r += 'a' - 'A'
	}
	switch {
	case latin1 && r > 0xff:
		return "", true
	case latin1:
		return string([]byte{byte(r)}), true
	case r == utf8.RuneError:
		return "", false
	}
	return string(r), true
}

// classStrings lists the strings a small character class can match, or
// nil.
func classStrings(ranges []rune, latin1 bool) []string {
	n := 0
	for i := 0; i+1 < len(ranges); i += 2 {
		n += int(ranges[i+1]-ranges[i]) + 1
		if n > maxExact {
			return nil
		}
	}
	rs := make([]rune, 0, n)
	for i := 0; i+1 < len(ranges); i += 2 {
		for r := ranges[i]; r <= ranges[i+1]; r++ {
			rs = append(rs, r)
		}
	}
	return runeTexts(rs, latin1)
}
