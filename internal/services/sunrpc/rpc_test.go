package sunrpc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func be(v ...uint32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.BigEndian.AppendUint32(b, x)
	}
	return b
}

func join(p ...[]byte) []byte { return bytes.Join(p, nil) }

// xdrString encodes an XDR string.
func xdrString(s string) []byte {
	var w xdrWriter
	w.string(s)
	return w.b
}

// recordTests are record-marked streams and what readRecord makes of
// them; the fuzz test starts from them.
var recordTests = []struct {
	name  string
	in    []byte
	max   int
	msgs  []string // the records read, in order
	err   error    // the error ending the stream after them
	wired int      // bytes of the stream in the last, failed record
}{
	{"one record", join(be(lastFragment|5), []byte("hello")), 100, []string{"hello"}, io.EOF, 0},
	{"two records", join(be(lastFragment|2), []byte("ab"), be(lastFragment|1), []byte("c")), 100, []string{"ab", "c"}, io.EOF, 0},
	{"three fragments", join(be(2), []byte("ab"), be(0), be(lastFragment|3), []byte("cde")), 100, []string{"abcde"}, io.EOF, 0},
	{"empty last fragment", join(be(1), []byte("a"), be(lastFragment)), 100, []string{"a"}, io.EOF, 0},
	{"exactly max", join(be(3), []byte("abc"), be(lastFragment|2), []byte("de")), 5, []string{"abcde"}, io.EOF, 0},
	{"first fragment over max", join(be(lastFragment|6), []byte("abcdef")), 5, nil, errRecordTooLarge, 4},
	{"second fragment over max", join(be(3), []byte("abc"), be(lastFragment|3), []byte("def")), 5, nil, errRecordTooLarge, 11},
	{"HTTP request", []byte("GET / HTTP/1.0\r\n\r\n"), 9000, nil, errRecordTooLarge, 4},
	{"header cut", []byte{0x80, 0}, 100, nil, io.ErrUnexpectedEOF, 2},
	{"fragment cut", join(be(lastFragment|10), []byte("abc")), 100, nil, io.ErrUnexpectedEOF, 7},
	{"no last fragment", join(be(1), []byte("a")), 100, nil, io.ErrUnexpectedEOF, 5},
	{"too many fragments", bytes.Repeat(be(0), maxFragments+1), 100, nil, errFragments, 4 * (maxFragments + 1)},
	{"empty", nil, 100, nil, io.EOF, 0},
}

func TestReadRecord(t *testing.T) {
	for _, tt := range recordTests {
		for _, oneByte := range []bool{false, true} {
			t.Run(tt.name, func(t *testing.T) {
				var rd io.Reader = bytes.NewReader(tt.in)
				if oneByte {
					rd = iotest.OneByteReader(rd)
				}
				var got []string
				for {
					rc, err := readRecord(rd, tt.max)
					if err != nil {
						if !errors.Is(err, tt.err) {
							t.Fatalf("got error %v; want %v", err, tt.err)
						}
						if len(rc.Wire) != tt.wired {
							t.Errorf("failed record holds %d bytes; want %d", len(rc.Wire), tt.wired)
						}
						break
					}
					got = append(got, string(rc.Msg()))
				}
				if strings.Join(got, "|") != strings.Join(tt.msgs, "|") {
					t.Errorf("got records %q; want %q", got, tt.msgs)
				}
			})
		}
	}
}

func TestFrame(t *testing.T) {
	rc, err := readRecord(bytes.NewReader(frame([]byte("reply"))), 100)
	if err != nil || string(rc.Msg()) != "reply" {
		t.Fatalf("got %q, %v; want the framed message back", rc.Msg(), err)
	}
}

func authUnix(machine string, uid, gid uint32, gids ...uint32) []byte {
	body := join(be(0x3b9aca00), xdrString(machine), be(uid, gid, uint32(len(gids))), be(gids...))
	var w xdrWriter
	w.uint32(authSys)
	w.opaque(body)
	return w.b
}

// callTests are messages and what parseCall makes of them; the fuzz test
// starts from them.
var callTests = []struct {
	name    string
	msg     []byte
	call    bool // a call header was decoded (whether or not served)
	err     error
	prog    uint32
	flavor  uint32
	argsLen int
}{
	{"null", be(1, msgCall, 2, 100000, 2, 0, 0, 0, 0, 0), true, nil, 100000, authNone, 0},
	{"getport", join(be(2, msgCall, 2, 100000, 2, 3, 0, 0, 0, 0), be(100005, 3, 17, 0)), true, nil, 100000, authNone, 16},
	{"auth unix", join(be(3, msgCall, 2, 100024, 1, 1), authUnix("box", 0, 0, 1, 2), be(0, 0), xdrString("x")), true, nil, 100024, authSys, 8},
	{"reply", be(4, msgReply, 0, 0, 0, 0), false, errNotCall, 0, 0, 0},
	{"seven bytes", []byte{0, 0, 0, 1, 0, 0, 0}, false, errShort, 0, 0, 0},
	{"header cut after the program", be(5, msgCall, 2, 100000), false, errShort, 0, 0, 0},
	{"no credential", be(6, msgCall, 2, 100000, 2, 0), true, errShort, 100000, 0, 0},
	{"rpc version 3", be(7, msgCall, 3, 100000, 2, 0, 0, 0, 0, 0), true, errRPCVersion, 100000, 0, 0},
	{"credential over 400 bytes", join(be(8, msgCall, 2, 100000, 2, 0, authSys, 404), make([]byte, 404), be(0, 0)), true, errAuthLength, 100000, authSys, 0},
	{"verifier over 400 bytes", join(be(9, msgCall, 2, 100000, 2, 0, 0, 0, 1, 401), make([]byte, 404)), true, errAuthLength, 100000, 0, 0},
	{"credential of 400 bytes", join(be(10, msgCall, 2, 100000, 2, 0, 9, 400), make([]byte, 400), be(0, 0)), true, nil, 100000, 9, 0},
	{"credential cut short", join(be(11, msgCall, 2, 100000, 2, 0, 1, 20), make([]byte, 8)), true, errShort, 100000, 1, 0},
}

func TestParseCall(t *testing.T) {
	for _, tt := range callTests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseCall(tt.msg)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("got error %v; want %v", err, tt.err)
			}
			if (c != nil) != tt.call {
				t.Fatalf("got call %v; want one: %v", c, tt.call)
			}
			if c == nil {
				return
			}
			if c.Prog != tt.prog || c.Cred.Flavor != tt.flavor || len(c.Args) != tt.argsLen {
				t.Errorf("got program %d flavour %d %d argument bytes; want %d %d %d",
					c.Prog, c.Cred.Flavor, len(c.Args), tt.prog, tt.flavor, tt.argsLen)
			}
			if err == nil && c.HeaderLen+len(c.Args) != len(tt.msg) {
				t.Errorf("header %d + arguments %d bytes; want the message's %d", c.HeaderLen, len(c.Args), len(tt.msg))
			}
		})
	}
}

func TestCheckAuth(t *testing.T) {
	sys := func(body []byte) opaqueAuth { return opaqueAuth{Flavor: authSys, Body: body} }
	unix := func(machine string, gids ...uint32) opaqueAuth {
		return sys(authUnix(machine, 0, 0, gids...)[8:])
	}
	tests := []struct {
		name    string
		cred    opaqueAuth
		want    uint32
		machine string
	}{
		{"none", opaqueAuth{Flavor: authNone}, authOK, ""},
		{"none with a body", opaqueAuth{Flavor: authNone, Body: []byte("abcd")}, authOK, ""},
		{"unix", unix("sparc10", 0, 1, 2, 3), authOK, "sparc10"},
		{"unix with 16 groups", unix("h", make([]uint32, 16)...), authOK, "h"},
		{"unix with 17 groups", unix("h", make([]uint32, 17)...), authBadCred, ""},
		{"unix machine of 255", unix(strings.Repeat("m", 255)), authOK, strings.Repeat("m", 255)},
		{"unix machine of 256", unix(strings.Repeat("m", 256)), authBadCred, ""},
		{"unix cut short", sys([]byte("xyz")), authBadCred, ""},
		{"unix with trailing bytes", sys(append(authUnix("h", 0, 0)[8:], 1, 2, 3, 4)), authOK, "h"},
		{"short", opaqueAuth{Flavor: authShort}, authRejectedCred, ""},
		{"dh", opaqueAuth{Flavor: authDH}, authFailed, ""},
		{"gss", opaqueAuth{Flavor: authGSS}, authBadCred, ""},
		{"unknown", opaqueAuth{Flavor: 390003}, authRejectedCred, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, a := checkAuth(tt.cred)
			if st != tt.want {
				t.Fatalf("got %s; want %s", authStatName(st), authStatName(tt.want))
			}
			if got := ""; a != nil {
				got = a.Machine
				if got != tt.machine {
					t.Errorf("got machine %q; want %q", got, tt.machine)
				}
			} else if tt.machine != "" {
				t.Errorf("got no AUTH_UNIX credential; want machine %q", tt.machine)
			}
		})
	}
}

func TestXDRReader(t *testing.T) {
	t.Run("padding", func(t *testing.T) {
		r := newXDR(join(xdrString("abcde"), be(7)))
		if s := r.string(10); s != "abcde" || r.uint32() != 7 || r.err != nil {
			t.Fatalf("got %q, err %v", s, r.err)
		}
	})
	t.Run("bound", func(t *testing.T) {
		r := newXDR(xdrString("abcde"))
		if r.string(4); !errors.Is(r.err, errTooLong) {
			t.Fatalf("got %v; want errTooLong", r.err)
		}
	})
	t.Run("huge length", func(t *testing.T) {
		r := newXDR(be(0xffffffff, 1))
		if r.opaque(1<<31 - 1); r.err == nil {
			t.Fatal("got no error for a length past the data")
		}
	})
	t.Run("error sticks", func(t *testing.T) {
		r := newXDR(be(1))
		r.uint32()
		if r.uint32() != 0 || r.err == nil || r.uint32() != 0 {
			t.Fatalf("got err %v; want errShort and zeros", r.err)
		}
	})
	t.Run("zeros past the data within size", func(t *testing.T) {
		r := newXDR(be(100000))
		r.size = 12
		if a, b, c := r.uint32(), r.uint32(), r.uint32(); a != 100000 || b != 0 || c != 0 || r.err != nil {
			t.Fatalf("got %d %d %d, %v; want 100000 0 0", a, b, c, r.err)
		}
		if r.uint32(); r.err == nil {
			t.Fatal("read past size without an error")
		}
	})
	t.Run("string running past the data", func(t *testing.T) {
		r := newXDR(join(be(6), []byte("ab")))
		r.size = 100
		if s := r.string(10); s != "ab\x00\x00\x00\x00" || r.err != nil {
			t.Fatalf("got %q, %v", s, r.err)
		}
	})
}

func TestPrintable(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"statd", 10, "statd"},
		{"a\\b", 10, `a\x5cb`},
		{"\x90\x90%n", 10, `\x90\x90%n`},
		{"tab\there", 10, `tab\x09here`},
		{"aaaaaaaaaa", 4, "aaaa..."},
	}
	for _, tt := range tests {
		if got := printable(tt.in, tt.max); got != tt.want {
			t.Errorf("printable(%q, %d) = %q; want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
