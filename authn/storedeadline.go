package authn

import (
	"context"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// The store the Authenticator talks to is the configured one with a
// deadline on every call ([Config].StoreTimeout), so that a store that
// stalls (a connection open with nobody answering) fails the call in time
// and the request is refused with 503, instead of hanging until the client
// gives up. The deadline covers the whole call, waiting for a pooled
// connection included; a store honours it through the context, as
// database/sql, pgx and go-redis (with ContextTimeoutEnabled, which
// redisstore.Open sets) do.
//
// A [store.Memory] is not wrapped: it never waits on I/O and ignores its
// context, and a deadline costs about a microsecond and four allocations
// per call, as much as the whole middleware on the memory store.

// afterward returns the context for what follows a decisive store call
// begun at start (an invalidation sent, a session tidied away): not
// cancelled with the request, so that it is done whatever the client does,
// and due when that call's own deadline was, or ctx's if that is sooner. A
// request whose store stalls then answers when the stalled call gives up,
// not a deadline later for each call after it; an invalidation that could
// not go in that time is sent again in the background.
func (a *Authenticator) afterward(ctx context.Context, start time.Time) (context.Context, context.CancelFunc) {
	due := start.Add(a.cfg.StoreTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(due) {
		due = d
	}
	return context.WithDeadline(context.WithoutCancel(ctx), due)
}

// withDeadline returns s with the deadline d on every call, or s itself if
// it never blocks.
func withDeadline(s store.Store, d time.Duration) store.Store {
	if _, inProcess := s.(*store.Memory); inProcess {
		return s
	}
	return timedStore{s: s, d: d}
}

// optionalWithDeadline returns the part of s of type T with the deadline d
// on every call, or ok false if s has no such part. wrap makes the
// deadline-bound T.
func optionalWithDeadline[T any](s store.Store, d time.Duration, wrap func(T, time.Duration) T) (T, bool) {
	part, ok := s.(T)
	if !ok {
		return part, false
	}
	if _, inProcess := s.(*store.Memory); inProcess {
		return part, true
	}
	return wrap(part, d), true
}

// timedStore is a [store.Store] whose every call runs under its own
// deadline.
type timedStore struct {
	s store.Store
	d time.Duration
}

func (t timedStore) Account(ctx context.Context, ref store.AccountRef) (store.Account, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.Account(ctx, ref)
}

func (t timedStore) AccountByLogin(ctx context.Context, scope scopes.Scope, login string) (store.Account, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.AccountByLogin(ctx, scope, login)
}

func (t timedStore) APIKeyByHash(ctx context.Context, h store.Hash) (store.APIKey, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.APIKeyByHash(ctx, h)
}

func (t timedStore) RecordAPIKeyUse(ctx context.Context, id int64, at time.Time, ip string, requests int64) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.RecordAPIKeyUse(ctx, id, at, ip, requests)
}

func (t timedStore) CreateAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.CreateAPIKey(ctx, k)
}

func (t timedStore) APIKeys(ctx context.Context, owner store.AccountRef) ([]store.APIKey, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.APIKeys(ctx, owner)
}

func (t timedStore) RevokeAPIKey(ctx context.Context, owner store.AccountRef, id int64) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.RevokeAPIKey(ctx, owner, id)
}

func (t timedStore) Session(ctx context.Context, h store.Hash) (store.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.Session(ctx, h)
}

func (t timedStore) TouchSession(ctx context.Context, h store.Hash, lastSeen, expires time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.TouchSession(ctx, h, lastSeen, expires)
}

func (t timedStore) CreateSession(ctx context.Context, s store.Session) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.CreateSession(ctx, s)
}

func (t timedStore) DeleteSession(ctx context.Context, h store.Hash) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.DeleteSession(ctx, h)
}

func (t timedStore) DeleteAccountSessions(ctx context.Context, owner store.AccountRef, keep store.Hash) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.DeleteAccountSessions(ctx, owner, keep)
}

func (t timedStore) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.Claim(ctx, key, ttl)
}

func (t timedStore) Increment(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.Increment(ctx, key, window)
}

func (t timedStore) Decrement(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.Decrement(ctx, key)
}

func (t timedStore) Reset(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.Reset(ctx, key)
}

func (t timedStore) TFA(ctx context.Context, ref store.AccountRef) (store.TFA, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.TFA(ctx, ref)
}

func (t timedStore) PutTFA(ctx context.Context, st store.TFA) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.PutTFA(ctx, st)
}

func (t timedStore) AdvanceTFAStep(ctx context.Context, ref store.AccountRef, step int64) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.AdvanceTFAStep(ctx, ref, step)
}

func (t timedStore) PutChallenge(ctx context.Context, c store.Challenge) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.PutChallenge(ctx, c)
}

func (t timedStore) Challenge(ctx context.Context, id string) (store.Challenge, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.Challenge(ctx, id)
}

func (t timedStore) TakeChallenge(ctx context.Context, id string) (store.Challenge, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.TakeChallenge(ctx, id)
}

func (t timedStore) PutToken(ctx context.Context, tok store.Token) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.PutToken(ctx, tok)
}

func (t timedStore) TakeToken(ctx context.Context, h store.Hash) (store.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.TakeToken(ctx, h)
}

// timedPasswords is a [store.PasswordSetter] with a deadline on every call.
type timedPasswords struct {
	s store.PasswordSetter
	d time.Duration
}

func newTimedPasswords(s store.PasswordSetter, d time.Duration) store.PasswordSetter {
	return timedPasswords{s: s, d: d}
}

func (t timedPasswords) SetPassword(ctx context.Context, ref store.AccountRef, hash string) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.SetPassword(ctx, ref, hash)
}

func (t timedPasswords) RehashPassword(ctx context.Context, ref store.AccountRef, old, hash string) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.RehashPassword(ctx, ref, old, hash)
}

// timedUpdater is a [store.AccountUpdater] with a deadline on every call.
type timedUpdater struct {
	s store.AccountUpdater
	d time.Duration
}

func newTimedUpdater(s store.AccountUpdater, d time.Duration) store.AccountUpdater {
	return timedUpdater{s: s, d: d}
}

func (t timedUpdater) UpdateAccount(ctx context.Context, a store.Account) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.UpdateAccount(ctx, a)
}

// timedCreator is a [store.AccountCreator] with a deadline on every call.
type timedCreator struct {
	s store.AccountCreator
	d time.Duration
}

func newTimedCreator(s store.AccountCreator, d time.Duration) store.AccountCreator {
	return timedCreator{s: s, d: d}
}

func (t timedCreator) CreateAccount(ctx context.Context, a store.Account) (store.Account, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.CreateAccount(ctx, a)
}
