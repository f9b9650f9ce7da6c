package redisstore_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/netfault"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/redisstore"
)

// stallDeadline is the deadline of the calls made to a stalled Redis, and
// stallSlack how much later than it they may return.
const (
	stallDeadline = 300 * time.Millisecond
	stallSlack    = 300 * time.Millisecond
)

func TestStalledRedisAnswersByTheDeadline(t *testing.T) {
	t.Parallel()
	// A Redis that stops answering must not hold a request past its
	// deadline: Open's client honours the context's deadline
	// (ContextTimeoutEnabled) instead of go-redis's own read timeout and
	// retries, and the store fails at the deadline.
	c := redisClient(t)
	u, err := url.Parse(redisURL(t))
	if err != nil || u.Host == "" {
		t.Skipf("%s is not a TCP address: %v", redisURL(t), err)
	}
	proxy := netfault.Start(t, u.Host, nil)
	u.Host = proxy.Addr()
	prefix := randomPrefix()
	t.Cleanup(func() { deleteKeys(t, c, prefix) })
	ctx := context.Background()
	s, err := redisstore.Open(ctx, u.String(), redisstore.Config{KeyPrefix: prefix})
	must(t, err)
	t.Cleanup(func() { _ = s.Close() })
	sess := newSession("s", user(1), time.Now(), time.Hour)
	must(t, s.CreateSession(ctx, sess))
	_, err = s.Session(ctx, sess.Hash)
	must(t, err)

	proxy.Stall(true)
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Session (a GET)", func(ctx context.Context) error { _, err := s.Session(ctx, sess.Hash); return err }},
		{"Claim (a script)", func(ctx context.Context) error { _, err := s.Claim(ctx, "nonce", time.Minute); return err }},
		{"DeleteAccountSessions (pipelines)", func(ctx context.Context) error {
			_, err := s.DeleteAccountSessions(ctx, user(1), store.Hash{})
			return err
		}},
		{"CreateSession (a script)", func(ctx context.Context) error {
			return s.CreateSession(ctx, newSession("t", user(1), time.Now(), time.Hour))
		}},
	}
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), stallDeadline)
		start := time.Now()
		err := c.call(ctx)
		took := time.Since(start)
		cancel()
		t.Logf("%s on a stalled Redis: returned after %v (deadline %v): %v", c.name, took.Round(time.Millisecond), stallDeadline, err)
		if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
			t.Errorf("%s on a stalled Redis: %v, want a store failure", c.name, err)
		}
		if took > stallDeadline+stallSlack {
			t.Errorf("%s on a stalled Redis returned after %v, %v past its deadline", c.name, took, took-stallDeadline)
		}
	}
}
