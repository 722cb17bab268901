package detect

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// builtin holds the rule files compiled into the binary.
//
//go:embed rules/*.yaml
var builtin embed.FS

// The YAML shape of a rule file (docs/rules.md). Every key is checked:
// an unknown one is an error with its file and line.

type fileSpec struct {
	Rules []ruleSpec `yaml:"rules"`
}

type ruleSpec struct {
	ID          string     `yaml:"id"`
	Title       string     `yaml:"title"`
	Description string     `yaml:"description"`
	Family      string     `yaml:"family"`
	Variant     string     `yaml:"variant"`
	Exploit     string     `yaml:"exploit"`
	CVE         stringList `yaml:"cve"`
	Bulletin    string     `yaml:"bulletin"`
	Severity    string     `yaml:"severity"`
	Scope       string     `yaml:"scope"`
	Threshold   int        `yaml:"threshold"`
	Window      string     `yaml:"window"`
	References  stringList `yaml:"references"`
	Match       *matchSpec `yaml:"match"`
	Tests       []testSpec `yaml:"tests"`

	line int
}

// UnmarshalYAML records the rule's line for later errors.
func (r *ruleSpec) UnmarshalYAML(n *yaml.Node) error {
	type plain ruleSpec
	if err := n.Decode((*plain)(r)); err != nil {
		return err
	}
	r.line = n.Line
	return nil
}

type matchSpec struct {
	Service   *Text      `yaml:"service"`
	Transport string     `yaml:"transport"`
	Port      portList   `yaml:"port"`
	Kind      stringList `yaml:"kind"`

	Request  *requestSpec  `yaml:"request"`
	Login    *loginSpec    `yaml:"login"`
	Command  *commandSpec  `yaml:"command"`
	Payload  *contentSpec  `yaml:"payload"`
	Sample   *sampleSpec   `yaml:"sample"`
	Upload   *uploadSpec   `yaml:"upload"`
	Download *downloadSpec `yaml:"download"`
	Mail     *mailSpec     `yaml:"mail"`
	RPC      *rpcSpec      `yaml:"rpc"`

	Detail map[string]*Text `yaml:"detail"`

	All []*matchSpec `yaml:"all"`
	Any []*matchSpec `yaml:"any"`
	Not *matchSpec   `yaml:"not"`

	line int
}

// UnmarshalYAML records the block's line for later errors.
func (m *matchSpec) UnmarshalYAML(n *yaml.Node) error {
	type plain matchSpec
	if err := n.Decode((*plain)(m)); err != nil {
		return err
	}
	m.line = n.Line
	return nil
}

type pairSpec struct {
	Name  *Text `yaml:"name"`
	Value *Text `yaml:"value"`
}

type requestSpec struct {
	Method    *Text        `yaml:"method"`
	URI       *Text        `yaml:"uri"`
	Path      *Text        `yaml:"path"`
	Query     *Text        `yaml:"query"`
	Version   *Text        `yaml:"version"`
	Host      *Text        `yaml:"host"`
	UserAgent *Text        `yaml:"user_agent"`
	Action    *Text        `yaml:"action"`
	Malformed *Text        `yaml:"malformed"`
	Status    []int        `yaml:"status"`
	Headers   []pairSpec   `yaml:"headers"`
	Args      []pairSpec   `yaml:"args"`
	Body      *contentSpec `yaml:"body"`
	Anywhere  *Text        `yaml:"anywhere"`
}

type loginSpec struct {
	User        *Text      `yaml:"user"`
	Password    *Text      `yaml:"password"`
	Credentials stringList `yaml:"credentials"`
	Method      *Text      `yaml:"method"`
	Success     *bool      `yaml:"success"`
}

type commandSpec struct {
	Line  *Text `yaml:"line"`
	Shell *Text `yaml:"shell"`
	Known *bool `yaml:"known"`
}

// contentSpec matches bytes: a payload's, a sample's, a request body, an
// RPC call's undecoded arguments.
type contentSpec struct {
	MinSize  *int64        `yaml:"min_size"`
	MaxSize  *int64        `yaml:"max_size"`
	Patterns []patternSpec `yaml:"patterns"`
	Regex    string        `yaml:"regex"`
}

type patternSpec struct {
	Hex    string `yaml:"hex"`
	Text   string `yaml:"text"`
	NoCase bool   `yaml:"nocase"`
	Offset int    `yaml:"offset"`
	Within int    `yaml:"within"`
}

type sampleSpec struct {
	contentSpec `yaml:",inline"`
	Source      *Text `yaml:"source"`
	Name        *Text `yaml:"name"`
	New         *bool `yaml:"new"`
}

type uploadSpec struct {
	Name    *Text  `yaml:"name"`
	Via     *Text  `yaml:"via"`
	MinSize *int64 `yaml:"min_size"`
	MaxSize *int64 `yaml:"max_size"`
}

type downloadSpec struct {
	URL      *Text `yaml:"url"`
	Protocol *Text `yaml:"protocol"`
	Host     *Text `yaml:"host"`
	Path     *Text `yaml:"path"`
	Command  *Text `yaml:"command"`
}

type mailSpec struct {
	Helo         *Text      `yaml:"helo"`
	From         *Text      `yaml:"from"`
	Rcpt         *Text      `yaml:"rcpt"`
	Subject      *Text      `yaml:"subject"`
	Auth         *Text      `yaml:"auth"`
	Result       *Text      `yaml:"result"`
	RelayAttempt *bool      `yaml:"relay_attempt"`
	Headers      []pairSpec `yaml:"headers"`
}

type rpcSpec struct {
	Program       []uint32     `yaml:"program"`
	ProgramName   *Text        `yaml:"program_name"`
	Version       []uint32     `yaml:"version"`
	Procedure     []uint32     `yaml:"procedure"`
	ProcedureName *Text        `yaml:"procedure_name"`
	Machine       *Text        `yaml:"machine"`
	Reply         *Text        `yaml:"reply"`
	MinArgsLen    *int64       `yaml:"min_args_len"`
	Args          []pairSpec   `yaml:"args"`
	RawArgs       *contentSpec `yaml:"raw_args"`
}

// stringList is a YAML scalar or a sequence of scalars.
type stringList []string

// UnmarshalYAML accepts one string or a list of them.
func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = stringList{n.Value}
		return nil
	case yaml.SequenceNode:
		var s []string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*l = s
		return nil
	}
	return fmt.Errorf("%d: want a string or a list of strings", n.Line)
}

// portRange is an inclusive range of ports.
type portRange struct{ lo, hi uint16 }

// portList is a port, a "lo-hi" range, or a list of them.
type portList []portRange

// UnmarshalYAML accepts 80, "8000-8100" or a list of them.
func (l *portList) UnmarshalYAML(n *yaml.Node) error {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for _, it := range items {
		if it.Kind != yaml.ScalarNode {
			return fmt.Errorf("%d: a port is a number or a range lo-hi", it.Line)
		}
		lo, hi, isRange := strings.Cut(it.Value, "-")
		a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
		}
		if err1 != nil || err2 != nil || b < a {
			return fmt.Errorf("%d: bad port %q", it.Line, it.Value)
		}
		*l = append(*l, portRange{uint16(a), uint16(b)})
	}
	return nil
}

// ruleSource is one rule file's bytes and the name errors give it.
type ruleSource struct {
	name    string
	data    []byte
	builtin bool
}

// builtinSources returns the embedded rule files in name order.
func builtinSources() ([]ruleSource, error) {
	names, err := fs.Glob(builtin, "rules/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	slices.Sort(names)
	var out []ruleSource
	for _, n := range names {
		b, err := builtin.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("detect: %w", err)
		}
		out = append(out, ruleSource{name: "builtin:" + n, data: b, builtin: true})
	}
	return out, nil
}

// maxRuleFile bounds one user rule file.
const maxRuleFile = 8 << 20

// userSources reads the files named in paths; a directory contributes
// its *.yaml and *.yml files (not its sub-directories), in name order.
func userSources(paths []string) ([]ruleSource, error) {
	var out []ruleSource
	for _, p := range paths {
		files, err := expand(p, ".yaml", ".yml")
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := readBounded(f, maxRuleFile)
			if err != nil {
				return nil, err
			}
			out = append(out, ruleSource{name: f, data: b})
		}
	}
	return out, nil
}

// expand lists path itself, or the files with one of exts in it when it
// is a directory.
func expand(path string, exts ...string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() || !slices.Contains(exts, strings.ToLower(filepath.Ext(e.Name()))) {
			continue
		}
		out = append(out, filepath.Join(path, e.Name()))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("detect: %s: no %s files in the directory", path, strings.Join(exts, " or "))
	}
	return out, nil
}

func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, max+1)); err != nil {
		return nil, fmt.Errorf("detect: %s: %w", path, err)
	}
	if int64(buf.Len()) > max {
		return nil, fmt.Errorf("detect: %s: larger than %d bytes", path, max)
	}
	return buf.Bytes(), nil
}

// parseFile decodes one rule file strictly.
func parseFile(src ruleSource) ([]ruleSpec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src.data, &doc); err != nil {
		return nil, fileErr(src.name, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	if err := checkKnown(doc.Content[0], reflect.TypeFor[fileSpec](), ""); err != nil {
		return nil, fileErr(src.name, err)
	}
	var f fileSpec
	if err := doc.Decode(&f); err != nil {
		return nil, fileErr(src.name, err)
	}
	return f.Rules, nil
}

var (
	nodeType        = reflect.TypeFor[yaml.Node]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	// lineOnly types have an UnmarshalYAML that only records a line: their
	// keys are checked here.
	lineOnly = map[reflect.Type]bool{
		reflect.TypeFor[ruleSpec]():  true,
		reflect.TypeFor[matchSpec](): true,
		reflect.TypeFor[testSpec]():  true,
	}
)

// checkKnown walks n against the type it is decoded into and reports the
// first key the type does not have as "LINE: unknown key ...". Types with
// their own UnmarshalYAML check themselves, except the two whose
// UnmarshalYAML only records a line.
func checkKnown(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if t == nodeType {
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) && !lineOnly[t] {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // the decoder reports the mismatch
		}
		fields := map[string]reflect.Type{}
		yamlFields(t, fields)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				known := make([]string, 0, len(fields))
				for name := range fields {
					known = append(known, name)
				}
				slices.Sort(known)
				where := path
				if where == "" {
					where = "the top level"
				}
				return fmt.Errorf("%d: unknown key %q in %s (known keys: %s)", k.Line, k.Value, where, strings.Join(known, ", "))
			}
			if err := checkKnown(v, ft, joinPath(path, k.Value)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkKnown(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, it := range n.Content {
			if err := checkKnown(it, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func yamlFields(t reflect.Type, into map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			yamlFields(f.Type, into)
			continue
		}
		if !f.IsExported() || tag == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		into[name] = f.Type
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// parseWindow reads a rule's window ("10m", "1h").
func parseWindow(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad window %q (want a duration such as 10m)", s)
	}
	return d, nil
}

var yamlLine = regexp.MustCompile(`^yaml: (?:unmarshal errors:\s*)?line (\d+): `)

// fileErr gives err the shape "detect: FILE:LINE: message" when it knows
// a line ("LINE: message" from this package, "yaml: line LINE: message"
// from the decoder), else "detect: FILE: message".
func fileErr(file string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("detect: %s:%s: %s", file, m[1], msg[len(m[0]):])
	}
	if i := strings.IndexByte(msg, ':'); i > 0 {
		if _, err := strconv.Atoi(msg[:i]); err == nil {
			return fmt.Errorf("detect: %s:%s", file, msg)
		}
	}
	return fmt.Errorf("detect: %s: %s", file, msg)
}
