package authn

import (
	"context"
	"errors"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Usage counts are right after 1,000 requests, concurrent ones included.
func TestAPIKeyUsage(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	key, rec := env.key(env.alice)
	h := env.a.Middleware(okHandler())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for range 250 {
				r := get("APIKey=" + key)
				r.RemoteAddr = "203.0.113." + string(rune('1'+g)) + ":1234"
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
		})
	}
	wg.Wait()
	env.clock.Advance(time.Second)
	r := get("APIKey=" + key)
	r.RemoteAddr = "198.51.100.9:1"
	h.ServeHTTP(httptest.NewRecorder(), r)
	if err := env.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys, _ := env.a.APIKeys(context.Background(), env.alice.Ref())
	got := keys[0]
	if got.ID != rec.ID || got.RequestCount != 1001 || !got.LastUsedAt.Equal(env.clock.Now()) || got.LastUsedIP != "198.51.100.9" {
		t.Fatalf("usage: count %d, last %v from %q", got.RequestCount, got.LastUsedAt, got.LastUsedIP)
	}
	// A second flush with nothing new changes nothing.
	if err := env.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys, _ = env.a.APIKeys(context.Background(), env.alice.Ref())
	if keys[0].RequestCount != 1001 {
		t.Fatalf("count %d after an empty flush", keys[0].RequestCount)
	}
}

// A store that cannot take the usage does not fail requests (usage is not
// a security check), and keeps the counts for the next flush.
func TestAPIKeyUsageStoreDown(t *testing.T) {
	t.Parallel()
	fs := &failingStore{fail: map[string]bool{}}
	env := newTestEnv(t, func(c *Config) { fs.Store = c.Store; c.Store = fs })
	key, _ := env.key(env.alice)
	fs.fail["RecordAPIKeyUse"] = true
	for range 3 {
		if res := env.serve(get("APIKey=" + key)); res.status != 200 {
			t.Fatalf("status %d", res.status)
		}
	}
	if err := env.a.Close(context.Background()); err == nil {
		t.Fatal("flush on a failing store reported no error")
	}
	fs.fail["RecordAPIKeyUse"] = false
	if err := env.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys, _ := env.a.APIKeys(context.Background(), env.alice.Ref())
	if keys[0].RequestCount != 3 {
		t.Fatalf("count %d, want the 3 kept across the failed flush", keys[0].RequestCount)
	}
}

func TestAPIKeyBoundIP(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	single, _, err := env.a.CreateAPIKey(ctx, env.alice.Ref(), APIKeyOptions{BoundIP: "203.0.113.7", Note: "deploy box"})
	if err != nil {
		t.Fatal(err)
	}
	subnet, _, err := env.a.CreateAPIKey(ctx, env.alice.Ref(), APIKeyOptions{BoundIP: "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key, remote string
		status      int
	}{
		{single.Reveal(), "203.0.113.7:1", 200},
		{single.Reveal(), "[::ffff:203.0.113.7]:1", 200},
		{single.Reveal(), "203.0.113.8:1", 401},
		{subnet.Reveal(), "[2001:db8:5::1]:1", 200},
		{subnet.Reveal(), "[2001:db9::1]:1", 401},
		{subnet.Reveal(), "203.0.113.7:1", 401},
	}
	for _, tc := range tests {
		r := get("APIKey=" + tc.key)
		r.RemoteAddr = tc.remote
		if res := env.serve(r); res.status != tc.status {
			t.Errorf("from %s: %d, want %d", tc.remote, res.status, tc.status)
		}
	}
	// A key login from elsewhere is refused too, as any bad credential.
	if _, err := env.login("198.51.100.1", LoginRequest{Scope: scopes.User, APIKey: single.Reveal()}); !errors.Is(err, ErrInvalidCredential) {
		t.Fatalf("key login from another address: %v", err)
	}
	if _, err := env.login("203.0.113.7", LoginRequest{Scope: scopes.User, APIKey: single.Reveal()}); err != nil {
		t.Fatalf("key login from the bound address: %v", err)
	}
	for _, bad := range []string{"nope", "203.0.113.7/33", "fe80::1%eth0"} {
		if _, _, err := env.a.CreateAPIKey(ctx, env.alice.Ref(), APIKeyOptions{BoundIP: bad}); statusOf(err) != 400 {
			t.Errorf("BoundIP %q: %v", bad, err)
		}
	}
	keys, _ := env.a.APIKeys(ctx, env.alice.Ref())
	if keys[0].BoundIP != "203.0.113.7" || keys[0].Note != "deploy box" || keys[1].BoundIP != "2001:db8::/32" {
		t.Fatalf("stored %+v", keys)
	}
}

// stallingUsage is a store whose RecordAPIKeyUse holds until the test
// lets it go, counting the calls.
type stallingUsage struct {
	store.Store
	entered chan struct{}
	release chan struct{}
	calls   atomic.Int32
}

func (s *stallingUsage) RecordAPIKeyUse(ctx context.Context, id int64, at time.Time, ip string, requests int64) error {
	if s.calls.Add(1) == 1 {
		s.entered <- struct{}{}
		<-s.release
	}
	return s.Store.RecordAPIKeyUse(ctx, id, at, ip, requests)
}

// Listing keys never waits on a background write of their usage, and
// writes nothing itself: it adds what this instance counted to what the
// store holds.
func TestAPIKeysListWritesNothing(t *testing.T) {
	t.Parallel()
	s := &stallingUsage{entered: make(chan struct{}), release: make(chan struct{})}
	env := newTestEnv(t, func(c *Config) { s.Store = c.Store; c.Store = s })
	key, _ := env.key(env.alice)
	ctx := context.Background()
	env.clock.Advance(env.a.cfg.Sessions.TouchInterval) // a write is due at the next use
	if res := env.serve(get("APIKey=" + key)); res.status != 200 {
		t.Fatalf("status %d", res.status)
	}
	<-s.entered // the background write of that use has begun, and holds

	listed := make(chan []store.APIKey)
	go func() {
		keys, err := env.a.APIKeys(ctx, env.alice.Ref())
		if err != nil {
			t.Error(err)
		}
		listed <- keys
	}()
	select {
	case keys := <-listed:
		if len(keys) != 1 || keys[0].RequestCount != 0 {
			t.Fatalf("during the write: %+v", keys)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("listing keys waited on the background write")
	}
	close(s.release)
	for env.a.usage.flushing.Load() {
		runtime.Gosched()
	}

	for range 2 { // counted, not written: the next write is a TouchInterval away
		env.serve(get("APIKey=" + key))
	}
	keys, err := env.a.APIKeys(ctx, env.alice.Ref())
	if err != nil || len(keys) != 1 || keys[0].RequestCount != 3 || !keys[0].LastUsedAt.Equal(env.clock.Now()) || keys[0].LastUsedIP == "" {
		t.Fatalf("listed %+v, %v; want the written use and the 2 counted", keys, err)
	}
	if n := s.calls.Load(); n != 1 {
		t.Fatalf("%d writes of usage; listing must make none", n)
	}
}
