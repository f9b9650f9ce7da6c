package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// Claim marks key as used until now+ttl and reports whether this call was
// the first to do so while no earlier claim of key is live. A claim is live
// while now is before its end.
//
// It is one statement, an INSERT whose conflict clause replaces only an
// ended claim: of concurrent calls with one key, across every process that
// shares the database, the first to reach the row inserts or replaces it
// and the others change nothing and return false. A ttl that is not
// positive is an error.
func (s *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("sqlstore: claim ttl %v is not positive", ttl)
	}
	now := s.now()
	n, err := s.exec(ctx, "claim", s.q.claim, []byte(key), nanos(now.Add(ttl)), nanos(now))
	if err != nil {
		return false, err
	}
	return n == 1, nil
}
