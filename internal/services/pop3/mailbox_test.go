package pop3

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/service"
)

var commandCases = []struct {
	line string
	want Command
}{
	{"USER administrator", Command{"USER", []string{"administrator"}, "administrator"}},
	{"top 1  10", Command{"TOP", []string{"1", "10"}, "1  10"}},
	{"QUIT", Command{"QUIT", nil, ""}},
	{"  stat ", Command{"STAT", nil, ""}},
	{"PASS\tsecret word", Command{"PASS", []string{"secret", "word"}, "secret word"}},
	{"", Command{"", nil, ""}},
}

func TestParseCommand(t *testing.T) {
	for _, tt := range commandCases {
		got := ParseCommand(tt.line)
		if got.Verb != tt.want.Verb || got.Arg != tt.want.Arg || !slices.Equal(got.Args, tt.want.Args) {
			t.Errorf("ParseCommand(%q) = %+v, want %+v", tt.line, got, tt.want)
		}
	}
}

func TestParseNumber(t *testing.T) {
	for in, want := range map[string]int{"1": 1, "007": 7, "99999999": 99999999} {
		if n, ok := ParseNumber(in); !ok || n != want {
			t.Errorf("ParseNumber(%q) = %d, %v; want %d", in, n, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "+1", "1x", "1234567890", "0x10"} {
		if _, ok := ParseNumber(in); ok {
			t.Errorf("ParseNumber(%q) accepted", in)
		}
	}
}

func TestTopAndDotStuff(t *testing.T) {
	msg := []byte("Subject: x\r\nFrom: y\r\n\r\n.one\r\ntwo\r\n..three\r\n")
	tests := []struct {
		lines int
		want  string
	}{
		{0, "Subject: x\r\nFrom: y\r\n\r\n"},
		{1, "Subject: x\r\nFrom: y\r\n\r\n.one\r\n"},
		{3, string(msg)},
		{99, string(msg)},
	}
	for _, tt := range tests {
		if got := Top(msg, tt.lines); string(got) != tt.want {
			t.Errorf("Top(%d) = %q, want %q", tt.lines, got, tt.want)
		}
	}
	if got, want := string(DotStuff(msg)), "Subject: x\r\nFrom: y\r\n\r\n..one\r\ntwo\r\n...three\r\n.\r\n"; got != want {
		t.Errorf("DotStuff = %q, want %q", got, want)
	}
	if got := string(DotStuff([]byte(".no newline"))); got != "..no newline\r\n.\r\n" {
		t.Errorf("DotStuff without final newline = %q", got)
	}
	if got := string(DotStuff(nil)); got != ".\r\n" {
		t.Errorf("DotStuff(nil) = %q", got)
	}
}

func TestMailbox(t *testing.T) {
	s := newServer(t, service.ProfileWindows2000, nil)
	mb := s.p.render("administrator")
	n, octets := mb.Stat()
	if n != 3 || mb.Len() != 3 {
		t.Fatalf("stat %d messages, len %d; want 3", n, mb.Len())
	}
	sum := 0
	for i := 1; i <= 3; i++ {
		m, why := mb.Get(i)
		if why != 0 || !bytes.HasSuffix(m, []byte("\r\n")) || bytes.Contains(bytes.ReplaceAll(m, []byte("\r\n"), nil), []byte("\n")) {
			t.Errorf("message %d: why %d, bare LF or no final CRLF: %q", i, why, m)
		}
		if !bytes.Contains(m, []byte("\r\nTo: administrator@corp.local\r\n")) {
			t.Errorf("message %d not addressed to the user", i)
		}
		sum += len(m)
	}
	if sum != octets {
		t.Errorf("stat says %d octets, messages hold %d", octets, sum)
	}
	if why := mb.Delete(2); why != 0 {
		t.Fatal(why)
	}
	if _, why := mb.Get(2); why != Deleted || mb.Delete(2) != Deleted || mb.Delete(4) != NoSuchMessage || !mb.AnyDeleted() {
		t.Error("message 2 not deleted as it should be")
	}
	if n, _ := mb.Stat(); n != 2 {
		t.Errorf("stat after DELE: %d", n)
	}
	mb.Reset()
	if n, _ := mb.Stat(); n != 3 || mb.AnyDeleted() {
		t.Errorf("stat after RSET: %d", n)
	}
	// The same mailbox, byte for byte, in every session; another
	// user's has other ids.
	again := s.p.render("administrator")
	other := s.p.render("backup")
	for i := 1; i <= 3; i++ {
		a, _ := mb.Get(i)
		b, _ := again.Get(i)
		if !bytes.Equal(a, b) || mb.UID(i) != again.UID(i) {
			t.Errorf("message %d differs between sessions", i)
		}
		if mb.UID(i) == other.UID(i) {
			t.Errorf("message %d has the same UID in two mailboxes", i)
		}
		if len(mb.UID(i)) != 32 {
			t.Errorf("Exchange UID %q: want 32 characters", mb.UID(i))
		}
	}
	if mb.UID(1)[4:] != mb.UID(2)[4:] || mb.UID(1) == mb.UID(2) {
		t.Errorf("UIDs %q %q: want a counter then the mailbox's id", mb.UID(1), mb.UID(2))
	}
	d := newServer(t, service.ProfileLinuxIoT, nil).p.render("admin")
	if u := d.UID(2); len(u) != 16 || !strings.HasPrefix(u, "00000002") || u[8:] != d.UID(1)[8:] {
		t.Errorf("Dovecot UIDs %q %q: want %%08Xu%%08Xv", d.UID(1), u)
	}
}
