package authpolicy

import (
	"net/netip"
	"strings"
	"testing"
)

func TestPolicy(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	creds, err := ParseCreds([]string{"root:xc3511", "*:letmein"})
	if err != nil {
		t.Fatal(err)
	}
	p := New(creds, 2, nil, 1)
	for i, s := range []struct {
		src        netip.Addr
		user, pass string
		want       bool
	}{
		{a, "root", "xc3511", true},
		{a, "ROOT", "xc3511", false}, // exact names
		{a, "anyone", "letmein", true},
		{b, "u", "1", false}, // b pushes a out (one source remembered)
		{b, "u", "2", true},  // b's second attempt
		{b, "u", "2", true},  // remembered for b
		{a, "u", "2", false}, // a starts again: its first attempt
	} {
		if got := p.Check(s.src, s.user, s.pass); got != s.want {
			t.Errorf("step %d: %s %s:%s = %v, want %v", i, s.src, s.user, s.pass, got, s.want)
		}
	}
	w := New([]Cred{{User: "Administrator"}}, 0, strings.EqualFold, 4)
	if !w.Check(a, "administrator", "") || w.Check(a, "administrator", "x") {
		t.Error("folded names should match in any case, passwords exactly")
	}
	if _, err := ParseCreds([]string{"nocolon"}); err == nil {
		t.Error("a credential without ':' was accepted")
	}
}
