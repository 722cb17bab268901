package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/transcript"
)

func TestByteBudgetIn(t *testing.T) {
	const budget = 1000
	tests := []struct {
		name string
		read func(s *service.Session) error
	}{
		{"copy", func(s *service.Session) error {
			_, err := io.Copy(io.Discard, s.Reader())
			return err
		}},
		{"lines", func(s *service.Session) error {
			for {
				if _, err := s.Reader().ReadLine(100); err != nil {
					return err
				}
			}
		}},
		{"one large read", func(s *service.Session) error {
			_, err := s.Reader().ReadFull(5 * budget)
			return err
		}},
		{"bytes", func(s *service.Session) error {
			for {
				if _, err := s.Reader().ReadByte(); err != nil {
					return err
				}
			}
		}},
		{"raw conn", func(s *service.Session) error {
			_, err := io.Copy(io.Discard, s.Conn())
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := limits()
			lim.MaxBytesIn = budget
			errc := make(chan error, 1)
			r := serve(t, lim, service.HandlerFunc(func(ctx context.Context, s *service.Session) {
				errc <- tt.read(s)
			}), nil, 0)
			c := dial(t, r.tcp)
			// More than the budget: the writes may fail once the
			// server cuts the connection.
			go func() { _, _ = c.Write(bytes.Repeat([]byte("abcdefghi\n"), 5*budget/10)) }()
			if err := recv(t, errc, "the handler"); !errors.Is(err, service.ErrBudget) {
				t.Errorf("handler got %v; want service.ErrBudget", err)
			}
			_, cl := r.closeOf(t, c)
			if cl.Reason != event.ReasonBudget || cl.BytesIn != budget || cl.TranscriptIn != budget {
				t.Errorf("got reason %q, bytes_in %d, transcript_in %d; want %q, %d, %d",
					cl.Reason, cl.BytesIn, cl.TranscriptIn, event.ReasonBudget, budget, budget)
			}
		})
	}
}

func TestByteBudgetOut(t *testing.T) {
	const budget = 1000
	for _, size := range []int{1, 300, 1000, 5000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			lim := limits()
			lim.MaxBytesOut = budget
			var sent bytes.Buffer
			type result struct {
				err   error
				total int
			}
			res := make(chan result, 1)
			r := serve(t, lim, service.HandlerFunc(func(ctx context.Context, s *service.Session) {
				total := 0
				for i := 0; ; i++ {
					chunk := bytes.Repeat([]byte{byte('a' + i%26)}, size)
					sent.Write(chunk)
					n, err := s.Write(chunk)
					total += n
					if err != nil {
						res <- result{err, total}
						return
					}
				}
			}), nil, 0)
			c := dial(t, r.tcp)
			got := readAll(t, c)
			rs := recv(t, res, "the handler")
			if !errors.Is(rs.err, service.ErrBudget) || rs.total != budget {
				t.Errorf("handler got %v after %d bytes; want service.ErrBudget after %d", rs.err, rs.total, budget)
			}
			if len(got) != budget || !bytes.Equal(got, sent.Bytes()[:budget]) {
				t.Errorf("client got %d bytes; want the first %d the handler wrote", len(got), budget)
			}
			_, cl := r.closeOf(t, c)
			if cl.Reason != event.ReasonBudget || cl.BytesOut != budget || cl.TranscriptOut != budget {
				t.Errorf("got reason %q, bytes_out %d, transcript_out %d; want %q, %d, %d",
					cl.Reason, cl.BytesOut, cl.TranscriptOut, event.ReasonBudget, budget, budget)
			}
		})
	}
}

func TestIdleTimeout(t *testing.T) {
	lim := limits()
	lim.IdleTimeout = 200 * time.Millisecond
	errc := make(chan error, 1)
	lines := make(chan string, 4)
	r := serve(t, lim, service.HandlerFunc(func(ctx context.Context, s *service.Session) {
		for {
			line, err := s.Reader().ReadLine(100)
			if err != nil {
				errc <- err
				return
			}
			lines <- string(line)
		}
	}), nil, 0)
	c := dial(t, r.tcp)
	// Activity resets the timeout: one line, then silence.
	if _, err := c.Write([]byte("HELO x\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, lines, "the first line"); got != "HELO x" {
		t.Fatalf("got line %q; want %q", got, "HELO x")
	}
	if err := recv(t, errc, "the handler"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("handler got %v; want a deadline error", err)
	}
	_, cl := r.closeOf(t, c)
	if cl.Reason != event.ReasonIdle {
		t.Errorf("got reason %q; want %q", cl.Reason, event.ReasonIdle)
	}
	if cl.DurationMS < 200 {
		t.Errorf("got duration %dms; want at least the idle timeout", cl.DurationMS)
	}
	if got := readAll(t, c); len(got) != 0 {
		t.Errorf("client got %q; want nothing", got)
	}
}

// The engine sets a connection's deadline again only when the one set is
// more than a slack (idle/64, at most a second) earlier than the idle
// timeout wants: reads and writes spread over several idle timeouts keep
// the session alive, and once the client falls silent the session ends
// no sooner than the idle timeout less that slack.
func TestIdleTimeoutSlack(t *testing.T) {
	const idle = time.Second
	slack := idle / 64
	lim := limits()
	lim.IdleTimeout = idle
	errc := make(chan error, 1)
	r := serve(t, lim, service.HandlerFunc(func(ctx context.Context, s *service.Session) {
		for {
			line, err := s.Reader().ReadLine(100)
			if err == nil {
				_, err = s.Write(append(line, '\n'))
			}
			if err != nil {
				errc <- err
				return
			}
		}
	}), nil, 0)
	c := dial(t, r.tcp)
	br := bufio.NewReader(c)
	var last time.Time
	for i := range 6 { // 5 × 300ms: longer than the idle timeout
		if i > 0 {
			time.Sleep(300 * time.Millisecond)
		}
		last = time.Now()
		if _, err := c.Write([]byte("ping\r\n")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(waitLimit))
		if line, err := br.ReadString('\n'); err != nil || line != "ping\n" {
			t.Fatalf("exchange %d: got %q, %v; want the echo (the session ended early?)", i, line, err)
		}
	}
	// Silence: the session ends once the idle timeout, less the slack
	// at most, has passed since the client's last line.
	if b, err := io.ReadAll(br); len(b) != 0 || err != nil {
		t.Fatalf("client got %q, %v; want the server's close", b, err)
	}
	if gap := time.Since(last); gap < idle-slack || gap > idle+5*time.Second {
		t.Errorf("session ended %v after the last line; want the idle timeout %v (less %v at most)", gap, idle, slack)
	}
	if err := recv(t, errc, "the handler"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("handler got %v; want a deadline error", err)
	}
	if _, cl := r.closeOf(t, c); cl.Reason != event.ReasonIdle {
		t.Errorf("got reason %q; want %q", cl.Reason, event.ReasonIdle)
	}
}

// A handler's own deadline holds, under the engine's idle timeout.
func TestHandlerDeadline(t *testing.T) {
	lim := limits()
	lim.MaxDuration = 3 * time.Second // were the deadline ignored, this would end the session
	errc := make(chan error, 1)
	r := serve(t, lim, service.HandlerFunc(func(ctx context.Context, s *service.Session) {
		if err := s.Conn().SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
			errc <- err
			return
		}
		_, err := s.Reader().ReadLine(100)
		errc <- err
	}), nil, 0)
	c := dial(t, r.tcp)
	if err := recv(t, errc, "the handler"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("handler got %v; want its own deadline to pass", err)
	}
	if _, cl := r.closeOf(t, c); cl.Reason != event.ReasonIdle {
		t.Errorf("got reason %q; want %q", cl.Reason, event.ReasonIdle)
	}
}

func TestMaxDuration(t *testing.T) {
	tests := []struct {
		name    string
		handler func(ctx context.Context, s *service.Session) error
	}{
		{"blocked in read", func(ctx context.Context, s *service.Session) error {
			_, err := s.Reader().ReadLine(100)
			return err
		}},
		{"blocked on ctx.Done", func(ctx context.Context, s *service.Session) error {
			<-ctx.Done()
			return ctx.Err()
		}},
		{"tarpit writing slowly", func(ctx context.Context, s *service.Session) error {
			for {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(20 * time.Millisecond):
				}
				if _, err := s.Write([]byte("x")); err != nil {
					return err
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := limits()
			lim.MaxDuration = 300 * time.Millisecond
			errc := make(chan error, 1)
			r := serve(t, lim, service.HandlerFunc(func(ctx context.Context, s *service.Session) {
				errc <- tt.handler(ctx, s)
			}), nil, 0)
			c := dial(t, r.tcp)
			if err := recv(t, errc, "the handler"); err == nil {
				t.Error("handler got no error; want the session's end")
			}
			_, cl := r.closeOf(t, c)
			if cl.Reason != event.ReasonMaxDuration {
				t.Errorf("got reason %q; want %q", cl.Reason, event.ReasonMaxDuration)
			}
			if cl.DurationMS < 300 {
				t.Errorf("got duration %dms; want at least the maximum duration", cl.DurationMS)
			}
		})
	}
}

// started is a handler that reports each session, then waits for the
// client to close.
func started(ch chan<- string) service.Handler {
	return service.HandlerFunc(func(ctx context.Context, s *service.Session) {
		ch <- s.Remote.String()
		_, _ = io.Copy(io.Discard, s.Reader())
	})
}

func TestPerSourceCap(t *testing.T) {
	lim := limits()
	lim.MaxSessionsPerSource = 2
	ch := make(chan string, 8)
	r := serve(t, lim, started(ch), nil, 0)

	c1 := dial(t, r.tcp)
	recv(t, ch, "session 1")
	c2 := dial(t, r.tcp)
	recv(t, ch, "session 2")
	if !dialRefused(t, r.tcp) {
		t.Fatal("third connection from one source was served; want it closed at once")
	}
	if st := r.eng.Stats(); st.RefusedSource != 1 || st.RefusedGlobal != 0 || st.Accepted != 2 || st.Active != 2 {
		t.Errorf("got stats %+v; want 1 refused by source, 2 accepted, 2 active", st)
	}
	if n := len(r.events.Events()); n != 2 {
		t.Errorf("got %d events; want only the 2 connects (a refused connection emits none)", n)
	}

	// One closes: the source may connect again at once.
	_ = c1.Close()
	r.closeOf(t, c1)
	dial(t, r.tcp)
	recv(t, ch, "session after one closed")
	if st := r.eng.Stats(); st.Accepted != 3 || st.Active != 2 || st.RefusedSource != 1 {
		t.Errorf("got stats %+v; want 3 accepted, 2 active", st)
	}
	_ = c2

	// The cap is per source: another address is served.
	dialFrom(t, "127.0.0.2", r.tcp)
	if got := recv(t, ch, "session from 127.0.0.2"); !strings.HasPrefix(got, "127.0.0.2:") {
		t.Errorf("got session from %s; want 127.0.0.2", got)
	}
}

func TestGlobalCap(t *testing.T) {
	lim := limits()
	lim.MaxSessions = 1
	ch := make(chan string, 8)
	r := serve(t, lim, started(ch), nil, 0)

	c1 := dial(t, r.tcp)
	recv(t, ch, "session 1")
	for i := range 3 {
		if !dialRefused(t, r.tcp) {
			t.Fatalf("connection %d past the global cap was served", i+2)
		}
	}
	if st := r.eng.Stats(); st.RefusedGlobal != 3 || st.RefusedSource != 0 || st.Accepted != 1 || st.Active != 1 {
		t.Errorf("got stats %+v; want 3 refused by the global cap, 1 accepted", st)
	}
	_ = c1.Close()
	r.closeOf(t, c1)
	dial(t, r.tcp)
	recv(t, ch, "session after the first closed")
}

func TestPanicRecovery(t *testing.T) {
	tests := []struct {
		name  string
		boom  func()
		after string // what a second session gets
	}{
		{"string", func() { panic("boom") }, "ok"},
		{"error", func() { panic(errors.New("bad state")) }, "ok"},
		{"runtime error", func() {
			var m map[string]int
			m["x"]++
		}, "ok"},
		{"wrapped error", func() { panic(fmt.Errorf("wrapped: %w", io.EOF)) }, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := serve(t, limits(), service.HandlerFunc(func(ctx context.Context, s *service.Session) {
				line, err := s.Reader().ReadLine(100)
				if err != nil {
					return
				}
				if string(line) == "boom" {
					_, _ = s.WriteString("about to fail\r\n")
					tt.boom()
				}
				_, _ = s.WriteString(tt.after + "\r\n")
			}), nil, 0)

			c := dial(t, r.tcp)
			_, _ = c.Write([]byte("boom\r\n"))
			if got := string(readAll(t, c)); got != "about to fail\r\n" {
				t.Errorf("panicking session: client got %q; want %q then the close", got, "about to fail\r\n")
			}
			_, cl := r.closeOf(t, c)
			if cl.Reason != event.ReasonPanic || cl.BytesIn != 6 || cl.BytesOut != 15 {
				t.Errorf("got close %+v; want reason %q, 6 bytes in, 15 out", cl, event.ReasonPanic)
			}
			if st := r.eng.Stats(); st.Panics != 1 || st.Active != 0 {
				t.Errorf("got stats %+v; want 1 panic, none active", st)
			}

			c2 := dial(t, r.tcp)
			_, _ = c2.Write([]byte("hi\r\n"))
			if got := string(readAll(t, c2)); got != tt.after+"\r\n" {
				t.Errorf("next session got %q; want %q", got, tt.after+"\r\n")
			}
			if _, cl := r.closeOf(t, c2); cl.Reason != event.ReasonServer {
				t.Errorf("next session: got reason %q; want %q", cl.Reason, event.ReasonServer)
			}
			if st := r.eng.Stats(); st.Panics != 1 {
				t.Errorf("got %d panics; want 1", st.Panics)
			}
		})
	}
}

// run groups a transcript into runs of one direction.
type run struct {
	dir  byte
	data string
}

func runs(t *testing.T, b []byte) []run {
	t.Helper()
	chunks, err := transcript.Decode(b)
	if err != nil {
		t.Fatalf("transcript does not decode: %v", err)
	}
	var out []run
	var last time.Duration
	for _, c := range chunks {
		if c.Offset < last {
			t.Errorf("transcript offsets go back: %v after %v", c.Offset, last)
		}
		last = c.Offset
		if n := len(out); n > 0 && out[n-1].dir == c.Dir {
			out[n-1].data += string(c.Data)
			continue
		}
		out = append(out, run{c.Dir, string(c.Data)})
	}
	return out
}

func TestConnectAndCloseEvents(t *testing.T) {
	const pause = 30 * time.Millisecond
	tests := []struct {
		name       string
		clientEnds bool // the client closes instead of the server
		wantReason string
		wantRuns   []run
	}{
		{"server ends", false, event.ReasonServer, []run{
			{transcript.Out, "220 hi\r\n"}, {transcript.In, "hello\r\n"}, {transcript.Out, "you said hello\r\n"}}},
		{"client ends", true, event.ReasonEOF, []run{
			{transcript.Out, "220 hi\r\n"}, {transcript.In, "hello\r\n"}, {transcript.Out, "you said hello\r\n"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := serve(t, limits(), service.HandlerFunc(func(ctx context.Context, s *service.Session) {
				_, _ = s.WriteString("220 hi\r\n")
				for {
					line, err := s.Reader().ReadLine(100)
					if err != nil {
						return
					}
					_, _ = s.WriteString("you said " + string(line) + "\r\n")
					if !tt.clientEnds {
						return
					}
				}
			}), nil, 0)
			c := dial(t, r.tcp)
			banner := make([]byte, 8)
			if _, err := io.ReadFull(c, banner); err != nil || string(banner) != "220 hi\r\n" {
				t.Fatalf("got banner %q, %v", banner, err)
			}
			time.Sleep(pause) // a lower bound for the duration and the offsets
			_, _ = c.Write([]byte("hello\r\n"))
			reply := make([]byte, 16)
			if _, err := io.ReadFull(c, reply); err != nil || string(reply) != "you said hello\r\n" {
				t.Fatalf("got reply %q, %v", reply, err)
			}
			if tt.clientEnds {
				_ = c.CloseWrite()
			}
			readAll(t, c)
			closeEv, cl := r.closeOf(t, c)

			evs := r.sessionEvents(c)
			if len(evs) != 2 || evs[0].Kind != event.KindConnect || evs[1] != closeEv {
				t.Fatalf("got events %v; want connect then close", evs)
			}
			for _, e := range evs {
				if e.Sensor != "test-sensor" || e.Service != "test" || e.Transport != event.TCP ||
					e.Src != localAddr(c) || e.Dst != r.tcp || e.Session != evs[0].Session || e.Session == "" {
					t.Errorf("%s envelope %+v; want sensor, service, transport, addresses and one session id", e.Kind, e)
				}
				if e.ID == e.Session || e.Time.IsZero() {
					t.Errorf("%s got id %q, time %v; want its own id and a time", e.Kind, e.ID, e.Time)
				}
			}
			if evs[0].ID == evs[1].ID {
				t.Error("connect and close share an id")
			}
			if conn := evs[0].Detail.(*event.Connect); conn.Listener != r.tcp.String() {
				t.Errorf("got listener %q; want %q", conn.Listener, r.tcp)
			}
			if cl.Reason != tt.wantReason || cl.BytesIn != 7 || cl.BytesOut != 24 ||
				cl.TranscriptIn != 7 || cl.TranscriptOut != 24 {
				t.Errorf("got close %+v; want reason %q, 7 bytes in, 24 out, all in the transcript", cl, tt.wantReason)
			}
			if cl.DurationMS < pause.Milliseconds() {
				t.Errorf("got duration %dms; want at least %v", cl.DurationMS, pause)
			}
			got := runs(t, cl.Transcript)
			if fmt.Sprint(got) != fmt.Sprint(tt.wantRuns) {
				t.Errorf("transcript got %q; want %q", got, tt.wantRuns)
			}
			chunks, _ := transcript.Decode(cl.Transcript)
			for _, ch := range chunks {
				if ch.Dir == transcript.In && ch.Offset < pause {
					t.Errorf("client bytes at offset %v; want at least %v", ch.Offset, pause)
				}
			}
		})
	}
}

func TestTranscriptCut(t *testing.T) {
	lim := limits()
	lim.Transcript = 10
	in := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	out := []byte("ZYXWVUTSRQPONMLKJIHGFEDCBA")
	r := serve(t, lim, service.HandlerFunc(func(ctx context.Context, s *service.Session) {
		if _, err := s.Reader().ReadFull(len(in)); err != nil {
			return
		}
		_, _ = s.Write(out[:5])
		_, _ = s.Write(out[5:])
	}), nil, 0)
	c := dial(t, r.tcp)
	_, _ = c.Write(in)
	if got := readAll(t, c); !bytes.Equal(got, out) {
		t.Fatalf("client got %q; want %q", got, out)
	}
	_, cl := r.closeOf(t, c)
	if cl.BytesIn != int64(len(in)) || cl.BytesOut != int64(len(out)) || cl.TranscriptIn != 10 || cl.TranscriptOut != 10 {
		t.Errorf("got close %+v; want %d/%d bytes, 10/10 in the transcript", cl, len(in), len(out))
	}
	var gotIn, gotOut []byte
	chunks, err := transcript.Decode(cl.Transcript)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range chunks {
		if ch.Dir == transcript.In {
			gotIn = append(gotIn, ch.Data...)
		} else {
			gotOut = append(gotOut, ch.Data...)
		}
	}
	if !bytes.Equal(gotIn, in[:10]) || !bytes.Equal(gotOut, out[:10]) {
		t.Errorf("transcript got %q / %q; want %q / %q", gotIn, gotOut, in[:10], out[:10])
	}
}

func TestSessionEmitsWithEnvelope(t *testing.T) {
	r := serve(t, limits(), service.HandlerFunc(func(ctx context.Context, s *service.Session) {
		line, _ := s.Reader().ReadLine(100)
		s.Emit(&event.Command{Line: string(line)})
	}), nil, 0)
	c := dial(t, r.tcp)
	_, _ = c.Write([]byte("dir\r\n"))
	r.closeOf(t, c)
	evs := r.sessionEvents(c)
	if len(evs) != 3 || evs[1].Kind != event.KindCommand {
		t.Fatalf("got %d events; want connect, command, close", len(evs))
	}
	if cmd := evs[1].Detail.(*event.Command); cmd.Line != "dir" || evs[1].Session != evs[0].Session || evs[1].Src != localAddr(c) {
		t.Errorf("got command %+v in %+v; want line %q in the session's envelope", cmd, evs[1], "dir")
	}
}

func TestServeTwice(t *testing.T) {
	ch := make(chan string, 1)
	r := serve(t, limits(), started(ch), nil, 0)
	dial(t, r.tcp)
	recv(t, ch, "a session") // the first Serve is running
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.eng.Serve(ctx) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("second Serve got no error; want one")
		}
	case <-time.After(waitLimit):
		cancel()
		<-done
		t.Fatal("second Serve served; want an error at once")
	}
	cancel()
}

func TestBound(t *testing.T) {
	r := serve(t, limits(), started(make(chan string, 1)), service.PacketHandlerFunc(func(context.Context, *service.Packet) {}), 0)
	b := r.eng.Bound()
	if len(b) != 2 || b[0].Addr != r.tcp || b[0].Transport != event.TCP || b[1].Addr != r.udp || b[1].Transport != event.UDP ||
		b[0].Service != "test" || b[1].Service != "test" {
		t.Fatalf("got %+v; want the tcp then the udp listener", b)
	}
}

// clientFirst is a handler of a protocol whose client speaks first.
type clientFirst struct{ service.HandlerFunc }

func (clientFirst) ClientFirst() {}

// A ClientFirst handler is called once the first bytes are in (the
// connect event went out at accept), and finds them buffered; a client
// that never speaks gets its handler called with the idle timeout's error.
func TestClientFirst(t *testing.T) {
	lim := limits()
	lim.IdleTimeout = 300 * time.Millisecond
	type call struct {
		buffered int
		line     string
		err      error
	}
	calls := make(chan call, 2)
	r := serve(t, lim, clientFirst{func(ctx context.Context, s *service.Session) {
		c := call{buffered: s.Reader().Buffered()}
		line, err := s.Reader().ReadLine(100)
		c.line, c.err = string(line), err
		calls <- c
		if err == nil {
			_, _ = s.WriteString("ok\r\n")
		}
	}}, nil, 0)

	c := dial(t, r.tcp)
	r.events.Wait(t, waitLimit, func(evs []*event.Event) bool { return len(ofKind(evs, event.KindConnect)) == 1 })
	select {
	case got := <-calls:
		t.Fatalf("handler called before the client spoke: %+v", got)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := c.Write([]byte("GET /\r\n")); err != nil {
		t.Fatal(err)
	}
	got := recv(t, calls, "the handler")
	if got.buffered != 7 || got.line != "GET /" || got.err != nil {
		t.Errorf("handler found %d bytes buffered, read %q, %v; want 7, %q, nil", got.buffered, got.line, got.err, "GET /")
	}
	if b := readAll(t, c); string(b) != "ok\r\n" {
		t.Errorf("client got %q; want %q", b, "ok\r\n")
	}
	if _, cl := r.closeOf(t, c); cl.Reason != event.ReasonServer || cl.BytesIn != 7 || cl.TranscriptIn != 7 {
		t.Errorf("close %+v; want reason %q and the 7 bytes counted and kept", cl, event.ReasonServer)
	}

	silent := dial(t, r.tcp)
	got = recv(t, calls, "the handler of a silent client")
	if got.buffered != 0 || !errors.Is(got.err, os.ErrDeadlineExceeded) {
		t.Errorf("silent client: handler found %d bytes, error %v; want none and the idle timeout", got.buffered, got.err)
	}
	if _, cl := r.closeOf(t, silent); cl.Reason != event.ReasonIdle {
		t.Errorf("silent client: reason %q; want %q", cl.Reason, event.ReasonIdle)
	}
}
