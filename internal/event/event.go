// Package event defines what Smallpot records: one envelope for every
// service and one typed detail struct per kind.
//
// The JSON names of every field are part of Smallpot's public schema
// (docs/events.md): dashboards and pipelines are built on them, so a name
// once shipped is never changed, only added to.
package event

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
)

// Kind names what an event records.
type Kind string

// The kinds of event. docs/events.md documents each one.
const (
	KindConnect  Kind = "connect"
	KindClose    Kind = "close"
	KindRequest  Kind = "request"
	KindLogin    Kind = "login"
	KindCommand  Kind = "command"
	KindPayload  Kind = "payload"
	KindUpload   Kind = "upload"
	KindDownload Kind = "download"
	KindSample   Kind = "sample"
	KindMail     Kind = "mail"
	KindRPC      Kind = "rpc"
	KindSSH      Kind = "ssh"
	// KindDetection is emitted by the classification stage (package
	// detect), never by a service.
	KindDetection Kind = "detection"
	// KindAlert is emitted by the novelty stage (package novelty), never
	// by a service.
	KindAlert Kind = "alert"
	// KindFetch is emitted by the opt-in downloader (package download),
	// never by a service.
	KindFetch Kind = "fetch"
)

// Transport is "tcp" or "udp".
type Transport string

// Transports.
const (
	TCP Transport = "tcp"
	UDP Transport = "udp"
)

// Event is the envelope every service emits.
type Event struct {
	ID        string         `json:"id"`
	Time      time.Time      `json:"time"`
	Sensor    string         `json:"sensor"`
	Session   string         `json:"session"`
	Service   string         `json:"service"`
	Transport Transport      `json:"transport"`
	Src       netip.AddrPort `json:"-"`
	Dst       netip.AddrPort `json:"-"`
	Kind      Kind           `json:"kind"`
	Detail    Detail         `json:"-"`
}

// Detail is the typed part of an event; each kind has one struct.
type Detail interface {
	Kind() Kind
}

// Blobber is implemented by details that carry bytes too large or too raw
// for the JSON schema (a session transcript). Sinks that keep such bytes
// (the SQLite store) ask for them; the JSON form never includes them.
type Blobber interface {
	Blob() []byte
}

// wire is the JSON shape of an Event: the envelope with flat address
// fields, then the detail under "detail".
type wire struct {
	ID        string          `json:"id"`
	Time      time.Time       `json:"time"`
	Sensor    string          `json:"sensor"`
	Session   string          `json:"session"`
	Service   string          `json:"service"`
	Transport Transport       `json:"transport"`
	SrcIP     string          `json:"src_ip"`
	SrcPort   uint16          `json:"src_port"`
	DstIP     string          `json:"dst_ip"`
	DstPort   uint16          `json:"dst_port"`
	Kind      Kind            `json:"kind"`
	Detail    json.RawMessage `json:"detail"`
}

// MarshalJSON writes the schema documented in docs/events.md (see
// AppendJSON).
func (e *Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 512))
}

// UnmarshalJSON reads the schema back, decoding the detail into the struct
// of its kind. An unknown kind keeps its detail as Raw.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = Event{ID: w.ID, Time: w.Time, Sensor: w.Sensor, Session: w.Session,
		Service: w.Service, Transport: w.Transport, Kind: w.Kind}
	if w.SrcIP != "" {
		ip, err := netip.ParseAddr(w.SrcIP)
		if err != nil {
			return fmt.Errorf("event: src_ip: %w", err)
		}
		e.Src = netip.AddrPortFrom(ip, w.SrcPort)
	}
	if w.DstIP != "" {
		ip, err := netip.ParseAddr(w.DstIP)
		if err != nil {
			return fmt.Errorf("event: dst_ip: %w", err)
		}
		e.Dst = netip.AddrPortFrom(ip, w.DstPort)
	}
	d := NewDetail(w.Kind)
	if d == nil {
		e.Detail = Raw{K: w.Kind, JSON: w.Detail}
		return nil
	}
	if len(w.Detail) > 0 {
		if err := json.Unmarshal(w.Detail, d); err != nil {
			return fmt.Errorf("event %s: detail: %w", w.Kind, err)
		}
	}
	e.Detail = d
	return nil
}

// Raw is the detail of a kind this build does not know (an event written
// by a newer sensor, say). It keeps the JSON as it came.
type Raw struct {
	K    Kind
	JSON json.RawMessage
}

// Kind implements Detail.
func (r Raw) Kind() Kind { return r.K }

// MarshalJSON writes the detail back as it came.
func (r Raw) MarshalJSON() ([]byte, error) {
	if len(r.JSON) == 0 {
		return []byte("{}"), nil
	}
	return r.JSON, nil
}

// NewDetail returns a pointer to a zero detail struct of kind k, or nil
// for a kind this build does not know.
func NewDetail(k Kind) Detail {
	switch k {
	case KindConnect:
		return &Connect{}
	case KindClose:
		return &Close{}
	case KindRequest:
		return &Request{}
	case KindLogin:
		return &Login{}
	case KindCommand:
		return &Command{}
	case KindPayload:
		return &Payload{}
	case KindUpload:
		return &Upload{}
	case KindDownload:
		return &Download{}
	case KindSample:
		return &Sample{}
	case KindMail:
		return &Mail{}
	case KindRPC:
		return &RPC{}
	case KindSSH:
		return &SSH{}
	case KindDetection:
		return &Detection{}
	case KindAlert:
		return &Alert{}
	case KindFetch:
		return &Fetch{}
	}
	return nil
}
