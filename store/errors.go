package store

import "errors"

// ErrNotFound is returned for a record that does not exist or has expired.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a create would duplicate a unique value: a
// username or email address already taken, an API key hash already stored;
// and when a compare-and-set finds the record changed since the caller
// read it ([TFAStates.PutTFA]).
var ErrConflict = errors.New("store: conflict")

// ErrNotSupported is returned by an optional write ([AccountCreator],
// [PasswordSetter], [AccountUpdater]), by [Generations] or by
// [Invalidations] of a store that has the method but cannot do what it
// asks: a store put together by [Combine] or [WithAccounts] from parts of
// which the one it would forward to has none, or package sqlstore's on
// SQLite, which has no channel between processes. Such a store answers it
// to every call of the method, whatever the arguments, and before it
// changes anything; callers treat it as if the method were not there
// (authn: the accounts are read-only here; nothing is cached).
var ErrNotSupported = errors.New("store: not supported")
