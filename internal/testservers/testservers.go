package testservers

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver for database/sql
	"github.com/redis/go-redis/v9"
)

// The variables, and the servers tried when they are unset.
const (
	PostgresEnv     = "KEYWARD_TEST_POSTGRES"
	RedisEnv        = "KEYWARD_TEST_REDIS"
	DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedis    = "redis://127.0.0.1:6379/0"
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
