package telnet

import (
	"context"
	"strings"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/shell"
)

// Bounds of what the events of a session carry.
const (
	maxCommandOutput = 8 << 10 // output kept in a command event
	maxOptionItems   = 64      // negotiation items recorded per session
	maxOptionText    = 4 << 10 // bytes of the negotiation record
	readChunk        = 1024
)

// conn is one telnet session.
type conn struct {
	ctx  context.Context
	srv  *Server
	sess *service.Session
	cfg  *Config

	parser  Parser
	neg     Negotiator
	ed      editor
	pending []byte // data bytes parsed and not yet edited
	out     []byte // bytes waiting to be sent
	chunk   []byte
	err     error // the read error that ended input, once seen

	opsSeen   []string // the client's negotiation, for the record
	replies   []string // the server's, for the record
	opsText   int
	opsCut    bool
	sentTType bool

	busybox bool
	sh      *shell.Shell
}

func newConn(ctx context.Context, s *Server, sess *service.Session) *conn {
	c := &conn{ctx: ctx, srv: s, sess: sess, cfg: s.cfg, busybox: s.cfg.Persona.Kind == KindBusyBox}
	c.parser.MaxSub = s.cfg.MaxSubnegotiation
	c.ed.max = s.cfg.MaxLine
	c.neg.Passive = c.busybox
	if !c.busybox {
		c.neg.Will = []byte{optEcho, optSGA, optBinary}
		c.neg.Do = []byte{optSGA, optNAWS, optTType, optBinary, optNewEnviron, optAuth}
	}
	return c
}

// serve runs the session: greeting, login, shell.
func (c *conn) serve() {
	p := c.cfg.Persona
	// The greeting goes out exactly as configured; the negotiator learns
	// what it asked.
	c.out = append(c.out, c.srv.greeting...)
	for i := 0; i+2 < len(c.srv.greeting); i += 3 {
		c.neg.Request(c.srv.greeting[i+1], c.srv.greeting[i+2])
		c.replies = append(c.replies, Op{Cmd: c.srv.greeting[i+1], Option: c.srv.greeting[i+2]}.String())
	}
	if !c.busybox {
		// Windows' server waits for the answers before it goes on.
		if !c.flush() || !c.pause(c.cfg.NegotiationWait) {
			return
		}
		c.send(c.neg.Request(cmdDO, optTType))
	}
	c.out = append(c.out, p.Banner...)
	user, ok := c.login()
	if !ok {
		return
	}
	c.shell(user)
}

// loginPrompt is the persona's login prompt.
func (c *conn) loginPrompt() string {
	p := c.cfg.Persona
	if p.LoginPrompt == "" {
		return p.Hostname + " login: "
	}
	return p.LoginPrompt
}

// login asks for credentials until the policy lets one pair in or the
// client used up its tries; every complete attempt is an event.
func (c *conn) login() (string, bool) {
	p := c.cfg.Persona
	failures := 0
	empty := 0
	for {
		c.out = append(c.out, c.loginPrompt()...)
		user, end, ok := c.readLine(false)
		if !ok {
			return "", false
		}
		if end == endIntr || end == endEOF || strings.TrimSpace(user) == "" {
			// An empty name: the prompt again (BusyBox's login gives up
			// after a few).
			empty++
			if empty >= 5 {
				c.flush()
				return "", false
			}
			continue
		}
		c.out = append(c.out, p.PasswordPrompt...)
		pass, end, ok := c.readLine(true)
		if !ok && pass == "" {
			return "", false
		}
		// The password was not echoed, nor its Enter.
		c.out = append(c.out, '\r', '\n')
		if end == endIntr {
			continue
		}
		success := c.srv.policy.Check(c.sess.Remote.Addr(), user, pass)
		c.sess.Emit(&event.Login{User: user, Password: pass, Method: "password", Success: success})
		if success {
			return user, true
		}
		if !c.flush() || !c.pause(c.cfg.FailDelay) {
			return "", false
		}
		c.out = append(c.out, p.LoginFailed...)
		failures++
		if failures >= c.cfg.MaxTries || !ok {
			c.flush()
			return "", false
		}
	}
}

// echoOn says whether typed characters are echoed: always by BusyBox
// (its pty echoes), by Windows while the client lets the server echo.
func (c *conn) echoOn() bool {
	return c.busybox || c.neg.Us(optEcho)
}

// shell runs the fake shell for user until exit or end of input.
func (c *conn) shell(user string) {
	p := c.cfg.Persona
	fs := shell.NewFS(c.srv.tree)
	fs.MaxEntries, fs.MaxBytes = c.cfg.FSEntries, int64(c.cfg.FSBytes)
	var dialect shell.Dialect
	var st *shell.State
	if c.busybox {
		home := "/root"
		if user != "root" {
			home = "/home"
		}
		st = c.srv.bb.NewState(fs, user, home)
		dialect = c.srv.bb
		welcome := p.Welcome
		if welcome == "" {
			welcome = c.srv.bb.Banner()
		}
		c.write(welcome)
	} else {
		d := *c.srv.cmd
		d.Privileged = isAdmin(user)
		dialect = &d
		st = c.windowsState(&d, fs, user)
		c.out = append(c.out, p.Welcome...)
	}
	st.Now = c.srv.now
	c.sh = &shell.Shell{Dialect: dialect, State: st}
	for n := 0; n < c.cfg.MaxCommands; {
		c.out = append(c.out, c.prompt()...)
		line, end, ok := c.readLine(false)
		if !ok && line == "" {
			return
		}
		switch end {
		case endIntr:
			continue
		case endEOF:
			if c.busybox {
				c.flush()
				return
			}
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		n++
		ex := c.sh.Exec(line)
		c.record(line, end == endCut, ex)
		if ex.Output != "" {
			c.write(ex.Output)
		}
		if ex.Exit || !ok {
			c.flush()
			return
		}
		if !c.busybox {
			// cmd.exe leaves a blank line before its next prompt.
			c.out = append(c.out, '\r', '\n')
		}
	}
	// The session's lines are used up.
	c.flush()
}

// isAdmin reports whether a Windows account name is the administrator's.
func isAdmin(user string) bool {
	if i := strings.LastIndexByte(user, '\\'); i >= 0 {
		user = user[i+1:]
	}
	return strings.EqualFold(user, "administrator")
}

// windowsState is cmd.exe's state for user: its profile directory as the
// working directory and an interactive user's environment.
func (c *conn) windowsState(d *shell.Cmd, fs *shell.FS, user string) *shell.State {
	name := user
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`\/:*?"<>|`, r) || r < 0x20 {
			return -1
		}
		return r
	}, strings.TrimSpace(name))
	if name == "" {
		name = "Administrator"
	}
	profiles := []string{"C:", "Documents and Settings"}
	dir := append(profiles, name)
	if n := fs.Stat(dir); n != nil && n.Dir {
		name = n.Name
	} else if err := fs.Mkdir(dir, c.srv.now()); err != nil {
		name = "Default User"
	}
	home := `C:\Documents and Settings\` + name
	st := d.NewState(fs, home)
	st.Env["USERNAME"] = name
	st.Env["USERDOMAIN"] = strings.ToUpper(orDefault(c.cfg.Persona.Hostname, "WEBSERVER"))
	st.Env["USERPROFILE"] = home
	st.Env["HOMEDRIVE"] = "C:"
	st.Env["HOMEPATH"] = `\Documents and Settings\` + name
	st.Env["APPDATA"] = home + `\Application Data`
	st.Env["ALLUSERSPROFILE"] = `C:\Documents and Settings\All Users`
	st.Env["LOGONSERVER"] = `\\` + st.Env["USERDOMAIN"]
	return st
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// prompt is the shell's prompt for the current state.
func (c *conn) prompt() string {
	st := c.sh.State
	if !c.busybox {
		return st.Cwd + ">"
	}
	user := st.Env["USER"]
	var b strings.Builder
	ps1 := c.cfg.Persona.Prompt
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
			b.WriteString(strings.SplitN(c.srv.bb.Hostname, ".", 2)[0])
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
	return strings.ReplaceAll(b.String(), "\n", "\r\n")
}

// record emits what one shell line did: the command, its fetches, and
// the files built with echo that it ran or made executable.
func (c *conn) record(line string, cut bool, ex shell.Execution) {
	out := ex.Output
	if len(out) > maxCommandOutput {
		out = out[:maxCommandOutput]
	}
	c.sess.Emit(&event.Command{Line: line, Shell: c.sh.Dialect.Name(), Output: out, Known: ex.Known, Truncated: cut})
	for _, d := range ex.Downloads {
		c.sess.Emit(&event.Download{URL: d.URL, Protocol: d.Protocol, Host: d.Host, Path: d.Path, Command: line})
	}
	c.keep(ex.Drops)
}

// keep stores files built with echo as samples, each with an upload
// event.
func (c *conn) keep(drops []shell.Drop) {
	for _, d := range drops {
		sha, err := c.sess.SaveSample(d.Data, "telnet.echo", d.Name)
		if err != nil {
			c.sess.Log.Warn("sample not stored", "service", c.sess.Service, "session", c.sess.SessionID,
				"src", c.sess.Remote.String(), "err", err)
		}
		c.sess.Emit(&event.Upload{Name: d.Name, Size: int64(len(d.Data)), SHA256: sha, Via: "echo"})
	}
}

// finish records what only the session's end completes: files built with
// echo and never run, and the option negotiation.
func (c *conn) finish() {
	if c.sh != nil {
		c.keep(c.sh.Flush())
	}
	if len(c.opsSeen) > 0 {
		line := strings.Join(c.opsSeen, ", ")
		if c.opsCut {
			line += ", ..."
		}
		c.sess.Emit(&event.Command{Line: line, Shell: "telnet-options", Output: strings.Join(c.replies, ", "),
			Known: true, Truncated: c.opsCut})
	}
}

// readLine returns the next line the client typed, echoing it as the
// persona does unless it is secret (a password). ok is false once input
// has ended; a last line without its end is still returned then.
func (c *conn) readLine(secret bool) (string, lineEnd, bool) {
	var eb []byte
	for {
		for len(c.pending) > 0 {
			b := c.pending[0]
			c.pending = c.pending[1:]
			eb = eb[:0]
			end := c.ed.feed(b, &eb)
			if len(eb) > 0 && !secret && c.echoOn() {
				c.out = appendEscaped(c.out, eb)
			}
			if end != endNone {
				if end == endEOF {
					return "", end, true
				}
				return c.ed.take(), end, true
			}
		}
		if c.err != nil {
			line := c.ed.take()
			return line, endEnter, false
		}
		if !c.flush() {
			return "", endNone, false
		}
		if c.chunk == nil {
			c.chunk = make([]byte, readChunk)
		}
		n, err := c.sess.Reader().Read(c.chunk)
		if n > 0 {
			c.input(c.chunk[:n])
		}
		if err != nil {
			c.err = err
		}
	}
}

// input parses bytes from the client: data goes to the editor, commands
// to the negotiator, whose answers are sent with the next output.
func (c *conn) input(b []byte) {
	var ops []Op
	c.pending, ops = c.parser.Feed(b, c.pending, nil)
	for _, op := range ops {
		c.note(op.String())
		reply, changed := c.neg.Receive(op)
		c.send(reply)
		if c.busybox || op.Cmd != cmdWILL || !changed {
			continue
		}
		switch op.Option {
		case optAuth:
			// The client would authenticate with NTLM, which this
			// server does not carry out: it withdraws the offer, and
			// the client logs in with a name and password.
			c.send(c.neg.Request(cmdDONT, optAuth))
		case optTType:
			if !c.sentTType {
				c.sentTType = true
				c.send([]byte{cmdIAC, cmdSB, optTType, 1, cmdIAC, cmdSE})
			}
		}
	}
}

// send queues bytes of the server's negotiation and records them.
func (c *conn) send(b []byte) {
	if len(b) == 0 {
		return
	}
	c.out = append(c.out, b...)
	var ops []Op
	var p Parser
	_, ops = p.Feed(b, nil, nil)
	for _, op := range ops {
		if len(c.replies) < maxOptionItems {
			c.replies = append(c.replies, op.String())
		}
	}
}

// note records one of the client's telnet commands, bounded.
func (c *conn) note(s string) {
	if len(c.opsSeen) >= maxOptionItems || c.opsText+len(s) > maxOptionText {
		c.opsCut = true
		return
	}
	c.opsSeen = append(c.opsSeen, s)
	c.opsText += len(s) + 2
}

// write queues shell or persona text: line ends become CR LF where the
// persona's terminal makes them so (BusyBox's pty turns every LF into
// CR LF), and IAC bytes are doubled.
func (c *conn) write(s string) {
	if c.busybox {
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	c.out = appendEscaped(c.out, []byte(s))
}

// appendEscaped appends data with every IAC byte doubled.
func appendEscaped(dst, data []byte) []byte {
	for _, b := range data {
		if b == cmdIAC {
			dst = append(dst, cmdIAC)
		}
		dst = append(dst, b)
	}
	return dst
}

// flush sends what is queued; false once the connection failed.
func (c *conn) flush() bool {
	if len(c.out) == 0 {
		return c.ctx.Err() == nil
	}
	_, err := c.sess.Write(c.out)
	c.out = c.out[:0]
	return err == nil
}

// pause waits d, or less if the session ends.
func (c *conn) pause(d time.Duration) bool {
	if d <= 0 {
		return c.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
