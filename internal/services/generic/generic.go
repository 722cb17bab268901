// Package generic is Smallpot's catch-all TCP service: on a configurable
// list of ports it optionally sends a banner and records the first bytes
// of every connection — the seed's "netcat on port 80", made safe: the
// read is bounded in size and time and nothing is ever answered from
// what arrives.
package generic

import (
	"context"
	"fmt"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
)

func init() {
	service.Register(service.Module{
		Name:    "generic",
		Summary: "records the first bytes of any connection on a list of ports",
		Config:  defaultConfig,
		New: func(c service.Config, _ service.Env) (any, error) {
			return &server{cfg: c.(*Config)}, nil
		},
	})
}

// Config is the generic service's section.
type Config struct {
	service.Base `yaml:",inline"`
	// Banner is sent on connect on every port without a banner of its own
	// ("" sends nothing: the service waits for the client to speak).
	Banner string `yaml:"banner"`
	// Banners maps a port (as configured, before any offset) to its banner.
	Banners map[int]string `yaml:"banners"`
	// Capture is how many bytes of each connection are kept.
	Capture config.ByteSize `yaml:"capture"`
	// Wait is how long the service listens after the first byte before
	// closing; the engine's idle timeout bounds the wait for that byte.
	Wait time.Duration `yaml:"wait"`
}

// Describe names the persona for the start-up table.
func (c *Config) Describe() string {
	if c.Banner == "" && len(c.Banners) == 0 {
		return "silent listener"
	}
	return "banner listener"
}

// Validate implements service.Validator.
func (c *Config) Validate() error {
	if c.Capture < 1 || c.Capture > 1<<20 {
		return fmt.Errorf("generic: capture must be between 1 byte and 1MiB")
	}
	if c.Wait <= 0 {
		return fmt.Errorf("generic: wait must be positive")
	}
	for p := range c.Banners {
		if p < 1 || p > 65535 {
			return fmt.Errorf("generic: banners: port %d out of range", p)
		}
	}
	return nil
}

func defaultConfig(profile string) service.Config {
	c := &Config{Base: service.Base{Enabled: true}, Capture: 4 << 10, Wait: 10 * time.Second}
	switch profile {
	case service.ProfileLinuxIoT:
		// Ports today's bots knock on that no other service here fakes:
		// Android debug bridge, Huawei HG532 and Realtek SDK exploit ports.
		c.Ports = []int{5555, 37215, 52869}
	default:
		// The backdoor shell port of Blaster-era worms and common
		// alternate web and proxy ports.
		c.Ports = []int{4444, 8000, 8888}
	}
	return c
}

type server struct {
	cfg    *Config
	banner string
}

var (
	_ service.Handler     = (*server)(nil)
	_ service.PortHandler = (*server)(nil)
)

// ForPort returns the handler for one configured port, with its banner.
func (g *server) ForPort(port int) service.Handler {
	banner := g.cfg.Banner
	if b, ok := g.cfg.Banners[port]; ok {
		banner = b
	}
	return &server{cfg: g.cfg, banner: banner}
}

// ServeTCP sends the banner, if any, then records what arrives.
func (g *server) ServeTCP(ctx context.Context, s *service.Session) {
	if g.banner != "" {
		if _, err := s.WriteString(g.banner); err != nil {
			return
		}
	}
	max := int(g.cfg.Capture)
	buf := make([]byte, 0, min(max, 4096))
	rd := s.Reader()
	// The first byte waits up to the engine's idle timeout; after it the
	// client has g.cfg.Wait to say what it has to say.
	first, err := rd.ReadByte()
	if err != nil {
		return
	}
	buf = append(buf, first)
	_ = s.Conn().SetReadDeadline(time.Now().Add(g.cfg.Wait))
	chunk := make([]byte, 1024)
	truncated := false
	for ctx.Err() == nil {
		n, err := rd.Read(chunk)
		room := max - len(buf)
		if n > room {
			n, truncated = room, true
		}
		buf = append(buf, chunk[:n]...)
		if err != nil || truncated {
			break
		}
		if len(buf) >= max {
			// Full: find out whether more was coming, without keeping it.
			if m, _ := rd.Read(chunk[:1]); m > 0 {
				truncated = true
			}
			break
		}
	}
	sha, err := s.SaveSample(buf, "generic.payload", "")
	if err != nil {
		s.Log.Warn("sample not stored", "service", s.Service, "session", s.SessionID, "err", err)
		sha = ""
	}
	s.Emit(&event.Payload{Len: int64(len(buf)), Data: buf, Truncated: truncated, Sample: sha})
}
