// Package storetest is the conformance suite for keyward stores: the
// in-memory store, the SQL and Redis stores, and a host application's own.
//
// A store's test calls [Run] with a factory:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) any {
//			return mystore.New(db, now) // fresh and empty
//		})
//	}
//
// The store may implement any of the interfaces of package store
// ([store.Accounts], [store.AccountCreator], [store.PasswordSetter],
// [store.APIKeyFinder], [store.APIKeyManager], [store.SessionFinder],
// [store.SessionWriter], [store.Claims], [store.Counters], [store.TFAStates],
// [store.TFAUses], [store.AccountUpdater], [store.Challenges],
// [store.Tokens], [store.Generations], [store.Invalidations]): Run finds
// them by type assertion, runs the cases of each one present, and logs
// the names of those it skipped. A Redis store that keeps only sessions,
// claims and counters is tested on just those.
//
// An optional write, Generations or Invalidations, to which the store
// answers [store.ErrNotSupported] counts as absent, as it does for
// keyward: a store made by [store.Combine] or [store.WithAccounts] has the
// methods and answers that when the part it would forward to has none,
// and package sqlstore's on SQLite. Run tells by one call of each that
// changes nothing (a write of an account that does not exist, or of one
// that cannot be created; an invalidation of the zero account ref), so a
// store that supports them must answer those calls as the interfaces say.
//
// Each case is a subtest named after its group and what it checks
// ("Sessions/ExpiresAtExactTime"), with a fresh store from the factory and
// its own fake clock. Cases use only the interfaces, so they test behaviour
// any caller could see, never a store's internals. Expiry is tested by
// moving the fake clock, never by sleeping; one-time claims, counters, API
// key usage, challenges, tokens, TFA steps, versioned TFA puts and
// credential generations are hammered by 100 goroutines at once, so run
// the suite with -race.
//
// Credential generations ([store.Account].Generation) are checked where
// they change: SetPassword, UpdateAccount and PutTFA must raise them by
// exactly one with each credential change, and never on a refused change,
// a rehash or a login; sessions must keep theirs. The cases read them back
// through [store.Accounts], so they run on a store that keeps accounts too;
// and [store.Generations] must read what Accounts reads, and what a 2FA
// change raised for an account the store does not keep.
//
// Invalidations are checked as a watcher hears them: its first call is
// Listening (or Deaf); what is sent is heard, with its exact ref, by every
// watcher of the store handle, one call at a time, and by none whose stop
// has returned; stop waits for a call that is running; an invalid ref is
// an error. These cases wait for what a watcher hears, never for a time,
// and fail only if it does not come within [DefaultWait] ([WaitEnv] sets
// another); a watcher told Deaf has what it may have missed sent again
// once it listens. Each case uses one store handle: that the word reaches
// other processes is for the store's own tests.
//
// Cases that need accounts to exist create them with
// [store.AccountCreator]; against a read-only [store.Accounts] over a host's
// own table they are skipped, with a message.
package storetest
