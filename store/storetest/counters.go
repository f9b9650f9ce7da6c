package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// counterCases checks [store.Counters].
func counterCases() []testCase {
	return []testCase{
		{"AbsentIsZero", counters, countersAbsent},
		{"CountsWithinWindow", counters, countersCount},
		{"WindowEndsAtResetAt", counters, countersWindowEnds},
		{"KeysAreIndependent", counters, countersIndependent},
		{"Reset", counters, countersReset},
		{"NonPositiveWindowIsAnError", counters, countersNonPositive},
		{"ConcurrentIncrements", counters, countersConcurrent},
		{"ConcurrentIncrementsAfterWindowEnds", counters, countersConcurrentAfterWindow},
		{"DecrementTakesBackOne", counters, countersDecrement},
		{"DecrementNeverBelowZero", counters, countersDecrementFloor},
		{"DecrementOfAbsentCounterKeepsItAbsent", counters, countersDecrementAbsent},
		{"DecrementOfEndedWindowDoesNotRevive", counters, countersDecrementEnded},
		{"DecrementKeepsWindowEnd", counters, countersDecrementKeepsEnd},
		{"ConcurrentIncrementDecrementPairs", counters, countersConcurrentPairs},
		{"ConcurrentDecrements", counters, countersConcurrentDecrements},
		{"ConcurrentDecrementsStopAtZero", counters, countersConcurrentDecrementsFloor},
	}
}

// increment calls Increment and fails t unless it returns want and
// wantReset.
func (e *env) increment(t *testing.T, key string, window time.Duration, want int64, wantReset time.Time) {
	t.Helper()
	n, reset, err := e.counters.Increment(e.ctx, key, window)
	if err != nil {
		t.Fatalf("Increment(%q, %v): %v", key, window, err)
	}
	if n != want || !reset.Equal(wantReset) {
		t.Fatalf("Increment(%q, %v) = %d, %v; want %d, %v", key, window, n, reset, want, wantReset)
	}
}

// count calls Count and fails t unless it returns want and wantReset.
func (e *env) count(t *testing.T, what, key string, want int64, wantReset time.Time) {
	t.Helper()
	n, reset, err := e.counters.Count(e.ctx, key)
	if err != nil {
		t.Fatalf("%s: Count(%q): %v", what, key, err)
	}
	if n != want || !reset.Equal(wantReset) {
		t.Fatalf("%s: Count(%q) = %d, %v; want %d, %v", what, key, n, reset, want, wantReset)
	}
}

func countersAbsent(t *testing.T, e *env) {
	e.count(t, "absent counter", "nobody", 0, time.Time{})
	ok(t, "Reset of an absent counter", e.counters.Reset(e.ctx, "nobody"))
	e.count(t, "absent counter after Reset", "nobody", 0, time.Time{})
}

func countersCount(t *testing.T, e *env) {
	end := e.now().Add(time.Minute)
	e.increment(t, "ip:192.0.2.1", time.Minute, 1, end)
	e.clock.Advance(10 * time.Second)
	e.increment(t, "ip:192.0.2.1", time.Minute, 2, end) // the window is fixed
	e.count(t, "after two", "ip:192.0.2.1", 2, end)
	e.clock.Advance(49 * time.Second) // a second before the end
	e.increment(t, "ip:192.0.2.1", time.Minute, 3, end)
	e.count(t, "a second before the window ends", "ip:192.0.2.1", 3, end)
}

func countersWindowEnds(t *testing.T, e *env) {
	end := e.now().Add(time.Minute)
	e.increment(t, "user:bob", time.Minute, 1, end)
	e.increment(t, "user:bob", time.Minute, 2, end)
	e.clock.Advance(time.Minute) // now is resetAt: the window has ended
	e.count(t, "at resetAt", "user:bob", 0, time.Time{})
	next := e.now().Add(time.Minute)
	e.increment(t, "user:bob", time.Minute, 1, next)
	e.count(t, "in the next window", "user:bob", 1, next)
	e.clock.Advance(5 * time.Minute) // long after: Count does not need a write to see it
	e.count(t, "long after the window", "user:bob", 0, time.Time{})
}

func countersIndependent(t *testing.T, e *env) {
	end := e.now().Add(time.Hour)
	e.increment(t, "a", time.Hour, 1, end)
	e.increment(t, "a", time.Hour, 2, end)
	e.increment(t, "A", time.Hour, 1, end) // keys are exact
	e.increment(t, "b", 2*time.Hour, 1, e.now().Add(2*time.Hour))
	ok(t, "Reset(a)", e.counters.Reset(e.ctx, "a"))
	e.count(t, "a after Reset", "a", 0, time.Time{})
	e.count(t, "A after Reset(a)", "A", 1, end)
	e.count(t, "b after Reset(a)", "b", 1, e.now().Add(2*time.Hour))
}

func countersReset(t *testing.T, e *env) {
	end := e.now().Add(time.Minute)
	for i := int64(1); i <= 3; i++ {
		e.increment(t, "k", time.Minute, i, end)
	}
	e.clock.Advance(5 * time.Second)
	ok(t, "Reset", e.counters.Reset(e.ctx, "k"))
	e.count(t, "after Reset", "k", 0, time.Time{})
	e.increment(t, "k", time.Minute, 1, e.now().Add(time.Minute)) // a new window from now
	ok(t, "Reset again", e.counters.Reset(e.ctx, "k"))
	ok(t, "Reset of a reset counter", e.counters.Reset(e.ctx, "k"))
}

func countersNonPositive(t *testing.T, e *env) {
	// A window that ends as it starts would never count past 1.
	for _, window := range []time.Duration{0, -time.Minute} {
		if n, _, err := e.counters.Increment(e.ctx, "k", window); err == nil {
			t.Fatalf("Increment with window %v = %d, nil; want an error", window, n)
		}
	}
	e.count(t, "after refused increments", "k", 0, time.Time{})
}

// raceIncrements runs [concurrency] concurrent increments of key and fails
// t unless they return each count from 1 to [concurrency] once, with one
// window end, wantReset.
func (e *env) raceIncrements(t *testing.T, key string, window time.Duration, wantReset time.Time) {
	t.Helper()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		seen     = make(map[int64]int)
		badReset []time.Time
		firstErr error
	)
	for range concurrency {
		wg.Go(func() {
			n, reset, err := e.counters.Increment(e.ctx, key, window)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			seen[n]++
			if !reset.Equal(wantReset) {
				badReset = append(badReset, reset)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("concurrent Increment failed: %v", firstErr)
	}
	for n := int64(1); n <= concurrency; n++ {
		if seen[n] != 1 {
			t.Fatalf("concurrent Increment returned %d %d times, want once (all: %v)", n, seen[n], seen)
		}
	}
	if len(seen) != concurrency {
		t.Fatalf("concurrent Increment returned counts outside 1..%d: %v", concurrency, seen)
	}
	if len(badReset) > 0 {
		t.Fatalf("concurrent Increment returned window end %v, want %v", badReset[0], wantReset)
	}
	e.count(t, "after the race", key, concurrency, wantReset)
}

func countersConcurrent(t *testing.T, e *env) {
	e.raceIncrements(t, "ip:198.51.100.7", time.Hour, e.now().Add(time.Hour))
}

func countersConcurrentAfterWindow(t *testing.T, e *env) {
	e.increment(t, "ip:198.51.100.7", time.Minute, 1, e.now().Add(time.Minute))
	e.increment(t, "ip:198.51.100.7", time.Minute, 2, e.now().Add(time.Minute))
	e.clock.Advance(time.Minute)
	// Restarting an ended window must be as atomic as counting in one.
	e.raceIncrements(t, "ip:198.51.100.7", time.Minute, e.now().Add(time.Minute))
}

// decrement calls Decrement and fails t if it returns an error.
func (e *env) decrement(t *testing.T, key string) {
	t.Helper()
	ok(t, "Decrement("+quote(key)+")", e.counters.Decrement(e.ctx, key))
}

func countersDecrement(t *testing.T, e *env) {
	end := e.now().Add(time.Minute)
	for i := int64(1); i <= 3; i++ {
		e.increment(t, "user:alice", time.Minute, i, end)
	}
	e.increment(t, "user:bob", time.Minute, 1, end)
	e.clock.Advance(10 * time.Second)
	e.decrement(t, "user:alice")
	e.count(t, "after one Decrement", "user:alice", 2, end)
	e.increment(t, "user:alice", time.Minute, 3, end) // counts on from the count taken back
	e.decrement(t, "user:alice")
	e.decrement(t, "user:alice")
	e.count(t, "after two more", "user:alice", 1, end)
	e.count(t, "another key", "user:bob", 1, end) // keys are independent
}

func countersDecrementFloor(t *testing.T, e *env) {
	end := e.now().Add(time.Minute)
	e.increment(t, "k", time.Minute, 1, end)
	for range 3 {
		e.decrement(t, "k")
	}
	// The counter is still there, at zero, in its window.
	e.count(t, "after more Decrements than Increments", "k", 0, end)
	e.increment(t, "k", time.Minute, 1, end)
	e.increment(t, "k", time.Minute, 2, end)
}

func countersDecrementAbsent(t *testing.T, e *env) {
	e.decrement(t, "nobody")
	e.count(t, "absent counter after Decrement", "nobody", 0, time.Time{})
	e.clock.Advance(5 * time.Second)
	e.increment(t, "nobody", 2*time.Minute, 1, e.now().Add(2*time.Minute)) // a fresh window from now
	// A reset counter is absent too.
	e.increment(t, "k", time.Hour, 1, e.now().Add(time.Hour))
	e.increment(t, "k", time.Hour, 2, e.now().Add(time.Hour))
	ok(t, "Reset", e.counters.Reset(e.ctx, "k"))
	e.clock.Advance(5 * time.Second)
	e.decrement(t, "k")
	e.count(t, "reset counter after Decrement", "k", 0, time.Time{})
	e.increment(t, "k", 2*time.Minute, 1, e.now().Add(2*time.Minute))
}

func countersDecrementEnded(t *testing.T, e *env) {
	end := e.now().Add(time.Minute)
	e.increment(t, "ip:192.0.2.9", time.Minute, 1, end)
	e.increment(t, "ip:192.0.2.9", time.Minute, 2, end)
	e.clock.Advance(time.Minute) // now is resetAt: the window has ended
	e.decrement(t, "ip:192.0.2.9")
	e.count(t, "ended counter after Decrement", "ip:192.0.2.9", 0, time.Time{})
	e.clock.Advance(10 * time.Second)
	next := e.now().Add(time.Minute)
	e.increment(t, "ip:192.0.2.9", time.Minute, 1, next) // starts again at 1, from now
	e.count(t, "in the next window", "ip:192.0.2.9", 1, next)
	e.clock.Advance(5 * time.Minute) // long after the end
	e.decrement(t, "ip:192.0.2.9")
	e.count(t, "long-ended counter after Decrement", "ip:192.0.2.9", 0, time.Time{})
	e.increment(t, "ip:192.0.2.9", time.Minute, 1, e.now().Add(time.Minute))
}

func countersDecrementKeepsEnd(t *testing.T, e *env) {
	end := e.now().Add(time.Minute)
	for i := int64(1); i <= 3; i++ {
		e.increment(t, "user:carol", time.Minute, i, end)
	}
	e.clock.Advance(30 * time.Second)
	e.decrement(t, "user:carol")
	e.count(t, "after a Decrement half way", "user:carol", 2, end)
	e.clock.Advance(29 * time.Second) // a second before the end
	e.decrement(t, "user:carol")
	e.count(t, "after a Decrement a second before the end", "user:carol", 1, end)
	e.clock.Advance(time.Second) // the original end
	e.count(t, "at the original end", "user:carol", 0, time.Time{})
	e.increment(t, "user:carol", time.Minute, 1, e.now().Add(time.Minute))
}

// raceDecrements runs [concurrency] concurrent decrements of key and fails
// t if any returns an error.
func (e *env) raceDecrements(t *testing.T, key string) {
	t.Helper()
	errs := make(chan error, concurrency)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() { errs <- e.counters.Decrement(e.ctx, key) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Decrement failed: %v", err)
		}
	}
}

func countersConcurrentPairs(t *testing.T, e *env) {
	const key, base = "ip:203.0.113.5", 3
	end := e.now().Add(time.Hour)
	for i := int64(1); i <= base; i++ {
		e.increment(t, key, time.Hour, i, end)
	}
	// Each goroutine takes back its own increment, as the throttle does,
	// so the count never reaches zero and no Decrement is refused.
	errs := make(chan error, concurrency)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			n, reset, err := e.counters.Increment(e.ctx, key, time.Hour)
			switch {
			case err != nil:
				errs <- err
			case n <= base || n > base+concurrency || !reset.Equal(end):
				errs <- fmt.Errorf("Increment = %d, %v; want a count in %d..%d and %v", n, reset, base+1, base+concurrency, end)
			default:
				errs <- e.counters.Decrement(e.ctx, key)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Increment and Decrement: %v", err)
		}
	}
	e.count(t, "after the pairs", key, base, end)
}

func countersConcurrentDecrements(t *testing.T, e *env) {
	const key, base = "ip:203.0.113.6", 3
	end := e.now().Add(time.Hour)
	e.raceIncrements(t, key, time.Hour, end)
	for i := int64(concurrency + 1); i <= concurrency+base; i++ {
		e.increment(t, key, time.Hour, i, end)
	}
	e.raceDecrements(t, key) // concurrency of them: exactly concurrency less
	e.count(t, "after the race", key, base, end)
	e.increment(t, key, time.Hour, base+1, end)
}

func countersConcurrentDecrementsFloor(t *testing.T, e *env) {
	const key = "ip:203.0.113.7"
	end := e.now().Add(time.Hour)
	for i := int64(1); i <= 3; i++ {
		e.increment(t, key, time.Hour, i, end)
	}
	e.raceDecrements(t, key) // far more than the count
	e.count(t, "after the race", key, 0, end)
	e.increment(t, key, time.Hour, 1, end)
}
