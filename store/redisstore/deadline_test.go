package redisstore_test

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/netfault"
	"github.com/keyward/keyward/internal/testservers"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/redisstore"
)

func TestStalledRedisAnswersByTheDeadline(t *testing.T) {
	t.Parallel()
	// A Redis that stops answering must not hold a request past its
	// deadline: Open's client honours the context's deadline
	// (ContextTimeoutEnabled) instead of go-redis's own read timeout and
	// retries, and the store fails at the deadline. The test asserts the
	// failure's kind and that the call returns at all, not how long it
	// took.
	c := redisClient(t)
	u, err := url.Parse(redisURL(t))
	if err != nil || u.Host == "" {
		t.Skipf("%s is not a TCP address: %v", redisURL(t), err)
	}
	proxy := netfault.Start(t, u.Host, nil)
	u.Host = proxy.Addr()
	// go-redis's own read and write timeouts (3 seconds by default) would
	// end a stalled call too, deadline or not: an hour leaves the
	// context's deadline the only thing that can, so that a call that
	// ignores it hangs, and the test says so.
	q := u.Query()
	q.Set("read_timeout", "1h")
	q.Set("write_timeout", "1h")
	u.RawQuery = q.Encode()
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
		err := netfault.CallStalled(t, proxy.Drop, c.name, c.call)
		t.Logf("%s on a stalled Redis: %v", c.name, err)
		if !netfault.IsTimeout(err) {
			t.Errorf("%s on a stalled Redis: %v, want a deadline or timeout error", c.name, err)
		}
	}
}

// proxies puts a netfault proxy in front of every Redis address a client
// dials, made on first use: a cluster tells its clients the addresses its
// nodes announce, so the client's dialer, not its seed list, is where to
// put them. Stall and Drop act on all, those made later included.
type proxies struct {
	t       *testing.T
	mu      sync.Mutex
	byAddr  map[string]*netfault.Proxy
	stalled bool
}

func (ps *proxies) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ps.mu.Lock()
	p, ok := ps.byAddr[addr]
	if !ok {
		p = netfault.Start(ps.t, addr, nil)
		p.Stall(ps.stalled)
		ps.byAddr[addr] = p
	}
	ps.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, network, p.Addr())
}

func (ps *proxies) Stall(on bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.stalled = on
	for _, p := range ps.byAddr {
		p.Stall(on)
	}
}

func (ps *proxies) Drop() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, p := range ps.byAddr {
		p.Drop()
	}
}

// A Redis Cluster that stops answering fails the store's calls at their
// deadline, as a single server does, whichever node a call's slot is on,
// and the store works again once the cluster answers.
func TestStalledClusterAnswersByTheDeadline(t *testing.T) {
	t.Parallel()
	cluster := target{"cluster", testservers.RedisCluster}
	direct := cluster.client(t) // for the clean-up, around the proxies
	opts, err := redisstore.ClusterOptions(cluster.url(t))
	must(t, err)
	ps := &proxies{t: t, byAddr: map[string]*netfault.Proxy{}}
	opts.Dialer = ps.dial
	opts.ReadTimeout, opts.WriteTimeout = time.Hour, time.Hour // the deadline alone can end a call
	c := redis.NewClusterClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	prefix := randomPrefix()
	t.Cleanup(func() { deleteKeys(t, direct, prefix) })
	s, err := redisstore.New(c, redisstore.Config{KeyPrefix: prefix})
	must(t, err)
	ctx := context.Background()
	must(t, c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.Ping(ctx).Err() }))
	sessions := make([]store.Session, 8) // spread over the slots, and so the nodes
	for i := range sessions {
		sessions[i] = newSession("cluster-stall-"+strconv.Itoa(i), user(int64(i+1)), time.Now(), time.Hour)
		must(t, s.CreateSession(ctx, sessions[i]))
	}

	ps.Stall(true)
	for i, sess := range sessions {
		name := "Session " + strconv.Itoa(i)
		err := netfault.CallStalled(t, ps.Drop, name, func(ctx context.Context) error { _, err := s.Session(ctx, sess.Hash); return err })
		if !netfault.IsTimeout(err) {
			t.Errorf("%s on a stalled cluster: %v, want a deadline or timeout error", name, err)
		}
	}
	err = netfault.CallStalled(t, ps.Drop, "Claim", func(ctx context.Context) error { _, err := s.Claim(ctx, "nonce", time.Minute); return err })
	if !netfault.IsTimeout(err) {
		t.Errorf("Claim on a stalled cluster: %v, want a deadline or timeout error", err)
	}

	ps.Stall(false) // the client drops the connections whose calls timed out
	for i, sess := range sessions {
		if _, err := s.Session(ctx, sess.Hash); err != nil {
			t.Errorf("session %d once the cluster answers again: %v", i, err)
		}
	}
}
