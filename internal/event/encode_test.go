package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// marshalReflect is the reference the hand-written encoder must match:
// the wire struct through encoding/json.
func marshalReflect(e *Event) ([]byte, error) {
	var d []byte
	if e.Detail == nil {
		d = []byte("{}")
	} else {
		var err error
		if d, err = json.Marshal(e.Detail); err != nil {
			return nil, fmt.Errorf("event %s: %w", e.Kind, err)
		}
	}
	addr := func(a netip.AddrPort) string {
		if !a.IsValid() {
			return ""
		}
		return a.Addr().Unmap().String()
	}
	return json.Marshal(wire{
		ID: e.ID, Time: e.Time.UTC(), Sensor: e.Sensor, Session: e.Session,
		Service: e.Service, Transport: e.Transport,
		SrcIP: addr(e.Src), SrcPort: e.Src.Port(),
		DstIP: addr(e.Dst), DstPort: e.Dst.Port(),
		Kind: e.Kind, Detail: d,
	})
}

var allKinds = []Kind{KindConnect, KindClose, KindRequest, KindLogin, KindCommand, KindPayload,
	KindUpload, KindDownload, KindSample, KindMail, KindRPC, KindDetection, KindSSH, KindFetch, KindAlert}

// pieces are what random strings are made of: the characters encoding/json
// escapes, invalid UTF-8, multi-byte runes and plain text.
var pieces = []string{"", "a", "GET", "/default.ida", " ", "\"", "\\", "<", ">", "&", "\x00", "\x01", "\x1f",
	"\b", "\f", "\n", "\r", "\t", "\x7f", "\x80", "\xff", "\xc3", "\xe2\x80", "é", "日本", "\u2028", "\u2029",
	"\U0001F600", "\ufffd", "%u9090", "{", "}", "[", "]", ",", ":", "'"}

func randString(r *rand.Rand) string {
	if r.IntN(4) == 0 {
		return ""
	}
	var b strings.Builder
	for range r.IntN(12) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func randBytes(r *rand.Rand) []byte {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	b := make([]byte, r.IntN(70))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// fill sets every field of the struct v points to, recursively, to a
// random value: zero often enough to exercise omitempty.
func fill(r *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if r.IntN(3) == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(r, p.Elem())
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(r, v.Field(i))
			}
		}
	case reflect.String:
		v.SetString(randString(r))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		switch r.IntN(4) {
		case 0:
			v.SetInt(0)
		case 1:
			v.SetInt(-r.Int64N(1 << 40))
		default:
			v.SetInt(r.Int64() >> (64 - uint(v.Type().Bits())))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if r.IntN(4) == 0 {
			v.SetUint(0)
		} else {
			v.SetUint(r.Uint64() >> (64 - uint(v.Type().Bits())))
		}
	case reflect.Float32, reflect.Float64:
		v.SetFloat(r.NormFloat64())
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes(randBytes(r))
			return
		}
		switch r.IntN(4) {
		case 0:
			v.Set(reflect.Zero(v.Type()))
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			s := reflect.MakeSlice(v.Type(), 1+r.IntN(4), 5)
			for i := range s.Len() {
				fill(r, s.Index(i))
			}
			v.Set(s)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range r.IntN(3) {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(r, k)
			fill(r, e)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	default:
		panic(fmt.Sprintf("fill: no random value for %s", v.Type()))
	}
}

var addrs = []netip.AddrPort{
	{},
	netip.MustParseAddrPort("203.0.113.7:4321"),
	netip.MustParseAddrPort("0.0.0.0:0"),
	netip.MustParseAddrPort("[2001:db8::1]:80"),
	netip.MustParseAddrPort("[::ffff:198.51.100.1]:65535"),
	netip.MustParseAddrPort("[fe80::1%eth0]:22"),
	netip.AddrPortFrom(netip.MustParseAddr("fe80::1").WithZone("a\"<b>&\x01\xff"), 9),
}

func randEvent(r *rand.Rand) *Event {
	k := allKinds[r.IntN(len(allKinds))]
	d := NewDetail(k)
	fill(r, reflect.ValueOf(d).Elem())
	zones := []*time.Location{time.UTC, time.FixedZone("x", 3600), time.FixedZone("y", -5*3600-1800)}
	t := time.Unix(r.Int64N(1<<34), r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
	if r.IntN(5) == 0 {
		t = t.Truncate(time.Second)
	}
	e := &Event{ID: NewID(t), Time: t, Sensor: randString(r), Session: randString(r), Service: randString(r),
		Transport: Transport(randString(r)), Src: addrs[r.IntN(len(addrs))], Dst: addrs[r.IntN(len(addrs))],
		Kind: k, Detail: d}
	if r.IntN(3) == 0 {
		e.ID, e.Kind = randString(r), Kind(randString(r))
	}
	return e
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		e := randEvent(r)
		want, werr := marshalReflect(e)
		got, gerr := e.MarshalJSON()
		if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("event %d (%s):\n got %s, %v\nwant %s, %v", i, e.Kind, got, gerr, want, werr)
		}
		// Appending to a buffer that holds something keeps it.
		pre := []byte("x\n")
		got, gerr = e.AppendJSON(pre)
		if gerr != nil || !bytes.Equal(got, append([]byte("x\n"), want...)) {
			t.Fatalf("event %d: AppendJSON after a prefix: %s, %v", i, got, gerr)
		}
	}
}

func TestAppendJSONEdgeCases(t *testing.T) {
	t0 := time.Date(2001, 7, 19, 12, 0, 0, 123456789, time.UTC)
	cases := map[string]Event{
		"nil detail":        {ID: "x", Time: t0, Kind: KindConnect},
		"zero event":        {},
		"nil *Close":        {ID: "x", Time: t0, Kind: KindClose, Detail: (*Close)(nil)},
		"nil *Request":      {ID: "x", Time: t0, Kind: KindRequest, Detail: (*Request)(nil)},
		"empty connect":     {ID: "x", Time: t0, Kind: KindConnect, Detail: &Connect{}},
		"raw":               {ID: "x", Time: t0, Kind: "future", Detail: Raw{K: "future", JSON: json.RawMessage(`{ "a" : "<b>" }`)}},
		"empty raw":         {ID: "x", Time: t0, Kind: "future", Detail: Raw{K: "future"}},
		"year 10000":        {ID: "x", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Detail: &Close{}},
		"year -1":           {ID: "x", Time: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), Detail: &Close{}},
		"bad raw":           {ID: "x", Time: t0, Kind: "future", Detail: Raw{K: "future", JSON: json.RawMessage(`{`)}},
		"close transcript":  {ID: "x", Time: t0, Kind: KindClose, Detail: &Close{Transcript: []byte("<secret")}},
		"request all empty": {ID: "x", Time: t0, Kind: KindRequest, Detail: &Request{}},
		"request empty lists": {ID: "x", Time: t0, Kind: KindRequest,
			Detail: &Request{Headers: []Header{}, Body: []byte{}, Status: -1}},
		"close negative": {ID: "x", Time: t0, Kind: KindClose, Detail: &Close{DurationMS: -5, Reason: "\u2028"}},
	}
	for name, e := range cases {
		want, werr := marshalReflect(&e)
		got, gerr := e.MarshalJSON()
		if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s, %v\nwant %s, %v", name, got, gerr, want, werr)
		}
		// After a prefix: kept, and kept alone on an error.
		if werr != nil {
			want = nil
		}
		if got, gerr = e.AppendJSON([]byte("x\n")); (werr != nil) != (gerr != nil) || string(got) != "x\n"+string(want) {
			t.Errorf("%s after a prefix:\n got %s, %v\nwant x\n%s, %v", name, got, gerr, want, werr)
		}
	}
}

// The hot details must be encoded by hand: when one of their structs
// changes, the encoders in encode.go (and fastShapes) need the change too.
func TestHotDetailsEncodedByHand(t *testing.T) {
	for typ, ok := range fast {
		if !ok {
			t.Errorf("%s changed since encode.go was written for it (it now falls back to encoding/json):\n have %s\nwant %s",
				typ, shapeOf(typ), fastShapes[typ])
		}
	}
	for _, d := range []Detail{&Connect{}, &Close{}, &Request{}} {
		if !fastOK(d) {
			t.Errorf("%T is not encoded by hand", d)
		}
	}
}

func benchEvent() *Event {
	t := time.Now()
	return &Event{ID: NewID(t), Time: t, Sensor: "sensor-1", Session: NewID(t), Service: "http", Transport: TCP,
		Src: netip.MustParseAddrPort("198.51.100.23:40112"), Dst: netip.MustParseAddrPort("192.0.2.10:80"),
		Kind: KindRequest, Detail: &Request{Method: "GET", URI: "/", Path: "/", Version: "HTTP/1.0",
			Headers: []Header{{"Host", "192.0.2.10"}, {"User-Agent", "Mozilla/5.0 (compatible; scanner)"}, {"Accept", "*/*"}},
			Host:    "192.0.2.10", UserAgent: "Mozilla/5.0 (compatible; scanner)", Status: 200, Action: "static:iisstart.htm"}}
}

func BenchmarkAppendJSON(b *testing.B) {
	e := benchEvent()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = e.AppendJSON(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendJSONConnection encodes the three events of a short
// connection: connect, request and close.
func BenchmarkAppendJSONConnection(b *testing.B) {
	req := benchEvent()
	conn, cl := *req, *req
	conn.Kind, conn.Detail = KindConnect, &Connect{Listener: "192.0.2.10:80"}
	cl.Kind, cl.Detail = KindClose, &Close{DurationMS: 3, BytesIn: 102, BytesOut: 1787, Reason: "server",
		TranscriptIn: 102, TranscriptOut: 1787}
	evs := []*Event{&conn, req, &cl}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for _, e := range evs {
			var err error
			if buf, err = e.AppendJSON(buf); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkMarshalReflect(b *testing.B) {
	e := benchEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := marshalReflect(e); err != nil {
			b.Fatal(err)
		}
	}
}

// plainWord passes a word exactly when appendString would copy each of its
// bytes as it is: one byte of each value at each place among plain ones,
// and random words.
func TestPlainWord(t *testing.T) {
	plain := func(w []byte) bool {
		for _, c := range w {
			if c >= utf8.RuneSelf || !htmlSafe[c] {
				return false
			}
		}
		return true
	}
	w := []byte("abcdefgh")
	for pos := range 8 {
		for c := range 256 {
			v := append([]byte(nil), w...)
			v[pos] = byte(c)
			if got, want := plainWord(load8(string(v))), plain(v); got != want {
				t.Fatalf("plainWord(%q) = %v; want %v", v, got, want)
			}
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		v := make([]byte, 8)
		for i := range v {
			switch r.IntN(3) {
			case 0:
				v[i] = byte(r.IntN(256))
			case 1:
				v[i] = byte(0x20 + r.IntN(0x60))
			default:
				v[i] = "\"\\<>&\x1f\x20\x7f\x80"[r.IntN(9)]
			}
		}
		if got, want := plainWord(load8(string(v))), plain(v); got != want {
			t.Fatalf("plainWord(%q) = %v; want %v", v, got, want)
		}
	}
}

// checkAppendTime checks that appendTime writes what time.Time.AppendText
// does in UTC, after what the buffer held, and keeps the buffer on an
// error.
func checkAppendTime(t *testing.T, tm time.Time) {
	t.Helper()
	got, gotErr := appendTime([]byte("x"), tm)
	want, wantErr := tm.UTC().AppendText([]byte("x"))
	if wantErr != nil {
		want = []byte("x") // on an error b is kept
	}
	if string(got) != string(want) || (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%v: got %q, %v; want %q, %v", tm, got, gotErr, want, wantErr)
	}
}

// appendTime writes what time.Time.AppendText does, in UTC, errors
// included.
func TestAppendTime(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800), time.FixedZone("y", -7*3600)}
	check := func(tm time.Time) { t.Helper(); checkAppendTime(t, tm) }
	for _, tm := range []time.Time{{}, time.Unix(0, 0), time.Unix(0, 1), time.Unix(1, 100), time.Unix(1, 999999999),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 12, 0, 0, 500000000, time.FixedZone("z", 14*3600))} {
		check(tm)
	}
	for range 100000 {
		var ns int64
		switch r.IntN(3) {
		case 0:
			ns = r.Int64N(4102444800) * 1e9 // whole seconds, 1970 to 2100
		case 1:
			ns = r.Int64N(4102444800*1e9) / int64(math.Pow10(r.IntN(10))) * int64(math.Pow10(r.IntN(10)))
		default:
			ns = r.Int64()
		}
		check(time.Unix(0, ns).In(zones[r.IntN(len(zones))]))
		check(time.Unix(r.Int64N(1<<40)-1<<39, r.Int64N(1e9)))
	}
}

// Every year 0 to 9999 (its first and last second, the end of February
// and the leap day), every count of trailing zeros of the nanoseconds,
// times outside RFC 3339's years and times in other zones: appendTime
// writes what time.Time.AppendText does in UTC.
func TestAppendTimeDates(t *testing.T) {
	check := func(tm time.Time) { t.Helper(); checkAppendTime(t, tm) }
	east, west := time.FixedZone("e", 14*3600), time.FixedZone("w", -12*3600-1)
	for y := range 10000 {
		for _, tm := range []time.Time{time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(y, 2, 28, 23, 59, 59, 999999999, time.UTC), time.Date(y, 2, 29, 12, 30, 1, 1, time.UTC),
			time.Date(y, 3, 1, 0, 0, 0, 100, time.UTC), time.Date(y, 12, 31, 23, 59, 59, 10, time.UTC)} {
			check(tm)
			check(tm.In(east))
			check(tm.In(west))
		}
	}
	var ns []int
	for p := 1; p < 1e9; p *= 10 {
		for d := 1; d <= 9; d++ {
			ns = append(ns, d*p, 123456789/p*p, 999999999/p*p, 1e9-p, p+1)
		}
	}
	for _, n := range append(ns, 0, 1, 999999999) {
		check(time.Date(2024, 2, 29, 23, 59, 59, n, time.UTC))
		check(time.Date(0, 1, 1, 0, 0, 0, n, time.UTC))
		check(time.Date(9999, 12, 31, 23, 59, 59, n, time.UTC))
	}
	for _, tm := range []time.Time{{}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 12, 31, 23, 59, 59, 1, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, east), time.Date(-1, 12, 31, 23, 59, 59, 0, west), time.Date(-9999, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(math.MaxInt64, 0), time.Unix(math.MinInt64, 0), time.Unix(minSec, 0), time.Unix(minSec-1, 999999999),
		time.Unix(maxSec-1, 999999999), time.Unix(maxSec, 0), time.Now(), time.Now().Add(-time.Hour)} {
		check(tm)
	}
}

// The second's text comes from lastStamp when it holds that second; it is
// replaced for a later second only, never by a time outside RFC 3339's
// years. Whatever it holds, appendTime's bytes are AppendText's.
func TestAppendTimeCache(t *testing.T) {
	defer lastStamp.Store(nil)
	lastStamp.Store(nil)
	const base = 1700000000
	for i, c := range []struct {
		tm     time.Time
		cached int64 // the second lastStamp holds after tm
	}{
		{time.Unix(base, 999999999), base},
		{time.Unix(base+1, 0), base + 1},
		{time.Unix(base+1, 1), base + 1},
		{time.Unix(base, 500000000), base + 1}, // earlier: computed, not kept
		{time.Unix(base+1, 999999999).In(time.FixedZone("z", 3600)), base + 1},
		{time.Unix(base+2, 0), base + 2},
		{time.Unix(base+1, 999999999), base + 2},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), base + 2}, // out of range: AppendText's error
		{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), base + 2},
		{time.Unix(base+3, 0), base + 3},
		{time.Date(9999, 12, 31, 23, 59, 59, 1, time.UTC), maxSec - 1},
		{time.Unix(base+4, 0), maxSec - 1},
	} {
		got, gotErr := appendTime([]byte{}, c.tm)
		want, wantErr := c.tm.UTC().AppendText([]byte{})
		if wantErr != nil {
			want = []byte{}
		}
		if string(got) != string(want) || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%d: %v: got %q, %v; want %q, %v", i, c.tm, got, gotErr, want, wantErr)
		}
		if s := lastStamp.Load(); s == nil || s.sec != c.cached {
			t.Fatalf("%d: %v: lastStamp holds %v; want second %d", i, c.tm, s, c.cached)
		}
		// A second time, from the stamp when it holds the second.
		if got, _ = appendTime(nil, c.tm); string(got) != string(want) {
			t.Fatalf("%d: %v again: got %q; want %q", i, c.tm, got, want)
		}
	}
}

// Goroutines writing events around second boundaries, forwards and
// backwards, all get the bytes of encoding/json (run with -race).
func TestAppendJSONConcurrent(t *testing.T) {
	defer lastStamp.Store(nil)
	lastStamp.Store(nil)
	base := time.Now().Truncate(time.Second)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			var buf []byte
			for i := range 3000 {
				e := randEvent(r)
				// Mostly forwards, a second at a time, sometimes back.
				e.Time = base.Add(time.Duration(i/300-r.IntN(2))*time.Second + time.Duration(r.Int64N(1e9)))
				want, werr := marshalReflect(e)
				var gerr error
				buf, gerr = e.AppendJSON(buf[:0])
				if (werr != nil) != (gerr != nil) || !bytes.Equal(buf, want) {
					t.Errorf("goroutine %d, event %d:\n got %s, %v\nwant %s, %v", g, i, buf, gerr, want, werr)
					return
				}
			}
		})
	}
	wg.Wait()
}

// stringInserts are put at every place of the strings TestAppendString
// builds: every byte value, and the runes encoding/json treats apart.
var stringInserts = func() []string {
	s := []string{"é", "\u2028", "\u2029", "\u2027", "\u202a", "\xe2\x80", "\xe2\x80\xa8\xa9", "\U0001F600",
		"\ufffd", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf"}
	for c := range 256 {
		s = append(s, string([]byte{byte(c)}))
	}
	return s
}()

// appendString writes what encoding/json writes for a string: strings of
// every length up to 44 (the plain check reads 8, 4 and 1-byte pieces
// that overlap), from canonical lower-case UUIDs, upper-case ones and
// text, with each of stringInserts at each place.
func TestAppendString(t *testing.T) {
	check := func(s string) {
		t.Helper()
		want, _ := json.Marshal(s)
		if got := appendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("appendString(%q) = %s; want %s", s, got[1:], want)
		}
	}
	id := NewID(time.Now())
	bases := []string{id + "abcdefgh", strings.ToUpper(id) + "ABCDEFGH", "Mozilla/5.0 (compatible; scanner) ~#$%^*()"}
	for _, base := range bases {
		for n := range len(base) + 1 {
			check(base[:n])
			for pos := range n {
				for _, in := range stringInserts {
					check(base[:pos] + in + base[pos+1:n])
				}
			}
		}
	}
	// Long strings: plain, and with one special byte at the end or start.
	long := strings.Repeat("GET /index.html?", 40)
	for _, s := range []string{long, long + "<", "\x00" + long, long[:len(long)-1] + "\xff", long + "\u2028"} {
		check(s)
	}
}

// Ids and sessions that look like UUIDs but are not canonical (upper
// case, a character that is not hex or one that JSON escapes, a length
// off by one) are encoded as any string.
func TestAppendJSONIDs(t *testing.T) {
	id := NewID(time.Date(2001, 7, 19, 12, 0, 0, 0, time.UTC))
	ids := []string{id, strings.ToUpper(id), id[:35], id + "0", id[:35] + "g", "<" + id[1:], id[:8] + "\"" + id[9:],
		id[:20] + "\x00" + id[21:], id[:30] + "\x80" + id[31:], id[:33] + "\u2028", id[:18] + "&" + id[19:],
		id[:35] + "\\", strings.Repeat("-", 36), strings.Repeat("f", 36)}
	for _, s := range ids {
		e := &Event{ID: s, Session: s, Time: time.Unix(1e9, 5), Kind: KindConnect, Detail: &Connect{Listener: s}}
		want, werr := marshalReflect(e)
		got, gerr := e.AppendJSON(nil)
		if werr != nil || gerr != nil || !bytes.Equal(got, want) {
			t.Errorf("id %q:\n got %s, %v\nwant %s, %v", s, got, gerr, want, werr)
		}
	}
}

// appendUint and appendInt write what strconv writes: every value below
// 200000 (the pairs table's cases end at 100000), every power of ten and
// its neighbours, the extremes and random values.
func TestAppendInt(t *testing.T) {
	checkU := func(v uint64) {
		t.Helper()
		if got, want := appendUint([]byte("x"), v), strconv.AppendUint([]byte("x"), v, 10); !bytes.Equal(got, want) {
			t.Fatalf("appendUint(%d) = %s; want %s", v, got, want)
		}
	}
	checkI := func(v int64) {
		t.Helper()
		if got, want := appendInt([]byte("x"), v), strconv.AppendInt([]byte("x"), v, 10); !bytes.Equal(got, want) {
			t.Fatalf("appendInt(%d) = %s; want %s", v, got, want)
		}
	}
	for v := range uint64(200000) {
		checkU(v)
		checkI(int64(v))
		checkI(-int64(v))
	}
	for p := uint64(1); p <= 1e19; p *= 10 {
		for _, v := range []uint64{p - 1, p, p + 1} {
			checkU(v)
			checkI(int64(v))
			checkI(-int64(v))
		}
		if p > math.MaxUint64/10 {
			break
		}
	}
	checkU(math.MaxUint64)
	checkI(math.MaxInt64)
	checkI(math.MinInt64)
	r := rand.New(rand.NewPCG(8, 9))
	for range 100000 {
		v := r.Uint64() >> r.IntN(64)
		checkU(v)
		checkI(int64(v))
	}
}

// appendAddr writes the address as the wire struct's string: every octet
// value at each place of an IPv4 address (bare and mapped), IPv6 with
// and without zones.
func TestAppendAddr(t *testing.T) {
	check := func(a netip.AddrPort) {
		t.Helper()
		var s string
		if a.IsValid() {
			s = a.Addr().Unmap().String()
		}
		want, _ := json.Marshal(s)
		if got := appendAddr([]byte("x"), a); string(got) != "x"+string(want) {
			t.Fatalf("appendAddr(%v) = %s; want %s", a, got[1:], want)
		}
	}
	for pos := range 4 {
		for v := range 256 {
			o := [4]byte{1, 22, 133, 255}
			o[pos] = byte(v)
			check(netip.AddrPortFrom(netip.AddrFrom4(o), 1))
			check(netip.AddrPortFrom(netip.AddrFrom16(netip.AddrFrom4(o).As16()), 1))
		}
	}
	for _, a := range addrs {
		check(a)
	}
	r := rand.New(rand.NewPCG(10, 11))
	for range 10000 {
		var o [16]byte
		for i := range o {
			o[i] = byte(r.Uint32() >> r.IntN(9))
		}
		check(netip.AddrPortFrom(netip.AddrFrom4([4]byte(o[:4])), 0))
		check(netip.AddrPortFrom(netip.AddrFrom16(o), 0))
	}
}

// FuzzAppendJSON compares AppendJSON with encoding/json on random events
// (the seed picks the kind and the detail's fields) whose id, session,
// sensor, a detail string and time come from the fuzzer.
func FuzzAppendJSON(f *testing.F) {
	id := NewID(time.Date(2001, 7, 19, 12, 0, 0, 0, time.UTC))
	f.Add(uint64(1), id, "sensor-1", int64(995544000), int64(123456789), 0)
	f.Add(uint64(2), strings.ToUpper(id), "\u2028<a>\xff", int64(minSec), int64(0), 3600)
	f.Add(uint64(3), id[:35]+"\"", "", int64(maxSec-1), int64(999999999), -1)
	f.Add(uint64(4), "", "Mozilla/5.0 (compatible; scanner)", int64(maxSec), int64(1), 50400)
	f.Add(uint64(5), "\x00", "\t\n", int64(951782400), int64(100), -43199)
	f.Fuzz(func(t *testing.T, seed uint64, id, s string, sec, nsec int64, zone int) {
		r := rand.New(rand.NewPCG(seed, seed>>32))
		e := randEvent(r)
		e.ID, e.Session, e.Sensor = id, s, s+id
		e.Time = time.Unix(sec, nsec).In(time.FixedZone("f", zone%(18*3600)))
		switch d := e.Detail.(type) {
		case *Request:
			d.UserAgent = s
			d.Headers = append(d.Headers, Header{id, s})
		case *Close:
			d.Reason = s
			d.BytesIn = sec
		case *Connect:
			d.Listener = s
		}
		want, werr := marshalReflect(e)
		if werr != nil {
			want = nil // b is kept as it was
		}
		got, gerr := e.AppendJSON([]byte("x"))
		if (werr != nil) != (gerr != nil) || string(got) != "x"+string(want) {
			t.Fatalf("%s:\n got %s, %v\nwant x%s, %v", e.Kind, got, gerr, want, werr)
		}
	})
}

// FuzzAppendString compares appendString with encoding/json.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "abcd", "abcdefg", NewID(time.Now()), "<\u2028>", "\xff\xfe", "日本\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("appendString(%q) = %s; want %s", s, got[1:], want)
		}
	})
}

// FuzzAppendTime compares appendTime with time.Time.AppendText, the
// seconds' cache in whatever state the times before left it.
func FuzzAppendTime(f *testing.F) {
	f.Add(int64(1700000000), int64(999999999), 0)
	f.Add(int64(minSec), int64(0), -1)
	f.Add(int64(maxSec-1), int64(100), 3600)
	f.Add(int64(maxSec), int64(0), 0)
	f.Add(int64(951782400), int64(1), -43200)
	f.Fuzz(func(t *testing.T, sec, nsec int64, zone int) {
		tm := time.Unix(sec, nsec).In(time.FixedZone("f", zone%(18*3600)))
		got, gotErr := appendTime([]byte("x"), tm)
		want, wantErr := tm.UTC().AppendText([]byte("x"))
		if wantErr != nil {
			want = []byte("x")
		}
		if string(got) != string(want) || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%v: got %q, %v; want %q, %v", tm, got, gotErr, want, wantErr)
		}
	})
}
