package smtp

import (
	"slices"
	"testing"
)

var commandCases = []struct {
	line string
	want Command
}{
	{"EHLO client.example", Command{"EHLO", "client.example"}},
	{"helo   x  ", Command{"HELO", "x"}},
	{"MAIL FROM:<a@b> SIZE=10", Command{"MAIL", "FROM:<a@b> SIZE=10"}},
	{"QUIT", Command{"QUIT", ""}},
	{"  noop", Command{"NOOP", ""}},
	{"rcpt\tTO:<x@y>", Command{"RCPT", "TO:<x@y>"}},
	{"", Command{"", ""}},
	{"GET / HTTP/1.0", Command{"GET", "/ HTTP/1.0"}},
}

func TestParseCommand(t *testing.T) {
	for _, tt := range commandCases {
		if got := ParseCommand(tt.line); got != tt.want {
			t.Errorf("ParseCommand(%q) = %+v, want %+v", tt.line, got, tt.want)
		}
	}
}

var pathCases = []struct {
	arg, kw string
	want    Path
	err     error
}{
	{"FROM:<alice@example.org>", "FROM", Path{Addr: "alice@example.org"}, nil},
	{"from: <alice@example.org> SIZE=1234 BODY=8BITMIME", "FROM", Path{Addr: "alice@example.org", Params: []string{"SIZE=1234", "BODY=8BITMIME"}}, nil},
	{"FROM:alice@example.org", "FROM", Path{Addr: "alice@example.org"}, nil},
	{"FROM: me", "FROM", Path{Addr: "me"}, nil},
	{"FROM:<>", "FROM", Path{Null: true}, nil},
	{"FROM :<a@b>", "FROM", Path{Addr: "a@b"}, nil},
	{"TO:<@relay.one,@relay.two:bob@far.example>", "TO", Path{Addr: "bob@far.example", Route: "@relay.one,@relay.two:"}, nil},
	{`TO:<"odd>name"@example.org>`, "TO", Path{Addr: `"odd>name"@example.org`}, nil},
	{"TO:<user%far.example@corp.local>", "TO", Path{Addr: "user%far.example@corp.local"}, nil},
	{"FROM <a@b>", "FROM", Path{}, ErrSyntax},
	{"TO:<a@b>", "FROM", Path{}, ErrSyntax},
	{"FROM:", "FROM", Path{}, ErrAddress},
	{"FROM:<a@b", "FROM", Path{}, ErrAddress},
	{"FROM:<a b@c>", "FROM", Path{}, ErrAddress},
	{"FROM:<a\x00@c>", "FROM", Path{}, ErrAddress},
	{"TO:<@relay:>", "TO", Path{}, ErrAddress},
	{"TO:<bob@>", "TO", Path{}, ErrAddress},
}

func TestParsePath(t *testing.T) {
	for _, tt := range pathCases {
		got, err := ParsePath(tt.arg, tt.kw)
		if err != tt.err || got.Addr != tt.want.Addr || got.Route != tt.want.Route || got.Null != tt.want.Null ||
			!slices.Equal(got.Params, tt.want.Params) {
			t.Errorf("ParsePath(%q, %q) = %+v, %v; want %+v, %v", tt.arg, tt.kw, got, err, tt.want, tt.err)
		}
	}
}

func TestPathSize(t *testing.T) {
	for in, want := range map[string]int64{"SIZE=1000": 1000, "size=7": 7, "SIZE=x": -1, "BODY=8BITMIME": -1, "SIZE=-5": -1} {
		if got := (Path{Params: []string{in}}).Size(); got != want {
			t.Errorf("Size of %q = %d, want %d", in, got, want)
		}
	}
}

func TestRelayed(t *testing.T) {
	local := func(d string) bool { return d == "" || d == "corp.local" || d == "webserver.corp.local" }
	tests := []struct {
		addr, route string
		want        bool
	}{
		{"bob@corp.local", "", false},
		{"BOB@Corp.Local", "", false},
		{"postmaster", "", false},
		{"victim@example.net", "", true},
		{"bob@corp.local", "@relay.example:", true},
		{"user%example.net@corp.local", "", true},
		{"user%corp.local@corp.local", "", false},
		{"example.net!user@corp.local", "", true},
		{"user@[192.0.2.1]", "", true},
	}
	for _, tt := range tests {
		if got := Relayed(Path{Addr: tt.addr, Route: tt.route}, local); got != tt.want {
			t.Errorf("Relayed(%q, route %q) = %v, want %v", tt.addr, tt.route, got, tt.want)
		}
	}
}

var bdatCases = []struct {
	arg        string
	size       int64
	last, okay bool
}{
	{"100", 100, false, true},
	{"0 LAST", 0, true, true},
	{"12 last", 12, true, true},
	{"", 0, false, false},
	{"-1", 0, false, false},
	{"10 FIRST", 0, false, false},
	{"1 LAST x", 0, false, false},
}

func TestParseBDAT(t *testing.T) {
	for _, tt := range bdatCases {
		n, last, ok := ParseBDAT(tt.arg)
		if n != tt.size || last != tt.last || ok != tt.okay {
			t.Errorf("ParseBDAT(%q) = %d %v %v, want %d %v %v", tt.arg, n, last, ok, tt.size, tt.last, tt.okay)
		}
	}
}

func TestQueueIDs(t *testing.T) {
	n := uint64(0)
	rnd := func() uint64 { n++; return n * 0x9e3779b97f4a7c15 }
	id := exchangeQueueID("webserver.corp.local", 26, rnd)
	if len(id) != len("WEBSERVER")+13+8+len("@webserver.corp.local") || id[:9] != "WEBSERVER" ||
		id[22:] != "0000001a@webserver.corp.local" {
		t.Errorf("exchange id %q", id)
	}
	for i := 0; i < 100; i++ {
		p := postfixQueueID(rnd)
		if len(p) != 11 {
			t.Fatalf("postfix id %q: want 11 hex digits", p)
		}
		for _, c := range p {
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
				t.Fatalf("postfix id %q: want upper-case hex", p)
			}
		}
	}
}
