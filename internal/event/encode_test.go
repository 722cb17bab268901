package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
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

// plain8 passes a word exactly when appendString would copy each of its
// bytes as it is: one byte of each value at each place among plain ones,
// and random words.
func TestPlain8(t *testing.T) {
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
			if got, want := plain8(string(v)), plain(v); got != want {
				t.Fatalf("plain8(%q) = %v; want %v", v, got, want)
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
		if got, want := plain8(string(v)), plain(v); got != want {
			t.Fatalf("plain8(%q) = %v; want %v", v, got, want)
		}
	}
}

// appendTime writes what time.Time.AppendText does, in UTC, errors
// included.
func TestAppendTime(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800), time.FixedZone("y", -7*3600)}
	check := func(tm time.Time) {
		t.Helper()
		got, gotErr := appendTime([]byte("x"), tm)
		want, wantErr := tm.UTC().AppendText([]byte("x"))
		if string(got) != string(want) || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%v: got %q, %v; want %q, %v", tm, got, gotErr, want, wantErr)
		}
	}
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
