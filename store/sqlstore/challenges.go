package sqlstore

import (
	"context"

	"github.com/keyward/keyward/store"
)

// PutChallenge stores c. An ID already stored, in a challenge that has not
// expired, is [store.ErrConflict]; an expired challenge's ID is free again.
func (s *Store) PutChallenge(ctx context.Context, c store.Challenge) error {
	n, err := s.exec(ctx, "put challenge", s.q.putChallenge, []byte(c.ID), nonNil(c.Digits),
		nanos(c.ExpiresAt), nanos(s.now()))
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}

// Challenge returns the challenge with the ID without using it up, or
// [store.ErrNotFound] if it is absent or expired.
func (s *Store) Challenge(ctx context.Context, id string) (store.Challenge, error) {
	c := store.Challenge{ID: id}
	var expires int64
	err := s.db.QueryRowContext(ctx, s.q.challenge, []byte(id), nanos(s.now())).Scan(&c.Digits, &expires)
	if err != nil {
		return store.Challenge{}, s.fail("challenge", err)
	}
	c.ExpiresAt = fromNanos(expires)
	return c, nil
}

// TakeChallenge removes the challenge with the ID and returns it, or
// [store.ErrNotFound] if it is absent or expired (an expired one is removed
// too). It is one DELETE ... RETURNING: of concurrent takes, across every
// process that shares the database, one deletes the row and gets it.
func (s *Store) TakeChallenge(ctx context.Context, id string) (store.Challenge, error) {
	c := store.Challenge{ID: id}
	var expires int64
	if err := s.writeRow(ctx, "take challenge", s.q.takeChallenge, []any{[]byte(id)}, &c.Digits, &expires); err != nil {
		return store.Challenge{}, err
	}
	c.ExpiresAt = fromNanos(expires)
	if !c.ExpiresAt.After(s.now()) {
		return store.Challenge{}, store.ErrNotFound
	}
	return c, nil
}

// nonNil returns b, or an empty slice for nil, for a NOT NULL column.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
