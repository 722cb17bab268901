// Package upnp is Smallpot's UPnP Internet Gateway Device: SSDP on udp
// 1900, and HTTP on the description port for the device and service
// descriptions and the SOAP control endpoint. The windows2000 persona is
// the gateway Windows Internet Connection Sharing registers with the UPnP
// Device Host (SSDP "Microsoft-Windows-NT/5.1 UPnP/1.0
// UPnP-Device-Host/1.0", HTTP.sys on tcp 2869); linux-iot is miniupnpd on
// a home router (tcp 5000).
//
// Every M-SEARCH is answered, when a device here matches it, with one
// unicast response within the engine's anti-amplification rule; NOTIFY
// datagrams and anything else are kept whole as samples. SOAP actions
// (AddPortMapping, DeletePortMapping, GetExternalIPAddress, …) are parsed
// under fixed bounds, recorded with their arguments and answered as the
// product answers them, from a per-source table in memory: a client that
// adds a mapping and lists them sees it, and nothing is ever mapped. See
// README.md.
package upnp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
)

func init() {
	service.Register(service.Module{
		Name:    "upnp",
		Summary: "UPnP Internet Gateway Device: SSDP (udp 1900), description and SOAP control (tcp)",
		Config:  func(profile string) service.Config { return DefaultConfig(profile) },
		New:     service.NewAs("upnp", New),
	})
}

// Config is the upnp section of the configuration.
type Config struct {
	service.Base `yaml:",inline"`
	Persona      Persona `yaml:"persona"`

	// DescriptionPort is the TCP port, as configured (before any
	// -port-offset), that the LOCATION of a search response names.
	DescriptionPort int `yaml:"description_port"`
	// LocationPort, when not 0, is the port LOCATION names as it is, no
	// offset applied: for a sensor whose TCP port is forwarded from
	// another.
	LocationPort int `yaml:"location_port"`
	// MaxBody bounds the request body read (a SOAP envelope); the rest is
	// not read and the connection closed.
	MaxBody config.ByteSize `yaml:"max_body"`
	// EventBody bounds the body bytes a request event carries.
	EventBody config.ByteSize `yaml:"event_body"`
	// SampleBody: a body longer than this, or one that is not a readable
	// SOAP envelope, is kept as a sample.
	SampleBody config.ByteSize `yaml:"sample_body"`
	// SampleDatagram: an M-SEARCH longer than this is kept as a sample
	// (every other datagram always is).
	SampleDatagram config.ByteSize `yaml:"sample_datagram"`
	// MaxRequests bounds the requests served on one keep-alive
	// connection (miniupnpd serves one).
	MaxRequests int `yaml:"max_requests"`
	// MaxHosts bounds the sources whose fake port mappings are kept;
	// MaxMappings the mappings of each.
	MaxHosts    int `yaml:"max_hosts"`
	MaxMappings int `yaml:"max_mappings"`
}

// Persona is the device the service presents.
type Persona struct {
	// Kind is windows (UPnP Device Host, HTTP.sys) or miniupnpd.
	Kind string `yaml:"kind"`
	// Server is the SSDP SERVER header, and the HTTP Server header of
	// the device's own answers.
	Server string `yaml:"server"`
	// HTTPServer is HTTP.sys's name (windows): alone on its own error
	// pages, appended to Server on the device host's answers.
	HTTPServer string `yaml:"http_server"`
	// UUID is the root device's; "" derives one from the sensor name.
	UUID             string `yaml:"uuid"`
	FriendlyName     string `yaml:"friendly_name"`
	Manufacturer     string `yaml:"manufacturer"`
	ManufacturerURL  string `yaml:"manufacturer_url"`
	ModelDescription string `yaml:"model_description"`
	ModelName        string `yaml:"model_name"`
	ModelNumber      string `yaml:"model_number"`
	ModelURL         string `yaml:"model_url"`
	SerialNumber     string `yaml:"serial_number"`
	// BuildDate is miniupnpd's build date, the modelNumber of its
	// sub-devices.
	BuildDate string `yaml:"build_date"`
	// MaxAge is the CACHE-CONTROL max-age of search responses.
	MaxAge int `yaml:"max_age"`
	// ExternalIP is what GetExternalIPAddress answers; "" answers the
	// address the client reached.
	ExternalIP string `yaml:"external_ip"`
	// LocationHost is the address LOCATION names; "" names the address
	// the search arrived on (see README: on a wildcard bind, the first
	// IPv4 address of an interface that is up).
	LocationHost string `yaml:"location_host"`
	// WANAccessType and LinkRate (bit/s) answer GetCommonLinkProperties.
	WANAccessType string `yaml:"wan_access_type"`
	LinkRate      int64  `yaml:"link_rate"`
}

// Reply factors: the smallest, to a tenth, that lets the one response
// of each persona through for the usual searches — the 90-byte ssdp:all
// search of reflection scanners, nmap's 97-byte upnp:rootdevice search and
// miniupnpc's 137-byte InternetGatewayDevice:1 search — at the longest
// LOCATION an IPv4 address and port can make. TestDefaultReplyFactors
// keeps them true.
const (
	factorWindows   = 3.5
	factorMiniUPnPd = 4.0
)

// DefaultConfig returns the defaults of a host profile.
func DefaultConfig(profile string) *Config {
	c := &Config{
		Base:           service.Base{Enabled: true, UDPPorts: []int{1900}},
		MaxBody:        64 << 10,
		EventBody:      8 << 10,
		SampleBody:     2 << 10,
		SampleDatagram: 512,
		MaxRequests:    100,
		MaxHosts:       1024,
		MaxMappings:    32,
	}
	if profile == service.ProfileLinuxIoT {
		c.Ports, c.DescriptionPort, c.ReplyFactor = []int{5000}, 5000, factorMiniUPnPd
		c.Persona = Persona{
			Kind:             "miniupnpd",
			Server:           "Linux/2.6.36 UPnP/1.1 MiniUPnPd/2.1",
			FriendlyName:     "Wireless Router",
			Manufacturer:     "Linux",
			ManufacturerURL:  "http://www.kernel.org/",
			ModelDescription: "Linux router",
			ModelName:        "Linux router",
			ModelNumber:      "1",
			ModelURL:         "http://www.kernel.org/",
			SerialNumber:     "00000000",
			BuildDate:        "20180508",
			MaxAge:           120,
			WANAccessType:    "Ethernet",
			LinkRate:         100000000,
		}
		return c
	}
	c.Ports, c.DescriptionPort, c.ReplyFactor = []int{2869}, 2869, factorWindows
	c.Persona = Persona{
		Kind:             "windows",
		Server:           "Microsoft-Windows-NT/5.1 UPnP/1.0 UPnP-Device-Host/1.0",
		HTTPServer:       "Microsoft-HTTPAPI/1.0",
		FriendlyName:     "Internet Connection Sharing",
		Manufacturer:     "Microsoft",
		ManufacturerURL:  "http://www.microsoft.com/",
		ModelDescription: "Internet Connection Sharing",
		ModelName:        "Internet Connection Sharing",
		ModelNumber:      "1",
		ModelURL:         "http://www.microsoft.com/",
		MaxAge:           900,
		WANAccessType:    "Ethernet",
		LinkRate:         100000000,
	}
	return c
}

// kind is how the persona speaks.
type kind int

const (
	kindWindows kind = iota
	kindMiniUPnPd
)

// Describe names the persona for the start-up table.
func (c *Config) Describe() string {
	if c.Persona.Kind == "miniupnpd" {
		return "MiniUPnPd IGD (" + c.Persona.Server + ")"
	}
	return "Windows UPnP Device Host, ICS gateway"
}

func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func validUUID(u string) bool {
	if len(u) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := u[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// Validate implements service.Validator.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("upnp: "+format, a...)) }
	p := &c.Persona
	if p.Kind != "windows" && p.Kind != "miniupnpd" {
		bad("persona.kind %q: want windows or miniupnpd", p.Kind)
	}
	if p.Server == "" {
		bad("persona.server must be set")
	}
	for name, v := range map[string]string{
		"server": p.Server, "http_server": p.HTTPServer, "friendly_name": p.FriendlyName, "manufacturer": p.Manufacturer,
		"manufacturer_url": p.ManufacturerURL, "model_description": p.ModelDescription, "model_name": p.ModelName,
		"model_number": p.ModelNumber, "model_url": p.ModelURL, "serial_number": p.SerialNumber, "build_date": p.BuildDate,
	} {
		if len(v) > 200 || !isPrintable(v) {
			bad("persona.%s: want up to 200 printable characters", name)
		}
	}
	if p.UUID != "" && !validUUID(p.UUID) {
		bad("persona.uuid %q: want 8-4-4-4-12 hexadecimal digits, or empty to derive one", p.UUID)
	}
	if p.MaxAge < 1 || p.MaxAge > 86400 {
		bad("persona.max_age %d: want 1..86400", p.MaxAge)
	}
	for name, v := range map[string]string{"external_ip": p.ExternalIP, "location_host": p.LocationHost} {
		if _, err := netip.ParseAddr(v); v != "" && err != nil {
			bad("persona.%s %q: want an IP address or empty", name, v)
		}
	}
	if !slices.Contains(scpdWANCommon.Vars[0].Allowed, p.WANAccessType) {
		bad("persona.wan_access_type %q: want one of %s", p.WANAccessType, strings.Join(scpdWANCommon.Vars[0].Allowed, ", "))
	}
	if p.LinkRate < 0 || p.LinkRate > math.MaxUint32 {
		bad("persona.link_rate %d: want 0..%d", p.LinkRate, uint32(math.MaxUint32))
	}
	if c.ReplyFactor < 0 || c.ReplyFactor > 100 || math.IsNaN(c.ReplyFactor) {
		bad("reply_factor %v: want 0..100 (0 means 1)", c.ReplyFactor)
	}
	if c.LocationPort < 0 || c.LocationPort > 65535 {
		bad("location_port %d: want 0..65535", c.LocationPort)
	}
	if c.LocationPort == 0 && len(c.UDPPorts) > 0 && !slices.Contains(c.Ports, c.DescriptionPort) {
		bad("description_port %d is not one of ports %v: search responses would point nowhere", c.DescriptionPort, c.Ports)
	}
	if c.MaxBody < 1024 || c.MaxBody > 16<<20 {
		bad("max_body %s: want 1KiB..16MiB", c.MaxBody)
	}
	if c.EventBody < 0 || c.EventBody > c.MaxBody {
		bad("event_body %s: want 0..max_body", c.EventBody)
	}
	if c.SampleBody < 0 {
		bad("sample_body must not be negative")
	}
	if c.SampleDatagram < 0 {
		bad("sample_datagram must not be negative")
	}
	if c.MaxRequests < 1 {
		bad("max_requests must be at least 1")
	}
	if c.MaxHosts < 1 || c.MaxHosts > 1<<20 {
		bad("max_hosts %d: want 1..1048576", c.MaxHosts)
	}
	if c.MaxMappings < 1 || c.MaxMappings > 1024 {
		bad("max_mappings %d: want 1..1024", c.MaxMappings)
	}
	return errors.Join(errs...)
}

// Server is the gateway. It serves TCP sessions and UDP datagrams.
type Server struct {
	cfg     *Config
	persona Persona // with its UUID resolved
	kind    kind
	tree    *tree
	targets []target
	udns    []string
	maps    *mappings
	log     *slog.Logger
	now     func() time.Time
	start   time.Time
	sids    atomic.Uint64
	// ifaceAddr names the host when a search arrived on a wildcard
	// bind.
	ifaceAddr func() netip.Addr
}

var (
	_ service.Handler       = (*Server)(nil)
	_ service.PacketHandler = (*Server)(nil)
)

// New builds the gateway from a configuration.
func New(cfg *Config, env service.Env) (*Server, error) {
	return newServer(cfg, env, time.Now)
}

func newServer(cfg *Config, env service.Env, now func() time.Time) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, persona: cfg.Persona, log: log, now: now, start: now(),
		maps: newMappings(cfg.MaxHosts, cfg.MaxMappings), ifaceAddr: cachedIfaceAddr()}
	if s.persona.UUID == "" {
		s.persona.UUID = deriveUUID(env.Sensor + "/" + s.persona.Kind)
	}
	s.persona.UUID = strings.ToLower(s.persona.UUID)
	if s.persona.Kind == "miniupnpd" {
		s.kind, s.tree = kindMiniUPnPd, miniupnpdTree(&s.persona)
	} else {
		s.kind, s.tree = kindWindows, windowsTree(&s.persona)
	}
	s.targets, s.udns = s.tree.targets()
	return s, nil
}

// ServePacket answers one SSDP datagram.
func (s *Server) ServePacket(ctx context.Context, p *service.Packet) {
	m := parseSSDP(p.Data)
	if m == nil {
		// Not SSDP at all: the engine's payload event has its first
		// bytes; the sample keeps it whole.
		s.sample(&p.Recorder, p.Data, "upnp.ssdp")
		return
	}
	ev := &event.Request{Method: m.Method, URI: m.URI, Version: m.Version, Headers: m.Headers,
		BodyLen: int64(m.BodyLen), Malformed: m.Malformed}
	ev.Host, _ = m.header("HOST")
	ev.UserAgent, _ = m.header("USER-AGENT")
	if m.Method != "M-SEARCH" || m.Malformed != "" || m.BodyLen > 0 || len(p.Data) > int(s.cfg.SampleDatagram) {
		ev.Sample = s.sample(&p.Recorder, p.Data, "upnp.ssdp")
	}
	switch m.Method {
	case "M-SEARCH":
		s.search(p, m, ev)
	case "NOTIFY":
		ev.Action = "notify"
	default:
		ev.Action = "ignored"
	}
	p.Emit(ev)
}

// search answers an M-SEARCH with one response, if a device here has
// what it asks for.
func (s *Server) search(p *service.Packet, m *ssdpMsg, ev *event.Request) {
	if m.Malformed != "" {
		ev.Action = "search:ignored"
		return
	}
	if why := m.searchCheck(s.kind == kindWindows); why != "" {
		ev.Action, ev.Malformed = "search:ignored", why
		return
	}
	st, _ := m.header("ST")
	respST, usn, ok := match(st, s.tree.Root.UDN, s.udns, s.targets)
	if !ok {
		ev.Action = "search:no-match"
		return
	}
	host := s.locationHost(p.Local.Addr())
	resp := s.searchResponse(respST, usn, s.location(host, s.locationPort(p.Local)))
	switch err := p.Reply(resp); {
	case err == nil:
		ev.Action, ev.Status = "search:reply", 200
	case errors.Is(err, service.ErrReplyTooLarge):
		ev.Action = "search:too-large"
	case errors.Is(err, service.ErrRateLimited):
		ev.Action = "search:rate-limited"
	default:
		ev.Action = "search:reply-failed"
		s.log.Debug("search response not sent", "service", p.Service, "session", p.SessionID, "src", p.Remote.String(), "err", err)
	}
}

// searchResponse renders the one unicast response, in the header order
// and spelling of the persona's product.
func (s *Server) searchResponse(st, usn, location string) []byte {
	var b strings.Builder
	if s.kind == kindMiniUPnPd {
		boot := strconv.FormatInt(s.start.Unix(), 10)
		b.WriteString("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=" + strconv.Itoa(s.persona.MaxAge) + "\r\n")
		b.WriteString("ST: " + st + "\r\nUSN: " + usn + "\r\nEXT:\r\nSERVER: " + s.persona.Server + "\r\n")
		b.WriteString("LOCATION: " + location + "\r\n")
		b.WriteString("OPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n01-NLS: " + boot + "\r\n")
		b.WriteString("BOOTID.UPNP.ORG: " + boot + "\r\nCONFIGID.UPNP.ORG: 1337\r\n\r\n")
		return []byte(b.String())
	}
	b.WriteString("HTTP/1.1 200 OK\r\nST:" + st + "\r\nUSN:" + usn + "\r\nLocation:" + location + "\r\n")
	b.WriteString("Cache-Control:max-age=" + strconv.Itoa(s.persona.MaxAge) + "\r\nServer:" + s.persona.Server + "\r\nExt:\r\n\r\n")
	return []byte(b.String())
}

// location is the root description's URL on host and port.
func (s *Server) location(host netip.Addr, port int) string {
	return "http://" + net.JoinHostPort(host.String(), strconv.Itoa(port)) + s.tree.DescPath
}

// locationPort is the TCP port LOCATION names. A packet handler does not
// know the port the TCP listener really has: under -port-offset every
// port moved by the same amount, so the offset is read off the port the
// search arrived on against the configured UDP port (the first, when
// there are several) and added to the description port. location_port
// overrides it.
func (s *Server) locationPort(local netip.AddrPort) int {
	if s.cfg.LocationPort != 0 {
		return s.cfg.LocationPort
	}
	offset := 0
	if len(s.cfg.UDPPorts) > 0 && !slices.Contains(s.cfg.UDPPorts, int(local.Port())) {
		offset = int(local.Port()) - s.cfg.UDPPorts[0]
	}
	if p := s.cfg.DescriptionPort + offset; p >= 1 && p <= 65535 {
		return p
	}
	return s.cfg.DescriptionPort
}

// locationHost is the address LOCATION names: the configured one, else
// the address the search arrived on, else (a wildcard or multicast bind:
// the engine knows the listener's address, not the datagram's) the host's
// first IPv4 interface address.
func (s *Server) locationHost(local netip.Addr) netip.Addr {
	if s.persona.LocationHost != "" {
		if a, err := netip.ParseAddr(s.persona.LocationHost); err == nil {
			return a
		}
	}
	if local.IsValid() && !local.IsUnspecified() && !local.IsMulticast() {
		return local
	}
	if a := s.ifaceAddr(); a.IsValid() {
		return a
	}
	return local
}

// cachedIfaceAddr returns a function giving the first IPv4 address of an
// interface that is up and not loopback, looked up at most once a minute.
func cachedIfaceAddr() func() netip.Addr {
	var (
		mu   sync.Mutex
		addr netip.Addr
		when time.Time
	)
	return func() netip.Addr {
		mu.Lock()
		defer mu.Unlock()
		if !when.IsZero() && time.Since(when) < time.Minute {
			return addr
		}
		when, addr = time.Now(), netip.Addr{}
		ifs, err := net.Interfaces()
		if err != nil {
			return addr
		}
		for _, ifc := range ifs {
			if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
				continue
			}
			as, _ := ifc.Addrs()
			for _, a := range as {
				if pn, ok := a.(*net.IPNet); ok {
					if ip, ok := netip.AddrFromSlice(pn.IP); ok && ip.Unmap().Is4() {
						addr = ip.Unmap()
						return addr
					}
				}
			}
		}
		return addr
	}
}

func (s *Server) sample(rec *service.Recorder, data []byte, source string) string {
	sha, err := rec.SaveSample(data, source, "")
	if err != nil {
		s.log.Warn("sample not stored", "service", rec.Service, "session", rec.SessionID, "src", rec.Remote.String(), "err", err)
		return ""
	}
	return sha
}
