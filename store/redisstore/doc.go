// Package redisstore keeps keyward's per-request state in Redis: sessions,
// one-time claims (etoken nonces, TOTP steps), attempt counters, captcha
// challenges and one-time tokens (password reset links). Several app
// instances that share one Redis behave as one: a session made on one is
// valid on all, a claim is won once across all, and failures count across
// all. Accounts, API keys and second factors stay in SQL (package
// sqlstore) or in a host's own tables.
//
// Second factors are not kept here, for two reasons. A second factor is a
// credential: turning it on or off must raise the account's credential
// generation ([store.Account].Generation) in the same atomic write, which
// ends every session made before, and the generations live with the
// accounts, in SQL; Redis cannot take part in that write. And a Redis
// without persistence, as caches often run, would drop 2FA enrollments
// silently at a restart: accounts would go back to logging in with a
// password alone. (Earlier versions could keep second factors here, under
// {prefix}t:<scope>:<id>; move such states to the SQL store before
// upgrading, or their accounts' 2FA is off.)
//
// [New] takes a go-redis [redis.UniversalClient], so a single server,
// Sentinel and Cluster all work; [Open] connects by URL, to one server
// ("redis://host:6379/0") or to a Redis Cluster, named by the scheme
// "redis+cluster" and a comma-separated list of seed nodes:
//
//	redis+cluster://user:password@10.0.0.1:7001,10.0.0.2:7001/
//	rediss+cluster://...  (TLS)
//
// Redis 6.2 or later.
//
// # Composing a store
//
// The authenticator takes one [store.Store]. [store.Combine] makes it from
// a SQL store, which keeps the durable records (accounts, API keys, second
// factors), and a Redis store, which keeps what every request reads and
// writes:
//
//	sql, _ := sqlstore.OpenPostgres(ctx, dsn, sqlstore.Config{})
//	rds, _ := redisstore.Open(ctx, "redis://cache:6379/0", redisstore.Config{})
//	s := store.Combine(sql, rds)
//
// The account writes (AccountCreator, PasswordSetter, AccountUpdater) go
// to SQL, and the second factors stay there with the accounts: a 2FA
// change raises the generation that the accounts are read with. A host's
// own users table goes beside it with [store.WithAccounts]. Example_combine
// shows it run.
//
// # Keys
//
// Every key starts with [Config.KeyPrefix] ("keyward:" by default):
//
//	{prefix}{sNN}:<hash in hex>  a session (NN: the first byte of its hash)
//	{prefix}{sNN}:owners         the bucket's index of sessions by account
//	{prefix}{sNN}:expiry         the same entries, by expiry
//	{prefix}c:<key>              a one-time claim
//	{prefix}n:<key>              an attempt counter (hash: count, window end)
//	{prefix}h:<id>               a captcha challenge
//	{prefix}o:<hash in hex>      a one-time token
//	{prefix}invalidate           the pub/sub channel of invalidations (not a key)
//
// A session and the index it is listed in share the hash tag {sNN}, so a
// Cluster keeps them in one slot and one script changes both; every other
// script touches one key. (A pipeline, such as the one
// [Store.DeleteAccountSessions] sends over the buckets, is not one step: a
// cluster client splits it by node.) The tag comes
// from the session's hash, so [Store.Session] finds the session with one
// GET, in one round trip. An account's sessions are found through its
// entries in the buckets' indexes, a lexical range per bucket, never by
// reading other accounts' sessions (see [Store.DeleteAccountSessions]).
//
// # Time and atomicity
//
// Every record holds its expiry as a time of [Config.Now], and every
// operation compares it with Now inside Redis: a Lua script that is given
// Now decides and writes in one atomic step (a claim replaces only an ended
// claim, a counter restarts only an ended window), so the contracts hold
// whatever the Redis clock says, and under a test's fake clock. Redis's
// own key expiry only collects garbage: a record's TTL is what Now leaves
// of it plus [Config.ExpiryMargin]. No operation reads in Go and then
// writes what it decided: multi-key and read-then-write steps are scripts.
//
// # Invalidations
//
// The store carries [store.Invalidations] over Redis pub/sub: Invalidate
// is one PUBLISH on {prefix}invalidate, and each watch
// ([Store.WatchInvalidations]) holds a subscription on a connection of its
// own, named "keyward-invalidations:{prefix}" in CLIENT LIST. Classic
// pub/sub reaches every node of a Cluster, so a watch listens on any node.
// Redis keeps no message for a subscriber that was away: so a watch pings
// on its connection every quarter of [store.InvalidationBound], says Deaf
// when a pong is late for the bound or the connection fails, subscribes
// again by itself, and says Listening once Redis has confirmed it, so that
// what was cached meanwhile is forgotten. [Store.Close] stops every watch.
//
// # Deadlines
//
// Every call honours its context's deadline, also when Redis stops
// answering, provided the client has ContextTimeoutEnabled in its options:
// [Open] sets it, and a client given to [New] needs it too (see [New]).
// Open's client never retries a command either (MaxRetries -1, and on a
// Cluster MaxRedirects -1): a call that fails is refused, not run twice.
//
// # Errors
//
// A missing or expired record is [store.ErrNotFound], a taken session
// hash, challenge ID or token hash [store.ErrConflict]. Anything else
// (Redis down, a context deadline) is a plain error, on which keyward
// fails closed.
package redisstore
