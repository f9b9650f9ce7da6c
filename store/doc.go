// Package store defines what keyward keeps (accounts, API keys and their
// usage, sessions, one-time claims, attempt counters, second factors,
// captcha challenges and one-time tokens), the small interfaces through
// which the rest of keyward reads and writes it, and [Memory], the in-memory
// implementation that is the embedded default.
//
// Each interface is one to three methods and takes a context first, so a
// host can implement just the part it owns: an [Accounts] over its own
// users table in a few lines, say, with sessions and counters left to
// [Memory] or to a shared store. [Store] is the union the authenticator
// needs: the [Durable] part (accounts, API keys, second factors) and the
// [Fast] one (sessions, claims, counters, captcha challenges, one-time
// tokens). Two constructors put a Store together from parts, with no
// struct embedding and so no clash of method names: [Combine] takes the
// durable part from one store and the fast part from another (SQL and
// Redis), and [WithAccounts] takes the accounts from a host's table and
// everything else from a keyward store.
//
// # Accounts from a host's own table
//
// [Accounts] is all keyward needs of a host's users: by scope and ID, and
// by username or email address (after [NormalizeLogin]). Of an [Account]
// it reads ID, Scope, Username, Email, PasswordHash (argon2id or bcrypt)
// and Disabled, and shows Name, FirstName and LastName. It writes an
// account only through the optional interfaces: [PasswordSetter] (a hash
// upgraded at login, a password changed or reset), [AccountUpdater]
// (Admin.Update, User.Update) and [AccountCreator] (seeding). A store that
// leaves them out, or answers [ErrNotSupported], is read-only to keyward:
// hashes with old parameters keep working unupgraded, and the commands
// that change accounts answer that they cannot.
//
// [WithAccounts] puts such a table beside a keyward store, which keeps the
// 2FA state, keys and sessions, keyed by the account's scope and ID, and
// the credential generations of the host's accounts: a 2FA change raises
// the generation there ([TFAStates.PutTFA]), and WithAccounts returns it
// with the host's account, so the account's sessions end. The table stays
// read-only to keyward unless it keeps generations of its own (it
// implements [Generations]): a password that keyward changed must end
// sessions in the same write. See the hostUsersTable example.
//
// # Invalidations
//
// Instances that share a store each cache what they resolved (package
// authn). [Invalidations] carries word that an account changed to every
// instance, within [InvalidationBound], and tells each watcher when it
// might not hear it ([InvalidationWatcher].Deaf), so that it bypasses its
// cache rather than serve a stale entry. [Memory] carries it within the
// process, at once; package sqlstore over PostgreSQL LISTEN/NOTIFY;
// package redisstore over pub/sub. [Combine] and [WithAccounts] use one
// part's channel (see each).
//
// # Secrets at rest
//
// Nothing here holds a usable secret. Sessions, API keys and one-time
// tokens are found by the SHA-256 of their secret ([Hash]), so a leaked
// store yields no credential.
// Password hashes are argon2id or bcrypt strings made by package authn.
//
// # Time
//
// Every record that expires carries its expiry as an absolute time, and every
// store decides expiry with the clock its constructor was given, never with a
// clock of its own (a database's NOW(), a cache's TTL alone). Tests move that
// clock; package storetest checks that every store follows it.
//
// # Errors
//
// A record that is absent or expired is [ErrNotFound]; a unique name that is
// taken is [ErrConflict]. Any other error means the store failed, and keyward
// fails closed on it: the request is refused with 503, never let through.
package store
