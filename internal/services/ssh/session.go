package ssh

import (
	"path"
	"strings"
	"sync"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/shell"
)

// Bounds of a session channel.
const (
	maxCommandOutput = 8 << 10 // output kept in a command event
	readChunk        = 4 << 10
)

// session is one session channel: a shell, a command or a subsystem.
type session struct {
	c  *conn
	ch xssh.Channel

	pty        bool
	term       string
	cols, rows int
	started    bool

	mu   sync.Mutex // guards rec, which a window change reaches
	rec  *cast
	work sync.WaitGroup
	in   chan []byte
	stop chan struct{}
}

// session serves a channel's requests until it closes; the work a
// request starts runs beside it.
func (c *conn) session(ch xssh.Channel, reqs <-chan *xssh.Request) {
	s := &session{c: c, ch: ch, cols: 80, rows: 24}
	defer s.work.Wait()
	for req := range reqs {
		ok, run := s.request(req)
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
		if run != nil {
			s.start(run)
		}
	}
}

// request answers one channel request; run is the work it starts.
func (s *session) request(req *xssh.Request) (ok bool, run func()) {
	switch req.Type {
	case "pty-req":
		var m struct {
			Term          string
			Cols, Rows    uint32
			Width, Height uint32
			Modes         string
		}
		if xssh.Unmarshal(req.Payload, &m) != nil || s.started {
			return false, nil
		}
		s.pty, s.term, s.cols, s.rows = true, cut(m.Term, 64), int(m.Cols), int(m.Rows)
		return true, nil
	case "window-change":
		var m struct{ Cols, Rows, Width, Height uint32 }
		if xssh.Unmarshal(req.Payload, &m) == nil {
			s.mu.Lock()
			rec := s.rec
			s.mu.Unlock()
			rec.resize(int(m.Cols), int(m.Rows))
		}
		return false, nil
	case "env":
		// sshd takes only the variables AcceptEnv names (Debian: LANG
		// and LC_*); the shell's environment stays the persona's.
		var m struct{ Name, Value string }
		if xssh.Unmarshal(req.Payload, &m) != nil {
			return false, nil
		}
		return m.Name == "LANG" || strings.HasPrefix(m.Name, "LC_"), nil
	case "shell":
		if s.started {
			return false, nil
		}
		s.started = true
		// The recording starts with the request, so a window change
		// that follows it at once is in it.
		env := map[string]string{"SHELL": "/bin/sh"}
		if s.c.host.windows {
			env["SHELL"] = `C:\WINNT\system32\cmd.exe`
		}
		if s.term != "" {
			env["TERM"] = s.term
		}
		rec := newCast(s.c.srv.now, s.cols, s.rows, env, int(s.c.srv.cfg.MaxCast))
		s.mu.Lock()
		s.rec = rec
		s.mu.Unlock()
		return true, s.runShell
	case "exec":
		var m struct{ Command string }
		if xssh.Unmarshal(req.Payload, &m) != nil || s.started {
			return false, nil
		}
		s.started = true
		return true, func() { s.runExec(m.Command) }
	case "subsystem":
		var m struct{ Name string }
		if xssh.Unmarshal(req.Payload, &m) != nil || s.started {
			return false, nil
		}
		if m.Name != "sftp" || !s.c.srv.cfg.SFTP {
			s.c.sess.Emit(&event.Command{Line: "subsystem " + cut(m.Name, 64), Shell: "ssh", Known: false})
			return false, nil
		}
		s.started = true
		return true, s.runSFTP
	}
	// x11-req, auth-agent-req@openssh.com, signal, break, ...
	return false, nil
}

// start runs the channel's work, with a reader that hands it the
// client's input.
func (s *session) start(run func()) {
	s.in = make(chan []byte)
	s.stop = make(chan struct{})
	s.work.Add(2)
	go func() {
		defer s.work.Done()
		defer s.c.recoverPanic()
		s.pump()
	}()
	go func() {
		defer s.work.Done()
		defer close(s.stop)
		defer s.c.recoverPanic()
		run()
	}()
}

// pump reads the channel until it ends or the work is done.
func (s *session) pump() {
	defer close(s.in)
	for {
		buf := make([]byte, readChunk)
		n, err := s.ch.Read(buf)
		if n > 0 {
			select {
			case s.in <- buf[:n]:
			case <-s.stop:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// recv returns the client's next input; ok is false at its end. With a
// wait above zero, timedOut reports that nothing came within it.
func (s *session) recv(wait time.Duration) (p []byte, ok, timedOut bool) {
	var tc <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		tc = t.C
	}
	select {
	case p, ok = <-s.in:
		return p, ok, false
	case <-tc:
		return nil, true, true
	case <-s.c.ctx.Done():
		return nil, false, false
	}
}

// write sends output to the client and the recording.
func (s *session) write(p []byte) bool {
	if len(p) == 0 {
		return true
	}
	s.mu.Lock()
	rec := s.rec
	s.mu.Unlock()
	rec.output(p)
	_, err := s.ch.Write(p)
	return err == nil
}

// exit ends the channel as sshd does when its command ends: exit status,
// end of data, close.
func (s *session) exit(status int) {
	_, _ = s.ch.SendRequest("exit-status", false, xssh.Marshal(struct{ Status uint32 }{uint32(status)}))
	_ = s.ch.CloseWrite()
	_ = s.ch.Close()
}

// terminal converts shell output for the client: BusyBox's pty turns LF
// into CR LF; cmd.exe writes CR LF itself.
func (s *session) terminal(out string) []byte {
	if s.pty && !s.c.host.windows {
		out = strings.ReplaceAll(out, "\r\n", "\n")
		out = strings.ReplaceAll(out, "\n", "\r\n")
	}
	return []byte(out)
}

// runShell is an interactive shell: a prompt, lines, commands, until
// exit or the end of input. It is recorded as an asciicast file.
func (s *session) runShell() {
	c := s.c
	s.mu.Lock()
	rec := s.rec
	s.mu.Unlock()
	defer func() {
		if _, err := c.sess.SaveSample(rec.bytes(), "ssh.asciicast", ""); err != nil {
			c.sess.Log.Warn("sample not stored", "service", c.sess.Service, "session", c.sess.SessionID,
				"src", c.sess.Remote.String(), "err", err)
		}
	}()
	sh := c.newShell()
	status := s.interact(sh, rec, true)
	s.flushDrops(sh)
	s.exit(status)
}

// interact reads lines from the client and runs them; banner says
// whether the shell greets (an interactive login shell does). It returns
// the exit status.
func (s *session) interact(sh *shell.Shell, rec *cast, banner bool) int {
	c := s.c
	interactive := s.pty || c.host.windows
	if banner && interactive {
		s.write(s.terminal(c.welcome(sh)))
	}
	if interactive && !c.host.windows {
		s.write(s.terminal(c.prompt(sh)))
	}
	ed := editor{max: c.srv.cfg.MaxLine, echo: s.pty}
	status := 0
	var echo []byte
	for {
		p, ok, _ := s.recv(0)
		if !ok {
			break
		}
		rec.input(p)
		for _, b := range p {
			echo = echo[:0]
			end := ed.feed(b, &echo)
			if len(echo) > 0 && !s.write(echo) {
				return status
			}
			switch end {
			case endNone:
				continue
			case endEOF:
				if !c.host.windows {
					return status
				}
				continue
			case endIntr:
				if interactive {
					s.write(s.terminal(c.prompt(sh)))
				}
				continue
			}
			line, truncated := ed.take()
			ex, ran := s.run(sh, line, truncated)
			if ran {
				status = ex.Status
				if ex.Output != "" && !s.write(s.terminal(ex.Output)) {
					return status
				}
				if ex.Exit {
					return status
				}
				if c.host.windows {
					s.write([]byte("\r\n"))
				}
			}
			if interactive {
				s.write(s.terminal(c.prompt(sh)))
			}
		}
	}
	// Input ended: a last line without its end still runs, as a shell
	// reading a script does.
	if line, truncated := ed.take(); strings.TrimSpace(line) != "" {
		ex, _ := s.run(sh, line, truncated)
		status = ex.Status
		s.write(s.terminal(ex.Output))
	}
	return status
}

// run runs one line in the shell and records it; ran is false for a
// blank line.
func (s *session) run(sh *shell.Shell, line string, truncated bool) (shell.Execution, bool) {
	if strings.TrimSpace(line) == "" {
		return shell.Execution{}, false
	}
	h := s.c.host
	h.mu.Lock()
	ex := sh.Exec(line)
	h.mu.Unlock()
	s.c.record(sh, line, truncated, ex)
	return ex, true
}

// record emits what one command line did: the command, its fetches, and
// the files built with echo that it ran or made executable.
func (c *conn) record(sh *shell.Shell, line string, truncated bool, ex shell.Execution) {
	out := ex.Output
	if len(out) > maxCommandOutput {
		out = out[:maxCommandOutput]
	}
	c.sess.Emit(&event.Command{Line: line, Shell: sh.Dialect.Name(), Output: out, Known: ex.Known, Truncated: truncated})
	for _, d := range ex.Downloads {
		c.sess.Emit(&event.Download{URL: d.URL, Protocol: d.Protocol, Host: d.Host, Path: d.Path, Command: line})
	}
	c.keepDrops(ex.Drops)
}

func (c *conn) keepDrops(drops []shell.Drop) {
	for _, d := range drops {
		c.keep(d.Data, "ssh.echo", d.Name, "echo", int64(len(d.Data)), false)
	}
}

func (s *session) flushDrops(sh *shell.Shell) {
	h := s.c.host
	h.mu.Lock()
	drops := sh.Flush()
	h.mu.Unlock()
	s.c.keepDrops(drops)
}

// runExec runs an exec request's command.
func (s *session) runExec(command string) {
	c := s.c
	line, truncated := command, false
	if len(line) > c.srv.cfg.MaxLine {
		line, truncated = line[:c.srv.cfg.MaxLine], true
	}
	sh := c.newShell()
	args := strings.Fields(line)
	switch {
	case c.srv.cfg.SCP && isSCP(args):
		s.runSCP(sh, line, args)
		return
	case readsScript(args, c.host.windows):
		// sh, bash, cmd.exe: the commands come on the input.
		c.record(sh, line, truncated, shell.Execution{Known: true})
		status := s.interact(sh, nil, c.host.windows)
		s.flushDrops(sh)
		s.exit(status)
		return
	}
	if strings.Contains(strings.TrimRight(line, "\r\n"), "\n") && !c.host.windows {
		// A script in one request, as "sh -c" runs it: line by line.
		// (cmd.exe /c stops at the first line end.)
		s.runLines(sh, line)
		return
	}
	if i := strings.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	data, total, cutIn := s.stdin()
	ex, _ := s.run(sh, line, truncated)
	if len(data) > 0 {
		name := s.storeStdin(sh, line, data)
		c.keep(data, "ssh.stdin", name, "stdin", total, cutIn)
	}
	s.write(s.terminal(ex.Output))
	s.flushDrops(sh)
	s.exit(ex.Status)
}

// runLines runs a command of several lines, each recorded, until one
// exits.
func (s *session) runLines(sh *shell.Shell, script string) {
	status := 0
	for _, line := range strings.Split(script, "\n") {
		ex, ran := s.run(sh, strings.TrimSuffix(line, "\r"), false)
		if !ran {
			continue
		}
		status = ex.Status
		s.write(s.terminal(ex.Output))
		if ex.Exit {
			break
		}
	}
	s.flushDrops(sh)
	s.exit(status)
}

// stdin collects what the client pipes to a command: until it closes its
// input, or nothing for stdin_wait, or bytes and then a pause of the
// same length (an interactive client never closes it). It keeps up to
// max_upload bytes and counts them all.
func (s *session) stdin() (data []byte, total int64, cutIn bool) {
	max := int(s.c.srv.cfg.MaxUpload)
	wait := s.c.srv.cfg.StdinWait
	if wait <= 0 {
		return nil, 0, false
	}
	for {
		p, ok, timedOut := s.recv(wait)
		if !ok || timedOut {
			return data, total, cutIn
		}
		total += int64(len(p))
		keep := min(len(p), max-len(data))
		data = append(data, p[:keep]...)
		if keep < len(p) {
			cutIn = true
		}
	}
}

// storeStdin writes piped input where the command line sends it ("cat >
// FILE", "tee FILE", "dd of=FILE") on the fake disk; it returns that
// name, or "".
func (s *session) storeStdin(sh *shell.Shell, line string, data []byte) string {
	cmds, err := shell.Parse(line, sh.Dialect.Syntax())
	if err != nil {
		return ""
	}
	for _, cmd := range cmds {
		if len(cmd.Args) == 0 {
			continue
		}
		target, appendTo := "", false
		switch path.Base(cmd.Args[0]) {
		case "cat":
			if len(cmd.Args) > 1 && cmd.Args[1] != "-" {
				continue
			}
			for _, r := range cmd.Redirects {
				if r.FD == 1 && (r.Op == ">" || r.Op == ">>") {
					target, appendTo = r.Target, r.Op == ">>"
				}
			}
		case "tee":
			for _, a := range cmd.Args[1:] {
				if !strings.HasPrefix(a, "-") {
					target = a
					break
				}
			}
		case "dd":
			for _, a := range cmd.Args[1:] {
				if v, ok := strings.CutPrefix(a, "of="); ok {
					target = v
				}
			}
		}
		if target == "" {
			continue
		}
		h := s.c.host
		h.mu.Lock()
		if parts, ok := sh.Dialect.Path(sh.State, target); ok {
			_ = h.fs.WriteFile(parts, data, appendTo, h.now())
		}
		h.mu.Unlock()
		return target
	}
	return ""
}

// isSCP reports whether a command is scp's sink: "scp [-r] [-d] [-p] -t
// TARGET".
func isSCP(args []string) bool {
	if len(args) < 2 || path.Base(args[0]) != "scp" {
		return false
	}
	for _, a := range args[1:] {
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") && strings.Contains(a, "t") && !strings.Contains(a, "f") {
			return true
		}
	}
	return false
}

// readsScript reports whether a command is a shell that reads its
// commands from its input.
func readsScript(args []string, windows bool) bool {
	if len(args) == 0 {
		return false
	}
	name := strings.ToLower(path.Base(strings.ReplaceAll(args[0], `\`, "/")))
	rest := args[1:]
	if name == "busybox" && len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	if windows {
		return (name == "cmd" || name == "cmd.exe") && len(rest) == 0
	}
	switch name {
	case "sh", "bash", "ash", "ksh", "zsh", "dash":
		return len(rest) == 0 || (len(rest) == 1 && (rest[0] == "-s" || rest[0] == "-i" || rest[0] == "-"))
	}
	return false
}

// runSCP receives files with scp's sink protocol.
func (s *session) runSCP(sh *shell.Shell, line string, args []string) {
	c := s.c
	c.sess.Emit(&event.Command{Line: line, Shell: "scp", Known: true})
	target := ""
	for i := 1; i < len(args); i++ {
		if args[i] == "--" {
			if i+1 < len(args) {
				target = args[i+1]
			}
			break
		}
		if !strings.HasPrefix(args[i], "-") {
			target = args[i]
			break
		}
	}
	sink := &scpSink{maxFile: int64(c.srv.cfg.MaxUpload)}
	if !s.write(sink.start()) {
		return
	}
	for sink.failed == "" {
		p, ok, _ := s.recv(0)
		if !ok {
			break
		}
		reply, files := sink.feed(p)
		for _, f := range files {
			s.keepSCP(sh, target, f)
		}
		if !s.write(reply) {
			return
		}
	}
	if f, ok := sink.pending(); ok {
		s.keepSCP(sh, target, f)
	}
	if sink.failed != "" {
		s.exit(1)
		return
	}
	s.exit(0)
}

// keepSCP keeps a file received with scp, and writes it to the fake disk:
// into TARGET when it is a directory, as TARGET otherwise.
func (s *session) keepSCP(sh *shell.Shell, target string, f scpFile) {
	name := f.Name
	h := s.c.host
	h.mu.Lock()
	if parts, ok := sh.Dialect.Path(sh.State, orDot(target)); ok {
		if n := h.fs.Stat(parts); n != nil && n.Dir {
			parts = append(append(parts, f.Dir...), f.Name)
		} else if len(f.Dir) > 0 {
			parts = append(append(parts, f.Dir[1:]...), f.Name)
		}
		name = displayPath(sh, parts)
		mkdirs(h, parts[:len(parts)-1])
		if h.fs.WriteFile(parts, f.Data, false, h.now()) == nil && f.Mode != "" {
			var mode uint32
			for _, d := range f.Mode {
				mode = mode<<3 | uint32(d-'0')
			}
			_ = h.fs.Chmod(parts, mode)
		}
	}
	h.mu.Unlock()
	got := int64(len(f.Data))
	if f.Cut && f.Got > got {
		got = f.Got
	}
	s.c.keep(f.Data, "ssh.scp", name, "scp", got, f.Cut)
}

// mkdirs makes the directories of parts that are missing, as scp -r
// does.
func mkdirs(h *host, parts []string) {
	for i := 1; i <= len(parts); i++ {
		if h.fs.Stat(parts[:i]) == nil {
			if h.fs.Mkdir(parts[:i], h.now()) != nil {
				return
			}
		}
	}
}

func orDot(s string) string {
	if s == "" {
		return "."
	}
	return s
}

func displayPath(sh *shell.Shell, parts []string) string {
	if j, ok := sh.Dialect.(shell.Joiner); ok {
		return j.Join(parts)
	}
	return shell.WinJoin(parts)
}

// runSFTP serves the sftp subsystem.
func (s *session) runSFTP() {
	c := s.c
	srv := newSFTPServer(sftpView{h: c.host}, int64(c.srv.cfg.MaxUpload))
	for !srv.failed {
		p, ok, _ := s.recv(0)
		if !ok {
			break
		}
		out, ups, ops := srv.feed(p)
		for _, op := range ops {
			c.sess.Emit(&event.Command{Line: op, Shell: "sftp", Known: true})
		}
		for _, u := range ups {
			c.keep(u.Data, "ssh.sftp", u.Path, "sftp", u.Size, u.Cut)
		}
		if !s.write(out) {
			break
		}
	}
	for _, u := range srv.end() {
		c.keep(u.Data, "ssh.sftp", u.Path, "sftp", u.Size, u.Cut)
	}
	s.exit(0)
}
