package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// migrationFiles holds the schema, one directory per dialect, one file per
// version: NNNN_name.sql, applied in order. A released file never changes;
// a change to the schema is a new file.
//
//go:embed migrations
var migrationFiles embed.FS

// migration is one version of the schema.
type migration struct {
	version int
	name    string
	sql     string // with the table prefix in place
}

// migrations returns the dialect's migrations in order, for tables named
// with prefix.
func migrations(d Dialect, prefix string) ([]migration, error) {
	dir := path.Join("migrations", d.String())
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("sqlstore: migration file %s is not named NNNN_name.sql", e.Name())
		}
		text, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: migrations: %w", err)
		}
		ms = append(ms, migration{
			version: version,
			name:    e.Name(),
			sql:     strings.ReplaceAll(string(text), "{p}", prefix),
		})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlstore: migration %s: want version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion returns the newest schema version this package knows: the
// version a database has after [Open].
func SchemaVersion() int {
	ms, err := migrations(SQLite, DefaultTablePrefix)
	if err != nil {
		return 0
	}
	return len(ms)
}

// migrate brings the store's tables to the newest version, in one
// transaction that holds a lock for its whole length, so that processes
// opening one database at once take turns: the first applies what is
// missing, the others find it done. The versions applied are kept in the
// table {prefix}schema_migrations.
//
// On PostgreSQL the lock is a transaction-level advisory lock named after
// the table prefix; on SQLite it is the database's write lock, taken at
// BEGIN IMMEDIATE and waited for with the busy timeout.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations(s.dialect, s.prefix)
	if err != nil {
		return err
	}
	var fail error
	switch s.dialect {
	case Postgres:
		fail = s.migratePostgres(ctx, ms)
	default:
		fail = s.migrateSQLite(ctx, ms)
	}
	if fail != nil {
		return fmt.Errorf("sqlstore: migrate %s tables %s*: %w", s.dialect, s.prefix, fail)
	}
	return nil
}

// execer is what applying migrations needs of a transaction or connection.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// migratePostgres applies ms in a transaction under an advisory lock.
func (s *Store) migratePostgres(ctx context.Context, ms []migration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock(s.prefix)); err != nil {
		return err
	}
	if err := s.applyMigrations(ctx, tx, ms); err != nil {
		return err
	}
	return tx.Commit()
}

// migrationLock returns the advisory lock key of the tables with prefix.
// Two prefixes that hash alike only take turns needlessly.
func migrationLock(prefix string) int64 {
	h := fnv.New64a()
	h.Write([]byte("keyward schema " + prefix))
	return int64(h.Sum64())
}

// migrateSQLite applies ms in an immediate transaction, on a connection
// of its own with a busy timeout, so that a second process opening the
// database waits for the first's migration instead of failing.
func (s *Store) migrateSQLite(ctx context.Context, ms []migration) (err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("a connection: %w", err)
	}
	defer conn.Close()
	var timeout int
	if err := conn.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&timeout); err != nil {
		return fmt.Errorf("reading busy_timeout: %w", err)
	}
	// Another process's migration is waited for as long as it may take
	// on a loaded machine, not the connection's usual timeout, which is
	// put back afterwards.
	if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout = `+strconv.Itoa(migrationBusyTimeout)); err != nil {
		return fmt.Errorf("setting busy_timeout: %w", err)
	}
	defer func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA busy_timeout = `+strconv.Itoa(timeout))
	}()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return fmt.Errorf("BEGIN IMMEDIATE: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		}
	}()
	if err := s.applyMigrations(ctx, conn, ms); err != nil {
		return err
	}
	if _, err = conn.ExecContext(ctx, `COMMIT`); err != nil {
		return fmt.Errorf("COMMIT: %w", err)
	}
	return nil
}

// migrationBusyTimeout is how long, in milliseconds, opening a SQLite
// database waits for another process's migration.
const migrationBusyTimeout = 60_000

// applyMigrations applies the migrations of ms not yet recorded, within
// the transaction ex is in.
func (s *Store) applyMigrations(ctx context.Context, ex execer, ms []migration) error {
	table := s.prefix + "schema_migrations"
	if _, err := ex.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at BIGINT  NOT NULL
	)`); err != nil {
		return err
	}
	rows, err := ex.QueryContext(ctx, `SELECT version FROM `+table)
	if err != nil {
		return err
	}
	applied := make(map[int]bool)
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if newest := maxKey(applied); newest > len(ms) {
		// Written by a newer keyward: this one may not read it right.
		return fmt.Errorf("the database has schema version %d; this keyward knows up to %d", newest, len(ms))
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := ex.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		if _, err := ex.ExecContext(ctx, `INSERT INTO `+table+` (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, nanos(s.now())); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
	}
	return nil
}

// maxKey returns the greatest key of m, or 0 if m is empty.
func maxKey(m map[int]bool) int {
	newest := 0
	for v := range m {
		newest = max(newest, v)
	}
	return newest
}
