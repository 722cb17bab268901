package shell

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// BusyBox is the dialect of BusyBox's ash on an embedded Linux box (a
// home router, a camera, a DVR): the shell today's IoT bots reach over
// telnet. Its fields are the persona; the zero value answers as a MIPS
// router with BusyBox v1.12.1 and no host name set.
//
// It answers what bots send: ash's builtins (cd, echo -e/-ne, printf,
// export, exit, test, ...), and the applets of /bin/busybox found through
// PATH or by path, `/bin/busybox APPLET ...` and `/bin/busybox XXXX`
// (`XXXX: applet not found`, the probe Mirai-style bots use), `sh`
// (nested, with the ash banner), `sh -c`, scripts, cat, ls, ps, uname,
// chmod, rm, cp, mv, wget, tftp, ftpget. Programs not on the fake disk
// are "not found", as enable, system and shell are on a real one. A file
// the attacker built or fetched runs without a word once it is
// executable.
type BusyBox struct {
	Hostname    string // uname -n, hostname: "(none)" when unset, as on many devices
	Version     string // BusyBox's banner: "BusyBox v1.12.1 (2013-06-17 10:45:24 CST)"
	Arch        string // processor (see LinuxOptions.Arch); uname -m derives from it
	Kernel      string // uname -r
	KernelBuild string // uname -v
	Address     string // IPv4 address shown by ifconfig
	Netmask     string
	MAC         string // hardware address shown by ifconfig
}

var (
	_ Dialect         = (*BusyBox)(nil)
	_ Expander        = (*BusyBox)(nil)
	_ CommandExpander = (*BusyBox)(nil)
	_ Redirector      = (*BusyBox)(nil)
	_ Joiner          = (*BusyBox)(nil)
)

func (d *BusyBox) hostname() string { return orDefault(d.Hostname, "(none)") }
func (d *BusyBox) version() string {
	return orDefault(d.Version, "BusyBox v1.12.1 (2013-06-17 10:45:24 CST)")
}
func (d *BusyBox) kernel() string { return orDefault(d.Kernel, "2.6.36") }
func (d *BusyBox) kernelBuild() string {
	return orDefault(d.KernelBuild, "#1 Mon Jun 17 10:49:02 CST 2013")
}
func (d *BusyBox) address() string { return orDefault(d.Address, "192.168.1.1") }

// Name implements Dialect.
func (d *BusyBox) Name() string { return "busybox" }

// Syntax implements Dialect.
func (d *BusyBox) Syntax() Syntax { return ShSyntax }

// Banner is what ash prints when an interactive shell starts: after a
// login, and for `sh`.
func (d *BusyBox) Banner() string {
	return "\n\n" + d.version() + " built-in shell (ash)\nEnter 'help' for a list of built-in commands.\n\n"
}

// NewState returns the state of a login shell of user, whose home is
// home ("/root"), over fs.
func (d *BusyBox) NewState(fs *FS, user, home string) *State {
	if home == "" {
		home = "/"
	}
	if n := fs.Stat(UnixSplit(home)); n == nil || !n.Dir {
		home = "/"
	}
	env := map[string]string{
		"HOME":    home,
		"LOGNAME": user,
		"USER":    user,
		"PATH":    "/bin:/sbin:/usr/bin:/usr/sbin",
		"SHELL":   "/bin/sh",
		"TERM":    "vt102",
		"PWD":     home,
		"SHLVL":   "1",
	}
	return &State{Cwd: home, Env: env, FS: fs}
}

// argv0 is the name the shell's own messages carry: "-sh" for the login
// shell, "sh" for one started from it.
func argv0(st *State) string {
	if lvl, _ := strconv.Atoi(st.Env["SHLVL"]); lvl > 1 {
		return "sh"
	}
	return "-sh"
}

// SyntaxError implements Dialect.
func (d *BusyBox) SyntaxError(err *SyntaxError) string {
	msg := "unexpected newline"
	if err != nil {
		switch {
		case strings.Contains(err.Reason, "quoted"):
			msg = "unterminated quoted string"
		case err.Token != "" && err.Token != "newline":
			msg = "unexpected \"" + err.Token + "\""
		}
	}
	return "-sh: syntax error: " + msg + "\n"
}

// RedirectError implements Redirector, in ash's words.
func (d *BusyBox) RedirectError(st *State, target string, write bool) string {
	if write {
		return argv0(st) + ": can't create " + target + ": nonexistent directory\n"
	}
	return argv0(st) + ": can't open " + target + ": no such file\n"
}

// Join implements Joiner.
func (d *BusyBox) Join(parts []string) string { return UnixJoin(parts) }

// Path implements Dialect.
func (d *BusyBox) Path(st *State, name string) ([]string, bool) {
	if name == "" {
		return nil, false
	}
	parts := UnixResolve(UnixSplit(st.Cwd), name)
	switch UnixJoin(parts) {
	case "/dev/null", "/dev/zero", "/dev/tty", "/dev/console":
		return nil, false
	}
	return parts, true
}

func (d *BusyBox) resolve(st *State, name string) []string {
	return UnixResolve(UnixSplit(st.Cwd), name)
}

// Expand implements Expander: a comment (# at the start of a word,
// outside quotes) runs to the end of its line and is dropped before the
// line is parsed.
func (d *BusyBox) Expand(st *State, line string) string {
	if !strings.Contains(line, "#") {
		return line
	}
	return d.expand(st, line, true)
}

// ExpandCommand implements CommandExpander: $NAME, ${NAME} (and
// ${NAME:-word}), $$, $?, $#, $0 and a leading ~ are replaced outside
// single quotes, when the command runs. Command substitution is left as
// written.
func (d *BusyBox) ExpandCommand(st *State, raw string) string {
	if !strings.ContainsAny(raw, "$~") {
		return raw
	}
	return d.expand(st, raw, false)
}

func (d *BusyBox) expand(st *State, line string, comments bool) string {
	var b strings.Builder
	inDouble := false
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			b.WriteString(line[i : i+2])
			i += 2
			continue
		case c == '\'' && !inDouble:
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				b.WriteString(line[i:])
				return b.String()
			}
			b.WriteString(line[i : i+j+2])
			i += j + 2
			continue
		case c == '"':
			inDouble = !inDouble
		case comments && c == '#' && !inDouble && wordStart(line, i):
			j := strings.IndexByte(line[i:], '\n')
			if j < 0 {
				return b.String()
			}
			i += j
			continue
		case comments:
		case c == '~' && !inDouble && wordStart(line, i) && (i+1 == len(line) || strings.IndexByte("/ \t\n;&|", line[i+1]) >= 0):
			b.WriteString(st.Env["HOME"])
			i++
			continue
		case c == '$' && i+1 < len(line):
			if v, n, ok := d.variable(st, line[i+1:]); ok {
				b.WriteString(v)
				i += 1 + n
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

func wordStart(s string, i int) bool {
	return i == 0 || strings.IndexByte(" \t\n;&|(", s[i-1]) >= 0
}

// variable reads a variable reference after '$'; n is the bytes it took.
func (d *BusyBox) variable(st *State, s string) (string, int, bool) {
	switch s[0] {
	case '$':
		return "4421", 1, true
	case '?':
		return strconv.Itoa(st.Status), 1, true
	case '#':
		return "0", 1, true
	case '0':
		return argv0(st), 1, true
	case '1', '2', '3', '4', '5', '6', '7', '8', '9', '@', '*':
		return "", 1, true
	case '{':
		j := strings.IndexByte(s, '}')
		if j < 2 {
			return "", 0, false
		}
		name := s[1:j]
		if n := strings.IndexAny(name, ":-=+?#%"); n > 0 {
			// ${VAR:-default} and friends: the variable, else the word.
			v, ok := st.Env[name[:n]]
			if !ok || v == "" {
				return strings.TrimLeft(name[n:], ":-=+?"), j + 1, true
			}
			return v, j + 1, true
		}
		return st.Env[name], j + 1, true
	}
	n := 0
	for n < len(s) && (s[n] == '_' || isLetter(s[n]) || n > 0 && s[n] >= '0' && s[n] <= '9') {
		n++
	}
	if n == 0 {
		return "", 0, false
	}
	return st.Env[s[:n]], n, true
}

// Run implements Dialect.
func (d *BusyBox) Run(c *Call) Result {
	if len(c.Args) == 0 {
		return Result{Known: true}
	}
	name, args := c.Args[0], c.Args[1:]
	// VAR=value alone sets a variable; before a command it is dropped.
	for strings.Contains(name, "=") && !strings.HasPrefix(name, "=") && isName(name[:strings.IndexByte(name, '=')]) {
		if len(args) == 0 {
			k, v, _ := strings.Cut(name, "=")
			setVar(c.State, k, v)
			return Result{Known: true}
		}
		name, args = args[0], args[1:]
	}
	if r, ok := d.builtin(c, name, args); ok {
		return r
	}
	return d.external(c, name, args)
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] == '_' || isLetter(s[i]) || i > 0 && s[i] >= '0' && s[i] <= '9') {
			return false
		}
	}
	return true
}

func setVar(st *State, k, v string) {
	if _, ok := st.Env[k]; ok || len(st.Env) < 128 {
		st.Env[k] = v
	}
}

// ash's builtins, as `help` lists them.
var ashBuiltins = []string{".", ":", "[", "[[", "alias", "bg", "break", "cd", "chdir", "command", "continue",
	"echo", "eval", "exec", "exit", "export", "false", "fg", "getopts", "hash", "help", "history", "jobs",
	"kill", "let", "local", "printf", "pwd", "read", "readonly", "return", "set", "shift", "source", "test",
	"times", "trap", "true", "type", "ulimit", "umask", "unalias", "unset", "wait"}

func isBuiltin(name string) bool { return slices.Contains(ashBuiltins, name) }

func (d *BusyBox) builtin(c *Call, name string, args []string) (Result, bool) {
	st := c.State
	switch name {
	case "cd", "chdir":
		return d.cd(st, args), true
	case "pwd":
		return Result{Known: true, Output: st.Cwd + "\n"}, true
	case "echo":
		return echoCmd(args), true
	case "printf":
		return printfCmd(args), true
	case "true", ":":
		return Result{Known: true}, true
	case "false":
		return Result{Known: true, Status: 1}, true
	case "test", "[", "[[":
		return d.test(st, name, args), true
	case "exit":
		status := 0
		if len(args) > 0 {
			status, _ = strconv.Atoi(args[0])
		}
		if lvl, _ := strconv.Atoi(st.Env["SHLVL"]); c.depth == 0 && lvl > 1 {
			// A shell started with `sh` ends; its parent prompts again.
			st.Env["SHLVL"] = strconv.Itoa(lvl - 1)
			return Result{Known: true, Status: status}, true
		}
		return Result{Known: true, Status: status, Exit: true}, true
	case "export", "readonly", "local":
		if len(args) == 0 {
			return Result{Known: true, Output: listVars(st, "export ")}, true
		}
		for _, a := range args {
			if k, v, ok := strings.Cut(a, "="); ok && isName(k) {
				setVar(st, k, v)
			}
		}
		return Result{Known: true}, true
	case "unset":
		for _, a := range args {
			delete(st.Env, a)
		}
		return Result{Known: true}, true
	case "set":
		if len(args) == 0 {
			return Result{Known: true, Output: listVars(st, "")}, true
		}
		return Result{Known: true}, true
	case "type", "hash":
		return d.typeCmd(st, args), true
	case "help":
		return Result{Known: true, Output: d.help()}, true
	case "umask":
		if len(args) == 0 {
			return Result{Known: true, Output: "0022\n"}, true
		}
		return Result{Known: true}, true
	case "ulimit":
		if len(args) == 0 || args[0] == "-a" && len(args) == 1 {
			return Result{Known: true, Output: "unlimited\n"}, true
		}
		return Result{Known: true}, true
	case "eval":
		return c.Sub(strings.Join(args, " ")), true
	case "exec", "command":
		if len(args) == 0 {
			return Result{Known: true}, true
		}
		return d.Run(&Call{Command: Command{Args: args, Raw: c.Raw, Text: c.Text}, State: st, Stdin: c.Stdin, sh: c.sh, depth: c.depth}), true
	case ".", "source":
		if len(args) == 0 {
			return Result{Known: true, Status: 2, Stderr: argv0(st) + ": .: filename argument required\n"}, true
		}
		return d.script(c, args[0], true), true
	case "alias", "unalias", "bg", "fg", "jobs", "wait", "trap", "shift", "getopts", "read", "break",
		"continue", "return", "times", "let", "kill", "history":
		return Result{Known: true}, true
	}
	return Result{}, false
}

func listVars(st *State, prefix string) string {
	keys := make([]string, 0, len(st.Env))
	for k := range st.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(prefix + k + "='" + strings.ReplaceAll(st.Env[k], "'", `'"'"'`) + "'\n")
	}
	return b.String()
}

func (d *BusyBox) help() string {
	var b strings.Builder
	b.WriteString("\nBuilt-in commands:\n-------------------\n")
	line := "\t"
	for _, n := range ashBuiltins {
		if len(line)+len(n) > 64 {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = "\t"
		}
		line += n + " "
	}
	b.WriteString(strings.TrimRight(line, " ") + "\n\n")
	return b.String()
}

func (d *BusyBox) cd(st *State, args []string) Result {
	target := st.Env["HOME"]
	if len(args) > 0 {
		target = args[0]
	}
	show := ""
	if target == "-" {
		target = st.Env["OLDPWD"]
		show = target + "\n"
		if target == "" {
			return Result{Known: true, Status: 1, Stderr: argv0(st) + ": cd: OLDPWD not set\n"}
		}
	}
	if target == "" {
		target = "/"
	}
	parts := d.resolve(st, target)
	n := st.FS.Stat(parts)
	if n == nil || !n.Dir {
		return Result{Known: true, Status: 1, Stderr: argv0(st) + ": cd: can't cd to " + target + "\n"}
	}
	st.Env["OLDPWD"] = st.Cwd
	st.Cwd = UnixJoin(parts)
	st.Env["PWD"] = st.Cwd
	return Result{Known: true, Output: show}
}

func (d *BusyBox) typeCmd(st *State, args []string) Result {
	var b, e strings.Builder
	status := 0
	for _, a := range args {
		if isBuiltin(a) {
			b.WriteString(a + " is a shell builtin\n")
			continue
		}
		if parts, n := d.lookup(st, a); n != nil {
			b.WriteString(a + " is " + UnixJoin(parts) + "\n")
			continue
		}
		e.WriteString(a + ": not found\n")
		status = 127
	}
	return Result{Known: true, Status: status, Output: b.String(), Stderr: e.String()}
}

// lookup finds a program by path, or on PATH.
func (d *BusyBox) lookup(st *State, name string) ([]string, *Node) {
	if strings.Contains(name, "/") {
		parts := d.resolve(st, name)
		return parts, st.FS.Stat(parts)
	}
	p := st.Env["PATH"]
	for _, dir := range strings.Split(p, ":") {
		if dir == "" {
			dir = "."
		}
		parts := append(d.resolve(st, dir), name)
		if n := st.FS.Stat(parts); n != nil && !n.Dir {
			return parts, n
		}
	}
	return nil, nil
}

// modeOf is an entry's permission bits, with the default for its kind.
func modeOf(n *Node) uint32 {
	switch {
	case n.Mode != 0:
		return n.Mode
	case n.Dir:
		return 0755
	case n.Program != "":
		return 0755
	}
	return 0644
}

// MaxScript bounds the bytes of a script the shell reads and runs.
const MaxScript = 8 << 10

func (d *BusyBox) external(c *Call, name string, args []string) Result {
	st := c.State
	parts, n := d.lookup(st, name)
	if n == nil {
		r := Result{Status: 127, Stderr: argv0(st) + ": " + name + ": not found\n"}
		if path.Base(name) == "curl" {
			// Not on the box, but what it asked for is still an intent.
			r.Downloads = schemelessURLs(args)
		}
		return r
	}
	if n.Dir {
		return Result{Known: true, Status: 126, Stderr: argv0(st) + ": " + name + ": Permission denied\n"}
	}
	if n.Program == "busybox" {
		// BusyBox acts as the applet it was invoked as; a copy under
		// another name knows no such applet.
		applet := path.Base(name)
		switch {
		case applet == "busybox":
			return d.multicall(c, args)
		case !slices.Contains(Applets(), applet):
			return Result{Known: true, Status: 127, Stderr: applet + ": applet not found\n"}
		}
		return d.applet(c, applet, args)
	}
	c.Used(parts, "exec")
	if modeOf(n)&0111 == 0 {
		return Result{Known: true, Status: 126, Stderr: argv0(st) + ": " + name + ": Permission denied\n"}
	}
	if isScript(n.Data) {
		return d.runScript(c, n.Data)
	}
	// A binary (or a file of unknown content): it runs without a word.
	return Result{}
}

// isScript reports whether data reads as a shell script rather than a
// program: text, or a #! line.
func isScript(data []byte) bool {
	if len(data) == 0 {
		return false
	}
	if len(data) > 1 && data[0] == '#' && data[1] == '!' {
		return true
	}
	head := data[:min(len(data), 512)]
	for _, b := range head {
		if b == 0 || b < 0x09 || (b > 0x0d && b < 0x20 && b != 0x1b) {
			return false
		}
	}
	return true
}

// script runs the shell script at name (sh FILE, . FILE).
func (d *BusyBox) script(c *Call, name string, dot bool) Result {
	st := c.State
	parts := d.resolve(st, name)
	n := st.FS.Stat(parts)
	if n == nil || n.Dir {
		who := "sh"
		if dot {
			who = argv0(st)
		}
		return Result{Known: true, Status: 2, Stderr: who + ": can't open " + name + "\n"}
	}
	c.Used(parts, "exec")
	if !isScript(n.Data) && len(n.Data) > 0 {
		// A program fed to the shell: ash stops at the first thing it
		// cannot parse.
		return Result{Known: true, Status: 2, Stderr: name + ": line 1: syntax error: unexpected word\n"}
	}
	return d.runScript(c, n.Data)
}

func (d *BusyBox) runScript(c *Call, data []byte) Result {
	if len(data) > MaxScript {
		data = data[:MaxScript]
	}
	r := c.Sub(string(data))
	r.Known = true
	return r
}

// sh answers sh and ash: -c, a script, commands on its input, or a new
// interactive shell.
func (d *BusyBox) sh(c *Call, args []string) Result {
	st := c.State
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-c":
			if i+1 >= len(args) {
				return Result{Known: true, Status: 2, Stderr: "sh: -c requires an argument\n"}
			}
			r := c.Sub(args[i+1])
			r.Known = true
			return r
		case strings.HasPrefix(a, "-"):
			continue
		default:
			return d.script(c, a, false)
		}
	}
	if c.Stdin != "" || c.Op == Pipe || hasInput(c.Redirects) {
		return d.runScript(c, []byte(c.Stdin))
	}
	lvl, _ := strconv.Atoi(st.Env["SHLVL"])
	if lvl < 1 {
		lvl = 1
	}
	if lvl < 16 {
		st.Env["SHLVL"] = strconv.Itoa(lvl + 1)
	}
	return Result{Known: true, Output: d.Banner()}
}

func hasInput(rs []Redirect) bool {
	for _, r := range rs {
		if r.Op == "<" {
			return true
		}
	}
	return false
}

// multicall answers /bin/busybox itself.
func (d *BusyBox) multicall(c *Call, args []string) Result {
	if len(args) == 0 || args[0] == "--help" {
		return Result{Known: true, Output: d.usageAll()}
	}
	switch args[0] {
	case "--list", "--list-full":
		return Result{Known: true, Output: strings.Join(Applets(), "\n") + "\n"}
	}
	if slices.Contains(Applets(), args[0]) && args[0] != "busybox" {
		return d.applet(c, args[0], args[1:])
	}
	if args[0] == "busybox" {
		return d.multicall(c, args[1:])
	}
	return Result{Known: true, Status: 127, Stderr: args[0] + ": applet not found\n"}
}

func (d *BusyBox) usageAll() string {
	var b strings.Builder
	b.WriteString(d.version() + " multi-call binary\nCopyright (C) 1998-2008 Erik Andersen, Rob Landley, Denys Vlasenko\n" +
		"and others. Licensed under GPLv2.\nSee source distribution for full notice.\n\n" +
		"Usage: busybox [function] [arguments]...\n   or: function [arguments]...\n\n" +
		"\tBusyBox is a multi-call binary that combines many common Unix\n" +
		"\tutilities into a single executable.  Most people will create a\n" +
		"\tlink to busybox for each function they wish to use and BusyBox\n" +
		"\twill act like whatever it was invoked as!\n\nCurrently defined functions:\n")
	line := "\t"
	for _, a := range Applets() {
		if a == "busybox" {
			continue
		}
		if len(line)+len(a)+2 > 78 {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = "\t"
		}
		line += a + ", "
	}
	b.WriteString(strings.TrimSuffix(line, ", ") + "\n\n")
	return b.String()
}

// usage is BusyBox's answer to an applet called wrongly.
func (d *BusyBox) usage(applet, text string) Result {
	return Result{Known: true, Status: 1, Stderr: d.version() + " multi-call binary\n\nUsage: " + applet + " " + text + "\n\n"}
}

// test evaluates test / [ expressions on strings and the fake disk.
func (d *BusyBox) test(st *State, name string, args []string) Result {
	if name == "[" || name == "[[" {
		closing := "]"
		if name == "[[" {
			closing = "]]"
		}
		if len(args) == 0 || args[len(args)-1] != closing {
			return Result{Known: true, Status: 2, Stderr: argv0(st) + ": " + name + ": missing " + closing + "\n"}
		}
		args = args[:len(args)-1]
	}
	ok := false
	neg := false
	if len(args) > 0 && args[0] == "!" {
		neg, args = true, args[1:]
	}
	switch len(args) {
	case 0:
	case 1:
		ok = args[0] != ""
	case 2:
		n := st.FS.Stat(d.resolve(st, args[1]))
		switch args[0] {
		case "-e", "-a":
			ok = n != nil
		case "-f":
			ok = n != nil && !n.Dir
		case "-d":
			ok = n != nil && n.Dir
		case "-x":
			ok = n != nil && modeOf(n)&0111 != 0
		case "-r", "-w":
			ok = n != nil
		case "-s":
			ok = n != nil && n.Size > 0
		case "-z":
			ok = args[1] == ""
		case "-n":
			ok = args[1] != ""
		}
	default:
		a, op, b := args[0], args[1], args[2]
		x, ex := strconv.Atoi(a)
		y, ey := strconv.Atoi(b)
		num := ex == nil && ey == nil
		switch op {
		case "=", "==":
			ok = a == b
		case "!=":
			ok = a != b
		case "-eq":
			ok = num && x == y
		case "-ne":
			ok = num && x != y
		case "-gt":
			ok = num && x > y
		case "-ge":
			ok = num && x >= y
		case "-lt":
			ok = num && x < y
		case "-le":
			ok = num && x <= y
		}
	}
	if ok != neg {
		return Result{Known: true}
	}
	return Result{Known: true, Status: 1}
}

// echoCmd is ash's echo: -n, -e and -E, alone or combined.
func echoCmd(args []string) Result {
	nl, esc := true, false
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' || strings.Trim(a[1:], "neE") != "" {
			break
		}
		for _, ch := range a[1:] {
			switch ch {
			case 'n':
				nl = false
			case 'e':
				esc = true
			case 'E':
				esc = false
			}
		}
	}
	text := strings.Join(args[i:], " ")
	if esc {
		var stop bool
		text, stop = unescape(text, true)
		if stop {
			nl = false
		}
	}
	if nl {
		text += "\n"
	}
	return Result{Known: true, Output: text}
}

// unescape applies the backslash escapes of echo -e and printf: \n \t
// \\ \a \b \e \f \r \v, \0NNN (echo) or \NNN octal, \xHH; \c stops the
// output (stop is then true).
func unescape(s string, echo bool) (out string, stop bool) {
	if !strings.Contains(s, `\`) {
		return s, false
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b = append(b, c)
			continue
		}
		i++
		switch e := s[i]; e {
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case 'r':
			b = append(b, '\r')
		case 'a':
			b = append(b, 7)
		case 'b':
			b = append(b, 8)
		case 'e':
			b = append(b, 0x1b)
		case 'f':
			b = append(b, 12)
		case 'v':
			b = append(b, 11)
		case '\\':
			b = append(b, '\\')
		case 'c':
			return string(b), true
		case 'x':
			v, n := 0, 0
			for n < 2 && i+1 < len(s) && isHex(s[i+1]) {
				v = v*16 + hexVal(s[i+1])
				i++
				n++
			}
			if n == 0 {
				b = append(b, '\\', 'x')
				continue
			}
			b = append(b, byte(v))
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v, n := 0, 0
			if e == '0' && echo {
				// echo's \0NNN: the 0 does not count among the digits.
				i++
			}
			for n < 3 && i < len(s) && s[i] >= '0' && s[i] <= '7' {
				v = v*8 + int(s[i]-'0')
				i++
				n++
			}
			i--
			b = append(b, byte(v))
		default:
			b = append(b, '\\', e)
		}
	}
	return string(b), false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f'
}

func hexVal(c byte) int {
	if c <= '9' {
		return int(c - '0')
	}
	return int(c|0x20-'a') + 10
}

// printfCmd is printf FORMAT [ARG]...: the format's escapes, %s %b %c
// %d %i %u %x %X %o and %%, the format reused while arguments remain.
func printfCmd(args []string) Result {
	if len(args) == 0 {
		return Result{Known: true, Status: 1, Stderr: "printf: usage: printf FORMAT [ARGUMENT]...\n"}
	}
	format, rest := args[0], args[1:]
	var b strings.Builder
	for round := 0; round < 64; round++ {
		used := 0
		text, stop := unescape(format, false)
		for i := 0; i < len(text); i++ {
			c := text[i]
			if c != '%' || i+1 == len(text) {
				b.WriteByte(c)
				continue
			}
			j := i + 1
			for j < len(text) && strings.IndexByte("-+ #0123456789.", text[j]) >= 0 {
				j++
			}
			if j == len(text) {
				b.WriteString(text[i:])
				break
			}
			flags, verb := text[i+1:j], text[j]
			i = j
			if verb == '%' {
				b.WriteByte('%')
				continue
			}
			arg := ""
			if len(rest) > 0 {
				arg, rest = rest[0], rest[1:]
				used++
			}
			switch verb {
			case 's':
				b.WriteString(fmt.Sprintf("%"+flags+"s", arg))
			case 'b':
				s, _ := unescape(arg, true)
				b.WriteString(s)
			case 'c':
				if arg != "" {
					b.WriteByte(arg[0])
				}
			case 'd', 'i', 'u', 'x', 'X', 'o':
				n, _ := strconv.ParseInt(arg, 0, 64)
				v := verb
				if v == 'i' || v == 'u' {
					v = 'd'
				}
				b.WriteString(fmt.Sprintf("%"+flags+string(v), n))
			default:
				b.WriteByte('%')
				b.WriteString(flags)
				b.WriteByte(verb)
			}
		}
		if stop || used == 0 || len(rest) == 0 || b.Len() > 64<<10 {
			break
		}
	}
	return Result{Known: true, Output: b.String()}
}

// lsTime renders a listing's date as BusyBox does: the time for files
// of the last six months, the year for older ones.
func lsTime(t, now time.Time) string {
	if now.Sub(t) < 182*24*time.Hour && t.Before(now.Add(time.Hour)) {
		return t.Format("Jan _2 15:04")
	}
	return t.Format("Jan _2  2006")
}

func modeString(n *Node) string {
	m := modeOf(n)
	b := []byte("-rwxrwxrwx")
	switch {
	case n.Link != "":
		return "lrwxrwxrwx"
	case n.Dir:
		b[0] = 'd'
	}
	for i := 0; i < 9; i++ {
		if m&(1<<(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	if m&01000 != 0 {
		if b[9] == 'x' {
			b[9] = 't'
		} else {
			b[9] = 'T'
		}
	}
	return string(b)
}
