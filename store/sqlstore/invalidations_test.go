package sqlstore_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/sqlstore"
)

// eventWait is how long a test waits for a watcher to hear something
// before it fails: long, since no test here measures how long anything
// takes.
const eventWait = 30 * time.Second

// heard is a store.InvalidationWatcher that passes what it hears to the
// test: "Listening", "Deaf", or the ref ("user:7").
type heard chan string

// newHeard returns a watcher with room for what a test sends it.
func newHeard() heard { return make(heard, 1000) }

func (h heard) Listening() { h <- "Listening" }
func (h heard) Deaf()      { h <- "Deaf" }
func (h heard) Invalidated(r store.AccountRef) {
	b, err := r.MarshalText()
	if err != nil {
		h <- "invalid ref: " + err.Error()
		return
	}
	h <- string(b)
}

// await reads what h hears until want, and returns what came before it;
// t fails if want does not come within eventWait.
func (h heard) await(t *testing.T, want string) []string {
	t.Helper()
	var before []string
	timeout := time.After(eventWait)
	for {
		select {
		case got := <-h:
			if got == want {
				return before
			}
			before = append(before, got)
		case <-timeout:
			t.Fatalf("waiting for %s: not heard in %v (heard %q)", want, eventWait, before)
		}
	}
}

// watch starts watching s with h, stopped when the test ends.
func watch(t *testing.T, s *sqlstore.Store, h heard) {
	t.Helper()
	stop, err := s.WatchInvalidations(h)
	must(t, err)
	t.Cleanup(stop)
}

// openPostgres opens a store with the prefix on a pool of its own, as
// another process would, on the schema cfg names; closed when the test
// ends.
func openPostgres(t *testing.T, cfg *pgx.ConnConfig, prefix string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), postgresDB(t, cfg), sqlstore.Config{TablePrefix: prefix, CleanupInterval: -1, Logger: testLogger(t)})
	must(t, err)
	closeStore(t, s)
	return s
}

// testLogger returns a logger that writes to t's output.
func testLogger(t *testing.T) *slog.Logger { return slog.New(slog.NewTextHandler(t.Output(), nil)) }

// ref returns the user ref with the ID.
func ref(id int64) store.AccountRef { return store.AccountRef{Scope: scopes.User, ID: id} }

// text returns r as a watcher hears it: "user:7".
func text(r store.AccountRef) string {
	b, _ := r.MarshalText()
	return string(b)
}

func TestSQLiteInvalidationsNotSupported(t *testing.T) {
	t.Parallel()
	// SQLite has no channel between processes: both methods answer
	// ErrNotSupported, whatever they are given, so authn caches nothing.
	s := openSQLite(t, sqlstore.Config{CleanupInterval: -1})
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Invalidate", func() error { return s.Invalidate(context.Background(), ref(7)) }},
		{"Invalidate of an invalid ref", func() error { return s.Invalidate(context.Background(), store.AccountRef{}) }},
		{"WatchInvalidations", func() error {
			stop, err := s.WatchInvalidations(newHeard())
			if stop != nil {
				t.Error("WatchInvalidations returned a stop with its error")
			}
			return err
		}},
		{"WatchInvalidations of nil", func() error { _, err := s.WatchInvalidations(nil); return err }},
	} {
		if err := tc.call(); !errors.Is(err, store.ErrNotSupported) {
			t.Errorf("%s on SQLite: %v, want store.ErrNotSupported", tc.name, err)
		}
	}
}

func TestPostgresInvalidationsReachOtherProcesses(t *testing.T) {
	t.Parallel()
	// Instances that share the database and the table prefix hear one
	// another, each through a pool of its own. The channel is the
	// prefix as PostgreSQL folds table names, so "Auth_" and "auth_"
	// (the same tables) share it; another prefix is another deployment.
	cfg := postgresSchema(t)
	prefix := randomName("inv_") + "_"
	listener := openPostgres(t, cfg, prefix)
	h := newHeard()
	watch(t, listener, h)
	h.await(t, "Listening")
	for i, tc := range []struct {
		name   string
		prefix string
		heard  bool
	}{
		{"another process, the same prefix", prefix, true},
		{"the prefix in upper case", strings.ToUpper(prefix), true},
		{"another prefix", randomName("other_") + "_", false},
	} {
		sender := openPostgres(t, cfg, tc.prefix)
		id := int64(100 + i)
		must(t, sender.Invalidate(context.Background(), ref(id)))
		if tc.heard {
			h.await(t, text(ref(id)))
			continue
		}
		// Notifications come in the order they were committed: once
		// the listener has heard one sent after it, it would have
		// heard this one.
		must(t, listener.Invalidate(context.Background(), ref(id+1000)))
		if before := h.await(t, text(ref(id+1000))); slices.Contains(before, text(ref(id))) {
			t.Errorf("%s: heard %v, sent on another channel", tc.name, ref(id))
		}
	}
}

func TestPostgresListenerKilledReconnects(t *testing.T) {
	t.Parallel()
	// The server ends the listening connection (a restart, a failover,
	// an operator): the watcher is told Deaf, then Listening once the
	// watch listens on a new connection, and hears what comes after.
	prefix := randomName("kill_") + "_"
	s := openPostgres(t, postgresSchema(t), prefix)
	h := newHeard()
	watch(t, s, h)
	h.await(t, "Listening")

	name := sqlstore.ListenerName + " " + sqlstore.InvalidationChannel(s)
	var killed int
	must(t, sqlstore.DB(s).QueryRow(
		`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, name).Scan(&killed))
	if killed != 1 {
		t.Fatalf("%d connections named %q, want the listener's", killed, name)
	}
	h.await(t, "Deaf")
	h.await(t, "Listening")
	must(t, s.Invalidate(context.Background(), ref(7)))
	h.await(t, text(ref(7)))
}

func TestPostgresStalledListenerGoesDeaf(t *testing.T) {
	t.Parallel()
	// A connection that stops answering (the server hangs, the network
	// drops packets) fails no call: the confirmations go unanswered,
	// and the watcher is told Deaf by the bound. Once the network is
	// back, the watch listens on a new connection.
	s, proxy, _, _ := stalledPostgres(t, sqlstore.Config{TablePrefix: randomName("stall_") + "_", CleanupInterval: -1, Logger: testLogger(t)})
	h := newHeard()
	watch(t, s, h)
	h.await(t, "Listening")
	proxy.Stall(true)
	h.await(t, "Deaf")
	proxy.Stall(false)
	h.await(t, "Listening")
	must(t, s.Invalidate(context.Background(), ref(7)))
	h.await(t, text(ref(7)))
}

func TestPostgresForeignNotification(t *testing.T) {
	t.Parallel()
	// A notification on the channel that names no account (someone's
	// own NOTIFY, or a newer keyward's word) cannot be dropped alone:
	// the watcher is told to drop everything, Deaf then Listening, and
	// goes on hearing.
	s := openPostgres(t, postgresSchema(t), randomName("foreign_")+"_")
	h := newHeard()
	watch(t, s, h)
	h.await(t, "Listening")
	for _, payload := range []string{"", "user:", "root:1", "user:007", "key:12", "user:7 admin:1"} {
		_, err := sqlstore.DB(s).Exec(`SELECT pg_notify($1, $2)`, sqlstore.InvalidationChannel(s), payload)
		must(t, err)
		if before := h.await(t, "Deaf"); len(before) > 0 {
			t.Fatalf("payload %q: heard %q before Deaf", payload, before)
		}
		h.await(t, "Listening")
	}
	must(t, s.Invalidate(context.Background(), ref(7)))
	h.await(t, text(ref(7)))
}

func TestPostgresCloseStopsWatches(t *testing.T) {
	t.Parallel()
	// Close ends every watch, and closes their connections; a stop after
	// it does nothing, and a new watch is refused.
	ctx := context.Background()
	cfg := postgresSchema(t)
	prefix := randomName("close_") + "_"
	s, err := sqlstore.Open(ctx, postgresDB(t, cfg), sqlstore.Config{TablePrefix: prefix, CleanupInterval: -1, Logger: testLogger(t)})
	must(t, err)
	var stops []func()
	for range 2 {
		h := newHeard()
		stop, err := s.WatchInvalidations(h)
		must(t, err)
		stops = append(stops, stop)
		h.await(t, "Listening")
	}
	must(t, s.Close())
	for _, stop := range stops {
		stop()
	}
	if _, err := s.WatchInvalidations(newHeard()); err == nil {
		t.Error("WatchInvalidations on a closed store succeeded")
	}

	// The listeners' backends end once their sockets are closed.
	observer := postgresDB(t, cfg)
	name := sqlstore.ListenerName + " " + strings.ToLower(prefix) + "invalidate"
	deadline := time.Now().Add(eventWait)
	for {
		var n int
		must(t, observer.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, name).Scan(&n))
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d listening connections %v after Close", n, eventWait)
		}
		time.Sleep(10 * time.Millisecond) // polling the server for the event
	}
}
