package ssh

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/smallpot/smallpot/internal/shell"
)

// host is the fake machine one connection sees: one disk, shared by the
// connection's channels (a file sent with scp on one is run from a shell
// on another), which run concurrently: every use holds mu.
type host struct {
	mu      sync.Mutex
	fs      *shell.FS
	windows bool
	home    []string // the user's home directory, FS parts
	now     func() time.Time
}

// sftpView is the host's disk in SFTP's notation: Unix paths, and on
// Windows "/C:/dir/file" as Win32-OpenSSH writes them.
type sftpView struct{ h *host }

var _ sftpFS = sftpView{}

// parts turns an absolute path of the view into FS parts.
func (v sftpView) parts(p string) []string {
	if v.h.windows {
		p = strings.TrimPrefix(p, "/")
		if p == "" {
			return []string{"C:"}
		}
		return shell.WinResolve(nil, p)
	}
	return shell.UnixSplit(p)
}

func (v sftpView) join(parts []string) string {
	if v.h.windows {
		if len(parts) == 0 {
			return "/C:"
		}
		return "/" + strings.Join(parts, "/")
	}
	return shell.UnixJoin(parts)
}

// Abs implements sftpFS: p resolved against the home directory.
func (v sftpView) Abs(p string) string {
	if v.h.windows {
		q := strings.ReplaceAll(p, `\`, "/")
		switch {
		case len(q) >= 3 && q[0] == '/' && q[2] == ':':
			return v.join(shell.WinResolve(nil, q[1:]))
		case q == "/":
			return "/C:"
		}
		return v.join(shell.WinResolve(v.h.home, q))
	}
	return v.join(shell.UnixResolve(v.h.home, p))
}

func info(n *shell.Node) fileInfo {
	mode := n.Mode
	return fileInfo{Name: n.Name, Dir: n.Dir, Link: n.Link != "", Size: n.Size, Mode: mode, Mod: n.Mod}
}

// Stat implements sftpFS.
func (v sftpView) Stat(p string) (fileInfo, bool) {
	v.h.mu.Lock()
	defer v.h.mu.Unlock()
	parts := v.parts(p)
	n := v.h.fs.Stat(parts)
	if n == nil {
		return fileInfo{}, false
	}
	fi := info(n)
	if len(parts) == 0 || (v.h.windows && len(parts) == 1) {
		fi.Name, fi.Dir = "/", true
	}
	return fi, true
}

// List implements sftpFS.
func (v sftpView) List(p string) ([]fileInfo, bool) {
	v.h.mu.Lock()
	defer v.h.mu.Unlock()
	nodes, ok := v.h.fs.List(v.parts(p))
	if !ok {
		return nil, false
	}
	out := make([]fileInfo, 0, len(nodes))
	for _, n := range nodes {
		if n.Hidden {
			continue
		}
		out = append(out, info(n))
	}
	return out, true
}

// Read implements sftpFS.
func (v sftpView) Read(p string) ([]byte, bool) {
	v.h.mu.Lock()
	defer v.h.mu.Unlock()
	n := v.h.fs.Stat(v.parts(p))
	if n == nil || n.Dir {
		return nil, false
	}
	return n.Data, true
}

// Write implements sftpFS.
func (v sftpView) Write(p string, data []byte) error {
	v.h.mu.Lock()
	defer v.h.mu.Unlock()
	return v.h.fs.WriteFile(v.parts(p), data, false, v.h.now())
}

// Mkdir implements sftpFS.
func (v sftpView) Mkdir(p string) error {
	v.h.mu.Lock()
	defer v.h.mu.Unlock()
	return v.h.fs.Mkdir(v.parts(p), v.h.now())
}

// Remove implements sftpFS.
func (v sftpView) Remove(p string, dir bool) error {
	v.h.mu.Lock()
	defer v.h.mu.Unlock()
	return v.h.fs.Remove(v.parts(p), dir)
}

// Rename implements sftpFS.
func (v sftpView) Rename(from, to string) error {
	v.h.mu.Lock()
	defer v.h.mu.Unlock()
	src, dst := v.parts(from), v.parts(to)
	n := v.h.fs.Stat(src)
	if n == nil {
		return shell.ErrNotFound
	}
	if err := v.h.fs.Copy(src, dst, n.Mod); err != nil {
		return err
	}
	if n.Mode != 0 {
		_ = v.h.fs.Chmod(dst, n.Mode)
	}
	return v.h.fs.Remove(src, false)
}

// Chmod implements sftpFS.
func (v sftpView) Chmod(p string, mode uint32) error {
	v.h.mu.Lock()
	defer v.h.mu.Unlock()
	return v.h.fs.Chmod(v.parts(p), mode)
}

func isNotFound(err error) bool {
	return errors.Is(err, shell.ErrNotFound) || errors.Is(err, shell.ErrNotDir)
}

// newShell returns a login shell for the connection's user on its host.
func (c *conn) newShell() *shell.Shell {
	h := c.host
	h.mu.Lock()
	defer h.mu.Unlock()
	var d shell.Dialect
	var st *shell.State
	if h.windows {
		cmd := *c.srv.cmd
		cmd.Privileged = strings.EqualFold(windowsName(c.user), "administrator")
		home := shell.WinJoin(h.home)
		st = cmd.NewState(h.fs, home)
		name := h.home[len(h.home)-1]
		domain := strings.ToUpper(c.srv.persona.Hostname)
		for k, v := range map[string]string{
			"USERNAME": name, "USERDOMAIN": domain, "USERPROFILE": home, "HOMEDRIVE": "C:",
			"HOMEPATH": strings.TrimPrefix(home, "C:"), "APPDATA": home + `\Application Data`,
			"ALLUSERSPROFILE": `C:\Documents and Settings\All Users`, "LOGONSERVER": `\\` + domain,
		} {
			st.Env[k] = v
		}
		d = &cmd
	} else {
		st = c.srv.bb.NewState(h.fs, c.user, shell.UnixJoin(h.home))
		d = c.srv.bb
	}
	st.Now = c.srv.now
	return &shell.Shell{Dialect: d, State: st}
}

// welcome is what a login shell prints first: cmd.exe's banner (with its
// first prompt) or ash's.
func (c *conn) welcome(sh *shell.Shell) string {
	if d, ok := sh.Dialect.(*shell.Cmd); ok {
		return d.Banner(sh.State.Cwd)
	}
	return c.srv.bb.Banner()
}

// prompt is the shell's prompt for its current state.
func (c *conn) prompt(sh *shell.Shell) string {
	st := sh.State
	if c.host.windows {
		return st.Cwd + ">"
	}
	user := st.Env["USER"]
	ps1 := c.srv.persona.Prompt
	var b strings.Builder
	for i := 0; i < len(ps1); i++ {
		if ps1[i] != '\\' || i+1 == len(ps1) {
			b.WriteByte(ps1[i])
			continue
		}
		i++
		switch ps1[i] {
		case 'u':
			b.WriteString(user)
		case 'h':
			host, _, _ := strings.Cut(c.srv.persona.Hostname, ".")
			b.WriteString(host)
		case 'w':
			w := st.Cwd
			if home := st.Env["HOME"]; home != "/" && (w == home || strings.HasPrefix(w, home+"/")) {
				w = "~" + w[len(home):]
			}
			b.WriteString(w)
		case 'W':
			w := st.Cwd
			if j := strings.LastIndexByte(w, '/'); j >= 0 && w != "/" {
				w = w[j+1:]
			}
			b.WriteString(w)
		case '$':
			if user == "root" {
				b.WriteByte('#')
			} else {
				b.WriteByte('$')
			}
		default:
			b.WriteByte('\\')
			b.WriteByte(ps1[i])
		}
	}
	return b.String()
}
