package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/store"
)

// The novelty analyzer's tables (migrations/0002_novelty.sql): what it
// learned about each sample, and the probe shapes it has seen.

// A row written again keeps what it knew: hashes, verdict and nearest
// relative are replaced only by a row that carries a verdict (a sample
// hashed), and a sample keeps its first family (a later label of the same
// family may add the variant it lacked).
const upsertFuzzySQL = `INSERT INTO sample_fuzzy (sha256, ssdeep, tlsh, family, variant, novelty,
	nearest_sha256, nearest_family, nearest_variant, nearest_ssdeep, nearest_tlsh, nearest_seed, time)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (sha256) DO UPDATE SET
	ssdeep = CASE WHEN excluded.novelty <> '' THEN excluded.ssdeep ELSE ssdeep END,
	tlsh = CASE WHEN excluded.novelty <> '' THEN excluded.tlsh ELSE tlsh END,
	novelty = CASE WHEN excluded.novelty <> '' THEN excluded.novelty ELSE novelty END,
	nearest_sha256 = CASE WHEN excluded.novelty <> '' THEN excluded.nearest_sha256 ELSE nearest_sha256 END,
	nearest_family = CASE WHEN excluded.novelty <> '' THEN excluded.nearest_family ELSE nearest_family END,
	nearest_variant = CASE WHEN excluded.novelty <> '' THEN excluded.nearest_variant ELSE nearest_variant END,
	nearest_ssdeep = CASE WHEN excluded.novelty <> '' THEN excluded.nearest_ssdeep ELSE nearest_ssdeep END,
	nearest_tlsh = CASE WHEN excluded.novelty <> '' THEN excluded.nearest_tlsh ELSE nearest_tlsh END,
	nearest_seed = CASE WHEN excluded.novelty <> '' THEN excluded.nearest_seed ELSE nearest_seed END,
	time = CASE WHEN excluded.novelty <> '' THEN excluded.time ELSE time END,
	family = CASE WHEN family = '' THEN excluded.family ELSE family END,
	variant = CASE WHEN family = '' OR (family = excluded.family AND variant = '') THEN excluded.variant ELSE variant END`

const upsertShapeSQL = `INSERT INTO probe_shapes (key, sensor, service, kind, shape, first_seen, last_seen, event_id)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (key) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)`

const fuzzyColumns = `sha256, ssdeep, tlsh, family, variant, novelty, nearest_sha256, nearest_family,
	nearest_variant, nearest_ssdeep, nearest_tlsh, nearest_seed, time`

// SaveNovelty writes, in one transaction, what the novelty analyzer
// learned about samples and the probe shapes it saw for the first time
// (or again after forgetting them).
func (d *DB) SaveNovelty(ctx context.Context, samples []store.SampleFuzzy, shapes []store.ProbeShape) error {
	if d.readOnly {
		return ErrReadOnly
	}
	if len(samples) == 0 && len(shapes) == 0 {
		return nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: novelty: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if len(samples) > 0 {
		st, err := tx.PrepareContext(ctx, upsertFuzzySQL)
		if err != nil {
			return fmt.Errorf("sqlite: novelty: %w", err)
		}
		defer st.Close()
		for _, s := range samples {
			var nSHA, nFam, nVar string
			var nSS, nTL sql.NullInt64
			var nSeed bool
			if n := s.Nearest; n != nil {
				nSHA, nFam, nVar, nSeed = n.SHA256, n.Family, n.Variant, n.Seed
				nSS = sql.NullInt64{Int64: int64(n.SSDeep), Valid: true}
				if n.TLSH != nil {
					nTL = sql.NullInt64{Int64: int64(*n.TLSH), Valid: true}
				}
			}
			if _, err := st.ExecContext(ctx, strings.ToLower(s.SHA256), s.SSDeep, s.TLSH, s.Family, s.Variant, s.Novelty,
				nSHA, nFam, nVar, nSS, nTL, nSeed, s.Time.UnixNano()); err != nil {
				return fmt.Errorf("sqlite: novelty: sample %s: %w", s.SHA256, err)
			}
		}
	}
	if len(shapes) > 0 {
		st, err := tx.PrepareContext(ctx, upsertShapeSQL)
		if err != nil {
			return fmt.Errorf("sqlite: novelty: %w", err)
		}
		defer st.Close()
		for _, p := range shapes {
			if _, err := st.ExecContext(ctx, p.Key, p.Sensor, p.Service, p.Kind, p.Shape,
				p.FirstSeen.UnixNano(), p.LastSeen.UnixNano(), p.EventID); err != nil {
				return fmt.Errorf("sqlite: novelty: shape: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: novelty: %w", err)
	}
	return nil
}

func scanFuzzy(sc interface{ Scan(...any) error }) (store.SampleFuzzy, error) {
	var r store.SampleFuzzy
	var nSHA, nFam, nVar string
	var nSS, nTL sql.NullInt64
	var nSeed bool
	var t int64
	if err := sc.Scan(&r.SHA256, &r.SSDeep, &r.TLSH, &r.Family, &r.Variant, &r.Novelty,
		&nSHA, &nFam, &nVar, &nSS, &nTL, &nSeed, &t); err != nil {
		return r, err
	}
	r.Time = fromNanos(t)
	if nSHA != "" {
		n := &event.Relative{SHA256: nSHA, Family: nFam, Variant: nVar, SSDeep: int(nSS.Int64), Seed: nSeed}
		if nTL.Valid {
			v := int(nTL.Int64)
			n.TLSH = &v
		}
		r.Nearest = n
	}
	return r, nil
}

// SampleFuzzy returns what the novelty analyzer learned about one
// sample. A sample it knows nothing about is an error wrapping
// store.ErrNotFound.
func (d *DB) SampleFuzzy(ctx context.Context, sha256 string) (store.SampleFuzzy, error) {
	sha256 = strings.ToLower(strings.TrimSpace(sha256))
	r, err := scanFuzzy(d.db.QueryRowContext(ctx, "SELECT "+fuzzyColumns+" FROM sample_fuzzy WHERE sha256 = ?", sha256))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("sqlite: sample %s: %w", sha256, store.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("sqlite: sample %s: %w", sha256, err)
	}
	return r, nil
}

// SamplesFuzzy returns what the novelty analyzer learned about the
// given samples (all it knows of when none are given), by SHA-256.
// Samples it knows nothing about are left out.
func (d *DB) SamplesFuzzy(ctx context.Context, sha256s ...string) (map[string]store.SampleFuzzy, error) {
	out := map[string]store.SampleFuzzy{}
	add := func(query string, args ...any) error {
		rows, err := d.db.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanFuzzy(rows)
			if err != nil {
				return err
			}
			out[r.SHA256] = r
		}
		return rows.Err()
	}
	if len(sha256s) == 0 {
		if err := add("SELECT " + fuzzyColumns + " FROM sample_fuzzy"); err != nil {
			return nil, fmt.Errorf("sqlite: samples fuzzy: %w", err)
		}
		return out, nil
	}
	const chunk = 500
	for i := 0; i < len(sha256s); i += chunk {
		part := sha256s[i:min(i+chunk, len(sha256s))]
		args := make([]any, len(part))
		for j, s := range part {
			args[j] = strings.ToLower(strings.TrimSpace(s))
		}
		q := "SELECT " + fuzzyColumns + " FROM sample_fuzzy WHERE sha256 IN (" +
			strings.TrimSuffix(strings.Repeat("?, ", len(part)), ", ") + ")"
		if err := add(q, args...); err != nil {
			return nil, fmt.Errorf("sqlite: samples fuzzy: %w", err)
		}
	}
	return out, nil
}

// EachSampleFuzzy calls fn with every row of sample_fuzzy, in no
// particular order, until fn returns an error: the novelty analyzer loads
// its index this way at start.
func (d *DB) EachSampleFuzzy(ctx context.Context, fn func(store.SampleFuzzy) error) error {
	rows, err := d.db.QueryContext(ctx, "SELECT "+fuzzyColumns+" FROM sample_fuzzy")
	if err != nil {
		return fmt.Errorf("sqlite: samples fuzzy: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanFuzzy(rows)
		if err != nil {
			return fmt.Errorf("sqlite: samples fuzzy: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: samples fuzzy: %w", err)
	}
	return nil
}

// ProbeShapes returns the probe shapes most recently seen, newest first,
// at most limit of them (all when limit <= 0).
func (d *DB) ProbeShapes(ctx context.Context, limit int) ([]store.ProbeShape, error) {
	q := "SELECT key, sensor, service, kind, shape, first_seen, last_seen, event_id FROM probe_shapes ORDER BY last_seen DESC, key"
	var args []any
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: probe shapes: %w", err)
	}
	defer rows.Close()
	var out []store.ProbeShape
	for rows.Next() {
		var p store.ProbeShape
		var first, last int64
		if err := rows.Scan(&p.Key, &p.Sensor, &p.Service, &p.Kind, &p.Shape, &first, &last, &p.EventID); err != nil {
			return nil, fmt.Errorf("sqlite: probe shapes: %w", err)
		}
		p.FirstSeen, p.LastSeen = fromNanos(first), fromNanos(last)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: probe shapes: %w", err)
	}
	return out, nil
}
