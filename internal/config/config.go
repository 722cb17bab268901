// Package config reads Smallpot's one YAML configuration file.
//
// Decoding is strict: a key the configuration does not have is an error
// naming the key, its line and the keys that are known. Each service
// decodes its own section into its own typed struct, over the defaults of
// the chosen host profile, so a user names only what they change.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/smallpot/smallpot/internal/service"
)

//go:embed default.yaml
var defaultYAML []byte

// Default returns the embedded default configuration file.
func Default() []byte { return slices.Clone(defaultYAML) }

// Config is the whole configuration.
type Config struct {
	// Sensor names this sensor in every event; default: the host name.
	Sensor string `yaml:"sensor"`
	// Profile picks the host every service imitates: windows2000 or linux-iot.
	Profile string `yaml:"profile"`
	// DataDir holds the database, the JSON-lines file and the samples.
	DataDir string `yaml:"data_dir"`
	// Bind is the address every fake service listens on ("" = all).
	Bind string `yaml:"bind"`
	// PortOffset is added to every fake port.
	PortOffset int `yaml:"port_offset"`
	// RunAs is the user a process started as root becomes once its ports
	// are bound ("" keeps root, which is not advised).
	RunAs    string   `yaml:"run_as"`
	Log      Log      `yaml:"log"`
	Limits   Limits   `yaml:"limits"`
	Pipeline Pipeline `yaml:"pipeline"`
	Samples  Samples  `yaml:"samples"`
	Runtime  Runtime  `yaml:"runtime"`
	// Services has one section per service, decoded by that service.
	Services map[string]yaml.Node `yaml:"services"`
	// Analyzer sections, each decoded strictly by the package that owns
	// it (see Section): classification rules, novelty, notifiers and the
	// opt-in downloader.
	Detect   yaml.Node `yaml:"detect"`
	Novelty  yaml.Node `yaml:"novelty"`
	Notify   yaml.Node `yaml:"notify"`
	Download yaml.Node `yaml:"download"`
}

// Section decodes one analyzer section (e.g. c.Detect) strictly into dst,
// a pointer to that package's config struct holding its defaults; an
// absent section leaves dst as it is.
func Section(n *yaml.Node, name string, dst any) error {
	if n.Kind == 0 {
		return nil
	}
	if err := CheckKnown(n, reflect.TypeOf(dst), name); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := n.Decode(dst); err != nil {
		return fmt.Errorf("config: %s: %w", name, err)
	}
	return nil
}

// Log configures operator logs (not events).
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Limits bound what any one attacker can take.
type Limits struct {
	MaxSessions          int           `yaml:"max_sessions"`
	MaxSessionsPerSource int           `yaml:"max_sessions_per_source"`
	IdleTimeout          time.Duration `yaml:"idle_timeout"`
	MaxDuration          time.Duration `yaml:"max_duration"`
	MaxBytesIn           ByteSize      `yaml:"max_bytes_in"`
	MaxBytesOut          ByteSize      `yaml:"max_bytes_out"`
	Transcript           ByteSize      `yaml:"transcript"`
	ReadBuffer           ByteSize      `yaml:"read_buffer"`
	UDPRepliesPerSecond  float64       `yaml:"udp_replies_per_second"`
	UDPReplyBurst        int           `yaml:"udp_reply_burst"`
	MaxDatagram          ByteSize      `yaml:"max_datagram"`
}

// Pipeline sizes the event queue between services and sinks.
type Pipeline struct {
	Queue         int           `yaml:"queue"`
	Batch         int           `yaml:"batch"`
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// Samples bounds the sample store.
type Samples struct {
	MaxSize ByteSize `yaml:"max_size"`
}

// Runtime tunes Go's garbage collector. A sensor's heap is small and
// short-lived (each connection's events live until their batch is
// stored), so at Go's default (GOGC=100) a busy sensor collects very
// often; a larger gc_percent spends less CPU on it for more memory,
// which memory_limit bounds: near it the collector runs as often as it
// must. The environment variables GOGC and GOMEMLIMIT, when set, win.
type Runtime struct {
	GCPercent   int      `yaml:"gc_percent"`
	MemoryLimit ByteSize `yaml:"memory_limit"` // 0: none
}

// Builtin returns the configuration with every default filled in: what an
// empty file means.
func Builtin() *Config {
	host, _ := os.Hostname()
	if host == "" {
		host = "smallpot"
	}
	return &Config{
		Sensor:  host,
		Profile: service.ProfileWindows2000,
		DataDir: "./smallpot-data",
		RunAs:   "nobody",
		Log:     Log{Level: "info", Format: "text"},
		Limits: Limits{
			MaxSessions:          8192,
			MaxSessionsPerSource: 64,
			IdleTimeout:          2 * time.Minute,
			MaxDuration:          15 * time.Minute,
			MaxBytesIn:           16 << 20,
			MaxBytesOut:          16 << 20,
			Transcript:           64 << 10,
			ReadBuffer:           4 << 10,
			UDPRepliesPerSecond:  5,
			UDPReplyBurst:        10,
			MaxDatagram:          64 << 10,
		},
		Pipeline: Pipeline{Queue: 65536, Batch: 2048, FlushInterval: 200 * time.Millisecond},
		Samples:  Samples{MaxSize: 32 << 20},
		Runtime:  Runtime{GCPercent: 400, MemoryLimit: 512 << 20},
	}
}

// Parse reads a configuration file's bytes over the built-in defaults.
func Parse(data []byte) (*Config, error) {
	c := Builtin()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(root.Content) == 0 {
		return c, c.Validate()
	}
	if err := CheckKnown(&root, reflect.TypeFor[Config](), ""); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := root.Decode(c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, c.Validate()
}

// Load reads the file at path, or the embedded default when path is "".
func Load(path string) (*Config, error) {
	if path == "" {
		return Parse(defaultYAML)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Validate checks values that decode but make no sense.
func (c *Config) Validate() error {
	var errs []error
	if !slices.Contains(service.Profiles, c.Profile) {
		errs = append(errs, fmt.Errorf("profile %q: want one of %s", c.Profile, strings.Join(service.Profiles, ", ")))
	}
	if c.PortOffset < 0 || c.PortOffset > 60000 {
		errs = append(errs, fmt.Errorf("port_offset %d: want 0..60000", c.PortOffset))
	}
	l := c.Limits
	if l.MaxSessions < 1 || l.MaxSessionsPerSource < 1 {
		errs = append(errs, errors.New("limits: max_sessions and max_sessions_per_source must be at least 1"))
	}
	if l.IdleTimeout <= 0 || l.MaxDuration <= 0 {
		errs = append(errs, errors.New("limits: idle_timeout and max_duration must be positive"))
	}
	if l.MaxBytesIn <= 0 || l.MaxBytesOut <= 0 {
		errs = append(errs, errors.New("limits: max_bytes_in and max_bytes_out must be positive"))
	}
	if l.ReadBuffer < 256 || l.ReadBuffer > 1<<20 {
		errs = append(errs, errors.New("limits: read_buffer must be between 256 bytes and 1MiB"))
	}
	if l.UDPRepliesPerSecond <= 0 || l.UDPReplyBurst < 1 {
		errs = append(errs, errors.New("limits: udp_replies_per_second must be positive and udp_reply_burst at least 1"))
	}
	// 64KiB holds the largest datagram there is.
	if l.MaxDatagram < 512 || l.MaxDatagram > 64<<10 {
		errs = append(errs, errors.New("limits: max_datagram must be between 512 bytes and 64KiB"))
	}
	if c.Pipeline.Queue < 16 || c.Pipeline.Batch < 1 || c.Pipeline.FlushInterval <= 0 {
		errs = append(errs, errors.New("pipeline: queue must be at least 16, batch at least 1, flush_interval positive"))
	}
	if c.Samples.MaxSize <= 0 {
		errs = append(errs, errors.New("samples: max_size must be positive"))
	}
	if r := c.Runtime; r.GCPercent < 25 || r.GCPercent > 10000 || r.MemoryLimit != 0 && r.MemoryLimit < 32<<20 {
		errs = append(errs, errors.New("runtime: gc_percent must be between 25 and 10000, memory_limit 0 (none) or at least 32MiB"))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level %q: want debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format %q: want text or json", c.Log.Format))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Resolved is one service's decoded configuration.
type Resolved struct {
	Module service.Module
	Config service.Config
}

// ResolveServices decodes each registered service's section over its
// profile defaults. A section for a service this build does not have is an
// error; a service the file does not name runs on its defaults.
func (c *Config) ResolveServices() ([]Resolved, error) {
	for name, n := range c.Services {
		if _, ok := service.Lookup(name); !ok {
			var known []string
			for _, m := range service.Modules() {
				known = append(known, m.Name)
			}
			return nil, fmt.Errorf("config: line %d: unknown service %q (known: %s)", n.Line, name, strings.Join(known, ", "))
		}
	}
	var out []Resolved
	for _, m := range service.Modules() {
		sc := m.Config(c.Profile)
		if n, ok := c.Services[m.Name]; ok {
			if err := CheckKnown(&n, reflect.TypeOf(sc), "services."+m.Name); err != nil {
				return nil, fmt.Errorf("config: %w", err)
			}
			if err := n.Decode(sc); err != nil {
				return nil, fmt.Errorf("config: services.%s: %w", m.Name, err)
			}
		}
		b := sc.Common()
		for _, p := range append(slices.Clone(b.Ports), b.UDPPorts...) {
			if p < 1 || p > 65535 {
				return nil, fmt.Errorf("config: services.%s: port %d out of range", m.Name, p)
			}
		}
		if v, ok := sc.(service.Validator); ok {
			if err := v.Validate(); err != nil {
				return nil, fmt.Errorf("config: services.%s: %w", m.Name, err)
			}
		}
		out = append(out, Resolved{Module: m, Config: sc})
	}
	return out, nil
}

// Effective renders the resolved configuration, personas included, as
// YAML: what Smallpot will really run with.
func (c *Config) Effective() ([]byte, error) {
	rs, err := c.ResolveServices()
	if err != nil {
		return nil, err
	}
	services := map[string]service.Config{}
	for _, r := range rs {
		services[r.Module.Name] = r.Config
	}
	// The file's own services section gives way to the resolved one.
	cp := *c
	cp.Services = nil
	var doc, svc yaml.Node
	if err := doc.Encode(&cp); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := svc.Encode(services); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "services" {
			doc.Content[i+1] = &svc
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return buf.Bytes(), nil
}
