package authn

import (
	"context"
	"time"

	"github.com/keyward/keyward/store"
)

// readAccount reads an account that is to act, for a request at now, as
// [Authenticator.Account] does (a disabled or missing one is an error),
// through the cache ([CacheConfig]) unless useCache is false. It reports
// whether the account came from the cache: a refusal must never rest on a
// cached record alone. Only the middleware's resolution reads through the
// cache; logins and changes read the store.
func (a *Authenticator) readAccount(ctx context.Context, ref store.AccountRef, now time.Time, useCache bool) (store.Account, bool, error) {
	if useCache {
		if r := a.cache.account(ref, now); r != nil {
			return r.acct, true, nil
		}
	}
	t := a.cache.ticket()
	acct, err := a.Account(ctx, ref)
	if err == nil {
		acct.PasswordHash = "" // not for the request path, nor to sit in memory
		a.cache.putAccount(t, &accountRecord{acct: acct, at: now})
	}
	return acct, false, err
}

// newKeyRecord is what the cache keeps of a key read at now: its usage
// figures dropped (they change with every flush, and nothing on the
// request path reads them), with its account.
func newKeyRecord(k store.APIKey, acct store.Account, now time.Time) *keyRecord {
	k.LastUsedAt, k.LastUsedIP, k.RequestCount = time.Time{}, "", 0
	return &keyRecord{k: k, acct: acct, at: now}
}
