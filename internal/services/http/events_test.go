package http

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// A request's event shares one allocation with the headers the parser
// filled, and its strings and bytes with what the parser read: sessions
// served at once (with -race, while another goroutine reads their
// events) leave every event as it was emitted and as its request was
// sent. Reusing that memory, or writing it after the event is emitted,
// would fail here.
func TestRequestEventsKeepTheirContents(t *testing.T) {
	s := newServer(t, "", nil)
	em := servicetest.NewSnapshots()
	const workers, conns = 4, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c := &benchConn{}
			for i := range conns {
				var req strings.Builder
				for k := range 3 {
					id := fmt.Sprintf("%d-%d-%d", w, i, k)
					last := "keep-alive"
					if k == 2 {
						last = "close"
					}
					switch k {
					case 1:
						fmt.Fprintf(&req, "POST /form-%s HTTP/1.1\r\nHost: h-%s\r\nContent-Length: %d\r\nConnection: %s\r\n\r\nbody-%s",
							id, id, len("body-")+len(id), last, id)
					case 0: // headers that fit in the event's room for them
						fmt.Fprintf(&req, "GET /p-%s?q=%s HTTP/1.1\r\nHost: h-%s\r\nUser-Agent: ua-%s\r\nConnection: %s\r\n\r\n",
							id, id, id, id, last)
					default: // more
						fmt.Fprintf(&req, "GET /p-%s?q=%s HTTP/1.1\r\nHost: h-%s\r\nUser-Agent: ua-%s\r\nAccept: */*\r\nX-1: a\r\nX-2: b\r\nX-3: c\r\nX-4: %s\r\nConnection: %s\r\n\r\n",
							id, id, id, id, strings.Repeat(id, 3), last)
					}
				}
				c.rd.Reset(req.String())
				var sess service.Session
				sess.Recorder = service.Recorder{Sensor: "t", SessionID: fmt.Sprint(w, "-", i), Service: "http",
					Transport: event.TCP, Remote: netip.MustParseAddrPort("198.51.100.7:40000"),
					Local: netip.MustParseAddrPort("192.0.2.10:80"), Emitter: em}
				sess.Init(c, nil, 64) // a small buffer: some heads arrive in pieces
				sess.Reader().Fill()
				s.ServeTCP(context.Background(), &sess)
				sess.Release()
			}
		})
	}
	wg.Wait()
	em.Close()
	if err := em.Changed(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range em.Events() {
		d, ok := e.Detail.(*event.Request)
		if !ok {
			continue
		}
		n++
		var w, c, k int
		if _, err := fmt.Sscanf(e.Session, "%d-%d", &w, &c); err != nil {
			t.Fatal(err)
		}
		id := d.Host[len("h-"):]
		if !strings.HasPrefix(id, fmt.Sprintf("%d-%d-", w, c)) {
			t.Fatalf("session %s has a request of another: %+v", e.Session, d)
		}
		fmt.Sscanf(id[strings.LastIndexByte(id, '-')+1:], "%d", &k)
		if k == 1 {
			if d.URI != "/form-"+id || string(d.Body) != "body-"+id || len(d.Headers) != 3 {
				t.Fatalf("request %s: %+v", id, d)
			}
			continue
		}
		if d.URI != "/p-"+id+"?q="+id || d.UserAgent != "ua-"+id || len(d.Headers) != 3+5*k/2 ||
			k == 2 && d.Headers[6].Value != strings.Repeat(id, 3) {
			t.Fatalf("request %s: %+v", id, d)
		}
	}
	if want := workers * conns * 3; n != want {
		t.Errorf("got %d request events; want %d", n, want)
	}
}
