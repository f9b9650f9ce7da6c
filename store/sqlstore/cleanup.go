package sqlstore

import (
	"context"
	"log/slog"
	"time"
)

// Cleanup deletes the rows that have expired by the store's clock:
// sessions, one-time claims, counters whose window has ended, captcha
// challenges, one-time tokens, and API keys past their expiry. It returns how many rows it
// deleted. Expired rows are never returned whether or not they have been
// deleted, so Cleanup only keeps the tables small; the store calls it every
// [Config.CleanupInterval]. Each table is cleaned by its own statement, so
// that writers wait for one table's cleaning at a time.
func (s *Store) Cleanup(ctx context.Context) (int64, error) {
	now := nanos(s.now())
	var total int64
	for _, q := range s.q.cleanup {
		n, err := s.exec(ctx, "cleanup", q, now)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// cleanupLoop calls Cleanup every interval until ctx ends, each call under
// a timeout of its own ([Config.CleanupTimeout]), then closes
// s.cleanupDone. A failed cleanup, one that ran out of time included, is
// logged and tried again next time.
func (s *Store) cleanupLoop(ctx context.Context, interval time.Duration) {
	defer close(s.cleanupDone)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := s.cleanupOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.LogAttrs(ctx, slog.LevelError, "store cleanup failed",
				slog.String("tables", s.prefix+"*"), slog.Any("error", err))
		}
	}
}

// cleanupOnce runs one Cleanup under the store's cleanup timeout.
func (s *Store) cleanupOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cleanupTimeout)
	defer cancel()
	_, err := s.Cleanup(ctx)
	return err
}
