package redisstore

import (
	"time"

	"github.com/keyward/keyward/store"
)

// SessionKey returns the key of the session whose hash is h.
func SessionKey(s *Store, h store.Hash) string { return s.sessionKey(h) }

// BucketKeys returns the index keys of the bucket of the session whose
// hash is h.
func BucketKeys(s *Store, h store.Hash) (owners, expiry string) { return s.bucketKeys(h[0]) }

// TokenKey returns the key of the token whose hash is h.
func TokenKey(s *Store, h store.Hash) string { return s.tokenKey(h) }

// EncodeSession returns the value stored for sess.
func EncodeSession(sess store.Session) string { return encodeSession(sess) }

// EncodeTime returns t as stored.
func EncodeTime(t time.Time) string { return encodeTime(t) }

// EncodeInt returns v as stored.
func EncodeInt(v int64) string { return encodeInt(v) }
