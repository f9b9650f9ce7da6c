package store

import "errors"

// ErrNotFound is returned for a record that does not exist or has expired.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a create would duplicate a unique value: a
// username or email address already taken, an API key hash already stored;
// and when a compare-and-set finds the record changed since the caller
// read it ([TFAStates.PutTFA]).
var ErrConflict = errors.New("store: conflict")
