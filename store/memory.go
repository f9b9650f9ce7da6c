package store

import (
	"sync"
	"time"
)

// The interfaces [Memory] implements.
var (
	_ Store          = (*Memory)(nil)
	_ AccountCreator = (*Memory)(nil)
	_ PasswordSetter = (*Memory)(nil)
	_ AccountUpdater = (*Memory)(nil)
	_ Generations    = (*Memory)(nil)
	_ Invalidations  = (*Memory)(nil)
)

// MemoryConfig configures [NewMemory]. The zero value is ready to use.
type MemoryConfig struct {
	// Now is the clock that decides expiry. Default (nil): [time.Now].
	Now func() time.Time
}

// Memory keeps accounts, API keys, sessions, one-time claims, attempt
// counters, second factors, captcha challenges and one-time tokens in
// memory. It implements [Store] (with [TFAStates], [TFAUses], [Challenges]
// and [Tokens]), the optional [AccountCreator], [AccountUpdater] and
// [PasswordSetter], [Generations], and [Invalidations] within the
// process, for a single process: everything is lost when the process
// ends, and two processes do not share claims, counters or
// invalidations.
//
// Memory is safe for concurrent use. Each kind of record has its own lock,
// so counting a failed login never waits for a session lookup. The request
// path ([Memory.APIKeyByHash], [Memory.Account], [Memory.Session]) takes
// only a read lock and does not allocate.
//
// Expiry is decided with [MemoryConfig.Now] alone: an expired record reads
// as [ErrNotFound] at once, and is forgotten at the next write of its kind
// (create, touch, record, claim, increment, put, delete), without a sweep
// of the others and without a background goroutine.
//
// Memory never blocks on I/O and ignores the contexts it is given; only
// [Memory.Invalidate] waits, for the watchers it calls.
//
// The zero value is an empty store on [time.Now]'s clock, as
// NewMemory(MemoryConfig{}) returns: it makes its maps on first use.
type Memory struct {
	// setUp makes the maps, and sets now if it is nil, once: in NewMemory,
	// or in the first call to a zero Memory.
	setUp sync.Once
	now   func() time.Time

	accounts memoryAccounts
	keys     memoryKeys
	sessions memorySessions
	claims   memoryClaims
	counters memoryCounters
	tfa      memoryTFA

	challenges memoryChallenges
	tokens     memoryTokens

	watches memoryWatches
}

// NewMemory returns an empty in-memory store configured by cfg.
func NewMemory(cfg MemoryConfig) *Memory {
	m := &Memory{now: cfg.Now}
	m.ready()
	return m
}

// ready makes m's maps, and sets its clock to [time.Now] if it has none,
// the first time it is called: every method calls it, so that a zero
// Memory works as well as one [NewMemory] made.
func (m *Memory) ready() {
	m.setUp.Do(func() {
		if m.now == nil {
			m.now = time.Now
		}
		m.accounts.byRef = make(map[AccountRef]Account)
		m.accounts.byLogin = make(map[loginKey]int64)
		m.accounts.generations = make(map[AccountRef]int64)
		m.keys.byHash = make(map[Hash]APIKey)
		m.keys.byID = make(map[int64]Hash)
		m.keys.byOwner = make(map[AccountRef]map[int64]struct{})
		m.sessions.byHash = make(map[Hash]Session)
		m.sessions.byOwner = make(map[AccountRef]map[Hash]struct{})
		m.claims.until = make(map[string]time.Time)
		m.counters.byKey = make(map[string]memoryCounter)
		m.tfa.byRef = make(map[AccountRef]TFA)
		m.challenges.byID = make(map[string]Challenge)
		m.tokens.byHash = make(map[Hash]Token)
		m.watches.set = make(map[*memoryWatch]struct{})
	})
}

// addToIndex adds key to the set of owner in index.
func addToIndex[K comparable](index map[AccountRef]map[K]struct{}, owner AccountRef, key K) {
	set := index[owner]
	if set == nil {
		set = make(map[K]struct{})
		index[owner] = set
	}
	set[key] = struct{}{}
}

// removeFromIndex removes key from the set of owner in index, and the set
// when it is empty.
func removeFromIndex[K comparable](index map[AccountRef]map[K]struct{}, owner AccountRef, key K) {
	set := index[owner]
	delete(set, key)
	if len(set) == 0 {
		delete(index, owner)
	}
}
