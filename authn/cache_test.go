package authn

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// channel is an invalidation channel the test drives: it carries
// Invalidate to every watcher at once, and the test says when it is up or
// down.
type channel struct {
	mu       sync.Mutex
	watchers map[*store.InvalidationWatcher]bool
	up       bool
	sent     atomic.Int64
	fail     atomic.Bool // Invalidate fails without sending
	// disabled are the accounts a host disabled in its own table, as the
	// instances' stores read them.
	disabled sync.Map
}

func newChannel() *channel {
	return &channel{watchers: map[*store.InvalidationWatcher]bool{}, up: true}
}

func (c *channel) Invalidate(_ context.Context, ref store.AccountRef) error {
	if c.fail.Load() {
		return fmt.Errorf("channel: cannot send")
	}
	c.sent.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up {
		return nil // sent, and heard by nobody
	}
	for w := range c.watchers {
		(*w).Invalidated(ref)
	}
	return nil
}

func (c *channel) WatchInvalidations(w store.InvalidationWatcher) (func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watchers[&w] = true
	if c.up {
		w.Listening()
	} else {
		w.Deaf()
	}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.watchers, &w)
	}, nil
}

// setUp brings the channel up or down, telling every watcher.
func (c *channel) setUp(up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.up = up
	for w := range c.watchers {
		if up {
			(*w).Listening()
		} else {
			(*w).Deaf()
		}
	}
}

// sharedStore is one instance's view of a memory store shared with
// others, over a channel, counting the reads the request path makes.
type sharedStore struct {
	*store.Memory
	*channel
	sessions, keys, accounts atomic.Int64
}

func (s *sharedStore) Session(ctx context.Context, h store.Hash) (store.Session, error) {
	s.sessions.Add(1)
	return s.Memory.Session(ctx, h)
}

func (s *sharedStore) APIKeyByHash(ctx context.Context, h store.Hash) (store.APIKey, error) {
	s.keys.Add(1)
	return s.Memory.APIKeyByHash(ctx, h)
}

func (s *sharedStore) Account(ctx context.Context, ref store.AccountRef) (store.Account, error) {
	s.accounts.Add(1)
	acct, err := s.Memory.Account(ctx, ref)
	if _, off := s.disabled.Load(ref); off {
		acct.Disabled = true
	}
	return acct, err
}

// Invalidate and WatchInvalidations are the test's channel's, not the
// memory store's own.
func (s *sharedStore) Invalidate(ctx context.Context, ref store.AccountRef) error {
	return s.channel.Invalidate(ctx, ref)
}

func (s *sharedStore) WatchInvalidations(w store.InvalidationWatcher) (func(), error) {
	return s.channel.WatchInvalidations(w)
}

// reads returns the request-path reads made so far.
func (s *sharedStore) reads() int64 { return s.sessions.Load() + s.keys.Load() + s.accounts.Load() }

// instance is one Authenticator of a deployment of several.
type instance struct {
	*testEnv
	st *sharedStore
}

// deployment returns n authenticators on one memory store and one
// channel, sharing alice and root and the fake clock.
func deployment(t *testing.T, n int, edit func(*Config)) ([]instance, *channel) {
	t.Helper()
	ch := newChannel()
	first := newTestEnv(t, nil)
	out := make([]instance, n)
	for i := range out {
		st := &sharedStore{Memory: first.mem, channel: ch}
		env := newTestEnv(t, func(c *Config) {
			c.Store = st
			c.Now = first.clock.Now
			if edit != nil {
				edit(c)
			}
		})
		env.mem, env.clock, env.alice, env.root = first.mem, first.clock, first.alice, first.root
		t.Cleanup(func() { _ = env.a.Close(context.Background()) })
		out[i] = instance{env, st}
	}
	return out, ch
}

// A credential seen again costs no store read: API keys, session IDs and
// the static admin key, each through its account.
func TestCacheServesRepeatedCredentials(t *testing.T) {
	t.Parallel()
	in, _ := deployment(t, 1, nil)
	a := in[0]
	key, _ := a.key(a.alice)
	sid := a.session(a.alice)
	for _, tc := range []struct{ name, query string }{
		{"APIKey", "APIKey=" + key},
		{"SessionID", "SessionID=" + url.QueryEscape(sid)},
		{"static admin key", "AdminAPIKey=" + staticKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if res := a.serve(get(tc.query)); res.status != 200 {
				t.Fatalf("first: %d %s", res.status, res.body)
			}
			before := a.st.reads()
			for range 5 {
				if res := a.serve(get(tc.query)); res.status != 200 || !res.principal.Authenticated() {
					t.Fatalf("again: %d %s", res.status, res.body)
				}
			}
			if n := a.st.reads() - before; n != 0 {
				t.Fatalf("%d store reads for 5 repeats, want 0", n)
			}
		})
	}
}

// What a request ends takes effect at once on the instance that ended it,
// and on the others as soon as the channel carries it.
func TestCacheRevocationAcrossInstances(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		cred   func(a instance) string                  // a credential of alice, as a query
		revoke func(t *testing.T, a instance, q string) // on instance 0
	}{
		{
			name: "key revoked",
			cred: func(a instance) string { k, _ := a.key(a.alice); return "APIKey=" + k },
			revoke: func(t *testing.T, a instance, q string) {
				keys, _ := a.a.APIKeys(context.Background(), a.alice.Ref())
				if err := a.a.RevokeAPIKey(context.Background(), a.alice.Ref(), keys[len(keys)-1].ID); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "logout",
			cred: func(a instance) string { return "SessionID=" + url.QueryEscape(a.session(a.alice)) },
			revoke: func(t *testing.T, a instance, q string) {
				res := a.serve(get(q))
				r := get(q)
				if err := a.a.EndSession(httptest.NewRecorder(), r, res.principal); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "password changed",
			cred: func(a instance) string { return "SessionID=" + url.QueryEscape(a.session(a.alice)) },
			revoke: func(t *testing.T, a instance, q string) {
				p := a.serve(get(q)).principal
				acct, _ := a.a.Account(context.Background(), a.alice.Ref())
				if _, err := a.a.UpdateAccount(context.Background(), p, acct, "a whole new password"); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "2FA turned on elsewhere",
			cred: func(a instance) string { k, _ := a.key(a.alice); return "APIKey=" + k },
			revoke: func(t *testing.T, a instance, q string) {
				// Sessions end with a 2FA change; a key lives on, but its
				// cached account must move to the new generation.
				if _, err := a.a.EndAllSessions(context.Background(), a.alice.Ref()); err != nil {
					t.Fatal(err)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, _ := deployment(t, 2, nil)
			q := tc.cred(in[0])
			for _, a := range in { // both cache it
				for range 2 {
					if res := a.serve(get(q)); res.status != 200 {
						t.Fatalf("before: %d %s", res.status, res.body)
					}
				}
			}
			tc.revoke(t, in[0], q)
			if tc.name == "2FA turned on elsewhere" {
				// The key still works, read again: the account was dropped.
				before := in[1].st.accounts.Load()
				if res := in[1].serve(get(q)); res.status != 200 || in[1].st.accounts.Load() == before {
					t.Fatalf("after: %d, account read again: %v", res.status, in[1].st.accounts.Load() != before)
				}
				return
			}
			for i, a := range in {
				if res := a.serve(get(q)); res.status != 401 {
					t.Fatalf("instance %d after: %d %s", i, res.status, res.body)
				}
			}
		})
	}
}

// While the channel is down nothing is served from the cache: a change
// made behind its back (no invalidation sent) is seen at once. While it is
// up, the same change goes unseen (the cache is really on: the control).
func TestCacheBypassedWhileDeaf(t *testing.T) {
	t.Parallel()
	in, ch := deployment(t, 1, nil)
	a := in[0]
	sid := a.session(a.alice)
	q := "SessionID=" + url.QueryEscape(sid)
	h, _ := sessionHash(sid)
	a.serve(get(q))
	// Up: deleted behind the cache's back, the session still serves.
	if err := a.mem.DeleteSession(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if res := a.serve(get(q)); res.status != 200 {
		t.Fatalf("control: the cache did not serve: %d", res.status)
	}
	ch.setUp(false)
	if got := a.events.last(event.CacheBypassed); got.Kind != event.CacheBypassed {
		t.Fatal("no cache_bypassed event")
	}
	if res := a.serve(get(q)); res.status != 401 {
		t.Fatalf("deaf: %d, want the store's answer", res.status)
	}
	// Deaf, nothing is cached either: a session made now is read every time.
	sid2 := a.session(a.alice)
	q2 := "SessionID=" + url.QueryEscape(sid2)
	before := a.st.reads()
	a.serve(get(q2))
	a.serve(get(q2))
	if n := a.st.reads() - before; n != 4 {
		t.Fatalf("deaf: %d reads for 2 requests, want 4 (session and account each)", n)
	}
	// Back up: it serves again, from a cache emptied of what it missed.
	ch.setUp(true)
	h2, _ := sessionHash(sid2)
	a.serve(get(q2))
	_ = a.mem.DeleteSession(context.Background(), h2)
	if res := a.serve(get(q2)); res.status != 200 {
		t.Fatalf("listening again: not served from the cache: %d", res.status)
	}
}

// A generation that differs between a cached record and a fresh one is
// read again from the store before anything is decided: a session newer
// than a cached account is not refused, nor deleted.
func TestCacheStaleGenerationRechecked(t *testing.T) {
	t.Parallel()
	in, ch := deployment(t, 2, nil)
	a, b := in[0], in[1]
	sid := a.session(a.alice)
	q := "SessionID=" + url.QueryEscape(sid)
	b.serve(get(q)) // b caches alice at this generation
	// The change's word is lost on its way to b.
	ch.fail.Store(true)
	p := a.serve(get(q)).principal
	acct, _ := a.a.Account(context.Background(), a.alice.Ref())
	next, err := a.a.UpdateAccount(context.Background(), p, acct, "another new password")
	if err != nil {
		t.Fatal(err)
	}
	ch.fail.Store(false)
	res := b.serve(get("SessionID=" + url.QueryEscape(next.Reveal())))
	if res.status != 200 {
		t.Fatalf("the new session on b: %d %s", res.status, res.body)
	}
	if _, err := a.mem.Session(context.Background(), hashCredential(next.Reveal())); err != nil {
		t.Fatalf("the new session was deleted: %v", err)
	}
}

// A read that raced an invalidation fills nothing: what it read may be
// what the invalidation was about.
func TestCacheFillAfterInvalidationDropped(t *testing.T) {
	t.Parallel()
	in, _ := deployment(t, 1, nil)
	a := in[0]
	c := a.a.cache
	_, key := a.key(a.alice)
	rec := newKeyRecord(key, accountRead{acct: a.alice, at: a.clock.Now()}, a.clock.Now())
	t0 := c.ticket()
	c.Invalidated(a.alice.Ref())
	c.putKey(t0, rec)
	if c.key(key.Hash, a.clock.Now()) != nil {
		t.Fatal("a fill whose ticket predates an invalidation was kept")
	}
	t1 := c.ticket()
	c.putKey(t1, rec)
	if c.key(key.Hash, a.clock.Now()) == nil {
		t.Fatal("a fill with a good ticket was not kept")
	}
	// Deaf then listening between ticket and fill: dropped too.
	t2 := c.ticket()
	c.Deaf()
	c.Listening()
	c.putKey(t2, rec)
	if c.key(key.Hash, a.clock.Now()) != nil {
		t.Fatal("a fill across a lost channel was kept")
	}
}

// Entries live at most MaxAge; sessions are read again once a touch is
// due, so the last-seen write stays once per TouchInterval and idle
// expiry is the store's.
func TestCacheAges(t *testing.T) {
	t.Parallel()
	in, _ := deployment(t, 1, func(c *Config) {
		c.Cache.MaxAge = 5 * time.Second
		c.Sessions = SessionConfig{IdleTimeout: 10 * time.Minute, TouchInterval: time.Minute}
	})
	a := in[0]
	key, _ := a.key(a.alice)
	a.serve(get("APIKey=" + key))
	a.clock.Advance(4 * time.Second)
	before := a.st.reads()
	a.serve(get("APIKey=" + key))
	if a.st.reads() != before {
		t.Fatal("read within MaxAge")
	}
	a.clock.Advance(time.Second)
	a.serve(get("APIKey=" + key))
	if a.st.reads() == before {
		t.Fatal("not read again at MaxAge")
	}

	sid := a.session(a.alice)
	q := "SessionID=" + url.QueryEscape(sid)
	h, _ := sessionHash(sid)
	touches := func() time.Time {
		s, err := a.mem.Session(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		return s.LastSeenAt
	}
	a.serve(get(q))
	for range 30 { // 2.5 minutes of requests every 5 s
		a.clock.Advance(5 * time.Second)
		if res := a.serve(get(q)); res.status != 200 {
			t.Fatalf("%d", res.status)
		}
	}
	if seen := touches(); a.clock.Now().Sub(seen) >= time.Minute {
		t.Fatalf("last seen %v ago, want within the touch interval", a.clock.Now().Sub(seen))
	}
	a.clock.Advance(10 * time.Minute)
	if res := a.serve(get(q)); res.status != 401 {
		t.Fatalf("idle past the timeout: %d", res.status)
	}
}

// A switched session ends with the administrator's session, logged out on
// another instance: the parent is read through the cache, and the
// administrator's invalidation drops it.
func TestCacheSwitchedSessionEndsWithParent(t *testing.T) {
	t.Parallel()
	in, _ := deployment(t, 2, nil)
	a, b := in[0], in[1]
	adminSID := a.session(a.root)
	adminQ := "SessionID=" + url.QueryEscape(adminSID)
	admin := a.serve(get(adminQ)).principal
	switched, err := a.a.StartSession(context.Background(), a.alice, SessionOptions{Method: "switch", SwitchedBy: admin})
	if err != nil {
		t.Skipf("switch: %v", err)
	}
	q := "SessionID=" + url.QueryEscape(switched.Reveal())
	for range 2 {
		if res := b.serve(get(q)); res.status != 200 {
			t.Fatalf("switched on b: %d %s", res.status, res.body)
		}
	}
	if err := a.a.EndSession(httptest.NewRecorder(), get(adminQ), admin); err != nil {
		t.Fatal(err)
	}
	if res := b.serve(get(q)); res.status != 401 {
		t.Fatalf("switched after the admin's logout: %d", res.status)
	}
}

// The cache is bounded in entries.
func TestCacheBounded(t *testing.T) {
	t.Parallel()
	in, _ := deployment(t, 1, func(c *Config) { c.Cache.Entries = 64 })
	a := in[0]
	for i := range 300 {
		acct, err := a.mem.CreateAccount(context.Background(), store.Account{Scope: scopes.User, Username: fmt.Sprintf("u%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		k, _ := a.key(acct)
		a.serve(get("APIKey=" + k))
	}
	var keys, accounts int
	for i := range a.a.cache.shards {
		sh := &a.a.cache.shards[i]
		keys += len(sh.keys)
		accounts += len(sh.accounts)
	}
	if keys > 64 || accounts > 64 {
		t.Fatalf("%d keys and %d accounts cached, bound 64", keys, accounts)
	}
}

// Close stops the cache: afterwards every request reads the store.
func TestCacheClosed(t *testing.T) {
	t.Parallel()
	in, ch := deployment(t, 1, nil)
	a := in[0]
	key, _ := a.key(a.alice)
	a.serve(get("APIKey=" + key))
	if err := a.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ch.setUp(true) // a watcher stopped hears nothing more
	before := a.st.reads()
	a.serve(get("APIKey=" + key))
	if a.st.reads() == before {
		t.Fatal("served from the cache after Close")
	}
}

// Invalidate is the host's: an account disabled in its own table is seen
// at once here and on the other instances.
func TestInvalidateByHost(t *testing.T) {
	t.Parallel()
	in, ch := deployment(t, 2, nil)
	key, _ := in[0].key(in[0].alice)
	for _, a := range in {
		a.serve(get("APIKey=" + key))
	}
	ch.disabled.Store(in[0].alice.Ref(), true)
	for _, a := range in { // unseen, until the host says so
		if res := a.serve(get("APIKey=" + key)); res.status != 200 {
			t.Fatalf("control: %d", res.status)
		}
	}
	if err := in[0].a.Invalidate(context.Background(), in[0].alice.Ref()); err != nil {
		t.Fatal(err)
	}
	for i, a := range in {
		if res := a.serve(get("APIKey=" + key)); res.status != 401 {
			t.Fatalf("instance %d: %d", i, res.status)
		}
	}
	if err := in[0].a.Invalidate(context.Background(), store.AccountRef{}); err == nil {
		t.Fatal("an invalid ref was accepted")
	}
	ch.fail.Store(true)
	if err := in[0].a.Invalidate(context.Background(), in[0].alice.Ref()); statusOf(err) != 503 {
		t.Fatalf("a channel that fails: %v", err)
	}
}

// Requests, invalidations and the channel going down and up, at once:
// for the race detector, and no request is let through after its
// credential is revoked.
func TestCacheConcurrent(t *testing.T) {
	t.Parallel()
	in, ch := deployment(t, 2, nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := in[g%2]
			for range 50 {
				k, rec := a.key(a.alice)
				q := "APIKey=" + k
				a.serve(get(q))
				a.serve(get(q))
				if err := a.a.RevokeAPIKey(context.Background(), a.alice.Ref(), rec.ID); err != nil {
					t.Error(err)
					return
				}
				for _, b := range in {
					if res := b.serve(get(q)); res.status != 401 {
						t.Errorf("a revoked key served: %d", res.status)
						return
					}
				}
			}
		}()
	}
	for range 20 {
		ch.setUp(false)
		ch.setUp(true)
	}
	wg.Wait()
}

// A session another instance keeps using is not idle here: a cached
// last-seen time older than the touch interval is read again before it
// decides anything, even while the entry itself is young enough to serve.
func TestCacheLastSeenMovedElsewhere(t *testing.T) {
	t.Parallel()
	in, _ := deployment(t, 2, func(c *Config) {
		c.Cache.MaxAge = time.Hour
		c.Sessions = SessionConfig{IdleTimeout: 30 * time.Minute, TouchInterval: time.Minute}
	})
	a, b := in[0], in[1]
	q := "SessionID=" + url.QueryEscape(a.session(a.alice))
	b.serve(get(q)) // b caches it now
	for range 8 {   // 40 minutes of use on a
		a.clock.Advance(5 * time.Minute)
		if res := a.serve(get(q)); res.status != 200 {
			t.Fatalf("on a: %d", res.status)
		}
	}
	if res := b.serve(get(q)); res.status != 200 {
		t.Fatalf("on b, after 40 minutes of use on a: %d %s", res.status, res.body)
	}
}

// A change whose word cannot be sent still succeeds (it is written, and
// this instance has dropped it); the failure is an event, and the word is
// sent again in the background, so the other instances hear it once the
// channel takes it.
func TestCacheInvalidationRetried(t *testing.T) {
	t.Parallel()
	in, ch := deployment(t, 2, func(c *Config) { c.Cache.MaxAge = 16 * time.Millisecond * 16 })
	a, b := in[0], in[1]
	k, rec := a.key(a.alice)
	q := "APIKey=" + k
	// b keeps it cached: its clock does not move, so MaxAge never passes.
	b.serve(get(q))
	ch.fail.Store(true)
	if err := a.a.RevokeAPIKey(context.Background(), a.alice.Ref(), rec.ID); err != nil {
		t.Fatalf("revoke with the channel failing: %v", err)
	}
	if res := a.serve(get(q)); res.status != 401 {
		t.Fatalf("on a: %d", res.status)
	}
	if e := a.events.last(event.StoreFailed); e.Reason != "sending an invalidation" {
		t.Fatalf("no event for the failed send: %+v", e)
	}
	if res := b.serve(get(q)); res.status != 200 {
		t.Fatalf("control: b heard a word never sent: %d", res.status)
	}
	ch.fail.Store(false)
	deadline := time.Now().Add(30 * time.Second) // a guard, not a bound
	for b.serve(get(q)).status != 401 {
		if time.Now().After(deadline) {
			t.Fatal("the invalidation was never sent again")
		}
		time.Sleep(time.Millisecond)
	}
}

// A session used steadily is read from the store once per touch interval,
// when its last-seen time is due to be written, and not again after: the
// write moves the cached time too.
func TestCacheSessionReadsPerTouch(t *testing.T) {
	t.Parallel()
	in, _ := deployment(t, 1, func(c *Config) {
		c.Cache.MaxAge = time.Hour
		c.Sessions = SessionConfig{IdleTimeout: 30 * time.Minute, TouchInterval: time.Minute}
	})
	a := in[0]
	q := "SessionID=" + url.QueryEscape(a.session(a.alice))
	before := a.st.sessions.Load()
	for i := range 30 { // 0 s to 145 s, every 5 s: touches due at 60 s and 120 s
		if i > 0 {
			a.clock.Advance(5 * time.Second)
		}
		if res := a.serve(get(q)); res.status != 200 {
			t.Fatalf("%d", res.status)
		}
	}
	if n := a.st.sessions.Load() - before; n != 3 {
		t.Fatalf("%d session reads, want 3: the first, and one per touch", n)
	}
}

// A record is as old as the oldest read in it: a session cached with an
// account that was itself cached earlier serves no longer than MaxAge
// after that account was read, so an account disabled outside keyward,
// with no Invalidate, is refused within MaxAge whatever was cached when.
func TestCacheMaxAgeBoundsTheOldestRead(t *testing.T) {
	t.Parallel()
	const maxAge = 10 * time.Second
	for _, credential := range []string{"SessionID", "APIKey"} {
		t.Run(credential, func(t *testing.T) {
			t.Parallel()
			in, ch := deployment(t, 1, func(c *Config) { c.Cache.MaxAge = maxAge })
			a := in[0]
			key, _ := a.key(a.alice)
			sid := a.session(a.alice)
			other, _ := a.key(a.alice) // caches the account alone, first
			want := "SessionID=" + url.QueryEscape(sid)
			if credential == "APIKey" {
				want = "APIKey=" + url.QueryEscape(key)
			}
			if res := a.serve(get("APIKey=" + url.QueryEscape(other))); res.status != 200 {
				t.Fatalf("the first key: %d", res.status)
			}
			a.clock.Advance(maxAge - time.Second)
			if res := a.serve(get(want)); res.status != 200 { // filled with the account read at 0
				t.Fatalf("before the change: %d", res.status)
			}
			ch.disabled.Store(a.alice.Ref(), true) // outside keyward, no Invalidate
			a.clock.Advance(time.Second)           // MaxAge since the account was read
			if res := a.serve(get(want)); res.status != 401 {
				t.Fatalf("MaxAge after the account was read, the disabled account's %s answered %d", credential, res.status)
			}
		})
	}
}

// A change whose request had no time left to send its word (the change's
// own call used the deadline up) sends it at once in the background, on a
// deadline of its own: no failure is reported, and the others hear it
// without waiting for the retries' back-off.
func TestCacheInvalidationWithNoTimeLeft(t *testing.T) {
	t.Parallel()
	in, _ := deployment(t, 2, func(c *Config) { c.Cache.MaxAge = time.Hour }) // no retry within the test
	a, b := in[0], in[1]
	k, _ := a.key(a.alice)
	q := "APIKey=" + k
	b.serve(get(q)) // b has it cached
	a.mem.RevokeAPIKey(context.Background(), a.alice.Ref(), 1)
	spent, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	a.a.invalidate(spent, a.alice.Ref())
	deadline := time.Now().Add(30 * time.Second) // a guard, not a bound
	for b.serve(get(q)).status != 401 {
		if time.Now().After(deadline) {
			t.Fatal("the word was never sent")
		}
		time.Sleep(time.Millisecond)
	}
	if e := a.events.last(event.StoreFailed); e.Kind != "" {
		t.Fatalf("a send never tried was reported failed: %+v", e)
	}
}
