package upnp

import (
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/service"
)

var testLimits = httpLimits{Line: 256, Headers: 8, HeaderBytes: 1024, Body: 64}

var requestTable = []struct {
	name, in                    string
	skip                        int
	method, uri, version        string
	headers                     int
	body                        string
	malformed                   string
	truncated, complete, nilReq bool
}{
	{name: "GET", in: "GET /rootDesc.xml HTTP/1.1\r\nHost: 192.168.1.1:5000\r\n\r\n", method: "GET", uri: "/rootDesc.xml", version: "HTTP/1.1", headers: 1, complete: true},
	{name: "POST", in: "POST /ctl/IPConn HTTP/1.1\r\nContent-Length: 5\r\nSOAPAction: \"x#y\"\r\n\r\nhello", method: "POST", uri: "/ctl/IPConn", version: "HTTP/1.1", headers: 2, body: "hello", complete: true},
	{name: "chunked", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\nTrailer: 1\r\n\r\n", method: "POST", uri: "/", version: "HTTP/1.1", headers: 1, body: "hello", complete: true},
	{name: "body over the bound", in: "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("B", 100), method: "POST", uri: "/", version: "HTTP/1.1", headers: 1, body: strings.Repeat("B", 64), truncated: true},
	{name: "chunked over the bound", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + strings.Repeat("B", 100) + "\r\n0\r\n\r\n", method: "POST", uri: "/", version: "HTTP/1.1", headers: 1, body: strings.Repeat("B", 64), truncated: true},
	{name: "HTTP/0.9", in: "GET /rootDesc.xml\r\n\r\n", method: "GET", uri: "/rootDesc.xml", complete: true},
	{name: "nmap GenericLines, taken as a request", in: "\r\n\r\n", complete: true},
	{name: "nmap GenericLines, empty lines skipped", in: "\r\n\r\n", skip: 4, nilReq: true},
	{name: "folded header", in: "GET / HTTP/1.0\r\nX: a\r\n  b\r\n\r\n", method: "GET", uri: "/", version: "HTTP/1.0", headers: 1, complete: true},
	{name: "bad content length", in: "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", method: "POST", uri: "/", version: "HTTP/1.1", headers: 1, malformed: "Content-Length is not a number"},
	{name: "body cut short", in: "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", method: "POST", uri: "/", version: "HTTP/1.1", headers: 1, body: "abc", malformed: "input ended inside the body"},
	{name: "headers cut short", in: "GET / HTTP/1.1\r\nHost: x", method: "GET", uri: "/", version: "HTTP/1.1", headers: 1, malformed: "input ended inside the headers"},
	{name: "no colon", in: "GET / HTTP/1.1\r\nHost x\r\n\r\n", method: "GET", uri: "/", version: "HTTP/1.1", malformed: "header line without a colon"},
	{name: "too many headers", in: "GET / HTTP/1.1\r\n" + strings.Repeat("X: y\r\n", 20) + "\r\n", method: "GET", uri: "/", version: "HTTP/1.1", headers: 8, malformed: "headers over 8 lines or 1024 bytes"},
	{name: "long request line", in: "GET /" + strings.Repeat("A", 300) + " HTTP/1.1\r\n\r\n", method: "GET", malformed: "request line longer than 256 bytes"},
	{name: "partial line", in: "GET / HT", method: "GET", uri: "/", version: "HT", malformed: "input ended inside the request line"},
	{name: "bad chunk", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", method: "POST", uri: "/", version: "HTTP/1.1", headers: 1, malformed: "bad chunk size line"},
	{name: "empty", in: "", nilReq: true},
}

func TestReadRequest(t *testing.T) {
	for _, tt := range requestTable {
		t.Run(tt.name, func(t *testing.T) {
			lim := testLimits
			lim.SkipEmpty = tt.skip
			r, _ := readRequest(service.NewReader(strings.NewReader(tt.in), 64), lim)
			if tt.nilReq {
				if r != nil {
					t.Fatalf("got %+v, want no request", r)
				}
				return
			}
			if r == nil {
				t.Fatal("got no request")
			}
			if r.Method != tt.method || r.Version != tt.version || tt.malformed == "" && r.URI != tt.uri {
				t.Errorf("request line %q %q %q, want %q %q %q", r.Method, r.URI, r.Version, tt.method, tt.uri, tt.version)
			}
			if len(r.Headers) != tt.headers {
				t.Errorf("%d headers, want %d", len(r.Headers), tt.headers)
			}
			if string(r.Body) != tt.body || r.BodyLen != int64(len(tt.body)) {
				t.Errorf("body %q (%d), want %q", r.Body, r.BodyLen, tt.body)
			}
			if r.Malformed != tt.malformed || r.Truncated != tt.truncated || r.Complete != tt.complete {
				t.Errorf("malformed %q truncated %v complete %v, want %q %v %v", r.Malformed, r.Truncated, r.Complete, tt.malformed, tt.truncated, tt.complete)
			}
		})
	}
}
