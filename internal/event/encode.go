package event

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The JSON of an event is written by hand, appended to one buffer, for the
// envelope and for the details every connection emits (connect, request,
// close): encoding/json's reflection cost more than the rest of an event's
// trip through the pipeline. The bytes are exactly those encoding/json
// writes for the wire struct (field order, omitempty, HTML-safe string
// escapes, RFC 3339 time with nanoseconds, base64 bytes); encode_test.go
// checks it for every kind with random field values. Any other detail, and
// a hot one whose struct no longer has the fields this file was written
// for (see fastOK), goes through encoding/json.

// AppendJSON appends the event's JSON (docs/events.md), the bytes
// MarshalJSON returns, to b.
func (e *Event) AppendJSON(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"time":"`...)
	var err error
	if b, err = appendTime(b, e.Time); err != nil {
		return b[:start], fmt.Errorf("event %s: time: %w", e.Kind, err)
	}
	b = append(b, `","sensor":`...)
	b = appendString(b, e.Sensor)
	b = append(b, `,"session":`...)
	b = appendString(b, e.Session)
	b = append(b, `,"service":`...)
	b = appendString(b, e.Service)
	b = append(b, `,"transport":`...)
	b = appendString(b, string(e.Transport))
	b = append(b, `,"src_ip":`...)
	b = appendAddr(b, e.Src)
	b = append(b, `,"src_port":`...)
	b = strconv.AppendUint(b, uint64(e.Src.Port()), 10)
	b = append(b, `,"dst_ip":`...)
	b = appendAddr(b, e.Dst)
	b = append(b, `,"dst_port":`...)
	b = strconv.AppendUint(b, uint64(e.Dst.Port()), 10)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(e.Kind))
	b = append(b, `,"detail":`...)
	if b, err = appendDetail(b, e.Detail); err != nil {
		return b[:start], fmt.Errorf("event %s: %w", e.Kind, err)
	}
	return append(b, '}'), nil
}

// appendTime appends t in UTC as time.Time.AppendText does (RFC 3339
// with nanoseconds, trailing zeros cut), with digits written in pairs.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendText(b) // its error
	}
	hour, min, sec := t.Clock()
	b = append(b, pairs[year/100*2], pairs[year/100*2+1], pairs[year%100*2], pairs[year%100*2+1], '-',
		pairs[month*2], pairs[month*2+1], '-', pairs[day*2], pairs[day*2+1], 'T',
		pairs[hour*2], pairs[hour*2+1], ':', pairs[min*2], pairs[min*2+1], ':', pairs[sec*2], pairs[sec*2+1])
	if ns := t.Nanosecond(); ns != 0 {
		var f [10]byte
		f[0] = '.'
		n := 10
		for n > 1 && ns%10 == 0 { // trailing zeros are cut
			ns /= 10
			n--
		}
		for i := n - 1; i > 0; i-- {
			f[i] = byte('0' + ns%10)
			ns /= 10
		}
		b = append(b, f[:n]...)
	}
	return append(b, 'Z'), nil
}

// pairs holds the two digits of 0 to 99.
const pairs = "00010203040506070809" + "10111213141516171819" + "20212223242526272829" + "30313233343536373839" +
	"40414243444546474849" + "50515253545556575859" + "60616263646566676869" + "70717273747576777879" +
	"80818283848586878889" + "90919293949596979899"

// appender is a detail that writes its own JSON.
type appender interface {
	appendJSON(b []byte) []byte
}

func appendDetail(b []byte, d Detail) ([]byte, error) {
	if d == nil {
		return append(b, "{}"...), nil
	}
	if a, ok := d.(appender); ok && fastOK(d) {
		return a.appendJSON(b), nil
	}
	j, err := json.Marshal(d)
	if err != nil {
		return b, err
	}
	// encoding/json's output is already compact and HTML-escaped: the
	// wire struct's json.RawMessage would keep it as it is.
	return append(b, j...), nil
}

func (c *Connect) appendJSON(b []byte) []byte {
	if c.Listener == "" {
		return append(b, "{}"...)
	}
	b = append(b, `{"listener":`...)
	b = appendString(b, c.Listener)
	return append(b, '}')
}

func (c *Close) appendJSON(b []byte) []byte {
	b = append(b, `{"duration_ms":`...)
	b = strconv.AppendInt(b, c.DurationMS, 10)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, c.BytesIn, 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, c.BytesOut, 10)
	b = append(b, `,"reason":`...)
	b = appendString(b, c.Reason)
	b = append(b, `,"transcript_in":`...)
	b = strconv.AppendInt(b, c.TranscriptIn, 10)
	b = append(b, `,"transcript_out":`...)
	b = strconv.AppendInt(b, c.TranscriptOut, 10)
	return append(b, '}')
}

func (r *Request) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = appendOptString(b, `"method":`, r.Method)
	b = appendOptString(b, `"uri":`, r.URI)
	b = appendOptString(b, `"path":`, r.Path)
	b = appendOptString(b, `"query":`, r.Query)
	b = appendOptString(b, `"version":`, r.Version)
	b = appendHeaders(b, `"headers":[`, r.Headers)
	b = appendOptString(b, `"host":`, r.Host)
	b = appendOptString(b, `"user_agent":`, r.UserAgent)
	b = appendComma(b)
	b = append(b, `"body_len":`...)
	b = strconv.AppendInt(b, r.BodyLen, 10)
	if len(r.Body) > 0 {
		b = append(b, `,"body":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.Body)
		b = append(b, '"')
	}
	if r.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(r.Status), 10)
	}
	b = appendOptString(b, `"malformed":`, r.Malformed)
	if r.Truncated {
		b = append(b, `,"truncated":true`...)
	}
	b = appendOptString(b, `"sample":`, r.Sample)
	b = appendOptString(b, `"action":`, r.Action)
	b = appendHeaders(b, `"args":[`, r.Args)
	return append(b, '}')
}

// appendHeaders appends an omitempty list of headers; key ends in '['.
func appendHeaders(b []byte, key string, hs []Header) []byte {
	if len(hs) == 0 {
		return b
	}
	b = appendComma(b)
	b = append(b, key...)
	for i, h := range hs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, h.Name)
		b = append(b, `,"value":`...)
		b = appendString(b, h.Value)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendComma separates a field from the one before it, if any.
func appendComma(b []byte) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	return b
}

// appendOptString appends an omitempty string field.
func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	b = appendComma(b)
	b = append(b, key...)
	return appendString(b, s)
}

// appendAddr appends the address as the schema writes it: unmapped, ""
// when unset.
func appendAddr(b []byte, a netip.AddrPort) []byte {
	if !a.IsValid() {
		return append(b, `""`...)
	}
	b = append(b, '"')
	start := len(b)
	ip := a.Addr().Unmap()
	b = ip.AppendTo(b)
	if ip.Is4() {
		return append(b, '"') // digits and dots
	}
	for _, c := range b[start:] {
		if c >= utf8.RuneSelf || !htmlSafe[c] {
			// A zone with characters JSON escapes: escape it all.
			s := string(b[start:])
			return appendString(b[:start-1], s)
		}
	}
	return append(b, '"')
}

// htmlSafe holds the ASCII bytes encoding/json writes as they are (with
// its default HTML escaping): everything printable but '"', '\\', '<',
// '>' and '&'. DEL is written as it is.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = !strings.ContainsRune("\"\\<>&", rune(c))
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// plain8 reports whether the 8 bytes of s are all written as they are
// (htmlSafe, and ASCII): no control character, '"', '\\', '<', '>', '&',
// nor a byte of a multi-byte rune.
func plain8(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	_ = s[7]
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	// (v - n…) &^ v has a high bit set if and only if some byte of v is
	// below n (n ≤ 0x80): with n = 0x20, a control character of x; with
	// n = 1, a zero byte of x xor '"', '\\', '&' or, bit 1 set, '>' (so
	// '<' too). x's own high bits are the non-ASCII bytes.
	q, bs, amp, lt := x^'"'*ones, x^'\\'*ones, x^'&'*ones, x|2*ones^'>'*ones
	return (x|(x-0x20*ones)&^x|(q-ones)&^q|(bs-ones)&^bs|(amp-ones)&^amp|(lt-ones)&^lt)&highs == 0
}

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it: control characters, '"', '\\', '<', '>', '&', U+2028 and
// U+2029; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	// Eight bytes at a time while none needs a closer look: most strings
	// (ids, names, addresses, user agents) are plain ASCII throughout.
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if !plain8(s[i : i+8]) {
			break
		}
	}
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// fastShapes are the structs the hand-written encoders above were written
// for: each field's name, type and tag. A struct that has changed since
// (a field added in details.go) is encoded by encoding/json until its
// encoder here is brought up to date; encode_test.go fails meanwhile.
var fastShapes = map[reflect.Type]string{
	reflect.TypeFor[Connect](): `Listener string json:"listener,omitempty"`,
	reflect.TypeFor[Close](): `DurationMS int64 json:"duration_ms";BytesIn int64 json:"bytes_in";` +
		`BytesOut int64 json:"bytes_out";Reason string json:"reason";TranscriptIn int64 json:"transcript_in";` +
		`TranscriptOut int64 json:"transcript_out";Transcript []uint8 json:"-"`,
	reflect.TypeFor[Request](): `Method string json:"method,omitempty";URI string json:"uri,omitempty";` +
		`Path string json:"path,omitempty";Query string json:"query,omitempty";` +
		`Version string json:"version,omitempty";Headers []event.Header json:"headers,omitempty";` +
		`Host string json:"host,omitempty";UserAgent string json:"user_agent,omitempty";` +
		`BodyLen int64 json:"body_len";Body []uint8 json:"body,omitempty";Status int json:"status,omitempty";` +
		`Malformed string json:"malformed,omitempty";Truncated bool json:"truncated,omitempty";` +
		`Sample string json:"sample,omitempty";Action string json:"action,omitempty";Args []event.Header json:"args,omitempty"`,
	reflect.TypeFor[Header](): `Name string json:"name";Value string json:"value"`,
}

// shapeOf describes a struct's fields as fastShapes does.
func shapeOf(t reflect.Type) string {
	var parts []string
	for i := range t.NumField() {
		f := t.Field(i)
		parts = append(parts, fmt.Sprintf("%s %s %s", f.Name, f.Type, f.Tag))
	}
	return strings.Join(parts, ";")
}

// fast records, per hot detail type, whether its struct is still the one
// its encoder was written for.
var fast = func() map[reflect.Type]bool {
	m := map[reflect.Type]bool{}
	for t, want := range fastShapes {
		m[t] = shapeOf(t) == want
	}
	headerOK := m[reflect.TypeFor[Header]()]
	m[reflect.TypeFor[Request]()] = m[reflect.TypeFor[Request]()] && headerOK
	return m
}()

var (
	fastConnect = fast[reflect.TypeFor[Connect]()]
	fastClose   = fast[reflect.TypeFor[Close]()]
	fastRequest = fast[reflect.TypeFor[Request]()]
)

// fastOK reports whether d may use its hand-written encoder: a known,
// unchanged struct, and not a nil pointer (which encoding/json writes as
// null).
func fastOK(d Detail) bool {
	switch v := d.(type) {
	case *Connect:
		return v != nil && fastConnect
	case *Close:
		return v != nil && fastClose
	case *Request:
		return v != nil && fastRequest
	}
	return false
}
