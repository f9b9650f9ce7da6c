package sqlstore

import (
	"context"
	"errors"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// PutToken stores t. A Hash already stored, in a token that has not
// expired, is [store.ErrConflict]; an expired token's Hash is free again.
// It is one upsert that replaces only an expired row. A token with no
// valid account is an error.
func (s *Store) PutToken(ctx context.Context, t store.Token) error {
	if !t.Account.Scope.Valid() || t.Account.ID <= 0 {
		return errors.New("sqlstore: token has no valid account")
	}
	n, err := s.exec(ctx, "put token", s.q.putToken, t.Hash[:], int64(t.Account.Scope), t.Account.ID,
		t.Purpose, nanos(t.ExpiresAt), nanos(s.now()))
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}

// TakeToken removes the token whose Hash is h and returns it, or
// [store.ErrNotFound] if it is absent or expired (an expired one is removed
// too). It is one DELETE ... RETURNING: of concurrent takes, across every
// process that shares the database, one deletes the row and gets it.
func (s *Store) TakeToken(ctx context.Context, h store.Hash) (store.Token, error) {
	t := store.Token{Hash: h}
	var scope, expires int64
	err := s.writeRow(ctx, "take token", s.q.takeToken, []any{h[:]}, &scope, &t.Account.ID, &t.Purpose, &expires)
	if err != nil {
		return store.Token{}, err
	}
	t.Account.Scope = scopes.Scope(scope)
	t.ExpiresAt = fromNanos(expires)
	if !t.ExpiresAt.After(s.now()) {
		return store.Token{}, store.ErrNotFound
	}
	return t, nil
}
