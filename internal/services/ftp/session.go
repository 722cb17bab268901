package ftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
)

// maxOutput bounds the replies a command event carries.
const maxOutput = 4 << 10

// conn is one control connection's state.
type conn struct {
	srv *Server
	cfg *Config
	p   *Persona
	ctx context.Context
	s   *service.Session
	iis bool
	fs  *fakeFS
	cwd string

	// Login state.
	user      string
	userSeen  bool // USER was given and PASS is awaited
	anonymous bool
	anonPass  string // the identity an anonymous user gave
	loggedIn  bool
	failures  int

	binary bool // TYPE I (or L 8)
	msdos  bool // IIS's listing style
	rest   int64
	rnfr   string // path named by RNFR, "" when none

	pasv    *passive       // pending passive listener
	port    netip.AddrPort // PORT/EPRT target
	portSet bool

	dataUsed int64 // data-channel bytes of this session, both ways
	kept     int64 // upload bytes kept in memory for read-back

	out       strings.Builder // this command's replies, bounded
	truncated bool            // this command's line or transfer was cut
	quit      bool            // end the session after this command
	dead      bool            // a write to the client failed
}

// maxKept bounds the uploaded bytes one session keeps in memory so that a
// client reading back what it wrote gets it.
const maxKept = 1 << 20

// ServeTCP implements service.Handler.
func (srv *Server) ServeTCP(ctx context.Context, s *service.Session) {
	c := srv.newConn(ctx, s)
	defer c.close()
	c.reply(220, greeting(c.p))
	rd := s.Reader()
	max := int(srv.cfg.MaxLine)
	for !c.dead && !c.quit && ctx.Err() == nil {
		line, err := rd.ReadLine(max)
		c.truncated = false
		switch {
		case err == nil:
		case errors.Is(err, service.ErrLineTooLong):
			c.truncated = true
			if _, derr := rd.DiscardLine(16 * max); derr != nil {
				// No end in sight: record what came and hang up.
				cmd := ParseCommand(line, c.iis)
				c.out.Reset()
				c.emit(cmd, false)
				return
			}
		case errors.Is(err, io.EOF) && len(line) > 0:
			c.handle(line)
			return
		default:
			return
		}
		c.handle(line)
	}
}

func (srv *Server) newConn(ctx context.Context, s *service.Session) *conn {
	p := &srv.cfg.Persona
	return &conn{srv: srv, cfg: srv.cfg, p: p, ctx: ctx, s: s, iis: p.Kind == KindIIS, fs: srv.tree.clone(),
		cwd: "/", msdos: p.DirStyle != StyleUnix}
}

// close ends what the session still holds: the pending data listener
// and the memory of kept uploads.
func (c *conn) close() {
	c.dropPassive()
	if c.kept > 0 {
		c.srv.release(c.kept)
		c.kept = 0
	}
}

// handle runs one command line and records it.
func (c *conn) handle(line []byte) {
	cmd := ParseCommand(line, c.iis)
	c.out.Reset()
	var known bool
	if c.truncated {
		// A cut line is answered as what it has become: an unknown
		// command.
		c.unknown(cmd)
	} else {
		known = c.dispatch(cmd)
	}
	c.emit(cmd, known)
}

func (c *conn) emit(cmd Command, known bool) {
	c.s.Emit(&event.Command{Line: cmd.Text, Shell: "ftp", Output: c.out.String(), Known: known, Truncated: c.truncated})
}

// dispatch finds the command in the persona's table and runs it; it
// reports whether the persona knew it.
func (c *conn) dispatch(cmd Command) bool {
	if c.iis {
		return c.dispatchIIS(cmd)
	}
	return c.dispatchBusyBox(cmd)
}

func (c *conn) dispatchIIS(cmd Command) bool {
	sp, ok := iisCommands[cmd.Verb]
	if !ok || !sp.enabled(c.p) {
		c.unknown(cmd)
		return false
	}
	// The states of IIS's parser: waiting for USER, waiting for PASS,
	// logged on.
	var allowed bool
	switch {
	case c.loggedIn:
		allowed = cmd.Verb != "PASS"
	case c.userSeen:
		allowed = sp.pre || cmd.Verb == "PASS"
	default:
		allowed = sp.pre
	}
	if !allowed {
		if cmd.Verb == "PASS" {
			c.reply(503, "Login with USER first.")
		} else {
			c.reply(530, "Please login with USER and PASS.")
		}
		return true
	}
	switch {
	case sp.arg == argNone && cmd.Arg != "", sp.arg == argRequired && cmd.Arg == "":
		c.syntax(cmd)
		return true
	}
	sp.run(c, cmd)
	return true
}

func (c *conn) dispatchBusyBox(cmd Command) bool {
	if !c.loggedIn {
		switch cmd.Verb {
		case "USER":
			c.cmdUSER(cmd)
		case "PASS":
			c.cmdPASS(cmd)
		case "QUIT":
			c.cmdQUIT(cmd)
		default:
			c.reply(530, "Login with USER+PASS")
			_, ok := busyboxCommands[cmd.Verb]
			return ok
		}
		return true
	}
	sp, ok := busyboxCommands[cmd.Verb]
	if !ok || !sp.enabled(c.p) {
		c.unknown(cmd)
		return false
	}
	sp.run(c, cmd)
	return true
}

// Replies.

func (c *conn) write(s string) {
	if room := maxOutput - c.out.Len(); room > 0 {
		c.out.WriteString(s[:min(len(s), room)])
	}
	if c.dead {
		return
	}
	if _, err := c.s.WriteString(s); err != nil {
		c.dead = true
	}
}

func (c *conn) reply(code int, text string) { c.write(strconv.Itoa(code) + " " + text + "\r\n") }

// replyLines sends a multi-line reply whose lines are complete already.
func (c *conn) replyLines(lines []string) {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	c.write(b.String())
}

// pick chooses the persona's wording.
func (c *conn) pick(iis, busybox string) string {
	if c.iis {
		return iis
	}
	return busybox
}

func (c *conn) ok(code int, iisText string) { c.reply(code, c.pick(iisText, bbOK)) }

func (c *conn) unknown(cmd Command) {
	if c.iis {
		c.reply(500, "'"+cmd.Text+"': command not understood")
		return
	}
	c.reply(500, "Unknown command")
}

// syntax is IIS's answer to a known command with the wrong arguments.
func (c *conn) syntax(cmd Command) { c.reply(500, "'"+cmd.Text+"': command not understood") }

// fail answers a file operation that failed; name is the client's.
func (c *conn) fail(name string, e fsErr, bbCode int) {
	if c.iis {
		c.reply(550, name+": "+iisErrText[e])
		return
	}
	c.reply(bbCode, bbErr)
}

func (c *conn) resolve(arg string) string { return Resolve(c.cwd, arg, c.iis) }

// Login.

func (c *conn) cmdUSER(cmd Command) {
	name := cmd.Arg
	if !c.iis {
		if c.loggedIn {
			c.reply(230, bbOK)
			return
		}
		if c.cfg.Anonymous && name == "anonymous" {
			// BusyBox's -a: anonymous is in without a password.
			c.login(name, "", true)
			return
		}
		c.user, c.userSeen = name, true
		c.reply(331, "Specify password")
		return
	}
	c.loggedIn, c.userSeen = false, false
	if len(name) >= 256 {
		c.reply(530, "User "+name+" cannot log in.")
		return
	}
	c.user, c.userSeen = name, true
	c.anonymous = strings.EqualFold(name, "anonymous") || strings.EqualFold(name, "ftp")
	if c.anonymous {
		c.reply(331, "Anonymous access allowed, send identity (e-mail name) as password.")
		return
	}
	c.reply(331, "Password required for "+name+".")
}

func (c *conn) cmdPASS(cmd Command) {
	if !c.iis && c.loggedIn {
		c.reply(230, bbOK)
		return
	}
	pass := cmd.Arg
	user := ""
	if c.userSeen {
		user = c.user
	}
	ok := c.userSeen && c.accepts(user, pass)
	c.userSeen = false
	if ok && c.anonymous {
		c.anonPass = pass
	}
	c.login(user, pass, ok)
}

// accepts checks a password against the configured accounts.
func (c *conn) accepts(user, pass string) bool {
	if c.cfg.Anonymous && (c.iis && c.anonymous || !c.iis && user == "anonymous") {
		return true
	}
	for _, a := range c.cfg.Accept {
		if (a.User == user || c.iis && strings.EqualFold(a.User, user)) && a.Password == pass {
			return true
		}
	}
	return false
}

// login records an attempt and answers it.
func (c *conn) login(user, pass string, ok bool) {
	c.s.Emit(&event.Login{User: user, Password: pass, Method: "password", Success: ok})
	if ok {
		c.loggedIn, c.cwd = true, "/"
		if !c.iis {
			c.reply(230, bbOK)
			return
		}
		var lines []string
		for _, w := range c.p.Welcome {
			lines = append(lines, "230-"+w)
		}
		if c.anonymous {
			lines = append(lines, "230 Anonymous user logged in.")
		} else {
			lines = append(lines, "230 User "+user+" logged in.")
		}
		c.replyLines(lines)
		return
	}
	c.failures++
	c.reply(530, c.pick("User "+user+" cannot log in.", "Login failed"))
	if c.failures >= c.cfg.MaxLoginFailures {
		c.quit = true
	}
}

func (c *conn) cmdQUIT(Command) {
	c.reply(221, c.pick(c.p.Exit, bbOK))
	c.quit = true
}

func (c *conn) cmdREIN(Command) {
	c.loggedIn, c.userSeen, c.anonymous, c.user = false, false, false, ""
	c.binary, c.rest, c.rnfr, c.portSet, c.cwd = false, 0, "", false, "/"
	c.dropPassive()
	c.reply(220, "Service ready for new user.")
}

// Simple commands.

func (c *conn) cmdSYST(Command) { c.reply(215, c.p.System) }

func (c *conn) cmdNOOP(Command) { c.ok(200, "NOOP command successful.") }

func (c *conn) cmdABOR(Command) { c.reply(225, "ABOR command successful.") }

func (c *conn) cmdNotImplemented(cmd Command) { c.reply(202, cmd.Verb+" command not implemented.") }

func (c *conn) cmdALLO(Command) {
	if c.iis {
		c.reply(200, "ALLO command successful.")
		return
	}
	c.reply(202, bbOK)
}

func (c *conn) cmdPWD(Command) {
	if c.iis {
		c.reply(257, quotePWD(c.cwd, true)+" is current directory.")
		return
	}
	c.reply(257, quotePWD(c.cwd, false))
}

func (c *conn) cmdCWD(cmd Command) {
	if c.iis && (cmd.Arg == "" || cmd.Arg == "~") {
		c.cwd = "/"
		c.reply(250, "CWD command successful.")
		return
	}
	if !c.iis && cmd.Arg == "" {
		c.reply(550, bbErr)
		return
	}
	p := c.resolve(cmd.Arg)
	n := c.fs.lookup(p)
	switch {
	case n == nil:
		c.fail(cmd.Arg, c.fs.missing(p), 550)
	case !n.dir:
		c.reply(550, c.pick(cmd.Arg+": "+iisNotDir, bbErr))
	default:
		c.cwd = p
		c.ok(250, "CWD command successful.")
	}
}

func (c *conn) cmdCDUP(Command) {
	c.cwd = Resolve(c.cwd, "..", false)
	c.ok(250, "CDUP command successful.")
}

func (c *conn) cmdTYPE(cmd Command) {
	if !c.iis {
		// BusyBox always sends binary and says yes to any type.
		c.reply(200, bbOK)
		return
	}
	f := strings.Fields(cmd.Arg)
	if len(f) == 0 || len(f[0]) != 1 || len(f) > 2 {
		c.syntax(cmd)
		return
	}
	form := ""
	if len(f) == 2 {
		form = strings.ToUpper(f[1])
	}
	switch t := strings.ToUpper(f[0]); t {
	case "A", "E":
		switch form {
		case "", "N", "T":
		case "C":
			c.reply(504, "Form must be N or T.")
			return
		default:
			c.syntax(cmd)
			return
		}
		if t == "E" {
			c.reply(504, "Type E not implemented.")
			return
		}
		c.binary = false
		c.reply(200, "Type set to A.")
	case "I":
		if form != "" {
			c.syntax(cmd)
			return
		}
		c.binary = true
		c.reply(200, "Type set to I.")
	case "L":
		switch {
		case form == "8":
			c.binary = true
			c.reply(200, "Type set to L.")
		case form != "" && isDigits(form):
			c.reply(504, "Byte size must be 8.")
		default:
			c.syntax(cmd)
		}
	default:
		c.syntax(cmd)
	}
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func (c *conn) cmdMODE(cmd Command) {
	if !c.iis {
		c.reply(200, bbOK)
		return
	}
	switch strings.ToUpper(cmd.Arg) {
	case "S":
		c.reply(200, "Mode S ok.")
	case "B":
		c.reply(504, "Unimplemented MODE type.")
	default:
		c.syntax(cmd)
	}
}

func (c *conn) cmdSTRU(cmd Command) {
	if !c.iis {
		c.reply(200, bbOK)
		return
	}
	switch strings.ToUpper(cmd.Arg) {
	case "F":
		c.reply(200, "STRU F ok.")
	case "R", "P":
		c.reply(504, "Unimplemented STRU type.")
	default:
		c.syntax(cmd)
	}
}

func (c *conn) cmdREST(cmd Command) {
	n, err := strconv.ParseInt(cmd.Arg, 10, 64)
	if !c.iis {
		if cmd.Arg == "" {
			n, err = 0, nil
		}
		if err != nil || n < 0 {
			// BusyBox dies on a marker it cannot read.
			c.quit = true
			return
		}
		c.rest = n
		c.reply(350, bbOK)
		return
	}
	if err != nil || n < 0 || !isDigits(cmd.Arg) {
		c.syntax(cmd)
		return
	}
	c.rest = n
	c.reply(350, "Restarting at "+strconv.FormatInt(n, 10)+".")
}

func (c *conn) cmdHELP(cmd Command) {
	if !c.iis {
		c.replyLines(featureLines(214, "-Features:", features(c.p, false), " Ok"))
		return
	}
	if cmd.Arg == "" {
		c.replyLines(iisHelp(c.p))
		return
	}
	verb := upperASCII(cmd.Arg)
	sp, ok := iisCommands[verb]
	if !ok || !sp.enabled(c.p) {
		c.reply(501, "Unknown command "+cmd.Arg+".")
		return
	}
	c.reply(214, "Syntax: "+verb+" "+sp.help)
}

func featureLines(code int, first string, feats []string, last string) []string {
	lines := []string{strconv.Itoa(code) + first}
	for _, f := range feats {
		lines = append(lines, " "+f)
	}
	return append(lines, strconv.Itoa(code)+last)
}

func (c *conn) cmdFEAT(Command) {
	if c.iis {
		c.replyLines(featureLines(211, "-FEAT", features(c.p, true), " END"))
		return
	}
	c.replyLines(featureLines(211, "-Features:", features(c.p, false), " Ok"))
}

func (c *conn) cmdSITE(cmd Command) {
	verb, arg, _ := strings.Cut(cmd.Arg, " ")
	verb = upperASCII(verb)
	arg = strings.Trim(arg, " ")
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	switch {
	case verb == "" || verb == "HELP":
		c.replyLines(iisSiteHelp())
	case verb == "DIRSTYLE" && arg == "":
		c.msdos = !c.msdos
		c.reply(200, "MSDOS-like directory output is "+onOff(c.msdos))
	case verb == "CKM" && arg == "":
		c.reply(200, "directory annotation is on")
	default:
		c.reply(500, "'SITE "+cmd.Arg+"': command not understood")
	}
}

func (c *conn) cmdSTAT(cmd Command) {
	if cmd.Arg != "" {
		p := c.resolve(cmd.Arg)
		ns, _ := c.fs.entries(p)
		if c.iis {
			lines := []string{"213-status of " + cmd.Arg + ":"}
			lines = append(lines, c.listing(ns, true)...)
			c.replyLines(append(lines, "213 End of Status."))
			return
		}
		lines := []string{"213-File status:"}
		lines = append(lines, c.listing(ns, true)...)
		c.replyLines(append(lines, "213 "+bbOK))
		return
	}
	if !c.iis {
		c.replyLines([]string{"211-Server status:", " TYPE: BINARY", "211 Ok"})
		return
	}
	// IIS shows an anonymous user by the identity given as password.
	who := c.user
	if c.anonymous && c.anonPass != "" {
		who = c.anonPass
	}
	typ := "ASCII"
	if c.binary {
		typ = "BINARY"
	}
	data := "No data connection"
	if c.pasv != nil {
		data = "Data connection established"
	}
	c.replyLines([]string{
		"211-" + c.p.Hostname + " Microsoft Windows NT FTP Server status:",
		"     Version " + c.p.Version,
		"     Connected to " + c.s.Remote.Addr().String(),
		"     Logged in as " + who,
		"     TYPE: " + typ + ", FORM: Nonprint; STRUcture: File; transfer MODE: STREAM",
		"     " + data,
		"211 End of status.",
	})
}

// File commands.

func (c *conn) writable(name string) bool {
	if c.cfg.ReadOnly {
		c.fail(name, errDenied, 550)
		return false
	}
	return true
}

func (c *conn) cmdDELE(cmd Command) {
	if !c.writable(cmd.Arg) {
		return
	}
	if e := c.fs.remove(c.resolve(cmd.Arg), false); e != errNone {
		c.fail(cmd.Arg, e, 550)
		return
	}
	c.ok(250, "DELE command successful.")
}

func (c *conn) cmdMKD(cmd Command) {
	if !c.writable(cmd.Arg) {
		return
	}
	if !c.iis && cmd.Arg == "" {
		c.reply(550, bbErr)
		return
	}
	if e := c.fs.mkdir(c.resolve(cmd.Arg), c.srv.now().UTC()); e != errNone {
		c.fail(cmd.Arg, e, 550)
		return
	}
	c.ok(257, "MKD command successful.")
}

func (c *conn) cmdRMD(cmd Command) {
	if !c.writable(cmd.Arg) {
		return
	}
	p := c.resolve(cmd.Arg)
	if e := c.fs.remove(p, true); e != errNone {
		c.fail(cmd.Arg, e, 550)
		return
	}
	if c.cwd == p || strings.HasPrefix(c.cwd, p+"/") {
		c.cwd = "/"
	}
	c.ok(250, "RMD command successful.")
}

func (c *conn) cmdRNFR(cmd Command) {
	p := c.resolve(cmd.Arg)
	if !c.iis {
		c.rnfr = p
		c.reply(350, bbOK)
		return
	}
	if c.fs.lookup(p) == nil {
		c.fail(cmd.Arg, c.fs.missing(p), 550)
		return
	}
	c.rnfr = p
	c.reply(350, "File exists, ready for destination name")
}

func (c *conn) cmdRNTO(cmd Command) {
	from := c.rnfr
	c.rnfr = ""
	if from == "" || !c.iis && cmd.Arg == "" {
		c.reply(503, c.pick("Bad sequence of commands.", "Use RNFR first"))
		return
	}
	if !c.writable(cmd.Arg) {
		return
	}
	if e := c.fs.rename(from, c.resolve(cmd.Arg)); e != errNone {
		c.fail(cmd.Arg, e, 550)
		return
	}
	c.ok(250, "RNTO command successful.")
}

// file finds a regular file for SIZE, MDTM and RETR.
func (c *conn) file(name string) (string, *node) {
	if !c.iis && name == "" {
		c.reply(550, bbErr)
		return "", nil
	}
	p := c.resolve(name)
	n := c.fs.lookup(p)
	switch {
	case n == nil:
		c.fail(name, c.fs.missing(p), 550)
		return "", nil
	case n.dir:
		c.fail(name, errDenied, 550)
		return "", nil
	}
	return c.fs.canonical(p), n
}

func (c *conn) cmdSIZE(cmd Command) {
	if _, n := c.file(cmd.Arg); n != nil {
		c.reply(213, strconv.FormatInt(n.size, 10))
	}
}

func (c *conn) cmdMDTM(cmd Command) {
	if _, n := c.file(cmd.Arg); n != nil {
		c.reply(213, n.mod.UTC().Format("20060102150405"))
	}
}

// listing formats entries as the persona's LIST does.
func (c *conn) listing(ns []*node, long bool) []string {
	now := c.srv.now().UTC()
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		switch {
		case !long:
			out = append(out, n.name)
		case !c.iis:
			out = append(out, listBusyBox(n, now))
		case c.msdos:
			out = append(out, listMSDOS(n))
		default:
			out = append(out, listIISUnix(n, now))
		}
	}
	return out
}

func (c *conn) cmdLIST(cmd Command) { c.list(cmd, true) }

func (c *conn) cmdNLST(cmd Command) { c.list(cmd, false) }

func (c *conn) list(cmd Command, long bool) {
	flags, target := SplitListArg(cmd.Arg)
	if !long && c.iis && strings.Contains(flags, "l") {
		long = true
	}
	ns, found := c.fs.entries(c.resolve(target))
	if !found && c.iis && target != "" {
		c.fail(target, c.fs.missing(c.resolve(target)), 550)
		return
	}
	var b strings.Builder
	for _, l := range c.listing(ns, long) {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	mode := "ASCII"
	if c.binary {
		mode = "BINARY"
	}
	dc := c.openData("Opening "+mode+" mode data connection for /bin/ls.", "Directory listing")
	if dc == nil {
		return
	}
	c.finish(c.send(dc, []byte(b.String())))
}

func (c *conn) cmdRETR(cmd Command) {
	p, n := c.file(cmd.Arg)
	if n == nil {
		return
	}
	if n.uploaded && n.content == nil && n.size > 0 {
		c.fail(cmd.Arg, errBusy, 550)
		return
	}
	data := contentOf(p, n, !c.iis)
	off := c.rest
	c.rest = 0
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	mode := "ASCII"
	if c.binary {
		mode = "BINARY"
	}
	size := strconv.FormatInt(n.size, 10)
	dc := c.openData("Opening "+mode+" mode data connection for "+cmd.Arg+"("+size+" bytes).",
		"Opening BINARY connection for "+cmd.Arg+" ("+size+" bytes)")
	if dc == nil {
		return
	}
	c.finish(c.send(dc, data[off:]))
}

func (c *conn) cmdSTOR(cmd Command) { c.store(cmd.Arg, cmd.Arg, "stor") }

func (c *conn) cmdAPPE(cmd Command) { c.store(cmd.Arg, cmd.Arg, "appe") }

func (c *conn) cmdSTOU(Command) {
	var name string
	if c.iis {
		name = fmt.Sprintf("FTP%04X.TMP", rand.IntN(0x10000))
	} else {
		const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		b := []byte("uniq.XXXXXX")
		for i := 5; i < len(b); i++ {
			b[i] = chars[rand.IntN(len(chars))]
		}
		name = string(b)
	}
	c.store(name, "", "stou")
}

// store receives an upload. name is the file's name as the server sees
// it; given is the client's name for it ("" for STOU).
func (c *conn) store(name, given, via string) {
	if c.cfg.ReadOnly {
		c.fail(name, errDenied, 553)
		return
	}
	if !c.iis && name == "" {
		c.reply(553, bbErr)
		return
	}
	n, e := c.fs.create(c.resolve(name), c.srv.now().UTC(), via == "appe")
	if e != errNone {
		c.fail(name, e, 553)
		return
	}
	mode := "ASCII"
	if c.binary {
		mode = "BINARY"
	}
	bb := "Ok to send data"
	if via == "stou" {
		bb = "FILE: " + name
	}
	c.rest = 0
	dc := c.openData("Opening "+mode+" mode data connection for "+name+".", bb)
	if dc == nil {
		return
	}
	data, reserved, cut := c.receive(dc)
	_ = dc.Close()
	label := given
	if label == "" {
		label = name
	}
	sha, err := c.s.SaveSample(data, "ftp.stor", label)
	if err != nil {
		c.srv.log.Warn("sample not stored", "service", c.s.Service, "session", c.s.SessionID,
			"src", c.s.Remote.String(), "err", err)
	}
	c.s.Emit(&event.Upload{Name: label, Size: int64(len(data)), SHA256: sha, Truncated: cut, Via: via})
	c.keep(n, data, reserved, via == "appe")
	c.finish(!cut)
}

// keep records an upload in the session's tree, and its bytes for
// read-back while the session's share allows.
func (c *conn) keep(n *node, data []byte, reserved int64, appendTo bool) {
	if !appendTo {
		n.size, n.content = 0, nil
	}
	// The bytes are known when all before this upload were kept.
	known := n.content != nil || n.size == 0
	n.size += int64(len(data))
	if known && c.kept+reserved <= maxKept {
		// A new array: the old one may be the persona's, shared by
		// every session.
		n.content = append(n.content[:len(n.content):len(n.content)], data...)
		c.kept += reserved
		return
	}
	n.content = nil
	c.srv.release(reserved)
}

// finish sends a transfer's last reply.
func (c *conn) finish(ok bool) {
	switch {
	case ok:
		c.ok(226, "Transfer complete.")
	case c.iis:
		c.truncated = true
		c.reply(426, "Connection closed; transfer aborted.")
	default:
		c.truncated = true
		c.reply(451, bbErr)
	}
}
