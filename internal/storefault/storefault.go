package storefault

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Mode says when an armed call fails.
type Mode int

const (
	// Before fails the call without making it: nothing is applied.
	Before Mode = iota + 1
	// After makes the call, then fails it: applied, the answer lost.
	After
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case Before:
		return "before"
	case After:
		return "after"
	}
	return "never"
}

// ErrInjected is the failure a call gets.
var ErrInjected = errors.New("storefault: injected failure (connection reset)")

// errMissing is what a call of an optional interface the wrapped store
// lacks gets.
var errMissing = errors.New("storefault: the wrapped store does not implement this")

// Store wraps a store: every call goes through, and while armed, calls are
// counted and the chosen one fails. It implements every interface of
// package store; the optional ones fail when the wrapped store lacks them.
// RecordAPIKeyUse is neither counted nor failed: it is written in the
// background, on no request's path. Safe for concurrent use.
type Store struct {
	inner store.Store

	mu     sync.Mutex
	armed  bool
	failAt int
	mode   Mode
	calls  []string
}

// New wraps inner.
func New(inner store.Store) *Store { return &Store{inner: inner} }

// Arm starts counting calls from zero; the failAt-th fails as mode says
// (failAt 0: none fails, to count a command's calls).
func (s *Store) Arm(failAt int, mode Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed, s.failAt, s.mode, s.calls = true, failAt, mode, nil
}

// Disarm stops counting and returns the names of the calls made since Arm,
// in order.
func (s *Store) Disarm() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = false
	return s.calls
}

// step counts a call and returns how it must fail, if it must.
func (s *Store) step(op string) Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.armed {
		return 0
	}
	s.calls = append(s.calls, op)
	if len(s.calls) == s.failAt {
		return s.mode
	}
	return 0
}

// call makes one call through the fault point.
func call[T any](s *Store, op string, f func() (T, error)) (T, error) {
	var zero T
	m := s.step(op)
	if m == Before {
		return zero, ErrInjected
	}
	v, err := f()
	if m == After {
		return zero, ErrInjected
	}
	return v, err
}

// call0 is call for a method that returns only an error.
func call0(s *Store, op string, f func() error) error {
	_, err := call(s, op, func() (struct{}, error) { return struct{}{}, f() })
	return err
}

func (s *Store) Account(ctx context.Context, ref store.AccountRef) (store.Account, error) {
	return call(s, "Account", func() (store.Account, error) { return s.inner.Account(ctx, ref) })
}

func (s *Store) AccountByLogin(ctx context.Context, scope scopes.Scope, login string) (store.Account, error) {
	return call(s, "AccountByLogin", func() (store.Account, error) { return s.inner.AccountByLogin(ctx, scope, login) })
}

func (s *Store) CreateAccount(ctx context.Context, a store.Account) (store.Account, error) {
	return call(s, "CreateAccount", func() (store.Account, error) {
		c, ok := s.inner.(store.AccountCreator)
		if !ok {
			return store.Account{}, errMissing
		}
		return c.CreateAccount(ctx, a)
	})
}

func (s *Store) SetPassword(ctx context.Context, ref store.AccountRef, hash string) error {
	return call0(s, "SetPassword", func() error {
		p, ok := s.inner.(store.PasswordSetter)
		if !ok {
			return errMissing
		}
		return p.SetPassword(ctx, ref, hash)
	})
}

func (s *Store) RehashPassword(ctx context.Context, ref store.AccountRef, old, hash string) error {
	return call0(s, "RehashPassword", func() error {
		p, ok := s.inner.(store.PasswordSetter)
		if !ok {
			return errMissing
		}
		return p.RehashPassword(ctx, ref, old, hash)
	})
}

func (s *Store) UpdateAccount(ctx context.Context, a store.Account) error {
	return call0(s, "UpdateAccount", func() error {
		u, ok := s.inner.(store.AccountUpdater)
		if !ok {
			return errMissing
		}
		return u.UpdateAccount(ctx, a)
	})
}

func (s *Store) APIKeyByHash(ctx context.Context, h store.Hash) (store.APIKey, error) {
	return call(s, "APIKeyByHash", func() (store.APIKey, error) { return s.inner.APIKeyByHash(ctx, h) })
}

func (s *Store) RecordAPIKeyUse(ctx context.Context, id int64, at time.Time, ip string, requests int64) error {
	return s.inner.RecordAPIKeyUse(ctx, id, at, ip, requests)
}

func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	return call(s, "CreateAPIKey", func() (store.APIKey, error) { return s.inner.CreateAPIKey(ctx, k) })
}

func (s *Store) APIKeys(ctx context.Context, owner store.AccountRef) ([]store.APIKey, error) {
	return call(s, "APIKeys", func() ([]store.APIKey, error) { return s.inner.APIKeys(ctx, owner) })
}

func (s *Store) RevokeAPIKey(ctx context.Context, owner store.AccountRef, id int64) error {
	return call0(s, "RevokeAPIKey", func() error { return s.inner.RevokeAPIKey(ctx, owner, id) })
}

func (s *Store) Session(ctx context.Context, h store.Hash) (store.Session, error) {
	return call(s, "Session", func() (store.Session, error) { return s.inner.Session(ctx, h) })
}

func (s *Store) TouchSession(ctx context.Context, h store.Hash, lastSeen, expires time.Time) error {
	return call0(s, "TouchSession", func() error { return s.inner.TouchSession(ctx, h, lastSeen, expires) })
}

func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	return call0(s, "CreateSession", func() error { return s.inner.CreateSession(ctx, sess) })
}

func (s *Store) DeleteSession(ctx context.Context, h store.Hash) error {
	return call0(s, "DeleteSession", func() error { return s.inner.DeleteSession(ctx, h) })
}

func (s *Store) DeleteAccountSessions(ctx context.Context, owner store.AccountRef, keep store.Hash) (int, error) {
	return call(s, "DeleteAccountSessions", func() (int, error) { return s.inner.DeleteAccountSessions(ctx, owner, keep) })
}

func (s *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return call(s, "Claim", func() (bool, error) { return s.inner.Claim(ctx, key, ttl) })
}

// counted is a counter's answer.
type counted struct {
	n     int64
	reset time.Time
}

func (s *Store) Increment(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	c, err := call(s, "Increment", func() (counted, error) {
		n, reset, err := s.inner.Increment(ctx, key, window)
		return counted{n, reset}, err
	})
	return c.n, c.reset, err
}

func (s *Store) Count(ctx context.Context, key string) (int64, time.Time, error) {
	c, err := call(s, "Count", func() (counted, error) {
		n, reset, err := s.inner.Count(ctx, key)
		return counted{n, reset}, err
	})
	return c.n, c.reset, err
}

func (s *Store) Reset(ctx context.Context, key string) error {
	return call0(s, "Reset", func() error { return s.inner.Reset(ctx, key) })
}

func (s *Store) TFA(ctx context.Context, ref store.AccountRef) (store.TFA, error) {
	return call(s, "TFA", func() (store.TFA, error) { return s.inner.TFA(ctx, ref) })
}

func (s *Store) PutTFA(ctx context.Context, t store.TFA) error {
	return call0(s, "PutTFA", func() error { return s.inner.PutTFA(ctx, t) })
}

func (s *Store) AdvanceTFAStep(ctx context.Context, ref store.AccountRef, step int64) (bool, error) {
	return call(s, "AdvanceTFAStep", func() (bool, error) { return s.inner.AdvanceTFAStep(ctx, ref, step) })
}

func (s *Store) PutChallenge(ctx context.Context, c store.Challenge) error {
	return call0(s, "PutChallenge", func() error { return s.inner.PutChallenge(ctx, c) })
}

func (s *Store) Challenge(ctx context.Context, id string) (store.Challenge, error) {
	return call(s, "Challenge", func() (store.Challenge, error) { return s.inner.Challenge(ctx, id) })
}

func (s *Store) TakeChallenge(ctx context.Context, id string) (store.Challenge, error) {
	return call(s, "TakeChallenge", func() (store.Challenge, error) { return s.inner.TakeChallenge(ctx, id) })
}

func (s *Store) PutToken(ctx context.Context, t store.Token) error {
	return call0(s, "PutToken", func() error { return s.inner.PutToken(ctx, t) })
}

func (s *Store) TakeToken(ctx context.Context, h store.Hash) (store.Token, error) {
	return call(s, "TakeToken", func() (store.Token, error) { return s.inner.TakeToken(ctx, h) })
}

func (s *Store) Decrement(ctx context.Context, key string) error {
	return call0(s, "Decrement", func() error { return s.inner.Decrement(ctx, key) })
}

// Invalidate is forwarded, never counted nor failed: its failure changes
// nothing on the instance that sends it (its cache is dropped first) and
// is retried in the background, where it would land in another crash
// point's count. authn's tests fail it on purpose.
func (s *Store) Invalidate(ctx context.Context, ref store.AccountRef) error {
	inv, ok := s.inner.(store.Invalidations)
	if !ok {
		return store.ErrNotSupported
	}
	return inv.Invalidate(ctx, ref)
}

// WatchInvalidations is forwarded: it is no request's call.
func (s *Store) WatchInvalidations(w store.InvalidationWatcher) (func(), error) {
	inv, ok := s.inner.(store.Invalidations)
	if !ok {
		return nil, store.ErrNotSupported
	}
	return inv.WatchInvalidations(w)
}
