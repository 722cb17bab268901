package smtp

import (
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/service"
)

func TestDefaultsValidate(t *testing.T) {
	for _, p := range service.Profiles {
		c := DefaultConfig(p)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		// No default greeting is a known honeypot's.
		s := newServer(t, p, nil)
		if b := s.banner(); b == "Microsoft ESMTP MAIL service ready" || !strings.Contains(b, s.host) {
			t.Errorf("%s: banner %q", p, b)
		}
	}
	if d := DefaultConfig(service.ProfileWindows2000).Describe(); d != "Microsoft Exchange 2000 SMTP 5.0.2195.6713" {
		t.Errorf("Describe() = %q", d)
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"kind", func(c *Config) { c.Persona.Kind = "sendmail" }, "persona.kind"},
		{"hostname", func(c *Config) { c.Persona.Hostname = "mail host" }, "persona.hostname"},
		{"banner line break", func(c *Config) { c.Persona.Banner = "a\r\n250 b" }, "persona.banner"},
		{"starttls", func(c *Config) { c.Persona.Extensions = append(c.Persona.Extensions, "STARTTLS") }, "STARTTLS cannot be served"},
		{"account", func(c *Config) { c.Persona.Accounts = []Account{{Password: "x"}} }, "accounts"},
		{"max_line", func(c *Config) { c.MaxLine = 10 }, "max_line"},
		{"max_message", func(c *Config) { c.MaxMessage = 1 << 30 }, "max_message"},
		{"mime", func(c *Config) { c.MIME.MaxParts = 0 }, "mime"},
		{"auth_delay", func(c *Config) { c.AuthDelay = -1 }, "auth_delay"},
	}
	for _, tt := range tests {
		c := DefaultConfig(service.ProfileWindows2000)
		tt.edit(c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error naming %s", tt.name, err, tt.want)
		}
	}
}

// The section decodes strictly over the profile defaults.
func TestConfigFromYAML(t *testing.T) {
	cfg, err := config.Parse([]byte("services:\n  smtp:\n    ports: [2525]\n    max_message: 1MiB\n    persona:\n" +
		"      hostname: mx1.example.com\n      domains: [example.com]\n      accounts: [{user: info, password: info}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cfg.ResolveServices()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Module.Name != "smtp" {
			continue
		}
		c := r.Config.(*Config)
		if c.Ports[0] != 2525 || c.MaxMessage != 1<<20 || c.Persona.Hostname != "mx1.example.com" ||
			c.Persona.Kind != KindExchange || len(c.Persona.Accounts) != 1 || c.Persona.Accounts[0].User != "info" {
			t.Errorf("decoded %+v", c)
		}
		return
	}
	t.Fatal("smtp section not resolved")
}

func TestConfigRejectsUnknownKey(t *testing.T) {
	cfg, err := config.Parse([]byte("services:\n  smtp:\n    persona:\n      greeting: x\n"))
	if err == nil {
		_, err = cfg.ResolveServices()
	}
	if err == nil || !strings.Contains(err.Error(), "greeting") {
		t.Fatalf("got %v, want an unknown-key error naming greeting", err)
	}
}
