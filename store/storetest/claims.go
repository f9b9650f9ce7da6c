package storetest

import (
	"sync"
	"testing"
	"time"
)

// claimCases checks [store.Claims].
func claimCases() []testCase {
	return []testCase{
		{"FirstWins", claims, claimsFirstWins},
		{"KeysAreIndependent", claims, claimsIndependent},
		{"LiveBeforeTTL", claims, claimsLiveBeforeTTL},
		{"ClaimableAgainAtTTL", claims, claimsAgainAtTTL},
		{"NonPositiveTTLIsAnError", claims, claimsNonPositiveTTL},
		{"ConcurrentExactlyOne", claims, claimsConcurrent},
		{"ConcurrentExactlyOneAfterExpiry", claims, claimsConcurrentAfterExpiry},
	}
}

// claim calls Claim and fails t unless it returns want.
func (e *env) claim(t *testing.T, what, key string, ttl time.Duration, want bool) {
	t.Helper()
	got, err := e.claims.Claim(e.ctx, key, ttl)
	if err != nil {
		t.Fatalf("%s: Claim(%q, %v): %v", what, key, ttl, err)
	}
	if got != want {
		t.Fatalf("%s: Claim(%q, %v) = %v, want %v", what, key, ttl, got, want)
	}
}

func claimsFirstWins(t *testing.T, e *env) {
	e.claim(t, "first claim", "nonce", time.Minute, true)
	for i := range 3 {
		// A replayed etoken, TOTP code or captcha.
		e.claim(t, "replay "+itoa(i+1), "nonce", time.Minute, false)
	}
}

func claimsIndependent(t *testing.T, e *env) {
	e.claim(t, "first claim of a", "a", time.Minute, true)
	e.claim(t, "first claim of b", "b", time.Minute, true)
	e.claim(t, "first claim of A", "A", time.Minute, true) // keys are exact
	e.claim(t, "second claim of a", "a", time.Minute, false)
	e.claim(t, "second claim of b", "b", time.Minute, false)
}

func claimsLiveBeforeTTL(t *testing.T, e *env) {
	e.claim(t, "first claim", "nonce", 10*time.Second, true)
	e.clock.Advance(10*time.Second - time.Second)
	e.claim(t, "a second before the ttl ends", "nonce", 10*time.Second, false)
}

func claimsAgainAtTTL(t *testing.T, e *env) {
	e.claim(t, "first claim", "nonce", 10*time.Second, true)
	e.clock.Advance(10 * time.Second) // the claim was live while now < claimed+ttl
	e.claim(t, "once the ttl has passed", "nonce", 10*time.Second, true)
	e.claim(t, "right after the new claim", "nonce", 10*time.Second, false)
	e.clock.Advance(9 * time.Second)
	e.claim(t, "before the new claim's ttl ends", "nonce", 10*time.Second, false)
}

func claimsNonPositiveTTL(t *testing.T, e *env) {
	// A claim that is never live would let every replay through.
	for _, ttl := range []time.Duration{0, -time.Second} {
		if got, err := e.claims.Claim(e.ctx, "nonce", ttl); err == nil {
			t.Fatalf("Claim with ttl %v = %v, nil; want an error", ttl, got)
		}
	}
	e.claim(t, "after refused claims", "nonce", time.Minute, true)
}

// raceClaims runs [concurrency] concurrent claims of key and fails t unless
// exactly one wins.
func (e *env) raceClaims(t *testing.T, key string) {
	t.Helper()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		wins     int
		firstErr error
	)
	for range concurrency {
		wg.Go(func() {
			won, err := e.claims.Claim(e.ctx, key, time.Minute)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if won {
				wins++
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("concurrent Claim failed: %v", firstErr)
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent Claim(%q) returned true, want exactly 1", wins, concurrency, key)
	}
}

func claimsConcurrent(t *testing.T, e *env) {
	e.raceClaims(t, "backup code")
	e.claim(t, "after the race", "backup code", time.Minute, false)
}

func claimsConcurrentAfterExpiry(t *testing.T, e *env) {
	e.claim(t, "first claim", "nonce", time.Minute, true)
	e.clock.Advance(time.Minute)
	// Replacing an ended claim must be as atomic as making a new one.
	e.raceClaims(t, "nonce")
}
