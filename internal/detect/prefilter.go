package detect

import (
	"slices"

	"github.com/smallpot/smallpot/internal/event"
)

// The prefilter spares the evaluation of rules that cannot match an
// event. From each rule's condition it derives, once at load time,
// literals one of which an event's text must contain for the rule to
// match (a need); an allOf needs what one of its conditions needs, an
// anyOf what each of its alternatives needs, and a rule with no need is
// always evaluated. For each event, one pass of a finder (finder.go)
// over the fields the needs read marks the rules whose literals are
// there.
//
// Text is compared with its ASCII letters lower-cased and literals are
// lower-case, so a literal of a case-sensitive matcher is found at
// least wherever it is in the text: the prefilter may let a rule through
// that then does not match, never the reverse.

// need is what a condition needs of an event to hold: one of lits in
// the text of one of srcs. A need without lits needs nothing, unless
// never: the condition cannot hold on events of the kind at all.
type need struct {
	lits  []string
	srcs  []source
	never bool
}

// source reads a field of events of one kind into the finder. Two
// sources of one field read the same text.
type source struct {
	field string
	read  func(v *view)
}

// buildPrefilter derives, for each kind of s.byKind, what each rule
// needs of events of that kind, and builds the finder of the literals.
func (s *Set) buildPrefilter() {
	words := (len(s.rules) + 63) / 64
	lits := map[string][]int32{}
	for k, kr := range s.byKind {
		kr.free = make([]uint64, words)
		for _, r := range kr.rules {
			n := needOf(r.cond, "", k)
			if n.lits == nil && !n.never {
				kr.free[r.idx>>6] |= 1 << (r.idx & 63)
				continue
			}
			for _, l := range n.lits {
				l = lowerASCII(l)
				lits[l] = append(lits[l], int32(r.idx))
			}
			for _, src := range n.srcs {
				kr.add(src)
			}
		}
	}
	if len(lits) > 0 {
		s.lits = newFinder(lits)
	}
}

// add adds src to the sources, unless one reads its field.
func (kr *kindRules) add(src source) {
	for _, o := range kr.srcs {
		if o.field == src.field {
			return
		}
	}
	kr.srcs = append(kr.srcs, src)
}

// prefilter sets v.maybe to the rules of kr that may match v's event:
// those without a need, and those whose literals its fields contain.
func (s *Set) prefilter(v *view, kr *kindRules) {
	v.maybe = append(v.maybe[:0], kr.free...)
	if len(kr.srcs) == 0 || !kindIs(v.e.Kind).eval(v) {
		return // no field to read, or not the detail the sources read
	}
	v.lits = s.lits
	for _, src := range kr.srcs {
		src.read(v)
	}
}

// may reports whether the rule numbered i may match, after prefilter.
func (v *view) may(i int) bool { return v.maybe[i>>6]&(1<<(i&63)) != 0 }

// look and lookBytes give one field's text to the finder.
func (v *view) look(s string)      { find(v.lits, s, v.maybe) }
func (v *view) lookBytes(b []byte) { find(v.lits, b, v.maybe) }

// needOf derives what c needs of events of kind k. in is the kind whose
// block c is in (the kindIs its allOf holds), or "" outside one: fields
// are read only in their block.
func needOf(c cond, in, k event.Kind) need {
	switch c := c.(type) {
	case kindIs:
		return need{never: event.Kind(c) != k}
	case kindIn:
		return need{never: !slices.Contains(c, k)}
	case allOf:
		return allNeed(c, in, k)
	case anyOf:
		return anyNeed(c, in, k)
	}
	if in == "" {
		return need{}
	}
	return leafNeed(c, in)
}

// allNeed: all of c must hold, so what one of them needs will do, the
// most selective.
func allNeed(c allOf, in, k event.Kind) need {
	for _, sub := range c {
		if ki, ok := sub.(kindIs); ok {
			in = event.Kind(ki)
		}
	}
	var best need
	for _, sub := range c {
		n := needOf(sub, in, k)
		if n.never {
			return n
		}
		if better(n.lits, best.lits) {
			best = n
		}
	}
	return best
}

// anyNeed: one of c must hold, so one of what each needs is needed.
func anyNeed(c anyOf, in, k event.Kind) need {
	all := need{never: true}
	for _, sub := range c {
		n := needOf(sub, in, k)
		switch {
		case n.never:
			continue
		case n.lits == nil:
			return need{}
		}
		all.never = false
		all.lits = append(all.lits, n.lits...)
		all.srcs = append(all.srcs, n.srcs...)
	}
	if !all.never && usable(all.lits) == nil {
		return need{}
	}
	return all
}

// leafNeed derives what a condition on the fields of kind in needs.
func leafNeed(c cond, in event.Kind) need {
	var lits []string
	var srcs []source
	switch c := c.(type) {
	case textIs:
		lits = c.m.literals()
		srcs = []source{{c.field, func(v *view) { v.look(c.get(v)) }}}
	case anyTextIs:
		lits = c.m.literals()
		srcs = []source{{c.field, func(v *view) {
			for _, s := range c.get(v) {
				v.look(s)
			}
		}}}
	case pairIs:
		if c.name != nil {
			lits = c.name.literals()
		}
		if c.value != nil {
			if l := c.value.literals(); better(l, lits) {
				lits = l
			}
		}
		srcs = []source{{c.field, func(v *view) { lookPairs(v, c.get(v)) }}}
	case anywhere:
		if in != event.KindRequest {
			return need{}
		}
		lits = c.m.literals()
		srcs = requestText
	case credIn:
		for cred := range c {
			lits = append(lits, cred)
		}
		srcs = []source{{"login.credentials", func(v *view) { v.lookBytes(v.credentials()) }}}
	case contentIs:
		if c.data == nil || c.stored {
			return need{}
		}
		lits = c.m.literals()
		srcs = []source{{c.field, func(v *view) { v.lookBytes(c.data(v)) }}}
	}
	if usable(lits) == nil {
		return need{}
	}
	return need{lits: lits, srcs: srcs}
}

// requestText is what anywhere reads, as the sources of the fields it
// shares with textIs, pairIs and contentIs.
var requestText = []source{
	{"request.uri", func(v *view) { v.look(v.req.URI) }},
	{"request.headers", func(v *view) { lookPairs(v, v.req.Headers) }},
	{"request.body", func(v *view) { v.lookBytes(v.req.Body) }},
}

// lookPairs reads the names and the values of pairs.
func lookPairs(v *view, hs []event.Header) {
	for _, h := range hs {
		v.look(h.Name)
		v.look(h.Value)
	}
}
