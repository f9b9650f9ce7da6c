package storetest

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// apiKeyCases checks [store.APIKeyFinder] and [store.APIKeyManager].
func apiKeyCases() []testCase {
	both := apiKeyFinder | apiKeyManager
	return []testCase{
		{"FinderNotFound", apiKeyFinder, keysFinderNotFound},
		{"ManagerNotFound", apiKeyManager, keysManagerNotFound},
		{"CreateAndFind", both, keysCreateAndFind},
		{"NoteAndBoundIPKeptVerbatim", both, keysNoteAndBoundIP},
		{"HashTaken", both, keysHashTaken},
		{"ConcurrentSameHash", both, keysConcurrentSameHash},
		{"RecordUseCountsAndSetsLastUse", both, keysRecordUse},
		{"RecordUseOlderDoesNotGoBack", both, keysRecordUseOlder},
		{"RecordUseConcurrentCountsAll", both, keysRecordUseConcurrent},
		{"RecordUseNegativeIsAnError", both, keysRecordUseNegative},
		{"ListOldestFirst", both, keysListOrder},
		{"ListIsACopy", both, keysListCopy},
		{"RevokeByOwner", both, keysRevokeByOwner},
		{"RevokeByOtherAccount", both, keysRevokeByOther},
		{"ExpiresAtExactTime", both, keysExpire},
		{"RecordUseOfExpiredKeyStaysGone", both, keysRecordUseExpired},
	}
}

// createKey creates a key named name for owner through e.keyManager,
// failing t on error. A zero expires means the key never expires.
func (e *env) createKey(t *testing.T, name string, owner store.AccountRef, createdAt, expires time.Time) store.APIKey {
	t.Helper()
	k := store.APIKey{
		ID:        1 << 40, // ignored: the store assigns IDs
		Hash:      hash("key " + name),
		Prefix:    "kw_" + name,
		Account:   owner,
		Label:     "label " + name,
		Note:      "note " + name,
		ExpiresAt: expires,
		CreatedAt: createdAt,
	}
	got, err := e.keyManager.CreateAPIKey(e.ctx, k)
	if err != nil {
		t.Fatalf("CreateAPIKey(%s): %v", name, err)
	}
	if got.ID <= 0 || got.ID == k.ID {
		t.Fatalf("CreateAPIKey(%s) assigned ID %d, want a positive ID of the store's", name, got.ID)
	}
	k.ID = got.ID
	sameKey(t, "CreateAPIKey("+name+") result", got, k)
	return got
}

// sameKey fails t unless got equals want field by field.
func sameKey(t *testing.T, what string, got, want store.APIKey) {
	t.Helper()
	if got.ID != want.ID || got.Hash != want.Hash || got.Prefix != want.Prefix ||
		got.Account != want.Account || got.Label != want.Label ||
		got.Note != want.Note || got.BoundIP != want.BoundIP ||
		!got.ExpiresAt.Equal(want.ExpiresAt) || !got.CreatedAt.Equal(want.CreatedAt) ||
		!got.LastUsedAt.Equal(want.LastUsedAt) || got.LastUsedIP != want.LastUsedIP ||
		got.RequestCount != want.RequestCount {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// findKey returns the key with k's hash, failing t unless it equals k.
func (e *env) findKey(t *testing.T, what string, k store.APIKey) {
	t.Helper()
	got, err := e.keyFinder.APIKeyByHash(e.ctx, k.Hash)
	if err != nil {
		t.Fatalf("%s: APIKeyByHash: %v", what, err)
	}
	sameKey(t, what, got, k)
}

// listKeys fails t unless the keys of owner are want, in order.
func (e *env) listKeys(t *testing.T, what string, owner store.AccountRef, want ...store.APIKey) {
	t.Helper()
	got, err := e.keyManager.APIKeys(e.ctx, owner)
	if err != nil {
		t.Fatalf("%s: APIKeys(%s): %v", what, refString(owner), err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: APIKeys(%s) returned %d keys, want %d: %+v", what, refString(owner), len(got), len(want), got)
	}
	for i := range want {
		sameKey(t, what+": APIKeys("+refString(owner)+")["+itoa(i)+"]", got[i], want[i])
	}
}

func keysFinderNotFound(t *testing.T, e *env) {
	_, err := e.keyFinder.APIKeyByHash(e.ctx, hash("absent"))
	wantNotFound(t, "APIKeyByHash of an absent hash", err)
	_, err = e.keyFinder.APIKeyByHash(e.ctx, store.Hash{})
	wantNotFound(t, "APIKeyByHash of the zero hash", err)
	ok(t, "RecordAPIKeyUse of an absent ID", e.keyFinder.RecordAPIKeyUse(e.ctx, 12345, e.now(), "192.0.2.1", 1))
}

func keysManagerNotFound(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	e.listKeys(t, "no keys", alice)
	wantNotFound(t, "RevokeAPIKey of an absent ID", e.keyManager.RevokeAPIKey(e.ctx, alice, 12345))
}

func keysCreateAndFind(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	k1 := e.createKey(t, "one", alice, e.now(), e.now().Add(90*24*time.Hour))
	k2 := e.createKey(t, "two", alice, e.now(), time.Time{})
	if k1.ID == k2.ID {
		t.Fatalf("two keys got ID %d", k1.ID)
	}
	if !k1.LastUsedAt.IsZero() || k1.LastUsedIP != "" || k1.RequestCount != 0 {
		t.Fatalf("a new key has LastUsedAt %v, LastUsedIP %q, RequestCount %d", k1.LastUsedAt, k1.LastUsedIP, k1.RequestCount)
	}
	e.findKey(t, "key one", k1)
	e.findKey(t, "key two", k2)
}

func keysHashTaken(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	bob := e.owner(t, scopes.User, "bob")
	k := e.createKey(t, "one", alice, e.now(), time.Time{})
	dup := k
	dup.Account, dup.Label = bob, "bob's"
	_, err := e.keyManager.CreateAPIKey(e.ctx, dup)
	wantConflict(t, "CreateAPIKey with a hash already stored", err)
	e.findKey(t, "the first key after a refused duplicate", k)
	e.listKeys(t, "the refused duplicate's owner", bob)
}

func keysConcurrentSameHash(t *testing.T, e *env) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []store.APIKey
		errs    []error
	)
	owners := make([]store.AccountRef, concurrency)
	for i := range owners {
		owners[i] = e.owner(t, scopes.User, "owner"+itoa(i))
	}
	for i := range concurrency {
		wg.Go(func() {
			got, err := e.keyManager.CreateAPIKey(e.ctx, store.APIKey{
				Hash: hash("contested"), Prefix: "kw_c", Account: owners[i], CreatedAt: e.now(),
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, got)
			case !errors.Is(err, store.ErrConflict):
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent CreateAPIKey failed: %v", errs[0])
	}
	if len(winners) != 1 {
		t.Fatalf("%d of %d concurrent CreateAPIKey with one hash succeeded, want exactly 1", len(winners), concurrency)
	}
	e.findKey(t, "the contested key", winners[0])
}

// recordUse calls RecordAPIKeyUse, failing t on error.
func (e *env) recordUse(t *testing.T, k store.APIKey, at time.Time, ip string, requests int64) {
	t.Helper()
	ok(t, "RecordAPIKeyUse("+itoa(int(requests))+")", e.keyFinder.RecordAPIKeyUse(e.ctx, k.ID, at, ip, requests))
}

func keysNoteAndBoundIP(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	// Whatever the host gives is kept as given: the store neither parses
	// nor normalizes an address.
	tests := []struct{ note, boundIP string }{
		{"deploy bot, CI runner 3", "192.0.2.7"},
		{"", "10.0.0.0/8"},
		{"ünïcödé and a\nsecond line", "2001:DB8::/32"},
		{"zone", "fe80::1%eth0"},
		{"mapped", "::ffff:192.0.2.7"},
		{"only a note", ""},
	}
	var keys []store.APIKey
	for i, tc := range tests {
		k := store.APIKey{
			Hash: hash("bound " + itoa(i)), Prefix: "kw_b" + itoa(i), Account: alice,
			Note: tc.note, BoundIP: tc.boundIP, CreatedAt: e.now().Add(time.Duration(i) * time.Second),
		}
		got, err := e.keyManager.CreateAPIKey(e.ctx, k)
		ok(t, "CreateAPIKey with BoundIP "+quote(tc.boundIP), err)
		k.ID = got.ID
		sameKey(t, "CreateAPIKey with BoundIP "+quote(tc.boundIP)+" result", got, k)
		e.findKey(t, "a key with BoundIP "+quote(tc.boundIP), k)
		keys = append(keys, k)
	}
	e.listKeys(t, "keys with notes and bound addresses", alice, keys...)
	// Recording a use changes neither.
	e.recordUse(t, keys[0], e.now(), "192.0.2.7", 1)
	keys[0].LastUsedAt, keys[0].LastUsedIP, keys[0].RequestCount = e.now(), "192.0.2.7", 1
	e.findKey(t, "a bound key after a recorded use", keys[0])
}

func keysRecordUse(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	k1 := e.createKey(t, "one", alice, e.now(), time.Time{})
	k2 := e.createKey(t, "two", alice, e.now(), time.Time{})
	e.clock.Advance(5 * time.Minute)
	at := e.now()
	e.recordUse(t, k1, at, "192.0.2.1", 1)
	k1.LastUsedAt, k1.LastUsedIP, k1.RequestCount = at, "192.0.2.1", 1
	e.findKey(t, "the used key", k1)
	e.findKey(t, "the other key", k2)
	e.listKeys(t, "after a recorded use", alice, k1, k2)

	// A batch: several requests recorded at once, the latest's address.
	e.clock.Advance(time.Minute)
	at = e.now()
	e.recordUse(t, k1, at, "2001:db8::2", 41)
	k1.LastUsedAt, k1.LastUsedIP, k1.RequestCount = at, "2001:db8::2", 42
	e.findKey(t, "the key after a batch of 41", k1)

	// No requests: the time and address move, the count does not.
	e.clock.Advance(time.Minute)
	at = e.now()
	e.recordUse(t, k1, at, "198.51.100.3", 0)
	k1.LastUsedAt, k1.LastUsedIP = at, "198.51.100.3"
	e.findKey(t, "the key after a use of no requests", k1)

	// An unknown address is recorded as unknown.
	e.clock.Advance(time.Minute)
	at = e.now()
	e.recordUse(t, k2, at, "", 3)
	k2.LastUsedAt, k2.RequestCount = at, 3
	e.findKey(t, "the other key, used without an address", k2)
	e.listKeys(t, "after uses of both", alice, k1, k2)
}

func keysRecordUseOlder(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	k := e.createKey(t, "one", alice, e.now(), time.Time{})
	later := e.now().Add(10 * time.Minute)
	e.recordUse(t, k, later, "192.0.2.10", 1)
	// A batch that arrives late, from before the last use: it counts, but
	// the last use stays the later one.
	e.recordUse(t, k, later.Add(-5*time.Minute), "192.0.2.5", 2)
	k.LastUsedAt, k.LastUsedIP, k.RequestCount = later, "192.0.2.10", 3
	e.findKey(t, "after an older use was recorded", k)
	// The same instant is not after it: the address stays too.
	e.recordUse(t, k, later, "192.0.2.11", 1)
	k.RequestCount = 4
	e.findKey(t, "after a use at the same instant was recorded", k)
	e.recordUse(t, k, later.Add(time.Nanosecond), "192.0.2.12", 1)
	k.LastUsedAt, k.LastUsedIP, k.RequestCount = later.Add(time.Nanosecond), "192.0.2.12", 5
	e.findKey(t, "after a use a nanosecond later was recorded", k)
}

func keysRecordUseConcurrent(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	k := e.createKey(t, "busy", alice, e.now(), time.Time{})
	other := e.createKey(t, "idle", alice, e.now(), time.Time{})
	base := e.now()
	var wg sync.WaitGroup
	errs := make(chan error, concurrency)
	for i := range concurrency {
		wg.Go(func() {
			// Each records one request at its own instant and address.
			at := base.Add(time.Duration(i+1) * time.Second)
			errs <- e.keyFinder.RecordAPIKeyUse(e.ctx, k.ID, at, "192.0.2."+itoa(i+1), 1)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		ok(t, "concurrent RecordAPIKeyUse", err)
	}
	// Every count kept; the last use the latest instant, with its own
	// address: time and address move together.
	k.RequestCount = concurrency
	k.LastUsedAt = base.Add(concurrency * time.Second)
	k.LastUsedIP = "192.0.2." + itoa(concurrency)
	e.findKey(t, "after "+itoa(concurrency)+" concurrent uses", k)
	e.findKey(t, "the key nobody used", other)
}

func keysRecordUseNegative(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	k := e.createKey(t, "one", alice, e.now(), time.Time{})
	e.recordUse(t, k, e.now(), "192.0.2.1", 2)
	err := e.keyFinder.RecordAPIKeyUse(e.ctx, k.ID, e.now().Add(time.Minute), "192.0.2.2", -1)
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		t.Fatalf("RecordAPIKeyUse of -1 requests: error %v, want a plain error", err)
	}
	k.LastUsedAt, k.LastUsedIP, k.RequestCount = e.now(), "192.0.2.1", 2
	e.findKey(t, "after a refused negative count", k)
	if err := e.keyFinder.RecordAPIKeyUse(e.ctx, 12345, e.now(), "", -1); err == nil {
		t.Fatal("RecordAPIKeyUse of -1 requests on an absent key succeeded")
	}
}

func keysListOrder(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	bob := e.owner(t, scopes.User, "bob")
	adminAlice := e.owner(t, scopes.Admin, "alice")
	t0 := e.now()
	// Created out of order; two share a CreatedAt.
	keys := []store.APIKey{
		e.createKey(t, "2h", alice, t0.Add(2*time.Hour), time.Time{}),
		e.createKey(t, "0", alice, t0, time.Time{}),
		e.createKey(t, "1h", alice, t0.Add(time.Hour), t0.Add(3*time.Hour)),
		e.createKey(t, "30m-a", alice, t0.Add(30*time.Minute), time.Time{}),
		e.createKey(t, "30m-b", alice, t0.Add(30*time.Minute), time.Time{}),
	}
	expiring := e.createKey(t, "expiring", alice, t0.Add(-time.Hour), t0.Add(10*time.Minute))
	bobs := e.createKey(t, "bob", bob, t0.Add(-2*time.Hour), time.Time{})
	admins := e.createKey(t, "admin", adminAlice, t0.Add(-2*time.Hour), time.Time{})

	e.listKeys(t, "before expiry", alice, sorted(append(slices.Clone(keys), expiring))...)
	e.clock.Advance(10 * time.Minute)
	e.listKeys(t, "after one key expired", alice, sorted(keys)...)
	e.listKeys(t, "bob", bob, bobs)
	e.listKeys(t, "admin alice", adminAlice, admins)
	if adminAlice != (store.AccountRef{Scope: scopes.Admin, ID: alice.ID}) {
		// The user's ID in admin scope must not list the user's keys.
		e.listKeys(t, "the user's ID in admin scope", store.AccountRef{Scope: scopes.Admin, ID: alice.ID})
	}
}

// sorted returns keys oldest first: by CreatedAt, then ID.
func sorted(keys []store.APIKey) []store.APIKey {
	return slices.SortedFunc(slices.Values(keys), func(a, b store.APIKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
}

func keysListCopy(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	bob := e.owner(t, scopes.User, "bob")
	k1 := e.createKey(t, "one", alice, e.now(), time.Time{})
	k2 := e.createKey(t, "two", alice, e.now().Add(time.Second), time.Time{})
	got, err := e.keyManager.APIKeys(e.ctx, alice)
	ok(t, "APIKeys", err)
	if len(got) != 2 {
		t.Fatalf("APIKeys returned %d keys, want 2", len(got))
	}
	// A caller that edits what it got must not edit the store.
	for i := range got {
		got[i].Account = bob
		got[i].Label = "edited"
		got[i].Note = "edited"
		got[i].BoundIP = "198.51.100.0/24"
		got[i].RequestCount = 99
		got[i].Hash = hash("edited")
		got[i].ExpiresAt = e.now()
	}
	got[0], got[1] = got[1], got[0]
	_ = append(got[:1], store.APIKey{ID: 99})
	e.listKeys(t, "after editing a returned list", alice, k1, k2)
	e.listKeys(t, "the owner the edit named", bob)
	e.findKey(t, "key one after editing a returned list", k1)
	e.findKey(t, "key two after editing a returned list", k2)
}

func keysRevokeByOwner(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	k1 := e.createKey(t, "one", alice, e.now(), time.Time{})
	k2 := e.createKey(t, "two", alice, e.now().Add(time.Second), time.Time{})
	ok(t, "RevokeAPIKey by its owner", e.keyManager.RevokeAPIKey(e.ctx, alice, k1.ID))
	_, err := e.keyFinder.APIKeyByHash(e.ctx, k1.Hash)
	wantNotFound(t, "APIKeyByHash of a revoked key", err)
	e.listKeys(t, "after revoking one", alice, k2)
	e.findKey(t, "the key not revoked", k2)
	wantNotFound(t, "RevokeAPIKey of a revoked key", e.keyManager.RevokeAPIKey(e.ctx, alice, k1.ID))
	ok(t, "RecordAPIKeyUse of a revoked key", e.keyFinder.RecordAPIKeyUse(e.ctx, k1.ID, e.now(), "192.0.2.1", 1))
	_, err = e.keyFinder.APIKeyByHash(e.ctx, k1.Hash)
	wantNotFound(t, "APIKeyByHash of a revoked key after a recorded use", err)
	e.findKey(t, "the key not revoked, after a use of the revoked one was recorded", k2)
}

func keysRevokeByOther(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	bob := e.owner(t, scopes.User, "bob")
	k := e.createKey(t, "alice", alice, e.now(), time.Time{})
	e.createKey(t, "bob", bob, e.now(), time.Time{})
	for _, other := range []store.AccountRef{
		bob,
		{Scope: scopes.Admin, ID: alice.ID}, // same ID, other scope
		{Scope: 0, ID: alice.ID},            // no scope
		{Scope: scopes.User, ID: 0},
	} {
		err := e.keyManager.RevokeAPIKey(e.ctx, other, k.ID)
		wantNotFound(t, "RevokeAPIKey of alice's key by "+refString(other), err)
	}
	e.findKey(t, "alice's key after others tried to revoke it", k)
	e.listKeys(t, "alice's keys after others tried to revoke one", alice, k)
}

func keysExpire(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	expiring := e.createKey(t, "expiring", alice, e.now(), e.now().Add(time.Hour))
	forever := e.createKey(t, "forever", alice, e.now().Add(time.Second), time.Time{})

	e.clock.Advance(time.Hour - time.Second)
	e.findKey(t, "a second before expiry", expiring)
	e.listKeys(t, "a second before expiry", alice, expiring, forever)

	e.clock.Advance(time.Second) // ExpiresAt is not after now: expired
	_, err := e.keyFinder.APIKeyByHash(e.ctx, expiring.Hash)
	wantNotFound(t, "APIKeyByHash at ExpiresAt", err)
	e.listKeys(t, "at ExpiresAt", alice, forever)
	wantNotFound(t, "RevokeAPIKey of an expired key", e.keyManager.RevokeAPIKey(e.ctx, alice, expiring.ID))

	e.clock.Advance(10 * 365 * 24 * time.Hour)
	e.findKey(t, "a key without expiry, ten years on", forever)
	_, err = e.keyFinder.APIKeyByHash(e.ctx, expiring.Hash)
	wantNotFound(t, "APIKeyByHash of an expired key, ten years on", err)
}

func keysRecordUseExpired(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	k := e.createKey(t, "expiring", alice, e.now(), e.now().Add(time.Minute))
	e.clock.Advance(time.Minute)
	ok(t, "RecordAPIKeyUse of an expired key", e.keyFinder.RecordAPIKeyUse(e.ctx, k.ID, e.now(), "192.0.2.1", 1))
	_, err := e.keyFinder.APIKeyByHash(e.ctx, k.Hash)
	wantNotFound(t, "APIKeyByHash of an expired key after a recorded use", err)
	e.listKeys(t, "after recording a use of an expired key", alice)
}
