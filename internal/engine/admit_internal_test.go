package engine

import (
	"log/slog"
	"net/netip"
	"testing"

	"github.com/smallpot/smallpot/internal/config"
)

// The per-source count follows admit and release, whichever session of a
// source ends first, and a source with no session left is forgotten; its
// memory serves the next new source.
func TestSourceCounts(t *testing.T) {
	lim := config.Builtin().Limits
	lim.MaxSessions, lim.MaxSessionsPerSource = 10, 2
	e := New(Options{Limits: lim, Logger: slog.New(slog.DiscardHandler)})
	session := func(src string) *tcpSession {
		s := new(tcpSession)
		s.sess.Remote = netip.MustParseAddrPort(src)
		return s
	}
	a1, a2, a3 := session("192.0.2.1:1000"), session("192.0.2.1:1001"), session("192.0.2.1:1002")
	b1 := session("[2001:db8::1]:1000")
	if !e.admit(a1) || !e.admit(a2) || !e.admit(b1) {
		t.Fatal("sessions under the caps refused")
	}
	if e.admit(a3) {
		t.Fatal("third session of a source admitted; the cap is 2")
	}
	if a1.src != a2.src || a1.src == b1.src || a1.src.n != 2 || b1.src.n != 1 {
		t.Fatalf("sources %p %p %p, counts %d %d; want a1 and a2 to share one of 2", a1.src, a2.src, b1.src, a1.src.n, b1.src.n)
	}
	e.release(a1) // the first one ends first
	if !e.admit(a3) {
		t.Fatal("session refused after one of its source ended")
	}
	e.release(a2)
	e.release(a3)
	if _, ok := e.perSource[a1.sess.Remote.Addr()]; ok || len(e.spare) != 1 {
		t.Fatalf("source without sessions kept (%v), %d spare; want it forgotten and spare", e.perSource, len(e.spare))
	}
	c1 := session("198.51.100.7:1")
	if !e.admit(c1) || c1.src != a2.src || c1.src.addr != c1.sess.Remote.Addr() || c1.src.n != 1 || len(e.spare) != 0 {
		t.Errorf("new source: %+v; want the spare one, for its address, counting 1", *c1.src)
	}
	e.release(b1)
	e.release(c1)
	if len(e.perSource) != 0 || e.active.Load() != 0 || e.live != nil {
		t.Errorf("after every release: %d sources, %d active, live %v; want none", len(e.perSource), e.active.Load(), e.live)
	}
}
