package pop3

import (
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/service"
)

func TestDefaultsValidate(t *testing.T) {
	for _, p := range service.Profiles {
		if err := DefaultConfig(p).Validate(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		// No default greeting is a known honeypot's.
		if b := newServer(t, p, nil).p.banner; b == "POP3 server ready" || strings.TrimSpace(b) == "" {
			t.Errorf("%s: banner %q", p, b)
		}
	}
	if d := DefaultConfig(service.ProfileWindows2000).Describe(); d != "Microsoft Exchange 2000 POP3 6.0.6249.0" {
		t.Errorf("Describe() = %q", d)
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"kind", func(c *Config) { c.Persona.Kind = "qpopper" }, "persona.kind"},
		{"hostname", func(c *Config) { c.Persona.Hostname = "a b" }, "persona.hostname"},
		{"banner", func(c *Config) { c.Persona.Banner = "ready\r\n+OK" }, "persona.banner"},
		{"sasl", func(c *Config) { c.Persona.SASL = []string{"CRAM-MD5"} }, "persona.sasl"},
		{"date", func(c *Config) { c.Persona.Mailbox[0].Date = "yesterday" }, "mailbox[0].date"},
		{"from", func(c *Config) { c.Persona.Mailbox[1].From = "" }, "mailbox[1]"},
		{"account", func(c *Config) { c.Persona.Accounts = []Account{{}} }, "accounts"},
		{"max_line", func(c *Config) { c.MaxLine = 1 }, "max_line"},
	}
	for _, tt := range tests {
		c := DefaultConfig(service.ProfileWindows2000)
		tt.edit(c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error naming %s", tt.name, err, tt.want)
		}
	}
}

func TestConfigFromYAML(t *testing.T) {
	cfg, err := config.Parse([]byte("profile: linux-iot\nservices:\n  pop3:\n    ports: [1110]\n    persona:\n" +
		"      accounts: [{user: pi, password: raspberry}]\n      mailbox:\n" +
		"        - {from: root, subject: hi, date: \"2025-01-01T00:00:00Z\", body: hello}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cfg.ResolveServices()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Module.Name != "pop3" {
			continue
		}
		c := r.Config.(*Config)
		if c.Ports[0] != 1110 || c.Persona.Kind != KindDovecot || len(c.Persona.Mailbox) != 1 || c.Persona.Accounts[0].User != "pi" {
			t.Errorf("decoded %+v", c)
		}
		return
	}
	t.Fatal("pop3 section not resolved")
}

func TestConfigRejectsUnknownKey(t *testing.T) {
	cfg, err := config.Parse([]byte("services:\n  pop3:\n    persona:\n      greeting: x\n"))
	if err == nil {
		_, err = cfg.ResolveServices()
	}
	if err == nil || !strings.Contains(err.Error(), "greeting") {
		t.Fatalf("got %v, want an unknown-key error naming greeting", err)
	}
}
