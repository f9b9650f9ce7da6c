package store

import (
	"context"
	"errors"
	"sync"
	"time"
)

// memorySessions holds the sessions of a [Memory].
type memorySessions struct {
	mu     sync.RWMutex
	byHash map[Hash]Session
	// byOwner indexes the sessions of each account, so that
	// DeleteAccountSessions touches only that account's.
	byOwner  map[AccountRef]map[Hash]struct{}
	expiries expiryQueue[Hash]
}

// Session returns the session whose Hash is h, or [ErrNotFound], also when
// its ExpiresAt is not after now. It takes a read lock and does not
// allocate.
func (m *Memory) Session(_ context.Context, h Hash) (Session, error) {
	m.ready()
	now := m.now()
	s := &m.sessions
	s.mu.RLock()
	sess, ok := s.byHash[h]
	s.mu.RUnlock()
	if !ok || !sess.ExpiresAt.After(now) {
		return Session{}, ErrNotFound
	}
	return sess, nil
}

// TouchSession sets the session's LastSeenAt and ExpiresAt. An absent or
// expired session is [ErrNotFound] and is not brought back.
func (m *Memory) TouchSession(_ context.Context, h Hash, lastSeen, expires time.Time) error {
	m.ready()
	now := m.now()
	s := &m.sessions
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	sess, ok := s.byHash[h]
	if !ok {
		return ErrNotFound
	}
	if expires.Before(sess.ExpiresAt) {
		// The queue's entry for h is later than the new expiry; see
		// expiryQueue. A later expiry needs nothing: the old entry
		// moves when it comes up.
		s.expiries.push(h, expires)
	}
	sess.LastSeenAt, sess.ExpiresAt = lastSeen, expires
	s.byHash[h] = sess
	return nil
}

// CreateSession stores sess. A Hash already stored, in a session that has
// not expired, is [ErrConflict]. A session with no valid account is an
// error.
func (m *Memory) CreateSession(_ context.Context, sess Session) error {
	m.ready()
	if !sess.Account.Scope.Valid() || sess.Account.ID <= 0 {
		return errors.New("store: session has no valid account")
	}
	now := m.now()
	s := &m.sessions
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now) // an expired session's hash is free again
	if _, taken := s.byHash[sess.Hash]; taken {
		return ErrConflict
	}
	s.byHash[sess.Hash] = sess
	addToIndex(s.byOwner, sess.Account, sess.Hash)
	s.expiries.push(sess.Hash, sess.ExpiresAt)
	return nil
}

// DeleteSession removes the session whose Hash is h. An absent session is
// not an error.
func (m *Memory) DeleteSession(_ context.Context, h Hash) error {
	m.ready()
	now := m.now()
	s := &m.sessions
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteLocked(h)
	s.expireLocked(now)
	return nil
}

// DeleteAccountSessions removes every session of the account except the one
// whose Hash is keep (the zero Hash keeps none) and returns how many it
// removed that had not expired. It reads only the account's own sessions.
func (m *Memory) DeleteAccountSessions(_ context.Context, owner AccountRef, keep Hash) (int, error) {
	m.ready()
	now := m.now()
	s := &m.sessions
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	removed := 0
	for h := range s.byOwner[owner] {
		if h == keep {
			continue
		}
		if s.byHash[h].ExpiresAt.After(now) {
			removed++
		}
		s.deleteLocked(h) // also from s.byOwner[owner], which Go allows mid-range
	}
	s.expiries.compact(len(s.byHash), s.allExpiries)
	return removed, nil
}

// expireLocked forgets the sessions that have expired. s.mu must be held.
func (s *memorySessions) expireLocked(now time.Time) {
	s.expiries.expire(now, s.expiryOf, s.deleteLocked)
	s.expiries.compact(len(s.byHash), s.allExpiries)
}

// expiryOf returns the expiry of the session whose Hash is h, if stored.
func (s *memorySessions) expiryOf(h Hash) (time.Time, bool) {
	sess, ok := s.byHash[h]
	return sess.ExpiresAt, ok
}

// allExpiries yields every session's Hash with its expiry.
func (s *memorySessions) allExpiries(yield func(Hash, time.Time) bool) {
	for h, sess := range s.byHash {
		if !yield(h, sess.ExpiresAt) {
			return
		}
	}
}

// deleteLocked deletes the session whose Hash is h, and its index entry.
// s.mu must be held.
func (s *memorySessions) deleteLocked(h Hash) {
	sess, ok := s.byHash[h]
	if !ok {
		return
	}
	removeFromIndex(s.byOwner, sess.Account, h)
	delete(s.byHash, h)
}
