package upnp

import (
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/service"
)

// Searches as real clients send them.
var (
	// A reflection scanner's search for everything, as short as the
	// usual form gets.
	searchAllMinimal = "M-SEARCH * HTTP/1.1\r\nHOST:239.255.255.250:1900\r\nMAN:\"ssdp:discover\"\r\nMX:1\r\nST:ssdp:all\r\n\r\n"
	// nmap's upnp-info and broadcast-upnp-info scripts.
	searchNmap = "M-SEARCH * HTTP/1.1\r\nHost:239.255.255.250:1900\r\nST:upnp:rootdevice\r\nMan:\"ssdp:discover\"\r\nMX:3\r\n\r\n"
	// miniupnpc 2.2.4 (upnpc) looking for a gateway.
	searchUpnpc = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nMAN: \"ssdp:discover\"\r\nMX: 2\r\n\r\n"
)

func TestParseSSDP(t *testing.T) {
	for _, tt := range []struct {
		name, in             string
		nilMsg               bool
		method, uri, version string
		headers              int
		st, malformed        string
		bodyLen              int
	}{
		{name: "scanner ssdp:all", in: searchAllMinimal, method: "M-SEARCH", uri: "*", version: "HTTP/1.1", headers: 4, st: "ssdp:all"},
		{name: "nmap", in: searchNmap, method: "M-SEARCH", uri: "*", version: "HTTP/1.1", headers: 4, st: "upnp:rootdevice"},
		{name: "upnpc", in: searchUpnpc, method: "M-SEARCH", uri: "*", version: "HTTP/1.1", headers: 4, st: "urn:schemas-upnp-org:device:InternetGatewayDevice:1"},
		{name: "bare LF, no blank line", in: "M-SEARCH * HTTP/1.1\nST: upnp:rootdevice", method: "M-SEARCH", uri: "*", version: "HTTP/1.1", headers: 1, st: "upnp:rootdevice"},
		{name: "notify with body", in: "NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\n\r\nAAAA", method: "NOTIFY", uri: "*", version: "HTTP/1.1", headers: 1, bodyLen: 4},
		{name: "header without colon", in: "M-SEARCH * HTTP/1.1\r\nST upnp:rootdevice\r\n\r\n", method: "M-SEARCH", uri: "*", version: "HTTP/1.1", malformed: "malformed header line"},
		{name: "empty header name", in: "NOTIFY * HTTP/1.1\r\n: x\r\n\r\n", method: "NOTIFY", uri: "*", version: "HTTP/1.1", malformed: "malformed header line"},
		{name: "control bytes escaped", in: "NOTIFY * HTTP/1.1\r\nLOCATION: a\x00b\\\r\n\r\n", method: "NOTIFY", uri: "*", version: "HTTP/1.1", headers: 1},
		{name: "not http", in: "\x00\x01\x02garbage", nilMsg: true},
		{name: "two words", in: "M-SEARCH *\r\n\r\n", nilMsg: true},
		{name: "no HTTP version", in: "M-SEARCH * SSDP/1.0\r\n\r\n", nilMsg: true},
		{name: "bad method", in: "M SEARCH * HTTP/1.1\r\n\r\n", nilMsg: true},
		{name: "empty", in: "", nilMsg: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := parseSSDP([]byte(tt.in))
			if tt.nilMsg {
				if m != nil {
					t.Fatalf("got %+v, want nil (not SSDP)", m)
				}
				return
			}
			if m == nil {
				t.Fatal("got nil, want a message")
			}
			if m.Method != tt.method || m.URI != tt.uri || m.Version != tt.version {
				t.Errorf("request line %q %q %q, want %q %q %q", m.Method, m.URI, m.Version, tt.method, tt.uri, tt.version)
			}
			if tt.malformed == "" && len(m.Headers) != tt.headers {
				t.Errorf("%d headers, want %d: %+v", len(m.Headers), tt.headers, m.Headers)
			}
			if st, _ := m.header("st"); st != tt.st {
				t.Errorf("ST %q, want %q", st, tt.st)
			}
			if m.Malformed != tt.malformed {
				t.Errorf("malformed %q, want %q", m.Malformed, tt.malformed)
			}
			if m.BodyLen != tt.bodyLen {
				t.Errorf("body %d bytes, want %d", m.BodyLen, tt.bodyLen)
			}
		})
	}
	m := parseSSDP([]byte("NOTIFY * HTTP/1.1\r\nLOCATION: a\x00b\\\r\n\r\n"))
	if v, _ := m.header("location"); v != `a\x00b\\` {
		t.Errorf("value %q, want control bytes written \\xNN", v)
	}
}

func TestParseSSDPHeaderBound(t *testing.T) {
	in := "NOTIFY * HTTP/1.1\r\n" + strings.Repeat("X: y\r\n", maxSSDPHeaders+5) + "\r\n"
	m := parseSSDP([]byte(in))
	if len(m.Headers) != maxSSDPHeaders || m.Malformed == "" {
		t.Errorf("%d headers, malformed %q; want %d and a reason", len(m.Headers), m.Malformed, maxSSDPHeaders)
	}
	long := "NOTIFY * HTTP/1.1\r\nX: " + strings.Repeat("A", 5000) + "\r\n\r\n"
	if v, _ := parseSSDP([]byte(long)).header("X"); len(v) != maxSSDPValue {
		t.Errorf("value of %d bytes, want it cut at %d", len(v), maxSSDPValue)
	}
}

func TestSearchCheck(t *testing.T) {
	for _, tt := range []struct {
		name, in        string
		strict, lenient string // "" answers
	}{
		{"scanner", searchAllMinimal, "", ""},
		{"nmap", searchNmap, "", ""},
		{"no MAN", "M-SEARCH * HTTP/1.1\r\nMX: 1\r\nST: upnp:rootdevice\r\n\r\n", `MAN is not "ssdp:discover"`, ""},
		{"no MX", "M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nST: upnp:rootdevice\r\n\r\n", "MX is not a number", ""},
		{"no ST", "M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n\r\n", "no ST header", "no ST header"},
		{"not *", "M-SEARCH / HTTP/1.1\r\nST: ssdp:all\r\n\r\n", "request URI is not *", "request URI is not *"},
		{"HTTP/1.0", "M-SEARCH * HTTP/1.0\r\nST: ssdp:all\r\n\r\n", "version is not HTTP/1.1", "version is not HTTP/1.1"},
	} {
		m := parseSSDP([]byte(tt.in))
		if got := m.searchCheck(true); got != tt.strict {
			t.Errorf("%s strict: %q, want %q", tt.name, got, tt.strict)
		}
		if got := m.searchCheck(false); got != tt.lenient {
			t.Errorf("%s lenient: %q, want %q", tt.name, got, tt.lenient)
		}
	}
}

func TestMatch(t *testing.T) {
	s := newTestServer(t, service.ProfileLinuxIoT, func(c *Config) { c.Persona.UUID = "3a2b4c5d-1e2f-4a3b-9c8d-0e1f2a3b4c5d" })
	root := "uuid:3a2b4c5d-1e2f-4a3b-9c8d-0e1f2a3b4c5d"
	conn := "uuid:3a2b4c5d-1e2f-4a3b-9c8d-0e1f2a3b4c5f" // miniupnpd numbers sub-devices from the root
	for _, tt := range []struct {
		st, respST, usn string
	}{
		{"ssdp:all", "upnp:rootdevice", root + "::upnp:rootdevice"},
		{"upnp:rootdevice", "upnp:rootdevice", root + "::upnp:rootdevice"},
		{"urn:schemas-upnp-org:device:InternetGatewayDevice:1", "urn:schemas-upnp-org:device:InternetGatewayDevice:1", root + "::urn:schemas-upnp-org:device:InternetGatewayDevice:1"},
		{"urn:schemas-upnp-org:service:WANIPConnection:1", "urn:schemas-upnp-org:service:WANIPConnection:1", conn + "::urn:schemas-upnp-org:service:WANIPConnection:1"},
		{"urn:schemas-upnp-org:service:Layer3Forwarding:1", "urn:schemas-upnp-org:service:Layer3Forwarding:1", root + "::urn:schemas-upnp-org:service:Layer3Forwarding:1"},
		{conn, conn, conn},
		// Not here: a later version, another type, nonsense.
		{"urn:schemas-upnp-org:device:InternetGatewayDevice:2", "", ""},
		{"urn:schemas-upnp-org:service:WANPPPConnection:1", "", ""},
		{"urn:schemas-upnp-org:device:MediaServer:1", "", ""},
		{"urn:schemas-upnp-org:service:WANIPConnection:+1", "", ""},
		{"urn:schemas-upnp-org:service:WANIPConnection:0", "", ""},
		{"uuid:00000000-0000-0000-0000-000000000000", "", ""},
		{"ssdp:everything", "", ""},
	} {
		respST, usn, ok := match(tt.st, s.tree.Root.UDN, s.udns, s.targets)
		if ok != (tt.respST != "") || respST != tt.respST || usn != tt.usn {
			t.Errorf("match(%q) = %q, %q, %v; want %q, %q", tt.st, respST, usn, ok, tt.respST, tt.usn)
		}
	}
}

// The search response of each persona, byte for byte: miniupnpd's as
// miniupnpd 2.3.1 sends it (its header order, BOOTID from its start
// time, CONFIGID 1337), Windows's as the XP SSDP service does.
func TestSearchResponse(t *testing.T) {
	s := newTestServer(t, service.ProfileLinuxIoT, func(c *Config) { c.Persona.UUID = "3a2b4c5d-1e2f-4a3b-9c8d-0e1f2a3b4c5d" })
	got := string(s.searchResponse("upnp:rootdevice", "uuid:3a2b4c5d-1e2f-4a3b-9c8d-0e1f2a3b4c5d::upnp:rootdevice", "http://192.168.1.1:5000/rootDesc.xml"))
	want := "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: upnp:rootdevice\r\n" +
		"USN: uuid:3a2b4c5d-1e2f-4a3b-9c8d-0e1f2a3b4c5d::upnp:rootdevice\r\nEXT:\r\n" +
		"SERVER: Linux/2.6.36 UPnP/1.1 MiniUPnPd/2.1\r\nLOCATION: http://192.168.1.1:5000/rootDesc.xml\r\n" +
		"OPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n01-NLS: 1773480413\r\nBOOTID.UPNP.ORG: 1773480413\r\n" +
		"CONFIGID.UPNP.ORG: 1337\r\n\r\n"
	if got != want {
		t.Errorf("miniupnpd response\n got %q\nwant %q", got, want)
	}
	w := newTestServer(t, service.ProfileWindows2000, func(c *Config) { c.Persona.UUID = "d241a30b-a851-4c50-8ed1-b75f3f9014dc" })
	got = string(w.searchResponse("upnp:rootdevice", "uuid:d241a30b-a851-4c50-8ed1-b75f3f9014dc::upnp:rootdevice",
		w.location(mustAddr("192.168.0.1"), 2869)))
	want = "HTTP/1.1 200 OK\r\nST:upnp:rootdevice\r\nUSN:uuid:d241a30b-a851-4c50-8ed1-b75f3f9014dc::upnp:rootdevice\r\n" +
		"Location:http://192.168.0.1:2869/upnphost/udhisapi.dll?content=uuid:d241a30b-a851-4c50-8ed1-b75f3f9014dc\r\n" +
		"Cache-Control:max-age=900\r\nServer:Microsoft-Windows-NT/5.1 UPnP/1.0 UPnP-Device-Host/1.0\r\nExt:\r\n\r\n"
	if got != want {
		t.Errorf("windows response\n got %q\nwant %q", got, want)
	}
}
