package redisstore

import (
	"context"
	"errors"

	"github.com/keyward/keyward/store"
)

// challengeKey returns the key of the challenge with the ID: a string, its
// expiry (20 digits, see encodeTime) then its digits.
func (s *Store) challengeKey(id string) string { return s.prefix + "h:" + id }

// PutChallenge stores c. An ID already stored, in a challenge that has not
// expired, is [store.ErrConflict]; an expired challenge's ID is free again.
func (s *Store) PutChallenge(ctx context.Context, c store.Challenge) error {
	now := s.now()
	n, err := s.s.putUnlessLive.Run(ctx, s.c, []string{s.challengeKey(c.ID)},
		encodeTime(now), encodeTime(c.ExpiresAt)+string(c.Digits), s.pttl(now, c.ExpiresAt)).Int64()
	if err != nil {
		return fail("put challenge", err)
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}

// Challenge returns the challenge with the ID without using it up, or
// [store.ErrNotFound] if it is absent or expired. It is one GET.
func (s *Store) Challenge(ctx context.Context, id string) (store.Challenge, error) {
	v, err := s.c.Get(ctx, s.challengeKey(id)).Result()
	if err != nil {
		return store.Challenge{}, fail("challenge", err)
	}
	return s.liveChallenge(id, v)
}

// TakeChallenge removes the challenge with the ID and returns it, or
// [store.ErrNotFound] if it is absent or expired. It is one GETDEL (Redis
// 6.2 or later): of concurrent takes, across every process that shares the
// Redis, exactly one gets the value.
func (s *Store) TakeChallenge(ctx context.Context, id string) (store.Challenge, error) {
	v, err := s.c.GetDel(ctx, s.challengeKey(id)).Result()
	if err != nil {
		return store.Challenge{}, fail("take challenge", err)
	}
	return s.liveChallenge(id, v)
}

// liveChallenge decodes the stored challenge v, or returns
// [store.ErrNotFound] if it has expired.
func (s *Store) liveChallenge(id, v string) (store.Challenge, error) {
	if len(v) < timeWidth {
		return store.Challenge{}, errors.New("redisstore: bad stored challenge")
	}
	expires, err := decodeInt(v[:timeWidth])
	if err != nil {
		return store.Challenge{}, err
	}
	if expires <= timeInt(s.now()) {
		return store.Challenge{}, store.ErrNotFound
	}
	return store.Challenge{ID: id, Digits: []byte(v[timeWidth:]), ExpiresAt: intTime(expires)}, nil
}
