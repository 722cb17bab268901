package mime

import "bytes"

// The decoders below are lenient, as mail clients are: a worm's message
// that a client would open is decoded the way that client decodes it, and
// nothing in the input makes them fail. Each writes at most max bytes and
// reports whether it stopped there with input left; none ever writes more
// than its input's length.

var b64 = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alpha); i++ {
		t[alpha[i]] = int8(i)
	}
	return t
}()

// DecodeBase64 decodes base64 text, skipping every byte outside the
// alphabet (line breaks, spaces, stray punctuation). A '=' ends the
// current quantum, so concatenated encodings decode one after another; a
// quantum left incomplete at the end yields the bytes it holds.
func DecodeBase64(in []byte, max int) (out []byte, truncated bool) {
	out = make([]byte, 0, min(len(in)/4*3+3, max))
	var acc uint32
	n := 0
	flush := func() bool {
		var b [3]byte
		k := 0
		switch n {
		case 2:
			b[0], k = byte(acc>>4), 1
		case 3:
			b[0], b[1], k = byte(acc>>10), byte(acc>>2), 2
		case 4:
			b[0], b[1], b[2], k = byte(acc>>16), byte(acc>>8), byte(acc), 3
		}
		acc, n = 0, 0
		if len(out)+k > max {
			out = append(out, b[:max-len(out)]...)
			return false
		}
		out = append(out, b[:k]...)
		return true
	}
	// flush fails only when the bytes it holds do not fit: input was left.
	for _, c := range in {
		if c == '=' {
			if !flush() {
				return out, true
			}
			continue
		}
		v := b64[c]
		if v < 0 {
			continue
		}
		acc = acc<<6 | uint32(v)
		if n++; n == 4 && !flush() {
			return out, true
		}
	}
	return out, !flush()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// DecodeQuotedPrintable decodes quoted-printable text: "=XX" (either case)
// is a byte, "=" at the end of a line joins it to the next, and any other
// "=" is kept as it stands.
func DecodeQuotedPrintable(in []byte, max int) (out []byte, truncated bool) {
	out = make([]byte, 0, min(len(in), max))
	for i := 0; i < len(in); {
		c, n := in[i], 1
		if c == '=' {
			c, n = qpEscape(in[i+1:])
		}
		if n < 0 {
			i -= n // a soft line break: nothing to write
			continue
		}
		if len(out) == max {
			return out, true
		}
		out = append(out, c)
		i += n
	}
	return out, false
}

// qpEscape reads what follows a '=': the byte it stands for and the input
// it takes (counting the '='), or a negative length for a soft line break.
func qpEscape(rest []byte) (byte, int) {
	switch {
	case hasPrefix(rest, "\r\n"):
		return 0, -3
	case hasPrefix(rest, "\n"):
		return 0, -2
	case len(rest) >= 2:
		if hi, ok := unhex(rest[0]); ok {
			if lo, ok := unhex(rest[1]); ok {
				return hi<<4 | lo, 3
			}
		}
	}
	// A soft break followed by trailing blanks, as some mailers leave it:
	// "=  \r\n".
	if j := skipBlanks(rest); j > 0 {
		if hasPrefix(rest[j:], "\r\n") {
			return 0, -(j + 3)
		}
		if hasPrefix(rest[j:], "\n") {
			return 0, -(j + 2)
		}
	}
	return '=', 1
}

func skipBlanks(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// UUBlock is one uuencoded file found in text.
type UUBlock struct {
	Name      string
	Data      []byte
	Truncated bool
}

// FindUUEncoded finds the uuencoded files in text: a "begin MODE NAME"
// line, encoded lines, and an "end" line (a block left open by a cut
// message yields what it holds). At most maxFiles are returned, each
// decoded up to maxSize bytes.
func FindUUEncoded(text []byte, maxFiles, maxSize int) []UUBlock {
	var out []UUBlock
	var cur *UUBlock
	for len(text) > 0 {
		var line []byte
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, nil
		}
		line = bytes.TrimRight(line, "\r")
		if cur == nil {
			if name, ok := uuBegin(line); ok {
				if len(out) == maxFiles {
					break
				}
				out = append(out, UUBlock{Name: name})
				cur = &out[len(out)-1]
			}
			continue
		}
		if string(bytes.TrimRight(line, " \t")) == "end" {
			cur = nil
			continue
		}
		cur.Data, cur.Truncated = uuLine(cur.Data, line, maxSize, cur.Truncated)
	}
	return out
}

// uuBegin recognises "begin 644 name".
func uuBegin(line []byte) (string, bool) {
	rest, ok := bytes.CutPrefix(line, []byte("begin "))
	if !ok {
		return "", false
	}
	mode, name, ok := bytes.Cut(rest, []byte(" "))
	if !ok || len(mode) < 3 || len(mode) > 4 {
		return "", false
	}
	for _, c := range mode {
		if c < '0' || c > '7' {
			return "", false
		}
	}
	name = bytes.TrimSpace(name)
	if len(name) == 0 {
		return "", false
	}
	return string(name), true
}

// uuLine decodes one encoded line onto out. Lines shortened by mailers
// that strip trailing blanks decode as if the blanks were there.
func uuLine(out, line []byte, max int, truncated bool) ([]byte, bool) {
	if len(line) == 0 || truncated {
		return out, truncated
	}
	n := int((line[0] - ' ') & 63)
	if n == 0 {
		return out, truncated
	}
	enc := line[1:]
	val := func(i int) uint32 {
		if i >= len(enc) {
			return 0
		}
		return uint32((enc[i] - ' ') & 63)
	}
	for i := 0; n > 0; i += 4 {
		if i >= len(enc) {
			break
		}
		v := val(i)<<18 | val(i+1)<<12 | val(i+2)<<6 | val(i+3)
		b := [3]byte{byte(v >> 16), byte(v >> 8), byte(v)}
		k := min(n, 3)
		if len(out)+k > max {
			return append(out, b[:max-len(out)]...), true
		}
		out = append(out, b[:k]...)
		n -= k
	}
	return out, false
}
