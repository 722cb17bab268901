package mssql

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
)

// This file parses what a TDS client sends: packets and their reassembly
// into messages, PRELOGIN, LOGIN7, the TDS 4.2 login record and SQL
// batches. It does no I/O of its own beyond reading from the io.Reader it
// is given, and no parser trusts a length or an offset it has not checked
// against the bytes it holds.

// TDS packet types ([MS-TDS] 2.2.3.1.1).
const (
	pktBatch     = 0x01 // SQL batch
	pktLogin42   = 0x02 // pre-TDS 7 login (TDS 4.2, DB-Library)
	pktRPC       = 0x03
	pktReply     = 0x04 // tabular result: every server message
	pktAttention = 0x06
	pktBulk      = 0x07
	pktTransMgr  = 0x0E
	pktLogin7    = 0x10
	pktSSPI      = 0x11
	pktPrelogin  = 0x12
)

// Packet status bits.
const (
	statusEOM = 0x01 // last packet of the message
)

// headerLen is the size of a TDS packet header: type, status, length
// (big-endian, header included), SPID, packet id, window.
const headerLen = 8

// typeName names a packet type for events.
func typeName(t byte) string {
	switch t {
	case pktBatch:
		return "SQLBATCH"
	case pktLogin42:
		return "LOGIN"
	case pktRPC:
		return "RPC"
	case pktReply:
		return "REPLY"
	case pktAttention:
		return "ATTENTION"
	case pktBulk:
		return "BULKLOAD"
	case pktTransMgr:
		return "TRANSMGR"
	case pktLogin7:
		return "LOGIN7"
	case pktSSPI:
		return "SSPI"
	case pktPrelogin:
		return "PRELOGIN"
	}
	return fmt.Sprintf("TYPE-0x%02X", t)
}

// knownType reports whether t is a packet type a client may send.
func knownType(t byte) bool {
	switch t {
	case pktBatch, pktLogin42, pktRPC, pktAttention, pktBulk, pktTransMgr, pktLogin7, pktSSPI, pktPrelogin:
		return true
	}
	return false
}

// Message is one client message, reassembled from its packets.
type Message struct {
	Type byte
	// Data is the message: the payloads of its packets, joined.
	Data []byte
	// Raw is every byte read for it, headers included: what a sample
	// keeps.
	Raw     []byte
	Packets int
}

// MalformedError says why bytes could not be taken as a TDS message; the
// Message returned with it holds what was read.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string { return "mssql: malformed TDS: " + e.Reason }

func malformed(format string, a ...any) error {
	return &MalformedError{Reason: fmt.Sprintf(format, a...)}
}

// ErrTooLarge is returned when a message outgrows the cap given to
// ReadMessage; the Message returned with it holds the bytes up to the cap.
var ErrTooLarge = errors.New("mssql: TDS message larger than the capture cap")

// ReadMessage reads packets from r until one carries the end-of-message
// bit, and returns them joined. max bounds the bytes read for one message,
// headers included; allow says which packet types may start a message
// (nil: any a client may send), so that a message out of place is refused
// at its first header rather than waited for. At a clean end of input before any byte it returns
// nil and io.EOF. A message cut short returns what was read with
// io.ErrUnexpectedEOF (or the read error); bytes that are not TDS return
// what was read with a *MalformedError; a message past max returns its
// first max bytes with ErrTooLarge.
func ReadMessage(r io.Reader, max int, allow func(typ byte) bool) (*Message, error) {
	if allow == nil {
		allow = knownType
	}
	if max < headerLen {
		max = headerLen
	}
	m := &Message{}
	var hdr [headerLen]byte
	for {
		n, err := io.ReadFull(r, hdr[:])
		if n == 0 && m.Packets == 0 && err == io.EOF {
			return nil, io.EOF
		}
		if len(m.Raw)+n > max {
			m.Raw = append(m.Raw, hdr[:max-len(m.Raw)]...)
			return m, ErrTooLarge
		}
		m.Raw = append(m.Raw, hdr[:n]...)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return m, err
		}
		typ, status := hdr[0], hdr[1]
		length := int(binary.BigEndian.Uint16(hdr[2:4]))
		switch {
		case m.Packets == 0 && !allow(typ):
			return m, malformed("packet type 0x%02x", typ)
		case m.Packets > 0 && typ != m.Type:
			return m, malformed("packet type 0x%02x inside a message of type 0x%02x", typ, m.Type)
		case length < headerLen:
			return m, malformed("packet length %d", length)
		}
		m.Type = typ
		m.Packets++
		body := length - headerLen
		room := max - len(m.Raw)
		take := min(body, room)
		start := len(m.Raw)
		m.Raw = append(m.Raw, make([]byte, take)...)
		got, err := io.ReadFull(r, m.Raw[start:])
		m.Raw = m.Raw[:start+got]
		m.Data = append(m.Data, m.Raw[start:start+got]...)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return m, err
		}
		if take < body {
			return m, ErrTooLarge
		}
		if status&statusEOM != 0 {
			return m, nil
		}
	}
}

// PRELOGIN option tokens ([MS-TDS] 2.2.6.5).
const (
	optVersion    = 0x00
	optEncryption = 0x01
	optInstance   = 0x02
	optThreadID   = 0x03
	optMARS       = 0x04
	optTraceID    = 0x05
	optFedAuth    = 0x06
	optNonce      = 0x07
	optTerminator = 0xFF
)

// Encryption values of PRELOGIN.
const (
	encryptOff    = 0x00
	encryptOn     = 0x01
	encryptNotSup = 0x02
	encryptReq    = 0x03
)

// maxPreloginOptions bounds the option table a client may send.
const maxPreloginOptions = 32

// PreloginOption is one entry of a PRELOGIN option table.
type PreloginOption struct {
	Token byte
	Data  []byte
}

// Prelogin is a client's PRELOGIN message.
type Prelogin struct {
	Options []PreloginOption
	// Version is the client's library version, "8.0.341.0"; "" when the
	// option is absent.
	Version string
	// Encryption is the client's encryption option, or -1 when absent.
	Encryption int
	// Instance is the instance the client asks for, as sent.
	Instance    string
	HasInstance bool
	ThreadID    uint32
	HasThreadID bool
	// MARS is the client's MARS option, or -1 when absent.
	MARS int
}

// ParsePrelogin reads a PRELOGIN message's option table. Every option's
// offset and length are checked against the message.
func ParsePrelogin(b []byte) (*Prelogin, error) {
	p := &Prelogin{Encryption: -1, MARS: -1}
	if len(b) > 0 && b[0] == 0x16 {
		return p, malformed("TLS record in PRELOGIN (encryption was not negotiated)")
	}
	for i := 0; ; i += 5 {
		if i >= len(b) {
			return p, malformed("option table not terminated")
		}
		tok := b[i]
		if tok == optTerminator {
			break
		}
		if len(p.Options) == maxPreloginOptions {
			return p, malformed("more than %d options", maxPreloginOptions)
		}
		if i+5 > len(b) {
			return p, malformed("option 0x%02x cut short", tok)
		}
		off := int(binary.BigEndian.Uint16(b[i+1:]))
		n := int(binary.BigEndian.Uint16(b[i+3:]))
		if off+n > len(b) {
			return p, malformed("option 0x%02x: %d bytes at offset %d past the message's %d", tok, n, off, len(b))
		}
		p.Options = append(p.Options, PreloginOption{Token: tok, Data: b[off : off+n]})
	}
	for _, o := range p.Options {
		switch o.Token {
		case optVersion:
			if len(o.Data) >= 4 {
				p.Version = fmt.Sprintf("%d.%d.%d", o.Data[0], o.Data[1], binary.BigEndian.Uint16(o.Data[2:4]))
				if len(o.Data) >= 6 {
					p.Version += "." + strconv.Itoa(int(binary.LittleEndian.Uint16(o.Data[4:6])))
				}
			}
		case optEncryption:
			if len(o.Data) >= 1 {
				p.Encryption = int(o.Data[0])
			}
		case optInstance:
			p.HasInstance = true
			name := o.Data
			if j := indexByte(name, 0); j >= 0 {
				name = name[:j]
			}
			p.Instance = latin1(name)
		case optThreadID:
			if len(o.Data) >= 4 {
				p.ThreadID, p.HasThreadID = binary.LittleEndian.Uint32(o.Data), true
			}
		case optMARS:
			if len(o.Data) >= 1 {
				p.MARS = int(o.Data[0])
			}
		}
	}
	return p, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// encryptionName names a PRELOGIN encryption value.
func encryptionName(v int) string {
	switch v {
	case encryptOff:
		return "off"
	case encryptOn:
		return "on"
	case encryptNotSup:
		return "not_supported"
	case encryptReq:
		return "required"
	case -1:
		return ""
	}
	return fmt.Sprintf("0x%02x", v)
}

// Login is a client's login: a LOGIN7 message or a TDS 4.2 login record.
type Login struct {
	// Legacy marks a TDS 4.2 login record (packet type 0x02).
	Legacy bool
	// TDSVersion is the protocol version the client asks for, as a
	// number: 0x71000001 for TDS 7.1, 0x04020000 for 4.2.
	TDSVersion uint32
	PacketSize int
	ClientPID  uint32
	// Host is the client's workstation name; App the application; Library
	// the client library (LOGIN7 CltIntName, TDS 4.2 program name);
	// Server the server name the client addressed.
	Host, User, Password, App, Server, Library, Language, Database string
	// ClientID is the client's MAC address (LOGIN7), as hex.
	ClientID string
	// Integrated marks a Windows (SSPI) login; SSPI is its first token.
	Integrated bool
	SSPI       []byte
	// Problems lists fields whose offsets or lengths did not fit the
	// message: those fields are left empty.
	Problems []string
}

// login7Fixed is the fixed part of LOGIN7 up to cbSSPI's neighbours as
// TDS 7.0 and 7.1 send it; TDS 7.2 adds 8 bytes.
const (
	login7Fixed70 = 86
	login7Fixed72 = 94
)

// LOGIN7 OptionFlags2 bit for integrated security.
const fIntSecurity = 0x80

// ParseLogin7 reads a LOGIN7 message. Every field's offset and length is
// checked against the message; a field that does not fit is left empty
// and named in Problems. Only a message too short for the fixed part is an
// error.
func ParseLogin7(b []byte) (*Login, error) {
	l := &Login{}
	if len(b) < login7Fixed70 {
		return l, malformed("LOGIN7 of %d bytes, shorter than its fixed part", len(b))
	}
	le16 := func(i int) int { return int(binary.LittleEndian.Uint16(b[i:])) }
	// LOGIN7 writes its version little-endian (0x71000001 is sent as
	// 01 00 00 71); LOGINACK writes the same number big-endian.
	l.TDSVersion = binary.LittleEndian.Uint32(b[4:])
	l.PacketSize = int(binary.LittleEndian.Uint32(b[8:]))
	l.ClientPID = binary.LittleEndian.Uint32(b[16:])
	if total := int(binary.LittleEndian.Uint32(b[0:])); total != len(b) {
		l.Problems = append(l.Problems, fmt.Sprintf("length field %d for %d bytes", total, len(b)))
	}
	l.Integrated = b[25]&fIntSecurity != 0
	str := func(name string, at int) string {
		off, n := le16(at), le16(at+2)
		if n == 0 {
			return ""
		}
		if off < login7Fixed70 || off+2*n > len(b) {
			l.Problems = append(l.Problems, fmt.Sprintf("%s: %d characters at offset %d outside the message", name, n, off))
			return ""
		}
		return ucs2(b[off : off+2*n])
	}
	l.Host = str("hostname", 36)
	l.User = str("username", 40)
	if off, n := le16(44), le16(46); n > 0 {
		if off < login7Fixed70 || off+2*n > len(b) {
			l.Problems = append(l.Problems, fmt.Sprintf("password: %d characters at offset %d outside the message", n, off))
		} else {
			l.Password = ucs2(decodePassword(b[off : off+2*n]))
		}
	}
	l.App = str("appname", 48)
	l.Server = str("servername", 52)
	l.Library = str("library", 60)
	l.Language = str("language", 64)
	l.Database = str("database", 68)
	l.ClientID = fmt.Sprintf("%x", b[72:78])
	if off, n := le16(78), le16(80); n > 0 {
		if n == 0xFFFF && len(b) >= login7Fixed72 {
			n = int(binary.LittleEndian.Uint32(b[90:]))
		}
		switch {
		case off < login7Fixed70 || off+n > len(b) || off+n < off:
			l.Problems = append(l.Problems, fmt.Sprintf("sspi: %d bytes at offset %d outside the message", n, off))
		default:
			l.SSPI = b[off : off+n]
		}
	}
	return l, nil
}

// decodePassword undoes LOGIN7's password obfuscation: each byte had its
// nibbles swapped and was then XORed with 0xA5.
func decodePassword(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		c ^= 0xA5
		out[i] = c<<4 | c>>4
	}
	return out
}

// encodePassword is decodePassword's inverse, for tests and fuzzing.
func encodePassword(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = (c<<4 | c>>4) ^ 0xA5
	}
	return out
}

// ucs2 decodes little-endian UTF-16 (a trailing odd byte is dropped;
// unpaired surrogates become U+FFFD).
func ucs2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// latin1 decodes single-byte text as ISO 8859-1.
func latin1(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// The TDS 4.2 login record: fixed-size fields, each followed by the
// length actually used (Sybase LOGINREC, as DB-Library sent it).
const (
	l42Host      = 0   // host name [30] + length
	l42User      = 31  // user name [30] + length
	l42Password  = 62  // password [30] + length
	l42HostProc  = 93  // host process id [30] + length
	l42App       = 140 // application name [30] + length
	l42Server    = 171 // server name [30] + length
	l42Version   = 458 // TDS version, 4 bytes
	l42Library   = 462 // program name [10] + length
	l42Language  = 480 // language [30] + length
	l42PktSize   = 557 // packet size as decimal text [6] + length
	l42MinLength = l42Password + 31
)

// ParseLogin42 reads a TDS 4.2 login record. The record must hold at
// least the user name and password; later fields are read when present.
func ParseLogin42(b []byte) (*Login, error) {
	l := &Login{Legacy: true, TDSVersion: 0x04020000}
	if len(b) < l42MinLength {
		return l, malformed("TDS 4.2 login of %d bytes, too short for its credentials", len(b))
	}
	field := func(name string, at, size int) string {
		if at+size+1 > len(b) {
			return ""
		}
		n := int(b[at+size])
		if n > size {
			l.Problems = append(l.Problems, fmt.Sprintf("%s: length %d in a %d-byte field", name, n, size))
			n = size
		}
		return latin1(b[at : at+n])
	}
	l.Host = field("hostname", l42Host, 30)
	l.User = field("username", l42User, 30)
	l.Password = field("password", l42Password, 30)
	if pid, err := strconv.ParseUint(field("hostproc", l42HostProc, 30), 10, 32); err == nil {
		l.ClientPID = uint32(pid)
	}
	l.App = field("appname", l42App, 30)
	l.Server = field("servername", l42Server, 30)
	if len(b) >= l42Version+4 {
		l.TDSVersion = binary.BigEndian.Uint32(b[l42Version:])
	}
	l.Library = field("library", l42Library, 10)
	l.Language = field("language", l42Language, 30)
	if n, err := strconv.Atoi(strings.TrimSpace(field("packetsize", l42PktSize, 6))); err == nil {
		l.PacketSize = n
	}
	return l, nil
}

// versionName names a TDS version number as LOGIN7, LOGINACK or the TDS
// 4.2 login record carry it.
func versionName(v uint32) string {
	switch v {
	case 0x04020000:
		return "4.2"
	case 0x05000000:
		return "5.0"
	case 0x70000000, 0x07000000:
		return "7.0"
	case 0x71000000, 0x71000001, 0x07010000:
		return "7.1"
	case 0x72090002:
		return "7.2"
	case 0x730A0003, 0x730B0003:
		return "7.3"
	case 0x74000004:
		return "7.4"
	case 0x08000000:
		return "8.0"
	}
	return fmt.Sprintf("0x%08x", v)
}

// allHeaders bounds: a batch from a TDS 7.2+ client starts with
// ALL_HEADERS, a total length then headers of (length, type, data).
const (
	maxAllHeaders = 1 << 10
)

// SplitBatch returns the text of a SQL batch: for TDS 7 clients UCS-2,
// after an ALL_HEADERS block if the client sent one (TDS 7.2+ clients do
// even when the server answered 7.1); for TDS 4.2 clients single-byte
// text. headers reports whether an ALL_HEADERS block was found.
func SplitBatch(b []byte, unicode bool) (text string, headers bool) {
	if !unicode {
		return latin1(b), false
	}
	if n := allHeadersLen(b); n > 0 {
		return ucs2(b[n:]), true
	}
	return ucs2(b), false
}

// allHeadersLen returns the length of a well-formed ALL_HEADERS block at
// the start of b, or 0. Every header must have a known type (1 query
// notification, 2 transaction descriptor, 3 trace activity) and the
// headers must fill the block exactly: UCS-2 text such as "se" read as a
// length is far larger than any real block.
func allHeadersLen(b []byte) int {
	if len(b) < 4 {
		return 0
	}
	total := int(binary.LittleEndian.Uint32(b))
	if total < 4+6 || total > len(b) || total > maxAllHeaders {
		return 0
	}
	for i := 4; i < total; {
		if i+6 > total {
			return 0
		}
		n := int(binary.LittleEndian.Uint32(b[i:]))
		typ := binary.LittleEndian.Uint16(b[i+4:])
		if n < 6 || i+n > total || typ < 1 || typ > 3 {
			return 0
		}
		i += n
	}
	return total
}
