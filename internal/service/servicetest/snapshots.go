package servicetest

import (
	"bytes"
	"fmt"

	"github.com/smallpot/smallpot/internal/event"
)

// Snapshots is an emitter that reads every event on a goroutine of its
// own, as the pipeline's sinks do, and keeps it with its JSON and its
// blob (a close event's transcript) as they were then: Changed tells
// whether anything an event holds was written after it was emitted (or
// its memory reused by a later session). Call Close once emitting is
// over, before reading Events.
type Snapshots struct {
	in   chan *event.Event
	done chan struct{}
	evs  []*event.Event
	json [][]byte
	blob [][]byte
}

// NewSnapshots starts a Snapshots emitter.
func NewSnapshots() *Snapshots {
	m := &Snapshots{in: make(chan *event.Event, 64), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for e := range m.in {
			b, err := e.AppendJSON(nil)
			if err != nil {
				panic(err)
			}
			var blob []byte
			if bl, ok := e.Detail.(event.Blobber); ok {
				blob = bytes.Clone(bl.Blob())
			}
			m.evs, m.json, m.blob = append(m.evs, e), append(m.json, b), append(m.blob, blob)
		}
	}()
	return m
}

// Emit implements service.Emitter.
func (m *Snapshots) Emit(e *event.Event) { m.in <- e }

// Close waits until every event emitted is kept.
func (m *Snapshots) Close() {
	close(m.in)
	<-m.done
}

// Events returns the events, in the order emitted.
func (m *Snapshots) Events() []*event.Event { return m.evs }

// Changed returns an error naming the first event whose JSON or blob is
// no longer what it was when emitted.
func (m *Snapshots) Changed() error {
	for i, e := range m.evs {
		if b, _ := e.AppendJSON(nil); !bytes.Equal(b, m.json[i]) {
			return fmt.Errorf("event changed after it was emitted:\n%s\nwas\n%s", b, m.json[i])
		}
		if bl, ok := e.Detail.(event.Blobber); ok && !bytes.Equal(bl.Blob(), m.blob[i]) {
			return fmt.Errorf("blob of event %s changed after it was emitted: %q, was %q", e.ID, bl.Blob(), m.blob[i])
		}
	}
	return nil
}
