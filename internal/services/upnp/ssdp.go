package upnp

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/smallpot/smallpot/internal/event"
)

// SSDP (UPnP Device Architecture 1.0 §1) is HTTP over UDP: a request line,
// header lines and a blank line in one datagram. parseSSDP reads one
// datagram; it does no I/O and keeps nothing from b.

// Bounds of what an SSDP event carries: the datagram itself is kept whole
// as a sample when it is not a plain search.
const (
	maxSSDPHeaders = 64
	maxSSDPValue   = 1024
)

// ssdpMsg is one parsed datagram.
type ssdpMsg struct {
	Method, URI, Version string
	Headers              []event.Header
	// BodyLen counts the bytes after the blank line (an SSDP request has
	// none).
	BodyLen int
	// Malformed says what was wrong with an SSDP-shaped datagram.
	Malformed string
}

// parseSSDP parses a datagram. It returns nil for bytes that do not start
// with an HTTP-shaped request line ("METHOD URI HTTP/x.y").
func parseSSDP(b []byte) *ssdpMsg {
	line, rest, _ := cutLine(b)
	method, uri, version, ok := requestLine(line)
	if !ok {
		return nil
	}
	m := &ssdpMsg{Method: method, URI: uri, Version: version}
	for {
		var l []byte
		var found bool
		l, rest, found = cutLine(rest)
		if len(l) == 0 {
			// The blank line ends the headers; a datagram may also just
			// end after them.
			if found {
				m.BodyLen = len(rest)
			}
			return m
		}
		if len(m.Headers) == maxSSDPHeaders {
			m.Malformed = "more than " + strconv.Itoa(maxSSDPHeaders) + " header lines"
			return m
		}
		name, value, ok := bytes.Cut(l, []byte(":"))
		name = bytes.TrimRight(name, " \t")
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			m.Malformed = "malformed header line"
			return m
		}
		m.Headers = append(m.Headers, event.Header{
			Name:  printable(name, maxSSDPValue),
			Value: printable(bytes.TrimSpace(value), maxSSDPValue),
		})
	}
}

// cutLine splits b at its first "\n", dropping a "\r" before it. found is
// false when b holds no "\n" (the line is all of b).
func cutLine(b []byte) (line, rest []byte, found bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil, false
	}
	line = b[:i]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, b[i+1:], true
}

// requestLine splits "METHOD URI HTTP/x.y". The method is a token of
// letters, digits and '-' (M-SEARCH); the version must start "HTTP/".
func requestLine(l []byte) (method, uri, version string, ok bool) {
	parts := strings.Split(string(l), " ")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || !strings.HasPrefix(parts[2], "HTTP/") || len(l) > 1024 {
		return "", "", "", false
	}
	for i := 0; i < len(parts[0]); i++ {
		c := parts[0][i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", "", "", false
		}
	}
	return parts[0], printable([]byte(parts[1]), maxSSDPValue), printable([]byte(parts[2]), 32), true
}

// header returns the first header named name (case-insensitive).
func (m *ssdpMsg) header(name string) (string, bool) {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// printable returns b as a string of at most max bytes, with bytes outside
// printable ASCII written \xNN (so an event never carries control bytes).
func printable(b []byte, max int) string {
	if len(b) > max {
		b = b[:max]
	}
	clean := true
	for _, c := range b {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c == '\\':
			sb.WriteString(`\\`)
		case c < 0x20 || c >= 0x7f:
			sb.WriteString(`\x`)
			sb.WriteByte("0123456789abcdef"[c>>4])
			sb.WriteByte("0123456789abcdef"[c&15])
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// searchCheck says why a device would not answer an M-SEARCH, "" if it
// would: the request line must be "M-SEARCH * HTTP/1.1", an ST given
// and, where the persona is strict (the Windows SSDP service), MAN must
// be "ssdp:discover" and MX a number.
func (m *ssdpMsg) searchCheck(strict bool) string {
	if m.URI != "*" {
		return "request URI is not *"
	}
	if m.Version != "HTTP/1.1" {
		return "version is not HTTP/1.1"
	}
	if st, ok := m.header("ST"); !ok || st == "" {
		return "no ST header"
	}
	if !strict {
		return ""
	}
	if man, _ := m.header("MAN"); strings.Trim(man, `"`) != "ssdp:discover" {
		return `MAN is not "ssdp:discover"`
	}
	mx, _ := m.header("MX")
	if n, err := strconv.Atoi(mx); err != nil || n < 0 {
		return "MX is not a number"
	}
	return ""
}

// target is one search target a device answers for: a device or service
// type with its version, and the UDN of the device that has it.
type target struct {
	Type    string // "urn:schemas-upnp-org:service:WANIPConnection" (no version)
	Version int
	UDN     string // "uuid:…"
}

// match returns the ST and USN of the one response an M-SEARCH for st
// gets, or ok false when no device here has what it asks for. A search
// for every device (ssdp:all) is answered, as the first answer of a real
// device is, for the root device.
func match(st, rootUDN string, udns []string, targets []target) (respST, usn string, ok bool) {
	switch {
	case st == "ssdp:all", st == "upnp:rootdevice":
		return "upnp:rootdevice", rootUDN + "::upnp:rootdevice", true
	case strings.HasPrefix(st, "uuid:"):
		for _, u := range udns {
			if strings.EqualFold(st, u) {
				return u, u, true
			}
		}
		return "", "", false
	}
	i := strings.LastIndexByte(st, ':')
	if i < 0 {
		return "", "", false
	}
	v, err := strconv.Atoi(st[i+1:])
	if err != nil || v < 1 || st[i+1] == '+' {
		return "", "", false
	}
	for _, t := range targets {
		// A device answers a search for its type at its version or
		// below, naming the version asked for.
		if st[:i] == t.Type && v <= t.Version {
			return st, t.UDN + "::" + st, true
		}
	}
	return "", "", false
}
