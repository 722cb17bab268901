package detect

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smallpot/smallpot/internal/event"
)

// Scopes: how often a rule labels.
const (
	ScopeEvent   = "event"   // every matching event
	ScopeSession = "session" // once per session
	ScopeSource  = "source"  // once per source address per window
)

// Severities, lowest first.
var severities = []string{"info", "low", "medium", "high", "critical"}

// rule is a compiled rule.
type rule struct {
	idx       int
	id        string
	title     string
	desc      string
	family    string
	variant   string
	exploit   string
	cve       []string
	bulletin  string
	severity  string
	scope     string
	threshold int
	window    time.Duration
	refs      []string
	file      string
	line      int
	kinds     kindSet
	cond      cond
	tests     []testSpec
}

var ruleID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,99}$`)

func compileRule(s *ruleSpec, file string) (*rule, error) {
	where := func(err error) error { return fileErr(file, err) }
	if !ruleID.MatchString(s.ID) {
		return nil, where(fmt.Errorf("%d: rule id %q: want lower-case letters, digits, '.', '_' or '-'", s.line, s.ID))
	}
	r := &rule{id: s.ID, title: s.Title, desc: strings.TrimSpace(s.Description), family: s.Family, variant: s.Variant,
		exploit: s.Exploit, cve: s.CVE, bulletin: s.Bulletin, severity: s.Severity, scope: s.Scope,
		threshold: s.Threshold, refs: s.References, file: file, line: s.line, tests: s.Tests}
	if r.title == "" {
		return nil, where(fmt.Errorf("%d: rule %s: title is required", s.line, s.ID))
	}
	if r.severity == "" {
		r.severity = "medium"
	}
	if !slices.Contains(severities, r.severity) {
		return nil, where(fmt.Errorf("%d: rule %s: severity %q: want one of %s", s.line, s.ID, r.severity, strings.Join(severities, ", ")))
	}
	if r.scope == "" {
		r.scope = ScopeEvent
	}
	switch r.scope {
	case ScopeEvent, ScopeSession, ScopeSource:
	default:
		return nil, where(fmt.Errorf("%d: rule %s: scope %q: want event, session or source", s.line, s.ID, r.scope))
	}
	if r.threshold < 0 || (r.threshold > 1 && r.scope == ScopeEvent) {
		return nil, where(fmt.Errorf("%d: rule %s: a threshold needs scope session or source", s.line, s.ID))
	}
	if r.threshold == 0 {
		r.threshold = 1
	}
	w, err := parseWindow(s.Window)
	if err != nil {
		return nil, where(fmt.Errorf("%d: rule %s: %w", s.line, s.ID, err))
	}
	if w > 0 && r.scope == ScopeEvent {
		return nil, where(fmt.Errorf("%d: rule %s: a window needs scope session or source", s.line, s.ID))
	}
	if w == 0 && r.scope == ScopeSource {
		w = time.Hour
	}
	r.window = w
	for _, c := range r.cve {
		if !cveID.MatchString(c) {
			return nil, where(fmt.Errorf("%d: rule %s: %q is not a CVE id (CVE-YYYY-NNNN)", s.line, s.ID, c))
		}
	}
	if r.bulletin != "" && !bulletinID.MatchString(r.bulletin) {
		return nil, where(fmt.Errorf("%d: rule %s: %q is not a Microsoft bulletin id (MS01-033)", s.line, s.ID, r.bulletin))
	}
	if s.Match == nil {
		return nil, where(fmt.Errorf("%d: rule %s: match is required", s.line, s.ID))
	}
	c, ks, err := compileMatch(s.Match)
	if err != nil {
		return nil, where(err)
	}
	r.cond, r.kinds = c, ks
	return r, nil
}

var (
	cveID      = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)
	bulletinID = regexp.MustCompile(`^MS\d{2}-\d{3}$`)
)

// kindSet is the kinds a rule can fire on; all means any kind.
type kindSet struct {
	all   bool
	kinds []event.Kind
}

func (k kindSet) has(x event.Kind) bool { return k.all || slices.Contains(k.kinds, x) }

func intersect(a, b kindSet) kindSet {
	switch {
	case a.all:
		return b
	case b.all:
		return a
	}
	var out kindSet
	for _, k := range a.kinds {
		if slices.Contains(b.kinds, k) {
			out.kinds = append(out.kinds, k)
		}
	}
	return out
}

func union(a, b kindSet) kindSet {
	if a.all || b.all {
		return kindSet{all: true}
	}
	out := kindSet{kinds: slices.Clone(a.kinds)}
	for _, k := range b.kinds {
		if !slices.Contains(out.kinds, k) {
			out.kinds = append(out.kinds, k)
		}
	}
	return out
}

// compileMatch turns a match block into a condition: the block's own
// conditions, its all, any and not, all holding together. Cheap
// conditions go first.
func compileMatch(m *matchSpec) (cond, kindSet, error) {
	errAt := func(err error) error {
		if startsWithLine(err.Error()) {
			return err
		}
		return fmt.Errorf("%d: %w", m.line, err)
	}
	var conds []cond
	ks := kindSet{all: true}
	if len(m.Kind) > 0 {
		var own kindSet
		for _, k := range m.Kind {
			own.kinds = append(own.kinds, event.Kind(k))
		}
		ks = own
		conds = append(conds, kindIn(own.kinds))
	}
	if m.Transport != "" {
		t := event.Transport(m.Transport)
		if t != event.TCP && t != event.UDP {
			return nil, ks, errAt(fmt.Errorf("transport %q: want tcp or udp", m.Transport))
		}
		conds = append(conds, transportIs(t))
	}
	if len(m.Port) > 0 {
		conds = append(conds, portIn(m.Port))
	}
	if m.Service != nil {
		tm, err := compileText(m.Service)
		if err != nil {
			return nil, ks, err
		}
		conds = append(conds, serviceIs{tm})
	}
	blocks := 0
	add := func(k event.Kind) func([]cond, error) error {
		return func(cs []cond, err error) error {
			if err != nil {
				return err
			}
			blocks++
			ks = intersect(ks, kindSet{kinds: []event.Kind{k}})
			conds = append(conds, kindIs(k))
			conds = append(conds, cs...)
			return nil
		}
	}
	var err error
	if m.Request != nil {
		err = add(event.KindRequest)(compileRequest(m.Request, m.line))
	}
	if err == nil && m.Login != nil {
		err = add(event.KindLogin)(compileLogin(m.Login))
	}
	if err == nil && m.Command != nil {
		err = add(event.KindCommand)(compileCommand(m.Command))
	}
	if err == nil && m.Payload != nil {
		err = add(event.KindPayload)(compilePayload(m.Payload, m.line))
	}
	if err == nil && m.Sample != nil {
		err = add(event.KindSample)(compileSample(m.Sample, m.line))
	}
	if err == nil && m.Upload != nil {
		err = add(event.KindUpload)(compileUpload(m.Upload, m.line))
	}
	if err == nil && m.Download != nil {
		err = add(event.KindDownload)(compileDownload(m.Download))
	}
	if err == nil && m.Mail != nil {
		err = add(event.KindMail)(compileMail(m.Mail))
	}
	if err == nil && m.RPC != nil {
		err = add(event.KindRPC)(compileRPC(m.RPC, m.line))
	}
	if err != nil {
		return nil, ks, errAt(err)
	}
	if blocks > 1 {
		return nil, ks, errAt(fmt.Errorf("a match block names one kind (request, login, ...); use any or all to combine kinds"))
	}
	if !ks.all && len(ks.kinds) == 0 {
		return nil, ks, errAt(fmt.Errorf("kind and the kind block disagree: nothing can match"))
	}
	keys := make([]string, 0, len(m.Detail))
	for k := range m.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		tm, err := compileText(m.Detail[k])
		if err != nil {
			return nil, ks, err
		}
		conds = append(conds, detailIs{key: k, m: tm})
	}
	for _, sub := range m.All {
		c, sk, err := compileMatch(sub)
		if err != nil {
			return nil, ks, err
		}
		ks = intersect(ks, sk)
		conds = append(conds, c)
	}
	if len(m.Any) > 0 {
		var alt anyOf
		var aks kindSet
		for _, sub := range m.Any {
			c, sk, err := compileMatch(sub)
			if err != nil {
				return nil, ks, err
			}
			aks = union(aks, sk)
			alt = append(alt, c)
		}
		ks = intersect(ks, aks)
		conds = append(conds, alt)
	}
	if m.Not != nil {
		c, _, err := compileMatch(m.Not)
		if err != nil {
			return nil, ks, err
		}
		conds = append(conds, not{c})
	}
	if len(conds) == 0 {
		return nil, ks, errAt(fmt.Errorf("an empty match block matches everything; give it a condition"))
	}
	if !ks.all && len(ks.kinds) == 0 {
		return nil, ks, errAt(fmt.Errorf("the kinds of the blocks exclude each other: nothing can match"))
	}
	if len(conds) == 1 {
		return conds[0], ks, nil
	}
	return allOf(conds), ks, nil
}

func startsWithLine(s string) bool {
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return false
	}
	_, err := strconv.Atoi(s[:i])
	return err == nil
}

func text(dst *[]cond, field string, t *Text, get func(*view) string) error {
	tm, err := compileText(t)
	if err != nil || tm == nil {
		return err
	}
	*dst = append(*dst, textIs{field: field, get: get, m: tm})
	return nil
}

func texts(dst *[]cond, field string, t *Text, get func(*view) []string) error {
	tm, err := compileText(t)
	if err != nil || tm == nil {
		return err
	}
	*dst = append(*dst, anyTextIs{field: field, get: get, m: tm})
	return nil
}

func pairs(dst *[]cond, field string, ps []pairSpec, get func(*view) []event.Header) error {
	for _, p := range ps {
		var pc pairIs
		pc.field, pc.get = field, get
		if p.Name != nil {
			n := *p.Name
			n.NoCase = true // header and argument names are not case-sensitive
			m, err := compileText(&n)
			if err != nil {
				return err
			}
			pc.name = m
		}
		m, err := compileText(p.Value)
		if err != nil {
			return err
		}
		pc.value = m
		if pc.name == nil && pc.value == nil {
			return fmt.Errorf("a %s condition needs name or value", field)
		}
		*dst = append(*dst, pc)
	}
	return nil
}

func boolIs(dst *[]cond, field string, want *bool, get func(*view) bool) {
	if want != nil {
		*dst = append(*dst, flagIs{field: field, want: *want, get: get})
	}
}

func content(dst *[]cond, field string, c *contentSpec, line int, size func(*view) int64, data func(*view) []byte) error {
	m, err := compileContent(c, line)
	if err != nil || m == nil {
		return err
	}
	*dst = append(*dst, contentIs{field: field, m: m, size: size, data: data})
	return nil
}

func compileRequest(s *requestSpec, line int) ([]cond, error) {
	var cs []cond
	for _, f := range []struct {
		name string
		t    *Text
		get  func(*view) string
	}{
		{"request.method", s.Method, func(v *view) string { return v.req.Method }},
		{"request.action", s.Action, func(v *view) string { return v.req.Action }},
		{"request.version", s.Version, func(v *view) string { return v.req.Version }},
		{"request.host", s.Host, func(v *view) string { return v.req.Host }},
		{"request.path", s.Path, func(v *view) string { return v.req.Path }},
		{"request.query", s.Query, func(v *view) string { return v.req.Query }},
		{"request.uri", s.URI, func(v *view) string { return v.req.URI }},
		{"request.user_agent", s.UserAgent, func(v *view) string { return v.req.UserAgent }},
		{"request.malformed", s.Malformed, func(v *view) string { return v.req.Malformed }},
	} {
		if err := text(&cs, f.name, f.t, f.get); err != nil {
			return nil, err
		}
	}
	if len(s.Status) > 0 {
		st := slices.Clone(s.Status)
		cs = append(cs, condFunc(func(v *view) bool { return slices.Contains(st, v.req.Status) }))
	}
	if err := pairs(&cs, "request.headers", s.Headers, func(v *view) []event.Header { return v.req.Headers }); err != nil {
		return nil, err
	}
	if err := pairs(&cs, "request.args", s.Args, func(v *view) []event.Header { return v.req.Args }); err != nil {
		return nil, err
	}
	if err := content(&cs, "request.body", s.Body, line,
		func(v *view) int64 { return max(v.req.BodyLen, int64(len(v.req.Body))) },
		func(v *view) []byte { return v.req.Body }); err != nil {
		return nil, err
	}
	if s.Anywhere != nil {
		tm, err := compileText(s.Anywhere)
		if err != nil {
			return nil, err
		}
		cs = append(cs, anywhere{tm})
	}
	return cs, nil
}

func compileLogin(s *loginSpec) ([]cond, error) {
	var cs []cond
	if err := text(&cs, "login.user", s.User, func(v *view) string { return v.log.User }); err != nil {
		return nil, err
	}
	if err := text(&cs, "login.password", s.Password, func(v *view) string { return v.log.Password }); err != nil {
		return nil, err
	}
	if err := text(&cs, "login.method", s.Method, func(v *view) string { return v.log.Method }); err != nil {
		return nil, err
	}
	boolIs(&cs, "login.success", s.Success, func(v *view) bool { return v.log.Success })
	if len(s.Credentials) > 0 {
		set := make(map[string]struct{}, len(s.Credentials))
		for _, c := range s.Credentials {
			if !strings.Contains(c, ":") {
				return nil, fmt.Errorf("credential %q: want user:password", c)
			}
			set[c] = struct{}{}
		}
		cs = append(cs, credIn(set))
	}
	return cs, nil
}

func compileCommand(s *commandSpec) ([]cond, error) {
	var cs []cond
	if err := text(&cs, "command.shell", s.Shell, func(v *view) string { return v.cmd.Shell }); err != nil {
		return nil, err
	}
	boolIs(&cs, "command.known", s.Known, func(v *view) bool { return v.cmd.Known })
	if err := text(&cs, "command.line", s.Line, func(v *view) string { return v.cmd.Line }); err != nil {
		return nil, err
	}
	return cs, nil
}

func compilePayload(s *contentSpec, line int) ([]cond, error) {
	var cs []cond
	err := content(&cs, "payload.data", s, line,
		func(v *view) int64 { return max(v.pay.Len, int64(len(v.pay.Data))) },
		func(v *view) []byte { return v.pay.Data })
	return cs, err
}

func compileSample(s *sampleSpec, line int) ([]cond, error) {
	var cs []cond
	if err := text(&cs, "sample.source", s.Source, func(v *view) string { return v.smp.Source }); err != nil {
		return nil, err
	}
	if err := text(&cs, "sample.name", s.Name, func(v *view) string { return v.smp.Name }); err != nil {
		return nil, err
	}
	boolIs(&cs, "sample.new", s.New, func(v *view) bool { return v.smp.New })
	c := s.contentSpec
	if c.MinSize != nil || c.MaxSize != nil || len(c.Patterns) > 0 || c.Regex != "" {
		m, err := compileContent(&c, line)
		if err != nil {
			return nil, err
		}
		cs = append(cs, contentIs{field: "sample", m: m, stored: true,
			size: func(v *view) int64 { return v.smp.Size },
			data: func(v *view) []byte { return v.sampleBytes() }})
	}
	return cs, nil
}

func compileUpload(s *uploadSpec, line int) ([]cond, error) {
	var cs []cond
	if err := text(&cs, "upload.via", s.Via, func(v *view) string { return v.upl.Via }); err != nil {
		return nil, err
	}
	if err := text(&cs, "upload.name", s.Name, func(v *view) string { return v.upl.Name }); err != nil {
		return nil, err
	}
	if s.MinSize != nil || s.MaxSize != nil {
		if err := content(&cs, "upload.size", &contentSpec{MinSize: s.MinSize, MaxSize: s.MaxSize}, line,
			func(v *view) int64 { return v.upl.Size }, nil); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

func compileDownload(s *downloadSpec) ([]cond, error) {
	var cs []cond
	for _, f := range []struct {
		name string
		t    *Text
		get  func(*view) string
	}{
		{"download.protocol", s.Protocol, func(v *view) string { return v.dl.Protocol }},
		{"download.host", s.Host, func(v *view) string { return v.dl.Host }},
		{"download.path", s.Path, func(v *view) string { return v.dl.Path }},
		{"download.url", s.URL, func(v *view) string { return v.dl.URL }},
		{"download.command", s.Command, func(v *view) string { return v.dl.Command }},
	} {
		if err := text(&cs, f.name, f.t, f.get); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

func compileMail(s *mailSpec) ([]cond, error) {
	var cs []cond
	boolIs(&cs, "mail.relay_attempt", s.RelayAttempt, func(v *view) bool { return v.mail.RelayAttempt })
	for _, f := range []struct {
		name string
		t    *Text
		get  func(*view) string
	}{
		{"mail.result", s.Result, func(v *view) string { return v.mail.Result }},
		{"mail.helo", s.Helo, func(v *view) string { return v.mail.Helo }},
		{"mail.from", s.From, func(v *view) string { return v.mail.From }},
		{"mail.auth", s.Auth, func(v *view) string { return v.mail.Auth }},
		{"mail.subject", s.Subject, func(v *view) string { return v.mail.Subject }},
	} {
		if err := text(&cs, f.name, f.t, f.get); err != nil {
			return nil, err
		}
	}
	if err := texts(&cs, "mail.rcpt", s.Rcpt, func(v *view) []string { return v.mail.Rcpts }); err != nil {
		return nil, err
	}
	if err := pairs(&cs, "mail.headers", s.Headers, func(v *view) []event.Header { return v.mail.Headers }); err != nil {
		return nil, err
	}
	return cs, nil
}

func compileRPC(s *rpcSpec, line int) ([]cond, error) {
	var cs []cond
	if len(s.Program) > 0 {
		l := slices.Clone(s.Program)
		cs = append(cs, condFunc(func(v *view) bool { return slices.Contains(l, v.rpc.Program) }))
	}
	if len(s.Version) > 0 {
		l := slices.Clone(s.Version)
		cs = append(cs, condFunc(func(v *view) bool { return slices.Contains(l, v.rpc.Version) }))
	}
	if len(s.Procedure) > 0 {
		l := slices.Clone(s.Procedure)
		cs = append(cs, condFunc(func(v *view) bool { return slices.Contains(l, v.rpc.Procedure) }))
	}
	if s.MinArgsLen != nil {
		n := *s.MinArgsLen
		cs = append(cs, condFunc(func(v *view) bool { return v.rpc.ArgsLen >= n }))
	}
	for _, f := range []struct {
		name string
		t    *Text
		get  func(*view) string
	}{
		{"rpc.program_name", s.ProgramName, func(v *view) string { return v.rpc.ProgramName }},
		{"rpc.procedure_name", s.ProcedureName, func(v *view) string { return v.rpc.ProcedureName }},
		{"rpc.reply", s.Reply, func(v *view) string { return v.rpc.Reply }},
		{"rpc.machine", s.Machine, func(v *view) string { return v.rpc.Machine }},
	} {
		if err := text(&cs, f.name, f.t, f.get); err != nil {
			return nil, err
		}
	}
	if err := pairs(&cs, "rpc.args", s.Args, func(v *view) []event.Header { return v.rpcArgs() }); err != nil {
		return nil, err
	}
	if err := content(&cs, "rpc.raw_args", s.RawArgs, line,
		func(v *view) int64 { return v.rpc.ArgsLen },
		func(v *view) []byte { return v.rpc.RawArgs }); err != nil {
		return nil, err
	}
	return cs, nil
}
