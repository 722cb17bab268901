package http

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
)

var testLimits = Limits{MaxLine: 1024, MaxHeaderBytes: 2048, MaxHeaders: 10, Capture: 4096}

// parseAll reads every request in input, the way a connection would.
func parseAll(input []byte, lim Limits, bufSize int) ([]*Request, error) {
	src := service.NewReader(bytes.NewReader(input), bufSize)
	var out []*Request
	for {
		r, err := ReadRequest(src, lim)
		if r == nil {
			return out, err
		}
		out = append(out, r)
		if err != nil || r.Malformed != "" {
			return out, err
		}
	}
}

type parseCase struct {
	name  string
	in    string
	check func(t *testing.T, reqs []*Request, err error)
}

func one(t *testing.T, reqs []*Request) *Request {
	t.Helper()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

var parseCases = []parseCase{
	{"simple get", "GET / HTTP/1.0\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		r := one(t, reqs)
		if r.Method != "GET" || r.URI != "/" || r.Version != "HTTP/1.0" || r.Malformed != "" || len(r.Headers) != 0 {
			t.Errorf("got %+v", r)
		}
		if string(r.Raw) != "GET / HTTP/1.0\r\n\r\n" || string(r.Head) != string(r.Raw) {
			t.Errorf("raw %q head %q", r.Raw, r.Head)
		}
	}},
	{"headers keep order, case and spacing", "GET /a?b=c HTTP/1.1\r\nhOsT:  x.example \r\nX-B: 2\r\nX-A: 1\r\nX-B: 3\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		r := one(t, reqs)
		want := []event.Header{{Name: "hOsT", Value: "x.example"}, {Name: "X-B", Value: "2"}, {Name: "X-A", Value: "1"}, {Name: "X-B", Value: "3"}}
		if !reflect.DeepEqual(r.Headers, want) {
			t.Errorf("headers %+v, want %+v", r.Headers, want)
		}
		if h, _ := r.Header("host"); h != "x.example" {
			t.Errorf("Host = %q", h)
		}
	}},
	{"bare newlines", "GET / HTTP/1.1\nHost: a\n\n", func(t *testing.T, reqs []*Request, err error) {
		r := one(t, reqs)
		if r.Malformed != "" || string(r.Raw) != "GET / HTTP/1.1\nHost: a\n\n" {
			t.Errorf("malformed %q raw %q", r.Malformed, r.Raw)
		}
	}},
	{"folded header", "GET / HTTP/1.1\r\nX-Long: a\r\n  b\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		if v, _ := one(t, reqs).Header("X-Long"); v != "a b" {
			t.Errorf("folded value %q, want %q", v, "a b")
		}
	}},
	{"content-length body with CodeRed's trailing blank", "POST /x HTTP/1.0\r\nContent-length: 5 \r\n\r\nhelloGET", func(t *testing.T, reqs []*Request, err error) {
		r := reqs[0]
		if string(r.Body) != "hello" || r.BodyLen != 5 || r.Truncated {
			t.Errorf("body %q len %d truncated %v", r.Body, r.BodyLen, r.Truncated)
		}
		if len(reqs) != 2 || !reqs[1].Incomplete || reqs[1].Line != "GET" {
			t.Errorf("the bytes after the body should start an (incomplete) request: %+v", reqs[1:])
		}
	}},
	{"chunked body", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nA;x=y\r\n0123456789\r\n0\r\nT: v\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		r := one(t, reqs)
		if string(r.Body) != "abc0123456789" || r.BodyLen != 13 || !r.Chunked || r.Malformed != "" {
			t.Errorf("body %q len %d chunked %v malformed %q", r.Body, r.BodyLen, r.Chunked, r.Malformed)
		}
	}},
	{"bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); r.Malformed != BadChunk {
			t.Errorf("malformed %q, want %q", r.Malformed, BadChunk)
		}
	}},
	{"chunk without its CRLF", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); r.Malformed != BadChunk {
			t.Errorf("malformed %q, want %q", r.Malformed, BadChunk)
		}
	}},
	{"unknown transfer-encoding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); r.Malformed != BadEncoding {
			t.Errorf("malformed %q", r.Malformed)
		}
	}},
	{"negative length", "POST / HTTP/1.0\r\nContent-Length: -1\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); r.Malformed != BadLength {
			t.Errorf("malformed %q", r.Malformed)
		}
	}},
	{"conflicting lengths", "POST / HTTP/1.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); r.Malformed != BadLength {
			t.Errorf("malformed %q", r.Malformed)
		}
	}},
	{"empty line", "\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); r.Malformed != BadEmptyLine || string(r.Raw) != "\r\n\r\n" {
			t.Errorf("malformed %q raw %q", r.Malformed, r.Raw)
		}
	}},
	{"one word", "GARBAGE\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); r.Malformed != BadRequestLine || r.Method != "GARBAGE" {
			t.Errorf("malformed %q method %q", r.Malformed, r.Method)
		}
	}},
	{"four words", "GET / HTTP/1.0 x\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); r.Malformed != BadRequestLine {
			t.Errorf("malformed %q", r.Malformed)
		}
	}},
	{"bad version", "GET / HTTQ/1.0\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); r.Malformed != BadVersion {
			t.Errorf("malformed %q", r.Malformed)
		}
	}},
	{"control character", "GET /\x00 HTTP/1.0\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); r.Malformed != BadRequestLine {
			t.Errorf("malformed %q", r.Malformed)
		}
	}},
	{"bad method", "G(T / HTTP/1.0\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); r.Malformed != BadMethod {
			t.Errorf("malformed %q", r.Malformed)
		}
	}},
	{"header without colon", "GET / HTTP/1.0\r\nnocolon\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); r.Malformed != BadHeaderLine {
			t.Errorf("malformed %q", r.Malformed)
		}
	}},
	{"simple request", "GET /\r\nmore", func(t *testing.T, reqs []*Request, err error) {
		r := reqs[0]
		if r.Version != "" || r.Malformed != "" || string(r.Raw) != "GET /\r\n" {
			t.Errorf("got version %q malformed %q raw %q", r.Version, r.Malformed, r.Raw)
		}
	}},
	{"long request line", "GET /" + strings.Repeat("A", 2000) + " HTTP/1.0\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		r := one(t, reqs)
		if !r.LongLine || r.Malformed != BadLongLine || len(r.Line) != 1024 {
			t.Errorf("long %v malformed %q line %d", r.LongLine, r.Malformed, len(r.Line))
		}
	}},
	{"long line cut by the end of input", strings.Repeat("0", 1025), func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); len(r.Line) != 1024 || !r.Incomplete {
			t.Errorf("line %d incomplete %v", len(r.Line), r.Incomplete)
		}
	}},
	{"line one byte long without a carriage return", "GET /" + strings.Repeat("A", 1011) + " HTTP/1.0\n\n", func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); !r.LongLine || len(r.Line) != 1024 {
			t.Errorf("long %v line %d", r.LongLine, len(r.Line))
		}
	}},
	{"too many headers", "GET / HTTP/1.0\r\n" + strings.Repeat("A: b\r\n", 11) + "\r\n", func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); r.Malformed != BadManyHeaders {
			t.Errorf("malformed %q", r.Malformed)
		}
	}},
	{"headers too long", "GET / HTTP/1.0\r\nA: " + strings.Repeat("b", 3000) + "\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		if r := one(t, reqs); r.Malformed != BadLongHeaders {
			t.Errorf("malformed %q", r.Malformed)
		}
	}},
	{"eof mid headers", "GET / HTTP/1.1\r\nHost: x\r\n", func(t *testing.T, reqs []*Request, err error) {
		r := one(t, reqs)
		if !r.Incomplete || r.Malformed != BadIncomplete || !errors.Is(err, io.EOF) {
			t.Errorf("incomplete %v malformed %q err %v", r.Incomplete, r.Malformed, err)
		}
	}},
	{"eof mid body", "POST / HTTP/1.0\r\nContent-Length: 10\r\n\r\nabc", func(t *testing.T, reqs []*Request, err error) {
		r := one(t, reqs)
		if !r.Incomplete || string(r.Body) != "abc" || r.BodyLen != 3 {
			t.Errorf("incomplete %v body %q len %d", r.Incomplete, r.Body, r.BodyLen)
		}
	}},
	{"body past the capture", "POST / HTTP/1.0\r\nContent-Length: 5000\r\n\r\n" + strings.Repeat("z", 5000), func(t *testing.T, reqs []*Request, err error) {
		r := one(t, reqs)
		if !r.Truncated || r.BodyLen != 5000 || len(r.Raw) != 4096 || r.Malformed != "" {
			t.Errorf("truncated %v body_len %d raw %d malformed %q", r.Truncated, r.BodyLen, len(r.Raw), r.Malformed)
		}
		if len(r.Body) != 4096-len(r.Head) {
			t.Errorf("kept body %d, want %d", len(r.Body), 4096-len(r.Head))
		}
	}},
	{"pipelined", "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", func(t *testing.T, reqs []*Request, err error) {
		if len(reqs) != 2 || reqs[0].URI != "/1" || reqs[1].URI != "/2" || err != io.EOF {
			t.Errorf("got %d requests, err %v", len(reqs), err)
		}
		if string(reqs[1].Raw) != "GET /2 HTTP/1.1\r\n\r\n" {
			t.Errorf("second raw %q", reqs[1].Raw)
		}
	}},
	{"nothing", "", func(t *testing.T, reqs []*Request, err error) {
		if len(reqs) != 0 || err != io.EOF {
			t.Errorf("got %d requests, err %v", len(reqs), err)
		}
	}},
}

func TestReadRequest(t *testing.T) {
	for _, tc := range parseCases {
		// A tiny read buffer makes lines and bodies span many reads.
		for _, size := range []int{16, 4096} {
			reqs, err := parseAll([]byte(tc.in), testLimits, size)
			t.Run(tc.name, func(t *testing.T) { tc.check(t, reqs, err) })
		}
	}
}

func TestRawPathQuery(t *testing.T) {
	for _, tt := range []struct{ uri, path, query string }{
		{"/a/b?c=d?e", "/a/b", "c=d?e"},
		{"http://host:8080/x?y", "/x", "y"},
		{"http://host", "/", ""},
		{"/no/query", "/no/query", ""},
		{"/weird://thing", "/weird://thing", ""},
	} {
		r := &Request{URI: tt.uri}
		p, q, _ := r.rawPathQuery()
		if p != tt.path || q != tt.query {
			t.Errorf("%q: got %q %q, want %q %q", tt.uri, p, q, tt.path, tt.query)
		}
	}
}

// BenchmarkReadRequest parses a browser's request, the common case.
func BenchmarkReadRequest(b *testing.B) {
	in := []byte("GET /index.htm HTTP/1.1\r\nAccept: */*\r\nAccept-Language: en-us\r\nAccept-Encoding: gzip, deflate\r\n" +
		"User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)\r\nHost: www.example.com\r\nConnection: Keep-Alive\r\n\r\n")
	rd := bytes.NewReader(in)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		rd.Reset(in)
		if _, err := ReadRequest(service.NewReader(rd, 4096), testLimits); err != nil {
			b.Fatal(err)
		}
	}
}
