package service

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
)

// Profiles: the coherent hosts a sensor can present (DESIGN.md §3).
const (
	ProfileWindows2000 = "windows2000"
	ProfileLinuxIoT    = "linux-iot"
)

// Profiles lists every host profile.
var Profiles = []string{ProfileWindows2000, ProfileLinuxIoT}

// Base holds the keys every service section has. Each service's config
// struct embeds it inline:
//
//	type Config struct {
//		service.Base `yaml:",inline"`
//		Persona Persona `yaml:"persona"`
//	}
type Base struct {
	Enabled  bool  `yaml:"enabled"`
	Ports    []int `yaml:"ports"`     // TCP ports
	UDPPorts []int `yaml:"udp_ports"` // UDP ports
	// ReplyFactor lets a UDP service answer with up to this many times
	// the request's size. 0 means 1: never larger than the request.
	ReplyFactor float64 `yaml:"reply_factor,omitempty"`
}

// Common returns the shared keys; it makes *Base a Config.
func (b *Base) Common() *Base { return b }

// Config is a service's configuration: a pointer to a struct embedding Base.
type Config interface {
	Common() *Base
}

// Validator is implemented by configs that can check themselves.
type Validator interface {
	Validate() error
}

// Env is what a service may use when it is built.
type Env struct {
	Profile string
	Sensor  string
	DataDir string
	Logger  *slog.Logger
}

// Module describes one fake protocol.
type Module struct {
	// Name is the service's name: its config section and the "service"
	// field of its events.
	Name string
	// Summary is one line for listings.
	Summary string
	// Config returns the default configuration for a host profile. The
	// user's section is decoded over it, so a user overrides only what
	// they name.
	Config func(profile string) Config
	// New builds the service from its decoded and validated
	// configuration. It must have no side effects: no listening, no
	// goroutines. The result implements Handler, PacketHandler or both.
	New func(cfg Config, env Env) (any, error)
}

// NewAs adapts a protocol's constructor, which takes its own configuration
// type, to Module.New: a configuration of another type (a registry bug) is
// an error naming the service.
func NewAs[C Config, S any](name string, newFn func(C, Env) (S, error)) func(Config, Env) (any, error) {
	return func(cfg Config, env Env) (any, error) {
		c, ok := cfg.(C)
		if !ok {
			return nil, fmt.Errorf("%s: config of type %T", name, cfg)
		}
		return newFn(c, env)
	}
}

var (
	regMu    sync.Mutex
	registry = map[string]Module{}
)

// Register adds a protocol. It is called from the protocol package's init;
// a duplicate or incomplete registration panics, so it shows at start.
func Register(m Module) {
	regMu.Lock()
	defer regMu.Unlock()
	if m.Name == "" || m.Config == nil || m.New == nil {
		panic(fmt.Sprintf("service: incomplete registration %q", m.Name))
	}
	if _, dup := registry[m.Name]; dup {
		panic(fmt.Sprintf("service: %q registered twice", m.Name))
	}
	registry[m.Name] = m
}

// Modules returns every registered protocol, sorted by name.
func Modules() []Module {
	regMu.Lock()
	defer regMu.Unlock()
	out := make([]Module, 0, len(registry))
	for _, m := range registry {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Module) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// Lookup returns the protocol registered under name.
func Lookup(name string) (Module, bool) {
	regMu.Lock()
	defer regMu.Unlock()
	m, ok := registry[name]
	return m, ok
}
