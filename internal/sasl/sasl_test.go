package sasl

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

var host = HostFromFQDN("webserver.corp.local")

var chal = [8]byte{1, 2, 3, 4, 5, 6, 7, 8}

// run feeds responses to a fresh exchange and returns the challenges it
// sent and its result.
func run(t *testing.T, mech string, have bool, resps ...[]byte) ([]string, Credentials, error) {
	t.Helper()
	x, err := Start(mech, host, chal)
	if err != nil {
		return nil, Credentials{}, err
	}
	var chals []string
	for i, r := range resps {
		c, done, err := x.Next(r, have || i > 0)
		if err != nil || done {
			if i != len(resps)-1 {
				t.Fatalf("%s ended after %d of %d responses (err %v)", mech, i+1, len(resps), err)
			}
			return chals, x.Credentials(), err
		}
		chals = append(chals, string(c))
	}
	t.Fatalf("%s not done after %d responses", mech, len(resps))
	return nil, Credentials{}, nil
}

func TestPlainAndLogin(t *testing.T) {
	tests := []struct {
		name  string
		mech  string
		have  bool
		resps []string
		chals []string
		want  Credentials
		err   error
	}{
		{"plain initial", "PLAIN", true, []string{"\x00bob\x00s3cret"}, nil, Credentials{"bob", "s3cret", "plain"}, nil},
		{"plain authzid", "plain", true, []string{"admin\x00bob\x00pw"}, nil, Credentials{"bob", "pw", "plain"}, nil},
		{"plain after empty challenge", "PLAIN", false, []string{"", "\x00bob\x00pw"}, []string{""}, Credentials{"bob", "pw", "plain"}, nil},
		{"plain one NUL", "PLAIN", true, []string{"bob\x00pw"}, nil, Credentials{"bob", "pw", "plain"}, nil},
		{"plain malformed", "PLAIN", true, []string{"bobpw"}, nil, Credentials{}, ErrMalformed},
		{"login", "LOGIN", false, []string{"", "bob", "pw"}, []string{"Username:", "Password:"}, Credentials{"bob", "pw", "login"}, nil},
		{"login initial user", "Login", true, []string{"bob", "pw"}, []string{"Password:"}, Credentials{"bob", "pw", "login"}, nil},
		{"login empty password", "LOGIN", false, []string{"", "bob", ""}, []string{"Username:", "Password:"}, Credentials{"bob", "", "login"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := make([][]byte, len(tt.resps))
			for i, r := range tt.resps {
				rs[i] = []byte(r)
			}
			chals, got, err := run(t, tt.mech, tt.have, rs...)
			if err != tt.err {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if strings.Join(chals, "|") != strings.Join(tt.chals, "|") {
				t.Errorf("challenges %q, want %q", chals, tt.chals)
			}
			if got != tt.want {
				t.Errorf("credentials %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := Start("CRAM-MD5", host, chal); err != ErrUnknown {
		t.Errorf("CRAM-MD5: err %v, want ErrUnknown", err)
	}
}

// negotiate builds a client's NEGOTIATE_MESSAGE.
func negotiate(flags uint32) []byte {
	m := append([]byte{}, ntlmSig...)
	m = binary.LittleEndian.AppendUint32(m, 1)
	m = binary.LittleEndian.AppendUint32(m, flags)
	return append(m, make([]byte, 16)...)
}

// authenticate builds a client's AUTHENTICATE_MESSAGE.
func authenticate(flags uint32, domain, user, ws string, lm, nt []byte) []byte {
	enc := func(s string) []byte {
		if flags&flagUnicode != 0 {
			return utf16le(s)
		}
		return []byte(s)
	}
	fields := [][]byte{lm, nt, enc(domain), enc(user), enc(ws), nil}
	const head = 64
	m := append([]byte{}, ntlmSig...)
	m = binary.LittleEndian.AppendUint32(m, 3)
	off := head
	for _, f := range fields {
		m = appendField(m, len(f), off)
		off += len(f)
	}
	m = binary.LittleEndian.AppendUint32(m, flags)
	for _, f := range fields {
		m = append(m, f...)
	}
	return m
}

func TestNTLMChallenge(t *testing.T) {
	x, _ := Start("NTLM", host, chal)
	c, done, err := x.Next(negotiate(flagUnicode|flagNTLM|flagExtendedSecurity|flag128|flagSign), true)
	if err != nil || done {
		t.Fatalf("negotiate: done=%v err=%v", done, err)
	}
	if !bytes.HasPrefix(c, ntlmSig) || binary.LittleEndian.Uint32(c[8:]) != 2 {
		t.Fatalf("not a challenge message: %x", c)
	}
	flags := binary.LittleEndian.Uint32(c[20:])
	want := uint32(flagUnicode | flagRequestTarget | flagNTLM | flagAlwaysSign | flagTargetTypeDomain | flagTargetInfo |
		flagExtendedSecurity | flag128 | flagSign)
	if flags != want {
		t.Errorf("flags %#08x, want %#08x", flags, want)
	}
	if !bytes.Equal(c[24:32], chal[:]) {
		t.Errorf("challenge %x, want %x", c[24:32], chal)
	}
	tl, to := binary.LittleEndian.Uint16(c[12:]), binary.LittleEndian.Uint32(c[16:])
	if got := c[to : to+uint32(tl)]; !bytes.Equal(got, utf16le("CORP")) {
		t.Errorf("target name %q, want CORP in UTF-16", got)
	}
	il, io := binary.LittleEndian.Uint16(c[40:]), binary.LittleEndian.Uint32(c[44:])
	info := c[io : io+uint32(il)]
	if int(io)+int(il) != len(c) {
		t.Errorf("target info ends at %d, message at %d", int(io)+int(il), len(c))
	}
	names := map[uint16]string{}
	for len(info) >= 4 {
		id, n := binary.LittleEndian.Uint16(info), int(binary.LittleEndian.Uint16(info[2:]))
		if id == 0 {
			break
		}
		names[id] = string(bytes.ReplaceAll(info[4:4+n], []byte{0}, nil))
		info = info[4+n:]
	}
	wantNames := map[uint16]string{1: "WEBSERVER", 2: "CORP", 3: "webserver.corp.local", 4: "corp.local"}
	for id, v := range wantNames {
		if names[id] != v {
			t.Errorf("AV pair %d = %q, want %q", id, names[id], v)
		}
	}
	// An OEM client gets an OEM target name.
	x, _ = Start("NTLM", host, chal)
	c, _, _ = x.Next(negotiate(flagOEM|flagNTLM), true)
	if f := binary.LittleEndian.Uint32(c[20:]); f&flagUnicode != 0 || f&flagOEM == 0 {
		t.Errorf("OEM client: flags %#08x", f)
	}
	if tl, to := binary.LittleEndian.Uint16(c[12:]), binary.LittleEndian.Uint32(c[16:]); string(c[to:to+uint32(tl)]) != "CORP" {
		t.Errorf("OEM target name %q", c[to:to+uint32(tl)])
	}
}

func TestNTLMCredentials(t *testing.T) {
	lm := bytes.Repeat([]byte{0xaa}, 24)
	nt1 := bytes.Repeat([]byte{0xbb}, 24)
	nt2 := append(bytes.Repeat([]byte{0xcc}, 16), 1, 1, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef)
	tests := []struct {
		name string
		init bool // the negotiate message came with the command
		msg  []byte
		want Credentials
	}{
		{"v2 unicode", true, authenticate(flagUnicode, "CORP", "bob", "WS1", lm, nt2),
			Credentials{`CORP\bob`, "bob::CORP:0102030405060708:cccccccccccccccccccccccccccccccc:0101000000000000deadbeef", "ntlm"}},
		{"v1 OEM, no domain", false, authenticate(flagOEM, "", "admin", "", lm, nt1),
			Credentials{"admin", "admin:::" + strings.Repeat("aa", 24) + ":" + strings.Repeat("bb", 24) + ":0102030405060708", "ntlm"}},
		{"anonymous", true, authenticate(flagUnicode, "", "", "", nil, nil), Credentials{"", "", "ntlm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resps [][]byte
			if !tt.init {
				resps = append(resps, nil)
			}
			resps = append(resps, negotiate(flagUnicode|flagNTLM), tt.msg)
			chals, got, err := run(t, "NTLM", tt.init, resps...)
			if err != nil {
				t.Fatal(err)
			}
			if len(chals) != len(resps)-1 {
				t.Errorf("%d challenges, want %d", len(chals), len(resps)-1)
			}
			if got != tt.want {
				t.Errorf("credentials %+v\n want %+v", got, tt.want)
			}
		})
	}
}

func TestNTLMMalformed(t *testing.T) {
	good := authenticate(flagUnicode, "CORP", "bob", "WS", nil, nil)
	bad := bytes.Clone(good)
	binary.LittleEndian.PutUint32(bad[40:], 1<<20) // user name offset outside the message
	for name, m := range map[string][]byte{
		"short":        good[:40],
		"signature":    append([]byte("NTLMSSX\x00"), good[8:]...),
		"type":         append(append([]byte{}, good[:8]...), append([]byte{1, 0, 0, 0}, good[12:]...)...),
		"field offset": bad,
	} {
		if _, err := ParseAuthenticate(m); err != ErrMalformed {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
	x, _ := Start("NTLM", host, chal)
	if _, done, err := x.Next([]byte("not ntlm at all"), true); !done || err != ErrMalformed {
		t.Errorf("bad negotiate: done=%v err=%v", done, err)
	}
}

func TestDecodeResponse(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"Ym9i", "bob", false},
		{"=", "", false},
		{"", "", false},
		{"cHc", "pw", false}, // padding left out
		{"cHc=", "pw", false},
		{"not base64!", "", true},
	}
	for _, tt := range tests {
		got, err := DecodeResponse(tt.in)
		if (err != nil) != tt.err || string(got) != tt.want {
			t.Errorf("DecodeResponse(%q) = %q, %v; want %q, err=%v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestHostFromFQDN(t *testing.T) {
	tests := []struct {
		in   string
		want Host
	}{
		{"webserver.corp.local", Host{"WEBSERVER", "CORP", "webserver.corp.local", "corp.local"}},
		{"MAIL", Host{"MAIL", "MAIL", "mail", ""}},
	}
	for _, tt := range tests {
		if got := HostFromFQDN(tt.in); got != tt.want {
			t.Errorf("HostFromFQDN(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// NTOWFv1 and the NTLMv1 response of MS-NLMP section 4.2.2 (user
// "User", domain "Domain", password "Password", server challenge
// 0123456789abcdef).
func TestNTLMv1Vector(t *testing.T) {
	nt := ntowf("Password")
	if got := hex.EncodeToString(nt[:]); got != "a4f49c406510bdcab6824ee7c30fd852" {
		t.Fatalf("NTOWFv1 = %s", got)
	}
	ch := [8]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
	if got := hex.EncodeToString(desl(nt, ch[:])); got != "67c43011f30298a2ad35ece64f16331c44bdbed927841f94" {
		t.Fatalf("NTLMv1 response = %s", got)
	}
}

// Responses built the way clients build them verify with the right
// password only: NTLMv1, NTLMv1 with extended session security, NTLMv2.
func TestNTLMVerify(t *testing.T) {
	nt := ntowf("s3cret")
	cc := []byte{9, 8, 7, 6, 5, 4, 3, 2}
	h := md5.Sum(append(chal[:], cc...))
	ess := desl(nt, h[:8])
	blob := append([]byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, cc...)
	mac := hmac.New(md5.New, nt[:])
	mac.Write(utf16le("BOB" + "CORP"))
	mac = hmac.New(md5.New, mac.Sum(nil))
	mac.Write(chal[:])
	mac.Write(blob)
	v2 := append(mac.Sum(nil), blob...)
	tests := []struct {
		name  string
		flags uint32
		lm    []byte
		nt    []byte
	}{
		{"v1", flagUnicode, make([]byte, 24), desl(nt, chal[:])},
		{"v1 extended session security", flagUnicode | flagExtendedSecurity, append(bytes.Clone(cc), make([]byte, 16)...), ess},
		{"v2", flagUnicode, make([]byte, 24), v2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, _ := Start("NTLM", host, chal)
			if _, _, err := x.Next(negotiate(tt.flags|flagNTLM), true); err != nil {
				t.Fatal(err)
			}
			if _, done, err := x.Next(authenticate(tt.flags, "CORP", "bob", "WS", tt.lm, tt.nt), true); !done || err != nil {
				t.Fatalf("done=%v err=%v", done, err)
			}
			if !x.Verify("s3cret") || x.Verify("S3cret") || x.Verify("") {
				t.Errorf("Verify: right password %v, wrong ones %v %v", x.Verify("s3cret"), x.Verify("S3cret"), x.Verify(""))
			}
			if x.Account() != "bob" {
				t.Errorf("Account() = %q, want bob", x.Account())
			}
		})
	}
	x, _ := Start("LOGIN", host, chal)
	x.Next(nil, false)
	x.Next([]byte("bob"), true)
	x.Next([]byte("pw"), true)
	if !x.Verify("pw") || x.Verify("px") {
		t.Error("LOGIN Verify")
	}
}
