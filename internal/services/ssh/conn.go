package ssh

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/shell"
)

// Bounds of what one connection records.
const (
	maxField    = 1024 // user names, passwords, hosts kept in events
	maxForwards = 256  // forwarding requests recorded per connection
	// drainGrace is how long a connection the server ended waits for the
	// client to close its end.
	drainGrace = 2 * time.Second
)

var errDenied = errors.New("ssh: access denied")

// conn is one SSH connection.
type conn struct {
	ctx  context.Context
	srv  *Server
	sess *service.Session
	wire *wire

	// Set during the handshake, on the handler's goroutine.
	emitted bool
	pending *keyAttempt // a key accepted but not yet proven

	sconn *xssh.ServerConn
	user  string
	host  *host
	wg    sync.WaitGroup

	mu       sync.Mutex
	open     int // session channels open
	forwards int // forwarding requests recorded
}

type keyAttempt struct{ user, fp string }

func newConn(ctx context.Context, s *Server, sess *service.Session) *conn {
	return &conn{ctx: ctx, srv: s, sess: sess, wire: newWire(sess, s.release.Mismatch)}
}

// serve runs the connection: handshake, authentication, channels.
func (c *conn) serve() {
	sconn, chans, reqs, err := xssh.NewServerConn(c.wire, c.serverConfig())
	c.wire.end()
	c.emitHello()
	c.flushKey()
	if err != nil {
		if !errors.Is(err, errNotSSH) {
			c.sess.Log.Debug("ssh: handshake ended", "service", c.sess.Service, "session", c.sess.SessionID,
				"src", c.sess.Remote.String(), "err", err)
		}
		c.wire.drain(drainGrace)
		return
	}
	c.sconn = sconn
	c.user = sconn.User()
	c.host = c.newHost()
	c.loop(chans, reqs)
	c.wg.Wait()
	_ = sconn.Close()
	c.wire.drain(drainGrace)
	_ = sconn.Wait()
}

func (c *conn) serverConfig() *xssh.ServerConfig {
	p := c.srv.persona
	cfg := &xssh.ServerConfig{
		Config:        xssh.Config{KeyExchanges: p.Kex, Ciphers: p.Ciphers, MACs: p.MACs},
		ServerVersion: p.Version,
		MaxAuthTries:  c.srv.maxTries,
	}
	for _, k := range c.srv.keys {
		cfg.AddHostKey(k)
	}
	for _, m := range p.Methods {
		switch m {
		case "password":
			cfg.PasswordCallback = c.password
		case "publickey":
			cfg.PublicKeyCallback = c.publicKey
			cfg.VerifiedPublicKeyCallback = c.verifiedKey
		case "keyboard-interactive":
			cfg.KeyboardInteractiveCallback = c.keyboardInteractive
		}
	}
	if p.Banner != "" {
		cfg.BannerCallback = func(xssh.ConnMetadata) string { return p.Banner }
	}
	return cfg
}

// emitHello records the client's identification and key exchange offer,
// once, before its first login event.
func (c *conn) emitHello() {
	if c.emitted {
		return
	}
	h := c.wire.result()
	if !h.Started() || !h.Done() {
		return
	}
	c.emitted = true
	d := &event.SSH{ClientVersion: h.Version, Malformed: h.Malformed}
	if k := h.KexInit; k != nil {
		d.HASSH, d.HASSHAlgorithms = k.HASSH(), cut(k.HASSHAlgorithms(), 8<<10)
		d.Kex, d.HostKeys = Names(k.Kex), Names(k.HostKeys)
		d.CiphersC2S, d.CiphersS2C = Names(k.CiphersC2S), Names(k.CiphersS2C)
		d.MACsC2S, d.MACsS2C = Names(k.MACsC2S), Names(k.MACsS2C)
		d.CompressionC2S, d.CompressionS2C = Names(k.CompressionC2S), Names(k.CompressionS2C)
	}
	c.sess.Emit(d)
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// password decides a password attempt.
func (c *conn) password(md xssh.ConnMetadata, pw []byte) (*xssh.Permissions, error) {
	return c.tryPassword(md.User(), string(pw), "password")
}

func (c *conn) tryPassword(user, pass, method string) (*xssh.Permissions, error) {
	c.emitHello()
	c.flushKey()
	ok := c.srv.policy.password(c.sess.Remote.Addr(), user, pass)
	c.sess.Emit(&event.Login{User: cut(user, maxField), Password: cut(pass, maxField), Method: method, Success: ok})
	if ok {
		return &xssh.Permissions{}, nil
	}
	c.pause()
	return nil, errDenied
}

// keyboardInteractive asks for the password in one prompt, as sshd with
// PAM does.
func (c *conn) keyboardInteractive(md xssh.ConnMetadata, ask xssh.KeyboardInteractiveChallenge) (*xssh.Permissions, error) {
	c.emitHello()
	answers, err := ask("", "", []string{"Password: "}, []bool{false})
	if err != nil {
		return nil, err
	}
	pass := ""
	if len(answers) > 0 {
		pass = answers[0]
	}
	return c.tryPassword(md.User(), pass, "keyboard-interactive")
}

// publicKey decides whether a key would let the user in. An accepted key
// is recorded once the client proves it holds it (verifiedKey), or as a
// failure if it never does.
func (c *conn) publicKey(md xssh.ConnMetadata, key xssh.PublicKey) (*xssh.Permissions, error) {
	c.emitHello()
	c.flushKey()
	fp := xssh.FingerprintSHA256(key)
	user := md.User()
	if !c.srv.policy.key(user, fp) {
		c.sess.Emit(&event.Login{User: cut(user, maxField), Method: "publickey", Key: fp, Success: false})
		return nil, errDenied
	}
	c.pending = &keyAttempt{user: user, fp: fp}
	return &xssh.Permissions{}, nil
}

func (c *conn) verifiedKey(md xssh.ConnMetadata, key xssh.PublicKey, perms *xssh.Permissions, _ string) (*xssh.Permissions, error) {
	c.pending = nil
	c.sess.Emit(&event.Login{User: cut(md.User(), maxField), Method: "publickey", Key: xssh.FingerprintSHA256(key),
		Success: true})
	return perms, nil
}

// flushKey records an accepted key that the client did not go on to use.
func (c *conn) flushKey() {
	if k := c.pending; k != nil {
		c.pending = nil
		c.sess.Emit(&event.Login{User: cut(k.user, maxField), Method: "publickey", Key: k.fp, Success: false})
	}
}

// pause waits the release's delay before a refusal, or less if the
// session ends.
func (c *conn) pause() {
	d := c.srv.delay
	if j := c.srv.jitter; j > 0 {
		d += rand.N(j)
	}
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.ctx.Done():
	case <-t.C:
	}
}

// newHost builds the fake machine the user logged in to.
func (c *conn) newHost() *host {
	fs := shell.NewFS(c.srv.tree)
	fs.MaxEntries, fs.MaxBytes = c.srv.cfg.FSEntries, int64(c.srv.cfg.FSBytes)
	h := &host{fs: fs, windows: c.srv.cmd != nil, now: c.srv.now}
	if h.windows {
		h.home = windowsHome(fs, c.user, c.srv.now())
	} else {
		h.home = []string{"root"}
		if c.user != "root" {
			h.home = []string{"home"}
		}
	}
	return h
}

// windowsHome is the profile directory of user, made if missing.
func windowsHome(fs *shell.FS, user string, now time.Time) []string {
	name := windowsName(user)
	dir := []string{"C:", "Documents and Settings", name}
	if n := fs.Stat(dir); n != nil && n.Dir {
		dir[2] = n.Name
	} else if err := fs.Mkdir(dir, now); err != nil {
		dir[2] = "Default User"
	}
	return dir
}

// windowsName is the account name of a Windows login ("DOMAIN\user" and
// "user@domain" name the account user), kept to what a path may hold.
func windowsName(user string) string {
	if i := strings.LastIndexByte(user, '\\'); i >= 0 {
		user = user[i+1:]
	}
	if i := strings.IndexByte(user, '@'); i > 0 {
		user = user[:i]
	}
	user = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`\/:*?"<>|`, r) || r < 0x20 {
			return -1
		}
		return r
	}, strings.TrimSpace(user))
	if user == "" || user == "." || user == ".." {
		return "Administrator"
	}
	return cut(user, 64)
}

// loop serves the connection's channel and global requests until it
// ends.
func (c *conn) loop(chans <-chan xssh.NewChannel, reqs <-chan *xssh.Request) {
	for chans != nil || reqs != nil {
		select {
		case nc, ok := <-chans:
			if !ok {
				chans = nil
				continue
			}
			c.newChannel(nc)
		case r, ok := <-reqs:
			if !ok {
				reqs = nil
				continue
			}
			c.globalRequest(r)
		}
	}
}

func (c *conn) newChannel(nc xssh.NewChannel) {
	switch nc.ChannelType() {
	case "session":
		c.mu.Lock()
		full := c.open >= c.srv.cfg.MaxChannels
		if !full {
			c.open++
		}
		c.mu.Unlock()
		if full {
			_ = nc.Reject(xssh.ResourceShortage, "open failed")
			return
		}
		ch, reqs, err := nc.Accept()
		if err != nil {
			c.closed()
			return
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer c.closed()
			defer c.recoverPanic()
			c.session(ch, reqs)
		}()
	case "direct-tcpip":
		var m struct {
			Host       string
			Port       uint32
			OriginHost string
			OriginPort uint32
		}
		if err := xssh.Unmarshal(nc.ExtraData(), &m); err != nil {
			c.recordForward("direct-tcpip", "", nil, "malformed")
		} else {
			c.recordForward("direct-tcpip", hostPort(m.Host, m.Port),
				[]event.Header{{Name: "originator", Value: hostPort(m.OriginHost, m.OriginPort)}}, "")
		}
		_ = nc.Reject(xssh.Prohibited, "open failed")
	default:
		c.recordForward(cut(nc.ChannelType(), 64), "", nil, "")
		_ = nc.Reject(xssh.UnknownChannelType, "unknown channel type")
	}
}

func (c *conn) closed() {
	c.mu.Lock()
	c.open--
	c.mu.Unlock()
}

func hostPort(h string, p uint32) string {
	return net.JoinHostPort(cut(h, maxField), strconv.FormatUint(uint64(p), 10))
}

// globalRequest answers a connection-level request: forwardings are
// recorded and refused, others refused as sshd refuses what it does not
// know.
func (c *conn) globalRequest(r *xssh.Request) {
	switch r.Type {
	case "tcpip-forward", "cancel-tcpip-forward":
		var m struct {
			Addr string
			Port uint32
		}
		if err := xssh.Unmarshal(r.Payload, &m); err != nil {
			c.recordForward(r.Type, "", nil, "malformed")
		} else {
			c.recordForward(r.Type, hostPort(m.Addr, m.Port), nil, "")
		}
	case "streamlocal-forward@openssh.com":
		c.recordForward(r.Type, "", nil, "")
	}
	if r.WantReply {
		_ = r.Reply(false, nil)
	}
}

// recordForward records a forwarding request, refused; bounded per
// connection.
func (c *conn) recordForward(method, target string, args []event.Header, malformed string) {
	c.mu.Lock()
	over := c.forwards >= maxForwards
	c.forwards++
	c.mu.Unlock()
	if over {
		return
	}
	host, _, _ := net.SplitHostPort(target)
	c.sess.Emit(&event.Request{Method: method, URI: target, Host: host, Args: args, Action: "refused",
		Malformed: malformed})
}

// recoverPanic ends the connection when a channel's goroutine fails, as
// the engine does for the handler's own.
func (c *conn) recoverPanic() {
	if r := recover(); r != nil {
		c.sess.Log.Error("ssh: channel failed; connection cut", "service", c.sess.Service, "session", c.sess.SessionID,
			"src", c.sess.Remote.String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		if c.sconn != nil {
			_ = c.sconn.Close()
			_ = c.sess.Conn().SetDeadline(time.Unix(1, 0))
		}
	}
}

// keep stores bytes a client sent as a file, with an upload event.
func (c *conn) keep(data []byte, source, name, via string, size int64, truncated bool) {
	sha, err := c.sess.SaveSample(data, source, cut(name, maxField))
	if err != nil {
		c.sess.Log.Warn("sample not stored", "service", c.sess.Service, "session", c.sess.SessionID,
			"src", c.sess.Remote.String(), "err", err)
	}
	c.sess.Emit(&event.Upload{Name: cut(name, maxField), Size: size, SHA256: sha, Truncated: truncated, Via: via})
}
