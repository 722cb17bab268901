package detect

import (
	"slices"

	"github.com/smallpot/smallpot/internal/event"
)

// cond is one compiled condition. eval leaves in v.trail what made it
// hold (and nothing when it does not).
type cond interface {
	eval(v *view) bool
}

type allOf []cond

func (a allOf) eval(v *view) bool {
	mark := len(v.trail)
	for _, c := range a {
		if !c.eval(v) {
			v.trail = v.trail[:mark]
			return false
		}
	}
	return true
}

type anyOf []cond

func (a anyOf) eval(v *view) bool {
	mark := len(v.trail)
	for _, c := range a {
		if c.eval(v) {
			return true
		}
		v.trail = v.trail[:mark]
	}
	return false
}

type not struct{ c cond }

func (n not) eval(v *view) bool {
	mark := len(v.trail)
	ok := n.c.eval(v)
	v.trail = v.trail[:mark]
	return !ok
}

type condFunc func(v *view) bool

func (f condFunc) eval(v *view) bool { return f(v) }

// kindIs guards a kind block: the event is of that kind and carries the
// detail struct of that kind (not nil, not raw JSON), which the block's
// conditions then read.
type kindIs event.Kind

func (k kindIs) eval(v *view) bool {
	return v.typed && v.e.Kind == event.Kind(k) && v.e.Detail.Kind() == event.Kind(k)
}

type kindIn []event.Kind

func (k kindIn) eval(v *view) bool { return slices.Contains(k, v.e.Kind) }

type transportIs event.Transport

func (t transportIs) eval(v *view) bool { return v.wildTrans || v.e.Transport == event.Transport(t) }

type portIn portList

func (p portIn) eval(v *view) bool {
	if v.wildPort {
		return true
	}
	port := v.e.Dst.Port()
	for _, r := range p {
		if r.lo <= port && port <= r.hi {
			return true
		}
	}
	return false
}

type serviceIs struct{ m *textMatcher }

func (s serviceIs) eval(v *view) bool {
	if v.wildSvc {
		return true
	}
	ok, _, _, _ := s.m.match(v.e.Service, &v.memo)
	return ok
}

type textIs struct {
	field string
	get   func(*view) string
	m     *textMatcher
}

func (t textIs) eval(v *view) bool {
	ok, lo, hi, seen := t.m.match(t.get(v), &v.memo)
	if ok {
		v.trail = append(v.trail, hit{field: t.field, s: seen, lo: lo, hi: hi})
	}
	return ok
}

type anyTextIs struct {
	field string
	get   func(*view) []string
	m     *textMatcher
}

func (t anyTextIs) eval(v *view) bool {
	for _, s := range t.get(v) {
		if ok, lo, hi, seen := t.m.match(s, &v.memo); ok {
			v.trail = append(v.trail, hit{field: t.field, s: seen, lo: lo, hi: hi})
			return true
		}
	}
	return false
}

// pairIs holds when one name/value pair (a header, an argument) matches
// both its name and its value conditions.
type pairIs struct {
	field       string
	get         func(*view) []event.Header
	name, value *textMatcher
}

func (p pairIs) eval(v *view) bool {
	for _, h := range p.get(v) {
		if p.name != nil {
			if ok, _, _, _ := p.name.match(h.Name, &v.memo); !ok {
				continue
			}
		}
		if p.value == nil {
			v.trail = append(v.trail, hit{field: p.field + "." + h.Name, s: h.Value, lo: 0, hi: len(h.Value)})
			return true
		}
		if ok, lo, hi, seen := p.value.match(h.Value, &v.memo); ok {
			v.trail = append(v.trail, hit{field: p.field + "." + h.Name, s: seen, lo: lo, hi: hi})
			return true
		}
	}
	return false
}

type flagIs struct {
	field string
	want  bool
	get   func(*view) bool
}

func (f flagIs) eval(v *view) bool { return f.get(v) == f.want }

type credIn map[string]struct{}

func (c credIn) eval(v *view) bool {
	if _, ok := c[string(v.credentials())]; !ok {
		return false
	}
	s := string(v.key)
	v.trail = append(v.trail, hit{field: "login.credentials", s: s, lo: 0, hi: len(s)})
	return true
}

type contentIs struct {
	field string
	m     *contentMatcher
	size  func(*view) int64
	data  func(*view) []byte
	// stored: data reads the sample store, which the prefilter does not.
	stored bool
}

func (c contentIs) eval(v *view) bool {
	ok, lo, hi, seen := c.m.match(c.size(v), func() []byte {
		if c.data == nil {
			return nil
		}
		return c.data(v)
	})
	if ok && seen != nil {
		v.trail = append(v.trail, hit{field: c.field, b: seen, lo: lo, hi: hi})
	}
	return ok
}

// anywhere holds when the request's URI, a header value or its body
// matches.
type anywhere struct{ m *textMatcher }

func (a anywhere) eval(v *view) bool {
	r := v.req
	if ok, lo, hi, seen := a.m.match(r.URI, &v.memo); ok {
		v.trail = append(v.trail, hit{field: "request.uri", s: seen, lo: lo, hi: hi})
		return true
	}
	for _, h := range r.Headers {
		if ok, lo, hi, seen := a.m.match(h.Value, &v.memo); ok {
			v.trail = append(v.trail, hit{field: "request.headers." + h.Name, s: seen, lo: lo, hi: hi})
			return true
		}
	}
	if len(r.Body) > 0 {
		if ok, lo, hi, seen := a.m.match(v.body(), &v.memo); ok {
			v.trail = append(v.trail, hit{field: "request.body", s: seen, lo: lo, hi: hi})
			return true
		}
	}
	return false
}

// detailIs matches a top-level field of the detail's JSON, whatever the
// kind: the way to reach fields of kinds this build has no block for.
type detailIs struct {
	key string
	m   *textMatcher
}

func (d detailIs) eval(v *view) bool {
	for _, s := range v.detailField(d.key) {
		if ok, lo, hi, seen := d.m.match(s, &v.memo); ok {
			v.trail = append(v.trail, hit{field: "detail." + d.key, s: seen, lo: lo, hi: hi})
			return true
		}
	}
	return false
}
