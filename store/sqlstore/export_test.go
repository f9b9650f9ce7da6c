package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// CleanupDone returns the channel closed when s's cleanup goroutine ends,
// or nil if s has none.
func CleanupDone(s *Store) <-chan struct{} { return s.cleanupDone }

// InvalidationChannel returns the channel s notifies and listens on.
func InvalidationChannel(s *Store) string { return s.channel }

// DB returns the database s works on.
func DB(s *Store) *sql.DB { return s.db }

// DeleteAccountSessionsSQL returns the statement of DeleteAccountSessions,
// for tests of its query plan.
func DeleteAccountSessionsSQL(s *Store) string { return s.q.deleteAccountSessions }

// MigrationNames returns the names of the dialect's migration files, in
// order.
func MigrationNames(d Dialect) ([]string, error) {
	ms, err := migrations(d, DefaultTablePrefix)
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.name
	}
	return names, err
}

// MigrateTo brings the tables with prefix in db to schema version (no
// further), as a keyward that knew only that version would: for tests of
// upgrades.
func MigrateTo(ctx context.Context, db *sql.DB, d Dialect, prefix string, version int) error {
	ms, err := migrations(d, prefix)
	if err != nil {
		return err
	}
	if version < 1 || version > len(ms) {
		return fmt.Errorf("no schema version %d", version)
	}
	s := &Store{db: db, dialect: d, prefix: prefix, now: time.Now}
	if d == Postgres {
		return s.migratePostgres(ctx, ms[:version])
	}
	return s.migrateSQLite(ctx, ms[:version])
}
