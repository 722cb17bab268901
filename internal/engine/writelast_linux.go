package engine

import (
	"os"
	"syscall"

	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/transcript"
)

// WriteLast writes the session's last bytes (service.Session.WriteLast)
// with MSG_MORE: the kernel holds them back as TCP_CORK would, and the
// engine's CloseWrite at the session's end sends them with the FIN in one
// segment, one packet fewer than a write and a close. Limits, deadlines
// and the transcript apply as to Write.
func (c *conn) WriteLast(p []byte) (int, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return c.Write(p)
	}
	left := c.maxOut - c.out.Load()
	budgetHit := false
	if int64(len(p)) > left {
		p, budgetHit = p[:max(left, 0)], true
	}
	if err := c.ctx.Err(); err != nil {
		c.fail(err)
		return 0, os.ErrDeadlineExceeded
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		c.fail(err)
		return 0, err
	}
	var n int
	if len(p) > 0 {
		_, wd := c.own()
		_ = c.Conn.SetWriteDeadline(c.deadline(wd))
		if c.ctx.Err() != nil {
			_ = c.Conn.SetWriteDeadline(past)
		}
		var werr error
		c.corked = true
		err = rc.Write(func(fd uintptr) bool {
			for n < len(p) {
				k, e := syscall.SendmsgN(int(fd), p[n:], nil, nil, syscall.MSG_MORE|syscall.MSG_NOSIGNAL)
				switch {
				case e == syscall.EINTR:
					continue
				case e == syscall.EAGAIN:
					return false // wait until writable
				case e != nil:
					werr = &os.SyscallError{Syscall: "sendmsg", Err: e}
					return true
				}
				n += k
			}
			return true
		})
		if err == nil {
			err = werr
		}
		if n > 0 {
			c.out.Add(int64(n))
			c.tr.Add(transcript.Out, p[:n])
		}
	}
	if err == nil && budgetHit {
		err = service.ErrBudget
	}
	if err != nil {
		c.fail(err)
	}
	return n, err
}
