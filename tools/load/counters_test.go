package main

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/testservers"
)

// TestRedisCounterLive counts commands on a real Redis: a second
// connection's, exactly, with none of the counter's own.
func TestRedisCounterLive(t *testing.T) {
	t.Parallel()
	u := testservers.Redis(t)
	ctx := t.Context()
	counter, err := dialRedis(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer counter.Close()
	other, err := dialRedis(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tag := "kwload-test-" + strings.ToLower(rand.Text()[:8])
	if _, err := other.do(ctx, "CLIENT", "SETNAME", tag); err != nil {
		t.Fatal(err)
	}
	version, _, err := counter.serverInfo(ctx)
	if err != nil || version == "" {
		t.Fatalf("serverInfo = %q, %v", version, err)
	}
	before, err := counter.snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// ECHO: a command no store sends, so that others' tests on the same
	// server do not change its count.
	for range 7 {
		if _, err := other.do(ctx, "ECHO", "x"); err != nil {
			t.Fatal(err)
		}
	}
	after, err := counter.snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := redisDelta(before, after)
	if c.ByCommand["echo"] != 7 {
		t.Errorf("echo: %d calls, want 7 (%v)", c.ByCommand["echo"], c.ByCommand)
	}
	tagged, _, err := counter.clients(ctx, tag, time.Minute)
	if err != nil || tagged != 1 {
		t.Errorf("clients: %d named %s, %v", tagged, tag, err)
	}

	prefix := tag + ":"
	for _, k := range []string{"a", "b", "c*"} {
		if _, err := other.do(ctx, "SET", prefix+k, "1", "EX", "60"); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := counter.deletePrefix(ctx, prefix); err != nil || n != 3 {
		t.Errorf("deletePrefix = %d, %v", n, err)
	}
	var rerr redisError
	if _, err := counter.do(ctx, "NOSUCHCOMMAND"); !errors.As(err, &rerr) {
		t.Errorf("unknown command: %v", err)
	}
}

// TestPGSamplerLive takes readings from a real PostgreSQL and drops a
// prefix's tables. PostgreSQL publishes its counts late, so no count is
// asserted: only that the readings work and see the prefix's table.
func TestPGSamplerLive(t *testing.T) {
	t.Parallel()
	u := testservers.Postgres(t)
	ctx := t.Context()
	db, version, err := openPG(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if version == "" {
		t.Error("no server version")
	}
	prefix := "kwload_test_" + strings.ToLower(rand.Text()[:8]) + "_"
	for _, table := range []string{"a", "b"} {
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+prefix+table+" (id int PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
	}
	dropped := false
	defer func() {
		if !dropped {
			_, _ = pgDropPrefix(ctx, db, prefix)
		}
	}()
	p := &pgSampler{db: db, tag: "kwload-test", prefix: prefix}
	backends, own, err := p.begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(backends) != 0 || own == 0 {
		t.Errorf("begin: backends %v, own %d", backends, own)
	}
	if err := p.sample(ctx, 10); err != nil {
		t.Fatal(err)
	}
	c, err := p.end(ctx, time.Second, 20)
	if err != nil {
		t.Fatal(err)
	}
	if c.Samples != 3 || c.Tagged != 0 || len(p.snaps[0].tables) != 2 {
		t.Errorf("counts %+v, first reading %+v", c, p.snaps[0])
	}
	n, err := pgDropPrefix(ctx, db, prefix)
	dropped = err == nil
	if err != nil || n != 2 {
		t.Errorf("pgDropPrefix = %d, %v", n, err)
	}
}

// TestOpenSharedDown: a store that does not answer is a *storeDownError
// that says whether its flag was given; rps skips the shared example on
// one that was not, and fails on one that was.
func TestOpenSharedDown(t *testing.T) {
	t.Parallel()
	for _, o := range []rpsOptions{
		{db: "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", dbExplicit: true},
		{redis: "redis://127.0.0.1:1/0"},
	} {
		_, err := openShared(t.Context(), o)
		var down *storeDownError
		if !errors.As(err, &down) || down.explicit != (o.dbExplicit || o.redisExplicit) || !strings.Contains(err.Error(), "does not answer") {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if _, err := openShared(t.Context(), rpsOptions{db: "mysql://x"}); err == nil {
		t.Error("a -db that is not PostgreSQL: no error")
	}
	if _, err := dialRedis(t.Context(), "rediss://127.0.0.1:6379"); err == nil {
		t.Error("rediss: no error")
	}
}
