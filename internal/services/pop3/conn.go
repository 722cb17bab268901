package pop3

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/sasl"
	"github.com/smallpot/smallpot/internal/service"
)

// conn is one session.
type conn struct {
	srv  *Server
	p    *persona
	r    *replies
	sess *service.Session
	rd   *service.Reader
	ctx  context.Context

	user     string   // given by USER, waiting for PASS
	authed   string   // the user logged in ("" before login)
	box      *Mailbox // the logged-in user's mailbox
	commands int
	errors   int

	// pending is the command line whose reply has not been written yet:
	// the reply's first line becomes its event's output.
	pending *string
	known   bool
}

// write sends one reply (lines separated by CRLF, without the last
// CRLF) and reports whether the client can still be written to.
func (c *conn) write(reply string) bool {
	if c.pending != nil {
		out, _, _ := strings.Cut(reply, "\r\n")
		c.sess.Emit(&event.Command{Line: *c.pending, Shell: "pop3", Output: out, Known: c.known})
		c.pending = nil
	}
	_, err := c.sess.WriteString(reply + "\r\n")
	return err == nil
}

// bad answers a command the persona does not take; it counts towards
// max_errors.
func (c *conn) bad(reply string) bool {
	c.errors++
	return c.write(reply)
}

// unknown answers a command the persona does not know in this state.
func (c *conn) unknown(verb string) bool {
	c.known = false
	if c.authed != "" {
		return c.bad(fill(c.r.unknownAuthed, verb))
	}
	return c.bad(c.r.unknown)
}

// command answers one command line; false ends the session.
func (c *conn) command(line string) bool {
	c.pending, c.known = &line, true
	defer func() {
		if c.pending != nil {
			c.sess.Emit(&event.Command{Line: line, Shell: "pop3", Known: c.known})
			c.pending = nil
		}
	}()
	cmd := ParseCommand(line)
	r := c.r
	switch cmd.Verb {
	case "CAPA":
		return c.capa()
	case "QUIT":
		switch {
		case c.authed == "":
			c.write(fill(r.quit, c.p.version))
		case c.box.AnyDeleted():
			c.write(fill(r.quitDeleted, c.p.version))
		default:
			c.write(fill(r.quitAuthed, c.p.version))
		}
		return false
	case "STLS":
		return c.bad(r.stls)
	}
	if c.authed == "" {
		switch cmd.Verb {
		case "USER":
			if cmd.Arg == "" {
				return c.bad(r.userNoArg)
			}
			c.user = cmd.Arg
			return c.write(r.user)
		case "PASS":
			if c.user == "" {
				return c.bad(r.passNoUser)
			}
			user := c.user
			c.user = ""
			// The password is the rest of the line, blanks and all.
			pass := strings.TrimLeft(line, " \t")[4:]
			if pass != "" && (pass[0] == ' ' || pass[0] == '\t') {
				pass = pass[1:]
			}
			return c.login(user, pass, "password", user, func(pw string) bool { return pw == pass })
		case "APOP":
			if len(cmd.Args) != 2 {
				return c.bad(r.apop)
			}
			// No timestamp was offered, so no digest can be right; the
			// digest is recorded as the password.
			c.sess.Emit(&event.Login{User: cmd.Args[0], Password: cmd.Args[1], Method: "apop"})
			return c.bad(r.apop)
		case "AUTH":
			return c.auth(cmd)
		}
		return c.unknown(cmd.Verb)
	}
	switch cmd.Verb {
	case "STAT":
		n, octets := c.box.Stat()
		return c.write(fill(r.stat, n, octets))
	case "LIST", "UIDL":
		return c.list(cmd)
	case "RETR", "TOP":
		return c.retr(cmd)
	case "DELE":
		n, ok := c.number(cmd.Args)
		if !ok {
			return true
		}
		if why := c.box.Delete(n); why != 0 {
			return c.missing(n, why)
		}
		return c.write(r.dele)
	case "RSET":
		c.box.Reset()
		return c.write(r.rset)
	case "NOOP":
		return c.write(r.noop)
	}
	return c.unknown(cmd.Verb)
}

func (c *conn) capa() bool {
	lines := []string{c.r.capaHead}
	if c.authed == "" {
		lines = append(lines, c.r.capa...)
		if len(c.p.mechs) > 0 {
			lines = append(lines, "SASL "+strings.Join(c.p.mechs, " "))
		}
	} else {
		lines = append(lines, c.r.capaAuthed...)
	}
	return c.write(strings.Join(append(lines, "."), "\r\n"))
}

// number reads the message number of args[0]; on failure it has
// answered.
func (c *conn) number(args []string) (int, bool) {
	if len(args) == 0 {
		c.bad(fill(c.r.badNumber, ""))
		return 0, false
	}
	n, ok := ParseNumber(args[0])
	if !ok {
		c.bad(fill(c.r.badNumber, args[0]))
		return 0, false
	}
	return n, true
}

// missing answers a number that names no message, or a deleted one.
func (c *conn) missing(n, why int) bool {
	if why == Deleted {
		return c.bad(fill(c.r.deleted, n))
	}
	return c.bad(fill(c.r.noSuchMsg, n))
}

func (c *conn) list(cmd Command) bool {
	uidl := cmd.Verb == "UIDL"
	if len(cmd.Args) > 0 {
		n, ok := c.number(cmd.Args)
		if !ok {
			return true
		}
		msg, why := c.box.Get(n)
		if why != 0 {
			return c.missing(n, why)
		}
		if uidl {
			return c.write(fill(c.r.uidlOne, n, c.box.UID(n)))
		}
		return c.write(fill(c.r.listOne, n, len(msg)))
	}
	count, octets := c.box.Stat()
	head := fill(c.r.listHead, count, octets)
	if uidl {
		head = c.r.uidlHead
	}
	lines := []string{head}
	for n := 1; n <= c.box.Len(); n++ {
		msg, why := c.box.Get(n)
		switch {
		case why != 0:
		case uidl:
			lines = append(lines, strconv.Itoa(n)+" "+c.box.UID(n))
		default:
			lines = append(lines, strconv.Itoa(n)+" "+strconv.Itoa(len(msg)))
		}
	}
	return c.write(strings.Join(append(lines, "."), "\r\n"))
}

func (c *conn) retr(cmd Command) bool {
	n, ok := c.number(cmd.Args)
	if !ok {
		return true
	}
	msg, why := c.box.Get(n)
	if why != 0 {
		return c.missing(n, why)
	}
	head := fill(c.r.retr, len(msg))
	if cmd.Verb == "TOP" {
		if len(cmd.Args) < 2 {
			return c.bad(fill(c.r.badLines, ""))
		}
		lines, ok := ParseNumber(cmd.Args[1])
		if !ok {
			return c.bad(fill(c.r.badLines, cmd.Args[1]))
		}
		msg, head = Top(msg, lines), c.r.top
	}
	body := DotStuff(msg)
	return c.write(head + "\r\n" + string(body[:len(body)-2]))
}

// login answers a login attempt by user, whose proof verify checks
// against a password; false ends the session.
func (c *conn) login(user, pass, method string, account string, verify func(string) bool) bool {
	name, ok := c.srv.accepts(account, verify)
	c.sess.Emit(&event.Login{User: user, Password: pass, Method: method, Success: ok})
	if !ok {
		if d := c.srv.cfg.AuthDelay; d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
			}
		}
		return c.write(c.r.loginFail)
	}
	c.authed, c.box = name, c.p.render(name)
	return c.write(c.r.loginOK)
}

// accepts finds the configured account user names whose password
// verify accepts, and returns its name. An Exchange user name may come
// as DOMAIN\user or user@domain, in any case.
func (s *Server) accepts(user string, verify func(password string) bool) (string, bool) {
	if s.p.exchange {
		if i := strings.LastIndexAny(user, `\/`); i >= 0 {
			user = user[i+1:]
		}
		if i := strings.IndexByte(user, '@'); i >= 0 {
			user = user[:i]
		}
	}
	for _, a := range s.cfg.Persona.Accounts {
		same := a.User == user || s.p.exchange && strings.EqualFold(a.User, user)
		if same && verify(a.Password) {
			return a.User, true
		}
	}
	return "", false
}

func (c *conn) auth(cmd Command) bool {
	r, s := c.r, c.srv
	if len(cmd.Args) == 0 {
		return c.write(strings.Join(append(append([]string{r.authList}, c.p.mechs...), "."), "\r\n"))
	}
	mech := strings.ToUpper(cmd.Args[0])
	if mech == sasl.NTLM && !slices.Contains(c.p.mechs, sasl.NTLM) {
		return c.bad(r.authMech)
	}
	var chal [8]byte
	for i := range chal {
		chal[i] = byte(s.rnd())
	}
	x, err := sasl.Start(mech, s.ntlm, chal)
	if err != nil {
		return c.bad(r.authMech)
	}
	var resp []byte
	have := len(cmd.Args) > 1
	if have {
		if resp, err = sasl.DecodeResponse(cmd.Args[1]); err != nil {
			return c.bad(r.authBadBase64)
		}
	}
	for {
		ch, done, err := x.Next(resp, have)
		if err != nil {
			return c.write(r.loginFail)
		}
		if done {
			cr := x.Credentials()
			return c.login(cr.User, cr.Password, cr.Method, x.Account(), x.Verify)
		}
		if !c.write("+ " + sasl.EncodeChallenge(ch)) {
			return false
		}
		line, err := c.rd.ReadLine(int(s.cfg.MaxLine))
		if errors.Is(err, service.ErrLineTooLong) {
			return c.longLine(line)
		}
		if err != nil {
			return false
		}
		if string(line) == "*" {
			return c.write(r.authAborted)
		}
		if resp, err = sasl.DecodeResponse(string(line)); err != nil {
			return c.bad(r.authBadBase64)
		}
		have = true
	}
}

// longLine answers a line over max_line and keeps it: an over-long
// command is how buffer-overflow exploits arrive.
func (c *conn) longLine(head []byte) bool {
	total := int64(len(head))
	var err error
	for {
		var n int
		n, err = c.rd.DiscardLine(64 << 10)
		total += int64(n)
		if err == nil {
			total-- // the newline
			break
		}
		if !errors.Is(err, service.ErrLineTooLong) {
			break
		}
	}
	sha, serr := c.sess.SaveSample(head, "pop3.line", "")
	if serr != nil {
		c.sess.Log.Warn("sample not stored", "service", c.sess.Service, "session", c.sess.SessionID, "src", c.sess.Remote, "err", serr)
		sha = ""
	}
	c.sess.Emit(&event.Payload{Len: total, Data: head[:min(len(head), 1024)], Truncated: true, Sample: sha})
	if err != nil {
		return false
	}
	c.pending = nil
	return c.bad(c.r.lineTooLong)
}
