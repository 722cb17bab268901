package smtp

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixedNow is the tests' clock: the day Nimda spread.
var fixedNow = time.Date(2001, 9, 18, 13, 45, 7, 0, time.FixedZone("", 2*3600))

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
	s.now = func() time.Time { return fixedNow }
	s.rnd = counter()
	return s
}

func TestTranscriptsExchange(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata", "smtp", func() any {
		return newServer(t, service.ProfileWindows2000, nil)
	}, servicetest.TranscriptOptions{})
}

func TestTranscriptsPostfix(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata/linux-iot", "smtp", func() any {
		return newServer(t, service.ProfileLinuxIoT, nil)
	}, servicetest.TranscriptOptions{})
}

func mails(evs []*event.Event) []*event.Mail {
	var out []*event.Mail
	for _, e := range servicetest.OfKind(evs, event.KindMail) {
		out = append(out, e.Detail.(*event.Mail))
	}
	return out
}

func uploads(evs []*event.Event) []*event.Upload {
	var out []*event.Upload
	for _, e := range servicetest.OfKind(evs, event.KindUpload) {
		out = append(out, e.Detail.(*event.Upload))
	}
	return out
}
