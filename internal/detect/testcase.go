package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/smallpot/smallpot/internal/event"
)

// A rule's tests: events that must fire it and events that must not,
// written next to the rule (docs/rules.md, "Tests").
type testSpec struct {
	Name      string `yaml:"name"`
	Fires     *bool  `yaml:"fires"`
	testEvent `yaml:",inline"`
	Events    []testEvent `yaml:"events"`

	line int
}

// UnmarshalYAML records the test's line.
func (t *testSpec) UnmarshalYAML(n *yaml.Node) error {
	type plain testSpec
	if err := n.Decode((*plain)(t)); err != nil {
		return err
	}
	t.line = n.Line
	return nil
}

// testEvent is one event of a test: the envelope fields a rule may look
// at, and one detail written with the JSON field names of its kind
// (docs/events.md). Omitted envelope fields match any condition on them.
type testEvent struct {
	Service   string `yaml:"service"`
	Transport string `yaml:"transport"`
	Port      int    `yaml:"port"`
	Src       string `yaml:"src"`
	Session   string `yaml:"session"`
	Kind      string `yaml:"kind"`

	// Each is a yaml.Node (not a pointer, which the decoder would fill
	// as a struct); Kind 0 means absent.
	Request  yaml.Node `yaml:"request"`
	Login    yaml.Node `yaml:"login"`
	Command  yaml.Node `yaml:"command"`
	Payload  yaml.Node `yaml:"payload"`
	Sample   yaml.Node `yaml:"sample"`
	Upload   yaml.Node `yaml:"upload"`
	Download yaml.Node `yaml:"download"`
	Mail     yaml.Node `yaml:"mail"`
	RPC      yaml.Node `yaml:"rpc"`
	Detail   yaml.Node `yaml:"detail"` // with kind, for any other kind
	// Content is a sample's bytes, as the sample store would return them.
	Content yaml.Node `yaml:"content"`
}

func present(n *yaml.Node) *yaml.Node {
	if n.Kind == 0 {
		return nil
	}
	return n
}

func (t *testEvent) empty() bool {
	for _, n := range []*yaml.Node{&t.Request, &t.Login, &t.Command, &t.Payload, &t.Sample, &t.Upload,
		&t.Download, &t.Mail, &t.RPC, &t.Detail} {
		if present(n) != nil {
			return false
		}
	}
	return true
}

// builtTest is a test event made real.
type builtTest struct {
	e                  *event.Event
	content            []byte
	wildSvc, wildTrans bool
	wildPort           bool
}

var testEpoch = time.Date(2001, 9, 18, 13, 0, 0, 0, time.UTC)

func (t *testEvent) build(i int) (builtTest, error) {
	var b builtTest
	var kind event.Kind
	var node *yaml.Node
	n := 0
	for _, c := range []struct {
		k event.Kind
		n *yaml.Node
	}{
		{event.KindRequest, present(&t.Request)}, {event.KindLogin, present(&t.Login)}, {event.KindCommand, present(&t.Command)},
		{event.KindPayload, present(&t.Payload)}, {event.KindSample, present(&t.Sample)}, {event.KindUpload, present(&t.Upload)},
		{event.KindDownload, present(&t.Download)}, {event.KindMail, present(&t.Mail)}, {event.KindRPC, present(&t.RPC)},
	} {
		if c.n != nil {
			kind, node = c.k, c.n
			n++
		}
	}
	if det := present(&t.Detail); det != nil {
		if t.Kind == "" {
			return b, fmt.Errorf("%d: detail needs kind", det.Line)
		}
		kind, node = event.Kind(t.Kind), det
		n++
	} else if t.Kind != "" && event.Kind(t.Kind) != kind {
		return b, fmt.Errorf("kind %q disagrees with the event given", t.Kind)
	}
	if n != 1 {
		return b, fmt.Errorf("a test event has exactly one of request, login, command, payload, sample, upload, download, mail, rpc, or kind with detail")
	}
	var d event.Detail
	if nd := event.NewDetail(kind); nd != nil {
		v, err := yamlToJSON(node, reflect.TypeOf(nd).Elem())
		if err != nil {
			return b, err
		}
		js, err := json.Marshal(v)
		if err != nil {
			return b, err
		}
		dec := json.NewDecoder(strings.NewReader(string(js)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(nd); err != nil {
			return b, fmt.Errorf("%d: %s: %w", node.Line, kind, err)
		}
		d = nd
	} else {
		v, err := yamlToJSON(node, nil)
		if err != nil {
			return b, err
		}
		js, err := json.Marshal(v)
		if err != nil {
			return b, err
		}
		d = event.Raw{K: kind, JSON: js}
	}
	if cn := present(&t.Content); cn != nil {
		c, err := byteSpec(cn)
		if err != nil {
			return b, err
		}
		s, ok := d.(*event.Sample)
		if !ok {
			return b, fmt.Errorf("%d: content is for sample events", cn.Line)
		}
		b.content = c
		if s.SHA256 == "" {
			h := sha256.Sum256(c)
			s.SHA256 = hex.EncodeToString(h[:])
		}
		if s.Size == 0 {
			s.Size = int64(len(c))
		}
	}
	src := netip.MustParseAddr("203.0.113.7")
	if t.Src != "" {
		a, err := netip.ParseAddr(t.Src)
		if err != nil {
			return b, fmt.Errorf("src: %w", err)
		}
		src = a
	}
	if t.Port < 0 || t.Port > 65535 {
		return b, fmt.Errorf("port %d", t.Port)
	}
	tr := event.TCP
	if t.Transport != "" {
		tr = event.Transport(t.Transport)
	}
	sess := t.Session
	if sess == "" {
		sess = "test-session"
	}
	now := testEpoch.Add(time.Duration(i) * time.Second)
	b.e = &event.Event{ID: fmt.Sprintf("test-event-%d", i), Time: now, Sensor: "test", Session: sess,
		Service: t.Service, Transport: tr,
		Src: netip.AddrPortFrom(src, 40000), Dst: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.10"), uint16(t.Port)),
		Kind: kind, Detail: d}
	b.wildSvc, b.wildTrans, b.wildPort = t.Service == "", t.Transport == "", t.Port == 0
	return b, nil
}

// yamlToJSON turns a YAML node into a value encoding/json writes as the
// JSON of Go type t (nil: any JSON). Byte specs ({text, hex, repeat,
// parts}) become strings, or bytes where t wants []byte.
func yamlToJSON(n *yaml.Node, t reflect.Type) (any, error) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.MappingNode && isByteSpec(n) {
		b, err := byteSpec(n)
		if err != nil {
			return nil, err
		}
		if t != nil && t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return b, nil
		}
		return string(b), nil
	}
	if t == nil {
		var v any
		switch n.Kind {
		case yaml.MappingNode:
			m := map[string]any{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				x, err := yamlToJSON(n.Content[i+1], nil)
				if err != nil {
					return nil, err
				}
				m[n.Content[i].Value] = x
			}
			return m, nil
		case yaml.SequenceNode:
			l := []any{}
			for _, it := range n.Content {
				x, err := yamlToJSON(it, nil)
				if err != nil {
					return nil, err
				}
				l = append(l, x)
			}
			return l, nil
		}
		err := n.Decode(&v)
		return v, err
	}
	switch t.Kind() {
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%d: want a string", n.Line)
		}
		return n.Value, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			if n.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%d: want a string or a byte spec", n.Line)
			}
			return []byte(n.Value), nil
		}
		if n.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("%d: want a list", n.Line)
		}
		l := []any{}
		for _, it := range n.Content {
			x, err := yamlToJSON(it, t.Elem())
			if err != nil {
				return nil, err
			}
			l = append(l, x)
		}
		return l, nil
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%d: want a mapping", n.Line)
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				return nil, fmt.Errorf("%d: unknown field %q of %s", k.Line, k.Value, t.Name())
			}
			x, err := yamlToJSON(n.Content[i+1], ft)
			if err != nil {
				return nil, err
			}
			m[k.Value] = x
		}
		return m, nil
	}
	v := reflect.New(t)
	if err := n.Decode(v.Interface()); err != nil {
		return nil, err
	}
	return v.Elem().Interface(), nil
}

func isByteSpec(n *yaml.Node) bool {
	if len(n.Content) == 0 {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "text", "hex", "repeat", "parts":
		default:
			return false
		}
	}
	return true
}

// maxTestBytes bounds what one byte spec makes.
const maxTestBytes = 1 << 20

// byteSpec makes bytes from a scalar (its text), a mapping {text or hex
// or parts, repeat}, or a list of those (concatenated).
func byteSpec(n *yaml.Node) ([]byte, error) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return []byte(n.Value), nil
	case yaml.SequenceNode:
		var out []byte
		for _, it := range n.Content {
			b, err := byteSpec(it)
			if err != nil {
				return nil, err
			}
			out = append(out, b...)
			if len(out) > maxTestBytes {
				return nil, fmt.Errorf("%d: more than %d bytes", n.Line, maxTestBytes)
			}
		}
		return out, nil
	case yaml.MappingNode:
	default:
		return nil, fmt.Errorf("%d: want text, a byte spec or a list of them", n.Line)
	}
	if !isByteSpec(n) {
		return nil, fmt.Errorf("%d: a byte spec has text, hex or parts, and repeat", n.Line)
	}
	var unit []byte
	repeat, have := 1, 0
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "text":
			unit, have = []byte(v.Value), have+1
		case "hex":
			b, err := parseHex(v.Value)
			if err != nil {
				return nil, fmt.Errorf("%d: %w", v.Line, err)
			}
			unit, have = b, have+1
		case "parts":
			b, err := byteSpec(v)
			if err != nil {
				return nil, err
			}
			unit, have = b, have+1
		case "repeat":
			if err := v.Decode(&repeat); err != nil {
				return nil, err
			}
		}
	}
	if have != 1 || repeat < 0 || len(unit)*repeat > maxTestBytes {
		return nil, fmt.Errorf("%d: a byte spec has one of text, hex or parts, and a repeat up to %d bytes", n.Line, maxTestBytes)
	}
	out := make([]byte, 0, len(unit)*repeat)
	for range repeat {
		out = append(out, unit...)
	}
	return out, nil
}

// TestResult is the outcome of one test of a rule.
type TestResult struct {
	Rule  string
	File  string
	Line  int
	Name  string
	Want  bool  // the test says the rule fires
	Got   bool  // whether it fired
	Err   error // the test could not be run
	Event event.Kind
}

// OK reports whether the test passed.
func (t TestResult) OK() bool { return t.Err == nil && t.Want == t.Got }

// RunTests runs every rule's tests and returns one result per test.
func (s *Set) RunTests() []TestResult {
	var out []TestResult
	for _, r := range s.rules {
		for i := range r.tests {
			out = append(out, r.runTest(&r.tests[i]))
		}
	}
	return out
}

func (r *rule) runTest(t *testSpec) TestResult {
	res := TestResult{Rule: r.id, File: r.file, Line: t.line, Name: t.Name}
	if t.Fires == nil {
		res.Err = fmt.Errorf("fires: true or false is required")
		return res
	}
	res.Want = *t.Fires
	evs := t.Events
	if !t.testEvent.empty() {
		if len(evs) > 0 {
			res.Err = fmt.Errorf("give one event or events, not both")
			return res
		}
		evs = []testEvent{t.testEvent}
	}
	if len(evs) == 0 {
		res.Err = fmt.Errorf("no event")
		return res
	}
	st := newState(16)
	var v view
	for i := range evs {
		b, err := evs[i].build(i)
		if err != nil {
			res.Err = err
			return res
		}
		res.Event = b.e.Kind
		v.loadSample = func(sha string, _ int64) []byte { return b.content }
		if ignored(b.e.Kind) || !r.kinds.has(b.e.Kind) {
			continue
		}
		v.reset(b.e, nil)
		v.wildSvc, v.wildTrans, v.wildPort = b.wildSvc, b.wildTrans, b.wildPort
		if !r.cond.eval(&v) {
			continue
		}
		if ok, _ := st.admit(r, b.e); ok {
			res.Got = true
		}
	}
	return res
}
