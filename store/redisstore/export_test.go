package redisstore

import (
	"reflect"
	"time"

	"github.com/redis/go-redis/v9"

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

// NewClient returns the client Open connects with on rawURL.
func NewClient(rawURL string) (redis.UniversalClient, error) {
	c, _, err := newClient(rawURL)
	return c, err
}

// ClusterOptions returns the options Open makes a cluster client with on
// rawURL, a "redis+cluster://" URL.
func ClusterOptions(rawURL string) (*redis.ClusterOptions, error) { return clusterOptions(rawURL) }

// WatchClientName returns the client name of the store's watch
// connections.
func WatchClientName(s *Store) string { return s.watchClientName() }

// WatchesDone returns, for each watch of s not yet stopped, a channel
// closed when its goroutine has ended.
func WatchesDone(s *Store) []<-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	var done []<-chan struct{}
	for w := range s.watches {
		done = append(done, w.done)
	}
	return done
}

// ScriptCount returns how many Lua scripts a store runs.
func ScriptCount() int {
	n := 0
	for f := range reflect.TypeFor[scripts]().Fields() {
		if f.Type == reflect.TypeFor[*redis.Script]() {
			n++
		}
	}
	return n
}
