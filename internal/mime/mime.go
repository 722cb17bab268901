// Package mime takes a mail message apart the way a lenient mail client
// does, to find what it carries: its headers, its subject, and every
// attachment decoded (base64, quoted-printable, uuencode), whether
// declared as a file, hidden in a part whose type lies (Nimda's
// readme.exe came as audio/x-wav), or uuencoded in a text body.
//
// Parsing is pure and bounded: the input is one message already in
// memory, and Limits caps the entities walked, the nesting depth, each
// header block and each decoded attachment. A bound that is hit is named
// in Message.Cut; the parse then goes on as far as the bounds allow and
// never fails.
package mime

import (
	"bytes"
	stdmime "mime"
	"strconv"
	"strings"
)

// Limits bound one parse.
type Limits struct {
	// MaxParts bounds the entities walked (the message itself, every
	// multipart and every leaf).
	MaxParts int
	// MaxDepth bounds the nesting of multiparts and attached messages.
	MaxDepth int
	// MaxHeaderBytes bounds each header block; past it the headers are
	// not kept, but the body is still found.
	MaxHeaderBytes int
	// MaxAttachment bounds the decoded bytes kept of each attachment.
	MaxAttachment int
}

// DefaultLimits are the bounds used when a field of Limits is zero.
var DefaultLimits = Limits{MaxParts: 100, MaxDepth: 8, MaxHeaderBytes: 64 << 10, MaxAttachment: 10 << 20}

// Bounds named in Message.Cut.
const (
	CutParts      = "parts"
	CutDepth      = "depth"
	CutHeader     = "header_size"
	CutAttachment = "attachment_size"
)

// Header is one header field, unfolded, as sent.
type Header struct {
	Name  string
	Value string
}

// Attachment is one file a message carries.
type Attachment struct {
	// Name is the file name the message gives (RFC 2047/2231 decoded),
	// "" when it gives none. It is data only.
	Name string
	// ContentType is the declared media type, lower-case ("" when the
	// part declared none).
	ContentType string
	// Encoding is the transfer encoding it was decoded from: base64,
	// quoted-printable, uuencode, or the declared 7bit/8bit/binary.
	Encoding string
	// Data is the decoded file, at most Limits.MaxAttachment bytes.
	Data []byte
	// Truncated: the file was longer than Limits.MaxAttachment.
	Truncated bool
	// Unterminated: the multipart holding it never closed (a message
	// cut short ends this way), so the file may be incomplete.
	Unterminated bool
	// Path is the part's position: "1", "2.1", ... ("" for the body of
	// a single-part message).
	Path string
}

// Message is what a parse found.
type Message struct {
	// Header is the top-level header, in order.
	Header []Header
	// Subject is the decoded Subject header.
	Subject string
	// Attachments in the order they appear.
	Attachments []Attachment
	// Parts counts the entities walked.
	Parts int
	// Cut names each bound that was hit, once, in the order hit.
	Cut []string
}

// Get returns the first value of the named header field.
func (m *Message) Get(name string) string { return get(m.Header, name) }

func get(h []Header, name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

type parser struct {
	lim  Limits
	msg  *Message
	stop bool // MaxParts reached: nothing more is walked
}

// Parse takes raw apart. It never fails; see Message.Cut for the bounds
// that were hit.
func Parse(raw []byte, lim Limits) *Message {
	if lim.MaxParts <= 0 {
		lim.MaxParts = DefaultLimits.MaxParts
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultLimits.MaxDepth
	}
	if lim.MaxHeaderBytes <= 0 {
		lim.MaxHeaderBytes = DefaultLimits.MaxHeaderBytes
	}
	if lim.MaxAttachment <= 0 {
		lim.MaxAttachment = DefaultLimits.MaxAttachment
	}
	p := &parser{lim: lim, msg: &Message{}}
	h, body := p.splitHeader(raw)
	p.msg.Header = h
	p.msg.Subject = DecodeWords(get(h, "Subject"))
	p.entity(h, body, 0, "", false)
	return p.msg
}

func (p *parser) cut(reason string) {
	for _, r := range p.msg.Cut {
		if r == reason {
			return
		}
	}
	p.msg.Cut = append(p.msg.Cut, reason)
}

// splitHeader reads a header block: it ends at the first empty line, or
// at the first line that is neither a field nor a continuation (a message
// without header, a mangled one). The body is what follows.
func (p *parser) splitHeader(b []byte) ([]Header, []byte) {
	var h []Header
	size := 0
	full := false
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		line, next := b, []byte(nil)
		if i >= 0 {
			line, next = b[:i], b[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return h, next
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(h) == 0 {
				// A folded first line: no header at all.
				return h, b
			}
		} else if c := bytes.IndexByte(line, ':'); c <= 0 || bytes.ContainsAny(line[:c], " \t") && !validName(line[:c]) {
			if len(h) == 0 && bytes.HasPrefix(line, []byte("From ")) {
				// An mbox separator before the header.
				b = next
				continue
			}
			return h, b
		}
		size += len(line) + 2
		if size > p.lim.MaxHeaderBytes {
			if !full {
				full = true
				p.cut(CutHeader)
			}
		} else if line[0] == ' ' || line[0] == '\t' {
			last := &h[len(h)-1]
			last.Value = strings.TrimSpace(last.Value + " " + strings.TrimSpace(string(line)))
		} else {
			c := bytes.IndexByte(line, ':')
			h = append(h, Header{Name: string(bytes.TrimSpace(line[:c])), Value: strings.TrimSpace(string(line[c+1:]))})
		}
		b = next
	}
	return h, nil
}

// validName accepts "Subject :" (a blank before the colon), which some
// mailers write.
func validName(b []byte) bool {
	t := bytes.TrimRight(b, " \t")
	return len(t) > 0 && !bytes.ContainsAny(t, " \t")
}

// entity walks one entity: its header is h, its body body.
func (p *parser) entity(h []Header, body []byte, depth int, path string, unterminated bool) {
	if p.stop {
		return
	}
	p.msg.Parts++
	if p.msg.Parts > p.lim.MaxParts {
		p.msg.Parts = p.lim.MaxParts
		p.stop = true
		p.cut(CutParts)
		return
	}
	mt, params := mediaType(get(h, "Content-Type"))
	enc := strings.ToLower(strings.TrimSpace(get(h, "Content-Transfer-Encoding")))
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if depth >= p.lim.MaxDepth {
			p.cut(CutDepth)
			return
		}
		b := params["boundary"]
		if b == "" {
			// A multipart without boundary: read it as text.
			p.leaf(h, "text/plain", params, enc, body, path, unterminated)
			return
		}
		parts, closed := splitMultipart(body, b)
		if len(parts) == 0 && !closed {
			// No delimiter at all: read it as text.
			p.leaf(h, "text/plain", params, enc, body, path, unterminated)
			return
		}
		for i, part := range parts {
			if p.stop {
				return
			}
			ph, pb := p.splitHeader(part)
			last := i == len(parts)-1
			p.entity(ph, pb, depth+1, join(path, i+1), unterminated || last && !closed)
		}
	case mt == "message/rfc822" && filename(h, params) == "":
		if depth >= p.lim.MaxDepth {
			p.cut(CutDepth)
			return
		}
		inner, _ := decode(enc, body, len(body))
		ih, ib := p.splitHeader(inner)
		p.entity(ih, ib, depth+1, join(path, 1), unterminated)
	default:
		p.leaf(h, mt, params, enc, body, path, unterminated)
	}
}

func join(path string, i int) string {
	if path == "" {
		return strconv.Itoa(i)
	}
	return path + "." + strconv.Itoa(i)
}

// leaf keeps a leaf part as an attachment when it names a file or is not
// text; a text part is searched for uuencoded files instead.
func (p *parser) leaf(h []Header, mt string, params map[string]string, enc string, body []byte, path string, unterminated bool) {
	name := filename(h, params)
	isText := mt == "" || strings.HasPrefix(mt, "text/")
	if name == "" && isText {
		text, _ := decode(enc, body, len(body))
		room := p.lim.MaxParts - p.msg.Parts
		blocks := FindUUEncoded(text, room+1, p.lim.MaxAttachment)
		for _, u := range blocks {
			if p.msg.Parts >= p.lim.MaxParts {
				p.stop = true
				p.cut(CutParts)
				return
			}
			p.msg.Parts++
			if u.Truncated {
				p.cut(CutAttachment)
			}
			if len(u.Data) > 0 {
				p.msg.Attachments = append(p.msg.Attachments, Attachment{Name: u.Name, ContentType: mt,
					Encoding: "uuencode", Data: u.Data, Truncated: u.Truncated, Unterminated: unterminated, Path: path})
			}
		}
		return
	}
	data, trunc := decode(enc, body, p.lim.MaxAttachment)
	if trunc {
		p.cut(CutAttachment)
	}
	if len(data) == 0 {
		return
	}
	e := enc
	switch e {
	case "x-uuencode", "uuencode", "x-uue":
		e = "uuencode"
	case "":
		e = "7bit"
	}
	p.msg.Attachments = append(p.msg.Attachments, Attachment{Name: name, ContentType: mt, Encoding: e,
		Data: data, Truncated: trunc, Unterminated: unterminated, Path: path})
}

// decode undoes a transfer encoding; unknown encodings pass through.
func decode(enc string, body []byte, max int) ([]byte, bool) {
	switch enc {
	case "base64":
		return DecodeBase64(body, max)
	case "quoted-printable":
		return DecodeQuotedPrintable(body, max)
	case "x-uuencode", "uuencode", "x-uue":
		if bl := FindUUEncoded(body, 1, max); len(bl) > 0 {
			return bl[0].Data, bl[0].Truncated
		}
		return nil, false
	}
	if len(body) > max {
		return body[:max], true
	}
	return body, false
}

// filename is the name the part gives its file: Content-Disposition's
// filename, else Content-Type's name.
func filename(h []Header, ctParams map[string]string) string {
	if cd := get(h, "Content-Disposition"); cd != "" {
		_, dp := mediaType(cd)
		if n := dp["filename"]; n != "" {
			return DecodeWords(n)
		}
	}
	return DecodeWords(ctParams["name"])
}

// mediaType reads a Content-Type (or Content-Disposition) value: the
// standard parser first, for RFC 2231 parameters, then a lenient one for
// what mailers and worms really send.
func mediaType(v string) (string, map[string]string) {
	if v == "" {
		return "", map[string]string{}
	}
	if mt, params, err := stdmime.ParseMediaType(v); err == nil {
		return mt, params
	}
	parts := strings.Split(v, ";")
	mt := strings.ToLower(strings.TrimSpace(parts[0]))
	params := map[string]string{}
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' {
			if j := strings.IndexByte(val[1:], '"'); j >= 0 {
				val = val[1 : 1+j]
			} else {
				val = val[1:]
			}
		}
		if _, dup := params[k]; !dup && k != "" {
			params[k] = val
		}
	}
	return mt, params
}

// splitMultipart returns the body parts between boundary delimiter lines
// and whether the closing delimiter was seen. The line break before a
// delimiter belongs to the delimiter.
func splitMultipart(body []byte, boundary string) (parts [][]byte, closed bool) {
	delim := []byte("--" + boundary)
	start := -1 // start of the current part, -1 before the first delimiter
	for pos := 0; pos <= len(body); {
		i := bytes.Index(body[pos:], delim)
		if i < 0 {
			break
		}
		at := pos + i
		pos = at + len(delim)
		if at > 0 && body[at-1] != '\n' {
			continue
		}
		rest := body[pos:]
		isClose := bytes.HasPrefix(rest, []byte("--"))
		if isClose {
			rest = rest[2:]
		}
		// Only blanks may follow a delimiter on its line.
		j := skipBlanks(rest)
		if j < len(rest) && rest[j] != '\r' && rest[j] != '\n' {
			continue
		}
		if start >= 0 {
			end := at
			if end > start && body[end-1] == '\n' {
				end--
				if end > start && body[end-1] == '\r' {
					end--
				}
			}
			parts = append(parts, body[start:end])
		}
		if isClose {
			return parts, true
		}
		lineEnd := len(body)
		if k := bytes.IndexByte(body[pos:], '\n'); k >= 0 {
			lineEnd = pos + k + 1
		}
		start, pos = lineEnd, lineEnd
	}
	if start >= 0 && start <= len(body) {
		parts = append(parts, body[start:])
	}
	return parts, false
}

var wordDecoder = &stdmime.WordDecoder{}

// DecodeWords decodes RFC 2047 encoded words; text it cannot decode (an
// unknown charset, a malformed word) is returned as it came.
func DecodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		return d
	}
	return s
}
