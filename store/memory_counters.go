package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// memoryCounters holds the attempt counters of a [Memory].
type memoryCounters struct {
	mu       sync.RWMutex
	byKey    map[string]memoryCounter
	expiries expiryQueue[string]
}

// memoryCounter is one fixed-window counter.
type memoryCounter struct {
	count   int64
	resetAt time.Time
}

// Increment adds one to key's counter and returns the new count and when
// its window ends. A counter that does not exist, or whose window has ended
// (now is not before its end), starts again at 1 with a window that ends at
// now+window. A window that is not positive is an error.
func (m *Memory) Increment(_ context.Context, key string, window time.Duration) (int64, time.Time, error) {
	m.ready()
	if window <= 0 {
		return 0, time.Time{}, fmt.Errorf("store: counter window %v is not positive", window)
	}
	now := m.now()
	s := &m.counters
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiries.expire(now, s.expiryOf, s.delete)
	s.expiries.compact(len(s.byKey), s.allExpiries)
	c, ok := s.byKey[key]
	if !ok || !c.resetAt.After(now) {
		c = memoryCounter{resetAt: now.Add(window)}
		s.expiries.push(key, c.resetAt)
	}
	c.count++
	s.byKey[key] = c
	return c.count, c.resetAt, nil
}

// Count returns key's count and window end; a counter that does not exist
// or whose window has ended is 0 and the zero time.
func (m *Memory) Count(_ context.Context, key string) (int64, time.Time, error) {
	m.ready()
	now := m.now()
	s := &m.counters
	s.mu.RLock()
	c, ok := s.byKey[key]
	s.mu.RUnlock()
	if !ok || !c.resetAt.After(now) {
		return 0, time.Time{}, nil
	}
	return c.count, c.resetAt, nil
}

// Reset deletes key's counter. An absent counter is not an error.
func (m *Memory) Reset(_ context.Context, key string) error {
	m.ready()
	now := m.now()
	s := &m.counters
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byKey, key)
	s.expiries.expire(now, s.expiryOf, s.delete)
	s.expiries.compact(len(s.byKey), s.allExpiries)
	return nil
}

// Decrement subtracts one from key's counter if it exists, its window has
// not ended, and its count is above zero; otherwise it does nothing.
func (m *Memory) Decrement(_ context.Context, key string) error {
	m.ready()
	now := m.now()
	s := &m.counters
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byKey[key]
	if ok && c.resetAt.After(now) && c.count > 0 {
		c.count--
		s.byKey[key] = c
	}
	return nil
}

// expiryOf returns when the window of key's counter ends, if there is one.
func (s *memoryCounters) expiryOf(key string) (time.Time, bool) {
	c, ok := s.byKey[key]
	return c.resetAt, ok
}

// allExpiries yields every counter's key with when its window ends.
func (s *memoryCounters) allExpiries(yield func(string, time.Time) bool) {
	for key, c := range s.byKey {
		if !yield(key, c.resetAt) {
			return
		}
	}
}

// delete forgets key's counter. s.mu must be held.
func (s *memoryCounters) delete(key string) { delete(s.byKey, key) }
