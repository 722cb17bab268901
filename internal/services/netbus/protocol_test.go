package netbus

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/service"
)

func TestParseCommand(t *testing.T) {
	for _, tt := range []struct {
		line string
		want Command
	}{
		{"GetInfo", Command{Name: "GetInfo"}},
		{"Password;1;", Command{Name: "Password", Args: []string{"1", ""}}},
		{"Password;0;se;cret", Command{Name: "Password", Args: []string{"0", "se", "cret"}}},
		{`UploadFile;Chainsaw.exe;6144;\`, Command{Name: "UploadFile", Args: []string{"Chainsaw.exe", "6144", `\`}}},
		{";", Command{Name: "", Args: []string{""}}},
		{"", Command{}},
	} {
		if got := ParseCommand(tt.line); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseCommand(%q) = %#v; want %#v", tt.line, got, tt.want)
		}
	}
	c := ParseCommand("Password;0;se;cret")
	if got := c.Rest(1); got != "se;cret" {
		t.Errorf("Rest(1) = %q; want %q", got, "se;cret")
	}
	if got := c.Rest(5); got != "" {
		t.Errorf("Rest(5) = %q; want empty", got)
	}
	if got := c.Arg(7); got != "" {
		t.Errorf("Arg(7) = %q; want empty", got)
	}
}

func testHost() *Host {
	return &Host{Version: "1.60", SuperLogin: true, Port: 12345, ProgramPath: `C:\WINNT\Patch.exe`,
		RestartPersistent: true, LoginID: "Administrator", ACL: []string{"127.0.0.1"},
		Applications: []string{"Untitled - Notepad", "Internet Information Services"}, Volume: [3]int{1, 2, 3}}
}

// step is one line given to a session and what it must answer.
type step struct {
	line   string
	reply  string
	known  bool
	login  *Login
	upload *Upload
	url    string
	close  bool
}

func runSession(t *testing.T, h *Host, clients int, steps []step) {
	t.Helper()
	s := NewSession(h, func() int { return clients })
	for i, st := range steps {
		r := s.Handle(st.line)
		if r.Reply != st.reply || r.Known != st.known || !reflect.DeepEqual(r.Login, st.login) ||
			!reflect.DeepEqual(r.Upload, st.upload) || r.URL != st.url || r.Close != st.close {
			t.Fatalf("step %d %q: got %+v (login %+v upload %+v); want reply %q known %v login %+v upload %+v url %q close %v",
				i, st.line, r, r.Login, r.Upload, st.reply, st.known, st.login, st.upload, st.url, st.close)
		}
	}
}

func TestSessionOpen(t *testing.T) {
	h := testHost()
	s := NewSession(h, func() int { return 1 })
	if got := s.Banner(); got != "NetBus 1.60 " {
		t.Errorf("banner %q; want %q", got, "NetBus 1.60 ")
	}
	if !s.Authed() {
		t.Errorf("a server without password must let clients in at once")
	}
	runSession(t, h, 2, []step{
		{line: "GetInfo", known: true, reply: `Info;Program Path: C:\WINNT\Patch.exe|Restart persistent: Yes|Login ID: Administrator|Clients connected to this host: 2`},
		{line: "GetSetup", known: true, reply: "Setup;12345;0;;;;"},
		{line: "GetACL", known: true, reply: "ACLList;127.0.0.1|"},
		{line: "GetApps", known: true, reply: "AppsList;Untitled - Notepad|Internet Information Services|"},
		{line: "GetVolume", known: true, reply: "Volume;1;2;3"},
		{line: "Password;0;", known: true, reply: "Access;1", login: &Login{Success: true}},
		{line: "Password;0;guess", known: true, reply: "Access;0", login: &Login{Password: "guess"}},
		{line: "Password;1;guess", known: true, reply: "Access;1", login: &Login{Password: "guess", Super: true, Success: true}},
		{line: `UploadFile;Chainsaw.exe;6144;\`, known: true, reply: "UploadReady", upload: &Upload{Name: "Chainsaw.exe", Size: 6144, Dir: `\`}},
		{line: "UploadFile;x.exe;lots", known: true, reply: "UploadReady", upload: &Upload{Name: "x.exe", Size: -1}},
		{line: `StartApp;\Chainsaw.exe`, known: true},
		{line: "Eject;1", known: true},
		{line: "URL;http://example.com/x", known: true, url: "http://example.com/x"},
		{line: "ServerPwd;s3cret", known: true},
		{line: "GetSetup", known: true, reply: "Setup;12345;0;s3cret;;;"},
		{line: "getinfo", known: false},
		{line: "Hello there", known: false},
		{line: "ServerClose", known: true, close: true},
	})
	if h.Password != "" {
		t.Errorf("ServerPwd changed the persona's password to %q; it must hold for one session only", h.Password)
	}
}

func TestSessionProtected(t *testing.T) {
	h := testHost()
	h.Password = "netbus"
	s := NewSession(h, func() int { return 1 })
	if got := s.Banner(); got != "NetBus 1.60 x" {
		t.Errorf("banner %q; want %q", got, "NetBus 1.60 x")
	}
	if s.Authed() {
		t.Errorf("a protected server let a client in before its password")
	}
	runSession(t, h, 1, []step{
		{line: "GetInfo", known: true},
		{line: "Whatever", known: false},
		{line: "Password;0;", known: true, reply: "Access;0", login: &Login{}},
		{line: "Password;0;wrong", known: true, reply: "Access;0", login: &Login{Password: "wrong"}},
		{line: "GetSetup", known: true},
		{line: "Password;0;netbus", known: true, reply: "Access;1", login: &Login{Password: "netbus", Success: true}},
		{line: "GetSetup", known: true, reply: "Setup;12345;0;netbus;;;"},
	})
	// The super-login hole of NetBus 1.60: any password with the bit set.
	runSession(t, h, 1, []step{
		{line: "Password;1;anything", known: true, reply: "Access;1", login: &Login{Password: "anything", Super: true, Success: true}},
		{line: "GetVolume", known: true, reply: "Volume;1;2;3"},
	})
	h.SuperLogin = false
	runSession(t, h, 1, []step{
		{line: "Password;1;anything", known: true, reply: "Access;0", login: &Login{Password: "anything", Super: true}},
	})
	h.AcceptAny = true
	runSession(t, h, 1, []step{
		{line: "Password;0;anything", known: true, reply: "Access;1", login: &Login{Password: "anything", Success: true}},
	})
}

// nmap's netbus-auth-bypass logs in twice with the super-login bit: an
// empty password, then a space. NetBus 1.60 takes both.
func TestSessionAuthBypass(t *testing.T) {
	h := testHost()
	runSession(t, h, 1, []step{
		{line: "Password;1;", known: true, reply: "Access;1", login: &Login{Super: true, Success: true}},
		{line: "Password;1; ", known: true, reply: "Access;1", login: &Login{Password: " ", Super: true, Success: true}},
	})
	h.SuperLogin = false
	runSession(t, h, 1, []step{
		{line: "Password;1;", known: true, reply: "Access;1", login: &Login{Super: true, Success: true}},
		{line: "Password;1; ", known: true, reply: "Access;0", login: &Login{Password: " ", Super: true}},
	})
}

func TestReadLine(t *testing.T) {
	type want struct {
		line string
		err  error
	}
	for _, tt := range []struct {
		name  string
		input string
		max   int
		skip  int
		want  []want
	}{
		{"cr", "Password;1;\rGetInfo\r", 100, 100, []want{{"Password;1;", nil}, {"GetInfo", nil}, {"", io.EOF}}},
		{"crlf gives an empty line", "GetInfo\r\nX\n", 100, 100, []want{{"GetInfo", nil}, {"", nil}, {"X", nil}, {"", io.EOF}}},
		{"unterminated", "GetInfo", 100, 100, []want{{"GetInfo", io.EOF}}},
		{"exactly max", "abcd\rz\r", 4, 100, []want{{"abcd", nil}, {"z", nil}}},
		{"too long, rest skipped", "abcdefgh\rz\r", 4, 100, []want{{"abcd", errLineTooLong}, {"z", nil}}},
		{"too long past skip", "abcdefghij\rz\r", 4, 2, []want{{"abcd", errLineTooLong}, {"hij", nil}, {"z", nil}}},
		{"too long at eof", "abcdefgh", 4, 100, []want{{"abcd", io.EOF}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{1, 3, 1000} {
				rd := service.NewReader(&chunked{data: []byte(tt.input), n: chunk}, 16)
				for i, w := range tt.want {
					got, err := ReadLine(rd, tt.max, tt.skip)
					if string(got) != w.line || !errors.Is(err, w.err) || (w.err == nil && err != nil) {
						t.Fatalf("chunk %d read %d: got %q, %v; want %q, %v", chunk, i, got, err, w.line, w.err)
					}
				}
			}
		})
	}
}

// chunked hands out its data at most n bytes per Read, as a network does.
type chunked struct {
	data []byte
	n    int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.n, len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func TestList(t *testing.T) {
	if got := list(nil); got != "" {
		t.Errorf("list(nil) = %q; want empty", got)
	}
	if got := list([]string{"a", "b c"}); got != "a|b c|" {
		t.Errorf("list = %q; want %q", got, "a|b c|")
	}
	if got := strings.Count(list([]string{"", ""}), "|"); got != 2 {
		t.Errorf("list of two empty entries has %d separators; want 2", got)
	}
}
