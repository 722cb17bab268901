package ftp

import (
	"errors"
	"net/netip"
	"path"
	"strconv"
	"strings"
)

// This file holds the pure parts of the FTP dialogue: bytes or strings in,
// typed results out, no I/O. Everything here reads attacker input, and
// each function has a table test and a fuzz test.

// Command is one command line as the server reads it.
type Command struct {
	// Verb is the first word, upper-cased (ASCII letters only).
	Verb string
	// Arg is what follows the first space, as the persona reads it: IIS
	// skips the spaces around it, BusyBox keeps it as sent.
	Arg string
	// Text is the whole line after telnet sequences were removed: what
	// IIS quotes back in "500 '...': command not understood".
	Text string
}

// maxVerb bounds the verb kept for the command table: no FTP verb is
// longer, and a long first word is an unknown command either way.
const maxVerb = 16

// ParseCommand splits a command line (without its "\r\n") into verb and
// argument. trim selects IIS's reading, which skips the spaces before and
// after the argument.
func ParseCommand(line []byte, trim bool) Command {
	text := string(StripTelnet(line))
	verb, arg, _ := strings.Cut(text, " ")
	if len(verb) > maxVerb {
		verb = verb[:maxVerb]
	}
	if trim {
		arg = strings.Trim(arg, " ")
	}
	return Command{Verb: upperASCII(verb), Arg: arg, Text: text}
}

func upperASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// StripTelnet removes the telnet sequences a client may put on the
// control connection (lftp sends IAC IP, IAC DM before ABOR): IAC IAC
// stands for one 0xff byte, IAC and any other byte are dropped.
func StripTelnet(line []byte) []byte {
	i := 0
	for i < len(line) && line[i] != 0xff {
		i++
	}
	if i == len(line) {
		return line
	}
	out := make([]byte, 0, len(line))
	out = append(out, line[:i]...)
	for ; i < len(line); i++ {
		c := line[i]
		if c != 0xff {
			out = append(out, c)
			continue
		}
		i++
		if i < len(line) && line[i] == 0xff {
			out = append(out, 0xff)
		}
	}
	return out
}

// Errors of the argument parsers.
var (
	errSyntax   = errors.New("ftp: bad argument syntax")
	errProtocol = errors.New("ftp: network protocol not supported")
)

// ParsePORT reads "h1,h2,h3,h4,p1,p2". strict reads it as RFC 959 says
// (six numbers of 0-255); without it, as IIS 5.0 does: digits and commas
// only, each number kept modulo 256.
func ParsePORT(arg string, strict bool) (netip.AddrPort, error) {
	var b [6]int
	i, n, digits := 0, 0, 0
	for j := 0; j < len(arg); j++ {
		c := arg[j]
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + int(c-'0')
			if !strict {
				n %= 256
			} else if n > 255 {
				return netip.AddrPort{}, errSyntax
			}
			digits++
		case c == ',' && i < 5:
			if strict && digits == 0 {
				return netip.AddrPort{}, errSyntax
			}
			b[i], n, digits = n, 0, 0
			i++
		default:
			return netip.AddrPort{}, errSyntax
		}
	}
	if i != 5 || (strict && digits == 0) {
		return netip.AddrPort{}, errSyntax
	}
	b[5] = n
	ip := netip.AddrFrom4([4]byte{byte(b[0]), byte(b[1]), byte(b[2]), byte(b[3])})
	return netip.AddrPortFrom(ip, uint16(b[4])<<8|uint16(b[5])), nil
}

// FormatPASV writes an IPv4 address and port as "h1,h2,h3,h4,p1,p2".
func FormatPASV(ap netip.AddrPort) string {
	a := ap.Addr().Unmap().As4()
	p := ap.Port()
	var sb strings.Builder
	for _, v := range []int{int(a[0]), int(a[1]), int(a[2]), int(a[3]), int(p >> 8), int(p & 0xff)} {
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(v))
	}
	return sb.String()
}

// ParseEPRT reads RFC 2428's "<d>proto<d>address<d>port<d>", where d is
// any printable ASCII byte, proto 1 (IPv4) or 2 (IPv6).
func ParseEPRT(arg string) (netip.AddrPort, error) {
	if len(arg) < 7 || arg[0] < 33 || arg[0] > 126 {
		return netip.AddrPort{}, errSyntax
	}
	d := arg[:1]
	parts := strings.Split(arg[1:], d)
	if len(parts) != 4 || parts[3] != "" {
		return netip.AddrPort{}, errSyntax
	}
	if parts[0] != "1" && parts[0] != "2" {
		return netip.AddrPort{}, errProtocol
	}
	ip, err := netip.ParseAddr(parts[1])
	if err != nil || ip.Zone() != "" {
		return netip.AddrPort{}, errSyntax
	}
	switch parts[0] {
	case "1":
		if !ip.Is4() {
			return netip.AddrPort{}, errSyntax
		}
	default:
		if !ip.Is6() {
			return netip.AddrPort{}, errSyntax
		}
	}
	port, err := strconv.ParseUint(parts[2], 10, 16)
	if err != nil || port == 0 || parts[2][0] == '+' {
		return netip.AddrPort{}, errSyntax
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

// Resolve turns a client's path argument into a clean absolute path of
// the fake file system, relative to cwd. backslash makes "\" a separator
// too, as IIS reads paths. The result always starts with "/" and never
// climbs above the root: a name is data, never a host path.
func Resolve(cwd, arg string, backslash bool) string {
	if backslash {
		arg = strings.ReplaceAll(arg, `\`, "/")
		// A drive letter names the FTP root on IIS's virtual tree.
		if len(arg) >= 2 && arg[1] == ':' && isLetter(arg[0]) {
			arg = "/" + arg[2:]
		}
	}
	if !strings.HasPrefix(arg, "/") {
		arg = cwd + "/" + arg
	}
	return path.Clean("/" + arg)
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// SplitListArg separates the ls-style switches some clients put before
// LIST's or NLST's path ("-la", "-l /pub") from the path.
func SplitListArg(arg string) (flags, target string) {
	rest := arg
	for strings.HasPrefix(rest, "-") {
		word, after, _ := strings.Cut(rest, " ")
		flags += word[1:]
		rest = strings.TrimLeft(after, " ")
	}
	return flags, rest
}

// hasWildcard reports whether the last element of a path is a pattern.
func hasWildcard(p string) bool { return strings.ContainsAny(path.Base(p), "*?[") }
