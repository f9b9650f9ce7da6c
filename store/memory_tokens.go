package store

import (
	"context"
	"errors"
	"sync"
	"time"
)

// memoryTokens holds the one-time tokens of a [Memory].
type memoryTokens struct {
	mu       sync.Mutex
	byHash   map[Hash]Token
	expiries expiryQueue[Hash]
}

// PutToken stores t. A token with the same Hash that has not expired is
// [ErrConflict]; an expired one's Hash is free again. A token with no valid
// account is an error.
func (m *Memory) PutToken(_ context.Context, t Token) error {
	m.ready()
	if !t.Account.Scope.Valid() || t.Account.ID <= 0 {
		return errors.New("store: token has no valid account")
	}
	now := m.now()
	s := &m.tokens
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now) // an expired token's hash is free again
	if _, taken := s.byHash[t.Hash]; taken {
		return ErrConflict
	}
	s.byHash[t.Hash] = t
	s.expiries.push(t.Hash, t.ExpiresAt)
	return nil
}

// TakeToken removes the token whose Hash is h and returns it, or
// [ErrNotFound] if it is absent or expired. The check and the removal are
// one step under the lock: of concurrent takes, exactly one gets it.
func (m *Memory) TakeToken(_ context.Context, h Hash) (Token, error) {
	m.ready()
	now := m.now()
	s := &m.tokens
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	t, ok := s.byHash[h]
	if !ok {
		return Token{}, ErrNotFound
	}
	delete(s.byHash, h)
	if !t.ExpiresAt.After(now) {
		return Token{}, ErrNotFound // expireLocked removed it already; this is belt and braces
	}
	return t, nil
}

// expireLocked forgets the tokens that have expired. s.mu must be held.
func (s *memoryTokens) expireLocked(now time.Time) {
	s.expiries.expire(now, s.expiryOf, s.delete)
	s.expiries.compact(len(s.byHash), s.allExpiries)
}

// expiryOf returns the expiry of the token whose Hash is h, if stored.
func (s *memoryTokens) expiryOf(h Hash) (time.Time, bool) {
	t, ok := s.byHash[h]
	return t.ExpiresAt, ok
}

// allExpiries yields every token's Hash with its expiry.
func (s *memoryTokens) allExpiries(yield func(Hash, time.Time) bool) {
	for h, t := range s.byHash {
		if !yield(h, t.ExpiresAt) {
			return
		}
	}
}

// delete deletes the token whose Hash is h. s.mu must be held.
func (s *memoryTokens) delete(h Hash) { delete(s.byHash, h) }
