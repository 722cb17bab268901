package detect

import (
	"container/list"
	"fmt"
	"slices"
	"time"

	"github.com/smallpot/smallpot/internal/event"
)

// Set is a compiled rule set: the built-in rules and the user's, indexed
// by the kind of event each can fire on.
type Set struct {
	rules  []*rule
	byKind map[event.Kind]*kindRules
	all    *kindRules // for other kinds: the rules that may fire on any kind
	files  []string
	lits   *finder // the literals of the prefilter (prefilter.go)
	// unfiltered turns the prefilter off, to test it against.
	unfiltered bool
}

// kindRules are the rules that can fire on events of one kind, and
// what the prefilter reads of those events.
type kindRules struct {
	rules []*rule
	srcs  []source // the fields where the rules' literals are looked for
	// free has the bits (by rule.idx) of the rules the prefilter lets
	// through whatever the text; nil: it lets every rule through.
	free []uint64
}

// ignored kinds are never classified: the analyzer's own output.
func ignored(k event.Kind) bool { return k == event.KindDetection || k == "alert" }

// LoadRules compiles the built-in rules and the rule files (or
// directories of them) in cfg.Rules, less those in cfg.Disable.
func LoadRules(cfg Config) (*Set, error) {
	srcs, err := builtinSources()
	if err != nil {
		return nil, err
	}
	if cfg.NoBuiltin {
		srcs = nil
	}
	user, err := userSources(cfg.Rules)
	if err != nil {
		return nil, err
	}
	return compileSources(append(srcs, user...), cfg.Disable)
}

func compileSources(srcs []ruleSource, disable []string) (*Set, error) {
	s := &Set{byKind: map[event.Kind]*kindRules{}, all: &kindRules{}}
	seen := map[string]*rule{}
	for _, src := range srcs {
		specs, err := parseFile(src)
		if err != nil {
			return nil, err
		}
		s.files = append(s.files, src.name)
		for i := range specs {
			r, err := compileRule(&specs[i], src.name)
			if err != nil {
				return nil, err
			}
			if prev, dup := seen[r.id]; dup {
				return nil, fmt.Errorf("detect: %s:%d: rule id %q is already used at %s:%d (disable the other with detect.disable)",
					r.file, r.line, r.id, prev.file, prev.line)
			}
			seen[r.id] = r
			s.rules = append(s.rules, r)
		}
	}
	for _, id := range disable {
		if _, ok := seen[id]; !ok {
			return nil, fmt.Errorf("detect: disable: no rule %q", id)
		}
	}
	s.rules = slices.DeleteFunc(s.rules, func(r *rule) bool { return slices.Contains(disable, r.id) })
	for i, r := range s.rules {
		r.idx = i
		if r.kinds.all {
			s.all.rules = append(s.all.rules, r)
		}
	}
	kinds := map[event.Kind]bool{}
	for _, r := range s.rules {
		for _, k := range r.kinds.kinds {
			kinds[k] = true
		}
	}
	for k := range kinds {
		kr := &kindRules{}
		for _, r := range s.rules {
			if r.kinds.has(k) {
				kr.rules = append(kr.rules, r)
			}
		}
		s.byKind[k] = kr
	}
	s.buildPrefilter()
	return s, nil
}

// Len is the number of rules.
func (s *Set) Len() int { return len(s.rules) }

func (s *Set) rulesFor(k event.Kind) *kindRules {
	if kr, ok := s.byKind[k]; ok {
		return kr
	}
	return s.all
}

// firing is a rule that matched an event, with what it matched.
type firing struct {
	r       *rule
	matched []event.DetectionMatch
}

// maxMatched bounds the matches kept in one detection.
const maxMatched = 8

// classify evaluates every rule that can fire on e, less those the
// prefilter rules out. v is reused between calls (one per goroutine).
func (s *Set) classify(v *view, e *event.Event, js []byte, wild bool, out []firing) []firing {
	if ignored(e.Kind) {
		return out
	}
	kr := s.rulesFor(e.Kind)
	if len(kr.rules) == 0 {
		return out
	}
	v.reset(e, js)
	v.wildSvc, v.wildTrans, v.wildPort = wild, wild, wild
	filter := kr.free != nil && !s.unfiltered
	if filter {
		s.prefilter(v, kr)
	}
	for _, r := range kr.rules {
		if filter && !v.may(r.idx) {
			continue
		}
		v.trail = v.trail[:0]
		if !r.cond.eval(v) {
			continue
		}
		f := firing{r: r}
		for _, h := range v.trail {
			if len(f.matched) == maxMatched {
				break
			}
			f.matched = append(f.matched, event.DetectionMatch{Field: h.field, Value: h.excerpt()})
		}
		out = append(out, f)
	}
	return out
}

// state remembers, for rules scoped to a session or a source, how many
// matching events were seen and whether the rule fired, in a bounded LRU:
// when it is full the least recently seen key is forgotten (and a rule
// may then label that session or source once more).
type state struct {
	max   int
	ll    *list.List
	index map[stateKey]*list.Element
}

type stateKey struct {
	rule int
	key  string
}

type stateEntry struct {
	k     stateKey
	count int
	first time.Time
	fired bool
}

func newState(max int) *state {
	if max <= 0 {
		max = 65536
	}
	return &state{max: max, ll: list.New(), index: map[stateKey]*list.Element{}}
}

// admit counts a match of r on e and says whether to emit a detection,
// with the count of matching events seen in the scope.
func (st *state) admit(r *rule, e *event.Event) (bool, int) {
	if r.scope == ScopeEvent {
		return true, 0
	}
	k := stateKey{rule: r.idx}
	if r.scope == ScopeSession {
		k.key = e.Session
	} else {
		k.key = e.Src.Addr().Unmap().String()
	}
	now := e.Time
	var ent *stateEntry
	if el, ok := st.index[k]; ok {
		st.ll.MoveToFront(el)
		ent = el.Value.(*stateEntry)
		if r.window > 0 && now.Sub(ent.first) > r.window {
			*ent = stateEntry{k: k, first: now}
		}
	} else {
		ent = &stateEntry{k: k, first: now}
		st.index[k] = st.ll.PushFront(ent)
		if st.ll.Len() > st.max {
			old := st.ll.Back()
			st.ll.Remove(old)
			delete(st.index, old.Value.(*stateEntry).k)
		}
	}
	ent.count++
	if ent.fired || ent.count < r.threshold {
		return false, ent.count
	}
	ent.fired = true
	return true, ent.count
}

// sampleOf is the SHA-256 of the sample an event refers to, if any.
func sampleOf(e *event.Event) string {
	switch d := e.Detail.(type) {
	case *event.Sample:
		return d.SHA256
	case *event.Request:
		return d.Sample
	case *event.Payload:
		return d.Sample
	case *event.Upload:
		return d.SHA256
	case *event.Mail:
		return d.Sample
	case *event.RPC:
		return d.Sample
	}
	return ""
}

// detectionFor builds the event that labels e.
func detectionFor(e *event.Event, d *event.Detection, now time.Time) *event.Event {
	d.Of, d.OfKind = e.ID, e.Kind
	if d.Sample == "" {
		d.Sample = sampleOf(e)
	}
	return &event.Event{ID: event.NewID(now), Time: now, Sensor: e.Sensor, Session: e.Session,
		Service: e.Service, Transport: e.Transport, Src: e.Src, Dst: e.Dst,
		Kind: event.KindDetection, Detail: d}
}

func (r *rule) detection(f firing, count int) *event.Detection {
	d := &event.Detection{Rule: r.id, Engine: event.EngineRules, Title: r.title, Family: r.family,
		Variant: r.variant, Exploit: r.exploit, CVE: slices.Clone(r.cve), Bulletin: r.bulletin,
		Severity: r.severity, Scope: r.scope, Matched: f.matched}
	if r.threshold > 1 {
		d.Count = count
	}
	return d
}
