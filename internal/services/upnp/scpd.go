package upnp

import "strings"

// Service descriptions (SCPD), from the UPnP Forum's IGD:1 service
// templates: the actions and state variables a control point reads
// before it calls anything.

type argSpec struct {
	Name, Dir, Var string // Dir: "in" or "out"
}

type actionSpec struct {
	Name string
	Args []argSpec
}

type varSpec struct {
	Name, Type string
	Events     bool
	Allowed    []string
}

type scpd struct {
	Actions []actionSpec
	Vars    []varSpec
}

// action returns the spec of the named action, or nil.
func (s *scpd) action(name string) *actionSpec {
	for i := range s.Actions {
		if s.Actions[i].Name == name {
			return &s.Actions[i]
		}
	}
	return nil
}

func in(name, v string) argSpec  { return argSpec{name, "in", v} }
func out(name, v string) argSpec { return argSpec{name, "out", v} }

var scpdWANIP = &scpd{
	Actions: []actionSpec{
		{"SetConnectionType", []argSpec{in("NewConnectionType", "ConnectionType")}},
		{"GetConnectionTypeInfo", []argSpec{out("NewConnectionType", "ConnectionType"), out("NewPossibleConnectionTypes", "PossibleConnectionTypes")}},
		{"RequestConnection", nil},
		{"ForceTermination", nil},
		{"GetStatusInfo", []argSpec{out("NewConnectionStatus", "ConnectionStatus"), out("NewLastConnectionError", "LastConnectionError"), out("NewUptime", "Uptime")}},
		{"GetNATRSIPStatus", []argSpec{out("NewRSIPAvailable", "RSIPAvailable"), out("NewNATEnabled", "NATEnabled")}},
		{"GetGenericPortMappingEntry", []argSpec{in("NewPortMappingIndex", "PortMappingNumberOfEntries"),
			out("NewRemoteHost", "RemoteHost"), out("NewExternalPort", "ExternalPort"), out("NewProtocol", "PortMappingProtocol"),
			out("NewInternalPort", "InternalPort"), out("NewInternalClient", "InternalClient"), out("NewEnabled", "PortMappingEnabled"),
			out("NewPortMappingDescription", "PortMappingDescription"), out("NewLeaseDuration", "PortMappingLeaseDuration")}},
		{"GetSpecificPortMappingEntry", []argSpec{in("NewRemoteHost", "RemoteHost"), in("NewExternalPort", "ExternalPort"),
			in("NewProtocol", "PortMappingProtocol"), out("NewInternalPort", "InternalPort"), out("NewInternalClient", "InternalClient"),
			out("NewEnabled", "PortMappingEnabled"), out("NewPortMappingDescription", "PortMappingDescription"),
			out("NewLeaseDuration", "PortMappingLeaseDuration")}},
		{"AddPortMapping", []argSpec{in("NewRemoteHost", "RemoteHost"), in("NewExternalPort", "ExternalPort"),
			in("NewProtocol", "PortMappingProtocol"), in("NewInternalPort", "InternalPort"), in("NewInternalClient", "InternalClient"),
			in("NewEnabled", "PortMappingEnabled"), in("NewPortMappingDescription", "PortMappingDescription"),
			in("NewLeaseDuration", "PortMappingLeaseDuration")}},
		{"DeletePortMapping", []argSpec{in("NewRemoteHost", "RemoteHost"), in("NewExternalPort", "ExternalPort"), in("NewProtocol", "PortMappingProtocol")}},
		{"GetExternalIPAddress", []argSpec{out("NewExternalIPAddress", "ExternalIPAddress")}},
	},
	Vars: []varSpec{
		{"ConnectionType", "string", false, nil},
		{"PossibleConnectionTypes", "string", true, []string{"Unconfigured", "IP_Routed", "IP_Bridged"}},
		{"ConnectionStatus", "string", true, []string{"Unconfigured", "Connecting", "Connected", "PendingDisconnect", "Disconnecting", "Disconnected"}},
		{"Uptime", "ui4", false, nil},
		{"LastConnectionError", "string", false, []string{"ERROR_NONE", "ERROR_COMMAND_ABORTED", "ERROR_NOT_ENABLED_FOR_INTERNET",
			"ERROR_USER_DISCONNECT", "ERROR_ISP_DISCONNECT", "ERROR_IDLE_DISCONNECT", "ERROR_FORCED_DISCONNECT",
			"ERROR_NO_CARRIER", "ERROR_IP_CONFIGURATION", "ERROR_UNKNOWN"}},
		{"RSIPAvailable", "boolean", false, nil},
		{"NATEnabled", "boolean", false, nil},
		{"ExternalIPAddress", "string", true, nil},
		{"PortMappingNumberOfEntries", "ui2", true, nil},
		{"PortMappingEnabled", "boolean", false, nil},
		{"PortMappingLeaseDuration", "ui4", false, nil},
		{"RemoteHost", "string", false, nil},
		{"ExternalPort", "ui2", false, nil},
		{"InternalPort", "ui2", false, nil},
		{"PortMappingProtocol", "string", false, []string{"TCP", "UDP"}},
		{"InternalClient", "string", false, nil},
		{"PortMappingDescription", "string", false, nil},
	},
}

var scpdWANCommon = &scpd{
	Actions: []actionSpec{
		{"GetCommonLinkProperties", []argSpec{out("NewWANAccessType", "WANAccessType"),
			out("NewLayer1UpstreamMaxBitRate", "Layer1UpstreamMaxBitRate"), out("NewLayer1DownstreamMaxBitRate", "Layer1DownstreamMaxBitRate"),
			out("NewPhysicalLinkStatus", "PhysicalLinkStatus")}},
		{"GetTotalBytesSent", []argSpec{out("NewTotalBytesSent", "TotalBytesSent")}},
		{"GetTotalBytesReceived", []argSpec{out("NewTotalBytesReceived", "TotalBytesReceived")}},
		{"GetTotalPacketsSent", []argSpec{out("NewTotalPacketsSent", "TotalPacketsSent")}},
		{"GetTotalPacketsReceived", []argSpec{out("NewTotalPacketsReceived", "TotalPacketsReceived")}},
	},
	Vars: []varSpec{
		{"WANAccessType", "string", false, []string{"DSL", "POTS", "Cable", "Ethernet"}},
		{"Layer1UpstreamMaxBitRate", "ui4", false, nil},
		{"Layer1DownstreamMaxBitRate", "ui4", false, nil},
		{"PhysicalLinkStatus", "string", true, []string{"Up", "Down", "Initializing", "Unavailable"}},
		{"TotalBytesSent", "ui4", false, nil},
		{"TotalBytesReceived", "ui4", false, nil},
		{"TotalPacketsSent", "ui4", false, nil},
		{"TotalPacketsReceived", "ui4", false, nil},
	},
}

var scpdL3F = &scpd{
	Actions: []actionSpec{
		{"SetDefaultConnectionService", []argSpec{in("NewDefaultConnectionService", "DefaultConnectionService")}},
		{"GetDefaultConnectionService", []argSpec{out("NewDefaultConnectionService", "DefaultConnectionService")}},
	},
	Vars: []varSpec{{"DefaultConnectionService", "string", true, nil}},
}

// scpdOSInfo is ICS's own service on the gateway's root: no actions, the
// host's version as evented variables.
var scpdOSInfo = &scpd{
	Vars: []varSpec{
		{"OSMajorVersion", "i4", true, nil},
		{"OSMinorVersion", "i4", true, nil},
		{"OSBuildNumber", "i4", true, nil},
		{"OSMachineName", "string", true, nil},
	},
}

// render writes the SCPD document in the persona's layout.
func (s *scpd) render(k kind) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?>` + "\r\n" + `<scpd xmlns="urn:schemas-upnp-org:service-1-0">`)
	if k == kindMiniUPnPd {
		b.WriteString("<specVersion><major>1</major><minor>1</minor></specVersion>")
	} else {
		b.WriteString("<specVersion><major>1</major><minor>0</minor></specVersion>")
	}
	b.WriteString("<actionList>")
	for _, a := range s.Actions {
		b.WriteString("<action>")
		el(&b, "name", a.Name)
		if len(a.Args) > 0 {
			b.WriteString("<argumentList>")
			for _, g := range a.Args {
				b.WriteString("<argument>")
				el(&b, "name", g.Name)
				el(&b, "direction", g.Dir)
				el(&b, "relatedStateVariable", g.Var)
				b.WriteString("</argument>")
			}
			b.WriteString("</argumentList>")
		}
		b.WriteString("</action>")
	}
	b.WriteString("</actionList><serviceStateTable>")
	for _, v := range s.Vars {
		if v.Events {
			b.WriteString(`<stateVariable sendEvents="yes">`)
		} else {
			b.WriteString(`<stateVariable sendEvents="no">`)
		}
		el(&b, "name", v.Name)
		el(&b, "dataType", v.Type)
		if len(v.Allowed) > 0 {
			b.WriteString("<allowedValueList>")
			for _, a := range v.Allowed {
				el(&b, "allowedValue", a)
			}
			b.WriteString("</allowedValueList>")
		}
		b.WriteString("</stateVariable>")
	}
	b.WriteString("</serviceStateTable></scpd>")
	return b.String()
}
