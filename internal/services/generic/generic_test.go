package generic

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

func newServer(t testing.TB, mutate func(*Config)) service.Handler {
	c := defaultConfig(service.ProfileWindows2000).(*Config)
	c.Wait = 300 * time.Millisecond
	if mutate != nil {
		mutate(c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return (&server{cfg: c}).ForPort(4444)
}

func TestTranscripts(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata", "generic", func() any {
		return newServer(t, func(c *Config) {
			c.Banners = map[int]string{4444: "Microsoft Windows 2000 [Version 5.00.2195]\r\n(C) Copyright 1985-2000 Microsoft Corp.\r\n\r\nC:\\WINNT\\system32>"}
		})
	}, servicetest.TranscriptOptions{})
}

func TestCaptureIsBoundedAndStored(t *testing.T) {
	h := servicetest.Start(t, "generic", newServer(t, func(c *Config) { c.Capture = 100 }), nil)
	input := bytes.Repeat([]byte("A"), 1000)
	h.Exchange(t, input, 5*time.Second)
	evs := h.WaitClosed(t, 1)
	p := servicetest.OfKind(evs, event.KindPayload)
	if len(p) != 1 {
		t.Fatalf("got %d payload events, want 1: %s", len(p), servicetest.Summary(evs))
	}
	d := p[0].Detail.(*event.Payload)
	sum := sha256.Sum256(input[:100])
	if d.Len != 100 || !d.Truncated || d.Sample != hex.EncodeToString(sum[:]) {
		t.Errorf("payload len %d truncated %v sample %s; want 100, true, sha256 of the first 100 bytes", d.Len, d.Truncated, d.Sample)
	}
	if got, ok := h.Samples.Get(d.Sample); !ok || !bytes.Equal(got, input[:100]) {
		t.Errorf("sample store does not hold the first 100 bytes")
	}
}

func TestBannerPerPort(t *testing.T) {
	s := &server{cfg: &Config{Banner: "default\r\n", Banners: map[int]string{21: "220 ready\r\n"}}}
	if got := s.ForPort(21).(*server).banner; got != "220 ready\r\n" {
		t.Errorf("port 21 banner %q", got)
	}
	if got := s.ForPort(99).(*server).banner; got != "default\r\n" {
		t.Errorf("port 99 banner %q", got)
	}
}

func TestSilentClientRecordsNothing(t *testing.T) {
	lim := servicetest.Limits()
	lim.IdleTimeout = 200 * time.Millisecond
	h := servicetest.Start(t, "generic", newServer(t, nil), &lim)
	c := h.Dial(t)
	defer c.Close()
	evs := h.WaitClosed(t, 1)
	if n := len(servicetest.OfKind(evs, event.KindPayload)); n != 0 {
		t.Errorf("silent client produced %d payload events", n)
	}
	if r := servicetest.OfKind(evs, event.KindClose)[0].Detail.(*event.Close).Reason; r != event.ReasonIdle {
		t.Errorf("close reason %q, want %q", r, event.ReasonIdle)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*Config)
	}{
		{"capture zero", func(c *Config) { c.Capture = 0 }},
		{"capture huge", func(c *Config) { c.Capture = 2 << 20 }},
		{"wait zero", func(c *Config) { c.Wait = 0 }},
		{"banner port", func(c *Config) { c.Banners = map[int]string{70000: "x"} }},
	} {
		c := defaultConfig(service.ProfileLinuxIoT).(*Config)
		tc.mut(c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted a bad config", tc.name)
		}
	}
}
