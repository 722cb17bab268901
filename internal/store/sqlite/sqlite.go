// Package sqlite is Smallpot's embedded store: events, sessions and
// samples in one SQLite file (DIR/smallpot.db) through the pure-Go driver
// modernc.org/sqlite, so the default build needs no cgo.
//
// The database runs in WAL mode, so readers (the CLI, the dashboard) never
// wait for the writer and the writer never waits for them. The writer holds
// exactly one connection, opened by Open and kept until Close: a process
// that starts as root drops its privileges after opening and may then be
// unable to open the file, its -wal or its -shm again. The schema comes
// from numbered SQL files embedded in the binary (migrations/), applied in
// order, each in its own transaction, and recorded in schema_migrations.
//
// Session transcripts, the bulk of what a busy sensor stores, are not in
// the database: their bytes are appended to a file beside it
// (smallpot.db-transcripts), written once, where a row would be written
// twice (WAL, then database) and its B-tree pages copied along; the
// database records where each one is. A batch's transcripts are written
// before its transaction commits, under its lock: a batch that fails
// leaves unreferenced bytes at the end of the file, never a reference to
// bytes that are not there. (So does a close event sent again, which
// only a sensor's own store would see with a transcript.)
//
// DB is a pipeline.Sink: each batch is written in one transaction with
// prepared statements. Writes are idempotent by event id (sensors may send
// a batch again), and so are their effects on sessions and samples.
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

// pageSize is the page size of a new database: events are large rows
// (their JSON), and bigger pages mean fewer pages, B-tree splits and write
// calls per batch.
const pageSize = 16384

// cacheKiB is the writer's page cache, large enough that a batch of
// ordinary events never spills pages to the WAL before its commit. Not
// larger: SQLite walks the whole cache at the end of every transaction.
const cacheKiB = 8 << 10

// walPages is how many pages the WAL may hold before a commit copies them
// into the database (and the size it is cut back to afterwards): 64 MiB,
// so that a page written by many batches in a row is copied once.
const walPages = 4096

// ErrReadOnly is returned by Write on a database opened with OpenReadOnly.
var ErrReadOnly = errors.New("sqlite: database opened read-only")

// DB is an open Smallpot database.
type DB struct {
	db       *sql.DB
	log      *slog.Logger
	path     string
	readOnly bool

	// The writer's statements, prepared once on its only connection, and
	// its argument slices, kept between batches.
	writeMu                   sync.Mutex
	insEvents, insTranscripts multiInsert
	upsertSample, insSighting *sql.Stmt
	eventExists               *sql.Stmt
	evArgs, trArgs            []any
	trBuf                     []byte   // a batch's transcripts, end to end
	trFile                    *os.File // the writer's transcripts file

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
	tf, err := os.OpenFile(transcriptsPath(path), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}

	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -cacheKiB))
	q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walPages))
	q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", walPages*pageSize))
	// A multi-row insert that sets the rowid (events' time) keeps a
	// statement journal of the pages it changes, to undo itself should a
	// value not be an integer. In memory: in a file it cost a temporary
	// file and a write per page, every batch.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	dsn, err := uri(path, q.Encode())
	if err != nil {
		_ = tf.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		_ = tf.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// One connection for the life of the DB: it must never be closed and
	// reopened, as the file may no longer be openable after a privilege
	// drop.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)

	d := &DB{db: db, log: log, path: path, trFile: tf}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.init(ctx); err != nil {
		_ = db.Close()
		_ = tf.Close()
		return nil, err
	}
	return d, nil
}

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
	// The migrations check takes the write lock, which creates the -wal
	// and -shm files while the process may still create files.
	if err := migrate(ctx, d.db, d.log); err != nil {
		return err
	}
	if err := d.insEvents.prepare(ctx, d.db, insertEventHead, eventCols); err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	if err := d.insTranscripts.prepare(ctx, d.db, insertTranscriptHead, transcriptCols); err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	for _, s := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&d.upsertSample, upsertSampleSQL},
		{&d.insSighting, insertSightingSQL},
		{&d.eventExists, eventExistsSQL},
	} {
		st, err := d.db.PrepareContext(ctx, s.query)
		if err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		*s.stmt = st
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
		errs = append(errs, d.insEvents.close(), d.insTranscripts.close())
		for _, s := range []*sql.Stmt{d.upsertSample, d.insSighting, d.eventExists} {
			if s != nil {
				errs = append(errs, s.Close())
			}
		}
		errs = append(errs, d.db.Close())
		if d.trFile != nil {
			errs = append(errs, d.trFile.Close())
		}
		if err := errors.Join(errs...); err != nil {
			d.closeErr = fmt.Errorf("sqlite: close: %w", err)
		}
	})
	return d.closeErr
}
