package authn

import (
	"sync"
	"time"

	"github.com/keyward/keyward/store"
)

// cookieCacheSize bounds how many decoded cookies are remembered.
const cookieCacheSize = 10_000

// cookieCacheTTL bounds how long a decoded cookie is remembered. The cache
// cannot see the time securecookie signed into the cookie, so a cookie past
// its own maximum age may be accepted this much longer; its session's
// lifetime, checked in the store on every request, is not extended.
const cookieCacheTTL = 5 * time.Minute

// cookieCache remembers session cookies that have already passed
// securecookie's MAC check and decryption, so that a browser sending the
// same cookie on every request pays for an HMAC and AES once, not each
// time: decoding is most of the cookie path's cost.
//
// It is keyed by the SHA-256 of the whole cookie value, so a lookup never
// compares a secret byte by byte, and only a value that decoded is ever
// stored: a forged or altered cookie misses and is decoded, and refused, as
// before. An entry holds no more than decoding would give again (the
// session's hash), and the session it names is still looked up in the
// store on every request, so logout and expiry are unaffected. An entry is
// kept for cookieCacheTTL from when it was decoded; the keys cannot change
// under it, since an Authenticator's Config is frozen. When full, an
// arbitrary entry makes room.
//
// It is safe for concurrent use.
type cookieCache struct {
	mu     sync.RWMutex
	maxAge time.Duration
	m      map[store.Hash]cachedCookie
}

type cachedCookie struct {
	session store.Hash
	until   time.Time
}

func newCookieCache(maxAge time.Duration) *cookieCache {
	return &cookieCache{maxAge: maxAge, m: make(map[store.Hash]cachedCookie)}
}

// get returns the session hash a cookie value decoded to, if remembered and
// not past its age.
func (c *cookieCache) get(key store.Hash, now time.Time) (store.Hash, bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return store.Hash{}, false
	}
	return e.session, true
}

// put remembers that a cookie value decoded to the session hash.
func (c *cookieCache) put(key, session store.Hash, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= cookieCacheSize {
		for k := range c.m { // map order is unspecified: an arbitrary victim
			delete(c.m, k)
			break
		}
	}
	c.m[key] = cachedCookie{session: session, until: now.Add(c.maxAge)}
}

// len returns the number of entries, for tests.
func (c *cookieCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
