package upnp

import (
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
)

// An HTTP request on the description port, read under fixed bounds from
// the session's reader. The request line is split the way both products
// split it — method, target, and whatever follows as the version, so an
// HTTP/0.9 line has none — and judged by the persona, not here.

// httpLimits bound one request.
type httpLimits struct {
	Line        int // request line and each header line
	Headers     int // header lines
	HeaderBytes int // bytes of all header lines
	Body        int // body bytes read
	// SkipEmpty is how many empty lines before the request line are
	// skipped (HTTP.sys skips them; miniupnpd takes the first line as the
	// request line, empty or not).
	SkipEmpty int
}

// httpRequest is one request as read.
type httpRequest struct {
	Method, URI, Version string
	Headers              []event.Header
	Body                 []byte
	// BodyLen counts the body bytes received.
	BodyLen int64
	// Truncated: the body went on past Limits.Body and was not read.
	Truncated bool
	// Malformed says what made the request unreadable; the persona
	// answers such a request with its 400 and closes.
	Malformed string
	// Complete is false when the input ended inside the request.
	Complete bool
}

// header returns the first header named name (case-insensitive).
func (r *httpRequest) header(name string) (string, bool) {
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// readRequest reads one request. It returns nil and the error when the
// input ended before a request line.
func readRequest(rd *service.Reader, lim httpLimits) (*httpRequest, error) {
	var line []byte
	var err error
	for skipped := 0; ; skipped++ {
		line, err = rd.ReadLine(lim.Line)
		if len(line) > 0 || err != nil || skipped >= lim.SkipEmpty {
			break
		}
	}
	if err != nil && !errors.Is(err, service.ErrLineTooLong) {
		if len(line) == 0 {
			return nil, err
		}
		r := &httpRequest{Malformed: "input ended inside the request line"}
		r.Method, r.URI, r.Version = splitRequestLine(line)
		return r, err
	}
	r := &httpRequest{}
	r.Method, r.URI, r.Version = splitRequestLine(line)
	if errors.Is(err, service.ErrLineTooLong) {
		r.Malformed = "request line longer than " + strconv.Itoa(lim.Line) + " bytes"
		return r, nil
	}
	if err := readHeaders(rd, lim, r); err != nil || r.Malformed != "" {
		return r, err
	}
	return r, readBody(rd, lim, r)
}

// splitRequestLine splits at the first two spaces: the version is all
// that follows the second.
func splitRequestLine(l []byte) (method, uri, version string) {
	parts := strings.SplitN(string(l), " ", 3)
	method = printable([]byte(parts[0]), 64)
	if len(parts) > 1 {
		uri = printable([]byte(parts[1]), maxArgValue*8)
	}
	if len(parts) > 2 {
		version = printable([]byte(parts[2]), 64)
	}
	return method, uri, version
}

func readHeaders(rd *service.Reader, lim httpLimits, r *httpRequest) error {
	total := 0
	for {
		l, err := rd.ReadLine(lim.Line)
		if errors.Is(err, service.ErrLineTooLong) {
			r.Malformed = "header line longer than " + strconv.Itoa(lim.Line) + " bytes"
			return nil
		}
		if err != nil {
			if len(l) > 0 && len(r.Headers) < lim.Headers {
				addHeader(r, l)
			}
			r.Malformed = "input ended inside the headers"
			return err
		}
		if len(l) == 0 {
			return nil
		}
		total += len(l)
		if len(r.Headers) >= lim.Headers || total > lim.HeaderBytes {
			r.Malformed = "headers over " + strconv.Itoa(lim.Headers) + " lines or " + strconv.Itoa(lim.HeaderBytes) + " bytes"
			return nil
		}
		if !addHeader(r, l) {
			r.Malformed = "header line without a colon"
			return nil
		}
	}
}

// addHeader adds "Name: value", or continues the last header with a
// folded line. It reports false for a line that is neither.
func addHeader(r *httpRequest, l []byte) bool {
	if (l[0] == ' ' || l[0] == '\t') && len(r.Headers) > 0 {
		h := &r.Headers[len(r.Headers)-1]
		h.Value = printable([]byte(h.Value+" "+strings.TrimSpace(string(l))), maxArgValue*8)
		return true
	}
	name, value, ok := strings.Cut(string(l), ":")
	if !ok || strings.TrimSpace(name) == "" {
		return false
	}
	r.Headers = append(r.Headers, event.Header{Name: printable([]byte(strings.TrimSpace(name)), 256),
		Value: printable([]byte(strings.TrimSpace(value)), maxArgValue*8)})
	return true
}

func readBody(rd *service.Reader, lim httpLimits, r *httpRequest) error {
	if te, _ := r.header("Transfer-Encoding"); strings.EqualFold(strings.TrimSpace(te), "chunked") {
		return readChunked(rd, lim, r)
	}
	cl, ok := r.header("Content-Length")
	if !ok {
		r.Complete = true
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64)
	if err != nil || n < 0 {
		r.Malformed = "Content-Length is not a number"
		return nil
	}
	want := n
	if want > int64(lim.Body) {
		want, r.Truncated = int64(lim.Body), true
	}
	body, err := rd.ReadFull(int(want))
	r.Body, r.BodyLen = body, int64(len(body))
	if err != nil {
		r.Malformed = "input ended inside the body"
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return err
	}
	r.Complete = !r.Truncated
	return nil
}

// readChunked reads a chunked body, up to lim.Body bytes of data.
func readChunked(rd *service.Reader, lim httpLimits, r *httpRequest) error {
	for {
		l, err := rd.ReadLine(64)
		if err != nil {
			r.Malformed = "bad chunk size line"
			if errors.Is(err, service.ErrLineTooLong) {
				return nil
			}
			return err
		}
		size, _, _ := strings.Cut(string(l), ";")
		n, perr := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		if perr != nil || n < 0 {
			r.Malformed = "bad chunk size line"
			return nil
		}
		if n == 0 {
			// Trailers up to the blank line.
			for range lim.Headers {
				t, err := rd.ReadLine(lim.Line)
				if err != nil {
					r.Malformed = "input ended inside the trailers"
					return err
				}
				if len(t) == 0 {
					r.Complete = true
					return nil
				}
			}
			r.Malformed = "too many trailer lines"
			return nil
		}
		room := int64(lim.Body) - int64(len(r.Body))
		if n > room {
			chunk, err := rd.ReadFull(int(room))
			r.Body = append(r.Body, chunk...)
			r.BodyLen = int64(len(r.Body))
			r.Truncated = true
			return err
		}
		chunk, err := rd.ReadFull(int(n))
		r.Body = append(r.Body, chunk...)
		r.BodyLen = int64(len(r.Body))
		if err != nil {
			r.Malformed = "input ended inside the body"
			return err
		}
		if _, err := rd.ReadLine(2); err != nil {
			r.Malformed = "chunk not followed by CRLF"
			if errors.Is(err, service.ErrLineTooLong) {
				return nil
			}
			return err
		}
	}
}
