package smtp

import (
	"errors"
	"io"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/mime"
	"github.com/smallpot/smallpot/internal/service"
)

// Bounds of what a mail event carries; the whole message is in its
// sample.
const (
	eventHeaders     = 64   // header fields
	eventHeaderValue = 1024 // bytes of each value
	dataChunk        = 64 << 10
)

// readData reads a message after the 354 reply, up to the line holding a
// single ".". Lines are kept with CRLF endings and dot-unstuffed, at most
// max bytes; size counts every byte, kept or not. A line longer than the
// read chunk is taken in pieces (no dot rules apply inside a line). An
// error means the connection ended inside the message.
func readData(rd *service.Reader, max int) (msg []byte, size int64, truncated bool, err error) {
	atStart := true // the next piece starts a line
	keep := func(b []byte) {
		size += int64(len(b))
		if truncated {
			return
		}
		if room := max - len(msg); len(b) > room {
			msg, truncated = append(msg, b[:room]...), true
			return
		}
		msg = append(msg, b...)
	}
	for {
		line, err := rd.ReadLine(dataChunk)
		long := errors.Is(err, service.ErrLineTooLong)
		if err != nil && !long {
			keep(line)
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return msg, size, truncated, err
		}
		if atStart && !long && len(line) == 1 && line[0] == '.' {
			return msg, size, truncated, nil
		}
		if atStart && len(line) > 0 && line[0] == '.' {
			line = line[1:]
		}
		keep(line)
		if !long {
			keep([]byte("\r\n"))
		}
		atStart = !long
	}
}

// readChunk reads a BDAT chunk of n bytes onto msg, keeping at most max
// bytes in all.
func readChunk(rd *service.Reader, n int64, msg []byte, size int64, max int) ([]byte, int64, bool, error) {
	buf := make([]byte, min(n, 32<<10))
	truncated := size > int64(len(msg))
	for n > 0 {
		k, err := rd.Read(buf[:min(int64(len(buf)), n)])
		n -= int64(k)
		size += int64(k)
		if room := max - len(msg); k > room {
			msg, truncated = append(msg, buf[:room]...), true
		} else if !truncated {
			msg = append(msg, buf[:k]...)
		}
		if err != nil && n > 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return msg, size, truncated, err
		}
	}
	return msg, size, truncated, nil
}

// discardLine reads the rest of an over-long line, within the session's
// byte budget, and returns the line's full length.
func discardLine(rd *service.Reader, have int64) (int64, error) {
	for {
		n, err := rd.DiscardLine(dataChunk)
		have += int64(n)
		if err == nil {
			// The newline (and a CR before it) is not part of the line.
			return have - 1, nil
		}
		if !errors.Is(err, service.ErrLineTooLong) {
			return have, err
		}
	}
}

// finishTransaction records the open transaction, if it reached a
// recipient: the message and its attachments as samples, then the mail
// event.
func (c *conn) finishTransaction(result, queueID string) {
	tx := c.tx
	c.tx = nil
	if tx == nil || len(tx.rcpts) == 0 {
		return
	}
	m := &event.Mail{Helo: c.helo, Auth: c.user, From: tx.from, Rcpts: tx.rcpts, RelayAttempt: tx.relay,
		Size: tx.size, Truncated: tx.truncated, Result: result, QueueID: queueID}
	if len(tx.msg) > 0 {
		m.Sample = c.save(tx.msg, "smtp.message", "")
		parsed := mime.Parse(tx.msg, c.srv.mimeLimits())
		m.Subject, m.MIMECut = parsed.Subject, parsed.Cut
		for i, h := range parsed.Header {
			if i == eventHeaders {
				break
			}
			v := h.Value
			if len(v) > eventHeaderValue {
				v = v[:eventHeaderValue]
			}
			m.Headers = append(m.Headers, event.Header{Name: h.Name, Value: v})
		}
		for _, a := range parsed.Attachments {
			sha := c.save(a.Data, "smtp.attachment", a.Name)
			c.sess.Emit(&event.Upload{Name: a.Name, Size: int64(len(a.Data)), SHA256: sha,
				Truncated: a.Truncated || tx.truncated && a.Unterminated, Via: "attachment"})
			m.Attachments = append(m.Attachments, sha)
		}
	}
	c.sess.Emit(m)
}

// save keeps bytes as a sample and returns their SHA-256 ("" if the
// store failed, which is logged).
func (c *conn) save(data []byte, source, name string) string {
	sha, err := c.sess.SaveSample(data, source, name)
	if err != nil {
		c.sess.Log.Warn("sample not stored", "service", c.sess.Service, "session", c.sess.SessionID, "src", c.sess.Remote, "err", err)
		return ""
	}
	return sha
}
