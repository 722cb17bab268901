package upnp

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/engine"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

func TestValidate(t *testing.T) {
	for _, p := range service.Profiles {
		if err := DefaultConfig(p).Validate(); err != nil {
			t.Errorf("%s defaults: %v", p, err)
		}
	}
	for _, tt := range []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"kind", func(c *Config) { c.Persona.Kind = "apache" }, "persona.kind"},
		{"no server", func(c *Config) { c.Persona.Server = "" }, "persona.server"},
		{"control bytes", func(c *Config) { c.Persona.FriendlyName = "a\r\nb" }, "persona.friendly_name"},
		{"uuid", func(c *Config) { c.Persona.UUID = "not-a-uuid" }, "persona.uuid"},
		{"max age", func(c *Config) { c.Persona.MaxAge = 0 }, "persona.max_age"},
		{"external ip", func(c *Config) { c.Persona.ExternalIP = "example.com" }, "persona.external_ip"},
		{"location host", func(c *Config) { c.Persona.LocationHost = "x" }, "persona.location_host"},
		{"access type", func(c *Config) { c.Persona.WANAccessType = "Carrier pigeon" }, "persona.wan_access_type"},
		{"link rate", func(c *Config) { c.Persona.LinkRate = 1 << 40 }, "persona.link_rate"},
		{"reply factor", func(c *Config) { c.ReplyFactor = -1 }, "reply_factor"},
		{"description port", func(c *Config) { c.DescriptionPort = 80 }, "description_port"},
		{"location port", func(c *Config) { c.LocationPort = 70000 }, "location_port"},
		{"max body", func(c *Config) { c.MaxBody = 10 }, "max_body"},
		{"event body", func(c *Config) { c.EventBody = c.MaxBody + 1 }, "event_body"},
		{"max requests", func(c *Config) { c.MaxRequests = 0 }, "max_requests"},
		{"max hosts", func(c *Config) { c.MaxHosts = 0 }, "max_hosts"},
		{"max mappings", func(c *Config) { c.MaxMappings = 5000 }, "max_mappings"},
	} {
		c := DefaultConfig(service.ProfileWindows2000)
		tt.mut(c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want an error naming %s", tt.name, err, tt.want)
		}
	}
	c := DefaultConfig(service.ProfileWindows2000)
	c.DescriptionPort, c.LocationPort = 80, 8080
	if err := c.Validate(); err != nil {
		t.Errorf("a location_port makes any description_port valid: %v", err)
	}
}

func TestDefaultsPerProfile(t *testing.T) {
	w, l := DefaultConfig(service.ProfileWindows2000), DefaultConfig(service.ProfileLinuxIoT)
	if w.Persona.Kind != "windows" || w.Ports[0] != 2869 || w.DescriptionPort != 2869 || w.UDPPorts[0] != 1900 {
		t.Errorf("windows2000: kind %s ports %v description %d udp %v", w.Persona.Kind, w.Ports, w.DescriptionPort, w.UDPPorts)
	}
	if l.Persona.Kind != "miniupnpd" || l.Ports[0] != 5000 || l.DescriptionPort != 5000 || l.UDPPorts[0] != 1900 {
		t.Errorf("linux-iot: kind %s ports %v description %d udp %v", l.Persona.Kind, l.Ports, l.DescriptionPort, l.UDPPorts)
	}
	if !strings.Contains(w.Describe(), "Windows") || !strings.Contains(l.Describe(), "MiniUPnPd") {
		t.Errorf("Describe: %q, %q", w.Describe(), l.Describe())
	}
	// Two sensors are two devices; one sensor keeps its device.
	a := newTestServer(t, service.ProfileLinuxIoT, nil)
	b, _ := newServer(DefaultConfig(service.ProfileLinuxIoT), service.Env{Sensor: "other"}, time.Now)
	if a.persona.UUID == b.persona.UUID || a.persona.UUID != newTestServer(t, service.ProfileLinuxIoT, nil).persona.UUID {
		t.Errorf("UUIDs %s (test), %s (other): want stable per sensor and different between sensors", a.persona.UUID, b.persona.UUID)
	}
}

// The default reply factor of each persona is the smallest, to a tenth,
// that lets the one response to each usual search through when the
// LOCATION is as long as an IPv4 address and a port make it.
func TestDefaultReplyFactors(t *testing.T) {
	for _, p := range service.Profiles {
		s := newTestServer(t, p, func(c *Config) { c.LocationPort = 65535 })
		need := 0.0
		for _, req := range []string{searchAllMinimal, searchNmap, searchUpnpc} {
			m := parseSSDP([]byte(req))
			if why := m.searchCheck(s.kind == kindWindows); why != "" {
				t.Fatalf("%s: %q not answered: %s", p, req, why)
			}
			st, _ := m.header("ST")
			respST, usn, ok := match(st, s.tree.Root.UDN, s.udns, s.targets)
			if !ok {
				t.Fatalf("%s: no match for %s", p, st)
			}
			resp := s.searchResponse(respST, usn, s.location(mustAddr("255.255.255.255"), 65535))
			need = math.Max(need, float64(len(resp))/float64(len(req)))
		}
		want := math.Ceil(need*10) / 10
		if f := s.cfg.ReplyFactor; f != want {
			t.Errorf("%s: reply_factor %v, want %v (largest response/request ratio %.3f)", p, f, want, need)
		}
		if testing.Verbose() {
			t.Logf("%s: largest ratio %.3f", p, need)
		}
	}
}

func TestLocationPort(t *testing.T) {
	s := newTestServer(t, service.ProfileWindows2000, nil)
	for _, tt := range []struct {
		udp, want int
	}{
		{1900, 2869},   // no offset
		{11900, 12869}, // -port-offset 10000
		{65000, 2869},  // an offset past the port range: unchanged
	} {
		if got := s.locationPort(netip.AddrPortFrom(mustAddr("192.0.2.1"), uint16(tt.udp))); got != tt.want {
			t.Errorf("search on udp %d: LOCATION port %d, want %d", tt.udp, got, tt.want)
		}
	}
	s.cfg.LocationPort = 8000
	if got := s.locationPort(netip.AddrPortFrom(mustAddr("192.0.2.1"), 11900)); got != 8000 {
		t.Errorf("location_port set: %d, want 8000", got)
	}
}

func TestLocationHost(t *testing.T) {
	s := newTestServer(t, service.ProfileLinuxIoT, nil)
	s.ifaceAddr = func() netip.Addr { return mustAddr("192.168.1.1") }
	for _, tt := range []struct{ local, want string }{
		{"203.0.113.9", "203.0.113.9"}, // the address the search arrived on
		{"0.0.0.0", "192.168.1.1"},     // a wildcard bind: the interface's
		{"::", "192.168.1.1"},
	} {
		if got := s.locationHost(mustAddr(tt.local)); got.String() != tt.want {
			t.Errorf("local %s: host %s, want %s", tt.local, got, tt.want)
		}
	}
	s.persona.LocationHost = "198.51.100.1"
	if got := s.locationHost(mustAddr("203.0.113.9")); got.String() != "198.51.100.1" {
		t.Errorf("location_host set: %s", got)
	}
	if got := s.location(mustAddr("2001:db8::1"), 5000); got != "http://[2001:db8::1]:5000/rootDesc.xml" {
		t.Errorf("IPv6 location %q", got)
	}
}

// startUDP serves s over UDP on 127.0.0.1 with its config's reply factor,
// as smallpot run does (servicetest's harness uses factor 1).
func startUDP(t *testing.T, s *Server, limits *config.Limits) (*servicetest.Collector, *servicetest.MemSamples, *net.UDPConn) {
	t.Helper()
	lim := servicetest.Limits()
	if limits != nil {
		lim = *limits
	}
	col, samples := servicetest.NewCollector(), servicetest.NewMemSamples()
	eng := engine.New(engine.Options{Sensor: "test", Limits: lim, Emitter: col, Samples: samples})
	addr, err := eng.ListenUDP("upnp", "127.0.0.1:0", udpOnly{s}, s.cfg.ReplyFactor)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = eng.Serve(ctx); close(done) }()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		cancel()
		<-done
	})
	return col, samples, c
}

// send sends a datagram and returns the request (or, for bytes that are
// not SSDP, sample) event it led to and every datagram that came back.
func send(t *testing.T, col *servicetest.Collector, c *net.UDPConn, data string) (*event.Event, [][]byte) {
	t.Helper()
	before := len(col.Events())
	if _, err := c.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	isSSDP := parseSSDP([]byte(data)) != nil
	evs := col.Wait(t, 5*time.Second, func(evs []*event.Event) bool {
		for _, e := range evs[before:] {
			if e.Kind == event.KindRequest || !isSSDP && e.Kind == event.KindSample {
				return true
			}
		}
		return false
	})
	var got *event.Event
	for _, e := range evs[before:] {
		if e.Kind == event.KindRequest || !isSSDP && e.Kind == event.KindSample {
			got = e
		}
	}
	// A reply is sent before the event: whatever came is queued by now.
	var replies [][]byte
	buf := make([]byte, 65536)
	for {
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			break
		}
		replies = append(replies, bytes.Clone(buf[:n]))
	}
	return got, replies
}

func TestSearchOverUDP(t *testing.T) {
	for _, p := range service.Profiles {
		t.Run(p, func(t *testing.T) {
			s := newTestServer(t, p, func(c *Config) { c.LocationPort = 54321 })
			lim := servicetest.Limits()
			lim.UDPRepliesPerSecond, lim.UDPReplyBurst = 1000, 1000
			col, _, c := startUDP(t, s, &lim)
			for _, tt := range []struct{ req, st string }{
				{searchAllMinimal, "upnp:rootdevice"},
				{searchNmap, "upnp:rootdevice"},
				{searchUpnpc, "urn:schemas-upnp-org:device:InternetGatewayDevice:1"},
				{strings.Replace(searchUpnpc, "device:InternetGatewayDevice", "service:WANIPConnection", 1), "urn:schemas-upnp-org:service:WANIPConnection:1"},
			} {
				ev, replies := send(t, col, c, tt.req)
				if len(replies) != 1 {
					t.Fatalf("%d replies to %q, want exactly 1", len(replies), tt.req)
				}
				r := string(replies[0])
				loc := "http://127.0.0.1:54321" + s.tree.DescPath
				if !strings.HasPrefix(r, "HTTP/1.1 200 OK\r\n") || !strings.Contains(strings.ToUpper(r), "\r\nST:") ||
					!strings.Contains(r, tt.st+"\r\n") || !strings.Contains(r, loc+"\r\n") || !strings.Contains(r, s.persona.Server) {
					t.Errorf("reply to %q:\n%s\nwant ST %s, LOCATION %s", tt.req, r, tt.st, loc)
				}
				d := ev.Detail.(*event.Request)
				if d.Method != "M-SEARCH" || d.Action != "search:reply" || d.Status != 200 || len(d.Headers) != 4 || d.Sample != "" {
					t.Errorf("event %+v", d)
				}
				if len(r) > int(float64(len(tt.req))*s.cfg.ReplyFactor) {
					t.Errorf("reply of %d bytes to %d: over the reply factor", len(r), len(tt.req))
				}
			}
			// Searches nothing here answers get nothing.
			ev, replies := send(t, col, c, strings.Replace(searchUpnpc, "InternetGatewayDevice:1", "MediaServer:1", 1))
			if len(replies) != 0 || ev.Detail.(*event.Request).Action != "search:no-match" {
				t.Errorf("MediaServer search: %d replies, action %q", len(replies), ev.Detail.(*event.Request).Action)
			}
		})
	}
}

// A search shorter than the usual ones would need a larger factor: the
// engine refuses its reply, and past the rate limit nothing is sent.
func TestSearchRefusals(t *testing.T) {
	s := newTestServer(t, service.ProfileLinuxIoT, func(c *Config) { c.LocationPort = 5000 })
	lim := servicetest.Limits()
	lim.UDPRepliesPerSecond, lim.UDPReplyBurst = 0.001, 2
	col, _, c := startUDP(t, s, &lim)
	short := "M-SEARCH * HTTP/1.1\r\nST:ssdp:all\r\n\r\n"
	ev, replies := send(t, col, c, short)
	if len(replies) != 0 || ev.Detail.(*event.Request).Action != "search:too-large" {
		t.Errorf("%d-byte search: %d replies, action %q; want none, search:too-large", len(short), len(replies), ev.Detail.(*event.Request).Action)
	}
	var actions []string
	for range 3 {
		ev, replies := send(t, col, c, searchNmap)
		actions = append(actions, ev.Detail.(*event.Request).Action+"/"+strconv.Itoa(len(replies)))
	}
	if want := "search:reply/1 search:reply/1 search:rate-limited/0"; strings.Join(actions, " ") != want {
		t.Errorf("burst of 2 then: %s, want %s", strings.Join(actions, " "), want)
	}
}

// The Windows SSDP service wants MAN and MX; miniupnpd does not.
func TestSearchStrictness(t *testing.T) {
	bare := "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nST: upnp:rootdevice\r\nUSER-AGENT: Linux/5.10 UPnP/1.1 probe/1.0\r\n\r\n"
	for _, tt := range []struct {
		profile, action string
		replies         int
	}{
		{service.ProfileWindows2000, "search:ignored", 0},
		{service.ProfileLinuxIoT, "search:reply", 1},
	} {
		s := newTestServer(t, tt.profile, func(c *Config) { c.LocationPort = 1 })
		col, _, c := startUDP(t, s, nil)
		ev, replies := send(t, col, c, bare)
		if d := ev.Detail.(*event.Request); d.Action != tt.action || len(replies) != tt.replies {
			t.Errorf("%s: action %q (%s), %d replies; want %q, %d", tt.profile, d.Action, d.Malformed, len(replies), tt.action, tt.replies)
		}
	}
}

// NOTIFY datagrams, the shape the MS01-059 overflow came in, and bytes
// that are not SSDP at all, are kept whole and never answered.
func TestDatagramsKeptWhole(t *testing.T) {
	s := newTestServer(t, service.ProfileWindows2000, nil)
	col, samples, c := startUDP(t, s, nil)
	notify := "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nLOCATION: http://" + strings.Repeat("A", 3000) + "\r\n" +
		"NT: upnp:rootdevice\r\nNTS: ssdp:alive\r\nUSN: uuid:x::upnp:rootdevice\r\n\r\n\x90\x90\x90\x90\xcc"
	for _, tt := range []struct{ name, data, action string }{
		{"notify", notify, "notify"},
		{"other method", "GET / HTTP/1.1\r\n\r\n", "ignored"},
		{"long search", searchNmap[:len(searchNmap)-2] + "X-Pad: " + strings.Repeat("p", 600) + "\r\n\r\n", "search:reply"},
		{"not ssdp", "\x00\x01binary\xff", ""},
	} {
		ev, replies := send(t, col, c, tt.data)
		if tt.action != "search:reply" && len(replies) != 0 {
			t.Errorf("%s: %d replies, want none", tt.name, len(replies))
		}
		var sha string
		if ev.Kind == event.KindSample {
			sha = ev.Detail.(*event.Sample).SHA256
		} else {
			d := ev.Detail.(*event.Request)
			sha = d.Sample
			if d.Action != tt.action {
				t.Errorf("%s: action %q, want %q", tt.name, d.Action, tt.action)
			}
		}
		if got, ok := samples.Get(sha); !ok || string(got) != tt.data {
			t.Errorf("%s: sample %q not the whole datagram", tt.name, sha)
		}
	}
}

// upnpc (miniupnpc) finds the gateway from its description URL, lists it,
// and adds a mapping: the action is recorded with its arguments, the
// next listing shows it (to that client only), and nothing is mapped.
func TestUpnpc(t *testing.T) {
	if _, err := exec.LookPath("upnpc"); err != nil {
		t.Skip("upnpc not installed (Debian package miniupnpc)")
	}
	for _, p := range service.Profiles {
		t.Run(p, func(t *testing.T) {
			s := newTestServer(t, p, func(c *Config) { c.Persona.ExternalIP = "81.2.69.142" })
			h := servicetest.Start(t, "upnp", tcpOnly{s}, nil)
			url := fmt.Sprintf("http://127.0.0.1:%d%s", h.Addr.Port(), s.tree.DescPath)
			// An external port nothing listens on, to show it stays so.
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ext := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
			l.Close()
			run := func(args ...string) string {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, "upnpc", append([]string{"-u", url}, args...)...)
				cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("upnpc %v: %v\n%s", args, err, out)
				}
				return string(out)
			}
			out := run("-e", "smallpot test", "-a", "127.0.0.1", "22", ext, "TCP")
			for _, want := range []string{"Found valid IGD : http://127.0.0.1:" + strconv.Itoa(int(h.Addr.Port())) + s.tree.serviceOfType(svcWANIP).Control,
				"ExternalIPAddress = 81.2.69.142", "external 81.2.69.142:" + ext + " TCP is redirected to internal 127.0.0.1:22"} {
				if !strings.Contains(out, want) {
					t.Errorf("upnpc -a output lacks %q:\n%s", want, out)
				}
			}
			out = run("-l")
			var norm []string
			for _, l := range strings.Split(out, "\n") {
				norm = append(norm, strings.Join(strings.Fields(l), " "))
			}
			out = strings.Join(norm, "\n")
			for _, want := range []string{"Connection Type : IP_Routed", "Status : Connected", "MaxBitRateDown : 100000000 bps",
				"\n0 TCP " + ext + "->127.0.0.1:22 'smallpot test' '' 0\n", "GetGenericPortMappingEntry() returned 713"} {
				if !strings.Contains(out, want) {
					t.Errorf("upnpc -l output lacks %q:\n%s", want, out)
				}
			}
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+ext, time.Second); err == nil {
				c.Close()
				t.Errorf("something listens on the mapped port %s", ext)
			}
			evs := h.Events.Wait(t, 5*time.Second, func(evs []*event.Event) bool {
				for _, e := range evs {
					if d, ok := e.Detail.(*event.Request); ok && d.Action == "soap:GetGenericPortMappingEntry" && d.Status == 500 {
						return true
					}
				}
				return false
			})
			var actions []string
			var add *event.Request
			for _, e := range servicetest.OfKind(evs, event.KindRequest) {
				d := e.Detail.(*event.Request)
				actions = append(actions, d.Action)
				if d.Action == "soap:AddPortMapping" {
					add = d
				}
			}
			if add == nil || add.Status != 200 || add.Method != "POST" || add.UserAgent == "" {
				t.Fatalf("no AddPortMapping answered 200 among %v (%+v)", actions, add)
			}
			want := kv("NewRemoteHost", "", "NewExternalPort", ext, "NewProtocol", "TCP", "NewInternalPort", "22",
				"NewInternalClient", "127.0.0.1", "NewEnabled", "1", "NewPortMappingDescription", "smallpot test", "NewLeaseDuration", "0")
			if !equalArgs(add.Args, want) {
				t.Errorf("AddPortMapping args %q, want %q", add.Args, want)
			}
			if !slices.Contains(actions, "description") {
				t.Errorf("requests %v: the description was never fetched", actions)
			}
		})
	}
}

// Another source does not see the first one's mappings; the table is
// bounded in sources and rows.
func TestMappingTable(t *testing.T) {
	s := newTestServer(t, service.ProfileLinuxIoT, func(c *Config) { c.MaxHosts, c.MaxMappings = 2, 2 })
	add := func(src string, ext int) int {
		c := &soapCall{Args: kv("NewRemoteHost", "", "NewExternalPort", strconv.Itoa(ext), "NewProtocol", "tcp",
			"NewInternalPort", "80", "NewInternalClient", "192.168.1.9", "NewEnabled", "1", "NewPortMappingDescription", "x", "NewLeaseDuration", "0")}
		_, code := s.perform(nil, "AddPortMapping", c, callEnv{src: mustAddr(src), now: testClock})
		return code
	}
	list := func(src string, i int) int {
		_, code := s.perform(nil, "GetGenericPortMappingEntry", &soapCall{Args: kv("NewPortMappingIndex", strconv.Itoa(i))}, callEnv{src: mustAddr(src), now: testClock})
		return code
	}
	if add("192.0.2.1", 80) != 0 || add("192.0.2.1", 81) != 0 || add("192.0.2.1", 82) != 728 {
		t.Error("a third row of two should answer 728 NoPortMapsAvailable")
	}
	if list("192.0.2.1", 1) != 0 || list("192.0.2.2", 0) != 713 {
		t.Error("a source lists its own rows only")
	}
	add("192.0.2.2", 80)
	add("192.0.2.3", 80) // a third source: the least recently used goes
	if len(s.maps.hosts) != 2 || list("192.0.2.3", 0) != 0 {
		t.Errorf("%d sources kept, want 2 with the newest", len(s.maps.hosts))
	}
	conflict := &soapCall{Args: kv("NewRemoteHost", "", "NewExternalPort", "80", "NewProtocol", "TCP",
		"NewInternalPort", "80", "NewInternalClient", "192.168.1.10", "NewEnabled", "1", "NewPortMappingDescription", "x", "NewLeaseDuration", "0")}
	if _, code := s.perform(nil, "AddPortMapping", conflict, callEnv{src: mustAddr("192.0.2.3"), now: testClock}); code != 718 {
		t.Errorf("same port to another client: %d, want 718", code)
	}
	for _, tt := range []struct {
		action string
		args   []event.Header
		code   int
	}{
		{"AddPortMapping", kv("NewExternalPort", "x"), 402},
		{"AddPortMapping", kv("NewExternalPort", "0", "NewProtocol", "TCP", "NewInternalPort", "1", "NewInternalClient", "a", "NewLeaseDuration", "0"), 716},
		{"GetSpecificPortMappingEntry", kv("NewExternalPort", "9", "NewProtocol", "UDP"), 714},
		{"DeletePortMapping", kv("NewExternalPort", "9", "NewProtocol", "UDP"), 0}, // as miniupnpd answers
		{"ForceTermination", nil, 606},
		{"AddAnyPortMapping", nil, 401},
	} {
		if _, code := s.perform(nil, tt.action, &soapCall{Args: tt.args}, callEnv{src: mustAddr("192.0.2.3"), now: testClock}); code != tt.code {
			t.Errorf("%s %v: %d, want %d", tt.action, tt.args, code, tt.code)
		}
	}
}

// A body over max_body is cut, kept as a sample, answered, and the
// connection closed.
func TestBodyBound(t *testing.T) {
	s := newTestServer(t, service.ProfileLinuxIoT, func(c *Config) { c.MaxBody, c.EventBody = 2048, 1024 })
	h := servicetest.Start(t, "upnp", tcpOnly{s}, nil)
	body := envelope(wanIP1, "AddPortMapping", "<NewPortMappingDescription>"+strings.Repeat("\x41", 5000)+"</NewPortMappingDescription>")
	req := "POST /ctl/IPConn HTTP/1.1\r\nSOAPAction: \"" + wanIP1 + "#AddPortMapping\"\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	out := h.Exchange(t, []byte(req), 5*time.Second)
	if !strings.HasPrefix(string(out), "HTTP/1.1 500 Internal Server Error\r\n") {
		t.Errorf("answer %q", out)
	}
	evs := h.WaitClosed(t, 1)
	d := servicetest.OfKind(evs, event.KindRequest)[0].Detail.(*event.Request)
	if !d.Truncated || d.BodyLen != 2048 || d.Sample == "" || len(d.Body) != 1024 {
		t.Errorf("truncated %v body_len %d sample %q body %d", d.Truncated, d.BodyLen, d.Sample, len(d.Body))
	}
	if got, _ := h.Samples.Get(d.Sample); string(got) != body[:2048] {
		t.Error("sample is not the body's first max_body bytes")
	}
}

func TestTranscripts(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata", "upnp", func() any {
		return tcpOnly{newTestServer(t, service.ProfileWindows2000, nil)}
	}, servicetest.TranscriptOptions{})
}

func TestTranscriptsLinuxIoT(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata/linux-iot", "upnp", func() any {
		return tcpOnly{newTestServer(t, service.ProfileLinuxIoT, nil)}
	}, servicetest.TranscriptOptions{})
}

// nmap -sV names each persona on its description port. It relies on
// these lines of nmap-service-probes (nmap 7.93):
//
//	windows2000, probe GetRequest ("GET / HTTP/1.0"), HTTP.sys's 404:
//	match http m|^HTTP/1\.1 \d\d\d.*\r\nContent-Type: text/html(?:; charset=us-ascii)?\r\nServer: Microsoft-HTTPAPI/([\d.]+)\r\n| p/Microsoft HTTPAPI httpd/ v/$1/ i|SSDP/UPnP| o/Windows/
//
//	linux-iot, probe GenericLines ("\r\n\r\n"), miniupnpd's 501 with the
//	empty version echoed:
//	match upnp m|^ 501 Not Implemented\r\n(?:[^\r\n]+\r\n)*?Server: Linux/(([234]\.[\d.]+)[\w._-]+) UPnP/([\w._-]+) [Mm]ini[Uu][Pp]n[Pp]d/([\w._-]+)\r\n|s p/MiniUPnP/ v/$4/ i/Linux $1; UPnP $3/ o/Linux/
func TestNmap(t *testing.T) {
	if _, err := exec.LookPath("nmap"); err != nil {
		t.Skip("nmap not installed (Debian package nmap)")
	}
	for _, tt := range []struct{ profile, want string }{
		{service.ProfileWindows2000, "Microsoft HTTPAPI httpd 1.0 (SSDP/UPnP)"},
		{service.ProfileLinuxIoT, "MiniUPnP 2.1 (Linux 2.6.36; UPnP 1.1)"},
	} {
		t.Run(tt.profile, func(t *testing.T) {
			t.Parallel()
			h := servicetest.Start(t, "upnp", tcpOnly{newTestServer(t, tt.profile, nil)}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "nmap", "-sV", "-Pn", "-n", "-p", strconv.Itoa(int(h.Addr.Port())), "127.0.0.1")
			cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("nmap: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("nmap does not name %q:\n%s", tt.want, out)
			}
		})
	}
}

// A user's section is decoded over the profile's defaults, strictly.
func TestConfigSection(t *testing.T) {
	for _, tt := range []struct {
		name, profile, yaml, err string
		check                    func(*Config) string
	}{
		{"linux-iot defaults", "linux-iot", "", "", func(c *Config) string {
			if c.Persona.Kind != "miniupnpd" || c.ReplyFactor != factorMiniUPnPd || c.Ports[0] != 5000 {
				return fmt.Sprintf("kind %s factor %v ports %v", c.Persona.Kind, c.ReplyFactor, c.Ports)
			}
			return ""
		}},
		{"enabled only, as default.yaml has it", "linux-iot", "\n    enabled: true\n", "", func(c *Config) string {
			if c.DescriptionPort != 5000 || c.Ports[0] != 5000 {
				return fmt.Sprintf("description %d ports %v", c.DescriptionPort, c.Ports)
			}
			return ""
		}},
		{"persona fields", "windows2000", "\n    max_body: 16KiB\n    persona:\n      friendly_name: GATEWAY\n      external_ip: 198.51.100.20\n", "", func(c *Config) string {
			if c.Persona.FriendlyName != "GATEWAY" || c.Persona.ExternalIP != "198.51.100.20" || c.MaxBody != 16<<10 || c.Persona.Kind != "windows" {
				return fmt.Sprintf("%+v max_body %v", c.Persona, c.MaxBody)
			}
			return ""
		}},
		{"unknown key", "windows2000", "\n    persona:\n      frendly_name: x\n", `unknown key "frendly_name"`, nil},
		{"ports without the description port", "windows2000", "\n    ports: [5000]\n", "description_port", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := "profile: " + tt.profile + "\n"
			if tt.yaml != "" {
				doc += "services:\n  upnp:" + tt.yaml
			}
			cfg, err := config.Parse([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			rs, err := cfg.ResolveServices()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v; want an error about %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.Module.Name == "upnp" {
					if msg := tt.check(r.Config.(*Config)); msg != "" {
						t.Fatal(msg)
					}
					return
				}
			}
			t.Fatal("upnp not resolved")
		})
	}
}
