package store

import (
	"time"

	"github.com/smallpot/smallpot/internal/event"
)

// Novelty verdicts on a sample, as first seen.
const (
	NoveltyNewHash    = event.AlertNewHash    // never seen before
	NoveltyNewVariant = event.AlertNewVariant // new, and close to a known family's sample
	NoveltyKnown      = "known"               // already in the sample store, or a reference sample
)

// SampleFuzzy is what the novelty analyzer learned about a sample: its
// fuzzy hashes, the family it is known by and its nearest relative.
// Fields it did not learn are empty.
type SampleFuzzy struct {
	SHA256  string `json:"sha256"`
	SSDeep  string `json:"ssdeep,omitempty"`
	TLSH    string `json:"tlsh,omitempty"`
	Family  string `json:"family,omitempty"`
	Variant string `json:"variant,omitempty"`
	// Novelty is the verdict when the sample was hashed: new_hash,
	// new_variant or known; empty for a sample only labelled so far.
	Novelty string `json:"novelty,omitempty"`
	// Nearest is the closest sample within the thresholds when it was
	// hashed, if any.
	Nearest *event.Relative `json:"nearest,omitempty"`
	Time    time.Time       `json:"time"` // when it was hashed (or labelled)
}

// ProbeShape is a normalized probe seen on a sensor (package novelty).
type ProbeShape struct {
	Key       string    `json:"key"` // hash of sensor, service, kind and shape
	Sensor    string    `json:"sensor"`
	Service   string    `json:"service"`
	Kind      string    `json:"kind"`
	Shape     string    `json:"shape"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	EventID   string    `json:"event_id"` // the event it was first seen in
}
