package upnp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// The device tree of an Internet Gateway Device (IGD:1): a root device,
// a WANDevice with WANCommonInterfaceConfig, and inside it a
// WANConnectionDevice with WANIPConnection. Each persona lays it out as
// its product does: miniupnpd's fixed paths (/rootDesc.xml, /ctl/IPConn),
// or the Windows UPnP Device Host's udhisapi.dll URLs.

const (
	typeIGD      = "urn:schemas-upnp-org:device:InternetGatewayDevice"
	typeWANDev   = "urn:schemas-upnp-org:device:WANDevice"
	typeWANConn  = "urn:schemas-upnp-org:device:WANConnectionDevice"
	svcWANIP     = "urn:schemas-upnp-org:service:WANIPConnection"
	svcWANCommon = "urn:schemas-upnp-org:service:WANCommonInterfaceConfig"
	svcL3F       = "urn:schemas-upnp-org:service:Layer3Forwarding"
	svcOSInfo    = "urn:schemas-microsoft-com:service:OSInfo"
)

// upnpService is one service of a device.
type upnpService struct {
	Type    string // with version: "urn:…:WANIPConnection:1"
	ID      string // "urn:upnp-org:serviceId:WANIPConn1"
	SCPD    string // URL paths (with query for Windows)
	Control string
	Event   string
	Spec    *scpd
}

// device is one device of the tree.
type device struct {
	Type             string // with version
	UDN              string // "uuid:…"
	FriendlyName     string
	Manufacturer     string
	ManufacturerURL  string
	ModelDescription string
	ModelName        string
	ModelNumber      string
	ModelURL         string
	SerialNumber     string
	UPC              string
	Services         []*upnpService
	Devices          []*device
}

// tree is the whole IGD as one persona serves it.
type tree struct {
	Root     *device
	DescPath string // request target of the root description
	Presence string // presentationURL host part ("" for none); "%s" is replaced by the address reached
}

// walk calls f for every device, root first.
func (d *device) walk(f func(*device)) {
	f(d)
	for _, c := range d.Devices {
		c.walk(f)
	}
}

// targets lists what the tree answers M-SEARCH for, and its UDNs.
func (t *tree) targets() ([]target, []string) {
	var ts []target
	var udns []string
	t.Root.walk(func(d *device) {
		udns = append(udns, d.UDN)
		typ, v := splitVersion(d.Type)
		ts = append(ts, target{Type: typ, Version: v, UDN: d.UDN})
		for _, s := range d.Services {
			typ, v := splitVersion(s.Type)
			ts = append(ts, target{Type: typ, Version: v, UDN: d.UDN})
		}
	})
	return ts, udns
}

func splitVersion(t string) (string, int) {
	i := strings.LastIndexByte(t, ':')
	v := 0
	fmt.Sscanf(t[i+1:], "%d", &v)
	return t[:i], v
}

// findService returns the service whose path is p (control, event or
// SCPD, chosen by which).
func (t *tree) findService(which string, p string) *upnpService {
	var found *upnpService
	t.Root.walk(func(d *device) {
		for _, s := range d.Services {
			var u string
			switch which {
			case "control":
				u = s.Control
			case "event":
				u = s.Event
			case "scpd":
				u = s.SCPD
			}
			if found == nil && u == p {
				found = s
			}
		}
	})
	return found
}

// serviceOfType returns the service of type typ (any version), or nil.
func (t *tree) serviceOfType(typ string) *upnpService {
	var found *upnpService
	t.Root.walk(func(d *device) {
		for _, s := range d.Services {
			if found == nil && strings.HasPrefix(s.Type, typ+":") {
				found = s
			}
		}
	})
	return found
}

// deviceOf returns the device holding s.
func (t *tree) deviceOf(s *upnpService) *device {
	var found *device
	t.Root.walk(func(d *device) {
		for _, x := range d.Services {
			if x == s {
				found = d
			}
		}
	})
	return found
}

// deriveUUID makes a stable UUID (version 4 layout) from seed, so a
// sensor's devices keep their identity across restarts and two sensors
// differ.
func deriveUUID(seed string) string {
	h := sha256.Sum256([]byte("smallpot/upnp/" + seed))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// nextUUID adds n to the last byte of a UUID (with carry), as miniupnpd
// numbers its WANDevice and WANConnectionDevice after the root.
func nextUUID(u string, n int) string {
	b, err := hex.DecodeString(strings.ReplaceAll(u, "-", ""))
	if err != nil || len(b) != 16 {
		return u
	}
	for i := 15; i >= 0 && n > 0; i-- {
		s := int(b[i]) + n
		b[i] = byte(s)
		n = s >> 8
	}
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// miniupnpdTree is the tree of miniupnpd built for IGD:1: rootDesc.xml
// with Layer3Forwarding on the root, sub-device UDNs numbered from the
// root's.
func miniupnpdTree(p *Persona) *tree {
	root := "uuid:" + p.UUID
	sub := func(name, desc, model string, n int) *device {
		return &device{FriendlyName: name, Manufacturer: "MiniUPnP", ManufacturerURL: "http://miniupnp.free.fr/",
			ModelDescription: desc, ModelName: model, ModelNumber: p.BuildDate, ModelURL: "http://miniupnp.free.fr/",
			SerialNumber: "00000000", UPC: "000000000000", UDN: "uuid:" + nextUUID(p.UUID, n)}
	}
	wan := sub("WANDevice", "WAN Device", "WAN Device", 1)
	wan.Type = typeWANDev + ":1"
	wan.Services = []*upnpService{{Type: svcWANCommon + ":1", ID: "urn:upnp-org:serviceId:WANCommonIFC1",
		SCPD: "/WANCfg.xml", Control: "/ctl/CmnIfCfg", Event: "/evt/CmnIfCfg", Spec: scpdWANCommon}}
	conn := sub("WANConnectionDevice", "MiniUPnP daemon", "MiniUPnPd", 2)
	conn.Type = typeWANConn + ":1"
	conn.Services = []*upnpService{{Type: svcWANIP + ":1", ID: "urn:upnp-org:serviceId:WANIPConn1",
		SCPD: "/WANIPCn.xml", Control: "/ctl/IPConn", Event: "/evt/IPConn", Spec: scpdWANIP}}
	wan.Devices = []*device{conn}
	r := &device{Type: typeIGD + ":1", UDN: root, FriendlyName: p.FriendlyName, Manufacturer: p.Manufacturer,
		ManufacturerURL: p.ManufacturerURL, ModelDescription: p.ModelDescription, ModelName: p.ModelName,
		ModelNumber: p.ModelNumber, ModelURL: p.ModelURL, SerialNumber: p.SerialNumber,
		Services: []*upnpService{{Type: svcL3F + ":1", ID: "urn:upnp-org:serviceId:L3Forwarding1",
			SCPD: "/L3F.xml", Control: "/ctl/L3F", Event: "/evt/L3F", Spec: scpdL3F}},
		Devices: []*device{wan}}
	return &tree{Root: r, DescPath: "/rootDesc.xml", Presence: "http://%s/"}
}

// windowsTree is the gateway Internet Connection Sharing registers with
// the UPnP Device Host: OSInfo on the root, every document and control
// point behind udhisapi.dll, keyed by UDN and service id.
func windowsTree(p *Persona) *tree {
	const isapi = "/upnphost/udhisapi.dll"
	svc := func(udn, typ, id string, spec *scpd) *upnpService {
		return &upnpService{Type: typ, ID: id, Spec: spec,
			SCPD:    isapi + "?content=uuid:" + deriveUUID(p.UUID+"/scpd/"+id),
			Control: isapi + "?control=" + udn + "+" + id,
			Event:   isapi + "?event=" + udn + "+" + id}
	}
	ms := func(d *device) *device {
		d.Manufacturer, d.ManufacturerURL = p.Manufacturer, p.ManufacturerURL
		d.ModelName, d.ModelNumber, d.ModelURL = p.ModelName, p.ModelNumber, p.ModelURL
		d.ModelDescription = p.ModelDescription
		return d
	}
	root := "uuid:" + p.UUID
	connUDN := "uuid:" + deriveUUID(p.UUID+"/WANConnectionDevice")
	wanUDN := "uuid:" + deriveUUID(p.UUID+"/WANDevice")
	conn := ms(&device{Type: typeWANConn + ":1", UDN: connUDN, FriendlyName: "WANConnectionDevice",
		Services: []*upnpService{svc(connUDN, svcWANIP+":1", "urn:upnp-org:serviceId:WANIPConn1", scpdWANIP)}})
	wan := ms(&device{Type: typeWANDev + ":1", UDN: wanUDN, FriendlyName: "WANDevice",
		Services: []*upnpService{svc(wanUDN, svcWANCommon+":1", "urn:upnp-org:serviceId:WANCommonIFC1", scpdWANCommon)},
		Devices:  []*device{conn}})
	r := ms(&device{Type: typeIGD + ":1", UDN: root, FriendlyName: p.FriendlyName,
		Services: []*upnpService{svc(root, svcOSInfo+":1", "urn:microsoft-com:serviceId:OSInfo1", scpdOSInfo)},
		Devices:  []*device{wan}})
	r.SerialNumber = p.SerialNumber
	return &tree{Root: r, DescPath: isapi + "?content=" + root}
}

// description renders the root description document. host is the
// address:port the client reached, for the presentation URL.
func (t *tree) description(k kind, host string) string {
	var b strings.Builder
	if k == kindMiniUPnPd {
		b.WriteString(`<?xml version="1.0"?>` + "\r\n" + `<root xmlns="urn:schemas-upnp-org:device-1-0" configId="1337">`)
		b.WriteString("<specVersion><major>1</major><minor>1</minor></specVersion>")
	} else {
		b.WriteString(`<?xml version="1.0"?>` + "\r\n" + `<root xmlns="urn:schemas-upnp-org:device-1-0">`)
		b.WriteString("<specVersion><major>1</major><minor>0</minor></specVersion>")
	}
	var dev func(d *device, root bool)
	dev = func(d *device, root bool) {
		b.WriteString("<device>")
		el(&b, "deviceType", d.Type)
		el(&b, "friendlyName", d.FriendlyName)
		el(&b, "manufacturer", d.Manufacturer)
		el(&b, "manufacturerURL", d.ManufacturerURL)
		el(&b, "modelDescription", d.ModelDescription)
		el(&b, "modelName", d.ModelName)
		el(&b, "modelNumber", d.ModelNumber)
		el(&b, "modelURL", d.ModelURL)
		el(&b, "serialNumber", d.SerialNumber)
		el(&b, "UDN", d.UDN)
		el(&b, "UPC", d.UPC)
		if len(d.Services) > 0 {
			b.WriteString("<serviceList>")
			for _, s := range d.Services {
				b.WriteString("<service>")
				el(&b, "serviceType", s.Type)
				el(&b, "serviceId", s.ID)
				if k == kindMiniUPnPd {
					el(&b, "SCPDURL", s.SCPD)
					el(&b, "controlURL", s.Control)
					el(&b, "eventSubURL", s.Event)
				} else {
					el(&b, "controlURL", s.Control)
					el(&b, "eventSubURL", s.Event)
					el(&b, "SCPDURL", s.SCPD)
				}
				b.WriteString("</service>")
			}
			b.WriteString("</serviceList>")
		}
		if len(d.Devices) > 0 {
			b.WriteString("<deviceList>")
			for _, c := range d.Devices {
				dev(c, false)
			}
			b.WriteString("</deviceList>")
		}
		if root && t.Presence != "" {
			el(&b, "presentationURL", strings.Replace(t.Presence, "%s", host, 1))
		}
		b.WriteString("</device>")
	}
	dev(t.Root, true)
	b.WriteString("</root>")
	return b.String()
}

// el writes <name>value</name>, value escaped; nothing for an empty value.
func el(b *strings.Builder, name, value string) {
	if value == "" {
		return
	}
	b.WriteString("<" + name + ">")
	b.WriteString(xmlEscape(value))
	b.WriteString("</" + name + ">")
}

func xmlEscape(s string) string {
	if !strings.ContainsAny(s, `<>&"'`) {
		return s
	}
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
	return r.Replace(s)
}
