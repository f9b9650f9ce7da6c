package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/scopes"
)

// What [Combine] and [WithAccounts] return implements.
var (
	_ Store          = (*composite)(nil)
	_ Generations    = (*composite)(nil)
	_ AccountCreator = (*composite)(nil)
	_ PasswordSetter = (*composite)(nil)
	_ AccountUpdater = (*composite)(nil)
	_ Invalidations  = (*composite)(nil)
)

// Combine returns the [Store] of a deployment on two stores: accounts, API
// keys and second factors from durable (package sqlstore's store, or a
// [Memory]), and what every request reads and writes (sessions, claims,
// counters, captcha challenges, one-time tokens) from fast (package
// redisstore's store). Second factors come from durable, with the
// accounts, so that a 2FA change raises the generation the accounts are
// read with ([TFAStates.PutTFA]).
//
// The store also implements [AccountCreator], [PasswordSetter],
// [AccountUpdater] and [Generations]: each forwards to durable if durable
// implements it, and answers [ErrNotSupported] otherwise.
//
// It implements [Invalidations] too, on one channel: fast's if fast
// implements it and does not answer ErrNotSupported (package redisstore:
// pub/sub), else durable's (package sqlstore on PostgreSQL:
// LISTEN/NOTIFY), else none, and both methods answer ErrNotSupported.
// Since a store that answers ErrNotSupported does so to every call, before
// anything happens, Invalidate and WatchInvalidations always pick the same
// channel. The channel reaches as far as the part it belongs to: with a
// [Memory] as fast, only this process, which is right only while
// sessions, claims and counters are not shared with other processes
// either.
//
// durable and fast must not be nil: the part that is answers an error to
// every call that would reach it. The store is safe for concurrent use if
// they are.
func Combine(durable Durable, fast Fast) Store {
	if durable == nil {
		durable = missingPart{errors.New("store: Combine was given no durable store")}
	}
	if fast == nil {
		fast = missingPart{errors.New("store: Combine was given no fast store")}
	}
	c := &composite{Durable: durable, Fast: fast, accounts: durable}
	c.channels = channels(fast, durable)
	c.own, _ = keptGenerations(durable)
	c.creator, _ = durable.(AccountCreator)
	c.setter, _ = durable.(PasswordSetter)
	c.updater, _ = durable.(AccountUpdater)
	return c
}

// WithAccounts returns a [Store] whose accounts come from accounts, a
// host's own users table, and everything else (API keys, sessions, second
// factors, claims, counters, ...) from rest: a [Memory], package
// sqlstore's store, or one that [Combine] made.
//
// Second factors live in rest, which keeps the credential generations of
// accounts it does not hold: its [TFAStates.PutTFA] raises the generation
// of the account whose 2FA it turns on or off. So rest must implement
// [Generations] (an error otherwise), and the store returns each account
// with the generation rest keeps for it: a 2FA change ends the sessions
// of a host's account as it ends those of keyward's own.
//
// The host's table is read-only to keyward, unless accounts keeps
// credential generations of its own, which it says by implementing
// [Generations] too (a keyward store used for accounts alone does):
//
//   - accounts without [Generations]: [AccountCreator], [PasswordSetter]
//     and [AccountUpdater] answer [ErrNotSupported], since keyward cannot
//     raise a generation in the same write as a password it cannot
//     make; and the Generation accounts returns is not used, an account's
//     generation is the one rest keeps.
//   - accounts with [Generations]: the three forward to accounts where it
//     implements them (and answer ErrNotSupported where it does not), and
//     an account's generation is its own plus the one rest keeps. Each
//     only goes up, so the sum goes up whenever either does: a password
//     change and a 2FA change both end sessions.
//
// The store implements [Generations] itself, with the generation it
// returns accounts with. Reading an account is two calls: accounts, then
// rest for the generation.
//
// It implements [Invalidations] with rest's channel, if rest has one
// (answering [ErrNotSupported] otherwise, as rest does): the word that a
// host's account changed goes to the processes that share rest, which
// keeps its keys, sessions and second factors.
//
// The store is safe for concurrent use if accounts and rest are.
func WithAccounts(accounts Accounts, rest Store) (Store, error) {
	if accounts == nil || rest == nil {
		return nil, errors.New("store: WithAccounts needs both accounts and rest")
	}
	added, ok := keptGenerations(rest)
	if !ok {
		return nil, fmt.Errorf("store: WithAccounts: rest (%T) keeps no credential generations (store.Generations), so 2FA changes could not end sessions", rest)
	}
	c := &composite{Durable: rest, Fast: rest, accounts: accounts, added: added}
	c.channels = channels(rest)
	c.own, ok = keptGenerations(accounts)
	if ok {
		c.creator, _ = accounts.(AccountCreator)
		c.setter, _ = accounts.(PasswordSetter)
		c.updater, _ = accounts.(AccountUpdater)
	}
	return c, nil
}

// keptGenerations returns s as [Generations] if it keeps generations: if
// it implements Generations and is not a composite that answers
// [ErrNotSupported] to it.
func keptGenerations(s any) (Generations, bool) {
	if c, ok := s.(*composite); ok && c.own == nil && c.added == nil {
		return nil, false
	}
	g, ok := s.(Generations)
	return g, ok
}

// composite is the store [Combine] and [WithAccounts] return: one type,
// its parts filled in by each. Accounts are read through accounts and the
// optional writes go to the fields of their names (nil: ErrNotSupported);
// everything else forwards to the embedded parts. (Durable's own Account
// and AccountByLogin are hidden by composite's.)
type composite struct {
	Durable
	Fast

	accounts Accounts
	// own is the generations that accounts keeps, if any; added is those
	// of the store whose second factors go with accounts kept elsewhere
	// (WithAccounts: rest), nil when accounts keeps its own second
	// factors (Combine). An account's generation is the sum of both.
	own, added Generations

	creator AccountCreator
	setter  PasswordSetter
	updater AccountUpdater

	// channels are the parts' invalidation channels, in the order they
	// are tried: the first that does not answer ErrNotSupported is used.
	channels []Invalidations
}

// channels returns those of parts that implement [Invalidations], in
// order.
func channels(parts ...any) []Invalidations {
	var chans []Invalidations
	for _, p := range parts {
		if ch, ok := p.(Invalidations); ok {
			chans = append(chans, ch)
		}
	}
	return chans
}

// Account returns the account accounts finds, with its generation.
func (c *composite) Account(ctx context.Context, ref AccountRef) (Account, error) {
	a, err := c.accounts.Account(ctx, ref)
	if err != nil {
		return Account{}, err
	}
	return c.withGeneration(ctx, a)
}

// AccountByLogin returns the account accounts finds, with its generation.
func (c *composite) AccountByLogin(ctx context.Context, scope scopes.Scope, login string) (Account, error) {
	a, err := c.accounts.AccountByLogin(ctx, scope, login)
	if err != nil {
		return Account{}, err
	}
	return c.withGeneration(ctx, a)
}

// withGeneration returns a, read from accounts, with the generation c
// keeps for it: its own if accounts keeps generations (else none), plus
// those of added.
func (c *composite) withGeneration(ctx context.Context, a Account) (Account, error) {
	if c.added == nil {
		return a, nil
	}
	g, err := c.added.Generation(ctx, a.Ref())
	if err != nil {
		return Account{}, fmt.Errorf("store: credential generation of %v %d: %w", a.Scope, a.ID, err)
	}
	if c.own == nil {
		a.Generation = 0 // a table that keeps no generations
	}
	a.Generation += g
	return a, nil
}

// Generation returns the sum of the generations c keeps for the account,
// or [ErrNotSupported] if it keeps none.
func (c *composite) Generation(ctx context.Context, ref AccountRef) (int64, error) {
	if c.own == nil && c.added == nil {
		return 0, ErrNotSupported
	}
	var sum int64
	for _, g := range []Generations{c.own, c.added} {
		if g == nil {
			continue
		}
		n, err := g.Generation(ctx, ref)
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

// CreateAccount forwards to the accounts' [AccountCreator], if any.
func (c *composite) CreateAccount(ctx context.Context, a Account) (Account, error) {
	if c.creator == nil {
		return Account{}, ErrNotSupported
	}
	created, err := c.creator.CreateAccount(ctx, a)
	if err != nil {
		return Account{}, err
	}
	return c.withGeneration(ctx, created)
}

// SetPassword forwards to the accounts' [PasswordSetter], if any.
func (c *composite) SetPassword(ctx context.Context, ref AccountRef, hash string) error {
	if c.setter == nil {
		return ErrNotSupported
	}
	return c.setter.SetPassword(ctx, ref, hash)
}

// RehashPassword forwards to the accounts' [PasswordSetter], if any.
func (c *composite) RehashPassword(ctx context.Context, ref AccountRef, old, hash string) error {
	if c.setter == nil {
		return ErrNotSupported
	}
	return c.setter.RehashPassword(ctx, ref, old, hash)
}

// UpdateAccount forwards to the accounts' [AccountUpdater], if any.
func (c *composite) UpdateAccount(ctx context.Context, a Account) error {
	if c.updater == nil {
		return ErrNotSupported
	}
	return c.updater.UpdateAccount(ctx, a)
}

// Invalidate sends the word on the first of c's channels that does not
// answer [ErrNotSupported]: the one WatchInvalidations watches.
func (c *composite) Invalidate(ctx context.Context, ref AccountRef) error {
	for _, ch := range c.channels {
		if err := ch.Invalidate(ctx, ref); !errors.Is(err, ErrNotSupported) {
			return err
		}
	}
	return ErrNotSupported
}

// WatchInvalidations watches the first of c's channels that does not
// answer [ErrNotSupported]: the one Invalidate sends on.
func (c *composite) WatchInvalidations(w InvalidationWatcher) (stop func(), err error) {
	for _, ch := range c.channels {
		if stop, err := ch.WatchInvalidations(w); !errors.Is(err, ErrNotSupported) {
			return stop, err
		}
	}
	return nil, ErrNotSupported
}

// missingPart stands in for a part [Combine] was not given: it answers
// err to every call.
type missingPart struct{ err error }

func (p missingPart) Account(context.Context, AccountRef) (Account, error) { return Account{}, p.err }
func (p missingPart) AccountByLogin(context.Context, scopes.Scope, string) (Account, error) {
	return Account{}, p.err
}
func (p missingPart) APIKeyByHash(context.Context, Hash) (APIKey, error) { return APIKey{}, p.err }
func (p missingPart) RecordAPIKeyUse(context.Context, int64, time.Time, string, int64) error {
	return p.err
}
func (p missingPart) CreateAPIKey(context.Context, APIKey) (APIKey, error)  { return APIKey{}, p.err }
func (p missingPart) APIKeys(context.Context, AccountRef) ([]APIKey, error) { return nil, p.err }
func (p missingPart) RevokeAPIKey(context.Context, AccountRef, int64) error { return p.err }
func (p missingPart) TFA(context.Context, AccountRef) (TFA, error)          { return TFA{}, p.err }
func (p missingPart) PutTFA(context.Context, TFA) error                     { return p.err }
func (p missingPart) AdvanceTFAStep(context.Context, AccountRef, int64) (bool, error) {
	return false, p.err
}
func (p missingPart) Session(context.Context, Hash) (Session, error) { return Session{}, p.err }
func (p missingPart) TouchSession(context.Context, Hash, time.Time, time.Time) error {
	return p.err
}
func (p missingPart) CreateSession(context.Context, Session) error { return p.err }
func (p missingPart) DeleteSession(context.Context, Hash) error    { return p.err }
func (p missingPart) DeleteAccountSessions(context.Context, AccountRef, Hash) (int, error) {
	return 0, p.err
}
func (p missingPart) Claim(context.Context, string, time.Duration) (bool, error) { return false, p.err }
func (p missingPart) Increment(context.Context, string, time.Duration) (int64, time.Time, error) {
	return 0, time.Time{}, p.err
}
func (p missingPart) Count(context.Context, string) (int64, time.Time, error) {
	return 0, time.Time{}, p.err
}
func (p missingPart) Reset(context.Context, string) error                  { return p.err }
func (p missingPart) Decrement(context.Context, string) error              { return p.err }
func (p missingPart) PutChallenge(context.Context, Challenge) error        { return p.err }
func (p missingPart) Challenge(context.Context, string) (Challenge, error) { return Challenge{}, p.err }
func (p missingPart) TakeChallenge(context.Context, string) (Challenge, error) {
	return Challenge{}, p.err
}
func (p missingPart) PutToken(context.Context, Token) error          { return p.err }
func (p missingPart) TakeToken(context.Context, Hash) (Token, error) { return Token{}, p.err }

// Count is the fast part's ([CounterReader]), if it reads counters;
// otherwise [ErrNotSupported].
func (c *composite) Count(ctx context.Context, key string) (int64, time.Time, error) {
	r, ok := c.Fast.(CounterReader)
	if !ok {
		return 0, time.Time{}, ErrNotSupported
	}
	return r.Count(ctx, key)
}
