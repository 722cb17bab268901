package telnet

// editor turns the client's data bytes into lines the way a terminal's
// line discipline does: a line ends at CR (CR LF and CR NUL are one end),
// or at a lone LF; backspace and DEL erase, ^U erases the line, ^C
// interrupts it, ^D on an empty line is end of input, NUL is dropped. A
// line longer than max is cut there: it is handed over at once, marked
// cut, and the rest of it is dropped up to its end. It is a pure state
// machine: bytes in, echo bytes and line ends out.
type editor struct {
	max     int
	buf     []byte
	skip    bool // a CR ended the last line: an LF or NUL right after belongs to it
	discard bool // the line went past max: drop up to its end
}

// lineEnd says what a byte completed.
type lineEnd uint8

const (
	endNone  lineEnd = iota
	endEnter         // a line (Enter)
	endCut           // a line cut at max bytes
	endIntr          // ^C: the line was abandoned
	endEOF           // ^D on an empty line
)

// feed takes one data byte; echo gets what a terminal would echo for it.
func (e *editor) feed(c byte, echo *[]byte) lineEnd {
	if e.skip {
		e.skip = false
		if c == '\n' || c == 0 {
			return endNone
		}
	}
	if e.discard {
		if c == '\r' || c == '\n' {
			e.discard = false
			e.skip = c == '\r'
		}
		return endNone
	}
	switch c {
	case '\r':
		e.skip = true
		*echo = append(*echo, '\r', '\n')
		return endEnter
	case '\n':
		*echo = append(*echo, '\r', '\n')
		return endEnter
	case 0:
		return endNone
	case 0x08, 0x7f:
		if len(e.buf) > 0 {
			e.buf = e.buf[:len(e.buf)-1]
			*echo = append(*echo, '\b', ' ', '\b')
		}
		return endNone
	case 0x15: // ^U
		for range e.buf {
			*echo = append(*echo, '\b', ' ', '\b')
		}
		e.buf = e.buf[:0]
		return endNone
	case 0x03: // ^C
		e.buf = e.buf[:0]
		*echo = append(*echo, '^', 'C', '\r', '\n')
		return endIntr
	case 0x04: // ^D
		if len(e.buf) == 0 {
			return endEOF
		}
		return endNone
	}
	if len(e.buf) >= e.max {
		e.discard = true
		return endCut
	}
	e.buf = append(e.buf, c)
	if c >= 0x20 || c == '\t' {
		*echo = append(*echo, c)
	}
	return endNone
}

// take returns the line so far and starts a new one.
func (e *editor) take() string {
	s := string(e.buf)
	e.buf = e.buf[:0]
	return s
}
