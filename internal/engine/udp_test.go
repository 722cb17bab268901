package engine_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
)

func dialUDP(t *testing.T, r *rig) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(r.udp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func send(t *testing.T, c *net.UDPConn, b []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

func readDatagram(t *testing.T, c *net.UDPConn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	return buf[:n]
}

func payloads(evs []*event.Event) []*event.Event { return ofKind(evs, event.KindPayload) }

func ofKind(evs []*event.Event, k event.Kind) []*event.Event {
	var out []*event.Event
	for _, e := range evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// Each handler keeps its datagram while the listener reads the next one
// into its buffer.
func TestUDPHandlerGetsCopy(t *testing.T) {
	var mu sync.Mutex
	both := make(chan struct{})
	arrived := 0
	seen := make(chan string, 2)
	r := serve(t, limits(), nil, service.PacketHandlerFunc(func(ctx context.Context, p *service.Packet) {
		mu.Lock()
		if arrived++; arrived == 2 {
			close(both)
		}
		mu.Unlock()
		// Both datagrams have been read by the listener before either
		// handler looks at its data.
		select {
		case <-both:
		case <-ctx.Done():
		}
		seen <- string(p.Data)
	}), 0)
	c := dialUDP(t, r)
	send(t, c, []byte("AAAA"))
	send(t, c, []byte("BBBB"))
	got := []string{recv(t, seen, "handler 1"), recv(t, seen, "handler 2")}
	slices.Sort(got)
	if !slices.Equal(got, []string{"AAAA", "BBBB"}) {
		t.Fatalf("handlers saw %q; want each its own datagram", got)
	}
}

// The payload event keeps the datagram as it came, whatever the handler
// does to its copy.
func TestUDPPayloadEvents(t *testing.T) {
	lim := limits()
	lim.Transcript = 8
	done := make(chan struct{}, 4)
	r := serve(t, lim, nil, service.PacketHandlerFunc(func(ctx context.Context, p *service.Packet) {
		for i := range p.Data {
			p.Data[i] = 0 // a handler decoding in place
		}
		done <- struct{}{}
	}), 0)
	c := dialUDP(t, r)
	tests := []struct {
		send      string
		wantData  string
		wantTrunc bool
	}{
		{"M-SEARCH", "M-SEARCH", false},
		{"\x04\x01\x01\x01\x01\x01\x01\x01\x01\x01", "\x04\x01\x01\x01\x01\x01\x01\x01", true},
	}
	for i, tt := range tests {
		send(t, c, []byte(tt.send))
		recv(t, done, "the handler")
		evs := r.events.Wait(t, waitLimit, func(evs []*event.Event) bool { return len(payloads(evs)) > i })
		e := payloads(evs)[i]
		pl := e.Detail.(*event.Payload)
		if string(pl.Data) != tt.wantData || pl.Len != int64(len(tt.send)) || pl.Truncated != tt.wantTrunc {
			t.Errorf("datagram %d: got payload %+v; want data %q, len %d, truncated %v", i, pl, tt.wantData, len(tt.send), tt.wantTrunc)
		}
		local := c.LocalAddr().(*net.UDPAddr).AddrPort()
		if e.Transport != event.UDP || e.Service != "test" || e.Sensor != "test-sensor" || e.Src != local || e.Dst != r.udp || e.Session == "" {
			t.Errorf("datagram %d: got envelope %+v; want udp from %v to %v", i, e, local, r.udp)
		}
	}
	evs := r.events.Events()
	if len(evs) != len(tests) || payloads(evs)[0].Session == payloads(evs)[1].Session {
		t.Errorf("got %d events; want one payload event per datagram, each its own session id", len(evs))
	}
	if st := r.eng.Stats(); st.Datagrams != 2 {
		t.Errorf("got %d datagrams counted; want 2", st.Datagrams)
	}
}

func TestUDPNoAmplification(t *testing.T) {
	tests := []struct {
		name    string
		factor  float64
		request string
		tooBig  string
		fits    string
	}{
		{"default factor 1", 0, "ping", "pong!", "pong"},
		{"factor 2", 2, "ping", "0123456789", "01234567"},
		{"factor 1.5", 1.5, "ab", "xyzw", "xyz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errc := make(chan [2]error, 1)
			r := serve(t, limits(), nil, service.PacketHandlerFunc(func(ctx context.Context, p *service.Packet) {
				errc <- [2]error{p.Reply([]byte(tt.tooBig)), p.Reply([]byte(tt.fits))}
			}), tt.factor)
			c := dialUDP(t, r)
			send(t, c, []byte(tt.request))
			errs := recv(t, errc, "the handler")
			if !errors.Is(errs[0], service.ErrReplyTooLarge) || errs[1] != nil {
				t.Fatalf("replies got %v, %v; want ErrReplyTooLarge, nil", errs[0], errs[1])
			}
			// The refused reply was never sent: the first datagram back
			// is the one that fits.
			if got := readDatagram(t, c); string(got) != tt.fits {
				t.Fatalf("client got %q; want %q only", got, tt.fits)
			}
			if st := r.eng.Stats(); st.RepliesRefused != 1 {
				t.Errorf("got %d replies refused; want 1", st.RepliesRefused)
			}
		})
	}
}

func TestUDPRateLimit(t *testing.T) {
	lim := limits()
	lim.UDPRepliesPerSecond = 0.001 // nothing refills during the test
	lim.UDPReplyBurst = 2
	errc := make(chan []error, 4)
	r := serve(t, lim, nil, service.PacketHandlerFunc(func(ctx context.Context, p *service.Packet) {
		var errs []error
		for i := range 3 {
			errs = append(errs, p.Reply([]byte{'0' + byte(i)}))
		}
		errc <- errs
	}), 0)
	c := dialUDP(t, r)
	send(t, c, []byte("?"))
	errs := recv(t, errc, "the handler")
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], service.ErrRateLimited) {
		t.Fatalf("replies got %v; want nil, nil, ErrRateLimited", errs)
	}
	for _, want := range []string{"0", "1"} {
		if got := readDatagram(t, c); string(got) != want {
			t.Fatalf("client got %q; want %q", got, want)
		}
	}
	// The bucket is the source address's: a second socket from the same
	// address gets nothing more.
	c2 := dialUDP(t, r)
	send(t, c2, []byte("?"))
	errs = recv(t, errc, "the handler")
	for i, err := range errs {
		if !errors.Is(err, service.ErrRateLimited) {
			t.Errorf("reply %d to the same address got %v; want ErrRateLimited", i, err)
		}
	}
	if st := r.eng.Stats(); st.RepliesRefused != 4 {
		t.Errorf("got %d replies refused; want 4", st.RepliesRefused)
	}
}

func TestUDPPanicRecovered(t *testing.T) {
	replied := make(chan error, 1)
	r := serve(t, limits(), nil, service.PacketHandlerFunc(func(ctx context.Context, p *service.Packet) {
		if bytes.Equal(p.Data, []byte("boom")) {
			panic("bad datagram")
		}
		replied <- p.Reply([]byte("ok"))
	}), 0)
	c := dialUDP(t, r)
	send(t, c, []byte("boom"))
	r.events.Wait(t, waitLimit, func(evs []*event.Event) bool { return len(payloads(evs)) == 1 })
	send(t, c, []byte("fine"))
	if err := recv(t, replied, "the second handler"); err != nil {
		t.Fatal(err)
	}
	if got := readDatagram(t, c); string(got) != "ok" {
		t.Fatalf("got %q; want %q", got, "ok")
	}
	// The first handler may still be unwinding: wait for its count.
	eventually(t, "the panic to be counted", func() bool { return r.eng.Stats().Panics == 1 })
	if st := r.eng.Stats(); st.Panics != 1 || st.Datagrams != 2 {
		t.Errorf("got stats %+v; want 1 panic, 2 datagrams", st)
	}
}
