package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Session returns the session whose Hash is h, or [store.ErrNotFound], also
// when its ExpiresAt is not after now. It is one indexed SELECT.
func (s *Store) Session(ctx context.Context, h store.Hash) (store.Session, error) {
	var (
		sess              store.Session
		scope             int64
		keyHash           []byte
		parent            []byte
		created, lastSeen sql.NullInt64
		expires           int64
		switchedScope     int64
	)
	err := s.hot.session.QueryRowContext(ctx, h[:], nanos(s.now())).Scan(
		&scope, &sess.Account.ID, &sess.TFA, &sess.Method, &keyHash, &created, &lastSeen, &expires,
		&switchedScope, &sess.SwitchedBy.ID, &sess.SwitchPrivilege, &sess.Generation, &parent)
	if err != nil {
		return store.Session{}, s.fail("session", err)
	}
	if sess.APIKeyHash, err = toHash(keyHash); err != nil {
		return store.Session{}, s.fail("session", err)
	}
	if sess.Parent, err = toHash(parent); err != nil {
		return store.Session{}, s.fail("session", err)
	}
	sess.Hash = h
	sess.Account.Scope = scopes.Scope(scope)
	sess.SwitchedBy.Scope = scopes.Scope(switchedScope)
	sess.CreatedAt, sess.LastSeenAt = fromNullNanos(created), fromNullNanos(lastSeen)
	sess.ExpiresAt = fromNanos(expires)
	return sess, nil
}

// TouchSession sets the session's LastSeenAt and ExpiresAt. An absent or
// expired session is [store.ErrNotFound] and is not brought back.
func (s *Store) TouchSession(ctx context.Context, h store.Hash, lastSeen, expires time.Time) error {
	n, err := s.exec(ctx, "touch session", s.q.touchSession, h[:], nullNanos(lastSeen), nanos(expires), nanos(s.now()))
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// CreateSession stores sess. A Hash already stored, in a session that has
// not expired, is [store.ErrConflict]; an expired session's hash is free
// again. A session with no valid account is an error.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	if !sess.Account.Scope.Valid() || sess.Account.ID <= 0 {
		return errors.New("sqlstore: session has no valid account")
	}
	n, err := s.exec(ctx, "create session", s.q.createSession, sess.Hash[:], int64(sess.Account.Scope),
		sess.Account.ID, sess.TFA, sess.Method, sess.APIKeyHash[:], nullNanos(sess.CreatedAt),
		nullNanos(sess.LastSeenAt), nanos(sess.ExpiresAt), int64(sess.SwitchedBy.Scope), sess.SwitchedBy.ID,
		sess.SwitchPrivilege, sess.Generation, sess.Parent[:], nanos(s.now()))
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}

// DeleteSession removes the session whose Hash is h. An absent session is
// not an error.
func (s *Store) DeleteSession(ctx context.Context, h store.Hash) error {
	_, err := s.exec(ctx, "delete session", s.q.deleteSession, h[:])
	return err
}

// DeleteAccountSessions removes every session of the account except the
// one whose Hash is keep (the zero Hash keeps none), in one DELETE through
// the index on the sessions' account, and returns how many it removed that
// had not expired.
func (s *Store) DeleteAccountSessions(ctx context.Context, owner store.AccountRef, keep store.Hash) (int, error) {
	const op = "delete account sessions"
	if err := s.startWrite(ctx); err != nil {
		return 0, err
	}
	defer s.endWrite()
	now := nanos(s.now())
	rows, err := s.db.QueryContext(ctx, s.q.deleteAccountSessions, int64(owner.Scope), owner.ID, keep[:])
	if err != nil {
		return 0, s.fail(op, err)
	}
	defer rows.Close()
	live := 0
	for rows.Next() {
		var expires int64
		if err := rows.Scan(&expires); err != nil {
			return 0, s.fail(op, err)
		}
		if expires > now {
			live++
		}
	}
	if err := rows.Err(); err != nil {
		return 0, s.fail(op, err)
	}
	return live, nil
}
