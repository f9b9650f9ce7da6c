package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// memoryKeys holds the API keys of a [Memory].
type memoryKeys struct {
	mu      sync.RWMutex
	byHash  map[Hash]APIKey
	byID    map[int64]Hash
	byOwner map[AccountRef]map[int64]struct{}
	lastID  int64
	// expiries has an entry for every key with an ExpiresAt, keyed by ID
	// (IDs are never reused, so no entry outlives its key's identity).
	expiries expiryQueue[int64]
}

// APIKeyByHash returns the key whose Hash is h, or [ErrNotFound], also when
// the key has expired. It takes a read lock and does not allocate.
func (m *Memory) APIKeyByHash(_ context.Context, h Hash) (APIKey, error) {
	m.ready()
	s := &m.keys
	s.mu.RLock()
	k, ok := s.byHash[h]
	s.mu.RUnlock()
	// Most keys never expire: read the clock only for those that do.
	if !ok || (!k.ExpiresAt.IsZero() && keyExpired(k, m.now())) {
		return APIKey{}, ErrNotFound
	}
	return k, nil
}

// RecordAPIKeyUse adds requests to the key's RequestCount and, if at is
// after its LastUsedAt, sets LastUsedAt to at and LastUsedIP to ip, under
// the keys' lock, so concurrent calls never lose a count. An absent or
// expired key is not an error, and stays absent. A negative requests is an
// error.
func (m *Memory) RecordAPIKeyUse(_ context.Context, id int64, at time.Time, ip string, requests int64) error {
	m.ready()
	if requests < 0 {
		return fmt.Errorf("store: record API key use: negative request count %d", requests)
	}
	now := m.now()
	s := &m.keys
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	h, ok := s.byID[id]
	if !ok {
		return nil
	}
	k := s.byHash[h]
	k.RequestCount += requests
	if at.After(k.LastUsedAt) {
		k.LastUsedAt, k.LastUsedIP = at, ip
	}
	s.byHash[h] = k
	return nil
}

// CreateAPIKey stores k with the next free ID (1, 2, ...) and returns it;
// k.ID is ignored, and a zero CreatedAt is set to now. A Hash already stored
// is [ErrConflict]. A key with no valid account is an error.
func (m *Memory) CreateAPIKey(_ context.Context, k APIKey) (APIKey, error) {
	m.ready()
	if !k.Account.Scope.Valid() || k.Account.ID <= 0 {
		return APIKey{}, errors.New("store: API key has no valid account")
	}
	now := m.now()
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now
	}
	s := &m.keys
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now) // an expired key's hash is free again
	if _, taken := s.byHash[k.Hash]; taken {
		return APIKey{}, ErrConflict
	}
	s.lastID++
	k.ID = s.lastID
	s.byHash[k.Hash] = k
	s.byID[k.ID] = k.Hash
	addToIndex(s.byOwner, k.Account, k.ID)
	if !k.ExpiresAt.IsZero() {
		s.expiries.push(k.ID, k.ExpiresAt)
	}
	return k, nil
}

// APIKeys returns the account's keys that have not expired, oldest first
// (by CreatedAt, then ID), in a new slice.
func (m *Memory) APIKeys(_ context.Context, owner AccountRef) ([]APIKey, error) {
	m.ready()
	now := m.now()
	s := &m.keys
	s.mu.RLock()
	ids := s.byOwner[owner]
	keys := make([]APIKey, 0, len(ids))
	for id := range ids {
		if k := s.byHash[s.byID[id]]; !keyExpired(k, now) {
			keys = append(keys, k)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(keys, func(a, b APIKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return keys, nil
}

// RevokeAPIKey deletes the key with the ID if owner owns it and it has not
// expired, and returns [ErrNotFound] otherwise.
func (m *Memory) RevokeAPIKey(_ context.Context, owner AccountRef, id int64) error {
	m.ready()
	now := m.now()
	s := &m.keys
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	h, ok := s.byID[id]
	if !ok || s.byHash[h].Account != owner {
		return ErrNotFound
	}
	s.deleteLocked(id)
	return nil
}

// keyExpired reports whether k has an expiry that is not after now.
func keyExpired(k APIKey, now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(now)
}

// expireLocked forgets the keys that have expired. s.mu must be held.
func (s *memoryKeys) expireLocked(now time.Time) {
	s.expiries.expire(now, s.expiryOf, s.deleteLocked)
	s.expiries.compact(len(s.byID), s.allExpiries)
}

// expiryOf returns the expiry of the key with the ID, if it is stored and
// has one.
func (s *memoryKeys) expiryOf(id int64) (time.Time, bool) {
	h, ok := s.byID[id]
	if !ok {
		return time.Time{}, false
	}
	at := s.byHash[h].ExpiresAt
	return at, !at.IsZero()
}

// allExpiries yields every key that has an expiry, with it.
func (s *memoryKeys) allExpiries(yield func(int64, time.Time) bool) {
	for _, k := range s.byHash {
		if !k.ExpiresAt.IsZero() && !yield(k.ID, k.ExpiresAt) {
			return
		}
	}
}

// deleteLocked deletes the key with the ID from every map. s.mu must be
// held.
func (s *memoryKeys) deleteLocked(id int64) {
	h, ok := s.byID[id]
	if !ok {
		return
	}
	removeFromIndex(s.byOwner, s.byHash[h].Account, id)
	delete(s.byHash, h)
	delete(s.byID, id)
}
