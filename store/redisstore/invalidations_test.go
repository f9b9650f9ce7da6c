package redisstore_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/netfault"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/redisstore"
)

// guard bounds every wait for a watch's event: generous, since a test
// fails only if the event never comes, never on how long it took.
const guard = 30 * time.Second

// Events a [watcher] records.
const (
	listening = "listening"
	deaf      = "deaf"
)

// heard is the event of an invalidation of ref.
func heard(ref store.AccountRef) string { return fmt.Sprintf("invalidated %v:%d", ref.Scope, ref.ID) }

// watcher records what a watch tells it, for the test to wait on.
type watcher struct {
	mu     sync.Mutex
	events []string
	next   int           // the first event the test has not seen
	notify chan struct{} // a new event (buffered, 1)
}

func newWatcher() *watcher { return &watcher{notify: make(chan struct{}, 1)} }

func (w *watcher) Listening()                       { w.add(listening) }
func (w *watcher) Deaf()                            { w.add(deaf) }
func (w *watcher) Invalidated(ref store.AccountRef) { w.add(heard(ref)) }

func (w *watcher) add(e string) {
	w.mu.Lock()
	w.events = append(w.events, e)
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// await returns the next event the test has not seen, failing the test if
// none comes within the guard.
func (w *watcher) await(t *testing.T) string {
	t.Helper()
	timeout := time.After(guard)
	for {
		w.mu.Lock()
		if w.next < len(w.events) {
			e := w.events[w.next]
			w.next++
			w.mu.Unlock()
			return e
		}
		w.mu.Unlock()
		select {
		case <-w.notify:
		case <-timeout:
			t.Fatalf("no event from the watch within %v; so far %q", guard, w.seen())
		}
	}
}

// expect waits for the next event and fails the test unless it is want.
func (w *watcher) expect(t *testing.T, want string) {
	t.Helper()
	if e := w.await(t); e != want {
		t.Fatalf("event %q, want %q; so far %q", e, want, w.seen())
	}
}

// seen returns every event so far.
func (w *watcher) seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.events...)
}

// watch starts a watch of s on a new watcher, stopped when the test ends,
// and waits for it to listen.
func watch(t *testing.T, s *redisstore.Store) *watcher {
	t.Helper()
	w := newWatcher()
	stop, err := s.WatchInvalidations(w)
	must(t, err)
	t.Cleanup(stop)
	w.expect(t, listening)
	return w
}

// invalidateUntilHeard invalidates ref through from until w hears it. A
// watch may miss a message only if it says Deaf: then, once it listens
// again, the message is sent again.
func invalidateUntilHeard(t *testing.T, from *redisstore.Store, w *watcher, ref store.AccountRef) {
	t.Helper()
	must(t, from.Invalidate(context.Background(), ref))
	for {
		switch e := w.await(t); e {
		case heard(ref):
			return
		case deaf:
			w.expect(t, listening)
			must(t, from.Invalidate(context.Background(), ref))
		default:
			t.Fatalf("event %q while waiting for %q", e, heard(ref))
		}
	}
}

func TestInvalidationsAcrossInstances(t *testing.T) {
	t.Parallel()
	// Two stores opened separately on one Redis, with one key prefix, act
	// as two app instances: what one invalidates, the other hears; a
	// store of another prefix does not.
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			prefix := randomPrefix()
			var stores [3]*redisstore.Store
			for i := range stores {
				cfg := redisstore.Config{KeyPrefix: prefix}
				if i == 2 {
					cfg.KeyPrefix = randomPrefix()
				}
				s, err := redisstore.Open(ctx, tg.url(t), cfg)
				must(t, err)
				t.Cleanup(func() { _ = s.Close() })
				stores[i] = s
			}
			first, second, other := stores[0], stores[1], stores[2]
			onSecond, onOther := watch(t, second), watch(t, other)
			onFirst := watch(t, first)

			admin := store.AccountRef{Scope: scopes.Admin, ID: 1 << 40}
			invalidateUntilHeard(t, first, onSecond, user(7))
			invalidateUntilHeard(t, first, onSecond, admin)
			// Its own instance hears both too, unless it said Deaf
			// meanwhile. In any order: a Cluster passes a message from
			// the node it was published on to the others over its bus,
			// and two publishes may take different nodes. (Invalidations
			// are drops: their order does not matter.)
			// (A message sent again, after a Deaf of the other
			// instance, may come twice.)
			want, got := map[string]bool{heard(user(7)): true, heard(admin): true}, map[string]bool{}
			for len(got) < len(want) {
				e := onFirst.await(t)
				if e == deaf {
					break
				}
				if !want[e] {
					t.Fatalf("the instance that invalidated heard %q; so far %v", e, got)
				}
				got[e] = true
			}
			// What is not an account reference is ignored: the next
			// message is the first heard after it.
			c := tg.client(t)
			must(t, c.Publish(ctx, prefix+"invalidate", "user:0").Err())
			must(t, c.Publish(ctx, prefix+"invalidate", "nobody").Err())
			invalidateUntilHeard(t, second, onSecond, user(8))
			// The other prefix heard nothing but its own.
			invalidateUntilHeard(t, other, onOther, user(9))
			for _, e := range onOther.seen() {
				if strings.HasPrefix(e, "invalidated") && e != heard(user(9)) {
					t.Fatalf("a store of another prefix heard %q", e)
				}
			}
		})
	}
}

func TestInvalidationsAfterTheConnectionIsKilled(t *testing.T) {
	t.Parallel()
	// Redis drops the watch's connection (CLIENT KILL): the watch says
	// Deaf, subscribes again, says Listening, and hears what follows.
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			c := tg.client(t)
			s := newStore(t, c, redisstore.Config{})
			w := watch(t, s)
			for round := range 2 {
				if n := killWatch(t, c, redisstore.WatchClientName(s)); n != 1 {
					t.Fatalf("round %d: killed %d connections named %s, want 1", round, n, redisstore.WatchClientName(s))
				}
				w.expect(t, deaf)
				w.expect(t, listening)
				invalidateUntilHeard(t, s, w, user(int64(round+1)))
			}
		})
	}
}

// killWatch kills the connections named name on every node of c, and
// returns how many it killed.
func killWatch(t *testing.T, c redis.UniversalClient, name string) int {
	t.Helper()
	ctx := context.Background()
	killed := 0
	for _, n := range nodes(t, c) {
		list, err := n.ClientList(ctx).Result()
		must(t, err)
		for _, line := range strings.Split(list, "\n") {
			fields := make(map[string]string)
			for _, f := range strings.Fields(line) {
				k, v, _ := strings.Cut(f, "=")
				fields[k] = v
			}
			if fields["name"] != name {
				continue
			}
			k, err := n.Do(ctx, "client", "kill", "id", fields["id"]).Int()
			must(t, err)
			killed += k
		}
	}
	return killed
}

func TestInvalidationsOnAStalledConnection(t *testing.T) {
	t.Parallel()
	// The connection stays open but carries nothing (a proxy stalls it):
	// no pong comes, and the watch says Deaf within the bound instead of
	// listening to nothing. Once bytes flow again it listens again.
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			direct := newStore(t, tg.client(t), redisstore.Config{})
			c, stall := proxied(t, tg, nil)
			s, err := redisstore.New(c, redisstore.Config{KeyPrefix: direct.KeyPrefix()})
			must(t, err)
			w := watch(t, s)
			invalidateUntilHeard(t, direct, w, user(1))

			stall(true)
			must(t, direct.Invalidate(context.Background(), user(2)))
			w.expect(t, deaf) // user 2 is lost with the stalled bytes
			stall(false)
			w.expect(t, listening)
			invalidateUntilHeard(t, direct, w, user(3))
		})
	}
}

// proxied returns a client on the target, made as Open makes it, whose
// every connection goes through a netfault proxy that counts writes with
// counter (nil: none), and a function that stalls (true) or restarts
// (false) every such connection.
func proxied(t *testing.T, tg target, counter *netfault.Counter) (redis.UniversalClient, func(bool)) {
	t.Helper()
	var proxies []*netfault.Proxy
	stall := func(on bool) {
		for _, p := range proxies {
			p.Stall(on)
		}
	}
	rawURL := tg.url(t)
	direct := tg.client(t)
	if _, ok := direct.(*redis.ClusterClient); !ok {
		u, err := url.Parse(rawURL)
		if err != nil || u.Host == "" {
			t.Skipf("%s is not a TCP address: %v", rawURL, err)
		}
		p := netfault.Start(t, u.Host, counter)
		proxies = append(proxies, p)
		u.Host = p.Addr()
		c, err := redisstore.NewClient(u.String())
		must(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c, stall
	}
	// A cluster client dials the nodes the cluster names: each through a
	// proxy of its own.
	via := make(map[string]string)
	for _, n := range nodes(t, direct) {
		p := netfault.Start(t, n.Options().Addr, counter)
		proxies = append(proxies, p)
		via[n.Options().Addr] = p.Addr()
	}
	opts, err := redisstore.ClusterOptions(rawURL)
	must(t, err)
	opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		p, ok := via[addr]
		if !ok {
			return nil, fmt.Errorf("no proxy for %s", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, p)
	}
	c := redis.NewClusterClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c, stall
}

func TestCloseStopsWatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			t.Run("Close", func(t *testing.T) {
				// Close stops every watch and waits for it; a watch
				// cannot start after it, and a stop after it returns.
				s, err := redisstore.Open(ctx, tg.url(t), redisstore.Config{KeyPrefix: randomPrefix()})
				must(t, err)
				stop, err := s.WatchInvalidations(newWatcher())
				must(t, err)
				watch(t, s)
				done := redisstore.WatchesDone(s)
				if len(done) != 2 {
					t.Fatalf("%d watches running, want 2", len(done))
				}
				must(t, s.Close())
				for _, d := range done {
					select {
					case <-d:
					default:
						t.Fatal("a watch still runs after Close returned")
					}
				}
				stop()
				if _, err := s.WatchInvalidations(newWatcher()); err == nil {
					t.Fatal("WatchInvalidations after Close succeeded")
				}
			})
			t.Run("client closed", func(t *testing.T) {
				// The caller closes the client it gave New: the watch
				// says Deaf and ends, since nothing will answer again.
				c, err := redisstore.NewClient(tg.url(t))
				must(t, err)
				s, err := redisstore.New(c, redisstore.Config{KeyPrefix: randomPrefix()})
				must(t, err)
				w := watch(t, s)
				must(t, c.Close())
				w.expect(t, deaf)
				for _, d := range redisstore.WatchesDone(s) {
					select {
					case <-d:
					case <-time.After(guard):
						t.Fatalf("the watch still runs %v after its client was closed", guard)
					}
				}
				if e := w.seen(); len(e) != 2 {
					t.Fatalf("events %q, want listening, deaf and no more", e)
				}
			})
		})
	}
}
