package storewrap

import (
	"context"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Around runs one store call: ctx is the call's context, op names it
// ("Session", "CreateAPIKey", ...), call makes it. It returns call's
// error, or one of its own.
type Around func(ctx context.Context, op string, call func() error) error

// Store is a store whose every call goes through an Around. Safe for
// concurrent use if the Around and the wrapped store are.
type Store struct {
	inner  store.Store
	around Around
}

// New wraps inner, each call through around.
func New(inner store.Store, around Around) *Store { return &Store{inner: inner, around: around} }

// call makes one call through the hook; on an error the value is the
// zero one, as a store answers.
func call[T any](ctx context.Context, s *Store, op string, f func() (T, error)) (T, error) {
	var v T
	err := s.around(ctx, op, func() error {
		var err error
		v, err = f()
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// call0 is call for a method that returns only an error.
func call0(ctx context.Context, s *Store, op string, f func() error) error {
	return s.around(ctx, op, f)
}

// Account is the wrapped store's Account, through the hook.
func (s *Store) Account(ctx context.Context, ref store.AccountRef) (store.Account, error) {
	return call(ctx, s, "Account", func() (store.Account, error) { return s.inner.Account(ctx, ref) })
}

// AccountByLogin is the wrapped store's AccountByLogin, through the hook.
func (s *Store) AccountByLogin(ctx context.Context, scope scopes.Scope, login string) (store.Account, error) {
	return call(ctx, s, "AccountByLogin", func() (store.Account, error) { return s.inner.AccountByLogin(ctx, scope, login) })
}

// CreateAccount is the wrapped store's CreateAccount, through the hook.
func (s *Store) CreateAccount(ctx context.Context, a store.Account) (store.Account, error) {
	return call(ctx, s, "CreateAccount", func() (store.Account, error) {
		c, ok := s.inner.(store.AccountCreator)
		if !ok {
			return store.Account{}, store.ErrNotSupported
		}
		return c.CreateAccount(ctx, a)
	})
}

// SetPassword is the wrapped store's SetPassword, through the hook.
func (s *Store) SetPassword(ctx context.Context, ref store.AccountRef, hash string) error {
	return call0(ctx, s, "SetPassword", func() error {
		p, ok := s.inner.(store.PasswordSetter)
		if !ok {
			return store.ErrNotSupported
		}
		return p.SetPassword(ctx, ref, hash)
	})
}

// RehashPassword is the wrapped store's RehashPassword, through the hook.
func (s *Store) RehashPassword(ctx context.Context, ref store.AccountRef, old, hash string) error {
	return call0(ctx, s, "RehashPassword", func() error {
		p, ok := s.inner.(store.PasswordSetter)
		if !ok {
			return store.ErrNotSupported
		}
		return p.RehashPassword(ctx, ref, old, hash)
	})
}

// UpdateAccount is the wrapped store's UpdateAccount, through the hook.
func (s *Store) UpdateAccount(ctx context.Context, a store.Account) error {
	return call0(ctx, s, "UpdateAccount", func() error {
		u, ok := s.inner.(store.AccountUpdater)
		if !ok {
			return store.ErrNotSupported
		}
		return u.UpdateAccount(ctx, a)
	})
}

// APIKeyByHash is the wrapped store's APIKeyByHash, through the hook.
func (s *Store) APIKeyByHash(ctx context.Context, h store.Hash) (store.APIKey, error) {
	return call(ctx, s, "APIKeyByHash", func() (store.APIKey, error) { return s.inner.APIKeyByHash(ctx, h) })
}

// RecordAPIKeyUse is the wrapped store's RecordAPIKeyUse, through the hook.
func (s *Store) RecordAPIKeyUse(ctx context.Context, id int64, at time.Time, ip string, requests int64) error {
	return call0(ctx, s, "RecordAPIKeyUse", func() error { return s.inner.RecordAPIKeyUse(ctx, id, at, ip, requests) })
}

// CreateAPIKey is the wrapped store's CreateAPIKey, through the hook.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	return call(ctx, s, "CreateAPIKey", func() (store.APIKey, error) { return s.inner.CreateAPIKey(ctx, k) })
}

// APIKeys is the wrapped store's APIKeys, through the hook.
func (s *Store) APIKeys(ctx context.Context, owner store.AccountRef) ([]store.APIKey, error) {
	return call(ctx, s, "APIKeys", func() ([]store.APIKey, error) { return s.inner.APIKeys(ctx, owner) })
}

// RevokeAPIKey is the wrapped store's RevokeAPIKey, through the hook.
func (s *Store) RevokeAPIKey(ctx context.Context, owner store.AccountRef, id int64) error {
	return call0(ctx, s, "RevokeAPIKey", func() error { return s.inner.RevokeAPIKey(ctx, owner, id) })
}

// Session is the wrapped store's Session, through the hook.
func (s *Store) Session(ctx context.Context, h store.Hash) (store.Session, error) {
	return call(ctx, s, "Session", func() (store.Session, error) { return s.inner.Session(ctx, h) })
}

// TouchSession is the wrapped store's TouchSession, through the hook.
func (s *Store) TouchSession(ctx context.Context, h store.Hash, lastSeen, expires time.Time) error {
	return call0(ctx, s, "TouchSession", func() error { return s.inner.TouchSession(ctx, h, lastSeen, expires) })
}

// CreateSession is the wrapped store's CreateSession, through the hook.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	return call0(ctx, s, "CreateSession", func() error { return s.inner.CreateSession(ctx, sess) })
}

// DeleteSession is the wrapped store's DeleteSession, through the hook.
func (s *Store) DeleteSession(ctx context.Context, h store.Hash) error {
	return call0(ctx, s, "DeleteSession", func() error { return s.inner.DeleteSession(ctx, h) })
}

// DeleteAccountSessions is the wrapped store's DeleteAccountSessions, through the hook.
func (s *Store) DeleteAccountSessions(ctx context.Context, owner store.AccountRef, keep store.Hash) (int, error) {
	return call(ctx, s, "DeleteAccountSessions", func() (int, error) { return s.inner.DeleteAccountSessions(ctx, owner, keep) })
}

// Claim is the wrapped store's Claim, through the hook.
func (s *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return call(ctx, s, "Claim", func() (bool, error) { return s.inner.Claim(ctx, key, ttl) })
}

// counted is a counter's answer.
type counted struct {
	n     int64
	reset time.Time
}

// Increment is the wrapped store's Increment, through the hook.
func (s *Store) Increment(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	c, err := call(ctx, s, "Increment", func() (counted, error) {
		n, reset, err := s.inner.Increment(ctx, key, window)
		return counted{n, reset}, err
	})
	return c.n, c.reset, err
}

// Count is the wrapped store's Count ([store.CounterReader]), through the
// hook.
func (s *Store) Count(ctx context.Context, key string) (int64, time.Time, error) {
	c, err := call(ctx, s, "Count", func() (counted, error) {
		r, ok := s.inner.(store.CounterReader)
		if !ok {
			return counted{}, store.ErrNotSupported
		}
		n, reset, err := r.Count(ctx, key)
		return counted{n, reset}, err
	})
	return c.n, c.reset, err
}

// Reset is the wrapped store's Reset, through the hook.
func (s *Store) Reset(ctx context.Context, key string) error {
	return call0(ctx, s, "Reset", func() error { return s.inner.Reset(ctx, key) })
}

// TFA is the wrapped store's TFA, through the hook.
func (s *Store) TFA(ctx context.Context, ref store.AccountRef) (store.TFA, error) {
	return call(ctx, s, "TFA", func() (store.TFA, error) { return s.inner.TFA(ctx, ref) })
}

// PutTFA is the wrapped store's PutTFA, through the hook.
func (s *Store) PutTFA(ctx context.Context, t store.TFA) error {
	return call0(ctx, s, "PutTFA", func() error { return s.inner.PutTFA(ctx, t) })
}

// AdvanceTFAStep is the wrapped store's AdvanceTFAStep, through the hook.
func (s *Store) AdvanceTFAStep(ctx context.Context, ref store.AccountRef, step int64) (bool, error) {
	return call(ctx, s, "AdvanceTFAStep", func() (bool, error) { return s.inner.AdvanceTFAStep(ctx, ref, step) })
}

// PutChallenge is the wrapped store's PutChallenge, through the hook.
func (s *Store) PutChallenge(ctx context.Context, c store.Challenge) error {
	return call0(ctx, s, "PutChallenge", func() error { return s.inner.PutChallenge(ctx, c) })
}

// Challenge is the wrapped store's Challenge, through the hook.
func (s *Store) Challenge(ctx context.Context, id string) (store.Challenge, error) {
	return call(ctx, s, "Challenge", func() (store.Challenge, error) { return s.inner.Challenge(ctx, id) })
}

// TakeChallenge is the wrapped store's TakeChallenge, through the hook.
func (s *Store) TakeChallenge(ctx context.Context, id string) (store.Challenge, error) {
	return call(ctx, s, "TakeChallenge", func() (store.Challenge, error) { return s.inner.TakeChallenge(ctx, id) })
}

// PutToken is the wrapped store's PutToken, through the hook.
func (s *Store) PutToken(ctx context.Context, t store.Token) error {
	return call0(ctx, s, "PutToken", func() error { return s.inner.PutToken(ctx, t) })
}

// TakeToken is the wrapped store's TakeToken, through the hook.
func (s *Store) TakeToken(ctx context.Context, h store.Hash) (store.Token, error) {
	return call(ctx, s, "TakeToken", func() (store.Token, error) { return s.inner.TakeToken(ctx, h) })
}

// Decrement is the wrapped store's Decrement, through the hook.
func (s *Store) Decrement(ctx context.Context, key string) error {
	return call0(ctx, s, "Decrement", func() error { return s.inner.Decrement(ctx, key) })
}

// Invalidate goes through the hook too; a store without a channel
// answers store.ErrNotSupported, as store.Combine's do.
func (s *Store) Invalidate(ctx context.Context, ref store.AccountRef) error {
	return call0(ctx, s, "Invalidate", func() error {
		inv, ok := s.inner.(store.Invalidations)
		if !ok {
			return store.ErrNotSupported
		}
		return inv.Invalidate(ctx, ref)
	})
}

// Generation goes through the hook; a store that keeps no generations
// answers store.ErrNotSupported.
func (s *Store) Generation(ctx context.Context, ref store.AccountRef) (int64, error) {
	return call(ctx, s, "Generation", func() (int64, error) {
		g, ok := s.inner.(store.Generations)
		if !ok {
			return 0, store.ErrNotSupported
		}
		return g.Generation(ctx, ref)
	})
}

// WatchInvalidations is forwarded as it is: it starts a listener, and is
// no call of a request.
func (s *Store) WatchInvalidations(w store.InvalidationWatcher) (func(), error) {
	inv, ok := s.inner.(store.Invalidations)
	if !ok {
		return nil, store.ErrNotSupported
	}
	return inv.WatchInvalidations(w)
}
