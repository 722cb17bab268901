package shell

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
)

// applet answers one BusyBox applet.
func (d *BusyBox) applet(c *Call, name string, args []string) Result {
	st := c.State
	switch name {
	case "sh", "ash":
		return d.sh(c, args)
	case "echo":
		return echoCmd(args)
	case "printf":
		return printfCmd(args)
	case "true":
		return Result{Known: true}
	case "false":
		return Result{Known: true, Status: 1}
	case "test", "[", "[[":
		return d.test(st, name, args)
	case "pwd":
		return Result{Known: true, Output: st.Cwd + "\n"}
	case "cat":
		return d.cat(c, d.glob(st, args))
	case "ls":
		return d.ls(st, d.glob(st, args))
	case "uname":
		return d.uname(args)
	case "ps":
		return d.ps(st)
	case "chmod":
		return d.chmod(c, d.glob(st, args))
	case "rm":
		return d.rm(st, d.glob(st, args))
	case "mkdir":
		return d.mkdir(st, args)
	case "rmdir":
		return d.rmdir(st, args)
	case "touch":
		return d.touch(st, args)
	case "cp", "mv", "ln":
		return d.copyFile(c, name, d.glob(st, args))
	case "wget":
		return d.wget(st, args)
	case "tftp":
		return d.tftp(st, args)
	case "ftpget":
		return d.ftpget(st, args)
	case "id":
		return Result{Known: true, Output: d.id(st) + "\n"}
	case "whoami":
		return Result{Known: true, Output: orDefault(st.Env["USER"], "root") + "\n"}
	case "hostname":
		if len(args) == 0 {
			return Result{Known: true, Output: d.hostname() + "\n"}
		}
		return Result{Known: true}
	case "free":
		return Result{Known: true, Output: "              total         used         free       shared      buffers\n" +
			"  Mem:        29164        25784         3380            0         1932\n" +
			" Swap:            0            0            0\n" +
			"Total:        29164        25784         3380\n"}
	case "df":
		return Result{Known: true, Output: "Filesystem           1K-blocks      Used Available Use% Mounted on\n" +
			"/dev/root                 3328      3328         0 100% /\n" +
			"tmpfs                    14582        84     14498   1% /tmp\n" +
			"tmpfs                    14582        12     14570   0% /var\n" +
			"tmpfs                    14582         0     14582   0% /dev\n" +
			"/dev/mtdblock3             448       236       212  53% /etc/config\n"}
	case "uptime":
		now := st.now()
		return Result{Known: true, Output: " " + now.Format("15:04:05") + " up 4 days,  2:00, load average: 0.08, 0.03, 0.01\n"}
	case "date":
		return Result{Known: true, Output: st.now().UTC().Format("Mon Jan _2 15:04:05 MST 2006") + "\n"}
	case "ifconfig":
		return d.ifconfig()
	case "route":
		ip := net.ParseIP(d.address()).To4()
		gw, nw := "192.168.1.254", "192.168.1.0"
		if ip != nil {
			gw, nw = fmt.Sprintf("%d.%d.%d.254", ip[0], ip[1], ip[2]), fmt.Sprintf("%d.%d.%d.0", ip[0], ip[1], ip[2])
		}
		return Result{Known: true, Output: "Kernel IP routing table\n" +
			"Destination     Gateway         Genmask         Flags Metric Ref    Use Iface\n" +
			fmt.Sprintf("%-15s %-15s %-15s %-5s %-6d %-6d %3d %s\n", nw, "0.0.0.0", orDefault(d.Netmask, "255.255.255.0"), "U", 0, 0, 0, "br0") +
			fmt.Sprintf("%-15s %-15s %-15s %-5s %-6d %-6d %3d %s\n", "0.0.0.0", gw, "0.0.0.0", "UG", 0, 0, 0, "br0")}
	case "netstat":
		return Result{Known: true, Output: "Active Internet connections (only servers)\n" +
			"Proto Recv-Q Send-Q Local Address           Foreign Address         State       \n" +
			"tcp        0      0 0.0.0.0:80              0.0.0.0:*               LISTEN      \n" +
			"tcp        0      0 0.0.0.0:23              0.0.0.0:*               LISTEN      \n" +
			"udp        0      0 0.0.0.0:1900            0.0.0.0:*                           \n"}
	case "mount":
		if len(args) == 0 {
			n := st.FS.Stat([]string{"proc", "mounts"})
			if n != nil {
				return Result{Known: true, Output: string(n.Data)}
			}
		}
		return Result{Known: true}
	case "head", "tail":
		return d.headTail(c, name, args)
	case "grep", "egrep", "fgrep":
		return d.grep(c, args)
	case "wc":
		return d.wc(c, args)
	case "dd":
		return d.dd(c, args)
	case "which":
		var b strings.Builder
		status := 0
		for _, a := range args {
			if parts, n := d.lookup(st, a); n != nil {
				b.WriteString(UnixJoin(parts) + "\n")
			} else {
				status = 1
			}
		}
		return Result{Known: true, Status: status, Output: b.String()}
	case "md5sum":
		return d.md5sum(c, args)
	case "basename":
		if len(args) == 0 {
			return d.usage(name, "FILE [SUFFIX]")
		}
		b := path.Base(args[0])
		if len(args) > 1 {
			b = strings.TrimSuffix(b, args[1])
		}
		return Result{Known: true, Output: b + "\n"}
	case "dirname":
		if len(args) == 0 {
			return d.usage(name, "FILENAME")
		}
		return Result{Known: true, Output: path.Dir(args[0]) + "\n"}
	case "env":
		var b strings.Builder
		for _, l := range strings.SplitAfter(listVars(st, ""), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSuffix(l, "\n"), "="); ok {
				b.WriteString(k + "=" + strings.ReplaceAll(strings.Trim(v, "'"), `'"'"'`, "'") + "\n")
			}
		}
		return Result{Known: true, Output: b.String()}
	case "kill", "killall", "sleep", "sync", "reboot", "halt", "poweroff", "ftpput", "insmod", "rmmod",
		"klogd", "syslogd", "udhcpc", "telnetd", "login", "chroot", "xargs":
		// They act on processes, devices or the network: nothing to show.
		return Result{Known: true}
	}
	// An applet the fake does not answer: it runs without a word.
	return Result{}
}

func (d *BusyBox) id(st *State) string {
	u := orDefault(st.Env["USER"], "root")
	if u == "root" {
		return "uid=0(root) gid=0(root)"
	}
	return "uid=1000(" + u + ") gid=1000(" + u + ")"
}

// glob expands arguments holding * ? or [ against the fake disk, as the
// shell would have; a pattern matching nothing stays as written.
func (d *BusyBox) glob(st *State, args []string) []string {
	var out []string
	for _, a := range args {
		if !strings.ContainsAny(a, "*?[") || strings.HasPrefix(a, "-") {
			out = append(out, a)
			continue
		}
		dir, pat := path.Split(a)
		if strings.ContainsAny(dir, "*?[") {
			out = append(out, a)
			continue
		}
		kids, ok := st.FS.List(d.resolve(st, orDefault(dir, ".")))
		var hits []string
		for _, k := range kids {
			if strings.HasPrefix(k.Name, ".") && !strings.HasPrefix(pat, ".") {
				continue
			}
			if m, err := path.Match(pat, k.Name); err == nil && m {
				hits = append(hits, dir+k.Name)
			}
		}
		if !ok || len(hits) == 0 {
			out = append(out, a)
			continue
		}
		out = append(out, hits...)
		if len(out) > MaxArgs {
			return out[:MaxArgs]
		}
	}
	return out
}

// flagsAndNames splits single-dash flags (combined or not) from names;
// "--" ends the flags.
func flagsAndNames(args []string) (string, []string) {
	var flags strings.Builder
	var names []string
	done := false
	for _, a := range args {
		switch {
		case done || a == "-" || !strings.HasPrefix(a, "-"):
			names = append(names, a)
		case a == "--":
			done = true
		default:
			flags.WriteString(strings.TrimLeft(a, "-"))
		}
	}
	return flags.String(), names
}

func (d *BusyBox) cat(c *Call, args []string) Result {
	st := c.State
	_, names := flagsAndNames(args)
	if len(names) == 0 {
		return Result{Known: true, Output: c.Stdin}
	}
	var out, errs strings.Builder
	status := 0
	for _, name := range names {
		if name == "-" {
			out.WriteString(c.Stdin)
			continue
		}
		n := st.FS.Stat(d.resolve(st, name))
		switch {
		case n == nil:
			errs.WriteString("cat: can't open '" + name + "': No such file or directory\n")
			status = 1
		case n.Dir:
			errs.WriteString("cat: read error: Is a directory\n")
			status = 1
		default:
			out.Write(n.Data)
		}
	}
	return Result{Known: true, Status: status, Output: out.String(), Stderr: errs.String()}
}

func (d *BusyBox) ls(st *State, args []string) Result {
	flags, names := flagsAndNames(args)
	long := strings.ContainsAny(flags, "lgno")
	all := strings.Contains(flags, "a")
	almost := strings.Contains(flags, "A")
	one := strings.Contains(flags, "1")
	dirSelf := strings.Contains(flags, "d")
	if len(names) == 0 {
		names = []string{"."}
	}
	type entry struct {
		name string
		n    *Node
	}
	var files []entry
	type listing struct {
		name    string
		entries []entry
	}
	var dirs []listing
	var errs strings.Builder
	status := 0
	for _, name := range names {
		parts := d.resolve(st, name)
		n := st.FS.Stat(parts)
		if n == nil {
			errs.WriteString("ls: " + name + ": No such file or directory\n")
			status = 1
			continue
		}
		if !n.Dir || dirSelf {
			files = append(files, entry{name, n})
			continue
		}
		kids, _ := st.FS.List(parts)
		var es []entry
		if all {
			es = append(es, entry{".", n})
			parent := n
			if len(parts) > 0 {
				if p := st.FS.Stat(parts[:len(parts)-1]); p != nil {
					parent = p
				}
			}
			es = append(es, entry{"..", parent})
		}
		for _, k := range kids {
			if strings.HasPrefix(k.Name, ".") && !all && !almost {
				continue
			}
			es = append(es, entry{k.Name, k})
		}
		dirs = append(dirs, listing{name, es})
	}
	now := st.now()
	render := func(es []entry) string {
		if long {
			var b strings.Builder
			for _, e := range es {
				nlink := 1
				if e.n.Dir {
					nlink = 2
				}
				size := e.n.Size
				if e.n.Dir {
					size = 0
				}
				line := fmt.Sprintf("%s %4d %-8s %-8s %9d %s %s", modeString(e.n), nlink, "root", "root", size, lsTime(e.n.Mod, now), e.name)
				if e.n.Link != "" {
					line += " -> " + e.n.Link
				}
				b.WriteString(line + "\n")
			}
			return b.String()
		}
		names := make([]string, len(es))
		for i, e := range es {
			names[i] = e.name
		}
		if one {
			return strings.Join(names, "\n") + "\n"
		}
		return columns(names, 80)
	}
	var b strings.Builder
	if len(files) > 0 {
		b.WriteString(render(files))
	}
	for i, l := range dirs {
		if len(names) > 1 {
			if i > 0 || len(files) > 0 {
				b.WriteString("\n")
			}
			b.WriteString(l.name + ":\n")
		}
		if long {
			b.WriteString(fmt.Sprintf("total %d\n", len(l.entries)))
		}
		if len(l.entries) > 0 {
			b.WriteString(render(l.entries))
		}
	}
	return Result{Known: true, Status: status, Output: b.String(), Stderr: errs.String()}
}

// columns lays names out top to bottom in columns, as ls does on a
// terminal width wide.
func columns(names []string, width int) string {
	if len(names) == 0 {
		return ""
	}
	colw := 0
	for _, n := range names {
		colw = max(colw, len(n))
	}
	colw += 2
	ncols := max(width/colw, 1)
	nrows := (len(names) + ncols - 1) / ncols
	var b strings.Builder
	for r := 0; r < nrows; r++ {
		for col := 0; col < ncols; col++ {
			i := col*nrows + r
			if i >= len(names) {
				continue
			}
			last := col == ncols-1 || (col+1)*nrows+r >= len(names)
			if last {
				b.WriteString(names[i])
			} else {
				b.WriteString(fmt.Sprintf("%-*s", colw, names[i]))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (d *BusyBox) uname(args []string) Result {
	flags, _ := flagsAndNames(args)
	if flags == "" {
		flags = "s"
	}
	if strings.Contains(flags, "a") {
		flags = "snrvmo"
	}
	var out []string
	for _, f := range "snrvmpo" {
		if !strings.ContainsRune(flags, f) {
			continue
		}
		switch f {
		case 's':
			out = append(out, "Linux")
		case 'n':
			out = append(out, d.hostname())
		case 'r':
			out = append(out, d.kernel())
		case 'v':
			out = append(out, d.kernelBuild())
		case 'm':
			out = append(out, UnameMachine(d.Arch))
		case 'p':
			out = append(out, "unknown")
		case 'o':
			out = append(out, "GNU/Linux")
		}
	}
	return Result{Known: true, Output: strings.Join(out, " ") + "\n"}
}

func (d *BusyBox) ps(st *State) Result {
	user := orDefault(st.Env["USER"], "root")
	procs := []struct {
		pid  int
		user string
		vsz  int
		stat string
		cmd  string
	}{
		{1, "root", 1548, "S", "init"}, {2, "root", 0, "SW", "[kthreadd]"}, {3, "root", 0, "SW", "[ksoftirqd/0]"},
		{4, "root", 0, "SW", "[events/0]"}, {5, "root", 0, "SW<", "[khelper]"}, {8, "root", 0, "SW", "[async/mgr]"},
		{51, "root", 0, "SW", "[sync_supers]"}, {53, "root", 0, "SW", "[bdi-default]"}, {55, "root", 0, "SW<", "[kblockd/0]"},
		{88, "root", 0, "SW", "[kswapd0]"}, {135, "root", 0, "SW", "[mtdblock0]"}, {396, "root", 1552, "S", "/sbin/syslogd -C8"},
		{399, "root", 1544, "S", "/sbin/klogd"}, {412, "root", 4420, "S", "/usr/sbin/goahead"},
		{418, "root", 1548, "S", "/sbin/udhcpc -i eth1 -s /usr/share/udhcpc/default.script"},
		{430, "root", 1544, "S", "/usr/sbin/telnetd"}, {4421, user, 1556, "S", "-sh"}, {4511, user, 1548, "R", "ps"},
	}
	var b strings.Builder
	b.WriteString("  PID USER       VSZ STAT COMMAND\n")
	for _, p := range procs {
		b.WriteString(fmt.Sprintf("%5d %-8s %5d %-4s %s\n", p.pid, p.user, p.vsz, p.stat, p.cmd))
	}
	return Result{Known: true, Output: b.String()}
}

// parseMode applies a chmod mode (octal, or symbolic such as +x,
// u+rwx,go-w, a=rx) to old.
func parseMode(spec string, old uint32) (uint32, bool) {
	if spec == "" {
		return 0, false
	}
	if v, err := strconv.ParseUint(spec, 8, 32); err == nil {
		return uint32(v) & 07777, true
	}
	m := old
	for _, clause := range strings.Split(spec, ",") {
		i := 0
		var who uint32
		for i < len(clause) && strings.IndexByte("ugoa", clause[i]) >= 0 {
			switch clause[i] {
			case 'u':
				who |= 04700
			case 'g':
				who |= 02070
			case 'o':
				who |= 01007
			case 'a':
				who |= 07777
			}
			i++
		}
		if who == 0 {
			who = 07777
		}
		if i == len(clause) || strings.IndexByte("+-=", clause[i]) < 0 {
			return 0, false
		}
		op := clause[i]
		i++
		var bits uint32
		for ; i < len(clause); i++ {
			switch clause[i] {
			case 'r':
				bits |= 0444
			case 'w':
				bits |= 0222
			case 'x', 'X':
				bits |= 0111
			case 's':
				bits |= 06000
			case 't':
				bits |= 01000
			default:
				return 0, false
			}
		}
		bits &= who
		switch op {
		case '+':
			m |= bits
		case '-':
			m &^= bits
		case '=':
			m = m&^(who&0777) | bits
		}
	}
	return m, true
}

func (d *BusyBox) chmod(c *Call, args []string) Result {
	st := c.State
	var rest []string
	for _, a := range args {
		if a == "-R" || a == "-f" || a == "-v" || a == "-c" || a == "-Rf" || a == "-fR" {
			continue
		}
		rest = append(rest, a)
	}
	if len(rest) < 2 {
		return d.usage("chmod", "[-Rcvf] MODE[,MODE]... FILE...")
	}
	var errs strings.Builder
	status := 0
	for _, name := range rest[1:] {
		parts := d.resolve(st, name)
		n := st.FS.Stat(parts)
		if n == nil {
			errs.WriteString("chmod: " + name + ": No such file or directory\n")
			status = 1
			continue
		}
		m, ok := parseMode(rest[0], modeOf(n))
		if !ok {
			return Result{Known: true, Status: 1, Stderr: "chmod: invalid mode '" + rest[0] + "'\n"}
		}
		if err := st.FS.Chmod(parts, m); err != nil {
			errs.WriteString("chmod: " + name + ": Operation not permitted\n")
			status = 1
			continue
		}
		c.Used(parts, "chmod")
	}
	return Result{Known: true, Status: status, Stderr: errs.String()}
}

// maxRemove bounds the entries one rm -r removes.
const maxRemove = 512

func (d *BusyBox) rm(st *State, args []string) Result {
	flags, names := flagsAndNames(args)
	force := strings.Contains(flags, "f")
	recursive := strings.ContainsAny(flags, "rR")
	if len(names) == 0 && !force {
		return d.usage("rm", "[OPTION]... FILE...")
	}
	var errs strings.Builder
	status := 0
	for _, name := range names {
		parts := d.resolve(st, name)
		n := st.FS.Stat(parts)
		switch {
		case n == nil || len(parts) == 0:
			if !force {
				errs.WriteString("rm: can't remove '" + name + "': No such file or directory\n")
				status = 1
			}
		case n.Dir && !recursive:
			errs.WriteString("rm: can't remove '" + name + "': Is a directory\n")
			status = 1
		case n.Dir:
			budget := maxRemove
			if !removeAll(st.FS, parts, &budget) {
				errs.WriteString("rm: can't remove '" + name + "': Directory not empty\n")
				status = 1
			}
		default:
			if err := st.FS.Remove(parts, false); err != nil {
				errs.WriteString("rm: can't remove '" + name + "': Operation not permitted\n")
				status = 1
			}
		}
	}
	return Result{Known: true, Status: status, Stderr: errs.String()}
}

func removeAll(fs *FS, parts []string, budget *int) bool {
	kids, _ := fs.List(parts)
	for _, k := range kids {
		if *budget <= 0 {
			return false
		}
		*budget--
		p := append(slices.Clone(parts), k.Name)
		if k.Dir {
			if !removeAll(fs, p, budget) {
				return false
			}
			continue
		}
		if fs.Remove(p, false) != nil {
			return false
		}
	}
	return fs.Remove(parts, true) == nil
}

func (d *BusyBox) mkdir(st *State, args []string) Result {
	flags, names := flagsAndNames(args)
	parents := strings.Contains(flags, "p")
	if len(names) == 0 {
		return d.usage("mkdir", "[OPTIONS] DIRECTORY...")
	}
	var errs strings.Builder
	status := 0
	for _, name := range names {
		parts := d.resolve(st, name)
		if parents {
			for i := 1; i <= len(parts); i++ {
				if n := st.FS.Stat(parts[:i]); n == nil {
					if err := st.FS.Mkdir(parts[:i], st.now()); err != nil {
						break
					}
				}
			}
			if n := st.FS.Stat(parts); n == nil || !n.Dir {
				errs.WriteString("mkdir: can't create directory '" + name + "': No such file or directory\n")
				status = 1
			}
			continue
		}
		if err := st.FS.Mkdir(parts, st.now()); err != nil {
			why := "No such file or directory"
			if err == ErrExists {
				why = "File exists"
			}
			errs.WriteString("mkdir: can't create directory '" + name + "': " + why + "\n")
			status = 1
		}
	}
	return Result{Known: true, Status: status, Stderr: errs.String()}
}

func (d *BusyBox) rmdir(st *State, args []string) Result {
	_, names := flagsAndNames(args)
	var errs strings.Builder
	status := 0
	for _, name := range names {
		if err := st.FS.Remove(d.resolve(st, name), true); err != nil {
			why := "No such file or directory"
			switch err {
			case ErrExists:
				why = "Directory not empty"
			case ErrNotDir:
				why = "Not a directory"
			}
			errs.WriteString("rmdir: '" + name + "': " + why + "\n")
			status = 1
		}
	}
	return Result{Known: true, Status: status, Stderr: errs.String()}
}

func (d *BusyBox) touch(st *State, args []string) Result {
	_, names := flagsAndNames(args)
	if len(names) == 0 {
		return d.usage("touch", "[-c] FILE [FILE]...")
	}
	var errs strings.Builder
	status := 0
	for _, name := range names {
		if err := st.FS.WriteFile(d.resolve(st, name), nil, true, st.now()); err != nil {
			errs.WriteString("touch: " + name + ": No such file or directory\n")
			status = 1
		}
	}
	return Result{Known: true, Status: status, Stderr: errs.String()}
}

// copyFile answers cp, mv and ln (a link is kept as a copy).
func (d *BusyBox) copyFile(c *Call, name string, args []string) Result {
	st := c.State
	_, names := flagsAndNames(args)
	if len(names) < 2 {
		return d.usage(name, "[OPTIONS] SOURCE DEST")
	}
	dst := names[len(names)-1]
	dparts := d.resolve(st, dst)
	dn := st.FS.Stat(dparts)
	var errs strings.Builder
	status := 0
	for _, src := range names[:len(names)-1] {
		sparts := d.resolve(st, src)
		sn := st.FS.Stat(sparts)
		if sn == nil {
			if name == "ln" {
				continue // a dangling link: nothing to show
			}
			errs.WriteString(name + ": can't stat '" + src + "': No such file or directory\n")
			status = 1
			continue
		}
		if sn.Dir {
			errs.WriteString(name + ": omitting directory '" + src + "'\n")
			status = 1
			continue
		}
		target := dparts
		if dn != nil && dn.Dir {
			target = append(slices.Clone(dparts), path.Base(UnixJoin(sparts)))
		}
		if err := st.FS.Copy(sparts, target, st.now()); err != nil {
			errs.WriteString(name + ": can't create '" + dst + "': No such file or directory\n")
			status = 1
			continue
		}
		// The copy keeps the permissions (a link's are its target's).
		mode := modeOf(sn)
		if sn.Link != "" {
			mode = 0755
		}
		_ = st.FS.Chmod(target, mode)
		c.Copied(sparts, target)
		if name == "mv" {
			_ = st.FS.Remove(sparts, false)
		}
	}
	return Result{Known: true, Status: status, Stderr: errs.String()}
}

// schemelessURLs reads arguments that name a host and a path without a
// scheme ("1.2.3.4/x.sh"), as curl takes them, as http intents.
func schemelessURLs(args []string) []Download {
	var out []Download
	for _, a := range args {
		if strings.HasPrefix(a, "-") || strings.Contains(a, "://") {
			continue
		}
		host, p, ok := strings.Cut(a, "/")
		if !ok || !looksLikeHost(host) {
			continue
		}
		out = append(out, NewDownload("http", host, p))
	}
	return out
}

// looksLikeHost accepts an IP address or a dotted name, with an optional
// port.
func looksLikeHost(h string) bool {
	if hp, port, err := net.SplitHostPort(h); err == nil {
		if _, err := strconv.Atoi(port); err != nil {
			return false
		}
		h = hp
	}
	if net.ParseIP(h) != nil {
		return true
	}
	if !strings.Contains(h, ".") || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(isLetter(c) || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func progressSize(n int64) string {
	if n < 100000 {
		return fmt.Sprintf("%5d ", n)
	}
	return fmt.Sprintf("%5dk", n/1024)
}

// wget answers BusyBox wget: http and ftp URLs "download" (the file is
// made with a plausible size and no content); a URL without a scheme or
// of a scheme this build lacks is refused as BusyBox refuses it, but
// still recorded.
func (d *BusyBox) wget(st *State, args []string) Result {
	var urls []string
	out, dir := "", ""
	quiet := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-O" || a == "--output-document" || a == "-P" || a == "--directory-prefix":
			if i+1 < len(args) {
				if a == "-O" || a == "--output-document" {
					out = args[i+1]
				} else {
					dir = args[i+1]
				}
				i++
			}
		case strings.HasPrefix(a, "-O") && len(a) > 2:
			out = a[2:]
		case strings.HasPrefix(a, "--output-document="):
			out = strings.TrimPrefix(a, "--output-document=")
		case a == "-q" || a == "--quiet":
			quiet = true
		case a == "-U" || a == "--user-agent" || a == "--header" || a == "-Y" || a == "-T" || a == "-t":
			i++
		case strings.HasPrefix(a, "-"):
		default:
			urls = append(urls, a)
		}
	}
	if len(urls) == 0 {
		return d.usage("wget", "[-csq] [-O file] [-Y on/off] [-P DIR] [-U agent] url")
	}
	var r Result
	r.Known = true
	var errs strings.Builder
	for _, u := range urls {
		low := lowerASCII(u)
		if !strings.HasPrefix(low, "http://") && !strings.HasPrefix(low, "ftp://") {
			if !strings.Contains(u, "://") {
				r.Downloads = append(r.Downloads, schemelessURLs([]string{u})...)
			}
			errs.WriteString("wget: not an http or ftp url: " + u + "\n")
			r.Status = 1
			continue
		}
		dl, ok := ParseURL(u)
		if !ok {
			errs.WriteString("wget: bad address '" + u + "'\n")
			r.Status = 1
			continue
		}
		host, port, err := net.SplitHostPort(dl.Host)
		if err != nil {
			host, port = dl.Host, "80"
			if dl.Protocol == "ftp" {
				port = "21"
			}
		}
		host = strings.Trim(host, "[]")
		if net.ParseIP(host) == nil {
			// The box cannot resolve names.
			errs.WriteString("wget: bad address '" + host + "'\n")
			r.Status = 1
			continue
		}
		name := path.Base(strings.SplitN(dl.Path, "?", 2)[0])
		if name == "/" || name == "." || name == "" {
			name = "index.html"
		}
		local := name
		if out != "" {
			local = out
		}
		size := fetchSize(host, dl.Path)
		if !quiet {
			errs.WriteString("Connecting to " + host + " (" + net.JoinHostPort(host, port) + ")\n")
		}
		if local == "-" {
			continue // the content is not known: nothing reaches the output
		}
		if dir != "" && out == "" {
			local = strings.TrimSuffix(dir, "/") + "/" + local
		}
		if err := st.FS.Touch(d.resolve(st, local), size, st.now()); err != nil {
			errs.WriteString("wget: can't open '" + local + "': No such file or directory\n")
			r.Status = 1
			continue
		}
		if !quiet {
			errs.WriteString(fmt.Sprintf("%-20.20s 100%% |%s| %s  0:00:00 ETA\n", name, strings.Repeat("*", 31), progressSize(size)))
		}
	}
	r.Stderr = errs.String()
	return r
}

// tftp answers BusyBox tftp [-g|-p] [-l LOCAL] [-r REMOTE] HOST [PORT].
// The host/file pair of other tftp clients' syntax (tftp HOST -c get
// FILE, tftp -i HOST GET FILE) is recorded too, though BusyBox refuses it.
func (d *BusyBox) tftp(st *State, args []string) Result {
	get, put := false, false
	local, remote := "", ""
	var pos []string
	bad := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-g":
			get = true
		case a == "-p":
			put = true
		case a == "-l" || a == "-r" || a == "-b":
			if i+1 < len(args) {
				switch a {
				case "-l":
					local = args[i+1]
				case "-r":
					remote = args[i+1]
				}
				i++
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			if bad == "" {
				bad = a[1:2]
			}
		default:
			pos = append(pos, a)
		}
	}
	if bad != "" || (!get && !put) || len(pos) == 0 {
		var r Result
		// Another client's syntax: HOST ... get FILE.
		for i, p := range pos {
			if strings.EqualFold(p, "get") && i+1 < len(pos) && i > 0 {
				r.Downloads = append(r.Downloads, NewDownload("tftp", pos[0], pos[i+1]))
				break
			}
		}
		if bad != "" {
			u := d.usage("tftp", "[OPTIONS] HOST [PORT]")
			r.Known, r.Status = true, 1
			r.Stderr = "tftp: invalid option -- '" + bad + "'\n" + u.Stderr
			return r
		}
		u := d.usage("tftp", "[OPTIONS] HOST [PORT]")
		u.Downloads = r.Downloads
		return u
	}
	if remote == "" {
		remote = local
	}
	if local == "" {
		local = path.Base(remote)
	}
	if remote == "" {
		return d.usage("tftp", "[OPTIONS] HOST [PORT]")
	}
	host := pos[0]
	if len(pos) > 1 && pos[1] != "69" {
		host = net.JoinHostPort(host, pos[1])
	}
	if put {
		if st.FS.Stat(d.resolve(st, local)) == nil {
			return Result{Known: true, Status: 1, Stderr: "tftp: can't open '" + local + "': No such file or directory\n"}
		}
		return Result{Known: true}
	}
	r := Result{Known: true, Downloads: []Download{NewDownload("tftp", host, remote)}}
	if err := st.FS.Touch(d.resolve(st, local), fetchSize(pos[0], remote), st.now()); err != nil {
		r.Status = 1
		r.Stderr = "tftp: can't open '" + local + "': No such file or directory\n"
	}
	return r
}

// ftpget answers ftpget [-c] [-v] [-u USER] [-p PASS] [-P PORT] HOST
// [LOCAL_FILE] REMOTE_FILE.
func (d *BusyBox) ftpget(st *State, args []string) Result {
	port := ""
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-u" || a == "-p" || a == "-P" || a == "--username" || a == "--password" || a == "--port":
			if i+1 < len(args) {
				if a == "-P" || a == "--port" {
					port = args[i+1]
				}
				i++
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) < 2 {
		return d.usage("ftpget", "[-c] [-v] [-u USER] [-p PASS] [-P PORT] HOST [LOCAL_FILE] REMOTE_FILE")
	}
	host, remote, local := pos[0], pos[len(pos)-1], pos[len(pos)-1]
	if len(pos) > 2 {
		local = pos[1]
	}
	h := host
	if port != "" && port != "21" {
		h = net.JoinHostPort(host, port)
	}
	r := Result{Known: true, Downloads: []Download{NewDownload("ftp", h, remote)}}
	if local != "-" {
		if err := st.FS.Touch(d.resolve(st, local), fetchSize(host, remote), st.now()); err != nil {
			r.Status = 1
			r.Stderr = "ftpget: can't open '" + local + "': No such file or directory\n"
		}
	}
	return r
}

func (d *BusyBox) ifconfig() Result {
	ip := d.address()
	mask := orDefault(d.Netmask, "255.255.255.0")
	bcast := ip
	if a := net.ParseIP(ip).To4(); a != nil {
		m := net.IPMask(net.ParseIP(mask).To4())
		if len(m) == 4 {
			b := make(net.IP, 4)
			for i := range b {
				b[i] = a[i] | ^m[i]
			}
			bcast = b.String()
		}
	}
	mac := orDefault(d.MAC, "00:0C:43:30:52:77")
	return Result{Known: true, Output: "br0       Link encap:Ethernet  HWaddr " + mac + "  \n" +
		"          inet addr:" + ip + "  Bcast:" + bcast + "  Mask:" + mask + "\n" +
		"          UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1\n" +
		"          RX packets:1918245 errors:0 dropped:0 overruns:0 frame:0\n" +
		"          TX packets:2214781 errors:0 dropped:0 overruns:0 carrier:0\n" +
		"          collisions:0 txqueuelen:0 \n" +
		"          RX bytes:283170339 (270.0 MiB)  TX bytes:1992531027 (1.8 GiB)\n\n" +
		"lo        Link encap:Local Loopback  \n" +
		"          inet addr:127.0.0.1  Mask:255.0.0.0\n" +
		"          UP LOOPBACK RUNNING  MTU:16436  Metric:1\n" +
		"          RX packets:2163 errors:0 dropped:0 overruns:0 frame:0\n" +
		"          TX packets:2163 errors:0 dropped:0 overruns:0 carrier:0\n" +
		"          collisions:0 txqueuelen:0 \n" +
		"          RX bytes:187462 (183.0 KiB)  TX bytes:187462 (183.0 KiB)\n\n"}
}

// input returns the text of the named files, or the command's input.
func (d *BusyBox) input(c *Call, applet string, names []string) (string, string, int) {
	if len(names) == 0 {
		return c.Stdin, "", 0
	}
	var b, errs strings.Builder
	status := 0
	for _, name := range names {
		if name == "-" {
			b.WriteString(c.Stdin)
			continue
		}
		n := c.State.FS.Stat(d.resolve(c.State, name))
		if n == nil || n.Dir {
			errs.WriteString(applet + ": can't open '" + name + "': No such file or directory\n")
			status = 1
			continue
		}
		b.Write(n.Data)
	}
	return b.String(), errs.String(), status
}

func (d *BusyBox) headTail(c *Call, applet string, args []string) Result {
	lines, bytes := 10, -1
	var names []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "-n" || a == "-c") && i+1 < len(args):
			v, _ := strconv.Atoi(strings.TrimPrefix(args[i+1], "+"))
			if a == "-n" {
				lines = v
			} else {
				bytes = v
			}
			i++
		case strings.HasPrefix(a, "-n") || strings.HasPrefix(a, "-c"):
			v, _ := strconv.Atoi(a[2:])
			if a[1] == 'n' {
				lines = v
			} else {
				bytes = v
			}
		case len(a) > 1 && a[0] == '-' && isDigits(a[1:]):
			lines, _ = strconv.Atoi(a[1:])
		case strings.HasPrefix(a, "-") && a != "-":
		default:
			names = append(names, a)
		}
	}
	text, errs, status := d.input(c, applet, names)
	var out string
	switch {
	case bytes >= 0 && applet == "head":
		out = text[:min(bytes, len(text))]
	case bytes >= 0:
		out = text[len(text)-min(bytes, len(text)):]
	default:
		ls := strings.SplitAfter(text, "\n")
		if len(ls) > 0 && ls[len(ls)-1] == "" {
			ls = ls[:len(ls)-1]
		}
		lines = max(lines, 0)
		if applet == "head" {
			ls = ls[:min(lines, len(ls))]
		} else {
			ls = ls[len(ls)-min(lines, len(ls)):]
		}
		out = strings.Join(ls, "")
	}
	return Result{Known: true, Status: status, Output: out, Stderr: errs}
}

func (d *BusyBox) grep(c *Call, args []string) Result {
	invert, fold, count, quiet := false, false, false, false
	pattern, havePattern := "", false
	var names []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-e" && i+1 < len(args):
			pattern, havePattern = args[i+1], true
			i++
		case strings.HasPrefix(a, "-") && len(a) > 1:
			invert = invert || strings.Contains(a, "v")
			fold = fold || strings.Contains(a, "i")
			count = count || strings.Contains(a, "c")
			quiet = quiet || strings.Contains(a, "q")
		case !havePattern:
			pattern, havePattern = a, true
		default:
			names = append(names, a)
		}
	}
	if !havePattern {
		return d.usage("grep", "[-HhnlLoqvsriwFE] [-m N] [-A/B/C N] PATTERN/-e PATTERN.../-f FILE [FILE]...")
	}
	text, errs, status := d.input(c, "grep", names)
	needle := pattern
	if fold {
		needle = strings.ToLower(needle)
	}
	var b strings.Builder
	n := 0
	for _, l := range strings.SplitAfter(text, "\n") {
		if l == "" {
			continue
		}
		hay := strings.TrimSuffix(l, "\n")
		if fold {
			hay = strings.ToLower(hay)
		}
		if strings.Contains(hay, needle) != invert {
			n++
			if !count && !quiet {
				b.WriteString(strings.TrimSuffix(l, "\n") + "\n")
			}
		}
	}
	if count {
		b.WriteString(strconv.Itoa(n) + "\n")
	}
	if n == 0 && status == 0 {
		status = 1
	}
	return Result{Known: true, Status: status, Output: b.String(), Stderr: errs}
}

func (d *BusyBox) wc(c *Call, args []string) Result {
	flags, names := flagsAndNames(args)
	if flags == "" {
		flags = "lwc"
	}
	text, errs, status := d.input(c, "wc", names)
	var vals []string
	if strings.Contains(flags, "l") {
		vals = append(vals, strconv.Itoa(strings.Count(text, "\n")))
	}
	if strings.Contains(flags, "w") {
		vals = append(vals, strconv.Itoa(len(strings.Fields(text))))
	}
	if strings.Contains(flags, "c") {
		vals = append(vals, strconv.Itoa(len(text)))
	}
	var out string
	if len(vals) == 1 && len(names) == 0 {
		out = vals[0] + "\n"
	} else {
		for _, v := range vals {
			out += fmt.Sprintf("%9s", v)
		}
		if len(names) > 0 {
			out += " " + strings.Join(names, " ")
		}
		out += "\n"
	}
	return Result{Known: true, Status: status, Output: out, Stderr: errs}
}

func (d *BusyBox) dd(c *Call, args []string) Result {
	st := c.State
	in, of := "", ""
	bs, count, skip := 512, -1, 0
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(strings.TrimRight(v, "kKcw"))
		switch k {
		case "if":
			in = v
		case "of":
			of = v
		case "bs", "ibs":
			if n > 0 {
				bs = min(n, 1<<20)
			}
		case "count":
			count = n
		case "skip":
			skip = n
		}
	}
	data := c.Stdin
	if in != "" {
		n := st.FS.Stat(d.resolve(st, in))
		if n == nil || n.Dir {
			return Result{Known: true, Status: 1, Stderr: "dd: can't open '" + in + "': No such file or directory\n"}
		}
		data = string(n.Data)
	}
	start := min(skip*bs, len(data))
	data = data[start:]
	if count >= 0 {
		data = data[:min(count*bs, len(data))]
	}
	full, part := len(data)/bs, 0
	if len(data)%bs != 0 {
		part = 1
	}
	stats := fmt.Sprintf("%d+%d records in\n%d+%d records out\n", full, part, full, part)
	if of != "" {
		if parts, ok := d.Path(st, of); ok {
			if err := st.FS.WriteFile(parts, []byte(data), false, st.now()); err != nil {
				return Result{Known: true, Status: 1, Stderr: "dd: can't open '" + of + "': No such file or directory\n"}
			}
		}
		return Result{Known: true, Stderr: stats}
	}
	return Result{Known: true, Output: data, Stderr: stats}
}

func (d *BusyBox) md5sum(c *Call, args []string) Result {
	_, names := flagsAndNames(args)
	if len(names) == 0 {
		s := md5.Sum([]byte(c.Stdin))
		return Result{Known: true, Output: hex.EncodeToString(s[:]) + "  -\n"}
	}
	var b, errs strings.Builder
	status := 0
	for _, name := range names {
		n := c.State.FS.Stat(d.resolve(c.State, name))
		if n == nil || n.Dir {
			errs.WriteString("md5sum: can't open '" + name + "': No such file or directory\n")
			status = 1
			continue
		}
		s := md5.Sum(n.Data)
		b.WriteString(hex.EncodeToString(s[:]) + "  " + name + "\n")
	}
	return Result{Known: true, Status: status, Output: b.String(), Stderr: errs.String()}
}
