package upnp

import (
	"bytes"
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/service"
)

// FuzzParseSSDP: any datagram parses without panic into bounded,
// printable fields, and a search answer is one response whose ST is what
// was asked for (or upnp:rootdevice for ssdp:all).
func FuzzParseSSDP(f *testing.F) {
	for _, s := range []string{searchAllMinimal, searchNmap, searchUpnpc,
		"NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n\r\n\x90\x90",
		"M-SEARCH * HTTP/1.1\nST: uuid:00000000-0000-0000-0000-000000000000", "\x00\x01", ""} {
		f.Add([]byte(s))
	}
	s := newTestServer(f, service.ProfileLinuxIoT, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		m := parseSSDP(data)
		if m == nil {
			return
		}
		if len(m.Headers) > maxSSDPHeaders {
			t.Fatalf("%d headers", len(m.Headers))
		}
		for _, h := range m.Headers {
			if len(h.Name) > 4*maxSSDPValue || len(h.Value) > 4*maxSSDPValue || !isPrintable(h.Name) || !isPrintable(h.Value) {
				t.Fatalf("header %q: %q not bounded and printable", h.Name, h.Value)
			}
		}
		if m.searchCheck(false) != "" {
			return
		}
		st, _ := m.header("ST")
		respST, usn, ok := match(st, s.tree.Root.UDN, s.udns, s.targets)
		if !ok {
			return
		}
		if respST != st && !(st == "ssdp:all" && respST == "upnp:rootdevice") {
			t.Fatalf("search for %q answered for %q", st, respST)
		}
		resp := s.searchResponse(respST, usn, s.location(mustAddr("192.0.2.1"), 5000))
		if bytes.Count(resp, []byte("HTTP/1.1 200 OK")) != 1 || !bytes.HasSuffix(resp, []byte("\r\n\r\n")) {
			t.Fatalf("response %q", resp)
		}
	})
}

// FuzzParseSOAP: any body parses without panic, within the bounds, and
// the args are printable.
func FuzzParseSOAP(f *testing.F) {
	for _, tt := range soapTable {
		f.Add([]byte(tt.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c := parseSOAP(body)
		if len(c.Args) > maxSOAPArgs {
			t.Fatalf("%d args", len(c.Args))
		}
		for _, a := range c.Args {
			if len(a.Value) > 4*maxArgValue || !isPrintable(a.Value) || !isPrintable(a.Name) {
				t.Fatalf("arg %q=%q not bounded and printable", a.Name, a.Value)
			}
		}
		if !isPrintable(c.Action) || !isPrintable(c.Service) || len(c.Malformed) > 200 {
			t.Fatalf("action %q service %q", c.Action, c.Service)
		}
		// Whatever the arguments, the answers are well-formed.
		for _, k := range []kind{kindWindows, kindMiniUPnPd} {
			if r := soapResponse(k, wanIP1, "GetSpecificPortMappingEntry", c.Args); !strings.HasSuffix(r, "Envelope>\r\n") {
				t.Fatalf("response %q", r)
			}
		}
	})
}

// FuzzReadRequest: any bytes read as requests without panic and within
// the bounds, and each persona answers what it read.
func FuzzReadRequest(f *testing.F) {
	for _, tt := range requestTable {
		f.Add([]byte(tt.in))
	}
	win := newTestServer(f, service.ProfileWindows2000, nil)
	mini := newTestServer(f, service.ProfileLinuxIoT, nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		rd := service.NewReader(bytes.NewReader(in), 64)
		for range 4 {
			r, err := readRequest(rd, testLimits)
			if r == nil {
				return
			}
			if len(r.Body) > testLimits.Body || len(r.Headers) > testLimits.Headers {
				t.Fatalf("body %d, %d headers: over the bounds", len(r.Body), len(r.Headers))
			}
			sess := service.NewSession(nil, service.Recorder{Remote: mustAddrPort("192.0.2.7:40000"), Local: mustAddrPort("192.0.2.1:5000")}, nil, 64)
			for _, s := range []*Server{win, mini} {
				o := s.route(sess, r)
				if o.Reply.Status < 200 || o.Reply.Status > 599 || o.Action == "" {
					t.Fatalf("%v: status %d action %q for %+v", s.kind, o.Reply.Status, o.Action, r)
				}
				if out := s.render(r, &o.Reply); !strings.Contains(out, "\r\n\r\n") {
					t.Fatalf("answer %q", out)
				}
			}
			if err != nil || r.Malformed != "" || r.Truncated {
				return
			}
		}
	})
}
