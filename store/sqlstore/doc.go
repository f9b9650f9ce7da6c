// Package sqlstore keeps keyward's accounts, API keys and their usage,
// sessions, one-time claims, attempt counters, second factors, captcha
// challenges and one-time tokens in an SQL database: SQLite (modernc.org/sqlite, pure Go, no cgo) for one machine,
// or PostgreSQL (pgx's database/sql driver) for several app instances that
// act as one. [Store] implements every interface of package store.
//
//	s, err := sqlstore.OpenSQLite(ctx, "keyward.db", sqlstore.Config{})
//	// or: sqlstore.OpenPostgres(ctx, "postgres://app@db/app", sqlstore.Config{})
//	// or, on a *sql.DB the host already has: sqlstore.Open(ctx, db, sqlstore.Config{TablePrefix: "auth_"})
//	if err != nil { ... }
//	defer s.Close()
//	auth, err := authn.New(authn.Config{Store: s, ...})
//
// # Tables
//
// Every table and index name starts with [Config.TablePrefix] ("keyward_"
// by default), so the store can live in a host's own database, and several
// deployments in one. The schema is applied by [Open] from migrations
// embedded in the binary, one file per version; the versions applied are
// kept in {prefix}schema_migrations. Opening is idempotent (a second Open
// applies nothing) and safe when several processes open one database at
// once: the migration runs in one transaction under a lock (a
// transaction-level advisory lock on PostgreSQL, the write lock of BEGIN
// IMMEDIATE on SQLite), so one process applies it and the others find it
// done. A database whose schema is newer than this package knows is
// refused rather than misread.
//
// Times are stored as Unix nanoseconds in 64-bit integers, so that every
// time.Time comes back exactly (in UTC); hashes and the keys of claims,
// counters and challenges as BLOB or BYTEA; recovery codes one row each.
// Names, labels, notes, addresses and purposes are TEXT, kept as given; on
// PostgreSQL, TEXT holds only valid UTF-8 without NUL bytes, and a write of
// anything else fails (as a store failure), so hosts should pass such
// strings only once they have checked them.
//
// Version 2 of the schema added the API keys' note, bound address and
// usage columns, the sessions' switch columns, and the tokens table; a
// database at version 1 is brought up to it by [Open], its rows reading as
// keys never used and sessions nobody switched into.
//
// # Time and atomicity
//
// Expiry is decided with [Config.Now], passed into every statement that
// compares times; the database's own clock is never read. Each operation
// whose contract says "atomic" or "exactly one" is a single statement or a
// single transaction, so it holds across every process sharing the
// database:
//
//   - Claim: INSERT ... ON CONFLICT DO UPDATE ... WHERE the old claim has
//     ended; a row changed means this call won.
//   - Increment: one upsert whose CASE starts a new window or counts in
//     the current one, RETURNING the count and window end.
//   - RecordAPIKeyUse: one UPDATE that adds to request_count and, by a
//     CASE on the row's old last_used_at, moves the last use and its
//     address forward together, never back.
//   - CreateSession, PutChallenge, PutToken: the same upsert, replacing
//     only an expired row; CreateAccount and CreateAPIKey: a unique index.
//   - AdvanceTFAStep: UPDATE ... WHERE last_step < step; UseRecoveryCode:
//     DELETE of the code's row; PutTFA: an UPDATE ... WHERE version = the
//     caller's (an upsert at version 0) that keeps the greater step, then
//     the codes, in one transaction.
//   - TakeChallenge, TakeToken: DELETE ... RETURNING.
//   - DeleteAccountSessions: one DELETE through the index on the
//     sessions' account, which reads no other account's sessions.
//
// Expired rows are never returned. A background goroutine deletes them
// every [Config.CleanupInterval] to keep the tables small; [Store.Close]
// stops it.
//
// # SQLite
//
// SQLite allows one writer at a time. [OpenSQLite] sets WAL mode (readers
// never wait), a busy timeout and immediate transactions, so that
// processes sharing the file wait for each other; within a process the
// store's writes take turns before they reach SQLite, so they never fail
// with SQLITE_BUSY. A *sql.DB given to [Open] should be opened with the
// same parameters.
//
// # Errors
//
// No row is [store.ErrNotFound], a unique violation [store.ErrConflict].
// Anything else (the database down, a context deadline) is a plain error,
// on which keyward fails closed: the request is refused with 503.
package sqlstore
