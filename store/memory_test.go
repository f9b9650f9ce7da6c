package store_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/clocktest"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now func() time.Time) any {
		return store.NewMemory(store.MemoryConfig{Now: now})
	})
}

// newMemory returns a store on a fake clock.
func newMemory() (*store.Memory, *clocktest.Clock) {
	clock := clocktest.New()
	return store.NewMemory(store.MemoryConfig{Now: clock.Now}), clock
}

// ref returns the user ref with the ID.
func ref(id int64) store.AccountRef { return store.AccountRef{Scope: scopes.User, ID: id} }

// hashOf returns the hash of a name, for sessions and keys.
func hashOf(name string) store.Hash { return store.HashOf([]byte(name)) }

// session returns a session for owner expiring at expires.
func session(name string, owner store.AccountRef, now, expires time.Time) store.Session {
	return store.Session{Hash: hashOf(name), Account: owner, Method: "password", CreatedAt: now, LastSeenAt: now, ExpiresAt: expires}
}

// must fails t if err is not nil.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkSizes fails t unless m's sizes satisfy the invariants of its indexes,
// and returns them.
func checkSizes(t *testing.T, m *store.Memory) store.MemorySizes {
	t.Helper()
	z := store.SizesOf(m)
	if z.KeyIDs != z.Keys || z.IndexedKeys != z.Keys {
		t.Fatalf("key maps disagree: %+v", z)
	}
	if z.IndexedSessions != z.Sessions {
		t.Fatalf("session index disagrees: %+v", z)
	}
	return z
}

func TestMemoryDefaultClock(t *testing.T) {
	t.Parallel()
	// MemoryConfig{} decides expiry with time.Now.
	m := store.NewMemory(store.MemoryConfig{})
	ctx := context.Background()
	now := time.Now()
	must(t, m.CreateSession(ctx, session("live", ref(1), now, now.Add(time.Hour))))
	must(t, m.CreateSession(ctx, session("past", ref(1), now, now.Add(-time.Second))))
	if _, err := m.Session(ctx, hashOf("live")); err != nil {
		t.Fatalf("session expiring in an hour: %v", err)
	}
	if _, err := m.Session(ctx, hashOf("past")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session that expired a second ago: %v, want ErrNotFound", err)
	}
}

func TestMemoryRejectsInvalidRecords(t *testing.T) {
	t.Parallel()
	m, _ := newMemory()
	ctx := context.Background()
	tests := []struct {
		name string
		err  error
	}{
		{"account without scope", func() error {
			_, err := m.CreateAccount(ctx, store.Account{Username: "x"})
			return err
		}()},
		{"account without username", func() error {
			_, err := m.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: " \t", Email: "x@example.com"})
			return err
		}()},
		{"key without account", func() error {
			_, err := m.CreateAPIKey(ctx, store.APIKey{Hash: hashOf("k")})
			return err
		}()},
		{"key of account 0", func() error {
			_, err := m.CreateAPIKey(ctx, store.APIKey{Hash: hashOf("k"), Account: ref(0)})
			return err
		}()},
		{"session without account", m.CreateSession(ctx, store.Session{Hash: hashOf("s")})},
		{"token without account", m.PutToken(ctx, store.Token{Hash: hashOf("t"), ExpiresAt: time.Now().Add(time.Hour)})},
		{"token of account 0", m.PutToken(ctx, store.Token{Hash: hashOf("t"), Account: ref(0), ExpiresAt: time.Now().Add(time.Hour)})},
	}
	for _, tc := range tests {
		if tc.err == nil || errors.Is(tc.err, store.ErrConflict) || errors.Is(tc.err, store.ErrNotFound) {
			t.Errorf("%s: error %v, want a plain error", tc.name, tc.err)
		}
	}
	if z := checkSizes(t, m); z.Accounts+z.Logins+z.Keys+z.Sessions+z.Tokens != 0 {
		t.Fatalf("refused records were stored: %+v", z)
	}
}

func TestMemoryForgetsExpiredSessions(t *testing.T) {
	t.Parallel()
	m, clock := newMemory()
	ctx := context.Background()
	now := clock.Now()
	for i := range 100 {
		owner := ref(int64(i%10 + 1)) // accounts 1..10
		must(t, m.CreateSession(ctx, session("short"+strconv.Itoa(i), owner, now, now.Add(time.Minute))))
	}
	for i := range 5 {
		must(t, m.CreateSession(ctx, session("long"+strconv.Itoa(i), ref(int64(i+1)), now, now.Add(time.Hour))))
	}
	if z := checkSizes(t, m); z.Sessions != 105 || z.SessionOwners != 10 || z.SessionQueue != 105 {
		t.Fatalf("before expiry: %+v", z)
	}

	clock.Advance(time.Minute)
	// Reads see the expiry but do not write.
	if _, err := m.Session(ctx, hashOf("short0")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	if z := checkSizes(t, m); z.Sessions != 105 {
		t.Fatalf("a read forgot sessions: %+v", z)
	}
	// The next write forgets them, and their index entries.
	must(t, m.CreateSession(ctx, session("new", ref(20), clock.Now(), clock.Now().Add(time.Hour))))
	if z := checkSizes(t, m); z.Sessions != 6 || z.SessionOwners != 6 || z.SessionQueue != 6 {
		t.Fatalf("after expiry and a write: %+v, want 6 sessions of 6 accounts", z)
	}
	for i := range 5 {
		if _, err := m.Session(ctx, hashOf("long"+strconv.Itoa(i))); err != nil {
			t.Fatalf("live session long%d: %v", i, err)
		}
	}

	clock.Advance(time.Hour)
	must(t, m.DeleteSession(ctx, hashOf("absent"))) // any write forgets
	if z := checkSizes(t, m); z.Sessions != 0 || z.SessionOwners != 0 || z.SessionQueue != 0 {
		t.Fatalf("after everything expired: %+v", z)
	}
}

func TestMemoryForgetsExpiredKeys(t *testing.T) {
	t.Parallel()
	m, clock := newMemory()
	ctx := context.Background()
	now := clock.Now()
	var forever store.APIKey
	for i := range 50 {
		k := store.APIKey{Hash: hashOf("k" + strconv.Itoa(i)), Account: ref(int64(i%5 + 1)), ExpiresAt: now.Add(time.Minute)}
		if i == 0 {
			k.ExpiresAt = time.Time{}
		}
		got, err := m.CreateAPIKey(ctx, k)
		must(t, err)
		if i == 0 {
			forever = got
		}
	}
	if z := checkSizes(t, m); z.Keys != 50 || z.KeyQueue != 49 {
		t.Fatalf("before expiry: %+v, want 50 keys, 49 of them queued", z)
	}
	clock.Advance(time.Minute)
	must(t, m.RecordAPIKeyUse(ctx, forever.ID, clock.Now(), "192.0.2.1", 1))
	if z := checkSizes(t, m); z.Keys != 1 || z.KeyOwners != 1 || z.KeyQueue != 0 {
		t.Fatalf("after expiry and a recorded use: %+v, want only the key that never expires", z)
	}
	got, err := m.APIKeyByHash(ctx, forever.Hash)
	if err != nil || !got.LastUsedAt.Equal(clock.Now()) || got.RequestCount != 1 {
		t.Fatalf("key that never expires: %+v, %v", got, err)
	}
}

func TestMemoryForgetsEndedClaimsAndCounters(t *testing.T) {
	t.Parallel()
	m, clock := newMemory()
	ctx := context.Background()
	for i := range 30 {
		if won, err := m.Claim(ctx, "c"+strconv.Itoa(i), time.Minute); err != nil || !won {
			t.Fatalf("Claim: %v, %v", won, err)
		}
		if _, _, err := m.Increment(ctx, "n"+strconv.Itoa(i), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Claim(ctx, "long", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Increment(ctx, "long", time.Hour); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if _, err := m.Claim(ctx, "c0", time.Minute); err != nil { // re-claims c0
		t.Fatal(err)
	}
	if _, _, err := m.Increment(ctx, "other", time.Minute); err != nil {
		t.Fatal(err)
	}
	z := checkSizes(t, m)
	if z.Claims != 2 || z.ClaimQueue != 2 {
		t.Fatalf("claims after expiry: %+v, want c0 again and long", z)
	}
	if z.Counters != 2 || z.CounterQueue != 2 {
		t.Fatalf("counters after expiry: %+v, want other and long", z)
	}
}

func TestMemoryForgetsExpiredTokens(t *testing.T) {
	t.Parallel()
	m, clock := newMemory()
	ctx := context.Background()
	now := clock.Now()
	for i := range 30 {
		tok := store.Token{Hash: hashOf("t" + strconv.Itoa(i)), Account: ref(1), Purpose: "password-reset", ExpiresAt: now.Add(time.Minute)}
		must(t, m.PutToken(ctx, tok))
	}
	long := store.Token{Hash: hashOf("long"), Account: ref(2), Purpose: "password-reset", ExpiresAt: now.Add(time.Hour)}
	must(t, m.PutToken(ctx, long))
	if z := checkSizes(t, m); z.Tokens != 31 || z.TokenQueue != 31 {
		t.Fatalf("before expiry: %+v", z)
	}
	clock.Advance(time.Minute)
	if _, err := m.TakeToken(ctx, hashOf("absent")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TakeToken of an absent hash: %v", err)
	}
	if z := checkSizes(t, m); z.Tokens != 1 || z.TokenQueue != 1 {
		t.Fatalf("after 30 expired and a take: %+v, want only the long one", z)
	}
	// Taken tokens leave stale entries; the queue stays bounded.
	for i := range 2000 {
		h := hashOf("taken" + strconv.Itoa(i))
		must(t, m.PutToken(ctx, store.Token{Hash: h, Account: ref(3), ExpiresAt: clock.Now().Add(time.Hour)}))
		if _, err := m.TakeToken(ctx, h); err != nil {
			t.Fatal(err)
		}
		if z := store.SizesOf(m); z.TokenQueue > 2*2+store.CompactSlack {
			t.Fatalf("after %d takes: %+v", i+1, z)
		}
	}
	if got, err := m.TakeToken(ctx, long.Hash); err != nil || got != long {
		t.Fatalf("the long token after compactions: %+v, %v", got, err)
	}
}

func TestMemoryStaleEntryAfterTouchKeepsSession(t *testing.T) {
	t.Parallel()
	m, clock := newMemory()
	ctx := context.Background()
	now := clock.Now()
	must(t, m.CreateSession(ctx, session("touched", ref(1), now, now.Add(time.Minute))))
	// The queue's entry stays at +1m; the session now lasts to +1h.
	must(t, m.TouchSession(ctx, hashOf("touched"), now, now.Add(time.Hour)))
	clock.Advance(time.Minute)
	must(t, m.CreateSession(ctx, session("other", ref(2), clock.Now(), clock.Now().Add(2*time.Hour))))
	if _, err := m.Session(ctx, hashOf("touched")); err != nil {
		t.Fatalf("touched session after its old expiry came up: %v", err)
	}
	if z := checkSizes(t, m); z.Sessions != 2 || z.SessionQueue != 2 {
		t.Fatalf("after the stale entry came up: %+v, want it moved, not dropped or doubled", z)
	}
	// At the new expiry, the moved entry forgets it.
	clock.Advance(time.Hour - time.Minute)
	must(t, m.DeleteSession(ctx, hashOf("absent")))
	if z := checkSizes(t, m); z.Sessions != 1 || z.SessionQueue != 1 {
		t.Fatalf("after the touched session expired: %+v", z)
	}
}

func TestMemoryTouchToEarlierExpiryForgetsThen(t *testing.T) {
	t.Parallel()
	m, clock := newMemory()
	ctx := context.Background()
	now := clock.Now()
	must(t, m.CreateSession(ctx, session("s", ref(1), now, now.Add(time.Hour))))
	must(t, m.TouchSession(ctx, hashOf("s"), now, now.Add(time.Minute)))
	clock.Advance(time.Minute)
	must(t, m.DeleteSession(ctx, hashOf("absent")))
	if z := checkSizes(t, m); z.Sessions != 0 || z.SessionOwners != 0 {
		t.Fatalf("session touched to expire at +1m still held at +1m: %+v", z)
	}
	clock.Advance(time.Hour) // the entry for the old expiry comes up to nothing
	must(t, m.DeleteSession(ctx, hashOf("absent")))
	if z := checkSizes(t, m); z.SessionQueue != 0 {
		t.Fatalf("stale entry left: %+v", z)
	}
}

func TestMemoryStaleEntryAfterDeleteKeepsNewSession(t *testing.T) {
	t.Parallel()
	m, clock := newMemory()
	ctx := context.Background()
	now := clock.Now()
	must(t, m.CreateSession(ctx, session("s", ref(1), now, now.Add(time.Minute))))
	must(t, m.DeleteSession(ctx, hashOf("s")))
	// The same hash again, for another account, for longer: the first
	// session's entry must not delete it.
	must(t, m.CreateSession(ctx, session("s", ref(2), now, now.Add(time.Hour))))
	clock.Advance(time.Minute)
	must(t, m.CreateSession(ctx, session("other", ref(3), clock.Now(), clock.Now().Add(time.Hour))))
	got, err := m.Session(ctx, hashOf("s"))
	if err != nil || got.Account != ref(2) {
		t.Fatalf("re-created session after the deleted one's expiry came up: %+v, %v", got, err)
	}
	n, err := m.DeleteAccountSessions(ctx, ref(2), store.Hash{})
	if err != nil || n != 1 {
		t.Fatalf("DeleteAccountSessions of the new owner = %d, %v; want 1", n, err)
	}
	if z := checkSizes(t, m); z.Sessions != 1 || z.SessionOwners != 1 {
		t.Fatalf("after deleting: %+v", z)
	}
}

func TestMemoryStaleEntryAfterRevokeKeepsOtherKeys(t *testing.T) {
	t.Parallel()
	m, clock := newMemory()
	ctx := context.Background()
	now := clock.Now()
	k1, err := m.CreateAPIKey(ctx, store.APIKey{Hash: hashOf("k1"), Account: ref(1), ExpiresAt: now.Add(time.Minute)})
	must(t, err)
	must(t, m.RevokeAPIKey(ctx, ref(1), k1.ID))
	k2, err := m.CreateAPIKey(ctx, store.APIKey{Hash: hashOf("k1"), Account: ref(1), ExpiresAt: now.Add(time.Hour)})
	must(t, err)
	clock.Advance(time.Minute)
	must(t, m.RecordAPIKeyUse(ctx, k2.ID, clock.Now(), "", 1))
	if _, err := m.APIKeyByHash(ctx, hashOf("k1")); err != nil {
		t.Fatalf("key re-created with a revoked key's hash: %v", err)
	}
	if z := checkSizes(t, m); z.Keys != 1 || z.KeyQueue != 1 {
		t.Fatalf("after the revoked key's entry came up: %+v", z)
	}
}

func TestMemoryQueueStaysBounded(t *testing.T) {
	t.Parallel()
	// Deleted sessions leave entries behind; the queue must not grow
	// with every login and logout while the sessions would have lasted.
	m, clock := newMemory()
	ctx := context.Background()
	now := clock.Now()
	const live = 500
	for i := range live {
		must(t, m.CreateSession(ctx, session("live"+strconv.Itoa(i), ref(1), now, now.Add(24*time.Hour))))
	}
	for i := range 5000 {
		h := "gone" + strconv.Itoa(i)
		must(t, m.CreateSession(ctx, session(h, ref(2), now, now.Add(24*time.Hour))))
		must(t, m.DeleteSession(ctx, hashOf(h)))
		if z := store.SizesOf(m); z.SessionQueue > 2*(live+1)+store.CompactSlack {
			t.Fatalf("after %d logouts the queue holds %d entries for %d sessions", i+1, z.SessionQueue, z.Sessions)
		}
	}
	// DeleteAccountSessions compacts too.
	for i := range 1000 {
		must(t, m.CreateSession(ctx, session("many"+strconv.Itoa(i), ref(3), now, now.Add(24*time.Hour))))
	}
	n, err := m.DeleteAccountSessions(ctx, ref(3), store.Hash{})
	if err != nil || n != 1000 {
		t.Fatalf("DeleteAccountSessions = %d, %v", n, err)
	}
	if z := checkSizes(t, m); z.Sessions != live || z.SessionQueue > 2*live+store.CompactSlack {
		t.Fatalf("after DeleteAccountSessions: %+v", z)
	}
	for i := range live {
		if _, err := m.Session(ctx, hashOf("live"+strconv.Itoa(i))); err != nil {
			t.Fatalf("live session %d after compactions: %v", i, err)
		}
	}
	clock.Advance(24 * time.Hour)
	must(t, m.DeleteSession(ctx, hashOf("absent")))
	if z := checkSizes(t, m); z.Sessions != 0 || z.SessionQueue != 0 {
		t.Fatalf("after everything expired: %+v", z)
	}
}

func TestMemoryKeyAndCounterQueuesStayBounded(t *testing.T) {
	t.Parallel()
	m, clock := newMemory()
	ctx := context.Background()
	expires := clock.Now().Add(24 * time.Hour)
	live, err := m.CreateAPIKey(ctx, store.APIKey{Hash: hashOf("live"), Account: ref(1), ExpiresAt: expires})
	must(t, err)
	if _, _, err := m.Increment(ctx, "live", 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		k, err := m.CreateAPIKey(ctx, store.APIKey{Hash: hashOf("k" + strconv.Itoa(i)), Account: ref(2), ExpiresAt: expires})
		must(t, err)
		must(t, m.RevokeAPIKey(ctx, ref(2), k.ID))
		if _, _, err := m.Increment(ctx, "n"+strconv.Itoa(i), 24*time.Hour); err != nil {
			t.Fatal(err)
		}
		must(t, m.Reset(ctx, "n"+strconv.Itoa(i)))
		z := checkSizes(t, m)
		if z.KeyQueue > 2*2+store.CompactSlack || z.CounterQueue > 2*2+store.CompactSlack {
			t.Fatalf("after %d revokes and resets: %+v", i+1, z)
		}
	}
	if got, err := m.APIKeyByHash(ctx, live.Hash); err != nil || got.ID != live.ID {
		t.Fatalf("live key after compactions: %+v, %v", got, err)
	}
	if n, _, err := m.Count(ctx, "live"); err != nil || n != 1 {
		t.Fatalf("live counter after compactions: %d, %v", n, err)
	}
	clock.Advance(24 * time.Hour)
	// Any write forgets; this one finds nothing to revoke.
	if err := m.RevokeAPIKey(ctx, ref(1), live.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RevokeAPIKey of an expired key: %v, want ErrNotFound", err)
	}
	if z := checkSizes(t, m); z.Keys != 0 || z.KeyOwners != 0 || z.KeyQueue != 0 {
		t.Fatalf("keys after everything expired: %+v", z)
	}
}

func TestMemoryConcurrentMixedUse(t *testing.T) {
	t.Parallel()
	// Every kind of record at once, reads beside writes that forget, for
	// the race detector. Sessions come and go under the other goroutines'
	// DeleteAccountSessions and clock moves; the account and the key stay.
	m, clock := newMemory()
	ctx := context.Background()
	a, err := m.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "alice"})
	must(t, err)
	k, err := m.CreateAPIKey(ctx, store.APIKey{Hash: hashOf("k"), Account: a.Ref()})
	must(t, err)
	var wg sync.WaitGroup
	var failures atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				name := strconv.Itoa(g) + "/" + strconv.Itoa(i)
				now := clock.Now()
				if m.CreateSession(ctx, session(name, a.Ref(), now, now.Add(time.Second))) != nil {
					failures.Add(1)
				}
				_, _ = m.Session(ctx, hashOf(name))
				_ = m.TouchSession(ctx, hashOf(name), now, now.Add(2*time.Second))
				if _, err := m.Account(ctx, a.Ref()); err != nil {
					failures.Add(1)
				}
				if _, err := m.APIKeyByHash(ctx, k.Hash); err != nil {
					failures.Add(1)
				}
				_ = m.RecordAPIKeyUse(ctx, k.ID, now, "192.0.2.1", 1)
				if g == 0 && i%20 == 0 {
					h := hashOf("token " + name)
					if m.PutToken(ctx, store.Token{Hash: h, Account: a.Ref(), Purpose: "p", ExpiresAt: now.Add(time.Second)}) != nil {
						failures.Add(1)
					}
					_, _ = m.TakeToken(ctx, h)
				}
				_, _ = m.Claim(ctx, name, time.Second)
				_, _, _ = m.Increment(ctx, "n", time.Second)
				_, _, _ = m.Count(ctx, "n")
				if i%50 == 0 {
					_, _ = m.DeleteAccountSessions(ctx, a.Ref(), store.Hash{})
					clock.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d operations failed", n)
	}
	checkSizes(t, m)
}

func TestMemoryHotPathDoesNotAllocate(t *testing.T) {
	m, _ := newMemory()
	ctx := context.Background()
	a, k, s := seed(t, m, 100)
	tests := []struct {
		name string
		f    func()
	}{
		{"Account", func() { _, _ = m.Account(ctx, a[7]) }},
		{"AccountAbsent", func() { _, _ = m.Account(ctx, ref(1<<40)) }},
		{"APIKeyByHash", func() { _, _ = m.APIKeyByHash(ctx, k[7]) }},
		{"APIKeyByHashAbsent", func() { _, _ = m.APIKeyByHash(ctx, store.Hash{}) }},
		{"Session", func() { _, _ = m.Session(ctx, s[7]) }},
		{"SessionAbsent", func() { _, _ = m.Session(ctx, store.Hash{}) }},
	}
	for _, tc := range tests {
		if n := testing.AllocsPerRun(100, tc.f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tc.name, n)
		}
	}
}

// seed creates n accounts in m, each with an API key and a session that
// expire in a day, and returns their refs and hashes.
func seed(tb testing.TB, m *store.Memory, n int) (accounts []store.AccountRef, keys, sessions []store.Hash) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now()
	for i := range n {
		name := "user" + strconv.Itoa(i)
		a, err := m.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: name, Email: name + "@example.com"})
		if err != nil {
			tb.Fatal(err)
		}
		k := store.APIKey{Hash: hashOf("key " + name), Prefix: "kw_", Account: a.Ref(), ExpiresAt: now.Add(24 * time.Hour)}
		if _, err := m.CreateAPIKey(ctx, k); err != nil {
			tb.Fatal(err)
		}
		s := session("session "+name, a.Ref(), now, now.Add(24*time.Hour))
		if err := m.CreateSession(ctx, s); err != nil {
			tb.Fatal(err)
		}
		accounts, keys, sessions = append(accounts, a.Ref()), append(keys, k.Hash), append(sessions, s.Hash)
	}
	return accounts, keys, sessions
}

// BenchmarkMemory measures the request path on a store of 10,000 accounts,
// each with a key and a session, on the real clock.
func BenchmarkMemory(b *testing.B) {
	const n = 10_000
	m := store.NewMemory(store.MemoryConfig{})
	accounts, keys, sessions := seed(b, m, n)
	ctx := context.Background()

	bench := func(name string, lookup func(i int) error) {
		b.Run(name, func(b *testing.B) {
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					if err := lookup(i % n); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				var start atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					i := int(start.Add(n / 16))
					for pb.Next() {
						if err := lookup(i % n); err != nil {
							b.Error(err)
							return
						}
						i++
					}
				})
			})
		})
	}
	bench("Session", func(i int) error {
		_, err := m.Session(ctx, sessions[i])
		return err
	})
	bench("APIKeyByHash", func(i int) error {
		_, err := m.APIKeyByHash(ctx, keys[i])
		return err
	})
	bench("Account", func(i int) error {
		_, err := m.Account(ctx, accounts[i])
		return err
	})
}

func TestMemoryInvalidationsAtOnce(t *testing.T) {
	t.Parallel()
	// In one process the word is heard at once: Listening before
	// WatchInvalidations returns, and every watcher's Invalidated before
	// Invalidate does; after stop, nothing.
	ctx := context.Background()
	m, _ := newMemory()
	if _, err := m.WatchInvalidations(nil); err == nil {
		t.Fatal("WatchInvalidations(nil) succeeded")
	}
	watchers := []*tally{{}, {}}
	stops := make([]func(), len(watchers))
	for i, w := range watchers {
		stop, err := m.WatchInvalidations(w)
		must(t, err)
		stops[i] = stop
		if w.listening != 1 {
			t.Fatalf("watcher %d: WatchInvalidations returned after %d Listening, want 1", i, w.listening)
		}
	}
	for _, tc := range []struct {
		name      string
		stopFirst bool // stop the first watcher before
		ref       store.AccountRef
		heard     []int // by each watcher, once Invalidate has returned
	}{
		{"a user", false, ref(1), []int{1, 1}},
		{"an administrator", false, store.AccountRef{Scope: scopes.Admin, ID: 1}, []int{2, 2}},
		{"an invalid ref", false, store.AccountRef{Scope: scopes.User}, []int{2, 2}},
		{"after the first watcher stopped", true, ref(2), []int{2, 3}},
	} {
		if tc.stopFirst {
			stops[0]()
			stops[0]() // more than once is allowed
		}
		err := m.Invalidate(ctx, tc.ref)
		if (err != nil) != (tc.ref.ID == 0) {
			t.Errorf("%s: Invalidate: %v", tc.name, err)
		}
		for j, w := range watchers {
			if w.heard() != tc.heard[j] {
				t.Errorf("%s: watcher %d heard %d, want %d", tc.name, j, w.heard(), tc.heard[j])
			}
		}
	}
	stops[1]()
}
