package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/pipeline"
)

// chunks are the row counts of the multi-row INSERT statements a batch's
// sessions are cut into, largest first: one statement per 256 rows costs
// far less than 256 statements, and powers of two cut any count into few.
var chunks = [...]int{256, 128, 64, 32, 16, 8, 4, 2, 1}

// multiInsert is one INSERT statement prepared for each chunk size.
type multiInsert struct {
	cols  int
	stmts [len(chunks)]*sql.Stmt
}

// prepare prepares head VALUES (...), (...) tail for each chunk size.
func (m *multiInsert) prepare(ctx context.Context, db *sql.DB, head, tail string, cols int) error {
	m.cols = cols
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	for i, n := range chunks {
		st, err := db.PrepareContext(ctx, head+" VALUES "+strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")+tail)
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

const insertBlockSQL = `INSERT OR IGNORE INTO event_blocks
	(first_time, last_time, count, kinds, offset, length, dir, transcripts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// insertBlock0003SQL is insertBlockSQL as migration 0003's Go step runs
// it, before event_blocks had its transcripts column.
const insertBlock0003SQL = `INSERT OR IGNORE INTO event_blocks
	(first_time, last_time, count, kinds, offset, length, dir) VALUES (?, ?, ?, ?, ?, ?, ?)`

// A session's row is written with its close event. Should a second close
// of the same session come (a sensor's bug), the later one is the
// session's, the end is the later of both, and a transcript already
// stored is kept unless the later close has one.
const insertSessionHead = `INSERT INTO sessions
	(id, end_time, service, src_ip, close_offset, close_length, transcript_offset, transcript_length)`

const insertSessionTail = ` ON CONFLICT (id) DO UPDATE SET
	end_time = max(end_time, excluded.end_time),
	service = excluded.service,
	src_ip = excluded.src_ip,
	close_offset = excluded.close_offset,
	close_length = excluded.close_length,
	transcript_offset = CASE WHEN excluded.transcript_length > 0 THEN excluded.transcript_offset ELSE transcript_offset END,
	transcript_length = CASE WHEN excluded.transcript_length > 0 THEN excluded.transcript_length ELSE transcript_length END`

const sessionCols = 8

// An analyzer's event stamped late in a session moves its row's end on,
// making a row for a session that has none (yet): close_offset -1 says
// that its close event, if any, is found in the blocks (see rowlessSpan).
// The close of a session with a row of its own fills the rest in.
const lateSessionSQL = `INSERT INTO sessions
	(id, end_time, service, src_ip, close_offset, close_length, transcript_offset, transcript_length)
	VALUES (?1, ?2, '', '', -1, 0, 0, 0)
	ON CONFLICT (id) DO UPDATE SET end_time = max(end_time, excluded.end_time)`

const logEndsSQL = `SELECT events, transcripts FROM log_ends WHERE id = 1`

// growLogsSQL moves the logs' ends on by a batch's bytes and returns
// where the batch starts.
const growLogsSQL = `UPDATE log_ends SET events = events + ?1, transcripts = transcripts + ?2 WHERE id = 1
	RETURNING events - ?1, transcripts - ?2`

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

// lateWindow: an analyzer's event (a detection, an alert, a fetch) about
// a session is stamped when the analyzer runs, possibly after the
// session's close was written. One stamped more than lateWindow after the
// session's start moves the end of its sessions row on (lateSessionSQL:
// such events are few, as most sessions are short and most analyzers run
// as the event passes); the queries of a session's events look lateWindow
// past its end for the others.
const lateWindow = 5 * time.Second

// rowlessSpan: a session whose id is a UUIDv7 and whose close comes at
// most rowlessSpan after the id's time has no sessions row. A row costs
// more CPU than everything else the store does for a short session;
// instead, the session is found by its close event, in the blocks of
// that span (findClose), whose directory gives its transcript too. Most
// sessions a sensor sees are such: scans, probes, single exploits.
const rowlessSpan = 10 * time.Second

// blockRow is one block of a batch, ready to insert.
type blockRow struct {
	first, last  int64
	count        int
	kinds        uint64
	off, length  int64 // in the batch's bytes
	trOff        int64 // where its transcripts start, in the batch's
	dirOff, dirN int   // in the batch's directories
}

// sessionRow is one close event of a batch.
type sessionRow struct {
	id, service string
	end         int64
	ipOff, ipN  int   // its source address in the batch's ipBuf
	evOff, evN  int64 // its line, in the batch's bytes
	trOff, trN  int64 // its transcript, in the batch's transcripts
}

// lateEvent is an analyzer's event stamped late in its session.
type lateEvent struct {
	session string
	time    int64
}

// writeBuf is what Write builds before its transaction, kept between
// batches.
type writeBuf struct {
	ev     []byte // the events' lines: evOwn, or the batch's own (shared)
	evOwn  []byte // the buffer the lines are copied to when not shared
	shared bool   // ev is the batch's, not to be kept
	evPos  int64  // the lines' bytes so far
	tr     []byte // the transcripts
	trRefs []int  // where tr refers to its own bytes (sharedChunks)
	trNext int64  // where the next block's transcripts start in tr
	dirs   []byte // the blocks' directories
	ipBuf  []byte
	bb     blockBuilder
	blocks []blockRow
	sess   []sessionRow
	late   []lateEvent
	args   []any
	order  []int32
}

// maxKeptBuf bounds the buffers kept between batches.
const maxKeptBuf = 4 << 20

func (w *writeBuf) reset() {
	keep := func(b []byte) []byte {
		if cap(b) > maxKeptBuf {
			return nil
		}
		return b[:0]
	}
	if !w.shared {
		w.evOwn = w.ev
	}
	w.ev, w.shared, w.evPos = keep(w.evOwn), false, 0
	w.evOwn = w.ev
	w.tr, w.dirs, w.ipBuf = keep(w.tr), keep(w.dirs), keep(w.ipBuf)
	clear(w.sess)
	clear(w.late)
	clear(w.args)
	w.blocks, w.sess, w.late, w.args = w.blocks[:0], w.sess[:0], w.late[:0], w.args[:0]
	w.trNext, w.trRefs = 0, w.trRefs[:0]
	w.bb.reset()
}

// endBlock closes the block being built, if any.
func (w *writeBuf) endBlock() {
	bb := &w.bb
	if len(bb.ents) == 0 {
		return
	}
	off := w.evPos - bb.length
	start := len(w.dirs)
	w.dirs = bb.encode(w.dirs, bb.first)
	w.blocks = append(w.blocks, blockRow{first: bb.first, last: bb.last, count: len(bb.ents), kinds: bb.kinds,
		off: off, length: bb.length, trOff: w.trNext, dirOff: start, dirN: len(w.dirs) - start})
	w.trNext = int64(len(w.tr))
	bb.reset()
}

// Write implements pipeline.Sink: the batch's events are appended to the
// events file, its transcripts to theirs, and the rows that index them
// (and the samples) written in one transaction. A batch whose
// transaction fails leaves nothing a query sees; sent again, it is
// stored once.
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
	w := &d.wb
	w.reset()
	defer w.reset() // drops the batch's strings
	var samples []*event.Event
	// A batch as the pipeline delivers it holds its lines end to end:
	// they are written from there, not from a copy.
	if lines, ok := pipeline.SharedLines(batch); ok && allEvents(batch) {
		w.ev, w.shared = lines, true
	}
	for _, r := range batch {
		e := r.Event
		if e == nil {
			continue
		}
		t := e.Time.UnixNano()
		n := len(r.JSON)
		if w.bb.full(n) {
			w.endBlock()
		}
		evOff := w.evPos
		if !w.shared {
			w.ev = append(w.ev, r.JSON...)
			w.ev = append(w.ev, '\n')
		}
		w.evPos += int64(n) + 1
		trLen := 0
		switch det := e.Detail.(type) {
		case *event.Close:
			if e.Session == "" {
				break
			}
			blob := det.Blob()
			if len(blob) > maxTranscript {
				blob = nil // beyond any configured bound: not kept
			}
			trOff := int64(len(w.tr))
			w.tr = d.shared.appendTranscript(w.tr, blob, &w.trRefs)
			trLen = len(w.tr) - int(trOff)
			if rowless(e.Session, t) {
				break
			}
			s := sessionRow{id: e.Session, service: e.Service, end: t, evOff: evOff, evN: int64(n)}
			if trLen > 0 {
				s.trOff, s.trN = trOff, int64(trLen)
			}
			if e.Src.IsValid() {
				s.ipOff = len(w.ipBuf)
				w.ipBuf = e.Src.Addr().Unmap().AppendTo(w.ipBuf)
				s.ipN = len(w.ipBuf) - s.ipOff
			}
			w.sess = append(w.sess, s)
		case *event.Sample:
			if det.SHA256 != "" {
				samples = append(samples, e)
			}
		}
		bit := w.bb.add(t, e.Kind, e.Service, e.Session, n, trLen)
		if 1<<bit&stageKinds != 0 && e.Session != "" {
			if start, ok := sessionStart(e.Session); !ok || t-start > int64(lateWindow) {
				w.late = append(w.late, lateEvent{e.Session, t})
			}
		}
	}
	w.endBlock()
	return d.commit(ctx, w, samples)
}

// sharedDone tells the shared chunks whether the batch written at trEnd
// was committed.
func (d *DB) sharedDone(ok bool, trEnd int64) {
	if ok {
		d.shared.committed(trEnd)
	} else {
		d.shared.failed()
	}
}

// allEvents reports whether every record has its event: the others are
// not stored.
func allEvents(batch []pipeline.Record) bool {
	for i := range batch {
		if batch[i].Event == nil {
			return false
		}
	}
	return true
}

// rowless reports whether a session closed at t (Unix ns) is kept without
// a sessions row: see rowlessSpan.
func rowless(session string, t int64) bool {
	start, ok := sessionStart(session)
	return ok && t >= start-sessionSlack && t-start <= int64(rowlessSpan)
}

// commit writes w in one transaction: the files first (at their
// committed ends, under the transaction's write lock), then the rows that
// refer to them, so that a committed row never refers to bytes not
// written. A failure before the commit cuts the files back.
func (d *DB) commit(ctx context.Context, w *writeBuf, samples []*event.Event) (err error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	// The statements run under a context that is never cancelled: the
	// driver watches a cancellable context with a goroutine per statement,
	// too dear on this path. The batch's context is checked between
	// statements instead and ends the transaction.
	sctx := context.WithoutCancel(ctx)
	var evEnd, trEnd int64
	wrote := false
	committed := false
	defer func() {
		d.sharedDone(committed && err == nil, trEnd)
		if committed {
			return
		}
		if wrote {
			// Still under the write lock: no other writer has appended.
			if terr := errors.Join(d.evFile.Truncate(evEnd), d.trFile.Truncate(trEnd)); terr != nil {
				d.log.Warn("sqlite: cutting back the logs of a failed batch", "err", terr)
			}
			d.evPre.Truncated(evEnd)
			d.trPre.Truncated(trEnd)
		}
		_ = tx.Rollback()
	}()
	if err := tx.StmtContext(sctx, d.growLogs).QueryRowContext(sctx, int64(len(w.ev)), int64(len(w.tr))).Scan(&evEnd, &trEnd); err != nil {
		return fmt.Errorf("sqlite: log ends: %w", err)
	}
	wrote = true
	// Space for the logs is reserved ahead (package prealloc): appending
	// into it costs about half the CPU.
	d.evPre.Reserve(evEnd + int64(len(w.ev)))
	if _, err := d.evFile.WriteAt(w.ev, evEnd); err != nil {
		return fmt.Errorf("sqlite: events file: %w", err)
	}
	if len(w.tr) > 0 {
		patchRefs(w.tr, w.trRefs, trEnd)
		d.trPre.Reserve(trEnd + int64(len(w.tr)))
		if _, err := d.trFile.WriteAt(w.tr, trEnd); err != nil {
			return fmt.Errorf("sqlite: transcripts file: %w", err)
		}
	}
	ins := tx.StmtContext(sctx, d.insBlock)
	for i := range w.blocks {
		if err := insertBlock(sctx, ins, w, &w.blocks[i], evEnd, trEnd, true); err != nil {
			return fmt.Errorf("sqlite: event block: %w", err)
		}
	}
	// In id order, each row lands after the last: UUIDv7s sort by start,
	// so the rows fill the table's last pages instead of splitting pages
	// here and there.
	order := w.order[:0]
	for i := range w.sess {
		order = append(order, int32(i))
	}
	w.order = order
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(w.sess[a].id, w.sess[b].id) })
	args := w.args[:0]
	for _, i := range order {
		s := &w.sess[i]
		var trOff int64
		if s.trN > 0 {
			trOff = trEnd + s.trOff
		}
		args = append(args, s.id, s.end, s.service, bytesText(w.ipBuf[s.ipOff:s.ipOff+s.ipN]),
			evEnd+s.evOff, s.evN, trOff, s.trN)
	}
	w.args = args
	if err := d.insSessions.exec(ctx, sctx, tx, args); err != nil {
		return fmt.Errorf("sqlite: sessions: %w", err)
	}
	if len(w.late) > 0 {
		st := tx.StmtContext(sctx, d.lateSession)
		for _, l := range w.late {
			if _, err := st.ExecContext(sctx, l.session, l.time); err != nil {
				return fmt.Errorf("sqlite: sessions: %w", err)
			}
		}
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
	if d.failBeforeCommit != nil {
		if err := d.failBeforeCommit(); err != nil {
			return err
		}
	}
	// From here the bytes are not cut back, even on an error: a commit
	// that reports one may still have happened, and the next batch writes
	// at the ends the database holds, over anything left.
	committed = true
	if err := tx.Commit(); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// maxTimeShift bounds how many nanoseconds a block's key moves on from
// its first event's time: far more than batches ever share one.
const maxTimeShift = 1 << 16

// insertBlock inserts one block keyed by its smallest time, or the next
// free nanosecond when another block has it (the directory then holds
// times relative to that key). evEnd and trEnd are where the batch
// starts in the logs; withTr is false for insertBlock0003SQL.
func insertBlock(ctx context.Context, ins *sql.Stmt, w *writeBuf, b *blockRow, evEnd, trEnd int64, withTr bool) error {
	dir := w.dirs[b.dirOff : b.dirOff+b.dirN]
	base := b.first
	for shift := int64(0); ; shift++ {
		if shift > maxTimeShift {
			return fmt.Errorf("no free time near %d", b.first)
		}
		key := b.first + shift
		if key != base {
			dir = reencodeBase(dir, base, key)
			base = key
		}
		args := []any{key, b.last, b.count, int64(b.kinds), evEnd + b.off, b.length, dir, trEnd + b.trOff}
		if !withTr {
			args = args[:7]
		}
		res, err := ins.ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			return nil
		}
	}
}

// ipString is the address as the JSON schema writes it ("" when unset).
func ipString(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.Addr().Unmap().String()
}

// bytesText passes bytes to SQLite as text without copying them: the
// driver copies them during the statement, and the caller keeps them
// unchanged until then.
func bytesText(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
