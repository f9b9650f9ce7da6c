package authn

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/gorilla/securecookie"

	"github.com/keyward/keyward/authn/form"
	"github.com/keyward/keyward/captcha"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/totp"
)

// Authenticator turns requests' credentials into principals, and starts
// and ends the sessions and keys those credentials are. Make one with [New]
// and share it: it is safe for concurrent use. Everything that changes
// lives in the store; the Authenticator keeps only a cache of it, which
// the store's invalidation channel keeps honest ([CacheConfig]), and API
// key usage not yet written. Call [Authenticator.Close] on shutdown.
//
// An Authenticator not made by New (its zero value, or a nil pointer)
// lets nothing through and panics nowhere: its methods return an error
// that [PublicError] answers 503, its handlers and middleware answer that
// error with [WriteJSONError], and Emit does nothing.
type Authenticator struct {
	cfg Config
	// store is cfg.Store with cfg.StoreTimeout on every call; passwords
	// and updater its optional parts, nil when it lacks them.
	store     store.Store
	passwords store.PasswordSetter
	updater   store.AccountUpdater
	creator   store.AccountCreator
	limits    form.Limits
	hasher    *hasher
	codecs    []securecookie.Codec
	// etokenCodecs are codecs on the same keys as codecs; the name the MAC
	// covers keeps the two apart.
	etokenCodecs []securecookie.Codec
	cookies      *cookieCache

	adminKeyHash store.Hash // SHA-256 of cfg.AdminAPIKey, if set
	hasAdminKey  bool
	logKey       []byte // keys the hashes of unknown names in events

	usage   usageRecorder
	mailing chan struct{} // bounds the reset mails being sent at once
	tfa     *totp.TOTP
	captcha captcha.Checker

	// cache is nil when off or when the store has no invalidation
	// channel; invalidations is the channel, nil without one; stopWatch
	// stops the cache listening.
	cache         *credentialCache
	invalidations store.Invalidations
	stopWatch     func()
	closeOnce     sync.Once
}

// errNotMade is what an Authenticator not made by [New] answers: a zero
// Authenticator{}, or a nil *Authenticator. It is the host's programming
// error, neither the client's nor the store's, so it wraps none of the
// sentinels: each of those blames the request (a 4xx), or, for
// ErrStoreUnavailable, a store that is not there to fail (and would send
// operators looking at a healthy one). [PublicError] answers it as any
// error nobody expected: 503 "Service unavailable", failing closed, and
// telling a client nothing of the server's setup.
var errNotMade = errors.New("authn: Authenticator not made by New (a zero or nil *Authenticator)")

// made returns errNotMade unless New made a. Every exported method asks it
// first; it is safe on a nil receiver. New always sets store.
func (a *Authenticator) made() error {
	if a == nil || a.store == nil {
		return errNotMade
	}
	return nil
}

// New checks cfg, fills in its defaults and returns an Authenticator. An
// impossible setting is an error, never a silent fallback.
func New(cfg Config) (*Authenticator, error) {
	if err := cfg.keysSurviveRestarts(); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	h, err := newHasher(cfg.Passwords.argon2(), cfg.Rand, cfg.Passwords.MaxConcurrentHashes)
	if err != nil {
		return nil, err
	}
	a := &Authenticator{
		cfg:          cfg,
		store:        withDeadline(cfg.Store, cfg.StoreTimeout),
		hasher:       h,
		captcha:      cfg.Captcha,
		mailing:      make(chan struct{}, recoveryBackground),
		codecs:       newCookieCodecs(cfg),
		etokenCodecs: newETokenCodecs(cfg),
		cookies:      newCookieCache(min(cookieCacheTTL, cfg.Sessions.Lifetime)),
		limits:       cfg.Limits,
	}
	if a.logKey, err = newLogKey(cfg.Keys[0]); err != nil {
		return nil, fmt.Errorf("authn: %w", err)
	}
	a.passwords, _ = optionalWithDeadline(cfg.Store, cfg.StoreTimeout, newTimedPasswords)
	a.updater, _ = optionalWithDeadline(cfg.Store, cfg.StoreTimeout, newTimedUpdater)
	a.creator, _ = optionalWithDeadline(cfg.Store, cfg.StoreTimeout, newTimedCreator)
	a.usage.lastFlush.Store(cfg.Now().UnixNano()) // the first flush a TouchInterval from now
	if cfg.AdminAPIKey != "" {
		a.adminKeyHash = sha256.Sum256([]byte(cfg.AdminAPIKey))
		a.hasAdminKey = true
	}
	sealKeys, err := tfaSealKeys(cfg.Keys, cfg.TFA.Keys)
	if err != nil {
		return nil, err
	}
	a.tfa, err = totp.New(totp.Config{Store: a.store, Issuer: cfg.TFA.Issuer, Keys: sealKeys, Now: cfg.Now, Rand: cfg.Rand})
	if err != nil {
		return nil, fmt.Errorf("authn: %w", err)
	}
	a.watchInvalidations() // last: nothing may fail after it starts
	return a, nil
}
