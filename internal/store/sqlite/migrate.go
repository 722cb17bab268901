package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The schema, one numbered file per step: NNNN_name.sql, numbered from 1
// without gaps. A file once released is never edited; a change is a new
// file. A step that moves data has a Go part too (goSteps), run after its
// SQL in the same transaction.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// goSteps are the Go parts of the steps that have one, by version.
var goSteps = map[int]func(ctx context.Context, tx *sql.Tx, env migrateEnv) error{
	3: moveEventsToLog,
}

// migrateEnv is what a Go step may use besides the database.
type migrateEnv struct {
	events *os.File // the events log, open for writing
}

type migration struct {
	version int
	name    string
	sql     string
	step    func(ctx context.Context, tx *sql.Tx, env migrateEnv) error
}

// loadMigrations reads the embedded migrations in order.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, n := range names {
		base := strings.TrimSuffix(n[len("migrations/"):], ".sql")
		num, label, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", n)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: label, sql: string(b), step: goSteps[v]})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %d_%s: want version %d (no gaps or duplicates)", m.version, m.name, i+1)
		}
	}
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at INTEGER NOT NULL
)`

// migrate applies the embedded migrations db has not seen yet, each in
// its own (immediate) transaction, so two processes opening the same new
// file at once apply each step once.
func migrate(ctx context.Context, db *sql.DB, log *slog.Logger, events *os.File) error {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return applyMigrations(ctx, db, log, ms, migrateEnv{events: events})
}

func applyMigrations(ctx context.Context, db *sql.DB, log *slog.Logger, ms []migration, env migrateEnv) error {
	if _, err := db.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("sqlite: schema_migrations: %w", err)
	}
	known := len(ms)
	// The first pass only checks the version: a newer database is left
	// untouched.
	for i := 0; i <= len(ms); i++ {
		done, err := func() (bool, error) {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return false, err
			}
			defer func() { _ = tx.Rollback() }()
			var cur int
			if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&cur); err != nil {
				return false, err
			}
			if cur > known {
				return false, newerSchemaError(cur, known)
			}
			if cur == known {
				return true, tx.Commit()
			}
			m := ms[cur]
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return false, fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
			}
			if m.step != nil {
				if err := m.step(ctx, tx, env); err != nil {
					return false, fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
				}
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, time.Now().UnixNano()); err != nil {
				return false, fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
			}
			if err := tx.Commit(); err != nil {
				return false, fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
			}
			log.Info("database schema migrated", "version", m.version, "name", m.name)
			return false, nil
		}()
		if err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
		if done {
			return nil
		}
	}
	return fmt.Errorf("sqlite: migrations did not converge")
}

func newerSchemaError(have, known int) error {
	return fmt.Errorf("database schema version %d is newer than this build of smallpot knows (%d): use a newer smallpot", have, known)
}

// checkVersion makes sure a database opened read-only has exactly the
// schema this build knows.
func checkVersion(ctx context.Context, db *sql.DB, path string) error {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	var n int
	if err := db.QueryRowContext(ctx,
		"SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'").Scan(&n); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: %s is not a smallpot database (no schema_migrations table)", path)
	}
	var cur int
	if err := db.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&cur); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	switch {
	case cur > len(ms):
		return fmt.Errorf("sqlite: %s: %w", path, newerSchemaError(cur, len(ms)))
	case cur < len(ms):
		return fmt.Errorf("sqlite: %s: database schema version %d is older than this build's (%d): open it once with smallpot run to upgrade it", path, cur, len(ms))
	}
	return nil
}
