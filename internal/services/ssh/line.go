package ssh

// lineEnd says how a typed line ended.
type lineEnd int

const (
	endNone  lineEnd = iota // the line goes on
	endEnter                // CR or LF
	endIntr                 // ^C: the line is dropped
	endEOF                  // ^D on an empty line
)

// editor turns a shell session's input into lines, as a terminal's line
// discipline does: with echo (a pty) it echoes what is typed, erases with
// backspace and ^U, drops a line at ^C, ends input at ^D on an empty line
// and swallows terminal escape sequences (arrow keys); without it, bytes
// are taken as they come and LF ends a line. A line is bounded by max; the
// rest of it is dropped and cut is set.
type editor struct {
	max  int
	echo bool

	line  []byte
	cut   bool
	gotCR bool
	esc   int // 0 none, 1 after ESC, 2 inside CSI, 3 after ESC O
}

// feed reads one byte; what it echoes is appended to *out.
func (e *editor) feed(c byte, out *[]byte) lineEnd {
	if e.gotCR {
		e.gotCR = false
		if c == '\n' || c == 0 {
			return endNone
		}
	}
	switch e.esc {
	case 1:
		switch c {
		case '[':
			e.esc = 2
		case 'O':
			e.esc = 3
		default:
			e.esc = 0
		}
		return endNone
	case 2:
		if c >= 0x40 && c <= 0x7e {
			e.esc = 0
		}
		return endNone
	case 3:
		e.esc = 0
		return endNone
	}
	if !e.echo {
		// No terminal: only LF (and CR, which interactive clients send)
		// end a line.
		switch c {
		case '\n':
			return endEnter
		case '\r':
			e.gotCR = true
			return endEnter
		}
		e.add(c, nil)
		return endNone
	}
	switch c {
	case '\r', '\n':
		e.gotCR = c == '\r'
		*out = append(*out, '\r', '\n')
		return endEnter
	case 0x7f, 0x08:
		if len(e.line) > 0 {
			e.line = e.line[:len(e.line)-1]
			*out = append(*out, '\b', ' ', '\b')
		}
	case 0x15: // ^U
		for range e.line {
			*out = append(*out, '\b', ' ', '\b')
		}
		e.line = e.line[:0]
	case 0x03: // ^C
		*out = append(*out, '^', 'C', '\r', '\n')
		e.line, e.cut = e.line[:0], false
		return endIntr
	case 0x04: // ^D
		if len(e.line) == 0 {
			return endEOF
		}
	case 0x1b:
		e.esc = 1
	default:
		if c < 0x20 && c != '\t' {
			return endNone
		}
		e.add(c, out)
	}
	return endNone
}

func (e *editor) add(c byte, out *[]byte) {
	if len(e.line) >= e.max {
		e.cut = true
		return
	}
	e.line = append(e.line, c)
	if out != nil {
		*out = append(*out, c)
	}
}

// take returns the line typed so far and starts a new one.
func (e *editor) take() (string, bool) {
	s, cut := string(e.line), e.cut
	e.line, e.cut = e.line[:0], false
	return s, cut
}

// pending reports whether a line was begun.
func (e *editor) pending() bool { return len(e.line) > 0 }
