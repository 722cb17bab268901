package config_test

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/service"
)

// A throwaway protocol, registered for these tests only.
type fakePersona struct {
	Banner  string            `yaml:"banner"`
	Version string            `yaml:"version"`
	Users   map[string]string `yaml:"users"`
}

type fakeConfig struct {
	service.Base `yaml:",inline"`
	Persona      fakePersona `yaml:"persona"`
	MaxLine      int         `yaml:"max_line"`
}

func (c *fakeConfig) Validate() error {
	if c.MaxLine < 1 {
		return errors.New("max_line must be at least 1")
	}
	return nil
}

func fakeDefaults(profile string) service.Config {
	c := &fakeConfig{Base: service.Base{Enabled: true, Ports: []int{21}}, MaxLine: 512,
		Persona: fakePersona{Banner: "Microsoft FTP Service", Version: "5.0", Users: map[string]string{"anonymous": ""}}}
	if profile == service.ProfileLinuxIoT {
		c.Persona = fakePersona{Banner: "BusyBox ftpd", Version: "1.31", Users: map[string]string{"root": "root"}}
	}
	return c
}

func init() {
	service.Register(service.Module{
		Name: "fakeftp", Summary: "test module", Config: fakeDefaults,
		New: func(service.Config, service.Env) (any, error) { return nil, nil },
	})
	service.Register(service.Module{
		Name: "fakeecho", Summary: "test module with a bare Base",
		Config: func(string) service.Config { return &service.Base{Enabled: true, Ports: []int{7}} },
		New:    func(service.Config, service.Env) (any, error) { return nil, nil },
	})
}

func resolve(t *testing.T, doc string) (map[string]service.Config, error) {
	t.Helper()
	c, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	rs, err := c.ResolveServices()
	if err != nil {
		return nil, err
	}
	out := map[string]service.Config{}
	for _, r := range rs {
		if r.Config == nil || r.Module.Name == "" {
			t.Fatalf("got resolved %+v; want a module and its config", r)
		}
		out[r.Module.Name] = r.Config
	}
	return out, nil
}

func TestResolveServices(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want *fakeConfig
	}{
		{"defaults of the default profile", "", fakeDefaults(service.ProfileWindows2000).(*fakeConfig)},
		{"defaults of the other profile", "profile: linux-iot\n", fakeDefaults(service.ProfileLinuxIoT).(*fakeConfig)},
		{"persona field overrides the profile's", "profile: linux-iot\nservices:\n  fakeftp:\n    persona:\n      banner: My FTP\n",
			&fakeConfig{Base: service.Base{Enabled: true, Ports: []int{21}}, MaxLine: 512,
				Persona: fakePersona{Banner: "My FTP", Version: "1.31", Users: map[string]string{"root": "root"}}}},
		{"map entries merge", "services:\n  fakeftp:\n    persona:\n      users: {admin: admin}\n",
			&fakeConfig{Base: service.Base{Enabled: true, Ports: []int{21}}, MaxLine: 512,
				Persona: fakePersona{Banner: "Microsoft FTP Service", Version: "5.0",
					Users: map[string]string{"anonymous": "", "admin": "admin"}}}},
		{"base keys", "services:\n  fakeftp:\n    enabled: false\n    ports: [2121, 21]\n    udp_ports: [69]\n    reply_factor: 2\n",
			&fakeConfig{Base: service.Base{Enabled: false, Ports: []int{2121, 21}, UDPPorts: []int{69}, ReplyFactor: 2}, MaxLine: 512,
				Persona: fakePersona{Banner: "Microsoft FTP Service", Version: "5.0", Users: map[string]string{"anonymous": ""}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolve(t, tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			fc, ok := got["fakeftp"].(*fakeConfig)
			if !ok {
				t.Fatalf("got %T for fakeftp; want *fakeConfig", got["fakeftp"])
			}
			if !equalYAML(t, fc, tt.want) {
				t.Errorf("got %+v; want %+v", fc, tt.want)
			}
			if b, ok := got["fakeecho"].(*service.Base); !ok || !b.Enabled || len(b.Ports) != 1 || b.Ports[0] != 7 {
				t.Errorf("got fakeecho %+v; want its defaults", got["fakeecho"])
			}
		})
	}
}

func equalYAML(t *testing.T, a, b any) bool {
	t.Helper()
	x, err1 := yaml.Marshal(a)
	y, err2 := yaml.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return string(x) == string(y)
}

// Each resolution starts from fresh defaults: one file's overrides never
// leak into another's.
func TestResolveServicesFreshDefaults(t *testing.T) {
	if _, err := resolve(t, "services:\n  fakeftp:\n    persona:\n      users: {x: y}\n"); err != nil {
		t.Fatal(err)
	}
	got, err := resolve(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if users := got["fakeftp"].(*fakeConfig).Persona.Users; len(users) != 1 {
		t.Fatalf("got users %v; want the defaults only", users)
	}
}

func TestResolveServicesErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"unknown service", "services:\n  fakeftp: {}\n  gopher:\n    enabled: true\n",
			[]string{"line 4", `unknown service "gopher"`, "fakeecho", "fakeftp"}},
		{"unknown key in a section", "services:\n  fakeftp:\n    enabled: true\n    prots: [21]\n",
			[]string{"line 4", `"prots"`, "services.fakeftp", "ports"}},
		{"unknown key in a persona", "services:\n  fakeftp:\n    persona:\n      baner: x\n",
			[]string{"line 4", `"baner"`, "services.fakeftp.persona", "banner"}},
		{"unknown key in a bare base", "services:\n  fakeecho:\n    persona: {}\n",
			[]string{"line 3", `"persona"`, "services.fakeecho"}},
		{"wrong type", "services:\n  fakeftp:\n    max_line: many\n", []string{"services.fakeftp", "many"}},
		{"port out of range", "services:\n  fakeftp:\n    ports: [0]\n", []string{"services.fakeftp", "port 0"}},
		{"udp port out of range", "services:\n  fakeecho:\n    udp_ports: [70000]\n", []string{"services.fakeecho", "port 70000"}},
		{"service's own Validate", "services:\n  fakeftp:\n    max_line: 0\n", []string{"services.fakeftp", "max_line must be at least 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolve(t, tt.doc)
			if err == nil {
				t.Fatalf("got no error; want one naming %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q; want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestEffective(t *testing.T) {
	c, err := config.Parse([]byte("profile: linux-iot\nservices:\n  fakeftp:\n    persona:\n      banner: My FTP\n"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Effective()
	if err != nil {
		t.Fatal(err)
	}
	// What Effective prints parses back to the same configuration.
	back, err := config.Parse(out)
	if err != nil {
		t.Fatalf("Effective output does not parse: %v\n%s", err, out)
	}
	for _, want := range []string{"banner: My FTP", "version: \"1.31\"", "transcript: 64KiB", "fakeecho:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("Effective output lacks %q:\n%s", want, out)
		}
	}
	rs, err := back.ResolveServices()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Module.Name == "fakeftp" && r.Config.(*fakeConfig).Persona.Banner != "My FTP" {
			t.Errorf("got banner %q after a round trip; want %q", r.Config.(*fakeConfig).Persona.Banner, "My FTP")
		}
	}
}
