package shell

import (
	"fmt"
	"hash/fnv"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Cmd is the Windows 2000 cmd.exe dialect. Its fields are the persona of
// the fake host; the zero value answers as a stock Windows 2000 Server.
type Cmd struct {
	Version  string // first line of `ver` and of the interactive banner
	Hostname string // COMPUTERNAME
	Domain   string // workgroup or domain
	Address  string // IPv4 address shown by ipconfig
	Netmask  string
	Gateway  string
	Serial   string // volume serial number, "3C5E-12F4"
	Free     int64  // bytes free on every drive
	// Privileged makes net user /add and friends succeed; off, they fail
	// as they do for IIS's anonymous account.
	Privileged bool
}

var _ Dialect = (*Cmd)(nil)

func (d *Cmd) version() string {
	if d.Version != "" {
		return d.Version
	}
	return "Microsoft Windows 2000 [Version 5.00.2195]"
}

func (d *Cmd) hostname() string {
	if d.Hostname != "" {
		return d.Hostname
	}
	return "WEBSERVER"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Name implements Dialect.
func (d *Cmd) Name() string { return "cmd" }

// Syntax implements Dialect.
func (d *Cmd) Syntax() Syntax { return CmdSyntax }

// SyntaxError implements Dialect.
func (d *Cmd) SyntaxError(err *SyntaxError) string {
	tok := "|"
	if err != nil && err.Token != "" && err.Token != "newline" {
		tok = err.Token
	}
	return tok + " was unexpected at this time.\r\n"
}

// NewState returns a state for this persona over fs with cwd as working
// directory and the environment of an IIS CGI process.
func (d *Cmd) NewState(fs *FS, cwd string) *State {
	h := d.hostname()
	env := map[string]string{
		"ComSpec":                "C:\\WINNT\\system32\\cmd.exe",
		"COMPUTERNAME":           h,
		"NUMBER_OF_PROCESSORS":   "1",
		"OS":                     "Windows_NT",
		"Os2LibPath":             "C:\\WINNT\\system32\\os2\\dll;",
		"Path":                   "C:\\WINNT\\system32;C:\\WINNT;C:\\WINNT\\System32\\Wbem",
		"PATHEXT":                ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH",
		"PROCESSOR_ARCHITECTURE": "x86",
		"PROCESSOR_IDENTIFIER":   "x86 Family 6 Model 8 Stepping 3, GenuineIntel",
		"PROCESSOR_LEVEL":        "6",
		"PROCESSOR_REVISION":     "0803",
		"SystemDrive":            "C:",
		"SystemRoot":             "C:\\WINNT",
		"TEMP":                   "C:\\WINNT\\TEMP",
		"TMP":                    "C:\\WINNT\\TEMP",
		"windir":                 "C:\\WINNT",
	}
	if cwd == "" {
		cwd = "C:\\WINNT\\system32"
	}
	return &State{Cwd: cwd, Env: env, FS: fs}
}

// Expand implements Expander: %NAME% becomes the variable's value; an
// undefined name is left as written, as cmd does on a command line.
func (d *Cmd) Expand(st *State, line string) string {
	if !strings.Contains(line, "%") {
		return line
	}
	var b strings.Builder
	for i := 0; i < len(line); {
		if line[i] != '%' {
			b.WriteByte(line[i])
			i++
			continue
		}
		j := strings.IndexByte(line[i+1:], '%')
		if j < 0 {
			b.WriteString(line[i:])
			break
		}
		name := line[i+1 : i+1+j]
		if v, ok := envGet(st, name); ok && name != "" {
			b.WriteString(v)
			i += j + 2
			continue
		}
		b.WriteByte('%')
		i++
	}
	return b.String()
}

func envGet(st *State, name string) (string, bool) {
	if v, ok := st.Env[name]; ok {
		return v, true
	}
	for k, v := range st.Env {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	switch strings.ToUpper(name) {
	case "CD":
		return st.Cwd, true
	case "DATE":
		t := st.now()
		return t.Format("Mon 01/02/2006"), true
	case "TIME":
		return st.now().Format("15:04:05.00"), true
	case "RANDOM":
		return strconv.Itoa(int(st.now().UnixNano()/1000) % 32768), true
	}
	return "", false
}

// Path implements Dialect.
func (d *Cmd) Path(st *State, name string) ([]string, bool) {
	n := strings.TrimSpace(name)
	switch strings.TrimSuffix(strings.ToLower(n), ":") {
	case "nul", "con", "prn", "aux", "lpt1", "com1":
		return nil, false
	}
	if n == "" {
		return nil, false
	}
	return WinResolve(WinSplit(st.Cwd), n), true
}

// WinSplit splits an absolute Windows path ("c:\inetpub\scripts") into
// FS parts (["c:", "inetpub", "scripts"]).
func WinSplit(p string) []string {
	return WinResolve(nil, p)
}

// WinResolve resolves name against the directory cwd (FS parts) the way
// Windows does: '/' and '\' both separate, "." and ".." are applied and
// stop at the drive's root, trailing dots and blanks of a name are
// dropped. A name without a drive uses cwd's.
func WinResolve(cwd []string, name string) []string {
	name = strings.ReplaceAll(name, "/", `\`)
	drive := "c:"
	if len(cwd) > 0 {
		drive = cwd[0]
	}
	var parts []string
	switch {
	case len(name) >= 2 && name[1] == ':' && isLetter(name[0]):
		dr := name[:2]
		rest := name[2:]
		if !strings.HasPrefix(rest, `\`) && len(cwd) > 0 && strings.EqualFold(cwd[0], dr) {
			parts = slices.Clone(cwd)
		} else {
			parts = []string{dr}
		}
		name = rest
	case strings.HasPrefix(name, `\`):
		parts = []string{drive}
	default:
		parts = slices.Clone(cwd)
		if len(parts) == 0 {
			parts = []string{drive}
		}
	}
	for _, seg := range strings.Split(name, `\`) {
		seg = strings.TrimRight(seg, " ")
		switch seg {
		case "", ".":
			continue
		case "..":
			if len(parts) > 1 {
				parts = parts[:len(parts)-1]
			}
			continue
		}
		seg = strings.TrimRight(seg, ". ")
		if seg == "" {
			continue
		}
		parts = append(parts, seg)
	}
	return parts
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// WinJoin renders FS parts as a Windows path.
func WinJoin(parts []string) string {
	if len(parts) == 0 {
		return `\`
	}
	if len(parts) == 1 {
		return parts[0] + `\`
	}
	return strings.Join(parts, `\`)
}

const notRecognized = "'%s' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"

// internal commands, longest first for prefix splitting ("cd..").
var cmdInternal = []string{
	"rename", "chdir", "erase", "mkdir", "rmdir", "pause", "start", "title",
	"call", "copy", "date", "echo", "exit", "move", "path", "time", "type",
	"cls", "del", "dir", "ren", "rem", "set", "ver", "vol", "cd", "md", "rd",
}

// splitInternal separates an internal command glued to its argument
// ("cd..", "echo.", "dir/w", "cd\").
func splitInternal(word string) (string, string) {
	low := lowerASCII(word)
	for _, n := range cmdInternal {
		if low == n {
			return n, ""
		}
		if strings.HasPrefix(low, n) && strings.ContainsRune(`./\+=;,[]`, rune(low[len(n)])) {
			return n, word[len(n):]
		}
	}
	return "", ""
}

// Run implements Dialect.
func (d *Cmd) Run(c *Call) Result {
	if len(c.Args) == 0 {
		return Result{Known: true}
	}
	name, glued := splitInternal(c.Args[0])
	args := c.Args[1:]
	if glued != "" {
		args = append([]string{glued}, args...)
	}
	// Text after the command name, for echo and set.
	rest := ""
	if name != "" {
		t := c.Text
		if len(t) >= len(name) {
			rest = t[len(name):]
		}
	}
	switch name {
	case "echo":
		return d.echo(rest)
	case "rem":
		return Result{Known: true}
	case "ver":
		return Result{Known: true, Output: "\r\n" + d.version() + "\r\n"}
	case "vol":
		return Result{Known: true, Output: " Volume in drive C has no label.\r\n Volume Serial Number is " + orDefault(d.Serial, "3C5E-12F4") + "\r\n"}
	case "cls", "title", "call":
		return Result{Known: true}
	case "exit":
		// The rest of the line is not run; an interactive cmd.exe ends.
		return Result{Known: true, Exit: true}
	case "pause":
		return Result{Known: true, Output: "Press any key to continue . . . "}
	case "start":
		if len(args) > 0 {
			r := d.Run(&Call{Command: Command{Args: args, Text: strings.Join(args, " ")}, State: c.State, sh: c.sh, depth: c.depth + 1})
			r.Output = ""
			return r
		}
		return Result{Known: true}
	case "path":
		if len(args) == 0 {
			v, _ := envGet(c.State, "Path")
			return Result{Known: true, Output: "PATH=" + v + "\r\n"}
		}
		return Result{Known: true}
	case "date":
		t := c.State.now()
		if hasSwitch(args, "t") {
			return Result{Known: true, Output: t.Format("Mon 01/02/2006") + " \r\n"}
		}
		return Result{Known: true, Output: "The current date is: " + t.Format("Mon 01/02/2006") + "\r\nEnter the new date: (mm-dd-yy) "}
	case "time":
		t := c.State.now()
		if hasSwitch(args, "t") {
			return Result{Known: true, Output: winClock(t) + "\r\n"}
		}
		return Result{Known: true, Output: "The current time is: " + t.Format("15:04:05.00") + "\r\nEnter the new time: "}
	case "set":
		return d.set(c.State, strings.TrimLeft(rest, " \t"))
	case "cd", "chdir":
		return d.cd(c.State, args)
	case "dir":
		return d.dir(c.State, args)
	case "type":
		return d.typeFile(c.State, args)
	case "del", "erase":
		return d.del(c.State, args)
	case "copy":
		return d.copyFile(c.State, args, false)
	case "move":
		return d.copyFile(c.State, args, true)
	case "ren", "rename":
		return d.rename(c.State, args)
	case "md", "mkdir":
		return d.mkdir(c.State, args)
	case "rd", "rmdir":
		return d.rmdir(c.State, args)
	}
	return d.external(c)
}

func hasSwitch(args []string, s string) bool {
	for _, a := range args {
		if strings.EqualFold(a, "/"+s) {
			return true
		}
	}
	return false
}

func (d *Cmd) echo(rest string) Result {
	if rest == "" {
		return Result{Known: true, Output: "ECHO is on.\r\n"}
	}
	// The first character after "echo" is a separator (" ", ".", "/"...).
	text := rest[1:]
	if rest[0] != ' ' && rest[0] != '\t' && rest[0] != '.' {
		text = rest
	}
	switch strings.ToLower(strings.TrimSpace(text)) {
	case "on", "off":
		if rest[0] == ' ' {
			return Result{Known: true}
		}
	case "":
		if rest[0] == '.' {
			return Result{Known: true, Output: "\r\n"}
		}
		return Result{Known: true, Output: "ECHO is on.\r\n"}
	}
	return Result{Known: true, Output: text + "\r\n"}
}

func (d *Cmd) set(st *State, arg string) Result {
	if arg == "" || !strings.Contains(arg, "=") {
		var keys []string
		for k := range st.Env {
			if arg == "" || strings.HasPrefix(strings.ToLower(k), strings.ToLower(arg)) {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			return Result{Known: true, Status: 1, Output: "Environment variable " + arg + " not defined\r\n"}
		}
		sort.Slice(keys, func(i, j int) bool { return strings.ToLower(keys[i]) < strings.ToLower(keys[j]) })
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(k + "=" + st.Env[k] + "\r\n")
		}
		return Result{Known: true, Output: b.String()}
	}
	k, v, _ := strings.Cut(arg, "=")
	if strings.HasPrefix(strings.ToLower(k), "/a") || strings.HasPrefix(strings.ToLower(k), "/p") {
		return Result{Known: true}
	}
	for old := range st.Env {
		if strings.EqualFold(old, k) {
			delete(st.Env, old)
		}
	}
	if v != "" && len(st.Env) < 128 {
		st.Env[k] = strings.TrimRight(v, " ")
	}
	return Result{Known: true}
}

func (d *Cmd) cd(st *State, args []string) Result {
	var target string
	for _, a := range args {
		if strings.EqualFold(a, "/d") {
			continue
		}
		if target != "" {
			target += " "
		}
		target += a
	}
	if target == "" {
		return Result{Known: true, Output: st.Cwd + "\r\n"}
	}
	if len(target) == 2 && target[1] == ':' {
		// cd c: prints that drive's directory.
		cwd := WinSplit(st.Cwd)
		if strings.EqualFold(cwd[0], target) {
			return Result{Known: true, Output: st.Cwd + "\r\n"}
		}
		return Result{Known: true, Output: strings.ToUpper(target) + `\` + "\r\n"}
	}
	parts := WinResolve(WinSplit(st.Cwd), target)
	n := st.FS.Stat(parts)
	if n == nil || !n.Dir {
		return Result{Known: true, Status: 1, Output: "The system cannot find the path specified.\r\n"}
	}
	st.Cwd = WinJoin(parts)
	return Result{Known: true}
}

// split separates switches from names.
func splitArgs(args []string) (sw []string, names []string) {
	for _, a := range args {
		if strings.HasPrefix(a, "/") && len(a) > 1 {
			sw = append(sw, strings.ToLower(a))
		} else {
			names = append(names, a)
		}
	}
	return
}

func hasWild(s string) bool { return strings.ContainsAny(s, "*?") }

// wildMatch matches name against a cmd pattern (* and ?), ignoring case.
func wildMatch(pat, name string) bool {
	pat, name = strings.ToLower(pat), strings.ToLower(name)
	// "*.*" matches everything, as on Windows.
	if pat == "*.*" || pat == "*" {
		return true
	}
	var match func(p, n string) bool
	steps := 0
	match = func(p, n string) bool {
		for len(p) > 0 {
			steps++
			if steps > 10000 {
				return false
			}
			switch p[0] {
			case '*':
				for i := 0; i <= len(n); i++ {
					if match(p[1:], n[i:]) {
						return true
					}
				}
				return false
			case '?':
				if len(n) == 0 {
					p = p[1:]
					continue
				}
				p, n = p[1:], n[1:]
			default:
				if len(n) == 0 || n[0] != p[0] {
					return false
				}
				p, n = p[1:], n[1:]
			}
		}
		return len(n) == 0
	}
	return match(pat, name)
}

func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return s
	}
	var b []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return string(b)
}

// winTime renders a listing's date and time as Windows 2000 does:
// "12/07/1999  08:00a".
func winTime(t time.Time) string {
	return t.Format("01/02/2006") + "  " + winClock(t)
}

func winClock(t time.Time) string {
	h := t.Hour() % 12
	if h == 0 {
		h = 12
	}
	ap := byte('a')
	if t.Hour() >= 12 {
		ap = 'p'
	}
	return fmt.Sprintf("%02d:%02d%c", h, t.Minute(), ap)
}

func (d *Cmd) volumeHeader(drive string) string {
	return " Volume in drive " + strings.ToUpper(strings.TrimSuffix(drive, ":")) + " has no label.\r\n" +
		" Volume Serial Number is " + orDefault(d.Serial, "3C5E-12F4") + "\r\n"
}

func (d *Cmd) free() int64 {
	if d.Free > 0 {
		return d.Free
	}
	return 3215106048
}

func (d *Cmd) dir(st *State, args []string) Result {
	sw, names := splitArgs(args)
	bare, all := false, false
	for _, s := range sw {
		switch {
		case s == "/b":
			bare = true
		case strings.HasPrefix(s, "/a"):
			all = true
		}
	}
	target := ""
	if len(names) > 0 {
		target = strings.Join(names, " ")
	}
	cwd := WinSplit(st.Cwd)
	parts := cwd
	pattern := ""
	if target != "" {
		parts = WinResolve(cwd, target)
	}
	if st.FS.Stat(parts[:1]) == nil {
		return Result{Known: true, Status: 1, Output: "The system cannot find the path specified.\r\n"}
	}
	var b strings.Builder
	if !bare {
		b.WriteString(d.volumeHeader(parts[0]))
		b.WriteString("\r\n")
	}
	n := st.FS.Stat(parts)
	if n == nil || !n.Dir {
		if len(parts) > 1 {
			pattern = parts[len(parts)-1]
			parts = parts[:len(parts)-1]
		}
		if n == nil && !hasWild(pattern) {
			pattern = "\x00" + pattern // a missing name lists nothing
		}
	}
	dirNode := st.FS.Stat(parts)
	if !bare {
		b.WriteString(" Directory of " + WinJoin(parts) + "\r\n\r\n")
	}
	if dirNode == nil || !dirNode.Dir {
		if bare {
			return Result{Known: true, Status: 1, Output: "File Not Found\r\n"}
		}
		b.WriteString("File Not Found\r\n")
		return Result{Known: true, Status: 1, Output: b.String()}
	}
	kids, _ := st.FS.List(parts)
	var files, dirs int
	var bytes int64
	line := func(t time.Time, dir bool, size int64, name string) {
		if bare {
			b.WriteString(name + "\r\n")
			return
		}
		if dir {
			b.WriteString(winTime(t) + "      <DIR>          " + name + "\r\n")
		} else {
			b.WriteString(winTime(t) + fmt.Sprintf("%20s ", commas(size)) + name + "\r\n")
		}
	}
	if pattern == "" && len(parts) > 1 && !bare {
		line(dirNode.Mod, true, 0, ".")
		parent := st.FS.Stat(parts[:len(parts)-1])
		pm := dirNode.Mod
		if parent != nil && !parent.Mod.IsZero() {
			pm = parent.Mod
		}
		line(pm, true, 0, "..")
		dirs += 2
	}
	for _, k := range kids {
		if k.Hidden && !all {
			continue
		}
		if pattern != "" && !wildMatch(pattern, k.Name) {
			continue
		}
		line(k.Mod, k.Dir, k.Size, k.Name)
		if k.Dir {
			dirs++
		} else {
			files++
			bytes += k.Size
		}
	}
	if files+dirs == 0 {
		if bare {
			return Result{Known: true, Status: 1, Output: "File Not Found\r\n"}
		}
		b.WriteString("File Not Found\r\n")
		return Result{Known: true, Status: 1, Output: b.String()}
	}
	if !bare {
		b.WriteString(fmt.Sprintf("%16d File(s) %14s bytes\r\n", files, commas(bytes)))
		b.WriteString(fmt.Sprintf("%16d Dir(s) %15s bytes free\r\n", dirs, commas(d.free())))
	}
	return Result{Known: true, Output: b.String()}
}

func (d *Cmd) typeFile(st *State, args []string) Result {
	_, names := splitArgs(args)
	if len(names) == 0 {
		return Result{Known: true, Status: 1, Output: "The syntax of the command is incorrect.\r\n"}
	}
	var b strings.Builder
	for _, nm := range names {
		parts := WinResolve(WinSplit(st.Cwd), nm)
		n := st.FS.Stat(parts)
		switch {
		case n == nil:
			return Result{Known: true, Status: 1, Output: b.String() + "The system cannot find the file specified.\r\n"}
		case n.Dir:
			return Result{Known: true, Status: 1, Output: b.String() + "Access is denied.\r\n"}
		case n.Data != nil:
			b.Write(n.Data)
		case n.Size > 0:
			// A binary: type stops at the first end-of-file mark.
			b.WriteString("MZ\x90")
		}
	}
	return Result{Known: true, Output: b.String()}
}

func (d *Cmd) del(st *State, args []string) Result {
	_, names := splitArgs(args)
	if len(names) == 0 {
		return Result{Known: true, Status: 1, Output: "The syntax of the command is incorrect.\r\n"}
	}
	var b strings.Builder
	for _, nm := range names {
		parts := WinResolve(WinSplit(st.Cwd), nm)
		last := parts[len(parts)-1]
		if hasWild(last) && len(parts) > 1 {
			kids, ok := st.FS.List(parts[:len(parts)-1])
			hit := false
			for _, k := range kids {
				if ok && !k.Dir && wildMatch(last, k.Name) {
					_ = st.FS.Remove(append(slices.Clone(parts[:len(parts)-1]), k.Name), false)
					hit = true
				}
			}
			if !hit {
				b.WriteString("Could Not Find " + WinJoin(parts) + "\r\n")
			}
			continue
		}
		n := st.FS.Stat(parts)
		switch {
		case n == nil:
			b.WriteString("Could Not Find " + WinJoin(parts) + "\r\n")
		case n.Dir:
			b.WriteString(WinJoin(parts) + `\*, Are you sure (Y/N)? `)
		default:
			if err := st.FS.Remove(parts, false); err != nil {
				b.WriteString("Access is denied.\r\n")
			}
		}
	}
	return Result{Known: true, Output: b.String()}
}

func (d *Cmd) copyFile(st *State, args []string, move bool) Result {
	_, names := splitArgs(args)
	if len(names) == 0 {
		return Result{Known: true, Status: 1, Output: "The syntax of the command is incorrect.\r\n"}
	}
	cwd := WinSplit(st.Cwd)
	src := WinResolve(cwd, names[0])
	var dst []string
	if len(names) > 1 {
		dst = WinResolve(cwd, names[1])
	} else {
		dst = append(slices.Clone(cwd), src[len(src)-1])
	}
	sn := st.FS.Stat(src)
	if sn == nil || sn.Dir {
		if move {
			return Result{Known: true, Status: 1, Output: "The system cannot find the file specified.\r\n"}
		}
		return Result{Known: true, Status: 1, Output: "The system cannot find the file specified.\r\n        0 file(s) copied.\r\n"}
	}
	if dn := st.FS.Stat(dst); dn != nil && dn.Dir {
		dst = append(dst, sn.Name)
	}
	if err := st.FS.Copy(src, dst, sn.Mod); err != nil {
		return Result{Known: true, Status: 1, Output: "The system cannot find the path specified.\r\n        0 file(s) copied.\r\n"}
	}
	if move {
		_ = st.FS.Remove(src, false)
		return Result{Known: true}
	}
	return Result{Known: true, Output: "        1 file(s) copied.\r\n"}
}

func (d *Cmd) rename(st *State, args []string) Result {
	_, names := splitArgs(args)
	if len(names) != 2 {
		return Result{Known: true, Status: 1, Output: "The syntax of the command is incorrect.\r\n"}
	}
	src := WinResolve(WinSplit(st.Cwd), names[0])
	sn := st.FS.Stat(src)
	if sn == nil || sn.Dir {
		return Result{Known: true, Status: 1, Output: "The system cannot find the file specified.\r\n"}
	}
	dst := append(slices.Clone(src[:len(src)-1]), names[1])
	if st.FS.Stat(dst) != nil {
		return Result{Known: true, Status: 1, Output: "A duplicate file name exists, or the file\r\ncannot be found.\r\n"}
	}
	if err := st.FS.Copy(src, dst, sn.Mod); err != nil {
		return Result{Known: true, Status: 1, Output: "Access is denied.\r\n"}
	}
	_ = st.FS.Remove(src, false)
	return Result{Known: true}
}

func (d *Cmd) mkdir(st *State, args []string) Result {
	_, names := splitArgs(args)
	if len(names) == 0 {
		return Result{Known: true, Status: 1, Output: "The syntax of the command is incorrect.\r\n"}
	}
	var b strings.Builder
	for _, nm := range names {
		parts := WinResolve(WinSplit(st.Cwd), nm)
		if st.FS.Stat(parts) != nil {
			b.WriteString("A subdirectory or file " + nm + " already exists.\r\n")
			continue
		}
		// md creates missing parents.
		for i := 2; i <= len(parts); i++ {
			if st.FS.Stat(parts[:i]) == nil {
				if err := st.FS.Mkdir(parts[:i], st.now()); err != nil {
					b.WriteString("The system cannot find the path specified.\r\n")
					break
				}
			}
		}
	}
	return Result{Known: true, Output: b.String()}
}

func (d *Cmd) rmdir(st *State, args []string) Result {
	_, names := splitArgs(args)
	if len(names) == 0 {
		return Result{Known: true, Status: 1, Output: "The syntax of the command is incorrect.\r\n"}
	}
	parts := WinResolve(WinSplit(st.Cwd), names[0])
	switch err := st.FS.Remove(parts, true); err {
	case nil:
		return Result{Known: true}
	case ErrExists:
		return Result{Known: true, Status: 1, Output: "The directory is not empty.\r\n"}
	case ErrNotDir:
		return Result{Known: true, Status: 1, Output: "The directory name is invalid.\r\n"}
	}
	return Result{Known: true, Status: 1, Output: "The system cannot find the file specified.\r\n"}
}

// external finds a program: by path when one is given, else in the
// working directory and then on PATH, trying PATHEXT's extensions.
func (d *Cmd) external(c *Call) Result {
	st := c.State
	name := c.Args[0]
	var found *Node
	cwd := WinSplit(st.Cwd)
	exts := []string{"", ".com", ".exe", ".bat", ".cmd"}
	var dirs [][]string
	if strings.ContainsAny(name, `\/:`) {
		dirs = [][]string{nil}
	} else {
		dirs = [][]string{cwd}
		v, _ := envGet(st, "Path")
		for _, p := range strings.Split(v, ";") {
			if p != "" {
				dirs = append(dirs, WinSplit(p))
			}
		}
	}
	for _, dir := range dirs {
		for _, ext := range exts {
			var parts []string
			if dir == nil {
				parts = WinResolve(cwd, name+ext)
			} else {
				parts = append(slices.Clone(dir), name+ext)
			}
			if n := st.FS.Stat(parts); n != nil && !n.Dir && (ext != "" || isProgramName(n.Name)) {
				found = n
				break
			}
		}
		if found != nil {
			break
		}
	}
	if found == nil {
		if strings.ContainsAny(name, `\/:`) {
			return Result{Status: 1, Output: "The system cannot find the path specified.\r\n"}
		}
		return Result{Status: 1, Output: fmt.Sprintf(notRecognized, name)}
	}
	args := c.Args[1:]
	switch found.Program {
	case "cmd":
		return d.cmd(c, args)
	case "tftp":
		return d.tftp(st, args, c.Raw)
	case "ftp":
		return d.ftp(st, args)
	case "net":
		return d.net(st, args)
	case "ipconfig":
		return d.ipconfig(args)
	case "ping":
		return d.ping(args)
	case "netstat":
		return d.netstat()
	case "hostname":
		return Result{Known: true, Output: d.hostname() + "\r\n"}
	case "find":
		return d.find(c, args)
	case "attrib":
		return d.attrib(st, args)
	}
	// A program the fake does not know (a dropped binary): it runs
	// without a word.
	return Result{}
}

func isProgramName(n string) bool {
	low := strings.ToLower(n)
	for _, e := range []string{".com", ".exe", ".bat", ".cmd"} {
		if strings.HasSuffix(low, e) {
			return true
		}
	}
	return false
}

func (d *Cmd) cmd(c *Call, args []string) Result {
	for i, a := range args {
		l := strings.ToLower(a)
		if l == "/c" || l == "/k" || strings.HasPrefix(l, "/c") && len(l) > 2 && !strings.HasPrefix(l, "/c:") {
			rest := args[i+1:]
			if len(l) > 2 {
				rest = append([]string{a[2:]}, rest...)
			}
			// The rest of the line, as written, is the nested command.
			line := textAfter(c.Text, a)
			if line == "" {
				line = strings.Join(rest, " ")
			}
			// cmd /c "a & b": the outer quotes go.
			if strings.HasPrefix(line, `"`) {
				line = line[1:]
				if i := strings.LastIndexByte(line, '"'); i >= 0 {
					line = line[:i] + line[i+1:]
				}
			}
			return c.Sub(line)
		}
	}
	return Result{Known: true, Output: d.Banner(c.State.Cwd)}
}

// Banner is what cmd.exe prints when started without /c: its banner and
// a prompt (it then reads commands from its input).
func (d *Cmd) Banner(cwd string) string {
	return d.version() + "\r\n(C) Copyright 1985-2000 Microsoft Corp.\r\n\r\n" + cwd + ">"
}

// textAfter returns what follows the first occurrence of word in text,
// ignoring ASCII case.
func textAfter(text, word string) string {
	i := strings.Index(lowerASCII(text), lowerASCII(word))
	if i < 0 {
		return ""
	}
	return strings.TrimLeft(text[i+len(word):], " \t")
}

// fetchSize is the size a fake transfer reports: stable for a host and
// file, plausible for a small binary.
func fetchSize(host, file string) int64 {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(host + "\x00" + file)))
	return 24576 + int64(h.Sum32()%98304)
}

func (d *Cmd) tftp(st *State, args []string, raw string) Result {
	var rest []string
	for _, a := range args {
		if strings.EqualFold(a, "-i") {
			continue
		}
		rest = append(rest, a)
	}
	if len(rest) < 3 || (!strings.EqualFold(rest[1], "get") && !strings.EqualFold(rest[1], "put")) {
		return Result{Known: true, Status: 1, Output: "\r\nTransfers files to and from a remote computer running the TFTP service.\r\n\r\n" +
			"TFTP [-i] host [GET | PUT] source [destination]\r\n\r\n" +
			"  -i              Specifies binary image transfer mode (also called\r\n" +
			"                  octet). In binary image mode the file is moved\r\n" +
			"                  literally, byte by byte. Use this mode when\r\n" +
			"                  transferring binary files.\r\n" +
			"  host            Specifies the local or remote host.\r\n" +
			"  GET             Transfers destination on the remote host to\r\n" +
			"                  source on the local host.\r\n" +
			"  PUT             Transfers source on the local host to\r\n" +
			"                  destination on the remote host.\r\n" +
			"  source          Specifies the file to transfer.\r\n" +
			"  destination     Specifies where to transfer the file.\r\n"}
	}
	host, src := rest[0], rest[2]
	if strings.EqualFold(rest[1], "put") {
		n := st.FS.Stat(WinResolve(WinSplit(st.Cwd), src))
		if n == nil {
			return Result{Known: true, Status: 1, Output: "Can't read from local file '" + src + "'\r\n"}
		}
		return Result{Known: true, Output: fmt.Sprintf("Transfer successful: %d bytes in 1 second, %d bytes/s\r\n", n.Size, n.Size)}
	}
	dst := src
	if len(rest) > 3 {
		dst = rest[3]
	} else if i := strings.LastIndexAny(dst, `\/`); i >= 0 {
		dst = dst[i+1:]
	}
	size := fetchSize(host, src)
	parts := WinResolve(WinSplit(st.Cwd), dst)
	if err := st.FS.Touch(parts, size, st.now()); err != nil {
		return Result{Known: true, Status: 1, Output: "Can't write to local file '" + dst + "'\r\n"}
	}
	return Result{Known: true,
		Output:    fmt.Sprintf("Transfer successful: %d bytes in 1 second, %d bytes/s\r\n", size, size),
		Downloads: []Download{NewDownload("tftp", host, src)}}
}

// ftp answers ftp -s:script [host] by reading the script from the fake
// file system (droppers build it with echo ... >> file first).
func (d *Cmd) ftp(st *State, args []string) Result {
	script := ""
	host := ""
	for _, a := range args {
		l := strings.ToLower(a)
		switch {
		case strings.HasPrefix(l, "-s:"):
			script = a[3:]
		case strings.HasPrefix(a, "-"):
		default:
			if host == "" {
				host = a
			}
		}
	}
	var lines []string
	if host != "" {
		lines = append(lines, "open "+host)
	}
	if script != "" {
		n := st.FS.Stat(WinResolve(WinSplit(st.Cwd), script))
		if n == nil || n.Dir {
			return Result{Known: true, Status: 1, Output: "Error opening script file " + script + ".\r\n"}
		}
		for _, l := range strings.Split(string(n.Data), "\n") {
			l = strings.TrimRight(l, "\r ")
			if l != "" && len(lines) < 64 {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) == 0 {
		return Result{Known: true, Output: "ftp> "}
	}
	var b strings.Builder
	var dls []Download
	cur, port, user := "", "", false
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		cmd := strings.ToLower(f[0])
		if !user || cmd != "user" {
			b.WriteString("ftp> " + l + "\r\n")
		}
		switch cmd {
		case "open", "o":
			if len(f) > 1 {
				cur, port = f[1], ""
				if len(f) > 2 {
					port = f[2]
				}
				b.WriteString("Connected to " + cur + ".\r\n220 \r\n")
				if len(f) > 3 {
					user = true
				}
			}
		case "user":
			user = true
			b.WriteString("331 Password required.\r\n230 User logged in.\r\n")
		case "bin", "binary", "type":
			b.WriteString("200 Type set to I.\r\n")
		case "get", "recv", "mget":
			if cur == "" {
				b.WriteString("Not connected.\r\n")
				continue
			}
			for _, name := range f[1:2] {
				h := cur
				if port != "" && port != "21" {
					h = net.JoinHostPort(cur, port)
				}
				dls = append(dls, NewDownload("ftp", h, name))
				size := fetchSize(cur, name)
				local := name
				if cmd != "mget" && len(f) > 2 {
					local = f[2]
				}
				_ = st.FS.Touch(WinResolve(WinSplit(st.Cwd), local), size, st.now())
				b.WriteString("200 PORT command successful.\r\n150 Opening BINARY mode data connection for " + name + ".\r\n226 Transfer complete.\r\n")
				b.WriteString(fmt.Sprintf("ftp: %d bytes received in 0.42Seconds %.2fKbytes/sec.\r\n", size, float64(size)/420))
			}
		case "bye", "quit", "close", "disconnect":
			if cur != "" {
				b.WriteString("221 \r\n")
			}
			cur = ""
		default:
			if !user || cmd != "user" {
				b.WriteString("200 \r\n")
			}
		}
	}
	return Result{Known: true, Output: b.String(), Downloads: dls}
}

const netSyntax = "The syntax of this command is:\r\n\r\n\r\nNET [ ACCOUNTS | COMPUTER | CONFIG | CONTINUE | FILE | GROUP | HELP |\r\n" +
	"      HELPMSG | LOCALGROUP | NAME | PAUSE | PRINT | SEND | SESSION |\r\n" +
	"      SHARE | START | STATISTICS | STOP | TIME | USE | USER | VIEW ]\r\n\r\n"

const netOK = "The command completed successfully.\r\n\r\n"

const accessDenied = "System error 5 has occurred.\r\n\r\nAccess is denied.\r\n\r\n"

func (d *Cmd) net(st *State, args []string) Result {
	if len(args) == 0 {
		return Result{Known: true, Status: 1, Output: netSyntax}
	}
	h := d.hostname()
	sub := strings.ToLower(args[0])
	changes := false
	for _, a := range args[1:] {
		switch strings.ToLower(a) {
		case "/add", "/delete", "/del":
			changes = true
		}
	}
	switch sub {
	case "user", "users":
		if changes || len(args) > 2 {
			if !d.Privileged {
				return Result{Known: true, Status: 2, Output: accessDenied}
			}
			return Result{Known: true, Output: netOK}
		}
		if len(args) == 2 {
			return Result{Known: true, Status: 2, Output: "The user name could not be found.\r\n\r\nMore help is available by typing NET HELPMSG 2221.\r\n\r\n"}
		}
		return Result{Known: true, Output: "\r\nUser accounts for \\\\" + h + "\r\n\r\n" +
			"-------------------------------------------------------------------------------\r\n" +
			fmt.Sprintf("%-25s%-25s%-25s\r\n", "Administrator", "Guest", "IUSR_"+h) +
			fmt.Sprintf("%-25s%-25s\r\n", "IWAM_"+h, "TsInternetUser") + netOK}
	case "localgroup":
		if changes {
			if !d.Privileged {
				return Result{Known: true, Status: 2, Output: accessDenied}
			}
			return Result{Known: true, Output: netOK}
		}
		if len(args) > 1 && strings.EqualFold(args[1], "administrators") {
			return Result{Known: true, Output: "Alias name     administrators\r\nComment        Administrators have complete and unrestricted access to the computer/domain\r\n\r\nMembers\r\n\r\n" +
				"-------------------------------------------------------------------------------\r\nAdministrator\r\n" + netOK}
		}
		return Result{Known: true, Output: "\r\nAliases for \\\\" + h + "\r\n\r\n-------------------------------------------------------------------------------\r\n" +
			"*Administrators\r\n*Backup Operators\r\n*Guests\r\n*Power Users\r\n*Replicator\r\n*Users\r\n" + netOK}
	case "share":
		if len(args) > 1 {
			if !d.Privileged {
				return Result{Known: true, Status: 2, Output: accessDenied}
			}
			return Result{Known: true, Output: netOK}
		}
		return Result{Known: true, Output: "\r\nShare name   Resource                        Remark\r\n\r\n" +
			"-------------------------------------------------------------------------------\r\n" +
			"IPC$                                         Remote IPC\r\n" +
			"C$           C:\\                              Default share\r\n" +
			"ADMIN$       C:\\WINNT                         Remote Admin\r\n" + netOK}
	case "start":
		if len(args) > 1 {
			if !d.Privileged {
				return Result{Known: true, Status: 2, Output: accessDenied}
			}
			return Result{Known: true, Output: "The requested service has already been started.\r\n\r\nMore help is available by typing NET HELPMSG 2182.\r\n\r\n"}
		}
		var b strings.Builder
		b.WriteString("These Windows services are started:\r\n\r\n")
		for _, s := range []string{"Alerter", "Automatic Updates", "COM+ Event System", "Computer Browser", "DHCP Client",
			"Distributed Link Tracking Client", "DNS Client", "Event Log", "FTP Publishing Service", "IIS Admin Service",
			"IPSEC Policy Agent", "Logical Disk Manager", "Messenger", "Network Connections", "Plug and Play",
			"Print Spooler", "Protected Storage", "Remote Procedure Call (RPC)", "Remote Registry Service",
			"Removable Storage", "RunAs Service", "Security Accounts Manager", "Server", "Simple Mail Transport Protocol (SMTP)",
			"System Event Notification", "Task Scheduler", "TCP/IP NetBIOS Helper Service", "Telephony", "Windows Management Instrumentation",
			"Windows Management Instrumentation Driver Extensions", "Workstation", "World Wide Web Publishing Service"} {
			b.WriteString("   " + s + "\r\n")
		}
		b.WriteString("\r\n" + netOK)
		return Result{Known: true, Output: b.String()}
	case "stop":
		if !d.Privileged {
			return Result{Known: true, Status: 2, Output: accessDenied}
		}
		return Result{Known: true, Output: netOK}
	case "view":
		return Result{Known: true, Output: "There are no entries in the list.\r\n\r\n"}
	case "use":
		if len(args) == 1 {
			return Result{Known: true, Output: "New connections will be remembered.\r\n\r\nThere are no entries in the list.\r\n\r\n"}
		}
		return Result{Known: true, Status: 2, Output: "System error 53 has occurred.\r\n\r\nThe network path was not found.\r\n\r\n"}
	case "time":
		t := st.now()
		return Result{Known: true, Output: "Current time at \\\\" + h + " is " + t.Format("1/2/2006 3:04 PM") + "\r\n\r\n" + netOK}
	case "config", "accounts", "session", "statistics", "file", "group", "send", "name", "print", "helpmsg", "help", "computer", "pause", "continue":
		return Result{Known: true, Output: netOK}
	}
	return Result{Known: true, Status: 1, Output: netSyntax}
}

func (d *Cmd) ipconfig(args []string) Result {
	all := hasSwitch(args, "all")
	ip := orDefault(d.Address, "192.168.0.10")
	var b strings.Builder
	b.WriteString("\r\nWindows 2000 IP Configuration\r\n\r\n")
	if all {
		b.WriteString("        Host Name . . . . . . . . . . . . : " + strings.ToLower(d.hostname()) + "\r\n")
		b.WriteString("        Primary DNS Suffix  . . . . . . . : \r\n")
		b.WriteString("        Node Type . . . . . . . . . . . . : Hybrid\r\n")
		b.WriteString("        IP Routing Enabled. . . . . . . . : No\r\n")
		b.WriteString("        WINS Proxy Enabled. . . . . . . . : No\r\n\r\n")
	}
	b.WriteString("Ethernet adapter Local Area Connection:\r\n\r\n")
	b.WriteString("        Connection-specific DNS Suffix  . : \r\n")
	if all {
		b.WriteString("        Description . . . . . . . . . . . : Intel(R) PRO/100+ Management Adapter\r\n")
		b.WriteString("        Physical Address. . . . . . . . . : 00-02-B3-1C-4E-7A\r\n")
		b.WriteString("        DHCP Enabled. . . . . . . . . . . : No\r\n")
	}
	b.WriteString("        IP Address. . . . . . . . . . . . : " + ip + "\r\n")
	b.WriteString("        Subnet Mask . . . . . . . . . . . : " + orDefault(d.Netmask, "255.255.255.0") + "\r\n")
	b.WriteString("        Default Gateway . . . . . . . . . : " + orDefault(d.Gateway, gatewayFor(ip)) + "\r\n")
	return Result{Known: true, Output: b.String()}
}

func gatewayFor(ip string) string {
	a := net.ParseIP(ip).To4()
	if a == nil {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d.1", a[0], a[1], a[2])
}

func (d *Cmd) ping(args []string) Result {
	host := ""
	for _, a := range args {
		if !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "/") && !isDigits(a) {
			host = a
		}
	}
	if host == "" {
		return Result{Known: true, Status: 1, Output: "\r\nUsage: ping [-t] [-a] [-n count] [-l size] [-f] [-i TTL] [-v TOS]\r\n            [-r count] [-s count] [[-j host-list] | [-k host-list]]\r\n            [-w timeout] destination-list\r\n"}
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() == nil {
		return Result{Known: true, Status: 1, Output: "Unknown host " + host + ".\r\n\r\n"}
	}
	var b strings.Builder
	b.WriteString("\r\nPinging " + host + " with 32 bytes of data:\r\n\r\n")
	for i := 0; i < 4; i++ {
		b.WriteString("Reply from " + host + ": bytes=32 time=" + strconv.Itoa(40+i%2*10) + "ms TTL=" + "49" + "\r\n")
	}
	b.WriteString("\r\nPing statistics for " + host + ":\r\n    Packets: Sent = 4, Received = 4, Lost = 0 (0% loss),\r\n" +
		"Approximate round trip times in milli-seconds:\r\n    Minimum = 40ms, Maximum =  50ms, Average =  45ms\r\n")
	return Result{Known: true, Output: b.String()}
}

func (d *Cmd) netstat() Result {
	ip := orDefault(d.Address, "192.168.0.10")
	var b strings.Builder
	b.WriteString("\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State\r\n")
	for _, p := range []string{"21", "25", "80", "135", "443", "445", "1025", "1433"} {
		b.WriteString(fmt.Sprintf("  %-6s %-22s %-22s %s\r\n", "TCP", "0.0.0.0:"+p, "0.0.0.0:0", "LISTENING"))
	}
	b.WriteString(fmt.Sprintf("  %-6s %-22s %-22s %s\r\n", "TCP", ip+":139", "0.0.0.0:0", "LISTENING"))
	for _, p := range []string{"135", "445", "1434"} {
		b.WriteString(fmt.Sprintf("  %-6s %-22s %s\r\n", "UDP", "0.0.0.0:"+p, "*:*"))
	}
	return Result{Known: true, Output: b.String()}
}

func (d *Cmd) find(c *Call, args []string) Result {
	needle, invert, fold := "", false, false
	var files []string
	for _, a := range args {
		switch strings.ToLower(a) {
		case "/v":
			invert = true
		case "/i":
			fold = true
		default:
			if needle == "" && !strings.HasPrefix(a, "/") {
				needle = a
			} else if !strings.HasPrefix(a, "/") {
				files = append(files, a)
			}
		}
	}
	if needle == "" {
		return Result{Known: true, Status: 2, Output: "FIND: Parameter format not correct\r\n"}
	}
	match := func(l string) bool {
		if fold {
			return strings.Contains(strings.ToLower(l), strings.ToLower(needle)) != invert
		}
		return strings.Contains(l, needle) != invert
	}
	var b strings.Builder
	filter := func(s string) {
		for _, l := range strings.SplitAfter(s, "\n") {
			if l != "" && match(strings.TrimRight(l, "\r\n")) {
				b.WriteString(strings.TrimRight(l, "\r\n") + "\r\n")
			}
		}
	}
	if len(files) == 0 {
		filter(c.Stdin)
		return Result{Known: true, Output: b.String()}
	}
	for _, f := range files {
		parts := WinResolve(WinSplit(c.State.Cwd), f)
		n := c.State.FS.Stat(parts)
		if n == nil || n.Dir {
			b.WriteString("File not found - " + strings.ToUpper(f) + "\r\n")
			continue
		}
		b.WriteString("\r\n---------- " + strings.ToUpper(WinJoin(parts)) + "\r\n")
		filter(string(n.Data))
	}
	return Result{Known: true, Output: b.String()}
}

func (d *Cmd) attrib(st *State, args []string) Result {
	_, names := splitArgs(args)
	var b strings.Builder
	for _, nm := range names {
		if strings.HasPrefix(nm, "+") || strings.HasPrefix(nm, "-") {
			continue
		}
		parts := WinResolve(WinSplit(st.Cwd), nm)
		n := st.FS.Stat(parts)
		if n == nil {
			b.WriteString("File not found - " + WinJoin(parts) + "\r\n")
			continue
		}
		flags := "A         "
		if n.Hidden {
			flags = "A  SH     "
		}
		b.WriteString(flags + "  " + strings.ToUpper(WinJoin(parts)[:1]) + WinJoin(parts)[1:] + "\r\n")
	}
	return Result{Known: true, Output: b.String()}
}
