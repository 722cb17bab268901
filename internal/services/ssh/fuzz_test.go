package ssh

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// FuzzHello feeds arbitrary client bytes to Hello, whole and in pieces
// (of a size the input decides): it must not fail, must stay within its
// bounds, and must read the same either way.
func FuzzHello(f *testing.F) {
	// Short offers: the fuzzer is slow to mutate inputs of kilobytes (the
	// offers of today's clients); TestHello reads those.
	small := [10]string{"curve25519-sha256,diffie-hellman-group14-sha1", "ssh-ed25519,ssh-rsa", "aes128-ctr", "aes128-ctr",
		"hmac-sha1", "hmac-sha1", "none", "none", "", ""}
	for _, s := range []string{
		"SSH-2.0-libssh2_1.4.3\r\n" + string(framePacket(kexInitPayload(small, false), 4)),
		"SSH-2.0-Go\n" + string(framePacket(kexInitPayload(small, true), 8)),
		"GET / HTTP/1.0\r\n\r\n",
		"SSH-2.0-x\r\n\x00\x00\x00\x05\x09abcd",
		"SSH-2.0-x\r\n\x7f\xff\xff\xff\x04",
		"SSH-2.0-x\r\n" + string(framePacket([]byte{msgKexInit, 1, 2, 3}, 4)),
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var whole, bytewise Hello
		whole.Feed(in)
		whole.End()
		step := 1 + len(in)%13
		for i := 0; i < len(in); i += step {
			bytewise.Feed(in[i:min(i+step, len(in))])
		}
		bytewise.End()
		if fmt.Sprintf("%+v", whole.KexInit) != fmt.Sprintf("%+v", bytewise.KexInit) ||
			whole.Version != bytewise.Version || whole.Malformed != bytewise.Malformed || whole.NotSSH != bytewise.NotSSH {
			t.Fatalf("whole %+v and in pieces of %d %+v differ", whole, step, bytewise)
		}
		if !whole.Done() || len(whole.Version) > MaxVersionLine {
			t.Fatalf("after End: done %v, version of %d bytes", whole.Done(), len(whole.Version))
		}
		if (whole.KexInit != nil) == (whole.Malformed != "") {
			t.Fatalf("kexinit %v with malformed %q", whole.KexInit != nil, whole.Malformed)
		}
		if whole.NotSSH != (whole.Malformed == MalformedNotSSH) {
			t.Fatalf("notSSH %v with malformed %q", whole.NotSSH, whole.Malformed)
		}
		if k := whole.KexInit; k != nil {
			if len(k.HASSH()) != 32 || len(Names(k.Kex)) > maxNames {
				t.Fatalf("hassh %q, %d kex names", k.HASSH(), len(Names(k.Kex)))
			}
		}
	})
}

// FuzzEditor feeds arbitrary typing to the line editor: lines stay within
// their bound.
func FuzzEditor(f *testing.F) {
	for _, s := range []string{"ls\r", "a\r\nb\r\n", "lx\x7fs\r", "\x1b[A\x1b[1;5Dl\x1bOs\r", "rm\x03ls\r", "\x04",
		"uname -a\nid\n", "abcdef\r"} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, echo bool) {
		e := editor{max: 16, echo: echo}
		var out []byte
		for _, c := range in {
			before := len(out)
			end := e.feed(c, &out)
			if len(out)-before > 4 && end != endNone {
				t.Fatalf("echo of one byte: %q", out[before:])
			}
			if !echo && len(out) > 0 {
				t.Fatalf("no pty, yet echo %q", out)
			}
			if end == endEnter {
				if l, _ := e.take(); len(l) > 16 {
					t.Fatalf("line of %d bytes over the bound", len(l))
				}
			}
		}
		if l, _ := e.take(); len(l) > 16 {
			t.Fatalf("line of %d bytes over the bound", len(l))
		}
	})
}

// FuzzSCPSink feeds an arbitrary stream to the scp sink, whole and in
// small pieces: the results agree and files stay within their bound.
func FuzzSCPSink(f *testing.F) {
	for _, s := range []string{"C0755 5 bot.sh\nhello\x00", "T1 0 1 0\nC0644 2 a\nhi\x00",
		"D0755 0 kit\nC0644 1 x\nX\x00E\n", "C0644 10 big\n0123456789\x00", "C06x4 1 a\n", "\x01scp: x\n",
		"C0644 99999999999 a\nxyz"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r1, f1, e1 := scpRun(string(in), len(in)+1, 8)
		r2, f2, e2 := scpRun(string(in), 2, 8)
		if r1 != r2 || fmt.Sprint(f1) != fmt.Sprint(f2) || e1 != e2 {
			t.Fatalf("whole (%q %q %q) and pieces (%q %q %q) differ", r1, f1, e1, r2, f2, e2)
		}
		s := &scpSink{maxFile: 8}
		_, files := s.feed(in)
		for _, fl := range files {
			if len(fl.Data) > 8 || len(fl.Dir) > maxSCPDepth {
				t.Fatalf("file %+v over its bounds", fl)
			}
		}
	})
}

// FuzzSFTP feeds an arbitrary stream to the SFTP server: every answer is
// a well-framed packet, and what it keeps stays within its bounds.
func FuzzSFTP(f *testing.F) {
	const write = 0x02 | 0x08 | 0x10
	f.Add(bytes.Join([][]byte{
		sftpReq(fxpInit, 0, uint32(3)), sftpReq(fxpRealpath, 1, "."),
		sftpReq(fxpOpen, 2, "/tmp/x", uint32(write), uint32(0)),
		sftpReq(fxpWrite, 3, "\x00\x00\x00\x00", uint64(0), "hello"), sftpReq(fxpClose, 4, "\x00\x00\x00\x00"),
	}, nil))
	f.Add(bytes.Join([][]byte{sftpReq(fxpOpendir, 1, "/"), sftpReq(fxpReaddir, 2, "\x00\x00\x00\x00"),
		sftpReq(fxpReaddir, 3, "\x00\x00\x00\x00")}, nil))
	f.Add(sftpReq(fxpSetstat, 1, "/tmp", uint32(attrExtend|attrPerm), uint32(0o777), uint32(1), "a", "b"))
	f.Add(sftpReq(fxpExtended, 1, "posix-rename@openssh.com", "/etc/passwd", "/tmp/p"))
	f.Add(sftpReq(fxpWrite, 1, "\x00\x00\x00\x00", uint64(1<<62), "x"))
	f.Add(binary.BigEndian.AppendUint32(nil, 0))
	f.Fuzz(func(t *testing.T, in []byte) {
		s := newSFTPServer(sftpView{h: testHost()}, 64)
		out, ups, ops := s.feed(in)
		if s.held > 128 {
			t.Fatalf("%d bytes held for 64-byte files", s.held)
		}
		ups = append(ups, s.end()...)
		for len(out) > 0 {
			if len(out) < 5 {
				t.Fatalf("answer cut: % x", out)
			}
			n := binary.BigEndian.Uint32(out)
			if n < 1 || int(n) > len(out)-4 {
				t.Fatalf("answer framed for %d bytes, %d left", n, len(out)-4)
			}
			out = out[4+n:]
		}
		for _, u := range ups {
			if len(u.Data) > 64 {
				t.Fatalf("upload of %d bytes kept", len(u.Data))
			}
		}
		if len(ops) > maxSFTPOps || len(s.handles) > maxSFTPHandles {
			t.Fatalf("%d ops, %d handles", len(ops), len(s.handles))
		}
	})
}
