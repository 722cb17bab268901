package download

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Bounds of an FTP server's replies.
const (
	ftpLine  = 512 // bytes of one reply line
	ftpLines = 64  // lines of one multi-line reply
)

// getFTP fetches t over FTP: passive mode, anonymous unless the URL names
// a user, binary, RETR. The data connection goes to the control
// connection's address whatever PASV answers, so a server cannot point it
// elsewhere; it is checked like every dial.
func (s *Sink) getFTP(ctx context.Context, t target) ([]byte, error) {
	conn, err := s.dial(ctx, "tcp", t.addr())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	deadline(ctx, conn)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c := ftpConn{conn: conn, r: bufio.NewReaderSize(conn, ftpLine)}
	if code, msg, err := c.reply(); err != nil {
		return nil, err
	} else if code != 220 {
		return nil, fmt.Errorf("ftp greeting %d %s", code, msg)
	}
	user, pass := t.user, t.pass
	if user == "" {
		user, pass = "anonymous", "anonymous@"
	}
	code, msg, err := c.cmd("USER " + user)
	if err == nil && (code == 331 || code == 332) {
		code, msg, err = c.cmd("PASS " + pass)
	}
	if err != nil {
		return nil, err
	}
	if code != 230 && code != 202 {
		return nil, fmt.Errorf("ftp login refused: %d %s", code, msg)
	}
	if code, msg, err := c.cmd("TYPE I"); err != nil {
		return nil, err
	} else if code/100 != 2 {
		return nil, fmt.Errorf("ftp TYPE I: %d %s", code, msg)
	}
	remote, _ := netip.ParseAddrPort(conn.RemoteAddr().String())
	var port int
	if remote.Addr().Unmap().Is4() {
		code, msg, err := c.cmd("PASV")
		if err != nil {
			return nil, err
		}
		if code != 227 {
			return nil, fmt.Errorf("ftp PASV: %d %s", code, msg)
		}
		if port, err = pasvPort(msg); err != nil {
			return nil, err
		}
	} else {
		code, msg, err := c.cmd("EPSV")
		if err != nil {
			return nil, err
		}
		if code != 229 {
			return nil, fmt.Errorf("ftp EPSV: %d %s", code, msg)
		}
		if port, err = epsvPort(msg); err != nil {
			return nil, err
		}
	}
	data, err := s.dial(ctx, "tcp", netip.AddrPortFrom(remote.Addr(), uint16(port)).String())
	if err != nil {
		return nil, err
	}
	defer data.Close()
	deadline(ctx, data)
	stopData := context.AfterFunc(ctx, func() { _ = data.SetDeadline(time.Unix(1, 0)) })
	defer stopData()
	if code, msg, err := c.cmd("RETR " + t.path); err != nil {
		return nil, err
	} else if code != 125 && code != 150 {
		return nil, fmt.Errorf("ftp RETR: %d %s", code, msg)
	}
	b, err := readMax(data, int64(s.cfg.MaxSize))
	if err != nil {
		return nil, err
	}
	_ = data.Close()
	if code, msg, err := c.reply(); err != nil {
		return nil, err
	} else if code/100 != 2 {
		return nil, fmt.Errorf("ftp transfer: %d %s", code, msg)
	}
	_, _, _ = c.cmd("QUIT")
	return b, nil
}

func deadline(ctx context.Context, c net.Conn) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
}

type ftpConn struct {
	conn net.Conn
	r    *bufio.Reader
}

func (c *ftpConn) cmd(line string) (int, string, error) {
	if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
		return 0, "", err
	}
	return c.reply()
}

var errBadReply = errors.New("ftp: malformed reply")

// reply reads one reply, multi-line replies included, within bounds. It
// returns the code and the text of its last line.
func (c *ftpConn) reply() (int, string, error) {
	line, err := c.line()
	if err != nil {
		return 0, "", err
	}
	code, ok := replyCode(line)
	if !ok {
		return 0, "", errBadReply
	}
	if len(line) > 3 && line[3] == '-' {
		end := line[:3] + " "
		for i := 0; ; i++ {
			if i >= ftpLines {
				return 0, "", errors.New("ftp: reply too long")
			}
			if line, err = c.line(); err != nil {
				return 0, "", err
			}
			if strings.HasPrefix(line, end) || line == end[:3] {
				break
			}
		}
	}
	msg := ""
	if len(line) > 4 {
		msg = line[4:]
	}
	return code, printable(msg, 120), nil
}

func (c *ftpConn) line() (string, error) {
	b, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errors.New("ftp: reply line too long")
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func replyCode(line string) (int, bool) {
	if len(line) < 3 {
		return 0, false
	}
	n, err := strconv.Atoi(line[:3])
	if err != nil || n < 100 || n > 599 {
		return 0, false
	}
	return n, len(line) == 3 || line[3] == ' ' || line[3] == '-'
}

// pasvPort reads the port of a 227 reply: "Entering Passive Mode
// (h1,h2,h3,h4,p1,p2)". The address part is ignored.
func pasvPort(msg string) (int, error) {
	start := strings.IndexAny(msg, "0123456789")
	if start < 0 {
		return 0, errBadReply
	}
	f := strings.FieldsFunc(msg[start:], func(r rune) bool { return r == ',' || r == ')' || r == ' ' || r == '.' })
	if len(f) < 6 {
		return 0, errBadReply
	}
	var n [6]int
	for i := range n {
		v, err := strconv.Atoi(f[i])
		if err != nil || v < 0 || v > 255 {
			return 0, errBadReply
		}
		n[i] = v
	}
	p := n[4]<<8 | n[5]
	if p == 0 {
		return 0, errBadReply
	}
	return p, nil
}

// epsvPort reads the port of a 229 reply: "Entering Extended Passive
// Mode (|||port|)".
func epsvPort(msg string) (int, error) {
	i := strings.Index(msg, "(|||")
	if i < 0 {
		return 0, errBadReply
	}
	rest := msg[i+4:]
	j := strings.IndexByte(rest, '|')
	if j < 0 {
		return 0, errBadReply
	}
	p, err := strconv.Atoi(rest[:j])
	if err != nil || p < 1 || p > 65535 {
		return 0, errBadReply
	}
	return p, nil
}

// printable bounds s and writes bytes outside printable ASCII as \xNN:
// a server's text goes into events.
func printable(s string, limit int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < limit; i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}
