package main

import (
	"context"
	"database/sql"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/netfault"
)

// eventSink is a log handler that keeps the kinds of the events logged,
// for a test to wait on.
type eventSink struct {
	mu    sync.Mutex
	kinds []string
}

func (s *eventSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *eventSink) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *eventSink) WithGroup(string) slog.Handler            { return s }

func (s *eventSink) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "event" {
			s.mu.Lock()
			s.kinds = append(s.kinds, a.Value.String())
			s.mu.Unlock()
		}
		return true
	})
	return nil
}

// all returns the kinds logged so far.
func (s *eventSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.kinds)
}

// count returns how many events of the kind were logged.
func (s *eventSink) count(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, k := range s.kinds {
		if k == kind {
			n++
		}
	}
	return n
}

// waitFor waits until cond holds, failing the test if it never does. The
// time is a guard against a hang, not a bound under test: that is
// measured in tools/load, not asserted here.
func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// Two instances on PostgreSQL and Redis, each with its credential cache:
// a key revoked on one is refused on the other once the word arrives; with
// the channel (Redis) stalled, neither serves from its cache, so a key
// deleted behind their backs in PostgreSQL is refused at once; and with
// the channel back, both cache again.
func TestCacheTwoInstances(t *testing.T) {
	o := sharedDeployment(t)
	u, err := url.Parse(o.Redis)
	if err != nil {
		t.Fatal(err)
	}
	proxy := netfault.Start(t, u.Host, &netfault.Counter{})
	u.Host = proxy.Addr()
	o.Redis = u.String()
	sinks := []*eventSink{{}, {}}
	var apps []*testApp
	for _, sink := range sinks {
		oi := o
		oi.Logger = slog.New(sink)
		apps = append(apps, instance(t, oi))
	}
	for i, sink := range sinks {
		waitFor(t, "instance "+strconv.Itoa(i)+" listening", func() bool { return sink.count("cache_serving") > 0 })
	}
	one, two := apps[0], apps[1]
	cached := func(key string) {
		t.Helper()
		for _, ta := range apps {
			for range 2 {
				mustOK(t, ta.send(urlencoded("Command", "Lists.Get", "APIKey", key)))
			}
		}
	}

	// Revoked on one: refused there at once, and on two once it hears.
	key, id := one.userKey()
	cached(key)
	sid := one.userSession()
	mustOK(t, one.send(urlencoded("Command", "User.APIKey.Delete", "SessionID", sid, "APIKeyID", strconv.FormatInt(id, 10))))
	mustFail(t, one.send(urlencoded("Command", "Lists.Get", "APIKey", key)), 401, 401)
	took := waitFor(t, "the revoked key refused on the other instance", func() bool {
		return two.send(urlencoded("Command", "Lists.Get", "APIKey", key)).status == 401
	})
	t.Logf("revocation seen on the other instance after %v", took)

	// The channel stalls: both stop serving from their caches.
	key, id = one.userKey()
	cached(key)
	serving := []int{sinks[0].count("cache_serving"), sinks[1].count("cache_serving")}
	proxy.Stall(true)
	for i, sink := range sinks {
		waitFor(t, "instance "+strconv.Itoa(i)+" deaf", func() bool { return sink.count("cache_bypassed") > 0 })
	}
	db, err := sql.Open("pgx", o.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM `+o.Prefix+`api_keys WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	for i, ta := range apps {
		if e := ta.send(urlencoded("Command", "Lists.Get", "APIKey", key)); e.status != 401 {
			t.Fatalf("instance %d: deaf, yet served from the cache (%d); its events: %v", i, e.status, sinks[i].all())
		}
	}

	// Back: both listen and cache again.
	proxy.Stall(false)
	for i, sink := range sinks {
		waitFor(t, "instance "+strconv.Itoa(i)+" listening again", func() bool { return sink.count("cache_serving") > serving[i] })
	}
	// The control: now a key deleted behind their backs still serves, from
	// the caches, until MaxAge (the bound on changes made outside keyward
	// without Invalidate).
	key, id = one.userKey()
	cached(key)
	if _, err := db.Exec(`DELETE FROM `+o.Prefix+`api_keys WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	for i, ta := range apps {
		if e := ta.send(urlencoded("Command", "Lists.Get", "APIKey", key)); e.status != 200 {
			t.Fatalf("instance %d: the control failed (%d): the cache did not serve; its events: %v", i, e.status, sinks[i].all())
		}
	}
}
