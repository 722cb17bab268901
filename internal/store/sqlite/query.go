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

	"github.com/smallpot/smallpot/internal/store"
)

// Events returns the newest f.Limit events matching f (all when Limit is
// 0), oldest first, each as the JSON the pipeline encoded.
func (d *DB) Events(ctx context.Context, f store.EventFilter) ([]json.RawMessage, error) {
	q, args := eventsQuery(f)
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events: %w", err)
	}
	defer rows.Close()
	var out []json.RawMessage
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("sqlite: events: %w", err)
		}
		out = append(out, json.RawMessage(b))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: events: %w", err)
	}
	return out, nil
}

func eventsQuery(f store.EventFilter) (string, []any) {
	var where []string
	var args []any
	for _, c := range []struct{ col, val string }{
		{"service", f.Service}, {"kind", f.Kind}, {"session", f.Session},
	} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	// rowid breaks ties in time by arrival order, and is in every index,
	// so neither order needs a sort of the table.
	if f.Limit <= 0 {
		return "SELECT json FROM events" + cond + " ORDER BY time, rowid", args
	}
	return "SELECT json FROM (SELECT json, time, rowid AS r FROM events" + cond +
		" ORDER BY time DESC, rowid DESC LIMIT ?) ORDER BY time, r", append(args, f.Limit)
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

// Session returns one finished session with its transcript. An unknown
// id (or a session still open) is an error wrapping store.ErrNotFound.
func (d *DB) Session(ctx context.Context, id string) (store.SessionRow, error) {
	var r store.SessionRow
	var start, end int64
	err := d.db.QueryRowContext(ctx, `SELECT id, sensor, service, transport, src_ip, src_port, dst_ip, dst_port,
		start_time, end_time, duration_ms, bytes_in, bytes_out, reason, transcript
		FROM sessions WHERE id = ?`, id).Scan(&r.ID, &r.Sensor, &r.Service, &r.Transport, &r.SrcIP, &r.SrcPort,
		&r.DstIP, &r.DstPort, &start, &end, &r.DurationMS, &r.BytesIn, &r.BytesOut, &r.Reason, &r.Transcript)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("sqlite: session %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("sqlite: session %s: %w", id, err)
	}
	r.StartTime, r.EndTime = fromNanos(start), fromNanos(end)
	return r, nil
}

func fromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }
