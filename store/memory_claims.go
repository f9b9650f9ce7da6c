package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// memoryClaims holds the one-time claims of a [Memory].
type memoryClaims struct {
	mu sync.Mutex
	// until maps each claimed key to when its claim ends.
	until    map[string]time.Time
	expiries expiryQueue[string]
}

// Claim marks key as used until now+ttl and reports whether this call was
// the first to do so while no earlier claim of key is live. A claim is live
// while now is before its end. Of any number of concurrent calls with one
// key, exactly one returns true; a call that returns false changes nothing.
// A ttl that is not positive is an error, since its claim would never be
// live and every use would be the first.
func (m *Memory) Claim(_ context.Context, key string, ttl time.Duration) (bool, error) {
	m.ready()
	if ttl <= 0 {
		return false, fmt.Errorf("store: claim ttl %v is not positive", ttl)
	}
	now := m.now()
	s := &m.claims
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiries.expire(now, s.expiryOf, s.delete)
	s.expiries.compact(len(s.until), s.allExpiries)
	if until, ok := s.until[key]; ok && until.After(now) {
		return false, nil
	}
	until := now.Add(ttl)
	s.until[key] = until
	s.expiries.push(key, until)
	return true, nil
}

// expiryOf returns when the claim of key ends, if there is one.
func (s *memoryClaims) expiryOf(key string) (time.Time, bool) {
	until, ok := s.until[key]
	return until, ok
}

// allExpiries yields every claimed key with when its claim ends.
func (s *memoryClaims) allExpiries(yield func(string, time.Time) bool) {
	for key, until := range s.until {
		if !yield(key, until) {
			return
		}
	}
}

// delete forgets the claim of key. s.mu must be held.
func (s *memoryClaims) delete(key string) { delete(s.until, key) }
