package detect

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/smallpot/smallpot/internal/event"
)

// view is one event as the rules see it, built once per event and shared
// by every rule evaluated on it. Nothing in it outlives the evaluation.
type view struct {
	e    *event.Event
	json []byte // the event's JSON when the pipeline made it; else made on demand

	req  *event.Request
	log  *event.Login
	cmd  *event.Command
	pay  *event.Payload
	smp  *event.Sample
	upl  *event.Upload
	dl   *event.Download
	mail *event.Mail
	rpc  *event.RPC
	// typed: one of the pointers above is set, for the detail's kind.
	typed bool

	// The envelope is unknown (a file given to "rules test", a rule's
	// test that leaves it out): conditions on these fields hold.
	wildSvc, wildTrans, wildPort bool

	// sample bytes, read once when a rule first needs them.
	loadSample func(sha string, size int64) []byte
	sample     []byte
	sampleDone bool

	// top-level detail fields, decoded once when a rule first needs them.
	fields     map[string]json.RawMessage
	fieldsDone bool

	trail []hit

	// The prefilter's finder and the rules it says may match
	// (prefilter.go), and room for credentials (credIn).
	lits  *finder
	maybe []uint64
	key   []byte

	// Texts made of the event's fields, made once: decoded and lower-
	// cased forms (textMatcher.match), the request body as a string,
	// an RPC call's arguments as pairs.
	memo     textMemo
	bodyText string
	bodyDone bool
	args     []event.Header
	argsDone bool
}

// hit is one condition that held: the field and the part of its value
// that matched, turned into text only when a detection is made.
type hit struct {
	field  string
	s      string
	b      []byte
	lo, hi int
}

func (v *view) reset(e *event.Event, js []byte) {
	*v = view{e: e, json: js, loadSample: v.loadSample, trail: v.trail[:0], maybe: v.maybe, key: v.key,
		memo: v.memo.reset(), args: v.args[:0]}
	// typed is set only for a detail of the right type that is not nil:
	// the blocks' conditions read the fields through these pointers.
	switch d := e.Detail.(type) {
	case *event.Request:
		v.req, v.typed = d, d != nil
	case *event.Login:
		v.log, v.typed = d, d != nil
	case *event.Command:
		v.cmd, v.typed = d, d != nil
	case *event.Payload:
		v.pay, v.typed = d, d != nil
	case *event.Sample:
		v.smp, v.typed = d, d != nil
	case *event.Upload:
		v.upl, v.typed = d, d != nil
	case *event.Download:
		v.dl, v.typed = d, d != nil
	case *event.Mail:
		v.mail, v.typed = d, d != nil
	case *event.RPC:
		v.rpc, v.typed = d, d != nil
	}
}

// body is the request's body as a string, made once.
func (v *view) body() string {
	if !v.bodyDone {
		v.bodyText, v.bodyDone = string(v.req.Body), true
	}
	return v.bodyText
}

// rpcArgs is the RPC call's arguments as name/value pairs, made once.
func (v *view) rpcArgs() []event.Header {
	if !v.argsDone {
		for _, a := range v.rpc.Args {
			v.args = append(v.args, event.Header{Name: a.Name, Value: a.Value})
		}
		v.argsDone = true
	}
	return v.args
}

// credentials is the login's "user:password", in v.key until the next
// call.
func (v *view) credentials() []byte {
	v.key = append(append(append(v.key[:0], v.log.User...), ':'), v.log.Password...)
	return v.key
}

func (v *view) sampleBytes() []byte {
	if !v.sampleDone {
		v.sampleDone = true
		if v.smp != nil && v.loadSample != nil {
			v.sample = v.loadSample(v.smp.SHA256, v.smp.Size)
		}
	}
	return v.sample
}

// detailField returns a top-level field of the event's detail as text
// (strings as they are, numbers and booleans as written in JSON) and,
// for a list, each of its scalar items.
func (v *view) detailField(key string) []string {
	if !v.fieldsDone {
		v.fieldsDone = true
		js := v.json
		if js == nil {
			var err error
			if js, err = v.e.MarshalJSON(); err != nil {
				return nil
			}
		}
		var w struct {
			Detail map[string]json.RawMessage `json:"detail"`
		}
		if json.Unmarshal(js, &w) == nil {
			v.fields = w.Detail
		}
	}
	raw, ok := v.fields[key]
	if !ok {
		return nil
	}
	return scalars(raw)
}

func scalars(raw json.RawMessage) []string {
	t := strings.TrimSpace(string(raw))
	switch {
	case t == "" || t == "null":
		return nil
	case t[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []string{s}
		}
	case t[0] == '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return nil
		}
		var out []string
		for _, it := range items {
			if s := scalars(it); len(s) == 1 {
				out = append(out, s[0])
			}
		}
		return out
	case t[0] == '{':
		return nil
	default:
		return []string{t} // number, true, false
	}
	return nil
}

// excerpt renders a hit for the detection record: at most maxExcerpt
// bytes around the match, non-printable bytes as \xNN.
func (h hit) excerpt() string {
	n := len(h.s)
	if h.b != nil {
		n = len(h.b)
	}
	lo, hi := h.lo, h.hi
	if hi <= lo { // a size-only match: show the start
		lo, hi = 0, min(n, maxExcerpt)
	}
	lo = max(0, min(lo, n))
	hi = max(lo, min(hi, n, lo+maxExcerpt))
	if h.b != nil {
		return printable(h.b[lo:hi])
	}
	return printable(h.s[lo:hi])
}

const maxExcerpt = 96

func printable[T string | []byte](b T) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for i := range len(b) {
		c := b[i]
		if c >= 0x20 && c < 0x7f && c != '\\' {
			sb.WriteByte(c)
			continue
		}
		sb.WriteString(`\x`)
		sb.WriteString(strconv.FormatUint(uint64(c)>>4, 16))
		sb.WriteString(strconv.FormatUint(uint64(c)&15, 16))
	}
	return sb.String()
}
