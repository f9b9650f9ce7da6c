package store

import "errors"

// ErrNotFound is returned for a record that does not exist or has expired.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a create would duplicate a unique value: a
// username or email address already taken, an API key hash already stored.
var ErrConflict = errors.New("store: conflict")
