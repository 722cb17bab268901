package ftp

import (
	"errors"
	"net/netip"
	"testing"
)

var commandCases = []struct {
	line string
	trim bool
	want Command
}{
	{"USER anonymous", true, Command{"USER", "anonymous", "USER anonymous"}},
	{"user anonymous ", true, Command{"USER", "anonymous", "user anonymous "}},
	{"user anonymous ", false, Command{"USER", "anonymous ", "user anonymous "}},
	{"CWD  my dir ", true, Command{"CWD", "my dir", "CWD  my dir "}},
	{"CWD  my dir ", false, Command{"CWD", " my dir ", "CWD  my dir "}},
	{"PWD", true, Command{"PWD", "", "PWD"}},
	{"", true, Command{"", "", ""}},
	{"stor \xff\xf4\xff\xf2x.exe", true, Command{"STOR", "x.exe", "stor x.exe"}},
	{"\xff\xf4\xff\xf2ABOR", true, Command{"ABOR", "", "ABOR"}},
	{"RETR a\xff\xffb", true, Command{"RETR", "a\xffb", "RETR a\xffb"}},
	{"RETR a\xff", true, Command{"RETR", "a", "RETR a"}},
	{"AVERYLONGVERBTHATNEVERENDS x", true, Command{"AVERYLONGVERBTHA", "x", "AVERYLONGVERBTHATNEVERENDS x"}},
	{"sItE dirstyle", true, Command{"SITE", "dirstyle", "sItE dirstyle"}},
	{"\tUSER x", true, Command{"\tUSER", "x", "\tUSER x"}},
	{"é x", true, Command{"é", "x", "é x"}},
}

func TestParseCommand(t *testing.T) {
	for _, tt := range commandCases {
		if got := ParseCommand([]byte(tt.line), tt.trim); got != tt.want {
			t.Errorf("ParseCommand(%q, %v) = %+v, want %+v", tt.line, tt.trim, got, tt.want)
		}
	}
}

var portCases = []struct {
	arg    string
	strict bool
	want   string // "" for an error
}{
	{"127,0,0,1,4,0", true, "127.0.0.1:1024"},
	{"192,0,2,7,255,255", true, "192.0.2.7:65535"},
	{"192,0,2,7,256,1", true, ""},
	{"192,0,2,7,256,1", false, "192.0.2.7:1"}, // IIS keeps each number modulo 256
	{"1,2,3,4,5", true, ""},
	{"1,2,3,4,5,6,7", false, ""},
	{"1,2,3,4,,6", true, ""},
	{"1,2,3,4,,6", false, "1.2.3.4:6"},
	{" 1,2,3,4,5,6", false, ""},
	{"1,2,3,4,5,6x", false, ""},
	{"", false, ""},
	{"-1,2,3,4,5,6", true, ""},
	{"999999999999999999999999,0,0,1,0,80", false, "255.0.0.1:80"}, // 10^24-1 mod 256,
}

func TestParsePORT(t *testing.T) {
	for _, tt := range portCases {
		got, err := ParsePORT(tt.arg, tt.strict)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("ParsePORT(%q, %v) = %v, want an error", tt.arg, tt.strict, got)
		case tt.want != "" && (err != nil || got.String() != tt.want):
			t.Errorf("ParsePORT(%q, %v) = %v, %v; want %s", tt.arg, tt.strict, got, err, tt.want)
		}
	}
}

func TestFormatPASV(t *testing.T) {
	ap := netip.MustParseAddrPort("192.0.2.10:3017")
	if got := FormatPASV(ap); got != "192,0,2,10,11,201" {
		t.Errorf("FormatPASV = %q", got)
	}
	back, err := ParsePORT(FormatPASV(ap), true)
	if err != nil || back != ap {
		t.Errorf("round trip: %v, %v", back, err)
	}
}

var eprtCases = []struct {
	arg  string
	want string
	err  error
}{
	{"|1|127.0.0.1|5000|", "127.0.0.1:5000", nil},
	{"|2|::1|5000|", "[::1]:5000", nil},
	{"!1!192.0.2.1!21!", "192.0.2.1:21", nil},
	{"|1|::1|5000|", "", errSyntax},
	{"|2|127.0.0.1|5000|", "", errSyntax},
	{"|3|x|5000|", "", errProtocol},
	{"|1|127.0.0.1|5000", "", errSyntax},
	{"|1|127.0.0.1|0|", "", errSyntax},
	{"|1|127.0.0.1|70000|", "", errSyntax},
	{"|1|127.0.0.1|+80|", "", errSyntax},
	{"|1|fe80::1%eth0|80|", "", errSyntax},
	{" 1 127.0.0.1 80 ", "", errSyntax},
	{"", "", errSyntax},
}

func TestParseEPRT(t *testing.T) {
	for _, tt := range eprtCases {
		got, err := ParseEPRT(tt.arg)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseEPRT(%q) = %v, %v; want %v", tt.arg, got, err, tt.err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseEPRT(%q) = %v, %v; want %s", tt.arg, got, err, tt.want)
		}
	}
}

var resolveCases = []struct {
	cwd, arg  string
	backslash bool
	want      string
}{
	{"/", "pub", false, "/pub"},
	{"/pub", "../incoming", false, "/incoming"},
	{"/pub", "/", false, "/"},
	{"/", "../../../../etc/passwd", false, "/etc/passwd"},
	{"/pub", `..\..\winnt\system32`, true, "/winnt/system32"},
	{"/pub", `..\..\winnt`, false, `/pub/..\..\winnt`},
	{"/pub", `c:\inetpub\ftproot`, true, "/inetpub/ftproot"},
	{"/pub", "c:", true, "/"},
	{"/", "a//b/./c/", false, "/a/b/c"},
	{"/", "", false, "/"},
	{"/x", ".", false, "/x"},
}

func TestResolve(t *testing.T) {
	for _, tt := range resolveCases {
		if got := Resolve(tt.cwd, tt.arg, tt.backslash); got != tt.want {
			t.Errorf("Resolve(%q, %q, %v) = %q, want %q", tt.cwd, tt.arg, tt.backslash, got, tt.want)
		}
	}
}

func TestSplitListArg(t *testing.T) {
	for _, tt := range []struct{ arg, flags, target string }{
		{"", "", ""},
		{"-la", "la", ""},
		{"-l pub", "l", "pub"},
		{"-a -l  /pub/x", "al", "/pub/x"},
		{"pub -l", "", "pub -l"},
		{"-", "", ""},
	} {
		flags, target := SplitListArg(tt.arg)
		if flags != tt.flags || target != tt.target {
			t.Errorf("SplitListArg(%q) = %q, %q; want %q, %q", tt.arg, flags, target, tt.flags, tt.target)
		}
	}
}

func TestBusyBoxPORT(t *testing.T) {
	for _, tt := range []struct {
		arg  string
		want uint16
		ok   bool
	}{
		{"192,0,2,1,4,1", 1025, true},
		{"anything,at,all,0,80", 80, true},
		{"1,2,3,4,300,1", 0, false},
		{"4,1", 0, false},
		{"", 0, false},
	} {
		got, err := busyboxPORT(tt.arg)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("busyboxPORT(%q) = %d, %v; want %d ok=%v", tt.arg, got, err, tt.want, tt.ok)
		}
	}
}
