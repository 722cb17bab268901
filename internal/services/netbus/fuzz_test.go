package netbus

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// seeds are client lines from the tables and transcripts.
var seeds = []string{
	"GetInfo", "Password;1;", "Password;1; ", "Password;0;se;cret", "Password;0;netbus",
	`UploadFile;Chainsaw.exe;6144;\`, "UploadFile;x.exe;-5", `StartApp;\Chainsaw.exe`,
	"ServerPwd;s3cret", "URL;http://198.51.100.7/x.exe", "GetSetup", "GetACL", "GetApps",
	"GetVolume", "ServerClose", ";;;", "", "Password", "Message;0;hi|there",
}

// FuzzParseCommand: the fields joined back with ";" give the line.
func FuzzParseCommand(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c := ParseCommand(line)
		back := c.Name
		if c.Args != nil {
			back += ";" + strings.Join(c.Args, ";")
		}
		if back != line {
			t.Fatalf("ParseCommand(%q) = %#v, which joins back to %q", line, c, back)
		}
		if strings.Contains(c.Name, ";") {
			t.Fatalf("name %q holds a separator", c.Name)
		}
		if got := c.Rest(0); c.Args != nil && got != strings.Join(c.Args, ";") {
			t.Fatalf("Rest(0) = %q", got)
		}
	})
}

// FuzzSession feeds any lines to an open and a protected session: replies
// never break the framing, only Password lines log in, and a protected
// server answers nothing but Access before the right password.
func FuzzSession(f *testing.F) {
	f.Add(strings.Join(seeds, "\n"), false)
	f.Add("GetInfo\nPassword;0;letmein\nGetInfo", true)
	f.Add("Password;1;x\nGetSetup\nServerPwd;a;b\nGetSetup", true)
	f.Fuzz(func(t *testing.T, script string, protected bool) {
		h := testHost()
		if protected {
			h.Password = "letmein"
		}
		s := NewSession(h, func() int { return 1 })
		for _, line := range strings.Split(script, "\n") {
			authed := s.Authed()
			r := s.Handle(line)
			if strings.ContainsAny(r.Reply, "\r") {
				t.Fatalf("%q: reply %q holds a line end", line, r.Reply)
			}
			isPassword := ParseCommand(line).Name == "Password"
			if (r.Login != nil) != isPassword {
				t.Fatalf("%q: login %+v", line, r.Login)
			}
			if r.Login != nil && r.Reply != "Access;1" && r.Reply != "Access;0" {
				t.Fatalf("%q: login answered %q", line, r.Reply)
			}
			if r.Login != nil && r.Login.Success != (r.Reply == "Access;1") {
				t.Fatalf("%q: login %+v answered %q", line, r.Login, r.Reply)
			}
			if !authed && !isPassword && (r.Reply != "" || r.Upload != nil || r.Close || r.URL != "") {
				t.Fatalf("%q before the password: %+v", line, r)
			}
			if r.Close {
				return
			}
		}
	})
}

// FuzzReadLine reads any input split at any size: lines never exceed the
// bound, never hold a line end, and lines plus what was skipped account
// for the whole input.
func FuzzReadLine(f *testing.F) {
	f.Add([]byte("Password;1;\rGetInfo\r"), uint8(100), uint8(3))
	f.Add([]byte("GetInfo\r\nX\n"), uint8(4), uint8(1))
	f.Add([]byte("abcdefghij\rz\r"), uint8(4), uint8(2))
	f.Fuzz(func(t *testing.T, input []byte, max, chunk uint8) {
		m := int(max)%64 + 1
		rd := service.NewReader(&chunked{data: bytes.Clone(input), n: int(chunk)%32 + 1}, 16)
		var total int
		for calls := 0; ; calls++ {
			if calls > len(input)+1 {
				t.Fatalf("no progress after %d calls", calls)
			}
			line, err := ReadLine(rd, m, 8)
			if len(line) > m {
				t.Fatalf("line of %d bytes; bound %d", len(line), m)
			}
			if bytes.ContainsAny(line, "\r\n") {
				t.Fatalf("line %q holds a line end", line)
			}
			total += len(line)
			if err != nil && !errors.Is(err, errLineTooLong) {
				break
			}
		}
		if total > len(input) {
			t.Fatalf("read %d bytes of lines from %d bytes of input", total, len(input))
		}
	})
}

// FuzzServe sends any bytes to the control port: the server answers with
// its banner and "\r"-ended replies only.
func FuzzServe(f *testing.F) {
	f.Add([]byte("Password;1;\rGetInfo\rGetSetup\rGetACL\rGetApps\rGetVolume\r"))
	f.Add([]byte("UploadFile;Chainsaw.exe;6144;\\\rStartApp;\\Chainsaw.exe\r"))
	f.Add([]byte("help\r\nGetInfo\r\n"))
	f.Add(bytes.Repeat([]byte{0xff}, 300))
	h := servicetest.Start(f, "netbus", newServer(f, nil).ForPort(ControlPort), nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		out := h.Exchange(t, in, 5*time.Second)
		if !bytes.HasPrefix(out, []byte("NetBus 1.60 \r")) {
			t.Fatalf("output %q does not start with the banner", out)
		}
		if len(out) > 0 && out[len(out)-1] != '\r' {
			t.Fatalf("output %q does not end a reply with \\r", out)
		}
	})
}
