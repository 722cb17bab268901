package ssh

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/smallpot/smallpot/internal/service"
)

// errNotSSH ends a connection whose first line is not an SSH
// identification string.
var errNotSSH = errors.New("ssh: not an SSH client")

// wire is the net.Conn the SSH library speaks over. Reads go through the
// session's bounded reader and, until the client's offer is read, through
// Hello, which watches the clear-text start of the stream; writes go to
// the session. Closing it stops further I/O but leaves the session's
// connection to the engine, which closes it when the handler returns;
// drain waits until no read is in progress, so nothing touches the
// session once the handler is done.
type wire struct {
	sess     *service.Session
	mismatch string // sent to a client that is not an SSH client

	mu     sync.Mutex
	hello  Hello
	closed bool
	busy   sync.WaitGroup // reads and writes in progress
}

var _ net.Conn = (*wire)(nil)

func newWire(sess *service.Session, mismatch string) *wire {
	return &wire{sess: sess, mismatch: mismatch}
}

// Read implements net.Conn.
func (w *wire) Read(p []byte) (int, error) {
	if !w.enter() {
		return 0, net.ErrClosed
	}
	defer w.busy.Done()

	n, err := w.sess.Reader().Read(p)
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.hello.Done() {
		if n > 0 {
			w.hello.Feed(p[:n])
		}
		if err != nil {
			w.hello.End()
		}
		if w.hello.NotSSH {
			if w.mismatch != "" {
				_, _ = w.sess.WriteString(w.mismatch)
			}
			return 0, errNotSSH
		}
	}
	return n, err
}

// enter starts a read or a write, unless the wire is closed.
func (w *wire) enter() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.busy.Add(1)
	return true
}

// Write implements net.Conn.
func (w *wire) Write(p []byte) (int, error) {
	if !w.enter() {
		return 0, net.ErrClosed
	}
	defer w.busy.Done()
	return w.sess.Write(p)
}

// Close implements net.Conn: I/O ends here; the engine closes the
// connection itself.
func (w *wire) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	return nil
}

// drain waits for the I/O in progress to end: for up to grace, as a
// client that was disconnected closes its end, then by failing it.
func (w *wire) drain(grace time.Duration) {
	w.Close()
	done := make(chan struct{})
	go func() {
		w.busy.Wait()
		close(done)
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	_ = w.sess.Conn().SetDeadline(time.Unix(1, 0))
	<-done
}

// result returns what Hello learned, once the connection is over or the
// offer was read.
func (w *wire) result() Hello {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hello
}

// end marks the client's input over for Hello.
func (w *wire) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hello.End()
}

// LocalAddr implements net.Conn.
func (w *wire) LocalAddr() net.Addr { return w.sess.Conn().LocalAddr() }

// RemoteAddr implements net.Conn.
func (w *wire) RemoteAddr() net.Addr { return w.sess.Conn().RemoteAddr() }

// SetDeadline implements net.Conn.
func (w *wire) SetDeadline(t time.Time) error { return w.sess.Conn().SetDeadline(t) }

// SetReadDeadline implements net.Conn.
func (w *wire) SetReadDeadline(t time.Time) error { return w.sess.Conn().SetReadDeadline(t) }

// SetWriteDeadline implements net.Conn.
func (w *wire) SetWriteDeadline(t time.Time) error { return w.sess.Conn().SetWriteDeadline(t) }
