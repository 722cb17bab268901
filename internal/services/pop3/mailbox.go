package pop3

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file is the pure part of the service: command lines in, typed
// results out; the mailbox as the persona renders it; no I/O.

// Command is one command line split into its keyword and arguments.
type Command struct {
	Verb string   // upper case
	Args []string // blank-separated
	Arg  string   // everything after the keyword, blanks around it removed
}

// ParseCommand splits a command line.
func ParseCommand(line string) Command {
	line = strings.TrimLeft(line, " \t")
	verb, arg := line, ""
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		verb, arg = line[:i], line[i+1:]
	}
	arg = strings.Trim(arg, " \t")
	return Command{Verb: upperASCII(verb), Args: strings.Fields(arg), Arg: arg}
}

// ParseNumber reads a message number or line count: decimal digits
// only, as servers take them.
func ParseNumber(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// Message is one message of the configured mailbox.
type Message struct {
	From    string `yaml:"from"`    // the From header as written
	To      string `yaml:"to"`      // "" addresses it to the user who logged in
	Subject string `yaml:"subject"` // plain text
	Date    string `yaml:"date"`    // RFC 3339
	Body    string `yaml:"body"`    // plain text; line ends become CRLF
}

// Mailbox is the mailbox one session sees; deletions last as long as the
// session.
type Mailbox struct {
	msgs    [][]byte // each message as RETR sends it, before dot-stuffing
	uids    []string
	deleted []bool
}

// Stat counts the messages not deleted and their octets.
func (m *Mailbox) Stat() (n, octets int) {
	for i, b := range m.msgs {
		if !m.deleted[i] {
			n++
			octets += len(b)
		}
	}
	return n, octets
}

// Len is the number of messages, deleted ones included: message numbers
// run from 1 to Len.
func (m *Mailbox) Len() int { return len(m.msgs) }

// Lookup errors.
const (
	NoSuchMessage = iota + 1
	Deleted
)

// Get returns message n (1-based) as its size and body, or why not.
func (m *Mailbox) Get(n int) ([]byte, int) {
	switch {
	case n < 1 || n > len(m.msgs):
		return nil, NoSuchMessage
	case m.deleted[n-1]:
		return nil, Deleted
	}
	return m.msgs[n-1], 0
}

// UID returns the unique id of message n.
func (m *Mailbox) UID(n int) string { return m.uids[n-1] }

// Delete marks message n deleted; it reports why not, as Get does.
func (m *Mailbox) Delete(n int) int {
	if _, why := m.Get(n); why != 0 {
		return why
	}
	m.deleted[n-1] = true
	return 0
}

// Reset undeletes every message.
func (m *Mailbox) Reset() {
	for i := range m.deleted {
		m.deleted[i] = false
	}
}

// AnyDeleted reports whether any message is marked deleted.
func (m *Mailbox) AnyDeleted() bool {
	for _, d := range m.deleted {
		if d {
			return true
		}
	}
	return false
}

// Top returns the header, the blank line and the first lines lines of
// the body of msg.
func Top(msg []byte, lines int) []byte {
	i := bytes.Index(msg, []byte("\r\n\r\n"))
	if i < 0 {
		return msg
	}
	end := i + 4
	for k := 0; k < lines && end < len(msg); k++ {
		j := bytes.Index(msg[end:], []byte("\r\n"))
		if j < 0 {
			end = len(msg)
			break
		}
		end += j + 2
	}
	return msg[:end]
}

// DotStuff renders a message for a multi-line reply: a '.' begins every
// line that began with one, the text ends with CRLF, and ".\r\n" closes
// it.
func DotStuff(msg []byte) []byte {
	out := make([]byte, 0, len(msg)+len(msg)/64+5)
	atStart := true
	for _, c := range msg {
		if atStart && c == '.' {
			out = append(out, '.')
		}
		out = append(out, c)
		atStart = c == '\n'
	}
	if len(out) > 0 && !atStart {
		out = append(out, '\r', '\n')
	}
	return append(out, '.', '\r', '\n')
}

// crlf gives text CRLF line ends and a final CRLF.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.TrimRight(s, "\n")
	return strings.ReplaceAll(s, "\n", "\r\n") + "\r\n"
}

// digest is a stable pseudo-random value for the mailbox's made-up ids:
// the same host, user and message always give the same ids.
func digest(parts ...string) [32]byte {
	return sha256.Sum256([]byte(strings.Join(parts, "\x00")))
}

// render writes the mailbox of user as the persona's server delivers it.
func (p *persona) render(user string) *Mailbox {
	mb := &Mailbox{}
	for i, m := range p.mailbox {
		to := m.To
		if to == "" {
			to = p.address(user)
		}
		d := digest(p.host, user, strconv.Itoa(i), m.Subject)
		mb.msgs = append(mb.msgs, []byte(p.message(m, to, d)))
		mb.uids = append(mb.uids, p.uid(i, user, d))
		mb.deleted = append(mb.deleted, false)
	}
	return mb
}

// address is user's mail address at the persona's domain.
func (p *persona) address(user string) string {
	if i := strings.LastIndexAny(user, `\/`); i >= 0 {
		user = user[i+1:]
	}
	if strings.Contains(user, "@") {
		return user
	}
	return user + "@" + p.domain
}

// message renders one message with the headers its product writes.
func (p *persona) message(m Message, to string, d [32]byte) string {
	date, _ := time.Parse(time.RFC3339, m.Date)
	body := crlf(m.Body)
	var h strings.Builder
	if p.exchange {
		// As Exchange 2000 converts a stored message to MIME.
		fmt.Fprintf(&h, "MIME-Version: 1.0\r\nContent-Type: text/plain;\r\n\tcharset=\"iso-8859-1\"\r\n"+
			"Content-Transfer-Encoding: 7bit\r\nX-MimeOLE: Produced By Microsoft Exchange V%s\r\n"+
			"content-class: urn:content-classes:message\r\nSubject: %s\r\nDate: %s\r\n"+
			"Message-ID: <%X@%s>\r\nX-MS-Has-Attach: \r\nX-MS-TNEF-Correlator: \r\nThread-Topic: %s\r\n"+
			"Thread-Index: %s\r\nFrom: %s\r\nTo: %s\r\n\r\n",
			p.version, m.Subject, date.Format("Mon, 2 Jan 2006 15:04:05 -0700"), d[:19], p.host, m.Subject,
			base64.StdEncoding.EncodeToString(threadIndex(date, d)), m.From, to)
		return h.String() + body
	}
	// As Postfix delivers local mail to a Dovecot mailbox.
	qid := strings.ToUpper(fmt.Sprintf("%x", d[:6]))[1:12]
	pdate := date.Format("Mon, _2 Jan 2006 15:04:05 -0700 (MST)")
	sender := m.From
	if i, j := strings.IndexByte(sender, '<'), strings.IndexByte(sender, '>'); i >= 0 && j > i {
		sender = sender[i+1 : j]
	} else if f := strings.Fields(sender); len(f) > 0 {
		sender = f[0]
	}
	fmt.Fprintf(&h, "Return-Path: <%s>\r\nDelivered-To: %s\r\nReceived: by %s (Postfix, from userid 0)\r\n"+
		"\tid %s; %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n"+
		"Message-Id: <%s.%s@%s>\r\nDate: %s\r\n\r\n",
		sender, to, p.host, qid, pdate, m.From, to, m.Subject, date.UTC().Format("20060102150405"), qid, p.host, pdate)
	return h.String() + body
}

// threadIndex is Exchange's Thread-Index: six bytes of the FILETIME the
// conversation began, then a sixteen-byte GUID.
func threadIndex(date time.Time, d [32]byte) []byte {
	ft := uint64(date.Unix()+11644473600) * 10000000
	var b [22]byte
	binary.BigEndian.PutUint64(b[:8], ft)
	copy(b[6:], d[10:26])
	return b[:]
}

// uid is the unique id the product gives message i: Exchange's 24
// base64-encoded bytes (a counter, then the mailbox's id), Dovecot's
// pop3_uidl_format %08Xu%08Xv (uid, then the folder's UIDVALIDITY).
func (p *persona) uid(i int, user string, d [32]byte) string {
	mbox := digest(p.host, user)
	if p.exchange {
		// A little-endian count stepping by 0x400 per message, then
		// the mailbox's id: "AAADadKA...", "AAQDadKA...", "AAgDadKA...".
		var b [24]byte
		n := 0x020000 + int(mbox[31])<<10 + i*0x400
		b[0], b[1], b[2] = byte(n), byte(n>>8), byte(n>>16)
		copy(b[3:], mbox[:21])
		return base64.StdEncoding.EncodeToString(b[:])
	}
	validity := binary.BigEndian.Uint32(mbox[:4])&0x0fffffff | 0x60000000
	return fmt.Sprintf("%08X%08X", i+1, validity)
}

// upperASCII upper-cases ASCII letters only: a verb's other bytes stay
// as sent.
func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
