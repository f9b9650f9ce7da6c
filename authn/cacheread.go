package authn

import (
	"context"
	"time"

	"github.com/keyward/keyward/store"
)

// The reads of a request's credentials, through the cache ([CacheConfig]).
// Each returns whether what it returns came from the cache: a refusal
// must never rest on a cached record alone (see liveSession), and only
// the middleware's resolution reads this way; logins and changes read the
// store.

// readSession reads the session h for a request at now: from the cache
// when it has it and its last-seen time is within the touch interval
// (later, another instance may have moved it, and a touch is due: the
// store decides), else from the store, filling the cache.
func (a *Authenticator) readSession(ctx context.Context, h store.Hash, now time.Time, useCache bool) (store.Session, bool, error) {
	if useCache {
		if s, ok := a.cache.session(h, now); ok && now.Sub(s.LastSeenAt) < a.cfg.Sessions.TouchInterval {
			return s, true, nil
		}
	}
	t := a.cache.ticket()
	s, err := a.store.Session(ctx, h)
	if err == nil {
		a.cache.putSession(t, s, now)
	}
	return s, false, err
}

// readAPIKey reads the API key h for a request at now, as readSession
// does.
func (a *Authenticator) readAPIKey(ctx context.Context, h store.Hash, now time.Time) (store.APIKey, bool, error) {
	if k, ok := a.cache.apiKey(h, now); ok {
		return k, true, nil
	}
	t := a.cache.ticket()
	k, err := a.store.APIKeyByHash(ctx, h)
	if err == nil {
		a.cache.putAPIKey(t, k, now)
	}
	return k, false, err
}

// readAccount reads an account that is to act, for a request at now, as
// [Authenticator.Account] does (a disabled or missing one is an error),
// through the cache. Only active accounts are cached, without their
// password hash.
func (a *Authenticator) readAccount(ctx context.Context, ref store.AccountRef, now time.Time, useCache bool) (store.Account, bool, error) {
	if useCache {
		if acct, ok := a.cache.account(ref, now); ok {
			return acct, true, nil
		}
	}
	t := a.cache.ticket()
	acct, err := a.Account(ctx, ref)
	if err == nil {
		a.cache.putAccount(t, acct, now)
	}
	return acct, false, err
}
