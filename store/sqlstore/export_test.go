package sqlstore

import "database/sql"

// CleanupDone returns the channel closed when s's cleanup goroutine ends,
// or nil if s has none.
func CleanupDone(s *Store) <-chan struct{} { return s.cleanupDone }

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
