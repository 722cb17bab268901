package mssql

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

var messageCases = []struct {
	name    string
	in      []byte
	allow   func(byte) bool
	max     int
	typ     byte
	data    []byte
	packets int
	err     string // "" none; "malformed", "toolarge", "eof", "unexpected"
}{
	{name: "one packet", in: clientPackets(pktPrelogin, nmapPrelogin, 4096), typ: pktPrelogin, data: nmapPrelogin, packets: 1},
	{name: "three packets", in: clientPackets(pktBatch, bytes.Repeat([]byte("ab"), 600), 512), typ: pktBatch,
		data: bytes.Repeat([]byte("ab"), 600), packets: 3},
	{name: "empty input", in: nil, err: "eof"},
	{name: "http", in: []byte("GET / HTTP/1.0\r\n\r\n"), err: "malformed"},
	{name: "short header", in: []byte{0x12, 0x01, 0x00}, err: "unexpected"},
	{name: "length below header", in: []byte{0x12, 0x01, 0x00, 0x04, 0, 0, 0, 0}, err: "malformed"},
	{name: "cut body", in: []byte{0x12, 0x01, 0x00, 0x20, 0, 0, 0, 0, 1, 2, 3}, err: "unexpected"},
	{name: "type change", in: append([]byte{0x01, 0x00, 0x00, 0x0a, 0, 0, 1, 0, 'a', 0}, clientPackets(pktRPC, []byte("xy"), 512)...), err: "malformed"},
	{name: "not allowed", in: clientPackets(pktBatch, []byte("s\x00"), 512), allow: loginTypes, err: "malformed"},
	{name: "too large", in: clientPackets(pktBatch, bytes.Repeat([]byte("x"), 9000), 4096), max: 5000, err: "toolarge"},
	{name: "hydra's two packets", in: hydraLogin("sa", "pw"), typ: pktLogin42,
		data: buildLogin42("", "sa", "pw", "squelda 1.0"), packets: 2},
}

func TestReadMessage(t *testing.T) {
	for _, tc := range messageCases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			max := tc.max
			if max == 0 {
				max = 1 << 20
			}
			m, err := ReadMessage(bytes.NewReader(in), max, tc.allow)
			var me *MalformedError
			switch tc.err {
			case "":
				if err != nil {
					t.Fatalf("err %v", err)
				}
				if m.Type != tc.typ || !bytes.Equal(m.Data, tc.data) || m.Packets != tc.packets {
					t.Errorf("got type %#x, %d bytes in %d packets; want %#x, %d bytes in %d", m.Type, len(m.Data), m.Packets, tc.typ, len(tc.data), tc.packets)
				}
				if !bytes.Equal(m.Raw, in) {
					t.Errorf("raw is not the bytes read")
				}
			case "eof":
				if m != nil || err != io.EOF {
					t.Errorf("got %v, %v; want nil, EOF", m, err)
				}
			case "malformed":
				if !errors.As(err, &me) {
					t.Errorf("err %v, want a MalformedError", err)
				}
			case "unexpected":
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("err %v, want ErrUnexpectedEOF", err)
				}
			case "toolarge":
				if !errors.Is(err, ErrTooLarge) || len(m.Raw) != max {
					t.Errorf("err %v with %d raw bytes, want ErrTooLarge with %d", err, len(m.Raw), max)
				}
			}
			if m != nil && !bytes.HasPrefix(in, m.Raw) {
				t.Errorf("raw %x is not a prefix of the input", m.Raw)
			}
		})
	}
}

var preloginCases = []struct {
	name       string
	in         []byte
	ok         bool
	version    string
	encryption int
	instance   string
	threadID   uint32
}{
	{name: "nmap", in: nmapPrelogin, ok: true, version: "8.0.341.0", encryption: encryptOff, instance: "MSSQLServer", threadID: 0xf48},
	{name: "freetds style", in: buildPrelogin(
		preloginOpt{optVersion, []byte{1, 3, 0, 17, 0, 0}}, preloginOpt{optEncryption, []byte{encryptOn}},
		preloginOpt{optInstance, []byte("MSSQLServer\x00")}, preloginOpt{optThreadID, []byte{1, 0, 0, 0}},
		preloginOpt{optMARS, []byte{0}}), ok: true, version: "1.3.17.0", encryption: encryptOn, instance: "MSSQLServer", threadID: 1},
	{name: "no options", in: []byte{0xff}, ok: true, encryption: -1},
	{name: "unterminated", in: []byte{0x00, 0x00, 0x06, 0x00, 0x00}, encryption: -1},
	{name: "option past end", in: []byte{0x00, 0x00, 0x06, 0x00, 0x10, 0xff}, encryption: -1},
	{name: "tls", in: []byte{0x16, 0x03, 0x01, 0x00, 0x50}, encryption: -1},
	{name: "empty", in: nil, encryption: -1},
}

func TestParsePrelogin(t *testing.T) {
	for _, tc := range preloginCases {
		p, err := ParsePrelogin(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		if p.Version != tc.version || p.Encryption != tc.encryption || p.Instance != tc.instance || p.ThreadID != tc.threadID {
			t.Errorf("%s: got %q enc %d inst %q thread %d; want %q %d %q %d", tc.name, p.Version, p.Encryption, p.Instance, p.ThreadID,
				tc.version, tc.encryption, tc.instance, tc.threadID)
		}
	}
}

func TestPasswordObfuscation(t *testing.T) {
	// [MS-TDS] 2.2.6.4: "swap the four high bits with the four low bits
	// and then do a bit-XOR with 0xA5". 'a' (0x61) becomes 0x16^0xA5=0xB3.
	if got := encodePassword([]byte{0x61, 0x00}); !bytes.Equal(got, []byte{0xB3, 0xA5}) {
		t.Errorf("encode(a) = %x, want b3a5", got)
	}
	for _, pw := range []string{"", "sa", "Secr3t!", "pässwörd", strings.Repeat("x", 128)} {
		if got := ucs2(decodePassword(encodePassword(ucs2Bytes(pw)))); got != pw {
			t.Errorf("round trip of %q gave %q", pw, got)
		}
	}
}

var login7Cases = []struct {
	name     string
	in       []byte
	ok       bool
	want     Login
	problems int
}{
	{name: "tsql 7.4", ok: true, in: buildLogin7(login7{version: 0x74000004, packetSize: 4096, pid: 4242,
		host: "kali", user: "sa", password: "Secr3t!", app: "TSQL", server: "127.0.0.1", library: "DB-Library", lang: "us_english"}),
		want: Login{TDSVersion: 0x74000004, PacketSize: 4096, ClientPID: 4242, Host: "kali", User: "sa", Password: "Secr3t!",
			App: "TSQL", Server: "127.0.0.1", Library: "DB-Library", Language: "us_english", ClientID: "000c29123456"}},
	{name: "7.0 fixed part", ok: true, in: buildLogin7(login7{version: 0x70000000, user: "admin", password: "", fixed: login7Fixed70}),
		want: Login{TDSVersion: 0x70000000, User: "admin", ClientID: "000c29123456"}},
	{name: "sspi", ok: true, in: buildLogin7(login7{version: 0x71000001, flags2: fIntSecurity, sspi: []byte("NTLMSSP\x00\x01\x00\x00\x00")}),
		want: Login{TDSVersion: 0x71000001, Integrated: true, SSPI: []byte("NTLMSSP\x00\x01\x00\x00\x00"), ClientID: "000c29123456"}},
	{name: "short", in: make([]byte, 40)},
}

func TestParseLogin7(t *testing.T) {
	for _, tc := range login7Cases {
		l, err := ParseLogin7(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		w := tc.want
		if l.TDSVersion != w.TDSVersion || l.PacketSize != w.PacketSize || l.ClientPID != w.ClientPID || l.Host != w.Host ||
			l.User != w.User || l.Password != w.Password || l.App != w.App || l.Server != w.Server || l.Library != w.Library ||
			l.Language != w.Language || l.Database != w.Database || l.ClientID != w.ClientID || l.Integrated != w.Integrated ||
			!bytes.Equal(l.SSPI, w.SSPI) || len(l.Problems) != tc.problems {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, *l, w)
		}
	}
}

// A field pointing outside the message is left empty and named; the
// others still parse.
func TestParseLogin7BadOffsets(t *testing.T) {
	b := buildLogin7(login7{version: 0x71000001, user: "sa", password: "pw", host: "h"})
	b[40], b[41] = 0xF0, 0xFF // username offset past the end
	b[46] = 0xFF              // password length past the end
	l, err := ParseLogin7(b)
	if err != nil {
		t.Fatal(err)
	}
	if l.User != "" || l.Password != "" || l.Host != "h" || len(l.Problems) != 2 {
		t.Errorf("got user %q password %q host %q problems %q", l.User, l.Password, l.Host, l.Problems)
	}
	b = buildLogin7(login7{version: 0x71000001, user: "sa"})
	b[0] = 0x01 // length field
	if l, _ := ParseLogin7(b); len(l.Problems) != 1 || l.User != "sa" {
		t.Errorf("length mismatch: problems %q user %q", l.Problems, l.User)
	}
}

func TestParseLogin42(t *testing.T) {
	l, err := ParseLogin42(buildLogin42("WS01", "sa", "letmein", "squelda 1.0"))
	if err != nil {
		t.Fatal(err)
	}
	if !l.Legacy || l.User != "sa" || l.Password != "letmein" || l.Host != "WS01" || l.App != "squelda 1.0" ||
		l.Library != "MSDBLIB" || l.TDSVersion != 0x04020000 || l.PacketSize != 512 || l.ClientPID != 1234 {
		t.Errorf("got %+v", *l)
	}
	// Only the credentials present: still a login.
	b := buildLogin42("", "admin", "x", "")[:l42MinLength]
	if l, err := ParseLogin42(b); err != nil || l.User != "admin" || l.Password != "x" {
		t.Errorf("short record: %+v, %v", l, err)
	}
	if _, err := ParseLogin42(b[:l42MinLength-1]); err == nil {
		t.Error("a record without the password length was accepted")
	}
	// A length byte larger than its field is cut to the field.
	b = buildLogin42("", "admin", "x", "")
	b[l42User+30] = 200
	if l, _ := ParseLogin42(b); len(l.User) != 30 || len(l.Problems) != 1 {
		t.Errorf("over-long length: user %q problems %q", l.User, l.Problems)
	}
}

var batchCases = []struct {
	name    string
	in      []byte
	unicode bool
	text    string
	headers bool
}{
	{name: "7.1", in: buildBatch("select @@version", false), unicode: true, text: "select @@version"},
	{name: "7.2 headers", in: buildBatch("select 1", true), unicode: true, text: "select 1", headers: true},
	{name: "4.2", in: []byte("select @@version"), text: "select @@version"},
	{name: "odd byte", in: append(buildBatch("go", false), 'x'), unicode: true, text: "go"},
	{name: "header-like text", in: []byte{0x16, 0, 0, 0, 0x12, 0, 0, 0, 9, 0, 0, 0}, unicode: true,
		text: ucs2([]byte{0x16, 0, 0, 0, 0x12, 0, 0, 0, 9, 0, 0, 0})},
	{name: "empty", in: nil, unicode: true, text: ""},
}

func TestSplitBatch(t *testing.T) {
	for _, tc := range batchCases {
		text, headers := SplitBatch(tc.in, tc.unicode)
		if text != tc.text || headers != tc.headers {
			t.Errorf("%s: got %q headers %v, want %q %v", tc.name, text, headers, tc.text, tc.headers)
		}
	}
}

func TestVersionNames(t *testing.T) {
	for v, want := range map[uint32]string{0x70000000: "7.0", 0x71000000: "7.1", 0x71000001: "7.1", 0x72090002: "7.2",
		0x730B0003: "7.3", 0x74000004: "7.4", 0x04020000: "4.2", 0x12345678: "0x12345678"} {
		if got := versionName(v); got != want {
			t.Errorf("versionName(%#x) = %q, want %q", v, got, want)
		}
	}
	for _, tc := range []struct {
		l    Login
		want dialect
	}{
		{Login{TDSVersion: 0x74000004}, tds71}, {Login{TDSVersion: 0x71000000}, tds71},
		{Login{TDSVersion: 0x70000000}, tds70}, {Login{Legacy: true, TDSVersion: 0x04020000}, tds42},
	} {
		if got := negotiate(&tc.l); got != tc.want {
			t.Errorf("negotiate(%#x legacy %v) = %d, want %d", tc.l.TDSVersion, tc.l.Legacy, got, tc.want)
		}
	}
}
