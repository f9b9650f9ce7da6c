package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/keyward/keyward/internal/testservers"
	"github.com/keyward/keyward/store/sqlstore"
)

// sqliteDSN is how tests open SQLite themselves, as the package doc says
// a caller of Open should.
const sqliteDSN = "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate"

// randomName returns prefix and 12 random hex digits: a schema or table
// prefix no other run uses.
func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// openSQLite returns a store on a new database file in a temporary
// directory, closed when the test ends.
func openSQLite(tb testing.TB, cfg sqlstore.Config) *sqlstore.Store {
	tb.Helper()
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(tb.TempDir(), "keyward.db"), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// sqliteDB opens the SQLite file at path for a test, closed when it ends.
func sqliteDB(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", path+sqliteDSN)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// postgresConfig returns the connection config of the PostgreSQL to test
// against, from internal/testservers: KEYWARD_TEST_POSTGRES, which must
// answer when set, or else a local server, the test skipped (saying what
// to set) when none answers.
func postgresConfig(tb testing.TB) *pgx.ConnConfig {
	tb.Helper()
	cfg, err := pgx.ParseConfig(testservers.Postgres(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// postgresSchema makes a schema of its own for the test, dropped with
// everything in it when the test ends, and returns a connection config
// whose search_path is that schema. See postgresConfig for when it skips.
func postgresSchema(tb testing.TB) *pgx.ConnConfig {
	tb.Helper()
	base := postgresConfig(tb)
	schema := randomName("keyward_test_")
	admin := stdlib.OpenDB(*base)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		_ = admin.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})
	cfg := base.Copy()
	cfg.RuntimeParams["search_path"] = schema
	return cfg
}

// dropTables drops the tables whose names start with prefix from the
// current schema of db, a PostgreSQL database.
func dropTables(tb testing.TB, db *sql.DB, prefix string) {
	tb.Helper()
	var tables string
	err := db.QueryRow(`SELECT coalesce(string_agg(quote_ident(tablename), ', '), '')
		FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, $1)`, prefix).Scan(&tables)
	if err == nil && tables != "" {
		_, err = db.Exec(`DROP TABLE ` + tables + ` CASCADE`)
	}
	if err != nil {
		tb.Errorf("drop the tables of %s: %v", prefix, err)
	}
}

// postgresDB returns a pool on a schema of the test's own; see
// postgresSchema. Several pools on one config act as several processes.
func postgresDB(tb testing.TB, cfg *pgx.ConnConfig) *sql.DB {
	tb.Helper()
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(10)
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// closeStore closes s when the test ends.
func closeStore(tb testing.TB, s *sqlstore.Store) {
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
}

// dialects returns, for each database, a function that opens a new
// database for the test (skipping PostgreSQL when it is not configured)
// and returns a function that opens a new pool on it, as another process
// would.
func dialects() []struct {
	name string
	open func(t *testing.T) func() *sql.DB
} {
	return []struct {
		name string
		open func(t *testing.T) func() *sql.DB
	}{
		{"SQLite", func(t *testing.T) func() *sql.DB {
			path := filepath.Join(t.TempDir(), "shared.db")
			return func() *sql.DB { return sqliteDB(t, path) }
		}},
		{"PostgreSQL", func(t *testing.T) func() *sql.DB {
			cfg := postgresSchema(t)
			return func() *sql.DB { return postgresDB(t, cfg) }
		}},
	}
}

// must fails tb if err is not nil.
func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// isClosed reports whether err says the database is closed.
func isClosed(err error) bool {
	return err != nil && strings.Contains(err.Error(), "database is closed")
}
