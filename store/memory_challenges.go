package store

import (
	"context"
	"slices"
	"sync"
	"time"
)

var _ Challenges = (*Memory)(nil)

// memoryChallenges holds the captcha challenges of a [Memory].
type memoryChallenges struct {
	mu       sync.Mutex
	byID     map[string]Challenge
	expiries expiryQueue[string]
}

// PutChallenge stores c, or returns [ErrConflict] for an ID already live.
func (m *Memory) PutChallenge(_ context.Context, c Challenge) error {
	m.ready()
	now := m.now()
	s := &m.challenges
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiries.expire(now, s.expiryOf, s.delete)
	s.expiries.compact(len(s.byID), s.allExpiries)
	if old, ok := s.byID[c.ID]; ok && old.ExpiresAt.After(now) {
		return ErrConflict
	}
	c.Digits = slices.Clone(c.Digits)
	s.byID[c.ID] = c
	s.expiries.push(c.ID, c.ExpiresAt)
	return nil
}

// Challenge returns the challenge without using it up, or [ErrNotFound].
func (m *Memory) Challenge(_ context.Context, id string) (Challenge, error) {
	m.ready()
	now := m.now()
	s := &m.challenges
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byID[id]
	if !ok || !c.ExpiresAt.After(now) {
		return Challenge{}, ErrNotFound
	}
	c.Digits = slices.Clone(c.Digits)
	return c, nil
}

// TakeChallenge removes the challenge and returns it, or [ErrNotFound].
func (m *Memory) TakeChallenge(_ context.Context, id string) (Challenge, error) {
	m.ready()
	now := m.now()
	s := &m.challenges
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byID[id]
	if !ok {
		return Challenge{}, ErrNotFound
	}
	delete(s.byID, id)
	if !c.ExpiresAt.After(now) {
		return Challenge{}, ErrNotFound
	}
	return c, nil
}

func (s *memoryChallenges) expiryOf(id string) (time.Time, bool) {
	c, ok := s.byID[id]
	return c.ExpiresAt, ok
}

func (s *memoryChallenges) allExpiries(yield func(string, time.Time) bool) {
	for id, c := range s.byID {
		if !yield(id, c.ExpiresAt) {
			return
		}
	}
}

func (s *memoryChallenges) delete(id string) { delete(s.byID, id) }
