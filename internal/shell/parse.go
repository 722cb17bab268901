package shell

import (
	"fmt"
	"strings"
)

// Syntax holds the quoting and operator rules of a dialect.
type Syntax struct {
	// Semicolon makes ';' end a command (sh).
	Semicolon bool
	// SingleQuote makes '...' quote literally (sh).
	SingleQuote bool
	// Backslash makes '\' escape the next character (sh); in cmd it is
	// the path separator.
	Backslash bool
	// Caret makes '^' escape the next character outside double quotes
	// (cmd).
	Caret bool
}

// The syntaxes Smallpot knows.
var (
	// CmdSyntax is Windows cmd.exe: "..." quotes, ^ escapes, & && || |.
	CmdSyntax = Syntax{Caret: true}
	// ShSyntax is a POSIX shell such as BusyBox ash: '...' and "..."
	// quotes, \ escapes, ; & && || |.
	ShSyntax = Syntax{Semicolon: true, SingleQuote: true, Backslash: true}
)

// Op says how a simple command is joined to the one before it.
type Op uint8

// Operators.
const (
	First Op = iota // the first command of a line
	Seq             // ';', '&' or a newline: run after the previous one
	And             // '&&': run if the previous one succeeded
	Or              // '||': run if the previous one failed
	Pipe            // '|': run with the previous one's output as input
)

func (o Op) String() string {
	switch o {
	case Seq:
		return ";"
	case And:
		return "&&"
	case Or:
		return "||"
	case Pipe:
		return "|"
	}
	return ""
}

// Redirect is one redirection of a simple command: ">" ">>" or "<",
// with the descriptor it names (1 for plain ">", 0 for "<") and its target
// ("&1" for a duplication such as 2>&1).
type Redirect struct {
	FD     int
	Op     string
	Target string
}

// Command is one simple command of a line.
type Command struct {
	Op Op // how it joins the previous command
	// Raw is the command's text as written, trimmed.
	Raw string
	// Text is the command's text with escapes applied, quotes kept,
	// redirections removed and leading blanks trimmed: what cmd's echo
	// prints.
	Text string
	// Args are the words after quote removal; Args[0] is the name.
	Args      []string
	Redirects []Redirect
}

// Limits of the parser, so a hostile line costs bounded work.
const (
	MaxLine     = 16 << 10 // bytes of a line; the rest is cut
	MaxCommands = 64       // simple commands per line
	MaxArgs     = 256      // words per simple command
)

// SyntaxError is a line the shell refuses: an operator with no command
// on one side, an unterminated quote (sh) or a missing redirection target.
type SyntaxError struct {
	Token  string // the offending operator, or "" at end of line
	Reason string
}

func (e *SyntaxError) Error() string {
	if e.Token == "" {
		return "shell: syntax error: " + e.Reason
	}
	return fmt.Sprintf("shell: syntax error near %q: %s", e.Token, e.Reason)
}

// Parse splits line into simple commands under syn. A line longer than
// MaxLine is cut first; commands past MaxCommands and words past MaxArgs
// are dropped.
func Parse(line string, syn Syntax) ([]Command, error) {
	if len(line) > MaxLine {
		line = line[:MaxLine]
	}
	p := parser{line: line, syn: syn}
	return p.parse()
}

type parser struct {
	line string
	syn  Syntax

	cmds []Command
	cur  Command
	// the word being built
	word   strings.Builder
	inWord bool // a word has started (even an empty quoted one)
	// quoted is set when any part of the word was quoted or escaped, so
	// "2" in `"2">x` is not a descriptor.
	quoted bool
	// text is the current command's Text; wordText is where the current
	// word began in it.
	text     strings.Builder
	wordText int
	start    int // byte offset where the current command began
	pending  *Redirect
	next     Op // operator that will join the next command
}

func (p *parser) parse() ([]Command, error) {
	p.next = First
	s := p.line
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			p.endWord()
			if p.pending == nil {
				// blanks between a redirection and its target vanish with it
				p.text.WriteByte(c)
			}
			i++
		case c == '\n':
			if err := p.endCommand(Seq, i, "newline"); err != nil {
				return nil, err
			}
			i++
			p.start = i
		case c == '^' && p.syn.Caret:
			if i+1 < len(s) {
				p.lit(s[i+1])
				p.quoted = true
				i += 2
			} else {
				i++
			}
		case c == '\\' && p.syn.Backslash:
			if i+1 < len(s) {
				if s[i+1] == '\n' { // line continuation
					i += 2
					continue
				}
				p.lit(s[i+1])
				p.quoted = true
				i += 2
			} else {
				i++
			}
		case c == '"':
			j, err := p.double(i)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '\'' && p.syn.SingleQuote:
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, &SyntaxError{Reason: "unterminated quoted string"}
			}
			p.startWord()
			p.quoted = true
			p.word.WriteString(s[i+1 : i+1+j])
			p.text.WriteString(s[i : i+2+j])
			i += j + 2
		case c == '&':
			if i+1 < len(s) && s[i+1] == '&' {
				if err := p.endCommand(And, i, "&&"); err != nil {
					return nil, err
				}
				i += 2
			} else {
				if err := p.endCommand(Seq, i, "&"); err != nil {
					return nil, err
				}
				i++
			}
			p.start = i
		case c == '|':
			if i+1 < len(s) && s[i+1] == '|' {
				if err := p.endCommand(Or, i, "||"); err != nil {
					return nil, err
				}
				i += 2
			} else {
				if err := p.endCommand(Pipe, i, "|"); err != nil {
					return nil, err
				}
				i++
			}
			p.start = i
		case c == ';' && p.syn.Semicolon:
			if err := p.endCommand(Seq, i, ";"); err != nil {
				return nil, err
			}
			i++
			p.start = i
		case c == '>' || c == '<':
			j, err := p.redirect(i)
			if err != nil {
				return nil, err
			}
			i = j
		default:
			p.lit(c)
			i++
		}
		if len(p.cmds) >= MaxCommands {
			return p.cmds, nil
		}
	}
	if err := p.endCommand(First, len(s), ""); err != nil {
		return nil, err
	}
	return p.cmds, nil
}

func (p *parser) startWord() {
	if !p.inWord {
		p.inWord = true
		p.wordText = p.text.Len()
	}
}

// lit adds one literal byte to the current word and text.
func (p *parser) lit(c byte) {
	p.startWord()
	p.word.WriteByte(c)
	p.text.WriteByte(c)
}

// double reads a "..." string starting at s[i]; cmd lets it run to the end
// of the line, sh wants it closed.
func (p *parser) double(i int) (int, error) {
	s := p.line
	p.startWord()
	p.quoted = true
	p.text.WriteByte('"')
	i++
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			p.text.WriteByte('"')
			return i + 1, nil
		case c == '\\' && p.syn.Backslash && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0:
			p.word.WriteByte(s[i+1])
			p.text.WriteByte(s[i+1])
			i += 2
			continue
		case c == '\n' && !p.syn.Backslash:
			// cmd: a quote never spans lines.
			return i, nil
		}
		p.word.WriteByte(c)
		p.text.WriteByte(c)
		i++
	}
	if p.syn.SingleQuote {
		return 0, &SyntaxError{Reason: "unterminated quoted string"}
	}
	return i, nil
}

// redirect reads an operator '>' '>>' or '<' at s[i], taking a descriptor
// written just before it ("2>") and a duplication after it (">&1").
func (p *parser) redirect(i int) (int, error) {
	s := p.line
	if p.pending != nil {
		return 0, &SyntaxError{Token: s[i : i+1], Reason: "redirection without a target"}
	}
	r := Redirect{FD: 1, Op: ">"}
	if s[i] == '<' {
		r.FD, r.Op = 0, "<"
	}
	// A single digit right before the operator names the descriptor.
	if w := p.word.String(); p.inWord && !p.quoted && len(w) == 1 && isDigits(w) {
		r.FD = int(w[0] - '0')
		p.word.Reset()
		p.inWord = false
		t := p.text.String()[:p.wordText]
		p.text.Reset()
		p.text.WriteString(t)
	} else {
		p.endWord()
	}
	i++
	if r.Op == ">" && i < len(s) && s[i] == '>' {
		r.Op = ">>"
		i++
	}
	if i+1 < len(s) && s[i] == '&' && s[i+1] >= '0' && s[i+1] <= '9' {
		r.Target = s[i : i+2]
		p.cur.Redirects = append(p.cur.Redirects, r)
		return i + 2, nil
	}
	p.pending = &r
	return i, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// endWord finishes the current word: an argument, or the target of a
// pending redirection.
func (p *parser) endWord() {
	if !p.inWord {
		return
	}
	w := p.word.String()
	p.word.Reset()
	p.inWord, p.quoted = false, false
	if p.pending != nil {
		p.pending.Target = w
		p.cur.Redirects = append(p.cur.Redirects, *p.pending)
		p.pending = nil
		t := p.text.String()[:p.wordText]
		p.text.Reset()
		p.text.WriteString(t)
		return
	}
	if len(p.cur.Args) < MaxArgs {
		p.cur.Args = append(p.cur.Args, w)
	}
}

// endCommand closes the current simple command at offset end; op joins
// the next one. An operator with no command before it is an error, except
// that a line may end with ';' or '&' and blank lines are skipped.
func (p *parser) endCommand(op Op, end int, tok string) error {
	p.endWord()
	if p.pending != nil {
		return &SyntaxError{Token: tok, Reason: "redirection without a target"}
	}
	empty := len(p.cur.Args) == 0 && len(p.cur.Redirects) == 0
	if empty {
		switch {
		case tok == "newline":
			// a blank line, or a line break after an operator
		case op == First && (p.next == Seq || p.next == First):
			// the end of an empty line, or of one ending in ';' or '&'
		default:
			t := tok
			if op == First {
				t = p.next.String()
			}
			return &SyntaxError{Token: t, Reason: "missing command"}
		}
		p.resetCommand()
		return nil
	}
	p.cur.Op = p.next
	p.cur.Raw = strings.TrimSpace(p.line[p.start:end])
	p.cur.Text = strings.TrimLeft(p.text.String(), " \t\r")
	p.cmds = append(p.cmds, p.cur)
	p.resetCommand()
	p.next = op
	return nil
}

func (p *parser) resetCommand() {
	p.cur = Command{}
	p.text.Reset()
}
