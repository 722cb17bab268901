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

	known known // where the headers the server reads are
}

// known notes, as the parser appends the headers, where the first of
// each name the server itself reads is, so that reading them takes no
// search, and whether a header may name a body. A Request the parser
// did not make has nothing noted, and its headers are searched. It takes
// bytes the Request's padding leaves, no more.
type known struct {
	// One more than the header's index; 0 for none, farHeader for one
	// too far to note, which is searched for.
	host, userAgent, authorization, connection uint8
	noted                                      bool
	body                                       bool // a header may be Content-Length or Transfer-Encoding
}

// farHeader notes a header at index 254 or past it.
const farHeader = 255

// note notes the header at index i, whose name is ascii or not.
func (k *known) note(name string, ascii bool, i int) {
	name = trimName(name)
	at := uint8(min(i+1, farHeader))
	if !ascii {
		// A rune of several bytes (the long s) may fold to a letter of
		// any of them; ToLower's, as readBody compares, too.
		first(&k.host, foldIs(name, "Host"), at)
		first(&k.userAgent, foldIs(name, "User-Agent"), at)
		first(&k.authorization, foldIs(name, "Authorization"), at)
		first(&k.connection, foldIs(name, "Connection"), at)
		k.body = true
		return
	}
	// An ASCII name folds to names of its length alone.
	switch len(name) {
	case len("Host"):
		first(&k.host, lowerASCIIIs(name, "host"), at)
	case len("User-Agent"): // and len("Connection")
		first(&k.userAgent, lowerASCIIIs(name, "user-agent"), at)
		first(&k.connection, lowerASCIIIs(name, "connection"), at)
	case len("Authorization"):
		first(&k.authorization, lowerASCIIIs(name, "authorization"), at)
	case len("Content-Length"), len("Transfer-Encoding"):
		k.body = true
	}
}

// first notes at in *slot when the header is the slot's and the slot has
// none yet.
func first(slot *uint8, is bool, at uint8) {
	if is && *slot == 0 {
		*slot = at
	}
}

// lowerASCIIIs reports whether ASCII s, in lower case, is lower, which
// has s's length: strings.EqualFold for ASCII strings.
func lowerASCIIIs(s, lower string) bool {
	for i := 0; i < len(lower); i++ {
		if lowerASCII(s[i]) != lower[i] {
			return false
		}
	}
	return true
}

// header is Header(name) for a header the parser noted at.
func (r *Request) header(at uint8, name string) (string, bool) {
	switch {
	case !r.known.noted || at == farHeader:
		return r.Header(name)
	case at == 0:
		return "", false
	}
	return r.Headers[at-1].Value, true
}

func (r *Request) host() (string, bool)      { return r.header(r.known.host, "Host") }
func (r *Request) userAgent() (string, bool) { return r.header(r.known.userAgent, "User-Agent") }
func (r *Request) authorization() (string, bool) {
	return r.header(r.known.authorization, "Authorization")
}

// connectionHas is HasToken("Connection", token), with no search when
// the parser noted no Connection header.
func (r *Request) connectionHas(token string) bool {
	if r.known.noted && r.known.connection == 0 {
		return false
	}
	return r.HasToken("Connection", token)
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
		if foldIs(trimName(h.Name), name) {
			return h.Value, true
		}
	}
	return "", false
}

// HasToken reports whether a comma-separated header (Connection) holds
// token, ignoring case.
func (r *Request) HasToken(name, token string) bool {
	for _, h := range r.Headers {
		if !foldIs(trimName(h.Name), name) {
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

// foldIs is strings.EqualFold(s, t), which every header look-up calls
// for every header: an ASCII compare, where EqualFold decodes runes.
// Bytes that differ in more than ASCII case, one of them outside ASCII,
// are left to EqualFold, as are strings of different lengths of which
// the longer is not ASCII: only a rune of several bytes (the Kelvin
// sign, the long s) folds to one of another length.
func foldIs(s, t string) bool {
	if len(s) != len(t) {
		long := s
		if len(t) > len(s) {
			long = t
		}
		return !isASCII(long) && strings.EqualFold(s, t)
	}
	for i := 0; i < len(s); i++ {
		c, d := s[i], t[i]
		if c == d {
			continue
		}
		if c|d >= utf8.RuneSelf {
			return strings.EqualFold(s, t)
		}
		// A byte that differs from the other, both ASCII, is a rune of
		// its own in both, at the same place: EqualFold compares them
		// as letters without case.
		if lowerASCII(c) != lowerASCII(d) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// trimBlanks is strings.Trim(s, " \t"), without its cutset's set.
func trimBlanks(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return trimName(s)
}

// blankName reports whether len(bytes.TrimSpace(name)) == 0: whether a
// header name is white space alone, Unicode's included. An ASCII byte
// that is not a space answers without trimming.
func blankName(name []byte) bool {
	for _, c := range name {
		switch {
		case c >= utf8.RuneSelf:
			return len(bytes.TrimSpace(name)) == 0
		case c != ' ' && c != '\t' && c != '\n' && c != '\v' && c != '\f' && c != '\r':
			return false
		}
	}
	return true
}

// Path and query of the URI as sent: the split at the first '?', with an
// absolute URI's scheme and authority removed.
func (r *Request) rawPathQuery() (string, string, bool) {
	u := r.URI
	// A URI that starts with '/' has a '/' before any "://": no scheme to
	// look for.
	if u != "" && u[0] == '/' {
		p, q, ok := strings.Cut(u, "?")
		return p, q, ok
	}
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
	req.known.noted = true
	// The first line's reading peeks first too: one peek serves both
	// ways, so the source is read no more often than line by line.
	buf, _ := src.Peek(peekSize)
	if !readHead(r, buf, req, lim) {
		return readLines(r, buf, req, lim)
	}
	if req.Malformed != "" {
		return finish(r, req, nil)
	}
	return finish(r, req, readBody(r, req, lim))
}

// readLines is readRequest line by line, for any input; buf is what the
// source had buffered at the start.
func readLines(r *reader, buf []byte, req *Request, lim Limits) (bool, error) {
	line, ok := r.bufferedLine(buf, lim.MaxLine)
	var err error
	if !ok {
		line, err = r.unbufferedLine(lim.MaxLine)
	}
	if err != nil && len(r.raw) == 0 && r.n == 0 {
		return false, err
	}
	req.Line = r.text(line, 0)
	switch {
	case errors.Is(err, errLineTooLong):
		req.LongLine = true
		req.Malformed = BadLongLine
		return finish(r, req, nil)
	case err != nil:
		return finish(r, req, err)
	}
	parseLine(req)
	if req.Version == "" && req.Malformed == "" {
		// A simple request has no headers.
		req.Head = r.head()
		return finish(r, req, nil)
	}
	if err := readHeaders(r, req, lim); err != nil {
		return finish(r, req, err)
	}
	r.inHead = false
	req.Head = r.head()
	if req.Malformed != "" {
		return finish(r, req, nil)
	}
	return finish(r, req, readBody(r, req, lim))
}

// finish ends a request that err, if any, ended.
func finish(r *reader, req *Request, err error) (bool, error) {
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

// maxHeadLines bounds the header lines readHead takes: where it notes
// them is on its stack.
const maxHeadLines = 32

// headLine is where a header line of a buffered head is: its start, its
// colon and the end of its text; and whether its name is ASCII.
type headLine struct {
	start, colon, end int32
	ascii             bool
}

// splitName returns where the colon after a header line's name is, and
// whether the name is ASCII, in one pass over the name; -1 when there is
// no colon or the name is blank (blankName).
func splitName(line []byte) (int, bool) {
	var or byte
	blank := true
	for i, c := range line {
		switch c {
		case ':':
			switch {
			case or >= utf8.RuneSelf:
				// Bytes past ASCII may be Unicode's blanks alone.
				if blankName(line[:i]) {
					return -1, false
				}
				return i, false
			case blank:
				return -1, true
			}
			return i, true
		case ' ', '\t', '\n', '\v', '\f', '\r':
		default:
			or |= c
			blank = false
		}
	}
	return -1, false
}

// readHead is readRequest's common case, a scanner's or a browser's: the
// whole head is in buf, the request line has a version, every header
// line is "name: value" and within every limit. It reads that head with
// one scan of buf, one copy, one discard, to the very state readLines
// leaves (the same strings, pieces of the same window, and the same
// reader). Any other head it leaves to readLines, having consumed
// nothing, and reports false.
func readHead(r *reader, buf []byte, req *Request, lim Limits) bool {
	nl := bytes.IndexByte(buf, '\n')
	lineEnd := textEnd(buf, nl)
	// An empty line or a simple request (no version: one space, or two
	// with nothing after the second) reads otherwise; so do most
	// malformed lines: leave all but two spaces, then a version, to
	// readLines.
	if nl < 0 || lineEnd == 0 || lineEnd > lim.MaxLine || buf[lineEnd-1] == ' ' ||
		bytes.Count(buf[:lineEnd], []byte(" ")) != 2 {
		return false
	}
	var lines [maxHeadLines]headLine
	k, used, at := 0, 0, nl+1
	for {
		// readHeaders' bounds: room before every line, the blank one
		// too; the line within the room and MaxLine; MaxHeaders lines.
		if used >= lim.MaxHeaderBytes {
			return false
		}
		j := bytes.IndexByte(buf[at:], '\n')
		if j < 0 {
			return false // the head's end is not buffered
		}
		end := textEnd(buf, at+j)
		if end-at > min(lim.MaxHeaderBytes-used, lim.MaxLine) {
			return false
		}
		used += j + 1
		if end == at {
			at += j + 1
			break
		}
		if k == maxHeadLines || k >= lim.MaxHeaders || buf[at] == ' ' || buf[at] == '\t' {
			return false // too many for either, or folded
		}
		colon, ascii := splitName(buf[at:end])
		if colon < 0 {
			return false // no name, or a blank one
		}
		lines[k] = headLine{int32(at), int32(at + colon), int32(end), ascii}
		k++
		at += j + 1
	}
	if at > r.cap {
		return false
	}
	if _, err := r.src.Discard(at); err != nil {
		// Peeked bytes are there to discard; this does not happen.
		return false
	}
	// The window and the reader as bufferedLine leaves them once every
	// line is read: win is the head and raw shares it.
	win := string(buf[:at])
	r.win, r.winAt, r.winWhole, r.shared, r.n, r.inHead = win, 0, true, true, int64(at), false
	req.Line = win[:lineEnd]
	parseLine(req)
	if k > 0 {
		// The room readHeaders takes: hdr's when the lines fit.
		if k <= cap(r.hdr) {
			req.Headers = r.hdr[:0]
		} else {
			req.Headers = make([]event.Header, 0, k)
		}
		for _, l := range lines[:k] {
			req.known.note(win[l.start:l.colon], l.ascii, len(req.Headers))
			req.Headers = append(req.Headers, event.Header{Name: win[l.start:l.colon], Value: trimBlanks(win[l.colon+1 : l.end])})
		}
	}
	req.Head = r.head()
	return true
}

// textEnd returns where the text of the line that ends with the '\n' at
// nl ends: before its "\r\n" or "\n"; nl when nl < 0.
func textEnd(buf []byte, nl int) int {
	if nl > 0 && buf[nl-1] == '\r' {
		return nl - 1
	}
	return nl
}

// parseLine splits the request line; it sets Malformed when the line is
// not METHOD SP URI [SP HTTP/x.y].
func parseLine(req *Request) {
	l := req.Line
	if l == "" {
		req.Malformed = BadEmptyLine
		return
	}
	// One pass for what the checks and strings.Split(l, " ") would find:
	// a control byte, the spaces and where the first two are.
	spaces, sp1, sp2 := 0, 0, 0
	for i := 0; i < len(l); i++ {
		switch c := l[i]; {
		case c > ' ' && c != 0x7f:
			// The common byte, with one test.
		case c == ' ':
			spaces++
			if spaces == 1 {
				sp1 = i
			} else if spaces == 2 {
				sp2 = i
			}
		default:
			req.Malformed = BadRequestLine
		}
	}
	switch spaces {
	case 1:
		req.Method, req.URI = l[:sp1], l[sp1+1:]
	case 2:
		req.Method, req.URI, req.Version = l[:sp1], l[sp1+1:sp2], l[sp2+1:]
	default:
		req.Malformed = BadRequestLine
		if spaces == 0 {
			req.Method = l
		} else {
			req.Method, req.URI = l[:sp1], l[sp1+1:sp2]
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
	if req.Version != "" && req.Version != "HTTP/1.1" && req.Version != "HTTP/1.0" && !validVersion(req.Version) {
		req.Malformed = BadVersion
	}
}

// isToken reports whether s is an RFC 2616 token: CHARs but for
// controls, spaces and separators.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || tokenBytes[c>>6]&(1<<(c&63)) == 0 {
			return false
		}
	}
	return true
}

// tokenBytes has the bit of each byte a token may hold: a test of a bit,
// where a search of the separators was.
var tokenBytes = func() (m [2]uint64) {
	for c := byte('!'); c < 0x7f; c++ {
		if strings.IndexByte("()<>@,;:\\\"/[]?={}", c) < 0 {
			m[c>>6] |= 1 << (c & 63)
		}
	}
	return m
}()

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
		if i < 0 || blankName(line[:i]) {
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
		req.known.note(ls[:i], isASCII(ls[:i]), len(req.Headers))
		req.Headers = append(req.Headers, event.Header{Name: ls[:i], Value: trimBlanks(ls[i+1:])})
	}
}

func setMalformed(req *Request, why string) {
	if req.Malformed == "" {
		req.Malformed = why
	}
}

// readBody reads a Content-Length or chunked body.
func readBody(r *reader, req *Request, lim Limits) error {
	if req.known.noted && !req.known.body {
		return nil // no header names a body
	}
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
	buf, _ := r.src.Peek(peekSize)
	if line, ok := r.bufferedLine(buf, max); ok {
		return line, nil
	}
	return r.unbufferedLine(max)
}

// unbufferedLine is line for a line bufferedLine does not take.
func (r *reader) unbufferedLine(max int) ([]byte, error) {
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
// buffered, in buf (what the source has buffered), and fits in what raw
// keeps. It is read straight into raw, and the line returned is a piece
// of raw, valid until the next read.
func (r *reader) bufferedLine(buf []byte, limit int) ([]byte, bool) {
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
