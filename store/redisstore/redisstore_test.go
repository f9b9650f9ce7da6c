package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/clocktest"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/redisstore"
	"github.com/keyward/keyward/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			c := tg.client(t)
			storetest.Run(t, func(t *testing.T, now func() time.Time) any {
				return newStore(t, c, redisstore.Config{Now: now}) // a prefix of its own per case
			})
		})
	}
}

func TestCombinedConformance(t *testing.T) {
	t.Parallel()
	// Redis as the fast part of a whole store: every case runs, the
	// sessions', claims' and counters' against Redis.
	c := redisClient(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) any {
		return store.Combine(store.NewMemory(store.MemoryConfig{Now: now}), newStore(t, c, redisstore.Config{Now: now}))
	})
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// user returns the user account ref with the ID.
func user(id int64) store.AccountRef { return store.AccountRef{Scope: scopes.User, ID: id} }

// newSession returns a session of owner named name, expiring in ttl.
func newSession(name string, owner store.AccountRef, now time.Time, ttl time.Duration) store.Session {
	return store.Session{
		Hash: store.HashOf([]byte(name)), Account: owner, Method: "password",
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(ttl),
	}
}

func TestSessionLookupIsOneCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redisClient(t)
	rec := &recorder{}
	c.AddHook(rec)
	s := newStore(t, c, redisstore.Config{})
	now := time.Now()
	sessions := make([]store.Session, 20)
	for i := range sessions {
		sessions[i] = newSession(fmt.Sprint(i), user(int64(i%3+1)), now, time.Hour)
		must(t, s.CreateSession(ctx, sessions[i]))
	}
	rec.take()
	const lookups = 200
	for i := range lookups {
		want := sessions[i%len(sessions)]
		got, err := s.Session(ctx, want.Hash)
		if err != nil || got.Account != want.Account || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Fatalf("Session: %+v, %v", got, err)
		}
	}
	_, err := s.Session(ctx, store.HashOf([]byte("absent")))
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Session of an absent hash: %v", err)
	}
	cmds := rec.take()
	if len(cmds) != lookups+1 {
		t.Fatalf("%d Session calls sent %d commands, want one each", lookups+1, len(cmds))
	}
	for _, cmd := range cmds {
		if strings.ToLower(cmd[0]) != "get" || len(cmd) != 2 {
			t.Fatalf("Session sent %q, want one GET", cmd)
		}
	}
	t.Logf("Redis commands per Session lookup: %d", len(cmds)/(lookups+1))
}

func TestDeleteAccountSessionsReadsNoOtherAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redisClient(t)
	rec := &recorder{}
	c.AddHook(rec)
	clock := clocktest.New()
	s := newStore(t, c, redisstore.Config{Now: clock.Now})
	now := clock.Now()
	alice, bob := user(1), user(11) // "1:" is a prefix of "11:"
	var aliceKeys []string
	bobKeys := make(map[string]bool)
	for i := range 300 {
		owner := bob
		if i%100 == 0 {
			owner = alice
		}
		sess := newSession(fmt.Sprint(i), owner, now, time.Hour)
		must(t, s.CreateSession(ctx, sess))
		if owner == alice {
			aliceKeys = append(aliceKeys, redisstore.SessionKey(s, sess.Hash))
		} else {
			bobKeys[redisstore.SessionKey(s, sess.Hash)] = true
		}
	}
	rec.take()
	n, err := s.DeleteAccountSessions(ctx, alice, store.Hash{})
	if err != nil || n != len(aliceKeys) {
		t.Fatalf("DeleteAccountSessions = %d, %v; want %d", n, err, len(aliceKeys))
	}
	var touched []string
	for _, cmd := range rec.take() {
		for _, arg := range cmd {
			if bobKeys[arg] {
				t.Fatalf("DeleteAccountSessions(alice) sent %q, naming bob's session", cmd[0])
			}
			if strings.HasPrefix(arg, s.KeyPrefix()+"{") && !strings.HasSuffix(arg, "owners") && !strings.HasSuffix(arg, "expiry") {
				touched = append(touched, arg)
			}
		}
	}
	slices.Sort(touched)
	slices.Sort(aliceKeys)
	if !slices.Equal(touched, aliceKeys) {
		t.Fatalf("DeleteAccountSessions(alice) touched sessions %q, want alice's %q", touched, aliceKeys)
	}
}

func TestIndexForgetsExpiredSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redisClient(t)
	clock := clocktest.New()
	s := newStore(t, c, redisstore.Config{Now: clock.Now})
	now := clock.Now()
	for i := range 40 {
		must(t, s.CreateSession(ctx, newSession(fmt.Sprint(i), user(int64(i%5+1)), now, time.Minute)))
	}
	live := newSession("live", user(1), now, time.Hour)
	must(t, s.CreateSession(ctx, live))
	left, err := s.Cleanup(ctx)
	if err != nil || left != 41 {
		t.Fatalf("Cleanup before expiry: %d entries left, %v; want 41", left, err)
	}
	clock.Advance(time.Minute)
	left, err = s.Cleanup(ctx)
	if err != nil || left != 1 {
		t.Fatalf("Cleanup after 40 sessions expired: %d entries left, %v; want 1", left, err)
	}
	if n, err := s.DeleteAccountSessions(ctx, user(1), store.Hash{}); err != nil || n != 1 {
		t.Fatalf("DeleteAccountSessions after cleanup: %d, %v; want the live one", n, err)
	}
	// A write to a bucket forgets its expired entries too.
	for i := range 40 {
		must(t, s.CreateSession(ctx, newSession("again "+fmt.Sprint(i), user(2), clock.Now(), time.Minute)))
	}
	clock.Advance(time.Minute)
	for i := range 40 {
		must(t, s.DeleteSession(ctx, store.HashOf([]byte("again "+fmt.Sprint(i)))))
	}
	if left, err := s.Cleanup(ctx); err != nil || left != 0 {
		t.Fatalf("entries left: %d, %v", left, err)
	}
}

func TestRedisTTLOutlastsTheStoreClock(t *testing.T) {
	t.Parallel()
	// The store's clock decides expiry; Redis's TTL only collects garbage,
	// and is what is left by that clock plus the margin.
	ctx := context.Background()
	c := redisClient(t)
	clock := clocktest.New()
	s := newStore(t, c, redisstore.Config{Now: clock.Now, ExpiryMargin: 30 * time.Second})
	sess := newSession("s", user(1), clock.Now(), time.Hour)
	must(t, s.CreateSession(ctx, sess))
	_, err := s.Claim(ctx, "nonce", 2*time.Second)
	must(t, err)
	_, _, err = s.Increment(ctx, "ip", 10*time.Minute)
	must(t, err)
	_, _, err = s.Increment(ctx, "ip", 10*time.Minute)
	must(t, err)
	must(t, s.Decrement(ctx, "ip")) // leaves the counter's TTL as it is
	tok := store.Token{Hash: store.HashOf([]byte("t")), Account: user(1), Purpose: "password-reset", ExpiresAt: clock.Now().Add(30 * time.Minute)}
	must(t, s.PutToken(ctx, tok))
	for key, want := range map[string]time.Duration{
		redisstore.SessionKey(s, sess.Hash): time.Hour + 30*time.Second,
		s.KeyPrefix() + "c:nonce":           2*time.Second + 30*time.Second,
		s.KeyPrefix() + "n:ip":              10*time.Minute + 30*time.Second,
		redisstore.TokenKey(s, tok.Hash):    30*time.Minute + 30*time.Second,
	} {
		ttl, err := c.PTTL(ctx, key).Result()
		must(t, err)
		if ttl > want || ttl < want-5*time.Second {
			t.Errorf("PTTL(%s) = %v, want about %v", key, ttl, want)
		}
	}
	// Touching moves the TTL with the session.
	clock.Advance(50 * time.Minute)
	must(t, s.TouchSession(ctx, sess.Hash, clock.Now(), clock.Now().Add(2*time.Hour)))
	if ttl, _ := c.PTTL(ctx, redisstore.SessionKey(s, sess.Hash)).Result(); ttl < 2*time.Hour {
		t.Errorf("PTTL after a touch to two hours: %v", ttl)
	}
}

// sameSession reports whether a and b are equal, field by field.
func sameSession(a, b store.Session) bool {
	return a.Hash == b.Hash && a.Account == b.Account && a.TFA == b.TFA && a.Method == b.Method &&
		a.APIKeyHash == b.APIKeyHash && a.SwitchedBy == b.SwitchedBy && a.SwitchPrivilege == b.SwitchPrivilege &&
		a.Generation == b.Generation && a.Parent == b.Parent &&
		a.CreatedAt.Equal(b.CreatedAt) && a.LastSeenAt.Equal(b.LastSeenAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

func TestSessionEncoding(t *testing.T) {
	t.Parallel()
	// Sessions at generation 0 that nobody switched into are stored as
	// before switched sessions and generations existed, so that a session
	// written by either version reads the same in the other; a switched
	// session, one with a generation or a parent, and a method that could
	// be mistaken for a switch or generation part, read back as they were
	// written.
	ctx := context.Background()
	c := redisClient(t)
	clock := clocktest.New()
	s := newStore(t, c, redisstore.Config{Now: clock.Now})
	now := clock.Now()

	// A value as the previous version wrote it: expiry, last seen,
	// created, TFA, API key hash, "scope:id|method".
	old := newSession("old", user(42), now, time.Hour)
	old.TFA = true
	old.APIKeyHash = store.HashOf([]byte("key"))
	value := redisstore.EncodeTime(old.ExpiresAt) + redisstore.EncodeTime(old.LastSeenAt) +
		redisstore.EncodeTime(old.CreatedAt) + "1" + string(old.APIKeyHash[:]) + "1:42|" + old.Method
	if got := redisstore.EncodeSession(old); got != value {
		t.Fatalf("a session nobody switched into is encoded\n%q\nwant the previous version's\n%q", got, value)
	}
	must(t, c.Set(ctx, redisstore.SessionKey(s, old.Hash), value, time.Hour).Err())
	if got, err := s.Session(ctx, old.Hash); err != nil || !sameSession(got, old) {
		t.Fatalf("a session the previous version wrote: %+v, %v; want %+v", got, err, old)
	}

	withGen := func(name string, gen int64, parent store.Hash, method string, switched bool) store.Session {
		sess := newSession(name, user(42), now, time.Hour)
		sess.Generation, sess.Parent, sess.Method = gen, parent, method
		if switched {
			sess.SwitchedBy, sess.SwitchPrivilege = store.AccountRef{Scope: scopes.Admin, ID: 7}, "Default"
		}
		return sess
	}
	parent := store.HashOf([]byte("the administrator's session"))
	pipe := store.Hash{0: '|', 1: 0, 2: 1, 31: '|'} // bytes the decoder looks for
	for _, sess := range []store.Session{
		withGen("generation", 3, store.Hash{}, "password", false),
		withGen("parent", 0, parent, "switch", false),
		withGen("both", 1<<40, parent, "switch", true),
		withGen("largest", math.MaxInt64, pipe, "password", false),
		withGen("negative", -1, pipe, "|", true),
		withGen("0x01 method", 0, store.Hash{}, "\x01x", false),
		withGen("0x01 method, switched", 0, store.Hash{}, "\x01x", true),
		withGen("0x01 method at a generation", 9, store.Hash{}, "\x01\x00", false),
		withGen("NUL 0x01 method at a generation", 9, parent, "\x00\x01", false),
		func() store.Session {
			sw := newSession("switched", user(42), now, time.Hour)
			sw.SwitchedBy, sw.SwitchPrivilege = store.AccountRef{Scope: scopes.Admin, ID: 1}, "Full"
			return sw
		}(),
		func() store.Session {
			odd := newSession("odd privilege", user(42), now, time.Hour)
			odd.SwitchedBy, odd.SwitchPrivilege, odd.Method = store.AccountRef{Scope: scopes.Admin, ID: 123456789}, "a:b|c\x00", "x|y"
			return odd
		}(),
		func() store.Session {
			nul := newSession("NUL method", user(42), now, time.Hour)
			nul.Method = "\x000:0:0:password"
			return nul
		}(),
	} {
		must(t, s.CreateSession(ctx, sess))
		if got, err := s.Session(ctx, sess.Hash); err != nil || !sameSession(got, sess) {
			t.Fatalf("session %q: %+v, %v; want %+v", sess.Method, got, err, sess)
		}
		must(t, s.TouchSession(ctx, sess.Hash, now.Add(time.Minute), now.Add(2*time.Hour)))
		sess.LastSeenAt, sess.ExpiresAt = now.Add(time.Minute), now.Add(2*time.Hour)
		if got, err := s.Session(ctx, sess.Hash); err != nil || !sameSession(got, sess) {
			t.Fatalf("session %q after a touch: %+v, %v; want %+v", sess.Method, got, err, sess)
		}
	}
	if n, err := s.DeleteAccountSessions(ctx, user(42), store.Hash{}); err != nil || n != 12 {
		t.Fatalf("DeleteAccountSessions = %d, %v; want the 12 made through the store", n, err)
	}
	// A session at generation 0 with no parent is encoded as before
	// generations; one with either has the generation part after the
	// owner.
	plain := newSession("plain", user(42), now, time.Hour)
	gen := plain
	gen.Generation, gen.Parent = 2, parent
	if got, want := redisstore.EncodeSession(gen), redisstore.EncodeSession(plain); !strings.HasPrefix(got, want[:strings.IndexByte(want, '|')+1]+"\x01"+redisstore.EncodeInt(2)+string(parent[:])) {
		t.Fatalf("a session at generation 2 is encoded\n%q", got)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // New does no I/O
	for name, cfg := range map[string]redisstore.Config{
		"brace in prefix":   {KeyPrefix: "app{1}:"},
		"open brace":        {KeyPrefix: "app{"},
		"long prefix":       {KeyPrefix: strings.Repeat("k", 129)},
		"negative margin":   {ExpiryMargin: -time.Second},
		"negative margin 2": {KeyPrefix: "x:", ExpiryMargin: -1},
	} {
		if _, err := redisstore.New(c, cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := redisstore.New(nil, redisstore.Config{}); err == nil {
		t.Error("New with a nil client succeeded")
	}
	s, err := redisstore.New(c, redisstore.Config{})
	must(t, err)
	if s.KeyPrefix() != redisstore.DefaultKeyPrefix {
		t.Errorf("default prefix %q", s.KeyPrefix())
	}
	must(t, s.Close())
	if err := c.Close(); err != nil {
		t.Errorf("closing the caller's client after the store's Close: %v; want it still open", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := redisstore.Open(ctx, "redis://127.0.0.1:1/0", redisstore.Config{}); err == nil {
		t.Error("Open of a port nobody listens on succeeded")
	}
	if _, err := redisstore.Open(ctx, "http://x", redisstore.Config{}); err == nil {
		t.Error("Open of an http URL succeeded")
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	c := redisClient(t)
	prefix := randomPrefix()
	t.Cleanup(func() { deleteKeys(t, c, prefix) })
	ctx := context.Background()
	s, err := redisstore.Open(ctx, redisURL(t), redisstore.Config{KeyPrefix: prefix})
	must(t, err)
	if won, err := s.Claim(ctx, "k", time.Minute); err != nil || !won {
		t.Fatalf("Claim: %v, %v", won, err)
	}
	must(t, s.Close())
	if _, err := s.Claim(ctx, "k2", time.Minute); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("Claim after Close of Open's store: %v, want the client closed", err)
	}
}

func TestFailsClosed(t *testing.T) {
	t.Parallel()
	// A Redis that cannot answer is a store failure, never ErrNotFound:
	// keyward refuses the request.
	ctx := context.Background()
	opts, err := redis.ParseURL(redisURL(t))
	must(t, err)
	c := redis.NewClient(opts)
	s, err := redisstore.New(c, redisstore.Config{KeyPrefix: randomPrefix()})
	must(t, err)
	must(t, c.Close()) // nothing is written after this
	h := store.HashOf([]byte("s"))
	checks := map[string]error{}
	_, checks["Session"] = s.Session(ctx, h)
	_, checks["Claim"] = s.Claim(ctx, "k", time.Minute)
	_, _, checks["Increment"] = s.Increment(ctx, "k", time.Minute)
	_, _, checks["Count"] = s.Count(ctx, "k")
	checks["Decrement"] = s.Decrement(ctx, "k")
	_, checks["TakeChallenge"] = s.TakeChallenge(ctx, "c")
	_, checks["TakeToken"] = s.TakeToken(ctx, h)
	checks["PutToken"] = s.PutToken(ctx, store.Token{Hash: h, Account: user(1), ExpiresAt: time.Now().Add(time.Hour)})
	_, checks["DeleteAccountSessions"] = s.DeleteAccountSessions(ctx, user(1), store.Hash{})
	checks["CreateSession"] = s.CreateSession(ctx, newSession("s", user(1), time.Now(), time.Hour))
	for name, err := range checks {
		if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
			t.Errorf("%s on a closed client: %v, want a store failure", name, err)
		}
	}
}

func TestSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	// Two stores on separate clients with one prefix act as two app
	// instances: a claim is won once across both, counts add up, and a
	// session made on one is ended on both.
	ctx := context.Background()
	first := newStore(t, redisClient(t), redisstore.Config{})
	second, err := redisstore.New(redisClient(t), redisstore.Config{KeyPrefix: first.KeyPrefix()})
	must(t, err)
	tok := store.Token{Hash: store.HashOf([]byte("reset link")), Account: user(1), Purpose: "password-reset", ExpiresAt: time.Now().Add(time.Hour)}
	must(t, first.PutToken(ctx, tok))
	var wins, taken atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		s := first
		if i%2 == 1 {
			s = second
		}
		wg.Go(func() {
			if won, err := s.Claim(ctx, "etoken nonce", time.Minute); err != nil {
				t.Error(err)
			} else if won {
				wins.Add(1)
			}
			if _, _, err := s.Increment(ctx, "ip:192.0.2.1", time.Hour); err != nil {
				t.Error(err)
			}
			switch _, err := s.TakeToken(ctx, tok.Hash); {
			case err == nil:
				taken.Add(1)
			case !errors.Is(err, store.ErrNotFound):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d of 50 claims across two instances won, want 1", wins.Load())
	}
	if taken.Load() != 1 {
		t.Fatalf("%d of 50 takes of one token across two instances got it, want 1", taken.Load())
	}
	if n, _, err := second.Count(ctx, "ip:192.0.2.1"); err != nil || n != 50 {
		t.Fatalf("Count = %d, %v; want 50", n, err)
	}
	sess := newSession("s", user(1), time.Now(), time.Hour)
	must(t, first.CreateSession(ctx, sess))
	if _, err := second.Session(ctx, sess.Hash); err != nil {
		t.Fatalf("a session made on one instance, on the other: %v", err)
	}
	must(t, second.DeleteSession(ctx, sess.Hash))
	if _, err := first.Session(ctx, sess.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a session ended on one instance, on the other: %v", err)
	}
}
