package mssql

import (
	"encoding/binary"
	"unicode/utf16"
)

// Builders of client messages, written from [MS-TDS] independently of
// the parsers they test.

func ucs2Bytes(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// clientPackets frames a client message as packets of at most size bytes.
func clientPackets(typ byte, msg []byte, size int) []byte {
	room := size - headerLen
	var out []byte
	id := byte(1)
	for {
		n := min(len(msg), room)
		status := byte(0)
		if n == len(msg) {
			status = statusEOM
		}
		out = append(out, typ, status, byte((n+headerLen)>>8), byte(n+headerLen), 0, 0, id, 0)
		out = append(out, msg[:n]...)
		msg = msg[n:]
		id++
		if status == statusEOM {
			return out
		}
	}
}

// packet frames data as one packet with the given status.
func packet(typ, status byte, data []byte) []byte {
	n := len(data) + headerLen
	return append([]byte{typ, status, byte(n >> 8), byte(n), 0, 0, 1, 0}, data...)
}

// hydraLogin is a TDS 4.2 login record sent as hydra's mssql module
// sends it: 504 bytes in a first packet without end-of-message, the rest
// in a second.
func hydraLogin(user, password string) []byte {
	rec := buildLogin42("", user, password, "squelda 1.0")
	return append(packet(pktLogin42, 0, rec[:504]), packet(pktLogin42, statusEOM, rec[504:])...)
}

type preloginOpt struct {
	tok  byte
	data []byte
}

// buildPrelogin writes an option table and its data.
func buildPrelogin(opts ...preloginOpt) []byte {
	table := 5*len(opts) + 1
	var head, data []byte
	for _, o := range opts {
		head = append(head, o.tok, byte((table+len(data))>>8), byte(table+len(data)), byte(len(o.data)>>8), byte(len(o.data)))
		data = append(data, o.data...)
	}
	return append(append(head, optTerminator), data...)
}

// nmapPrelogin is the payload of nmap's ms-sql-s probe
// (nmap-service-probes, "Probe TCP ms-sql-s").
var nmapPrelogin = []byte("\x00\x00\x15\x00\x06\x01\x00\x1b\x00\x01\x02\x00\x1c\x00\x0c\x03\x00\x28\x00\x04\xff" +
	"\x08\x00\x01\x55\x00\x00\x00MSSQLServer\x00\x48\x0f\x00\x00")

// login7 is what buildLogin7 writes.
type login7 struct {
	version                                                 uint32
	packetSize                                              uint32
	pid                                                     uint32
	flags2                                                  byte
	host, user, password, app, server, library, lang, dbase string
	sspi                                                    []byte
	fixed                                                   int // 86 or 94
}

func buildLogin7(l login7) []byte {
	fixed := l.fixed
	if fixed == 0 {
		fixed = login7Fixed72
	}
	b := make([]byte, fixed)
	binary.LittleEndian.PutUint32(b[4:], l.version)
	binary.LittleEndian.PutUint32(b[8:], l.packetSize)
	binary.LittleEndian.PutUint32(b[16:], l.pid)
	b[24] = 0xE0
	b[25] = l.flags2
	put := func(at int, data []byte, chars bool) {
		binary.LittleEndian.PutUint16(b[at:], uint16(len(b)))
		n := len(data)
		if chars {
			n /= 2
		}
		binary.LittleEndian.PutUint16(b[at+2:], uint16(n))
		b = append(b, data...)
	}
	put(36, ucs2Bytes(l.host), true)
	put(40, ucs2Bytes(l.user), true)
	put(44, encodePassword(ucs2Bytes(l.password)), true)
	put(48, ucs2Bytes(l.app), true)
	put(52, ucs2Bytes(l.server), true)
	put(60, ucs2Bytes(l.library), true)
	put(64, ucs2Bytes(l.lang), true)
	put(68, ucs2Bytes(l.dbase), true)
	copy(b[72:], []byte{0x00, 0x0c, 0x29, 0x12, 0x34, 0x56})
	put(78, l.sspi, false)
	binary.LittleEndian.PutUint32(b[0:], uint32(len(b)))
	return b
}

// buildLogin42 writes a TDS 4.2 login record as DB-Library (and hydra's
// mssql module) sends it: fixed fields, each followed by its length.
func buildLogin42(host, user, password, app string) []byte {
	b := make([]byte, 567)
	field := func(at, size int, s string) {
		n := copy(b[at:at+size], s)
		b[at+size] = byte(n)
	}
	field(l42Host, 30, host)
	field(l42User, 30, user)
	field(l42Password, 30, password)
	field(l42HostProc, 30, "1234")
	field(l42App, 30, app)
	copy(b[l42Version:], []byte{4, 2, 0, 0})
	field(l42Library, 10, "MSDBLIB")
	field(l42PktSize, 6, "512")
	return b
}

// buildBatch writes a TDS 7 SQL batch, with the ALL_HEADERS block a TDS
// 7.2+ client sends when headers is set.
func buildBatch(text string, headers bool) []byte {
	var b []byte
	if headers {
		b = binary.LittleEndian.AppendUint32(b, 22)
		b = binary.LittleEndian.AppendUint32(b, 18)
		b = binary.LittleEndian.AppendUint16(b, 2)
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 0) // transaction descriptor
		b = binary.LittleEndian.AppendUint32(b, 1)
	}
	return append(b, ucs2Bytes(text)...)
}
