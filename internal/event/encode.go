package event

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
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
	b = appendUint(b, uint64(e.Src.Port()))
	b = append(b, `,"dst_ip":`...)
	b = appendAddr(b, e.Dst)
	b = append(b, `,"dst_port":`...)
	b = appendUint(b, uint64(e.Dst.Port()))
	b = append(b, `,"kind":`...)
	b = appendString(b, string(e.Kind))
	b = append(b, `,"detail":`...)
	if b, err = appendDetail(b, e.Detail); err != nil {
		return b[:start], fmt.Errorf("event %s: %w", e.Kind, err)
	}
	return append(b, '}'), nil
}

// appendTime appends t in UTC as time.Time.AppendText does (RFC 3339
// with nanoseconds, trailing zeros cut). The date and clock are those of
// the Unix seconds, made once a second (see lastStamp) by arithmetic (see
// civil), not by time.Time.Date and Clock, which each work out the
// absolute time again; digits go in pairs.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	sec := t.Unix()
	if sec < minSec || sec >= maxSec {
		// Its error. It returns nil with one: b is kept, for AppendJSON
		// to cut back.
		text, err := t.UTC().AppendText(b)
		if err != nil {
			return b, err
		}
		return text, nil
	}
	b = appendSecond(b, sec)
	if ns := uint32(t.Nanosecond()); ns != 0 {
		lo := ns % 1e8
		p1, p2, p3, p4 := lo/1e6*2, lo/1e4%100*2, lo/100%100*2, lo%100*2
		b = append(b, '.', byte('0'+ns/1e8), pairs[p1], pairs[p1+1], pairs[p2], pairs[p2+1],
			pairs[p3], pairs[p3+1], pairs[p4], pairs[p4+1])
		for b[len(b)-1] == '0' { // trailing zeros are cut; ns has a non-zero digit
			b = b[:len(b)-1]
		}
	}
	return append(b, 'Z'), nil
}

// stamp is the text of one Unix second; never changed once made.
type stamp struct {
	sec  int64
	text [19]byte
}

// lastStamp is the text of the latest second written: events are written
// in time order, many in a second, from several goroutines, so most find
// their second's text made. A new stamp replaces it only for a later
// second: one allocation a second at most, and events of earlier times (a
// clock stepped back, a replay) cost civil's arithmetic, never a stamp
// each.
var lastStamp atomic.Pointer[stamp]

// appendSecond appends civil(sec), from lastStamp when it holds sec.
func appendSecond(b []byte, sec int64) []byte {
	last := lastStamp.Load()
	if last != nil && last.sec == sec {
		return append(b, last.text[:]...)
	}
	text := civil(sec)
	if last == nil || last.sec < sec {
		// Lost to another goroutine's stamp: that one stays.
		lastStamp.CompareAndSwap(last, &stamp{sec: sec, text: text})
	}
	return append(b, text[:]...)
}

// The Unix seconds of 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z:
// RFC 3339 has four-digit years, time.Time.AppendText fails outside.
const (
	minSec = -62167219200
	maxSec = 253402300800
)

// civil returns "YYYY-MM-DDTHH:MM:SS" of Unix seconds sec, in [minSec,
// maxSec). The date is Howard Hinnant's days_from_civil inverse: years
// that begin on 1 March (the leap day last), in 400-year eras of 146097
// days; counted from -0400-03-01 here, so every quantity is unsigned and
// each division one by a constant, which compiles to a multiplication.
func civil(sec int64) (s [19]byte) {
	u := uint64(sec - minSec) // seconds since 0000-01-01
	days, secs := u/86400, u%86400
	// 0000-01-01 is 146097-60 days after -0400-03-01 (year 0 is leap).
	z := days + 146097 - 60
	era, doe := z/146097, z%146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := doy - (153*mp+2)/5 + 1
	year, month := era*400+yoe-400, mp+3
	if mp >= 10 {
		year, month = year+1, mp-9
	}
	hour, min, sc := secs/3600, secs/60%60, secs%60
	y1, y2, mo, d, h, mi, se := year/100*2, year%100*2, month*2, day*2, hour*2, min*2, sc*2
	return [19]byte{pairs[y1], pairs[y1+1], pairs[y2], pairs[y2+1], '-', pairs[mo], pairs[mo+1], '-',
		pairs[d], pairs[d+1], 'T', pairs[h], pairs[h+1], ':', pairs[mi], pairs[mi+1], ':', pairs[se], pairs[se+1]}
}

// appendUint appends v in decimal as strconv.AppendUint does; below
// 100000 (ports, octets, most sizes and durations) with the pairs table,
// without strconv's general loop.
func appendUint(b []byte, v uint64) []byte {
	switch {
	case v < 10:
		return append(b, byte('0'+v))
	case v < 100:
		return append(b, pairs[v*2], pairs[v*2+1])
	case v < 1000:
		lo := v % 100 * 2
		return append(b, byte('0'+v/100), pairs[lo], pairs[lo+1])
	case v < 10000:
		hi, lo := v/100*2, v%100*2
		return append(b, pairs[hi], pairs[hi+1], pairs[lo], pairs[lo+1])
	case v < 100000:
		hi, lo := v/100%100*2, v%100*2
		return append(b, byte('0'+v/10000), pairs[hi], pairs[hi+1], pairs[lo], pairs[lo+1])
	}
	return strconv.AppendUint(b, v, 10)
}

// appendInt appends v in decimal as strconv.AppendInt does.
func appendInt(b []byte, v int64) []byte {
	if v >= 0 {
		return appendUint(b, uint64(v))
	}
	return strconv.AppendInt(b, v, 10)
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
	b = appendInt(b, c.DurationMS)
	b = append(b, `,"bytes_in":`...)
	b = appendInt(b, c.BytesIn)
	b = append(b, `,"bytes_out":`...)
	b = appendInt(b, c.BytesOut)
	b = append(b, `,"reason":`...)
	b = appendString(b, c.Reason)
	b = append(b, `,"transcript_in":`...)
	b = appendInt(b, c.TranscriptIn)
	b = append(b, `,"transcript_out":`...)
	b = appendInt(b, c.TranscriptOut)
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
	b = appendInt(b, r.BodyLen)
	if len(r.Body) > 0 {
		b = append(b, `,"body":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.Body)
		b = append(b, '"')
	}
	if r.Status != 0 {
		b = append(b, `,"status":`...)
		b = appendInt(b, int64(r.Status))
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
	ip := a.Addr().Unmap()
	if ip.Is4() {
		// Digits and dots, as netip writes them, with the pairs table.
		o := ip.As4()
		b = appendUint(b, uint64(o[0]))
		b = append(b, '.')
		b = appendUint(b, uint64(o[1]))
		b = append(b, '.')
		b = appendUint(b, uint64(o[2]))
		b = append(b, '.')
		b = appendUint(b, uint64(o[3]))
		return append(b, '"')
	}
	start := len(b)
	b = ip.AppendTo(b)
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

// plainWord reports whether the 8 bytes of x are all written as they are
// (htmlSafe, and ASCII): no control character, '"', '\\', '<', '>', '&',
// nor a byte of a multi-byte rune.
func plainWord(x uint64) bool {
	return special(x)&highs == 0
}

// highs are the high bits of the bytes of a word.
const highs = 0x8080808080808080

// special returns a word whose highs are all clear if and only if the 8
// bytes of x are plain (see plainWord). The words of a string can be
// or-ed together and tested once.
func special(x uint64) uint64 {
	const ones = 0x0101010101010101
	// x's own high bits are the non-ASCII bytes. Of an ASCII x, v - n…
	// has a high bit set if and only if some byte of v is below n (n ≤
	// 0x80; a byte's borrow only spreads above a byte that is): with n =
	// 0x20, a control character of x; with n = 1, a zero byte of x xor
	// '\\', of x with bit 2 set xor '&' (so '"' too), of x with bit 1 set
	// xor '>' (so '<' too).
	bs, amp, gt := x^'\\'*ones, x|4*ones^'&'*ones, x|2*ones^'>'*ones
	return x | (x - 0x20*ones) | (bs - ones) | (amp - ones) | (gt - ones)
}

// load8 returns the first 8 bytes of s, the first in the low byte: one
// load.
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// load4 returns the first 4 bytes of s, the first in the low byte.
func load4(s string) uint64 {
	_ = s[3]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
}

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it: control characters, '"', '\\', '<', '>', '&', U+2028 and
// U+2029; invalid UTF-8 becomes U+FFFD.
//
// Most strings (ids, names, addresses, user agents) are plain ASCII
// throughout: one check of their words, or-ed together with no branch
// each, then one copy. Words that overlap cover every length without a
// loop over bytes: the last 8 bytes after the whole words, two 4-byte
// halves below 8 bytes, first, middle and last byte below 4 (padded with
// a plain 'a'). The check is not a function of its own: a call less for
// every string.
func appendString(b []byte, s string) []byte {
	var acc uint64
	switch n := len(s); {
	case n >= 8:
		acc = special(load8(s[n-8:]))
		for i := 0; i+8 < n; i += 8 {
			acc |= special(load8(s[i:]))
		}
	case n >= 4:
		acc = special(load4(s) | load4(s[n-4:])<<32)
	case n > 0:
		const pad = 'a' * 0x0101010101 << 24
		acc = special(uint64(s[0]) | uint64(s[n/2])<<8 | uint64(s[n-1])<<16 | pad)
	}
	if acc&highs != 0 {
		return appendEscaped(b, s)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendEscaped is appendString for a string that needs a closer look.
func appendEscaped(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	// Skip the plain words before the first byte that needs escaping.
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if !plainWord(load8(s[i:])) {
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
