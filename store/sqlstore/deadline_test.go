package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/netfault"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/sqlstore"
)

// stalledPostgres returns a store opened by OpenPostgres, through a proxy
// that the test stalls, on a schema of the test's own, with an account
// and a session in it that have been read once (so the pool holds a
// connection that stalls in the middle of its life, not only new ones).
func stalledPostgres(t *testing.T, cfg sqlstore.Config) (*sqlstore.Store, *netfault.Proxy, store.Account, store.Session) {
	t.Helper()
	pg := postgresSchema(t)
	proxy := netfault.Start(t, net.JoinHostPort(pg.Host, strconv.Itoa(int(pg.Port))), nil)
	host, port, _ := strings.Cut(proxy.Addr(), ":")
	dsn := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable search_path=%s",
		host, port, pg.User, pg.Database, pg.RuntimeParams["search_path"])
	if pg.Password != "" {
		dsn += " password=" + pg.Password
	}
	ctx := context.Background()
	s, err := sqlstore.OpenPostgres(ctx, dsn, cfg)
	must(t, err)
	t.Cleanup(func() { _ = s.Close() })
	acct, err := s.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "alice"})
	must(t, err)
	now := time.Now()
	sess := store.Session{Hash: store.HashOf([]byte("s")), Account: acct.Ref(), Method: "password",
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, s.CreateSession(ctx, sess))
	_, err = s.Session(ctx, sess.Hash)
	must(t, err)
	return s, proxy, acct, sess
}

func TestStalledPostgresAnswersByTheDeadline(t *testing.T) {
	t.Parallel()
	// A database that stops answering (the server hangs, the network
	// drops packets) must not hold a request past its deadline: the store
	// returns a failure at the deadline, and the request is refused (503)
	// in time. pgx's default answer to a context that ends, which
	// OpenPostgres keeps, is a deadline of now on the connection: the
	// blocked read returns at once and the connection is closed. The test
	// asserts the failure's kind and that the call returns at all, not how
	// long it took.
	s, proxy, acct, sess := stalledPostgres(t, sqlstore.Config{CleanupInterval: -1})
	proxy.Stall(true)
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		// The first runs on the pool's connection, which stalls mid-life;
		// the others on new connections, which stall in their handshake.
		{"Session", func(ctx context.Context) error { _, err := s.Session(ctx, sess.Hash); return err }},
		{"Account", func(ctx context.Context) error { _, err := s.Account(ctx, acct.Ref()); return err }},
		{"SetPassword (a transaction)", func(ctx context.Context) error { return s.SetPassword(ctx, acct.Ref(), "x") }},
		{"Claim", func(ctx context.Context) error { _, err := s.Claim(ctx, "nonce", time.Minute); return err }},
	}
	for _, c := range calls {
		err := netfault.CallStalled(t, proxy.Drop, c.name, c.call)
		t.Logf("%s on a stalled database: %v", c.name, err)
		if !netfault.IsTimeout(err) {
			t.Errorf("%s on a stalled database: %v, want a deadline or timeout error", c.name, err)
		}
	}
}

// logRecords is a slog.Handler that hands each record to a channel.
type logRecords chan slog.Record

func (l logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l logRecords) WithGroup(string) slog.Handler            { return l }
func (l logRecords) Handle(_ context.Context, r slog.Record) error {
	select {
	case l <- r.Clone():
	default:
	}
	return nil
}

func TestCleanupOfAStalledDatabaseTimesOut(t *testing.T) {
	t.Parallel()
	// The cleanup goroutine gives each cleanup CleanupTimeout: on a
	// stalled database it fails, says so, and tries again next time,
	// instead of waiting with a connection (and, on SQLite, the store's
	// turn to write) for as long as the database stalls.
	logs := make(logRecords, 16)
	const timeout = 200 * time.Millisecond
	s, proxy, _, _ := stalledPostgres(t, sqlstore.Config{
		CleanupInterval: 20 * time.Millisecond,
		CleanupTimeout:  timeout,
		Logger:          slog.New(logs),
	})
	stalled := time.Now()
	proxy.Stall(true)
	for failures := 0; failures < 2; {
		select {
		case r := <-logs:
			var err error
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "error" {
					err, _ = a.Value.Any().(error)
				}
				return true
			})
			if r.Message != "store cleanup failed" || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("logged %q, %v; want a cleanup that ran out of time", r.Message, err)
			}
			failures++
			t.Logf("cleanup failure %d logged %v after the stall", failures, time.Since(stalled).Round(time.Millisecond))
		case <-time.After(30 * time.Second): // a hang guard, not a timing
			t.Fatalf("no failed cleanup logged %v after the database stalled", time.Since(stalled))
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		must(t, err)
	case <-time.After(30 * time.Second): // a hang guard, not a timing
		t.Fatal("Close hung behind a stalled cleanup")
	}
}
