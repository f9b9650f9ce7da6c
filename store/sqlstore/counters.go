package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Increment adds one to key's counter and returns the new count and when
// its window ends. A counter that does not exist, or whose window has ended
// (now is not before its end), starts again at 1 with a window that ends at
// now+window. A window that is not positive is an error.
//
// It is one statement, an upsert whose update starts a new window or
// counts in the current one: the row's lock orders concurrent increments,
// across processes, and none is lost.
func (s *Store) Increment(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	if window <= 0 {
		return 0, time.Time{}, fmt.Errorf("sqlstore: counter window %v is not positive", window)
	}
	now := s.now()
	var n, resetAt int64
	err := s.writeRow(ctx, "increment", s.q.increment, []any{[]byte(key), nanos(now.Add(window)), nanos(now)}, &n, &resetAt)
	if err != nil {
		return 0, time.Time{}, err
	}
	return n, fromNanos(resetAt), nil
}

// Count returns key's count and window end; a counter that does not exist
// or whose window has ended is 0 and the zero time.
func (s *Store) Count(ctx context.Context, key string) (int64, time.Time, error) {
	var n, resetAt int64
	err := s.db.QueryRowContext(ctx, s.q.count, []byte(key), nanos(s.now())).Scan(&n, &resetAt)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, s.fail("count", err)
	}
	return n, fromNanos(resetAt), nil
}

// Reset deletes key's counter. An absent counter is not an error.
func (s *Store) Reset(ctx context.Context, key string) error {
	_, err := s.exec(ctx, "reset counter", s.q.reset, []byte(key))
	return err
}

// Decrement subtracts one from key's counter if it exists, its window has
// not ended (now is before its end), and its count is above zero;
// otherwise it does nothing. The window's end stays.
//
// It is one UPDATE whose WHERE holds all three conditions: the row's lock
// orders it with concurrent increments and decrements, and none is lost.
func (s *Store) Decrement(ctx context.Context, key string) error {
	_, err := s.exec(ctx, "decrement", s.q.decrement, []byte(key), nanos(s.now()))
	return err
}
