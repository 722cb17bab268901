package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/smallpot/smallpot/internal/config"
)

func TestDefaultParsesAndValidates(t *testing.T) {
	c, err := config.Parse(config.Default())
	if err != nil {
		t.Fatalf("embedded default: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("embedded default: Validate: %v", err)
	}
	// The default file says what Builtin says, apart from the services and
	// analyzer sections it names (each decoded by its own package).
	b := config.Builtin()
	if len(c.Services) == 0 {
		t.Error("default names no services; want its services section")
	}
	c.Services = nil
	c.Detect, c.Novelty, c.Notify, c.Download = yaml.Node{}, yaml.Node{}, yaml.Node{}, yaml.Node{}
	if !reflect.DeepEqual(c, b) {
		t.Errorf("default file and Builtin differ:\n file    %+v\n builtin %+v", c, b)
	}
	l, err := config.Load("")
	if err != nil || !reflect.DeepEqual(l.Limits, b.Limits) {
		t.Errorf("Load(\"\") got %+v, %v; want the default", l, err)
	}
}

func TestDefaultIsACopy(t *testing.T) {
	d := config.Default()
	d[0] = '!'
	if config.Default()[0] == '!' {
		t.Fatal("Default() returned the embedded bytes themselves; want a copy")
	}
}

func TestEmptyIsBuiltin(t *testing.T) {
	for _, doc := range []string{"", "\n\n", "# only a comment\n", "---\n"} {
		c, err := config.Parse([]byte(doc))
		if err != nil {
			t.Errorf("Parse(%q): %v", doc, err)
			continue
		}
		if !reflect.DeepEqual(c, config.Builtin()) {
			t.Errorf("Parse(%q) got %+v; want Builtin()", doc, c)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		check func(*config.Config) bool
	}{
		{"override one limit, keep the rest", "limits:\n  idle_timeout: 30s\n", func(c *config.Config) bool {
			want := config.Builtin().Limits
			want.IdleTimeout = 30 * time.Second
			return c.Limits == want
		}},
		{"sizes with units", "limits:\n  max_bytes_in: 1MiB\n  transcript: 1000\n", func(c *config.Config) bool {
			return c.Limits.MaxBytesIn == 1<<20 && c.Limits.Transcript == 1000
		}},
		{"profile", "profile: linux-iot\n", func(c *config.Config) bool { return c.Profile == "linux-iot" }},
		{"runtime", "runtime:\n  gc_percent: 100\n  memory_limit: 0\n", func(c *config.Config) bool {
			return c.Runtime == config.Runtime{GCPercent: 100}
		}},
		{"sensor and offset", "sensor: eu-1\nport_offset: 10000\n", func(c *config.Config) bool {
			return c.Sensor == "eu-1" && c.PortOffset == 10000
		}},
		{"services kept for their modules", "services:\n  http:\n    ports: [8080]\n", func(c *config.Config) bool {
			n, ok := c.Services["http"]
			return ok && n.Kind == yaml.MappingNode
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !tt.check(c) {
				t.Fatalf("got %+v; not what %q says", c, tt.doc)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // all in the error
	}{
		{"unknown top-level key", "profile: windows2000\nsensr: x\n",
			[]string{"line 2", `"sensr"`, "top level", "sensor"}},
		{"unknown nested key", "log:\n  level: info\nlimits:\n  max_sessions: 5\n  idel_timeout: 1m\n",
			[]string{"line 5", `"idel_timeout"`, "limits", "idle_timeout"}},
		{"unknown key deeper in log", "log:\n  colour: true\n", []string{"line 2", `"colour"`, "log"}},
		{"bad profile", "profile: windows95\n", []string{`profile "windows95"`, "windows2000", "linux-iot"}},
		{"bad size", "limits:\n  max_bytes_in: lots\n", []string{"line 2", `"lots"`}},
		{"negative size", "limits:\n  transcript: -5\n", []string{"line 2", `"-5"`}},
		{"bad duration", "limits:\n  idle_timeout: soon\n", []string{"line 2", "soon"}},
		{"zero caps", "limits:\n  max_sessions: 0\n", []string{"max_sessions"}},
		{"read buffer too small", "limits:\n  read_buffer: 16\n", []string{"read_buffer"}},
		{"datagram too large", "limits:\n  max_datagram: 65537\n", []string{"max_datagram"}},
		{"datagram too small", "limits:\n  max_datagram: 511\n", []string{"max_datagram"}},
		{"pipeline queue", "pipeline:\n  queue: 2\n", []string{"pipeline"}},
		{"gc percent", "runtime:\n  gc_percent: 5\n", []string{"runtime", "gc_percent"}},
		{"memory limit", "runtime:\n  memory_limit: 1MiB\n", []string{"runtime", "memory_limit"}},
		{"log level", "log:\n  level: loud\n", []string{`log.level "loud"`}},
		{"log format", "log:\n  format: xml\n", []string{`log.format "xml"`}},
		{"port offset", "port_offset: 70000\n", []string{"port_offset 70000"}},
		{"not a mapping", "- a\n- b\n", []string{"config"}},
		{"bad yaml", "limits: [\n", []string{"config"}},
		{"several problems at once", "profile: x\nlog:\n  level: y\n", []string{`profile "x"`, `log.level "y"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse(%q) got no error; want one naming %q", tt.doc, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q; want it to contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Errorf("got error %q; want it to start with \"config: \"", err)
			}
		})
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smallpot.yaml")
	if err := os.WriteFile(path, []byte("limits:\n  idel_timeout: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("got %v; want an error starting with the file name and naming line 2", err)
	}
	if _, err := config.Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("got no error for a missing file")
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    config.ByteSize
		wantErr bool
	}{
		{"0", 0, false},
		{"512", 512, false},
		{"10B", 10, false},
		{"64KiB", 64 << 10, false},
		{"1MiB", 1 << 20, false},
		{"2GiB", 2 << 30, false},
		{"1KB", 1000, false},
		{"3MB", 3_000_000, false},
		{"1GB", 1_000_000_000, false},
		{"4K", 4096, false},
		{"2M", 2 << 20, false},
		{"1G", 1 << 30, false},
		{" 16 MiB ", 16 << 20, false},
		{"8589934591GiB", 8589934591 << 30, false},
		{"8589934592GiB", 0, true}, // 2^63: does not fit
		{"9999999999999GiB", 0, true},
		{"", 0, true},
		{"KiB", 0, true},
		{"-1", 0, true},
		{"1.5MiB", 0, true},
		{"1mib", 0, true},
		{"12 apples", 0, true},
		{"0x10", 0, true},
	}
	for _, tt := range tests {
		got, err := config.ParseByteSize(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseByteSize(%q) got %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), tt.in) {
			t.Errorf("ParseByteSize(%q): error %q does not quote the input", tt.in, err)
		}
	}
}

func TestByteSizeYAML(t *testing.T) {
	tests := []struct {
		size config.ByteSize
		text string
	}{
		{0, "0"}, {512, "512"}, {1000, "1000"}, {64 << 10, "64KiB"}, {3 << 20, "3MiB"}, {5 << 30, "5GiB"},
		{1<<20 + 1, "1048577"},
	}
	for _, tt := range tests {
		if got := tt.size.String(); got != tt.text {
			t.Errorf("ByteSize(%d).String() got %q; want %q", int64(tt.size), got, tt.text)
		}
		out, err := yaml.Marshal(struct {
			S config.ByteSize `yaml:"s"`
		}{tt.size})
		if err != nil {
			t.Fatal(err)
		}
		var back struct {
			S config.ByteSize `yaml:"s"`
		}
		if err := yaml.Unmarshal(out, &back); err != nil || back.S != tt.size {
			t.Errorf("YAML round trip of %d via %q got %d, %v", int64(tt.size), out, int64(back.S), err)
		}
	}
}
