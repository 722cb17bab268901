package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unsafe"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
)

// chunks are the row counts of the multi-row INSERT statements a batch is
// cut into, largest first: one statement per 256 events costs far less
// than 256 statements (the table and its indexes are opened once, and
// the statement journal keeps each page it changes once).
var chunks = [...]int{256, 64, 16, 4, 1}

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

// exec inserts the rows whose values are laid end to end in args, and
// returns how many were inserted (not ignored).
func (m *multiInsert) exec(ctx, sctx context.Context, tx *sql.Tx, args []any) (int64, error) {
	rows := len(args) / m.cols
	var inserted int64
	for off := 0; off < rows; {
		if err := ctx.Err(); err != nil {
			return inserted, err
		}
		i := 0
		for chunks[i] > rows-off {
			i++
		}
		n := chunks[i]
		res, err := tx.StmtContext(sctx, m.stmts[i]).ExecContext(sctx, args[off*m.cols:(off+n)*m.cols]...)
		if err != nil {
			return inserted, err
		}
		if k, err := res.RowsAffected(); err == nil {
			inserted += k
		}
		off += n
	}
	return inserted, nil
}

// one is the statement that inserts a single row.
func (m *multiInsert) one() *sql.Stmt { return m.stmts[len(m.stmts)-1] }

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

const insertEventHead = `INSERT OR IGNORE INTO events (time, id, session, service, kind, json)`

const eventCols = 6

const eventExistsSQL = `SELECT 1 FROM events WHERE session = ? AND id = ?`

const insertTranscriptHead = `INSERT OR IGNORE INTO transcripts (session, offset, length)`

const transcriptCols = 3

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
// session and id, transcripts by session id, sightings by event id — and
// a sample is counted only when its sighting is new.
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
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	// The argument slices are kept between batches; the values in them
	// are dropped once the batch is written.
	evArgs, trArgs, trBuf := d.evArgs[:0], d.trArgs[:0], d.trBuf[:0]
	defer func() {
		clear(evArgs)
		clear(trArgs)
		d.evArgs, d.trArgs = evArgs[:0], trArgs[:0]
		if cap(trBuf) <= maxKeptTranscripts {
			d.trBuf = trBuf[:0]
		} else {
			d.trBuf = nil
		}
	}()
	var samples []*event.Event
	for _, r := range batch {
		e := r.Event
		if e == nil {
			continue
		}
		evArgs = append(evArgs, e.Time.UnixNano(), e.ID, e.Session, e.Service, string(e.Kind), jsonText(r.JSON))
		switch det := e.Detail.(type) {
		case *event.Close:
			if e.Session == "" {
				continue
			}
			if blob := det.Blob(); len(blob) > 0 {
				// The offset is relative to the batch's until the
				// file's end is known.
				trArgs = append(trArgs, e.Session, int64(len(trBuf)), int64(len(blob)))
				trBuf = append(trBuf, blob...)
			}
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
	if len(trBuf) > 0 {
		// Under the transaction's write lock, the file's end is this
		// batch's to write at.
		end, err := d.appendTranscripts(trBuf)
		if err != nil {
			return err
		}
		for i := 1; i < len(trArgs); i += transcriptCols {
			trArgs[i] = trArgs[i].(int64) + end
		}
	}
	inserted, err := d.insEvents.exec(ctx, sctx, tx, evArgs)
	if err != nil {
		return fmt.Errorf("sqlite: events: %w", err)
	}
	if inserted < int64(len(evArgs)/eventCols) {
		// Some were ignored: sent again, or at a nanosecond another
		// event has.
		if err := d.placeIgnored(sctx, tx, evArgs); err != nil {
			return fmt.Errorf("sqlite: events: %w", err)
		}
	}
	if _, err := d.insTranscripts.exec(ctx, sctx, tx, trArgs); err != nil {
		return fmt.Errorf("sqlite: transcripts: %w", err)
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

// maxTimeShift bounds how many nanoseconds placeIgnored moves an event
// on: far more than events ever share one.
const maxTimeShift = 1 << 16

// placeIgnored stores the events of args (an insert's values) that the
// insert ignored although they are not stored: their time, the rowid, was
// taken by another event. Each gets the next free nanosecond; the exact
// time stays in its JSON. An event already stored (sent again) stays
// ignored.
func (d *DB) placeIgnored(ctx context.Context, tx *sql.Tx, args []any) error {
	exists, insert := tx.StmtContext(ctx, d.eventExists), tx.StmtContext(ctx, d.insEvents.one())
	for row := 0; row+eventCols <= len(args); row += eventCols {
		v := args[row : row+eventCols]
		var one int
		err := exists.QueryRowContext(ctx, v[2], v[1]).Scan(&one)
		if err == nil {
			continue // stored: this event, sent again
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		t := v[0].(int64)
		for shift := int64(1); ; shift++ {
			if shift > maxTimeShift {
				return fmt.Errorf("event %s: no free time near %d", v[1], t)
			}
			res, err := insert.ExecContext(ctx, t+shift, v[1], v[2], v[3], v[4], v[5])
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err == nil && n == 1 {
				break
			}
		}
	}
	return nil
}

// maxKeptTranscripts bounds the transcript buffer kept between batches.
const maxKeptTranscripts = 4 << 20

// appendTranscripts writes b at the end of the transcripts file and
// returns the offset it starts at. The caller holds the database's write
// lock, so no other writer appends meanwhile.
func (d *DB) appendTranscripts(b []byte) (int64, error) {
	fi, err := d.trFile.Stat()
	if err != nil {
		return 0, fmt.Errorf("sqlite: transcripts: %w", err)
	}
	end := fi.Size()
	if _, err := d.trFile.WriteAt(b, end); err != nil {
		return 0, fmt.Errorf("sqlite: transcripts: %w", err)
	}
	return end, nil
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
