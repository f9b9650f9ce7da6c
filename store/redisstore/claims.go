package redisstore

import (
	"context"
	"fmt"
	"time"
)

// Claim marks key as used until now+ttl and reports whether this call was
// the first to do so while no earlier claim of key is live. A claim is live
// while now is before its end.
//
// The claim is one key holding its end; one script reads it and, unless it
// is live, sets it (SET ... PX): of concurrent calls with one key, across
// every process that shares the Redis, exactly one returns true. Redis
// deletes the key [Config.ExpiryMargin] after the claim ends. A ttl that is
// not positive is an error.
func (s *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("redisstore: claim ttl %v is not positive", ttl)
	}
	now := s.now()
	until := now.Add(ttl)
	n, err := s.s.claim.Run(ctx, s.c, []string{s.prefix + "c:" + key},
		encodeTime(now), encodeTime(until), s.pttl(now, until)).Int64()
	if err != nil {
		return false, fail("claim", err)
	}
	return n == 1, nil
}
