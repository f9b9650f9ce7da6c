package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/netfault"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/redisstore"
)

func TestOpenBadURLs(t *testing.T) {
	t.Parallel()
	// Each is refused before any I/O, with an error that says what is
	// wrong.
	for _, tc := range []struct{ name, url, want string }{
		{"http", "http://x", "invalid URL scheme"},
		{"no seed", "redis+cluster:///", "no seed node"},
		{"no seed, userinfo", "redis+cluster://u:p@/", "no seed node"},
		{"seed without port", "redis+cluster://127.0.0.1:7001,127.0.0.1/", `seed node "127.0.0.1": want host:port`},
		{"empty seed", "redis+cluster://127.0.0.1:7001,,127.0.0.1:7002/", `seed node "": want host:port`},
		{"IPv6 seed without brackets", "redis+cluster://::1:7001/", `seed node "::1:7001"`},
		{"a database", "redis+cluster://127.0.0.1:7001/1", "a cluster has database 0 only"},
		{"addr parameter", "redis+cluster://127.0.0.1:7001/?addr=127.0.0.1:7002", "not as addr parameters"},
		{"unknown option", "redis+cluster://127.0.0.1:7001/?pool_sise=3", "unexpected option: pool_sise"},
		{"bad option value", "redis+cluster://127.0.0.1:7001/?dial_timeout=soon", "dial_timeout"},
		{"bad query", "redis+cluster://127.0.0.1:7001/?a=%zz", "invalid URL escape"},
		{"fragment", "redis+cluster://127.0.0.1:7001/#x", "fragment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			s, err := redisstore.Open(ctx, tc.url, redisstore.Config{})
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open(%q) succeeded", tc.url)
			}
			if !strings.HasPrefix(err.Error(), "redisstore: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open(%q): %v; want an error that says %q", tc.url, err, tc.want)
			}
		})
	}
}

func TestOpenCluster(t *testing.T) {
	t.Parallel()
	// One seed that answers is enough, options pass through, and the store
	// runs on a ClusterClient, honouring deadlines and never retrying.
	rawURL := targets()[1].url(t)
	seeds := strings.Split(strings.TrimSuffix(strings.TrimPrefix(rawURL, "redis+cluster://"), "/"), ",")
	ctx := context.Background()
	for _, u := range []string{
		rawURL,
		"redis+cluster://" + seeds[0],
		"redis+cluster://127.0.0.1:1," + seeds[len(seeds)-1] + "/0?dial_timeout=2s&pool_size=4",
	} {
		s, err := redisstore.Open(ctx, u, redisstore.Config{KeyPrefix: randomPrefix()})
		if err != nil {
			t.Fatalf("Open(%q): %v", u, err)
		}
		if won, err := s.Claim(ctx, "k", time.Minute); err != nil || !won {
			t.Fatalf("Claim on %q: %v, %v", u, won, err)
		}
		must(t, s.Close())
	}
	opts, err := redisstore.ClusterOptions(rawURL + "?pool_size=4")
	must(t, err)
	if !opts.ContextTimeoutEnabled || opts.MaxRetries != -1 || opts.MaxRedirects != -1 || opts.PoolSize != 4 {
		t.Fatalf("cluster options: ContextTimeoutEnabled %v, MaxRetries %d, MaxRedirects %d, PoolSize %d",
			opts.ContextTimeoutEnabled, opts.MaxRetries, opts.MaxRedirects, opts.PoolSize)
	}
	c, err := redisstore.NewClient(rawURL)
	must(t, err)
	defer c.Close()
	if _, ok := c.(*redis.ClusterClient); !ok {
		t.Fatalf("a cluster URL makes a %T", c)
	}
}

func TestClusterNeverRetries(t *testing.T) {
	t.Parallel()
	// A cluster client retries, on its own, a command whose connection
	// broke after it was sent, whatever MaxRetries says. A claim applied
	// whose answer was lost must fail, not be run again and answer "taken"
	// for the run that took it.
	tg := targets()[1]
	ctx := context.Background()
	for attempt := 1; ; attempt++ {
		counter := &netfault.Counter{}
		c, _ := proxied(t, tg, counter)
		direct := newStore(t, tg.client(t), redisstore.Config{}) // deletes the keys
		s, err := redisstore.New(c, redisstore.Config{KeyPrefix: direct.KeyPrefix()})
		must(t, err)
		// A key in the slot of the one to fail, so that the connection to
		// its node is open and the script loaded there: the next write is
		// the claim's.
		if won, err := s.Claim(ctx, "{t}warm", time.Minute); err != nil || !won {
			t.Fatalf("warm-up claim: %v, %v", won, err)
		}
		counter.Arm(1, netfault.After)
		won, err := s.Claim(ctx, "{t}nonce", time.Minute)
		counter.Disarm()
		if err == nil && won && attempt < 10 {
			// The answer got through: the proxy can pass it on before it
			// starts dropping. Nothing was lost; try again.
			continue
		}
		if err == nil || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a claim whose answer was lost: %v, %v; want a failure", won, err)
		}
		if won, err := s.Claim(ctx, "{t}nonce", time.Minute); err != nil || won {
			t.Fatalf("claiming again: %v, %v; want taken by the claim whose answer was lost", won, err)
		}
		return
	}
}

// Open's single-server client honours every call's deadline and never
// retries, whatever the URL asks for (see redisstore.New for why).
func TestSingleClientOptions(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"redis://127.0.0.1:6379/0",
		"redis://127.0.0.1:6379/0?max_retries=3&pool_size=4",
	} {
		c, err := redisstore.NewClient(u)
		must(t, err)
		single, ok := c.(*redis.Client)
		if !ok {
			t.Fatalf("%s makes a %T", u, c)
		}
		opts := single.Options() // as the client holds them: go-redis makes -1 retries 0
		if !opts.ContextTimeoutEnabled || opts.MaxRetries > 0 {
			t.Errorf("%s: ContextTimeoutEnabled %v, MaxRetries %d", u, opts.ContextTimeoutEnabled, opts.MaxRetries)
		}
		must(t, c.Close())
	}
}
