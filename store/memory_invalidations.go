package store

import (
	"context"
	"fmt"
	"sync"
)

// memoryWatches holds the watchers of a [Memory]'s invalidations.
type memoryWatches struct {
	mu  sync.Mutex
	set map[*memoryWatch]struct{}
}

// memoryWatch is one registration of a watcher. Its mutex is held during
// every call to w, and by stop: so calls to w never overlap, and none is
// running or made once stop has returned.
type memoryWatch struct {
	mu      sync.Mutex
	w       InvalidationWatcher
	stopped bool
}

// Invalidate tells every watcher of m that the account changed: it calls
// each one's Invalidated before it returns, from the calling goroutine,
// one watcher after another. So within the process the word is heard at
// once; it never reaches another process. A ref whose scope is not valid
// or whose ID is not positive is an error, and nobody hears it. The
// context is ignored.
//
// Invalidate waits for each watcher's call, and for a call of another
// goroutine's Invalidate to the same watcher: the caller must not hold a
// lock that a watcher's methods take.
func (m *Memory) Invalidate(_ context.Context, ref AccountRef) error {
	m.ready()
	if _, err := ref.MarshalText(); err != nil {
		return fmt.Errorf("store: invalidate %v %d: %w", ref.Scope, ref.ID, err)
	}
	s := &m.watches
	s.mu.Lock()
	watches := make([]*memoryWatch, 0, len(s.set))
	for mw := range s.set {
		watches = append(watches, mw)
	}
	s.mu.Unlock()
	for _, mw := range watches {
		mw.invalidated(ref)
	}
	return nil
}

// invalidated calls w's Invalidated unless stop has been called.
func (mw *memoryWatch) invalidated(ref AccountRef) {
	mw.mu.Lock()
	defer mw.mu.Unlock()
	if !mw.stopped {
		mw.w.Invalidated(ref)
	}
}

// WatchInvalidations registers w and calls its Listening before it
// returns, from the calling goroutine: every Invalidate from then on is
// heard. A Memory's channel never goes down, so w is never told Deaf.
// Calls to w never overlap (Listening comes first); stop, which may be
// called more than once, removes w and returns once no call to it is
// running, and none is made after. stop must not be called from within
// one of w's methods, and the caller must not hold a lock that w's
// Listening takes. A nil w is an error.
func (m *Memory) WatchInvalidations(w InvalidationWatcher) (stop func(), err error) {
	m.ready()
	if w == nil {
		return nil, fmt.Errorf("store: watch invalidations: nil watcher")
	}
	mw := &memoryWatch{w: w}
	s := &m.watches
	func() {
		// Held until Listening has returned, so that an Invalidate
		// that finds mw in the set waits for it.
		mw.mu.Lock()
		defer mw.mu.Unlock()
		s.mu.Lock()
		s.set[mw] = struct{}{}
		s.mu.Unlock()
		w.Listening()
	}()
	return func() {
		mw.mu.Lock()
		mw.stopped = true
		mw.mu.Unlock()
		s.mu.Lock()
		delete(s.set, mw)
		s.mu.Unlock()
	}, nil
}
