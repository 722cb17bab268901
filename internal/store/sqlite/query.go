package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/store"
)

// Events returns the newest f.Limit events matching f (all when Limit is
// 0), oldest first, each as the JSON the pipeline encoded. Events of the
// same time come in the order written.
func (d *DB) Events(ctx context.Context, f store.EventFilter) ([]json.RawMessage, error) {
	out, err := d.events(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events: %w", err)
	}
	return out, nil
}

const sampleColumns = `s.sha256, s.md5, s.sha1, s.size, s.first_seen, s.last_seen, s.count, s.first_source,
	(SELECT count(DISTINCT g.session) FROM sample_sightings g WHERE g.sha256 = s.sha256),
	coalesce((SELECT group_concat(DISTINCT g.service) FROM sample_sightings g WHERE g.sha256 = s.sha256), '')`

func scanSample(sc interface{ Scan(...any) error }) (store.SampleRow, error) {
	var r store.SampleRow
	var first, last int64
	var services string
	if err := sc.Scan(&r.SHA256, &r.MD5, &r.SHA1, &r.Size, &first, &last, &r.Count, &r.FirstSource,
		&r.Sessions, &services); err != nil {
		return r, err
	}
	r.FirstSeen, r.LastSeen = fromNanos(first), fromNanos(last)
	r.Services = []string{}
	if services != "" {
		r.Services = strings.Split(services, ",")
		sort.Strings(r.Services)
	}
	return r, nil
}

// Samples returns every sample, the most recently seen last.
func (d *DB) Samples(ctx context.Context) ([]store.SampleRow, error) {
	rows, err := d.db.QueryContext(ctx, "SELECT "+sampleColumns+" FROM samples s ORDER BY s.last_seen, s.sha256")
	if err != nil {
		return nil, fmt.Errorf("sqlite: samples: %w", err)
	}
	defer rows.Close()
	var out []store.SampleRow
	for rows.Next() {
		r, err := scanSample(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: samples: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: samples: %w", err)
	}
	return out, nil
}

// Sample returns one sample and every sighting of it, oldest first. An
// unknown hash is an error wrapping store.ErrNotFound.
func (d *DB) Sample(ctx context.Context, sha256 string) (store.SampleRow, []store.Sighting, error) {
	sha256 = strings.ToLower(strings.TrimSpace(sha256))
	r, err := scanSample(d.db.QueryRowContext(ctx, "SELECT "+sampleColumns+" FROM samples s WHERE s.sha256 = ?", sha256))
	if errors.Is(err, sql.ErrNoRows) {
		return r, nil, fmt.Errorf("sqlite: sample %s: %w", sha256, store.ErrNotFound)
	}
	if err != nil {
		return r, nil, fmt.Errorf("sqlite: sample %s: %w", sha256, err)
	}
	rows, err := d.db.QueryContext(ctx, `SELECT sha256, event_id, session, time, service, src_ip, source, name
		FROM sample_sightings WHERE sha256 = ? ORDER BY time, event_id`, sha256)
	if err != nil {
		return r, nil, fmt.Errorf("sqlite: sample %s: %w", sha256, err)
	}
	defer rows.Close()
	var out []store.Sighting
	for rows.Next() {
		var s store.Sighting
		var t int64
		if err := rows.Scan(&s.SHA256, &s.EventID, &s.Session, &t, &s.Service, &s.SrcIP, &s.Source, &s.Name); err != nil {
			return r, nil, fmt.Errorf("sqlite: sample %s: %w", sha256, err)
		}
		s.Time = fromNanos(t)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return r, nil, fmt.Errorf("sqlite: sample %s: %w", sha256, err)
	}
	return r, out, nil
}

// Session returns one finished session with its transcript: what its
// close event says, and the transcript stored with it. An unknown id (or a
// session still open) is an error wrapping store.ErrNotFound.
func (d *DB) Session(ctx context.Context, id string) (store.SessionRow, error) {
	r := store.SessionRow{ID: id}
	if id == "" {
		return r, fmt.Errorf("sqlite: session %q: %w", id, store.ErrNotFound)
	}
	var off, n, trOff, trN int64
	err := d.db.QueryRowContext(ctx, `SELECT close_offset, close_length, transcript_offset, transcript_length
		FROM sessions WHERE id = ?`, id).Scan(&off, &n, &trOff, &trN)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("sqlite: session %s: %w", id, err)
	}
	if err != nil || off < 0 {
		// No row of its own: a short session, found by its close event.
		c, found, err := d.findClose(ctx, id)
		if err != nil {
			return r, fmt.Errorf("sqlite: session %s: %w", id, err)
		}
		if !found {
			return r, fmt.Errorf("sqlite: session %s: %w", id, store.ErrNotFound)
		}
		off, n, trOff, trN = c.off, c.n, c.trOff, c.trN
	}
	lf, err := d.openLog(eventsPath(d.path), d.evFile)
	if err != nil {
		return r, fmt.Errorf("sqlite: session %s: %w", id, err)
	}
	defer lf.close()
	js, err := lf.readLine(off, n)
	if err != nil {
		return r, fmt.Errorf("sqlite: session %s: close event: %w", id, err)
	}
	var e event.Event
	if err := e.UnmarshalJSON(js); err != nil {
		return r, fmt.Errorf("sqlite: session %s: close event: %w", id, err)
	}
	c, ok := e.Detail.(*event.Close)
	if !ok {
		return r, fmt.Errorf("sqlite: session %s: close event of kind %s", id, e.Kind)
	}
	r.Sensor, r.Service, r.Transport = e.Sensor, e.Service, string(e.Transport)
	r.SrcIP, r.SrcPort = ipString(e.Src), int(e.Src.Port())
	r.DstIP, r.DstPort = ipString(e.Dst), int(e.Dst.Port())
	r.EndTime = e.Time.UTC()
	r.StartTime = r.EndTime.Add(-time.Duration(c.DurationMS) * time.Millisecond)
	r.DurationMS, r.BytesIn, r.BytesOut, r.Reason = c.DurationMS, c.BytesIn, c.BytesOut, c.Reason
	if trN > 0 {
		if r.Transcript, err = d.readTranscript(trOff, trN); err != nil {
			return r, fmt.Errorf("sqlite: session %s: %w", id, err)
		}
	}
	return r, nil
}

// maxTranscript bounds what readTranscript reads: a transcript keeps at
// most the configured bytes each way, far below it.
const maxTranscript = 1 << 30

// readTranscript reads n bytes at off from the transcripts file.
func (d *DB) readTranscript(off, n int64) ([]byte, error) {
	if n > maxTranscript {
		return nil, fmt.Errorf("transcript at %d of %d bytes: out of range", off, n)
	}
	lf, err := d.openLog(transcriptsPath(d.path), d.trFile)
	if err != nil {
		return nil, fmt.Errorf("transcript: %w", err)
	}
	defer lf.close()
	b, err := lf.read(off, n)
	if err != nil {
		return nil, fmt.Errorf("transcript: %w", err)
	}
	if b, err = expandTranscript(b, lf.read); err != nil {
		return nil, fmt.Errorf("transcript at %d: %w", off, err)
	}
	return b, nil
}

func fromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }
