package store

import (
	"context"
	"time"

	"github.com/keyward/keyward/scopes"
)

// Accounts finds accounts. It is all keyward needs of a host's own users
// table: [WithAccounts] puts one beside keyward's store. See
// [AccountCreator], [PasswordSetter] and [AccountUpdater] for the optional
// writes.
type Accounts interface {
	// Account returns the account with the given scope and ID, or
	// ErrNotFound.
	Account(ctx context.Context, ref AccountRef) (Account, error)
	// AccountByLogin returns the account of the scope whose username or
	// email address equals login after [NormalizeLogin] on both sides, or
	// ErrNotFound. A login that is empty after NormalizeLogin matches no
	// account (an empty email address is no address).
	AccountByLogin(ctx context.Context, scope scopes.Scope, login string) (Account, error)
}

// AccountCreator adds accounts. Optional: a host with its own users table
// adds them its own way.
type AccountCreator interface {
	// CreateAccount stores a, assigning and returning its ID (a.ID is
	// ignored). A username or email address taken in the scope, as
	// another account's username or email address, is ErrConflict, so
	// that a login names at most one account. An account without a valid
	// scope or without a username is an error, and nothing is stored.
	CreateAccount(ctx context.Context, a Account) (Account, error)
}

// PasswordSetter writes password hashes. Optional: without it, hashes
// with old parameters keep working and are not upgraded, and passwords
// cannot be changed or reset through keyward.
type PasswordSetter interface {
	// SetPassword stores hash as the account's password hash and raises
	// its [Account.Generation] by one, in one atomic step: a new password
	// ends every session made under the old one. An absent account is
	// ErrNotFound.
	SetPassword(ctx context.Context, ref AccountRef, hash string) error
	// RehashPassword replaces the account's password hash with hash, a
	// hash of the same password with other parameters, if the stored
	// hash is still old; the Generation stays, since the password is
	// the same. A stored hash other than old (the password changed
	// since it was read) is ErrConflict and is left as it is; an absent
	// account is ErrNotFound.
	RehashPassword(ctx context.Context, ref AccountRef, old, hash string) error
}

// APIKeyFinder finds API keys on the request path.
type APIKeyFinder interface {
	// APIKeyByHash returns the key whose Hash is h, or ErrNotFound, also
	// when the key has expired (ExpiresAt not zero and not after now).
	APIKeyByHash(ctx context.Context, h Hash) (APIKey, error)
	// RecordAPIKeyUse records a batch of uses of the key with the ID: a
	// number of requests, the latest of them at time at from client
	// address ip. In one atomic step it adds requests to RequestCount and,
	// if at is after LastUsedAt, sets LastUsedAt to at and LastUsedIP to ip
	// (an older at, from a batch that arrives late, moves neither back). Concurrent
	// calls, across every process that shares the store, never lose a
	// count. An absent or expired key is not an error, and stays absent.
	// A negative requests is an error.
	RecordAPIKeyUse(ctx context.Context, id int64, at time.Time, ip string, requests int64) error
}

// APIKeyManager creates, lists and revokes an account's API keys.
type APIKeyManager interface {
	// CreateAPIKey stores k, assigning and returning its ID (k.ID is
	// ignored). A Hash already stored is ErrConflict.
	CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error)
	// APIKeys returns the account's keys that have not expired, oldest
	// first (by CreatedAt, then ID).
	APIKeys(ctx context.Context, owner AccountRef) ([]APIKey, error)
	// RevokeAPIKey deletes the key with the ID if owner owns it, and
	// returns ErrNotFound otherwise, so nobody revokes another's key.
	RevokeAPIKey(ctx context.Context, owner AccountRef, id int64) error
}

// SessionFinder finds sessions on the request path.
type SessionFinder interface {
	// Session returns the session whose Hash is h, or ErrNotFound, also
	// when ExpiresAt is not after now.
	Session(ctx context.Context, h Hash) (Session, error)
	// TouchSession sets the session's LastSeenAt and ExpiresAt. An absent
	// or expired session is ErrNotFound and is not brought back.
	TouchSession(ctx context.Context, h Hash, lastSeen, expires time.Time) error
}

// SessionWriter starts and ends sessions.
type SessionWriter interface {
	// CreateSession stores s. A Hash already stored is ErrConflict.
	CreateSession(ctx context.Context, s Session) error
	// DeleteSession removes the session whose Hash is h. An absent session
	// is not an error.
	DeleteSession(ctx context.Context, h Hash) error
	// DeleteAccountSessions removes every session of the account except
	// the one whose Hash is keep (the zero Hash keeps none) and returns how
	// many it removed, not counting expired ones. It must not scan the
	// sessions of other accounts.
	DeleteAccountSessions(ctx context.Context, owner AccountRef, keep Hash) (int, error)
}

// Claims records one-time uses: etoken nonces, TOTP steps, captcha IDs.
type Claims interface {
	// Claim marks key as used for ttl and reports whether this call was
	// the first to do so while no earlier claim of key is live. Of any
	// number of concurrent calls with one key, across every process that
	// shares the store, exactly one returns true. A ttl that is not
	// positive is an error: such a claim would never be live.
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// Counters count events in fixed windows, for throttling.
type Counters interface {
	// Increment adds one to key's counter and returns the new count and
	// when its window ends. A counter that does not exist, or whose window
	// has ended, starts again at 1 with a window of the given length from
	// now. Concurrent increments are never lost. A window that is not
	// positive is an error.
	Increment(ctx context.Context, key string, window time.Duration) (count int64, resetAt time.Time, err error)
	// Reset deletes key's counter. An absent counter is not an error.
	Reset(ctx context.Context, key string) error
	// Decrement takes back one Increment: it subtracts one from key's
	// counter if the counter exists, its window has not ended, and its
	// count is above zero; otherwise it does nothing (an absent or ended
	// counter is not an error, and is not brought back). The window's end
	// does not move. Concurrent increments and decrements are never
	// lost.
	Decrement(ctx context.Context, key string) error
}

// CounterReader reads a counter without raising it: for a host's own
// views of its counters, and for the conformance suite. The authenticator
// never does (its throttle reads a counter only by raising it), so it is
// no part of [Store]. Every store of this module implements it.
type CounterReader interface {
	// Count returns key's count and window end; a counter that does not
	// exist or whose window has ended is 0 and the zero time, not an error.
	Count(ctx context.Context, key string) (count int64, resetAt time.Time, err error)
}

// Store is everything the authenticator needs: the [Durable] records and
// the [Fast] ones. [Memory] implements it, and so does package sqlstore's
// store. [Combine] puts one together from a durable store and a fast one
// (SQL and Redis), and [WithAccounts] from a host's own users table and a
// store for the rest; neither needs struct embedding, so no method name
// clashes.
//
// The optional writes ([AccountCreator], [PasswordSetter],
// [AccountUpdater]) are found by type assertion. A store may implement
// one and answer [ErrNotSupported] to every call, as those two do when the
// part they would forward to has none: keyward then treats the accounts
// as read-only.
type Store interface {
	Durable
	Fast
}

// Durable is the part of a [Store] that must outlive a restart: accounts,
// API keys and second factors, as package sqlstore or [Memory] keeps
// them. Second factors are kept with the accounts, since a 2FA change
// raises the generation the accounts are read with, in the same atomic
// step (see [TFAStates.PutTFA]).
type Durable interface {
	Accounts
	APIKeyFinder
	APIKeyManager
	TFAStates
	TFAUses
}

// Fast is the part of a [Store] that every request reads and writes:
// short-lived records (sessions, one-time claims, attempt counters,
// captcha challenges and one-time tokens), as package redisstore or
// [Memory] keeps them.
type Fast interface {
	SessionFinder
	SessionWriter
	Claims
	Counters
	Challenges
	Tokens
}

// Generations reads credential generations ([Account].Generation) by
// account, apart from the accounts: a store that keeps second factors
// raises the generation of the account whose 2FA it changes even when a
// host's own table keeps the account ([TFAStates.PutTFA]), and
// [WithAccounts] reads it from there. [Memory] and package sqlstore
// implement it.
type Generations interface {
	// Generation returns the account's credential generation as the
	// store keeps it, whether or not the store keeps the account: 0 when
	// it has recorded none, not ErrNotFound. For an account the store
	// keeps, it is the Generation that [Accounts] returns with it.
	Generation(ctx context.Context, ref AccountRef) (int64, error)
}

// Invalidations carries word that an account changed between the
// processes that share a store, so that each can drop what it cached of
// the account (authn's credential cache): a key revoked, a logout, a new
// password or second factor, an account disabled. A store shared by
// processes implements it with a channel of its own (package redisstore:
// pub/sub; package sqlstore on PostgreSQL: LISTEN/NOTIFY); [Memory],
// within the process. A store that cannot (SQLite) answers
// [ErrNotSupported] to both methods, and authn caches nothing on it.
//
// The bound: once Invalidate has returned, every watcher has heard it
// within [InvalidationBound], or has been told [InvalidationWatcher].Deaf
// by then. An implementation keeps it by confirming its channel at least
// every quarter of the bound (a ping on the listening connection,
// answered behind every message sent before it) and calling Deaf when a
// confirmation is late or the connection fails.
type Invalidations interface {
	// Invalidate tells every watcher of the store, in this process and
	// every other, that the account changed. It returns once the word is
	// sent, not once it is heard.
	Invalidate(ctx context.Context, ref AccountRef) error
	// WatchInvalidations starts telling w what the channel carries, one
	// call at a time, until stop is called: stop returns once no call to
	// w is running or will be made, so it must not be called from within
	// one. The calls come from a goroutine of the watch's own, or, in a
	// store that delivers in the process at once ([Memory]), from the
	// goroutine that calls WatchInvalidations (Listening) or Invalidate
	// (Invalidated): so whoever calls either must not hold a lock that
	// w's methods take. The first call is Listening, once the channel is
	// up, or Deaf; after a Deaf it reconnects by itself and calls
	// Listening again when it can. An error means it cannot watch at all
	// (ErrNotSupported), and w is never called.
	WatchInvalidations(w InvalidationWatcher) (stop func(), err error)
}

// InvalidationBound is how long after [Invalidations].Invalidate returns
// every watcher has heard it, or has been told Deaf.
const InvalidationBound = time.Second

// InvalidationWatcher hears what an [Invalidations] channel carries.
type InvalidationWatcher interface {
	// Listening says the channel is up: every Invalidate from now on will
	// be heard (or Deaf called). What was sent before, while it was down,
	// may have been missed, so whatever the watcher cached before must go.
	Listening()
	// Deaf says the channel is down, or was not confirmed in time: until
	// the next Listening, an Invalidate may go unheard, so nothing cached
	// may be trusted.
	Deaf()
	// Invalidated names an account that changed.
	Invalidated(ref AccountRef)
}

// TFAStates keeps accounts' second factors.
type TFAStates interface {
	// TFA returns the account's 2FA state, with its Version, or
	// ErrNotFound if it has none.
	TFA(ctx context.Context, ref AccountRef) (TFA, error)
	// PutTFA stores t as the account's 2FA state, replacing what was
	// there, if and only if the stored state's Version equals t.Version
	// (an account without state is at Version 0); the stored Version
	// becomes t.Version+1. Otherwise it returns ErrConflict and changes
	// nothing: the caller read a state that another put has since
	// replaced, and must read again and redo its change. The compare and
	// the write are one atomic step, so of concurrent puts from one read,
	// across every process that shares the store, exactly one succeeds.
	//
	// LastStep never goes down: the stored value becomes the greater of
	// the two, so a put from a read made before an [TFAUses.AdvanceTFAStep]
	// cannot reopen a used code.
	//
	// A put that turns Enabled on or off (against the stored state; none
	// stored is off) raises the account's [Account.Generation] by one in
	// the same atomic step, ending every session made before: so TFAStates
	// lives in the store that keeps the accounts' generations.
	PutTFA(ctx context.Context, t TFA) error
}

// TFAUses consumes TOTP time steps: atomically, so that of concurrent
// logins with one code exactly one succeeds, across every process that
// shares the store.
//
// A use does not change the state's Version, so a login never makes a
// concurrent [TFAStates.PutTFA] fail; that is safe because PutTFA never
// lowers the step. Recovery codes have no method here: a recovery login
// is a put compared on the Version (package totp's Recover), so that of
// concurrent uses of one code exactly one succeeds, and a put from a read
// made before it cannot bring the used code back.
type TFAUses interface {
	// AdvanceTFAStep sets the account's LastStep to step if step is greater
	// than it, and reports whether it did. An account without 2FA state is
	// ErrNotFound.
	AdvanceTFAStep(ctx context.Context, ref AccountRef, step int64) (bool, error)
}

// AccountUpdater changes an account's names, for Admin.Update and
// User.Update. Optional: a host that keeps its users elsewhere leaves it
// out, and those commands answer that the account cannot be changed here.
type AccountUpdater interface {
	// UpdateAccount sets the Username, Email, Name, FirstName and LastName
	// of the account a.Ref() names to a's, and its password hash to
	// a.PasswordHash if that is not empty; other fields are left as they
	// are. When the email address changes (compared after
	// [NormalizeLogin]) or a password hash is given, the account's
	// [Account.Generation] goes up by one in the same atomic step: a new
	// address is where a password reset goes, so it ends the account's
	// sessions as a new password does. A username or email address
	// another account of the scope has (after NormalizeLogin) is
	// ErrConflict; an absent account ErrNotFound. Either way nothing
	// changes.
	UpdateAccount(ctx context.Context, a Account) error
}

// Challenges keeps captcha challenges, so that any instance can render or
// check a challenge another made.
type Challenges interface {
	// PutChallenge stores c. An ID already stored is ErrConflict.
	PutChallenge(ctx context.Context, c Challenge) error
	// Challenge returns the challenge with the ID without using it up, to
	// draw its image; ErrNotFound if it is absent or expired.
	Challenge(ctx context.Context, id string) (Challenge, error)
	// TakeChallenge removes the challenge with the ID and returns it:
	// a challenge is answered once, right or wrong. ErrNotFound if it is
	// absent or expired. Of concurrent takes of one ID, across every
	// process that shares the store, exactly one gets it.
	TakeChallenge(ctx context.Context, id string) (Challenge, error)
}

// Tokens keeps one-time tokens: password reset links and the like.
type Tokens interface {
	// PutToken stores t. A live token with the same Hash is ErrConflict;
	// an expired one's Hash is free again.
	PutToken(ctx context.Context, t Token) error
	// TakeToken removes the token whose Hash is h and returns it;
	// ErrNotFound if it is absent or expired. Of concurrent takes of one
	// token, across every process that shares the store, exactly one gets
	// it.
	TakeToken(ctx context.Context, h Hash) (Token, error)
}
