package authn

import (
	"context"
	"errors"
	"time"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/store"
)

// watchInvalidations starts the credential cache on the store's
// invalidation channel, if the store has one and the cache is on.
// Invalidations are sent whatever this instance caches: others may.
func (a *Authenticator) watchInvalidations() {
	inv, ok := a.cfg.Store.(store.Invalidations)
	if !ok {
		return
	}
	a.invalidations = inv
	if a.cfg.Cache.Entries <= 0 {
		return
	}
	c := newCredentialCache(a.cfg.Cache, a.cacheState)
	stop, err := inv.WatchInvalidations(c)
	if err != nil {
		return // no channel (SQLite): no cache
	}
	a.cache, a.stopWatch = c, stop
}

// cacheState reports the cache starting or stopping to serve.
func (a *Authenticator) cacheState(listening bool) {
	if listening {
		a.Emit(context.Background(), event.Event{Kind: event.CacheServing})
		return
	}
	a.Emit(context.Background(), event.Event{Kind: event.CacheBypassed, Reason: "invalidation channel down"})
}

// Invalidate makes every Authenticator on the store forget what it cached
// of the account ([CacheConfig]): this one at once, the others within
// [store.InvalidationBound]. Call it after changing an account outside
// keyward: disabling it in your own table, say. keyward's own changes (a
// key revoked, a logout, a new password, email address or second factor)
// invalidate by themselves. On a store without an invalidation channel
// nothing is cached and it does nothing. An error wrapping
// [ErrStoreUnavailable] means the word may not have reached the others:
// they see the change within [CacheConfig].MaxAge.
func (a *Authenticator) Invalidate(ctx context.Context, ref store.AccountRef) error {
	if err := a.made(); err != nil {
		return err
	}
	if !ref.Scope.Valid() || ref.ID <= 0 {
		return because(ErrBadRequest, "not an account")
	}
	a.cache.invalidated(ref)
	if err := a.sendInvalidation(ctx, ref); err != nil {
		return storeFailure(err)
	}
	return nil
}

// invalidate is Invalidate for keyward's own changes, called once a
// change was written, or may have been (a write whose answer was lost):
// the word goes out whatever the change's outcome, within ctx (see
// [Authenticator.afterward]). Failing to send it fails nothing: it is an
// event, and the word is sent again in the background a few times, within
// the time MaxAge lets a cache keep it anyway. A ctx already done (the
// change's own call used the time up) sends it in the background at once,
// on a deadline of its own, and reports nothing failed.
func (a *Authenticator) invalidate(ctx context.Context, ref store.AccountRef) {
	a.cache.invalidated(ref)
	var err error
	if ctx.Err() == nil {
		if err = a.sendInvalidation(ctx, ref); err == nil {
			return
		}
	}
	tried := err != nil // else the request's time ran out before a try
	ctx = context.WithoutCancel(ctx)
	if tried {
		a.Emit(ctx, event.Event{Kind: event.StoreFailed, Account: ref, Reason: "sending an invalidation", Err: err})
	}
	go func() {
		if !tried && a.sendInvalidation(ctx, ref) == nil { // at once, on a deadline of its own
			return
		}
		wait := a.cfg.Cache.MaxAge / 16
		for range 4 {
			time.Sleep(wait)
			if a.sendInvalidation(ctx, ref) == nil {
				return
			}
			wait *= 2
		}
		a.Emit(ctx, event.Event{Kind: event.StoreFailed, Account: ref, Reason: "an invalidation could not be sent: other instances see the change within Cache.MaxAge"})
	}()
}

// sendInvalidation sends the word on the store's channel, if it has one,
// within the store deadline.
func (a *Authenticator) sendInvalidation(ctx context.Context, ref store.AccountRef) error {
	if a.invalidations == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.StoreTimeout)
	defer cancel()
	err := a.invalidations.Invalidate(ctx, ref)
	if errors.Is(err, store.ErrNotSupported) {
		return nil // no channel: nothing is cached anywhere
	}
	return err
}

// invalidated drops the account from a cache that may be nil.
func (c *credentialCache) invalidated(ref store.AccountRef) {
	if c != nil {
		c.Invalidated(ref)
	}
}

// Close stops what the Authenticator does in the background, for a
// shutdown: it writes the API key usage not yet written (see
// [Config].DisableAPIKeyUsage) and stops listening for invalidations. It
// still answers afterwards, reading the store for every request. Call it
// once the server has stopped taking requests.
func (a *Authenticator) Close(ctx context.Context) error {
	if err := a.made(); err != nil {
		return err
	}
	a.closeOnce.Do(func() {
		if a.stopWatch != nil {
			a.stopWatch() // no call to the cache after this
			a.cache.Deaf()
		}
	})
	return a.flush(ctx)
}
