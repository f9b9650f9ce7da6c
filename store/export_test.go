package store

// MemorySizes is how many records, index entries and expiry queue entries a
// [Memory] holds, so that tests can see it forget.
type MemorySizes struct {
	Accounts, Logins int
	// KeyIDs and IndexedKeys count the keys in the by-ID map and in the
	// per-owner index; both must equal Keys.
	Keys, KeyIDs, IndexedKeys, KeyOwners, KeyQueue int
	// IndexedSessions counts the sessions in the per-owner index; it must
	// equal Sessions.
	Sessions, IndexedSessions, SessionOwners, SessionQueue int
	Claims, ClaimQueue                                     int
	Counters, CounterQueue                                 int
	Tokens, TokenQueue                                     int
}

// SizesOf returns m's sizes.
func SizesOf(m *Memory) MemorySizes {
	var z MemorySizes
	m.accounts.mu.RLock()
	z.Accounts, z.Logins = len(m.accounts.byRef), len(m.accounts.byLogin)
	m.accounts.mu.RUnlock()

	m.keys.mu.RLock()
	z.Keys, z.KeyIDs, z.KeyOwners, z.KeyQueue = len(m.keys.byHash), len(m.keys.byID), len(m.keys.byOwner), m.keys.expiries.len()
	for _, set := range m.keys.byOwner {
		z.IndexedKeys += len(set)
	}
	m.keys.mu.RUnlock()

	m.sessions.mu.RLock()
	z.Sessions, z.SessionOwners, z.SessionQueue = len(m.sessions.byHash), len(m.sessions.byOwner), m.sessions.expiries.len()
	for _, set := range m.sessions.byOwner {
		z.IndexedSessions += len(set)
	}
	m.sessions.mu.RUnlock()

	m.claims.mu.Lock()
	z.Claims, z.ClaimQueue = len(m.claims.until), m.claims.expiries.len()
	m.claims.mu.Unlock()

	m.counters.mu.RLock()
	z.Counters, z.CounterQueue = len(m.counters.byKey), m.counters.expiries.len()
	m.counters.mu.RUnlock()

	m.tokens.mu.Lock()
	z.Tokens, z.TokenQueue = len(m.tokens.byHash), m.tokens.expiries.len()
	m.tokens.mu.Unlock()
	return z
}

// CompactSlack is [compactSlack], for tests of how far a queue may grow.
const CompactSlack = compactSlack
