package ftp

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// The data channel. It is the handler's own, not an engine listener, so
// it bounds itself: one pending passive listener per session, on a port
// of the configured range, accepting one connection from the client's
// own address within DataTimeout; active connections only to the
// client's own address; every transfer bounded in bytes (MaxUpload,
// DataBudget, UploadMemory) and time (DataTimeout for any stall,
// TransferTimeout in all). Everything is closed when the command that
// used it ends, and when the session ends.

// passive is a listener waiting for the client's data connection. Its
// goroutine accepts one connection from the client's address, closes
// the listener, and ends; the session waits for it before returning.
type passive struct {
	ln   *net.TCPListener
	port uint16
	done chan struct{}
	conn *net.TCPConn // set by the goroutine before done closes
	err  error
}

// maxRejected bounds the strangers' connections a passive listener
// closes before it gives up.
const maxRejected = 64

// past is a deadline that has always passed: I/O fails at once.
var past = time.Unix(1, 0)

var (
	errNoAddress = errors.New("ftp: no address to listen on")
	errBounce    = errors.New("ftp: data connection elsewhere than the client refused")
	errActiveOff = errors.New("ftp: active mode is off")
)

// listenPassive opens a listener on the control connection's local
// address, on a free port of the range.
func (c *conn) listenPassive() (*passive, error) {
	ip := c.s.Local.Addr()
	if !ip.IsValid() || ip.IsUnspecified() {
		return nil, errNoAddress
	}
	lo, hi := c.cfg.PassiveMin, c.cfg.PassiveMax
	n := hi - lo + 1
	start := rand.IntN(n)
	var err error
	for i := range min(n, 32) {
		port := uint16(lo + (start+i)%n)
		var ln *net.TCPListener
		ln, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, port)))
		if err != nil {
			continue
		}
		p := &passive{ln: ln, port: port, done: make(chan struct{})}
		go p.accept(c.s.Remote.Addr().Unmap(), time.Now().Add(c.cfg.DataTimeout))
		return p, nil
	}
	return nil, err
}

func (p *passive) accept(client netip.Addr, deadline time.Time) {
	defer close(p.done)
	defer p.ln.Close()
	_ = p.ln.SetDeadline(deadline)
	for range maxRejected {
		nc, err := p.ln.AcceptTCP()
		if err != nil {
			p.err = err
			return
		}
		if nc.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap() != client {
			// Only the client itself may connect.
			_ = nc.SetLinger(0)
			_ = nc.Close()
			continue
		}
		p.conn = nc
		return
	}
	p.err = errBounce
}

// wait returns the accepted connection, or an error once the deadline
// passed, the listener failed or the session ended.
func (p *passive) wait(ctx context.Context) (*net.TCPConn, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		p.close()
		return nil, ctx.Err()
	}
	if p.conn == nil {
		return nil, p.err
	}
	nc := p.conn
	p.conn = nil
	return nc, nil
}

// close stops the listener, waits for its goroutine and closes a
// connection nobody took.
func (p *passive) close() {
	_ = p.ln.Close()
	<-p.done
	if p.conn != nil {
		_ = p.conn.Close()
		p.conn = nil
	}
}

func (c *conn) dropPassive() {
	if c.pasv != nil {
		c.pasv.close()
		c.pasv = nil
	}
}

// passiveAddr is the IPv4 address PASV announces.
func (c *conn) passiveAddr() (netip.Addr, bool) {
	if c.srv.passiveIP.IsValid() {
		return c.srv.passiveIP, true
	}
	a := c.s.Local.Addr().Unmap()
	return a, a.Is4()
}

func (c *conn) cmdPASV(Command) {
	c.dropPassive()
	c.portSet = false
	a, ok := c.passiveAddr()
	var p *passive
	var err error
	if ok {
		p, err = c.listenPassive()
	}
	if !ok || err != nil {
		c.reply(425, c.pick("Can't open data connection.", bbErr))
		return
	}
	c.pasv = p
	hp := FormatPASV(netip.AddrPortFrom(a, p.port))
	if c.iis {
		c.reply(227, "Entering Passive Mode ("+hp+").")
		return
	}
	c.reply(227, "PASV ok ("+hp+")")
}

func (c *conn) cmdEPSV(cmd Command) {
	if c.iis && upperASCII(cmd.Arg) == "ALL" {
		c.reply(200, "EPSV ALL command successful.")
		return
	}
	c.dropPassive()
	c.portSet = false
	p, err := c.listenPassive()
	if err != nil {
		c.reply(425, c.pick("Can't open data connection.", bbErr))
		return
	}
	c.pasv = p
	port := strconv.Itoa(int(p.port))
	if c.iis {
		c.reply(229, "Entering Extended Passive Mode (|||"+port+"|)")
		return
	}
	c.reply(229, "EPSV ok (|||"+port+"|)")
}

func (c *conn) cmdPORT(cmd Command) {
	c.dropPassive()
	c.portSet = false
	if !c.iis {
		// BusyBox reads only the port and connects back to the peer,
		// whatever address the client named.
		ap, err := busyboxPORT(cmd.Arg)
		if err != nil {
			c.reply(500, bbErr)
			return
		}
		c.port, c.portSet = netip.AddrPortFrom(c.s.Remote.Addr(), ap), true
		c.reply(200, bbOK)
		return
	}
	ap, err := ParsePORT(cmd.Arg, false)
	if err != nil {
		c.syntax(cmd)
		return
	}
	if ap.Addr() != c.s.Remote.Addr().Unmap() || ap.Port() < 1024 {
		c.reply(500, "Invalid PORT command.")
		return
	}
	c.port, c.portSet = ap, true
	c.reply(200, "PORT command successful.")
}

// busyboxPORT reads the last two numbers of PORT's argument.
func busyboxPORT(arg string) (uint16, error) {
	var port uint16
	for i := range 2 {
		j := len(arg) - 1
		for j >= 0 && arg[j] != ',' {
			j--
		}
		if j < 0 {
			return 0, errSyntax
		}
		v, err := strconv.ParseUint(arg[j+1:], 10, 8)
		if err != nil {
			return 0, errSyntax
		}
		port |= uint16(v) << (8 * i)
		arg = arg[:j]
	}
	return port, nil
}

func (c *conn) cmdEPRT(cmd Command) {
	c.dropPassive()
	c.portSet = false
	ap, err := ParseEPRT(cmd.Arg)
	switch {
	case errors.Is(err, errProtocol):
		c.reply(522, "Network protocol not supported, use (1)")
		return
	case err != nil:
		c.reply(501, c.pick("Syntax error in parameters or arguments.", bbErr))
		return
	}
	if ap.Addr().Unmap() != c.s.Remote.Addr().Unmap() || c.iis && ap.Port() < 1024 {
		c.reply(500, c.pick("Invalid PORT command.", bbErr))
		return
	}
	c.port, c.portSet = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	c.ok(200, "EPRT command successful.")
}

// openData gets the data connection for a transfer and sends the
// preliminary reply: iis is IIS's text when it connects to the client,
// busybox BusyBox's. nil means the reply said why there is none.
func (c *conn) openData(iis, busybox string) net.Conn {
	if c.dataUsed >= int64(c.cfg.DataBudget) {
		c.dropPassive()
		c.reply(425, c.pick("Can't open data connection.", bbErr))
		return nil
	}
	if p := c.pasv; p != nil {
		c.pasv = nil
		nc, err := p.wait(c.ctx)
		if err != nil {
			c.reply(425, c.pick("Can't open data connection.", bbErr))
			return nil
		}
		c.reply(c.code(125, 150), c.pick("Data connection already open; Transfer starting.", busybox))
		return nc
	}
	var target netip.AddrPort
	switch {
	case c.portSet:
		target = c.port
		if !c.iis {
			c.portSet = false
		}
	case c.iis:
		// No PORT: RFC 959's default, the client's own control port.
		target = c.s.Remote
	default:
		c.reply(425, "Use PORT/PASV first")
		return nil
	}
	if c.iis {
		c.reply(150, iis)
	}
	nc, err := c.dial(target)
	if err != nil {
		c.reply(425, c.pick("Can't open data connection.", bbErr))
		return nil
	}
	if !c.iis {
		c.reply(150, busybox)
	}
	return nc
}

func (c *conn) code(iis, busybox int) int {
	if c.iis {
		return iis
	}
	return busybox
}

// dial connects to the client for an active transfer: to its own address
// only, whatever the client asked.
func (c *conn) dial(target netip.AddrPort) (net.Conn, error) {
	if !c.cfg.ActiveMode {
		return nil, errActiveOff
	}
	remote := c.s.Remote.Addr().Unmap()
	if !remote.IsValid() || target.Addr().Unmap() != remote || target.Port() == 0 {
		return nil, errBounce
	}
	d := net.Dialer{Timeout: c.cfg.DataTimeout}
	if l := c.s.Local.Addr(); l.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: l.AsSlice()}
	}
	return d.DialContext(c.ctx, "tcp", netip.AddrPortFrom(remote, target.Port()).String())
}

// deadline is the earlier of a stall's bound and the transfer's end.
func (c *conn) deadline(end time.Time) time.Time {
	d := time.Now().Add(c.cfg.DataTimeout)
	if end.Before(d) {
		return end
	}
	return d
}

// send writes data to the client within the bounds; false when the
// transfer was cut.
func (c *conn) send(dc net.Conn, data []byte) bool {
	defer dc.Close()
	stop := context.AfterFunc(c.ctx, func() { _ = dc.SetDeadline(past) })
	defer stop()
	end := time.Now().Add(c.cfg.TransferTimeout)
	for len(data) > 0 {
		left := int64(c.cfg.DataBudget) - c.dataUsed
		if left <= 0 {
			return false
		}
		chunk := data[:min(len(data), 32<<10, int(min(left, 1<<30)))]
		_ = dc.SetWriteDeadline(c.deadline(end))
		if c.ctx.Err() != nil {
			return false
		}
		n, err := dc.Write(chunk)
		c.dataUsed += int64(n)
		data = data[n:]
		if err != nil {
			return false
		}
	}
	return true
}

// receive reads an upload within the bounds. It returns the bytes, how
// many of them are reserved in the shared upload memory (the caller keeps
// or releases them) and whether the upload was cut.
func (c *conn) receive(dc net.Conn) (data []byte, reserved int64, cut bool) {
	stop := context.AfterFunc(c.ctx, func() { _ = dc.SetDeadline(past) })
	defer stop()
	end := time.Now().Add(c.cfg.TransferTimeout)
	limit := min(int64(c.cfg.MaxUpload), int64(c.cfg.DataBudget)-c.dataUsed)
	chunk := make([]byte, 32<<10)
	for {
		_ = dc.SetReadDeadline(c.deadline(end))
		if c.ctx.Err() != nil {
			return data, reserved, true
		}
		room := limit - int64(len(data))
		if room <= 0 {
			// Full: was there more?
			n, _ := dc.Read(chunk[:1])
			return data, reserved, n > 0
		}
		n, err := dc.Read(chunk[:min(int64(len(chunk)), room)])
		if n > 0 {
			if !c.srv.reserve(int64(n)) {
				return data, reserved, true
			}
			reserved += int64(n)
			c.dataUsed += int64(n)
			data = append(data, chunk[:n]...)
		}
		switch {
		case errors.Is(err, io.EOF):
			return data, reserved, false
		case err != nil:
			return data, reserved, true
		}
	}
}
