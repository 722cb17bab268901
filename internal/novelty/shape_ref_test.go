package novelty

// This file keeps the shape normalizers as they were before they were
// rewritten to append to a reused buffer (shape.go), every name prefixed
// with ref: the reference the rewrite is checked against
// (TestShapeReference, FuzzShapeReference) and measured against
// (BenchmarkShapeSeen). It is not to follow shape.go: a change of what a
// shape is must change both, on purpose, and the tests then say where
// they differ.

import (
	"encoding/hex"
	"hash/fnv"
	"math/bits"
	"strconv"
	"strings"

	"github.com/smallpot/smallpot/internal/event"
)

// refShapeKey is the key of a shape as Analyzer.shape computed it: FNV-64a
// of the sensor, service, kind and shape, each followed by a NUL.
func refShapeKey(e *event.Event, s string) uint64 {
	h := fnv.New64a()
	for _, part := range []string{e.Sensor, e.Service, string(e.Kind), s} {
		_, _ = h.Write([]byte(part))
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

// refShapeSeen is what Analyzer.shape did for a shape already seen (or
// an event without one), up to its return.
func refShapeSeen(a *Analyzer, e *event.Event) bool {
	s := refShapeOf(e)
	if s == "" {
		return true
	}
	return a.shapes.seen(refShapeKey(e, s))
}

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
// is cut at refMaxShape bytes.

const (
	refMaxShape     = 512
	refMaxToken     = 64 // a templated path segment, query key or argument
	refMaxHeaders   = 40
	refMaxCmdTokens = 48
)

// refShapeOf returns the shape of e, or "" when its kind has none.
func refShapeOf(e *event.Event) string {
	var s string
	switch d := e.Detail.(type) {
	case *event.Request:
		s = refRequestShape(d)
	case *event.Command:
		s = refCommandShape(d)
	case *event.Payload:
		s = refPayloadShape(d)
	case *event.RPC:
		s = refRpcShape(d)
	case *event.SSH:
		s = refSshShape(d)
	default:
		return ""
	}
	return refCut(s, refMaxShape)
}

// refCut shortens s to at most n bytes, on a character boundary of the
// (ASCII) shape.
func refCut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func refIsDigit(c byte) bool  { return '0' <= c && c <= '9' }
func refIsLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func refIsHex(c byte) bool    { return refIsDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// refTemplate writes s to b with its variable parts replaced (see above).
func refTemplate(b *strings.Builder, s string) {
	start := b.Len()
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case refIsLetter(c) || refIsDigit(c):
			j := i
			for j < len(s) && (refIsLetter(s[j]) || refIsDigit(s[j])) {
				j++
			}
			refWord(b, s[i:j])
			i = j
		case c == '%':
			// A percent escape is kept as sent: how a probe encodes its
			// path (%255c, %c0%af) tells one exploit from another. So is
			// a run of up to two hex digits right after it (the "5c" of
			// a double-encoded %255c).
			j := i + 1
			if j < len(s) && (s[j] == 'u' || s[j] == 'U') && j+5 <= len(s) && refAllHex(s[j+1:j+5]) {
				j += 5
			} else if j+2 <= len(s) && refAllHex(s[j:j+2]) {
				j += 2
			}
			if k := j; k > i+1 {
				for k < len(s) && k < j+3 && (refIsLetter(s[k]) || refIsDigit(s[k])) {
					k++
				}
				if k-j <= 2 && refAllHex(s[j:k]) {
					j = k
				}
			}
			b.WriteString(s[i:j])
			i = j
		case c < 0x21 || c > 0x7e:
			for i < len(s) && (s[i] < 0x21 || s[i] > 0x7e) {
				i++
			}
			b.WriteString("{b}")
		default:
			b.WriteByte(c)
			i++
		}
		if b.Len()-start > refMaxToken*8 {
			return
		}
	}
}

// refWord writes one run of letters and digits, templated.
func refWord(b *strings.Builder, w string) {
	digits, letters, hexOnly := 0, 0, true
	for i := range len(w) {
		if refIsDigit(w[i]) {
			digits++
		} else {
			letters++
		}
		hexOnly = hexOnly && refIsHex(w[i])
	}
	switch {
	case letters == 0:
		b.WriteString("{n}")
	case hexOnly && digits > 0 && len(w) >= 8:
		b.WriteString("{h}")
	case len(w) > 24 || digits > 0 && len(w) >= 12:
		b.WriteString("{s}")
	default:
		for i := 0; i < len(w); {
			if refIsDigit(w[i]) {
				for i < len(w) && refIsDigit(w[i]) {
					i++
				}
				b.WriteString("{n}")
				continue
			}
			b.WriteByte(w[i])
			i++
		}
	}
}

func refAllHex(s string) bool {
	for i := range len(s) {
		if !refIsHex(s[i]) {
			return false
		}
	}
	return true
}

// refVerbatim returns s cut at n bytes, with bytes outside printable ASCII
// as {b}: for what is the same in every probe of a tool (a method, a
// protocol version, a shell's name).
func refVerbatim(s string, n int) string {
	s = refCut(s, n)
	for i := range len(s) {
		if s[i] < 0x21 || s[i] > 0x7e {
			var b strings.Builder
			for j := range len(s) {
				if c := s[j]; c < 0x21 || c > 0x7e {
					b.WriteString("{b}")
				} else {
					b.WriteByte(c)
				}
			}
			return b.String()
		}
	}
	return s
}

// refTemplated returns refTemplate(s), cut at refMaxToken bytes.
func refTemplated(s string) string {
	var b strings.Builder
	refTemplate(&b, s)
	return refCut(b.String(), refMaxToken)
}

func refRequestShape(r *event.Request) string {
	var b strings.Builder
	b.WriteString("request ")
	if r.Malformed != "" {
		b.WriteString("malformed ")
	}
	b.WriteString(refVerbatim(r.Method, 16))
	b.WriteByte(' ')
	path, query, hasQuery := strings.Cut(r.URI, "?")
	for i, seg := range strings.Split(path, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		if i > 32 {
			b.WriteString("...")
			break
		}
		b.WriteString(refTemplated(seg))
	}
	if hasQuery {
		b.WriteByte('?')
		for i, kv := range strings.Split(query, "&") {
			if i > 0 {
				b.WriteByte('&')
			}
			if i > 32 {
				b.WriteString("...")
				break
			}
			k, _, _ := strings.Cut(kv, "=")
			b.WriteString(refTemplated(k))
		}
	}
	b.WriteByte(' ')
	b.WriteString(refVerbatim(r.Version, 16))
	b.WriteString(" [")
	for i, h := range r.Headers {
		if i > 0 {
			b.WriteByte(',')
		}
		if i >= refMaxHeaders {
			b.WriteString("...")
			break
		}
		// Header names keep their case: it tells one client from another.
		b.WriteString(refTemplated(h.Name))
	}
	b.WriteByte(']')
	return b.String()
}

// refCommandShape keeps a command line's programs, flags and operators and
// replaces every other argument with its class.
func refCommandShape(c *event.Command) string {
	var b strings.Builder
	b.WriteString("command ")
	b.WriteString(refVerbatim(c.Shell, 24))
	b.WriteString(":")
	atCommand := true
	for i, tok := range refShellTokens(c.Line) {
		if i >= refMaxCmdTokens {
			b.WriteString(" ...")
			break
		}
		b.WriteByte(' ')
		switch {
		case tok.op:
			b.WriteString(tok.text)
			atCommand = tok.text != ">" && tok.text != ">>" && tok.text != "<" && tok.text != "2>"
			continue
		case atCommand && !tok.quoted && refIsAssignment(tok.text):
			b.WriteString("{var}=")
			continue
		case atCommand && !tok.quoted:
			b.WriteString(refProgram(tok.text))
		case !tok.quoted && strings.HasPrefix(tok.text, "-") && len(tok.text) <= 24:
			k, _, hasValue := strings.Cut(tok.text, "=")
			b.WriteString(refTemplated(k))
			if hasValue {
				b.WriteString("={s}")
			}
		default:
			b.WriteString(refArgClass(tok.text))
		}
		atCommand = false
	}
	return b.String()
}

type refShellToken struct {
	text   string
	op     bool
	quoted bool
}

// refShellTokens splits a command line into words and operators the way a
// shell reads it, roughly: quotes group, ; | & && || > >> < 2> separate.
// Nothing is expanded or run.
func refShellTokens(line string) []refShellToken {
	var out []refShellToken
	i := 0
	for i < len(line) && len(out) <= refMaxCmdTokens {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == ';' || c == '|' || c == '&' || c == '>' || c == '<' || c == '(' || c == ')' || c == '`':
			j := i + 1
			if j < len(line) && (line[j] == c && (c == '|' || c == '&' || c == '>')) {
				j++
			}
			out = append(out, refShellToken{text: line[i:j], op: true})
			i = j
		case c == '2' && i+1 < len(line) && line[i+1] == '>' && (i == 0 || line[i-1] == ' '):
			out = append(out, refShellToken{text: "2>", op: true})
			i += 2
		default:
			var w strings.Builder
			quoted := false
			for i < len(line) {
				c := line[i]
				if c == '\'' || c == '"' {
					quoted = true
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
				if strings.IndexByte(" \t\r\n;|&><()`", c) >= 0 {
					break
				}
				w.WriteByte(c)
				i++
			}
			out = append(out, refShellToken{text: w.String(), quoted: quoted})
		}
	}
	return out
}

func refIsAssignment(s string) bool {
	eq := strings.IndexByte(s, '=')
	if eq <= 0 {
		return false
	}
	for i := range eq {
		if !(refIsLetter(s[i]) || s[i] == '_' || i > 0 && refIsDigit(s[i])) {
			return false
		}
	}
	return true
}

// refProgram names the command run: its base name when it looks like one,
// marked when given with a directory.
func refProgram(s string) string {
	dir := ""
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		dir, s = "{dir}/", s[i+1:]
	}
	for i := range len(s) {
		c := s[i]
		if !(refIsLetter(c) || refIsDigit(c) || c == '.' || c == '_' || c == '-' || c == '+') {
			return dir + "{s}"
		}
	}
	if s == "" || len(s) > 24 {
		return dir + "{s}"
	}
	return dir + refTemplated(s)
}

// refArgClass names what kind of literal an argument is.
func refArgClass(s string) string {
	switch {
	case s == "":
		return "{s}"
	case strings.Contains(s, "://"):
		return "{url}"
	case refIsIPv4Port(s):
		return "{ip}"
	case strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0:
		return "{n}"
	case strings.ContainsAny(s, "/\\"):
		return "{path}"
	}
	return "{s}"
}

func refIsIPv4Port(s string) bool {
	host, _, _ := strings.Cut(s, ":")
	parts := strings.Split(host, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 255 || len(p) > 3 {
			return false
		}
	}
	return true
}

// refPayloadShape classes the first bytes of a payload: a binary protocol's
// first two bytes are kept as they are (its magic), a text protocol's
// first word; each of the first 16 bytes then counts as a letter (a), a
// digit (9), a space (_), CR or LF (n), NUL (0), other binary (x) or the
// punctuation it is. The length is rounded to its power of two.
func refPayloadShape(p *event.Payload) string {
	var b strings.Builder
	b.WriteString("payload ")
	data := p.Data
	if len(data) > 0 && !(data[0] >= 0x20 && data[0] < 0x7f) {
		b.WriteString(hex.EncodeToString(data[:min(2, len(data))]))
	} else {
		n := 0
		for n < len(data) && n < 12 && refIsLetter(data[n]) {
			n++
		}
		b.WriteString(refTemplated(string(data[:n])))
	}
	b.WriteByte(' ')
	for _, c := range data[:min(16, len(data))] {
		switch {
		case refIsLetter(c):
			b.WriteByte('a')
		case refIsDigit(c):
			b.WriteByte('9')
		case c == ' ' || c == '\t':
			b.WriteByte('_')
		case c == '\r' || c == '\n':
			b.WriteByte('n')
		case c == 0:
			b.WriteByte('0')
		case c > 0x20 && c < 0x7f:
			b.WriteByte(c)
		default:
			b.WriteByte('x')
		}
	}
	n := p.Len
	if n < int64(len(data)) {
		n = int64(len(data))
	}
	b.WriteString(" len<2^")
	b.WriteString(strconv.Itoa(bits.Len64(uint64(n))))
	return b.String()
}

func refRpcShape(r *event.RPC) string {
	s := "rpc " + strconv.FormatUint(uint64(r.Program), 10) + "/" + strconv.FormatUint(uint64(r.Version), 10) +
		"/" + strconv.FormatUint(uint64(r.Procedure), 10) + " auth=" + refVerbatim(r.Auth, 16)
	if r.Malformed != "" {
		s += " malformed"
	}
	return s
}

func refSshShape(s *event.SSH) string {
	h := s.HASSH
	if len(h) != 32 || strings.IndexFunc(h, func(r rune) bool { return r > 0x7f || !refIsHex(byte(r)) }) >= 0 {
		h = "-"
	}
	return "ssh " + refTemplated(s.ClientVersion) + " hassh=" + h
}
