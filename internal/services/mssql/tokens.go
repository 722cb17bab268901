package mssql

import (
	"encoding/binary"
	"unicode/utf16"
)

// This file writes what the server sends: the PRELOGIN answer and token
// streams in the dialect negotiated with the client, TDS 7.1, 7.0 or 4.2.

// Token types ([MS-TDS] 2.2.7).
const (
	tokReturnStatus = 0x79
	tokColMetadata  = 0x81
	tokColName      = 0xA0 // TDS 4.2
	tokColFormat    = 0xA1 // TDS 4.2
	tokError        = 0xAA
	tokInfo         = 0xAB
	tokLoginAck     = 0xAD
	tokRow          = 0xD1
	tokEnvChange    = 0xE3
	tokDone         = 0xFD
	tokDoneProc     = 0xFE
	tokDoneInProc   = 0xFF
)

// ENVCHANGE types.
const (
	envDatabase   = 1
	envLanguage   = 2
	envCharset    = 3
	envPacketSize = 4
	envCollation  = 7
)

// DONE status bits.
const (
	doneFinal = 0x0000
	doneMore  = 0x0001
	doneError = 0x0002
	doneCount = 0x0010
	doneAttn  = 0x0020
)

// Column types.
const (
	typeNVarChar = 0xE7 // TDS 7: UCS-2, USHORT length
	typeVarChar  = 0x27 // TDS 4.2: single-byte, BYTE length
)

// collation is SQL_Latin1_General_CP1_CI_AS, SQL Server 2000's default
// US-English collation, as TDS 7.1 writes it (LCID 0x0409 with its flags,
// sort id 52).
var collation = []byte{0x09, 0x04, 0xD0, 0x00, 0x34}

// dialect is the protocol flavour of one session's tokens.
type dialect int

const (
	tds71 dialect = iota
	tds70
	tds42
)

// loginAckVersion is the TDS version a LOGINACK announces in d, as SQL
// Server 2000 SP1 and later wrote it.
func (d dialect) loginAckVersion() uint32 {
	switch d {
	case tds70:
		return 0x07000000
	case tds42:
		return 0x04020000
	}
	return 0x71000001
}

// negotiate picks the dialect SQL Server 2000 answers a login in: TDS 4.2
// for a DB-Library login record, 7.0 for a 7.0 client and 7.1, its newest,
// for anything later.
func negotiate(l *Login) dialect {
	switch {
	case l.Legacy:
		return tds42
	case l.TDSVersion == 0x70000000 || l.TDSVersion == 0x07000000:
		return tds70
	}
	return tds71
}

// tokens accumulates a token stream.
type tokens struct {
	d   dialect
	buf []byte
}

func (t *tokens) byte(b byte)    { t.buf = append(t.buf, b) }
func (t *tokens) u16(v uint16)   { t.buf = binary.LittleEndian.AppendUint16(t.buf, v) }
func (t *tokens) u32(v uint32)   { t.buf = binary.LittleEndian.AppendUint32(t.buf, v) }
func (t *tokens) bytes(b []byte) { t.buf = append(t.buf, b...) }

// text appends s in the session's character set: UCS-2 for TDS 7,
// single-byte for TDS 4.2 (characters past U+00FF become '?').
func (t *tokens) text(s string) {
	if t.d == tds42 {
		for _, r := range s {
			if r > 0xFF {
				r = '?'
			}
			t.buf = append(t.buf, byte(r))
		}
		return
	}
	for _, u := range utf16.Encode([]rune(s)) {
		t.u16(u)
	}
}

// textLen is the length prefix of s: characters for TDS 7, bytes for 4.2
// (the same number once runes past U+FFFF are counted as two).
func (t *tokens) textLen(s string) int {
	if t.d == tds42 {
		return len([]rune(s))
	}
	return len(utf16.Encode([]rune(s)))
}

// bvarchar appends a B_VARCHAR: a one-byte length, then the text. Callers
// keep s under 256 characters.
func (t *tokens) bvarchar(s string) {
	t.byte(byte(t.textLen(s)))
	t.text(s)
}

// usvarchar appends a US_VARCHAR: a two-byte length, then the text.
func (t *tokens) usvarchar(s string) {
	t.u16(uint16(t.textLen(s)))
	t.text(s)
}

// lengthed appends tok, a two-byte length, and what body writes.
func (t *tokens) lengthed(tok byte, body func()) {
	t.byte(tok)
	at := len(t.buf)
	t.u16(0)
	body()
	binary.LittleEndian.PutUint16(t.buf[at:], uint16(len(t.buf)-at-2))
}

// envChange appends an ENVCHANGE of a string value.
func (t *tokens) envChange(typ byte, newValue, oldValue string) {
	t.lengthed(tokEnvChange, func() {
		t.byte(typ)
		t.bvarchar(newValue)
		t.bvarchar(oldValue)
	})
}

// envCollation appends the ENVCHANGE of the session's collation (TDS 7.1).
func (t *tokens) envCollation() {
	t.lengthed(tokEnvChange, func() {
		t.byte(envCollation)
		t.byte(byte(len(collation)))
		t.bytes(collation)
		t.byte(0)
	})
}

// message appends an ERROR or INFO token, from line 1 of the batch (or
// login) as SQL Server reports them. SQL Server 2000 wrote line numbers on
// two bytes (TDS 7.2 widened them).
func (t *tokens) message(tok byte, number uint32, state, class byte, msg, server string) {
	t.lengthed(tok, func() {
		t.u32(number)
		t.byte(state)
		t.byte(class)
		t.usvarchar(msg)
		t.bvarchar(server)
		t.bvarchar("") // procedure
		t.u16(1)       // line
	})
}

// loginAck appends a LOGINACK naming the product and its version.
func (t *tokens) loginAck(product string, version [4]byte) {
	t.lengthed(tokLoginAck, func() {
		t.byte(1) // interface: SQL_TSQL (TDS 4.2: login accepted)
		t.buf = binary.BigEndian.AppendUint32(t.buf, t.d.loginAckVersion())
		t.bvarchar(product)
		t.bytes(version[:])
	})
}

// done appends a DONE, DONEPROC or DONEINPROC. SQL Server 2000 wrote row
// counts on four bytes (TDS 7.2 widened them).
func (t *tokens) done(tok byte, status, curcmd uint16, rows uint32) {
	t.byte(tok)
	t.u16(status)
	t.u16(curcmd)
	t.u32(rows)
}

// returnStatus appends a stored procedure's return value.
func (t *tokens) returnStatus(v int32) {
	t.byte(tokReturnStatus)
	t.u32(uint32(v))
}

// Column widths of the result sets the fake returns.
const (
	maxColumnChars = 4000 // nvarchar(4000), the widest SQL Server 2000 had
	maxColumn42    = 255  // varchar(255), the widest TDS 4.2 knew
)

// columns appends the metadata of a result set of nullable character
// columns of width chars (TDS 7: nvarchar; TDS 4.2: varchar).
func (t *tokens) columns(names []string, chars int) {
	if t.d == tds42 {
		t.lengthed(tokColName, func() {
			for _, n := range names {
				t.bvarchar(n)
			}
		})
		t.lengthed(tokColFormat, func() {
			for range names {
				t.u16(0)    // user type
				t.u16(0x01) // flags: nullable
				t.byte(typeVarChar)
				t.byte(byte(min(chars, maxColumn42)))
			}
		})
		return
	}
	t.byte(tokColMetadata)
	t.u16(uint16(len(names)))
	for _, n := range names {
		t.u16(0)    // user type (two bytes before TDS 7.2)
		t.u16(0x09) // flags: nullable, updateable unknown
		t.byte(typeNVarChar)
		t.u16(uint16(2 * chars))
		if t.d == tds71 {
			t.bytes(collation)
		}
		t.bvarchar(n)
	}
}

// row appends one row of the character columns written by columns; a nil
// value is NULL. Values are cut to the column's width.
func (t *tokens) row(values []*string, chars int) {
	t.byte(tokRow)
	for _, v := range values {
		if t.d == tds42 {
			if v == nil {
				t.byte(0)
				continue
			}
			s := cutRunes(*v, min(chars, maxColumn42))
			t.bvarchar(s)
			continue
		}
		if v == nil {
			t.u16(0xFFFF)
			continue
		}
		s := cutRunes(*v, chars)
		t.u16(uint16(2 * t.textLen(s)))
		t.text(s)
	}
}

// cutRunes keeps the first n characters of s (UTF-16 units for TDS 7).
func cutRunes(s string, n int) string {
	u := utf16.Encode([]rune(s))
	if len(u) <= n {
		return s
	}
	return string(utf16.Decode(u[:n]))
}

// packetize splits a message into TDS packets of at most size bytes,
// headers included, numbered from 1, the last marked end-of-message.
func packetize(typ byte, msg []byte, size int, spid uint16) []byte {
	if size < 512 {
		size = 512
	}
	room := size - headerLen
	out := make([]byte, 0, len(msg)+headerLen*(len(msg)/room+1))
	id := byte(1)
	for {
		n := min(len(msg), room)
		status := byte(0)
		if n == len(msg) {
			status = statusEOM
		}
		out = append(out, typ, status)
		out = binary.BigEndian.AppendUint16(out, uint16(n+headerLen))
		out = binary.BigEndian.AppendUint16(out, spid)
		out = append(out, id, 0)
		out = append(out, msg[:n]...)
		msg = msg[n:]
		id++
		if status == statusEOM {
			return out
		}
	}
}

// preloginReply is SQL Server 2000's PRELOGIN answer: its version, the
// encryption it offers, whether the instance the client named is this one
// (0) or not (1), and an empty thread id, in that order.
func preloginReply(version [4]byte, encryption, instanceMismatch byte) []byte {
	const table = 4*5 + 1
	b := make([]byte, 0, table+8)
	opt := func(tok byte, off, n int) {
		b = append(b, tok)
		b = binary.BigEndian.AppendUint16(b, uint16(off))
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	}
	opt(optVersion, table, 6)
	opt(optEncryption, table+6, 1)
	opt(optInstance, table+7, 1)
	opt(optThreadID, table+8, 0)
	b = append(b, optTerminator)
	b = append(b, version[:]...)
	b = append(b, 0, 0) // sub-build
	b = append(b, encryption, instanceMismatch)
	return b
}
