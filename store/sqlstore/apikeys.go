package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// scanKey reads the columns of keyCols.
func scanKey(r row) (store.APIKey, error) {
	var (
		k                         store.APIKey
		hash                      []byte
		scope                     int64
		expires, created, lastUse sql.NullInt64
	)
	err := r.Scan(&k.ID, &hash, &k.Prefix, &scope, &k.Account.ID, &k.Label, &expires, &created, &lastUse,
		&k.Note, &k.BoundIP, &k.LastUsedIP, &k.RequestCount)
	if err != nil {
		return store.APIKey{}, err
	}
	if k.Hash, err = toHash(hash); err != nil {
		return store.APIKey{}, err
	}
	k.Account.Scope = scopes.Scope(scope)
	k.ExpiresAt, k.CreatedAt, k.LastUsedAt = fromNullNanos(expires), fromNullNanos(created), fromNullNanos(lastUse)
	return k, nil
}

// APIKeyByHash returns the key whose Hash is h, or [store.ErrNotFound],
// also when the key has expired.
func (s *Store) APIKeyByHash(ctx context.Context, h store.Hash) (store.APIKey, error) {
	k, err := scanKey(s.hot.keyByHash.QueryRowContext(ctx, h[:], nanos(s.now())))
	if err != nil {
		return store.APIKey{}, s.fail("API key by hash", err)
	}
	return k, nil
}

// RecordAPIKeyUse adds requests to the key's RequestCount and, if at is
// after its LastUsedAt, sets LastUsedAt to at and LastUsedIP to ip. It is
// one UPDATE (request_count = request_count + n, and a CASE for the time
// and address), so concurrent calls, across every process that shares the
// database, never lose a count. An absent or expired key is not an error,
// and stays absent. A negative requests is an error.
func (s *Store) RecordAPIKeyUse(ctx context.Context, id int64, at time.Time, ip string, requests int64) error {
	if requests < 0 {
		return fmt.Errorf("sqlstore: record API key use: negative request count %d", requests)
	}
	_, err := s.exec(ctx, "record API key use", s.q.recordKeyUse, id, requests, nanos(at), ip,
		nanos(time.Time{}), nanos(s.now()))
	return err
}

// CreateAPIKey stores k with a new ID and returns it; k.ID is ignored, and a
// zero CreatedAt is set to now. A Hash already stored in a key that has not
// expired is [store.ErrConflict]; an expired key's hash is free again. A key
// with no valid account is an error.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	if !k.Account.Scope.Valid() || k.Account.ID <= 0 {
		return store.APIKey{}, errors.New("sqlstore: API key has no valid account")
	}
	now := s.now()
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now
	}
	err := s.inTx(ctx, "create API key", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q.dropExpiredKey, k.Hash[:], nanos(now)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, s.q.insertKey, k.Hash[:], k.Prefix, int64(k.Account.Scope), k.Account.ID,
			k.Label, nullNanos(k.ExpiresAt), nullNanos(k.CreatedAt), nullNanos(k.LastUsedAt),
			k.Note, k.BoundIP, k.LastUsedIP, k.RequestCount).Scan(&k.ID)
	})
	if err != nil {
		return store.APIKey{}, err
	}
	return k, nil
}

// APIKeys returns the account's keys that have not expired, oldest first
// (by CreatedAt, then ID), in a new slice.
func (s *Store) APIKeys(ctx context.Context, owner store.AccountRef) ([]store.APIKey, error) {
	rows, err := s.db.QueryContext(ctx, s.q.keysOf, int64(owner.Scope), owner.ID, nanos(s.now()))
	if err != nil {
		return nil, s.fail("API keys", err)
	}
	defer rows.Close()
	keys := []store.APIKey{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, s.fail("API keys", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("API keys", err)
	}
	return keys, nil
}

// RevokeAPIKey deletes the key with the ID if owner owns it and it has not
// expired, and returns [store.ErrNotFound] otherwise.
func (s *Store) RevokeAPIKey(ctx context.Context, owner store.AccountRef, id int64) error {
	n, err := s.exec(ctx, "revoke API key", s.q.revokeKey, id, int64(owner.Scope), owner.ID, nanos(s.now()))
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
