package upnp

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smallpot/smallpot/internal/event"
)

// The actions of the gateway's services, answered from a table of fake
// port mappings per source address. Nothing here touches the host's
// network: a mapping is a row in memory that only its source can list.

// portMapping is one row of a source's table.
type portMapping struct {
	RemoteHost     string
	ExternalPort   int
	Protocol       string
	InternalPort   int
	InternalClient string
	Enabled        string
	Description    string
	Lease          string
}

type hostTable struct {
	rows []portMapping
	last time.Time
}

// mappings holds the tables, bounded: at most maxHosts sources (the one
// used longest ago is forgotten first) of at most maxRows rows.
type mappings struct {
	mu       sync.Mutex
	hosts    map[netip.Addr]*hostTable
	maxHosts int
	maxRows  int
}

func newMappings(maxHosts, maxRows int) *mappings {
	return &mappings{hosts: map[netip.Addr]*hostTable{}, maxHosts: maxHosts, maxRows: maxRows}
}

// with runs f on src's table under the lock, creating the table if
// create is set.
func (m *mappings) with(src netip.Addr, now time.Time, create bool, f func(t *hostTable)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.hosts[src]
	if t == nil {
		if !create {
			f(&hostTable{})
			return
		}
		if len(m.hosts) >= m.maxHosts {
			var oldest netip.Addr
			var when time.Time
			for a, h := range m.hosts {
				if !oldest.IsValid() || h.last.Before(when) {
					oldest, when = a, h.last
				}
			}
			delete(m.hosts, oldest)
		}
		t = &hostTable{}
		m.hosts[src] = t
	}
	t.last = now
	f(t)
}

// callEnv is what an action may know of its caller.
type callEnv struct {
	src   netip.Addr // the client
	local netip.Addr // the address it reached
	now   time.Time
}

// perform runs action of svc (nil: look the action up in every service,
// as miniupnpd does) and returns its output arguments, or a UPnP error
// code.
func (s *Server) perform(svc *upnpService, action string, c *soapCall, env callEnv) ([]event.Header, int) {
	if svc == nil {
		s.tree.Root.walk(func(d *device) {
			for _, x := range d.Services {
				if svc == nil && x.Spec.action(action) != nil {
					svc = x
				}
			}
		})
		if svc == nil {
			return nil, 401
		}
	}
	if svc.Spec.action(action) == nil {
		return nil, 401
	}
	o := func(kv ...string) []event.Header {
		out := make([]event.Header, 0, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, event.Header{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	uptime := int64(env.now.Sub(s.start) / time.Second)
	if uptime < 0 {
		uptime = 0
	}
	counter := func(perSecond, base int64) string {
		return strconv.FormatUint(uint64(uint32(base+uptime*perSecond)), 10)
	}
	switch action {
	case "GetExternalIPAddress":
		ip := s.persona.ExternalIP
		if ip == "" {
			ip = env.local.String()
		}
		return o("NewExternalIPAddress", ip), 0
	case "GetStatusInfo":
		return o("NewConnectionStatus", "Connected", "NewLastConnectionError", "ERROR_NONE", "NewUptime", strconv.FormatInt(uptime, 10)), 0
	case "GetConnectionTypeInfo":
		return o("NewConnectionType", "IP_Routed", "NewPossibleConnectionTypes", "IP_Routed"), 0
	case "GetNATRSIPStatus":
		return o("NewRSIPAvailable", "0", "NewNATEnabled", "1"), 0
	case "GetCommonLinkProperties":
		rate := strconv.FormatInt(s.persona.LinkRate, 10)
		return o("NewWANAccessType", s.persona.WANAccessType, "NewLayer1UpstreamMaxBitRate", rate,
			"NewLayer1DownstreamMaxBitRate", rate, "NewPhysicalLinkStatus", "Up"), 0
	case "GetTotalBytesSent":
		return o("NewTotalBytesSent", counter(1873, 412711)), 0
	case "GetTotalBytesReceived":
		return o("NewTotalBytesReceived", counter(9377, 2317450)), 0
	case "GetTotalPacketsSent":
		return o("NewTotalPacketsSent", counter(11, 3012)), 0
	case "GetTotalPacketsReceived":
		return o("NewTotalPacketsReceived", counter(13, 4471)), 0
	case "GetDefaultConnectionService":
		ip := s.tree.serviceOfType(svcWANIP)
		d := s.tree.deviceOf(ip)
		typ, v := splitVersion(d.Type)
		return o("NewDefaultConnectionService", d.UDN+":"+typ[strings.LastIndexByte(typ, ':')+1:]+":"+strconv.Itoa(v)+","+ip.ID), 0
	case "AddPortMapping":
		return nil, s.addMapping(c, env)
	case "DeletePortMapping":
		return nil, s.deleteMapping(c, env)
	case "GetSpecificPortMappingEntry":
		return s.specificMapping(c, env)
	case "GetGenericPortMappingEntry":
		return s.genericMapping(c, env)
	}
	// SetConnectionType, RequestConnection, ForceTermination,
	// SetDefaultConnectionService: refused, the connection stays as it
	// is.
	return nil, 606
}

// mappingKey reads the three arguments naming a mapping.
func mappingKey(c *soapCall) (remote string, port int, proto string, ok bool) {
	remote, _ = c.arg("NewRemoteHost")
	ps, _ := c.arg("NewExternalPort")
	proto, _ = c.arg("NewProtocol")
	port, err := strconv.Atoi(strings.TrimSpace(ps))
	proto = strings.ToUpper(strings.TrimSpace(proto))
	if err != nil || port < 0 || port > 65535 || proto != "TCP" && proto != "UDP" {
		return "", 0, "", false
	}
	return strings.TrimSpace(remote), port, proto, true
}

func (s *Server) addMapping(c *soapCall, env callEnv) int {
	remote, ext, proto, ok := mappingKey(c)
	client, _ := c.arg("NewInternalClient")
	ips, _ := c.arg("NewInternalPort")
	enabled, _ := c.arg("NewEnabled")
	desc, _ := c.arg("NewPortMappingDescription")
	lease, _ := c.arg("NewLeaseDuration")
	inPort, err := strconv.Atoi(strings.TrimSpace(ips))
	leaseN, lerr := strconv.ParseUint(strings.TrimSpace(lease), 10, 32)
	client = strings.TrimSpace(client)
	if !ok || err != nil || inPort < 1 || inPort > 65535 || client == "" || lerr != nil {
		return 402
	}
	if ext == 0 {
		return 716
	}
	if s.kind == kindWindows && leaseN != 0 {
		// ICS keeps static mappings only.
		return 725
	}
	code := 0
	row := portMapping{RemoteHost: remote, ExternalPort: ext, Protocol: proto, InternalPort: inPort,
		InternalClient: client, Enabled: strings.TrimSpace(enabled), Description: desc, Lease: strconv.FormatUint(leaseN, 10)}
	if row.Enabled == "" {
		row.Enabled = "1"
	}
	s.maps.with(env.src, env.now, true, func(t *hostTable) {
		for i, r := range t.rows {
			if r.ExternalPort == ext && r.Protocol == proto && r.RemoteHost == remote {
				if r.InternalClient != client {
					code = 718
					return
				}
				t.rows[i] = row
				return
			}
		}
		if len(t.rows) >= s.maps.maxRows {
			code = 728
			return
		}
		t.rows = append(t.rows, row)
	})
	return code
}

func (s *Server) deleteMapping(c *soapCall, env callEnv) int {
	remote, ext, proto, ok := mappingKey(c)
	if !ok {
		return 402
	}
	found := false
	s.maps.with(env.src, env.now, false, func(t *hostTable) {
		for i, r := range t.rows {
			if r.ExternalPort == ext && r.Protocol == proto && r.RemoteHost == remote {
				t.rows = append(t.rows[:i], t.rows[i+1:]...)
				found = true
				return
			}
		}
	})
	if !found && s.kind == kindWindows {
		return 714
	}
	// miniupnpd answers success for a mapping it does not have.
	return 0
}

func (s *Server) specificMapping(c *soapCall, env callEnv) ([]event.Header, int) {
	remote, ext, proto, ok := mappingKey(c)
	if !ok {
		return nil, 402
	}
	var out []event.Header
	s.maps.with(env.src, env.now, false, func(t *hostTable) {
		for _, r := range t.rows {
			if r.ExternalPort == ext && r.Protocol == proto && r.RemoteHost == remote {
				out = []event.Header{{Name: "NewInternalPort", Value: strconv.Itoa(r.InternalPort)},
					{Name: "NewInternalClient", Value: r.InternalClient}, {Name: "NewEnabled", Value: r.Enabled},
					{Name: "NewPortMappingDescription", Value: r.Description}, {Name: "NewLeaseDuration", Value: r.Lease}}
				return
			}
		}
	})
	if out == nil {
		return nil, 714
	}
	return out, 0
}

func (s *Server) genericMapping(c *soapCall, env callEnv) ([]event.Header, int) {
	is, _ := c.arg("NewPortMappingIndex")
	i, err := strconv.Atoi(strings.TrimSpace(is))
	if err != nil {
		return nil, 402
	}
	var out []event.Header
	s.maps.with(env.src, env.now, false, func(t *hostTable) {
		if i < 0 || i >= len(t.rows) {
			return
		}
		r := t.rows[i]
		out = []event.Header{{Name: "NewRemoteHost", Value: r.RemoteHost}, {Name: "NewExternalPort", Value: strconv.Itoa(r.ExternalPort)},
			{Name: "NewProtocol", Value: r.Protocol}, {Name: "NewInternalPort", Value: strconv.Itoa(r.InternalPort)},
			{Name: "NewInternalClient", Value: r.InternalClient}, {Name: "NewEnabled", Value: r.Enabled},
			{Name: "NewPortMappingDescription", Value: r.Description}, {Name: "NewLeaseDuration", Value: r.Lease}}
	})
	if out == nil {
		return nil, 713
	}
	return out, 0
}
