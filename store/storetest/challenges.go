package storetest

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/store"
)

// challengeCases checks [store.Challenges].
func challengeCases() []testCase {
	return []testCase{
		{"AbsentIsNotFound", challenges, challengesAbsent},
		{"PutGetTake", challenges, challengesPutGetTake},
		{"TakeIsSingleUse", challenges, challengesSingleUse},
		{"ExpireAtExactTime", challenges, challengesExpire},
		{"IDTaken", challenges, challengesIDTaken},
		{"ReturnsCopies", challenges, challengesCopies},
		{"ConcurrentTakeExactlyOne", challenges, challengesConcurrentTake},
	}
}

func (e *env) putChallenge(t *testing.T, id string, ttl time.Duration) store.Challenge {
	t.Helper()
	c := store.Challenge{ID: id, Digits: []byte{1, 2, 3, 4, 5, 6}, ExpiresAt: e.now().Add(ttl)}
	ok(t, "PutChallenge("+quote(id)+")", e.challenges.PutChallenge(e.ctx, c))
	return c
}

func challengesAbsent(t *testing.T, e *env) {
	_, err := e.challenges.Challenge(e.ctx, "nope")
	wantNotFound(t, "Challenge of an absent ID", err)
	_, err = e.challenges.TakeChallenge(e.ctx, "nope")
	wantNotFound(t, "TakeChallenge of an absent ID", err)
}

func challengesPutGetTake(t *testing.T, e *env) {
	want := e.putChallenge(t, "c1", 10*time.Minute)
	e.putChallenge(t, "c2", 10*time.Minute)
	for range 2 { // reading does not use it up
		got, err := e.challenges.Challenge(e.ctx, "c1")
		if err != nil || got.ID != "c1" || !slices.Equal(got.Digits, want.Digits) || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Fatalf("Challenge(c1) = %+v, %v", got, err)
		}
	}
	got, err := e.challenges.TakeChallenge(e.ctx, "c1")
	if err != nil || !slices.Equal(got.Digits, want.Digits) {
		t.Fatalf("TakeChallenge(c1) = %+v, %v", got, err)
	}
	if _, err := e.challenges.Challenge(e.ctx, "c2"); err != nil {
		t.Fatalf("taking c1 took c2: %v", err)
	}
}

func challengesSingleUse(t *testing.T, e *env) {
	e.putChallenge(t, "once", 10*time.Minute)
	if _, err := e.challenges.TakeChallenge(e.ctx, "once"); err != nil {
		t.Fatal(err)
	}
	_, err := e.challenges.TakeChallenge(e.ctx, "once")
	wantNotFound(t, "second TakeChallenge (a solved captcha replayed)", err)
	_, err = e.challenges.Challenge(e.ctx, "once")
	wantNotFound(t, "Challenge after it was taken", err)
}

func challengesExpire(t *testing.T, e *env) {
	e.putChallenge(t, "old", 10*time.Minute)
	e.putChallenge(t, "older", 10*time.Minute)
	e.clock.Advance(10*time.Minute - time.Second)
	if _, err := e.challenges.Challenge(e.ctx, "old"); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	e.clock.Advance(time.Second)
	_, err := e.challenges.Challenge(e.ctx, "old")
	wantNotFound(t, "Challenge at its expiry", err)
	_, err = e.challenges.TakeChallenge(e.ctx, "older")
	wantNotFound(t, "TakeChallenge at its expiry", err)
	// An expired ID may be used again.
	e.putChallenge(t, "old", time.Minute)
}

func challengesIDTaken(t *testing.T, e *env) {
	e.putChallenge(t, "dup", 10*time.Minute)
	err := e.challenges.PutChallenge(e.ctx, store.Challenge{ID: "dup", Digits: []byte{9}, ExpiresAt: e.now().Add(time.Minute)})
	wantConflict(t, "PutChallenge of a live ID", err)
	got, _ := e.challenges.Challenge(e.ctx, "dup")
	if len(got.Digits) != 6 {
		t.Fatal("a refused put replaced the challenge")
	}
}

func challengesCopies(t *testing.T, e *env) {
	c := store.Challenge{ID: "copy", Digits: []byte{1, 2, 3}, ExpiresAt: e.now().Add(time.Minute)}
	ok(t, "PutChallenge", e.challenges.PutChallenge(e.ctx, c))
	c.Digits[0] = 9
	got, _ := e.challenges.Challenge(e.ctx, "copy")
	if got.Digits[0] != 1 {
		t.Fatal("the store keeps the caller's slice")
	}
	got.Digits[1] = 9
	again, _ := e.challenges.Challenge(e.ctx, "copy")
	if again.Digits[1] != 2 {
		t.Fatal("the store hands out its own slice")
	}
}

func challengesConcurrentTake(t *testing.T, e *env) {
	e.putChallenge(t, "race", 10*time.Minute)
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			if _, err := e.challenges.TakeChallenge(e.ctx, "race"); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d of %d concurrent takes of one challenge got it, want exactly 1", n, concurrency)
	}
}
