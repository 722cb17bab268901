package smtp

import (
	"context"
	"errors"
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
	r    *replies
	sess *service.Session
	rd   *service.Reader
	ctx  context.Context

	helo     string // the name given in HELO/EHLO ("" before one)
	greeted  bool
	user     string // the user AUTH accepted
	tx       *transaction
	commands int
	errors   int

	// pending is the command line whose first reply has not been written
	// yet: the reply becomes its event's output.
	pending *string
	known   bool
}

// transaction is one MAIL FROM .. RCPT TO .. DATA.
type transaction struct {
	from      string
	rcpts     []string
	relay     bool
	msg       []byte // BDAT chunks so far
	size      int64
	truncated bool
}

// write sends one reply (lines separated by CRLF, without the last CRLF)
// and reports whether the client can still be written to. The first
// reply to a command completes that command's event.
func (c *conn) write(reply string) bool {
	if c.pending != nil {
		out, _, _ := strings.Cut(reply, "\r\n")
		c.sess.Emit(&event.Command{Line: *c.pending, Shell: "smtp", Output: out, Known: c.known})
		c.pending = nil
	}
	if code := reply[:min(3, len(reply))]; code >= "400" && code < "600" {
		c.errors++
	}
	_, err := c.sess.WriteString(reply + "\r\n")
	return err == nil
}

// command answers one command line; false ends the session.
func (c *conn) command(line string) bool {
	c.pending, c.known = &line, true
	defer func() {
		// A command answered with no reply at all (a lost connection)
		// is still recorded.
		if c.pending != nil {
			c.sess.Emit(&event.Command{Line: line, Shell: "smtp", Known: c.known})
			c.pending = nil
		}
	}()
	cmd := ParseCommand(line)
	r, s := c.r, c.srv
	switch cmd.Verb {
	case "HELO", "EHLO":
		return c.hello(cmd)
	case "MAIL":
		return c.mail(cmd)
	case "RCPT":
		return c.rcpt(cmd)
	case "DATA":
		return c.data()
	case "BDAT":
		return c.bdat(cmd)
	case "AUTH":
		return c.auth(cmd)
	case "RSET":
		c.endTransaction(event.MailNoData)
		return c.write(r.rset)
	case "NOOP":
		return c.write(r.noop)
	case "VRFY":
		if cmd.Arg == "" {
			return c.write(r.vrfyNoArg)
		}
		addr := strings.TrimSuffix(strings.TrimPrefix(cmd.Arg, "<"), ">")
		if s.exchange && !strings.Contains(addr, "@") {
			addr += "@" + s.host
		}
		return c.write(fill(r.vrfy, addr))
	case "HELP":
		c.known = s.exchange
		return c.write(r.help)
	case "QUIT":
		c.write(fill(r.quit, s.host))
		return false
	case "STARTTLS":
		return c.write(r.starttls)
	case "ETRN":
		if cmd.Arg == "" {
			return c.write(r.etrnNoArg)
		}
		return c.write(fill(r.etrn, strings.TrimPrefix(cmd.Arg, "@")))
	case "TURN", "ATRN":
		c.known = s.exchange
		return c.write(r.turn)
	case "XEXCH50":
		if s.exchange {
			return c.xexch50(cmd)
		}
	}
	c.known = false
	return c.write(r.unknown)
}

func (c *conn) hello(cmd Command) bool {
	r, s := c.r, c.srv
	if cmd.Arg == "" && (cmd.Verb == "HELO" || r.ehloNoArg != "") {
		if cmd.Verb == "HELO" {
			return c.write(r.heloNoArg)
		}
		return c.write(r.ehloNoArg)
	}
	c.endTransaction(event.MailNoData)
	c.helo, c.greeted = cmd.Arg, true
	ip := c.sess.Remote.Addr().Unmap().String()
	if cmd.Verb == "HELO" {
		return c.write(fill(r.helo, s.host, ip))
	}
	lines := []string{fill(r.ehloFirst, s.host, ip)}
	for _, e := range s.exts {
		lines = append(lines, "250-"+e)
	}
	if r.ehloLast != "" {
		lines = append(lines, r.ehloLast)
	} else if n := len(lines) - 1; n > 0 {
		lines[n] = "250 " + strings.TrimPrefix(lines[n], "250-")
	} else {
		lines[0] = "250 " + strings.TrimPrefix(lines[0], "250-")
	}
	return c.write(strings.Join(lines, "\r\n"))
}

func (c *conn) mail(cmd Command) bool {
	r, s := c.r, c.srv
	switch {
	case !c.greeted:
		return c.write(r.needHelo)
	case c.tx != nil:
		return c.write(r.nestedMail)
	}
	p, err := ParsePath(cmd.Arg, "FROM")
	switch {
	case err == ErrSyntax:
		return c.write(r.mailSyntax)
	case err != nil:
		return c.write(r.mailBadAddr)
	case p.Size() > int64(s.cfg.MaxMessage):
		return c.write(r.sizeExceeded)
	}
	c.tx = &transaction{from: p.Route + p.Addr}
	shown := p.Addr
	if p.Null {
		shown = "<>"
	} else if s.exchange && !strings.Contains(shown, "@") {
		shown += "@" + s.host
	}
	return c.write(fill(r.mailOK, shown))
}

func (c *conn) rcpt(cmd Command) bool {
	r, s := c.r, c.srv
	if c.tx == nil {
		return c.write(r.needMail)
	}
	p, err := ParsePath(cmd.Arg, "TO")
	switch {
	case err == ErrSyntax:
		return c.write(r.rcptSyntax)
	case err != nil || p.Null:
		return c.write(r.rcptBadAddr)
	case len(c.tx.rcpts) >= s.cfg.MaxRecipients:
		return c.write(r.tooManyRcpts)
	}
	// Answered as an open relay answers, whatever the domain; only
	// recorded as a relay attempt.
	if Relayed(p, c.isLocal) {
		c.tx.relay = true
	}
	c.tx.rcpts = append(c.tx.rcpts, p.Route+p.Addr)
	shown := p.Addr
	if s.exchange && !strings.Contains(shown, "@") {
		shown += "@" + s.host
	}
	return c.write(fill(r.rcptOK, shown))
}

// isLocal reports whether a domain is the persona's own: its host name,
// its domains, or the address the client reached, as an address literal.
func (c *conn) isLocal(domain string) bool {
	if domain == "" || c.srv.domains[domain] {
		return true
	}
	return domain == "["+c.sess.Local.Addr().Unmap().String()+"]"
}

func (c *conn) data() bool {
	r := c.r
	switch {
	case c.tx == nil && c.srv.exchange:
		return c.write(r.needMail)
	case c.tx == nil || len(c.tx.rcpts) == 0:
		return c.write(r.needRcpt)
	}
	if !c.write(r.dataGo) {
		return false
	}
	msg, size, truncated, err := readData(c.rd, int(c.srv.cfg.MaxMessage))
	if err != nil {
		c.tx.msg, c.tx.size, c.tx.truncated = msg, size, truncated
		c.endTransaction(event.MailAborted)
		return false
	}
	c.tx.msg, c.tx.size, c.tx.truncated = msg, size, truncated
	return c.deliver()
}

// deliver answers a complete message and records it.
func (c *conn) deliver() bool {
	if c.tx.truncated {
		ok := c.write(c.r.tooBig)
		c.endTransaction(event.MailTooLarge)
		return ok
	}
	id := c.queueID()
	ok := c.write(fill(c.r.queued, id))
	c.finishTransaction(event.MailQueued, id)
	return ok
}

func (c *conn) queueID() string {
	if c.srv.exchange {
		return exchangeQueueID(c.srv.host, c.srv.queued.Add(1), c.srv.rnd)
	}
	c.srv.queued.Add(1)
	return postfixQueueID(c.srv.rnd)
}

func (c *conn) bdat(cmd Command) bool {
	r := c.r
	n, last, ok := ParseBDAT(cmd.Arg)
	if !ok {
		return c.write(r.bdatSyntax)
	}
	// The chunk follows the command whatever the answer: read it first.
	tx := c.tx
	if tx == nil || len(tx.rcpts) == 0 {
		tx = &transaction{}
	}
	var err error
	tx.msg, tx.size, tx.truncated, err = readChunk(c.rd, n, tx.msg, tx.size, int(c.srv.cfg.MaxMessage))
	switch {
	case err != nil && tx == c.tx:
		c.endTransaction(event.MailAborted)
		return false
	case err != nil:
		return false
	case tx != c.tx && c.tx == nil && c.srv.exchange:
		return c.write(r.needMail)
	case tx != c.tx:
		return c.write(r.needRcpt)
	case last:
		return c.deliver()
	}
	return c.write(fill(r.bdatOK, n))
}

// endTransaction closes the open transaction, if it reached a recipient,
// with the given result.
func (c *conn) endTransaction(result string) {
	c.finishTransaction(result, "")
}

func (c *conn) auth(cmd Command) bool {
	r, s := c.r, c.srv
	switch {
	case !c.greeted:
		return c.write(r.needHelo)
	case c.user != "":
		return c.write(r.authAlready)
	case cmd.Arg == "":
		return c.write(r.authNoArg)
	}
	mech, initial, hasInitial := strings.Cut(cmd.Arg, " ")
	if strings.EqualFold(mech, "GSSAPI") && s.mechs["GSSAPI"] {
		// A Kerberos exchange cannot be completed here: the client's
		// token is taken and refused, as a failed ticket check is.
		if !c.write("334 ") {
			return false
		}
		line, err := c.rd.ReadLine(int(s.cfg.MaxLine))
		if err != nil {
			return false
		}
		if string(line) == "*" {
			return c.write(r.authAborted)
		}
		return c.write(r.authFail)
	}
	var chal [8]byte
	for i := range chal {
		chal[i] = byte(s.rnd())
	}
	x, err := sasl.Start(mech, s.ntlm, chal)
	if err != nil {
		return c.write(r.authMech)
	}
	var resp []byte
	if hasInitial {
		if resp, err = sasl.DecodeResponse(initial); err != nil {
			return c.write(r.authBadBase64)
		}
	}
	have := hasInitial
	for {
		ch, done, err := x.Next(resp, have)
		if err != nil {
			return c.write(r.authFail)
		}
		if done {
			return c.authResult(x)
		}
		if !c.write("334 " + sasl.EncodeChallenge(ch)) {
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
			return c.write(r.authBadBase64)
		}
		have = true
	}
}

// authResult answers a complete exchange and records the attempt.
func (c *conn) authResult(x *sasl.Exchange) bool {
	cr := x.Credentials()
	_, ok := c.srv.accepts(x.Account(), x.Verify)
	reply := c.r.authOK
	if !ok {
		reply = c.r.authFail
		if d := c.srv.cfg.AuthDelay; d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
			}
		}
	}
	wrote := c.write(reply)
	c.sess.Emit(&event.Login{User: cr.User, Password: cr.Password, Method: cr.Method, Success: ok})
	if ok {
		c.user = cr.User
	}
	return wrote
}

// accepts finds the configured account user names whose password
// verify accepts. A Windows user name may come as DOMAIN\user or
// user@domain, in any case.
func (s *Server) accepts(user string, verify func(password string) bool) (string, bool) {
	if s.exchange {
		if i := strings.LastIndexAny(user, `\/`); i >= 0 {
			user = user[i+1:]
		}
		if i := strings.IndexByte(user, '@'); i >= 0 {
			user = user[:i]
		}
	}
	for _, a := range s.cfg.Persona.Accounts {
		same := a.User == user || s.exchange && strings.EqualFold(a.User, user)
		if same && verify(a.Password) {
			return a.User, true
		}
	}
	return "", false
}

// longLine answers a line over max_line and keeps it: an over-long
// command is how buffer-overflow exploits arrive.
func (c *conn) longLine(head []byte) bool {
	total, err := discardLine(c.rd, int64(len(head)))
	c.recordLongLine(head, total)
	if err != nil {
		return false
	}
	c.pending, c.known = nil, false
	return c.write(c.r.lineTooLong)
}

func (c *conn) recordLongLine(head []byte, total int64) {
	sha := c.save(head, "smtp.line", "")
	c.sess.Emit(&event.Payload{Len: total, Data: head[:min(len(head), 1024)], Truncated: true, Sample: sha})
}

// xexch50 answers Exchange's XEXCH50 as Exchange 2000 before MS03-046
// did: to anyone in a mail transaction. The exploit for that bulletin
// announces a negative or huge length and sends its heap overflow; the
// bytes are kept as a sample and the "service" dies, ending the session.
// A blob of sane length is read and acknowledged.
func (c *conn) xexch50(cmd Command) bool {
	f := strings.Fields(cmd.Arg)
	if len(f) != 2 {
		return c.write(c.r.bdatSyntax)
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return c.write(c.r.bdatSyntax)
	}
	if c.tx == nil || len(c.tx.rcpts) == 0 {
		return c.write(c.r.needRcpt)
	}
	if !c.write("354 Send binary data") {
		return false
	}
	max := int64(c.srv.cfg.MaxMessage)
	sane := n > 0 && n <= max
	var data []byte
	if sane {
		data, err = c.rd.ReadFull(int(n))
	} else {
		data, err = readUntilQuiet(c.sess, max, xexchQuiet)
	}
	total := int64(len(data))
	sha := ""
	if len(data) > 0 {
		sha = c.save(data, "smtp.xexch50", "")
	}
	c.sess.Emit(&event.Payload{Len: total, Data: data[:min(len(data), 1024)], Truncated: total >= max, Sample: sha})
	if !sane || err != nil {
		return false
	}
	return c.write("250 2.0.0 XEXCH50 OK")
}

// xexchQuiet is how long an overflow's bytes are awaited after the last
// that came.
var xexchQuiet = 2 * time.Second

// readUntilQuiet reads what arrives until max bytes, the end of input, or
// quiet of the given length.
func readUntilQuiet(sess *service.Session, max int64, quiet time.Duration) ([]byte, error) {
	rd := sess.Reader()
	buf := make([]byte, 32<<10)
	var data []byte
	defer func() { _ = sess.Conn().SetReadDeadline(time.Time{}) }()
	for int64(len(data)) < max {
		_ = sess.Conn().SetReadDeadline(time.Now().Add(quiet))
		k, err := rd.Read(buf[:min(int64(len(buf)), max-int64(len(data)))])
		data = append(data, buf[:k]...)
		if err != nil {
			return data, err
		}
	}
	return data, nil
}
