package subseven

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// seeds are commands from the tables and transcripts.
var seeds = []string{
	"PIN", "PWDsecret", "RTFChainsaw.exe", "FMXChainsaw.exe", "SFT046144", "GMI", "GHI", "GDR",
	`RSHC:\`, "RPL", "OCD", "MW:14You've been hackedZJXXhave a nice day", "URLhttp://198.51.100.7/",
	"UFUhttp://198.51.100.7/new.exe", "RTD", "SVT0", "STA1", "CSLON", "NPD_PZD", "RMS", "CLS", "UPS",
	"RTE", "FMS", "FMD", "GET / HTTP/1.0", "", "PW", "\xff\xfe\x00",
}

// FuzzNextCommand: the command and the rest give back the input, less
// the one "\n" (and its "\r") between them.
func FuzzNextCommand(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s + "\n" + s))
	}
	f.Add([]byte("PIN\r\nGMI"))
	f.Fuzz(func(t *testing.T, in []byte) {
		cmd, rest := NextCommand(in)
		if bytes.IndexByte(cmd, '\n') >= 0 {
			t.Fatalf("command %q holds a newline", cmd)
		}
		switch {
		case bytes.Equal(cmd, in) && rest == nil:
		case bytes.Equal(append(append(bytes.Clone(cmd), '\n'), rest...), in),
			bytes.Equal(append(append(bytes.Clone(cmd), '\r', '\n'), rest...), in):
		default:
			t.Fatalf("NextCommand(%q) = %q, %q", in, cmd, rest)
		}
		c := ParseCommand(cmd)
		if c.Code+c.Arg != string(cmd) || len(c.Code) > 3 || (c.Arg != "" && len(c.Code) != 3) {
			t.Fatalf("ParseCommand(%q) = %+v", cmd, c)
		}
	})
}

// FuzzParseUploadHeader: a header parsed is "SFT", its width and that
// many digits, every shorter prefix of it needs more, and a bad header
// stays bad whatever follows.
func FuzzParseUploadHeader(f *testing.F) {
	for _, s := range []string{"SFT046144", "SFT046144MZ", "SFT010", "SFT1812345678901234567", "SFT0", "SFTx4", "PIN", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		size, n, err := ParseUploadHeader(in)
		switch {
		case err == nil:
			w, werr := strconv.Atoi(string(in[3:5]))
			if string(in[:3]) != "SFT" || werr != nil || n != 5+w || n > len(in) {
				t.Fatalf("ParseUploadHeader(%q) = %d, %d: not a header", in, size, n)
			}
			if v, perr := strconv.ParseInt(string(in[5:n]), 10, 64); perr != nil || v != size || size < 0 {
				t.Fatalf("ParseUploadHeader(%q) = %d; the digits say %d", in, size, v)
			}
			for i := range n {
				if _, _, err := ParseUploadHeader(in[:i]); !errors.Is(err, errNeedMore) {
					t.Fatalf("prefix %q of header %q: %v; want errNeedMore", in[:i], in[:n], err)
				}
			}
		case errors.Is(err, errBadHeader):
			if _, _, err := ParseUploadHeader(append(bytes.Clone(in), "0000000000000000000000"...)); !errors.Is(err, errBadHeader) {
				t.Fatalf("%q is a bad header but becomes %v with more digits", in, err)
			}
		case errors.Is(err, errNeedMore):
			if len(in) >= 5+maxSizeDigits {
				t.Fatalf("%q (%d bytes) still needs more", in, len(in))
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzSession gives any commands to an open and a protected session: a
// protected one answers nothing but the password prompt's texts before
// the right password, only PWD logs in, and an upload is always answered
// TID.
func FuzzSession(f *testing.F) {
	f.Add(strings.Join(seeds, "\n"), false)
	f.Add("PIN\nPWDwrong\nPIN", true)
	f.Add("PWDs3v3n\nGMI\nRTFx\nCLS\nPIN", true)
	f.Fuzz(func(t *testing.T, script string, protected bool) {
		h := testHost()
		if protected {
			h.Password = "s3v3n"
		}
		s := newSession(h)
		for _, line := range strings.Split(script, "\n") {
			authed := s.authed
			r := s.Handle([]byte(line))
			isPWD := strings.HasPrefix(line, "PWD")
			if (r.Login != nil) != isPWD {
				t.Fatalf("%q: login %+v", line, r.Login)
			}
			if !authed {
				switch {
				case !isPWD && r.Reply != "error reading password...":
					t.Fatalf("%q before the password: %q", line, r.Reply)
				case isPWD && r.Login.Success != strings.HasPrefix(r.Reply, "connected. "):
					t.Fatalf("%q: login %+v answered %q", line, r.Login, r.Reply)
				case r.Upload != nil || r.URL != "":
					t.Fatalf("%q before the password: %+v", line, r)
				}
			}
			if r.Upload != nil && r.Reply != "TID" {
				t.Fatalf("%q: upload answered %q", line, r.Reply)
			}
			if r.Close {
				return
			}
		}
	})
}

// FuzzServe sends any bytes to the server, which greets first whatever
// follows and neither hangs nor fails on any of it.
func FuzzServe(f *testing.F) {
	f.Add([]byte("RTFChainsaw.exe\nSFT0210MZ\x90\x00\x03\x00\x00\x00\x04\x00FMXChainsaw.exe"))
	f.Add([]byte("PIN\nGMI\nGHI\nGDR\nRSHC:\\\nRPL\nOCD\n"))
	f.Add([]byte("UPS\nSFT015hello\nPIN"))
	f.Add([]byte("RTFx\nSFT9"))
	h := servicetest.Start(f, "subseven", newServer(f, func(c *Config) { c.UploadWait = 2 * time.Second }), nil)
	greeting := []byte("connected. time/date: 14:52.33 - October 12, 2000, Thursday, version: M.U.I.E. 2.1")
	f.Fuzz(func(t *testing.T, in []byte) {
		out := h.Exchange(t, in, 5*time.Second)
		if !bytes.HasPrefix(out, greeting) {
			t.Fatalf("output %q does not start with the greeting", out)
		}
	})
}
