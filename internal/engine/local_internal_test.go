package engine

import (
	"net"
	"net/netip"
	"testing"
)

// Only a listener bound to one IPv4 address names the local address of
// the connections it accepts; the others leave it to each connection.
func TestLocalOf(t *testing.T) {
	tests := []struct {
		bind string
		want bool // the listener's address is every connection's
	}{
		{"127.0.0.1:80", true},
		{"192.0.2.7:22", true},
		{"0.0.0.0:80", false},
		{"[::]:80", false},
		{"[::1]:80", false},
		{"[2001:db8::1]:80", false},
		{"[fe80::1%eth0]:80", false},
	}
	for _, tt := range tests {
		ap := netip.MustParseAddrPort(tt.bind)
		got := localOf(ap)
		if tt.want && got != ap || !tt.want && got.IsValid() {
			t.Errorf("localOf(%v) = %v; want the listener's address: %v", ap, got, tt.want)
		}
	}
}

// Where a listener names its connections' local address, it is what
// LocalAddr gives for each.
func TestLocalOfMatchesLocalAddr(t *testing.T) {
	for _, bind := range []string{"127.0.0.1:0", "[::ffff:127.0.0.1]:0", "0.0.0.0:0", "[::1]:0", "[::]:0"} {
		ln, err := net.Listen("tcp", bind)
		if err != nil {
			t.Logf("cannot bind %s here: %v", bind, err)
			continue
		}
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			ln.Close()
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if l := localOf(addrPort(ln.Addr())); l.IsValid() && l != addrPort(s.LocalAddr()) {
			t.Errorf("bound to %s: listener names %v; the connection is to %v", bind, l, addrPort(s.LocalAddr()))
		}
		c.Close()
		s.Close()
		ln.Close()
	}
}
