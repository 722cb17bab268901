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
	"net"
	"net/url"
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
	if c.depth >= MaxDepth {
		return Result{Known: true, Status: 1}
	}
	ex := c.sh.exec(line, c.depth+1)
	return Result{Output: ex.Output, Status: ex.Status, Known: ex.Known, Downloads: ex.Downloads}
}

// Shell runs lines in one dialect against one state.
type Shell struct {
	Dialect Dialect
	State   *State
	// MaxOutput bounds the output of one line (default 64 KiB).
	MaxOutput int
}

// Execution is what a line did.
type Execution struct {
	Line      string
	Output    string
	Status    int
	Known     bool // every simple command was known to the dialect
	Commands  []Command
	Downloads []Download
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
		r, shown := sh.run(c, stdin, depth)
		status = r.Status
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
	return ex
}

// run answers one simple command and applies its redirections; it returns
// the result and what reaches the screen (or the next command of a pipe).
func (sh *Shell) run(c Command, stdin string, depth int) (Result, string) {
	st := sh.State
	out := ""
	var target []string
	appendTo, devnull := false, false
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
				return Result{Status: 1, Known: true}, missingFile(sh.Dialect)
			}
			stdin = string(n.Data)
		case r.FD == 1 && !strings.HasPrefix(r.Target, "&"):
			parts, ok := sh.Dialect.Path(st, r.Target)
			target, appendTo, devnull = parts, r.Op == ">>", !ok
		}
	}
	var res Result
	if len(c.Args) > 0 {
		res = sh.Dialect.Run(&Call{Command: c, State: st, Stdin: stdin, sh: sh, depth: depth})
	} else {
		res = Result{Known: true}
	}
	out = res.Output
	switch {
	case devnull:
		return res, ""
	case target != nil:
		if err := st.FS.WriteFile(target, []byte(out), appendTo, st.now()); err != nil {
			res.Status = 1
			return res, pathError(sh.Dialect)
		}
		return res, ""
	}
	return res, out
}

func missingFile(d Dialect) string {
	if d.Name() == "cmd" {
		return "The system cannot find the file specified.\r\n"
	}
	return "sh: can't open file\n"
}

func pathError(d Dialect) string {
	if d.Name() == "cmd" {
		return "The system cannot find the path specified.\r\n"
	}
	return "sh: can't create file: nonexistent directory\n"
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
		raw := s[at:end]
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
