package pop3

import (
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// counter is a deterministic stand-in for the random source.
func counter() func() uint64 {
	var mu sync.Mutex
	n := uint64(0)
	return func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		n++
		return n * 0x9e3779b97f4a7c15
	}
}

func newServer(t testing.TB, profile string, edit func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig(profile)
	cfg.AuthDelay = 0
	if edit != nil {
		edit(cfg)
	}
	s, err := New(cfg, service.Env{Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	s.rnd = counter()
	return s
}

func TestTranscriptsExchange(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata", "pop3", func() any {
		return newServer(t, service.ProfileWindows2000, nil)
	}, servicetest.TranscriptOptions{})
}

func TestTranscriptsDovecot(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata/linux-iot", "pop3", func() any {
		return newServer(t, service.ProfileLinuxIoT, nil)
	}, servicetest.TranscriptOptions{})
}
