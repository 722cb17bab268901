package ssh

import (
	"strconv"
	"strings"
)

// The scp sink ("scp -t TARGET", the side that receives) speaks the old
// rcp protocol over the channel: the sink answers each control line with
// a zero byte; "C0644 SIZE NAME" announces a file, whose SIZE bytes and a
// zero byte follow; "D0755 0 NAME" enters a directory, "E" leaves it and
// "T..." gives times. A line starting with 1 or 2 is a warning or error
// from the source. The sink answers trouble with "\x02scp: ...\n".

// Bounds of the scp sink.
const (
	maxSCPLine  = 1024 // one control line
	maxSCPDepth = 16   // nested directories
)

// scpFile is one file received.
type scpFile struct {
	Dir  []string // directories entered above it, as named
	Name string   // as named by the client
	Mode string   // octal, as sent
	Size int64    // as announced
	Got  int64    // bytes received
	Data []byte   // up to the bound
	Cut  bool     // more was sent than kept
}

// scpSink is the sink's state machine: bytes in, replies and files out.
type scpSink struct {
	maxFile int64

	line   []byte
	cur    *scpFile
	left   int64 // bytes of the current file still to come
	ack    bool  // waiting for the zero byte after a file's data
	dirs   []string
	failed string // a fatal protocol error, once seen
}

// start is what the sink sends when it starts: it is ready.
func (s *scpSink) start() []byte { return []byte{0} }

// feed reads client bytes; it returns the bytes to answer with and the
// files completed. Once failed is set it reads nothing more.
func (s *scpSink) feed(p []byte) (reply []byte, files []scpFile) {
	for len(p) > 0 && s.failed == "" {
		switch {
		case s.cur != nil && s.left > 0:
			n := int64(len(p))
			if n > s.left {
				n = s.left
			}
			keep := min(n, s.maxFile-int64(len(s.cur.Data)))
			if keep > 0 {
				s.cur.Data = append(s.cur.Data, p[:keep]...)
			}
			if keep < n {
				s.cur.Cut = true
			}
			s.left -= n
			s.cur.Got += n
			p = p[n:]
			if s.left == 0 {
				s.ack = true
			}
		case s.cur != nil && s.ack:
			// The source's status byte after the data: 0 is fine; we
			// answer with our own and the file is complete.
			p = p[1:]
			files = append(files, *s.cur)
			s.cur, s.ack = nil, false
			reply = append(reply, 0)
		default:
			i := indexByte(p, '\n')
			if i < 0 {
				if len(s.line)+len(p) > maxSCPLine {
					s.fail("protocol error: control line too long")
					reply = append(reply, s.failReply()...)
					return reply, files
				}
				s.line = append(s.line, p...)
				return reply, files
			}
			if len(s.line)+i > maxSCPLine {
				s.fail("protocol error: control line too long")
				reply = append(reply, s.failReply()...)
				return reply, files
			}
			s.line = append(s.line, p[:i]...)
			p = p[i+1:]
			line := string(s.line)
			s.line = s.line[:0]
			reply = append(reply, s.control(line)...)
		}
	}
	return reply, files
}

func indexByte(p []byte, c byte) int {
	for i, b := range p {
		if b == c {
			return i
		}
	}
	return -1
}

// control answers one control line.
func (s *scpSink) control(line string) []byte {
	if line == "" {
		s.fail("protocol error: expected control record")
		return s.failReply()
	}
	switch line[0] {
	case 'C', 'D':
		mode, size, name, bad := parseSCPHeader(line[1:])
		if bad != "" {
			s.fail("protocol error: " + bad)
			return s.failReply()
		}
		if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
			s.fail("error: unexpected filename: " + name)
			return s.failReply()
		}
		if line[0] == 'D' {
			if len(s.dirs) >= maxSCPDepth {
				s.fail("protocol error: directories nested too deep")
				return s.failReply()
			}
			s.dirs = append(s.dirs, name)
			return []byte{0}
		}
		s.cur = &scpFile{Dir: append([]string(nil), s.dirs...), Name: name, Mode: mode, Size: size}
		s.left = size
		s.ack = size == 0
		return []byte{0}
	case 'E':
		if len(s.dirs) > 0 {
			s.dirs = s.dirs[:len(s.dirs)-1]
		}
		return []byte{0}
	case 'T':
		return []byte{0}
	case 1, 2:
		// A warning or error from the source: nothing to answer.
		return nil
	}
	s.fail("protocol error: expected control record")
	return s.failReply()
}

// parseSCPHeader reads "0644 SIZE NAME"; bad names what is wrong, in
// scp's words.
func parseSCPHeader(s string) (mode string, size int64, name, bad string) {
	if len(s) < 5 || s[4] != ' ' {
		return "", 0, "", "bad mode"
	}
	mode = s[:4]
	for _, c := range mode {
		if c < '0' || c > '7' {
			return "", 0, "", "bad mode"
		}
	}
	sz, rest, found := strings.Cut(s[5:], " ")
	if !found {
		return "", 0, "", "size not delimited"
	}
	n, err := strconv.ParseInt(sz, 10, 64)
	if err != nil || n < 0 {
		return "", 0, "", "size out of range"
	}
	return mode, n, rest, ""
}

func (s *scpSink) fail(msg string) {
	if s.failed == "" {
		s.failed = msg
	}
}

func (s *scpSink) failReply() []byte {
	return []byte("\x02scp: " + s.failed + "\n")
}

// pending returns the file being received when the channel ended early.
func (s *scpSink) pending() (scpFile, bool) {
	if s.cur == nil {
		return scpFile{}, false
	}
	f := *s.cur
	f.Cut = true
	return f, true
}
