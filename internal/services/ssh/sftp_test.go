package ssh

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/shell"
)

// sftpReq builds a client packet: type, id, then fields (string, []byte,
// uint32, uint64).
func sftpReq(typ byte, id uint32, fields ...any) []byte {
	b := []byte{typ}
	if typ != fxpInit {
		b = binary.BigEndian.AppendUint32(b, id)
	}
	for _, f := range fields {
		switch v := f.(type) {
		case string:
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case []byte:
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case uint32:
			b = binary.BigEndian.AppendUint32(b, v)
		case uint64:
			b = binary.BigEndian.AppendUint64(b, v)
		}
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// sftpDescribe sums up the server's answers, one line per packet.
func sftpDescribe(t *testing.T, out []byte) []string {
	t.Helper()
	var lines []string
	for len(out) > 0 {
		if len(out) < 5 {
			t.Fatalf("short answer % x", out)
		}
		n := binary.BigEndian.Uint32(out)
		p := out[4 : 4+n]
		out = out[4+n:]
		r := &reader{b: p[1:]}
		switch p[0] {
		case fxpVersion:
			lines = append(lines, fmt.Sprintf("VERSION %d", r.u32()))
			continue
		}
		id := r.u32()
		switch p[0] {
		case fxpStatus:
			code := r.u32()
			lines = append(lines, fmt.Sprintf("%d STATUS %d %s", id, code, r.str()))
		case fxpHandle:
			lines = append(lines, fmt.Sprintf("%d HANDLE %x", id, r.str()))
		case fxpData:
			lines = append(lines, fmt.Sprintf("%d DATA %q", id, r.bytes()))
		case fxpName:
			n := r.u32()
			var names []string
			for range n {
				names = append(names, r.str())
				long := r.str()
				r.attrs()
				if n == 1 && long != names[0] {
					names[0] += " (" + long + ")"
				}
			}
			lines = append(lines, fmt.Sprintf("%d NAME %s", id, strings.Join(names, ",")))
		case fxpAttrs:
			flags := r.u32()
			size := r.u64()
			r.u32()
			r.u32()
			perm := r.u32()
			lines = append(lines, fmt.Sprintf("%d ATTRS %x size=%d mode=%o", id, flags, size, perm))
		case fxpExtendedReply:
			lines = append(lines, fmt.Sprintf("%d EXTENDED_REPLY %d bytes", id, len(r.b)))
		default:
			lines = append(lines, fmt.Sprintf("%d type %d", id, p[0]))
		}
	}
	return lines
}

func testHost() *host {
	fs := shell.NewFS(shell.LinuxTree(shell.LinuxOptions{}))
	return &host{fs: fs, home: []string{"root"}, now: func() time.Time { return fixedNow }}
}

func TestSFTPSession(t *testing.T) {
	h := testHost()
	s := newSFTPServer(sftpView{h: h}, 8)
	const write = 0x02 | 0x08 | 0x10 // WRITE|CREAT|TRUNC
	steps := []struct {
		in   []byte
		want []string
		ups  []string
		ops  []string
	}{
		{sftpReq(fxpInit, 0, uint32(3)), []string{"VERSION 3"}, nil, nil},
		{sftpReq(fxpRealpath, 1, "."), []string{"1 NAME /root"}, nil, nil},
		{sftpReq(fxpRealpath, 2, "../tmp/./x"), []string{"2 NAME /tmp/x"}, nil, nil},
		{sftpReq(fxpStat, 3, "/tmp/x"), []string{"3 STATUS 2 No such file"}, nil, nil},
		{sftpReq(fxpOpen, 4, "/tmp/x", uint32(write), uint32(0)), []string{"4 HANDLE 00000000"}, nil, []string{"put /tmp/x"}},
		{append(sftpReq(fxpWrite, 5, "\x00\x00\x00\x00", uint64(0), "hello"),
			sftpReq(fxpWrite, 6, "\x00\x00\x00\x00", uint64(5), " world")...),
			[]string{"5 STATUS 0 Success", "6 STATUS 0 Success"}, nil, nil},
		{sftpReq(fxpFstat, 7, "\x00\x00\x00\x00"), []string{"7 ATTRS f size=11 mode=100644"}, nil, nil},
		{sftpReq(fxpClose, 8, "\x00\x00\x00\x00"), []string{"8 STATUS 0 Success"},
			[]string{`/tmp/x "hello wo" 11 cut=true`}, nil},
		{sftpReq(fxpStat, 9, "/tmp/x"), []string{"9 ATTRS f size=8 mode=100644"}, nil, nil},
		{sftpReq(fxpSetstat, 10, "/tmp/x", uint32(attrPerm), uint32(0o755)), []string{"10 STATUS 0 Success"}, nil,
			[]string{"chmod 755 /tmp/x"}},
		{sftpReq(fxpOpendir, 11, "/tmp"), []string{"11 HANDLE 00000001"}, nil, []string{"ls /tmp"}},
		{sftpReq(fxpReaddir, 12, "\x00\x00\x00\x01"), []string{"12 NAME .,..,x"}, nil, nil},
		{sftpReq(fxpReaddir, 13, "\x00\x00\x00\x01"), []string{"13 STATUS 1 End of file"}, nil, nil},
		{sftpReq(fxpOpen, 14, "/etc/passwd", uint32(1), uint32(0)), []string{"14 HANDLE 00000002"}, nil,
			[]string{"get /etc/passwd"}},
		{sftpReq(fxpRead, 15, "\x00\x00\x00\x02", uint64(0), uint32(5)), []string{`15 DATA "root:"`}, nil, nil},
		{sftpReq(fxpRead, 16, "\x00\x00\x00\x02", uint64(1<<20), uint32(5)), []string{"16 STATUS 1 End of file"}, nil, nil},
		{sftpReq(fxpOpen, 17, "/nope/x", uint32(write), uint32(0)), []string{"17 STATUS 2 No such file"}, nil,
			[]string{"put /nope/x"}},
		{sftpReq(fxpMkdir, 18, "/tmp/d", uint32(0)), []string{"18 STATUS 0 Success"}, nil, []string{"mkdir /tmp/d"}},
		{sftpReq(fxpExtended, 19, "posix-rename@openssh.com", "/tmp/x", "/tmp/d/y"), []string{"19 STATUS 0 Success"},
			nil, []string{"rename /tmp/x /tmp/d/y"}},
		{sftpReq(fxpStat, 20, "/tmp/d/y"), []string{"20 ATTRS f size=8 mode=100755"}, nil, nil},
		{sftpReq(fxpRemove, 21, "/tmp/d/y"), []string{"21 STATUS 0 Success"}, nil, []string{"rm /tmp/d/y"}},
		{sftpReq(fxpExtended, 22, "statvfs@openssh.com", "/"), []string{"22 EXTENDED_REPLY 88 bytes"}, nil, nil},
		{sftpReq(fxpExtended, 23, "copy-data"), []string{"23 STATUS 8 Operation unsupported"}, nil, nil},
		{sftpReq(77, 24), []string{"24 STATUS 8 Operation unsupported"}, nil, nil},
		{sftpReq(fxpOpen, 25, "/tmp/z"), []string{"25 STATUS 5 Bad message"}, nil, nil},
		{sftpReq(fxpOpen, 26, "/tmp/open", uint32(write), uint32(0)), []string{"26 HANDLE 00000003"}, nil,
			[]string{"put /tmp/open"}},
		{sftpReq(fxpWrite, 27, "\x00\x00\x00\x03", uint64(2), "ab"), []string{"27 STATUS 0 Success"}, nil, nil},
	}
	for i, st := range steps {
		out, ups, ops := s.feed(st.in)
		got := sftpDescribe(t, out)
		var gotUps []string
		for _, u := range ups {
			gotUps = append(gotUps, fmt.Sprintf("%s %q %d cut=%v", u.Path, u.Data, u.Size, u.Cut))
		}
		if fmt.Sprint(got) != fmt.Sprint(st.want) || fmt.Sprint(gotUps) != fmt.Sprint(st.ups) ||
			fmt.Sprint(ops) != fmt.Sprint(st.ops) {
			t.Errorf("step %d: got %q uploads %q ops %q; want %q %q %q", i, got, gotUps, ops, st.want, st.ups, st.ops)
		}
	}
	// A file still open when the session ends is handed over too.
	ups := s.end()
	if len(ups) != 1 || ups[0].Path != "/tmp/open" || string(ups[0].Data) != "\x00\x00ab" {
		t.Errorf("end() got %+v; want /tmp/open with its bytes", ups)
	}
}

func TestSFTPFraming(t *testing.T) {
	h := testHost()
	s := newSFTPServer(sftpView{h: h}, 1<<10)
	// Packets split anywhere are read whole.
	in := append(sftpReq(fxpInit, 0, uint32(3)), sftpReq(fxpRealpath, 1, "/tmp")...)
	var out []byte
	for i := range in {
		o, _, _ := s.feed(in[i : i+1])
		out = append(out, o...)
	}
	if got := fmt.Sprint(sftpDescribe(t, out)); got != "[VERSION 3 1 NAME /tmp]" {
		t.Errorf("split packets got %s", got)
	}
	// A packet over the bound ends the stream.
	big := binary.BigEndian.AppendUint32(nil, maxSFTPPacket+1)
	if o, _, _ := s.feed(big); len(o) != 0 || !s.failed {
		t.Errorf("oversized packet: got %q failed=%v; want no answer and failed", o, s.failed)
	}
	if o, _, _ := s.feed(sftpReq(fxpRealpath, 2, "/")); o != nil {
		t.Errorf("after failure got %q; want nothing", o)
	}
}

func TestSFTPWindowsPaths(t *testing.T) {
	fs := shell.NewFS(shell.Win2000Tree(shell.WinOptions{}))
	h := &host{fs: fs, windows: true, home: []string{"C:", "Documents and Settings", "Administrator"},
		now: func() time.Time { return fixedNow }}
	_ = fs.Mkdir(h.home, fixedNow)
	v := sftpView{h: h}
	for _, tc := range []struct{ in, want string }{
		{".", "/C:/Documents and Settings/Administrator"},
		{"x.exe", "/C:/Documents and Settings/Administrator/x.exe"},
		{"/C:/WINNT/system32", "/C:/WINNT/system32"},
		{`C:\Inetpub\scripts`, "/C:/Inetpub/scripts"},
		{"/", "/C:"},
		{"../..", "/C:"},
	} {
		if got := v.Abs(tc.in); got != tc.want {
			t.Errorf("Abs(%q) got %q; want %q", tc.in, got, tc.want)
		}
	}
	if fi, ok := v.Stat("/C:/WINNT/system32/cmd.exe"); !ok || fi.Size != 236304 {
		t.Errorf("Stat(cmd.exe) got %+v %v; want the fake disk's file", fi, ok)
	}
	if err := v.Write("/C:/Inetpub/scripts/nc.exe", []byte("MZ")); err != nil {
		t.Errorf("Write: %v", err)
	}
	if d, ok := v.Read("/c:/inetpub/SCRIPTS/NC.EXE"); !ok || string(d) != "MZ" {
		t.Errorf("Read back (any case) got %q %v", d, ok)
	}
}

func TestSFTPWriteBounds(t *testing.T) {
	s := newSFTPServer(sftpView{h: testHost()}, 1024)
	const write = 0x02 | 0x08 | 0x10
	open := func(id uint32, name string) string {
		out, _, _ := s.feed(sftpReq(fxpOpen, id, name, uint32(write), uint32(0)))
		r := &reader{b: out[5:]}
		r.u32()
		return r.str()
	}
	// A write far past the end keeps nothing but is counted.
	far := open(1, "/tmp/far")
	s.feed(sftpReq(fxpWrite, 2, far, uint64(1<<30), "x"))
	if s.held != 0 || s.handles[far].size != 1<<30+1 || !s.handles[far].cut {
		t.Errorf("far write: held %d, size %d, cut %v", s.held, s.handles[far].size, s.handles[far].cut)
	}
	// Open files together hold at most twice the bound.
	var hs []string
	for i := range 3 {
		h := open(uint32(10+i), fmt.Sprintf("/tmp/f%d", i))
		s.feed(sftpReq(fxpWrite, uint32(20+i), h, uint64(0), strings.Repeat("a", 1024)))
		hs = append(hs, h)
	}
	if s.held != 2048 || !s.handles[hs[2]].cut || len(s.handles[hs[2]].data) != 0 {
		t.Errorf("held %d; third file cut %v with %d bytes; want 2048 held and the third cut",
			s.held, s.handles[hs[2]].cut, len(s.handles[hs[2]].data))
	}
	_, ups, _ := s.feed(sftpReq(fxpClose, 30, hs[0]))
	if len(ups) != 1 || len(ups[0].Data) != 1024 || s.held != 1024 {
		t.Errorf("close: %d uploads, held %d afterwards", len(ups), s.held)
	}
}
