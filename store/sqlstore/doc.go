// Package sqlstore keeps keyward's accounts, API keys and their usage,
// sessions, one-time claims, attempt counters, second factors, captcha
// challenges and one-time tokens in an SQL database: SQLite (modernc.org/sqlite, pure Go, no cgo) for one machine,
// or PostgreSQL (pgx's database/sql driver) for several app instances that
// act as one. [Store] implements every interface of package store
// (on SQLite, [store.Invalidations] answers [store.ErrNotSupported]).
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
// keys never used and sessions nobody switched into. Version 3 added the
// 2FA states' version. Version 4 added credential generations: the table
// {prefix}generations, one row per account whose credentials have changed
// (none is generation 0), and the sessions' generation and parent
// columns; the sessions of version 3 read as made at generation 0, so they
// live until their account's first credential change.
//
// # Credential generations
//
// An account's generation ([store.Account].Generation) goes up by one in
// the same transaction as every change of its credentials: [Store.SetPassword],
// [Store.UpdateAccount] with a new email address or a password hash, and
// [Store.PutTFA] turning 2FA on or off. The raise is one upsert,
// INSERT ... ON CONFLICT DO UPDATE SET generation = generation + 1, whose
// row lock orders concurrent raises, so none is lost. Generations are kept
// by scope and ID apart from the accounts table, so a 2FA change raises the
// generation of an account a host keeps in its own table too, and
// [Store.Generation] reads it ([store.WithAccounts] puts a host's table
// beside this store so). [Store.Account] and [Store.AccountByLogin] read
// the account and its generation in one statement (a LEFT JOIN), prepared
// once.
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
//     the current one, RETURNING the count and window end; Decrement:
//     UPDATE ... SET n = n - 1 WHERE the window has not ended and n > 0.
//   - RecordAPIKeyUse: one UPDATE that adds to request_count and, by a
//     CASE on the row's old last_used_at, moves the last use and its
//     address forward together, never back.
//   - CreateSession, PutChallenge, PutToken: the same upsert, replacing
//     only an expired row; CreateAccount and CreateAPIKey: a unique index.
//   - AdvanceTFAStep: UPDATE ... WHERE last_step < step; PutTFA: in one
//     transaction, whether 2FA was on (read under the row's lock: SELECT
//     ... FOR UPDATE on PostgreSQL), an UPDATE ... WHERE version = the
//     caller's (an upsert at version 0) that keeps the greater step, the
//     codes, and the generation's raise if 2FA was turned on or off.
//   - SetPassword: the hash's UPDATE and the generation's raise, in one
//     transaction; RehashPassword: UPDATE ... WHERE password_hash = the
//     old hash, which leaves the generation alone.
//   - UpdateAccount: in one transaction, the old email address (read
//     under the row's lock), the account's and its logins' writes, and
//     the generation's raise if the address changed or a hash was given.
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
// # Deadlines
//
// Every call honours its context's deadline, also when the database stops
// answering: [OpenPostgres] keeps pgx's way of ending a call whose context
// ends (a deadline of now on the connection's socket, then the connection
// closed), which returns at once, rather than a cancel request, which a
// stalled server would not answer either (see [Open] for a pool of your
// own). The background cleanup runs each time under
// [Config.CleanupTimeout].
//
// # Invalidations
//
// On PostgreSQL the store carries [store.Invalidations] over LISTEN/NOTIFY,
// so that instances sharing the database drop what they cached of an
// account that changed. [Store.Invalidate] is SELECT pg_notify on the
// channel {prefix}invalidate (the prefix in lower case, as PostgreSQL
// folds table names), with the account ref as payload ("user:7").
// [Store.WatchInvalidations] runs a goroutine on a connection of the pool
// of its own (application_name "keyward-invalidations {channel}", to find
// it in pg_stat_activity), which it LISTENs on and confirms every quarter
// of [store.InvalidationBound] with a query that PostgreSQL answers only
// after the notifications committed before it; an answer that does not
// come by the bound, or a broken connection, tells the watcher Deaf, and
// the goroutine listens again on a new connection. The channel belongs to
// the database: deployments in separate schemas of one database should
// use separate prefixes, or they drop each other's cache entries. Through
// a pooler that does not keep sessions (PgBouncer in transaction mode),
// the confirmations find the channel gone and the watcher stays Deaf:
// authn then caches nothing rather than serve stale entries. On SQLite,
// or through a database/sql driver other than pgx's stdlib, both methods
// answer [store.ErrNotSupported].
//
// # Errors
//
// No row is [store.ErrNotFound], a unique violation [store.ErrConflict].
// Anything else (the database down, a context deadline) is a plain error,
// on which keyward fails closed: the request is refused with 503.
package sqlstore
