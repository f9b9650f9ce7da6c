package authn

import (
	"context"
	"time"

	"github.com/keyward/keyward/store"
)

// accountRead is an account read for a request: the account, when the
// store was read for it, and whether it came from the cache.
type accountRead struct {
	acct   store.Account
	at     time.Time
	cached bool
}

// readAccount reads an account that is to act, for a request at now, as
// [Authenticator.Account] does (a disabled or missing one is an error),
// through the cache ([CacheConfig]) unless useCache is false. It says
// whether the account came from the cache (a refusal must never rest on a
// cached record alone) and when it was read: a record made with it is as
// old as its oldest part, so that MaxAge bounds them all. Only the
// middleware's resolution reads through the cache; logins and changes
// read the store.
func (a *Authenticator) readAccount(ctx context.Context, ref store.AccountRef, now time.Time, useCache bool) (accountRead, error) {
	if useCache {
		if r := a.cache.account(ref, now); r != nil {
			return accountRead{acct: r.acct, at: r.at, cached: true}, nil
		}
	}
	t := a.cache.ticket()
	acct, err := a.Account(ctx, ref)
	if err != nil {
		return accountRead{}, err
	}
	acct.PasswordHash = "" // not for the request path, nor to sit in memory
	a.cache.putAccount(t, &accountRecord{acct: acct, at: now})
	return accountRead{acct: acct, at: now}, nil
}

// newKeyRecord is what the cache keeps of a key read at now: its usage
// figures dropped (they change with every flush, and nothing on the
// request path reads them), with its account, dated by the older read.
func newKeyRecord(k store.APIKey, acct accountRead, now time.Time) *keyRecord {
	k.LastUsedAt, k.LastUsedIP, k.RequestCount = time.Time{}, "", 0
	return &keyRecord{k: k, acct: acct.acct, at: older(now, acct.at)}
}

// older returns the earlier of two times.
func older(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
