package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unsafe"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
)

// chunks are the row counts of the multi-row INSERT statements a batch is
// cut into, largest first: one statement per 64 events costs far less
// than 64 statements (the table and its five indexes are opened once).
var chunks = [...]int{64, 16, 4, 1}

// multiInsert is one INSERT statement prepared for each chunk size.
type multiInsert struct {
	cols  int
	stmts [len(chunks)]*sql.Stmt
}

func (m *multiInsert) prepare(ctx context.Context, db *sql.DB, head string, cols int) error {
	m.cols = cols
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	for i, n := range chunks {
		st, err := db.PrepareContext(ctx, head+" VALUES "+strings.TrimSuffix(strings.Repeat(row+", ", n), ", "))
		if err != nil {
			return err
		}
		m.stmts[i] = st
	}
	return nil
}

// exec inserts the rows whose values are laid end to end in args.
func (m *multiInsert) exec(ctx, sctx context.Context, tx *sql.Tx, args []any) error {
	rows := len(args) / m.cols
	for off := 0; off < rows; {
		if err := ctx.Err(); err != nil {
			return err
		}
		i := 0
		for chunks[i] > rows-off {
			i++
		}
		n := chunks[i]
		if _, err := tx.StmtContext(sctx, m.stmts[i]).ExecContext(sctx, args[off*m.cols:(off+n)*m.cols]...); err != nil {
			return err
		}
		off += n
	}
	return nil
}

func (m *multiInsert) close() error {
	var first error
	for _, s := range m.stmts {
		if s != nil {
			if err := s.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

const insertEventHead = `INSERT OR IGNORE INTO events
	(id, time, sensor, session, service, transport, kind, src_ip, src_port, dst_ip, dst_port, json)`

const eventCols = 12

const insertSessionHead = `INSERT OR IGNORE INTO sessions
	(id, sensor, service, transport, src_ip, src_port, dst_ip, dst_port,
	 start_time, end_time, duration_ms, bytes_in, bytes_out, reason, transcript)`

const sessionCols = 15

// A sighting older than the first one known (events may arrive out of
// order from a fleet) moves first_seen and first_source back. The SET
// expressions all see the row as it was.
const upsertSampleSQL = `INSERT INTO samples
	(sha256, md5, sha1, size, first_seen, last_seen, count, first_source)
	VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1, ?6)
	ON CONFLICT (sha256) DO UPDATE SET
		count = count + 1,
		last_seen = max(last_seen, excluded.last_seen),
		first_seen = min(first_seen, excluded.first_seen),
		first_source = CASE WHEN excluded.first_seen < first_seen THEN excluded.first_source ELSE first_source END,
		md5 = CASE WHEN md5 = '' THEN excluded.md5 ELSE md5 END,
		sha1 = CASE WHEN sha1 = '' THEN excluded.sha1 ELSE sha1 END`

const insertSightingSQL = `INSERT OR IGNORE INTO sample_sightings
	(event_id, sha256, session, time, service, src_ip, source, name)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// Write implements pipeline.Sink: the whole batch in one transaction.
// Every insert is keyed, so a batch sent again changes nothing: events by
// id, sessions by session id, sightings by event id — and a sample is
// counted only when its sighting is new.
func (d *DB) Write(ctx context.Context, batch []pipeline.Record) error {
	if d.readOnly {
		return ErrReadOnly
	}
	if len(batch) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: write: %w", err)
	}
	closes := 0
	for _, r := range batch {
		if r.Event != nil && r.Event.Kind == event.KindClose {
			closes++
		}
	}
	evArgs := make([]any, 0, len(batch)*eventCols)
	sessArgs := make([]any, 0, closes*sessionCols)
	var samples []*event.Event
	for _, r := range batch {
		e := r.Event
		if e == nil {
			continue
		}
		srcIP, dstIP := ipString(e.Src), ipString(e.Dst)
		evArgs = append(evArgs, e.ID, e.Time.UnixNano(), e.Sensor, e.Session, e.Service,
			string(e.Transport), string(e.Kind), srcIP, int64(e.Src.Port()), dstIP, int64(e.Dst.Port()),
			jsonText(r.JSON))
		switch det := e.Detail.(type) {
		case *event.Close:
			if e.Session == "" {
				continue
			}
			var blob []byte
			if b, ok := e.Detail.(event.Blobber); ok {
				blob = b.Blob()
			}
			end := e.Time.UnixNano()
			start := end - (time.Duration(det.DurationMS) * time.Millisecond).Nanoseconds()
			sessArgs = append(sessArgs, e.Session, e.Sensor, e.Service, string(e.Transport),
				srcIP, int64(e.Src.Port()), dstIP, int64(e.Dst.Port()), start, end, det.DurationMS,
				det.BytesIn, det.BytesOut, det.Reason, blob)
		case *event.Sample:
			if det.SHA256 != "" {
				samples = append(samples, e)
			}
		}
	}

	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// The statements run under a context that is never cancelled: the
	// driver watches a cancellable context with a goroutine per statement,
	// too dear on this path. The batch's context is checked between
	// statements instead and ends the transaction.
	sctx := context.WithoutCancel(ctx)
	if err := d.insEvents.exec(ctx, sctx, tx, evArgs); err != nil {
		return fmt.Errorf("sqlite: events: %w", err)
	}
	if err := d.insSessions.exec(ctx, sctx, tx, sessArgs); err != nil {
		return fmt.Errorf("sqlite: sessions: %w", err)
	}
	if len(samples) > 0 {
		upsert, sight := tx.StmtContext(sctx, d.upsertSample), tx.StmtContext(sctx, d.insSighting)
		for _, e := range samples {
			det := e.Detail.(*event.Sample)
			t := e.Time.UnixNano()
			res, err := sight.ExecContext(sctx, e.ID, det.SHA256, e.Session, t, e.Service, ipString(e.Src),
				det.Source, det.Name)
			if err != nil {
				return fmt.Errorf("sqlite: sample %s: %w", det.SHA256, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				continue // this sighting was counted before
			}
			if _, err := upsert.ExecContext(sctx, det.SHA256, det.MD5, det.SHA1, det.Size, t, det.Source); err != nil {
				return fmt.Errorf("sqlite: sample %s: %w", det.SHA256, err)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: write: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// jsonText passes an event's JSON to SQLite as text (a blob would be
// read as JSONB by SQLite's JSON functions) without copying it: records
// are immutable once encoded (pipeline.Sink), and the driver copies the
// bytes during the statement.
func jsonText(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// ipString is the address as the JSON schema writes it ("" when unset).
func ipString(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.Addr().Unmap().String()
}
