package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// tokenCases checks [store.Tokens].
func tokenCases() []testCase {
	return []testCase{
		{"AbsentIsNotFound", tokens, tokensAbsent},
		{"PutAndTake", tokens, tokensPutAndTake},
		{"TakeIsSingleUse", tokens, tokensSingleUse},
		{"ExpireAtExactTime", tokens, tokensExpire},
		{"HashTakenWhileLive", tokens, tokensHashTaken},
		{"PurposeKept", tokens, tokensPurpose},
		{"ConcurrentTakeExactlyOne", tokens, tokensConcurrentTake},
	}
}

// putToken stores a password reset token named name for owner, expiring in
// ttl, failing t on error.
func (e *env) putToken(t *testing.T, name string, owner store.AccountRef, ttl time.Duration) store.Token {
	t.Helper()
	tok := store.Token{Hash: hash("token " + name), Account: owner, Purpose: "password-reset", ExpiresAt: e.now().Add(ttl)}
	ok(t, "PutToken("+name+")", e.tokens.PutToken(e.ctx, tok))
	return tok
}

// takeToken takes want's token, failing t unless it is want.
func (e *env) takeToken(t *testing.T, what string, want store.Token) {
	t.Helper()
	got, err := e.tokens.TakeToken(e.ctx, want.Hash)
	if err != nil {
		t.Fatalf("%s: TakeToken: %v", what, err)
	}
	if got.Hash != want.Hash || got.Account != want.Account || got.Purpose != want.Purpose ||
		!got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// goneToken fails t unless taking the token whose hash is h is
// [store.ErrNotFound].
func (e *env) goneToken(t *testing.T, what string, h store.Hash) {
	t.Helper()
	_, err := e.tokens.TakeToken(e.ctx, h)
	wantNotFound(t, what, err)
}

// tokenOwner returns an account ref for tokens. Tokens name accounts but
// need no account to exist, so a store of tokens alone is tested too.
func tokenOwner(scope scopes.Scope, id int64) store.AccountRef {
	return store.AccountRef{Scope: scope, ID: id}
}

func tokensAbsent(t *testing.T, e *env) {
	e.goneToken(t, "TakeToken of an absent hash", hash("absent"))
	e.goneToken(t, "TakeToken of the zero hash", store.Hash{})
}

func tokensPutAndTake(t *testing.T, e *env) {
	alice := tokenOwner(scopes.User, 7)
	root := tokenOwner(scopes.Admin, 7) // same ID, other scope
	a := e.putToken(t, "alice", alice, 30*time.Minute)
	r := e.putToken(t, "root", root, 30*time.Minute)
	e.takeToken(t, "alice's token", a)
	e.takeToken(t, "root's token, after alice's was taken", r)
}

func tokensSingleUse(t *testing.T, e *env) {
	tok := e.putToken(t, "once", tokenOwner(scopes.User, 1), 30*time.Minute)
	e.takeToken(t, "the first take", tok)
	// A reset link followed twice, or replayed.
	e.goneToken(t, "the second take", tok.Hash)
	e.clock.Advance(time.Minute)
	e.goneToken(t, "a take a minute later", tok.Hash)
}

func tokensExpire(t *testing.T, e *env) {
	owner := tokenOwner(scopes.User, 1)
	early := e.putToken(t, "early", owner, 30*time.Minute)
	atExpiry := e.putToken(t, "at expiry", owner, 30*time.Minute)
	e.clock.Advance(30*time.Minute - time.Second)
	e.takeToken(t, "a second before ExpiresAt", early)
	e.clock.Advance(time.Second) // ExpiresAt is not after now: expired
	e.goneToken(t, "TakeToken at ExpiresAt", atExpiry.Hash)
	e.clock.Advance(time.Hour)
	e.goneToken(t, "TakeToken long after ExpiresAt", atExpiry.Hash)
}

func tokensHashTaken(t *testing.T, e *env) {
	alice := tokenOwner(scopes.User, 1)
	bob := tokenOwner(scopes.User, 2)
	first := e.putToken(t, "contested", alice, 30*time.Minute)
	dup := store.Token{Hash: first.Hash, Account: bob, Purpose: "other", ExpiresAt: e.now().Add(time.Hour)}
	wantConflict(t, "PutToken of a live token's hash", e.tokens.PutToken(e.ctx, dup))
	e.clock.Advance(30*time.Minute - time.Second)
	wantConflict(t, "PutToken of a live token's hash, a second before it expires", e.tokens.PutToken(e.ctx, dup))

	// Once the first has expired its hash is free, and the new token is
	// the one taken.
	e.clock.Advance(time.Second)
	dup.ExpiresAt = e.now().Add(time.Hour)
	ok(t, "PutToken of an expired token's hash", e.tokens.PutToken(e.ctx, dup))
	e.takeToken(t, "the token that replaced an expired one", dup)
	e.goneToken(t, "the hash after its second token was taken", dup.Hash)
}

func tokensPurpose(t *testing.T, e *env) {
	owner := tokenOwner(scopes.User, 1)
	purposes := []string{"password-reset", "email-change", "Password-Reset", ""}
	toks := make([]store.Token, len(purposes))
	for i, p := range purposes {
		toks[i] = store.Token{Hash: hash("purpose " + itoa(i)), Account: owner, Purpose: p, ExpiresAt: e.now().Add(time.Hour)}
		ok(t, "PutToken with purpose "+quote(p), e.tokens.PutToken(e.ctx, toks[i]))
	}
	// Taken in another order: each comes back with its own purpose, as
	// given, for the caller to check.
	for _, i := range []int{2, 0, 3, 1} {
		e.takeToken(t, "the token of purpose "+quote(purposes[i]), toks[i])
	}
}

func tokensConcurrentTake(t *testing.T, e *env) {
	tok := e.putToken(t, "race", tokenOwner(scopes.User, 1), 30*time.Minute)
	var (
		wg   sync.WaitGroup
		wins atomic.Int64
		mu   sync.Mutex
		errs []error
	)
	for range concurrency {
		wg.Go(func() {
			got, err := e.tokens.TakeToken(e.ctx, tok.Hash)
			switch {
			case err == nil && got.Account == tok.Account:
				wins.Add(1)
			case err == nil:
				mu.Lock()
				errs = append(errs, errors.New("TakeToken returned another token"))
				mu.Unlock()
			case !errors.Is(err, store.ErrNotFound):
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent TakeToken failed: %v", errs[0])
	}
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d of %d concurrent takes of one token got it, want exactly 1 (100 concurrent password resets with one link)", n, concurrency)
	}
}
