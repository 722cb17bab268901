// Package shell is Smallpot's fake command interpreter: it answers
// command lines the way a real shell would, from a small fake file system,
// and never runs anything.
//
// A Shell joins three parts. The parser (Parse) splits a line into simple
// commands chained by ';', '&', '&&', '||' and '|', under the quoting
// rules of a Syntax. A Dialect answers one simple command (Windows cmd.exe
// today, BusyBox later) from a State: working directory, environment and
// an FS, a per-attacker overlay on a shared read-only Tree. The Shell runs
// the chain, applies redirections to the fake file system, and collects
// the downloads a line asks for (tftp, ftp scripts, URLs in any argument):
// intents, recorded and never fetched.
package shell

import (
	"bytes"
	"crypto/sha256"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// State is the fake host as one attacker sees it.
type State struct {
	Cwd string
	Env map[string]string
	FS  *FS
	// Now is the clock the dialect stamps new files with.
	Now func() time.Time
	// Status is the exit status of the last simple command run ($?).
	Status int
}

func (st *State) now() time.Time {
	if st.Now != nil {
		return st.Now()
	}
	return time.Now()
}

// Download is a fetch a command asked for: an intent, never performed.
type Download struct {
	URL      string
	Protocol string // http, https, ftp, tftp
	Host     string
	Path     string
}

// Result is what one simple command did.
type Result struct {
	Output    string
	Status    int  // exit status; 0 is success
	Known     bool // the dialect knows the command
	Downloads []Download
	// Stderr is what the command wrote to its error stream: it reaches
	// the screen even when the output goes into a pipe or a file, unless
	// the line redirects descriptor 2 (2>file, 2>&1, 2>/dev/null).
	Stderr string
	// Exit asks the interactive shell to end (exit, logout); the rest of
	// the line is not run.
	Exit bool
}

// Dialect answers simple commands in the manner of one real shell.
type Dialect interface {
	// Name is the value of event.Command's shell field: "cmd", "busybox".
	Name() string
	Syntax() Syntax
	// Run answers one simple command. It may change c.State and may run
	// a nested line with c.Sub (cmd /c, sh -c).
	Run(c *Call) Result
	// SyntaxError is what the shell prints for a line it cannot parse.
	SyntaxError(err *SyntaxError) string
	// Path resolves a file name against the state's working directory
	// into FS parts; ok is false for the null device and for names that
	// cannot be files.
	Path(st *State, name string) (parts []string, ok bool)
}

// Expander is implemented by dialects that expand variables in a line
// before parsing it (cmd's %VAR%).
type Expander interface {
	Expand(st *State, line string) string
}

// CommandExpander is implemented by dialects that expand each simple
// command just before it runs, so a variable set earlier on the line is
// seen (sh's $VAR). The expanded text is parsed again; its first command
// replaces the one written.
type CommandExpander interface {
	ExpandCommand(st *State, raw string) string
}

func expandCommand(ce CommandExpander, st *State, c Command, syn Syntax) Command {
	text := ce.ExpandCommand(st, c.Raw)
	if text == c.Raw {
		return c
	}
	cmds, err := Parse(text, syn)
	if err != nil || len(cmds) == 0 {
		return c
	}
	n := cmds[0]
	n.Op = c.Op
	return n
}

// Call is one simple command as a dialect sees it.
type Call struct {
	Command
	State *State
	Stdin string

	sh    *Shell
	depth int
}

// MaxDepth bounds nested interpreters (cmd /c cmd /c ...).
const MaxDepth = 4

// Sub runs line in a nested interpreter of the same dialect and state.
func (c *Call) Sub(line string) Result {
	if c.depth >= MaxDepth || c.sh == nil {
		return Result{Known: true, Status: 1}
	}
	// An exit in the nested line ends that interpreter only.
	ex := c.sh.exec(line, c.depth+1)
	return Result{Output: ex.Output, Status: ex.Status, Known: ex.Known, Downloads: ex.Downloads}
}

// Used tells the shell that the command ran (why "exec") or changed the
// mode of (why "chmod") the file at parts. A file built from command
// output (see Drop) is then handed to the caller.
func (c *Call) Used(parts []string, why string) {
	if c.sh != nil {
		c.sh.use(parts, why)
	}
}

// Copied tells the shell that the file at src was copied or moved to dst,
// so a file built from command output is followed under its new name.
func (c *Call) Copied(src, dst []string) {
	if c.sh != nil {
		c.sh.copied(src, dst)
	}
}

// Shell runs lines in one dialect against one state.
type Shell struct {
	Dialect Dialect
	State   *State
	// MaxOutput bounds the output of one line (default 64 KiB).
	MaxOutput int

	built map[string]*builtFile // files written by echo/printf, by FS key
	drops []Drop                // drops of the line being run
}

// Execution is what a line did.
type Execution struct {
	Line      string
	Output    string
	Status    int
	Known     bool // every simple command was known to the dialect
	Commands  []Command
	Downloads []Download
	// Exit is set when the line asked the interactive shell to end.
	Exit bool
	// Drops are the files built from command output that the line ran
	// or made executable.
	Drops []Drop
}

// Drop is a file a session built on the fake disk out of command output
// (echo -ne '\x7f\x45...' >> f, printf ... > f, echo ... >> x.vbs): the
// way droppers without a download tool upload a program through a shell.
// The shell follows every file an echo or printf wrote to, and hands its
// content over once: when it is run or chmod'ed, and at the end of the
// session (Flush) if it changed since. Fragments are never handed over
// one by one.
type Drop struct {
	Name string // the file's path, as the dialect writes paths
	Data []byte
	Why  string // "exec", "chmod" or "end"
}

// Bounds of the files followed as possible drops.
const (
	MaxBuilt = 64 // files followed per shell
	MaxDrops = 16 // drops handed over per line
)

type builtFile struct {
	parts []string
	sum   [32]byte
	given bool // handed over with this sum
}

// MaxDownloads bounds the download intents kept per line.
const MaxDownloads = 32

// Exec runs one command line.
func (sh *Shell) Exec(line string) Execution {
	return sh.exec(line, 0)
}

func (sh *Shell) exec(line string, depth int) Execution {
	if len(line) > MaxLine {
		line = line[:MaxLine]
	}
	ex := Execution{Line: line, Known: true}
	src := line
	if e, ok := sh.Dialect.(Expander); ok {
		src = e.Expand(sh.State, line)
		if len(src) > MaxLine {
			src = src[:MaxLine]
		}
	}
	cmds, err := Parse(src, sh.Dialect.Syntax())
	if err != nil {
		se, _ := err.(*SyntaxError)
		ex.Output = sh.Dialect.SyntaxError(se)
		ex.Status, ex.Known = 2, false
		return ex
	}
	ex.Commands = cmds
	max := sh.MaxOutput
	if max <= 0 {
		max = 64 << 10
	}
	var out strings.Builder
	status := 0
	pipe := ""
	for i, c := range cmds {
		switch c.Op {
		case And:
			if status != 0 {
				continue
			}
		case Or:
			if status == 0 {
				continue
			}
		}
		stdin := ""
		if c.Op == Pipe {
			stdin = pipe
		}
		if ce, ok := sh.Dialect.(CommandExpander); ok {
			c = expandCommand(ce, sh.State, c, sh.Dialect.Syntax())
		}
		r, shown, errShown := sh.run(c, stdin, depth)
		status = r.Status
		sh.State.Status = status
		if !r.Known {
			ex.Known = false
		}
		for _, d := range r.Downloads {
			ex.Downloads = addDownload(ex.Downloads, d)
		}
		for _, a := range c.Args {
			for _, d := range FindURLs(a) {
				ex.Downloads = addDownload(ex.Downloads, d)
			}
		}
		piped := i+1 < len(cmds) && cmds[i+1].Op == Pipe
		if errShown != "" {
			if out.Len()+len(errShown) > max {
				errShown = errShown[:max-out.Len()]
			}
			out.WriteString(errShown)
		}
		if r.Exit {
			ex.Exit = true
			break
		}
		if piped {
			pipe = shown
			continue
		}
		if out.Len()+len(shown) > max {
			shown = shown[:max-out.Len()]
		}
		out.WriteString(shown)
	}
	ex.Output = out.String()
	ex.Status = status
	if depth == 0 {
		ex.Drops, sh.drops = sh.drops, nil
	}
	return ex
}

// Where a descriptor of a simple command points.
const (
	toStdout = iota // the command's output: the screen, the next command of a pipe
	toScreen        // the error stream: the screen
	toNull          // the null device
	toFile
)

type sink struct {
	kind  int
	parts []string
}

// run answers one simple command and applies its redirections; it returns
// the result, what goes to the command's output (the screen or the next
// command of a pipe) and what goes straight to the screen.
func (sh *Shell) run(c Command, stdin string, depth int) (Result, string, string) {
	st := sh.State
	fd1, fd2 := sink{kind: toStdout}, sink{kind: toScreen}
	for _, r := range c.Redirects {
		switch {
		case r.Op == "<":
			parts, ok := sh.Dialect.Path(st, r.Target)
			if !ok {
				stdin = ""
				continue
			}
			n := st.FS.Stat(parts)
			if n == nil || n.Dir {
				return Result{Status: 1, Known: true}, "", missingFile(sh.Dialect, st, r.Target)
			}
			stdin = string(n.Data)
		case r.FD == 1 || r.FD == 2:
			s := &fd1
			if r.FD == 2 {
				s = &fd2
			}
			switch {
			case r.Target == "&1":
				*s = fd1
			case r.Target == "&2":
				*s = fd2
			case strings.HasPrefix(r.Target, "&"):
				// another descriptor: nothing to follow
			default:
				parts, ok := sh.Dialect.Path(st, r.Target)
				if !ok {
					*s = sink{kind: toNull}
					continue
				}
				// The file is created (or emptied) before the command
				// runs, as a shell does; if it cannot be, the command does
				// not run.
				if err := st.FS.WriteFile(parts, nil, r.Op == ">>", st.now()); err != nil {
					return Result{Status: 1, Known: true}, "", pathError(sh.Dialect, st, r.Target)
				}
				*s = sink{kind: toFile, parts: parts}
			}
		}
	}
	var res Result
	if len(c.Args) > 0 {
		res = sh.Dialect.Run(&Call{Command: c, State: st, Stdin: stdin, sh: sh, depth: depth})
	} else {
		res = Result{Known: true}
	}
	var shown, screen strings.Builder
	deliver := func(s sink, text string, isOut bool) {
		switch s.kind {
		case toStdout:
			shown.WriteString(text)
		case toScreen:
			screen.WriteString(text)
		case toFile:
			if text == "" {
				return
			}
			if err := st.FS.WriteFile(s.parts, []byte(text), true, st.now()); err != nil {
				res.Status = 1
				screen.WriteString(pathError(sh.Dialect, st, displayPath(sh.Dialect, s.parts)))
				return
			}
			if isOut && writesBuilt(c) {
				sh.mark(s.parts)
			}
		}
	}
	deliver(fd1, res.Output, true)
	deliver(fd2, res.Stderr, false)
	return res, shown.String(), screen.String()
}

// Redirector is implemented by dialects with their own wording for a
// redirection that fails: a missing input file, an output file that
// cannot be created.
type Redirector interface {
	RedirectError(st *State, target string, write bool) string
}

func missingFile(d Dialect, st *State, target string) string {
	if r, ok := d.(Redirector); ok {
		return r.RedirectError(st, target, false)
	}
	if d.Name() == "cmd" {
		return "The system cannot find the file specified.\r\n"
	}
	return "sh: can't open file\n"
}

func pathError(d Dialect, st *State, target string) string {
	if r, ok := d.(Redirector); ok {
		return r.RedirectError(st, target, true)
	}
	if d.Name() == "cmd" {
		return "The system cannot find the path specified.\r\n"
	}
	return "sh: can't create file: nonexistent directory\n"
}

// Joiner is implemented by dialects that write paths their own way;
// others write cmd's (C:\x) or a Unix path (/x).
type Joiner interface {
	Join(parts []string) string
}

func displayPath(d Dialect, parts []string) string {
	if j, ok := d.(Joiner); ok {
		return j.Join(parts)
	}
	if d.Name() == "cmd" {
		return WinJoin(parts)
	}
	return "/" + strings.Join(parts, "/")
}

// writesBuilt reports whether c is an echo or a printf, whose output
// written to a file builds a possible drop.
func writesBuilt(c Command) bool {
	if len(c.Args) == 0 {
		return false
	}
	name := c.Args[0]
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = lowerASCII(name)
	if name == "busybox" && len(c.Args) > 1 {
		name = lowerASCII(c.Args[1])
	}
	switch {
	case name == "echo", name == "printf", name == "echo.exe":
		return true
	case strings.HasPrefix(name, "echo") && strings.ContainsRune(`./+=;,[]:(`, rune(name[4])):
		// cmd's echo glued to its text: "echo.", "echo:"
		return true
	}
	return false
}

// mark follows the file at parts as a possible drop.
func (sh *Shell) mark(parts []string) {
	k := sh.State.FS.key(parts)
	if sh.built == nil {
		sh.built = map[string]*builtFile{}
	}
	if _, ok := sh.built[k]; ok || len(sh.built) >= MaxBuilt {
		return
	}
	sh.built[k] = &builtFile{parts: slices.Clone(parts)}
}

// use hands over the file at parts if it was built from command output
// and changed since it was last handed over.
func (sh *Shell) use(parts []string, why string) {
	b := sh.built[sh.State.FS.key(parts)]
	if b == nil || len(sh.drops) >= MaxDrops {
		return
	}
	if d, ok := sh.take(b, why); ok {
		sh.drops = append(sh.drops, d)
	}
}

func (sh *Shell) take(b *builtFile, why string) (Drop, bool) {
	n := sh.State.FS.Stat(b.parts)
	if n == nil || n.Dir || len(n.Data) == 0 {
		return Drop{}, false
	}
	sum := sha256.Sum256(n.Data)
	if b.given && sum == b.sum {
		return Drop{}, false
	}
	b.sum, b.given = sum, true
	return Drop{Name: displayPath(sh.Dialect, b.parts), Data: bytes.Clone(n.Data), Why: why}, true
}

func (sh *Shell) copied(src, dst []string) {
	b := sh.built[sh.State.FS.key(src)]
	if b == nil {
		return
	}
	sh.mark(dst)
}

// Flush hands over, at the end of a session, every built file whose
// content was not handed over yet, in path order.
func (sh *Shell) Flush() []Drop {
	keys := make([]string, 0, len(sh.built))
	for k := range sh.built {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Drop
	for _, k := range keys {
		if d, ok := sh.take(sh.built[k], "end"); ok {
			out = append(out, d)
		}
	}
	return out
}

func addDownload(list []Download, d Download) []Download {
	if len(list) >= MaxDownloads {
		return list
	}
	for _, o := range list {
		if o.URL == d.URL {
			return list
		}
	}
	return append(list, d)
}

var schemes = []string{"http://", "https://", "ftp://", "tftp://"}

// FindURLs returns the URLs of known schemes in s.
func FindURLs(s string) []Download {
	var out []Download
	low := lowerASCII(s)
	for i := 0; i < len(low) && len(out) < MaxDownloads; {
		at, scheme := -1, ""
		for _, sc := range schemes {
			if j := strings.Index(low[i:], sc); j >= 0 && (at < 0 || i+j < at) {
				at, scheme = i+j, sc
			}
		}
		if at < 0 {
			break
		}
		end := at + len(scheme)
		for end < len(s) && !strings.ContainsRune(" \t\r\n\"'`<>|;&(){}\\", rune(s[end])) {
			end++
		}
		// A comma or full stop ending the URL belongs to the sentence
		// around it ("http://x/a.exe", False).
		raw := strings.TrimRight(s[at:end], ".,")
		if d, ok := ParseURL(raw); ok {
			out = append(out, d)
		}
		i = end
	}
	return out
}

// ParseURL describes a URL as a Download; ok is false when it names no
// host.
func ParseURL(raw string) (Download, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return Download{}, false
	}
	p := u.EscapedPath()
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	if p == "" {
		p = "/"
	}
	return Download{URL: raw, Protocol: strings.ToLower(u.Scheme), Host: u.Host, Path: p}, true
}

// NewDownload describes a fetch by protocol, host and path, as tftp and
// ftp scripts name them.
func NewDownload(protocol, host, path string) Download {
	path = strings.ReplaceAll(path, "\\", "/")
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	h := host
	if strings.Contains(h, ":") && net.ParseIP(h) != nil {
		h = "[" + h + "]"
	}
	return Download{URL: protocol + "://" + h + path, Protocol: protocol, Host: host, Path: path}
}

// lowerASCII lowers A-Z only, so byte offsets stay those of s.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
