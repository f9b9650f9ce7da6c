package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
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

// target is a Redis deployment that tests run on.
type target struct {
	name string
	url  func(testing.TB) string // from internal/testservers
}

// targets returns the deployments: a single server and a Cluster, each
// skipped (saying what to set) when its variable is unset and no server
// answers at its default address, failed when it is set and nothing
// answers.
func targets() []target {
	return []target{
		{"single", testservers.Redis},
		{"cluster", testservers.RedisCluster},
	}
}

// client returns a new client on the target, made as Open makes it (a
// ClusterClient on the cluster), closed when the test ends.
func (tg target) client(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	c, err := redisstore.NewClient(tg.url(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// nodes returns a client on each node of c: c itself for a single server,
// each master and replica of a cluster.
func nodes(tb testing.TB, c redis.UniversalClient) []*redis.Client {
	tb.Helper()
	cluster, ok := c.(*redis.ClusterClient)
	if !ok {
		return []*redis.Client{c.(*redis.Client)}
	}
	var mu sync.Mutex
	var all []*redis.Client
	err := cluster.ForEachShard(context.Background(), func(_ context.Context, n *redis.Client) error {
		mu.Lock()
		all = append(all, n)
		mu.Unlock()
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return all
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
// characters), one UNLINK a key: a cluster's keys are in many slots.
func deleteKeys(tb testing.TB, c redis.UniversalClient, prefix string) {
	ctx := context.Background()
	pipe := c.Pipeline()
	for _, k := range scanKeys(tb, c, prefix) {
		pipe.Unlink(ctx, k)
	}
	if pipe.Len() == 0 {
		return
	}
	if _, err := pipe.Exec(ctx); err != nil {
		tb.Errorf("delete test keys: %v", err)
	}
}

// scanKeys returns the keys that start with prefix, on every node.
func scanKeys(tb testing.TB, c redis.UniversalClient, prefix string) []string {
	var keys []string
	for _, n := range nodes(tb, c) {
		iter := n.Scan(context.Background(), 0, prefix+"*", 1000).Iterator()
		for iter.Next(context.Background()) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("scan test keys: %v", err)
		}
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
			args[i] = fmt.Sprint(a) // numbers, as Redis gets them
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
