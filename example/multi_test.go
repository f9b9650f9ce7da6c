package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/internal/clocktest"
	"github.com/keyward/keyward/internal/testservers"
)

// sharedDeployment returns options for instances sharing one PostgreSQL
// (in a schema of its own) and one Redis (under a prefix of its own), or
// skips when the servers are not configured.
func sharedDeployment(t *testing.T) options {
	t.Helper()
	pg, rd := testservers.Postgres(t), testservers.Redis(t)
	b := make([]byte, 6)
	rand.Read(b)
	run := "kwmulti_" + hex.EncodeToString(b)

	admin, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.Exec("CREATE SCHEMA " + run); err != nil {
		t.Fatalf("PostgreSQL at %s: %v", pg, err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP SCHEMA " + run + " CASCADE") })
	u, err := url.Parse(pg)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", run)
	u.RawQuery = q.Encode()

	opts, err := redis.ParseURL(rd)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, run+"*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		client.Close()
	})
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", rd, err)
	}
	keys := []authn.KeyPair{{Hash: bytes.Repeat([]byte{1}, 32), Block: bytes.Repeat([]byte{2}, 32)}}
	return options{
		AdminPassword: adminPassword,
		UserPassword:  userPassword,
		Logger:        slog.New(slog.DiscardHandler),
		Passwords:     authn.PasswordConfig{Memory: 64, Iterations: 1, Parallelism: 1},
		DB:            u.String(),
		Redis:         rd,
		Prefix:        run + "_",
		Keys:          keys,
		// The default limits, but no captcha, to count bare failures.
		Throttle: authn.ThrottleConfig{CaptchaAfter: 1000},
	}
}

// instance starts one example app on the shared deployment.
func instance(t *testing.T, o options) *testApp {
	t.Helper()
	a, err := newApp(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return &testApp{app: a, t: t, h: a.Handler(), clock: clocktest.New()}
}

// Two instances on one PostgreSQL and one Redis behave as one.
func TestTwoInstances(t *testing.T) {
	o := sharedDeployment(t)
	one := instance(t, o)
	if len(one.created) != 2 {
		t.Fatalf("the first instance created %v", one.created)
	}
	// The second finds the accounts and leaves their passwords alone, even
	// when told others.
	o2 := o
	o2.AdminPassword, o2.UserPassword = "another-admin-password", "another-user-password"
	two := instance(t, o2)
	if len(two.created) != 0 || two.admin.ID != one.admin.ID {
		t.Fatalf("the second instance created %v, admin %d vs %d", two.created, two.admin.ID, one.admin.ID)
	}
	mustFail(t, two.send(urlencoded("Command", "User.Login", "Username", "user@example.com", "Password", "another-user-password")), 200, 3)

	// A session made on one works on the other; logout on one ends it on
	// both.
	sid := one.userSession()
	mustOK(t, two.send(urlencoded("Command", "Lists.Get", "SessionID", sid)))
	mustOK(t, two.send(urlencoded("Command", "User.Logout", "SessionID", sid)))
	mustFail(t, one.send(urlencoded("Command", "Lists.Get", "SessionID", sid)), 401, 401)

	// An etoken is accepted once across both.
	login := mustOK(t, one.send(urlencoded("Command", "User.Login", "Username", "user@example.com", "Password", userPassword)))
	tok := login.str("etoken")
	bearer := func(ta *testApp) int {
		r := httptest.NewRequest("GET", "/wmd/api-sl.php?c=whoami", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		ta.h.ServeHTTP(rec, r)
		return rec.Code
	}
	if first, second := bearer(two), bearer(one); first != http.StatusOK || second != http.StatusUnauthorized {
		t.Fatalf("etoken on two instances: %d then %d, want 200 then 401", first, second)
	}

	// Failures count across both: six on either, and the seventh is
	// refused on both, right password or not.
	for i := range 6 {
		ta := one
		if i%2 == 1 {
			ta = two
		}
		mustFail(t, ta.send(urlencoded("Command", "Admin.Login", "Username", "admin", "Password", "wrong")), 200, 3)
	}
	for _, ta := range []*testApp{one, two} {
		e := ta.send(urlencoded("Command", "Admin.Login", "Username", "admin", "Password", adminPassword))
		if e.status != http.StatusTooManyRequests {
			t.Fatalf("the seventh attempt: %d %s", e.status, e.Text)
		}
	}
	// An API key made on one works on the other.
	key, _ := one.userKey()
	mustOK(t, two.send(urlencoded("Command", "Lists.Get", "APIKey", key)))
	if !strings.HasPrefix(key, "kw_") {
		t.Fatal(key)
	}
}

// SQLite on a file: a second instance finds the accounts, and sessions
// survive a restart.
func TestSQLiteRestart(t *testing.T) {
	t.Parallel()
	o := options{
		AdminPassword: adminPassword,
		UserPassword:  userPassword,
		Logger:        slog.New(slog.DiscardHandler),
		Passwords:     authn.PasswordConfig{Memory: 64, Iterations: 1, Parallelism: 1},
		DB:            "sqlite:" + t.TempDir() + "/keyward.db",
		Prefix:        "keyward_",
		Keys:          []authn.KeyPair{{Hash: bytes.Repeat([]byte{3}, 32), Block: bytes.Repeat([]byte{4}, 32)}},
	}
	first, err := newApp(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	ta := &testApp{app: first, t: t, h: first.Handler(), clock: clocktest.New()}
	sid := ta.userSession()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again := instance(t, o)
	if len(again.created) != 0 {
		t.Fatalf("restart created %v", again.created)
	}
	mustOK(t, again.send(urlencoded("Command", "Lists.Get", "SessionID", sid)))
}
