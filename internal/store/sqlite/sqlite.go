// Package sqlite is Smallpot's embedded store: events, sessions and
// samples in one SQLite database (DIR/smallpot.db) through the pure-Go
// driver modernc.org/sqlite, so the default build needs no cgo, and two
// append-only files beside it.
//
// The database runs in WAL mode, so readers (the CLI, the dashboard) never
// wait for the writer and the writer never waits for them. The writer holds
// exactly one connection, opened by Open and kept until Close: a process
// that starts as root drops its privileges after opening and may then be
// unable to open the file, its -wal or its -shm again. The schema comes
// from numbered SQL files embedded in the binary (migrations/), applied in
// order, each in its own transaction, and recorded in schema_migrations;
// a step that moves data has a Go part too (migrate.go).
//
// Events live in a log, not in rows. Each batch's events are appended to
// smallpot.db-events as the exact JSON the pipeline encoded, one per line,
// the bytes of events.jsonl, and the database keeps an index of them:
// one event_blocks row per block of up to 1024 events (or 1 MiB of
// JSON), keyed by its smallest event time, with its largest, a bitmask of
// the kinds in it, where its lines are, and a compact directory of its
// events (time, kind, service, session and line length, in varints;
// eventlog.go) so that queries select events without reading JSON. The
// reason is cost: with modernc's SQLite a row costs about 2 µs of CPU
// however small (multi-row INSERTs included), and every byte stored in
// the database about 3.3 ns more (WAL frame and checksum, then the
// checkpoint's copy): three event rows of 350-450 bytes and a
// transcripts row per short connection cost about 17 µs of CPU, several
// times a connection's whole budget.
// Appended to a file, the bytes are written once, by one write per batch;
// the database writes one block row per batch. Session transcripts, the
// bulk of what a busy sensor stores, are appended the same way to
// smallpot.db-transcripts, each block's end to end from the offset in its
// row, their lengths in its directory; a chunk the file already holds (the
// same answer, the same exploit) is stored as a reference to it
// (transcripts.go). A session is found by its close
// event: most sessions close within rowlessSpan (10 s) of their UUIDv7's
// time, and their close is looked for in the blocks of that span; a
// longer one (or one whose id is not a UUIDv7) has a narrow sessions row,
// written with its close event (its end, service, source address, and
// where its close event and transcript are). A row per session cost
// about 2 µs of CPU, more than the rest of a short session's storing.
//
// A batch's bytes are written at the ends of the files that the database
// records (log_ends), under the transaction's write lock and before the
// rows that refer to them are committed: a committed row never refers to
// bytes that are not there. A batch whose transaction fails cuts the
// files back; bytes left by a crash before a commit are cut when the
// writer next opens the database (logged once).
//
// What is given up: queries no longer use SQL over the events (no
// json_extract, no index on arbitrary columns); a query walks the block
// index newest first and decodes directories, so it may read a few
// blocks more than it returns, and one session's events are found by
// time, between its UUIDv7's start and its end, rather than by an index
// on the session. An analyzer's event about a session (a detection, an
// alert, a fetch) may be stamped after the session's close: one stamped
// more than lateWindow after the session's start moves its end on, and
// queries look lateWindow past the end for the others; an event of any
// other kind stamped later than that after its session's close is not
// found by its session. Events are no longer idempotent by id: a failed
// batch leaves nothing behind, so one written again after its failure
// (the pipeline drops a failed batch; a caller may retry it) is stored
// once, but a batch written twice after it succeeded (a collector fed
// the same batch again) is stored twice. Samples' sightings stay keyed
// by event id, so a sample is counted once per event.
//
// DB is a pipeline.Sink: each batch is written in one transaction with
// prepared statements.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/smallpot/smallpot/internal/pipeline"
	"github.com/smallpot/smallpot/internal/store"
	"github.com/smallpot/smallpot/internal/store/prealloc"
)

// The query types are those of package store, shared by every backend;
// these names let callers spell them after this package too.
type (
	EventFilter = store.EventFilter
	SampleRow   = store.SampleRow
	Sighting    = store.Sighting
	SessionRow  = store.SessionRow
)

// busyTimeout is how long a statement waits for a lock held by another
// process before failing.
const busyTimeout = 5 * time.Second

// pageSize is the page size of a new database. Its rows are small now
// that events are in the log (a session, a block's directory), and a
// batch changes a few pages here and there, each written whole to the
// WAL and copied again at the checkpoint: 4 KiB pages write less than
// the 16 KiB of databases made before (which keep theirs).
const pageSize = 4096

// cacheKiB is the writer's page cache, large enough that a batch never
// spills pages to the WAL before its commit. Not larger: SQLite walks
// the whole cache at the end of every transaction.
const cacheKiB = 8 << 10

// walBytes is how much the WAL may hold before a commit copies its pages
// into the database (and the size it is cut back to afterwards): 64 MiB,
// so that a page written by many batches in a row is copied once.
const walBytes = 64 << 20

// ErrReadOnly is returned by Write on a database opened with OpenReadOnly.
var ErrReadOnly = errors.New("sqlite: database opened read-only")

// DB is an open Smallpot database.
type DB struct {
	db       *sql.DB
	log      *slog.Logger
	path     string
	readOnly bool

	// The writer's statements, prepared once on its only connection, and
	// what it builds for a batch, kept between batches.
	writeMu                   sync.Mutex
	insSessions               multiInsert
	insBlock, lateSession     *sql.Stmt
	growLogs                  *sql.Stmt
	upsertSample, insSighting *sql.Stmt
	wb                        writeBuf
	shared                    sharedChunks   // transcripts' chunks stored lately
	evFile, trFile            *os.File       // the writer's logs
	evPre, trPre              *prealloc.File // their space reserved ahead
	// failBeforeCommit, set by tests, fails a batch just before its
	// commit.
	failBeforeCommit func() error

	// The queries' statements, prepared on first use (eventquery.go).
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	closeOnce sync.Once
	closeErr  error
}

var _ pipeline.Sink = (*DB)(nil)

// uri turns a file path into a SQLite URI with the given query, so that
// SQLite's own parameters such as mode=ro take effect and no character of
// the path is taken for URI syntax.
func uri(path string, q string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:///C:/...
	}
	return "file://" + (&url.URL{Path: p}).EscapedPath() + "?" + q, nil
}

// Open opens the database at path for writing, creating it (mode 0640)
// and its directory when missing, and brings its schema up to date. It
// fails when the database has a newer schema than this build knows.
func Open(path string, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// Create the file ourselves so that it (and the -wal and -shm files,
	// which SQLite creates with the database's mode) is not world-readable.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	_ = f.Close()
	var files []*os.File
	closeFiles := func() {
		for _, f := range files {
			_ = f.Close()
		}
	}
	for _, p := range []string{eventsPath(path), transcriptsPath(path)} {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o640)
		if err != nil {
			closeFiles()
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		files = append(files, f)
	}

	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -cacheKiB))
	// A multi-row insert keeps a statement journal of the pages it
	// changes, to undo itself should a row fail. In memory: in a file it
	// cost a temporary file and a write per page, every batch.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	dsn, err := uri(path, q.Encode())
	if err != nil {
		closeFiles()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		closeFiles()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// One connection for the life of the DB: it must never be closed and
	// reopened, as the file may no longer be openable after a privilege
	// drop.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)

	d := &DB{db: db, log: log, path: path, evFile: files[0], trFile: files[1],
		evPre: prealloc.New(files[0]), trPre: prealloc.New(files[1])}
	// A migration that moves a large database's events takes a while.
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if err := d.init(ctx); err != nil {
		_ = db.Close()
		closeFiles()
		return nil, err
	}
	return d, nil
}

// eventsPath is the events log of the database at path.
func eventsPath(path string) string { return path + "-events" }

// transcriptsPath is the file of the transcripts of the database at path.
func transcriptsPath(path string) string { return path + "-transcripts" }

func (d *DB) init(ctx context.Context) error {
	// The page size takes effect only on a new database, so it is set
	// before WAL mode (which writes the first page).
	if _, err := d.db.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", pageSize)); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", d.path, err)
	}
	var mode string
	if err := d.db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", d.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlite: open %s: journal mode is %q, want wal", d.path, mode)
	}
	// The WAL's bound in pages, from the page size the file has.
	var ps int
	if err := d.db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&ps); err != nil || ps <= 0 {
		return fmt.Errorf("sqlite: open %s: page size %d: %v", d.path, ps, err)
	}
	for _, p := range []string{
		fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", walBytes/ps),
		fmt.Sprintf("PRAGMA journal_size_limit = %d", walBytes),
	} {
		if _, err := d.db.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("sqlite: open %s: %w", d.path, err)
		}
	}
	// The migrations check takes the write lock, which creates the -wal
	// and -shm files while the process may still create files.
	if err := migrate(ctx, d.db, d.log, d.evFile); err != nil {
		return err
	}
	if err := d.recover(ctx); err != nil {
		return err
	}
	if err := d.insSessions.prepare(ctx, d.db, insertSessionHead, insertSessionTail, sessionCols); err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	for _, s := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&d.insBlock, insertBlockSQL},
		{&d.lateSession, lateSessionSQL},
		{&d.growLogs, growLogsSQL},
		{&d.upsertSample, upsertSampleSQL},
		{&d.insSighting, insertSightingSQL},
	} {
		st, err := d.db.PrepareContext(ctx, s.query)
		if err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		*s.stmt = st
	}
	return nil
}

// recover cuts the logs back to the ends the database records: bytes
// past them were written by a batch whose transaction never committed
// (the process died between the write and the commit).
func (d *DB) recover(ctx context.Context) error {
	var evEnd, trEnd int64
	if err := d.db.QueryRowContext(ctx, logEndsSQL).Scan(&evEnd, &trEnd); err != nil {
		return fmt.Errorf("sqlite: open %s: log ends: %w", d.path, err)
	}
	var cut []any
	for _, l := range []struct {
		f    *os.File
		name string
		end  int64
	}{{d.evFile, "events", evEnd}, {d.trFile, "transcripts", trEnd}} {
		fi, err := l.f.Stat()
		if err != nil {
			return fmt.Errorf("sqlite: open %s: %w", d.path, err)
		}
		switch size := fi.Size(); {
		case size > l.end:
			if err := l.f.Truncate(l.end); err != nil {
				return fmt.Errorf("sqlite: open %s: cutting back %s: %w", d.path, l.f.Name(), err)
			}
			cut = append(cut, l.name+"_bytes_cut", size-l.end)
		case size < l.end:
			d.log.Warn("sqlite: a log beside the database is shorter than the database says: events or transcripts are lost",
				"file", l.f.Name(), "size", size, "want", l.end)
		}
	}
	if len(cut) > 0 {
		d.log.Info("sqlite: cut the logs back to their last committed batch (bytes of batches never committed)",
			append([]any{"db", d.path}, cut...)...)
	}
	return nil
}

// OpenReadOnly opens an existing database for reading only (the CLI),
// which works while a server writes to it. It fails when the file is
// missing or its schema is not the one this build knows.
func OpenReadOnly(path string) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("sqlite: no database at %s", path)
		}
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	dsn, err := uri(path, q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	d := &DB{db: db, log: slog.Default(), path: path, readOnly: true}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := checkVersion(ctx, db, path); err != nil {
		_ = db.Close()
		return nil, err
	}
	return d, nil
}

// Name implements pipeline.Sink.
func (d *DB) Name() string { return "sqlite" }

// Close closes the database. It is safe to call more than once.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		var errs []error
		if !d.readOnly {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			// Keeps the planner's statistics fresh; cheap when nothing changed.
			if _, err := d.db.ExecContext(ctx, "PRAGMA optimize"); err != nil {
				d.log.Warn("sqlite: optimize on close failed", "err", err)
			}
			cancel()
		}
		errs = append(errs, d.insSessions.close())
		d.stmtMu.Lock()
		for _, s := range d.stmts {
			errs = append(errs, s.Close())
		}
		d.stmts = nil
		d.stmtMu.Unlock()
		for _, s := range []*sql.Stmt{d.insBlock, d.lateSession, d.growLogs, d.upsertSample, d.insSighting} {
			if s != nil {
				errs = append(errs, s.Close())
			}
		}
		errs = append(errs, d.db.Close())
		for _, p := range []*prealloc.File{d.evPre, d.trPre} {
			if p != nil {
				errs = append(errs, p.Release())
			}
		}
		for _, f := range []*os.File{d.evFile, d.trFile} {
			if f != nil {
				errs = append(errs, f.Close())
			}
		}
		if err := errors.Join(errs...); err != nil {
			d.closeErr = fmt.Errorf("sqlite: close: %w", err)
		}
	})
	return d.closeErr
}
