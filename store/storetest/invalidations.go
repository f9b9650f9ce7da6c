package storetest

import (
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// invalidationCases checks [store.Invalidations].
func invalidationCases() []testCase {
	return []testCase{
		{"FirstCallIsListening", invalidations, invalidationsFirstCallIsListening},
		{"HeardWithExactRef", invalidations, invalidationsExactRef},
		{"EveryWatcherHears", invalidations, invalidationsEveryWatcher},
		{"NoCallAfterStop", invalidations, invalidationsNoCallAfterStop},
		{"StopWaitsForRunningCall", invalidations, invalidationsStopWaits},
		{"OneCallAtATime", invalidations, invalidationsOneCallAtATime},
		{"InvalidRefIsAnError", invalidations, invalidationsInvalidRef},
	}
}

// WaitEnv names the environment variable that sets how long a case waits
// for a watcher to hear something before it fails (a duration, "2s");
// [DefaultWait] when unset.
const WaitEnv = "KEYWARD_STORETEST_WAIT"

// DefaultWait is how long a case waits for a watcher to hear something
// before it fails, when [WaitEnv] is unset: long enough for a loaded
// machine, since no case measures how long anything takes.
const DefaultWait = 30 * time.Second

// waitFor returns how long t's cases wait for an event.
func waitFor(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv(WaitEnv)
	if v == "" {
		return DefaultWait
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration", WaitEnv, v)
	}
	return d
}

// eventKind is which method of a watcher was called.
type eventKind int

const (
	listening eventKind = iota + 1
	deaf
	invalidated
)

// event is one call to a watcher.
type event struct {
	kind eventKind
	ref  store.AccountRef // of Invalidated
}

// String describes the call: "Invalidated(user 7)".
func (ev event) String() string {
	switch ev.kind {
	case listening:
		return "Listening()"
	case deaf:
		return "Deaf()"
	}
	return "Invalidated(" + refString(ev.ref) + ")"
}

// watcher is a [store.InvalidationWatcher] that records what it hears,
// and whether two calls ever overlapped or came after stop returned.
type watcher struct {
	name string
	wait time.Duration
	// hold, if not nil, is called within each Invalidated, before the
	// call is recorded: to block it, or to widen the window in which a
	// second call would overlap it.
	hold func(ref store.AccountRef)

	inCall  atomic.Int32
	overlap atomic.Bool
	wake    chan struct{} // a value after each call

	mu      sync.Mutex
	events  []event
	read    int     // events before it have been taken by next
	stopped bool    // stop has returned
	late    []event // calls after stop had returned
}

func (w *watcher) Listening()                       { w.record(event{kind: listening}) }
func (w *watcher) Deaf()                            { w.record(event{kind: deaf}) }
func (w *watcher) Invalidated(ref store.AccountRef) { w.record(event{kind: invalidated, ref: ref}) }

// record notes a call.
func (w *watcher) record(ev event) {
	if w.inCall.Add(1) > 1 {
		w.overlap.Store(true)
	}
	defer w.inCall.Add(-1)
	if ev.kind == invalidated && w.hold != nil {
		w.hold(ev.ref)
	}
	w.mu.Lock()
	if w.stopped {
		w.late = append(w.late, ev)
	} else {
		w.events = append(w.events, ev)
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// next returns the next call w heard, waiting for it; t fails if none
// comes in w.wait.
func (w *watcher) next(t *testing.T, what string) event {
	t.Helper()
	timer := time.NewTimer(w.wait)
	defer timer.Stop()
	for {
		w.mu.Lock()
		if w.read < len(w.events) {
			ev := w.events[w.read]
			w.read++
			w.mu.Unlock()
			return ev
		}
		w.mu.Unlock()
		select {
		case <-w.wake:
		case <-timer.C:
			t.Fatalf("%s, %s: nothing heard in %v", w.name, what, w.wait)
		}
	}
}

// awaitListening waits until w is told Listening. A Deaf before it is
// allowed (the channel may not be up at once); an Invalidated is not.
func (w *watcher) awaitListening(t *testing.T) {
	t.Helper()
	for {
		switch ev := w.next(t, "waiting for Listening"); ev.kind {
		case listening:
			return
		case deaf:
			t.Logf("%s: Deaf before Listening", w.name)
		default:
			t.Fatalf("%s: %v before Listening: the first call must be Listening or Deaf", w.name, ev)
		}
	}
}

// lateCalls returns the calls made to w after its stop had returned.
func (w *watcher) lateCalls() []event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.late)
}

// watch starts a watcher named name on the store, with hold (may be nil;
// see [watcher]), and returns it with a function that calls the stop
// WatchInvalidations returned, once, and notes that it has returned.
// When the test ends the watch is stopped, and t fails if calls to the
// watcher ever overlapped or came after stop.
func (e *env) watch(t *testing.T, name string, hold func(store.AccountRef)) (*watcher, func()) {
	t.Helper()
	w := &watcher{name: name, wait: waitFor(t), hold: hold, wake: make(chan struct{}, 1)}
	stop, err := e.inval.WatchInvalidations(w)
	if err != nil {
		t.Fatalf("WatchInvalidations for %s: %v", name, err)
	}
	var once sync.Once
	stopNow := func() {
		once.Do(func() {
			stop()
			w.mu.Lock()
			w.stopped = true
			w.mu.Unlock()
		})
	}
	t.Cleanup(func() {
		stopNow()
		if w.overlap.Load() {
			t.Errorf("%s: two calls to it ran at once", name)
		}
		if late := w.lateCalls(); len(late) > 0 {
			t.Errorf("%s: called after stop had returned: %v", name, late)
		}
	})
	return w, stopNow
}

// send invalidates ref, noting that it was sent.
func (e *env) send(ref store.AccountRef) error {
	e.sentMu.Lock()
	if e.sent == nil {
		e.sent = make(map[store.AccountRef]bool)
	}
	e.sent[ref] = true
	e.sentMu.Unlock()
	if err := e.inval.Invalidate(e.ctx, ref); err != nil {
		return fmt.Errorf("Invalidate(%s): %w", refString(ref), err)
	}
	return nil
}

// wasSent reports whether ref was sent in this case.
func (e *env) wasSent(ref store.AccountRef) bool {
	e.sentMu.Lock()
	defer e.sentMu.Unlock()
	return e.sent[ref]
}

// hear invalidates each of refs, then waits until every watcher in ws has
// heard them all; see [env.await].
func (e *env) hear(t *testing.T, refs []store.AccountRef, ws ...*watcher) {
	t.Helper()
	for _, ref := range refs {
		ok(t, "send", e.send(ref))
	}
	e.await(t, refs, ws...)
}

// await waits until every watcher in ws has heard each of refs, which
// have been sent. A ref heard that was never sent in the case fails t
// (one sent twice may be heard twice). A watcher told Deaf may have
// missed what was sent: await waits for its Listening and sends what it
// has not heard again.
func (e *env) await(t *testing.T, refs []store.AccountRef, ws ...*watcher) {
	t.Helper()
	for _, w := range ws {
		missing := make(map[store.AccountRef]bool, len(refs))
		for _, ref := range refs {
			missing[ref] = true
		}
		for len(missing) > 0 {
			ev := w.next(t, fmt.Sprintf("waiting for %d invalidations", len(missing)))
			switch ev.kind {
			case invalidated:
				if !e.wasSent(ev.ref) {
					t.Fatalf("%s heard %v, which was never sent", w.name, ev)
				}
				delete(missing, ev.ref)
				continue
			case deaf:
				t.Logf("%s: Deaf while %d invalidations were on their way; sending them again once it listens", w.name, len(missing))
				w.awaitListening(t)
			}
			// Listening, with or without a Deaf: what was sent before
			// may have been missed.
			for ref := range missing {
				ok(t, "send again", e.send(ref))
			}
		}
	}
}

// namedRef is an account ref with what it stands for, in a table.
type namedRef struct {
	name string
	ref  store.AccountRef
}

// userRef and adminRef return the account refs of the scope with the ID.
func userRef(id int64) store.AccountRef  { return store.AccountRef{Scope: scopes.User, ID: id} }
func adminRef(id int64) store.AccountRef { return store.AccountRef{Scope: scopes.Admin, ID: id} }

func invalidationsFirstCallIsListening(t *testing.T, e *env) {
	w, _ := e.watch(t, "the watcher", nil)
	// Sent before the watcher may have been told it listens: heard or
	// not, never before Listening.
	for _, ref := range []store.AccountRef{userRef(1), adminRef(2), userRef(3)} {
		ok(t, "send", e.send(ref))
	}
	w.awaitListening(t)
	e.hear(t, []store.AccountRef{userRef(4)}, w)
}

func invalidationsExactRef(t *testing.T, e *env) {
	w, _ := e.watch(t, "the watcher", nil)
	w.awaitListening(t)
	for _, tc := range []namedRef{
		{"a user", userRef(1)},
		{"an administrator", adminRef(2)}, // not heard as user 2
		{"a user with a 40-bit ID", userRef(1<<40 + 3)},
		{"an administrator with an ID above 2^53", adminRef(1<<53 + 1)}, // not through a float64
		{"the largest ID", userRef(math.MaxInt64)},
		{"a user with the ID of an administrator", userRef(1<<53 + 1)},
	} {
		t.Logf("%s: %s", tc.name, refString(tc.ref))
		e.hear(t, []store.AccountRef{tc.ref}, w)
	}
}

func invalidationsEveryWatcher(t *testing.T, e *env) {
	var ws []*watcher
	for i := range 3 {
		w, _ := e.watch(t, "watcher "+itoa(i+1), nil)
		w.awaitListening(t)
		ws = append(ws, w)
	}
	e.hear(t, []store.AccountRef{userRef(7), adminRef(7)}, ws...)
}

func invalidationsNoCallAfterStop(t *testing.T, e *env) {
	stopped, stop := e.watch(t, "the stopped watcher", nil)
	other, _ := e.watch(t, "the other watcher", nil)
	stopped.awaitListening(t)
	other.awaitListening(t)
	e.hear(t, []store.AccountRef{userRef(1)}, stopped, other)
	stop()
	// Sent after stop returned. Once the other watcher has heard them, a
	// store that still calls the stopped one has had its chance.
	e.hear(t, []store.AccountRef{userRef(2), adminRef(3)}, other)
	if late := stopped.lateCalls(); len(late) > 0 {
		t.Fatalf("%s was called after stop had returned: %v", stopped.name, late)
	}
}

// stopPause is how long StopWaitsForRunningCall gives a stop that does
// not wait for a running call to return anyway. A stop that waits passes
// however long it is.
const stopPause = 50 * time.Millisecond

func invalidationsStopWaits(t *testing.T, e *env) {
	blocked := userRef(9)
	entered, release := make(chan struct{}), make(chan struct{})
	var enterOnce, releaseOnce sync.Once
	w, stop := e.watch(t, "the watcher", func(ref store.AccountRef) {
		if ref == blocked {
			enterOnce.Do(func() { close(entered) })
			<-release
		}
	})
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the watch's cleanup stops it
	w.awaitListening(t)

	sent := make(chan error, 1)
	go func() { sent <- e.send(blocked) }() // a Memory calls the watcher from here
	returned := false                       // whether Invalidate has returned
	select {
	case <-entered:
	case err := <-sent:
		ok(t, "send", err)
		returned = true
		select {
		case <-entered:
		case <-time.After(w.wait):
			t.Fatalf("%s not heard in %v", refString(blocked), w.wait)
		}
	case <-time.After(w.wait):
		t.Fatalf("%s not heard in %v", refString(blocked), w.wait)
	}

	stopped := make(chan struct{})
	go func() {
		stop()
		close(stopped)
	}()
	select {
	case <-stopped:
		unblock()
		t.Fatal("stop returned while a call to the watcher was running")
	case <-time.After(stopPause):
	}
	unblock()
	select {
	case <-stopped:
	case <-time.After(w.wait):
		t.Fatalf("stop had not returned %v after the running call did", w.wait)
	}
	if !returned {
		select {
		case err := <-sent:
			ok(t, "send", err)
		case <-time.After(w.wait):
			t.Fatalf("Invalidate had not returned %v after the call it made did", w.wait)
		}
	}
}

// concurrentInvalidations is how many Invalidates OneCallAtATime makes at
// once. Each call to the watcher takes a millisecond, so that calls that
// may overlap do.
const concurrentInvalidations = 20

func invalidationsOneCallAtATime(t *testing.T, e *env) {
	w, _ := e.watch(t, "the watcher", func(store.AccountRef) {
		time.Sleep(time.Millisecond) // widen the window in which a second call would overlap
	})
	w.awaitListening(t)
	refs := make([]store.AccountRef, concurrentInvalidations)
	for i := range refs {
		refs[i] = userRef(int64(i + 1))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(refs))
	for _, ref := range refs {
		wg.Go(func() { errs <- e.send(ref) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		ok(t, "concurrent send", err)
	}
	e.await(t, refs, w)
	if w.overlap.Load() {
		t.Fatalf("%d concurrent Invalidates: two calls to one watcher ran at once", len(refs))
	}
}

func invalidationsInvalidRef(t *testing.T, e *env) {
	w, _ := e.watch(t, "the watcher", nil)
	w.awaitListening(t)
	for _, tc := range []namedRef{
		{"the zero ref", store.AccountRef{}},
		{"no scope", store.AccountRef{ID: 7}},
		{"an unknown scope", store.AccountRef{Scope: scopes.Admin + 1, ID: 7}},
		{"ID 0", userRef(0)},
		{"a negative ID", adminRef(-7)},
	} {
		if err := e.inval.Invalidate(e.ctx, tc.ref); err == nil {
			t.Errorf("Invalidate of %s (%v, %d) = nil, want an error", tc.name, tc.ref.Scope, tc.ref.ID)
		}
	}
	// None of them may be heard (await fails on a ref never sent).
	e.hear(t, []store.AccountRef{userRef(8)}, w)
}
