package authn

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/store"
)

// cacheShards is how many locks the cache is split over.
const cacheShards = 16

// credentialCache keeps the sessions, API keys and accounts that
// requests' credentials resolved to (see [CacheConfig]). It is the
// [store.InvalidationWatcher] of the store's channel, and serves only
// while that channel is listening: Deaf empties it and stops it serving,
// Listening empties it again (what was sent while it was down is lost)
// and lets it serve.
//
// A read that missed fills the cache only if nothing went stale while it
// was at the store: it takes a ticket (the change counter) before the
// read, and the fill is dropped if the counter has moved since. Every
// invalidation moves the counter before it deletes, under each shard's
// lock, so a fill either lands before the delete (and is deleted) or sees
// the counter moved (and is dropped).
type credentialCache struct {
	maxAge   time.Duration
	perShard int // entries per kind per shard
	// live is set while the channel is listening.
	live atomic.Bool
	// changes counts what may have made entries stale: invalidations, the
	// channel lost or regained.
	changes atomic.Uint64
	shards  [cacheShards]cacheShard
	// state reports the channel going up (true) or down, for the log.
	state func(listening bool)
}

// cacheShard is one lock's part of the cache. Its entries are pointers to
// records never changed once made, so a hit copies nothing. Its maps are
// made once, with the cache, and emptied in place, never replaced.
type cacheShard struct {
	mu       sync.RWMutex
	sessions map[store.Hash]*sessionRecord
	keys     map[store.Hash]*keyRecord
	accounts map[store.AccountRef]*accountRecord
}

// sessionRecord is a session with its account, read together from the
// store, at a time. Shared with the cache: never changed once made.
type sessionRecord struct {
	s    store.Session
	acct store.Account
	at   time.Time
}

// keyRecord is an API key with its account, as sessionRecord is.
type keyRecord struct {
	k    store.APIKey
	acct store.Account
	at   time.Time
}

// accountRecord is an active account, as sessionRecord is.
type accountRecord struct {
	acct store.Account
	at   time.Time
}

func (r *sessionRecord) readAt() time.Time { return r.at }
func (r *keyRecord) readAt() time.Time     { return r.at }
func (r *accountRecord) readAt() time.Time { return r.at }

// record is what the cache keeps: something read from the store at a time.
type record interface {
	comparable
	readAt() time.Time
}

// newCredentialCache returns an empty cache of the configured size, not
// yet serving: it waits for its channel's Listening.
func newCredentialCache(cfg CacheConfig, state func(bool)) *credentialCache {
	c := &credentialCache{maxAge: cfg.MaxAge, perShard: max(1, cfg.Entries/cacheShards), state: state}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.sessions = make(map[store.Hash]*sessionRecord)
		sh.keys = make(map[store.Hash]*keyRecord)
		sh.accounts = make(map[store.AccountRef]*accountRecord)
	}
	return c
}

// empty empties the shard's maps in place; the caller holds its lock. The
// maps themselves are never replaced: lookups and fills take them from
// the shard before they lock.
func (sh *cacheShard) empty() {
	clear(sh.sessions)
	clear(sh.keys)
	clear(sh.accounts)
}

// cacheTicket is what a read that may fill the cache takes before it goes
// to the store: the change counter then. The zero ticket fills nothing.
type cacheTicket struct {
	changes uint64
	ok      bool
}

// ticket returns a ticket for a store read, or the zero ticket when the
// cache is not serving.
func (c *credentialCache) ticket() cacheTicket {
	if c == nil || !c.live.Load() {
		return cacheTicket{}
	}
	return cacheTicket{changes: c.changes.Load(), ok: true}
}

func hashShard(h store.Hash) int { return int(h[0]) % cacheShards }

func refShard(ref store.AccountRef) int {
	return int(uint64(ref.ID)*uint64(cacheShards-1)+uint64(ref.Scope)) % cacheShards
}

// session returns the cached session h with its account, if the cache is
// serving and has it, read less than MaxAge before now; nil otherwise.
// The record is shared: the caller must not change it.
func (c *credentialCache) session(h store.Hash, now time.Time) *sessionRecord {
	if c == nil || !c.live.Load() {
		return nil
	}
	sh := &c.shards[hashShard(h)]
	return lookup(c, &sh.mu, sh.sessions, h, now)
}

// key returns the cached API key h with its account, as session does.
func (c *credentialCache) key(h store.Hash, now time.Time) *keyRecord {
	if c == nil || !c.live.Load() {
		return nil
	}
	sh := &c.shards[hashShard(h)]
	return lookup(c, &sh.mu, sh.keys, h, now)
}

// account returns the cached account ref, as session does.
func (c *credentialCache) account(ref store.AccountRef, now time.Time) *accountRecord {
	if c == nil || !c.live.Load() {
		return nil
	}
	sh := &c.shards[refShard(ref)]
	return lookup(c, &sh.mu, sh.accounts, ref, now)
}

// lookup reads one entry under the shard's read lock.
func lookup[K comparable, R record](c *credentialCache, mu *sync.RWMutex, m map[K]R, k K, now time.Time) R {
	mu.RLock()
	r := m[k]
	mu.RUnlock()
	var zero R
	if r == zero {
		return zero
	}
	if at := r.readAt(); now.Before(at) || now.Sub(at) >= c.maxAge {
		return zero
	}
	return r
}

// putSession caches r, read from the store under ticket t.
func (c *credentialCache) putSession(t cacheTicket, r *sessionRecord) {
	if !t.ok {
		return
	}
	sh := &c.shards[hashShard(r.s.Hash)]
	fill(c, t, &sh.mu, sh.sessions, r.s.Hash, r)
}

// putKey caches r, as putSession does.
func (c *credentialCache) putKey(t cacheTicket, r *keyRecord) {
	if !t.ok {
		return
	}
	sh := &c.shards[hashShard(r.k.Hash)]
	fill(c, t, &sh.mu, sh.keys, r.k.Hash, r)
}

// putAccount caches r, as putSession does.
func (c *credentialCache) putAccount(t cacheTicket, r *accountRecord) {
	if !t.ok {
		return
	}
	sh := &c.shards[refShard(r.acct.Ref())]
	fill(c, t, &sh.mu, sh.accounts, r.acct.Ref(), r)
}

// fill stores one entry under the shard's lock, if the ticket is still
// good: nothing changed since it was taken, and the cache still serves.
// A full shard gives up an entry, any one, for it.
func fill[K comparable, R record](c *credentialCache, t cacheTicket, mu *sync.RWMutex, m map[K]R, k K, r R) {
	mu.Lock()
	defer mu.Unlock()
	if c.changes.Load() != t.changes || !c.live.Load() {
		return
	}
	if _, ok := m[k]; !ok && len(m) >= c.perShard {
		for old := range m {
			delete(m, old)
			break
		}
	}
	m[k] = r
}

// touched records a session's new last-seen time, written to the store
// at seen, in its entry, if it has one: a new record, since records are
// shared and never changed.
func (c *credentialCache) touched(h store.Hash, seen, expires time.Time) {
	if c == nil {
		return
	}
	sh := &c.shards[hashShard(h)]
	sh.mu.Lock()
	if r, ok := sh.sessions[h]; ok {
		next := *r
		next.s.LastSeenAt, next.s.ExpiresAt = seen, expires
		sh.sessions[h] = &next
	}
	sh.mu.Unlock()
}

// Invalidated drops everything cached of the account: its account record,
// its sessions and its API keys. A switched session is the user's; the
// administrator's session it rides on is read each time, so the
// administrator's invalidation reaches it too.
func (c *credentialCache) Invalidated(ref store.AccountRef) {
	c.changes.Add(1)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for h, r := range sh.sessions {
			if r.s.Account == ref {
				delete(sh.sessions, h)
			}
		}
		for h, r := range sh.keys {
			if r.k.Account == ref {
				delete(sh.keys, h)
			}
		}
		delete(sh.accounts, ref)
		sh.mu.Unlock()
	}
}

// Listening empties the cache and lets it serve: the channel is up, but
// whatever it carried while it was down is lost.
func (c *credentialCache) Listening() {
	c.reset(true)
	c.state(true)
}

// Deaf stops the cache serving and empties it: until the channel is back,
// an invalidation may go unheard.
func (c *credentialCache) Deaf() {
	c.reset(false)
	c.state(false)
}

// reset empties every shard and sets whether the cache serves. Going
// down, it stops serving first; going up, it serves only once empty.
func (c *credentialCache) reset(live bool) {
	if !live {
		c.live.Store(false)
	}
	c.changes.Add(1)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.empty()
		sh.mu.Unlock()
	}
	if live {
		c.live.Store(true)
	}
}
