package smtp

import (
	"errors"
	"strconv"
	"strings"
)

// This file is the pure part of the service: command lines and paths in,
// typed results out, no I/O.

// Command is one command line split into its verb and argument.
type Command struct {
	Verb string // upper case
	Arg  string // the rest, blanks around it removed
}

// ParseCommand splits a command line. The verb is everything up to the
// first blank.
func ParseCommand(line string) Command {
	line = strings.TrimLeft(line, " \t")
	verb, arg := line, ""
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		verb, arg = line[:i], line[i+1:]
	}
	return Command{Verb: upperASCII(verb), Arg: strings.Trim(arg, " \t")}
}

// Path is the address of a MAIL FROM or RCPT TO.
type Path struct {
	Addr   string   // the mailbox, without <> ("" for the null path <>)
	Route  string   // a source route (@a,@b:) that came before it, if any
	Params []string // ESMTP parameters after it (SIZE=1234, BODY=8BITMIME)
	Null   bool     // <>
}

// Path errors.
var (
	// ErrSyntax: the keyword (FROM:, TO:) is missing.
	ErrSyntax = errors.New("smtp: syntax")
	// ErrAddress: the address cannot be read.
	ErrAddress = errors.New("smtp: bad address")
)

// ParsePath reads the argument of MAIL (keyword "FROM") or RCPT ("TO"):
// the keyword and a colon, optional blanks, then <addr> or a bare addr,
// then parameters.
func ParsePath(arg, keyword string) (Path, error) {
	if len(arg) < len(keyword) || !strings.EqualFold(arg[:len(keyword)], keyword) {
		return Path{}, ErrSyntax
	}
	rest := strings.TrimLeft(arg[len(keyword):], " \t")
	if !strings.HasPrefix(rest, ":") {
		return Path{}, ErrSyntax
	}
	rest = strings.TrimLeft(rest[1:], " \t")
	var p Path
	var addr string
	if strings.HasPrefix(rest, "<") {
		end := closingBracket(rest)
		if end < 0 {
			return Path{}, ErrAddress
		}
		addr, rest = rest[1:end], rest[end+1:]
		if addr == "" {
			p.Null = true
		}
	} else {
		addr, rest, _ = strings.Cut(rest, " ")
		if addr == "" {
			return Path{}, ErrAddress
		}
	}
	if strings.HasPrefix(addr, "@") {
		i := strings.LastIndexByte(addr, ':')
		if i < 0 {
			return Path{}, ErrAddress
		}
		p.Route, addr = addr[:i+1], addr[i+1:]
	}
	if !p.Null && !validAddr(addr) {
		return Path{}, ErrAddress
	}
	p.Addr = addr
	p.Params = strings.Fields(rest)
	return p, nil
}

// closingBracket finds the '>' closing a path that starts with '<',
// skipping quoted local parts ("a>b"@c).
func closingBracket(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case '>':
			if !quoted {
				return i
			}
		}
	}
	return -1
}

// validAddr refuses what no server would take for an address: control
// characters, unquoted blanks, brackets, a bare "@".
func validAddr(a string) bool {
	quoted := false
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case c < ' ' || c == 0x7f:
			return false
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ' ' || c == '<' || c == '>':
			return false
		}
	}
	return !quoted && a != "" && a != "@" && !strings.HasSuffix(a, "@")
}

// Param returns the value of an ESMTP parameter (SIZE=...), case-blind.
func (p Path) Param(name string) (string, bool) {
	for _, kv := range p.Params {
		k, v, _ := strings.Cut(kv, "=")
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// Size returns the SIZE parameter, or -1.
func (p Path) Size() int64 {
	v, ok := p.Param("SIZE")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// Domain returns the part of an address after its last '@' ("" for an
// unqualified address), lower case.
func Domain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}

// Relayed reports whether delivering to p means relaying for a server
// whose own domains local recognises: a recipient in a foreign domain, a
// source route, or a local address hiding a foreign one ("user%foreign@
// local", "foreign!user@local").
func Relayed(p Path, local func(domain string) bool) bool {
	if p.Route != "" {
		return true
	}
	addr := p.Addr
	lp := addr
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		if !local(Domain(addr)) {
			return true
		}
		lp = addr[:i]
	}
	if i := strings.LastIndexByte(lp, '%'); i >= 0 && !local(strings.ToLower(lp[i+1:])) {
		return true
	}
	if i := strings.IndexByte(lp, '!'); i > 0 && !local(strings.ToLower(lp[:i])) {
		return true
	}
	return false
}

// ParseBDAT reads "BDAT size [LAST]".
func ParseBDAT(arg string) (size int64, last bool, ok bool) {
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 {
		return 0, false, false
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || n < 0 {
		return 0, false, false
	}
	if len(f) == 2 {
		if !strings.EqualFold(f[1], "LAST") {
			return 0, false, false
		}
		last = true
	}
	return n, last, true
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
