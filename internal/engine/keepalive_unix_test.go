//go:build unix

package engine

import (
	"log/slog"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/service"
)

// Accepted connections have no TCP keep-alive: the idle timeout ends a
// silent peer, and the imitated servers sent no keep-alive probes.
func TestNoKeepAlive(t *testing.T) {
	e := New(Options{Limits: config.Builtin().Limits, Logger: slog.New(slog.DiscardHandler)})
	defer e.Close()
	addr, err := e.ListenTCP("x", "127.0.0.1:0", service.HandlerFunc(nil))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr.Addr(), addr.Port())))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := e.tcp[0].ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rc, err := s.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var on int
	var serr error
	if err := rc.Control(func(fd uintptr) { on, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	if on != 0 {
		t.Errorf("SO_KEEPALIVE = %d on an accepted connection, want 0", on)
	}
}
