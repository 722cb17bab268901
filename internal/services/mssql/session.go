package mssql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/shell"
)

// Session bounds.
const (
	defaultPacketSize = 4096
	maxPacketSize     = 32767 // SQL Server 2000's largest network packet
	minPacketSize     = 512
	// junkCapture bounds what is kept of a connection that does not speak
	// TDS, and junkWait how long it is listened to after its first bytes
	// (SQL Server closes such a connection at once: keep it short).
	junkCapture = 4 << 10
	junkWait    = 500 * time.Millisecond
	// eventBody bounds the body of request events for messages the fake
	// does not answer (RPC, bulk load); the whole message is a sample.
	eventBody = 4 << 10
	// maxField bounds each login field carried in events.
	maxField = 512
	// maxOutput bounds the answer carried in a command event.
	maxOutput = 8 << 10
	// loginTimeout bounds the wait for a login after the connection
	// opens, as SQL Server's own login timeout does.
	loginTimeout = 60 * time.Second
)

// SQL Server's curcmd values for DONE tokens.
const (
	cmdSelect  = 0xC1
	cmdExecute = 0xE0
)

// conn is one TDS connection.
type conn struct {
	srv        *Server
	sess       *service.Session
	d          dialect
	packetSize int
	spid       uint16
	user       string
	loggedIn   bool
	login      *Login
	database   string
	fs         *shell.FS
}

// ServeTCP implements service.Handler: PRELOGIN, a login, then batches
// until the client leaves or a limit is reached.
func (s *Server) ServeTCP(ctx context.Context, sess *service.Session) {
	c := &conn{srv: s, sess: sess, packetSize: defaultPacketSize, database: s.database}
	_ = sess.Conn().SetReadDeadline(time.Now().Add(loginTimeout))
	rd := sess.Reader()
	prelogins, batches := 0, 0
	for ctx.Err() == nil {
		allow := loginTypes
		if c.loggedIn {
			allow = nil
		}
		m, err := ReadMessage(rd, int(s.cfg.MaxMessage), allow)
		if m == nil {
			return
		}
		if err != nil {
			c.broken(m, err, prelogins == 0 && !c.loggedIn)
			return
		}
		if !c.loggedIn {
			switch m.Type {
			case pktPrelogin:
				if prelogins > 0 {
					c.unexpected(m, "second PRELOGIN")
					return
				}
				prelogins++
				if !c.prelogin(m) {
					return
				}
				continue
			case pktLogin7, pktLogin42:
				if !c.doLogin(m) {
					return
				}
				// After the login the engine's idle timeout applies.
				_ = sess.Conn().SetReadDeadline(time.Time{})
				continue
			}
			c.unexpected(m, typeName(m.Type)+" before login")
			return
		}
		switch m.Type {
		case pktBatch:
			batches++
			if !c.batch(m) {
				return
			}
		case pktAttention:
			t := &tokens{d: c.d}
			t.done(tokDone, doneAttn, 0, 0)
			if !c.send(t) {
				return
			}
		case pktRPC, pktTransMgr, pktBulk:
			batches++
			c.record(m)
			t := &tokens{d: c.d}
			t.done(tokDone, doneFinal, 0, 0)
			if !c.send(t) {
				return
			}
		default:
			c.unexpected(m, typeName(m.Type)+" in a session")
			return
		}
		if batches >= s.cfg.MaxBatches {
			return
		}
	}
}

// loginTypes are the messages a connection may open with.
func loginTypes(t byte) bool { return t == pktPrelogin || t == pktLogin7 || t == pktLogin42 }

// send writes a token stream as reply packets.
func (c *conn) send(t *tokens) bool {
	_, err := c.sess.Write(packetize(pktReply, t.buf, c.packetSize, c.spid))
	return err == nil
}

func (c *conn) warn(msg string, err error) {
	c.sess.Log.Warn(msg, "service", c.sess.Service, "session", c.sess.SessionID, "src", c.sess.Remote.String(), "err", err)
}

// sample keeps data and returns its SHA-256 ("" if it could not be kept).
func (c *conn) sample(data []byte, source string) string {
	sha, err := c.sess.SaveSample(data, source, "")
	if err != nil {
		c.warn("sample not stored", err)
		return ""
	}
	return sha
}

// prelogin answers PRELOGIN as SQL Server 2000 SP3 does: its version,
// encryption not supported (a stock install has no certificate), and
// whether the instance the client named is this one.
func (c *conn) prelogin(m *Message) bool {
	p, err := ParsePrelogin(m.Data)
	ev := &event.Request{Method: "PRELOGIN", Version: p.Version, BodyLen: int64(len(m.Data))}
	for _, o := range p.Options {
		ev.Headers = append(ev.Headers, preloginHeader(o))
	}
	if err != nil {
		var me *MalformedError
		if errors.As(err, &me) {
			ev.Malformed = me.Reason
		}
		ev.Sample = c.sample(m.Raw, "mssql.prelogin")
		ev.Action = "closed"
		c.sess.Emit(ev)
		return false
	}
	mismatch := byte(0)
	if p.HasInstance && p.Instance != "" && !strings.EqualFold(p.Instance, c.srv.cfg.Persona.Instance) {
		mismatch = 1
	}
	ev.Action = "encryption:not_supported"
	c.sess.Emit(ev)
	_, err = c.sess.Write(packetize(pktReply, preloginReply(c.srv.version, encryptNotSup, mismatch), defaultPacketSize, 0))
	return err == nil
}

// preloginHeader renders one PRELOGIN option for an event.
func preloginHeader(o PreloginOption) event.Header {
	switch o.Token {
	case optVersion:
		return event.Header{Name: "version", Value: fmt.Sprintf("%x", o.Data)}
	case optEncryption:
		if len(o.Data) == 1 {
			return event.Header{Name: "encryption", Value: encryptionName(int(o.Data[0]))}
		}
	case optInstance:
		name := o.Data
		if i := indexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		return event.Header{Name: "instance", Value: bound(latin1(name), maxField)}
	case optThreadID:
		if len(o.Data) == 4 {
			return event.Header{Name: "threadid", Value: strconv.FormatUint(uint64(uint32(o.Data[0])|uint32(o.Data[1])<<8|uint32(o.Data[2])<<16|uint32(o.Data[3])<<24), 10)}
		}
	case optMARS:
		if len(o.Data) == 1 {
			return event.Header{Name: "mars", Value: strconv.Itoa(int(o.Data[0]))}
		}
	case optTraceID:
		return event.Header{Name: "traceid", Value: bound(fmt.Sprintf("%x", o.Data), maxField)}
	case optFedAuth:
		return event.Header{Name: "fedauthrequired", Value: bound(fmt.Sprintf("%x", o.Data), maxField)}
	case optNonce:
		return event.Header{Name: "nonce", Value: bound(fmt.Sprintf("%x", o.Data), maxField)}
	}
	return event.Header{Name: fmt.Sprintf("option-0x%02x", o.Token), Value: bound(fmt.Sprintf("%x", o.Data), maxField)}
}

// bound cuts s to at most n bytes, on a character boundary.
func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8Start(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] >= 0x80 {
		s = s[:len(s)-1]
	}
	return s
}

func utf8Start(b byte) bool { return b < 0x80 || b >= 0xC0 }

// doLogin reads a login, records it, and answers with a session or a
// failure; it reports whether the session goes on.
func (c *conn) doLogin(m *Message) bool {
	var l *Login
	var err error
	if m.Type == pktLogin7 {
		l, err = ParseLogin7(m.Data)
	} else {
		l, err = ParseLogin42(m.Data)
	}
	// User sessions of SQL Server 2000 are numbered from 51.
	c.spid = uint16(51 + (c.srv.spids.Add(1)-1)%32000)
	ev := &event.Request{Method: typeName(m.Type), BodyLen: int64(len(m.Data))}
	if err != nil {
		var me *MalformedError
		if errors.As(err, &me) {
			ev.Malformed = me.Reason
		}
		ev.Sample = c.sample(m.Raw, "mssql.login")
		ev.Action = "closed"
		c.sess.Emit(ev)
		return false
	}
	c.d = negotiate(l)
	c.login = l
	ev.Version = versionName(l.TDSVersion)
	ev.Host = bound(l.Server, maxField)
	ev.UserAgent = bound(l.App, maxField)
	ev.Headers = loginHeaders(l)
	if len(l.Problems) > 0 {
		ev.Malformed = strings.Join(l.Problems, "; ")
		ev.Sample = c.sample(m.Raw, "mssql.login")
	}

	t := &tokens{d: c.d}
	server := c.srv.cfg.Persona.ServerName
	method := "sql"
	ok := false
	db := c.database
	switch {
	case l.Integrated:
		method = "sspi"
		t.message(tokError, 18452, 1, 14, "Login failed for user '(null)'. Reason: Not associated with a trusted SQL Server connection.", server)
	case !c.srv.accepts(l.User, l.Password):
		t.message(tokError, 18456, 1, 14, "Login failed for user '"+l.User+"'.", server)
	default:
		ok = true
		if l.Database != "" {
			name, known := knownDatabase(l.Database)
			if !known {
				ok = false
				t.message(tokError, 4060, 1, 11, "Cannot open database requested in login '"+l.Database+"'. Login fails.", server)
				t.message(tokError, 18456, 1, 14, "Login failed for user '"+l.User+"'.", server)
			}
			db = name
		}
	}
	ev.Action = "rejected"
	if ok {
		ev.Action = "accepted"
	}
	c.sess.Emit(ev)
	c.sess.Emit(&event.Login{User: bound(l.User, maxField), Password: bound(l.Password, maxField), Method: method, Success: ok})
	if !ok {
		t.done(tokDone, doneError, 0, 0)
		c.send(t)
		return false
	}

	c.loggedIn, c.user, c.database = true, l.User, db
	size := l.PacketSize
	if size == 0 {
		size = defaultPacketSize
	}
	size = max(minPacketSize, min(size, maxPacketSize))
	lang := c.srv.cfg.Persona.Language
	t.envChange(envDatabase, db, "master")
	t.message(tokInfo, 5701, 2, 0, "Changed database context to '"+db+"'.", server)
	switch c.d {
	case tds71:
		t.envCollation()
	case tds70:
		t.envChange(5, "1033", "")   // Unicode sort locale
		t.envChange(6, "196609", "") // Unicode comparison style
	}
	t.envChange(envLanguage, lang, "")
	t.message(tokInfo, 5703, 1, 0, "Changed language setting to "+lang+".", server)
	if c.d == tds42 {
		t.envChange(envCharset, "iso_1", "iso_1")
	}
	t.loginAck("Microsoft SQL Server\x00\x00", c.srv.version)
	t.envChange(envPacketSize, strconv.Itoa(size), strconv.Itoa(defaultPacketSize))
	t.done(tokDone, doneFinal, 0, 0)
	ok = c.send(t)
	c.packetSize = size
	return ok
}

// loginHeaders lists a login's fields for its request event.
func loginHeaders(l *Login) []event.Header {
	var h []event.Header
	add := func(name, value string) {
		if value != "" {
			h = append(h, event.Header{Name: name, Value: bound(value, maxField)})
		}
	}
	add("hostname", l.Host)
	add("appname", l.App)
	add("library", l.Library)
	add("servername", l.Server)
	add("database", l.Database)
	add("language", l.Language)
	if l.ClientPID != 0 {
		add("pid", strconv.FormatUint(uint64(l.ClientPID), 10))
	}
	if l.PacketSize != 0 {
		add("packetsize", strconv.Itoa(l.PacketSize))
	}
	if l.ClientID != "" && strings.Trim(l.ClientID, "0") != "" {
		add("clientid", l.ClientID)
	}
	if len(l.SSPI) > 0 {
		add("sspi", fmt.Sprintf("%x", l.SSPI[:min(len(l.SSPI), 64)]))
	}
	return h
}

// batch answers a SQL batch and records it; it reports whether the
// session goes on.
func (c *conn) batch(m *Message) bool {
	text, _ := SplitBatch(m.Data, c.d != tds42)
	b := ParseBatch(text)
	t := &tokens{d: c.d}
	var out strings.Builder
	known := true
	type run struct {
		line string
		ex   shell.Execution
	}
	var runs []run
	switch {
	case len(b.Shell) > 0:
		for i, line := range b.Shell {
			ex := c.shell(line)
			runs = append(runs, run{line, ex})
			lines := outputRows(ex.Output)
			t.columns([]string{"output"}, 255)
			for _, l := range lines {
				t.row([]*string{l}, 255)
			}
			t.done(tokDoneInProc, doneMore|doneCount, cmdSelect, uint32(len(lines)))
			status := int32(0)
			if ex.Status != 0 {
				status = 1
			}
			t.returnStatus(status)
			last := doneFinal
			if i < len(b.Shell)-1 {
				last = doneMore
			}
			t.done(tokDoneProc, uint16(last), cmdExecute, 0)
			out.WriteString(ex.Output)
		}
	case b.Scalar != "":
		v, ok := c.scalar(b.Scalar)
		if !ok {
			known = false
			t.done(tokDone, doneFinal, 0, 0)
			break
		}
		chars := maxColumnChars
		if b.Scalar == "@@version" {
			chars = 256 // SQL Server 2000's @@version is nvarchar(256)
		}
		t.columns([]string{""}, chars)
		t.row([]*string{&v}, chars)
		t.done(tokDone, doneCount, cmdSelect, 1)
		out.WriteString(v)
	case b.Use != "":
		name, ok := knownDatabase(b.Use)
		server := c.srv.cfg.Persona.ServerName
		if !ok {
			msg := "Could not locate entry in sysdatabases for database '" + b.Use +
				"'. No entry found with that name. Make sure that the name is entered correctly."
			t.message(tokError, 911, 1, 16, msg, server)
			t.done(tokDone, doneError, 0, 0)
			out.WriteString(msg)
			break
		}
		t.envChange(envDatabase, name, c.database)
		msg := "Changed database context to '" + name + "'."
		t.message(tokInfo, 5701, 1, 0, msg, server)
		t.done(tokDone, doneFinal, 0, 0)
		c.database = name
		out.WriteString(msg)
	default:
		known = false
		t.done(tokDone, doneFinal, 0, 0)
	}

	limit := int(c.srv.cfg.CommandCap)
	sample := ""
	if len(text) > limit || len(b.Shell) > 0 || b.Hidden > 0 {
		sample = c.sample([]byte(text), "mssql.batch")
	}
	line := bound(text, limit)
	if sample != "" && len(line) < len(text) {
		line += " [...] (whole batch: sample " + sample + ")"
	}
	c.sess.Emit(&event.Command{Line: line, Shell: "tsql", Output: bound(out.String(), maxOutput), Known: known})
	for _, r := range runs {
		if strings.TrimSpace(r.line) == "" {
			continue
		}
		c.sess.Emit(&event.Command{Line: r.line, Shell: "cmd", Output: bound(r.ex.Output, maxOutput), Known: r.ex.Known})
		for _, d := range r.ex.Downloads {
			c.sess.Emit(&event.Download{URL: d.URL, Protocol: d.Protocol, Host: d.Host, Path: d.Path, Command: r.line})
		}
	}
	return c.send(t)
}

// shell runs one xp_cmdshell command line in the fake cmd.exe: a new
// process each time, in C:\WINNT\system32, as LocalSystem (SQL Server
// 2000's default service account), over this connection's fake disk.
func (c *conn) shell(line string) shell.Execution {
	if c.fs == nil {
		c.fs = shell.NewFS(c.srv.tree)
	}
	st := c.srv.cmd.NewState(c.fs, `C:\WINNT\system32`)
	sh := &shell.Shell{Dialect: c.srv.cmd, State: st, MaxOutput: 64 << 10}
	return sh.Exec(line)
}

// outputRows splits command output into xp_cmdshell's rows: one per line,
// NULL for an empty line, lines past 255 characters continued on the next
// row, and the NULL row xp_cmdshell always ends with.
func outputRows(out string) []*string {
	out = strings.TrimSuffix(strings.ReplaceAll(out, "\r\n", "\n"), "\n")
	var rows []*string
	if out != "" {
		for _, l := range strings.Split(out, "\n") {
			if l == "" {
				rows = append(rows, nil)
				continue
			}
			for l != "" {
				part := cutRunes(l, 255)
				l = l[len(part):]
				rows = append(rows, &part)
			}
		}
	}
	return append(rows, nil)
}

// scalar is the value of a select the fake knows.
func (c *conn) scalar(name string) (string, bool) {
	p := c.srv.cfg.Persona
	switch name {
	case "@@version":
		return p.VersionString, true
	case "@@servername":
		if strings.EqualFold(p.Instance, defaultInstance) {
			return p.ServerName, true
		}
		return p.ServerName + `\` + p.Instance, true
	case "@@servicename":
		return p.Instance, true
	case "@@language":
		return p.Language, true
	case "db_name()":
		return c.database, true
	case "user_name()", "user", "current_user", "session_user":
		return "dbo", true
	case "suser_sname()", "suser_name()", "system_user":
		return c.user, true
	case "host_name()":
		return c.login.Host, true
	case "app_name()":
		return c.login.App, true
	}
	return "", false
}

// record emits a message the fake does not answer beyond a completion
// (RPC, bulk load, transaction manager), keeping it whole as a sample.
func (c *conn) record(m *Message) {
	body := m.Data[:min(len(m.Data), eventBody)]
	c.sess.Emit(&event.Request{Method: typeName(m.Type), BodyLen: int64(len(m.Data)), Body: slices.Clone(body),
		Truncated: len(body) < len(m.Data), Sample: c.sample(m.Raw, "mssql.message"), Action: "done"})
}

// unexpected records a message out of place; the session then ends, as
// SQL Server ends it.
func (c *conn) unexpected(m *Message, why string) {
	body := m.Data[:min(len(m.Data), eventBody)]
	c.sess.Emit(&event.Request{Method: typeName(m.Type), BodyLen: int64(len(m.Data)), Body: slices.Clone(body),
		Truncated: len(body) < len(m.Data), Malformed: why, Sample: c.sample(m.Raw, "mssql.message"), Action: "closed"})
}

// broken records what was read of a message that could not be read
// whole: bytes that are not TDS (then, on a fresh connection, what else
// the client sends within junkWait, up to junkCapture), a message cut
// short, or one past max_message.
func (c *conn) broken(m *Message, err error, fresh bool) {
	raw := m.Raw
	ev := &event.Request{Method: typeName(m.Type), BodyLen: int64(len(m.Data))}
	var me *MalformedError
	switch {
	case errors.As(err, &me):
		ev.Malformed = me.Reason
		if fresh && m.Packets == 0 {
			ev.Method = ""
			raw = c.drain(raw)
			sha := c.sample(raw, "mssql.payload")
			c.sess.Emit(&event.Payload{Len: int64(len(raw)), Data: slices.Clone(raw), Sample: sha})
			return
		}
	case errors.Is(err, ErrTooLarge):
		ev.Truncated = true
		ev.Malformed = "message larger than max_message"
	case errors.Is(err, io.ErrUnexpectedEOF):
		ev.Malformed = "connection closed inside a message"
	default:
		ev.Malformed = err.Error()
	}
	if len(raw) == 0 {
		return
	}
	ev.Sample = c.sample(raw, "mssql.message")
	ev.Action = "closed"
	c.sess.Emit(ev)
}

// drain reads on after non-TDS bytes, to keep what the client had to say.
func (c *conn) drain(got []byte) []byte {
	out := slices.Clone(got)
	_ = c.sess.Conn().SetReadDeadline(time.Now().Add(junkWait))
	buf := make([]byte, 1024)
	rd := c.sess.Reader()
	for len(out) < junkCapture {
		n, err := rd.Read(buf[:min(len(buf), junkCapture-len(out))])
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	return out
}
