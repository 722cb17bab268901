package http

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/shell"
)

// The fast paths of the request path must give what the general ones
// give, byte for byte: these tests hold them to it.

// corpusInputs returns the requests of the parser's cases and of the
// transcripts, as written and with CRLF line ends.
func corpusInputs(t testing.TB) [][]byte {
	var out [][]byte
	for _, tc := range parseCases {
		out = append(out, []byte(tc.in))
	}
	for _, dir := range []string{"testdata", "testdata/linux-iot"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.txtar"))
		for _, name := range files {
			ar, err := txtar.ParseFile(name)
			if err != nil {
				t.Fatal(err)
			}
			for _, fl := range ar.Files {
				if fl.Name == "input" || fl.Name == "input-no-newline" {
					out = append(out, fl.Data, bytes.ReplaceAll(fl.Data, []byte("\n"), []byte("\r\n")))
				}
			}
		}
	}
	return out
}

// decodeCorpus is every path the tests know, then paths of up to depth
// pieces that matter to the decoder, in every order.
func decodeCorpus(t testing.TB, depth int) []string {
	paths := []string{"/", "", "//", "/a//b", "/./", "/../", "/a/..", "/a/.", "/...", "/a.../b", "/iisstart.htm.",
		"/IISSTART.HTM", "/Scripts", "/scripts/", "/SCRIPTS/root.exe", "/msadc/ROOT.EXE", "/c/winnt/system32/cmd.exe",
		"/scripts/..%255c../winnt/system32/cmd.exe", "/msadc/..%c1%1c..%c0%af/x", "/%u002e%u002e/", "/c/../../..",
		"/\xc0", "/a%", "/a b/", "/a\tb", "/a\\b", "/_vti_bin/shtml.dll", "/x.ida", "/default.ida", "/a/b.printer",
		"/iishelp/", "/printers", "/c", "/d/", "/~user/", "/a?b", "/a.b.c/", "/.htaccess", "/a/.git/config",
		"/msAdC/ .%C1%1C0000000000", "/robots.txt", "/favicon.ico", "/win2000.gif"}
	for _, in := range corpusInputs(t) {
		src := service.NewReader(bytes.NewReader(in), 4096)
		for {
			req, err := ReadRequest(src, Limits{MaxLine: 1 << 16, MaxHeaderBytes: 1 << 16, MaxHeaders: 100, Capture: 1 << 20})
			if req == nil {
				break
			}
			p, _, _ := req.rawPathQuery()
			paths = append(paths, p, req.URI)
			if err != nil || req.Malformed != "" {
				break
			}
		}
	}
	pieces := []string{"/", ".", "..", "a", "B", "%", "%2e", "\\", " ", "scripts", "C", ".exe", ".DLL", "\xc0\xaf", "~", "x."}
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		paths = append(paths, prefix, "/"+prefix)
		if n == 0 {
			return
		}
		for _, p := range pieces {
			gen(prefix+p, n-1)
		}
	}
	gen("", depth)
	return paths
}

func TestDecodePlainIsDecodeSteps(t *testing.T) {
	p, err := newIIS(DefaultConfig(service.ProfileWindows2000))
	if err != nil {
		t.Fatal(err)
	}
	plain := 0
	for _, raw := range decodeCorpus(t, 4) {
		want := decodeSteps(raw, p.vdirs)
		if got := decodeIIS(raw, p.vdirs); !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeIIS(%q) = %+v, want %+v", raw, got, want)
		}
		if got := p.decode(raw); !reflect.DeepEqual(got, want) {
			t.Fatalf("decode(%q) = %+v, want %+v", raw, got, want)
		}
		if _, ok := decodePlain(raw, p.vdirs); ok {
			plain++
		}
	}
	if plain < 1000 {
		t.Errorf("only %d paths took the plain path", plain)
	}
}

func FuzzDecodePlain(f *testing.F) {
	for _, s := range []string{"/", "/a/b/", "/Scripts/Root.Exe", "/c/winnt/win.ini", "/a.../", "/..."} {
		f.Add(s)
	}
	p, err := newIIS(DefaultConfig(service.ProfileWindows2000))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := decodePlain(raw, p.vdirs)
		if !ok {
			return
		}
		if want := decodeSteps(raw, p.vdirs); !reflect.DeepEqual(got, want) {
			t.Fatalf("decodePlain(%q) = %+v, want %+v", raw, got, want)
		}
	})
}

// Header names compare as strings.ToLower compares them, Unicode
// included ('İ' lowers to 'i', the Kelvin sign to 'k').
func TestLowerIs(t *testing.T) {
	for _, s := range []string{"", "content-length", "Content-Length", "CONTENT-LENGTH", "content-length ", "content-lengt",
		"Transfer-Encoding", "transfer-encodİng", "TRANSFER-ENCODİNG", "tranſfer-encoding", "Content-Lengtħ",
		"\u212aontent", "Content\xff-Length", "content_length"} {
		for _, lower := range []string{"content-length", "transfer-encoding"} {
			if got, want := lowerIs(s, lower), strings.ToLower(s) == lower; got != want {
				t.Errorf("lowerIs(%q, %q) = %v, want %v", s, lower, got, want)
			}
		}
	}
}

// hasTokenSplit is HasToken as it was written first.
func hasTokenSplit(r *Request, name, token string) bool {
	for _, h := range r.Headers {
		if !strings.EqualFold(strings.TrimRight(h.Name, " \t"), name) {
			continue
		}
		for _, t := range strings.Split(h.Value, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func TestHeaderLookups(t *testing.T) {
	values := []string{"", ",", "close", "Close", " close ", "keep-alive, close", "x,,close,", "closed", "TE, Keep-Alive", ",keep-alive"}
	names := []string{"Connection", "connection \t", "CONNECTION", "Connectio", "Connection\t\t", " Connection", "Host"}
	for _, n := range names {
		for _, v := range values {
			r := &Request{Headers: []event.Header{{Name: "X", Value: "close"}, {Name: n, Value: v}}}
			for _, tok := range []string{"close", "keep-alive"} {
				if got, want := r.HasToken("Connection", tok), hasTokenSplit(r, "Connection", tok); got != want {
					t.Errorf("%q: %q: HasToken(%s) = %v, want %v", n, v, tok, got, want)
				}
			}
			if got, want := trimName(n), strings.TrimRight(n, " \t"); got != want {
				t.Errorf("trimName(%q) = %q, want %q", n, got, want)
			}
		}
	}
}

// firstSource hands over what it holds in one read, as a connection
// whose request arrived in one segment does.
type firstSource struct{ bytes.Reader }

func (s *firstSource) ReadFirst(pool *sync.Pool) (*[]byte, int, error) {
	bp := pool.Get().(*[]byte)
	n, err := s.Read(*bp)
	if n == 0 {
		pool.Put(bp)
		return nil, 0, err
	}
	return bp, n, nil
}

// readersOf returns the same input behind sources that buffer it
// differently: whole, in pieces of a few bytes, through bufio.
func readersOf(in []byte) map[string]Source {
	out := map[string]Source{}
	for _, size := range []int{16, 64, 4096} {
		out[fmt.Sprint("reader-", size)] = service.NewReader(bytes.NewReader(in), size)
		fs := &firstSource{}
		fs.Reset(in)
		r := service.NewReader(fs, size)
		r.Fill()
		out[fmt.Sprint("first-", size)] = r
	}
	out["bufio"] = bufio.NewReaderSize(bytes.NewReader(in), 4096)
	return out
}

func readAll(src Source, lim Limits) ([]*Request, []string) {
	var reqs []*Request
	var errs []string
	for range 64 {
		r, err := ReadRequest(src, lim)
		errs = append(errs, fmt.Sprint(err))
		if r == nil {
			break
		}
		reqs = append(reqs, r)
		if err != nil || r.Malformed != "" || r.Truncated {
			break
		}
	}
	return reqs, errs
}

// compareReadings checks that every way of buffering in reads the same
// requests.
func compareReadings(t *testing.T, in []byte, lim Limits) {
	var wantReqs []*Request
	var wantErrs []string
	name0 := ""
	for name, src := range readersOf(in) {
		reqs, errs := readAll(src, lim)
		for _, r := range reqs {
			if r.Headers != nil && len(r.Headers) == 0 {
				r.Headers = nil // capacity is no difference
			}
		}
		if wantReqs == nil && wantErrs == nil {
			wantReqs, wantErrs, name0 = reqs, errs, name
			continue
		}
		if !reflect.DeepEqual(reqs, wantReqs) {
			t.Fatalf("%q: %s read\n%+v\n%s read\n%+v", in, name, reqs, name0, wantReqs)
		}
	}
}

func TestReadRequestBufferingMakesNoDifference(t *testing.T) {
	inputs := corpusInputs(t)
	inputs = append(inputs,
		[]byte(scannerRequest+scannerRequest),
		[]byte("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\tagain  \r\nX: 1\r\n\r\n"),
		[]byte("GET / HTTP/1.1\r\nbad line\r\nHost: b\r\n\r\n"),
		[]byte("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.0\r\n\r\n"),
		[]byte("GET /\r\nGET / HTTP/1.0\r\n\r\n"),
		[]byte("GET / HTTP/1.0\nHost: bare-lf\n\n"),
		[]byte("GET / HTTP/1.0\r\nHost: "+strings.Repeat("h", 5000)+"\r\nX: y\r\n\r\n"),
		[]byte("GET /"+strings.Repeat("a", 300)+" HTTP/1.0\r\n"+strings.Repeat("X-Many: v\r\n", 20)+"\r\n"),
		[]byte("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: x\r\n\r\n"),
	)
	for _, lim := range []Limits{
		{MaxLine: 1 << 16, MaxHeaderBytes: 1 << 16, MaxHeaders: 100, Capture: 1 << 20},
		{MaxLine: 256, MaxHeaderBytes: 1024, MaxHeaders: 16, Capture: 2048},
		{MaxLine: 20, MaxHeaderBytes: 40, MaxHeaders: 2, Capture: 64},
	} {
		for _, in := range inputs {
			compareReadings(t, in, lim)
		}
	}
}

func FuzzReadRequestBuffering(f *testing.F) {
	for _, in := range corpusInputs(f) {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		compareReadings(t, in, Limits{MaxLine: 512, MaxHeaderBytes: 1024, MaxHeaders: 16, Capture: 2048})
	})
}

// refResponse is the IIS response as first written: status line, Server,
// pre headers, Date, Connection, post headers, body.
func refResponse(server string, x *exchange, c conn, status int, reason string, pre, post []hdr, body []byte) []byte {
	if x.req.Method == "HEAD" {
		body = nil
	}
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + reason + "\r\nServer: " + server + "\r\n")
	for _, h := range pre {
		b.WriteString(h.k + ": " + h.v + "\r\n")
	}
	b.WriteString("Date: " + x.now.UTC().Format(httpDateLayout) + "\r\n")
	if c.header != "" {
		b.WriteString("Connection: " + c.header + "\r\n")
	}
	for _, h := range post {
		b.WriteString(h.k + ": " + h.v + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// refStatic is a file's answer as first written.
func refStatic(p *iis, x *exchange, c conn, n *shell.Node, loc *location) []byte {
	ext := ""
	if i := strings.LastIndexByte(n.Name, '.'); i >= 0 {
		ext = strings.ToLower(n.Name[i:])
	}
	var pre []hdr
	if loc != nil {
		pre = []hdr{{"Content-Location", "http://" + loc.host + loc.dir + "/" + n.Name}}
	}
	return refResponse(p.server, x, c, 200, "OK", pre, []hdr{
		{"Content-Type", contentType(ext)}, {"Accept-Ranges", "bytes"},
		{"Last-Modified", httpDate(n.Mod)}, {"ETag", iisETag(n.Mod, p.change)},
		{"Content-Length", strconv.Itoa(len(n.Data))}}, n.Data)
}

var answerTimes = []time.Time{fixedNow, fixedNow.Add(300 * time.Millisecond), fixedNow.Add(999 * time.Millisecond),
	fixedNow.Add(time.Second), fixedNow.Add(-time.Hour), fixedNow.Add(1500 * time.Millisecond), fixedNow.Add(-1),
	time.Date(2025, 3, 9, 23, 59, 59, 999999999, time.UTC), time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC),
	time.Date(2025, 3, 10, 1, 0, 0, 0, time.FixedZone("x", 3600))}

var answerConns = []conn{{}, {"close", true}, {"Keep-Alive", false}, {close: true}}

// Every file of the base tree, and one an attacker wrote, is answered as
// it was first written, whatever was answered before, as the second
// changes and comes back.
func TestStaticAnswersAsWritten(t *testing.T) {
	p, err := newIIS(DefaultConfig(service.ProfileWindows2000))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.pages) < 8 {
		t.Fatalf("%d pages kept", len(p.pages))
	}
	nodes := []*shell.Node{{Name: "Dropped.HTM", Mod: fixedNow, Data: []byte("<b>x</b>")}}
	for n := range p.pages {
		nodes = append(nodes, n)
	}
	locs := []*location{nil, {"www.example.com", ""}, {"192.0.2.10", "/iishelp"}, {"other", ""}, {"www.example.com", "/iishelp"},
		{"www.example.com", "/Printers"}, {strings.Repeat("h", 300), ""}}
	var shared, first []byte
	check := func(round int, method string, c conn, n *shell.Node, loc *location, now time.Time) {
		x := &exchange{req: Request{Method: method}, now: now}
		a := p.static(x, c, n, loc, answer{})
		if want := refStatic(p, x, c, n, loc); !bytes.Equal(a.out, want) {
			t.Fatalf("round %d %v %s %+v %s %+v:\n got %q\nwant %q", round, now, method, c, n.Name, loc, a.out, want)
		}
		if a.action != "static:"+strings.ToLower(n.Name) || a.status != 200 || a.close != c.close {
			t.Fatalf("%s: action %q status %d close %v", n.Name, a.action, a.status, a.close)
		}
		if first == nil && p.pages[n] != nil {
			first, shared = bytes.Clone(a.out), a.out
		}
	}
	for round := range 2 {
		// The seconds in turn for one kind of answer, each asked twice;
		// then each second for every kind in turn.
		for _, method := range []string{"GET", "HEAD"} {
			for _, c := range answerConns {
				for _, n := range nodes {
					for _, loc := range locs {
						for _, now := range answerTimes {
							check(round, method, c, n, loc, now)
							check(round, method, c, n, loc, now)
						}
					}
				}
			}
		}
		for _, now := range answerTimes {
			for _, method := range []string{"GET", "HEAD"} {
				for _, c := range answerConns {
					for _, n := range nodes {
						for _, loc := range locs {
							check(round, method, c, n, loc, now)
						}
					}
				}
			}
		}
		// Every kind in turn, twice, for one file, place and second.
		for _, n := range nodes {
			for _, loc := range locs {
				for _, now := range answerTimes {
					for range 2 {
						for _, method := range []string{"GET", "HEAD"} {
							for _, c := range answerConns {
								check(round, method, c, n, loc, now)
							}
						}
					}
				}
			}
		}
	}
	if !bytes.Equal(shared, first) {
		t.Fatal("a kept answer changed")
	}
	// The same answer twice in a second is the same bytes.
	x := &exchange{req: Request{Method: "GET"}, now: fixedNow}
	n := nodes[1]
	a1, a2 := p.static(x, conn{}, n, nil, answer{}), p.static(x, conn{}, n, nil, answer{})
	if &a1.out[0] != &a2.out[0] {
		t.Error("the answer was not kept")
	}
}

func TestErrorPagesAsWritten(t *testing.T) {
	p, err := newIIS(DefaultConfig(service.ProfileWindows2000))
	if err != nil {
		t.Fatal(err)
	}
	kinds := append(errorKinds(), &errorKind{status: 404, reason: "Not Kept", page: "<p>other</p>"})
	for range 2 {
		for _, now := range answerTimes {
			for _, method := range []string{"GET", "HEAD", "POST"} {
				for _, c := range answerConns {
					for _, e := range kinds {
						for _, close := range []bool{false, true} {
							x := &exchange{req: Request{Method: method}, now: now}
							want := refResponse(p.server, x, c, e.status, e.reason, nil, []hdr{
								{"Content-Length", strconv.Itoa(len(e.page))}, {"Content-Type", "text/html"}}, []byte(e.page))
							for range 2 {
								a := p.errorPage(x, c, e.status, e.reason, e.page, answer{close: close, action: "x"})
								if !bytes.Equal(a.out, want) || a.status != e.status || a.close != (close || c.close) || a.action != "x" {
									t.Fatalf("%v %s %+v %d:\n got %q\nwant %q", now, method, c, e.status, a.out, want)
								}
							}
						}
					}
				}
			}
		}
	}
}

// Answers made by many at once are those made one by one.
func TestKeptAnswersConcurrently(t *testing.T) {
	s := newServer(t, service.ProfileWindows2000, nil)
	q := newServer(t, service.ProfileWindows2000, nil)
	qi := q.persona.(*iis)
	qi.pages, qi.errPages = nil, nil // nothing kept
	for i := range qi.vdirs {
		qi.vdirs[i].indexPage = nil
	}
	reqs := []string{"GET / HTTP/1.0\r\nHost: a\r\n\r\n", "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", "GET /iisstart.htm HTTP/1.0\r\n\r\n",
		"GET /nosuch HTTP/1.1\r\nConnection: close\r\n\r\n", "GET / HTTP/1.0\r\nConnection: keep-alive\r\nHost: b\r\n\r\n",
		"GET /win2000.gif HTTP/1.1\r\nHost: a\r\n\r\n", "GET /scripts/ HTTP/1.0\r\n\r\n", "POST /iisstart.htm HTTP/1.0\r\n\r\n"}
	local, remote := netip.MustParseAddrPort("192.0.2.10:80"), netip.MustParseAddrPort("198.51.100.7:4000")
	ask := func(srv *Server, in string, now time.Time) answer {
		req, err := ReadRequest(service.NewReader(strings.NewReader(in), 4096), srv.limits)
		if err != nil {
			t.Error(err)
			return answer{}
		}
		return srv.answer(&exchange{req: *req, now: now, local: local, remote: remote})
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				in := reqs[(g+i)%len(reqs)]
				now := fixedNow.Add(time.Duration(i%7) * 400 * time.Millisecond)
				got := ask(s, in, now)
				out := bytes.Clone(got.out)
				want := ask(q, in, now)
				if !bytes.Equal(out, want.out) || got.action != want.action || got.status != want.status || got.close != want.close {
					t.Errorf("%q at %v:\n got %q\nwant %q", in, now, out, want.out)
					return
				}
			}
		})
	}
	wg.Wait()
}

// stat finds what the disk's Stat finds, on a disk without changes and on
// one with some.
func TestStatIsFSStat(t *testing.T) {
	p, err := newIIS(DefaultConfig(service.ProfileWindows2000))
	if err != nil {
		t.Fatal(err)
	}
	changed := shell.NewFS(p.tree)
	if err := changed.WriteFile(shell.WinSplit(`c:\inetpub\wwwroot\new.htm`), []byte("x"), false, fixedNow); err != nil {
		t.Fatal(err)
	}
	if err := changed.Remove(shell.WinSplit(`c:\inetpub\wwwroot\win2000.gif`), false); err != nil {
		t.Fatal(err)
	}
	paths := append(decodeCorpus(t, 2), "/new.htm", "/win2000.gif", "/WIN2000.GIF", "/c/inetpub/wwwroot/", "/d/x")
	found := 0
	for _, fs := range []*shell.FS{shell.NewFS(p.tree), changed} {
		for _, raw := range paths {
			tg := decodeIIS(raw, p.vdirs)
			for _, name := range []string{"", p.page, "IISSTART.HTM", "nosuch"} {
				want := fs.Stat(tg.phys)
				if name != "" {
					want = fs.Stat(append(slices.Clip(tg.phys), name))
				}
				if got := p.stat(fs, &tg, name); got != want {
					t.Fatalf("%q %q changed=%v: got %v, want %v", raw, name, fs.Changed(), got, want)
				}
				if want != nil {
					found++
				}
			}
		}
	}
	if found < 300 {
		t.Errorf("only %d paths found", found)
	}
}

// readLinesOnly is readRequest without its fast path, readHead: every
// head is read line by line.
func readLinesOnly(src Source, lim Limits, req *Request, hdr []event.Header) (bool, error) {
	r := &reader{src: src, cap: lim.Capture, inHead: true, hdr: hdr}
	req.known.noted = true
	buf, _ := src.Peek(peekSize)
	return readLines(r, buf, req, lim)
}

type readFunc func(Source, Limits, *Request, []event.Header) (bool, error)

// firstReader returns a session's Reader over in that has what arrived
// first buffered, up to 4096 bytes, as the engine's has.
func firstReader(in []byte) *service.Reader {
	fs := &firstSource{}
	fs.Reset(in)
	r := service.NewReader(fs, 4096)
	r.Fill()
	return r
}

// readEach reads the requests of in with read, as ServeTCP does (room for
// hdrRoom headers), and returns them, the errors and the bytes left.
func readEach(in []byte, lim Limits, hdrRoom int, read readFunc) ([]Request, []string, []byte) {
	src := firstReader(in)
	var reqs []Request
	var errs []string
	for range 64 {
		var req Request
		ok, err := read(src, lim, &req, make([]event.Header, 0, hdrRoom))
		errs = append(errs, fmt.Sprint(err))
		if !ok {
			break
		}
		if req.Headers != nil && len(req.Headers) == 0 {
			req.Headers = nil // capacity is no difference
		}
		reqs = append(reqs, req)
		if err != nil || req.Malformed != "" || req.Truncated {
			break
		}
	}
	rest, _ := io.ReadAll(src)
	return reqs, errs, rest
}

// compareHeads checks that readRequest, which takes readHead's way where
// it can, reads what line-by-line reading reads, and reports whether
// readHead took the first request.
func compareHeads(t *testing.T, in []byte, lim Limits) bool {
	t.Helper()
	for _, room := range []int{0, 6} {
		got, gotErrs, gotRest := readEach(in, lim, room, readRequest)
		want, wantErrs, wantRest := readEach(in, lim, room, readLinesOnly)
		if !reflect.DeepEqual(got, want) || !slices.Equal(gotErrs, wantErrs) || !bytes.Equal(gotRest, wantRest) {
			t.Fatalf("%q %+v room %d:\n got %+v %v rest %q\nwant %+v %v rest %q", in, lim, room,
				got, gotErrs, gotRest, want, wantErrs, wantRest)
		}
	}
	src := firstReader(in)
	buf, _ := src.Peek(peekSize)
	var req Request
	return readHead(&reader{src: src, cap: lim.Capture, inHead: true}, buf, &req, lim)
}

// headInputs are the package's requests and heads at the edges of
// readHead's way: folded, blank, Unicode and colon-less names, bare line
// ends, many headers, no version, bodies.
func headInputs(t testing.TB) [][]byte {
	in := corpusInputs(t)
	for _, s := range []string{
		scannerRequest, scannerRequest + scannerRequest,
		"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\tagain  \r\nX: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nbad line\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\n : blank\r\n\r\n", "GET / HTTP/1.1\r\n\t\r: blank\r\n\r\n",
		"GET / HTTP/1.1\r\n\u00a0: nbsp\r\n\r\n", "GET / HTTP/1.1\r\n\u00a0x: nbsp\r\n\r\n", "GET / HTTP/1.1\r\n\xc2: bad\r\n\r\n",
		"GET / HTTP/1.1\r\nHo\u017ft: long s\r\nUser-Agent: a\r\n\r\n", "GET / HTTP/1.1\r\nTransfer-Encod\u0130ng: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\n: empty name\r\n\r\n", "GET / HTTP/1.1\r\nHost :  a \t\r\nX:\r\nY: \r\n\r\n",
		"GET / HTTP/1.0\nHost: bare-lf\n\n", "GET / HTTP/1.0\r\nHost: cr\r\r\n\r\n", "GET / HTTP/1.0\r\n\r\r\n\r\n",
		"GET / HTTP/1.0\r\nHost: no end\r\n", "GET / HTTP/1.0\r\n", "GET /\r\n\r\n", "GET /\r\nGET / HTTP/1.0\r\n\r\n",
		"\r\nGET / HTTP/1.0\r\n\r\n", "GET  / HTTP/1.0\r\n\r\n", "GET / \r\nHost: a\r\n\r\n", "0 0 \n\n", "G\x01T / HTTP/1.0\r\nHost: a\r\n\r\n", "GET / HTTP/9.99\r\n\r\n",
		"GET / HTTP/1.0 x\r\nHost: a\r\n\r\n", "GE:T / HTTP/1.0\r\nHost: a\r\n\r\n", "GET / FTP/1.0\r\nHost: a\r\n\r\n",
		"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.0\r\n\r\n",
		"POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-length: 6\r\n\r\nhello!",
		"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: x\r\n\r\n",
		"GET / HTTP/1.0\r\nHost: " + strings.Repeat("h", 5000) + "\r\nX: y\r\n\r\n",
		"GET /" + strings.Repeat("a", 300) + " HTTP/1.0\r\n" + strings.Repeat("X-Many: v\r\n", 20) + "\r\n",
		"GET / HTTP/1.0\r\n" + strings.Repeat("X-More: v\r\n", maxHeadLines) + "Host: late\r\n\r\n",
		"GET / HTTP/1.0\r\n" + strings.Repeat("X-Most: v\r\n", 300) + "Host: far\r\nConnection: close\r\n\r\n",
	} {
		in = append(in, []byte(s))
	}
	return in
}

func TestReadHeadIsReadLines(t *testing.T) {
	taken := 0
	for _, lim := range []Limits{
		{MaxLine: 1 << 16, MaxHeaderBytes: 1 << 16, MaxHeaders: 1000, Capture: 1 << 20},
		{MaxLine: 1024, MaxHeaderBytes: 2048, MaxHeaders: 10, Capture: 4096},
		{MaxLine: 20, MaxHeaderBytes: 40, MaxHeaders: 2, Capture: 64},
	} {
		for _, in := range headInputs(t) {
			if compareHeads(t, in, lim) {
				taken++
			}
		}
	}
	if taken < 100 {
		t.Errorf("readHead took only %d heads", taken)
	}
	// Each bound at every value up to past the input's length, the others
	// wide; then bounds together.
	wide := Limits{MaxLine: 1 << 16, MaxHeaderBytes: 1 << 16, MaxHeaders: 100, Capture: 1 << 20}
	for _, s := range []string{scannerRequest, "GET / HTTP/1.1\r\nA: 1\r\nBb:  2 \r\n\r\n", "GET / HTTP/1.0\n\n",
		"POST / HTTP/1.1\nContent-Length: 3\n\nabc"} {
		in := []byte(s)
		for v := 1; v <= len(in)+1; v++ {
			line, room, many, capture := wide, wide, wide, wide
			line.MaxLine, room.MaxHeaderBytes, many.MaxHeaders, capture.Capture = v, v, v, v
			for _, lim := range []Limits{line, room, many, capture} {
				compareHeads(t, in, lim)
			}
			for l := 10; l < 60; l += 7 {
				compareHeads(t, in, Limits{MaxLine: l, MaxHeaderBytes: v, MaxHeaders: 1 + v%4, Capture: len(in) - 1 + v%3})
			}
		}
	}
}

func FuzzReadHead(f *testing.F) {
	for _, in := range headInputs(f) {
		f.Add(in, uint16(512), uint16(1024), uint8(16), uint16(2048))
	}
	f.Fuzz(func(t *testing.T, in []byte, line, headerBytes uint16, headers uint8, capture uint16) {
		compareHeads(t, in, Limits{MaxLine: 1 + int(line)%2048, MaxHeaderBytes: 1 + int(headerBytes)%4096,
			MaxHeaders: 1 + int(headers)%64, Capture: 1 + int(capture)%8192})
	})
}

// checkKnown checks that what the parser noted of the headers is what a
// search of them finds.
func checkKnown(t *testing.T, req *Request) {
	t.Helper()
	if !req.known.noted {
		t.Fatal("nothing noted")
	}
	for _, c := range []struct {
		name      string
		got, want func() (string, bool)
	}{
		{"Host", req.host, func() (string, bool) { return req.Header("Host") }},
		{"User-Agent", req.userAgent, func() (string, bool) { return req.Header("User-Agent") }},
		{"Authorization", req.authorization, func() (string, bool) { return req.Header("Authorization") }},
	} {
		v, ok := c.got()
		wv, wok := c.want()
		if v != wv || ok != wok {
			t.Fatalf("%+v: %s = %q %v, want %q %v", req.Headers, c.name, v, ok, wv, wok)
		}
	}
	for _, tok := range []string{"close", "keep-alive"} {
		if got, want := req.connectionHas(tok), req.HasToken("Connection", tok); got != want {
			t.Fatalf("%+v: Connection has %s: %v, want %v", req.Headers, tok, got, want)
		}
	}
	if !req.known.body {
		for _, h := range req.Headers {
			if n := trimName(h.Name); lowerIs(n, "content-length") || lowerIs(n, "transfer-encoding") {
				t.Fatalf("%+v: body header %q not noted", req.Headers, h.Name)
			}
		}
	}
}

// Headers the server reads are found where the parser noted them, as a
// search finds them: names in any case, with blanks, Unicode's folds, the
// first of several, past the 254 headers noted.
func TestKnownHeaders(t *testing.T) {
	names := []string{"Host", "HOST", "hOsT", "Host \t", "Ho\u017ft", "HO\u017fT", "Hos", "Hostt", "Hoxt",
		"User-Agent", "USER-AGENT", "U\u017fer-Agent", "User_Agent", "Connection", "CONNECTION", "Connectio\u0578",
		"Authorization", "AUTHORIZATION", "Content-Length", "content-length", "Transfer-Encoding", "transfer-encod\u0130ng",
		"Tran\u017ffer-Encoding", "\u212aeep", "Accept", "X", "Content_Length", "Transfer-Encodinh"}
	var reqs []string
	for _, a := range names {
		for _, b := range names {
			reqs = append(reqs, "GET / HTTP/1.1\r\n"+a+": 1, close\r\n"+b+": keep-alive\r\nAuthorization: Basic eDp5\r\n\r\n")
		}
	}
	reqs = append(reqs, "GET / HTTP/1.0\r\n"+strings.Repeat("X-Most: v\r\n", 300)+"Host: far\r\nConnection: Keep-Alive\r\n\r\n",
		"GET / HTTP/1.0\r\nHost: near\r\n"+strings.Repeat("X-Most: v\r\n", 300)+"Host: far\r\nUser-Agent: far\r\n\r\n")
	lim := Limits{MaxLine: 1 << 16, MaxHeaderBytes: 1 << 16, MaxHeaders: 1000, Capture: 1 << 20}
	inputs := headInputs(t)
	for _, r := range reqs {
		inputs = append(inputs, []byte(r))
	}
	for _, in := range inputs {
		for _, read := range []readFunc{readRequest, readLinesOnly} {
			reqs, _, _ := readEach(in, lim, 6, read)
			for i := range reqs {
				checkKnown(t, &reqs[i])
			}
		}
	}
	// A Request the parser did not make is searched.
	r := &Request{Headers: []event.Header{{Name: "host", Value: "h"}, {Name: "Connection", Value: "close"}}}
	if h, _ := r.host(); h != "h" || !r.connectionHas("close") {
		t.Errorf("host %q, connection close %v", h, r.connectionHas("close"))
	}
}

// foldIs is strings.EqualFold.
func TestFoldIs(t *testing.T) {
	words := []string{"", "a", "A", "host", "Host", "HOST", "Ho\u017ft", "ho\u017ft", "Hos", "Hostt", "\u212a", "k", "K", "\u212ak",
		"kk", "s", "S", "\u017f", "\u017f\u017f", "ss", "\xff", "\xc5", "\xc5\xbf", "[", "{", "@", "`", "\r", "-", "user-agent", "User-Agent",
		"Uѕer-Agent", "\u0130", "i", "I", "\u0131"}
	for _, s := range words {
		for _, u := range words {
			if got, want := foldIs(s, u), strings.EqualFold(s, u); got != want {
				t.Errorf("foldIs(%q, %q) = %v, want %v", s, u, got, want)
			}
		}
	}
}

func FuzzFoldIs(f *testing.F) {
	f.Add("Host", "hOsT")
	f.Add("Ho\u017ft", "HOST")
	f.Add("\u212aeep-Alive", "keep-alive")
	f.Fuzz(func(t *testing.T, s, u string) {
		if got, want := foldIs(s, u), strings.EqualFold(s, u); got != want {
			t.Fatalf("foldIs(%q, %q) = %v, want %v", s, u, got, want)
		}
	})
}

// refParseLine is parseLine as first written.
func refParseLine(req *Request) {
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
	f := strings.Split(l, " ")
	switch len(f) {
	case 2:
		req.Method, req.URI = f[0], f[1]
	case 3:
		req.Method, req.URI, req.Version = f[0], f[1], f[2]
	default:
		if req.Malformed == "" {
			req.Malformed = BadRequestLine
		}
		req.Method = f[0]
		if len(f) > 1 {
			req.URI = f[1]
		}
		return
	}
	if req.Malformed != "" {
		return
	}
	isToken := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
				return false
			}
		}
		return true
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

func checkParseLine(t *testing.T, line string) {
	got, want := Request{Line: line}, Request{Line: line}
	parseLine(&got)
	refParseLine(&want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseLine(%q) = %+v, want %+v", line, got, want)
	}
}

func TestParseLineAsWritten(t *testing.T) {
	lines := []string{"", " ", "  ", "GET", "GET /", "GET / HTTP/1.0", "GET / HTTP/1.1", "GET / HTTP/1.0 ", "GET  / HTTP/1.0",
		" GET / HTTP/1.0", "GET / HTTP/10.10", "GET / HTTP/100.1", "GET / HTTP/1.", "GET / http/1.0", "G\x7fT / HTTP/1.0",
		"GET /\x00 HTTP/1.0", "GET / HTTP/1.0\x01", "GE(T / HTTP/1.0", "GE\xffT / HTTP/1.0", "GET  HTTP/1.0", "a b c d e", "M-SEARCH * HTTP/1.1"}
	for c := 0; c < 256; c++ {
		lines = append(lines, "G"+string(rune(c))+"T / HTTP/1.0", "GET / HTTP/1."+string(byte(c)))
	}
	for _, in := range corpusInputs(t) {
		l, _, _ := strings.Cut(string(in), "\n")
		lines = append(lines, strings.TrimSuffix(l, "\r"))
	}
	for _, l := range lines {
		checkParseLine(t, l)
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add("GET / HTTP/1.0")
	f.Add("GE(T /x?y HTTP/1.1 z")
	f.Fuzz(checkParseLine)
}

// splitName finds what bytes.IndexByte, blankName and isASCII find.
func TestSplitName(t *testing.T) {
	for _, s := range []string{"", ":", " :", "\t\r\v\f :", "a:", " a :", "Host: x", "Host", "\u00a0:", "\u00a0a:", "\xc2:", "\x85:",
		"\u2000\u3000:", "a\u00a0:", "\u00a0\u00a0", "x: y: z", "\x00:", "\x7f:"} {
		b := []byte(s)
		wantColon := bytes.IndexByte(b, ':')
		if wantColon >= 0 && blankName(b[:wantColon]) {
			wantColon = -1
		}
		colon, ascii := splitName(b)
		if colon != wantColon || (colon >= 0 && ascii != isASCII(s[:colon])) {
			t.Errorf("splitName(%q) = %d, %v; want %d", s, colon, ascii, wantColon)
		}
		if got, want := blankName(b), len(bytes.TrimSpace(b)) == 0; got != want {
			t.Errorf("blankName(%q) = %v, want %v", s, got, want)
		}
		if got, want := trimBlanks(s), strings.Trim(s, " \t"); got != want {
			t.Errorf("trimBlanks(%q) = %q, want %q", s, got, want)
		}
	}
}
