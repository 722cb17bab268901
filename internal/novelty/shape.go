package novelty

import (
	"encoding/hex"
	"math/bits"
	"strconv"
	"strings"

	"github.com/smallpot/smallpot/internal/event"
)

// A probe's shape is what stays the same when the same tool sends the
// same probe again: the request without its variable parts. Each kind of
// event has its own normalizer; kinds without one have no shape.
//
//	request  METHOD path-template?query-keys VERSION [header names in order]
//	command  shell: program flags and argument classes, operators kept
//	payload  first bytes' classes and the length's power of two
//	rpc      program/version/procedure and the credential flavour
//	ssh      the client version's template and the HASSH fingerprint
//
// In a template, a run of digits is {n}, a run of 8 or more hex digits
// holding a digit is {h}, and a long or mixed letters-and-digits word (a
// random name) is {s}; bytes outside printable ASCII are {b}. Every shape
// is cut at maxShape bytes.
//
// The normalizers append to a buffer the analyzer reuses, so that a shape
// already seen, the common case of a flood of one probe, costs no
// allocation: it becomes a string only when new.

const (
	maxShape     = 512
	maxToken     = 64 // a templated path segment, query key or argument
	maxHeaders   = 40
	maxCmdTokens = 48
)

// shapeOf returns the shape of e, or "" when its kind has none.
func shapeOf(e *event.Event) string {
	return string(appendShape(nil, e))
}

// appendShape appends the shape of e to b, or nothing when its kind has
// none.
func appendShape(b []byte, e *event.Event) []byte {
	start := len(b)
	switch d := e.Detail.(type) {
	case *event.Request:
		b = appendRequestShape(b, d)
	case *event.Command:
		b = appendCommandShape(b, d)
	case *event.Payload:
		b = appendPayloadShape(b, d)
	case *event.RPC:
		b = appendRPCShape(b, d)
	case *event.SSH:
		b = appendSSHShape(b, d)
	default:
		return b
	}
	return cutFrom(b, start, maxShape)
}

// cut shortens s to at most n bytes.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// cutFrom shortens what was appended to b from start on to at most n
// bytes, on a character boundary of the (ASCII) shape.
func cutFrom(b []byte, start, n int) []byte {
	if len(b)-start <= n {
		return b
	}
	return b[:start+n]
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return (c|0x20)-'a' < 26 } // c|0x20: c in lower case
func isHex(c byte) bool    { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// appendTemplated appends s with its variable parts replaced (see above),
// cut at maxToken bytes.
func appendTemplated(b []byte, s string) []byte {
	if isPlain(s) {
		return append(b, cut(s, maxToken)...)
	}
	start := len(b)
	for i := 0; i < len(s) && len(b)-start <= maxToken; {
		c := s[i]
		switch {
		case isLetter(c) || isDigit(c):
			j := i
			for j < len(s) && (isLetter(s[j]) || isDigit(s[j])) {
				j++
			}
			b = appendWord(b, s[i:j])
			i = j
		case c == '%':
			j := percentEnd(s, i)
			b = append(b, s[i:j]...)
			i = j
		case c < 0x21 || c > 0x7e:
			for i < len(s) && (s[i] < 0x21 || s[i] > 0x7e) {
				i++
			}
			b = append(b, "{b}"...)
		default:
			b = append(b, c)
			i++
		}
	}
	return cutFrom(b, start, maxToken)
}

// isPlain tells whether s is its own template, as most header names and
// path segments are: letters and punctuation without a percent escape,
// no digit or byte outside printable ASCII, no run of more than 24
// letters.
func isPlain(s string) bool {
	letters := 0
	for i := range len(s) {
		switch c := s[i]; {
		case isLetter(c):
			letters++
			if letters > 24 {
				return false
			}
		case isDigit(c) || c == '%' || c < 0x21 || c > 0x7e:
			return false
		default:
			letters = 0
		}
	}
	return true
}

// percentEnd returns where the percent escape at s[i] ends. It is kept as
// sent: how a probe encodes its path (%255c, %c0%af) tells one exploit
// from another. So is a run of up to two hex digits right after it (the
// "5c" of a double-encoded %255c).
func percentEnd(s string, i int) int {
	j := i + 1
	if j < len(s) && (s[j] == 'u' || s[j] == 'U') && j+5 <= len(s) && allHex(s[j+1:j+5]) {
		j += 5
	} else if j+2 <= len(s) && allHex(s[j:j+2]) {
		j += 2
	}
	if k := j; k > i+1 {
		for k < len(s) && k < j+3 && (isLetter(s[k]) || isDigit(s[k])) {
			k++
		}
		if k-j <= 2 && allHex(s[j:k]) {
			j = k
		}
	}
	return j
}

// appendWord appends one run of letters and digits, templated.
func appendWord(b []byte, w string) []byte {
	digits, letters, hexOnly := 0, 0, true
	for i := range len(w) {
		if isDigit(w[i]) {
			digits++
		} else {
			letters++
		}
		hexOnly = hexOnly && isHex(w[i])
	}
	switch {
	case letters == 0:
		return append(b, "{n}"...)
	case hexOnly && digits > 0 && len(w) >= 8:
		return append(b, "{h}"...)
	case len(w) > 24 || digits > 0 && len(w) >= 12:
		return append(b, "{s}"...)
	case digits == 0:
		return append(b, w...)
	}
	for i := 0; i < len(w); {
		if isDigit(w[i]) {
			for i < len(w) && isDigit(w[i]) {
				i++
			}
			b = append(b, "{n}"...)
			continue
		}
		b = append(b, w[i])
		i++
	}
	return b
}

func allHex(s string) bool {
	for i := range len(s) {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// appendVerbatim appends s cut at n bytes, with bytes outside printable
// ASCII as {b}: for what is the same in every probe of a tool (a method,
// a protocol version, a shell's name).
func appendVerbatim(b []byte, s string, n int) []byte {
	s = cut(s, n)
	for {
		i := 0
		for i < len(s) && s[i] >= 0x21 && s[i] <= 0x7e {
			i++
		}
		b = append(b, s[:i]...)
		if i == len(s) {
			return b
		}
		b = append(b, "{b}"...)
		s = s[i+1:]
	}
}

func appendRequestShape(b []byte, r *event.Request) []byte {
	b = append(b, "request "...)
	if r.Malformed != "" {
		b = append(b, "malformed "...)
	}
	b = appendVerbatim(b, r.Method, 16)
	b = append(b, ' ')
	path, query, hasQuery := cutByte(r.URI, '?')
	b = appendParts(b, path, '/', false)
	if hasQuery {
		b = append(b, '?')
		b = appendParts(b, query, '&', true)
	}
	b = append(b, ' ')
	b = appendVerbatim(b, r.Version, 16)
	b = append(b, " ["...)
	for i, h := range r.Headers {
		if i > 0 {
			b = append(b, ',')
		}
		if i >= maxHeaders {
			b = append(b, "..."...)
			break
		}
		// Header names keep their case: it tells one client from another.
		b = appendTemplated(b, h.Name)
	}
	return append(b, ']')
}

// appendParts appends the parts of s between the separators sep, each
// templated (only its key, before any "=", when keys is set), the first 33
// of them, then "..." when there are more.
func appendParts(b []byte, s string, sep byte, keys bool) []byte {
	for i := 0; ; i++ {
		if i > 0 {
			b = append(b, sep)
		}
		if i > 32 {
			return append(b, "..."...)
		}
		part, rest, more := cutByte(s, sep)
		if keys {
			part, _, _ = cutByte(part, '=')
		}
		b = appendTemplated(b, part)
		if !more {
			return b
		}
		s = rest
	}
}

// cutByte is strings.Cut with a separator of one byte.
func cutByte(s string, sep byte) (before, after string, found bool) {
	if i := strings.IndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// appendCommandShape keeps a command line's programs, flags and operators
// and replaces every other argument with its class.
func appendCommandShape(b []byte, c *event.Command) []byte {
	b = append(b, "command "...)
	b = appendVerbatim(b, c.Shell, 24)
	b = append(b, ':')
	atCommand := true
	sc := shellScanner{line: c.Line}
	for i := 0; ; i++ {
		tok, ok := sc.next()
		if !ok {
			break
		}
		if i >= maxCmdTokens {
			b = append(b, " ..."...)
			break
		}
		b = append(b, ' ')
		switch {
		case tok.op:
			b = append(b, tok.text...)
			atCommand = tok.text != ">" && tok.text != ">>" && tok.text != "<" && tok.text != "2>"
			continue
		case atCommand && !tok.quoted && isAssignment(tok.text):
			b = append(b, "{var}="...)
			continue
		case atCommand && !tok.quoted:
			b = appendProgram(b, tok.text)
		case !tok.quoted && strings.HasPrefix(tok.text, "-") && len(tok.text) <= 24:
			k, _, hasValue := strings.Cut(tok.text, "=")
			b = appendTemplated(b, k)
			if hasValue {
				b = append(b, "={s}"...)
			}
		default:
			b = append(b, argClass(tok.text)...)
		}
		atCommand = false
	}
	return b
}

type shellToken struct {
	text   string
	op     bool
	quoted bool
}

// shellScanner splits a command line into words and operators the way a
// shell reads it, roughly: quotes group, ; | & && || > >> < 2> separate.
// Nothing is expanded or run.
type shellScanner struct {
	line string
	i    int // where the next token starts, or the space before it
}

// next returns the next token, or false at the end of the line.
func (s *shellScanner) next() (shellToken, bool) {
	line := s.line
	for s.i < len(line) {
		i := s.i
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			s.i++
		case c == ';' || c == '|' || c == '&' || c == '>' || c == '<' || c == '(' || c == ')' || c == '`':
			j := i + 1
			if j < len(line) && (line[j] == c && (c == '|' || c == '&' || c == '>')) {
				j++
			}
			s.i = j
			return shellToken{text: line[i:j], op: true}, true
		case c == '2' && i+1 < len(line) && line[i+1] == '>' && (i == 0 || line[i-1] == ' '):
			s.i += 2
			return shellToken{text: "2>", op: true}, true
		default:
			return s.word(), true
		}
	}
	return shellToken{}, false
}

// word reads a word, its quotes taken out. A word without quotes is a
// part of the line; only one with quotes is copied.
func (s *shellScanner) word() shellToken {
	line, start, i := s.line, s.i, s.i
	var w strings.Builder // the word, once a quote is met
	quoted := false
	for i < len(line) {
		c := line[i]
		if c == '\'' || c == '"' {
			if !quoted {
				w.WriteString(line[start:i])
				quoted = true
			}
			end := strings.IndexByte(line[i+1:], c)
			if end < 0 {
				w.WriteString(line[i+1:])
				i = len(line)
				break
			}
			w.WriteString(line[i+1 : i+1+end])
			i += end + 2
			continue
		}
		if endsWord(c) {
			break
		}
		if quoted {
			w.WriteByte(c)
		}
		i++
	}
	s.i = i
	if !quoted {
		return shellToken{text: line[start:i]}
	}
	return shellToken{text: w.String(), quoted: true}
}

// endsWord tells whether c ends a word outside quotes: a space or the
// start of an operator.
func endsWord(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ';', '|', '&', '>', '<', '(', ')', '`':
		return true
	}
	return false
}

func isAssignment(s string) bool {
	eq := strings.IndexByte(s, '=')
	if eq <= 0 {
		return false
	}
	for i := range eq {
		if !(isLetter(s[i]) || s[i] == '_' || i > 0 && isDigit(s[i])) {
			return false
		}
	}
	return true
}

// appendProgram names the command run: its base name when it looks like
// one, marked when given with a directory.
func appendProgram(b []byte, s string) []byte {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		b = append(b, "{dir}/"...)
		s = s[i+1:]
	}
	for i := range len(s) {
		c := s[i]
		if !(isLetter(c) || isDigit(c) || c == '.' || c == '_' || c == '-' || c == '+') {
			return append(b, "{s}"...)
		}
	}
	if s == "" || len(s) > 24 {
		return append(b, "{s}"...)
	}
	return appendTemplated(b, s)
}

// argClass names what kind of literal an argument is.
func argClass(s string) string {
	switch {
	case s == "":
		return "{s}"
	case strings.Contains(s, "://"):
		return "{url}"
	case isIPv4Port(s):
		return "{ip}"
	case allDigits(s):
		return "{n}"
	case strings.IndexByte(s, '/') >= 0 || strings.IndexByte(s, '\\') >= 0:
		return "{path}"
	}
	return "{s}"
}

func allDigits(s string) bool {
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// isIPv4Port tells whether s is four numbers from 0 to 255 between dots,
// as strconv.Atoi reads them, and whatever follows a colon.
func isIPv4Port(s string) bool {
	host, _, _ := strings.Cut(s, ":")
	for i := range 4 {
		part, rest, more := strings.Cut(host, ".")
		if more != (i < 3) || !isOctet(part) {
			return false
		}
		host = rest
	}
	return true
}

// isOctet tells whether p is at most 3 bytes that strconv.Atoi reads as a
// number from 0 to 255: digits after an optional sign, so "+1" and "-0"
// are.
func isOctet(p string) bool {
	if len(p) > 3 {
		return false
	}
	neg := p != "" && p[0] == '-'
	if neg || p != "" && p[0] == '+' {
		p = p[1:]
	}
	if p == "" {
		return false
	}
	n := 0
	for i := range len(p) {
		if !isDigit(p[i]) {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 255 && !(neg && n > 0)
}

// appendPayloadShape classes the first bytes of a payload: a binary
// protocol's first two bytes are kept as they are (its magic), a text
// protocol's first word; each of the first 16 bytes then counts as a
// letter (a), a digit (9), a space (_), CR or LF (n), NUL (0), other
// binary (x) or the punctuation it is. The length is rounded to its power
// of two.
func appendPayloadShape(b []byte, p *event.Payload) []byte {
	b = append(b, "payload "...)
	data := p.Data
	if len(data) > 0 && !(data[0] >= 0x20 && data[0] < 0x7f) {
		b = hex.AppendEncode(b, data[:min(2, len(data))])
	} else {
		n := 0
		for n < len(data) && n < 12 && isLetter(data[n]) {
			n++
		}
		// At most 12 letters: a word its template keeps as it is.
		b = append(b, data[:n]...)
	}
	b = append(b, ' ')
	for _, c := range data[:min(16, len(data))] {
		switch {
		case isLetter(c):
			b = append(b, 'a')
		case isDigit(c):
			b = append(b, '9')
		case c == ' ' || c == '\t':
			b = append(b, '_')
		case c == '\r' || c == '\n':
			b = append(b, 'n')
		case c == 0:
			b = append(b, '0')
		case c > 0x20 && c < 0x7f:
			b = append(b, c)
		default:
			b = append(b, 'x')
		}
	}
	n := max(p.Len, int64(len(data)))
	b = append(b, " len<2^"...)
	return strconv.AppendInt(b, int64(bits.Len64(uint64(n))), 10)
}

func appendRPCShape(b []byte, r *event.RPC) []byte {
	b = append(b, "rpc "...)
	b = strconv.AppendUint(b, uint64(r.Program), 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(r.Version), 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(r.Procedure), 10)
	b = append(b, " auth="...)
	b = appendVerbatim(b, r.Auth, 16)
	if r.Malformed != "" {
		b = append(b, " malformed"...)
	}
	return b
}

func appendSSHShape(b []byte, s *event.SSH) []byte {
	b = append(b, "ssh "...)
	b = appendTemplated(b, s.ClientVersion)
	b = append(b, " hassh="...)
	if len(s.HASSH) != 32 || !allHex(s.HASSH) {
		return append(b, '-')
	}
	return append(b, s.HASSH...)
}
