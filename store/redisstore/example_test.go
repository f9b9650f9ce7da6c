package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/redisstore"
	"github.com/keyward/keyward/store/sqlstore"
)

// The examples talk to a real Redis, so they have no Output comment: go
// test compiles them but does not run them, and needs no server for that.
// TestExamples runs them against the server the other tests use (skipping,
// and saying why, when there is none), and checks that each prints what
// its doc comment says it prints.

// exampleRedis returns the URL of the Redis the examples use: the one
// TestExamples found and set in KEYWARD_TEST_REDIS.
func exampleRedis() string { return os.Getenv("KEYWARD_TEST_REDIS") }

// exampleCleanup deletes the example's keys.
func exampleCleanup(s *redisstore.Store, sessions ...store.Hash) {
	ctx := context.Background()
	for _, h := range sessions {
		_ = s.DeleteSession(ctx, h)
	}
	_, _ = s.Cleanup(ctx)
}

// Sessions and attempt counters in Redis. With a Redis server, it prints:
//
//	create: <nil>
//	session of user 42 <nil>
//	failures: 3 <nil>
//	ended: 1 <nil>
//	after: true
func ExampleOpen() {
	ctx := context.Background()
	s, err := redisstore.Open(ctx, exampleRedis(), redisstore.Config{KeyPrefix: "example:open:"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	// Sessions are found by the hash of their ID, with one GET.
	now := time.Now()
	sess := store.Session{
		Hash:      store.HashOf([]byte("the session ID the client holds")),
		Account:   store.AccountRef{Scope: scopes.User, ID: 42},
		Method:    "password",
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour),
	}
	defer exampleCleanup(s, sess.Hash)
	fmt.Println("create:", s.CreateSession(ctx, sess))
	got, err := s.Session(ctx, sess.Hash)
	fmt.Println("session of user", got.Account.ID, err)

	// Failed logins counted in a fixed window, across every instance.
	_ = s.Reset(ctx, "login:alice")
	defer s.Reset(ctx, "login:alice")
	for range 3 {
		_, _, _ = s.Increment(ctx, "login:alice", 15*time.Minute)
	}
	n, _, err := s.Count(ctx, "login:alice")
	fmt.Println("failures:", n, err)

	// Revoke-all, as on a password change.
	ended, err := s.DeleteAccountSessions(ctx, sess.Account, store.Hash{})
	fmt.Println("ended:", ended, err)
	_, err = s.Session(ctx, sess.Hash)
	fmt.Println("after:", errors.Is(err, store.ErrNotFound))
}

// A deployment on SQL and Redis: store.Combine takes accounts, API keys
// and second factors from SQL, and what every request reads and writes
// from Redis. With a Redis server, it prints:
//
//	account: <nil>
//	login: root <nil>
//	session: <nil>
//	in Redis: true in SQL: false
func Example_combine() {
	ctx := context.Background()
	sql, err := sqlstore.OpenSQLite(ctx, ":memory:", sqlstore.Config{}) // OpenPostgres in production
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sql.Close()
	rds, err := redisstore.Open(ctx, exampleRedis(), redisstore.Config{KeyPrefix: "example:combine:"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rds.Close()
	s := store.Combine(sql, rds) // the authenticator's Config.Store

	// What the authenticator does at login: find the account (SQL), start
	// a session (Redis). Account writes go to SQL.
	_, err = s.(store.AccountCreator).CreateAccount(ctx, store.Account{Scope: scopes.Admin, Username: "root"})
	fmt.Println("account:", err)
	root, err := s.AccountByLogin(ctx, scopes.Admin, "ROOT")
	fmt.Println("login:", root.Username, err)
	now := time.Now()
	sess := store.Session{
		Hash: store.HashOf([]byte("session ID")), Account: root.Ref(), Method: "password",
		Generation: root.Generation, // a credential change in SQL ends it
		CreatedAt:  now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour),
	}
	defer exampleCleanup(rds, sess.Hash)
	fmt.Println("session:", s.CreateSession(ctx, sess))

	// The session is in Redis, not in SQL.
	_, inRedis := rds.Session(ctx, sess.Hash)
	_, inSQL := sql.Session(ctx, sess.Hash)
	fmt.Println("in Redis:", inRedis == nil, "in SQL:", inSQL == nil)
}

// exampleCache stands for what a watcher looks after, such as authn's
// cache of resolved credentials: here it only says what it is told.
type exampleCache struct{ told chan string }

func (c exampleCache) Listening() { c.told <- "listening: the cache may fill" }
func (c exampleCache) Deaf()      { c.told <- "deaf: nothing cached may be trusted" }
func (c exampleCache) Invalidated(ref store.AccountRef) {
	text, _ := ref.MarshalText()
	c.told <- "changed: " + string(text)
}

// Two instances that share a Redis: what one invalidates (a key revoked,
// a password changed), the other hears, and drops what it cached of the
// account. With a Redis server, it prints:
//
//	listening: the cache may fill
//	changed: user:7
func ExampleStore_WatchInvalidations() {
	ctx := context.Background()
	cfg := redisstore.Config{KeyPrefix: "example:watch:"}
	first, err := redisstore.Open(ctx, exampleRedis(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer first.Close()
	second, err := redisstore.Open(ctx, exampleRedis(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer second.Close() // stops the watch too

	cache := exampleCache{told: make(chan string, 10)}
	stop, err := second.WatchInvalidations(cache)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	fmt.Println(<-cache.told) // the watch confirmed its subscription

	if err := first.Invalidate(ctx, store.AccountRef{Scope: scopes.User, ID: 7}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-cache.told)
}
