package telnet

import (
	"fmt"
	"strconv"
	"strings"
)

// Telnet commands (RFC 854).
const (
	cmdEOF   = 236
	cmdSUSP  = 237
	cmdABORT = 238
	cmdEOR   = 239
	cmdSE    = 240
	cmdNOP   = 241
	cmdDM    = 242
	cmdBRK   = 243
	cmdIP    = 244
	cmdAO    = 245
	cmdAYT   = 246
	cmdEC    = 247
	cmdEL    = 248
	cmdGA    = 249
	cmdSB    = 250
	cmdWILL  = 251
	cmdWONT  = 252
	cmdDO    = 253
	cmdDONT  = 254
	cmdIAC   = 255
)

// Telnet options.
const (
	optBinary     = 0
	optEcho       = 1
	optSGA        = 3
	optStatus     = 5
	optTimingMark = 6
	optTType      = 24
	optNAWS       = 31
	optTSpeed     = 32
	optLFlow      = 33
	optLinemode   = 34
	optXDisplay   = 35
	optOldEnviron = 36
	optAuth       = 37
	optEncrypt    = 38
	optNewEnviron = 39
)

var optNames = map[byte]string{
	optBinary: "BINARY", optEcho: "ECHO", 2: "RCP", optSGA: "SGA", 4: "NAMS", optStatus: "STATUS",
	optTimingMark: "TIMING-MARK", 7: "RCTE", 8: "NAOL", 9: "NAOP", 10: "NAOCRD", 17: "EXTEND-ASCII",
	18: "LOGOUT", 19: "BM", 20: "DET", 21: "SUPDUP", 22: "SUPDUP-OUTPUT", 23: "SEND-LOCATION",
	optTType: "TERMINAL-TYPE", 25: "EOR", 26: "TACACS-UID", 27: "OUTPUT-MARKING", 28: "TTYLOC",
	29: "3270-REGIME", 30: "X.3-PAD", optNAWS: "NAWS", optTSpeed: "TERMINAL-SPEED", optLFlow: "LFLOW",
	optLinemode: "LINEMODE", optXDisplay: "X-DISPLAY-LOCATION", optOldEnviron: "OLD-ENVIRON",
	optAuth: "AUTHENTICATION", optEncrypt: "ENCRYPT", optNewEnviron: "NEW-ENVIRON", 40: "TN3270E",
	42: "CHARSET", 44: "COM-PORT-OPTION", 46: "START-TLS", 47: "KERMIT", 255: "EXOPL",
}

var cmdNames = map[byte]string{
	cmdEOF: "EOF", cmdSUSP: "SUSP", cmdABORT: "ABORT", cmdEOR: "EOR", cmdSE: "SE", cmdNOP: "NOP",
	cmdDM: "DM", cmdBRK: "BRK", cmdIP: "IP", cmdAO: "AO", cmdAYT: "AYT", cmdEC: "EC", cmdEL: "EL",
	cmdGA: "GA", cmdSB: "SB", cmdWILL: "WILL", cmdWONT: "WONT", cmdDO: "DO", cmdDONT: "DONT",
}

// OptionName names a telnet option ("ECHO", "NAWS"); unknown ones are
// their number.
func OptionName(o byte) string {
	if n, ok := optNames[o]; ok {
		return n
	}
	return strconv.Itoa(int(o))
}

// ParseOption reads "DO ECHO", "WILL 3", "DONT TERMINAL-TYPE": a
// negotiation verb and an option by name or number.
func ParseOption(s string) (verb, opt byte, err error) {
	f := strings.Fields(strings.ToUpper(s))
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("option %q: want a verb (DO, DONT, WILL, WONT) and an option", s)
	}
	switch f[0] {
	case "DO":
		verb = cmdDO
	case "DONT":
		verb = cmdDONT
	case "WILL":
		verb = cmdWILL
	case "WONT":
		verb = cmdWONT
	default:
		return 0, 0, fmt.Errorf("option %q: unknown verb %s", s, f[0])
	}
	if n, err := strconv.Atoi(f[1]); err == nil && n >= 0 && n <= 255 {
		return verb, byte(n), nil
	}
	for o, n := range optNames {
		if n == f[1] {
			return verb, o, nil
		}
	}
	return 0, 0, fmt.Errorf("option %q: unknown option %s", s, f[1])
}

// Op is one telnet command found in the stream: an option negotiation
// (WILL, WONT, DO, DONT), a subnegotiation (SB) or a one-byte command
// (NOP, AYT, IP, ...).
type Op struct {
	Cmd    byte
	Option byte   // WILL..DONT and SB
	Data   []byte // SB parameters, IAC IAC undone, bounded
	// Truncated is set when SB parameters went past the bound: the
	// rest was dropped.
	Truncated bool
}

// String renders the op for the negotiation record: "DO ECHO",
// "SB NAWS 80x24", "SB TERMINAL-TYPE IS XTERM", "AYT".
func (o Op) String() string {
	switch o.Cmd {
	case cmdWILL, cmdWONT, cmdDO, cmdDONT:
		return cmdNames[o.Cmd] + " " + OptionName(o.Option)
	case cmdSB:
		s := "SB " + OptionName(o.Option)
		if p := subParams(o.Option, o.Data); p != "" {
			s += " " + p
		}
		if o.Truncated {
			s += " (truncated)"
		}
		return s
	}
	if n, ok := cmdNames[o.Cmd]; ok {
		return n
	}
	return fmt.Sprintf("IAC 0x%02x", o.Cmd)
}

// subParams decodes the parameters of the subnegotiations clients send.
func subParams(opt byte, d []byte) string {
	switch {
	case len(d) == 0:
		return ""
	case opt == optNAWS && len(d) == 4:
		return fmt.Sprintf("%dx%d", int(d[0])<<8|int(d[1]), int(d[2])<<8|int(d[3]))
	case (opt == optTType || opt == optTSpeed || opt == optXDisplay) && d[0] <= 1:
		if d[0] == 1 {
			return "SEND"
		}
		return "IS " + quote(d[1:])
	case (opt == optNewEnviron || opt == optOldEnviron) && d[0] <= 2:
		return environ(d)
	}
	return hexBytes(d)
}

// environ decodes NEW-ENVIRON/OLD-ENVIRON: IS, SEND or INFO, then VAR,
// VALUE and USERVAR items (with ESC escapes).
func environ(d []byte) string {
	parts := []string{[]string{"IS", "SEND", "INFO"}[d[0]]}
	var cur []byte
	open := false
	flush := func() {
		if open {
			parts = append(parts, quote(cur))
		}
		cur, open = nil, false
	}
	for i := 1; i < len(d); i++ {
		switch d[i] {
		case 0, 3: // VAR, USERVAR
			flush()
			parts = append(parts, map[byte]string{0: "VAR", 3: "USERVAR"}[d[i]])
			open = true
		case 1: // VALUE
			flush()
			parts = append(parts, "VALUE")
			open = true
		case 2: // ESC
			if i+1 < len(d) {
				i++
				cur = append(cur, d[i])
			}
		default:
			cur = append(cur, d[i])
			open = true
		}
	}
	flush()
	return strings.Join(parts, " ")
}

// quote leaves a plain word as it is and quotes anything else.
func quote(b []byte) string {
	plain := len(b) > 0
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return string(b)
	}
	return strconv.Quote(string(b))
}

func hexBytes(b []byte) string {
	var s strings.Builder
	for i, c := range b {
		if i > 0 {
			s.WriteByte(' ')
		}
		fmt.Fprintf(&s, "%02x", c)
	}
	return s.String()
}

// Parser is the telnet option stream parser: a pure state machine that
// takes the client's bytes in any split and separates data from telnet
// commands. IAC IAC is a data byte 0xff; the parameters of a
// subnegotiation are kept up to MaxSub bytes (the rest is dropped and the
// op marked truncated). Its zero value is ready (MaxSub 512).
type Parser struct {
	MaxSub int

	state pstate
	cmd   byte // the verb waiting for its option
	sbOpt byte
	sb    []byte
	sbCut bool
}

type pstate uint8

const (
	sData  pstate = iota
	sIAC          // after IAC
	sOpt          // after IAC WILL/WONT/DO/DONT
	sSBOpt        // after IAC SB
	sSB           // in subnegotiation parameters
	sSBIAC        // IAC inside a subnegotiation
)

func (p *Parser) maxSub() int {
	if p.MaxSub <= 0 {
		return 512
	}
	return p.MaxSub
}

// Feed parses in and returns data with the data bytes of in appended, and
// ops with the commands of in appended.
func (p *Parser) Feed(in, data []byte, ops []Op) ([]byte, []Op) {
	for _, b := range in {
		switch p.state {
		case sData:
			if b == cmdIAC {
				p.state = sIAC
			} else {
				data = append(data, b)
			}
		case sIAC:
			data, ops = p.afterIAC(b, data, ops)
		case sOpt:
			ops = append(ops, Op{Cmd: p.cmd, Option: b})
			p.state = sData
		case sSBOpt:
			p.sbOpt, p.sb, p.sbCut = b, p.sb[:0], false
			p.state = sSB
		case sSB:
			if b == cmdIAC {
				p.state = sSBIAC
			} else {
				p.subByte(b)
			}
		case sSBIAC:
			switch b {
			case cmdIAC:
				p.subByte(b)
				p.state = sSB
			case cmdSE:
				ops = p.endSub(ops)
				p.state = sData
			default:
				// IAC and a command inside parameters: the subnegotiation
				// ended without its SE; the command stands.
				ops = p.endSub(ops)
				data, ops = p.afterIAC(b, data, ops)
			}
		}
	}
	return data, ops
}

func (p *Parser) afterIAC(b byte, data []byte, ops []Op) ([]byte, []Op) {
	switch b {
	case cmdIAC:
		data = append(data, cmdIAC)
		p.state = sData
	case cmdWILL, cmdWONT, cmdDO, cmdDONT:
		p.cmd = b
		p.state = sOpt
	case cmdSB:
		p.state = sSBOpt
	default:
		ops = append(ops, Op{Cmd: b})
		p.state = sData
	}
	return data, ops
}

func (p *Parser) subByte(b byte) {
	if len(p.sb) >= p.maxSub() {
		p.sbCut = true
		return
	}
	p.sb = append(p.sb, b)
}

func (p *Parser) endSub(ops []Op) []Op {
	op := Op{Cmd: cmdSB, Option: p.sbOpt, Truncated: p.sbCut}
	if len(p.sb) > 0 {
		op.Data = append([]byte(nil), p.sb...)
	}
	p.sb, p.sbCut = p.sb[:0], false
	return append(ops, op)
}

// q is the state of one side of one option (RFC 1143, without the queue).
type q uint8

const (
	qNo q = iota
	qYes
	qWantNo
	qWantYes
)

// Negotiator answers the client's option requests as a persona's server
// does. It follows RFC 1143's states for both sides of every option, so
// no request loops. A passive negotiator never answers (BusyBox telnetd
// sends its requests and ignores every reply) but still tracks the
// client's side.
type Negotiator struct {
	Passive bool
	// Will lists the options the server enables on its side when the
	// client asks (DO); Do the options it lets the client enable (WILL).
	Will, Do []byte

	us, him [256]q
}

// Request starts a negotiation from the server: verb DO or DONT asks
// about the client's side, WILL or WONT announces the server's. It
// returns the bytes to send (none when the state already holds).
func (n *Negotiator) Request(verb, opt byte) []byte {
	switch verb {
	case cmdDO:
		if n.him[opt] == qNo {
			n.him[opt] = qWantYes
			return []byte{cmdIAC, cmdDO, opt}
		}
	case cmdDONT:
		if n.him[opt] == qYes || n.him[opt] == qWantYes {
			n.him[opt] = qWantNo
			return []byte{cmdIAC, cmdDONT, opt}
		}
	case cmdWILL:
		if n.us[opt] == qNo {
			n.us[opt] = qWantYes
			return []byte{cmdIAC, cmdWILL, opt}
		}
	case cmdWONT:
		if n.us[opt] == qYes || n.us[opt] == qWantYes {
			n.us[opt] = qWantNo
			return []byte{cmdIAC, cmdWONT, opt}
		}
	}
	return nil
}

func has(list []byte, b byte) bool {
	for _, c := range list {
		if c == b {
			return true
		}
	}
	return false
}

// Receive takes one of the client's ops and returns the reply to send
// (nil for none) and whether the option's state changed.
func (n *Negotiator) Receive(op Op) (reply []byte, changed bool) {
	o := op.Option
	switch op.Cmd {
	case cmdWILL:
		switch n.him[o] {
		case qNo:
			if n.Passive {
				n.him[o] = qYes
				return nil, true
			}
			if has(n.Do, o) {
				n.him[o] = qYes
				return []byte{cmdIAC, cmdDO, o}, true
			}
			return []byte{cmdIAC, cmdDONT, o}, false
		case qWantYes:
			n.him[o] = qYes
			return nil, true
		case qWantNo:
			n.him[o] = qNo
			return nil, true
		}
	case cmdWONT:
		switch n.him[o] {
		case qYes:
			n.him[o] = qNo
			if n.Passive {
				return nil, true
			}
			return []byte{cmdIAC, cmdDONT, o}, true
		case qWantYes, qWantNo:
			n.him[o] = qNo
			return nil, true
		}
	case cmdDO:
		switch n.us[o] {
		case qNo:
			if n.Passive {
				return nil, false
			}
			if has(n.Will, o) {
				n.us[o] = qYes
				return []byte{cmdIAC, cmdWILL, o}, true
			}
			return []byte{cmdIAC, cmdWONT, o}, false
		case qWantYes:
			n.us[o] = qYes
			return nil, true
		case qWantNo:
			n.us[o] = qNo
			return nil, true
		}
	case cmdDONT:
		switch n.us[o] {
		case qYes:
			n.us[o] = qNo
			if n.Passive {
				return nil, true
			}
			return []byte{cmdIAC, cmdWONT, o}, true
		case qWantYes, qWantNo:
			n.us[o] = qNo
			return nil, true
		}
	}
	return nil, false
}

// Him reports whether the client's side of opt is enabled.
func (n *Negotiator) Him(opt byte) bool { return n.him[opt] == qYes }

// Us reports whether the server's side of opt is enabled or requested and
// not refused.
func (n *Negotiator) Us(opt byte) bool { return n.us[opt] == qYes || n.us[opt] == qWantYes }
