package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/testservers"
	"github.com/keyward/keyward/store/redisstore"
)

// redisURL returns the URL of the Redis to test against, from
// internal/testservers: KEYWARD_TEST_REDIS, which must answer when set,
// or else a local server, the test skipped (saying what to set) when none
// answers.
func redisURL(tb testing.TB) string {
	tb.Helper()
	return testservers.Redis(tb)
}

// redisClient returns a new client on the Redis of [redisURL], closed
// when the test ends.
func redisClient(tb testing.TB) *redis.Client {
	tb.Helper()
	opts, err := redis.ParseURL(redisURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	c := redis.NewClient(opts)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// randomPrefix returns a key prefix no other test or run uses.
func randomPrefix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "kwtest:" + hex.EncodeToString(b) + ":"
}

// newStore returns a store on c with a key prefix of its own, whose keys
// are deleted when the test ends.
func newStore(tb testing.TB, c redis.UniversalClient, cfg redisstore.Config) *redisstore.Store {
	tb.Helper()
	cfg.KeyPrefix = randomPrefix()
	s, err := redisstore.New(c, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { deleteKeys(tb, c, cfg.KeyPrefix) })
	return s
}

// deleteKeys deletes the keys that start with prefix (which has no glob
// characters).
func deleteKeys(tb testing.TB, c redis.UniversalClient, prefix string) {
	ctx := context.Background()
	keys := scanKeys(tb, c, prefix)
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := c.Unlink(ctx, keys[:n]...).Err(); err != nil {
			tb.Errorf("delete test keys: %v", err)
			return
		}
		keys = keys[n:]
	}
}

// scanKeys returns the keys that start with prefix.
func scanKeys(tb testing.TB, c redis.UniversalClient, prefix string) []string {
	var keys []string
	iter := c.Scan(context.Background(), 0, prefix+"*", 1000).Iterator()
	for iter.Next(context.Background()) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Errorf("scan test keys: %v", err)
	}
	return keys
}

// hashTag returns the part of key Redis Cluster hashes to choose its slot:
// what is between the first '{' and the next '}' when that is not empty,
// or else the whole key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// recorder is a go-redis hook that records the commands a client sends,
// each as its arguments.
type recorder struct {
	mu   sync.Mutex
	cmds [][]string
}

func (r *recorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *recorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.record(cmd)
		return next(ctx, cmd)
	}
}

func (r *recorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			r.record(cmd)
		}
		return next(ctx, cmds)
	}
}

func (r *recorder) record(cmd redis.Cmder) {
	args := make([]string, len(cmd.Args()))
	for i, a := range cmd.Args() {
		switch a := a.(type) {
		case string:
			args[i] = a
		case []byte:
			args[i] = string(a)
		default:
			args[i] = "?"
		}
	}
	r.mu.Lock()
	r.cmds = append(r.cmds, args)
	r.mu.Unlock()
}

// take returns the commands recorded so far, and forgets them.
func (r *recorder) take() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	cmds := r.cmds
	r.cmds = nil
	return cmds
}
