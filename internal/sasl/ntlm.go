package sasl

import (
	"bytes"
	"crypto/des"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"unicode/utf16"
)

// NTLM messages (MS-NLMP), as far as a server needs them to learn who
// is logging in.

var ntlmSig = []byte("NTLMSSP\x00")

// Negotiate flags.
const (
	flagUnicode          = 0x00000001
	flagOEM              = 0x00000002
	flagRequestTarget    = 0x00000004
	flagSign             = 0x00000010
	flagSeal             = 0x00000020
	flagNTLM             = 0x00000200
	flagAlwaysSign       = 0x00008000
	flagTargetTypeDomain = 0x00010000
	flagExtendedSecurity = 0x00080000
	flagTargetInfo       = 0x00800000
	flag128              = 0x20000000
	flagKeyExchange      = 0x40000000
	flag56               = 0x80000000
)

// parseNegotiate reads a NEGOTIATE_MESSAGE and returns its flags. An
// empty message (a client that starts with the challenge) asks for
// Unicode.
func parseNegotiate(b []byte) (uint32, error) {
	if len(b) == 0 {
		return flagUnicode | flagNTLM, nil
	}
	if len(b) < 16 || !bytes.HasPrefix(b, ntlmSig) || binary.LittleEndian.Uint32(b[8:]) != 1 {
		return 0, ErrMalformed
	}
	return binary.LittleEndian.Uint32(b[12:]), nil
}

// answerFlags are the flags a Windows 2000 server answers a negotiation
// with: what it asked for among what the server supports.
func answerFlags(neg uint32) uint32 {
	f := uint32(flagRequestTarget | flagNTLM | flagAlwaysSign | flagTargetTypeDomain | flagTargetInfo)
	if neg&flagUnicode != 0 {
		f |= flagUnicode
	} else {
		f |= flagOEM
	}
	f |= neg & (flagSign | flagSeal | flagExtendedSecurity | flag128 | flagKeyExchange | flag56)
	return f
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// challengeMessage builds a CHALLENGE_MESSAGE without a version field, as
// Windows 2000 sent it, naming the host in the target information.
func challengeMessage(flags uint32, challenge [8]byte, h Host) []byte {
	target := []byte(h.Domain)
	if flags&flagUnicode != 0 {
		target = utf16le(h.Domain)
	}
	var info []byte
	av := func(id uint16, v string) {
		u := utf16le(v)
		info = binary.LittleEndian.AppendUint16(info, id)
		info = binary.LittleEndian.AppendUint16(info, uint16(len(u)))
		info = append(info, u...)
	}
	av(2, h.Domain)
	av(1, h.Computer)
	av(4, h.DNSDomain)
	av(3, h.DNSComputer)
	info = append(info, 0, 0, 0, 0)

	const head = 48
	m := make([]byte, 0, head+len(target)+len(info))
	m = append(m, ntlmSig...)
	m = binary.LittleEndian.AppendUint32(m, 2)
	m = appendField(m, len(target), head)
	m = binary.LittleEndian.AppendUint32(m, flags)
	m = append(m, challenge[:]...)
	m = append(m, make([]byte, 8)...)
	m = appendField(m, len(info), head+len(target))
	m = append(m, target...)
	return append(m, info...)
}

func appendField(m []byte, n, off int) []byte {
	m = binary.LittleEndian.AppendUint16(m, uint16(n))
	m = binary.LittleEndian.AppendUint16(m, uint16(n))
	return binary.LittleEndian.AppendUint32(m, uint32(off))
}

// Authenticate is what an AUTHENTICATE_MESSAGE says.
type Authenticate struct {
	Domain, User, Workstation string
	LMResponse, NTResponse    []byte
	Flags                     uint32
}

// ParseAuthenticate reads an AUTHENTICATE_MESSAGE; every field must lie
// within the message.
func ParseAuthenticate(b []byte) (*Authenticate, error) {
	if len(b) < 52 || !bytes.HasPrefix(b, ntlmSig) || binary.LittleEndian.Uint32(b[8:]) != 3 {
		return nil, ErrMalformed
	}
	field := func(at int) ([]byte, bool) {
		n := int(binary.LittleEndian.Uint16(b[at:]))
		off := int(binary.LittleEndian.Uint32(b[at+4:]))
		if n == 0 {
			return nil, true
		}
		if off < 0 || off > len(b) || n > len(b)-off {
			return nil, false
		}
		return b[off : off+n], true
	}
	a := &Authenticate{Flags: flagUnicode}
	if len(b) >= 64 {
		a.Flags = binary.LittleEndian.Uint32(b[60:])
	}
	var ok [5]bool
	var dom, user, ws []byte
	a.LMResponse, ok[0] = field(12)
	a.NTResponse, ok[1] = field(20)
	dom, ok[2] = field(28)
	user, ok[3] = field(36)
	ws, ok[4] = field(44)
	for _, o := range ok {
		if !o {
			return nil, ErrMalformed
		}
	}
	str := func(s []byte) string {
		if a.Flags&flagUnicode == 0 {
			r := make([]rune, len(s))
			for i, c := range s {
				r[i] = rune(c) // OEM, read as Latin-1
			}
			return string(r)
		}
		u := make([]uint16, len(s)/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(s[2*i:])
		}
		return string(utf16.Decode(u))
	}
	a.Domain, a.User, a.Workstation = str(dom), str(user), str(ws)
	return a, nil
}

// QualifiedUser is DOMAIN\user, or user when no domain was sent.
func (a *Authenticate) QualifiedUser() string {
	if a.Domain == "" {
		return a.User
	}
	return a.Domain + `\` + a.User
}

// Hashcat renders the response for a password cracker: NetNTLMv1
// (hashcat mode 5500) for a 24-byte NT response, NetNTLMv2 (mode 5600)
// for a longer one, "" for an anonymous one.
func (a *Authenticate) Hashcat(challenge [8]byte) string {
	ch := hex.EncodeToString(challenge[:])
	switch n := len(a.NTResponse); {
	case n == 24:
		return a.User + "::" + a.Domain + ":" + hex.EncodeToString(a.LMResponse) + ":" +
			hex.EncodeToString(a.NTResponse) + ":" + ch
	case n > 24:
		return a.User + "::" + a.Domain + ":" + ch + ":" + hex.EncodeToString(a.NTResponse[:16]) + ":" +
			hex.EncodeToString(a.NTResponse[16:])
	}
	return ""
}

// ntowf is NTLM's password hash: MD4 of the UTF-16LE password.
func ntowf(password string) [16]byte { return md4(utf16le(password)) }

// desl encrypts an 8-byte value with the three DES keys cut from a
// 16-byte hash (MS-NLMP's DESL).
func desl(k [16]byte, d []byte) []byte {
	var key [21]byte
	copy(key[:], k[:])
	out := make([]byte, 0, 24)
	for i := 0; i < 3; i++ {
		s := key[7*i : 7*i+7]
		// 56 key bits spread over 8 bytes; DES ignores the low bits.
		k8 := []byte{s[0], s[0]<<7 | s[1]>>1, s[1]<<6 | s[2]>>2, s[2]<<5 | s[3]>>3,
			s[3]<<4 | s[4]>>4, s[4]<<3 | s[5]>>5, s[5]<<2 | s[6]>>6, s[6] << 1}
		c, _ := des.NewCipher(k8)
		var b [8]byte
		c.Encrypt(b[:], d)
		out = append(out, b[:]...)
	}
	return out
}

// Verify reports whether the response was computed from password for
// challenge: NTLMv1, NTLMv1 with extended session security (flags
// negotiated it and the LM field carries the client's challenge), or
// NTLMv2.
func (a *Authenticate) Verify(password string, challenge [8]byte, flags uint32) bool {
	nt := ntowf(password)
	switch n := len(a.NTResponse); {
	case n == 24:
		data := challenge[:]
		if (flags|a.Flags)&flagExtendedSecurity != 0 && len(a.LMResponse) == 24 &&
			bytes.Equal(a.LMResponse[8:], make([]byte, 16)) {
			h := md5.Sum(append(bytes.Clone(challenge[:]), a.LMResponse[:8]...))
			data = h[:8]
		}
		return hmac.Equal(desl(nt, data), a.NTResponse)
	case n > 24:
		mac := hmac.New(md5.New, nt[:])
		mac.Write(utf16le(strings.ToUpper(a.User) + a.Domain))
		mac = hmac.New(md5.New, mac.Sum(nil))
		mac.Write(challenge[:])
		mac.Write(a.NTResponse[16:])
		return hmac.Equal(mac.Sum(nil), a.NTResponse[:16])
	}
	return false
}
