package ssh

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// The client speaks in clear until the key exchange ends: first its
// identification line ("SSH-2.0-OpenSSH_9.2p1\r\n"), then binary packets
// without encryption or MAC, the first of which must be its
// SSH_MSG_KEXINIT (RFC 4253 sections 4.2, 6 and 7.1). Hello reads both
// from the byte stream as it passes, bounded, and keeps what they say.

// Bounds of what Hello reads.
const (
	// MaxVersionLine bounds the identification line (RFC 4253: 255
	// characters with CR LF).
	MaxVersionLine = 255
	// MaxKexPacket bounds the first binary packet. RFC 4253 section 6.1
	// asks every implementation to take packets of 35000 bytes; a client's
	// KEXINIT is a few hundred bytes to a few KiB.
	MaxKexPacket = 35000
	// maxNames bounds the names kept per list.
	maxNames = 128
)

const msgKexInit = 20

// Reasons Hello gives for an offer it could not read (event.SSH's
// malformed field).
const (
	MalformedNotSSH      = "not_ssh"      // the first line is not an identification string
	MalformedLongVersion = "long_version" // no line end within MaxVersionLine bytes
	MalformedNoKexInit   = "no_kexinit"   // the connection ended before the offer
	MalformedNotKexInit  = "not_kexinit"  // another message came first
	MalformedTooLarge    = "too_large"    // the first packet claims more than MaxKexPacket bytes
	MalformedBadPacket   = "bad_packet"   // the packet's framing is impossible
	MalformedBadKexInit  = "bad_kexinit"  // the KEXINIT's fields do not parse
)

// KexInit is the algorithm part of an SSH_MSG_KEXINIT: its ten name-lists
// as sent, comma-separated.
type KexInit struct {
	Kex, HostKeys                  string
	CiphersC2S, CiphersS2C         string
	MACsC2S, MACsS2C               string
	CompressionC2S, CompressionS2C string
	LanguagesC2S, LanguagesS2C     string
	FirstKexFollows                bool
}

// HASSHAlgorithms is the string the HASSH method hashes for a client: its
// kex, cipher, MAC and compression lists, client to server, joined by
// ';'.
func (k *KexInit) HASSHAlgorithms() string {
	return k.Kex + ";" + k.CiphersC2S + ";" + k.MACsC2S + ";" + k.CompressionC2S
}

// HASSH is the client fingerprint: the MD5 of HASSHAlgorithms in
// lower-case hex.
func (k *KexInit) HASSH() string { return md5hex(k.HASSHAlgorithms()) }

// HASSHServerAlgorithms is the string the HASSH method hashes for a
// server: the same lists, server to client.
func (k *KexInit) HASSHServerAlgorithms() string {
	return k.Kex + ";" + k.CiphersS2C + ";" + k.MACsS2C + ";" + k.CompressionS2C
}

// HASSHServer is the server fingerprint.
func (k *KexInit) HASSHServer() string { return md5hex(k.HASSHServerAlgorithms()) }

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Names splits a name-list, keeping at most maxNames names.
func Names(list string) []string {
	if list == "" {
		return nil
	}
	out := strings.SplitN(list, ",", maxNames+1)
	if len(out) > maxNames {
		out = out[:maxNames]
	}
	return out
}

// ParseKexInit reads the payload of an SSH_MSG_KEXINIT (its first byte is
// the message number 20).
func ParseKexInit(p []byte) (*KexInit, bool) {
	if len(p) < 1+16 || p[0] != msgKexInit {
		return nil, false
	}
	p = p[1+16:] // message number, cookie
	var lists [10]string
	for i := range lists {
		if len(p) < 4 {
			return nil, false
		}
		n := binary.BigEndian.Uint32(p)
		p = p[4:]
		if uint64(n) > uint64(len(p)) {
			return nil, false
		}
		lists[i] = string(p[:n])
		p = p[n:]
	}
	// first_kex_packet_follows and the reserved uint32.
	if len(p) < 5 {
		return nil, false
	}
	return &KexInit{
		Kex: lists[0], HostKeys: lists[1],
		CiphersC2S: lists[2], CiphersS2C: lists[3],
		MACsC2S: lists[4], MACsS2C: lists[5],
		CompressionC2S: lists[6], CompressionS2C: lists[7],
		LanguagesC2S: lists[8], LanguagesS2C: lists[9],
		FirstKexFollows: p[0] != 0,
	}, true
}

// PacketPayload reads one unencrypted binary packet from the start of b:
// uint32 packet_length, byte padding_length, payload, padding. It returns
// the payload and the packet's total size; n is 0 while b holds too
// little, and reason is set when the packet can never be read.
func PacketPayload(b []byte, max int) (payload []byte, n int, reason string) {
	if len(b) < 5 {
		return nil, 0, ""
	}
	length := binary.BigEndian.Uint32(b)
	pad := int(b[4])
	if uint64(length) > uint64(max) {
		return nil, 0, MalformedTooLarge
	}
	// The padding length byte is part of packet_length, and RFC 4253
	// asks for at least four bytes of padding; implementations differ
	// on enforcing it, so only what cannot be framed is refused.
	if length < 1 || pad > int(length)-1 {
		return nil, 0, MalformedBadPacket
	}
	total := 4 + int(length)
	if len(b) < total {
		return nil, 0, ""
	}
	return b[5 : total-pad], total, ""
}

// Hello follows a client's first bytes: the identification line, then
// its first binary packet. Feed it every byte the client sends, in order,
// until it reports done.
type Hello struct {
	// Version is the identification line (or, when NotSSH, the first
	// line) as sent, without its line end, cut at MaxVersionLine.
	Version string
	// NotSSH is set when the first line is not an identification string
	// ("SSH-..."): the persona's server refuses such a client.
	NotSSH bool
	// KexInit is the client's offer, once read.
	KexInit *KexInit
	// Malformed says why the offer could not be read (Malformed*).
	Malformed string

	line  []byte
	gotCR bool
	inPkt bool
	pkt   []byte
	done  bool
	any   bool
}

// Done reports whether Hello has read all it reads.
func (h *Hello) Done() bool { return h.done }

// Started reports whether any byte arrived.
func (h *Hello) Started() bool { return h.any }

// Feed reads p and reports whether Hello is done.
func (h *Hello) Feed(p []byte) bool {
	if len(p) > 0 {
		h.any = true
	}
	for len(p) > 0 && !h.done {
		if !h.inPkt {
			p = h.feedLine(p)
			continue
		}
		room := MaxKexPacket + 4 - len(h.pkt)
		take := min(len(p), room)
		h.pkt = append(h.pkt, p[:take]...)
		p = p[take:]
		payload, n, reason := PacketPayload(h.pkt, MaxKexPacket)
		switch {
		case reason != "":
			h.finish(reason)
		case n > 0:
			if len(payload) == 0 || payload[0] != msgKexInit {
				h.finish(MalformedNotKexInit)
				break
			}
			k, ok := ParseKexInit(payload)
			if !ok {
				h.finish(MalformedBadKexInit)
				break
			}
			h.KexInit = k
			h.finish("")
		}
	}
	return h.done
}

// feedLine reads the identification line; it returns the bytes after it.
func (h *Hello) feedLine(p []byte) []byte {
	for i, c := range p {
		if c == '\n' {
			h.endLine()
			return p[i+1:]
		}
		if h.gotCR {
			// A CR inside the line is kept as data, as servers keep it.
			h.gotCR = false
			if !h.addLine('\r') {
				return nil
			}
		}
		if c == '\r' {
			h.gotCR = true
			continue
		}
		if !h.addLine(c) {
			return nil
		}
	}
	return nil
}

// addLine adds a byte to the identification line; at the bound the line
// is over and Hello is done.
func (h *Hello) addLine(c byte) bool {
	if len(h.line) < MaxVersionLine {
		h.line = append(h.line, c)
		return true
	}
	h.Version = string(h.line)
	h.NotSSH = !strings.HasPrefix(h.Version, "SSH-")
	if h.NotSSH {
		h.finish(MalformedNotSSH)
	} else {
		h.finish(MalformedLongVersion)
	}
	return false
}

func (h *Hello) endLine() {
	h.Version = string(h.line)
	h.line, h.gotCR = nil, false
	if !strings.HasPrefix(h.Version, "SSH-") {
		h.NotSSH = true
		h.finish(MalformedNotSSH)
		return
	}
	h.inPkt = true
}

func (h *Hello) finish(reason string) {
	h.done = true
	h.Malformed = reason
	h.pkt, h.line = nil, nil
}

// End is called when the connection ended: an offer not read yet never
// will be.
func (h *Hello) End() {
	if h.done {
		return
	}
	if !h.inPkt && len(h.line) > 0 {
		h.Version = string(h.line)
		switch {
		case !strings.HasPrefix(h.Version, "SSH-"):
			h.NotSSH = true
			h.finish(MalformedNotSSH)
			return
		case len(h.line) >= MaxVersionLine:
			// The reader gave up at the bound, as SSH implementations do.
			h.finish(MalformedLongVersion)
			return
		}
	}
	h.finish(MalformedNoKexInit)
}
