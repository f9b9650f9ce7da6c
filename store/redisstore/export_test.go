package redisstore

import "github.com/keyward/keyward/store"

// SessionKey returns the key of the session whose hash is h.
func SessionKey(s *Store, h store.Hash) string { return s.sessionKey(h) }

// BucketKeys returns the index keys of the bucket of the session whose
// hash is h.
func BucketKeys(s *Store, h store.Hash) (owners, expiry string) { return s.bucketKeys(h[0]) }
