package http

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/smallpot/smallpot/internal/event"
)

// Source is what the parser reads from: a session's *service.Reader, or
// one made with service.NewReader over bytes in tests.
type Source interface {
	io.Reader
	// Peek returns buffered bytes without consuming them, reading once
	// when none are buffered.
	Peek(n int) ([]byte, error)
	// Discard consumes n bytes; the parser discards only bytes Peek
	// returned.
	Discard(n int) (int, error)
}

// Limits bound the work and memory of one request.
type Limits struct {
	MaxLine        int // bytes of the request line
	MaxHeaderBytes int // bytes of all header lines together
	MaxHeaders     int // header lines
	Capture        int // bytes kept of the whole request, line through body
}

// Request is one request as it arrived.
type Request struct {
	Line    string // the request line as sent (bounded by MaxLine)
	Method  string
	URI     string
	Version string // "HTTP/1.1"; "" for a simple (HTTP/0.9) request
	Headers []event.Header
	// Body is the body as the client meant it (chunks decoded), bounded
	// by Capture.
	Body []byte
	// BodyLen counts the body's bytes as received, past the bound too.
	BodyLen int64
	Chunked bool
	// Raw is exactly what the client sent for this request, request
	// line through body, bounded by Capture; Head is its part before
	// the body. Raw, Head and Body may share their bytes with each other
	// and with the request's strings: they are read, never written.
	Raw  []byte
	Head []byte
	// Truncated is set when Raw or Body was cut at Capture.
	Truncated bool
	// LongLine is set when the request line was longer than MaxLine.
	LongLine bool
	// Malformed says why the request cannot be served; "" when it is
	// well formed.
	Malformed string
	// Incomplete is set when the input ended or failed inside the
	// request.
	Incomplete bool
}

// trimName is strings.TrimRight(name, " \t"): a header name without the
// blanks before its colon.
func trimName(name string) string {
	for len(name) > 0 && (name[len(name)-1] == ' ' || name[len(name)-1] == '\t') {
		name = name[:len(name)-1]
	}
	return name
}

// Header returns the first value of the named header, ignoring case.
func (r *Request) Header(name string) (string, bool) {
	for _, h := range r.Headers {
		if strings.EqualFold(trimName(h.Name), name) {
			return h.Value, true
		}
	}
	return "", false
}

// HasToken reports whether a comma-separated header (Connection) holds
// token, ignoring case.
func (r *Request) HasToken(name, token string) bool {
	for _, h := range r.Headers {
		if !strings.EqualFold(trimName(h.Name), name) {
			continue
		}
		// The pieces strings.Split(h.Value, ",") would make, without its
		// slice.
		for rest, more := h.Value, true; more; {
			var t string
			t, rest, more = strings.Cut(rest, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Path and query of the URI as sent: the split at the first '?', with an
// absolute URI's scheme and authority removed.
func (r *Request) rawPathQuery() (string, string, bool) {
	u := r.URI
	if i := strings.Index(u, "://"); i > 0 && !strings.Contains(u[:i], "/") {
		rest := u[i+3:]
		j := strings.IndexAny(rest, "/?")
		if j < 0 {
			u = "/"
		} else {
			u = rest[j:]
		}
	}
	p, q, ok := strings.Cut(u, "?")
	return p, q, ok
}

// Malformed reasons.
const (
	BadEmptyLine     = "empty request line"
	BadRequestLine   = "bad request line"
	BadMethod        = "bad method"
	BadVersion       = "bad version"
	BadURI           = "bad uri"
	BadLongLine      = "request line too long"
	BadHeaderLine    = "bad header line"
	BadManyHeaders   = "too many headers"
	BadLongHeaders   = "headers too long"
	BadLength        = "bad content-length"
	BadEncoding      = "unsupported transfer-encoding"
	BadChunk         = "bad chunk"
	BadIncomplete    = "incomplete request"
	maxChunkLine     = 1024
	peekSize         = 4096
	errLineTooLong   = lineError("line too long")
	drainBufferBytes = 4096
)

type lineError string

func (e lineError) Error() string { return string(e) }

// ReadRequest reads one request from src. It returns nil and the error
// when input ends before the first byte of a request. Otherwise it returns
// the request — malformed or incomplete ones too, as data — and the I/O
// error that stopped it, if any: the caller answers what it can and ends
// the connection on an error or a malformed request.
func ReadRequest(src Source, lim Limits) (*Request, error) {
	var req Request
	ok, err := readRequest(src, lim, &req, nil)
	if !ok {
		return nil, err
	}
	return &req, err
}

// readRequest is ReadRequest into req, which is zero; it returns false
// where ReadRequest returns nil. The headers go in hdr's room (len 0)
// when they fit, without an allocation of their own.
func readRequest(src Source, lim Limits, req *Request, hdr []event.Header) (bool, error) {
	r := &reader{src: src, cap: lim.Capture, inHead: true, hdr: hdr}
	line, err := r.line(lim.MaxLine)
	if err != nil && len(r.raw) == 0 && r.n == 0 {
		return false, err
	}
	req.Line = r.text(line, 0)
	finish := func(err error) (bool, error) {
		req.Raw = r.bytes()
		req.Truncated = req.Truncated || r.cut
		if err != nil && !errors.Is(err, errLineTooLong) {
			req.Incomplete = true
			if req.Malformed == "" {
				req.Malformed = BadIncomplete
			}
			return true, err
		}
		return true, nil
	}
	switch {
	case errors.Is(err, errLineTooLong):
		req.LongLine = true
		req.Malformed = BadLongLine
		return finish(nil)
	case err != nil:
		return finish(err)
	}
	parseLine(req)
	if req.Version == "" && req.Malformed == "" {
		// A simple request has no headers.
		req.Head = r.head()
		return finish(nil)
	}
	if err := readHeaders(r, req, lim); err != nil {
		return finish(err)
	}
	r.inHead = false
	req.Head = r.head()
	if req.Malformed != "" {
		return finish(nil)
	}
	return finish(readBody(r, req, lim))
}

// parseLine splits the request line; it sets Malformed when the line is
// not METHOD SP URI [SP HTTP/x.y].
func parseLine(req *Request) {
	l := req.Line
	if l == "" {
		req.Malformed = BadEmptyLine
		return
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; c < 0x20 || c == 0x7f {
			req.Malformed = BadRequestLine
			break
		}
	}
	// Split at single spaces, as strings.Split(l, " ") would; the usual
	// two or three fields without its slice.
	switch strings.Count(l, " ") {
	case 1:
		req.Method, req.URI, _ = strings.Cut(l, " ")
	case 2:
		var rest string
		req.Method, rest, _ = strings.Cut(l, " ")
		req.URI, req.Version, _ = strings.Cut(rest, " ")
	default:
		f := strings.Split(l, " ")
		if req.Malformed == "" {
			req.Malformed = BadRequestLine
		}
		if len(f) > 0 {
			req.Method = f[0]
		}
		if len(f) > 1 {
			req.URI = f[1]
		}
		return
	}
	if req.Malformed != "" {
		return
	}
	if req.Method == "" || !isToken(req.Method) {
		req.Malformed = BadMethod
		return
	}
	if req.URI == "" {
		req.Malformed = BadURI
		return
	}
	if req.Version != "" && !validVersion(req.Version) {
		req.Malformed = BadVersion
	}
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// validVersion accepts HTTP/d.d with one or two digits each side.
func validVersion(v string) bool {
	rest, ok := strings.CutPrefix(v, "HTTP/")
	if !ok {
		return false
	}
	maj, min, ok := strings.Cut(rest, ".")
	return ok && len(maj) >= 1 && len(maj) <= 2 && len(min) >= 1 && len(min) <= 2 &&
		isDigits(maj) && isDigits(min)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// readHeaders reads header lines up to the blank line. A malformed request
// line still has its header block read, as IIS answers only once the
// block has ended.
func readHeaders(r *reader, req *Request, lim Limits) error {
	used := 0
	lines := 0
	for {
		room := lim.MaxHeaderBytes - used
		if room <= 0 {
			req.Malformed = BadLongHeaders
			return nil
		}
		before := r.n
		line, err := r.line(min(room, lim.MaxLine))
		used += int(r.n - before)
		if errors.Is(err, errLineTooLong) {
			setMalformed(req, BadLongHeaders)
			return nil
		}
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		lines++
		if lines > lim.MaxHeaders {
			setMalformed(req, BadManyHeaders)
			return nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			// A folded line continues the previous header.
			if len(req.Headers) == 0 {
				setMalformed(req, BadHeaderLine)
				continue
			}
			h := &req.Headers[len(req.Headers)-1]
			h.Value = strings.TrimRight(h.Value+" "+strings.Trim(string(line), " \t"), " \t")
			continue
		}
		i := bytes.IndexByte(line, ':')
		if i < 0 || len(bytes.TrimSpace(line[:i])) == 0 {
			setMalformed(req, BadHeaderLine)
			continue
		}
		if req.Headers == nil {
			if n := r.headLines(before); n <= cap(r.hdr) {
				req.Headers = r.hdr[:0]
			} else {
				req.Headers = make([]event.Header, 0, n)
			}
		}
		// Name and value are pieces of one string, most often the
		// window of the head that the request line's string is a piece
		// of too.
		ls := r.text(line, before)
		req.Headers = append(req.Headers, event.Header{Name: ls[:i], Value: strings.Trim(ls[i+1:], " \t")})
	}
}

func setMalformed(req *Request, why string) {
	if req.Malformed == "" {
		req.Malformed = why
	}
}

// readBody reads a Content-Length or chunked body.
func readBody(r *reader, req *Request, lim Limits) error {
	var te []string
	var lengths []string
	for _, h := range req.Headers {
		switch name := trimName(h.Name); {
		case lowerIs(name, "transfer-encoding"):
			for _, t := range strings.Split(h.Value, ",") {
				if t = strings.ToLower(strings.TrimSpace(t)); t != "" && t != "identity" {
					te = append(te, t)
				}
			}
		case lowerIs(name, "content-length"):
			lengths = append(lengths, strings.Trim(h.Value, " \t"))
		}
	}
	if len(te) > 0 {
		if te[len(te)-1] != "chunked" {
			req.Malformed = BadEncoding
			return nil
		}
		req.Chunked = true
		return readChunked(r, req, lim)
	}
	if len(lengths) == 0 {
		return nil
	}
	for _, l := range lengths[1:] {
		if l != lengths[0] {
			req.Malformed = BadLength
			return nil
		}
	}
	n, err := strconv.ParseInt(lengths[0], 10, 64)
	if err != nil || n < 0 || !isDigits(lengths[0]) {
		req.Malformed = BadLength
		return nil
	}
	if n == 0 {
		return nil
	}
	r.own(min(n, peekSize)) // room for what may be buffered, not what is claimed
	start := len(r.raw)
	got, err := r.body(n, nil)
	req.BodyLen = got
	if start < len(r.raw) {
		req.Body = r.raw[start:len(r.raw):len(r.raw)]
	}
	if int64(len(req.Body)) < got {
		req.Truncated = true
	}
	return err
}

// lowerIs reports whether strings.ToLower(s) == lower, without ToLower's
// allocation when s is ASCII.
func lowerIs(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.ToLower(s) == lower
		}
	}
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// readChunked decodes a chunked body into req.Body, bounded by Capture.
func readChunked(r *reader, req *Request, lim Limits) error {
	var body []byte
	defer func() { req.Body = body }()
	for {
		line, err := r.line(maxChunkLine)
		if errors.Is(err, errLineTooLong) {
			req.Malformed = BadChunk
			return nil
		}
		if err != nil {
			return err
		}
		s := string(line)
		if i := strings.IndexByte(s, ';'); i >= 0 {
			s = s[:i]
		}
		s = strings.Trim(s, " \t")
		size, perr := strconv.ParseInt(s, 16, 64)
		if perr != nil || size < 0 || s == "" || s[0] == '+' || s[0] == '-' {
			req.Malformed = BadChunk
			return nil
		}
		if size == 0 {
			// Trailers, up to the blank line.
			for i := 0; ; i++ {
				t, err := r.line(lim.MaxLine)
				if errors.Is(err, errLineTooLong) || i >= lim.MaxHeaders {
					req.Malformed = BadChunk
					return nil
				}
				if err != nil {
					return err
				}
				if len(t) == 0 {
					return nil
				}
			}
		}
		kept := 0
		got, err := r.body(size, func(b []byte) {
			take := min(len(b), lim.Capture-len(body))
			body = append(body, b[:take]...)
			kept += take
		})
		req.BodyLen += got
		if int64(kept) < got {
			req.Truncated = true
		}
		if err != nil {
			return err
		}
		end, err := r.line(2)
		if errors.Is(err, errLineTooLong) || (err == nil && len(end) != 0) {
			req.Malformed = BadChunk
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// reader reads lines and bodies from a Source, keeping every byte it
// consumes in raw up to cap.
type reader struct {
	src Source
	hdr []event.Header // room for the headers, when they fit
	raw []byte
	cap int
	cut bool  // bytes were consumed past cap
	n   int64 // bytes consumed

	// While inHead is set, the lines are the request line and headers,
	// which become strings: a whole line read from the buffer outside
	// win makes win a string of what is buffered from that line to the
	// end of the head (or of the buffer), so that text can return the
	// request's strings as pieces of one allocation. win starts at the
	// byte consumed at winAt.
	inHead   bool
	win      string
	winAt    int64
	winWhole bool // the head ends in win
	// shared: raw is nil, and what it would hold, every byte consumed
	// so far, is win[:n]. A request that is all head, buffered whole
	// (a scanner's), is then kept in one allocation, not two: its bytes
	// are copied out of win only when more is read (see own).
	shared bool
}

// own gives raw its own copy of what it shares with win, with room for
// more bytes when more are known to come (at least 512 in all).
func (r *reader) own(more int64) {
	if r.shared {
		r.shared = false
		r.raw = make([]byte, r.n, min(max(r.n+more, 512), int64(r.cap)))
		copy(r.raw, r.win)
	}
}

// bytes returns raw, or while it is shared, win's bytes that it would
// hold: read-only, as they are the string's.
func (r *reader) bytes() []byte {
	if r.shared {
		return unsafe.Slice(unsafe.StringData(r.win), r.n)[:r.n:r.n]
	}
	return r.raw
}

// head returns raw's bytes so far, the request's head once it is read,
// capped: appending to them never writes into raw.
func (r *reader) head() []byte {
	b := r.bytes()
	return b[:len(b):len(b)]
}

// headLines returns how many lines the head has from the byte consumed
// at at to its blank line, when they are in win; else 8, a guess.
func (r *reader) headLines(at int64) int {
	if off := at - r.winAt; r.winWhole && off >= 0 && off < int64(len(r.win)) {
		return max(strings.Count(r.win[off:], "\n")-1, 1)
	}
	return 8
}

// text returns line, read from the byte consumed at at, as a string: a
// piece of win when win holds those very bytes there, else a copy.
func (r *reader) text(line []byte, at int64) string {
	if off := at - r.winAt; off >= 0 && off+int64(len(line)) <= int64(len(r.win)) {
		if s := r.win[off : off+int64(len(line))]; s == string(line) {
			return s
		}
	}
	return string(line)
}

// headEnd returns the length of buf's bytes up to and including its first
// blank line and true, or len(buf) and false when there is none.
func headEnd(buf []byte) (int, bool) {
	for i := 0; ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return len(buf), false
		}
		i += j + 1
		if i < len(buf) && buf[i] == '\n' {
			return i + 1, true
		}
		if i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n' {
			return i + 2, true
		}
	}
}

func (r *reader) keep(b []byte) {
	r.own(int64(len(b)))
	r.n += int64(len(b))
	room := r.cap - len(r.raw)
	if room <= 0 {
		if len(b) > 0 {
			r.cut = true
		}
		return
	}
	if len(b) > room {
		r.raw = append(r.raw, b[:room]...)
		r.cut = true
		return
	}
	r.raw = append(r.raw, b...)
}

// line reads one line of at most max bytes, its "\n" or "\r\n" removed.
// Past max it consumes max bytes and returns them with errLineTooLong.
// The input ending mid-line returns what was read and the error.
func (r *reader) line(max int) ([]byte, error) {
	if line, ok := r.bufferedLine(max); ok {
		return line, nil
	}
	var out []byte
	limit := max + 1 // room for the '\r' of "\r\n"
	for {
		buf, err := r.src.Peek(peekSize)
		if len(buf) == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			return out[:min(len(out), max)], err
		}
		end := len(buf)
		nl := bytes.IndexByte(buf, '\n')
		if nl >= 0 {
			end = nl + 1
		}
		content := end
		if nl >= 0 {
			content = nl
		}
		tooLong := len(out)+content > limit
		if tooLong {
			end = limit - len(out)
		}
		start := len(out)
		out = slices.Grow(out, end)[:start+end]
		if _, err := io.ReadFull(r.src, out[start:]); err != nil {
			return out[:start], err
		}
		r.keep(out[start:])
		if tooLong {
			return out[:min(len(out), max)], errLineTooLong
		}
		if nl >= 0 {
			out = out[:len(out)-1]
			if n := len(out); n > 0 && out[n-1] == '\r' {
				out = out[:n-1]
			}
			if len(out) > max {
				// max+1 bytes with no '\r' to drop: one too many.
				return out[:max], errLineTooLong
			}
			if out == nil {
				out = []byte{}
			}
			return out, nil
		}
	}
}

// bufferedLine is line's common case: a whole line of at most max bytes is
// buffered and fits in what raw keeps. It is read straight into raw, and
// the line returned is a piece of raw, valid until the next read.
func (r *reader) bufferedLine(limit int) ([]byte, bool) {
	buf, _ := r.src.Peek(peekSize)
	nl := bytes.IndexByte(buf, '\n')
	if nl < 0 || len(r.bytes())+nl+1 > r.cap {
		return nil, false
	}
	content := nl
	if nl > 0 && buf[nl-1] == '\r' {
		content--
	}
	if content > limit {
		return nil, false
	}
	if r.inHead && (r.n < r.winAt || r.n+int64(content) > r.winAt+int64(len(r.win))) {
		r.own(int64(nl + 1)) // before win changes
		end, whole := headEnd(buf)
		r.win, r.winAt, r.winWhole = string(buf[:end]), r.n, whole
		r.shared = r.n == 0
	}
	if r.shared {
		if r.inHead && r.n+int64(nl+1) <= int64(len(r.win)) {
			// The line is win's next bytes: consumed, not copied.
			if _, err := r.src.Discard(nl + 1); err != nil {
				// Peeked bytes are there to discard; this does not happen.
				return nil, false
			}
			r.n += int64(nl + 1)
			return buf[:content:content], true
		}
		r.own(int64(nl + 1))
	}
	if r.raw == nil {
		// The first line: what is buffered is likely the whole head,
		// and when it is, all there is of the request so far.
		size := max(len(buf), 512)
		if r.winWhole {
			size = len(buf)
		}
		r.raw = make([]byte, 0, min(size, r.cap))
	}
	start := len(r.raw)
	r.raw = slices.Grow(r.raw, nl+1)[:start+nl+1]
	if _, err := io.ReadFull(r.src, r.raw[start:]); err != nil {
		// Peeked bytes are there to read; this does not happen.
		r.raw = r.raw[:start]
		return nil, false
	}
	r.n += int64(nl + 1)
	return r.raw[start : start+content : start+content], true
}

// body consumes n bytes, keeping them in raw and passing each piece to
// each, and returns how many arrived.
func (r *reader) body(n int64, each func([]byte)) (int64, error) {
	var got int64
	var scratch [drainBufferBytes]byte
	for got < n {
		want := min(n-got, drainBufferBytes)
		m, err := r.src.Read(scratch[:want])
		if m > 0 {
			r.keep(scratch[:m])
			if each != nil {
				each(scratch[:m])
			}
			got += int64(m)
		}
		if err != nil {
			return got, err
		}
		if m == 0 {
			return got, io.ErrNoProgress
		}
	}
	return got, nil
}
