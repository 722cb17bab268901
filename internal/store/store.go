// Package store holds what the storage backends (store/sqlite, and later
// store/postgres) return to their readers, the CLI and the dashboard: the
// rows of sessions and samples and the filter for events. The backends
// implement the same queries over these types, so a reader does not care
// which one it talks to; store/storetest checks that they agree.
package store

import (
	"errors"
	"time"
)

// ErrNotFound is returned (wrapped) by lookups of one session or sample
// that is not in the store.
var ErrNotFound = errors.New("not found")

// EventFilter selects events. Empty fields match everything.
type EventFilter struct {
	Service string
	Kind    string
	Session string
	// Limit keeps only the newest Limit matching events; 0 keeps all.
	Limit int
}

// SampleRow is one captured sample: the bytes' hashes and how often and
// where they were seen.
type SampleRow struct {
	SHA256      string    `json:"sha256"`
	MD5         string    `json:"md5"`
	SHA1        string    `json:"sha1"`
	Size        int64     `json:"size"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	Count       int64     `json:"count"`        // sample events seen
	FirstSource string    `json:"first_source"` // what the bytes were when first seen
	Sessions    int       `json:"sessions"`     // distinct sessions they came from
	Services    []string  `json:"services"`     // services they came through, sorted
}

// Sighting is one arrival of a sample: one sample event.
type Sighting struct {
	SHA256  string    `json:"sha256"`
	EventID string    `json:"event_id"`
	Session string    `json:"session"`
	Time    time.Time `json:"time"`
	Service string    `json:"service"`
	SrcIP   string    `json:"src_ip"`
	Source  string    `json:"source"`
	Name    string    `json:"name,omitempty"` // the client's name for the bytes, as data
}

// SessionRow is one finished TCP session, written when its close event
// arrives.
type SessionRow struct {
	ID         string    `json:"id"`
	Sensor     string    `json:"sensor"`
	Service    string    `json:"service"`
	Transport  string    `json:"transport"`
	SrcIP      string    `json:"src_ip"`
	SrcPort    int       `json:"src_port"`
	DstIP      string    `json:"dst_ip"`
	DstPort    int       `json:"dst_port"`
	StartTime  time.Time `json:"start_time"`
	EndTime    time.Time `json:"end_time"`
	DurationMS int64     `json:"duration_ms"`
	BytesIn    int64     `json:"bytes_in"`
	BytesOut   int64     `json:"bytes_out"`
	Reason     string    `json:"reason"`
	// Transcript is the session's transcript in the framing of package
	// transcript (base64 in JSON); empty when the close event carried none,
	// as when it came from a sensor over the network.
	Transcript []byte `json:"transcript,omitempty"`
}
