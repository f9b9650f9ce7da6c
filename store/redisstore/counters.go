package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// counterKey returns the key of the counter named key: a hash whose field
// c is the count and r the window's end.
func (s *Store) counterKey(key string) string { return s.prefix + "n:" + key }

// Increment adds one to key's counter and returns the new count and when
// its window ends. A counter that does not exist, or whose window has ended
// (now is not before its end), starts again at 1 with a window that ends at
// now+window. One script decides and counts, so concurrent increments are
// never lost. A window that is not positive is an error.
func (s *Store) Increment(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	if window <= 0 {
		return 0, time.Time{}, fmt.Errorf("redisstore: counter window %v is not positive", window)
	}
	now := s.now()
	end := now.Add(window)
	res, err := s.s.increment.Run(ctx, s.c, []string{s.counterKey(key)},
		encodeTime(now), encodeTime(end), s.pttl(now, end)).Slice()
	if err != nil {
		return 0, time.Time{}, fail("increment", err)
	}
	if len(res) != 2 {
		return 0, time.Time{}, errors.New("redisstore: increment: bad reply")
	}
	n, ok1 := res[0].(int64)
	r, ok2 := res[1].(string)
	resetAt, err := decodeTime(r)
	if !ok1 || !ok2 || err != nil {
		return 0, time.Time{}, errors.New("redisstore: increment: bad reply")
	}
	return n, resetAt, nil
}

// Count returns key's count and window end; a counter that does not exist
// or whose window has ended is 0 and the zero time. It is one HMGET.
func (s *Store) Count(ctx context.Context, key string) (int64, time.Time, error) {
	vals, err := s.c.HMGet(ctx, s.counterKey(key), "c", "r").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, time.Time{}, fail("count", err)
	}
	if len(vals) != 2 || vals[0] == nil || vals[1] == nil {
		return 0, time.Time{}, nil
	}
	c, ok1 := vals[0].(string)
	r, ok2 := vals[1].(string)
	n, err1 := strconv.ParseInt(c, 10, 64)
	end, err2 := decodeInt(r)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return 0, time.Time{}, errors.New("redisstore: count: bad stored counter")
	}
	if end <= timeInt(s.now()) {
		return 0, time.Time{}, nil
	}
	return n, intTime(end), nil
}

// Reset deletes key's counter. An absent counter is not an error.
func (s *Store) Reset(ctx context.Context, key string) error {
	if err := s.c.Del(ctx, s.counterKey(key)).Err(); err != nil {
		return fail("reset counter", err)
	}
	return nil
}

// Decrement subtracts one from key's counter if it exists, its window has
// not ended (now is before its end), and its count is above zero;
// otherwise it does nothing. One script decides and subtracts, so
// concurrent increments and decrements are never lost; the window's end
// and the key's TTL stay as they are.
func (s *Store) Decrement(ctx context.Context, key string) error {
	if err := s.s.decrement.Run(ctx, s.c, []string{s.counterKey(key)}, encodeTime(s.now())).Err(); err != nil {
		return fail("decrement", err)
	}
	return nil
}
