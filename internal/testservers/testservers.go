package testservers

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver for database/sql
	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/store/redisstore"
)

// The variables, and the servers tried when they are unset.
const (
	PostgresEnv     = "KEYWARD_TEST_POSTGRES"
	RedisEnv        = "KEYWARD_TEST_REDIS"
	DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedis    = "redis://127.0.0.1:6379/0"
	// RedisClusterEnv names a Redis Cluster in the URL form of
	// redisstore.Open ("redis+cluster://host1:port1,host2:port2/");
	// DefaultRedisCluster is the one .ci/run starts.
	RedisClusterEnv     = "KEYWARD_TEST_REDIS_CLUSTER"
	DefaultRedisCluster = "redis+cluster://127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003/"
)

// probeTime bounds the check that a server answers.
const probeTime = 5 * time.Second

// Postgres returns the URL of the PostgreSQL server to test against.
func Postgres(tb testing.TB) string {
	tb.Helper()
	return find(tb, PostgresEnv, DefaultPostgres, pingPostgres)
}

// Redis returns the URL of the Redis server to test against.
func Redis(tb testing.TB) string {
	tb.Helper()
	return find(tb, RedisEnv, DefaultRedis, pingRedis)
}

// RedisCluster returns the URL of the Redis Cluster to test against, in
// the form redisstore.Open takes. Unset, the default cluster is skipped
// only when none of its nodes answers: one that answers but is not a
// healthy cluster fails the test.
func RedisCluster(tb testing.TB) string {
	tb.Helper()
	return find(tb, RedisClusterEnv, DefaultRedisCluster, pingRedisCluster)
}

// answeredError is a server that answered but is not usable: its test
// fails, even when its variable is unset.
type answeredError struct{ err error }

func (e answeredError) Error() string { return e.err.Error() }

func find(tb testing.TB, env, fallback string, ping func(context.Context, string) error) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), probeTime)
	defer cancel()
	if url := os.Getenv(env); url != "" {
		if err := ping(ctx, url); err != nil {
			tb.Fatalf("%s is set but its server does not answer: %v", env, err)
		}
		return url
	}
	if err := ping(ctx, fallback); err != nil {
		if errors.As(err, new(answeredError)) {
			tb.Fatalf("the server at %s answers but cannot be used (set %s to another): %v", fallback, env, err)
		}
		tb.Skipf("no server at %s (%v): start one there, or set %s to one", fallback, err, env)
	}
	return fallback
}

func pingPostgres(ctx context.Context, url string) error {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

func pingRedis(ctx context.Context, url string) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	c := redis.NewClient(opts)
	defer c.Close()
	return c.Ping(ctx).Err()
}

// pingRedisCluster opens a store on the cluster, as the tests will: every
// master must answer and the cluster's state be ok. When that fails but a
// seed node takes connections, something answers there: an
// [answeredError].
func pingRedisCluster(ctx context.Context, url string) error {
	s, err := redisstore.Open(ctx, url, redisstore.Config{})
	if err == nil {
		return s.Close()
	}
	var d net.Dialer
	for _, seed := range clusterSeeds(url) {
		if c, derr := d.DialContext(ctx, "tcp", seed); derr == nil {
			c.Close()
			return answeredError{err}
		}
	}
	return err
}

// clusterSeeds returns the host:port list of a "redis+cluster://" URL.
func clusterSeeds(url string) []string {
	_, rest, _ := strings.Cut(url, "://")
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	return strings.Split(rest, ",")
}
