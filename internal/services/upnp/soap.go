package upnp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/smallpot/smallpot/internal/event"
)

// UPnP control is SOAP 1.1: an Envelope whose Body holds one element named
// after the action, in the service type's namespace, with one child per
// argument. parseSOAP reads it with encoding/xml under fixed bounds (the
// caller bounds the body; here the tokens, the depth, the arguments and
// their values); entities are never expanded (encoding/xml knows only the
// five predefined ones and has no DTD processing).

const (
	maxSOAPTokens = 4096
	maxSOAPDepth  = 32
	maxSOAPArgs   = 32
	maxArgValue   = 1024
)

// soapCall is what a control request asked for.
type soapCall struct {
	Service string // namespace of the action element
	Action  string // its local name
	Args    []event.Header
	// Malformed says why the body could not be read to its end; what was
	// read before is kept.
	Malformed string
}

// arg returns the value of the named argument and whether it was given.
func (c *soapCall) arg(name string) (string, bool) {
	for _, a := range c.Args {
		if a.Name == name {
			return a.Value, true
		}
	}
	return "", false
}

var errSOAPBudget = errors.New("token budget exhausted")

// parseSOAP reads a control request's body.
func parseSOAP(body []byte) *soapCall {
	c := &soapCall{}
	d := xml.NewDecoder(bytes.NewReader(body))
	var (
		depth   int    // elements open
		inEnv   bool   // the root is an Envelope
		inBody  bool   // Envelope > Body is open
		argName string // the argument element open at depth 4, if any
		argVal  []byte
		seenAct bool
		actDone bool
		tokens  int
	)
	for {
		tokens++
		if tokens > maxSOAPTokens {
			c.Malformed = errSOAPBudget.Error()
			return c
		}
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				if !seenAct {
					c.Malformed = "no action element in an Envelope's Body"
				}
				return c
			}
			c.Malformed = bounded("xml: "+strings.TrimPrefix(err.Error(), "XML syntax error "), 200)
			return c
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxSOAPDepth {
				c.Malformed = "elements nested deeper than " + strconv.Itoa(maxSOAPDepth)
				return c
			}
			switch {
			case depth == 1:
				inEnv = t.Name.Local == "Envelope"
				if !inEnv {
					c.Malformed = "root element is not an Envelope"
					return c
				}
			case depth == 2 && inEnv && t.Name.Local == "Body" && !actDone:
				inBody = true
			case depth == 3 && inBody && !seenAct:
				seenAct = true
				c.Action = printable([]byte(t.Name.Local), 128)
				c.Service = printable([]byte(t.Name.Space), 256)
			case depth == 4 && inBody && seenAct && !actDone:
				if len(c.Args) < maxSOAPArgs {
					argName, argVal = t.Name.Local, argVal[:0]
				}
			}
		case xml.EndElement:
			switch {
			case depth == 4 && argName != "":
				c.Args = append(c.Args, event.Header{Name: printable([]byte(argName), 128), Value: printable(argVal, maxArgValue)})
				argName = ""
			case depth == 3 && seenAct:
				actDone = true
			case depth == 2:
				inBody = false
			}
			depth--
		case xml.CharData:
			if argName != "" && len(argVal) < maxArgValue+1 {
				argVal = append(argVal, t[:min(len(t), maxArgValue+1-len(argVal))]...)
			}
		}
	}
}

func bounded(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// parseSOAPAction splits a SOAPAction header value,
// "urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping" with or
// without its quotes, into the service type and the action.
func parseSOAPAction(v string) (svc, action string, ok bool) {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	i := strings.LastIndexByte(v, '#')
	if i < 0 || i == len(v)-1 {
		return "", "", false
	}
	return printable([]byte(v[:i]), 256), printable([]byte(v[i+1:]), 128), true
}

// UPnP control error codes (UDA 1.0 §3.2.2 and the WANIPConnection
// template).
var upnpErrors = map[int]string{
	401: "Invalid Action",
	402: "Invalid Args",
	501: "Action Failed",
	606: "Action not authorized",
	713: "SpecifiedArrayIndexInvalid",
	714: "NoSuchEntryInArray",
	716: "WildCardNotPermittedInExtPort",
	718: "ConflictInMappingEntry",
	724: "SamePortValuesRequired",
	725: "OnlyPermanentLeasesSupported",
	728: "NoPortMapsAvailable",
}

// soapResponse renders an action's answer in the persona's layout. Values
// are escaped.
func soapResponse(k kind, svc, action string, outArgs []event.Header) string {
	var b strings.Builder
	if k == kindMiniUPnPd {
		b.WriteString(`<?xml version="1.0"?>` + "\r\n" +
			`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>`)
		if action == "AddPortMapping" && len(outArgs) == 0 {
			// miniupnpd closes this one answer on itself.
			b.WriteString(`<u:AddPortMappingResponse xmlns:u="` + xmlEscape(svc) + `"/>`)
		} else {
			b.WriteString(`<u:` + action + `Response xmlns:u="` + xmlEscape(svc) + `">`)
			for _, a := range outArgs {
				b.WriteString("<" + a.Name + ">" + xmlEscape(a.Value) + "</" + a.Name + ">")
			}
			b.WriteString(`</u:` + action + `Response>`)
		}
		b.WriteString("</s:Body></s:Envelope>\r\n")
		return b.String()
	}
	b.WriteString(`<?xml version="1.0"?>` + "\r\n" +
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">` + "\r\n" +
		"<SOAP-ENV:Body>\r\n")
	b.WriteString(`<m:` + action + `Response xmlns:m="` + xmlEscape(svc) + `">` + "\r\n")
	for _, a := range outArgs {
		b.WriteString("<" + a.Name + ">" + xmlEscape(a.Value) + "</" + a.Name + ">\r\n")
	}
	b.WriteString(`</m:` + action + "Response>\r\n</SOAP-ENV:Body>\r\n</SOAP-ENV:Envelope>\r\n")
	return b.String()
}

// soapFault renders a UPnP error.
func soapFault(k kind, code int) string {
	desc := upnpErrors[code]
	if k == kindMiniUPnPd {
		if code == 501 {
			desc = "ActionFailed"
		}
		return `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">` +
			`<s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>` +
			`<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>` + strconv.Itoa(code) + `</errorCode>` +
			`<errorDescription>` + desc + `</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`
	}
	return `<?xml version="1.0"?>` + "\r\n" +
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">` + "\r\n" +
		"<SOAP-ENV:Body>\r\n<SOAP-ENV:Fault>\r\n<faultcode>SOAP-ENV:Client</faultcode>\r\n<faultstring>UPnPError</faultstring>\r\n<detail>\r\n" +
		`<UPnPError xmlns="urn:schemas-upnp-org:control-1-0">` + "\r\n<errorCode>" + strconv.Itoa(code) + "</errorCode>\r\n" +
		"<errorDescription>" + desc + "</errorDescription>\r\n</UPnPError>\r\n</detail>\r\n</SOAP-ENV:Fault>\r\n</SOAP-ENV:Body>\r\n</SOAP-ENV:Envelope>\r\n"
}
