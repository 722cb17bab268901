package telnet

import (
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/service"
)

// fixedNow is the clock of the tests.
var fixedNow = time.Date(2016, 10, 21, 11, 10, 0, 0, time.UTC)

// newServer builds a server for profile with the test's edits; delays
// are off unless the edit sets them.
func newServer(t testing.TB, profile string, edit func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig(profile)
	cfg.NegotiationWait, cfg.FailDelay = 0, 0
	if edit != nil {
		edit(cfg)
	}
	s, err := New(cfg, service.Env{Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return fixedNow }
	return s
}
